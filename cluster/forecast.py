"""The forecast job on a Dask cluster. The history is split by store into one partition per
worker (`data.partitions`); each worker reads only its stores, recovers the demand hidden by
stockouts and builds its feature rows with the same kernels as the local path; the product
and store tables the trend features read are added up over the partitions and sent to every
worker; LightGBM trains data-parallel over the workers' rows, and the quantile calibration
likewise on the days before the last `max_horizon`; each worker forecasts its own series and
only the forecast table comes back. No process holds the whole panel."""

from __future__ import annotations

import dataclasses
import functools
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..console import Step
from ..data import load_future, load_history
from ..data.dates import day_to_date
from ..data.panel import DailyPanel
from ..data.partitions import store_partitions
from ..data.read import source_name, store_row_counts
from ..errors import FreshcastError
from ..features import DailyFeatures
from ..features.daily import large_ids, pooled_sales, static_columns
from ..forecast.calibrator import (QuantileCalibrator, calibration_copy, calibration_share, empty_sample, held_out,
                                   sampled_panel)
from ..forecast.daily import DailyForecaster, fit_notes, groups_to_train
from ..forecast.hourly import dayparts
from ..forecast.quantiles import Holdout, check_quantiles
from ..forecast.target import demand_target
from ..outputs import write_joined, write_table
from . import trainer
from .connect import shared, workers


def forecast_on_dask(client, history, future, make_model: Callable[[int], DailyForecaster], column_map=None,
                     level: str = "day", slots: str | None = None, progress=None) -> tuple[pd.DataFrame, DailyForecaster]:  # fmt: skip
    """Train the model `make_model(days)` (unfitted; `days` the number of future days) on the
    history at path `history` and forecast the days of the covariates at path `future`, on the
    workers of `client`. Returns the forecast table (as `DailyForecaster.predict`, series in
    store order) and the fitted model, which holds no history (save it, or forecast with a
    history given)."""
    parts, fitted = forecast_parts(client, history, future, make_model, column_map, level, slots, progress)
    return pd.concat(client.gather(parts), ignore_index=True), fitted


def write_parts(client, parts: list, folder: Path) -> int:
    """Each worker writes its forecast table `parts[i]` (futures) as `folder/part-{i:05d}.parquet`
    (a Parquet dataset in store order; `folder` where every worker can write): the rows written."""
    paths = [str(folder / f"part-{i:05d}.parquet") for i in range(len(parts))]
    return sum(client.gather(client.map(_write_part, parts, paths)))


def write_gathered(client, parts: list, path: Path) -> int:
    """The forecast tables `parts` (futures) as the one file `path`: each worker writes its part
    into a hidden folder beside `path` (where every worker can write), then the parts are
    joined part by part, so the client never holds the whole table. Returns the rows written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))  # removed after a kill
    try:  # by the next run (outputs.reserve)
        rows = write_parts(client, parts, staging)
        write_joined(sorted(staging.glob("part-*.parquet")), path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return rows


def _write_part(frame: pd.DataFrame, path: str) -> int:
    write_table(frame, path)
    return len(frame)


def forecast_parts(client, history, future, make_model: Callable[[int], DailyForecaster], column_map=None,
                   level: str = "day", slots: str | None = None, progress=None) -> tuple[list, DailyForecaster]:  # fmt: skip
    """`forecast_on_dask` with the forecast left on the workers: futures of each partition's
    table (in store order) and the fitted model."""
    from distributed import wait

    for name, source in (("history", history), ("future covariates", future)):
        check_path(source, name)
    dayparts(level, slots)  # checks both before any work
    with Step(f"loading history {source_name(history)} by store", progress):
        parts = store_partitions(history, len(workers(client)), column_map)
        panels, facts = load_partitions(client, history, column_map, parts)
    if (level == "hour" or slots) and not facts["hourly"]:
        raise FreshcastError(f"{history}: hour and slot forecasts need hourly rows (an 'hour' column)")
    if progress:
        progress(f"{facts['n_series']:,} series in {len(parts)} partitions")
    with Step(f"loading future covariates {source_name(future)}", progress):
        futures, n_days = load_partition_futures(client, future, column_map, parts, panels, facts)
    with Step(f"training on {facts['n_series']:,} series", progress):
        fitted, pooled = calibrated(client, panels, facts, make_model(n_days))
    for note in fitted.notes_ if progress else ():
        progress(note)
    with Step(f"forecasting {n_days} day(s)", progress):
        model = shared(client, fitted)
        frames = client.map(forecast_part, panels, futures, model=model, pooled=pooled, level=level, slots=slots)
        wait(frames)
    return frames, fitted


def check_path(source, name: str) -> None:
    """FreshcastError unless `source` is a path (which every worker must be able to read)."""
    if not isinstance(source, str) and not hasattr(source, "__fspath__"):
        raise FreshcastError(f"on a Dask cluster the {name} must be a path every worker can read")


def fit_on_dask(client, panels: list, facts: dict, model: DailyForecaster):
    """`model`'s point forecaster (no quantiles) fitted over the partition panels (futures):
    returns it and the future of the chain's group tables its features read."""
    t0 = time.perf_counter()
    known = client.map(known_panel, panels, recovery=model.feature_share)
    pooled = group_tables(client, known)
    shapes = client.gather(client.map(lambda k: (k.n_series, int(np.diff(k.offsets).max(initial=0))), known))
    blocks = -(-max(max(length for _, length in shapes) - model.min_history_days, 0) // model.max_horizon)
    firsts = np.cumsum([0] + [n for n, _ in shapes])
    places = [(int(firsts[i]), int(firsts[-1]), blocks) for i in range(len(shapes))]
    features = facts["features"](model)
    rows = client.map(_training_rows, panels, known, places, model=model, pooled=pooled, features=features)
    n_rows = sum(client.gather(client.map(len, rows)))
    if n_rows == 0:
        raise FreshcastError(f"{facts['source']}: no series has more than {model.min_history_days} days of history to learn from")
    settings = (model.lightgbm_params(), features.names, len(features.static), model.n_estimators, model.max_bin)
    train = lambda parts: trainer.train(client, parts, *settings, model.seed)  # noqa: E731
    booster, relative = train(client.map(_units, rows)), None
    counts = client.gather(client.map(_group_counts, rows))
    groups = groups_to_train(dict(sum((Counter(c) for c in counts), Counter())), model.min_child_samples)
    holding = {g: [part for part, c in zip(rows, counts) if c.get(g)] for g in groups}  # a group's partitions
    group_boosters = {g: [train(client.map(_units, holding[g], group=g)), None] for g in groups}
    if model.relative_model:
        relative = train(client.map(_relative, rows, features=features))
        for g in groups:
            group_boosters[g][1] = train(client.map(_relative, holding[g], features=features, group=g))
    fitted = clone(model)
    fitted.quantiles_ = check_quantiles(model.quantiles)
    fitted.recovered_ = facts["hourly"] and model.stockout_recovery > 0
    fitted.features_, fitted.booster_, fitted.relative_booster_ = features, booster, relative
    fitted.group_boosters_ = {g: tuple(b) for g, b in group_boosters.items()}
    fitted.trained_range_ = (str(day_to_date(facts["first_day"])), str(day_to_date(facts["last_day"])))
    fitted.n_train_rows_ = int(n_rows)
    fitted.fit_seconds_ = {"train": time.perf_counter() - t0}
    fitted.notes_ = fit_notes(model, booster, n_rows, facts["n_series"], list(features.static))
    return fitted, pooled


def calibrated(client, panels: list, facts: dict, model: DailyForecaster):
    """`model` fitted over the partition panels (futures), with its quantile calibrator when it
    has quantiles; and the future of the chain's group tables its features read."""
    fitted, pooled = fit_on_dask(client, panels, facts, model)
    if fitted.quantiles_:
        fitted.calibrator_ = _calibrator(client, panels, facts, fitted)
    return fitted, pooled


def _calibrator(client, panels: list, facts: dict, fitted: DailyForecaster) -> QuantileCalibrator:
    """The quantile calibrator of `fitted`, from a copy trained over the partitions without
    their last `max_horizon` days, on the same sample of series (as `QuantileCalibrator.fit`
    does on one panel)."""
    H = fitted.max_horizon
    share = calibration_share(facts["n_series"], fitted.calibration_series)
    if share < 1:  # the partitions' series in the sample; a partition with none of them sits out
        sampled = client.map(sampled_panel, panels, share=share)
        sizes = client.gather(client.map(lambda p: p.n_series, sampled))
        panels = [p for p, n in zip(sampled, sizes) if n > 0]
        if not panels:
            raise FreshcastError(empty_sample(facts["source"], fitted.calibration_series, facts["n_series"]))
    early = client.map(DailyPanel.until, panels, day=facts["last_day"] - H)
    early_facts = {**facts, "last_day": facts["last_day"] - H}
    try:
        point, pooled = fit_on_dask(client, early, early_facts, calibration_copy(fitted))
    except FreshcastError as exc:
        raise FreshcastError(
            f"{facts['source']}: quantiles are calibrated on forecasts of the last {H} days, which needs "
            f"more than {fitted.min_history_days + H} days of history ({exc}); ask for none to skip them "
            f"(--quantiles none; a replay needs them: give it more history)"
        ) from None
    calibrator = QuantileCalibrator(fitted.quantiles, fitted.calibrate_on)
    parts = client.gather(client.map(_held_out, panels, model=shared(client, point), on=fitted.calibrate_on,
                                     pooled=pooled))  # fmt: skip
    calibrator.holdout_ = Holdout(*(None if getattr(parts[0], f.name) is None else
                                    np.concatenate([getattr(h, f.name) for h in parts])
                                    for f in dataclasses.fields(Holdout)))  # fmt: skip
    return calibrator


def group_tables(client, known: list):
    """A future of the chain's group tables the features read (`features.daily.GroupSales`):
    the `pooled_sales` of the partitions `known` (futures of `known_panel`) added up."""
    return client.submit(_added_tables, client.map(pooled_sales, known), pure=False)


def _added_tables(tables: list[dict]) -> dict:
    return {g: functools.reduce(lambda a, b: a + b, (t[g] for t in tables)) for g in tables[0]}


def _held_out(panel, model: DailyForecaster, on: str, pooled: dict) -> Holdout:
    return held_out(model, panel, on, pooled)


def load_partitions(client, history, column_map, parts: list[tuple[int, int]]):
    """Futures of the panels of the store-id ranges `parts` of the history at path `history`
    (every series ending on the chain's last day) and the facts the client needs of them
    (source, n_series and each partition's `sizes`, hourly, first_day, last_day, and
    `features(model)`: the DailyFeatures of the history's columns)."""
    # partition i is read on the i-th worker, where its LightGBM rank will train (cluster.trainer)
    where = workers(client)
    panels = [client.submit(load_history, history, column_map, part, workers=[where[i % len(where)]],
                            allow_other_workers=True, pure=False) for i, part in enumerate(parts)]  # fmt: skip
    facts = client.gather(client.map(partition_facts, panels))
    last = max(f["last_day"] for f in facts)
    short = [i for i, f in enumerate(facts) if f["last_day"] < last]
    if short:  # stores whose rows end early are filled to the chain's last day, as on one machine
        for i in short:
            panels[i] = client.submit(load_history, history, column_map, parts[i], last, pure=False,
                                      workers=[where[i % len(where)]], allow_other_workers=True)  # fmt: skip
    return panels, combined_facts(source_name(history), parts, facts)


def combined_facts(source: str, parts: list[tuple[int, int]], facts: list[dict]) -> dict:
    """The facts of the chain from each partition's (`partition_facts`), checked alike."""
    first = facts[0]
    for (lo, hi), f in zip(parts, facts):
        if (f["covariates"], f["static"], f["hourly"]) != (first["covariates"], first["static"], first["hourly"]):
            raise FreshcastError(
                f"{source}: store ids {lo}..{hi} have the columns {f['static'] + f['covariates']}, "
                f"store ids {parts[0][0]}..{parts[0][1]} {first['static'] + first['covariates']}: every file needs the same columns"
            )  # fmt: skip
    categories = large_ids({c: np.concatenate([f["ids"][c] for f in facts]) for c in first["static"]})
    return {
        "source": source, "n_series": sum(f["n_series"] for f in facts), "hourly": first["hourly"],
        "covariates": first["covariates"],
        "sizes": [f["n_series"] for f in facts],
        "first_day": min(f["first_day"] for f in facts), "last_day": max(f["last_day"] for f in facts),
        "features": functools.partial(_features, first["static"], first["covariates"], categories),
    }  # fmt: skip


def partition_facts(panel) -> dict:
    static = static_columns(panel.series)
    return {"n_series": panel.n_series, "first_day": int(panel.start.min()), "last_day": panel.last_day,
            "covariates": list(panel.covariates), "static": static, "hourly": panel.hourly,
            "ids": {c: np.unique(panel.series[c].to_numpy()) for c in static}}  # fmt: skip


def _features(static: list[str], covariates: list[str], categories: dict, model: DailyForecaster) -> DailyFeatures:
    return DailyFeatures(model.spec, model.max_horizon, tuple(static), tuple(covariates), categories)


def known_panel(panel, recovery: float):
    """The partition with the demand its features read (`DailyForecaster.feature_share` of
    what stockouts hid added back) as its sales."""
    return panel.with_sales(demand_target(panel, recovery)[0])


@dataclasses.dataclass
class PartitionRows:
    """A partition's training rows: features X (in units, or relative to each row's level once
    `relative`), target y (units), each row's level (units per day) and group of series (the
    value of the model's `group_models` attribute; None without)."""

    X: np.ndarray
    y: np.ndarray
    level: np.ndarray
    group: np.ndarray | None = None
    relative: bool = False

    def __len__(self) -> int:
        return len(self.y)


def _training_rows(panel, known, place: tuple[int, int, int], model: DailyForecaster, pooled: dict,
                   features: DailyFeatures) -> PartitionRows:  # fmt: skip
    """A partition's training rows (the horizons the chain's panel draws for its series):
    the chain's `features` of its `known_panel`, read with the chain's tables, and the demand
    the model learns (`stockout_recovery` of what stockouts hid added to the sales of `panel`)."""
    rows = features.training_rows(known, model.min_history_days, model.seed, model.train_days, place)
    same = model.feature_share == model.stockout_recovery
    demand = known.sales if same else demand_target(panel, model.stockout_recovery)[0]
    return PartitionRows(features.matrix(rows, pooled), demand[rows.target].astype(np.float32), rows.level,
                         model.row_groups(rows))  # fmt: skip


def _group_counts(part: PartitionRows) -> dict:
    """{group of series: rows of the partition in it} ({} without group models)."""
    if part.group is None:
        return {}
    keys, n = np.unique(part.group, return_counts=True)
    return dict(zip(keys.tolist(), n.tolist()))


def _units(part: PartitionRows, group=None):
    """(X, y) of a partition's rows (those of `group` only, unless None), for a units model
    (all of them trained before any relative one)."""
    if part.relative:
        raise RuntimeError("the units model needs the rows in units; they were made relative already")
    if group is None:
        return part.X, part.y
    at = part.group == group
    return part.X[at], part.y[at]


def _relative(part: PartitionRows, features: DailyFeatures, group=None):
    """(X, y, weight) of a partition's rows (those of `group` only, unless None) for a model
    relative to each row's level. The rows are made relative in place (no second copy of the
    partition's matrix on the worker) once, after the units models have trained on them: run
    again, the task finds them done."""
    if not part.relative:
        features.to_relative(part.X, part.level)
        part.relative = True
    if group is None:
        return part.X, (part.y / part.level).astype(np.float32), part.level
    at = part.group == group
    return part.X[at], (part.y[at] / part.level[at]).astype(np.float32), part.level[at]


def load_partition_futures(client, future, column_map, parts: list[tuple[int, int]], panels: list, facts: dict):
    """Futures of each partition's future covariates (checked on its worker against its
    series) and the number of future days. Stores of the future file outside every partition
    are refused here, as the local path refuses series not in the history."""
    check_stores(future, column_map, parts, facts["source"])
    futures = client.map(load_future, [future] * len(parts), panels, [column_map] * len(parts), parts)
    days = client.gather(client.map(lambda f: (f.first_day, f.first_day + f.n_days - 1), futures))
    first, last = same_days(source_name(future), "future", parts, days)  # else one machine would find some
    return futures, last - first + 1  # store x product x day combinations missing


def same_days(source: str, what: str, parts: list[tuple[int, int]], days: list[tuple[int, int]]) -> tuple[int, int]:
    """The (first, last) day numbers every partition `parts[i]` has (`days[i]`) in the table
    `source`; FreshcastError naming two partitions that differ."""
    other = next((i for i, d in enumerate(days) if d != days[0]), None)
    if other is not None:
        (a0, b0), (lo, hi), (a1, b1) = days[0], parts[other], days[other]
        raise FreshcastError(f"{source}: store ids {lo}..{hi} have {what} days {day_to_date(a1)} .. {day_to_date(b1)}, "
                             f"store ids {parts[0][0]}..{parts[0][1]} {day_to_date(a0)} .. {day_to_date(b0)}: every "
                             f"series needs the same days")  # fmt: skip
    return days[0]


def check_stores(path, column_map, parts: list[tuple[int, int]], history: str) -> None:
    """FreshcastError when the table at `path` has stores outside every partition `parts` of
    the history (named `history`): as one machine refuses series not in the history."""
    ids, _ = store_row_counts(path, column_map)
    lo, hi = np.array([p[0] for p in parts]), np.array([p[1] for p in parts])
    at = np.searchsorted(lo, ids, side="right") - 1
    outside = (at < 0) | (ids > hi[np.maximum(at, 0)])
    if outside.any():
        raise FreshcastError(f"{source_name(path)}: {int(outside.sum())} store(s) not in the history {history}, "
                             f"e.g. store_id={int(ids[outside][0])}")  # fmt: skip


def forecast_part(panel, future, model: DailyForecaster, pooled: dict, level: str, slots: str | None) -> pd.DataFrame:
    return model.predict(future.n_days, future, history=panel, level=level, slots=slots, pooled=pooled)
