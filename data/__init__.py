"""Input data: the column contract, reading Parquet/CSV, validation, daily aggregation."""

from .contract import COVARIATES, STATIC, ColumnMap
from .load import (
    DailyPanel,
    FutureCovariates,
    load_future,
    load_history,
    load_history_with_actuals,
    sample_path,
    validate_path,
)

__all__ = [
    "COVARIATES",
    "STATIC",
    "ColumnMap",
    "DailyPanel",
    "FutureCovariates",
    "load_future",
    "load_history",
    "load_history_with_actuals",
    "sample_path",
    "validate_path",
]
