"""Replenishment and markdown decisions from forecasts (purchase orders, price labels)."""
