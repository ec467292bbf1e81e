"""Feature building: numba kernels over flat series arrays, and the glue that assembles
feature matrices from a validated panel."""

from .daily import DailyFeatureSpec, build_matrix, feature_names, forecast_rows, training_rows

__all__ = ["DailyFeatureSpec", "build_matrix", "feature_names", "forecast_rows", "training_rows"]
