"""Load sales history and future covariates (Parquet or CSV, file or hive folder): read
(`read`), validate once (`validate`) and reduce them to the daily series panel (`assemble`).

Everything inside freshcast works on the `DailyPanel` (data/panel.py) this module returns;
nothing past this boundary re-checks the data.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import DataError
from . import contract as C
from .dates import day_to_date
from .keys import match_pairs, pair_keys
from .panel import DailyPanel, FutureCovariates
from .assemble import panel_from_days
from .read import read_day_records, source_name
from .validate import repeated_cells


def sample_path() -> Path:
    """Folder of the embedded sample: one city of FreshRetailNet-50K (CC BY 4.0), hive layout."""
    return Path(str(resources.files("freshcast.data") / "sample" / "hourly"))


Source = str | Path | pd.DataFrame | pa.Table


def load_history(path: Source, column_map: C.ColumnMap | None = None, stores: tuple[int, int] | None = None,
                 last_day: int | None = None) -> DailyPanel:  # fmt: skip
    """Read and validate sales history (Parquet or CSV file, hive-partitioned folder, or an
    in-memory table) and aggregate it to days; with `stores` (lo, hi), only the series of
    store ids lo..hi (a partition, see `data.partitions`), whose series end on `last_day`
    (the chain's last day; default their own). Raises DataError listing every problem found."""
    parts, statics, covs, problems, source, hourly = read_day_records(path, column_map, True, stores)
    return panel_from_days(parts, statics, covs, source, hourly, problems, last_day)


def load_history_with_actuals(
    history: Source, actuals: Source, column_map: C.ColumnMap | None = None, stores: tuple[int, int] | None = None
) -> tuple[DailyPanel, int]:
    """Sales history followed by the actual sales of the days after it (for replays), as one
    panel. Returns the panel and the day number of the first actual day. The actuals must
    start the day after the history ends and hold only series of the history; history series
    without actual rows get filled days (zero sales, counted in filled_hours). With `stores`
    (lo, hi), only the series of store ids lo..hi (a partition, see `data.partitions`)."""
    parts, statics, covs, problems, source, hourly = read_day_records(history, column_map, True, stores)
    if problems:
        raise DataError(source, problems.lines())
    a_parts, a_statics, a_covs, a_problems, a_source, a_hourly = read_day_records(actuals, column_map, True, stores)
    if a_problems:
        raise DataError(a_source, a_problems.lines())
    if hourly and not a_hourly:
        raise DataError(a_source, ["has no 'hour' column while the history has hourly rows: give the actual days "
                                   "hourly too (their stockout hours tell the demand a day lost)"])  # fmt: skip
    missing = [c for c in [*statics, *covs] if c not in [*a_statics, *a_covs]]
    if missing:
        raise DataError(a_source, [f"column '{c}' is in the history but missing here" for c in missing])
    last = max(int(p[C.DAY].max()) for p in parts)
    first = min(int(p[C.DAY].min()) for p in a_parts)
    if first != last + 1:
        raise DataError(
            a_source,
            [f"actual days must start on {day_to_date(last + 1)}, the day after the history ends; "
             f"they start on {day_to_date(first)}"],
        )  # fmt: skip
    a_store, a_product = (np.concatenate([p[c] for p in a_parts]) for c in (C.STORE, C.PRODUCT))
    hist_keys, keys = pair_keys(
        (np.concatenate([p[C.STORE] for p in parts]), np.concatenate([p[C.PRODUCT] for p in parts])),
        (a_store, a_product),
    )
    new = ~np.isin(keys, hist_keys)
    if new.any():  # counted over all the actuals, not one batch
        r = int(np.argmax(new))
        raise DataError(
            a_source,
            [f"{len(np.unique(keys[new]))} store x product series not in the history, e.g. "
             f"store_id={a_store[r]}, product_id={a_product[r]}"],
        )  # fmt: skip
    for p in a_parts:
        p["file"] = p["file"] + len(parts)
    return panel_from_days(parts + a_parts, statics, covs, f"{source} + {a_source}", hourly), first


def load_future(path: Source, history: DailyPanel, column_map: C.ColumnMap | None = None,
                stores: tuple[int, int] | None = None) -> FutureCovariates:  # fmt: skip
    """Read the declared future covariates for the days after `history` and align them to its
    series (with `stores`, only the rows of those store ids: `history` is that partition).
    Every history series needs a row for every future day; the days must start the day after
    the history ends and follow each other."""
    parts, _, covs, problems, source, hourly = read_day_records(path, column_map, False, stores)
    for c in history.covariates:
        if c not in covs:
            problems.add(source, c, "is in the history but missing here", 0)
    if not parts:
        raise DataError(source, problems.lines())
    fields = (C.STORE, C.PRODUCT, C.DAY, "rows", "cov_sum", "mask", "dups", "dup_row", "dup_hour", "first_hour", "file",
              "row")  # fmt: skip
    rec = {k: np.concatenate([p[k] for p in parts]) for k in fields}
    first_day, last = int(rec[C.DAY].min()), int(rec[C.DAY].max())
    n_days = last - first_day + 1
    if first_day != history.last_day + 1:
        problems.add(source, "", f"future days must start on {day_to_date(history.last_day + 1)}, the day after "
                                 f"the history ends; they start on {day_to_date(first_day)}", 0)  # fmt: skip
    if n_days > C.MAX_HORIZON:
        problems.add(source, "", f"future days run from {day_to_date(first_day)} to {day_to_date(last)} "
                                 f"({n_days} days); freshcast forecasts at most {C.MAX_HORIZON} days ahead", 0)  # fmt: skip
    key, series, known = match_pairs((rec[C.STORE], rec[C.PRODUCT]),
                                     (history.series[C.STORE], history.series[C.PRODUCT]))  # fmt: skip
    if not known.all():
        r = int(np.argmax(~known))
        problems.add(
            source, "", "store x product series not in the history", len(np.unique(key[~known])),
            f"store_id={rec[C.STORE][r]}, product_id={rec[C.PRODUCT][r]}",
        )  # fmt: skip
    files = [p["_file_name"] for p in parts]
    series_of_row = np.unique(key, return_inverse=True)[1].astype(np.int64)
    repeat = repeated_cells(series_of_row * n_days + (rec[C.DAY] - first_day), rec, files, hourly)
    if repeat:
        problems.add(source, "", repeat, 0)
    if problems:
        raise DataError(source, problems.lines())
    cell = series.astype(np.int64) * n_days + (rec[C.DAY] - first_day)
    counts = np.bincount(cell, weights=rec["rows"], minlength=history.n_series * n_days)
    empty = counts == 0
    if empty.any():
        c = int(np.argmax(empty))
        s, k = divmod(c, n_days)
        problems.add(
            source, "", "store x product x day combinations missing from the future covariates",
            int(empty.sum()),
            f"store_id={history.series[C.STORE].iat[s]}, product_id={history.series[C.PRODUCT].iat[s]}, "
            f"dt={day_to_date(first_day + k)}",
        )  # fmt: skip
        raise DataError(source, problems.lines())
    values = {}
    for j, c in enumerate(covs):
        if c in history.covariates:
            total = np.bincount(cell, weights=rec["cov_sum"][:, j], minlength=len(counts))
            values[c] = (total / counts).astype(np.float32).reshape(history.n_series, n_days)
    return FutureCovariates(first_day=first_day, n_days=n_days, values=values, ids=history.ids())


def _named(exc: DataError, path: Source) -> list[str]:
    """The problems of `exc`, naming its file where it is not `path` itself (one file of a
    folder)."""
    same = exc.source == source_name(path)
    return list(exc.problems) if same else [f"{exc.source}: {p}" for p in exc.problems]


def validate_future(path: Source, history: Source, column_map: C.ColumnMap | None = None) -> tuple[list[str], dict]:
    """Check a future covariates file against the history it follows. Returns (problems,
    summary); an empty problem list means the file is valid."""
    try:
        panel = load_history(history, column_map)
    except DataError as exc:
        return [f"{exc.source}: {p}" for p in exc.problems], {}
    try:
        future = load_future(path, panel, column_map)
    except DataError as exc:
        return _named(exc, path), {}
    summary = {
        "series": panel.n_series,
        "days": future.n_days,
        "first_day": str(day_to_date(future.first_day)),
        "last_day": str(day_to_date(future.first_day + future.n_days - 1)),
        "covariates": list(future.values),
    }
    return [], summary


def validate_path(path: Source, column_map: C.ColumnMap | None = None) -> tuple[list[str], dict]:
    """Check a history file against the contract. Returns (problems, summary); an empty
    problem list means the file is valid."""
    try:
        panel = load_history(path, column_map)
    except DataError as exc:
        return _named(exc, path), {}
    filled = panel.filled_hours
    summary = {
        "series": panel.n_series,
        "days": int(panel.last_day - panel.start.min() + 1),
        "first_day": str(day_to_date(panel.start.min())),
        "last_day": str(day_to_date(panel.last_day)),
        "daily_rows": panel.n_flat,
        "filled_days": int((filled >= 24).sum()),
        "filled_hours": int(filled[filled < 24].sum()),
        "covariates": list(panel.covariates),
    }
    return [], summary


__all__ = [
    "load_future",
    "load_history",
    "sample_path",
    "validate_future",
    "validate_path",
]
