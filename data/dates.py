"""Calendar days as day numbers (days since 1970-01-01): the one place where dates of any
type (strings, Python dates, numpy datetime64 of any unit, pandas timestamps, Arrow date32 /
date64 / timestamp / string) become integers, and back."""

from __future__ import annotations

import datetime as _dt
import warnings
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import FreshcastError

NOT_A_DAY = np.iinfo(np.int64).min  # day number of a missing or unparseable date
NOT_A_DATE = "is not a date (expected YYYY-MM-DD; dates that read as day-first and month-first alike are refused)"
_EPOCH = np.datetime64("1970-01-01", "D")


def day_to_date(day: np.ndarray | int) -> np.ndarray:
    """Day numbers (days since 1970-01-01) to numpy datetime64[D]."""
    return _EPOCH + np.asarray(day, dtype="timedelta64[D]")


def day_numbers(values, zone: str | None = None) -> np.ndarray:
    """Calendar day of every value as int64 days since 1970-01-01; `NOT_A_DAY` where a value
    is missing or not a date. Times of day are dropped (a timestamp at 23:59 is that day);
    time-zone aware timestamps count in `zone` (an IANA name, the stores' zone) when given,
    else in their own zone. Numbers are not dates."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _arrow_day_numbers(values, zone)
    if isinstance(values, (str, _dt.date, np.datetime64, pd.Timestamp)) or np.ndim(values) == 0:
        values = [values]
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        days = values.astype("datetime64[D]")
    else:
        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        if series.dtype.kind in "iufb":  # day numbers or floats are not calendar dates
            return np.full(len(series), NOT_A_DAY, np.int64)
        if isinstance(series.dtype, pd.ArrowDtype):
            return _arrow_day_numbers(pa.array(series), zone)
        if series.dtype == object:
            # pandas would read numbers as nanoseconds since 1970: refuse them
            numeric = series.map(lambda v: isinstance(v, (int, float, np.number)) and not pd.isna(v)).to_numpy(bool)
        else:
            numeric = np.zeros(len(series), bool)
        days = _parse(series.where(~numeric), zone)
    out = days.view(np.int64).copy()
    out[np.isnat(days)] = NOT_A_DAY
    return out


def calendar_days(values, zone: str | None = None) -> np.ndarray:
    """`day_numbers` of a column meant to hold days (a forecast's): a time-zone aware value at
    midnight in its own zone is that day (a date stored as a timestamp), any other aware value
    is dated in `zone` (an instant, like a UTC timestamp of the stores' midnight)."""
    series = values if isinstance(values, pd.Series) else None
    if series is None or not isinstance(series.dtype, pd.DatetimeTZDtype):
        return day_numbers(values, zone)
    own = series.dt.tz_localize(None)
    at_midnight = (own == own.dt.normalize()).to_numpy(bool)
    return np.where(at_midnight, day_numbers(own), day_numbers(series, zone))


def _parse(series: pd.Series, zone: str | None = None) -> np.ndarray:
    """datetime64[D] of each value (NaT where not a date): ISO 8601 first; otherwise one
    format for the whole column, the one pandas infers from the first value or, for a format
    with a day and a month, the same with the two swapped when only that reads every value
    (a column is never read day-first in some rows and month-first in others). A column that
    both orders read in full but to different days is ambiguous (01/04/2024: 1 April or
    January 4?) and no value of it is a date. Time-zone offsets count in `zone` if given, else
    in their own zone (the wall-clock day)."""
    if series.dtype.kind == "M":
        parsed = series
    else:
        candidates = []
        values = int(series.notna().sum())
        for fmt in ("ISO8601", *_inferred_formats(series)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # pandas' note on the inferred format
                    warnings.simplefilter("ignore", FutureWarning)  # pandas 2 on mixed offsets (handled below)
                    parsed = pd.to_datetime(series, errors="coerce", format=fmt)
                if parsed.dtype == object:  # pandas 2 keeps offsets that change as objects
                    raise ValueError("mixed time-zone offsets")
                candidates.append(parsed)
            except (ValueError, TypeError, OverflowError):  # e.g. offsets that change (summer time)
                candidates.append(_one_by_one(series, zone))
            if fmt == "ISO8601" and candidates[-1].notna().sum() == values:
                break
        full = [c for c in candidates[1:] if c.notna().sum() == values]
        if len(full) == 2 and not full[0].equals(full[1]):
            parsed = pd.Series(pd.NaT, index=series.index)  # day-first and month-first both fit
        else:
            parsed = max(candidates, key=lambda c: int(c.notna().sum()))
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = (parsed.dt.tz_convert(zone) if zone else parsed).dt.tz_localize(None)  # wall-clock day
    return parsed.to_numpy().astype("datetime64[D]")


def _inferred_formats(series: pd.Series) -> list[str | None]:
    """The format pandas infers from the column's first value, and that format with its day
    and month swapped when it has both; [None] (pandas infers on its own) when it infers none."""
    from pandas.tseries.api import guess_datetime_format

    first = series.dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' note that it read a day first
        fmt = guess_datetime_format(str(first.iloc[0])) if len(first) else None
    if fmt is None:
        return [None]
    if "%d" in fmt and "%m" in fmt:
        return [fmt, fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")]
    return [fmt]


def _one_by_one(series: pd.Series, zone: str | None = None) -> pd.Series:
    """Wall-clock day of each value parsed on its own, in `zone` if given (slow; for columns
    whose time zones differ from row to row)."""

    def one(v):
        try:
            t = pd.Timestamp(v)
        except (ValueError, TypeError, OverflowError):
            return pd.NaT
        if zone and not pd.isna(t) and t.tz is not None:
            t = t.tz_convert(zone)
        return pd.NaT if pd.isna(t) else pd.Timestamp(t.date())

    return pd.to_datetime(series.map(one), errors="coerce")


def day_number(value) -> int:
    """One date (see `day_numbers`) as a day number; ValueError if it is not a date."""
    day = int(day_numbers(value)[0])
    if day == NOT_A_DAY:
        raise ValueError(f"'{value}' is not a date (expected YYYY-MM-DD)")
    return day


def _arrow_day_numbers(arr: pa.Array | pa.ChunkedArray, zone: str | None = None) -> np.ndarray:
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode() if isinstance(arr, pa.Array) else pa.chunked_array(
            [c.dictionary_decode() for c in arr.chunks], arr.type.value_type
        )  # fmt: skip
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:  # ISO dates, parsed by Arrow (fast); anything else by pandas
            arr = pc.cast(pc.cast(arr, pa.timestamp("s")), pa.date32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return day_numbers(pd.Series(arr.to_pandas(), dtype=object), zone)
    if pa.types.is_timestamp(t) and t.tz is not None:
        return day_numbers(arr.to_pandas(), zone)
    if pa.types.is_timestamp(t) or pa.types.is_date64(t):
        arr = pc.cast(arr, pa.date32())  # floors to the calendar day
    if not pa.types.is_date32(arr.type):
        return np.full(len(arr), NOT_A_DAY, np.int64)
    days = pc.cast(arr, pa.int32())
    if days.null_count:
        days = pc.fill_null(pc.cast(days, pa.int64()), NOT_A_DAY)
    return np.asarray(days.to_numpy(zero_copy_only=False), np.int64)


_ISO_TIME = r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d"
_ISO_MIDNIGHT = r"^\d{4}-\d\d-\d\d[T ]00:00(:00(\.0+)?)? ?(Z|UTC|GMT|[+-]\d\d(:?\d\d)?)?$"


def times_of_day(arr: pa.Array) -> np.ndarray:
    """True where an Arrow timestamp or ISO date-time text is not at midnight, in its own time
    zone (or offset) when it has one: a value that is not a calendar day (`day_numbers` would
    drop its time)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):  # ISO text, with or without an offset
        timed = pc.and_not(pc.match_substring_regex(arr, _ISO_TIME), pc.match_substring_regex(arr, _ISO_MIDNIGHT))
        return np.asarray(pc.fill_null(timed, False).to_numpy(zero_copy_only=False), bool)
    if not pa.types.is_timestamp(arr.type):
        return np.zeros(len(arr), bool)
    if arr.type.tz is not None:
        arr = pc.local_timestamp(arr)
    midnight = pc.cast(pc.cast(arr, pa.date32()), arr.type)
    return np.asarray(pc.fill_null(pc.not_equal(arr, midnight), False).to_numpy(zero_copy_only=False), bool)


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name` (like Europe/Berlin); FreshcastError otherwise."""
    if not isinstance(name, str):
        raise FreshcastError(f"timezone: expected an IANA time zone name like Europe/Berlin or UTC, got {name!r}")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # "America" is a folder of the zone database
        raise FreshcastError(f"'{name}' is not an IANA time zone name like Europe/Berlin or UTC") from None
