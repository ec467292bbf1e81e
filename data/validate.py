"""Validation of the input rows against the contract: one problem line per file, column and
kind with a count and the first row; range checks of a batch; calendar sanity and repeated
rows across batches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import contract as C
from .dates import NOT_A_DATE, NOT_A_DAY, day_numbers, day_to_date, times_of_day
from .kernels import (
    count_bad_sales,
    count_implausible,
    count_outside,
    popcount24,
)


class Problems:
    """Collects validation problems, one line per (file, column, kind) with a count and the
    first offending row."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], list] = {}

    def add(self, file: str, column: str, kind: str, count: int, example: str = "") -> None:
        key = (file, column, kind)
        if key in self._seen:
            self._seen[key][0] += count
        else:
            self._seen[key] = [count, example]

    def lines(self) -> list[str]:
        out = []
        for (file, column, kind), (count, example) in self._seen.items():
            where = f"{file}: " if file else ""
            col = f"column '{column}' " if column else ""
            ex = f" (first: {example})" if example else ""
            out.append(f"{where}{col}{kind}: {count} row(s){ex}" if count else f"{where}{col}{kind}")
        return out

    def __bool__(self) -> bool:
        return bool(self._seen)


TIMED = ("holds times of day, not calendar days (a UTC timestamp of a store's midnight is another day's time; an "
         "hour goes in the hour column): give dates, or timestamps at midnight in the stores' time zone")


def describe_row(cols: dict[str, np.ndarray], i: int, rows: np.ndarray) -> str:
    day = day_to_date(cols[C.DAY][i])
    hour = f", hour={cols[C.HOUR][i]}" if C.HOUR in cols else ""
    return f"row {rows[i] + 1}: store_id={cols[C.STORE][i]}, product_id={cols[C.PRODUCT][i]}, dt={day}{hour}"


def _first_null(arr: pa.Array, rows: np.ndarray) -> str:
    return f"row {rows[int(np.argmax(arr.is_null().to_numpy(zero_copy_only=False)))] + 1}"


def batch_columns(batch, name_of, covs, statics, file, rows, problems):
    """Convert one batch to numpy, recording every contract violation (`rows`: each row's
    0-based row number in `file`). Returns (cols, ok): ok is False when the rows cannot be
    reduced to day records (bad keys, dates or hours)."""
    cols: dict[str, np.ndarray] = {}
    ok = True
    for native, theirs in name_of.items():
        arr = batch.column(batch.schema.get_field_index(theirs))
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if pa.types.is_decimal(arr.type):  # what SQL drivers give for NUMERIC columns
            arr = pc.cast(arr, pa.float64(), safe=False)
        nulls = arr.null_count
        if native in (*C.KEYS, C.HOUR, *statics) and nulls:
            problems.add(file, theirs, "is empty (NaN or null)", nulls, _first_null(arr, rows))
            ok = False
            continue
        if native == C.DAY:
            days = day_numbers(arr)
            bad = days == NOT_A_DAY
            if bad.any():
                i = int(np.argmax(bad))
                problems.add(file, theirs, NOT_A_DATE, int(bad.sum()),
                             f"row {rows[i] + 1}: '{arr[i].as_py()}'")  # fmt: skip
                ok = False
            timed = times_of_day(arr) & ~bad
            if timed.any():
                i = int(np.argmax(timed))
                problems.add(file, theirs, TIMED, int(timed.sum()), f"row {rows[i] + 1}: '{arr[i].as_py()}'")
                ok = False
            cols[native] = days.astype(np.int32)
            continue
        if native in (C.SALES, C.STOCKOUT) and nulls:
            problems.add(file, theirs, "is empty (NaN or null)", nulls, _first_null(arr, rows))
            ok = False
            continue
        values = arr.to_numpy(zero_copy_only=False)
        if native in (C.SALES, *covs):
            values = np.asarray(values, dtype=np.float32)
        elif values.dtype.kind not in "iuf":
            values = values.astype(np.float32)  # booleans
        cols[native] = values
    if not ok:
        return cols, False
    found = []  # (native column, problem, rows, first row)
    if C.SALES in cols:
        n_nan, first_nan, n_neg, first_neg = count_bad_sales(cols[C.SALES])
        found += [(C.SALES, "is NaN or infinite", n_nan, first_nan), (C.SALES, "is negative", n_neg, first_neg)]
    for c in covs:
        lo, hi, whole = C.COVARIATE_RANGES[c]
        kind = "is not 0 or 1" if whole else f"is outside the plausible range {lo:g} .. {hi:g}"
        found.append((c, kind, *count_implausible(cols[c], lo, hi, whole)))
    ranges = [(C.STOCKOUT, 0, 1, "is not 0 or 1"), (C.HOUR, 0, 23, "is not an hour 0..23")]
    ranges += [(c, 0, C.MAX_ID, f"is not an id in 0..{C.MAX_ID}") for c in (C.STORE, C.PRODUCT)]
    # integer category columns are range-checked per day record in assemble_days; float ones here
    ranges += [(c, 0, C.MAX_ID, f"is not an id in 0..{C.MAX_ID}") for c in statics if cols[c].dtype.kind == "f"]
    for native, lo, hi, kind in ranges:
        if native in cols:
            values = cols[native]
            found.append((native, kind, *count_outside(values, lo, hi, values.dtype.kind == "f")))
    for native in (C.STORE, C.PRODUCT, *statics):
        if (narrow := C.narrow_float_ids(cols[native].dtype)) is not None:
            above = cols[native] > narrow[0]
            found.append((native, narrow[1], int(above.sum()), int(np.argmax(above))))
    for native, kind, n_bad, first in found:
        if n_bad:
            problems.add(file, name_of[native], kind, int(n_bad), describe_row(cols, int(first), rows))
            # bad keys or hours make the batch unusable; bad values (sales, flags, covariates)
            # are reported, and the rows still serve the checks across rows (repeats, days)
            ok = ok and native not in (C.HOUR, C.STORE, C.PRODUCT, *statics)
    for native in (C.STORE, C.PRODUCT, *statics):
        if cols[native].dtype.kind == "f":
            with np.errstate(invalid="ignore"):  # ids out of range are reported above; the batch is not used
                cols[native] = cols[native].astype(np.int64)
    if C.HOUR in cols:
        cols[C.HOUR] = cols[C.HOUR].astype(np.int8, copy=False)
    return cols, ok


def attribute_changes(cols: dict[str, np.ndarray], statics: list[str], name_of: dict[str, str], file: str,
                      rows: np.ndarray, problems: Problems) -> None:  # fmt: skip
    """Record series attributes that change from one row to the next of the same store x
    product within a batch (changes across batches are caught when the series are assembled)."""
    same = (cols[C.STORE][1:] == cols[C.STORE][:-1]) & (cols[C.PRODUCT][1:] == cols[C.PRODUCT][:-1])
    for s in statics:
        change = same & (cols[s][1:] != cols[s][:-1])
        if change.any():
            i = int(np.argmax(change)) + 1
            problems.add(file, name_of[s], "changes within a store x product series", int(change.sum()),
                         f"{describe_row(cols, i, rows)}, against row {rows[i - 1] + 1}")  # fmt: skip


def first_repeat(cell: np.ndarray, rec: dict) -> int:
    """The record (runs of rows of one cell, in read order) holding the first repeated row:
    the first with a row repeated inside it or an hour (a day, for whole-day rows) that a
    record of its cell read before it has; -1 if none."""
    order = np.lexsort((np.arange(len(cell)), cell))  # by cell, then in read order
    c, mask = cell[order], rec["mask"][order]
    first_of_cell = np.maximum.accumulate(np.where(np.r_[True, c[1:] != c[:-1]], np.arange(len(c)), 0))
    shared = np.zeros(len(c), bool)
    for h in range(24):
        has = ((mask >> h) & 1).astype(np.int64)
        before = np.cumsum(has) - has  # records with hour h before this one, then only those of its cell
        shared |= (has > 0) & (before - before[first_of_cell] > 0)
    repeat = rec["dup_row"] >= 0
    repeat[order] |= shared
    return int(np.argmax(repeat)) if repeat.any() else -1


def where_repeated(rec: dict, r: int, cell: np.ndarray, files: list[str], hourly: bool) -> str:
    """'FILE row N: store_id=.., product_id=.., dt=..[, hour=H]' of the first repeated row of
    record r (`first_repeat`): its first row if that repeats an earlier record of its cell,
    else a row repeated inside it; the hour where the input has hours and the row is known
    (a record whose first row is new and a later one repeats an earlier record's hour names
    its first row, without an hour)."""
    at = np.flatnonzero(cell == cell[r])
    seen = int(np.bitwise_or.reduce(rec["mask"][at[at < r]], initial=0))
    first = int(rec["first_hour"][r])
    row, hour = int(rec["row"][r]), -1
    if seen and (first < 0 or (seen >> first) & 1):
        hour = first
    elif rec["dup_row"][r] >= 0:
        row, hour = int(rec["dup_row"][r]), int(rec["dup_hour"][r])
    return (f"{files[rec['file'][r]]} row {row + 1}: store_id={rec[C.STORE][r]}, product_id={rec[C.PRODUCT][r]}, "
            f"dt={day_to_date(rec[C.DAY][r])}" + (f", hour={hour}" if hourly and hour >= 0 else ""))  # fmt: skip


def calendar_ok(rec: dict, files: list[str], problems: Problems, source: str) -> bool:
    """Refuse days outside FIRST_YEAR..LAST_YEAR and rows cut off from the others by more
    than MAX_GAP_DAYS without any row (a mistyped date would otherwise stretch every series
    over the gap)."""
    day = rec[C.DAY]
    lo = int(np.datetime64(f"{C.FIRST_YEAR}-01-01", "D").astype(np.int64))
    hi = int(np.datetime64(f"{C.LAST_YEAR}-12-31", "D").astype(np.int64))

    def where(r: int) -> str:
        return (f"{files[rec['file'][r]]} row {rec['row'][r] + 1}: store_id={rec[C.STORE][r]}, "
                f"product_id={rec[C.PRODUCT][r]}, dt={day_to_date(day[r])}")  # fmt: skip

    outside = (day < lo) | (day > hi)
    if outside.any():
        problems.add(source, C.DAY, f"is not between {C.FIRST_YEAR} and {C.LAST_YEAR}", int(outside.sum()),
                     where(int(np.argmax(outside))))  # fmt: skip
        return False
    first = int(day.min())
    days = first + np.flatnonzero(np.bincount(day - first))
    gaps = np.flatnonzero(np.diff(days) > C.MAX_GAP_DAYS)
    if len(gaps):
        g = int(gaps[0])
        before, after = days[g], days[g + 1]
        # the side with fewer rows is the odd one out
        late = day >= after
        odd = late if late.sum() <= (~late).sum() else ~late
        problems.add(
            source, C.DAY,
            f"leaves {int(after - before) - 1:,} days without any row between {day_to_date(before)} and "
            f"{day_to_date(after)}: a mistyped date?", int(odd.sum()), where(int(np.argmax(odd))),
        )  # fmt: skip
        return False
    return True


def repeated_cells(cell: np.ndarray, rec: dict, files: list[str], hourly: bool) -> str:
    """The problem if a store x product x day (x hour) appears in more than one row, naming
    the first repeated row; '' if none."""
    order = np.argsort(cell, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(cell[order]) != 0])
    masks = rec["mask"][order]
    union = np.bitwise_or.reduceat(masks, starts)
    hours = np.add.reduceat(popcount24(masks).astype(np.int64), starts)
    within = rec["dups"][order] > 0
    repeated = (hours > popcount24(union)) | (np.maximum.reduceat(within, starts) > 0)
    if repeated.any():
        r = first_repeat(cell, rec)
        keys = "store_id, product_id, dt, hour" if hourly else "store_id, product_id, dt"
        return (f"repeated {keys} rows: {int(repeated.sum())} day(s) hold a row twice "
                f"(first: {where_repeated(rec, r, cell, files, hourly)})")  # fmt: skip
    return ""
