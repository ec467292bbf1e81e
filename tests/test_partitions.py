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
    np.testing.assert_array_equal(np.concatenate([p.keys() for p in panels]), sample_panel.keys())
    for name in ("sales", "stockout_hours", "instock_sales"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in panels]), getattr(sample_panel, name))
    np.testing.assert_array_equal(np.concatenate([p.hour_sales for p in panels]), sample_panel.hour_sales)


def test_partition_features_with_the_chains_tables_equal_the_whole_panels(sample_panel):
    parts = [load_history(sample_path(), stores=p) for p in store_partitions(sample_path(), 2)]
    build = functools.partial(build_matrix, spec=DailyFeatureSpec(), max_horizon=7,
                              static=static_columns(sample_panel.series))  # fmt: skip
    whole = build(sample_panel, *training_rows(sample_panel, 7, 28, seed=0))
    chain = [functools.reduce(lambda a, b: a + b, tables) for tables in zip(*(pooled_sales(p).values() for p in parts))]
    pooled = dict(zip(pooled_sales(parts[0]), chain))
    at, own_only_differs = 0, False
    for p in parts:
        rows = training_rows(p, 7, 28, seed=0)
        n = len(rows[0])
        got = build(p, *rows, pooled=pooled)
        # horizons are drawn per panel: compare the rows of equal horizon
        same = rows[2] == training_rows(sample_panel, 7, 28, seed=0)[2][at : at + n]
        np.testing.assert_allclose(got[same], whole[at : at + n][same], rtol=1e-6, equal_nan=True)
        own_only_differs |= not np.allclose(build(p, *rows)[same], got[same], equal_nan=True)
        at += n
    assert at == len(whole) and own_only_differs  # the product trend needs the other stores


def test_a_data_error_crosses_process_boundaries_whole():
    exc = DataError("h.parquet", ["h.parquet: column 'hourly_sale' is missing", "2 rows: negative sales"])
    again = pickle.loads(pickle.dumps(exc))
    assert isinstance(again, DataError) and one_line(again) == one_line(exc) and str(again) == str(exc)


def test_no_partitions_of_nothing():
    with pytest.raises(ValueError):
        store_partitions(sample_path(), 0)
