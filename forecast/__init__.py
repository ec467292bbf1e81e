"""Forecasting: the daily LightGBM forecaster, baselines, metrics and backtests."""

from .daily import DailyForecaster

__all__ = ["DailyForecaster"]
