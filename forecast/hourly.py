"""Hour and time-slot forecasts, reconciled with the daily forecast.

Each series' daily forecast is split over the hours of the day by its sales profile: its
demand profile (the exponentially weighted share of its demand per hour, stockout hours
counted with their recovered demand) times how often each hour was in stock over the last
days, normalised. An hour that has lately been out of stock most days gets little of the
day's forecast: it will most likely sell little again. Hours, and slots made of hours,
therefore add up exactly to the daily forecast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..data.contract import DAY, PRODUCT, STORE
from ..data.dates import day_to_date
from ..data.panel import DailyPanel
from ..errors import DataError, FreshcastError
from ..features.intraday import ewm_in_stock, ewm_profile
from ..features.latent import demand_hours
from .distribution import ForecastDistribution
from .quantiles import quantile_column

PROFILE_ALPHA = 0.05  # per day: a demand profile remembers about the last 20 days
IN_STOCK_ALPHA = 0.2  # per day: how often an hour was in stock, over about the last 5 days


def demand_profile(panel: DailyPanel, stockout_recovery: float = 1.0, alpha: float = PROFILE_ALPHA) -> np.ndarray:
    """(n_series, 24) float32 share of each series' daily demand per hour, as of the panel's
    last day, stockout shop hours counted with `stockout_recovery` x their recovered demand."""
    if not panel.hourly:
        raise FreshcastError(f"{panel.source}: hourly forecasts need hourly rows (an 'hour' column)")
    return ewm_profile(demand_hours(panel, stockout_recovery), panel.offsets, alpha)


def sales_profile(panel: DailyPanel, alpha: float = PROFILE_ALPHA, in_stock_alpha: float = IN_STOCK_ALPHA) -> np.ndarray:
    """(n_series, 24) float32 share of each series' daily sales per hour, as of the panel's
    last day: the demand profile times each hour's recent in-stock share, normalised (the
    demand profile alone for a series out of stock at every hour it sells)."""
    demand = demand_profile(panel, 1.0, alpha)
    sales = demand * ewm_in_stock(panel.stockout_mask, panel.offsets, in_stock_alpha)
    total = sales.sum(axis=1, keepdims=True)
    return np.where(total > 0, sales / np.where(total > 0, total, 1), demand).astype(np.float32)


def parse_slots(text: str) -> list[tuple[str, np.ndarray]]:
    """Parse dayparts like ``"06-10,10-14,14-18,18-22,22-06"`` into (name, hours) pairs.

    Each slot is START-END in whole hours (END exclusive, wrapping past midnight); together the
    slots must cover every hour of the day exactly once, so they add up to the day.
    """
    slots = []
    owner = np.full(24, -1)
    for part in (p.strip() for p in text.split(",")):
        try:
            lo, hi = (int(x) for x in part.split("-"))
        except ValueError:
            raise FreshcastError(f"slot '{part}' is not START-END in hours, like 06-10") from None
        if not (0 <= lo <= 23 and 0 <= hi <= 24) or lo == hi:
            raise FreshcastError(f"slot '{part}' must be two different hours in 0..24")
        hours = np.arange(lo, hi if hi > lo else hi + 24) % 24
        clash = owner[hours] >= 0
        if clash.any():
            raise FreshcastError(f"slot '{part}' overlaps slot '{slots[owner[hours][clash][0]][0]}'")
        owner[hours] = len(slots)
        slots.append((part, hours))
    if (owner < 0).any():
        missing = ", ".join(f"{h:02d}" for h in np.flatnonzero(owner < 0))
        raise FreshcastError(f"slots must cover every hour of the day; not covered: {missing}")
    return slots


def dayparts(level: str, slots: str | None) -> tuple[str | None, np.ndarray | None, list[np.ndarray] | None]:
    """Output column, labels and hours of the parts each day is forecast in: (None, None,
    None) for whole days, "hour" for every hour, "slot" for the dayparts in `slots` (with
    level "day")."""
    if level not in ("day", "hour"):
        raise FreshcastError(f"level must be 'day' or 'hour', got '{level}'")
    if slots is not None and level != "day":
        raise FreshcastError("give slots or level='hour', not both")
    if slots is not None:
        parsed = parse_slots(slots)
        return "slot", np.array([name for name, _ in parsed], dtype=object), [hours for _, hours in parsed]
    if level == "hour":
        return "hour", np.arange(24, dtype=np.int8), [np.array([h]) for h in range(24)]
    return None, None, None


def part_shares(profile: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """(n, n_parts) share of the day in each part, from (n, 24) intraday profiles."""
    return np.stack([profile[:, hours].sum(axis=1) for hours in groups], axis=1)


def split_days(
    forecast: ForecastDistribution,
    shares: np.ndarray,
    column: str,
    labels: np.ndarray,
    part_quantiles: Callable[[np.ndarray], np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per series, day and part of the day: store_id, product_id, dt, `column` (the
    part's label), yhat = the day's mean x the part's share (`shares`: (n_series, n_parts),
    rows summing to 1, so the parts add up to the day) and, with `part_quantiles` (part means
    -> (rows, levels)), a column per level of `forecast`."""
    n, H = forecast.mean.shape
    k = shares.shape[1]
    out = {
        STORE: np.repeat(forecast.store_id, H * k),
        PRODUCT: np.repeat(forecast.product_id, H * k),
        DAY: np.tile(np.repeat(day_to_date(forecast.days), k), n),
        column: np.tile(labels, n * H),
        "yhat": (forecast.mean[:, :, None] * shares[:, None, :]).ravel().astype(np.float32),
    }
    if part_quantiles is not None and forecast.levels:
        q = part_quantiles(out["yhat"])
        out.update({quantile_column(lv): q[:, j] for j, lv in enumerate(forecast.levels)})
    return pd.DataFrame(out)


def read_hour_table(table, source: str, zone: str, values: list[str], empty: str | None = None) -> pd.DataFrame:
    """An hourly forecast table (`forecast --level hour`: store_id, product_id, dt, hour and the
    amounts `values`, each >= 0) read and checked as the master tables are (`data.tables`: ids,
    days as day numbers with time-zone aware ones dated in `zone`, no repeated key; `empty` as
    there); DataError naming `source` for an hour outside 0..23 too."""
    from ..data import tables

    spec = {STORE: ("id", None), PRODUCT: ("id", None), DAY: ("day", None), "hour": ("int", ">= 0"),
            **{c: ("num", ">= 0") for c in values}}  # fmt: skip
    df = tables.read_table(table, spec, keys=(STORE, PRODUCT, DAY, "hour"), source=source, empty=empty, zone=zone)
    if (df["hour"] > 23).any():
        raise DataError(source, [f"column 'hour' is not an hour 0..23: {int((df['hour'] > 23).sum())} row(s)"])
    return df
