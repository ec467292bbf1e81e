"""The hindsight bound equals the brute-force optimum on small lines and the replay's own
costing of its plan."""

import itertools

import numpy as np

from freshcast.optimize import kernels as K
from freshcast.optimize.master import MasterData
from freshcast.optimize.orders import weekly_extend
from freshcast.simulate.hindsight import hindsight_plan
from freshcast.simulate.scoring import ending_stock


def _cost(opening, demand, plan, m: MasterData) -> float:
    """The replay's cost of one line's orders (None if a delivery breaks the capacity): each
    day book the order, sell FIFO and expire (`kernels.sell_day`), then cost the stock left."""
    S, L = int(m.shelf_life_days[0]), int(m.lead_time_days[0])
    T = len(demand)
    row = opening.copy()[None, :]
    cost = 0.0
    for t in range(T):
        if plan[t] > 0 and t + L < T:
            row[0, t + L + S - 1] += plan[t]
        if t >= L and plan[t - L] > 0 and row[0, t : t + S].sum() > m.capacity[0] + 1e-9:
            return None  # more on hand after the delivery than the store holds
        _, lost, wasted, left = K.sell_day(row, m.shelf_life_days, t, np.array([demand[t]]))
        cost += m.lost_margin[0] * lost[0] + m.waste_cost[0] * wasted[0] + m.holding_cost[0] * left[0]
    _, later_wasted = ending_stock(row, m.shelf_life_days, demand[None, :])
    return cost + m.waste_cost[0] * later_wasted[0]


def _instance(rng):
    """A small random line: (opening stock, demand, following demand, order days, master data)."""
    T, S, L = int(rng.integers(3, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    pack = float(rng.choice([1.0, 2.0]))
    margin, waste = rng.uniform(0.2, 1), rng.uniform(0.2, 1)
    hold = rng.uniform(0, 0.05) if rng.random() < 0.5 else rng.uniform(0.05, 0.6)  # holding may cost more than a loss
    capacity = np.inf if rng.random() < 0.5 else float(rng.integers(2, 6))
    m = MasterData(
        shelf_life_days=np.array([S]), case_pack=np.array([pack]),
        min_order_qty=np.array([pack * int(rng.integers(1, 3))]), unit_cost=np.array([1.0]),
        regular_price=np.array([1 + margin]), salvage_value=np.array([1 - waste]), holding_cost=np.array([hold]),
        supplier_id=np.array([0]), lead_time_days=np.array([L]), order_weekdays=np.array([127]),
        capacity=np.array([capacity]),
    )  # fmt: skip
    demand = np.round(rng.gamma(1.5, 1.0, T), 1)
    opening = np.zeros(T + S + L + 1)
    for j in range(L):  # the replay's opening deliveries
        opening[j + S - 1] += np.round(rng.uniform(0, 4), 1)
    if rng.random() < 0.3:  # and stock that comes on sale later (its expiry day - S + 1)
        opening[int(rng.integers(0, T + S - 1))] += np.round(rng.uniform(0, 5), 1)
    order_days = rng.random(T) < 0.7
    following = weekly_extend(demand[None, :], T + S)[:, T:]
    return opening, demand, following, order_days, m


def test_the_hindsight_plan_is_the_brute_force_optimum():
    rng = np.random.default_rng(0)
    for _ in range(80):
        opening, demand, following, order_days, m = _instance(rng)
        T, L, pack = len(demand), int(m.lead_time_days[0]), float(m.case_pack[0])
        plan, cost, exact = hindsight_plan(opening[None, :], demand[None, :], following, order_days[None, :], m)
        assert exact[0]
        days = [t for t in range(T) if order_days[t] and t + L < T]
        cases = [0, *range(int(np.ceil(m.min_order_qty[0] / pack)), int(np.ceil(demand.sum() / pack)) + 3)]
        best = np.inf
        for combo in itertools.product(cases, repeat=len(days)):
            trial = np.zeros(T)
            trial[days] = np.array(combo) * pack
            c = _cost(opening, demand, trial, m)
            best = best if c is None else min(best, c)
        assert abs(cost[0] - best) < 1e-9
        assert abs(_cost(opening, demand, plan[0], m) - cost[0]) < 1e-9  # the replay costs its plan the same
        assert (plan[0][~order_days] == 0).all() and np.allclose(plan[0] / pack, np.round(plan[0] / pack))


def test_a_line_with_too_many_states_gets_a_feasible_plan_flagged_not_exact():
    """Keeping only the cheapest `max_states` states per order day gives a plan that is
    feasible, costed as the replay costs it, never cheaper than the exact one, and flagged
    (on the few small lines where more than one state is left within the bound)."""
    rng = np.random.default_rng(1)
    flagged = 0
    for _ in range(400):
        opening, demand, following, order_days, m = _instance(rng)
        args = (opening[None, :], demand[None, :], following, order_days[None, :], m)
        _, exact_cost, exact = hindsight_plan(*args)
        plan, cost, cut = hindsight_plan(*args, max_states=1)
        assert exact[0]
        flagged += not cut[0]
        assert cost[0] >= exact_cost[0] - 1e-9
        assert abs(_cost(opening, demand, plan[0], m) - cost[0]) < 1e-9
        assert (plan[0][~order_days] == 0).all()
        assert np.allclose(plan[0] / m.case_pack[0], np.round(plan[0] / m.case_pack[0]))
    assert flagged > 10
