"""Assembly of the day records of all batches into the series panel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from . import contract as C
from .keys import pair_keys
from .panel import DailyPanel
from .kernels import (
    covariate_means,
    empty_cells,
    popcount24,
    scatter_days,
)
from .validate import Problems, calendar_ok, first_repeat, where_repeated


def assemble_days(parts, statics, covs, problems: Problems, source: str, extend_to: int | None = None,
                  hourly: bool = True):  # fmt: skip
    """Merge day records of all batches into flat per-series daily arrays (`hourly`: the
    input had an hour column)."""
    small = [C.STORE, C.PRODUCT, C.DAY, *statics, "file", "row", "dup_row", "dup_hour", "first_hour", "mask"]
    rec = {k: np.concatenate([p[k] for p in parts]) for k in small}  # the big per-hour fields stay per part
    files = [p["_file_name"] for p in parts]
    if not calendar_ok(rec, files, problems, source):
        return None
    (key,) = pair_keys((rec[C.STORE], rec[C.PRODUCT]))
    _, first_rec, inverse = np.unique(key, return_index=True, return_inverse=True)
    n_series = len(first_rec)
    start = np.full(n_series, np.iinfo(np.int32).max, np.int32)
    np.minimum.at(start, inverse, rec[C.DAY])
    last_day = int(rec[C.DAY].max()) if extend_to is None else extend_to
    lengths = (last_day - start + 1).astype(np.int64)
    offsets = np.zeros(n_series + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    pos = offsets[:-1][inverse] + (rec[C.DAY] - start[inverse])
    cells = empty_cells(int(offsets[-1]), len(covs))
    at = 0
    for p in parts:
        n = len(p[C.DAY])
        scatter_days(
            pos[at : at + n], p["mask"], p["dups"], p["rows"], p["sales"], p["so_hours"], p["so_shop"],
            p["in_sales"], p["in_hours"], p["cov_sum"], p["hour_sales"], p["so_mask"], *cells, hourly,
        )  # fmt: skip
        at += n
    mask, dups, rows, sales, so_hours, so_shop, in_sales, in_hours, cov_sums, hour_sales, so_mask = cells
    cov = covariate_means(cov_sums, rows)
    if dups.any():
        _report_repeats(rec, pos, dups, files, problems, source, hourly)
    series = pd.DataFrame({c: rec[c][first_rec].astype(np.int64) for c in (C.STORE, C.PRODUCT)})
    for s in statics:
        series[s] = _series_attribute(rec, s, first_rec, inverse, files, problems)
    hours = popcount24(mask)
    filled = (24 - hours).astype(np.float32)
    return dict(
        series=series,
        offsets=offsets,
        start=start,
        last_day=last_day,
        sales=sales.astype(np.float32),
        stockout_hours=so_hours,
        stockout_shop_hours=so_shop,
        instock_sales=in_sales.astype(np.float32),
        instock_hours=in_hours,
        filled_hours=filled,
        covariates={c: cov[:, j].copy() for j, c in enumerate(covs)},
        hour_sales=hour_sales,
        stockout_mask=so_mask,
    )


def _report_repeats(rec: dict, pos: np.ndarray, dups: np.ndarray, files: list[str], problems: Problems,
                    source: str, hourly: bool) -> None:  # fmt: skip
    """Record the repeated store x product x day (x hour) rows, naming the first repeat."""
    r = first_repeat(pos, rec)
    keys = "store_id, product_id, dt, hour" if hourly else "store_id, product_id, dt"
    problems.add(source, "", f"duplicate {keys} keys", int(dups.sum()), where_repeated(rec, r, pos, files, hourly))


def _series_attribute(rec: dict, name: str, first_rec: np.ndarray, inverse: np.ndarray, files: list[str],
                      problems: Problems) -> np.ndarray:  # fmt: skip
    """Each series' value of attribute `name` (its first record's), recording values that
    are not ids and values that change within a series."""
    values = rec[name]
    bad = (values < 0) | (values > C.MAX_ID)
    if bad.any():
        r = int(np.argmax(bad))
        problems.add(
            files[rec["file"][r]], name, f"is not an id in 0..{C.MAX_ID}", int(bad.sum()),
            f"row {rec['row'][r] + 1}: store_id={rec[C.STORE][r]}, product_id={rec[C.PRODUCT][r]}",
        )  # fmt: skip
    per_series = values[first_rec]
    mismatch = values != per_series[inverse]
    if mismatch.any():
        r = int(np.argmax(mismatch))
        problems.add(
            files[rec["file"][r]], name, "changes within a store x product series", int(mismatch.sum()),
            f"row {rec['row'][r] + 1}: store_id={rec[C.STORE][r]}, product_id={rec[C.PRODUCT][r]}",
        )  # fmt: skip
    return per_series


def panel_from_days(parts, statics, covs, source: str, hourly: bool, problems: Problems | None = None,
                    last_day: int | None = None) -> DailyPanel:  # fmt: skip
    """Assemble the day records into a panel whose series end on `last_day` (default: the
    last day read); DataError listing every problem found while reading (`problems`) and
    assembling."""
    problems = Problems() if problems is None else problems
    a = assemble_days(parts, statics, covs, problems, source, last_day, hourly) if parts else None
    if problems or a is None:
        raise DataError(source, problems.lines())
    # Covariates of filled days are unknown: carry the series' previous day forward.
    for values in a["covariates"].values():
        _ffill_within(values, a["offsets"])
    return DailyPanel(
        series=a["series"],
        offsets=a["offsets"],
        start=a["start"],
        last_day=a["last_day"],
        sales=a["sales"],
        stockout_hours=a["stockout_hours"],
        stockout_shop_hours=a["stockout_shop_hours"],
        instock_sales=a["instock_sales"],
        instock_hours=a["instock_hours"],
        filled_hours=a["filled_hours"],
        covariates=a["covariates"],
        source=source,
        hour_sales=a["hour_sales"] if hourly else None,
        stockout_mask=a["stockout_mask"] if hourly else None,
    )


def _ffill_within(values: np.ndarray, offsets: np.ndarray) -> None:
    """Forward-fill NaN in place within each series (first days stay NaN)."""
    if not np.isnan(values).any():
        return
    idx = np.where(np.isnan(values), 0, np.arange(len(values)))
    starts = np.zeros(len(values), bool)
    starts[offsets[:-1][np.diff(offsets) > 0]] = True
    idx[starts & np.isnan(values)] = np.flatnonzero(starts & np.isnan(values))
    np.maximum.accumulate(idx, out=idx)
    values[:] = values[idx]
