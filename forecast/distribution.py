"""The forecast distribution: daily demand of n store x product series over H consecutive
days as a mean and quantiles. The forecaster makes it, plan-orders and the replay read it,
and `to_frame` / `from_frame` are the one place that knows the output columns (`yhat`, `q10`,
`q2.5`, ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.contract import DAY, PRODUCT, STORE
from ..data.dates import day_to_date
from ..errors import DataError
from .quantiles import check_quantiles, quantile_column

_QUANTILE = re.compile(r"^q(\d+(?:\.\d+)?)$")


@dataclass
class ForecastDistribution:
    """store_id, product_id : int64 (n,) the series.
    first_day : day number of the first forecast day; the days are consecutive.
    mean : float32 (n, H) mean demand per day (units, >= 0).
    levels : sorted quantile levels in (0, 1), possibly none.
    quantiles : float32 (n, H, len(levels)), non-decreasing along the levels."""

    store_id: np.ndarray
    product_id: np.ndarray
    first_day: int
    mean: np.ndarray
    levels: tuple[float, ...]
    quantiles: np.ndarray

    def __post_init__(self) -> None:
        self.levels = check_quantiles(self.levels)
        n, H = self.mean.shape
        if self.store_id.shape != (n,) or self.product_id.shape != (n,) or self.quantiles.shape != (n, H, len(self.levels)):
            raise ValueError("store_id, product_id (n,), mean (n, H) and quantiles (n, H, levels) disagree")

    @property
    def n_series(self) -> int:
        return self.mean.shape[0]

    @property
    def horizon(self) -> int:
        return self.mean.shape[1]

    @property
    def days(self) -> np.ndarray:
        """Day numbers of the forecast days."""
        return self.first_day + np.arange(self.horizon)

    def lines(self) -> pd.DataFrame:
        """store_id, product_id of each series, in row order."""
        return pd.DataFrame({STORE: self.store_id, PRODUCT: self.product_id})

    def to_frame(self) -> pd.DataFrame:
        """One row per series and day: store_id, product_id, dt, yhat and a column per level
        (q10, q50, q90 ...)."""
        H = self.horizon
        out = {
            STORE: np.repeat(self.store_id, H),
            PRODUCT: np.repeat(self.product_id, H),
            DAY: np.tile(day_to_date(self.days), self.n_series),
            "yhat": self.mean.ravel(),
        }
        out.update({quantile_column(lv): self.quantiles[:, :, j].ravel() for j, lv in enumerate(self.levels)})
        return pd.DataFrame(out)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "<DataFrame>", zone: str | None = None) -> ForecastDistribution:
        """A daily forecast table (`to_frame`'s columns, any row order; time-zone aware days
        read by `data.dates.calendar_days` in `zone`, an IANA name). DataError naming
        `source` if it has no rows, a column is missing, an id is not a whole number, a value is
        empty, not a number, infinite or negative, quantiles decrease, a row repeats, a date is
        not a date, or the series do not share the same consecutive days."""
        from ..data import tables

        problems = [f"required column '{c}' is missing" for c in (STORE, PRODUCT, DAY, "yhat") if c not in df.columns]
        for c in ("hour", "slot"):
            if c in df.columns:
                problems.append(f"column '{c}': a daily forecast is needed (forecast without --level or --slots)")
        if problems:
            raise DataError(source, problems)
        qcols = quantile_columns(df.columns, source)
        value_cols = ["yhat"] + [c for _, c in qcols]
        # ids whole, dates dates, amounts finite and not negative, one row per store x product x day
        spec = {STORE: ("id", None), PRODUCT: ("id", None), DAY: ("day", None),
                **{c: ("num", ">= 0") for c in value_cols}}
        checked = tables.read_table(df[list(spec)], spec, keys=(STORE, PRODUCT, DAY), source=source,
                                    empty="a forecast of every line", zone=zone)  # fmt: skip
        values = checked[value_cols].to_numpy(np.float64)
        falling = (np.diff(values[:, 1:], axis=1) < -1e-6 * (1 + np.abs(values[:, 2:]))).any(axis=1)
        if falling.any():
            names = ", ".join(c for _, c in qcols)
            raise DataError(source, [f"columns {names} must not decrease from one quantile to the next: "
                                     f"{int(falling.sum())} row(s), first row {int(np.argmax(falling)) + 1}"])  # fmt: skip
        df = checked.sort_values([STORE, PRODUCT, DAY], kind="stable")
        days = np.unique(df[DAY].to_numpy())
        lines = df[[STORE, PRODUCT]].drop_duplicates()
        n, H = len(lines), len(days)
        if len(df) != n * H or H != int(days[-1] - days[0]) + 1:
            first, last = day_to_date(days[0]), day_to_date(days[-1])
            raise DataError(source, [f"every store x product needs one row for each of the consecutive days "
                                     f"{first} .. {last} ({n} lines x {H} days != {len(df)} rows)"])  # fmt: skip
        values = df[value_cols].to_numpy(np.float32).reshape(n, H, len(value_cols))
        return cls(
            store_id=lines[STORE].to_numpy(np.int64), product_id=lines[PRODUCT].to_numpy(np.int64),
            first_day=int(days[0]), mean=values[:, :, 0], levels=tuple(lv for lv, _ in qcols),
            quantiles=np.ascontiguousarray(values[:, :, 1:]),
        )  # fmt: skip


def quantile_columns(columns, source: str) -> list[tuple[float, str]]:
    """(level, name) of the quantile columns q<percent> among `columns`, by level. DataError
    naming `source` for a level not above 0 and below 100, a level named twice, or names
    that read as fractions (q0.1)."""
    qcols = sorted((float(m.group(1)) / 100, c) for c in columns if (m := _QUANTILE.match(c)))
    outside = [c for level, c in qcols if not 0 < level < 1]
    if outside:
        raise DataError(source, [f"column(s) {', '.join(outside)}: a quantile column is q<percent>, above 0 and below "
                                 f"100 (q10 is the 10% quantile)"])  # fmt: skip
    if len({level for level, _ in qcols}) < len(qcols):
        raise DataError(source, [f"columns {', '.join(c for _, c in qcols)} name a quantile level twice"])
    if qcols and all(level < 0.01 for level, _ in qcols):
        shares = ", ".join(f"{level * 100:g}%" for level, _ in qcols)
        raise DataError(source, [f"columns {', '.join(c for _, c in qcols)} would be the {shares} quantiles: quantile "
                                 f"columns are named by percent (q10, q50, q90 for the 10%, 50% and 90% "
                                 f"quantiles)"])  # fmt: skip
    return qcols
