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
from .dates import NOT_A_DAY, day_numbers
from .read import read_frame, source_name
from .validate import Problems

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
TERMS_OPTIONAL = {"order_cutoff": ("text", None)}  # e.g. '10:00', carried to the order header
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
               keys: tuple[str, ...] = ()) -> pd.DataFrame:  # fmt: skip
    """Read a table, check its columns (types, missing values, ranges) and that `keys` are
    unique. Returns only the known columns, ids as int64, dates as day numbers (int64, days
    since 1970-01-01, see `freshcast.data.dates`)."""
    source = source_name(path)
    text = tuple(name for name, (kind, _) in {**required, **(optional or {})}.items() if kind in ("text", "date"))
    df = read_frame(path, text).reset_index(drop=True)
    problems = Problems()
    columns = {**required, **{k: v for k, v in (optional or {}).items() if k in df.columns}}
    for name in required:
        if name not in df.columns:
            problems.add("", "", f"required column '{name}' is missing", 0)
    out = {}
    for name, (kind, rule) in columns.items():
        if name not in df.columns:
            continue
        col = df[name]
        bad_rows = col.isna().to_numpy()
        if bad_rows.any():
            _where(problems, df, name, bad_rows, "is empty", keys)
        if kind == "text":
            out[name] = col.astype(str)
            continue
        if kind == "date":
            days = day_numbers(col)
            unparsed = (days == NOT_A_DAY) & ~bad_rows
            if unparsed.any():
                _where(problems, df, name, unparsed, "is not a date (expected YYYY-MM-DD)", keys)
            out[name] = days
            continue
        values = pd.to_numeric(col, errors="coerce").to_numpy(np.float64)
        unparsed = np.isnan(values) & ~bad_rows
        if unparsed.any():
            _where(problems, df, name, unparsed, "is not a number", keys)
        ok = ~np.isnan(values)
        if kind in ("id", "int"):
            frac = ok & (values != np.round(values))
            if frac.any():
                _where(problems, df, name, frac, "is not a whole number", keys)
        if kind == "id":
            rule = ">= 0"
        if rule is not None:
            op, limit = rule.split()
            limit = float(limit)
            broken = ok & ((values < limit) if op == ">=" else (values <= limit))
            if broken.any():
                _where(problems, df, name, broken, f"must be {rule}", keys)
        out[name] = values.astype(np.int64) if kind in ("id", "int") and not problems else values
    if not problems and keys:
        dup = df.duplicated(list(keys), keep=False).to_numpy()
        if dup.any():
            _where(problems, df, ", ".join(keys), dup, "repeats a key (each must appear once)", keys)
    if problems:
        raise DataError(source, problems.lines())
    return pd.DataFrame(out)


def _where(problems: Problems, df: pd.DataFrame, column: str, rows: np.ndarray, problem: str,
           keys: tuple[str, ...]) -> None:  # fmt: skip
    """Record `problem` of `column` in the marked `rows`, naming the first by its keys."""
    i = int(np.argmax(rows))
    shown = ", ".join(f"{k}={df[k].iloc[i]}" for k in keys if k in df.columns)
    problems.add("", column, problem, int(rows.sum()), f"row {i + 1}: {shown}" if shown else f"row {i + 1}")


def _refuse(path, df: pd.DataFrame, column: str, rows: np.ndarray, problem: str, keys: tuple[str, ...]) -> None:
    problems = Problems()
    _where(problems, df, column, rows, problem, keys)
    raise DataError(source_name(path), problems.lines())


def read_products(path) -> pd.DataFrame:
    df = read_table(path, PRODUCTS, PRODUCTS_OPTIONAL, keys=("product_id",))
    above = (df["salvage_value"] > df["unit_cost"]).to_numpy()
    if above.any():
        _refuse(path, df, "salvage_value", above, "is above unit_cost", ("product_id",))
    if "holding_cost" not in df:
        df["holding_cost"] = 0.01 * df["unit_cost"]
    return df


def read_terms(path) -> pd.DataFrame:
    df = read_table(path, TERMS, TERMS_OPTIONAL, keys=("store_id", "supplier_id"))
    if isinstance(path, pd.DataFrame) and pd.api.types.is_integer_dtype(path["order_weekdays"]):
        df["order_weekdays"] = path["order_weekdays"].to_numpy(np.int64)  # already bit masks (read before)
        return df
    keys = ("store_id", "supplier_id")
    masks = np.asarray([parse_weekdays(text) for text in df["order_weekdays"]], np.int64)
    if (masks < 0).any():
        _refuse(path, df, "order_weekdays", masks < 0, "is not 'daily' or weekdays like Mon,Wed,Fri", keys)
    df["order_weekdays"] = masks
    if "order_cutoff" in df:
        bad_time = ~df["order_cutoff"].str.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?").to_numpy(bool)
        if bad_time.any():
            _refuse(path, df, "order_cutoff", bad_time, "is not a time of day HH:MM or HH:MM:SS (00:00 .. 23:59)", keys)
    return df


def parse_weekdays(text: str) -> int:
    """'daily' or a comma list like 'Mon,Wed,Fri' -> bit mask (bit 0 = Monday); -1 if the
    text is neither."""
    text = str(text).strip()
    if text.lower() in ("daily", "every day", "*"):
        return EVERY_DAY
    mask = 0
    for part in text.split(","):
        name = part.strip()[:3].title()
        if name not in WEEKDAYS:
            return -1
        mask |= 1 << WEEKDAYS.index(name)
    return mask


def read_capacity(path) -> pd.DataFrame:
    return read_table(path, CAPACITY, keys=("store_id", "product_id"))


def read_on_hand(path) -> pd.DataFrame:
    return read_table(path, ON_HAND)


def read_on_order(path) -> pd.DataFrame:
    return read_table(path, ON_ORDER)
