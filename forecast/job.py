"""The forecast job of `freshcast forecast`, for the command line and the ERP alike: load the
history and the future covariates, train, forecast every day (hour, slot) of the future,
write the table and optionally the model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..console import Step
from ..data import load_future, load_history
from ..errors import FreshcastError
from ..outputs import write_table
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
) -> pd.DataFrame:
    """Forecast the days of `future` after `history` and write the table to `out` (Parquet or
    CSV, written whole); with `save_model`, also save the model to that folder. The model
    forecasts as many days as `future` holds and learns from the days that have 28 or more
    days of history before them."""
    with Step(f"loading history {history}", progress):
        panel = load_history(history, column_map)
    if progress:
        progress(f"{panel.n_series:,} series, {panel.n_flat:,} series-days")
    if (level == "hour" or slots) and not panel.hourly:
        raise FreshcastError(f"{history}: hour and slot forecasts need hourly rows (an 'hour' column)")
    with Step(f"loading future covariates {future}", progress):
        fut = load_future(future, panel, column_map)
    with Step(f"training on {panel.n_series:,} series", progress):
        model = DailyForecaster(
            max_horizon=fut.n_days, min_history_days=max(28, fut.n_days), seed=seed, quantiles=quantiles,
            **({} if recover_stockouts else {"stockout_recovery": 0.0}),
        ).fit(panel)  # fmt: skip
    if recover_stockouts and not model.recovered_ and progress:
        progress("daily input has no hours: training on sales as observed (no stockout recovery)")
    with Step(f"forecasting {fut.n_days} day(s)", progress):
        pred = model.predict(fut.n_days, fut, level=level, slots=slots)
    write_table(pred, out)
    if save_model is not None:
        model.save(save_model)
    return pred
