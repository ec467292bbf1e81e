"""The rolling-origin backtest on a Dask cluster: the history split by store as for the
forecast (`cluster.forecast`), each fold's model trained data-parallel on the partitions cut
at the fold's cutoff, each partition's series forecast and scored inputs gathered (the
forecast rows only); the scores are worked out on the client as `forecast.backtest` does."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..console import Step
from ..data.dates import day_to_date
from ..data.panel import DailyPanel
from ..data.partitions import store_partitions
from ..data.read import source_name
from ..forecast.backtest import cutoffs_between, fold_forecasts, fold_model, scored
from .connect import shared, workers
from .forecast import calibrated, check_path, load_partitions


def backtest_on_dask(client, history, folds: int = 3, horizon: int = 7, params: dict | None = None, column_map=None,
                     progress: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """`forecast.backtest.backtest` of the history at path `history` (every worker reads it)
    on the workers of `client`: the same (scores, forecasts), series in store order."""
    check_path(history, "history")
    with Step(f"loading history {source_name(history)} by store", progress):
        parts = store_partitions(history, len(workers(client)), column_map)
        panels, facts = load_partitions(client, history, column_map, parts)
    with_quantiles = bool(fold_model(horizon, params).quantiles)
    cutoffs = cutoffs_between(facts["first_day"], facts["last_day"], folds, horizon, facts["source"], 7, with_quantiles)
    firsts = np.cumsum([0, *facts["sizes"]])[:-1]
    frames, scales = [], []
    for k, cutoff in enumerate(cutoffs, start=1):
        if progress:
            progress(f"fold {k}/{folds}: train to {day_to_date(cutoff)}, forecast {horizon} days")
        train = client.map(DailyPanel.until, panels, day=cutoff)
        model, pooled = calibrated(client, train, {**facts, "last_day": cutoff}, fold_model(horizon, params))
        done = client.gather(client.map(fold_forecasts, panels, train, horizon=horizon, model=shared(client, model),
                                        pooled=pooled))  # fmt: skip
        offset = (k - 1) * facts["n_series"]
        frames += [f.assign(fold=k, series=f["series"] + offset + first) for (f, _), first in zip(done, firsts)]
        scales += [s for _, s in done]
        del train
    return scored(pd.concat(frames, ignore_index=True), np.concatenate(scales), model.quantiles_)
