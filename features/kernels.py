"""Numba kernels over flat float32 arrays of concatenated series.

Series s occupies ``x[offsets[s]:offsets[s+1]]``. Window statistics at position j cover
``x[j-window+1 .. j]`` of the same series and skip NaN. Kernels know nothing of DataFrames.
"""

import numba as nb
import numpy as np

from ..threads import run_lines


def rolling_mean(x, offsets, window, min_periods):
    out = np.full(x.shape[0], np.nan, np.float32)
    run_lines(_rolling_mean_lines, offsets.shape[0] - 1, x, offsets, window, min_periods, out)
    return out


@nb.njit(cache=True, nogil=True)
def _rolling_mean_lines(lo, hi, x, offsets, window, min_periods, out):
    for s in range(lo, hi):
        a, b = offsets[s], offsets[s + 1]
        acc = 0.0
        n = 0
        for j in range(a, b):
            v = x[j]
            if not np.isnan(v):
                acc += v
                n += 1
            if j - window >= a:
                old = x[j - window]
                if not np.isnan(old):
                    acc -= old
                    n -= 1
            if n >= min_periods:
                out[j] = acc / n


def rolling_std(x, offsets, window, min_periods):
    """Sample standard deviation (ddof=1)."""
    out = np.full(x.shape[0], np.nan, np.float32)
    run_lines(_rolling_std_lines, offsets.shape[0] - 1, x, offsets, window, min_periods, out)
    return out


@nb.njit(cache=True, nogil=True)
def _rolling_std_lines(lo, hi, x, offsets, window, min_periods, out):
    for s in range(lo, hi):
        a, b = offsets[s], offsets[s + 1]
        acc = 0.0
        acc2 = 0.0
        n = 0
        for j in range(a, b):
            v = np.float64(x[j])
            if not np.isnan(v):
                acc += v
                acc2 += v * v
                n += 1
            if j - window >= a:
                old = np.float64(x[j - window])
                if not np.isnan(old):
                    acc -= old
                    acc2 -= old * old
                    n -= 1
            if n >= max(min_periods, 2):
                var = (acc2 - acc * acc / n) / (n - 1)
                out[j] = np.sqrt(max(var, 0.0))


def rolling_max(x, offsets, window, min_periods):
    out = np.full(x.shape[0], np.nan, np.float32)
    run_lines(_rolling_max_lines, offsets.shape[0] - 1, x, offsets, window, min_periods, out)
    return out


@nb.njit(cache=True, nogil=True)
def _rolling_max_lines(lo, hi, x, offsets, window, min_periods, out):
    for s in range(lo, hi):
        a, b = offsets[s], offsets[s + 1]
        for j in range(a, b):
            m = -np.inf
            n = 0
            for k in range(max(a, j - window + 1), j + 1):
                v = x[k]
                if not np.isnan(v):
                    n += 1
                    if v > m:
                        m = v
            if n >= min_periods:
                out[j] = m


def rolling_sum(x, offsets, window):
    """Sum over the window, NaN counted as zero."""
    out = np.zeros(x.shape[0], np.float32)
    run_lines(_rolling_sum_lines, offsets.shape[0] - 1, x, offsets, window, out)
    return out


@nb.njit(cache=True, nogil=True)
def _rolling_sum_lines(lo, hi, x, offsets, window, out):
    for s in range(lo, hi):
        a, b = offsets[s], offsets[s + 1]
        acc = 0.0
        for j in range(a, b):
            v = x[j]
            if not np.isnan(v):
                acc += v
            if j - window >= a:
                old = x[j - window]
                if not np.isnan(old):
                    acc -= old
            out[j] = acc


def ewm_mean(x, offsets, alpha):
    """Exponentially weighted mean, m_j = alpha * x_j + (1 - alpha) * m_{j-1}; NaN keeps m."""
    out = np.full(x.shape[0], np.nan, np.float32)
    run_lines(_ewm_mean_lines, offsets.shape[0] - 1, x, offsets, alpha, out)
    return out


@nb.njit(cache=True, nogil=True)
def _ewm_mean_lines(lo, hi, x, offsets, alpha, out):
    for s in range(lo, hi):
        a, b = offsets[s], offsets[s + 1]
        m = np.nan
        for j in range(a, b):
            v = x[j]
            if not np.isnan(v):
                m = v if np.isnan(m) else alpha * v + (1.0 - alpha) * m
            out[j] = m


def target_lags(x, row_start, target, horizon, lags):
    """x[target - k] for each lag k, NaN where k < horizon (not known at the forecast origin)
    or before the series starts."""
    out = np.full((target.shape[0], lags.shape[0]), np.nan, np.float32)
    run_lines(_target_lags_lines, target.shape[0], x, row_start, target, horizon, lags, out)
    return out


@nb.njit(cache=True, nogil=True)
def _target_lags_lines(lo, hi, x, row_start, target, horizon, lags, out):
    for r in range(lo, hi):
        for i in range(lags.shape[0]):
            k = lags[i]
            p = target[r] - k
            if k >= horizon[r] and p >= row_start[r]:
                out[r, i] = x[p]


def same_weekday_mean(x, row_start, target, horizon, weeks):
    """Mean of x on the target's weekday over the `weeks` most recent weeks known at the
    origin (target - 7w with 7w >= horizon)."""
    out = np.full(target.shape[0], np.nan, np.float32)
    run_lines(_same_weekday_mean_lines, target.shape[0], x, row_start, target, horizon, weeks, out)
    return out


@nb.njit(cache=True, nogil=True)
def _same_weekday_mean_lines(lo, hi, x, row_start, target, horizon, weeks, out):
    for r in range(lo, hi):
        first = (horizon[r] + 6) // 7
        acc = 0.0
        c = 0
        for w in range(first, first + weeks):
            p = target[r] - 7 * w
            if p < row_start[r]:
                break
            v = x[p]
            if not np.isnan(v):
                acc += v
                c += 1
        if c > 0:
            out[r] = acc / c


def flag_distance(flag, row_start, row_end, target, max_days):
    """Days since the last and until the next day with flag > 0, seen from the target day.
    Looks back to the series start and forward to row_end (exclusive: the last day whose
    covariates are known); NaN when none is found within max_days."""
    since = np.full(target.shape[0], np.nan, np.float32)
    until = np.full(target.shape[0], np.nan, np.float32)
    run_lines(_flag_distance_lines, target.shape[0], flag, row_start, row_end, target, max_days, since, until)
    return since, until


@nb.njit(cache=True, nogil=True)
def _flag_distance_lines(lo, hi, flag, row_start, row_end, target, max_days, since, until):
    for r in range(lo, hi):
        t = target[r]
        for d in range(1, max_days + 1):
            if t - d < row_start[r]:
                break
            if flag[t - d] > 0:
                since[r] = d
                break
        for d in range(1, max_days + 1):
            if t + d >= row_end[r]:
                break
            if flag[t + d] > 0:
                until[r] = d
                break


def run_bounds(values, row_start, row_end, target, max_days, tol):
    """How long the target day's value of a declared covariate (a discount, a promotion flag)
    has held and when it next changes: days since it last changed by more than `tol` (looking
    back to row_start; max_days when longer) and days until the next such change (looking
    forward to row_end, exclusive: the last day whose covariates are known; NaN when none is
    declared by then)."""
    since = np.empty(target.shape[0], np.float32)
    until = np.full(target.shape[0], np.nan, np.float32)
    run_lines(_run_bounds_lines, target.shape[0], values, row_start, row_end, target, max_days, tol, since, until)
    return since, until


@nb.njit(cache=True, nogil=True)
def _differ(a, b, tol):
    if np.isnan(a) or np.isnan(b):
        return np.isnan(a) != np.isnan(b)
    return abs(a - b) > tol


@nb.njit(cache=True, nogil=True)
def _run_bounds_lines(lo, hi, values, row_start, row_end, target, max_days, tol, since, until):
    for r in range(lo, hi):
        t = target[r]
        since[r] = max_days
        for d in range(1, max_days + 1):
            if t - d < row_start[r]:
                since[r] = d - 1
                break
            if _differ(values[t - d], values[t], tol):
                since[r] = d - 1
                break
        d = 1
        while t + d < row_end[r]:
            if _differ(values[t + d], values[t], tol):
                until[r] = d
                break
            d += 1
