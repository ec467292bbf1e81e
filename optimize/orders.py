"""Order quantities for perishable lines: the expected-cost optimum under a demand forecast
distribution, and the order-up-to rules it is compared with.

All functions take arrays with one row per store x product line. Stock is given as
``on_hand[i, e]`` (units expiring at the end of day e, day 0 = the planning day) and
``on_order[i, a]`` (units arriving on the morning of day a); see `optimize.kernels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernels as K
from .master import MasterData

N_SCENARIOS = 256
# Correlation of a line's demand surprises across days (Gaussian copula). Measured on the
# forecaster's held-out week of the shared data (normal scores of actual / forecast within
# forecast-size bins): 0.16-0.19 between consecutive days, falling to 0.06-0.10 six days apart.
CORRELATION = 0.15
CHUNK = 4096  # lines per block of demand scenarios (bounds memory: CHUNK x N_SCENARIOS x days)
BISECTIONS = 30  # steps of the search for a budget's price per unit of money


@dataclass
class OrderLines:
    """One decision per line, with why: order_qty = what to order (units); target_stock =
    usable_at_delivery + order_qty, the stock the order brings the line up to on arrival;
    usable_at_delivery = stock held or ordered that is still sellable on arrival (expected);
    expected_waste = units of this order expected to expire unsold; expected_fill_rate =
    share of the demand between this delivery and the next one expected to be met."""

    order_qty: np.ndarray
    usable_at_delivery: np.ndarray
    expected_waste: np.ndarray
    expected_fill_rate: np.ndarray

    @property
    def target_stock(self) -> np.ndarray:
        return self.usable_at_delivery + self.order_qty


@dataclass
class LastDayMarkdowns:
    """What the markdowns of a batch's last day can sell, per line, for orders that count on
    them (`optimize.markdown.last_day_markdowns` builds it from the price response): price
    and demand multiplier (n, J) at the ladder steps the line may use (step 0 the regular
    price; a line with fewer steps repeats its deepest), and the share of a day's demand
    after the evening hour (n,; 0: no evening step)."""

    price: np.ndarray
    lift: np.ndarray
    evening_share: np.ndarray

    def take(self, rows: np.ndarray) -> LastDayMarkdowns:
        return LastDayMarkdowns(self.price[rows], self.lift[rows], self.evening_share[rows])

    @classmethod
    def none(cls, master: MasterData) -> LastDayMarkdowns:
        """No markdowns: units left on their last day are thrown away."""
        n = len(master.unit_cost)
        return cls(master.regular_price.astype(np.float64)[:, None], np.ones((n, 1)), np.zeros(n))


def line_days(master: MasterData, review: np.ndarray) -> np.ndarray:
    """Days of demand each line's order decision looks at: until the later of the next
    delivery and the end of this delivery's shelf life."""
    return master.lead_time_days + np.maximum(review, master.shelf_life_days)


def days_needed(master: MasterData, review: np.ndarray) -> int:
    """Days of demand the order decisions of all lines look at (the most of `line_days`)."""
    return int(np.max(line_days(master, review)))


def weekly_extend(x: np.ndarray, n_days: int) -> np.ndarray:
    """Extend forecasts of H days (axis 1) to `n_days`, repeating the value of the same
    weekday of the last forecast week (the last day when H < 7)."""
    H = x.shape[1]
    idx = np.arange(n_days)
    while (idx >= H).any():
        idx = np.where(idx >= H, idx - 7 if H >= 7 else H - 1, idx)
    return x[:, idx]


def scenario_uniforms(n_scenarios: int, n_days: int, correlation: float, seed: int) -> np.ndarray:
    """Probabilities (K, D) of a Gaussian copula: each scenario shares one shock across days
    with weight `correlation`. Each day's column holds exactly the K mid-points (k + 0.5) / K,
    ordered by the ranks of the copula's draws: every line shares these paths, so a plain
    sample's error would tilt every line's order the same way; with exact marginals only the
    dependence between days is sampled. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    z = math.sqrt(correlation) * rng.standard_normal((n_scenarios, 1))
    z = z + math.sqrt(1 - correlation) * rng.standard_normal((n_scenarios, n_days))
    ranks = np.argsort(np.argsort(z, axis=0, kind="stable"), axis=0, kind="stable")
    return (ranks + 0.5) / n_scenarios


def _check_stock(on_hand: np.ndarray, on_order: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    on_hand = np.ascontiguousarray(on_hand, np.float64)
    on_order = np.ascontiguousarray(on_order, np.float64)
    if on_hand.shape[0] != n or on_order.shape[0] != n:
        raise ValueError("on_hand and on_order need one row per line")
    return on_hand, on_order


def orders_from_paths(
    paths: np.ndarray,
    on_hand: np.ndarray,
    on_order: np.ndarray,
    master: MasterData,
    review: np.ndarray,
    can_order: np.ndarray,
    service_weight: float = 1.0,
    fixed: np.ndarray | None = None,
    per_unit: np.ndarray | None = None,
    markdowns: LastDayMarkdowns | None = None,
) -> OrderLines:
    """Expected-cost orders given demand paths (n, K, D): K equally likely futures per line
    (K = 1 with the real demand gives the perfect-foresight order). `service_weight` scales
    the cost of unmet demand (above 1 buys a higher fill rate at more waste). Lines with a
    `fixed` quantity (not NaN) keep it and get its expected waste and fill rate; `per_unit`
    adds a cost per unit ordered (the shadow price of a budget, see `optimal_orders`). With
    `markdowns`, units left on their last day are valued at what that day's best markdown
    sells them for (expected_waste stays the units left before any markdown)."""
    n = paths.shape[0]
    on_hand, on_order = _check_stock(on_hand, on_order, n)
    md = LastDayMarkdowns.none(master) if markdowns is None else markdowns
    if paths.shape[2] < days_needed(master, review):
        raise ValueError(f"demand paths cover {paths.shape[2]} days, {days_needed(master, review)} needed")
    q, usable, waste, fill = K.order_quantities(
        on_hand, on_order, master.shelf_life_days, master.lead_time_days, np.asarray(review, np.int64),
        np.ascontiguousarray(paths, np.float32), service_weight * master.lost_margin, master.waste_cost,
        master.holding_cost, np.zeros(n) if per_unit is None else per_unit, master.case_pack, master.min_order_qty,
        master.capacity,
        np.asarray(can_order, np.bool_), np.full(n, np.nan) if fixed is None else np.asarray(fixed, np.float64),
        np.ascontiguousarray(md.price, np.float64), np.ascontiguousarray(md.lift, np.float64),
        np.asarray(md.evening_share, np.float64), master.salvage_value.astype(np.float64),
    )  # fmt: skip
    return OrderLines(q, usable, waste, fill)


def optimal_orders(
    quantiles: np.ndarray,
    levels: tuple[float, ...],
    on_hand: np.ndarray,
    on_order: np.ndarray,
    master: MasterData,
    review: np.ndarray,
    can_order: np.ndarray,
    service_weight: float = 1.0,
    budget_group: np.ndarray | None = None,
    budget: np.ndarray | None = None,
    n_scenarios: int = N_SCENARIOS,
    correlation: float = CORRELATION,
    seed: int = 0,
    markdowns: LastDayMarkdowns | None = None,
) -> OrderLines:
    """Expected-cost orders from daily forecast quantiles (n, H, J) at `levels` (at least
    two, e.g. 0.1, 0.5, 0.9), day 0 = the planning day. Demand paths are drawn from the
    quantiles (piecewise-linear inside, exponential upper tail) with a shared shock per path
    (`correlation`); days past H repeat the forecast of the same weekday (`weekly_extend`).

    With a `budget` (money per group, e.g. per store) and each line's `budget_group`, a
    group whose orders would cost more gets a price per unit of money spent, raised by
    bisection until its orders fit: the cases dropped are those that save least per unit of
    money. `markdowns`: orders that count on the last day's markdowns (`orders_from_paths`)."""
    levels = np.asarray(levels, np.float64)
    if len(levels) < 2 or quantiles.shape[2] != len(levels):
        raise ValueError("optimal_orders needs forecast quantiles at two or more levels")
    D = days_needed(master, review)
    q = np.ascontiguousarray(weekly_extend(quantiles, D), np.float32)
    u = scenario_uniforms(n_scenarios, D, correlation, seed)
    read = line_days(master, review)

    def solve(rows: np.ndarray, per_unit: np.ndarray | None) -> OrderLines:
        parts = []
        for a in range(0, len(rows), CHUNK):
            r = rows[a : a + CHUNK]
            parts.append(
                orders_from_paths(
                    K.demand_scenarios(q[r], levels, u, read[r]), on_hand[r], on_order[r], master.take(r), review[r],
                    can_order[r], service_weight, per_unit=None if per_unit is None else per_unit[a : a + CHUNK],
                    markdowns=None if markdowns is None else markdowns.take(r),
                )  # fmt: skip
            )
        return OrderLines(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    out = solve(np.arange(len(q)), None)
    if budget is None:
        return out
    cost = master.unit_cost
    spend = np.bincount(budget_group, out.order_qty * cost, minlength=len(budget))
    over = np.flatnonzero(spend > budget + 1e-9)
    if len(over) == 0:
        return out
    rows = np.flatnonzero(np.isin(budget_group, over))
    group = np.searchsorted(over, budget_group[rows])
    lo = np.zeros(len(over))
    hi = np.full(len(over), float(np.max(service_weight * master.lost_margin / np.maximum(cost, 1e-9))) + 1.0)
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        trial = solve(rows, mid[group] * cost[rows])
        fits = np.bincount(group, trial.order_qty * cost[rows], minlength=len(over)) <= budget[over] + 1e-9
        hi, lo = np.where(fits, mid, hi), np.where(fits, lo, mid)
    final = solve(rows, hi[group] * cost[rows])
    for f in _FIELDS:
        getattr(out, f)[rows] = getattr(final, f)
    return out


def order_up_to(
    path: np.ndarray,
    target: np.ndarray,
    on_hand: np.ndarray,
    on_order: np.ndarray,
    master: MasterData,
    can_order: np.ndarray,
) -> OrderLines:
    """Order-up-to rule: order what brings the usable stock on arrival to `target` (units),
    the stock on arrival being projected by selling the point forecast `path` (n, D) from
    today. Rounded to the nearest case; below half the minimum order nothing is ordered."""
    n = path.shape[0]
    on_hand, on_order = _check_stock(on_hand, on_order, n)
    paths = np.ascontiguousarray(path[:, None, :], np.float32)
    usable = K.usable_at_arrival(on_hand, on_order, master.shelf_life_days, master.lead_time_days, paths)
    cp = master.case_pack
    want = np.maximum(target - usable, 0.0)
    moq_cases = np.ceil(master.min_order_qty / cp - 1e-9)
    cases = np.floor(want / cp + 0.5)
    cases = np.where(cases < moq_cases, np.where(want >= master.min_order_qty / 2, moq_cases, 0.0), cases)
    cases = np.minimum(cases, np.floor(np.maximum(master.capacity - usable, 0.0) / cp + 1e-9))
    q = np.where(can_order & (cases >= moq_cases), cases * cp, 0.0)
    nan = np.full(n, np.nan)
    return OrderLines(q, usable, nan, nan)


_FIELDS = ("order_qty", "usable_at_delivery", "expected_waste", "expected_fill_rate")
