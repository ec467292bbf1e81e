"""The series panel: daily arrays of every store x product series laid end to end, one
position per series and day, with the offsets that delimit each series. Pure numpy; every
layer (features, forecasts, replay) reads series positions through these methods."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from . import contract as C
from .dates import day_to_date


@dataclass
class DailyPanel:
    """Daily history of every store x product series as flat float32 arrays.

    Series i holds positions ``offsets[i]:offsets[i+1]``, one per day from ``start[i]`` to
    ``last_day`` (day numbers since 1970-01-01). All series end on ``last_day``; days with no
    input rows are filled with zero sales and counted in ``filled_hours``.
    """

    series: pd.DataFrame  # one row per series: store_id, product_id, static columns
    offsets: np.ndarray  # int64, n_series + 1
    start: np.ndarray  # int32 day number of each series' first day
    last_day: int
    sales: np.ndarray  # units sold per day
    stockout_hours: np.ndarray  # hours flagged out of stock
    stockout_shop_hours: np.ndarray  # of which between 06:00 and 21:59
    instock_sales: np.ndarray  # units sold in hours not flagged out of stock
    instock_hours: np.ndarray  # hours not flagged out of stock
    filled_hours: np.ndarray  # hours with no input row, filled with zero sales
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""
    hour_sales: np.ndarray | None = None  # float32 (n_flat, 24) units sold per hour; None for daily input
    stockout_mask: np.ndarray | None = None  # uint32 (n_flat,), bit h set = hour h out of stock

    @property
    def hourly(self) -> bool:
        """True when the input had an hour column, so hour_sales and stockout_mask exist."""
        return self.hour_sales is not None

    @property
    def n_series(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_flat(self) -> int:
        return int(self.offsets[-1])

    def positions(self, day, series: np.ndarray | None = None) -> np.ndarray:
        """Flat position of day number(s) `day` in each series (all series, or those indexed
        by `series`); `day` broadcasts against the series (e.g. shape (n, 1) + days (k,)).
        Positions outside a series are not checked."""
        series = np.arange(self.n_series) if series is None else np.asarray(series)
        shape = (-1,) + (1,) * max(np.ndim(day) - 1, 0) if np.ndim(day) > 1 else (-1,)
        first = self.offsets[:-1][series].reshape(shape)
        start = self.start[series].reshape(shape).astype(np.int64)
        return first + (np.asarray(day, np.int64) - start)

    def day_of(self, series: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Day number of flat positions `pos` of series `series`."""
        return (self.start[series] + (pos - self.offsets[series])).astype(np.int32)

    @staticmethod
    def weekday(day) -> np.ndarray:
        """Day of week of day numbers, Monday = 0 (1970-01-01 was a Thursday)."""
        return (np.asarray(day, np.int64) + 3) % 7

    def day_numbers(self) -> np.ndarray:
        """Day number of every flat position."""
        lengths = np.diff(self.offsets)
        series = np.repeat(np.arange(self.n_series), lengths)
        return (self.start[series] + (np.arange(self.n_flat) - self.offsets[series])).astype(np.int32)

    def in_stock(self) -> np.ndarray:
        """True where a day had no stockout hour between 06:00 and 21:59."""
        return self.stockout_shop_hours == 0

    def until(self, day: int) -> DailyPanel:
        """The panel cut after `day` (inclusive); series that start later are dropped."""
        keep = self.start <= day
        lengths = np.where(keep, day - self.start + 1, 0).astype(np.int64)
        offsets = np.zeros(int(keep.sum()) + 1, np.int64)
        np.cumsum(lengths[keep], out=offsets[1:])
        take = _runs(self.offsets[:-1][keep], lengths[keep])
        arrays = {name: getattr(self, name)[take] for name in _FLAT_FIELDS}
        return DailyPanel(
            series=self.series[keep].reset_index(drop=True),
            offsets=offsets,
            start=self.start[keep],
            last_day=int(day),
            covariates={k: v[take] for k, v in self.covariates.items()},
            source=self.source,
            hour_sales=None if self.hour_sales is None else self.hour_sales[take],
            stockout_mask=None if self.stockout_mask is None else self.stockout_mask[take],
            **arrays,
        )

    def take(self, series: np.ndarray) -> DailyPanel:
        """The panel of the series indexed by `series` (a partition of the chain, say)."""
        series = np.asarray(series, np.int64)
        lengths = np.diff(self.offsets)[series]
        offsets = np.zeros(len(series) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        take = _runs(self.offsets[:-1][series], lengths)
        return replace(
            self, series=self.series.iloc[series].reset_index(drop=True), offsets=offsets, start=self.start[series],
            covariates={k: v[take] for k, v in self.covariates.items()},
            hour_sales=None if self.hour_sales is None else self.hour_sales[take],
            stockout_mask=None if self.stockout_mask is None else self.stockout_mask[take],
            **{name: getattr(self, name)[take] for name in _FLAT_FIELDS},
        )  # fmt: skip

    def with_sales(self, sales: np.ndarray) -> DailyPanel:
        """The same panel with other daily sales (for example recovered demand); no copy."""
        return replace(self, sales=sales)

    def extend(self, future: FutureCovariates) -> DailyPanel:
        """The panel followed by the days of `future`: their covariates are the declared ones,
        everything sold or stocked is unknown (NaN; no hourly arrays)."""
        h = future.n_days
        lengths = np.diff(self.offsets) + h
        offsets = np.zeros(self.n_series + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        known = np.ones(int(offsets[-1]), bool)
        ahead = (offsets[1:, None] - h + np.arange(h)[None, :]).ravel()
        known[ahead] = False

        def extended(values: np.ndarray, declared: np.ndarray | None = None) -> np.ndarray:
            out = np.full(int(offsets[-1]), np.nan, np.float32)
            out[known] = values
            if declared is not None:
                out[ahead] = declared.ravel()
            return out

        return replace(
            self, offsets=offsets, last_day=self.last_day + h, hour_sales=None, stockout_mask=None,
            covariates={k: extended(v, future.values[k]) for k, v in self.covariates.items()},
            **{name: extended(getattr(self, name)) for name in _FLAT_FIELDS},
        )  # fmt: skip

    def future(self, first_day: int, n_days: int, series: np.ndarray | None = None) -> FutureCovariates:
        """Covariates of days first_day .. first_day + n_days - 1 taken from this panel
        (for backtests, where the 'future' is known history), for all series or the series
        indexed by `series`."""
        series = np.arange(self.n_series) if series is None else series
        idx = self.positions(first_day + np.arange(n_days)[None, :], series)
        if (idx < self.offsets[:-1][series, None]).any() or (idx >= self.offsets[1:][series, None]).any():
            raise ValueError("requested days are outside some series of the panel")
        return FutureCovariates(
            first_day=first_day,
            n_days=n_days,
            values={k: v[idx] for k, v in self.covariates.items()},
            ids=self.ids()[series],
        )

    def ids(self) -> np.ndarray:
        """int64 (n_series, 2): the store_id and product_id of every series."""
        return np.column_stack([self.series[C.STORE].to_numpy(np.int64), self.series[C.PRODUCT].to_numpy(np.int64)])

    def to_frame(self) -> pd.DataFrame:
        """Long daily table: store_id, product_id, dt, sales, stockout_hours, in_stock."""
        lengths = np.diff(self.offsets)
        return pd.DataFrame(
            {
                C.STORE: np.repeat(self.series[C.STORE].to_numpy(), lengths),
                C.PRODUCT: np.repeat(self.series[C.PRODUCT].to_numpy(), lengths),
                C.DAY: day_to_date(self.day_numbers()),
                "sales": self.sales,
                "stockout_hours": self.stockout_hours,
                "in_stock": self.in_stock(),
            }
        )


_FLAT_FIELDS = (
    "sales",
    "stockout_hours",
    "stockout_shop_hours",
    "instock_sales",
    "instock_hours",
    "filled_hours",
)


def concat_panels(parts: list[DailyPanel]) -> DailyPanel:
    """The panels `parts` (partitions of a chain, in store order, all ending on the same day)
    as one, their series one after another; hourly arrays only when every part has them."""
    if len({p.last_day for p in parts}) != 1 or len({tuple(p.covariates) for p in parts}) != 1:
        raise ValueError("the panels to put together must end on the same day and have the same covariates")
    offsets = np.zeros(sum(p.n_series for p in parts) + 1, np.int64)
    np.cumsum(np.concatenate([np.diff(p.offsets) for p in parts]), out=offsets[1:])
    hourly = all(p.hourly for p in parts)
    return DailyPanel(
        series=pd.concat([p.series for p in parts], ignore_index=True),
        offsets=offsets,
        start=np.concatenate([p.start for p in parts]),
        last_day=parts[0].last_day,
        covariates={k: np.concatenate([p.covariates[k] for p in parts]) for k in parts[0].covariates},
        source=parts[0].source,
        hour_sales=np.concatenate([p.hour_sales for p in parts]) if hourly else None,
        stockout_mask=np.concatenate([p.stockout_mask for p in parts]) if hourly else None,
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in _FLAT_FIELDS},
    )  # fmt: skip


def _runs(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Flat positions starts[k] .. starts[k] + lengths[k] - 1 of every run k, run after run (int64)."""
    lengths = np.asarray(lengths, np.int64)
    ends = np.cumsum(lengths)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)


@dataclass
class FutureCovariates:
    """Declared future covariates aligned to a panel's series: values[name][i, k] is the
    value for series i on day first_day + k."""

    first_day: int
    n_days: int
    values: dict[str, np.ndarray]
    ids: np.ndarray | None = None  # int64 (n, 2): store_id, product_id of each series, in row order
