"""Reading the input (Parquet or CSV file, hive-partitioned folder, DataFrame or Arrow
table) batch by batch with Arrow, and reducing its rows to day records."""

from __future__ import annotations

import csv
import os
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from ..errors import DataError
from . import contract as C
from .kernels import (
    day_records,
)
from .validate import Problems, attribute_changes, batch_columns


BATCH_ROWS = 1 << 21
# Scans decode one batch ahead of the one being reduced: Arrow's default read-ahead (16
# batches, 4 files) held up to 3 GB more at the peak of loading one file of 91 M hourly rows
# and was no faster (benchmarks/RESULTS.md, "Replenishment", memory).
SCAN = dict(batch_size=BATCH_ROWS, batch_readahead=1, fragment_readahead=1)


NAME = "freshcast_name"  # a DataFrame's attrs key / an Arrow table's metadata key naming it (`named`)


def source_name(source) -> str:
    """How errors and progress name an input: its path, or "<DataFrame>" / "<Table>" (with
    the role `named` gave it, like "history <DataFrame>")."""
    if isinstance(source, pd.DataFrame):
        return str(source.attrs.get(NAME, "<DataFrame>"))
    if isinstance(source, pa.Table):
        return (source.schema.metadata or {}).get(NAME.encode(), b"<Table>").decode()
    return str(source)


def source_of(table, label: str) -> str:
    """How errors and notes name an input table: its path, or `label` and its type."""
    return str(table) if isinstance(table, (str, Path)) else f"{label} {source_name(table)}"


def named(table, role: str):
    """`table` named `role` in errors and progress if it is a DataFrame or an Arrow table (a
    shallow copy: the caller's object is not changed); a path as it is."""
    if isinstance(table, pd.DataFrame):
        out = table.copy(deep=False)
        out.attrs = {**table.attrs, NAME: f"{role} <DataFrame>"}
        return out
    if isinstance(table, pa.Table):
        meta = {**(table.schema.metadata or {}), NAME.encode(): f"{role} <Table>".encode()}
        return table.replace_schema_metadata(meta)
    return table


_PARQUET = (".parquet", ".pq")


def _arrow_table(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table; DataError naming a repeated column name, or the column
    and first row Arrow cannot convert (values of mixed types, like a text among dates)."""
    repeated = df.columns[df.columns.duplicated()]
    if len(repeated):
        raise DataError(source_name(df), [f"column '{repeated[0]}' appears more than once"])
    errors = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError)
    local = {name: wall for name in df.columns if (wall := _wall_clock(df[name])) is not None}
    if local:
        df = df.assign(**local)
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except errors as exc:
        for name in df.columns:
            try:
                pa.array(df[name], from_pandas=True)
            except errors:
                kinds = df[name].map(lambda v: None if v is None or v is pd.NaT or (isinstance(v, float) and v != v)
                                     else type(v).__name__)  # fmt: skip
                usual = kinds.dropna().mode()
                other = (kinds.notna() & (kinds != usual.iat[0])).to_numpy() if len(usual) else kinds.notna().to_numpy()
                i = int(np.argmax(other))
                raise DataError(source_name(df), [
                    f"column '{name}' mixes values of different types: row {i + 1} holds {df[name].iat[i]!r} "
                    f"({kinds.iat[i]}) among {usual.iat[0] if len(usual) else 'other'} values"]) from None  # fmt: skip
        raise DataError(source_name(df), [f"cannot be read: {str(exc).splitlines()[0]}"]) from None


def _wall_clock(col: pd.Series) -> pd.Series | None:
    """An object column of time-zone aware datetimes whose offsets differ (a database driver's
    fixed offsets on either side of a daylight-saving change) as each one's wall-clock time, the
    day `data.dates` reads from it; None for any other column (Arrow would move every value to
    the first one's offset: the midnights on the other side would become 23:00 or 01:00)."""
    present = col.notna().to_numpy()
    if col.dtype != object or not present.any() or not isinstance(col.iat[int(np.argmax(present))], datetime):
        return None  # (a column of text is not scanned)
    aware = col.map(lambda v: isinstance(v, datetime) and v.tzinfo is not None).to_numpy(bool)
    if not aware.any() or len({v.utcoffset() for v in col[aware]}) < 2:
        return None
    return col.where(~aware, col.map(lambda v: v.replace(tzinfo=None) if isinstance(v, datetime) else v))


def _open_dataset(path, csv_types: dict[str, pa.DataType] | None = None, empty_is_null: bool = False) -> ds.Dataset:
    """The input as an Arrow dataset. CSV columns named in `csv_types` get that type, not one
    guessed from the first file: dates as text, so that one helper (`data.dates`) turns them
    into days (Arrow would move times with a zone offset to UTC), and quantities as floats,
    so that whole numbers in one file and decimals in the next read alike. `empty_is_null`:
    an empty CSV cell of a text column is missing, not ''."""
    if isinstance(path, pd.DataFrame):
        path = _arrow_table(path)
    if isinstance(path, pa.Table):
        return ds.dataset(path)
    path = Path(path)
    if not path.exists():
        raise DataError(str(path), ["no such file or folder"])
    source: str | list[str] = str(path)
    if path.is_dir():
        source = [str(p) for p in _data_files(path)]
        fmt = "csv" if _is_csv(source[0]) else "parquet"
    elif _is_csv(path.name):
        fmt = "csv"
    elif path.name.lower().endswith(_PARQUET):
        fmt = "parquet"
    else:
        raise DataError(str(path), ["unknown file type: expected .parquet, .pq, .csv or .csv.gz"])
    try:
        base = {"partition_base_dir": str(path)} if isinstance(source, list) else {}
        if fmt == "csv":
            convert = pacsv.ConvertOptions(column_types=csv_types or {}, strings_can_be_null=empty_is_null)
            dataset = ds.dataset(source, format=ds.CsvFileFormat(convert_options=convert), partitioning="hive", **base)
        else:
            dataset = ds.dataset(source, format=fmt, partitioning="hive", **base)
        dataset.schema.names  # noqa: B018 (column names are decoded here: a file that is not UTF-8 fails now)
        return dataset
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(str(path), [_csv_problem(exc, path) or f"cannot be read as {fmt}: {exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise DataError(str(path), [f"cannot be read: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                    f"save it as UTF-8"]) from None  # fmt: skip


def _is_csv(name: str) -> bool:
    """A CSV file's name: .csv in any case, or .csv.gz (as written: Arrow decompresses by it)."""
    return name.lower().endswith(".csv") or name.endswith(".csv.gz")


def _data_files(folder: Path) -> list[Path]:
    """The data files of a folder, sorted (a README or notes beside them are not read): all
    CSV or all Parquet, else DataError."""
    files = sorted(_files_under(folder))
    csv = [p for p in files if _is_csv(p.name)]
    parquet = [p for p in files if p.name.lower().endswith(_PARQUET)]
    if csv and parquet:
        raise DataError(str(folder), ["the folder mixes CSV and Parquet files: keep one format"])
    if not csv and not parquet:
        raise DataError(str(folder), ["the folder holds no data files (.parquet, .pq, .csv, .csv.gz)"])
    return csv or parquet


def _files_under(folder: Path) -> list[Path]:
    """Every file under `folder`, following symbolic links to partition folders (each real
    folder once), leaving out names starting with "." or "_" (as Arrow does)."""
    out, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        out += [Path(root) / n for n in names if not n.startswith((".", "_")) and os.path.isfile(os.path.join(root, n))]
    return out


def _is_number(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_number(t.value_type)
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)


def _is_date(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_date(t.value_type)
    return pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_string(t) or pa.types.is_large_string(t)


def _plan_columns(
    dataset: ds.Dataset, source: str, column_map: C.ColumnMap | None, with_sales: bool
) -> tuple[dict[str, str], list[str]]:
    """Decide which native columns to read and from which input names. Raises DataError
    listing every missing or mistyped column."""
    schema = dataset.schema
    to_native = dict(column_map or {})
    if not with_sales:  # a file of future days has no sales: a mapping of them is for the history
        to_native = {k: v for k, v in to_native.items() if v not in (C.SALES, C.STOCKOUT)}
    native_kept = _native_kept(schema.names, to_native, with_sales)
    problems = []
    for k, v in to_native.items():
        if k not in schema.names and v not in native_kept:
            problems.append(f"mapped column '{k}' (for '{v}') is not in the data")
        if v not in C.NATIVE:
            problems.append(f"mapping '{k}={v}' names no freshcast column '{v}'")
    from_native = {v: k for k, v in to_native.items()}
    name_of = {}  # native -> input name
    for native in C.NATIVE:
        theirs = native if native in native_kept else from_native.get(native, native)
        if theirs in schema.names and (theirs not in to_native or to_native[theirs] == native):
            name_of[native] = theirs
    if (hint := other_separator(schema.names)) is not None:
        problems.append(hint)
    required = [*C.KEYS, C.SALES] if with_sales else list(C.KEYS)
    for native in required:
        if native not in name_of:
            hint = f" (mapped from '{from_native[native]}')" if native in from_native else ""
            problems.append(f"required column '{native}'{hint} is missing")
    empty = [theirs for theirs in name_of.values() if pa.types.is_null(schema.field(theirs).type)]
    if empty:  # a CSV column without a single value has no type (a file of a header alone: all of them)
        names = ", ".join(f"'{c}'" for c in empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        problems.append(f"no value in any row of column(s) {names}: does the file hold any rows?")
    for native, theirs in name_of.items():
        t = schema.field(theirs).type
        if not pa.types.is_null(t) and not (_is_date(t) if native == C.DAY else _is_number(t)):
            expected = "a date" if native == C.DAY else "a number"
            values = t.value_type if pa.types.is_dictionary(t) else t  # a pandas category: its values' type
            text = pa.types.is_string(values) or pa.types.is_large_string(values)
            first = _first_text(dataset, theirs, source)
            if text and not first:  # numbers written as text (a DataFrame's str column)
                first = " (numbers written as text: give them as numbers, e.g. pd.to_numeric(df[col]))"
            kind = ("text (categorical)" if values is not t else "text") if text else t
            problems.append(f"column '{theirs}' has type {kind}; expected {expected}{first}")
    if not with_sales:
        name_of.pop(C.SALES, None)
        name_of.pop(C.STOCKOUT, None)
    if problems:
        raise DataError(source, problems)
    covs = [c for c in C.COVARIATES if c in name_of]
    return name_of, covs


def _native_kept(names: list[str], to_native: dict[str, str], with_sales: bool) -> set[str]:
    """The freshcast names a file of future days (`with_sales` False) is read under although the
    mapping names the column otherwise: their name is absent and freshcast's is there, as in a
    file `make-future` wrote (and no other mapping reads that name). A history keeps to its
    mapping."""
    if with_sales:
        return set()
    return {v for k, v in to_native.items() if k not in names and v in names and v not in to_native}


def _first_text(dataset: ds.Dataset, column: str, source: str) -> str:
    """Where a text column meant to hold numbers first holds something else: " (first: FILE
    row N: 'VALUE')", or "" when no such value is found (a column of another type)."""
    scanner = dataset.scanner(columns=[column], **SCAN)
    try:
        for batch, file, rows in _numbered(scanner.scan_batches(), source):
            arr = batch.column(0)
            if pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_decode()
            if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
                return ""
            text = pd.Series(arr.to_pandas())
            bad = text.notna() & pd.to_numeric(text, errors="coerce").isna()
            if bad.any():
                i = int(np.argmax(bad.to_numpy()))
                where = f"{file} " if file != source else ""
                return f" (first: {where}row {rows[i] + 1}: '{str(text.iloc[i])[:40]}')"
    except (pa.ArrowException, OSError):
        return ""
    return ""


def other_separator(names: list[str]) -> str | None:
    """The problem of a CSV header read as one column because its fields are separated by
    something other than commas (None when it is not)."""
    if len(names) == 1 and any(sep in str(names[0]) for sep in ";\t|"):
        return f"the header is one column, '{str(names[0])[:60]}': CSV fields are separated by commas"
    return None


def read_day_records(path: Path, column_map: C.ColumnMap | None, with_sales: bool,
                     stores: tuple[int, int] | None = None):  # fmt: skip
    """Stream the input and reduce it to day records; with `stores` (lo, hi), only the rows
    of store ids lo..hi (a partition: hive folders and files sorted by store skip the rest).
    Returns (per-batch record dicts, static names, covariate names, problems, source name,
    whether rows are hourly)."""
    theirs = {native: their for their, native in (column_map or {}).items()}
    hints = {C.DAY: pa.string(), **{c: pa.float64() for c in (C.SALES, *C.COVARIATES)}}
    types = {theirs.get(c, c): t for c, t in hints.items()}
    if not with_sales:  # freshcast's own names too, where `_native_kept` may read them
        types.update({c: t for c, t in hints.items() if c not in (column_map or {})})
    dataset = _open_dataset(path, types)
    source = source_name(path)
    name_of, covs = _plan_columns(dataset, source, column_map, with_sales)
    statics = [c for c in C.STATIC if c in name_of]
    problems = Problems()
    parts: list[dict[str, np.ndarray]] = []
    columns = list(name_of.values())
    if stores is None:
        batches = _numbered(_batches(dataset.scanner(columns=columns, **SCAN), dataset, columns, source),
                            source)  # fmt: skip
    else:
        batches = _store_batches(dataset, columns, source, name_of[C.STORE], *stores)
    for batch, file, rows in batches:
        if batch.num_rows == 0:
            continue
        cols, ok = batch_columns(batch, name_of, covs, statics, file, rows, problems)
        if not ok:
            continue
        hour = cols.get(C.HOUR, np.full(batch.num_rows, -1, np.int8))
        sale = cols.get(C.SALES, np.zeros(batch.num_rows, np.float32))
        stock = cols.get(C.STOCKOUT, np.zeros(batch.num_rows, np.int8))
        cov = np.empty((len(covs), batch.num_rows), np.float32)  # one covariate per row: contiguous writes
        for j, c in enumerate(covs):
            cov[j] = cols[c]
        args = [(cols[C.STORE], np.int64), (cols[C.PRODUCT], np.int64), (cols[C.DAY], np.int32), (hour, np.int8),
                (sale, np.float32), (stock, np.int8), (cov, np.float32)]  # fmt: skip
        first, *fields = day_records(*(_read_only(a, t) for a, t in args), *C.SHOP_HOURS)
        attribute_changes(cols, statics, name_of, file, rows, problems)
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
        rec["row"] = rows[first].astype(np.int64)
        rec["dup_hour"] = np.where(rec["dup_row"] >= 0, hour[np.maximum(rec["dup_row"], 0)], -1).astype(np.int8)
        rec["first_hour"] = hour[first].astype(np.int8)
        rec["dup_row"] = np.where(rec["dup_row"] >= 0, rows[np.maximum(rec["dup_row"], 0)], -1)
        rec["_file_name"] = file
        parts.append(rec)
    if not parts and not problems:
        problems.add(source, "", "holds no rows", 0)
    return parts, statics, covs, problems, source, C.HOUR in name_of


def _numbered(tagged_batches, source: str):
    """(batch, file, each row's 0-based number in its file) of a scan."""
    rows_in_file: dict[str, int] = {}
    for tagged in tagged_batches:
        batch = tagged.record_batch
        file = getattr(tagged.fragment, "path", source)
        row0 = rows_in_file.get(file, 0)
        rows_in_file[file] = row0 + batch.num_rows
        yield batch, file, np.arange(row0, row0 + batch.num_rows, dtype=np.int64)


def _store_batches(dataset: ds.Dataset, columns: list[str], source: str, store: str, lo: int, hi: int):
    """(batch, file, row numbers) of the rows of store ids lo..hi (and of rows without a store
    id, so that every partition reports them). Parquet row groups whose statistics hold no
    such store are skipped; the rows kept carry their numbers in their file."""
    for fragment in dataset.get_fragments():
        file = getattr(fragment, "path", source)
        pieces = [(fragment, 0)]
        if isinstance(fragment, ds.ParquetFileFragment):
            meta, pieces, start = fragment.metadata, [], 0
            names = meta.schema.names
            for k in range(meta.num_row_groups):
                group = meta.row_group(k)
                stats = group.column(names.index(store)).statistics if store in names else None
                if stats is None or not stats.has_min_max or (stats.max >= lo and stats.min <= hi):
                    pieces.append((fragment.subset(row_group_ids=[k]), start))
                start += group.num_rows
        for piece, row0 in pieces:
            scanner = ds.Scanner.from_fragment(piece, schema=dataset.schema, columns=columns, **SCAN)
            for tagged in _batches(scanner, dataset, columns, source):
                batch = tagged.record_batch
                ids = batch.column(batch.schema.get_field_index(store))
                keep = pc.fill_null(pc.and_(pc.greater_equal(ids, lo), pc.less_equal(ids, hi)), True)
                yield batch.filter(keep), file, row0 + np.flatnonzero(keep.to_numpy(zero_copy_only=False))
                row0 += batch.num_rows


def store_row_counts(path, column_map: C.ColumnMap | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every store id of a sales history (sorted) and its number of rows, reading only the
    store column."""
    theirs = {native: their for their, native in (column_map or {}).items()}
    dataset = _open_dataset(path)
    column = theirs.get(C.STORE, C.STORE)
    if column not in dataset.schema.names:
        raise DataError(source_name(path), [f"column '{column}' is missing"])
    counts: dict[int, int] = {}
    bad, first = 0, None  # rows that are not ids, and the first: (value, the largest id of its type)
    for tagged in _batches(dataset.scanner(columns=[column], **SCAN), dataset, [column],
                           source_name(path)):  # fmt: skip
        ids = pc.drop_null(tagged.record_batch.column(0))  # empty ids: every partition reads those rows and
        # reports them as one machine does
        if pa.types.is_decimal(ids.type):  # a database's NUMERIC, read as numbers (as batch_columns does)
            ids = pc.cast(ids, pa.float64(), safe=False)
        values = ids.to_numpy(zero_copy_only=False)
        if values.dtype.kind not in "iuf":
            kind = "text" if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type) else ids.type
            raise DataError(source_name(path), [f"column '{column}' has type {kind}; expected a number"])
        narrow = C.narrow_float_ids(values.dtype)
        top = C.MAX_ID if narrow is None else narrow[0]
        with np.errstate(invalid="ignore"):
            wrong = ~((values >= 0) & (values <= top))
            if values.dtype.kind == "f":
                wrong |= values != np.floor(values)
        if wrong.any():  # no partition would hold these rows: refused here, as one machine refuses them
            bad, first = bad + int(wrong.sum()), (values[np.argmax(wrong)], top) if first is None else first
            continue
        ids, n = np.unique(values.astype(np.int64), return_counts=True)
        for i, k in zip(ids.tolist(), n.tolist()):
            counts[i] = counts.get(i, 0) + k
    if bad:
        value, top = first
        kind = "" if top == C.MAX_ID else " (a float32 or narrower column: write the ids as integers)"
        raise DataError(source_name(path), [f"column '{column}' is not an id in 0..{top}{kind}: {bad} row(s) "
                                            f"(first: {column}={value})"])  # fmt: skip
    ids = np.array(sorted(counts), np.int64)
    return ids, np.array([counts[i] for i in ids.tolist()], np.int64)


def read_frame(path, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A whole small table (master data, stock, a forecast) as a DataFrame, opened like the
    sales history: a Parquet or CSV file, a folder of them, a DataFrame or an Arrow table.
    CSV `text_columns` are read as text (an empty cell is missing). The files of a folder are
    read one by one and stacked (a column missing from a file is missing in its rows);
    ``attrs["files"]`` lists each file's name and row count. DataError naming the file if one
    cannot be read."""
    if isinstance(path, pd.DataFrame):
        return path.copy()
    types = {c: pa.string() for c in text_columns}
    files = _data_files(Path(path)) if not isinstance(path, pa.Table) and Path(path).is_dir() else [path]
    frames = []
    for file in files:
        dataset = _open_dataset(file, types, empty_is_null=True)
        batches = [b.record_batch for b in _batches(dataset.scanner(), dataset, dataset.schema.names, source_name(file))]
        frames.append(pa.Table.from_batches(batches, dataset.schema).to_pandas())
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    df.attrs["files"] = [(source_name(f), len(frame)) for f, frame in zip(files, frames)]
    return df


def _batches(scanner: ds.Scanner, dataset: ds.Dataset, columns: list[str], source: str):
    """The scanner's tagged batches; a file that cannot be read (corrupt page, truncated
    file, bad CSV line) raises DataError naming that file."""
    try:
        yield from scanner.scan_batches()
    except (pa.ArrowException, OSError) as exc:
        fragments = list(dataset.get_fragments())
        culprit = getattr(fragments[0], "path", source) if len(fragments) == 1 else source
        for fragment in fragments if len(fragments) > 1 else []:  # which file? read again, batch by batch
            try:
                for _ in fragment.to_batches(columns=[c for c in columns if c in fragment.physical_schema.names]):
                    pass
            except (pa.ArrowException, OSError):
                culprit = getattr(fragment, "path", source)
                break
        raise DataError(culprit, [_csv_problem(exc, culprit) or f"cannot be read: {str(exc).splitlines()[0]}"]) from None


_CSV_VALUE = re.compile(r"CSV column #(\d+): Row #(\d+): CSV conversion error to (\w+): invalid value '(.*)'")
_CSV_FIELDS = re.compile(r"Expected (\d+) columns, got (\d+)")


def _csv_problem(exc: Exception, path) -> str | None:
    """Arrow's CSV reading errors in a planner's words (the column by name, rows counted from
    1 without the header), or None for other errors."""
    text = str(exc)
    if (m := _CSV_VALUE.search(text)) is not None:
        column, row, kind, value = int(m[1]), int(m[2]), m[3], m[4]
        try:
            with open(path, encoding="utf-8") as fh:
                name = next(csv.reader(fh))[column]
        except (OSError, UnicodeDecodeError, StopIteration, IndexError, csv.Error):
            name = f"#{column + 1}"
        what = "a number" if kind in ("double", "float", "int64", "int32", "int16", "int8") else kind
        return f"column '{name}' is not {what}: row {row - 1}: '{value}'"
    if "Empty CSV file" in text:
        return "is empty: no header line, no rows"
    if (m := _CSV_FIELDS.search(text)) is not None:
        return (f"a line has {m[2]} field(s) where the header has {m[1]} (fields are separated by commas; "
                f"quote a value that holds one)")  # fmt: skip
    return None


def _read_only(values: np.ndarray, dtype) -> np.ndarray:
    """`values` as a read-only array of `dtype`: the kernel is compiled for one set of argument
    types, whatever the input's integer widths and whether Arrow's buffers could be written."""
    out = np.ascontiguousarray(values, dtype=dtype).view()
    out.flags.writeable = False
    return out
