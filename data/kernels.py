"""Numba kernels for reducing hourly rows to day records. They know nothing of DataFrames."""

import numba as nb
import numpy as np

FULL_DAY = np.uint32((1 << 24) - 1)


@nb.njit(cache=True)
def day_records(store, product, day, hour, sale, stockout, cov, shop_lo, shop_hi):
    """Reduce rows to one record per run of equal (store, product, day).

    hour < 0 marks a whole-day row. Returns the first row of each record and, per record:
    hour bitmask, duplicate rows, the first duplicate row (-1: none), rows, sales, stockout
    hours, stockout hours within
    [shop_lo, shop_hi), sales and hours while in stock, covariate sums, sales per hour of day
    (float32, m x 24; whole-day rows are not placed) and the stockout hour bitmask. `cov`
    holds one covariate per row (n_cov x n).
    """
    n = store.shape[0]
    first = np.empty(n + 1, np.int64)
    m = 0
    for i in range(n):
        if i == 0 or store[i] != store[i - 1] or product[i] != product[i - 1] or day[i] != day[i - 1]:
            first[m] = i
            m += 1
    first[m] = n
    n_cov = cov.shape[0]
    mask = np.zeros(m, np.uint32)
    dups = np.zeros(m, np.int32)
    dup_row = np.full(m, -1, np.int64)
    rows = np.zeros(m, np.int32)
    sales = np.zeros(m, np.float64)
    so_hours = np.zeros(m, np.float32)
    so_shop = np.zeros(m, np.float32)
    in_sales = np.zeros(m, np.float64)
    in_hours = np.zeros(m, np.float32)
    cov_sum = np.zeros((m, n_cov), np.float64)
    hour_sales = np.zeros((m, 24), np.float32)
    so_mask = np.zeros(m, np.uint32)
    for r in range(m):
        for i in range(first[r], first[r + 1]):
            h = hour[i]
            bit = FULL_DAY if h < 0 else np.uint32(1) << np.uint32(h)
            if mask[r] & bit:
                dups[r] += 1
                if dup_row[r] < 0:
                    dup_row[r] = i
            mask[r] |= bit
            rows[r] += 1
            s = sale[i]
            so = stockout[i]
            sales[r] += s
            if h < 0:  # whole day: a stockout flag counts as one stockout hour
                so_hours[r] += so
                so_shop[r] += so
                in_sales[r] += s
                in_hours[r] += 24 - so
            elif so > 0:
                so_hours[r] += 1
                if shop_lo <= h < shop_hi:
                    so_shop[r] += 1
                so_mask[r] |= bit
            else:
                in_sales[r] += s
                in_hours[r] += 1
            if h >= 0:
                hour_sales[r, h] += s
            for c in range(n_cov):
                cov_sum[r, c] += cov[c, i]
    return first[:m], mask, dups, dup_row, rows, sales, so_hours, so_shop, in_sales, in_hours, cov_sum, hour_sales, so_mask


def empty_cells(n_flat: int, n_cov: int) -> tuple:
    """Zeroed per-(series, day) accumulators for `scatter_days`: hour mask, duplicate hours,
    rows, sales, stockout hours, shop-hour stockouts, in-stock sales, in-stock hours,
    covariate sums, sales per hour of day (n_flat x 24), stockout hour bitmask."""
    return (
        np.zeros(n_flat, np.uint32), np.zeros(n_flat, np.int32), np.zeros(n_flat, np.int32),
        np.zeros(n_flat, np.float64), np.zeros(n_flat, np.float32), np.zeros(n_flat, np.float32),
        np.zeros(n_flat, np.float64), np.zeros(n_flat, np.float32), np.zeros((n_flat, n_cov), np.float64),
        np.zeros((n_flat, 24), np.float32), np.zeros(n_flat, np.uint32),
    )  # fmt: skip


@nb.njit(cache=True)
def scatter_days(
    pos, mask, dups, rows, sales, so_hours, so_shop, in_sales, in_hours, cov_sum, hour_sales, so_mask,
    c_mask, c_dups, c_rows, c_sales, c_so, c_shop, c_in_sales, c_in_hours, c_cov, c_hour, c_so_mask, hourly,
):  # fmt: skip
    """Add one batch of day records into the per-(series, day) cells (`empty_cells`) at
    positions `pos`; each hour of a cell seen twice counts as a duplicate row (each day, for
    whole-day rows: not `hourly`)."""
    n_cov = cov_sum.shape[1]
    for r in range(pos.shape[0]):
        p = pos[r]
        overlap = c_mask[p] & mask[r]
        if not hourly:  # whole-day rows: a day seen again is one repeated row
            c_dups[p] += overlap > 0
        while hourly and overlap:  # each hour the cell already had is one repeated row
            overlap &= overlap - np.uint32(1)
            c_dups[p] += 1
        c_dups[p] += dups[r]
        c_mask[p] |= mask[r]
        c_rows[p] += rows[r]
        c_sales[p] += sales[r]
        c_so[p] += so_hours[r]
        c_shop[p] += so_shop[r]
        c_in_sales[p] += in_sales[r]
        c_in_hours[p] += in_hours[r]
        for c in range(n_cov):
            c_cov[p, c] += cov_sum[r, c]
        for h in range(24):
            c_hour[p, h] += hour_sales[r, h]
        c_so_mask[p] |= so_mask[r]


# ---- the reader's small checks: plain numpy (not hot loops, and nothing to compile when a
# fresh process reads its first file)
_BITS = np.array([bin(b).count("1") for b in range(256)], np.int8)


def covariate_means(c_cov, c_rows):
    """Covariate sums / rows per cell as float32 (NaN where the day has no rows)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # a day without rows has sums 0: 0 / 0 is NaN
        return (c_cov / c_rows.reshape(-1, 1)).astype(np.float32)


def popcount24(mask):
    """Number of hours set in each 24-bit hour mask."""
    m = np.asarray(mask).astype(np.int64)
    return (_BITS[m & 0xFF] + _BITS[(m >> 8) & 0xFF] + _BITS[(m >> 16) & 0xFF]).astype(np.int8)


def _count(bad) -> tuple[int, int]:
    count = int(np.count_nonzero(bad))
    return count, int(np.argmax(bad)) if count else -1


def count_outside(values, lo, hi, whole):
    """Rows whose value is NaN, outside [lo, hi] or (if `whole`) not a whole number; and the
    first such row (-1 if none)."""
    with np.errstate(invalid="ignore", over="ignore"):  # `hi` past a float16's range reads as infinity
        bad = ~((lo <= values) & (values <= hi))
        if whole:
            bad |= values != np.floor(values)
    return _count(bad)


def count_implausible(values, lo, hi, whole):
    """Like `count_outside`, but NaN (unknown) is allowed and infinity is not."""
    with np.errstate(invalid="ignore"):
        bad = (values < lo) | (values > hi)  # False for NaN
        if whole:
            bad |= (values != np.floor(values)) & ~np.isnan(values)
    return _count(bad)


def count_bad_sales(sale):
    """NaN or infinite and negative sales: (NaN or infinite rows, first such row, negative
    rows, first negative row)."""
    finite = np.isfinite(sale)
    return (*_count(~finite), *_count(finite & (sale < 0)))
