"""The nightly run's stages that read the history (validate, model, forecast) on a Dask
cluster (`[run] scheduler`): the history split by store as for `freshcast forecast`
(`cluster.forecast`), each worker checking and cutting its stores' rows, the model trained
data-parallel and each partition forecast on its worker; only the small tables (the future
covariates, the forecasts, each partition's products and digest) come back to the run."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..console import Step
from ..data import contract as C
from ..data.dates import day_to_date
from ..data.future import assume_future, assumption_note
from ..data.panel import DailyPanel
from ..data.partitions import store_partitions
from ..data.read import source_name
from ..errors import FreshcastError
from .connect import shared, workers
from .forecast import (calibrated, forecast_part, group_tables, known_panel, load_partition_futures, load_partitions,
                       partition_facts)  # fmt: skip


class Partitions:
    """The history of a run by store: futures of the partition panels (cut after `day`, the
    day before the run date, when given) and the chain's facts."""

    def __init__(self, client, history, column_map, progress=None):
        with Step(f"loading history {source_name(history)} by store", progress):
            self.client, self.column_map = client, column_map
            self.parts = store_partitions(history, len(workers(client)), column_map)
            self.panels, self.facts = load_partitions(client, history, column_map, self.parts)
        self.tables = {}  # stockout recovery -> the chain's group tables (a future), once worked out

    def group_tables(self, recovery: float):
        """The chain's group tables of the demand with `recovery` of what stockouts hid (a
        model's `feature_share`)."""
        if recovery not in self.tables:
            self.tables[recovery] = group_tables(self.client, self.client.map(known_panel, self.panels,
                                                                              recovery=recovery))  # fmt: skip
        return self.tables[recovery]

    def cut(self, day: int) -> Partitions:
        """The partitions through `day` (FreshcastError if the history ends before it)."""
        if self.facts["last_day"] < day:
            raise FreshcastError(f"{self.facts['source']}: the history ends on {day_to_date(self.facts['last_day'])}; "
                                 f"the run for {day_to_date(day + 1)} needs sales through {day_to_date(day)}")  # fmt: skip
        if self.facts["last_day"] > day:
            self.panels, self.tables = self.client.map(DailyPanel.until, self.panels, day=day), {}
            facts = self.client.gather(self.client.map(partition_facts, self.panels))
            self.facts = {**self.facts, "last_day": day, "sizes": [f["n_series"] for f in facts],
                          "n_series": sum(f["n_series"] for f in facts)}  # fmt: skip
        return self


def validated(parts: Partitions, future_path, days: int) -> tuple[pd.DataFrame, str, dict, np.ndarray, np.ndarray]:
    """The validate stage's work on the cluster: the future covariates of the `days` days
    after the history (read from `future_path` and checked on each worker, or assumed), the
    note on where they come from, the history's summary, its product ids and its store ids."""
    client, panels = parts.client, parts.panels
    if future_path is not None:
        futures, n_days = load_partition_futures(client, str(future_path), parts.column_map, parts.parts, panels,
                                                 parts.facts)  # fmt: skip
        if n_days < days:
            first = day_to_date(parts.facts["last_day"] + 1)
            raise FreshcastError(f"{future_path}: covers {n_days} day(s) from {first}; [forecast] days = {days}")
        frames = client.gather(client.map(_future_frame, panels, futures, days=days))
        note = f"future covariates from {future_path}"
    else:
        frames = client.gather(client.map(assume_future, panels, n_days=days))
        note = client.submit(assumption_note, panels[0]).result()
    about = client.gather(client.map(_about, panels))
    products = np.unique(np.concatenate([a.pop("products") for a in about]))
    stores = np.unique(np.concatenate([a.pop("stores") for a in about]))
    first = about[0]
    history = {
        "first_day": str(day_to_date(parts.facts["first_day"])), "last_day": str(day_to_date(parts.facts["last_day"])),
        "series": parts.facts["n_series"], "series_days": sum(a["series_days"] for a in about),
        **_filled(about),
        "hourly": first["hourly"], "covariates": first["covariates"],
        "sha256": hashlib.sha256("".join(a["sha256"] for a in about).encode()).hexdigest(),
    }  # fmt: skip
    return pd.concat(frames, ignore_index=True), note, history, products, stores


def _future_frame(panel, future, days: int) -> pd.DataFrame:
    from ..nightly.stages import future_frame

    return future_frame(panel, future, days)


def _about(panel) -> dict:
    from ..nightly.stages import filled_counts, panel_digest

    return {"series_days": panel.n_flat, **filled_counts(panel), "hourly": panel.hourly,
            "covariates": list(panel.covariates),
            "sha256": panel_digest(panel), "products": np.unique(panel.series[C.PRODUCT].to_numpy()),
            "stores": np.unique(panel.series[C.STORE].to_numpy())}  # fmt: skip


def trained(parts: Partitions, model):
    """`model` (unfitted) fitted over the partitions, with its quantile calibration."""
    fitted, parts.tables[model.feature_share] = calibrated(parts.client, parts.panels, parts.facts, model)
    return fitted


def forecasts(parts: Partitions, model, future_path, kinds: list[tuple[str, str, str | None]]) -> dict:
    """`model`'s forecasts of the days of the validated covariates at `future_path`, per
    (name, level, slots) of `kinds`: name -> the table, series in store order."""
    client = parts.client
    futures, _ = load_partition_futures(client, str(future_path), None, parts.parts, parts.panels, parts.facts)
    pooled = parts.group_tables(model.feature_share)  # the training's, when the model was trained in this run
    held = shared(client, model)
    out = {}
    for name, level, slots in kinds:
        frames = client.map(forecast_part, parts.panels, futures, model=held, pooled=pooled, level=level, slots=slots)
        out[name] = pd.concat(client.gather(frames), ignore_index=True)
    return out


def _filled(about: list[dict]) -> dict:
    """The partitions' filled days added up (`nightly.stages.filled_counts`; a store is in one
    partition, so its count is that partition's)."""
    counted = sorted((-n, s) for a in about
                     for s, n in zip(a["filled_last_day_stores"], a["filled_last_day_by_store"]))[:5]  # fmt: skip
    return {"filled_days": sum(a["filled_days"] for a in about),
            "filled_last_day": sum(a["filled_last_day"] for a in about),
            "filled_last_day_stores": [s for _, s in counted], "filled_last_day_by_store": [-n for n, _ in counted]}
