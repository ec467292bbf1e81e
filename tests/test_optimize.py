"""Order optimizer and replay simulator: properties that must hold for any input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshcast.optimize import kernels as K
from freshcast.data.tables import EVERY_DAY
from freshcast.optimize.master import MasterData
from freshcast.optimize.orders import (
    CORRELATION, N_SCENARIOS, days_needed, line_days, optimal_orders, order_up_to, orders_from_paths,
    scenario_uniforms, weekly_extend,
)

D = 10  # days of demand paths


def master(n=1, shelf=3, case_pack=0.5, min_order=0.5, cost=0.6, price=1.0, lead=1, capacity=np.inf):
    f = lambda v, dt=float: np.full(n, v, dt)  # noqa: E731
    return MasterData(
        shelf_life_days=f(shelf, np.int64), case_pack=f(case_pack), min_order_qty=f(min_order), unit_cost=f(cost),
        regular_price=f(price), salvage_value=f(0.0), holding_cost=f(0.01 * cost), supplier_id=f(0, np.int64),
        lead_time_days=f(lead, np.int64), order_weekdays=f(EVERY_DAY, np.int64), capacity=f(capacity),
    )  # fmt: skip


def paths_from(seed, level, k=64):
    rng = np.random.default_rng(seed)
    return rng.gamma(2.0, level / 2.0, size=(1, k, D)).astype(np.float32)


lines = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10_000),
        "level": st.floats(0.1, 5.0),
        "shelf": st.integers(1, 6),
        "lead": st.integers(1, 2),
        "review": st.integers(1, 3),
        "case_pack": st.sampled_from([0.1, 0.2, 0.5, 1.0, 2.0]),
        "moq_cases": st.integers(1, 3),
        "on_hand": st.lists(st.floats(0, 4), min_size=6, max_size=6),
    }
)


def plan(x, **over):
    m = master(
        shelf=over.get("shelf", x["shelf"]), case_pack=x["case_pack"], min_order=x["case_pack"] * x["moq_cases"],
        lead=x["lead"], price=over.get("price", 1.0), capacity=over.get("capacity", np.inf),
    )  # fmt: skip
    on_hand = np.asarray([over.get("on_hand", x["on_hand"])], float)
    return orders_from_paths(
        paths_from(x["seed"], x["level"]), on_hand, np.zeros((1, 3)), m, np.array([x["review"]]), np.array([True])
    ), m


@settings(max_examples=60, deadline=None)
@given(lines, st.floats(0.5, 12.0))
def test_orders_are_whole_cases_above_minimum_within_capacity(x, capacity):
    out, m = plan(x, capacity=capacity)
    q = out.order_qty[0]
    assert q >= 0
    cases = q / x["case_pack"]
    assert abs(cases - round(cases)) < 1e-9
    assert q == 0 or q >= m.min_order_qty[0] - 1e-9
    assert q == 0 or out.usable_at_delivery[0] + q <= capacity + 1e-9


def test_a_minimum_order_above_what_could_sell_is_ordered_when_it_pays():
    """3 units sell for sure and the supplier's minimum is 10, at a cost of 0.6 each: at a
    price of 10 the 7 thrown away (4.2) cost less than the margin of the 3 (28.2), so the 10
    are ordered; at a price of 1 they cost more (against 1.2), so nothing is."""
    paths = np.full((1, 64, 3), 3.0, np.float32)
    for price, expected in ((10.0, 10.0), (1.0, 0.0)):
        m = master(shelf=1, case_pack=1.0, min_order=10.0, cost=0.6, price=price)
        out = orders_from_paths(paths, np.zeros((1, 1)), np.zeros((1, 3)), m, np.array([1]), np.array([True]))
        assert out.order_qty[0] == expected


def _path_cost(on_hand, S, L, R, demand, q, m, under, over, hold):
    """One demand path replayed day by day: FIFO selling, expiry at day end, the new order's
    delivery cut to the whole cases that fit within the capacity beside the stock held that
    morning (nothing below the minimum order), as the replay delivers; lost, wasted and held."""
    batches = [[0, e, x, False] for e, x in enumerate(on_hand) if x > 0] + [[L, L + S - 1, q, True]]
    lost = waste = held = 0.0
    for day in range(len(demand)):
        if day == L:
            have = sum(b[2] for b in batches if not b[3] and b[0] <= day <= b[1])
            if have + q > m.capacity[0] + 1e-9:
                fit = np.floor(max(m.capacity[0] - have, 0.0) / m.case_pack[0] + 1e-9) * m.case_pack[0]
                batches[-1][2] = fit if fit >= m.min_order_qty[0] - 1e-9 else 0.0
        need = demand[day]
        for b in sorted((b for b in batches if b[0] <= day <= b[1]), key=lambda b: b[1]):
            take = min(b[2], need)
            b[2] -= take
            need -= take
        lost += need if L <= day < L + R else 0.0
        for b in batches:
            if b[3] and b[1] == day:
                waste += b[2]
                b[2] = 0.0
            if b[3] and b[0] <= day < b[1]:
                held += b[2]
    return under * lost + over * waste + hold * held


def test_with_a_capacity_the_order_is_the_cheapest_of_the_cut_deliveries():
    """A capacity cuts the delivery on the demand paths that still hold much when it arrives:
    the order is the one whose deliveries, cut path by path as the replay cuts them, cost the
    least on average among every quantity the rules allow (found by replaying each path)."""
    rng = np.random.default_rng(3)
    for _ in range(300):  # the cut paths decide the order in a few of them
        S, L, R = int(rng.integers(1, 4)), 1, int(rng.integers(1, 3))
        cp = float(rng.choice([1.0, 2.0]))
        m = master(shelf=S, case_pack=cp, min_order=cp * int(rng.integers(1, 3)), cost=0.6, lead=L,
                   capacity=float(rng.integers(3, 9)))  # fmt: skip
        on_hand = rng.integers(0, 5, S).astype(float)
        paths = rng.integers(0, 6, (1, 8, L + max(R, S))).astype(np.float32)
        out = orders_from_paths(paths, on_hand[None, :], np.zeros((1, L + 1)), m, np.array([R]), np.array([True]))
        under, over, hold = 1.0 - 0.6, 0.6, m.holding_cost[0]  # lost margin, waste, a night held
        cost = lambda q: np.mean([_path_cost(on_hand, S, L, R, p, q, m, under, over, hold) for p in paths[0]])  # noqa: E731
        allowed = [0.0] + [k * cp for k in range(1, 20) if k * cp >= m.min_order_qty[0] - 1e-9
                           and out.usable_at_delivery[0] + k * cp <= m.capacity[0] + 1e-9]  # fmt: skip
        assert out.order_qty[0] in allowed
        assert cost(out.order_qty[0]) <= min(cost(q) for q in allowed) + 1e-9


@settings(max_examples=60, deadline=None)
@given(lines, st.integers(0, 5), st.floats(0.1, 3.0))
def test_more_usable_stock_never_raises_the_order(x, batch, extra):
    base, _ = plan(x)
    more = list(x["on_hand"])
    more[batch] += extra
    bigger, _ = plan(x, on_hand=more)
    assert bigger.order_qty[0] <= base.order_qty[0] + 1e-9


@settings(max_examples=60, deadline=None)
@given(lines, st.floats(0.0, 8.0))
def test_longer_shelf_life_never_raises_expected_waste_of_the_same_order(x, qty):
    paths = paths_from(x["seed"], x["level"])
    on_hand = np.asarray([x["on_hand"]])
    waste = []
    for shelf in (x["shelf"], x["shelf"] + 1):
        m = master(shelf=shelf, lead=x["lead"])
        out = orders_from_paths(
            paths, on_hand, np.zeros((1, 3)), m, np.array([x["review"]]), np.array([True]), fixed=np.array([qty])
        )
        assert out.order_qty[0] == qty
        waste.append(out.expected_waste[0])
    assert waste[1] <= waste[0] + 1e-9


@settings(max_examples=60, deadline=None)
@given(lines, st.floats(0.0, 2.0))
def test_higher_margin_never_lowers_the_service_level(x, raise_by):
    low, _ = plan(x, price=1.0)
    high, _ = plan(x, price=1.0 + raise_by)
    assert high.order_qty[0] >= low.order_qty[0] - 1e-9
    assert high.expected_fill_rate[0] >= low.expected_fill_rate[0] - 1e-9


def test_the_order_balances_lost_margin_against_waste():
    """One-day shelf life, nothing in stock: the order is the critical-fractile quantile of
    the demand (margin / (margin + cost))."""
    demand = np.linspace(0.0, 10.0, 101, dtype=np.float32)
    paths = np.repeat(demand[None, :, None], D, axis=2)
    for cost, fractile in ((0.8, 0.2), (0.5, 0.5), (0.2, 0.8)):
        m = master(shelf=1, case_pack=0.1, min_order=0.1, cost=cost)
        m.holding_cost[:] = 0.0
        out = orders_from_paths(paths, np.zeros((1, 3)), np.zeros((1, 2)), m, np.array([1]), np.array([True]))
        assert out.order_qty[0] == pytest.approx(10.0 * fractile, abs=0.11)


def test_stock_that_expires_before_the_delivery_does_not_count():
    paths = np.full((1, 1, D), 1.0, np.float32)
    m = master(shelf=2, case_pack=0.1, min_order=0.1, lead=2)
    on_hand = np.zeros((1, 3))
    on_hand[0, 1] = 5.0  # expires tonight after tomorrow: gone before an order placed today arrives
    out = orders_from_paths(paths, on_hand, np.zeros((1, 3)), m, np.array([1]), np.array([True]))
    assert out.usable_at_delivery[0] == 0.0
    assert out.order_qty[0] == pytest.approx(1.0)
    on_hand[0, 1], on_hand[0, 2] = 0.0, 5.0  # now it lasts until the delivery: 3 left after two days
    out = orders_from_paths(paths, on_hand, np.zeros((1, 3)), m, np.array([1]), np.array([True]))
    assert out.usable_at_delivery[0] == pytest.approx(3.0)
    assert out.order_qty[0] == 0.0


def test_order_up_to_rounds_to_cases_and_respects_the_minimum():
    m = master(n=4, case_pack=0.5, min_order=1.0)
    path = np.ones((4, D))
    on_hand = np.zeros((4, 3))
    on_hand[3, 2] = 2.0  # one unit sells today, one is left when the delivery comes
    target = np.array([3.2, 1.4, 0.3, 2.0])
    out = order_up_to(path, target, on_hand, np.zeros((4, 2)), m, np.ones(4, bool))
    assert out.usable_at_delivery.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert out.order_qty.tolist() == [3.0, 1.5, 0.0, 1.0]


def test_optimal_orders_from_quantiles_is_deterministic_and_grows_with_demand():
    levels = (0.1, 0.5, 0.9)
    base = np.array([0.5, 1.0, 1.6])
    quantiles = np.stack([np.tile(base * s, (7, 1)) for s in (1.0, 2.0, 4.0)]).astype(np.float32)
    m = master(n=3, case_pack=0.1, min_order=0.1)
    args = (quantiles, levels, np.zeros((3, 3)), np.zeros((3, 2)), m, np.ones(3, np.int64), np.ones(3, bool))
    a, b = optimal_orders(*args), optimal_orders(*args)
    assert np.array_equal(a.order_qty, b.order_qty)
    assert a.order_qty[0] < a.order_qty[1] < a.order_qty[2]
    assert (a.order_qty > 0).all()


def test_scenario_quantiles_follow_the_forecast():
    levels = np.array([0.1, 0.5, 0.9])
    q = np.array([[[1.0, 2.0, 4.0]]], np.float32)
    u = scenario_uniforms(20_000, 1, 0.5, 0)
    draws = K.demand_scenarios(q, levels, u)[0, :, 0]
    assert np.quantile(draws, [0.1, 0.5, 0.9]) == pytest.approx([1.0, 2.0, 4.0], rel=0.05)
    assert draws.min() >= 0


def test_paths_drawn_only_for_the_days_each_line_reads_give_the_same_orders():
    """optimal_orders draws each line's demand paths only for its `line_days`; orders from
    paths drawn for every day are the same to the bit (nothing reads the days left out)."""
    rng = np.random.default_rng(3)
    n, levels = 60, (0.1, 0.5, 0.9)
    m = master(n=n)
    m.shelf_life_days = rng.integers(1, 8, n)
    m.lead_time_days = rng.integers(1, 3, n)
    review = rng.integers(1, 4, n)
    base = rng.gamma(2.0, 2.0, (n, 7, 1)) * np.array([0.5, 1.0, 1.8])
    quantiles = base.astype(np.float32)
    on_hand, on_order = rng.uniform(0, 3, (n, 8)) * (rng.random((n, 8)) < 0.3), np.zeros((n, 3))
    can_order = rng.random(n) < 0.8
    got = optimal_orders(quantiles, levels, on_hand, on_order, m, review, can_order)
    D = days_needed(m, review)
    paths = K.demand_scenarios(np.ascontiguousarray(weekly_extend(quantiles, D), np.float32), np.array(levels),
                               scenario_uniforms(N_SCENARIOS, D, CORRELATION, 0))  # fmt: skip
    full = orders_from_paths(paths, on_hand, on_order, m, review, can_order)
    assert (line_days(m, review) < D).any() and (got.order_qty > 0).any()
    for f in ("order_qty", "usable_at_delivery", "expected_waste", "expected_fill_rate"):
        assert np.array_equal(getattr(got, f), getattr(full, f)), f


def test_scenario_uniforms_have_exact_marginals_and_the_copula_dependence():
    """Every day holds each mid-point (k + 0.5) / K once (no sampling error shared by all
    lines); days are rank-correlated as the Gaussian copula says (Spearman = 6/pi asin(r/2))."""
    K = 4000
    u = scenario_uniforms(K, 3, 0.5, 7)
    for d in range(3):
        assert np.allclose(np.sort(u[:, d]), (np.arange(K) + 0.5) / K)
    rho = np.corrcoef(u[:, 0], u[:, 2])[0, 1]
    assert rho == pytest.approx(6 / np.pi * np.arcsin(0.25), abs=0.04)
    assert abs(np.corrcoef(*scenario_uniforms(K, 2, 0.0, 7).T)[0, 1]) < 0.05
    assert np.array_equal(u, scenario_uniforms(K, 3, 0.5, 7))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5))
def test_selling_conserves_units(seed, shelf):
    """received = sold + wasted + stock left, day after day, for any deliveries and demand."""
    rng = np.random.default_rng(seed)
    n, days = 5, 12
    stock = np.zeros((n, days + shelf + 1))
    shelves = np.full(n, shelf, np.int64)
    received = sold = wasted = 0.0
    for d in range(days):
        q = rng.gamma(1.0, 2.0, n) * (rng.random(n) < 0.7)
        stock[np.arange(n), d + shelf - 1] += q  # arrives today
        received += q.sum()
        s, lost, w, left = K.sell_day(stock, shelves, d, rng.gamma(1.0, 2.0, n))
        sold += s.sum()
        wasted += w.sum()
        assert (s >= 0).all() and (lost >= 0).all() and (w >= 0).all()
        assert received == pytest.approx(sold + wasted + left.sum())


def test_a_budget_caps_the_spend_and_drops_the_least_valuable_cases():
    levels = (0.1, 0.5, 0.9)
    base = np.array([0.5, 1.0, 1.6])
    quantiles = np.stack([np.tile(base * s, (7, 1)) for s in (1.0, 2.0, 4.0, 3.0)]).astype(np.float32)
    m = master(n=4, case_pack=0.1, min_order=0.1)
    m.unit_cost[:] = [0.6, 0.6, 0.6, 0.8]
    args = (quantiles, levels, np.zeros((4, 3)), np.zeros((4, 2)), m, np.ones(4, np.int64), np.ones(4, bool))
    free = optimal_orders(*args)
    group = np.array([0, 0, 0, 1])
    spend = np.bincount(group, free.order_qty * m.unit_cost)
    budget = np.array([0.5 * spend[0], spend[1] + 1.0])  # store 0 must halve its spend; store 1 fits
    capped = optimal_orders(*args, budget_group=group, budget=budget)
    capped_spend = np.bincount(group, capped.order_qty * m.unit_cost)
    assert capped_spend[0] <= budget[0] + 1e-9
    assert capped_spend[0] > 0.8 * budget[0]  # not far below: the budget is used
    assert capped.order_qty[3] == free.order_qty[3]  # the store within budget is untouched
    assert (capped.order_qty[:3] <= free.order_qty[:3] + 1e-9).all()


# ---- orders that count on the last day's markdowns


def test_the_orders_value_of_a_last_day_markdown_is_the_markdown_programmes():
    # one day of stock and a demand known exactly: the markdown programme is exact there, so the
    # money the order model expects a markdown to add must equal the programme's own gain
    from freshcast.optimize.markdown import last_day_markdowns, plan_markdowns

    rng = np.random.default_rng(3)
    n = 400
    units, demand = rng.uniform(0, 12, n), rng.uniform(0.2, 8, n)
    el, deepest, share = rng.uniform(-4, 0, n), rng.choice([0.0, 0.2, 0.5], n), rng.choice([0.0, 0.3], n)
    m = master(n, cost=0.6)
    m.salvage_value[:] = rng.choice([0.0, 0.15, 0.45], n)
    plan = plan_markdowns(np.repeat(demand[:, None, None], 5, axis=2)[:, :1], (0.1, 0.3, 0.5, 0.7, 0.9),
                          units[:, None], m, el, deepest, evening_share=share)  # fmt: skip
    md = last_day_markdowns(m, el, deepest, share)
    gain = [K.markdown_gain(units[i : i + 1], demand[i : i + 1], md.price[i], md.lift[i], share[i], m.salvage_value[i])
            for i in range(n)]  # fmt: skip
    assert np.allclose(gain, plan.expected_revenue - plan.expected_revenue_kept, atol=1e-9)
    assert np.all(np.asarray(gain) >= 0) and np.sum(np.asarray(gain) > 1e-9) > n // 4


@settings(max_examples=60, deadline=None)
@given(lines, st.sampled_from([0.1, 0.3, 0.5]), st.sampled_from([0.0, 0.25]))
def test_counting_on_markdowns_without_a_price_response_changes_nothing(x, deepest, share):
    # (with a response the order is usually larger, not always: a markdown also prices the units
    # that would have sold at the regular price, so more stock can make it worth less; 24 of
    # 3,000 random lines ordered one or two cases less)
    from freshcast.optimize.markdown import last_day_markdowns

    plain, m = plan(x)
    args = (paths_from(x["seed"], x["level"]), np.asarray([x["on_hand"]], float), np.zeros((1, 3)), m,
            np.array([x["review"]]), np.array([True]))  # fmt: skip
    flat = orders_from_paths(*args, markdowns=last_day_markdowns(m, np.zeros(1), np.array([deepest]), np.array([share])))
    assert flat.order_qty[0] == plain.order_qty[0]


def test_counting_on_markdowns_finds_the_cheapest_order_of_a_cost_that_is_not_convex():
    from freshcast.optimize.markdown import last_day_markdowns

    rng = np.random.default_rng(5)
    for trial in range(40):
        shelf = int(rng.integers(1, 4))
        m = master(1, shelf=shelf, case_pack=0.5, min_order=0.5, cost=0.7)
        paths = rng.gamma(2.0, rng.uniform(0.5, 4) / 2.0, size=(1, 16, D)).astype(np.float32)
        md = last_day_markdowns(m, np.array([rng.uniform(-4, -1)]), np.array([0.5]), np.array([0.3]))
        got = orders_from_paths(paths, np.zeros((1, 6)), np.zeros((1, 3)), m, np.array([1]), np.array([True]),
                                markdowns=md).order_qty[0]  # fmt: skip
        # the expected cost of every quantity on the case grid, worked out here path by path
        def cost(q):
            total, units, demand = 0.0, [], []
            for k in range(paths.shape[1]):
                p = paths[0, k].astype(np.float64)
                life = p[1 : 1 + shelf].sum()
                before = p[1:shelf].sum()
                total += m.lost_margin[0] * max(p[1] - q, 0.0) + m.waste_cost[0] * max(q - life, 0.0)
                total += sum(m.holding_cost[0] * max(q - p[1 : 2 + j].sum(), 0.0) for j in range(shelf - 1))
                units.append(max(q - before, 0.0))
                demand.append(life - before)
            gain = K.markdown_gain(np.array(units), np.array(demand), md.price[0], md.lift[0], md.evening_share[0], 0.0)
            return total / paths.shape[1] - gain

        grid = np.arange(0, 80) * 0.5
        costs = np.array([cost(q) for q in grid])
        assert abs(cost(got) - costs.min()) < 1e-6, trial
