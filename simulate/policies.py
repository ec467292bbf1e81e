"""Ordering policies the replay runs, and what each knows on a planning day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..optimize.master import MasterData
from ..optimize.orders import OrderLines, optimal_orders, order_up_to


@dataclass
class DayState:
    """What a policy knows on a planning day (day 0 = today; arrays per line x day)."""

    day: int  # day number
    master: MasterData
    on_hand: np.ndarray  # (n, B) units expiring at the end of day e
    on_order: np.ndarray  # (n, A) units arriving on the morning of day a
    review: np.ndarray  # days to the next order day
    can_order: np.ndarray  # bool, today is an order day
    mean: np.ndarray  # (n, D) mean forecast
    quantiles: np.ndarray  # (n, H, J) forecast quantiles at `levels`
    levels: tuple[float, ...]
    last_week: np.ndarray  # (n, D) sales of the same weekday one week (or two) earlier

    def window(self) -> np.ndarray:
        """(n, D) True on the days from an order's arrival to the next order's arrival."""
        d = np.arange(self.mean.shape[1])[None, :]
        lead = self.master.lead_time_days[:, None]
        return (d >= lead) & (d < lead + self.review[:, None])


class Policy(Protocol):
    """A policy the replay runs: a name and, each day, its decisions from what it knows (the
    orders of every line; prices may join)."""

    name: str

    def order(self, state: DayState) -> OrderLines: ...


@dataclass
class RuleOfThumb:
    """What stores do today: order up to last week's sales of the covered days plus a fixed
    safety share."""

    safety_share: float = 0.2
    name: str = "rule_of_thumb"

    def order(self, s: DayState) -> OrderLines:
        target = (1 + self.safety_share) * (s.last_week * s.window()).sum(axis=1)
        return order_up_to(s.last_week, target, s.on_hand, s.on_order, s.master, s.can_order)


@dataclass
class MeanForecast:
    """Order up to the mean forecast of the covered days."""

    name: str = "mean_forecast"

    def order(self, s: DayState) -> OrderLines:
        target = (s.mean * s.window()).sum(axis=1)
        return order_up_to(s.mean, target, s.on_hand, s.on_order, s.master, s.can_order)


@dataclass
class Optimizer:
    """freshcast's expected-cost order from the forecast distribution (`optimal_orders`)."""

    service_weight: float = 1.0
    seed: int = 0
    name: str = "optimizer"

    def order(self, s: DayState) -> OrderLines:
        return optimal_orders(
            s.quantiles, s.levels, s.on_hand, s.on_order, s.master, s.review, s.can_order,
            service_weight=self.service_weight, seed=self.seed,
        )  # fmt: skip


@dataclass
class Hindsight:
    """The hindsight bound: the cheapest orders for someone who knew every day's demand,
    worked out for the whole replay before it starts (`simulate.hindsight`)."""

    plan: np.ndarray  # (n, T) units ordered on each day of the replay
    first_day: int  # day number of the replay's first day
    name: str = "hindsight"

    def order(self, s: DayState) -> OrderLines:
        q = self.plan[:, s.day - self.first_day]
        nan = np.full(len(q), np.nan)
        return OrderLines(q, nan, nan, nan)


def default_policies(seed: int = 0) -> list[Policy]:
    """freshcast's policies and the stores' rule (the hindsight bound joins in the replay)."""
    return [RuleOfThumb(), MeanForecast(), Optimizer(seed=seed)]
