"""Feature building: numba kernels over flat series arrays, and the glue that assembles
feature matrices from a validated panel (`DailyFeatures`)."""

from .daily import DailyFeatureSpec
from .matrix import DailyFeatures, FeatureRows

__all__ = ["DailyFeatureSpec", "DailyFeatures", "FeatureRows"]
