"""The input data contract: native column names (those of FreshRetailNet-50K) and their meaning.

One row per store, product, day and (optionally) hour. A user whose columns have other
names passes a mapping {their_name: native_name}.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

STORE = "store_id"
PRODUCT = "product_id"
DAY = "dt"
HOUR = "hour"
SALES = "hourly_sale"
STOCKOUT = "hourly_stockout"

KEYS = (STORE, PRODUCT, DAY)
# Series attributes, constant per store x product; used as categorical features when present.
STATIC = ("city_id", "management_group_id", "first_category_id", "second_category_id", "third_category_id")
# Day-level covariates known in advance for the forecast days (declared future covariates).
COVARIATES = (
    "discount",
    "holiday_flag",
    "activity_flag",
    "precpt",
    "avg_temperature",
    "avg_humidity",
    "avg_wind_level",
)
# The weather covariates among them (a day's weather, the same for a city's series).
WEATHER = ("precpt", "avg_temperature", "avg_humidity", "avg_wind_level")
# Plausible values of each covariate (inclusive; NaN = unknown is allowed), whether whole.
# The shared data hold discounts of 0 (0.4% of rows) up to 1.088, so the discount range is
# wider than (0, 1]; temperature in degrees Celsius, humidity in percent, precipitation in
# mm per day, wind as a level or in m/s.
COVARIATE_RANGES = {
    "discount": (0.0, 2.0, False),
    "holiday_flag": (0.0, 1.0, True),
    "activity_flag": (0.0, 1.0, True),
    "precpt": (0.0, 2000.0, False),
    "avg_temperature": (-80.0, 70.0, False),
    "avg_humidity": (0.0, 100.0, False),
    "avg_wind_level": (0.0, 100.0, False),
}
# Largest id a store, product or category may have: 2**53 - 1, so that every id (a 13-digit
# GLN or EAN, a 14-digit GTIN) survives a float64 column and a JSON reader exactly.
MAX_ID = 2**53 - 1


def narrow_float_ids(dtype) -> tuple[int, str] | None:
    """For a float type narrower than float64 (float32, float16), the largest id a column of it
    holds for sure (float32 tells whole numbers apart only below 2**24: 2**24 + 1 reads as
    2**24, so 13-digit ids lose their last digits and two stores become one) and the problem
    to report above it; None for any other type."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or np.finfo(dtype).nmant >= 52:
        return None
    top = 2 ** (np.finfo(dtype).nmant + 1) - 1
    return top, f"is above {top}, the largest id a {dtype} column holds for sure: write the ids as integers"


# Longest forecast horizon in days (the future covariates may cover at most this many days).
MAX_HORIZON = 28
# Calendar sanity: the data must fall between these years, with no gap longer than this
# between consecutive days that have rows (a longer gap means a mistyped date).
FIRST_YEAR, LAST_YEAR = 1990, 2199
MAX_GAP_DAYS = 366
# Every column freshcast reads, in reading order.
NATIVE = (*KEYS, HOUR, SALES, STOCKOUT, *STATIC, *COVARIATES)
# Stockout hours between 06:00 and 21:59 make a day "not in stock" for in-stock metrics.
SHOP_HOURS = (6, 22)

ColumnMap = Mapping[str, str]


def parse_column_map(items: list[str] | None) -> dict[str, str]:
    """Parse CLI pairs like ``["sold_qty=hourly_sale", "date=dt"]`` into {their: native}."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"column mapping {item!r} must look like THEIR_NAME=NATIVE_NAME")
        theirs, native = (s.strip() for s in item.split("=", 1))
        if not theirs or not native:
            raise ValueError(f"column mapping {item!r} must name both columns: THEIR_NAME=NATIVE_NAME")
        if native not in NATIVE:
            raise ValueError(f"column mapping {item!r}: '{native}' is not a freshcast column ({', '.join(NATIVE)})")
        if theirs in out:
            raise ValueError(f"column '{theirs}' is mapped twice")
        if native in out.values():
            raise ValueError(f"two columns are mapped to '{native}'")
        out[theirs] = native
    return out
