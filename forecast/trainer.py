"""The one place that calls LightGBM: train a booster on a feature matrix, predict with it,
and turn it into text and back. A distributed trainer (for example on Dask) stands beside
`train` with the same arguments; everything else sees only the booster it returns."""

from __future__ import annotations

import re
import warnings

import lightgbm as lgb
import numpy as np

from ..errors import FreshcastError

VERSION = lgb.__version__
Booster = lgb.Booster


def train(
    X: np.ndarray,
    y: np.ndarray,
    params: dict,
    feature_names: list[str],
    n_categorical: int,
    n_estimators: int,
    max_bin: int,
    progress=None,
    bins_from: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> lgb.Booster:
    """A booster of `n_estimators` trees on rows X (float32, the first `n_categorical`
    columns categorical) and target y, with LightGBM `params`. FreshcastError (one line)
    if LightGBM refuses the settings. `progress` (a function taking a line) hears of every
    fifth of the trees. `bins_from`: rows whose values set the histogram bins instead of X's
    (in a distributed training, the same sample of every machine's rows on each machine:
    X is then this machine's share and `params` name the network). `weight`: each row's weight
    (None: all 1)."""
    settings = {"max_bin": max_bin, "verbosity": -1}
    reference = None
    if bins_from is not None:
        reference = lgb.Dataset(bins_from, feature_name=feature_names, categorical_feature=list(range(n_categorical)),
                                params=settings, free_raw_data=False).construct()  # fmt: skip
        settings = {**settings, "pre_partition": True}
    data = lgb.Dataset(X, y, weight=weight, feature_name=feature_names, categorical_feature=list(range(n_categorical)),
                       params=settings, reference=reference, free_raw_data=True)  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Overriding the parameters from Reference Dataset")  # the same bins
            return lgb.train(params, data, num_boost_round=n_estimators, callbacks=_reporting(progress, n_estimators))
    except lgb.basic.LightGBMError as exc:
        raise FreshcastError(f"LightGBM refused the model settings: {str(exc).strip()}") from None


def _reporting(progress, n_estimators: int) -> list:
    if progress is None:
        return []
    every = max(1, n_estimators // 5)

    def report(env) -> None:
        done = env.iteration + 1
        if done % every == 0 or done == n_estimators:
            progress(f"  {done} of {n_estimators} trees")

    return [report]


def learned_nothing(booster: lgb.Booster) -> bool:
    """True when no tree of the booster splits: it predicts one value for every row."""
    return int(booster.feature_importance("split").sum()) == 0


def predict(booster: lgb.Booster, X: np.ndarray, threads: int) -> np.ndarray:
    """Predictions for rows X, clipped at 0 (units), as float32."""
    return np.clip(booster.predict(X, num_threads=threads), 0.0, None).astype(np.float32)


def to_text(booster: lgb.Booster) -> str:
    """The model as text, with what depends on the machine rather than on the trees left
    out: its thread count (written as 0: the count freshcast picks depends on how busy the
    machine was) and, for a model trained over a network of workers, their addresses and
    ports (written as LightGBM's defaults). Two runs that train the same trees save the same
    bytes."""
    text = booster.model_to_string()
    for pattern, plain in ((r"^\[num_threads: \d+\]$", "[num_threads: 0]"), (r"^\[machines: .*\]$", "[machines: ]"),
                           (r"^\[local_listen_port: \d+\]$", "[local_listen_port: 12400]")):  # fmt: skip
        text = re.sub(pattern, plain, text, count=1, flags=re.M)
    return text


def from_text(text: str) -> lgb.Booster:
    """The booster of `to_text`; ValueError if the text is not one."""
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ValueError(f"not a LightGBM model ({str(exc).strip()})") from None
