"""The series panel: one layout and the operations every layer uses on it."""

import numpy as np
import pandas as pd

from freshcast.data.dates import day_number


def test_positions_and_days_agree(sample_panel):
    p = sample_panel
    days = p.day_numbers()
    day = p.last_day - 10
    pos = p.positions(day)
    assert (days[pos] == day).all()
    grid = p.positions(day + np.arange(3)[None, :], np.array([0, 5]))
    assert grid.shape == (2, 3) and (days[grid] == day + np.arange(3)).all()
    series = np.repeat(np.arange(p.n_series), np.diff(p.offsets))
    assert (p.day_of(series, np.arange(p.n_flat)) == days).all()
    assert p.weekday(day_number("2024-06-17")) == 0 and p.weekday(day_number("2024-06-23")) == 6


def test_take_until_and_extend_keep_each_series_whole(sample_panel):
    p = sample_panel
    pick = np.array([5, 0, 17])
    part = p.take(pick)
    frame = p.to_frame()
    keys = list(zip(p.series.store_id.to_numpy()[pick], p.series.product_id.to_numpy()[pick]))
    expected = pd.concat([frame[(frame.store_id == s) & (frame.product_id == q)] for s, q in keys], ignore_index=True)
    pd.testing.assert_frame_equal(part.to_frame(), expected)
    assert np.array_equal(part.hour_sales, p.hour_sales[np.concatenate([np.arange(p.offsets[i], p.offsets[i + 1]) for i in pick])])
    cut = p.until(p.last_day - 7)
    ahead = p.future(cut.last_day + 1, 7)
    longer = cut.extend(ahead)
    assert longer.last_day == p.last_day and np.array_equal(np.diff(longer.offsets), np.diff(cut.offsets) + 7)
    new = longer.positions(cut.last_day + 1 + np.arange(7)[None, :])
    assert np.isnan(longer.sales[new]).all()
    assert np.array_equal(longer.covariates["discount"][new], ahead.values["discount"])
    old = longer.positions(cut.last_day - np.arange(5)[None, :])
    assert np.array_equal(longer.sales[old], cut.sales[cut.positions(cut.last_day - np.arange(5)[None, :])])
    demand = cut.sales * 2
    assert cut.with_sales(demand).sales is demand and cut.sales is not demand
