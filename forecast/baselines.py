"""Baseline forecasts that planners already trust, computed from data known at the origin."""

from __future__ import annotations

import numpy as np

from ..features import kernels as K
from ..data.panel import DailyPanel


def seasonal_naive(arrays: DailyPanel, series, target, horizon) -> np.ndarray:
    """Sales on the same weekday of the most recent week known at the origin."""
    row_start = arrays.offsets[:-1][series]
    return np.nan_to_num(K.same_weekday_mean(arrays.sales, row_start, target, horizon, 1))


def moving_average(arrays: DailyPanel, series, target, horizon, window: int = 7) -> np.ndarray:
    """Mean daily sales over the `window` days up to the origin."""
    return np.nan_to_num(K.rolling_mean(arrays.sales, arrays.offsets, window, 1)[target - horizon])
