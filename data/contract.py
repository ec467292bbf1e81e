"""The input data contract: native column names (those of FreshRetailNet-50K) and their meaning.

One row per store, product, day and (optionally) hour. A user whose columns have other
names passes a mapping {their_name: native_name}.
"""

from __future__ import annotations

from collections.abc import Mapping

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
        out[theirs] = native
    return out
