"""The training target: the daily demand the model learns from and builds its sales features
on. Sales as observed, plus a share of the demand censored by stockout shop hours where the
input has hours (see `freshcast.features.latent`)."""

from __future__ import annotations

import numpy as np

from ..data.panel import DailyPanel
from ..features.latent import recovered_sales


def demand_target(panel: DailyPanel, stockout_recovery: float) -> tuple[np.ndarray, bool]:
    """(daily demand per flat position, whether censored demand was added back). Daily input
    has no hours to recover from and is used as observed."""
    recovered = panel.hourly and stockout_recovery > 0
    return (recovered_sales(panel, stockout_recovery) if recovered else panel.sales), recovered
