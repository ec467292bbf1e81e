"""The forecast job of `freshcast forecast`, for the command line and the ERP alike: load the
history and the future covariates, train, forecast every day (hour, slot) of the future,
write the table and optionally the model."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..console import Step
from ..data import load_future, load_history
from ..data.read import source_name
from ..errors import FreshcastError
from ..outputs import DATASET, is_dataset, output_folder, write_table
from .daily import DailyForecaster


def forecast_to_file(
    history: str | Path | pd.DataFrame,
    future: str | Path | pd.DataFrame,
    out: str | Path,
    column_map: dict[str, str] | None = None,
    seed: int = 0,
    save_model: str | Path | None = None,
    level: str = "day",
    slots: str | None = None,
    recover_stockouts: bool = True,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    progress: Callable[[str], None] | None = None,
    params: dict | None = None,
    scheduler: str | None = None,
) -> int:
    """Forecast the days of `future` after `history` (see `forecast_table`) and write the table
    to `out`: one file (Parquet, or CSV if the name ends in .csv, written whole), or, when the
    name has no suffix, a folder of Parquet parts swapped in whole (`part-00000.parquet` ...,
    in store order: one per partition on Dask, written by the workers; a file is joined from
    the workers' parts one at a time). With `save_model`, also save the model there. Returns
    the number of rows written."""
    if scheduler is None:
        pred, model = forecast_table(history, future, column_map, seed, level, slots, recover_stockouts, quantiles,
                                     progress, params)  # fmt: skip
        if is_dataset(out):
            with output_folder(out, DATASET) as tmp:
                write_table(pred, tmp / "part-00000.parquet")
        else:
            write_table(pred, out)
        rows = len(pred)
    else:
        from ..cluster.connect import connected
        from ..cluster.forecast import forecast_parts, write_gathered, write_parts

        with connected(scheduler) as client:
            parts, model = forecast_parts(client, history, future, _maker(seed, quantiles, recover_stockouts, params),
                                          column_map, level, slots, progress)  # fmt: skip
            if is_dataset(out):
                with output_folder(out, DATASET) as tmp:
                    rows = write_parts(client, parts, tmp)
            else:
                rows = write_gathered(client, parts, Path(out))
    if save_model is not None:
        model.save(save_model)
    return rows


def forecast_table(
    history,
    future,
    column_map: dict[str, str] | None = None,
    seed: int = 0,
    level: str = "day",
    slots: str | None = None,
    recover_stockouts: bool = True,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    progress: Callable[[str], None] | None = None,
    params: dict | None = None,
    scheduler: str | None = None,
) -> tuple[pd.DataFrame, DailyForecaster]:
    """Train on `history` (a path, DataFrame or Arrow table) and forecast the days of `future`
    after it: returns the forecast table and the fitted model. The model forecasts as many
    days as `future` holds and learns from the days that have 28 or more days of history
    before them; `params` (e.g. `forecast.params.read_params` of a tuned file) set the
    model's other parameters. With `scheduler` ("local:N" or "tcp://HOST:PORT") the work runs
    on that Dask cluster, partitioned by store (`freshcast.cluster`; paths only)."""
    if scheduler is not None:
        from ..cluster.connect import connected
        from ..cluster.forecast import forecast_on_dask

        with connected(scheduler) as client:
            return forecast_on_dask(client, history, future, _maker(seed, quantiles, recover_stockouts, params),
                                    column_map, level, slots, progress)  # fmt: skip
    with Step(f"loading history {source_name(history)}", progress):
        panel = load_history(history, column_map)
    if progress:
        progress(f"{panel.n_series:,} series, {panel.n_flat:,} series-days")
    if (level == "hour" or slots) and not panel.hourly:
        raise FreshcastError(f"{source_name(history)}: hour and slot forecasts need hourly rows (an 'hour' column)")
    with Step(f"loading future covariates {source_name(future)}", progress):
        fut = load_future(future, panel, column_map)
    with Step(f"training on {panel.n_series:,} series", progress):
        model = forecaster(fut.n_days, seed, quantiles, recover_stockouts, params).fit(panel)
    if recover_stockouts and not model.recovered_ and progress:
        progress("daily input has no hours: training on sales as observed (no stockout recovery)")
    for note in model.notes_ if progress else ():
        progress(note)
    with Step(f"forecasting {fut.n_days} day(s)", progress):
        pred = model.predict(fut.n_days, fut, level=level, slots=slots)
    return pred, model


def backtest_history(history, folds: int = 3, horizon: int = 7, params: dict | None = None, column_map=None,
                     progress: Callable[[str], None] | None = None, scheduler: str | None = None):  # fmt: skip
    """The rolling-origin backtest of `freshcast backtest` on `history` (a path, DataFrame or
    Arrow table): (scores, forecasts) as `forecast.backtest.backtest` returns them; with
    `scheduler` on that Dask cluster, partitioned by store (paths only)."""
    if scheduler is not None:
        from ..cluster.backtest import backtest_on_dask
        from ..cluster.connect import connected

        with connected(scheduler) as client:
            return backtest_on_dask(client, history, folds, horizon, params, column_map, progress)
    from .backtest import backtest

    with Step(f"loading history {source_name(history)}", progress):
        panel = load_history(history, column_map)
    return backtest(panel, folds, horizon, params, progress)


def _maker(seed, quantiles, recover_stockouts, params) -> Callable[[int], DailyForecaster]:
    """The model of `forecaster` as a function of the days it forecasts (known once the future is read)."""
    return functools.partial(forecaster, seed=seed, quantiles=quantiles, recover_stockouts=recover_stockouts,
                             params=params)  # fmt: skip


def forecaster(days: int, seed: int = 0, quantiles=(0.1, 0.5, 0.9), recover_stockouts: bool = True,
               params: dict | None = None) -> DailyForecaster:  # fmt: skip
    """The model `freshcast forecast` trains for `days` days ahead: it learns from the days
    that have max(28, days) days of history before them; `params` set its other parameters
    (without `recover_stockouts` no stockout recovery, whatever they say)."""
    return DailyForecaster(**{**(params or {}), "max_horizon": days, "min_history_days": max(28, days), "seed": seed,
                              "quantiles": quantiles, **({} if recover_stockouts else {"stockout_recovery": 0.0})})
