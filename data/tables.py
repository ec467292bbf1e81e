"""The retailer's tables for decisions: products, supplier terms, store capacity, stock on
hand and on order. Read by the same reader as the sales history (`data.read`: Parquet or
CSV file, folder, DataFrame or Arrow table) and checked in the same error format: every
problem names the file, the column, how many rows and the first one; all problems of a file
are reported together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .contract import FIRST_YEAR, LAST_YEAR, MAX_ID, narrow_float_ids
from .dates import NOT_A_DATE, NOT_A_DAY, calendar_days, day_numbers
from .read import other_separator, read_frame, source_name
from .validate import Problems

_FIRST_DAY = int(np.datetime64(f"{FIRST_YEAR}-01-01", "D").astype(np.int64))
_LAST_DAY = int(np.datetime64(f"{LAST_YEAR}-12-31", "D").astype(np.int64))

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EVERY_DAY = 0b1111111

# column -> (kind, rule); kinds: id (integer >= 0), int, num, date, text; rules on numbers
PRODUCTS = {
    "product_id": ("id", None),
    "shelf_life_days": ("int", ">= 1"),
    "case_pack": ("num", "> 0"),
    "min_order_qty": ("num", ">= 0"),
    "unit_cost": ("num", ">= 0"),
    "regular_price": ("num", ">= 0"),
    "salvage_value": ("num", ">= 0"),
    "supplier_id": ("id", None),
}
PRODUCTS_OPTIONAL = {"holding_cost": ("num", ">= 0")}  # per unit and night; default 1% of unit_cost
TERMS = {
    "store_id": ("id", None),
    "supplier_id": ("id", None),
    "lead_time_days": ("int", ">= 0"),
    "order_weekdays": ("text", None),  # 'daily' or e.g. 'Mon,Wed,Fri'
}
TERMS_OPTIONAL = {"order_cutoff": ("text", "may be empty")}  # e.g. '10:00', carried to the order header
CAPACITY = {"store_id": ("id", None), "product_id": ("id", None), "capacity_units": ("num", "> 0")}
ON_HAND = {
    "store_id": ("id", None),
    "product_id": ("id", None),
    "on_hand": ("num", ">= 0"),
    "expiry_date": ("date", None),
}
ON_ORDER = {
    "store_id": ("id", None),
    "product_id": ("id", None),
    "on_order": ("num", ">= 0"),
    "arrival_date": ("date", None),
}


def read_table(path: str | Path | pd.DataFrame, required: dict, optional: dict | None = None,
               keys: tuple[str, ...] = (), source: str | None = None, empty: str | None = None,
               zone: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Read a table, check its columns (types, missing values, ranges) and that `keys` are
    unique. Returns only the known columns, ids as int64, dates as day numbers (int64, days
    since 1970-01-01, see `freshcast.data.dates`); an optional text column that may be empty
    reads '' there, an optional date column NOT_A_DAY there; `keys` of the table's columns are
    unique together. Problems name `source` (default: the path). `empty`: a table without rows
    is refused with this advice (None: allowed). `zone`: the stores' time zone, in which
    time-zone aware timestamps are dated (a column of kind "day" holds days: see
    `dates.calendar_days`)."""
    source = source or source_name(path)
    kinds = {**required, **(optional or {})}
    text = tuple(name for name, (kind, _) in kinds.items() if kind in ("text", "date", "day"))
    df = read_frame(path, text)
    files = df.attrs.get("files", [])
    df = df.reset_index(drop=True)
    df.attrs["files"] = files
    if empty is not None and len(df) == 0:
        raise DataError(source, [f"holds no rows (an empty export?): {empty}"])
    problems = Problems()
    columns = {**required, **{k: v for k, v in (optional or {}).items() if k in df.columns}}
    if (hint := other_separator(list(df.columns))) is not None:
        problems.add("", "", hint, 0)
    for name in required:
        if name not in df.columns:
            problems.add("", "", f"required column '{name}' is missing", 0)
    out = {}
    for name, (kind, rule) in columns.items():
        if name not in df.columns:
            continue
        col = df[name]
        bad_rows = col.isna().to_numpy()
        optional = rule == "may be empty"
        if optional and kind == "text":
            out[name] = col.fillna("").astype(str)
            continue
        if optional:  # a date: NOT_A_DAY where empty (a null, or blank text)
            bad_rows = bad_rows | (col.astype(str).str.strip() == "").to_numpy()  # (pandas 3 gives read-only arrays)
        elif bad_rows.any():
            _where(problems, df, name, bad_rows, "is empty")
        if kind == "text":
            out[name] = col.astype(str)
        elif kind in ("date", "day"):
            days = (calendar_days if kind == "day" else day_numbers)(col.where(~bad_rows, None) if bad_rows.any()
                                                                     else col, zone)  # fmt: skip
            unparsed = (days == NOT_A_DAY) & ~bad_rows
            if unparsed.any():
                _where(problems, df, name, unparsed, NOT_A_DATE)
            outside = ~unparsed & ~bad_rows & ((days < _FIRST_DAY) | (days > _LAST_DAY))
            if outside.any():  # 1900-01-01, 1970-01-01, 9999-12-31: an export's stand-ins for no date
                _where(problems, df, name, outside, f"is not between {FIRST_YEAR} and {LAST_YEAR} (a stand-in for "
                                                    f"no date? leave it empty where allowed)")  # fmt: skip
            out[name] = days
        else:
            out[name] = _number(problems, df, name, kind, rule, bad_rows)
    keys = [k for k in keys if k in df.columns]  # an optional key column absent: the others
    if not problems and keys:  # as read: '0042' and 42, or a date and its midnight, are one key
        dup = pd.DataFrame({k: np.asarray(out[k]) for k in keys}).duplicated(keep=False).to_numpy()
        if dup.any():
            _where(problems, df, ", ".join(keys), dup, "repeats a key (each must appear once)")
    if problems:
        raise DataError(source, problems.lines())
    return pd.DataFrame(out)


def _number(problems: Problems, df: pd.DataFrame, name: str, kind: str, rule: str | None,
            empty: np.ndarray) -> np.ndarray:  # fmt: skip
    """Column `name` as numbers (int64 for ids and whole numbers if all is well), recording
    values that are not numbers, not whole or outside `rule` (like "> 0")."""
    values = pd.to_numeric(df[name], errors="coerce").to_numpy(np.float64)
    unparsed = np.isnan(values) & ~empty
    if unparsed.any():
        _where(problems, df, name, unparsed, "is not a number")
    infinite = np.isinf(values)
    if infinite.any():
        _where(problems, df, name, infinite, "is infinite (a quantity or price must be a finite number)")
    ok = np.isfinite(values)
    if kind in ("id", "int"):
        frac = ok & (values != np.round(values))
        if frac.any():
            _where(problems, df, name, frac, "is not a whole number")
    rule = ">= 0" if kind == "id" else rule
    if kind == "id" and (ok & (values > MAX_ID)).any():
        _where(problems, df, name, ok & (values > MAX_ID), f"is not an id in 0..{MAX_ID}")
    narrow = narrow_float_ids(_numpy_type(df[name])) if kind == "id" else None
    if narrow is not None and (ok & (values > narrow[0])).any():
        _where(problems, df, name, ok & (values > narrow[0]), narrow[1])
    if rule is not None:
        op, limit = rule.split()
        broken = ok & ((values < float(limit)) if op == ">=" else (values <= float(limit)))
        if broken.any():
            _where(problems, df, name, broken, f"must be {rule}")
    return values.astype(np.int64) if kind in ("id", "int") and not problems else values


def _numpy_type(col: pd.Series) -> np.dtype:
    """The numpy type of a column's values: a category's categories, a pandas extension
    type's numpy counterpart (Float32 -> float32); object for text and other values."""
    dtype = col.dtype.categories.dtype if isinstance(col.dtype, pd.CategoricalDtype) else col.dtype
    dtype = getattr(dtype, "numpy_dtype", dtype)
    return dtype if isinstance(dtype, np.dtype) else np.dtype(object)


_SHOWN = ("store_id", "supplier_id", "product_id")  # name a row by these, where the table has them


def _where(problems: Problems, df: pd.DataFrame, column: str, rows: np.ndarray, problem: str) -> None:
    """Record `problem` of `column` in the marked `rows`, naming the first by its file and
    row (the file within a folder), its ids and the value found."""
    i = int(np.argmax(rows))
    where = f"row {i + 1}"
    files = df.attrs.get("files", [])
    if len(files) > 1:
        ends = np.cumsum([n for _, n in files])
        k = int(np.searchsorted(ends, i, side="right"))
        where = f"{files[k][0]} row {i + 1 - (ends[k] - files[k][1])}"
    shown = [f"{k}={df[k].iloc[i]}" for k in _SHOWN if k in df.columns and k != column]
    if column in df.columns and not pd.isna(df[column].iloc[i]):
        shown.append(f"{column}={df[column].iloc[i]!r}" if isinstance(df[column].iloc[i], str) else
                     f"{column}={df[column].iloc[i]}")  # fmt: skip
    problems.add("", column, problem, int(rows.sum()), f"{where}: {', '.join(shown)}" if shown else where)


def _refuse(path, df: pd.DataFrame, column: str, rows: np.ndarray, problem: str) -> None:
    problems = Problems()
    _where(problems, df, column, rows, problem)
    raise DataError(path if isinstance(path, str) else source_name(path), problems.lines())


def read_products(path, source: str | None = None) -> pd.DataFrame:
    """The products table; `source` names it in errors (default: the path)."""
    source = source or source_name(path)
    df = read_table(path, PRODUCTS, PRODUCTS_OPTIONAL, keys=("product_id",), source=source)
    above = (df["salvage_value"] > df["unit_cost"]).to_numpy()
    if above.any():
        _refuse(source, df, "salvage_value", above, "is above unit_cost")
    if "holding_cost" not in df:
        df["holding_cost"] = 0.01 * df["unit_cost"]
    return df


def read_terms(path, source: str | None = None) -> pd.DataFrame:
    """The supplier terms; `source` names the table in errors (default: the path)."""
    source = source or source_name(path)
    raw = read_frame(path, ("order_weekdays", "order_cutoff")) if not isinstance(path, pd.DataFrame) else path
    df = read_table(raw, TERMS, TERMS_OPTIONAL, keys=("store_id", "supplier_id"), source=source)
    if raw.attrs.get(_MASKS) and pd.api.types.is_integer_dtype(raw["order_weekdays"]):  # read_terms' bit masks
        masks = raw["order_weekdays"].to_numpy(np.int64)
    else:  # a number (is 3 Wednesday or Mon+Tue?) is refused
        masks = np.asarray([parse_weekdays(text) for text in df["order_weekdays"]], np.int64)
    if ((masks < 1) | (masks > EVERY_DAY)).any():
        _refuse(source, raw, "order_weekdays", (masks < 1) | (masks > EVERY_DAY),
                "is not 'daily' or weekdays like Mon,Wed,Fri")  # fmt: skip
    df["order_weekdays"] = masks
    if "order_cutoff" in df:
        bad_time = ~df["order_cutoff"].str.fullmatch(r"(([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?").to_numpy(bool)
        if bad_time.any():
            _refuse(source, raw, "order_cutoff", bad_time, "is not a time of day HH:MM or HH:MM:SS (00:00 .. 23:59)")
    df.attrs[_MASKS] = True
    return df


_MASKS = "freshcast_weekday_masks"  # marks a terms table whose order_weekdays read_terms turned into bit masks


def parse_weekdays(text: str) -> int:
    """'daily' or a comma list like 'Mon,Wed,Fri' or 'monday, thursday' -> bit mask (bit 0 =
    Monday); -1 if the text is neither."""
    text = str(text).strip()
    if text.lower() in ("daily", "every day", "*"):
        return EVERY_DAY
    mask = 0
    for part in text.split(","):
        word = part.strip().lower()
        day = next((k for k, name in enumerate(_DAY_NAMES) if len(word) >= 3 and name.startswith(word)), None)
        if day is None:
            return -1
        mask |= 1 << day
    return mask


_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def read_capacity(path, source: str | None = None) -> pd.DataFrame:
    return read_table(path, CAPACITY, keys=("store_id", "product_id"), source=source)


def read_on_hand(path, source: str | None = None, zone: str | None = None) -> pd.DataFrame:
    """The stock on hand, one row per batch; a table without rows is refused (an export that
    came out empty would order every line as if nothing were in stock). `zone`: the stores'
    time zone, in which time-zone aware expiry timestamps are dated."""
    return read_table(path, ON_HAND, source=source, zone=zone,
                      empty="list the lines with nothing in stock with on_hand 0")  # fmt: skip


def read_on_order(path, source: str | None = None, zone: str | None = None) -> pd.DataFrame:
    """Orders placed and not yet arrived, one row per arrival (`zone`: as for `read_on_hand`)."""
    return read_table(path, ON_ORDER, source=source, zone=zone)
