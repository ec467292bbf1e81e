"""`freshcast price-response` on a Dask cluster: each worker reads its stores' rows of the
history and keeps only what the estimate reads (`forecast.price_response.response_panel`: the
daily demand, recovered from the hours where stockouts hid it, and the discounts); the client
puts them end to end, in store order, and estimates the chain's response as one machine does
(the same figures, tested)."""

from __future__ import annotations

from collections.abc import Callable

from ..console import Step
from ..data.panel import DailyPanel, concat_panels
from ..data.partitions import store_partitions
from ..data.read import source_name
from ..forecast.price_response import response_panel
from .connect import workers
from .forecast import check_path, load_partitions


def chain_response_panel(client, history, column_map=None, progress: Callable[[str], None] | None = None) -> DailyPanel:
    """The `response_panel` of the whole history at path `history`, read by the workers of
    `client`, one partition of stores each."""
    check_path(history, "history")
    with Step(f"loading history {source_name(history)} by store", progress):
        parts = store_partitions(history, len(workers(client)), column_map)
        panels, _ = load_partitions(client, history, column_map, parts)
        return chain_panel(client.gather(client.map(response_panel, panels)))


def chain_panel(parts: list[DailyPanel]) -> DailyPanel:
    """The partitions' response panels put end to end, its empty columns one array again."""
    return response_panel(concat_panels(parts))
