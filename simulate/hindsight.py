"""The hindsight bound: per line, the cheapest orders over the whole replay for someone who
knew every day's demand, under the replay's own rules (lead time, order weekdays, case
packs, minimum order, capacity after a delivery, FIFO selling, shelf life, the same opening
stock and the same costing of the stock left at the end). No policy can cost less.

Solved exactly by dynamic programming over a line's order days: the state before a delivery
is the stock by expiry day (all that the future depends on, demand being known); each order
is 0 or a whole number of cases from the minimum order up to what could still sell before it
expires (more is thrown away for sure); equal states keep the cheapest path. Branch and
bound: stock on hand always sells before later deliveries (FIFO, one shelf life), so the
units of it that will expire are known in each state; and a unit sold on a later day was
held at least since the last delivery day before it, or is lost, whatever the orders. A
state whose cost so far plus that waste plus that least cost of the days after it exceeds
the cost of a complete plan (a first, greedy pass) cannot lead to the cheapest plan and is
dropped.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..optimize.master import MasterData

STATE_DIGITS = 9  # stock held in two states is the same if equal to 1e-9 units
MAX_STATES = 250_000  # per line and order day; beyond, the cheapest are kept and the line's plan is approximate


@nb.njit(cache=True, inline="always")
def _sell(row, S, d, need):
    """Sell `need` units on day d FIFO from the units of `row` (by expiry day) that have
    arrived and not expired; returns what is left unmet."""
    for e in range(d, min(d + S, row.shape[0])):
        if need <= 0:
            break
        take = min(row[e], need)
        row[e] -= take
        need -= take
    return need


@nb.njit(cache=True)
def _trade(row, S, d0, d1, demand, margin, waste_cost, hold):
    """Days d0 .. d1 - 1 of one line, as the replay trades them (`kernels.sell_day`): sell
    the day's demand FIFO from the units that have arrived, throw away what expires that
    evening, pay holding on what is left. `row` (units by expiry day) is updated; returns
    the cost."""
    cost = 0.0
    W = row.shape[0]
    for d in range(d0, d1):
        need = _sell(row, S, d, demand[d])
        last = min(d + S, W)
        wasted = row[d]
        row[d] = 0.0
        left = 0.0
        for e in range(d + 1, last):
            left += row[e]
        cost += margin * need + waste_cost * wasted + hold * left
    return cost


@nb.njit(cache=True)
def _unmet(row, S, a, T, demand, following):
    """Demand of days a .. a + S - 1 (the following days' past the replay) left unmet by the
    units of `row` alone, sold FIFO; `row` is not changed."""
    r = row.copy()
    W = r.shape[0]
    unmet = 0.0
    for d in range(a, a + S):
        unmet += _sell(r, S, d, demand[d] if d < T else following[d - T])
        if d < W:
            r[d] = 0.0
    return unmet


@nb.njit(cache=True)
def _doomed(row, S, a, T, demand, following, top):
    """Units of `row` that will expire unsold from day a on, whatever is ordered later: later
    deliveries sell after them (FIFO), so they are sold against the demand of days a, a + 1
    .. (past the replay, the following days', as `simulate.scoring.ending_stock` costs the
    stock left; a = T: the stock left at the end) alone. `row` holds nothing expiring after
    day `top` - 1. `row` is not changed."""
    r = row.copy()
    W = r.shape[0]
    wasted = 0.0
    for d in range(a, min(W, T + following.shape[0], top)):
        _sell(r, S, d, demand[d] if d < T else following[d - T])
        wasted += r[d]
        r[d] = 0.0
    return wasted


@nb.njit(cache=True)
def _serving_floor(demand, arrivals, margin, hold):
    """(T + 1,) the least that serving the demand of days t .. T - 1 can cost, whatever the
    orders: a unit sold on day d came on sale on the last arrival day at or before it or
    earlier, so it was held at least that many nights, or it is lost (margin). Days before the
    first arrival count nothing. `arrivals`: (T,) bool, the delivery days and the days the
    opening stock comes on sale."""
    T = demand.shape[0]
    floor = np.zeros(T + 1)
    last = -1
    per_day = np.zeros(T)
    for d in range(T):
        if arrivals[d]:
            last = d
        if last >= 0:
            per_day[d] = demand[d] * min(margin, hold * (d - last))
    for d in range(T - 1, -1, -1):
        floor[d] = floor[d + 1] + per_day[d]
    return floor


@nb.njit(cache=True, inline="always")
def _same(rows, a, b, col, end, scale):
    """Whether states a and b hold the same stock in columns `col` .. `end` - 1 (to 1e-9 units)."""
    for e in range(col, end):
        if round(rows[a, e] * scale) != round(rows[b, e] * scale):
            return False
    return True


@nb.njit(cache=True)
def _any_same(rows, a, others, col, end, scale):
    """Whether state a equals any of the states `others`."""
    for b in others:
        if _same(rows, a, b, col, end, scale):
            return True
    return False


@nb.njit(cache=True)
def _dedupe(rows, cost, parent, qty, col, top):
    """Keep, of the states equal in columns `col` onwards, the cheapest one (no state holds
    anything expiring after day `top` - 1)."""
    n = rows.shape[0]
    stop = min(rows.shape[1], top)
    scale = 10.0**STATE_DIGITS
    keys = np.empty(n, np.int64)
    for s in range(n):
        h = np.int64(1469598103934665603)
        for e in range(col, stop):
            h = (h ^ np.int64(round(rows[s, e] * scale))) * np.int64(1099511628211)
        keys[s] = h
    order = np.argsort(keys, kind="mergesort")
    keep = np.zeros(n, np.bool_)
    start = 0
    while start < n:
        end = start
        while end < n and keys[order[end]] == keys[order[start]]:
            end += 1
        for a in range(start, end):  # within a hash group, compare the states themselves
            sa = order[a]
            if _any_same(rows, sa, order[start:a], col, stop, scale):
                continue  # an earlier one of its equals decided already
            best = sa
            for b in range(a + 1, end):
                sb = order[b]
                if cost[sb] < cost[best] and _same(rows, sa, sb, col, stop, scale):
                    best = sb
            keep[best] = True
        start = end
    idx = np.flatnonzero(keep)
    return rows[idx].copy(), cost[idx].copy(), parent[idx].copy(), qty[idx].copy()


@nb.njit(cache=True)
def _line_plan(opening, demand, following, order_days, S, L, pack, min_qty, capacity, margin, waste_cost, hold,
               max_states):  # fmt: skip
    """Cheapest orders (T,) of one line and their cost (lost margin, waste, holding and the
    expected waste of the stock left at the end, as the replay costs them), and whether the
    plan is proven the cheapest. A greedy pass (each order day, the option whose cost so far
    plus the waste it dooms is least) gives a plan whose cost bounds the exact search."""
    args = (opening, demand, following, order_days, S, L, pack, min_qty, capacity, margin, waste_cost, hold)
    greedy, bound, _ = _search(*args, 1, True, np.inf)
    plan, best, exact = _search(*args, max_states, False, bound)
    if best > bound:  # rounding: the greedy plan is as cheap (none kept within the bound: not proven)
        return greedy, bound, exact
    return plan, best, exact


@nb.njit(cache=True)
def _search(opening, demand, following, order_days, S, L, pack, min_qty, capacity, margin, waste_cost, hold,
            max_states, greedy, bound):  # fmt: skip
    """The dynamic programme of `_line_plan`: (orders (T,), cost, exact). `greedy`: keep one
    state per order day, the least cost plus doomed waste; otherwise every distinct state
    whose cost plus doomed waste plus the least cost of serving the days after
    (`_serving_floor`) is within `bound` (the cheapest `max_states` of them)."""
    T = demand.shape[0]
    plan = np.zeros(T)
    days = [t for t in range(T) if order_days[t] and t + L < T]
    rows = opening.copy().reshape(1, -1)
    first = days[0] + L if len(days) > 0 else T
    cost = np.array([_trade(rows[0], S, 0, first, demand, margin, waste_cost, hold)])
    parents = []  # per stage: each state's parent index and the quantity that led to it
    qtys = []
    exact = True
    limit = bound + 1e-9 * (1.0 + abs(bound))  # rounding: the cheapest plan's states are never dropped
    arrivals = np.zeros(T, np.bool_)
    for t in days:
        arrivals[t + L] = True
    opened = np.flatnonzero(opening)
    for e in opened:  # opening stock of expiry day e is on sale from day e - S + 1: an arrival too
        if e - S + 1 < T:
            arrivals[max(e - S + 1, 0)] = True
    to_go = _serving_floor(demand, arrivals, margin, hold)  # the same for every state of a stage
    opening_end = opened[-1] + 1 if opened.shape[0] > 0 else 0  # the opening stock expires before this day
    # after the days to nxt, a state holds nothing expiring after both opening_end - 1 and nxt + S - 1
    for j in range(len(days)):
        a = days[j] + L
        nxt = days[j + 1] + L if j + 1 < len(days) else T
        k_min = max(int(math.ceil(min_qty / pack - 1e-9)), 1)
        # per state, the most cases worth ordering: what the demand of the delivery's life that
        # the stock held before it leaves unmet can take (it sells after that stock, and later
        # deliveries sell after it); more would be thrown away for sure
        tops = np.empty(rows.shape[0], np.int64)
        for s in range(rows.shape[0]):
            tops[s] = max(k_min, int(math.ceil(_unmet(rows[s], S, a, T, demand, following) / pack - 1e-9)))
        size = int((tops - k_min + 2).sum())  # each state: no order, or k_min .. its top cases
        W = rows.shape[1]
        new_rows = np.empty((size, W))
        new_cost = np.empty(size)
        parent = np.empty(size, np.int64)
        qty = np.empty(size)
        m = 0
        least = np.inf
        for s in range(rows.shape[0]):
            held = 0.0
            for e in range(a, min(a + S - 1, W)):
                held += rows[s, e]
            for o in range(tops[s] - k_min + 2):
                q = 0.0 if o == 0 else (k_min + o - 1) * pack
                if q > 0 and held + q > capacity + 1e-9:
                    break
                r = new_rows[m]  # traded in place: no copy per option
                r[:] = rows[s]
                r[a + S - 1] += q
                c = cost[s] + _trade(r, S, a, nxt, demand, margin, waste_cost, hold)
                doomed = _doomed(r, S, nxt, T, demand, following, max(opening_end, nxt + S))
                reach = c + waste_cost * doomed + to_go[nxt]
                if reach > limit or (greedy and reach >= least):
                    continue  # cannot lead to the cheapest plan (greedy: not the least so far)
                if greedy:
                    least, m = reach, 0
                new_cost[m] = c
                parent[m] = s
                qty[m] = q
                m += 1
                if greedy:
                    new_rows[0] = r
        if m == 0:  # every state dropped: only rounding can do that (see `_line_plan`)
            return plan, np.inf, False
        rows, cost, par, qt = _dedupe(new_rows[:m], new_cost[:m], parent[:m], qty[:m], nxt, max(opening_end, nxt + S))
        if rows.shape[0] > max_states:
            keep = np.argsort(cost, kind="mergesort")[:max_states]
            rows, cost, par, qt = rows[keep], cost[keep], par[keep], qt[keep]
            exact = False
        parents.append(par)
        qtys.append(qt)
    total = cost.copy()
    for s in range(rows.shape[0]):
        total[s] += waste_cost * _doomed(rows[s], S, T, T, demand, following, max(opening_end, T + S))
    s = int(np.argmin(total))
    best = total[s]
    for j in range(len(days) - 1, -1, -1):
        plan[days[j]] = qtys[j][s]
        s = parents[j][s]
    return plan, best, exact


@nb.njit(cache=True, parallel=True)
def _plans(opening, demand, following, order_days, shelf, lead, pack, min_qty, capacity, margin, waste_cost, hold,
           max_states):  # fmt: skip
    n, T = demand.shape
    plan = np.zeros((n, T))
    cost = np.zeros(n)
    exact = np.ones(n, np.bool_)
    for i in nb.prange(n):
        plan[i], cost[i], exact[i] = _line_plan(
            opening[i], demand[i], following[i], order_days[i], shelf[i], lead[i], pack[i], min_qty[i],
            capacity[i], margin[i], waste_cost[i], hold[i], max_states,
        )  # fmt: skip
    return plan, cost, exact


def hindsight_plan(opening: np.ndarray, demand: np.ndarray, following: np.ndarray, order_days: np.ndarray,
                   master: MasterData, max_states: int = MAX_STATES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(orders (n, T) by the day they are placed, cost per line, whether each is exact) of the
    cheapest plans. A line with more than `max_states` stock states on an order day (tiny
    case packs against long shelf lives) keeps the cheapest ones: its plan is then the best
    found, not proven the cheapest.

    opening : (n, W) the replay's opening stock by expiry day (W covers every expiry).
    demand : (n, T) the demand served on the replayed days.
    following : (n, F) the following days' demand the stock left at the end is sold against.
    order_days : (n, T) bool, the days each line may order."""
    return _plans(
        np.ascontiguousarray(opening, np.float64), np.ascontiguousarray(demand, np.float64),
        np.ascontiguousarray(following, np.float64), np.ascontiguousarray(order_days, np.bool_),
        master.shelf_life_days.astype(np.int64), master.lead_time_days.astype(np.int64),
        master.case_pack.astype(np.float64), master.min_order_qty.astype(np.float64),
        master.capacity.astype(np.float64), master.lost_margin.astype(np.float64),
        master.waste_cost.astype(np.float64), master.holding_cost.astype(np.float64), int(max_states),
    )  # fmt: skip
