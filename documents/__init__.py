"""Documents for the retailer's systems: purchase orders as tables and EDIFACT ORDERS
interchanges (price-label updates join here)."""
