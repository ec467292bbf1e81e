"""Baseline forecasts that planners already trust, computed from data known at the origin:
for the `horizon` days after a panel's last day, (n_series, horizon) units per day."""

from __future__ import annotations

import numpy as np

from ..data.panel import DailyPanel
from ..features import kernels as K


def seasonal_naive(panel: DailyPanel, horizon: int) -> np.ndarray:
    """Sales on the same weekday of the most recent week known (0 where there is none)."""
    n = panel.n_series
    series = np.repeat(np.arange(n), horizon)
    h = np.tile(np.arange(1, horizon + 1), n).astype(np.int32)
    target = (panel.offsets[1:] - 1)[series] + h  # where the day would be: only days >= 7 back are read
    mean = K.same_weekday_mean(panel.sales, panel.offsets[:-1][series], target, h, 1)
    return np.nan_to_num(mean).reshape(n, horizon)


def moving_average(panel: DailyPanel, horizon: int, window: int = 7) -> np.ndarray:
    """Mean daily sales over the last `window` days, for every day ahead."""
    last = K.rolling_mean(panel.sales, panel.offsets, window, 1)[panel.offsets[1:] - 1]
    return np.repeat(np.nan_to_num(last)[:, None], horizon, axis=1)
