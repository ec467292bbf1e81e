import numpy as np
from hypothesis import given, settings, strategies as st

from freshcast.optimize.markdown import LADDER, plan_markdowns
from freshcast.optimize.master import MasterData

LEVELS = (0.02, 0.25, 0.5, 0.75, 0.98)


def master(n, cost=0.6, salvage=0.0, price=1.0):
    one = np.ones(n)
    return MasterData(
        shelf_life_days=np.full(n, 3, np.int64), case_pack=one, min_order_qty=one * 0, unit_cost=one * cost,
        regular_price=one * price, salvage_value=one * salvage, holding_cost=one * 0.0,
        lead_time_days=np.ones(n, np.int64), order_weekdays=np.full(n, 127, np.int64),
        supplier_id=np.zeros(n, np.int64), capacity=one * np.inf,
    )  # fmt: skip


def quantiles(mean, days, spread=0.5):
    """(n, days, 5) quantiles around `mean` (n,) of relative width `spread`."""
    z = np.array([-2.0, -0.67, 0.0, 0.67, 2.0]) * spread / 2
    q = np.maximum(mean[:, None] * (1 + z[None, :]), 0)
    return np.repeat(q[:, None, :], days, axis=1)


def instance(seed, n=40, E=3):
    rng = np.random.default_rng(seed)
    on_hand = rng.uniform(0, 8, (n, E)) * (rng.random((n, E)) < 0.7)
    mean = rng.uniform(0.5, 6, n)
    return on_hand, quantiles(mean, E, rng.uniform(0.2, 1.2)), rng.uniform(-3, -0.5, n), rng.choice([0.1, 0.3, 0.5], n)


def run(on_hand, q, el, deepest, m=None, **kw):
    n = len(on_hand)
    return plan_markdowns(q, LEVELS, on_hand, m or master(n), el, deepest, **kw)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.4), st.floats(0.0, 0.5))
def test_rules_hold(seed, salvage, evening):
    on_hand, q, el, deepest = instance(seed)
    n = len(on_hand)
    in_force = np.random.default_rng(seed + 1).choice([0.0, 0.0, 0.1, 0.2], n)
    m = master(n, salvage=salvage)
    p = run(on_hand, q, el, deepest, m, depth_in_force=in_force, evening_share=np.full(n, evening))
    assert np.all(p.price <= m.regular_price + 1e-12)  # never above the regular price
    assert np.all(p.depth >= in_force - 1e-12)  # a markdown in force only deepens
    assert np.all((p.depth <= deepest + 1e-9) | (p.depth == in_force))  # never deeper than supported
    expiring = on_hand[:, 0] > 0
    assert np.all((p.price >= m.unit_cost - 1e-12) | expiring | (p.depth == in_force))  # cost floor
    has_evening = np.isfinite(p.evening_depth)
    assert not np.any(has_evening & ~expiring) and (evening > 0 or not has_evening.any())
    assert np.all(p.evening_depth[has_evening] > p.depth[has_evening])
    assert np.all(p.evening_price[has_evening] >= salvage - 1e-12)
    assert np.all(p.expected_revenue >= p.expected_revenue_kept - 1e-9)  # keeping the price is one option
    assert np.all(p.changed == ((p.depth != in_force) | has_evening))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.001, 0.2), st.floats(0.5, 3.0))
def test_a_markdown_worth_less_than_the_least_gain_is_not_made(seed, min_gain, price):
    """Every label change kept is expected to earn at least `min_gain` x one unit's regular
    price more than keeping the label; the others keep it, and the changes are those of the
    plan without the least gain that earn that much."""
    on_hand, q, el, deepest = instance(seed)
    n = len(on_hand)
    m = master(n, cost=0.6 * price, price=price)
    share = np.full(n, 0.2)
    free = run(on_hand, q, el, deepest, m, evening_share=share)
    p = run(on_hand, q, el, deepest, m, evening_share=share, min_gain=min_gain)
    gain = free.expected_revenue - free.expected_revenue_kept
    assert np.array_equal(p.changed, free.changed & (gain >= min_gain * price))
    assert np.all(p.gain[p.changed] >= min_gain * price) and np.all(p.depth[~p.changed] == 0)
    assert np.all(np.isnan(p.evening_depth[~p.changed]))
    undone = free.changed & ~p.changed  # valued as keeping the label
    assert np.allclose(p.expected_revenue[undone], p.expected_revenue_kept[undone])
    for name in ("depth", "evening_depth", "expected_revenue", "expected_waste"):
        assert np.allclose(getattr(p, name)[p.changed], getattr(free, name)[p.changed], equal_nan=True), name


def test_the_least_gain_defaults_agree_in_the_command_the_api_and_the_nightly_config():
    import inspect

    from freshcast import api, cli
    from freshcast.nightly.config import SCHEMA
    from freshcast.optimize.markdown import MIN_GAIN
    from freshcast.optimize.pricing import plan_prices

    assert inspect.signature(plan_prices).parameters["min_gain"].default == MIN_GAIN
    assert inspect.signature(api.plan_prices).parameters["min_gain"].default == MIN_GAIN
    assert inspect.signature(cli.plan_prices).parameters["min_gain"].default == MIN_GAIN
    assert SCHEMA["prices"]["min_gain"].default == MIN_GAIN


def test_no_stock_at_risk_no_markdown():
    n = 30
    rng = np.random.default_rng(0)
    on_hand = np.zeros((n, 3))
    on_hand[:, 0] = rng.uniform(0, 4, n)  # far below the least demand (about 10) before it expires
    on_hand[:, 2] = rng.uniform(0, 9, n)
    p = run(on_hand, quantiles(np.full(n, 12.0), 3, 0.2), np.full(n, -2.0), np.full(n, 0.5),
            evening_share=np.full(n, 0.3))  # fmt: skip
    assert np.all(p.depth == 0) and not np.isfinite(p.evening_depth).any() and not p.changed.any()
    assert np.allclose(p.expected_waste, 0)


def test_overstock_is_marked_down_and_wastes_less():
    n = 5
    on_hand = np.zeros((n, 2))
    on_hand[:, 0] = 10.0  # expires tonight, demand about 4
    p = run(on_hand, quantiles(np.full(n, 4.0), 2, 0.4), np.full(n, -2.0), np.full(n, 0.5),
            evening_share=np.full(n, 0.3))  # fmt: skip
    assert np.all((p.depth > 0) | np.isfinite(p.evening_depth))
    assert np.all(p.expected_waste < p.expected_waste_kept) and np.all(p.gain > 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 10.0))
def test_more_units_expiring_never_raises_the_price(seed, extra):
    # one day of stock: exact. Over several days the value of stock left is interpolated on
    # 24 levels; the property held on all 24,000 random lines tried (3 days, 200 seeds)
    on_hand, q, el, deepest = instance(seed, E=1)
    more = on_hand.copy()
    more[:, 0] += extra
    a, b = run(on_hand, q, el, deepest), run(more, q, el, deepest)
    assert np.all(b.price <= a.price + 1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.3, 0.9), st.floats(0.0, 0.5))
def test_higher_cost_never_deepens_before_the_last_day(seed, cost, more):
    # Stock that keeps until tomorrow at the latest: tomorrow is its last day, where the cost
    # floor does not apply, so a higher cost only takes today's deeper steps away. With more
    # days to go it does not hold: a floor that also binds on the later days can make an
    # earlier, deeper step the best (test below).
    on_hand, q, el, deepest = instance(seed, E=2)
    on_hand[:, 0] = 0  # nothing expires today
    n = len(on_hand)
    low = run(on_hand, q, el, deepest, master(n, cost=cost))
    high = run(on_hand, q, el, deepest, master(n, cost=min(cost + more, 0.99)))
    assert np.all(high.depth <= low.depth + 1e-12)


def test_over_several_days_a_higher_cost_can_deepen_todays_markdown():
    # found by hypothesis: 7.6 units keep two more days; at cost 0.375 the plan waits at 10%
    # off for 30% off tomorrow, at cost 0.75 30% is below cost tomorrow too, so 20% today
    on_hand, q, el, deepest = instance(231)
    on_hand[:, 0] = 0
    n = len(on_hand)
    low, high = run(on_hand, q, el, deepest, master(n, cost=0.375)), run(on_hand, q, el, deepest, master(n, cost=0.75))
    assert high.depth[30] > low.depth[30] and np.all(high.price >= 0.75 - 1e-12)


def test_label_changes_capped_per_store_keep_the_largest_gains():
    n = 40
    on_hand = np.zeros((n, 2))
    on_hand[:, 0] = np.linspace(5, 15, n)
    store = np.repeat([1, 2], n // 2)
    args = (quantiles(np.full(n, 4.0), 2, 0.4), np.full(n, -2.0), np.full(n, 0.5))
    free = run(on_hand, *args)
    capped = run(on_hand, *args, store=store, max_changes=3)
    for s in (1, 2):
        sel = store == s
        assert capped.changed[sel].sum() == min(3, free.changed[sel].sum())
        kept_gain = free.gain[sel & capped.changed]
        dropped = free.gain[sel & free.changed & ~capped.changed]
        assert len(dropped) == 0 or kept_gain.min() >= dropped.max()
    undone = free.changed & ~capped.changed
    assert np.all(capped.depth[undone] == 0) and np.allclose(capped.expected_revenue[undone], free.expected_revenue_kept[undone])


def test_a_line_too_many_with_its_evening_step_keeps_its_day_price_when_that_fits():
    n = 30
    stock = np.linspace(6, 14, n)
    mean, share = quantiles(np.full(n, 4.0), 2, 0.4), np.full(n, 0.3)
    first = run(np.c_[stock, np.zeros(n)], mean, np.full(n, -2.0), np.full(n, 0.5), evening_share=share)
    both = (first.depth > 0) & np.isfinite(first.evening_depth)  # a day price and an evening step: two changes
    n = int(both.sum())
    assert n >= 20
    on_hand, store = np.c_[stock[both], np.zeros(n)], np.arange(n) % 2
    args = (mean[both], np.full(n, -2.0), np.full(n, 0.5))
    free, day_only = run(on_hand, *args, evening_share=share[both]), run(on_hand, *args)  # day_only: no evening step
    for cap in (1, 3, 5):
        capped = run(on_hand, *args, evening_share=share[both], store=store, max_changes=cap)
        count = (capped.depth > 0) * 1 + np.isfinite(capped.evening_depth)
        assert np.bincount(store, count).tolist() == [cap, cap]  # odd caps: the last change a day price alone
        cut = capped.changed & ~np.isfinite(capped.evening_depth)
        assert cut.sum() == 2
        np.testing.assert_array_equal(capped.depth[cut], day_only.depth[cut])
        np.testing.assert_allclose(capped.expected_revenue[cut], day_only.expected_revenue[cut])
        whole = capped.changed & ~cut  # the largest gains kept whole, as planned
        np.testing.assert_array_equal(capped.evening_depth[whole], free.evening_depth[whole])
        assert whole.sum() == 2 * (cap // 2)
        gone = ~capped.changed
        assert np.allclose(capped.expected_revenue[gone], free.expected_revenue_kept[gone])


def test_a_day_price_alone_competes_at_its_own_gain_with_other_lines():
    """Cap 1: line A's day price with its evening step does not fit, its day price alone
    (gain 2.69) beats line B's day price (2.11): A takes its day price, B none."""
    n = 40
    stock = np.c_[np.linspace(3, 14, n), np.zeros(n)]
    args = (quantiles(np.full(n, 4.0), 2, 0.4), np.full(n, -2.0), np.full(n, 0.5))
    free, day = run(stock, *args, evening_share=np.full(n, 0.3)), run(stock, *args)
    with_evening = np.isfinite(free.evening_depth)
    a = np.flatnonzero((free.depth > 0) & with_evening)[-1]
    b = np.flatnonzero((free.depth > 0) & ~with_evening)[0]
    assert day.gain[a] > free.gain[b] > 0
    pair = np.array([a, b])
    capped = run(stock[pair], *(x[pair] for x in args), evening_share=np.full(2, 0.3), store=np.zeros(2, np.int64),
                 max_changes=1)  # fmt: skip
    assert capped.changed.tolist() == [True, False] and not np.isfinite(capped.evening_depth).any()
    assert capped.depth[0] == day.depth[a] and capped.gain[0] == day.gain[a]


def test_deterministic():
    on_hand, q, el, deepest = instance(7)
    a, b = run(on_hand, q, el, deepest), run(on_hand, q, el, deepest)
    assert np.array_equal(a.depth, b.depth) and np.array_equal(a.expected_revenue, b.expected_revenue)
    assert LADDER[0] == 0


def test_a_fresher_batch_does_not_stop_the_markdown_of_the_old_one():
    # the markdown ends with the batch it is for, so younger stock does not have to carry it
    n = 5
    on_hand = np.zeros((n, 4))
    on_hand[:, 0] = 10.0  # expires tonight, demand about 4 a day
    alone = run(on_hand.copy(), quantiles(np.full(n, 4.0), 4, 0.4), np.full(n, -2.0), np.full(n, 0.5))
    on_hand[:, 3] = 8.0  # a fresh batch that keeps three more days
    both = run(on_hand, quantiles(np.full(n, 4.0), 4, 0.4), np.full(n, -2.0), np.full(n, 0.5))
    assert np.all(alone.depth > 0) and np.all(both.depth > 0)
    assert np.all(both.expected_waste < both.expected_waste_kept)
