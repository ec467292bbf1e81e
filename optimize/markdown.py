"""Markdown prices for stock near its expiry date: today's price of every store x product from
a ladder of markdowns, and optionally a deeper evening step on a day when units expire.

Each line's plan maximises the expected revenue of the stock on hand (plus the salvage of what
is thrown away) over the days it keeps (`optimize.markdown_kernels`, a dynamic programme over
days x units left x markdown in force); the units were bought already, so this is the
expected gross margin with waste. Demand at a markdown is the forecast at the planned price
times the price response (`forecast.price_response`): (new price / planned price) **
elasticity, with the share a discount borrows from the next day. Prices never go above the
regular price, never deeper than the data supports for the line's category, never below the
unit cost except on a day when units expire (then not below salvage), and a markdown in
force only deepens while its stock lasts. At most `max_changes` label changes per store and
day (a day price and an evening step count as two): the changes worth most are kept, and a
line that no longer fits with its evening step gets its best day price alone if that fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import demand_scenarios
from .markdown_kernels import plan_markdowns as _plan
from .master import MasterData
from .orders import LastDayMarkdowns, weekly_extend

LADDER = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # share off the regular price; the first is the regular price
N_VALUES = 16  # equally likely demand values per day (the mid-point quantiles of the forecast)
MIN_GAIN = 0.0  # least expected gain of a label change, as a share of one unit's regular price


@dataclass
class MarkdownPlan:
    """Per line: the day's depth and the evening's (NaN: none), with why."""

    depth: np.ndarray  # share off the regular price today
    evening_depth: np.ndarray  # share off from the evening hour, NaN when there is no evening step
    price: np.ndarray  # today's price
    evening_price: np.ndarray  # NaN when there is no evening step
    units_expiring: np.ndarray  # units on hand that expire tonight
    expected_waste: np.ndarray  # units, with the plan
    expected_waste_kept: np.ndarray  # units, keeping the price in force
    expected_revenue: np.ndarray  # revenue + salvage of the stock on hand, with the plan
    expected_revenue_kept: np.ndarray  # the same keeping the price in force
    changed: np.ndarray  # bool: the label changes today (day or evening)

    @property
    def gain(self) -> np.ndarray:
        return self.expected_revenue - self.expected_revenue_kept


def plan_markdowns(
    quantiles: np.ndarray,
    levels,
    on_hand: np.ndarray,
    master: MasterData,
    elasticity: np.ndarray,
    deepest: np.ndarray,
    depth_in_force: np.ndarray | None = None,
    evening_share: np.ndarray | None = None,
    borrowed: float = 0.0,
    ladder=LADDER,
    store: np.ndarray | None = None,
    max_changes: int | None = None,
    planned_ratio: np.ndarray | None = None,
    evening: bool = False,
    day_changes: np.ndarray | int = 1,
    evening_changes: int = 1,
    min_gain: float = 0.0,
) -> MarkdownPlan:
    """Markdowns of n lines.

    quantiles (n, D, L) : daily demand quantiles at `levels` at the regular price (units), day 0
        = today; repeated weekly when the stock keeps longer than D days.
    on_hand (n, E) : units expiring at the end of day e (0 = tonight).
    elasticity, deepest (n,) : the line's price response and deepest supported depth.
    depth_in_force (n,) : the markdown the label shows now for stock still on hand (0: none);
        it may only deepen. Rounded down to the ladder.
    evening_share (n,) : share of a day's demand still to come after the evening hour (None:
        no evening step).
    borrowed : response of a day's demand to yesterday's log price (>= 0; `PriceResponse`'s
        `log_price_yesterday`); a discount today lowers tomorrow's demand by r ** borrowed.
    store, max_changes : at most `max_changes` label changes per store, a day price counting
        `day_changes` (per line, or one number) and an evening step `evening_changes` (the
        largest gains first).
    planned_ratio (n,) : price / regular price the forecast assumed (a central promotion;
        default 1): a markdown step prices at the lower of it and the step's price, and
        demand moves by (that price / the planned one) ** elasticity.
    evening : plan the evening step at the evening hour: `on_hand` is the stock left then,
        day 0 of `quantiles` the evening's demand; the price chosen holds until the morning,
        when the label returns to `depth_in_force` (returned as `depth`; no evening depth).
    min_gain : least expected gain of a label change over keeping the price in force, as a
        share of one unit's regular price: a markdown worth less is not made."""
    n, E = on_hand.shape
    ladder = np.asarray(ladder, np.float64)
    if ladder[0] != 0 or np.any(np.diff(ladder) <= 0) or ladder[-1] >= 1:
        raise ValueError(f"the markdown ladder must start at 0 and deepen below 1, got {list(ladder)}")
    q = np.ascontiguousarray(weekly_extend(np.asarray(quantiles, np.float32), E), np.float32)
    uniforms = np.tile(((np.arange(N_VALUES) + 0.5) / N_VALUES)[:, None], (1, E))
    demand = demand_scenarios(q, np.asarray(levels, np.float64), uniforms).astype(np.float64)
    planned = np.ones(n) if planned_ratio is None else np.clip(np.asarray(planned_ratio, np.float64), 1e-6, 1.0)
    ratio = np.minimum(1.0 - ladder[None, :], planned[:, None])
    lift = (ratio / planned[:, None]) ** np.minimum(elasticity, 0.0)[:, None]
    carry = np.ascontiguousarray((ratio / planned[:, None]) ** max(borrowed, 0.0))
    price = master.regular_price[:, None] * ratio
    allowed = np.broadcast_to(ladder[None, :] <= np.asarray(deepest)[:, None] + 1e-9, (n, len(ladder)))
    force = np.zeros(n) if depth_in_force is None else np.asarray(depth_in_force, np.float64)
    floor = np.searchsorted(ladder, force + 1e-9, side="right") - 1
    share = np.zeros(n) if evening_share is None else np.asarray(evening_share, np.float64)
    args = (np.ascontiguousarray(on_hand, np.float64), demand, np.ascontiguousarray(lift), np.ascontiguousarray(carry),
            np.ascontiguousarray(price), master.unit_cost.astype(np.float64), master.salvage_value.astype(np.float64),
            np.ascontiguousarray(allowed), share if not evening else np.zeros(n), floor.astype(np.int64))  # fmt: skip
    step, evening, value, waste, value_kept, waste_kept = _plan(*args, evening)
    changed = (step != floor) | (evening >= 0)
    if min_gain > 0:  # (0: no test at all, not even of a gain 1e-16 below keeping the label)
        small = changed & (value - value_kept < min_gain * master.regular_price)
        step, evening = np.where(small, floor, step), np.where(small, -1, evening)
        value, waste, changed = np.where(small, value_kept, value), np.where(small, waste_kept, waste), changed & ~small
    if max_changes is not None and store is not None:
        store, day_n = np.asarray(store), np.broadcast_to(np.asarray(day_changes, np.int64), (n,))
        changes = (step != floor) * day_n + (evening >= 0) * int(evening_changes)
        # a line with a day price and an evening step may instead take its best day price alone
        both = np.flatnonzero((step != floor) & (evening >= 0) & (changes > day_n) & (day_n > 0))
        sub = [a[both] for a in args[:-2]] + [np.zeros(len(both)), args[-1][both]]
        step_d, _, value_d, waste_d, _, _ = _plan(*(np.ascontiguousarray(a) for a in sub), False)
        alone = (step_d != floor[both]) & (value_d > value_kept[both])
        line = np.r_[np.arange(n), both[alone]]
        pick = _top_per_store(store[line], line, np.r_[value - value_kept, value_d[alone] - value_kept[both][alone]],
                              np.r_[changes, day_n[both][alone]], max_changes, n)  # fmt: skip
        keep = pick >= 0
        keep |= changed & (changes == 0)
        undo = changed & ~keep
        step, evening = np.where(undo, floor, step), np.where(undo, -1, evening)
        value, waste = np.where(undo, value_kept, value), np.where(undo, waste_kept, waste)
        at = np.flatnonzero(pick >= n)  # lines given their day price alone
        k = pick[at] - n
        step[at], evening[at] = step_d[alone][k], -1
        value[at], waste[at] = value_d[alone][k], waste_d[alone][k]
        changed = keep
    rows = np.arange(n)
    has_evening = evening >= 0
    ev = np.where(has_evening, evening, 0)
    return MarkdownPlan(
        depth=ladder[step], evening_depth=np.where(has_evening, ladder[ev], np.nan),
        price=price[rows, step], evening_price=np.where(has_evening, price[rows, ev], np.nan),
        units_expiring=np.asarray(on_hand[:, 0], np.float64), expected_waste=waste, expected_waste_kept=waste_kept,
        expected_revenue=value, expected_revenue_kept=value_kept, changed=changed,
    )  # fmt: skip


def last_day_markdowns(master: MasterData, elasticity: np.ndarray, deepest: np.ndarray,
                       evening_share: np.ndarray | None = None, ladder=LADDER) -> LastDayMarkdowns:  # fmt: skip
    """The markdowns `plan_markdowns` may set on a batch's last day, for orders that count on
    them: the ladder's steps down to the line's deepest supported depth (below cost allowed,
    as on any expiring day), demand x (1 - step) ** elasticity, at the regular price of the
    day (a central promotion planned for that day is not known to the order)."""
    ladder = np.asarray(ladder, np.float64)
    n_allowed = np.searchsorted(ladder, np.asarray(deepest, np.float64) + 1e-9, side="right")
    step = np.minimum(np.arange(len(ladder))[None, :], np.maximum(n_allowed, 1)[:, None] - 1)
    ratio = 1.0 - ladder[step]
    return LastDayMarkdowns(
        price=master.regular_price[:, None] * ratio,
        lift=ratio ** np.minimum(np.asarray(elasticity, np.float64), 0.0)[:, None],
        evening_share=np.zeros(len(step)) if evening_share is None else np.asarray(evening_share, np.float64),
    )  # fmt: skip


def oldest_expiry(on_hand: np.ndarray) -> np.ndarray:
    """Days from day 0 to the expiry of the oldest units of each line's stock by expiry (0
    without stock)."""
    held = on_hand > 0
    return np.where(held.any(axis=1), held.argmax(axis=1), 0)


def _top_per_store(store: np.ndarray, line: np.ndarray, gain: np.ndarray, changes: np.ndarray, limit: int,
                   n_lines: int) -> np.ndarray:  # fmt: skip
    """The option each line takes (-1: none), of options (a line's `changes` label changes for
    `gain`, a line having one or two options): per store, from the largest gain down (ties:
    the first option), each option of a line without one yet whose changes still fit within
    `limit`."""
    order = np.lexsort((np.arange(len(store)), -gain, store))
    pick = np.full(n_lines, -1, np.int64)
    used: dict = {}
    for i in order[changes[order] > 0]:
        if pick[line[i]] < 0 and used.get(store[i], 0) + changes[i] <= limit:
            pick[line[i]] = i
            used[store[i]] = used.get(store[i], 0) + changes[i]
    return pick
