"""Forecast accuracy on daily sales: WAPE, WPE (bias) and MASE, overall and on in-stock days;
pinball loss and coverage of quantile forecasts."""

from __future__ import annotations

import numpy as np


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |y - yhat| / sum y."""
    total = float(np.sum(actual, dtype=np.float64))
    return float(np.sum(np.abs(actual - forecast), dtype=np.float64)) / total if total > 0 else float("nan")


def wpe(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted percentage error (bias): sum (yhat - y) / sum y; negative = under-forecast."""
    total = float(np.sum(actual, dtype=np.float64))
    return float(np.sum(forecast - actual, dtype=np.float64)) / total if total > 0 else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, series: np.ndarray, scale: np.ndarray) -> float:
    """Mean over series of MAE / scale[series], for series with a positive scale (the in-sample
    MAE of the seasonal-naive forecast, see `seasonal_scale`)."""
    n = len(scale)
    err = np.bincount(series, weights=np.abs(actual - forecast), minlength=n)
    cnt = np.bincount(series, minlength=n)
    ok = (cnt > 0) & (scale > 0)
    return float(np.mean(err[ok] / cnt[ok] / scale[ok])) if ok.any() else float("nan")


def seasonal_scale(values: np.ndarray, offsets: np.ndarray, season: int = 7) -> np.ndarray:
    """Per series, the mean absolute difference between each day and the same day a season
    earlier (the denominator of MASE)."""
    n = len(offsets) - 1
    diff = np.abs(values[season:] - values[:-season])
    pos = np.arange(season, len(values))
    series = np.searchsorted(offsets, pos, side="right") - 1
    valid = pos - season >= offsets[series]
    total = np.bincount(series[valid], weights=diff[valid], minlength=n)
    count = np.bincount(series[valid], minlength=n)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def pinball(actual: np.ndarray, quantile: np.ndarray, level: float) -> float:
    """Mean pinball (quantile) loss of forecasts `quantile` of level `level`, in units."""
    diff = np.asarray(actual, np.float64) - quantile
    return float(np.mean(np.maximum(level * diff, (level - 1) * diff)))


def coverage(actual: np.ndarray, quantile: np.ndarray) -> float:
    """Share of actuals at or below the quantile forecast (should be near its level)."""
    return float(np.mean(actual <= quantile))


def evaluate(actual, forecast, in_stock, series, scale) -> dict[str, float]:
    """All metrics on all days and on in-stock days only."""
    out = {"wape": wape(actual, forecast), "wpe": wpe(actual, forecast), "mase": mase(actual, forecast, series, scale)}
    m = np.asarray(in_stock, bool)
    out["wape_instock"] = wape(actual[m], forecast[m])
    out["wpe_instock"] = wpe(actual[m], forecast[m])
    out["mase_instock"] = mase(actual[m], forecast[m], series[m], scale)
    return out
