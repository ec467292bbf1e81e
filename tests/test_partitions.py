"""Partitions of a history by store: each reads only its stores, together they are the whole
panel, and with the chain's pooled tables their feature matrices equal the whole panel's."""

import functools
import pickle

import numpy as np
import pytest

from freshcast.data import load_history, sample_path
from freshcast.data.partitions import split_by_rows, store_partitions
from freshcast.errors import DataError, one_line
from freshcast.features.daily import DailyFeatureSpec, build_matrix, pooled_sales, static_columns, training_rows


def test_ranges_hold_every_id_once_with_about_equal_rows():
    ids = np.array([3, 5, 8, 9, 12, 40])
    rows = np.array([10, 10, 10, 10, 10, 10])
    assert split_by_rows(ids, rows, 3) == [(3, 5), (8, 9), (12, 40)]
    assert split_by_rows(ids, rows, 1) == [(3, 40)]
    assert split_by_rows(ids, rows, 10) == [(i, i) for i in ids.tolist()]  # never more than one per store
    heavy = split_by_rows(ids, np.array([1, 1, 1, 1, 1, 100]), 2)
    assert heavy[0][0] == 3 and heavy[-1][1] == 40 and all(a <= b for a, b in heavy)


def test_partitions_add_up_to_the_whole_panel(sample_panel):
    parts = store_partitions(sample_path(), 3)
    assert len(parts) == 3 and parts == sorted(parts)
    panels = [load_history(sample_path(), stores=p) for p in parts]
    for (lo, hi), panel in zip(parts, panels):
        stores = panel.series["store_id"].to_numpy()
        assert stores.min() == lo and stores.max() == hi
    assert sum(p.n_series for p in panels) == sample_panel.n_series
    np.testing.assert_array_equal(np.concatenate([p.ids() for p in panels]), sample_panel.ids())
    for name in ("sales", "stockout_hours", "instock_sales"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in panels]), getattr(sample_panel, name))
    np.testing.assert_array_equal(np.concatenate([p.hour_sales for p in panels]), sample_panel.hour_sales)


def test_partition_rows_and_features_with_the_chains_tables_equal_the_whole_panels(sample_panel):
    """A partition placed in the chain draws the chain's horizons for its series, and with the
    chain's group tables builds the whole panel's feature rows for them."""
    parts = [load_history(sample_path(), stores=p) for p in store_partitions(sample_path(), 3)]
    build = functools.partial(build_matrix, spec=DailyFeatureSpec(), max_horizon=7,
                              static=static_columns(sample_panel.series))  # fmt: skip
    series, target, horizon = training_rows(sample_panel, 7, 28, seed=0)
    whole = build(sample_panel, series, target, horizon)
    chain = [functools.reduce(lambda a, b: a + b, tables) for tables in zip(*(pooled_sales(p).values() for p in parts))]
    pooled = dict(zip(pooled_sales(parts[0]), chain))
    n_blocks = -(-int((np.diff(sample_panel.offsets) - 28).max()) // 7)
    at, first, own_only_differs = 0, 0, False
    for p in parts:
        rows = training_rows(p, 7, 28, seed=0, place=(first, sample_panel.n_series, n_blocks))
        n = len(rows[0])
        np.testing.assert_array_equal(rows[2], horizon[at : at + n])
        np.testing.assert_array_equal(rows[0] + first, series[at : at + n])
        got = build(p, *rows, pooled=pooled)
        np.testing.assert_allclose(got, whole[at : at + n], rtol=1e-6, equal_nan=True)
        own_only_differs |= not np.allclose(build(p, *rows), got, equal_nan=True)
        at, first = at + n, first + p.n_series
    assert at == len(whole) and own_only_differs  # the product trend needs the other stores


def test_a_data_error_crosses_process_boundaries_whole():
    exc = DataError("h.parquet", ["h.parquet: column 'hourly_sale' is missing", "2 rows: negative sales"])
    again = pickle.loads(pickle.dumps(exc))
    assert isinstance(again, DataError) and one_line(again) == one_line(exc) and str(again) == str(exc)


def test_no_partitions_of_nothing():
    with pytest.raises(ValueError):
        store_partitions(sample_path(), 0)
