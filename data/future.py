"""Assumed future covariates for planners without a promotion plan or weather feed: the
history's last known values carried into the days to forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import contract as C
from .dates import day_to_date
from .panel import DailyPanel
from ..errors import FreshcastError

WEEKS = 4  # weather: mean of the same weekday over the last 4 weeks
ASSUMED = "assumed (freshcast make-future)"


def assumption_note(panel: DailyPanel) -> str:
    """What `assume_future` assumes, in a planner's words."""
    last = day_to_date(panel.last_day)
    return (
        f"ASSUMED future covariates, not a plan: discount and activity_flag carried forward from {last} "
        f"(the last history day), holiday_flag from the same weekday of the last week (weekends recur, "
        f"public holidays are not known), weather the mean of the same weekday over the last {WEEKS} weeks. "
        f"Replace them with the planned discounts, promotions and a weather forecast where you have them."
    )


def _six_digits(x: np.ndarray) -> np.ndarray:
    """x rounded to 6 significant digits, as float64: the history holds float32 values (0.85
    is 0.85000002 there), which a CSV would otherwise show with their float32 noise."""
    x = np.asarray(x, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 10.0 ** (5 - np.floor(np.log10(np.abs(x))))
        out = np.round(x * scale) / scale
    return np.where(np.isfinite(out), out, np.where(x == 0, 0.0, x))


def assume_future(panel: DailyPanel, n_days: int) -> pd.DataFrame:
    """One row per series and day for the `n_days` days after the history: store_id,
    product_id, dt, each covariate of the history, and `covariates_source` = ASSUMED."""
    if not 1 <= n_days <= C.MAX_HORIZON:
        raise FreshcastError(f"days must be between 1 and {C.MAX_HORIZON}, got {n_days}")
    n = panel.n_series
    first, last = panel.offsets[:-1], panel.offsets[1:] - 1  # each series' first and last day
    k = np.arange(n_days)
    back = 7 * (k // 7 + 1) - (k + 1)  # days from the last history day back to the same weekday
    out = {
        C.STORE: np.repeat(panel.series[C.STORE].to_numpy(), n_days),
        C.PRODUCT: np.repeat(panel.series[C.PRODUCT].to_numpy(), n_days),
        C.DAY: np.tile(day_to_date(panel.last_day + 1 + k), n),
    }
    for name, values in panel.covariates.items():
        if name in C.WEATHER:
            pos = last[:, None, None] - back[None, :, None] - 7 * np.arange(WEEKS)[None, None, :]
            seen = np.where(pos >= first[:, None, None], values[np.maximum(pos, 0)], np.nan)
            with np.errstate(invalid="ignore"):
                counts = np.sum(~np.isnan(seen), axis=2)
                column = np.where(counts > 0, np.nansum(seen, axis=2) / np.maximum(counts, 1), np.nan)
        elif name == "holiday_flag":
            pos = last[:, None] - back[None, :]
            column = np.where(pos >= first[:, None], values[np.maximum(pos, 0)], np.nan)
        else:  # discount, activity_flag and anything else: the last known day's value
            column = np.repeat(values[last][:, None], n_days, axis=1)
        out[name] = _six_digits(column).ravel()
    frame = pd.DataFrame(out)
    frame["covariates_source"] = ASSUMED
    return frame
