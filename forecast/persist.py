"""Saving and loading a fitted DailyForecaster: LightGBM's text model, the calibrator's
held-out forecasts and a meta.json with the parameters, the features and SHA-256 checksums
of the other files, so that files of two different saves are never mixed."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FreshcastError
from ..features import DailyFeatures
from ..outputs import file_sha256, output_folder, write_text
from . import trainer
from .calibrator import QuantileCalibrator
from .quantiles import Holdout, check_quantiles

MODEL_FILE = "model.txt"
RELATIVE_FILE = "relative_model.txt"  # the model relative to each row's level, when trained
META_FILE = "meta.json"
HOLDOUT_FILE = "calibration.npz"
GROUPS_FILE = "group_models.json"  # the models per group of series, when trained: {value: [units, relative]}
DATA_FILES = (MODEL_FILE, RELATIVE_FILE, HOLDOUT_FILE, GROUPS_FILE)
FORMAT = "freshcast.daily/1"


def save(model, path: Path) -> Path:
    """Write fitted `model` into folder `path` (swapped in whole, see `outputs`)."""
    import numba

    if not hasattr(model, "booster_"):
        raise FreshcastError("the model is not fitted: fit it before saving it")

    from .. import __version__

    meta = {
        "format": FORMAT,
        "params": model.get_params(deep=False),
        "feature_spec": asdict(model.spec),
        "feature_names": model.features_.names,
        "static": list(model.features_.static),
        "covariates": list(model.features_.covariates),
        "categories": {c: ids.tolist() for c, ids in model.features_.categories.items()},
        "trained_range": list(model.trained_range_),
        "n_train_rows": model.n_train_rows_,
        "stockout_recovered": model.recovered_,
        "versions": {
            "freshcast": __version__,
            "lightgbm": trainer.VERSION,
            "numpy": np.__version__,
            "numba": numba.__version__,
            "pandas": pd.__version__,
        },
    }
    with output_folder(path, "model") as tmp:
        write_text(tmp / MODEL_FILE, trainer.to_text(model.booster_))
        if model.relative_booster_ is not None:
            write_text(tmp / RELATIVE_FILE, trainer.to_text(model.relative_booster_))
        if model.group_boosters_:
            groups = {str(g): [None if b is None else trainer.to_text(b) for b in pair]
                      for g, pair in model.group_boosters_.items()}  # fmt: skip
            write_text(tmp / GROUPS_FILE, json.dumps(groups, sort_keys=True))
        if model.quantiles_:
            model.calibrator_.holdout_.save(tmp / HOLDOUT_FILE)
        meta["sha256"] = {f.name: file_sha256(f) for f in sorted(tmp.iterdir()) if f.name in DATA_FILES}
        write_text(tmp / META_FILE, json.dumps(meta, indent=2, sort_keys=True))
    return path


def load(cls, path: Path):
    """The model of class `cls` saved in folder `path`; FreshcastError naming the folder if it
    is not a whole save."""
    try:
        files = _read_folder(path, (META_FILE, *DATA_FILES))  # one folder, read once: a save may swap it
        meta = json.loads(files[META_FILE].decode())
        _check_sums(meta, files)
        booster = trainer.from_text(files[MODEL_FILE].decode())
        relative = trainer.from_text(files[RELATIVE_FILE].decode()) if files[RELATIVE_FILE] is not None else None
        holdout = Holdout.load(io.BytesIO(files[HOLDOUT_FILE])) if meta["params"].get("quantiles") else None
        groups = {int(g): tuple(None if b is None else trainer.from_text(b) for b in pair)
                  for g, pair in json.loads(files[GROUPS_FILE] or b"{}").items()}  # fmt: skip
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise FreshcastError(f"{path}: not a saved freshcast model ({exc})") from exc
    # models saved before quantiles, the relative model, the promotion runs, the calibration's
    # share of the trees or its sample of series existed have none (and calibrated on a copy
    # with all the trees, trained on every series)
    params = {"quantiles": (), "relative_model": False, "promotion_runs": False, "calibration_tree_share": 1.0,
              "calibration_series": None, **meta["params"]}  # fmt: skip
    if params["relative_model"] != (relative is not None):
        raise FreshcastError(f"{path}: not a whole save: relative_model is {params['relative_model']} and "
                             f"{RELATIVE_FILE} is {'there' if relative is not None else 'missing'}")  # fmt: skip
    for k in ("lags", "windows", "ewm_alphas", "quantiles"):
        params[k] = tuple(params[k])
    model = cls(**params)
    model.booster_, model.relative_booster_, model.group_boosters_ = booster, relative, groups
    if holdout is not None:
        model.calibrator_ = QuantileCalibrator.from_holdout(params["quantiles"], holdout)
    categories = {c: np.asarray(ids, np.int64) for c, ids in meta.get("categories", {}).items()}
    model.features_ = DailyFeatures(model.spec, model.max_horizon, tuple(meta["static"]), tuple(meta["covariates"]),
                                    categories)  # fmt: skip
    spec = json.loads(json.dumps(asdict(model.spec)))  # tuples as JSON lists
    if model.features_.names != meta["feature_names"] or spec != meta["feature_spec"]:
        raise FreshcastError(f"{path}: the saved model's features are not the ones this freshcast builds: save it again")
    model.trained_range_ = tuple(meta["trained_range"])
    model.n_train_rows_ = meta["n_train_rows"]
    model.quantiles_ = check_quantiles(params["quantiles"])
    model.recovered_ = bool(meta.get("stockout_recovered", False))
    return model


def _check_sums(meta: dict, files: dict[str, bytes | None]) -> None:
    """ValueError unless every data file is there exactly when meta.json lists it, with its
    checksum."""
    sums = meta.get("sha256")
    if not isinstance(sums, dict) or MODEL_FILE not in sums:
        raise ValueError(f"{META_FILE} lists no checksums (saved by an older freshcast: save it again)")
    for name in DATA_FILES:
        if name in sums and files[name] is None:
            raise ValueError(f"{name} is missing")
        if name in sums and hashlib.sha256(files[name]).hexdigest() != sums[name] or (
            name not in sums and files[name] is not None
        ):
            raise ValueError(f"{name} does not match {META_FILE} (files of different saves?)")


def _read_folder(path: Path, names: tuple[str, ...]) -> dict[str, bytes | None]:
    """The bytes of each named file (None if absent), all read through one open handle of
    the folder, so that they come from one save even if another swaps the folder meanwhile."""
    folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        out = {}
        for name in names:
            try:
                fd = os.open(name, os.O_RDONLY, dir_fd=folder)
            except FileNotFoundError:
                out[name] = None
                continue
            with os.fdopen(fd, "rb") as fh:
                out[name] = fh.read()
        return out
    finally:
        os.close(folder)
