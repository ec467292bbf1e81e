"""Ordering policies the replay runs, and what each knows on a planning day.

freshcast's policies read the forecast; the baselines are what a store manager would use
without it, from the sales alone: the same weekday over the last weeks, a moving average, a
newsvendor on a naive forecast, and today's "last week + 20%" rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Protocol

import numpy as np
from scipy.special import ndtri

from ..optimize.master import MasterData
from ..optimize.orders import CORRELATION, N_SCENARIOS, LastDayMarkdowns, OrderLines, optimal_orders, order_up_to

PAST_DAYS = 35  # days of sales before the planning day a baseline may read


@dataclass
class DayState:
    """What a policy knows on a planning day (day 0 = today; arrays per line x day)."""

    day: int  # day number
    master: MasterData
    on_hand: np.ndarray  # (n, B) units expiring at the end of day e
    on_order: np.ndarray  # (n, A) units arriving on the morning of day a
    review: np.ndarray  # days to the next order day
    can_order: np.ndarray  # bool, today is an order day
    n_days: int  # D: days an order decision looks at
    past_sales: np.ndarray  # (n, PAST_DAYS) sales of the days before today, oldest first (0 before a series)
    mean: np.ndarray | None = None  # (n, D) mean forecast (for policies that need a forecast)
    quantiles: np.ndarray | None = None  # (n, H, J) forecast quantiles at `levels`
    # in the replay both may be NaN past a line's `line_days` (when every policy reads_order_days)
    levels: tuple[float, ...] = ()

    def window(self) -> np.ndarray:
        """(n, D) True on the days from an order's arrival to the next order's arrival."""
        d = np.arange(self.n_days)[None, :]
        lead = self.master.lead_time_days[:, None]
        return (d >= lead) & (d < lead + self.review[:, None])

    def same_weekday(self, weeks: int) -> np.ndarray:
        """(n, D) mean sales of the same weekday over the `weeks` most recent weeks known today."""
        d = np.arange(self.n_days)
        back = 7 * ((d // 7 + 1)[:, None] + np.arange(weeks)[None, :])  # days back from day d: 7, 14, ...
        idx = PAST_DAYS + d[:, None] - back  # into past_sales
        return self.past_sales[:, np.clip(idx, 0, PAST_DAYS - 1)].mean(axis=2)

    def moving_average(self, days: int = 7) -> np.ndarray:
        """(n,) mean daily sales over the last `days` days."""
        return self.past_sales[:, -days:].mean(axis=1)

    @cached_property
    def moving_average_spread(self) -> np.ndarray:
        """(n,) standard deviation of the 7-day moving average's one-day errors over the last 28
        days (each day's sales against the mean of the 7 days before it, summed in order); worked
        out once a day, however many newsvendor settings read it."""
        past = self.past_sales
        week = past[:, : PAST_DAYS - 7].copy()
        for j in range(1, 7):
            week += past[:, j : j + PAST_DAYS - 7]
        errors = past[:, 7:] - week / 7
        return errors[:, -28:].std(axis=1)


class Policy(Protocol):
    """A policy the replay runs: a name, whether it reads the forecast, and each day its
    decisions from what it knows (the orders of every line; prices may join)."""

    name: str
    needs_forecast: bool  # optional: reads_order_days, True if it reads no forecast day past `line_days`

    def order(self, state: DayState) -> OrderLines: ...


def _up_to(s: DayState, path: np.ndarray, safety_share: float) -> OrderLines:
    """Order up to `path` (n, D, units per day) summed over the covered days + a safety share."""
    target = (1 + safety_share) * np.where(s.window(), path, 0.0).sum(axis=1)  # days past the window may be NaN
    return order_up_to(path, target, s.on_hand, s.on_order, s.master, s.can_order)


@dataclass
class WeekdayMean:
    """Order up to the mean sales of the same weekday over the last `weeks` weeks for the
    covered days, plus a safety share."""

    safety_share: float = 0.2
    weeks: int = 4
    name: str = "weekday_mean_4w"
    needs_forecast: ClassVar[bool] = False

    def order(self, s: DayState) -> OrderLines:
        return _up_to(s, s.same_weekday(self.weeks), self.safety_share)


@dataclass
class RuleOfThumb(WeekdayMean):
    """What stores do today: order up to last week's sales of the covered days plus a fixed
    safety share (20%, not tuned: kept for continuity)."""

    safety_share: float = 0.2
    weeks: int = 1
    name: str = "rule_of_thumb"


@dataclass
class MovingAverage:
    """Order up to the 7-day moving average times the covered days, plus a safety share."""

    safety_share: float = 0.2
    name: str = "moving_average_7d"
    needs_forecast: ClassVar[bool] = False

    def order(self, s: DayState) -> OrderLines:
        path = np.repeat(s.moving_average(7)[:, None], s.n_days, axis=1)
        return _up_to(s, path, self.safety_share)


@dataclass
class NaiveNewsvendor:
    """A newsvendor on a naive forecast: demand over the covered days is normal around the
    7-day moving average, with the spread of that average's own one-day errors over the last
    28 days (times the square root of the days covered); the order brings the stock up to
    its `service_level` quantile. None: each line's critical fractile, lost margin / (lost
    margin + waste cost)."""

    service_level: float | None = None
    name: str = "newsvendor_naive"
    needs_forecast: ClassVar[bool] = False

    def order(self, s: DayState) -> OrderLines:
        sd = s.moving_average_spread
        m = s.master
        level = m.lost_margin / (m.lost_margin + m.waste_cost) if self.service_level is None else self.service_level
        z = ndtri(np.clip(level, 1e-6, 1 - 1e-6))
        mean = s.moving_average(7)
        covered = s.window().sum(axis=1)
        target = np.maximum(mean * covered + z * sd * np.sqrt(covered), 0.0)
        path = np.repeat(mean[:, None], s.n_days, axis=1)
        return order_up_to(path, target, s.on_hand, s.on_order, m, s.can_order)


@dataclass
class MeanForecast:
    """Order up to the mean forecast of the covered days."""

    name: str = "mean_forecast"
    needs_forecast: ClassVar[bool] = True
    reads_order_days: ClassVar[bool] = True

    def order(self, s: DayState) -> OrderLines:
        return _up_to(s, s.mean, 0.0)


@dataclass
class Optimizer:
    """freshcast's expected-cost order from the forecast distribution (`optimal_orders`)."""

    service_weight: float = 1.0
    correlation: float = CORRELATION
    n_scenarios: int = N_SCENARIOS
    seed: int = 0
    name: str = "optimizer"
    markdowns: LastDayMarkdowns | None = None  # orders that count on the last day's markdowns
    needs_forecast: ClassVar[bool] = True
    reads_order_days: ClassVar[bool] = True

    def order(self, s: DayState) -> OrderLines:
        return optimal_orders(
            s.quantiles, s.levels, s.on_hand, s.on_order, s.master, s.review, s.can_order,
            service_weight=self.service_weight, n_scenarios=self.n_scenarios, correlation=self.correlation,
            seed=self.seed, markdowns=self.markdowns,
        )  # fmt: skip


@dataclass
class Hindsight:
    """The hindsight bound: the cheapest orders for someone who knew every day's demand,
    worked out for the whole replay before it starts (`simulate.hindsight`)."""

    plan: np.ndarray  # (n, T) units ordered on each day of the replay
    first_day: int  # day number of the replay's first day
    name: str = "hindsight"
    needs_forecast: ClassVar[bool] = False

    def order(self, s: DayState) -> OrderLines:
        q = self.plan[:, s.day - self.first_day]
        nan = np.full(len(q), np.nan)
        return OrderLines(q, nan, nan, nan)


# Baselines and the grid each one's setting is chosen from, on days before the replayed ones.
BASELINES = {
    WeekdayMean: ("safety_share", (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)),
    MovingAverage: ("safety_share", (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)),
    NaiveNewsvendor: ("service_level", (None, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)),
}


def default_policies(seed: int = 0) -> list[Policy]:
    """freshcast's policies and today's rule (the baselines, chosen on earlier days, and the
    hindsight bound join in the replay)."""
    return [RuleOfThumb(), MeanForecast(), Optimizer(seed=seed)]
