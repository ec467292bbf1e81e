"""Latent demand: what stocked-out hours would have sold.

An hour flagged out of stock shows censored sales. For each series, day by day, freshcast
keeps an exponentially weighted estimate of its intraday profile from *in-stock* hours only
(sales per in-stock hour, by hour of day, shrunk towards the series' average hour) and of its
recent daily demand. On a day with stockout hours:

- the in-stock hours cover a share ``s`` of the day's demand (the profile summed over them);
- the day's demand rate is then estimated as ``in-stock sales / s``, trusted in proportion to
  ``s / (s + trust)`` and otherwise taken from the recent daily demand;
- the demand missing from the stockout hours, ``(1 - s) x rate``, is spread over them by the
  profile; an hour never shows less than it sold.

Only days up to and including the recovered day are read (the profile and level are updated
after each day), so recovered history can feed features without leaking the future.
"""

import numba as nb
import numpy as np

from ..data.contract import SHOP_HOURS
from ..threads import run_lines


def recover_hours(hour_sales, stockout, offsets, hours, alpha, shrink, trust):
    """Latent hourly demand for every (series, day) row.

    hour_sales : float32 (n_days_total, 24), units sold per hour.
    stockout   : uint32 (n_days_total,), bit h set = hour h out of stock.
    offsets    : int64 (n_series + 1,), series i holds rows offsets[i]:offsets[i+1].
    hours      : uint32 bitmask of the hours of day that may be recovered (shop hours).
    alpha      : daily decay of the profile and level estimates (0..1).
    shrink     : pseudo in-stock days pulling each hour towards the series' average hour.
    trust      : in-stock share at which the day's own rate gets half the weight (0: the
                 day's own rate only, so a day with no in-stock hour gains nothing).
    Returns float32 (n_days_total, 24) with observed sales in in-stock hours.
    """
    out = hour_sales.copy()
    run_lines(_recover_series, offsets.shape[0] - 1, hour_sales, stockout, offsets, hours, alpha, shrink, trust, out)
    return out


@nb.njit(cache=True, nogil=True)
def _recover_series(lo, hi, hour_sales, stockout, offsets, hours, alpha, shrink, trust, out):
    """Series lo..hi-1 of `recover_hours`, into `out`."""
    for i in range(lo, hi):
        num = np.zeros(24)  # weighted in-stock sales per hour of day
        den = np.zeros(24)  # weighted in-stock hour counts
        share = np.empty(24)
        level = 0.0  # recent daily demand
        seen = False
        for r in range(offsets[i], offsets[i + 1]):
            mask = stockout[r]
            # profile from days before r
            tot_num = num.sum()
            tot_den = den.sum()
            mean_rate = tot_num / tot_den if tot_den > 0 else 0.0
            total = 0.0
            for h in range(24):
                share[h] = (num[h] + shrink * mean_rate) / (den[h] + shrink) if den[h] + shrink > 0 else 0.0
                total += share[h]
            for h in range(24):
                share[h] = share[h] / total if total > 0 else 1.0 / 24.0
            if mask != 0:
                s_in = 0.0
                sold_in = 0.0
                for h in range(24):
                    if not (mask >> h) & 1:
                        s_in += share[h]
                        sold_in += hour_sales[r, h]
                own = sold_in / s_in if s_in > 0 else 0.0
                w = s_in / (s_in + trust) if trust > 0 and seen else 1.0
                rate = w * own + (1.0 - w) * level
                for h in range(24):
                    if (mask >> h) & 1 and (hours >> h) & 1:
                        est = rate * share[h]
                        if est > out[r, h]:
                            out[r, h] = est
            latent_day = 0.0
            for h in range(24):
                latent_day += out[r, h]
            level = latent_day if not seen else (1.0 - alpha) * level + alpha * latent_day
            seen = True
            for h in range(24):
                num[h] *= 1.0 - alpha
                den[h] *= 1.0 - alpha
                if not (mask >> h) & 1:
                    num[h] += hour_sales[r, h]
                    den[h] += 1.0


def shop_hours_mask(shop_hours: tuple[int, int]) -> np.uint32:
    """Bitmask of the hours lo..hi-1."""
    lo, hi = shop_hours
    return np.uint32(((1 << hi) - 1) ^ ((1 << lo) - 1))


def demand_hours(panel, weight: float, alpha: float = 0.05, shrink: float = 1.0, trust: float = 0.2) -> np.ndarray:
    """Hourly demand to learn from: observed sales plus `weight` x the demand recovered in
    stockout shop hours (0: sales as observed, 1: full recovered demand). float32
    (n_flat, 24) for a DailyPanel with hourly rows."""
    if weight == 0:
        return panel.hour_sales
    latent = recover_hours(
        panel.hour_sales, panel.stockout_mask, panel.offsets, shop_hours_mask(SHOP_HOURS), alpha, shrink, trust
    )
    latent -= panel.hour_sales
    latent *= np.float32(weight)
    latent += panel.hour_sales
    return latent


def recovered_sales(panel, weight: float) -> np.ndarray:
    """Daily demand to learn from (see `demand_hours`), one float32 value per flat (series,
    day) position."""
    if weight == 0:
        return panel.sales
    return demand_hours(panel, weight).sum(axis=1, dtype=np.float64).astype(np.float32)


def recovered_demand(panel) -> np.ndarray:
    """Daily demand per flat (series, day) position, float32: on days with stockout shop
    hours the demand recovered from the day's in-stock hours (all of it, `recovered_sales`
    with weight 1; never below the sales), on in-stock days the sales."""
    return np.where(panel.stockout_shop_hours > 0, recovered_sales(panel, 1.0), panel.sales)
