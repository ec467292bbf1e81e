"""Split a sales history by store into partitions of about equal rows, for engines that load
and build features where the data lie (one task per partition). A partition is a range of
store ids: each task reads only its stores' rows (`load_history(..., stores=)`), and a
store's series never span two partitions."""

from __future__ import annotations

import numpy as np

from . import contract as C
from .read import store_row_counts


def store_partitions(path, n_partitions: int, column_map: C.ColumnMap | None = None) -> list[tuple[int, int]]:
    """At most `n_partitions` ranges (lo, hi) of store ids, in store order, each holding about
    the same number of input rows; together they hold every store of `path` once."""
    if n_partitions < 1:
        raise ValueError("n_partitions must be at least 1")
    ids, rows = store_row_counts(path, column_map)
    return split_by_rows(ids, rows, n_partitions)


def split_by_rows(ids: np.ndarray, rows: np.ndarray, n_partitions: int) -> list[tuple[int, int]]:
    """Contiguous ranges of the sorted `ids` with about equal sums of `rows` (never empty)."""
    cum = np.cumsum(rows)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_partitions) / n_partitions, side="left")
    bounds = np.unique(np.concatenate([[0], cuts + 1, [len(ids)]]).clip(0, len(ids)))
    return [(int(ids[a]), int(ids[b - 1])) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
