"""A daily forecast scored against the sales that followed it: how a forecast that orders were
placed on did, per day ahead and over all its days (`freshcast score`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dates import day_to_date
from ..data.keys import pair_keys
from ..data.panel import DailyPanel
from ..errors import DataError
from .backtest import quantile_scores
from .distribution import ForecastDistribution
from .metrics import wape, wpe
from .quantiles import quantile_column


def score_forecast(forecast: ForecastDistribution, actuals: DailyPanel) -> tuple[pd.DataFrame, list[str]]:
    """(scores, notes): one row per forecast day (`dt`, `horizon` 1 for its first day) and one
    for all of them (`dt` "all", no horizon), each with the store x product lines scored, units sold
    (`actual`) and forecast (`forecast`, the mean), WAPE and WPE (bias, negative = under) on
    all days and on in-stock days (no stockout hour 06:00-21:59), and, for its quantiles, the
    pinball loss and coverage on in-stock days, where sales are demand. A line-day is scored
    where `actuals` holds rows of it; lines or days they lack are left out and said in the
    notes. DataError if no forecast day of any line is in `actuals`."""
    ids = actuals.ids()
    mine, theirs = pair_keys((forecast.store_id, forecast.product_id), (ids[:, 0], ids[:, 1]))
    order = np.argsort(theirs, kind="stable")
    at = np.minimum(np.searchsorted(theirs[order], mine), len(order) - 1)
    known = theirs[order][at] == mine
    rows, series = np.flatnonzero(known), order[at[known]]
    days = forecast.days
    inside = (days[None, :] >= actuals.start[series][:, None]) & (days[None, :] <= actuals.last_day)
    pos = np.where(inside, actuals.positions(days[None, :], series), 0)
    seen = inside & (actuals.filled_hours[pos] < 24)  # a day the actuals hold rows of
    if not seen.any():
        span = f"{day_to_date(days[0])} .. {day_to_date(days[-1])}"
        raise DataError(actuals.source, [f"holds no sales of the forecast's lines on its days {span}: score a "
                                         f"forecast once its days have sold"])  # fmt: skip
    notes = []
    if (~known).any():
        notes.append(f"{int((~known).sum())} forecast line(s) not in the actuals, not scored (e.g. store_id="
                     f"{forecast.store_id[~known][0]}, product_id={forecast.product_id[~known][0]})")  # fmt: skip
    if not seen.all():
        notes.append(f"{int((~seen).sum())} line-day(s) of the forecast without rows in the actuals, not scored "
                     f"(days after the actuals' last day {day_to_date(actuals.last_day)} among them)")  # fmt: skip
    unforecast = len(ids) - len(np.unique(series))
    if unforecast:
        notes.append(f"{unforecast} series of the actuals have no forecast: their sales are not scored")
    line, day = np.nonzero(seen)
    frame = pd.DataFrame({"horizon": day + 1, "actual": actuals.sales[pos[line, day]].astype(np.float64),
                          "yhat": forecast.mean[rows[line], day].astype(np.float64),
                          "in_stock": actuals.in_stock()[pos[line, day]]})  # fmt: skip
    for j, level in enumerate(forecast.levels):
        frame[quantile_column(level)] = forecast.quantiles[rows[line], day, j].astype(np.float64)
    out = []
    for h, group in [*frame.groupby("horizon"), (None, frame)]:
        actual, yhat, ok = group["actual"].to_numpy(), group["yhat"].to_numpy(), group["in_stock"].to_numpy()
        out.append({"dt": "all" if h is None else str(day_to_date(days[h - 1])), "horizon": h,
                    "lines": len(group), "actual": actual.sum(), "forecast": yhat.sum(), "wape": wape(actual, yhat),
                    "wpe": wpe(actual, yhat), "wape_instock": wape(actual[ok], yhat[ok]),
                    "wpe_instock": wpe(actual[ok], yhat[ok]), **quantile_scores(group, forecast.levels)})  # fmt: skip
    return pd.DataFrame(out).astype({"horizon": "Int64"}), notes


def score_files(forecast, actuals, column_map=None, timezone: str = "UTC") -> tuple[pd.DataFrame, list[str]]:
    """`score_forecast` of a daily forecast table (`freshcast forecast` output: a path, a
    DataFrame or an Arrow table; time-zone aware days dated in `timezone`) against `actuals`
    (the days' sales in the history's format: hourly or daily rows, read and checked as
    `load_history` does)."""
    from ..data.contract import DAY
    from ..data.load import load_history
    from ..data.read import read_frame, source_name

    source = str(forecast) if isinstance(forecast, (str, Path)) else f"forecast {source_name(forecast)}"
    table = ForecastDistribution.from_frame(read_frame(forecast, (DAY,)), source, timezone)
    return score_forecast(table, load_history(actuals, column_map))
