"""Numba kernels for markdown pricing: one dynamic programme per store x product line over the
days its stock on hand still keeps, the units on hand and the markdown in force.

Stock: ``on_hand[i, e]`` units expiring at the end of day ``e`` (day 0 = today). Selling is
first-in-first-out and expiry removes the oldest units too, so the units left at any time are
always the youngest of the stock: the number left is the whole state of the stock. Demand:
``demand[i, k, t]``, K equally likely values of day t's demand at the planned price, scaled
by ``lift[i, j]`` (relative to the planned price) at ladder step j, and by
``carry[i, j]`` on the day after a day at step j (demand borrowed by yesterday's discount).

Rules: the day's markdown step never goes back up while the batch it was set for lasts (a
markdown only deepens; it ends the evening that batch, the oldest, expires, and the label may
then return to the regular price), and the step in force may always stay; a deeper step must be allowed for the line
(``allowed``: supported by the data, not above the regular price) and may price below the
unit cost only on a day when some units expire that evening; a deeper evening step (from the hour after which ``evening_share`` of
the day's demand is still to come) only on such a day, for the evening, and not below the
salvage value. Steps deeper than the line supports are given as not allowed (``allowed``).
"""

import numba as nb
import numpy as np

from ..threads import run_lines

GRID = 24  # stock levels of the value function between 0 and the units on hand


@nb.njit(cache=True)
def _interp(v, s, step):
    """Value at stock s of v sampled at 0, step, 2 step, ..."""
    if step <= 0.0:
        return v[0]
    x = s / step
    g = int(x)
    if g >= len(v) - 1:
        return v[len(v) - 1]
    w = x - g
    return v[g] * (1.0 - w) + v[g + 1] * w


@nb.njit(cache=True)
def _solve_line(on_hand, demand, lift, carry, price, cost, salvage, allowed, evening_share, first_step, J_max,
                revert, V, W, choice):  # fmt: skip
    """Backward induction for one line. V[t, g, j]: best expected revenue (+ salvage of
    waste) from day t on with stock level g and step j in force (day 0: only all the stock
    at `first_step`); W: expected units wasted under that policy; choice[g, j] at day 0:
    (day step, evening step or -1). With `revert`, day 0's step holds for day 0 only (an
    evening step): the next day starts again at `first_step`."""
    E = on_hand.shape[0]
    K = demand.shape[0]
    total = 0.0
    for e in range(E):
        total += on_hand[e]
    step = total / (GRID - 1)
    T = 0
    for e in range(E):
        if on_hand[e] > 0:
            T = e + 1
    for g in range(GRID):
        for j in range(J_max):
            V[T, g, j] = 0.0
            W[T, g, j] = 0.0
    younger = np.zeros(T)  # units expiring after day t
    acc = 0.0
    for t in range(T - 1, -1, -1):
        younger[t] = acc
        acc += on_hand[t]
    for t in range(T - 1, -1, -1):
        for g in range(GRID - 1 if t == 0 else 0, GRID):  # day 0 starts with all the stock ...
            s = g * step
            expiring = s > younger[t] + 1e-9
            for j in range(first_step if t == 0 else 0, first_step + 1 if t == 0 else J_max):  # ... at the step in force
                best, best_w, best_d, best_e = -1e300, 0.0, -1, -1
                for d in range(j, J_max):
                    if d > j and (not allowed[d] or (price[d] < cost and not expiring)):
                        continue  # the step in force may always stay
                    for ev in range(-1, J_max):
                        if ev >= 0 and (ev <= d or not expiring or evening_share <= 0.0 or not allowed[ev]
                                        or price[ev] < salvage):  # fmt: skip
                            continue
                        value, waste = 0.0, 0.0
                        for k in range(K):
                            base = demand[k, t] * carry[j]
                            if ev < 0:
                                sold = min(s, base * lift[d])
                                revenue = sold * price[d]
                            else:
                                day = min(s, base * (1.0 - evening_share) * lift[d])
                                late = min(s - day, base * evening_share * lift[ev])
                                sold = day + late
                                revenue = day * price[d] + late * price[ev]
                            left = s - sold
                            wasted = max(left - younger[t], 0.0)
                            nxt = left - wasted
                            # a markdown ends with the batch it was for (the oldest, which expires first)
                            then = 0 if expiring else (first_step if revert and t == 0 else d)
                            value += revenue + wasted * salvage + _interp(V[t + 1, :, then], nxt, step)
                            waste += wasted + _interp(W[t + 1, :, then], nxt, step)
                        value /= K
                        waste /= K
                        if value > best + 1e-12:
                            best, best_w, best_d, best_e = value, waste, d, ev
                V[t, g, j] = best
                W[t, g, j] = best_w
                if t == 0:
                    choice[g, j, 0] = best_d
                    choice[g, j, 1] = best_e
    return T


def plan_markdowns(on_hand, demand, lift, carry, price, cost, salvage, allowed, evening_share, floor_step, revert):
    """Today's markdown of every line.

    on_hand (n, E) units by expiry day; demand (n, K, T >= E) daily demand values at the
    planned price; lift (n, J) demand multiplier at each ladder step (step 0: the regular
    price); carry (n, J) multiplier of the next day's demand after a day at step j; price
    (n, J) unit price at each step; cost, salvage (n,) per unit; allowed (n, J) steps the
    line may use; evening_share (n,) share of a day's demand after the evening hour (0: no
    evening step); floor_step (n,) the step in force that may only deepen; revert: today's
    step is for the rest of today only (planning an evening step at the evening hour, with
    `demand` day 0 the evening's demand).

    Returns (day step, evening step or -1, expected value, expected units wasted) with the
    best plan, then (value, units wasted) keeping the floor step while the stock lasts."""
    n = on_hand.shape[0]
    step, evening = np.zeros(n, np.int64), np.full(n, -1, np.int64)
    value, waste, value_kept, waste_kept = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    run_lines(_plan_lines, n, on_hand, demand, lift, carry, price, cost, salvage, allowed, evening_share, floor_step,
              revert, step, evening, value, waste, value_kept, waste_kept)  # fmt: skip
    return step, evening, value, waste, value_kept, waste_kept


@nb.njit(cache=True, nogil=True)
def _plan_lines(lo, hi, on_hand, demand, lift, carry, price, cost, salvage, allowed, evening_share, floor_step, revert,
                step, evening, value, waste, value_kept, waste_kept):  # fmt: skip
    """Lines lo..hi-1 of `plan_markdowns`, into its outputs."""
    E, J = on_hand.shape[1], price.shape[1]
    for i in range(lo, hi):
        f = floor_step[i]
        step[i] = f
        if on_hand[i].sum() <= 0:
            continue
        V = np.empty((E + 1, GRID, J))
        W = np.empty((E + 1, GRID, J))
        choice = np.full((GRID, J, 2), -1, np.int64)
        _solve_line(on_hand[i], demand[i], lift[i], carry[i], price[i], cost[i], salvage[i], allowed[i],
                    evening_share[i], f, J, revert, V, W, choice)  # fmt: skip
        value[i], waste[i] = V[0, GRID - 1, f], W[0, GRID - 1, f]
        step[i], evening[i] = choice[GRID - 1, f, 0], choice[GRID - 1, f, 1]
        _solve_line(on_hand[i], demand[i], lift[i], carry[i], price[i], cost[i], salvage[i], allowed[i], 0.0, f,
                    f + 1, revert, V, W, choice)  # fmt: skip
        value_kept[i], waste_kept[i] = V[0, GRID - 1, f], W[0, GRID - 1, f]
