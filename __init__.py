"""freshcast: demand forecasts, orders and markdowns for fresh-grocery retail."""

__version__ = "0.1.0"
