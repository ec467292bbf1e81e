"""Intraday profile: the share of a day's demand that falls in each hour, per series.

Kernels over (n_days_total, 24) hour matrices with the series offsets; no DataFrames.
"""

import numba as nb
import numpy as np

from ..threads import run_lines


def ewm_profile(hours, offsets, alpha):
    """Share of the day's units per hour of day for every series, as of its last day.

    hours   : float32 (n_days_total, 24), units per hour.
    offsets : int64 (n_series + 1,).
    alpha   : daily decay (0..1); recent days weigh more.
    Returns float32 (n_series, 24), each row summing to 1 (uniform for a series that never
    sold).
    """
    out = np.empty((offsets.shape[0] - 1, 24), np.float32)
    run_lines(_ewm_profile_lines, offsets.shape[0] - 1, hours, offsets, alpha, out)
    return out


@nb.njit(cache=True, nogil=True)
def _ewm_profile_lines(lo, hi, hours, offsets, alpha, out):
    for i in range(lo, hi):
        acc = np.zeros(24)
        for r in range(offsets[i], offsets[i + 1]):
            for h in range(24):
                acc[h] = (1.0 - alpha) * acc[h] + hours[r, h]
        total = acc.sum()
        for h in range(24):
            out[i, h] = acc[h] / total if total > 0 else 1.0 / 24.0


def ewm_in_stock(stockout, offsets, alpha):
    """How often each hour of day was in stock lately, per series, as of its last day.

    stockout : uint32 (n_days_total,), bit h set = hour h out of stock.
    offsets  : int64 (n_series + 1,).
    alpha    : daily decay (0..1); recent days weigh more.
    Returns float32 (n_series, 24) in 0..1: the exponentially weighted share of days each hour
    was in stock (1 for a series with no days).
    """
    out = np.empty((offsets.shape[0] - 1, 24), np.float32)
    run_lines(_ewm_in_stock_lines, offsets.shape[0] - 1, stockout, offsets, alpha, out)
    return out


@nb.njit(cache=True, nogil=True)
def _ewm_in_stock_lines(lo, hi, stockout, offsets, alpha, out):
    for i in range(lo, hi):
        acc = np.zeros(24)
        weight = 0.0
        for r in range(offsets[i], offsets[i + 1]):
            weight = (1.0 - alpha) * weight + 1.0
            for h in range(24):
                acc[h] = (1.0 - alpha) * acc[h] + (0.0 if (stockout[r] >> h) & 1 else 1.0)
        for h in range(24):
            out[i, h] = acc[h] / weight if weight > 0 else 1.0


@nb.njit(cache=True, parallel=True)
def ewm_profile_by_day(hours, offsets, alpha):
    """For every (series, day) row, the profile of `ewm_profile` as of the day before:
    float32 (n_days_total, 24), uniform on a series' first day and until it has sold."""
    out = np.empty(hours.shape, np.float32)
    for i in nb.prange(offsets.shape[0] - 1):
        acc = np.zeros(24)
        for r in range(offsets[i], offsets[i + 1]):
            total = acc.sum()
            for h in range(24):
                out[r, h] = acc[h] / total if total > 0 else 1.0 / 24.0
            for h in range(24):
                acc[h] = (1.0 - alpha) * acc[h] + hours[r, h]
    return out
