"""The daily feature-matrix builder: which features a model uses, and the rows and matrices
it trains and forecasts on (the layout and leakage rules are in `features.daily`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.panel import DailyPanel, FutureCovariates
from ..errors import FreshcastError
from . import kernels as K
from .daily import (DailyFeatureSpec, GroupSales, build_matrix, feature_names, forecast_rows, large_ids,
                    static_columns, training_rows, unit_columns)

LEVEL_ALPHA = 0.1  # per day: a row's level is its demand over about the last 10 days
LEVEL_FLOOR = 0.1  # units per day: the smallest level a row is measured against


@dataclass(frozen=True)
class FeatureRows:
    """Rows of a feature matrix: row i forecasts flat position `target[i]` of series
    `series[i]` of `panel`, `horizon[i]` days after its origin (the last day whose sales the
    row may read). `panel.sales` is the demand the model learns from; a forecast's panel has
    the future days appended (their sales unknown)."""

    panel: DailyPanel
    series: np.ndarray
    target: np.ndarray
    horizon: np.ndarray

    def __len__(self) -> int:
        return len(self.series)

    def part(self, start: int, stop: int) -> FeatureRows:
        """Rows start .. stop - 1."""
        at = slice(start, stop)
        return FeatureRows(self.panel, self.series[at], self.target[at], self.horizon[at])

    @property
    def origin(self) -> np.ndarray:
        """Flat position of each row's origin."""
        return self.target - self.horizon

    @property
    def demand(self) -> np.ndarray:
        """The target each row learns (NaN on future days)."""
        return self.panel.sales[self.target]

    @property
    def level(self) -> np.ndarray:
        """Each row's recent daily demand at its origin (float64 units per day): the
        exponentially weighted mean (LEVEL_ALPHA) of the demand up to the origin, at least
        LEVEL_FLOOR (also for a series with no demand yet)."""
        ewm = K.ewm_mean(self.panel.sales, self.panel.offsets, LEVEL_ALPHA)[self.origin].astype(np.float64)
        return np.maximum(np.nan_to_num(ewm, nan=0.0), LEVEL_FLOOR)


@dataclass(frozen=True)
class DailyFeatures:
    """Builds the daily feature matrix of a model.

    spec : which lags, windows and means (`DailyFeatureSpec`).
    max_horizon : longest horizon in days; future covariates are read up to it.
    static : series attributes used as categorical features (ids, category levels).
    covariates : the declared covariates the model reads (discount, holidays, weather ...).
    categories : for the series attributes with ids too large for the float32 matrix (2**24
        and above), the sorted ids the model knows: the matrix holds each id's position
        among them (NaN for an id it does not know); other ids are read as they are.
    """

    spec: DailyFeatureSpec
    max_horizon: int
    static: tuple[str, ...]
    covariates: tuple[str, ...]
    categories: dict[str, np.ndarray] = field(default_factory=dict, compare=False)

    @classmethod
    def for_history(cls, panel: DailyPanel, spec: DailyFeatureSpec, max_horizon: int) -> DailyFeatures:
        """The features a history supports: its series attributes and declared covariates."""
        static = static_columns(panel.series)
        categories = large_ids({c: panel.series[c].to_numpy() for c in static})
        return cls(spec, max_horizon, tuple(static), tuple(panel.covariates), categories)

    @property
    def names(self) -> list[str]:
        """Column names of the matrix, in order."""
        return feature_names(self.spec, list(self.static), list(self.covariates))

    def training_rows(self, panel: DailyPanel, min_history_days: int, seed: int,
                      train_days: int | None = None, place: tuple[int, int, int] | None = None) -> FeatureRows:  # fmt: skip
        """Every day with `min_history_days` before it, each with a horizon in 1..max_horizon
        drawn by `seed`; only the last `train_days` days of the panel if given. `place`: the
        panel's place in the chain when it is a partition (`features.daily.training_rows`)."""
        series, target, horizon = training_rows(panel, self.max_horizon, min_history_days, seed, place)
        if train_days is not None:
            keep = panel.day_of(series, target) > panel.last_day - train_days
            series, target, horizon = series[keep], target[keep], horizon[keep]
        return FeatureRows(panel, series, target, horizon)

    def forecast_rows(self, panel: DailyPanel, future: FutureCovariates, horizon: int) -> FeatureRows:
        """Days 1..horizon after the panel's last day for every series (series-major)."""
        extended = panel.extend(future)
        series, target, h = forecast_rows(extended, future.n_days, horizon)
        return FeatureRows(extended, series, target, h)

    def to_relative(self, X: np.ndarray, level: np.ndarray) -> None:
        """Divide, in place, the columns of `X` (a `matrix`) measured in units by each row's
        `level`, as a relative model reads them."""
        for j in unit_columns(self.names):
            X[:, j] /= level

    def matrix(self, rows: FeatureRows, pooled: dict[str, GroupSales] | None = None) -> np.ndarray:
        """float32 (rows x features), column-major, columns in `names` order. `pooled`: the
        chain's group tables (`features.daily.pooled_sales`, added up over partitions) when
        the rows' panel is a partition. FreshcastError if the rows' panel lacks a series
        attribute or has other covariates than these features read."""
        panel = rows.panel
        missing = [c for c in self.static if c not in panel.series.columns]
        if missing or tuple(panel.covariates) != self.covariates:
            raise FreshcastError(
                f"{panel.source}: the features were built for series attributes {list(self.static)} and "
                f"covariates {list(self.covariates)}; the data have {list(panel.series.columns)} and "
                f"{list(panel.covariates)}"
            )
        return build_matrix(rows.panel, rows.series, rows.target, rows.horizon, self.spec, self.max_horizon,
                            list(self.static), pooled, self.categories)  # fmt: skip
