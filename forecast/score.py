"""A forecast scored against the sales that followed it: how a forecast that orders were placed
on did, per day ahead and over all its days (`freshcast score`), by day or by hour."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.contract import DAY, PRODUCT, STORE
from ..data.dates import day_to_date
from ..data.keys import match_pairs
from ..data.panel import DailyPanel
from ..errors import DataError
from .backtest import quantile_scores
from .distribution import ForecastDistribution, quantile_columns
from .hourly import read_hour_table
from .metrics import wape, wpe
from .quantiles import quantile_column


def score_forecast(forecast: ForecastDistribution, actuals: DailyPanel) -> tuple[pd.DataFrame, list[str]]:
    """(scores, notes) of a daily forecast: one row per forecast day (`dt`, `horizon` 1 for its
    first day) and one for all of them (`dt` "all", no horizon), each with the store x product
    `lines` scored, units sold (`actual`) and forecast (`forecast`, the mean), WAPE and WPE
    (bias, negative = under) on all days and on in-stock days (no stockout hour 06:00-21:59),
    and, for its quantiles, the pinball loss and coverage on in-stock days, where sales are
    demand. A line-day is scored where `actuals` holds rows of it; lines or days they lack
    are left out and said in the notes. DataError if no forecast day of any line is in them."""
    H = forecast.horizon
    line = np.repeat(np.arange(forecast.n_series), H)
    day = np.tile(forecast.days, forecast.n_series)
    _, pos, seen, notes = _matched(forecast.store_id[line], forecast.product_id[line], day, actuals)
    frame = pd.DataFrame({"day": day, "line": line, "actual": actuals.sales[pos].astype(np.float64),
                          "yhat": forecast.mean.ravel().astype(np.float64), "in_stock": actuals.in_stock()[pos]})
    for j, level in enumerate(forecast.levels):
        frame[quantile_column(level)] = forecast.quantiles[:, :, j].ravel().astype(np.float64)
    return _table(frame[seen], forecast.days, forecast.levels), notes


def score_hours(table: pd.DataFrame, actuals: DailyPanel, source: str,
                zone: str = "UTC") -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    """(scores, notes) of an hourly forecast table (`freshcast forecast --level hour`: store_id,
    product_id, dt, hour, yhat and quantile columns) against the hourly sales of `actuals`, as
    `score_forecast` gives them for days but over hours: `hours` the line-hours scored, in-stock
    hours those not flagged out of stock. DataError naming `source` for a bad table."""
    levels = quantile_columns(table.columns, source)
    df = read_hour_table(table, source, zone, ["yhat", *(c for _, c in levels)], empty="a forecast of every line")
    df = df.sort_values([STORE, PRODUCT, DAY, "hour"], kind="stable")  # sums in one order, whatever the file's
    if not actuals.hourly:
        raise DataError(actuals.source, ["has no 'hour' column: an hourly forecast is scored against hourly sales"])
    day, hour = df[DAY].to_numpy(np.int64), df["hour"].to_numpy(np.int64)
    store, product = df[STORE].to_numpy(np.int64), df[PRODUCT].to_numpy(np.int64)
    line, pos, seen, notes = _matched(store, product, day, actuals, "line-hour")  # a line: its series there
    frame = pd.DataFrame({"day": day, "line": line, "actual": actuals.hour_sales[pos, hour].astype(np.float64),
                          "yhat": df["yhat"].to_numpy(np.float64),
                          "in_stock": ((actuals.stockout_mask[pos] >> hour.astype(np.uint32)) & 1) == 0})  # fmt: skip
    for level, c in levels:
        frame[quantile_column(level)] = df[c].to_numpy(np.float64)  # q010 and q10.0 read as q10
    scores = _table(frame[seen], np.arange(day.min(), day.max() + 1), tuple(level for level, _ in levels), "hours")
    return scores, notes


def _matched(store, product, day, actuals: DailyPanel, unit: str = "line-day"):
    """(index in `actuals` of each forecast row's series, position there of its line and day (0
    where none), whether `actuals` hold rows of it, notes on what is left out, counting rows as
    `unit`s); the index and position mean nothing where the rows are not held. DataError if
    none is held."""
    ids = actuals.ids()
    mine, series, known = match_pairs((store, product), (ids[:, 0], ids[:, 1]))
    inside = known & (day >= actuals.start[series]) & (day <= actuals.last_day)
    pos = np.where(inside, actuals.positions(np.where(inside, day, actuals.start[series]), series), 0)
    filled = actuals.filled_hours[pos]
    seen = inside & (filled < 24)  # a day the actuals hold rows of
    if not seen.any():
        span = f"{day_to_date(int(day.min()))} .. {day_to_date(int(day.max()))}"
        raise DataError(actuals.source, [f"holds no sales of the forecast's lines on its days {span}: score a "
                                         f"forecast once its days have sold"])  # fmt: skip
    notes = []
    absent = np.unique(mine[~known])
    if len(absent):
        first = int(np.argmax(~known))
        notes.append(f"{len(absent)} forecast line(s) not in the actuals, not scored (e.g. store_id={store[first]}, "
                     f"product_id={product[first]})")  # fmt: skip
    if (known & ~seen).any():
        why = {"before their series' first day there": known & (day < actuals.start[series]),
               f"after their last day {day_to_date(actuals.last_day)}": known & (day > actuals.last_day),
               "with no row on the day": inside & (filled >= 24)}  # fmt: skip
        notes.append(f"{int((known & ~seen).sum())} {unit}(s) of the forecast without sales in the actuals, not "
                     f"scored: " + ", ".join(f"{int(m.sum())} {what}" for what, m in why.items() if m.any()))
    partial = seen & (filled > 0)
    if partial.any():
        first = int(np.argmax(partial))
        notes.append(f"{int(partial.sum())} {unit}(s) scored fall on days lacking rows for some hours, counted as no "
                     f"sales (e.g. store_id={store[first]}, product_id={product[first]}, "
                     f"{day_to_date(int(day[first]))}): a day not over when its sales were exported is scored as if it "
                     f"were")  # fmt: skip
    unforecast = len(ids) - len(np.unique(series[known]))
    if unforecast:
        notes.append(f"{unforecast} series of the actuals have no forecast: their sales are not scored")
    return series, pos, seen, notes


def _table(frame: pd.DataFrame, days: np.ndarray, levels: tuple[float, ...], rows: str | None = None) -> pd.DataFrame:
    """The scores of the rows of `frame` (day, line, actual, yhat, in_stock, quantile columns)
    per day of `days` that has any, then over all of them; with `rows`, a column so named
    counting the rows scored."""
    out = []
    for d, group in [*frame.groupby("day"), (None, frame)]:
        actual, yhat, ok = group["actual"].to_numpy(), group["yhat"].to_numpy(), group["in_stock"].to_numpy()
        counted = {rows: len(group)} if rows else {}
        out.append({"dt": "all" if d is None else str(day_to_date(int(d))),
                    "horizon": None if d is None else int(d - days[0]) + 1, "lines": group["line"].nunique(),
                    **counted, "actual": actual.sum(), "forecast": yhat.sum(), "wape": wape(actual, yhat),
                    "wpe": wpe(actual, yhat), "wape_instock": wape(actual[ok], yhat[ok]),
                    "wpe_instock": wpe(actual[ok], yhat[ok]), **quantile_scores(group, levels)})  # fmt: skip
    return pd.DataFrame(out).astype({"horizon": "Int64"})


def score_files(forecast, actuals, column_map=None, timezone: str = "UTC") -> tuple[pd.DataFrame, list[str]]:
    """The scores of a forecast table (`freshcast forecast` output, daily or with `--level
    hour`: a path, a DataFrame or an Arrow table; time-zone aware days dated in `timezone`)
    against `actuals` (the days' sales in the history's format: hourly or daily rows, read and
    checked as `load_history` does): `score_forecast` or `score_hours`."""
    from ..data.load import load_history
    from ..data.read import read_frame, source_of

    source = source_of(forecast, "forecast")
    frame = read_frame(forecast, (DAY,))
    if "slot" in frame.columns:
        raise DataError(source, ["column 'slot': dayparts are not scored; score the daily forecast or the hourly one "
                                 "(forecast --level hour), which add up to them"])  # fmt: skip
    if "hour" in frame.columns:
        return score_hours(frame, load_history(actuals, column_map), source, timezone)
    table = ForecastDistribution.from_frame(frame, source, timezone)
    return score_forecast(table, load_history(actuals, column_map))
