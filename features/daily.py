"""Daily feature matrices for direct multi-horizon forecasting.

A row is (series, target day t, horizon h): the forecast of day t made at the origin
o = t - h, the last day whose sales are known. Every sales-derived feature reads only days
<= o; the declared future covariates (discount, holiday and promotion flags, weather) are
read on day t and on the days between o and o + max_horizon. One model serves every
horizon 1..H, with h as a feature, so there is no recursion and no leakage across horizons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.contract import PRODUCT, STATIC, STORE, WEATHER
from ..data.panel import DailyPanel
from . import kernels as K


@dataclass(frozen=True)
class DailyFeatureSpec:
    """Which daily features to build. Lags and windows are in days."""

    lags: tuple[int, ...] = (1, 7, 14)
    windows: tuple[int, ...] = (7, 14, 28)
    ewm_alphas: tuple[float, ...] = (0.1, 0.3)
    weekday_weeks: int = 4
    holiday_max_days: int = 14
    promotion_runs: bool = True
    run_max_days: int = 28


# Declared covariates whose runs (how long the target day's value has held, when it changes
# next) are features, and the change that starts a new run.
RUN_TOLERANCE = {"discount": 0.02, "activity_flag": 0.5}


def training_rows(panel: DailyPanel, max_horizon: int, min_history: int, seed: int,
                  place: tuple[int, int, int] | None = None):  # fmt: skip
    """Every day with at least `min_history` days before it becomes a training row with a
    horizon in 1..max_horizon. Horizons are stratified: each run of `max_horizon` consecutive
    days of a series gets a random permutation of 1..max_horizon, so every series trains on
    every horizon equally often. `place` (first series, series in the chain, blocks of days):
    where the panel's series sit when it is a partition of the chain; its horizons are then
    those the whole chain's panel draws for them. Returns (series, target position, horizon)."""
    if min_history < max_horizon:
        raise ValueError("min_history must be at least max_horizon")
    lengths = np.diff(panel.offsets)
    n_rows = np.maximum(lengths - min_history, 0)
    series = np.repeat(np.arange(len(lengths)), n_rows)
    first = np.repeat(panel.offsets[:-1] + min_history, n_rows)
    within = np.arange(len(series)) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    target = first + within
    skip, _, n_blocks = place or (0, len(lengths), -(-int(n_rows.max(initial=0)) // max_horizon))
    draws = _draws(seed, skip, len(lengths), n_blocks, max_horizon)
    perms = np.argsort(draws, axis=2).astype(np.int32) + 1
    horizon = perms[series, within // max_horizon, within % max_horizon]
    return series, target, horizon


def _draws(seed: int, skip: int, n: int, n_blocks: int, max_horizon: int) -> np.ndarray:
    """Uniform draws (n, n_blocks, max_horizon) of series skip .. skip + n - 1 of the stream
    `seed` draws series after series (the series before are drawn and dropped, a chunk at a
    time: the stream does not depend on how it is cut)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, 2**22 // max(n_blocks * max_horizon, 1))
    for at in range(0, skip, chunk):
        rng.random((min(chunk, skip - at), n_blocks, max_horizon), dtype=np.float32)
    return rng.random((n, n_blocks, max_horizon), dtype=np.float32)


def forecast_rows(panel: DailyPanel, n_future: int, horizon: int):
    """Rows for the first `horizon` future days of every series (panel built with
    `n_future` future days)."""
    n = len(panel.offsets) - 1
    series = np.repeat(np.arange(n), horizon)
    h = np.tile(np.arange(1, horizon + 1), n).astype(np.int32)
    target = panel.offsets[1:][series] - n_future - 1 + h
    return series, target, h


def feature_names(spec: DailyFeatureSpec, static: list[str], covariates: list[str]) -> list[str]:
    names = list(static) + ["horizon", "dow"]
    names += [f"lag_{k}" for k in spec.lags] + [f"weekday_mean_{spec.weekday_weeks}w"]
    for w in spec.windows:
        names += [f"mean_{w}", f"std_{w}", f"max_{w}"]
    names += [f"ewm_{a:g}" for a in spec.ewm_alphas]
    names += ["stockout_hours_last", "stockout_hours_mean_7", "instock_rate_7", "instock_rate_28"]
    names += [f"{g.removesuffix('_id')}_trend_7_28" for g in TREND_GROUPS]
    for c in covariates:
        names.append(c)
        if c == "discount":
            names += ["discount_change", "discount_vs_mean_28"]
        if spec.promotion_runs and c in RUN_TOLERANCE:
            names += [f"{c}_held_days", f"{c}_days_to_change", f"{c}_step", f"{c}_next_step"]
        if c == "holiday_flag":
            names += ["days_since_holiday", "days_to_holiday"]
        elif c in WEATHER:
            names.append(f"{c}_vs_mean_28")
    return names


UNIT_FEATURES = ("lag_", "weekday_mean_", "mean_", "std_", "max_", "ewm_", "instock_rate_")


def unit_columns(names: list[str]) -> list[int]:
    """Positions of the features measured in units of demand (lags, rolling means, spreads and
    maxima, exponential means, sales per in-stock hour): what a relative model divides by
    each row's level."""
    return [j for j, name in enumerate(names) if name.startswith(UNIT_FEATURES)]


def build_matrix(
    panel: DailyPanel,
    series: np.ndarray,
    target: np.ndarray,
    horizon: np.ndarray,
    spec: DailyFeatureSpec,
    max_horizon: int,
    static: list[str],
    pooled: dict[str, GroupSales] | None = None,
    categories: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Feature matrix (float32, column-major, rows x features in `feature_names` order).
    `pooled`: the group tables of the trend features (`pooled_sales`), when the panel is a
    partition of the chain; by default the panel's own. `categories`: the known ids of the
    series attributes read by position (`large_ids`)."""
    series_table = panel.series
    offsets = panel.offsets
    origin = target - horizon
    row_start = offsets[:-1][series]
    row_end = np.minimum(origin + max_horizon + 1, offsets[1:][series])
    day = panel.day_of(series, target)
    y = panel.sales
    n_cols = len(feature_names(spec, static, list(panel.covariates)))
    X = np.empty((len(series), n_cols), np.float32, order="F")  # column-major: each column one write
    j = 0

    def put(*cols) -> None:  # each column straight into X: no second copy of the matrix
        nonlocal j
        for col in cols:
            X[:, j] = col
            j += 1

    for c in static:
        put(category_codes(series_table[c].to_numpy()[series], (categories or {}).get(c)))
    put(horizon, panel.weekday(day))
    put(*K.target_lags(y, row_start, target, horizon, np.asarray(spec.lags, np.int64)).T)
    put(K.same_weekday_mean(y, row_start, target, horizon, spec.weekday_weeks))
    for w in spec.windows:
        put(K.rolling_mean(y, offsets, w, 1)[origin], K.rolling_std(y, offsets, w, 2)[origin],
            K.rolling_max(y, offsets, w, 1)[origin])  # fmt: skip
    put(*(K.ewm_mean(y, offsets, a)[origin] for a in spec.ewm_alphas))
    so = panel.stockout_hours
    put(so[origin], K.rolling_mean(so, offsets, 7, 1)[origin])
    for w in (7, 28):
        sold = K.rolling_sum(panel.instock_sales, offsets, w)[origin]
        hours = K.rolling_sum(panel.instock_hours, offsets, w)[origin]
        put(np.where(hours > 0, sold / np.maximum(hours, 1), np.nan))
    origin_day = panel.day_of(series, origin)
    pooled = pooled_sales(panel) if pooled is None else pooled
    for g in TREND_GROUPS:
        put(pooled[g].trend(series_table[g].to_numpy(np.int64)[series], origin_day))
    for c, v in panel.covariates.items():
        put(v[target])
        if c == "discount":
            put(v[target] - v[origin], v[target] - K.rolling_mean(v, offsets, 28, 1)[origin])
        if spec.promotion_runs and c in RUN_TOLERANCE:
            put(*K.run_bounds(v, row_start, row_end, target, spec.run_max_days, RUN_TOLERANCE[c]))
            before, after = np.maximum(target - 1, 0), np.minimum(target + 1, len(v) - 1)
            put(np.where(target > row_start, v[target] - v[before], np.nan),
                np.where(target + 1 < row_end, v[after] - v[target], np.nan))  # fmt: skip
        if c == "holiday_flag":
            put(*K.flag_distance(v, row_start, row_end, target, spec.holiday_max_days))
        elif c in WEATHER:
            put(v[target] - K.rolling_mean(v, offsets, 28, 1)[origin])
    if j != n_cols:
        raise RuntimeError(f"build_matrix wrote {j} columns, feature_names names {n_cols}")
    return X


TREND_GROUPS = (STORE, PRODUCT)
FLOAT32_EXACT = 1 << 24  # from here on, float32 cannot hold every whole number


@dataclass(frozen=True)
class GroupSales:
    """Daily sales of the groups of series that share a `column` value (a store's products, a
    product across stores): per group and day, the units summed over the series whose sales
    are known and how many series that was. Partitions of a chain add theirs up (`+`) into the
    chain's table, so a partition's features see the whole group."""

    ids: np.ndarray  # int64 sorted group values
    first_day: int
    total: np.ndarray  # float64 (len(ids), n_days)
    count: np.ndarray  # int64 (len(ids), n_days)

    @classmethod
    def of(cls, panel: DailyPanel, column: str) -> GroupSales:
        ids, group = np.unique(panel.series[column].to_numpy(np.int64), return_inverse=True)
        lengths = np.diff(panel.offsets)
        day = panel.day_numbers()
        first = int(panel.start.min())
        n_days = int(day.max()) - first + 1
        cell = np.repeat(group.astype(np.int64), lengths) * n_days + (day - first)
        known = ~np.isnan(panel.sales)
        size = len(ids) * n_days
        total = np.bincount(cell[known], weights=panel.sales[known], minlength=size).reshape(len(ids), n_days)
        count = np.bincount(cell[known], minlength=size).reshape(len(ids), n_days)
        return cls(ids, first, total, count)

    def __add__(self, other: GroupSales) -> GroupSales:
        ids = np.union1d(self.ids, other.ids)
        first = min(self.first_day, other.first_day)
        last = max(self.first_day + self.total.shape[1], other.first_day + other.total.shape[1])
        total = np.zeros((len(ids), last - first))
        count = np.zeros((len(ids), last - first), np.int64)
        for t in (self, other):
            rows, cols = np.searchsorted(ids, t.ids)[:, None], t.first_day - first + np.arange(t.total.shape[1])
            total[rows, cols] += t.total
            count[rows, cols] += t.count
        return GroupSales(ids, first, total, count)

    def trend(self, group_values: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Momentum of the group of each row (`group_values`, the value its series share): mean daily
        sales per series of the group over the 7 days up to `day`, divided by the same over 28
        days. Reads only sales up to `day` (the rows' origins)."""
        n_ids, n_days = self.total.shape
        per_series = np.where(self.count > 0, self.total / np.maximum(self.count, 1), np.nan).astype(np.float32).ravel()
        offsets = np.arange(n_ids + 1, dtype=np.int64) * n_days
        short = K.rolling_mean(per_series, offsets, 7, 1)
        long = K.rolling_mean(per_series, offsets, 28, 7)
        at = np.searchsorted(self.ids, group_values).astype(np.int64) * n_days + (day - self.first_day)
        long_at = long[at]
        out = np.full(len(at), np.nan, np.float32)
        np.divide(short[at], long_at, out=out, where=long_at > 0)
        return out


def pooled_sales(panel: DailyPanel) -> dict[str, GroupSales]:
    """The group tables the trend features read, from this panel alone."""
    return {g: GroupSales.of(panel, g) for g in TREND_GROUPS}


def large_ids(ids: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Of the ids of each series attribute (`ids`: attribute -> ids), the sorted distinct ids
    of the attributes holding one of 2**24 or more, which float32 (the feature matrix) cannot
    hold exactly: such ids are read by their position."""
    return {c: np.unique(v) for c, v in ids.items() if len(v) and v.max() >= FLOAT32_EXACT}


def category_codes(ids: np.ndarray, known: np.ndarray | None) -> np.ndarray:
    """float32 column of a series attribute: the ids themselves, or with `known` (sorted ids)
    each id's position among them, NaN for an id not among them."""
    if known is None:
        return ids.astype(np.float32)
    pos = np.searchsorted(known, ids)
    found = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == ids)
    return np.where(found, pos, np.nan).astype(np.float32)


def static_columns(series_table) -> list[str]:
    """Series attributes used as categorical features: ids and category levels present."""
    return [STORE, PRODUCT] + [c for c in STATIC if c in series_table.columns]
