"""Replay ordering and markdown pricing together on real demand.

Every markdown policy runs its own replay with freshcast's orders (the optimizer), from the
same opening stock: each morning the deliveries arrive, the order is placed, the policy sets
the day's price (and an evening price from the evening hour, by default `EVENING_HOUR`), and
the day's demand is served first-in-first-out in two parts, before the evening hour and from
it on, split as that day's hourly demand fell (`PriceWorld.day_share`: freshcast's optimizer
decides the evening step from the stock left then and the line's usual share of the day's
demand after it; only the hindsight knows the day's own). Demand at a new price is the
demand at the logged price x (new price / logged price) ** (scale x elasticity): the
simulator's response is `scale` times the one freshcast estimated from the history before
the replay, while the optimizer always plans with the estimate (scale != 1: it is wrong, by
that much). A markdown never prices above the logged (possibly promotional) price.

Policies: `no_markdown`; `last_day_30` (30% off on a day when units expire); `ladder_30_60`
(30% off from the day before units expire, 60% from the evening hour on their last day);
`optimizer` (`optimize.markdown.plan_markdowns` on the day's forecast); `hindsight` (the same
programme knowing the demand of the days ahead and the simulator's true response).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FreshcastError
from ..optimize import kernels as K
from ..optimize.markdown import LADDER, MIN_GAIN, oldest_expiry, plan_markdowns
from ..optimize.master import MasterData
from .scoring import ending_stock, following_demand, held_by_expiry, ratios, with_ratios

EVENING_HOUR = 19  # the evening step's hour unless the replay is given another
HELD = 1e-9  # units: less is what selling a day in two parts leaves of a batch by rounding, not stock
MARKDOWN_POLICIES = ("no_markdown", "last_day_30", "ladder_30_60", "optimizer", "hindsight")


@dataclass
class PriceWorld:
    """What pricing in the replay runs on (arrays per line)."""

    elasticity: np.ndarray  # estimated (capped at 0), what the optimizer plans with
    deepest: np.ndarray  # deepest depth the line's category supports
    borrowed: float  # the estimate's response to yesterday's log price (>= 0)
    evening_share: np.ndarray  # share of a day's demand from the evening hour on, the line's usual profile
    logged: np.ndarray  # (n, T) price paid / regular price on each replayed day
    # (n, T) share of each replayed day's demand from the evening hour on as it happened (the day's own
    # hours): what the simulator serves then and the hindsight knows
    day_share: np.ndarray
    scale: float = 1.0  # the simulator's response = scale x the estimate

    def __post_init__(self):
        if self.scale <= 0:
            raise FreshcastError(f"the response scale must be above 0, got {self.scale}")

    def served_share(self, t: int) -> np.ndarray:
        """(n,) share of day t's demand from the evening hour on, as it happened."""
        return self.day_share[:, t]


def rule_depths(name: str, on_hand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(day depth, evening depth or NaN) of a fixed sticker rule from the stock by expiry."""
    n = len(on_hand)
    on_hand = on_hand > HELD
    last_day = on_hand[:, 0]
    nothing = np.full(n, np.nan)
    if name == "no_markdown":
        return np.zeros(n), nothing
    if name == "last_day_30":
        return np.where(last_day, 0.3, 0.0), nothing
    if name == "ladder_30_60":
        day_before = on_hand[:, 1] if on_hand.shape[1] > 1 else np.zeros(n, bool)
        return np.where(last_day | day_before, 0.3, 0.0), np.where(last_day, 0.6, np.nan)
    raise ValueError(f"unknown markdown rule {name}")


class MarkdownBook:
    """One markdown policy's prices and money over the replay."""

    def __init__(self, n: int, T: int):
        self.floor = np.zeros(n)  # depth in force (only deepens while its batch lasts)
        self.floor_batch = np.full(n, -1)  # absolute expiry day of the batch it is for
        self.shown = np.zeros(n)  # depth shown at the end of the previous day
        self.revenue = np.zeros(n)
        self.spend = np.zeros(n)
        self.demanded = np.zeros((n, T))
        self.changes = np.zeros(n, np.int64)

    def end_floor(self, stock: np.ndarray, t: int) -> None:
        """A markdown whose batch is gone ends."""
        batch = self.floor_batch
        col = np.clip(batch, 0, stock.shape[1] - 1)
        gone = (batch >= 0) & ((batch < t) | (stock[np.arange(len(batch)), col] <= 0))
        self.floor[gone], batch[gone] = 0.0, -1

    def set_floor(self, depth: np.ndarray, on_hand: np.ndarray, t: int) -> None:
        deeper = depth > self.floor + 1e-12
        self.floor_batch[deeper] = t + oldest_expiry(on_hand)[deeper]
        self.floor[deeper] = depth[deeper]

    def count(self, day: np.ndarray, evening: np.ndarray) -> None:
        """Count label changes from the markdowns in effect (share off the logged price) in
        the day and, NaN if none, from the evening hour."""
        has = np.isfinite(evening)
        self.changes += (np.abs(day - self.shown) > 1e-9).astype(np.int64) + (has & (np.abs(evening - day) > 1e-9))
        self.shown = np.where(has, evening, day)


def morning_price(policy: str, book: MarkdownBook, world: PriceWorld, t: int, on_hand: np.ndarray,
                  master: MasterData, quantiles: np.ndarray, levels) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(day depth, the rule's evening depth or NaN) of `policy` on the morning of replay day t;
    freshcast's and the hindsight's evening steps are decided at the evening hour
    (`evening_price`). `quantiles` (n, H, J) at `levels`: the demand ahead as the policy
    knows it (the forecast, or the actual demand for the hindsight)."""
    if policy not in ("optimizer", "hindsight"):
        return rule_depths(policy, on_hand)
    plan = _plan(policy, world, t, on_hand, master, quantiles, levels, book.floor, False)
    book.set_floor(np.where(1.0 - plan.depth < world.logged[:, t], plan.depth, 0.0), on_hand, t)  # in effect
    return plan.depth, np.full(len(on_hand), np.nan)


def evening_price(policy: str, world: PriceWorld, t: int, on_hand: np.ndarray, master: MasterData,
                  quantiles: np.ndarray, levels, day_depth: np.ndarray) -> np.ndarray:  # fmt: skip
    """Evening depth (NaN: none) of freshcast's or the hindsight's policy at the evening hour
    of day t, from the stock left then (`on_hand` by expiry) on the lines where units expire
    tonight; the demand ahead is the evening's share of today's (freshcast: the usual share;
    the hindsight: the day's own), then the following days'."""
    out = np.full(len(on_hand), np.nan)
    rows = np.flatnonzero(on_hand[:, 0] > 0)
    if len(rows) == 0:
        return out
    q = np.array(quantiles[rows], np.float32)
    q[:, 0] *= evening_share(policy, world, t)[rows, None].astype(np.float32)
    plan = _plan(policy, world, t, on_hand[rows], master.take(rows), q, levels, day_depth[rows], True, rows)
    deeper = plan.depth > day_depth[rows] + 1e-12
    out[rows[deeper]] = plan.depth[deeper]
    return out


def evening_share(policy: str, world: PriceWorld, t: int) -> np.ndarray:
    """(n,) share of day t's demand after the evening hour as `policy` knows it: the
    hindsight the day's own, any other policy the usual one."""
    return world.served_share(t) if policy == "hindsight" else world.evening_share


def _plan(policy, world, t, on_hand, master, quantiles, levels, floor, evening, rows=slice(None)):
    el = world.elasticity[rows] * (world.scale if policy == "hindsight" else 1.0)  # the hindsight knows the truth
    borrowed = 0.0 if policy == "hindsight" else world.borrowed
    return plan_markdowns(quantiles, levels, on_hand, master, el, world.deepest[rows], depth_in_force=floor,
                          evening_share=evening_share(policy, world, t)[rows], borrowed=borrowed,
                          ladder=LADDER, planned_ratio=world.logged[rows, t], evening=evening,
                          min_gain=0.0 if policy == "hindsight" else MIN_GAIN)  # fmt: skip


def trade_day(policy: str, stock: np.ndarray, master: MasterData, book: MarkdownBook, world: PriceWorld, t: int,
              demand: np.ndarray, on_hand: np.ndarray, quantiles: np.ndarray, levels):  # fmt: skip
    """Day t of one markdown policy: the morning price, the hours before the evening hour,
    the evening price, the hours after, the evening's waste. `on_hand` is the morning stock
    by expiry (day 0 = t). Returns (sold, lost, wasted, stock_end)."""
    S = master.shelf_life_days
    day_depth, evening_depth = morning_price(policy, book, world, t, on_hand, master, quantiles, levels)
    r_log = world.logged[:, t]
    r_day = np.minimum(r_log, 1.0 - day_depth)
    power = world.scale * world.elasticity
    share = world.served_share(t)
    first = demand * (1 - share) * (r_day / r_log) ** power
    sold1, lost1 = K.sell_part(stock, S, t, first)
    if policy in ("optimizer", "hindsight"):
        evening_depth = evening_price(policy, world, t, held_by_expiry(stock, S, t), master, quantiles, levels,
                                      day_depth)  # fmt: skip
    r_eve = np.where(np.isfinite(evening_depth), np.minimum(r_day, 1.0 - np.nan_to_num(evening_depth)), r_day)
    second = demand * share * (r_eve / r_log) ** power
    sold2, lost2 = K.sell_part(stock, S, t, second)
    wasted, left_end = K.expire_day(stock, S, t)
    price = master.regular_price
    book.revenue += price * (sold1 * r_day + sold2 * r_eve)
    book.spend += price * (sold1 * (r_log - r_day) + sold2 * (r_log - r_eve))
    book.demanded[:, t] = first + second
    book.count(1 - r_day / r_log, np.where(np.isfinite(evening_depth), 1 - r_eve / r_log, np.nan))
    return sold1 + sold2, lost1 + lost2, wasted, left_end


def markdown_summary(book: MarkdownBook, log: dict, stock: np.ndarray, demand: np.ndarray, master: MasterData,
                     world: PriceWorld) -> dict:  # fmt: skip
    """Money and units of one markdown policy. gross_margin = revenue - unit cost of the units
    sold - (cost - salvage) of those thrown away; total_cost = the margin the logged demand
    would have made at the logged prices with nothing wasted - gross_margin + holding + the
    expected waste cost of the stock left (sold against the following days as in `scoring`)."""
    lines = per_line(book, log, stock, demand, master, world)
    sold, wasted = log["sold"], log["wasted"]
    gross = float(lines["gross_margin"].sum())
    holding = float((master.holding_cost[:, None] * log["stock_end"]).sum())
    ending_waste = float(lines["ending_waste_cost"].sum())
    potential = float(lines["potential_margin"].sum())
    received, demanded = float(log["received"].sum()), float(book.demanded.sum())
    share = ratios(float(wasted.sum()), received, float(sold.sum()), demanded)
    return {
        "gross_margin": gross,
        "revenue": float(book.revenue.sum()),
        "waste_pct": share["waste_pct"],
        "units_wasted": float(wasted.sum()),
        "units_sold": float(sold.sum()),
        "units_lost": float(log["lost"].sum()),
        "units_demanded": demanded,
        "units_received": received,
        "units_ending_stock": float(stock.sum()),
        "fill_rate": share["fill_rate"],
        "markdown_spend": float(book.spend.sum()),
        "label_changes": int(book.changes.sum()),
        "holding_cost": holding,
        "ending_waste_cost": ending_waste,
        "total_cost": potential - gross + holding + ending_waste,
    }


def merged_markdown_summaries(summaries: list[dict]) -> dict:
    """One `markdown_summary` of several groups of lines (partitions of the chain) replayed
    over the same days: the totals added, the ratios worked out again."""
    return with_ratios({k: sum(s[k] for s in summaries) for k in summaries[0]})


def per_line(book: MarkdownBook, log: dict, stock: np.ndarray, demand: np.ndarray, master: MasterData,
             world: PriceWorld) -> dict:  # fmt: skip
    """Per line: gross_margin, units wasted and received, ending waste cost, and the margin
    of the logged demand at the logged prices (see `markdown_summary`)."""
    cost, waste_cost = master.unit_cost[:, None], master.waste_cost[:, None]
    _, later_wasted = ending_stock(stock, master.shelf_life_days, demand)
    return {
        "gross_margin": book.revenue - (cost * log["sold"]).sum(axis=1) - (waste_cost * log["wasted"]).sum(axis=1),
        "wasted": log["wasted"].sum(axis=1),
        "received": log["received"].sum(axis=1),
        "ending_waste_cost": master.waste_cost * later_wasted,
        "potential_margin": (demand * (master.regular_price[:, None] * world.logged - cost)).sum(axis=1),
    }


def demand_ahead(demand: np.ndarray, shelf: np.ndarray, t: int, days: int) -> np.ndarray:
    """(n, days) demand of days t .. t + days - 1 at the logged prices, the days after the
    replay taken as in `scoring.following_demand`."""
    full = np.concatenate([demand, following_demand(demand, shelf)], axis=1)
    idx = np.minimum(t + np.arange(days), full.shape[1] - 1)
    return full[:, idx]
