"""Input data: the column contract, dates, reading Parquet/CSV, validation, daily aggregation
into the series panel (`panel.DailyPanel`)."""

from .contract import COVARIATES, STATIC, ColumnMap
from .panel import DailyPanel, FutureCovariates
from .load import (
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
