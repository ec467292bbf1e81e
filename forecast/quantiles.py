"""Probabilistic forecasts: quantiles calibrated on the errors of forecasts for unseen days.

Method (chosen by measurement, see benchmarks/RESULTS.md): while fitting, a second model is
trained on the history cut ``max_horizon`` days before its end and forecasts those held-out
days with horizons 1..H, exactly as the production model will. On held-out in-stock days
(hours, slots), where sales are demand, each forecast mean ``mu`` and actual ``y`` give a
ratio ``y / mu`` (with ``calibrate_on="demand"`` whole days count every day, against its
demand recovered where stockouts hid it). The pairs are binned by ``mu`` (quantile bins) and
by the series' volatility (coefficient of variation of its last 28 days); the quantiles of the
ratio in a bin scale every new forecast that falls into it: ``q_tau = mu x ratio_bin(tau)``. Quantiles
are therefore non-negative and monotone in tau, and come from errors made out of sample, so
their coverage is honest. Hours and slots get their own tables from the same held-out days,
split by the intraday profile the held-out model used.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..data.contract import SHOP_HOURS
from ..errors import FreshcastError
from ..features import kernels as K
from ..features.latent import shop_hours_mask
from ..outputs import write_arrays

VOLATILITY_DAYS = 28
LEVEL_BINS = 20
VOLATILITY_BINS = 4
MIN_PAIRS = 100  # a bin with fewer held-out pairs uses the pooled ratios
# Fewer pairs than the full grid needs (LEVEL_BINS x VOLATILITY_BINS x MIN_PAIRS: a city of a
# few hundred series) get a coarser grid of about SMALL_PAIRS pairs per bin, whose ratios
# are shrunk towards the pooled ones with weight n / (n + SHRINK_PAIRS), so quantiles still
# widen or narrow with the forecast's size and the series' volatility without trusting a
# few dozen pairs. Chosen on single cities, week to 2024-06-04 (benchmarks/quantile_small.py).
SMALL_PAIRS = 80
SHRINK_PAIRS = 80
FEWEST_PAIRS = 20  # below this no table is fitted


def bin_grid(n_pairs: int) -> tuple[int, int, int]:
    """(forecast level bins, volatility bins, fewest pairs a bin needs) for `n_pairs`."""
    if n_pairs >= LEVEL_BINS * VOLATILITY_BINS * MIN_PAIRS:
        return LEVEL_BINS, VOLATILITY_BINS, MIN_PAIRS
    cells = max(1, n_pairs // SMALL_PAIRS)
    n_vol = VOLATILITY_BINS if cells >= 8 * VOLATILITY_BINS else 2 if cells >= 6 else 1
    return max(1, min(LEVEL_BINS, cells // n_vol)), n_vol, FEWEST_PAIRS


def parse_quantiles(text: str) -> tuple[float, ...]:
    """``"0.1,0.5,0.9"`` -> (0.1, 0.5, 0.9); ``"none"`` -> (). Levels strictly between 0 and 1."""
    if text.strip().lower() == "none":
        return ()
    try:
        levels = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise FreshcastError(f"quantiles '{text}' must be comma-separated numbers like 0.1,0.5,0.9") from None
    return check_quantiles(levels)


def check_quantiles(levels) -> tuple[float, ...]:
    """The quantile levels sorted, checked: distinct numbers strictly between 0 and 1."""
    try:
        levels = tuple(float(q) for q in levels)
    except (TypeError, ValueError):
        raise FreshcastError(f"quantiles must be a list of levels between 0 and 1, or () for none; got {levels!r}") from None
    if any(not 0 < q < 1 for q in levels):
        raise FreshcastError(f"quantile levels must be between 0 and 1 (exclusive), got {list(levels)}")
    if len(set(levels)) != len(levels):
        raise FreshcastError(f"quantile levels must be distinct, got {list(levels)}")
    return tuple(sorted(levels))


def quantile_column(level: float) -> str:
    """Output column of a quantile level: 0.1 -> q10, 0.975 -> q97.5."""
    return f"q{round(level * 100, 6):g}"


def volatility(sales: np.ndarray, offsets: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Coefficient of variation (std / mean) of each row's last 28 days up to its origin
    position; 1 where undefined (no sales or too short a history)."""
    std = K.rolling_std(sales, offsets, VOLATILITY_DAYS, 2)[origin]
    mean = K.rolling_mean(sales, offsets, VOLATILITY_DAYS, 1)[origin]
    out = np.ones(len(origin), np.float32)
    np.divide(std, mean, out=out, where=(mean > 0) & np.isfinite(std))
    return out


@dataclass
class QuantileTable:
    """Ratio quantiles (bins x levels) per (forecast level bin, volatility bin)."""

    level_edges: np.ndarray
    volatility_edges: np.ndarray
    ratios: np.ndarray

    @classmethod
    def fit(cls, mean, actual, vol, levels) -> QuantileTable:
        """Calibrate on held-out pairs (forecast mean, actual) with the series' volatility."""
        if len(mean) < FEWEST_PAIRS:
            raise FreshcastError(f"too few held-out in-stock forecasts ({len(mean)}, at least {FEWEST_PAIRS}) to "
                                 f"calibrate quantiles: give more series or days (or a larger calibration_series), "
                                 f"or ask for none (--quantiles none, quantiles=())")  # fmt: skip
        n_level, n_volatility, fewest = bin_grid(len(mean))
        probs = np.linspace(0, 1, n_level + 1)[1:-1]
        level_edges = np.unique(np.quantile(mean, probs))
        vol_edges = np.unique(np.quantile(vol, np.linspace(0, 1, n_volatility + 1)[1:-1]))
        n_vol = len(vol_edges) + 1
        ratio = actual / np.maximum(mean, 1e-6)
        pooled = np.quantile(ratio, levels)
        key = np.searchsorted(level_edges, mean) * n_vol + np.searchsorted(vol_edges, vol)
        n_keys = (len(level_edges) + 1) * n_vol
        ratios = np.tile(pooled, (n_keys, 1))
        order = np.lexsort((ratio, key))
        bounds = np.searchsorted(key[order], np.arange(n_keys + 1))
        shrink = SHRINK_PAIRS if fewest < MIN_PAIRS else 0  # small grids lean towards the pooled ratios
        for k in range(n_keys):
            lo, hi = bounds[k], bounds[k + 1]
            if hi - lo >= fewest:
                w = (hi - lo) / (hi - lo + shrink)
                ratios[k] = w * np.quantile(ratio[order[lo:hi]], levels) + (1 - w) * pooled
        return cls(level_edges.astype(np.float64), vol_edges.astype(np.float64), ratios)

    def predict(self, mean: np.ndarray, vol: np.ndarray) -> np.ndarray:
        """(n, n_levels) quantiles of the forecasts `mean` (units, >= 0)."""
        n_vol = len(self.volatility_edges) + 1
        key = np.searchsorted(self.level_edges, mean) * n_vol + np.searchsorted(self.volatility_edges, vol)
        return (np.asarray(mean, np.float64)[:, None] * self.ratios[key]).astype(np.float32)


@dataclass
class Holdout:
    """Forecasts of held-out days by a model that had not seen them, with what happened.

    mean       : float32 (n, H), daily mean forecast (units).
    volatility : float32 (n, H), series volatility at each forecast's origin.
    actual     : float32 (n, H, 24) units sold per hour, or (n, H, 1) for daily input.
    profile    : float32 (n, 24) intraday shares used to split the day, or (n, 1) of ones.
    stockout   : uint32 (n, H) stockout-hour bitmask (bit h = hour h), or in-stock as 0/1 for
                 daily input (1 = a stockout day).
    demand     : float32 (n, H) daily demand, recovered where stockouts hid it, or None (kept
                 only to calibrate on demand; see `table`).
    """

    mean: np.ndarray
    volatility: np.ndarray
    actual: np.ndarray
    profile: np.ndarray
    stockout: np.ndarray
    demand: np.ndarray | None = None

    @property
    def hourly(self) -> bool:
        return self.actual.shape[2] == 24

    def table(self, groups: list[np.ndarray] | None, levels) -> QuantileTable:
        """Table for forecasts of the parts of a day given by `groups` (hour arrays; None: the
        whole day), pooled over the parts. Only in-stock parts count: no stockout in the
        part's shop hours (or in its hours, for a part outside shop hours); with `demand`,
        whole days count every day against their demand."""
        if groups is None and self.demand is not None:
            return QuantileTable.fit(self.mean.ravel(), self.demand.ravel(), self.volatility.ravel(), np.asarray(levels))
        if groups is None:
            means, actual = self.mean, self.actual.sum(axis=2)
            if self.hourly:
                in_stock = (self.stockout & shop_hours_mask(SHOP_HOURS)) == 0
            else:
                in_stock = self.stockout == 0
            vol = self.volatility
        else:
            parts_mean, parts_actual, parts_in, parts_vol = [], [], [], []
            shop = int(shop_hours_mask(SHOP_HOURS))
            for hours in groups:
                mask = int(np.bitwise_or.reduce(np.left_shift(1, np.asarray(hours))))
                mask = mask & shop or mask
                parts_mean.append(self.mean * self.profile[:, hours].sum(axis=1)[:, None])
                parts_actual.append(self.actual[:, :, hours].sum(axis=2))
                parts_in.append((self.stockout & np.uint32(mask)) == 0)
                parts_vol.append(self.volatility)
            means, actual = np.stack(parts_mean), np.stack(parts_actual)
            in_stock, vol = np.stack(parts_in), np.stack(parts_vol)
        return QuantileTable.fit(means[in_stock], actual[in_stock], vol[in_stock], np.asarray(levels))

    def save(self, path: Path) -> None:
        write_arrays(path, {fld.name: getattr(self, fld.name) for fld in fields(self) if getattr(self, fld.name) is not None})

    @classmethod
    def load(cls, path) -> Holdout:
        """From a path or a binary file object."""
        with np.load(path, allow_pickle=False) as data:
            return cls(**{fld.name: data[fld.name] for fld in fields(cls) if fld.name in data.files})
