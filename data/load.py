"""Read sales history and future covariates (Parquet or CSV, file or hive folder), validate
them once, and reduce them to daily arrays per store x product series.

Everything inside freshcast works on the `DailyPanel` (data/panel.py) this module returns;
nothing past this boundary re-checks the data.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from ..errors import DataError
from . import contract as C
from .dates import NOT_A_DAY, day_numbers, day_to_date
from .panel import DailyPanel, FutureCovariates
from .kernels import (
    count_bad_sales,
    count_implausible,
    count_outside,
    covariate_means,
    day_records,
    empty_cells,
    popcount24,
    scatter_days,
)

BATCH_ROWS = 1 << 21


def sample_path() -> Path:
    """Folder of the embedded sample: one city of FreshRetailNet-50K (CC BY 4.0), hive layout."""
    return Path(str(resources.files("freshcast.data") / "sample" / "hourly"))


# --------------------------------------------------------------------------------------
# Reading


class _Problems:
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


def _source_name(source) -> str:
    return f"<{type(source).__name__}>" if isinstance(source, (pd.DataFrame, pa.Table)) else str(source)


_CSV = (".csv", ".csv.gz")
_PARQUET = (".parquet", ".pq")


def _open_dataset(path, day_column: str = C.DAY) -> ds.Dataset:
    """The input as an Arrow dataset. CSV dates are read as text, so that one helper
    (`data.dates`) turns them into days: Arrow would move times with a zone offset to UTC."""
    if isinstance(path, pd.DataFrame):
        path = pa.Table.from_pandas(path, preserve_index=False)
    if isinstance(path, pa.Table):
        return ds.dataset(path)
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), ["no such file or folder"])
    source: str | list[str] = str(path)
    if path.is_dir():  # data files only: a README or notes beside them are not read
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        csv = [str(p) for p in files if p.name.endswith(_CSV)]
        parquet = [str(p) for p in files if p.name.endswith(_PARQUET)]
        if csv and parquet:
            raise DataError(str(path), ["the folder mixes CSV and Parquet files: keep one format"])
        if not csv and not parquet:
            raise DataError(str(path), ["the folder holds no data files (.parquet, .pq, .csv, .csv.gz)"])
        fmt, source = ("csv", csv) if csv else ("parquet", parquet)
    elif path.name.endswith(_CSV):
        fmt = "csv"
    elif path.name.endswith(_PARQUET):
        fmt = "parquet"
    else:
        raise DataError(str(path), ["unknown file type: expected .parquet, .pq, .csv or .csv.gz"])
    try:
        base = {"partition_base_dir": str(path)} if isinstance(source, list) else {}
        if fmt == "csv":
            text = pacsv.ConvertOptions(column_types={day_column: pa.string()})
            return ds.dataset(source, format=ds.CsvFileFormat(convert_options=text), partitioning="hive", **base)
        return ds.dataset(source, format=fmt, partitioning="hive", **base)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(str(path), [f"cannot be read as {fmt}: {exc}"]) from exc


def _is_number(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_number(t.value_type)
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def _is_date(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_date(t.value_type)
    return pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_string(t) or pa.types.is_large_string(t)


def _plan_columns(
    schema: pa.Schema, source: str, column_map: C.ColumnMap | None, with_sales: bool
) -> tuple[dict[str, str], list[str]]:
    """Decide which native columns to read and from which input names. Raises DataError
    listing every missing or mistyped column."""
    to_native = dict(column_map or {})
    problems = []
    for k, v in to_native.items():
        if k not in schema.names:
            problems.append(f"mapped column '{k}' (for '{v}') is not in the data")
        if v not in C.NATIVE:
            problems.append(f"mapping '{k}={v}' names no freshcast column '{v}'")
    from_native = {v: k for k, v in to_native.items()}
    name_of = {}  # native -> input name
    for native in C.NATIVE:
        theirs = from_native.get(native, native)
        if theirs in schema.names and (theirs not in to_native or to_native[theirs] == native):
            name_of[native] = theirs
    required = [*C.KEYS, C.SALES] if with_sales else list(C.KEYS)
    for native in required:
        if native not in name_of:
            hint = f" (mapped from '{from_native[native]}')" if native in from_native else ""
            problems.append(f"required column '{native}'{hint} is missing")
    for native, theirs in name_of.items():
        t = schema.field(theirs).type
        ok = _is_date(t) if native == C.DAY else _is_number(t)
        if not ok:
            expected = "a date" if native == C.DAY else "a number"
            problems.append(f"column '{theirs}' has type {t}; expected {expected}")
    if not with_sales:
        name_of.pop(C.SALES, None)
        name_of.pop(C.STOCKOUT, None)
    if problems:
        raise DataError(source, problems)
    covs = [c for c in C.COVARIATES if c in name_of]
    return name_of, covs


def _describe_row(cols: dict[str, np.ndarray], i: int, row0: int) -> str:
    day = day_to_date(cols[C.DAY][i])
    hour = f", hour={cols[C.HOUR][i]}" if C.HOUR in cols else ""
    return f"row {row0 + i + 1}: store_id={cols[C.STORE][i]}, product_id={cols[C.PRODUCT][i]}, dt={day}{hour}"


def _read_day_records(path: Path, column_map: C.ColumnMap | None, with_sales: bool):
    """Stream the input and reduce it to day records. Returns (per-batch record dicts, static
    names, covariate names, problems, source name, whether rows are hourly)."""
    day_column = next((theirs for theirs, native in (column_map or {}).items() if native == C.DAY), C.DAY)
    dataset = _open_dataset(path, day_column)
    source = _source_name(path)
    name_of, covs = _plan_columns(dataset.schema, source, column_map, with_sales)
    statics = [c for c in C.STATIC if c in name_of]
    problems = _Problems()
    parts: list[dict[str, np.ndarray]] = []
    rows_in_file: dict[str, int] = {}
    scanner = dataset.scanner(columns=list(name_of.values()), batch_size=BATCH_ROWS)
    for tagged in _batches(scanner, dataset, list(name_of.values()), source):
        batch = tagged.record_batch
        if batch.num_rows == 0:
            continue
        file = getattr(tagged.fragment, "path", source)
        row0 = rows_in_file.get(file, 0)
        rows_in_file[file] = row0 + batch.num_rows
        cols, ok = _batch_columns(batch, name_of, covs, statics, file, row0, problems)
        if not ok:
            continue
        hour = cols.get(C.HOUR, np.full(batch.num_rows, -1, np.int8))
        sale = cols.get(C.SALES, np.zeros(batch.num_rows, np.float32))
        stock = cols.get(C.STOCKOUT, np.zeros(batch.num_rows, np.int8))
        cov = np.empty((batch.num_rows, len(covs)), np.float32)
        for j, c in enumerate(covs):
            cov[:, j] = cols[c]
        first, *fields = day_records(
            cols[C.STORE], cols[C.PRODUCT], cols[C.DAY], hour, sale, stock, cov, *C.SHOP_HOURS
        )
        rec = dict(
            zip(
                ("mask", "dups", "dup_row", "rows", "sales", "so_hours", "so_shop", "in_sales", "in_hours", "cov_sum",
                 "hour_sales", "so_mask"),
                fields,
            )
        )
        for k in (C.STORE, C.PRODUCT, *statics):
            rec[k] = cols[k][first].astype(np.int64)
        rec[C.DAY] = cols[C.DAY][first]
        rec["file"] = np.full(len(first), len(parts), np.int32)
        rec["row"] = (first + row0).astype(np.int64)
        rec["dup_row"] = np.where(rec["dup_row"] >= 0, rec["dup_row"] + row0, -1)
        rec["_file_name"] = file
        parts.append(rec)
    if not parts and not problems:
        problems.add(source, "", "holds no rows", 0)
    return parts, statics, covs, problems, source, C.HOUR in name_of


def _batches(scanner: ds.Scanner, dataset: ds.Dataset, columns: list[str], source: str):
    """The scanner's tagged batches; a file that cannot be read (corrupt page, truncated
    file, bad CSV line) raises DataError naming that file."""
    try:
        yield from scanner.scan_batches()
    except (pa.ArrowException, OSError) as exc:
        culprit = source
        fragments = list(dataset.get_fragments())
        for fragment in fragments if len(fragments) > 1 else []:  # which file? read again, batch by batch
            try:
                for _ in fragment.to_batches(columns=[c for c in columns if c in fragment.physical_schema.names]):
                    pass
            except (pa.ArrowException, OSError):
                culprit = getattr(fragment, "path", source)
                break
        raise DataError(culprit, [f"cannot be read: {str(exc).splitlines()[0]}"]) from None


def _batch_columns(batch, name_of, covs, statics, file, row0, problems):
    """Convert one batch to numpy, recording every contract violation. Returns (cols, ok):
    ok is False when the rows cannot be reduced to day records (bad keys, dates or hours)."""
    cols: dict[str, np.ndarray] = {}
    ok = True
    for native, theirs in name_of.items():
        arr = batch.column(batch.schema.get_field_index(theirs))
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        nulls = arr.null_count
        if native in (*C.KEYS, C.HOUR, *statics) and nulls:
            problems.add(file, theirs, "is empty (NaN or null)", nulls)
            ok = False
            continue
        if native == C.DAY:
            days = day_numbers(arr)
            bad = days == NOT_A_DAY
            if bad.any():
                i = int(np.argmax(bad))
                problems.add(file, theirs, "is not a date (expected YYYY-MM-DD)", int(bad.sum()),
                             f"row {row0 + i + 1}: '{arr[i].as_py()}'")  # fmt: skip
                ok = False
            cols[native] = days.astype(np.int32)
            continue
        if native in (C.SALES, C.STOCKOUT) and nulls:
            problems.add(file, theirs, "is empty (NaN or null)", nulls)
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
    ranges += [(c, 0, np.iinfo(np.int32).max, "is not an id in 0..2147483647") for c in (C.STORE, C.PRODUCT)]
    # integer category columns are range-checked per day record in _assemble; float ones here
    ranges += [(c, 0, np.iinfo(np.int32).max, "is not an id in 0..2147483647") for c in statics if cols[c].dtype.kind == "f"]
    for native, lo, hi, kind in ranges:
        if native in cols:
            values = cols[native]
            found.append((native, kind, *count_outside(values, lo, hi, values.dtype.kind == "f")))
    for native, kind, n_bad, first in found:
        if n_bad:
            problems.add(file, name_of[native], kind, int(n_bad), _describe_row(cols, int(first), row0))
            # bad keys or hours make the batch unusable; bad values (sales, flags, covariates)
            # are reported, and the rows still serve the checks across rows (repeats, days)
            ok = ok and native not in (C.HOUR, C.STORE, C.PRODUCT, *statics)
    for native in (C.STORE, C.PRODUCT, *statics):
        if cols[native].dtype.kind == "f":
            cols[native] = cols[native].astype(np.int64)
    if C.HOUR in cols:
        cols[C.HOUR] = cols[C.HOUR].astype(np.int8, copy=False)
    return cols, ok


def _assemble(parts, statics, covs, problems: _Problems, source: str, extend_to: int | None = None):
    """Merge day records of all batches into flat per-series daily arrays."""
    small = [C.STORE, C.PRODUCT, C.DAY, *statics, "file", "row", "dup_row"]
    rec = {k: np.concatenate([p[k] for p in parts]) for k in small}  # the big per-hour fields stay per part
    files = [p["_file_name"] for p in parts]
    if not _calendar_ok(rec, files, problems, source):
        return None
    key = (rec[C.STORE] << 32) | rec[C.PRODUCT]
    series_keys, first_rec, inverse = np.unique(key, return_index=True, return_inverse=True)
    n_series = len(series_keys)
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
            p["in_sales"], p["in_hours"], p["cov_sum"], p["hour_sales"], p["so_mask"], *cells,
        )  # fmt: skip
        at += n
    mask, dups, rows, sales, so_hours, so_shop, in_sales, in_hours, cov_sums, hour_sales, so_mask = cells
    cov = covariate_means(cov_sums, rows)
    if dups.any():
        r = _repeated_row(pos, dups[pos] > 0, rec)
        example = (
            f"{files[rec['file'][r]]} row {_row_of_repeat(rec, r) + 1}: store_id={rec[C.STORE][r]}, "
            f"product_id={rec[C.PRODUCT][r]}, dt={day_to_date(rec[C.DAY][r])}"
        )
        problems.add(source, "", "duplicate store_id, product_id, dt, hour keys", int(dups.sum()), example)
    series = pd.DataFrame({C.STORE: (series_keys >> 32).astype(np.int64), C.PRODUCT: series_keys & 0xFFFFFFFF})
    for s in statics:
        bad = (rec[s] < 0) | (rec[s] > np.iinfo(np.int32).max)
        if bad.any():
            r = int(np.argmax(bad))
            problems.add(
                files[rec["file"][r]], s, "is not an id in 0..2147483647", int(bad.sum()),
                f"row {rec['row'][r] + 1}: store_id={rec[C.STORE][r]}, product_id={rec[C.PRODUCT][r]}",
            )  # fmt: skip
        series[s] = rec[s][first_rec]
        mismatch = rec[s] != series[s].to_numpy()[inverse]
        if mismatch.any():
            r = int(np.argmax(mismatch))
            problems.add(
                source, s, "changes within a store x product series", int(mismatch.sum()),
                f"store_id={rec[C.STORE][r]}, product_id={rec[C.PRODUCT][r]}",
            )  # fmt: skip
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


def _repeated_row(cell: np.ndarray, repeated: np.ndarray, rec: dict) -> int:
    """The record holding the first repeat of the first cell that holds one: a record with a
    row repeated inside it, else the cell's last record (rows are read in order)."""
    at = np.flatnonzero(cell == cell[np.argmax(repeated)])
    inside = at[rec["dup_row"][at] >= 0]
    return int(inside[0] if len(inside) else at[-1])


def _row_of_repeat(rec: dict, r: int) -> int:
    """Row (from 0, in its file) of the repeat in record r."""
    return int(rec["dup_row"][r] if rec["dup_row"][r] >= 0 else rec["row"][r])


def _calendar_ok(rec: dict, files: list[str], problems: _Problems, source: str) -> bool:
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


Source = str | Path | pd.DataFrame | pa.Table


def load_history(path: Source, column_map: C.ColumnMap | None = None) -> DailyPanel:
    """Read and validate sales history (Parquet or CSV file, hive-partitioned folder, or an
    in-memory table) and aggregate it to days. Raises DataError listing every problem found."""
    parts, statics, covs, problems, source, hourly = _read_day_records(path, column_map, with_sales=True)
    return _panel(parts, statics, covs, source, hourly, problems)


def load_history_with_actuals(
    history: Source, actuals: Source, column_map: C.ColumnMap | None = None
) -> tuple[DailyPanel, int]:
    """Sales history followed by the actual sales of the days after it (for replays), as one
    panel. Returns the panel and the day number of the first actual day. The actuals must
    start the day after the history ends and hold only series of the history; history series
    without actual rows get filled days (zero sales, counted in filled_hours)."""
    parts, statics, covs, problems, source, hourly = _read_day_records(history, column_map, with_sales=True)
    if problems:
        raise DataError(source, problems.lines())
    a_parts, a_statics, a_covs, a_problems, a_source, _ = _read_day_records(actuals, column_map, with_sales=True)
    if a_problems:
        raise DataError(a_source, a_problems.lines())
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
    hist_keys = np.unique(np.concatenate([(p[C.STORE] << 32) | p[C.PRODUCT] for p in parts]))
    keys = np.concatenate([(p[C.STORE] << 32) | p[C.PRODUCT] for p in a_parts])
    new = ~np.isin(keys, hist_keys)
    if new.any():  # counted over all the actuals, not one batch
        r = keys[int(np.argmax(new))]
        raise DataError(
            a_source,
            [f"{len(np.unique(keys[new]))} store x product series not in the history, e.g. "
             f"store_id={r >> 32}, product_id={r & 0xFFFFFFFF}"],
        )  # fmt: skip
    for p in a_parts:
        p["file"] = p["file"] + len(parts)
    return _panel(parts + a_parts, statics, covs, f"{source} + {a_source}", hourly), first


def _panel(parts, statics, covs, source: str, hourly: bool, problems: _Problems | None = None) -> DailyPanel:
    """Assemble the day records into a panel; DataError listing every problem found while
    reading (`problems`) and assembling."""
    problems = _Problems() if problems is None else problems
    a = _assemble(parts, statics, covs, problems, source) if parts else None
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


def load_future(path: Source, history: DailyPanel, column_map: C.ColumnMap | None = None) -> FutureCovariates:
    """Read the declared future covariates for the days after `history` and align them to its
    series. Every history series needs a row for every future day; the days must start the
    day after the history ends and follow each other."""
    parts, _, covs, problems, source, hourly = _read_day_records(path, column_map, with_sales=False)
    for c in history.covariates:
        if c not in covs:
            problems.add(source, c, "is in the history but missing here", 0)
    if not parts:
        raise DataError(source, problems.lines())
    fields = (C.STORE, C.PRODUCT, C.DAY, "rows", "cov_sum", "mask", "dups", "dup_row", "file", "row")
    rec = {k: np.concatenate([p[k] for p in parts]) for k in fields}
    first_day, last = int(rec[C.DAY].min()), int(rec[C.DAY].max())
    n_days = last - first_day + 1
    if first_day != history.last_day + 1:
        problems.add(source, "", f"future days must start on {day_to_date(history.last_day + 1)}, the day after "
                                 f"the history ends; they start on {day_to_date(first_day)}", 0)  # fmt: skip
    if n_days > C.MAX_HORIZON:
        problems.add(source, "", f"future days run from {day_to_date(first_day)} to {day_to_date(last)} "
                                 f"({n_days} days); freshcast forecasts at most {C.MAX_HORIZON} days ahead", 0)  # fmt: skip
    key = (rec[C.STORE] << 32) | rec[C.PRODUCT]
    hist_keys = history.keys()
    order = np.argsort(hist_keys)
    where = np.minimum(np.searchsorted(hist_keys[order], key), len(order) - 1)
    known = hist_keys[order][where] == key
    if not known.all():
        r = int(np.argmax(~known))
        problems.add(
            source, "", "store x product series not in the history", len(np.unique(key[~known])),
            f"store_id={rec[C.STORE][r]}, product_id={rec[C.PRODUCT][r]}",
        )  # fmt: skip
    files = [p["_file_name"] for p in parts]
    series_of_row = np.unique(key, return_inverse=True)[1].astype(np.int64)
    repeat = _repeated_cells(series_of_row * n_days + (rec[C.DAY] - first_day), rec, files, hourly)
    if repeat:
        problems.add(source, "", repeat, 0)
    if problems:
        raise DataError(source, problems.lines())
    series = order[where]
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
    return FutureCovariates(first_day=first_day, n_days=n_days, values=values, keys=history.keys())


def _repeated_cells(cell: np.ndarray, rec: dict, files: list[str], hourly: bool) -> str:
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
        k = int(np.argmax(repeated))
        r = _repeated_row(cell, cell == cell[order[starts[k]]], rec)
        where = (f"{files[rec['file'][r]]} row {_row_of_repeat(rec, r) + 1}: store_id={rec[C.STORE][r]}, "
                 f"product_id={rec[C.PRODUCT][r]}, dt={day_to_date(rec[C.DAY][r])}")  # fmt: skip
        keys = "store_id, product_id, dt, hour" if hourly else "store_id, product_id, dt"
        return f"repeated {keys} rows: {int(repeated.sum())} day(s) hold a row twice (first: {where})"
    return ""


def _named(exc: DataError, path: Source) -> list[str]:
    """The problems of `exc`, naming its file where it is not `path` itself (one file of a
    folder)."""
    same = exc.source == _source_name(path)
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
