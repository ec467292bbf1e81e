"""Hour and slot forecasts: the intraday profile kernel, slot parsing, reconciliation."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from freshcast.cli import app
from freshcast.errors import FreshcastError
from freshcast.features.intraday import ewm_profile
from freshcast.forecast import DailyForecaster
from freshcast.forecast.hourly import parse_slots

from conftest import split_sample

SLOTS = "06-10,10-14,14-18,18-22,22-06"


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 0.9))
def test_profile_matches_a_weighted_mean_of_shares(seed, alpha):
    rng = np.random.default_rng(seed)
    hours = (rng.poisson(0.3, (30, 24)) * rng.random((30, 24))).astype(np.float32)
    hours[20:] = 0 if seed % 3 == 0 else hours[20:]  # a series that stops selling
    offsets = np.array([0, 12, 12, 30])  # includes an empty series
    got = ewm_profile(hours, offsets, alpha)
    for i in range(3):
        x = hours[offsets[i] : offsets[i + 1]].astype(np.float64)
        w = (1 - alpha) ** np.arange(len(x))[::-1]
        acc = (w[:, None] * x).sum(0)
        want = acc / acc.sum() if acc.sum() > 0 else np.full(24, 1 / 24)
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)
        assert abs(got[i].sum() - 1) < 1e-5


def test_parse_slots():
    slots = parse_slots(SLOTS)
    assert [name for name, _ in slots] == SLOTS.split(",")
    np.testing.assert_array_equal(slots[-1][1], [22, 23, 0, 1, 2, 3, 4, 5])
    assert sorted(np.concatenate([h for _, h in slots])) == list(range(24))
    assert len(parse_slots("00-24")) == 1
    for bad, message in [
        ("06-10,08-12,12-06", "overlaps"),
        ("06-10,10-14", "not covered"),
        ("six-ten,10-06", "START-END"),
        ("06-06", "two different hours"),
    ]:
        with pytest.raises(FreshcastError, match=message):
            parse_slots(bad)


@pytest.fixture(scope="module")
def forecasts(sample_panel):
    cut = sample_panel.last_day - 7
    train, future = sample_panel.until(cut), sample_panel.future(cut + 1, 7)
    model = DailyForecaster(n_estimators=40, num_leaves=31, n_jobs=2).fit(train)
    return (
        model.predict(7, future),
        model.predict(7, future, level="hour"),
        model.predict(7, future, slots=SLOTS),
    )


def test_hours_and_slots_add_up_to_the_day(forecasts):
    daily, hourly, slotted = forecasts
    keys = ["store_id", "product_id", "dt"]
    quantiles = ["q10", "q50", "q90"]
    assert list(hourly.columns) == [*keys, "hour", "yhat", *quantiles]
    assert list(slotted.columns) == [*keys, "slot", "yhat", *quantiles]
    assert len(hourly) == 24 * len(daily) and len(slotted) == 5 * len(daily)
    assert (hourly.yhat >= 0).all() and hourly.hour.between(0, 23).all()
    for part in (hourly, slotted):
        summed = part.groupby(keys, sort=False).yhat.sum().to_numpy()
        np.testing.assert_allclose(summed, daily.yhat.to_numpy(), rtol=1e-5, atol=1e-6)
    morning = hourly[hourly.hour.between(6, 9)].groupby(keys, sort=False).yhat.sum().to_numpy()
    np.testing.assert_allclose(morning, slotted[slotted.slot == "06-10"].yhat.to_numpy(), rtol=1e-5, atol=1e-6)


def test_profile_follows_the_series_own_hours(forecasts, sample_panel):
    """The hour forecasts put each series' units where its history sold them."""
    _, hourly, _ = forecasts
    share = hourly.groupby("hour").yhat.sum() / hourly.yhat.sum()
    assert share.idxmax() in range(7, 20)
    assert np.corrcoef(share.to_numpy(), sample_panel.hour_sales.sum(0))[0, 1] > 0.9


@pytest.mark.slow
def test_cli_level_hour_and_slots(tmp_path):
    split_sample(tmp_path)
    runner = CliRunner()
    base = ["forecast", "--history", str(tmp_path / "history.parquet"), "--future", str(tmp_path / "future.parquet")]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "h.parquet"), "--level", "hour"])
    assert result.exit_code == 0, result.output
    hourly = pd.read_parquet(tmp_path / "h.parquet")
    assert list(hourly.columns) == ["store_id", "product_id", "dt", "hour", "yhat", "q10", "q50", "q90"]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "s.csv"), "--slots", SLOTS])
    assert result.exit_code == 0, result.output
    slotted = pd.read_csv(tmp_path / "s.csv", dtype={"slot": str})
    assert list(slotted.columns) == ["store_id", "product_id", "dt", "slot", "yhat", "q10", "q50", "q90"]
    assert set(slotted.slot) == set(SLOTS.split(","))
    bad = runner.invoke(app, [*base, "--out", str(tmp_path / "x.parquet"), "--slots", "06-10,10-14"])
    assert bad.exit_code == 2 and "covered" in bad.output
    assert not (tmp_path / "x.parquet").exists()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 0.9))
def test_in_stock_share_matches_a_weighted_mean(seed, alpha):
    from freshcast.features.intraday import ewm_in_stock

    rng = np.random.default_rng(seed)
    stockout = (rng.integers(0, 2**24, 30) * (rng.random(30) < 0.5)).astype(np.uint32)
    offsets = np.array([0, 12, 12, 30])  # includes an empty series
    got = ewm_in_stock(stockout, offsets, alpha)
    np.testing.assert_array_equal(got[1], 1.0)
    for i in (0, 2):
        bits = (stockout[offsets[i] : offsets[i + 1], None] >> np.arange(24)) & 1
        w = (1 - alpha) ** np.arange(len(bits))[::-1]
        np.testing.assert_allclose(got[i], (w[:, None] * (1 - bits)).sum(0) / w.sum(), rtol=1e-5)


def test_sales_profile_moves_hours_that_keep_stocking_out(sample_panel):
    from freshcast.forecast.hourly import demand_profile, sales_profile

    panel = sample_panel.take(np.arange(3))
    evening = np.uint32(sum(1 << h for h in range(18, 24)))
    last = panel.offsets[1:] - 1
    mask = panel.stockout_mask.copy()
    mask[panel.offsets[1] :] = 0  # series 1 and 2 never out of stock
    mask[last[0] - 9 : last[0] + 1] = evening  # series 0 out of stock from 18:00 on its last 10 days
    hours = panel.hour_sales.copy()
    hours[last[0] - 9 : last[0] + 1, 18:] = 0  # so it sold nothing then
    shelf = replace(panel, stockout_mask=mask, hour_sales=hours)
    sales, demand = sales_profile(shelf), demand_profile(shelf)
    np.testing.assert_allclose(sales.sum(axis=1), 1, rtol=1e-5)
    assert sales[0, 18:].sum() < 0.2 * demand[0, 18:].sum()  # its evenings will likely sell little
    assert demand[0, 18:].sum() > 0.05  # though their recovered demand is there
    np.testing.assert_allclose(sales[1:], demand[1:] / demand[1:].sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
