"""Forecasting: the daily LightGBM forecaster, baselines, metrics and backtests."""

from .daily import DailyForecaster
from .distribution import ForecastDistribution

__all__ = ["DailyForecaster", "ForecastDistribution"]
