"""Numba kernels for perishable ordering and its replay. Arrays only, one row per store x
product line; days are counted from the planning day (day 0).

Stock of a line is held in two arrays: ``on_hand[i, e]`` units that expire at the end of
day ``e`` (already in the store) and ``on_order[i, a]`` units that arrive on the morning of
day ``a`` and keep for ``shelf[i]`` days (expiring at the end of day ``a + shelf - 1``).
Selling is first-in-first-out: the units that expire first go first. An order placed on
day 0 arrives on day ``lead`` and is sold after every unit already held.
"""

import math

import numba as nb
import numpy as np

from ..threads import run_lines


@nb.njit(cache=True, inline="always")
def _quantile(levels, values, u):
    """Value at probability u of the distribution whose quantiles at `levels` are `values`:
    linear between levels, linear down to a floor of 0 below the first, exponential tail
    (continuous density) above the last."""
    J = levels.shape[0]
    if u <= levels[0]:
        slope = (values[1] - values[0]) / (levels[1] - levels[0])
        floor = max(values[0] - slope * levels[0], 0.0)
        return floor + (values[0] - floor) * u / levels[0]
    if u >= levels[J - 1]:
        slope = (values[J - 1] - values[J - 2]) / (levels[J - 1] - levels[J - 2])
        theta = slope * (1.0 - levels[J - 1])
        return values[J - 1] + theta * math.log((1.0 - levels[J - 1]) / max(1.0 - u, 1e-12))
    j = 1
    while levels[j] < u:
        j += 1
    w = (u - levels[j - 1]) / (levels[j] - levels[j - 1])
    return values[j - 1] + w * (values[j] - values[j - 1])


def demand_scenarios(quantiles, levels, uniforms, days=None):
    """Demand paths (n, K, D) from per-day quantiles (n, D, J) at `levels` (J,) and shared
    probabilities `uniforms` (K, D). Quantiles are made monotone per day first. `days` (n,):
    how many days of each line's paths are read (the rest are 0; None: all D)."""
    n, D, J = quantiles.shape
    days = np.full(n, D, np.int64) if days is None else np.minimum(np.asarray(days, np.int64), D)
    out = np.zeros((n, uniforms.shape[0], D), np.float32)
    run_lines(_scenario_lines, n, quantiles, levels, uniforms, days, out)
    return out


@nb.njit(cache=True, nogil=True)
def _scenario_lines(lo, hi, quantiles, levels, uniforms, days, out):
    """Lines lo..hi-1 of `demand_scenarios`, into `out`."""
    _, D, J = quantiles.shape
    K = uniforms.shape[0]
    for i in range(lo, hi):
        vals = np.empty(J)
        for d in range(days[i]):
            top = 0.0
            for j in range(J):
                top = max(top, quantiles[i, d, j])
                vals[j] = top
            for k in range(K):
                out[i, k, d] = _quantile(levels, vals, uniforms[k, d])


@nb.njit(cache=True)
def _batches(on_hand, on_order, shelf):
    """The batches of stock already held or ordered, in expiry order: (expiry day, arrival
    day, units, scratch units for `_serve_existing`, how many batches), arrays of B + A slots."""
    B = on_hand.shape[0]
    A = on_order.shape[0]
    exp, arr, qty, scratch = np.empty(B + A, np.int64), np.empty(B + A, np.int64), np.empty(B + A), np.empty(B + A)
    n = 0
    for e in range(B):  # on hand, already in expiry order
        if on_hand[e] > 0:
            exp[n], arr[n], qty[n] = e, 0, on_hand[e]
            n += 1
    for a in range(A):  # arrivals: later arrival = later expiry
        if on_order[a] > 0:
            exp[n], arr[n], qty[n] = a + shelf - 1, a, on_order[a]
            n += 1
    # keep expiry order across the two groups (insertion sort; a handful of batches)
    for x in range(1, n):
        j = x
        while j > 0 and exp[j - 1] > exp[j]:
            exp[j - 1], exp[j] = exp[j], exp[j - 1]
            arr[j - 1], arr[j] = arr[j], arr[j - 1]
            qty[j - 1], qty[j] = qty[j], qty[j - 1]
            j -= 1
    return exp, arr, qty, scratch, n


@nb.njit(cache=True)
def _serve_existing(exp, arr, start, n, demand, lead, n_days, residual, qty):
    """Sell one demand path from the `n` batches of `_batches` (FIFO, expiry at day end),
    their units `start` copied into the scratch `qty`. Writes the demand left unserved on each
    day into `residual` and returns the units still usable on the morning of day `lead`
    (arrivals of that morning included)."""
    for b in range(n):
        qty[b] = start[b]
    usable = 0.0
    for d in range(n_days):
        if d == lead:
            for b in range(n):
                if arr[b] <= d and exp[b] >= d:
                    usable += qty[b]
        need = demand[d]
        for b in range(n):
            if need <= 0:
                break
            if arr[b] <= d and exp[b] >= d and qty[b] > 0:
                take = min(qty[b], need)
                qty[b] -= take
                need -= take
        residual[d] = need
    return usable


@nb.njit(cache=True, parallel=True)
def usable_at_arrival(on_hand, on_order, shelf, lead, paths):
    """Mean over the K demand paths (n, K, D) of the units held or ordered that are still
    usable when an order placed today would arrive (morning of day `lead`)."""
    n, K, D = paths.shape
    out = np.zeros(n)
    for i in nb.prange(n):
        residual = np.empty(D)
        exp, arr, start, qty, m = _batches(on_hand[i], on_order[i], shelf[i])
        acc = 0.0
        for k in range(K):
            acc += _serve_existing(exp, arr, start, m, paths[i, k], lead[i], lead[i] + 1, residual, qty)
        out[i] = acc / K
    return out


@nb.njit(cache=True)
def markdown_gain(units, demand, price, lift, evening_share, salvage):
    """Money the best markdown of a batch's last day adds, in expectation over K equally
    likely demands: `units[k]` of the batch on the shelf that morning and `demand[k]` the
    day's demand at the regular price `price[0]`; `price[j]`, `lift[j]` the price and demand
    multiplier at ladder step j (the steps the line may use). A plan sells the day at one
    step and, from the hour after which `evening_share` of the demand is left, at a deeper
    one (not below `salvage`) or the same; units left are salvaged. The plan is chosen before
    the day's demand is known (the same for every k): the best plan's mean revenue + salvage
    minus that of the regular price all day, >= 0."""
    J, K = price.shape[0], units.shape[0]
    best = 0.0
    for d in range(J):
        for ev in range(d, J):
            if (d == 0 and ev == 0) or (ev > d and (evening_share <= 0.0 or price[ev] < salvage)):
                continue
            gain = 0.0
            for k in range(K):
                a, x = units[k], demand[k]
                day = min(a, x * (1.0 - evening_share) * lift[d])
                late = min(a - day, x * evening_share * lift[ev])
                kept = min(a, x)
                gain += price[d] * day + price[ev] * late + salvage * (a - day - late) - price[0] * kept - salvage * (a - kept)
            best = max(best, gain / K)
    return best


@nb.njit(cache=True)
def _delivered(q, held, capacity, case_pack, min_order):
    """What arrives of an order q when `held` units are already on hand: the whole cases that
    fit within `capacity`, nothing if they fall below the minimum order (as the replay delivers)."""
    if held + q <= capacity + 1e-9:
        return q
    fit = math.floor(max(capacity - held, 0.0) / case_pack + 1e-9) * case_pack
    return fit if fit >= min_order - 1e-9 else 0.0


@nb.njit(cache=True)
def delivered(q, held, capacity, case_pack, min_order):
    """Per line, what arrives of its order q (`_delivered`): the replay's deliveries and the
    optimizer's expected cost follow the same rule."""
    out = np.empty(q.shape[0])
    for i in range(q.shape[0]):
        out[i] = _delivered(q[i], held[i], capacity[i], case_pack[i], min_order[i])
    return out


@nb.njit(cache=True)
def _expected_cost(q, window, tail_lost, life, cum, K, S, under, over, hold, held, capacity, case_pack, min_order,
                   md_price, md_lift, md_share, salvage, before_last, last_demand, last_units):  # fmt: skip
    """Expected cost of ordering q, each demand path k receiving what fits beside the `held[k]`
    units it has on hand at the delivery; with markdowns (md_price of more than one step), less
    what the last day's markdown brings: `before_last[k]`, `last_demand[k]` the demand left
    for the order before and on its last day; `last_units` scratch."""
    c = 0.0
    for k in range(K):
        qk = _delivered(q, held[k], capacity, case_pack, min_order)
        c += under * (max(window[k] - qk, 0.0) + tail_lost[k]) + over * max(qk - life[k], 0.0)
        for j in range(S - 1):
            c += hold * max(qk - cum[k, j], 0.0)
        last_units[k] = max(qk - before_last[k], 0.0)
    c /= K
    if md_price.shape[0] > 1:  # units of the order on its last day: a markdown may sell some
        c -= markdown_gain(last_units, last_demand, md_price, md_lift, md_share, salvage)
    return c


@nb.njit(cache=True)
def _line_outlook(on_hand, on_order, S, L, R, paths, window, tail_lost, life, cum, held):
    """Serve each demand path of one line from its existing stock and summarise the demand
    left for a new order (arriving on day L, kept S days, next delivery on day L + R):
    `window` residual demand in the review window while the order keeps, `tail_lost` in the
    window after it expired (lost whatever is ordered), `life` over its shelf life, `cum`
    cumulative over its first S - 1 nights, `held` the usable stock at arrival. Returns (its
    mean, total demand in the window over all paths, largest `life`)."""
    K = paths.shape[0]
    residual = np.empty(paths.shape[1])
    exp, arr, start, qty, n = _batches(on_hand, on_order, S)
    need_days = L + max(R, S)
    usable = 0.0
    demand_window = 0.0
    top = 0.0
    for k in range(K):
        held[k] = _serve_existing(exp, arr, start, n, paths[k], L, need_days, residual, qty)
        usable += held[k]
        w = 0.0
        t = 0.0
        f = 0.0
        for d in range(L, L + R):
            demand_window += paths[k, d]
            if d < L + S:
                w += residual[d]
            else:
                t += residual[d]
        for j in range(S):
            f += residual[L + j]
            if j < S - 1:
                cum[k, j] = f
        window[k], tail_lost[k], life[k] = w, t, f
        top = max(top, f)
    return usable / K, demand_window, top


@nb.njit(cache=True)
def _outcome(q, window, tail_lost, life, demand_window, held, capacity, case_pack, min_order):
    """(expected units of an order q that expire unsold, expected fill rate in the window)."""
    K = window.shape[0]
    lost = 0.0
    over = 0.0
    for k in range(K):
        qk = _delivered(q, held[k], capacity, case_pack, min_order)
        lost += max(window[k] - qk, 0.0) + tail_lost[k]
        over += max(qk - life[k], 0.0)
    return over / K, (1.0 - lost / demand_window if demand_window > 0 else 1.0)


def order_quantities(
    on_hand, on_order, shelf, lead, review, paths, under, over, hold, per_unit, case_pack, min_order, capacity,
    can_order, fixed, md_price, md_lift, md_share, salvage,
):  # fmt: skip
    """Order per line that minimises expected cost over the K demand paths (n, K, D).

    An order placed today arrives on day L = lead and is sold, after all older stock, until
    it expires at the end of day L + shelf - 1. Stock held or already ordered is taken to
    sell before it (exact when it arrives no later than the new order). Costs per unit: `under` for demand unmet
    between its arrival and the next order's arrival (day L + review), `over` for every unit
    of it that expires unsold, `hold` for each night it stays in the store, and `per_unit`
    for each unit ordered (a shadow price that keeps a budget; 0 without one). The quantity is
    a multiple of `case_pack`, zero or at least `min_order`, and keeps the usable stock
    expected at arrival within `capacity`; on each demand path the delivery is cut to the
    whole cases that fit beside the stock held then (to nothing below `min_order`), as the
    replay delivers. Without a capacity the cost is convex in the
    quantity, so cases are added until one more case costs more than it saves; with one,
    every quantity is tried. Lines whose `fixed` quantity is not NaN keep it (their outlook is
    still worked out).

    Markdowns (`md_price`, `md_lift` (n, J) the price and demand multiplier of the ladder
    steps a line may use on a batch's last day, step 0 the regular price; `md_share` (n,)
    the share of a day's demand after the evening hour; J = 1: none): units of the order
    still on the shelf on its last day are worth what the best markdown of that day
    (`markdown_gain`) brings over throwing them away at `salvage`. The cost is then
    no longer convex, so every quantity up to the most that could sell is tried.

    Returns (order_qty, usable_at_delivery, expected_waste, expected_fill_rate): usable stock at
    arrival (mean), expected units of this order that expire unsold, expected share of the
    demand between the arrival and the next one that is met."""
    n = paths.shape[0]
    order, usable, waste, fill = np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n)
    run_lines(_order_lines, n, on_hand, on_order, shelf, lead, review, paths, under, over, hold, per_unit, case_pack,
              min_order, capacity, can_order, fixed, md_price, md_lift, md_share, salvage, order, usable, waste,
              fill)  # fmt: skip
    return order, usable, waste, fill


@nb.njit(cache=True, nogil=True)
def _order_lines(lo, hi, on_hand, on_order, shelf, lead, review, paths, under, over, hold, per_unit, case_pack,
                 min_order, capacity, can_order, fixed, md_price, md_lift, md_share, salvage, order, usable, waste,
                 fill):  # fmt: skip
    """Lines lo..hi-1 of `order_quantities`, into its four outputs."""
    K = paths.shape[1]
    for i in range(lo, hi):
        S = shelf[i]
        window, tail_lost, life, cum = np.empty(K), np.empty(K), np.empty(K), np.empty((K, max(S - 1, 1)))
        held = np.empty(K)
        usable[i], demand_window, top = _line_outlook(
            on_hand[i], on_order[i], S, lead[i], review[i], paths[i], window, tail_lost, life, cum, held
        )
        cap, cp = capacity[i], case_pack[i]
        # a capacity cuts the delivery on some paths and not others: the cost is then not convex
        convex = md_price.shape[1] == 1 and cap == np.inf
        best_q = 0.0
        if not np.isnan(fixed[i]):
            best_q = fixed[i]
        elif can_order[i]:
            before_last, last_demand, last_units = np.zeros(K), np.empty(K), np.empty(K)
            if not convex:  # a markdown on the last day sells up to its lift more of that day
                lift = md_lift[i].max()
                for k in range(K):
                    if S > 1:
                        before_last[k] = cum[k, S - 2]
                    last_demand[k] = life[k] - before_last[k]
                    top = max(top, before_last[k] + lift * last_demand[k])
            first = max(int(math.ceil(min_order[i] / cp - 1e-9)), 1)
            max_cases = max(int(math.ceil(top / cp)) + 1, first)  # a minimum order may exceed what could sell
            if cap < np.inf:  # no more than fits beside the stock expected at arrival
                max_cases = min(max_cases, int(math.floor(max(cap - usable[i], 0.0) / cp + 1e-9)))
            md = (held, cap, cp, min_order[i], md_price[i], md_lift[i], md_share[i], salvage[i], before_last,
                  last_demand, last_units)  # fmt: skip
            best = _expected_cost(0.0, window, tail_lost, life, cum, K, S, under[i], over[i], hold[i], *md)
            prev = np.inf
            for m in range(first, max_cases + 1):
                c = _expected_cost(m * cp, window, tail_lost, life, cum, K, S, under[i], over[i], hold[i], *md)
                c += per_unit[i] * m * cp
                if c < best - 1e-12:
                    best, best_q = c, m * cp
                if convex and c > prev + 1e-12:
                    break
                prev = c
        order[i] = best_q
        waste[i], fill[i] = _outcome(best_q, window, tail_lost, life, demand_window, held, cap, cp, min_order[i])


def sell_day(stock, shelf, day, demand):
    """One day of trading in the replay. ``stock[i, e]`` holds units expiring at the end of
    day e (absolute replay days); units with expiry e arrived on day e - shelf + 1. Sells
    `demand` first-in-first-out from the units that have arrived, then throws away what
    expires today. Returns (sold, lost, wasted, stock_end) per line; `stock` is updated."""
    sold, lost = sell_part(stock, shelf, day, demand)
    wasted, left = expire_day(stock, shelf, day)
    return sold, lost, wasted, left


@nb.njit(cache=True, parallel=True)
def sell_part(stock, shelf, day, demand):
    """Sell `demand` (part of day `day`'s, say the hours before an evening markdown) first-
    in-first-out from the units that have arrived. Returns (sold, lost); `stock` is updated."""
    n = stock.shape[0]
    sold = np.zeros(n)
    lost = np.zeros(n)
    for i in nb.prange(n):
        need = demand[i]
        last = min(day + shelf[i], stock.shape[1])  # arrived: e - shelf + 1 <= day
        for e in range(day, last):
            if need <= 0:
                break
            take = min(stock[i, e], need)
            stock[i, e] -= take
            need -= take
        sold[i] = demand[i] - need
        lost[i] = need
    return sold, lost


@nb.njit(cache=True, parallel=True)
def expire_day(stock, shelf, day):
    """Evening of day `day`: throw away what expires. Returns (wasted, units left that have
    arrived); `stock` is updated."""
    n = stock.shape[0]
    wasted = np.zeros(n)
    left = np.zeros(n)
    for i in nb.prange(n):
        wasted[i] = stock[i, day]
        stock[i, day] = 0.0
        s = 0.0
        for e in range(day + 1, min(day + shelf[i], stock.shape[1])):
            s += stock[i, e]
        left[i] = s
    return wasted, left
