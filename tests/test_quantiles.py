"""Quantile forecasts: the ratio calibration table, held-out calibration without leakage,
coverage on the sample, and quantiles for hours and slots."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshcast.errors import FreshcastError
from freshcast.forecast import DailyForecaster
from freshcast.forecast.quantiles import QuantileTable, parse_quantiles, quantile_column

LEVELS = np.array([0.1, 0.5, 0.9])
FAST = dict(n_estimators=40, num_leaves=31, n_jobs=2)


def _pairs(rng, n, dispersion):
    """Forecast means and actuals whose ratio y / mu is gamma with mean 1."""
    mu = rng.lognormal(0.0, 1.0, n)
    y = mu * rng.gamma(1 / dispersion, dispersion, n)
    return mu, y


def test_table_calibrates_each_volatility_group():
    rng = np.random.default_rng(0)
    calm_mu, calm_y = _pairs(rng, 40_000, 0.05)
    wild_mu, wild_y = _pairs(rng, 40_000, 1.0)
    vol = np.r_[np.full(40_000, 0.2), np.full(40_000, 1.5)]
    table = QuantileTable.fit(np.r_[calm_mu, wild_mu], np.r_[calm_y, wild_y], vol, LEVELS)
    for disp, v in [(0.05, 0.2), (1.0, 1.5)]:
        mu, y = _pairs(rng, 20_000, disp)
        q = table.predict(mu, np.full(len(mu), v))
        below = (y[:, None] <= q).mean(axis=0)
        np.testing.assert_allclose(below, LEVELS, atol=0.02)
    # the volatile group gets the wider intervals
    wide = table.predict(np.ones(2), np.array([0.2, 1.5]))
    assert wide[1, 2] - wide[1, 0] > 2 * (wide[0, 2] - wide[0, 0])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.floats(0, 1e4), min_size=1, max_size=50), st.floats(0, 10))
def test_table_quantiles_are_monotone_and_non_negative(seed, means, vol):
    rng = np.random.default_rng(seed)
    mu, y = _pairs(rng, 2_000, rng.uniform(0.05, 2))
    y[rng.random(len(y)) < 0.3] = 0  # days with no sale
    table = QuantileTable.fit(mu, y, rng.uniform(0, 3, len(mu)), LEVELS)
    q = table.predict(np.array(means), np.full(len(means), vol))
    assert (q >= 0).all() and (np.diff(q, axis=1) >= 0).all()


def test_quantile_levels_parse_and_name():
    assert parse_quantiles("0.9, 0.1,0.5") == (0.1, 0.5, 0.9)
    assert parse_quantiles("none") == ()
    assert [quantile_column(q) for q in (0.1, 0.5, 0.025, 0.975)] == ["q10", "q50", "q2.5", "q97.5"]
    for bad in ("0,0.5", "0.5,1", "a,b", "0.2,0.2"):
        with pytest.raises(FreshcastError):
            parse_quantiles(bad)


@pytest.fixture(scope="module")
def split(sample_panel):
    cut = sample_panel.last_day - 7
    return sample_panel.until(cut), sample_panel.future(cut + 1, 7)


def test_calibration_model_never_sees_the_held_out_days(split):
    """The held-out forecasts are the same whatever the last max_horizon days sold."""
    train, _ = split
    model = DailyForecaster(**FAST).fit(train)
    last = train.day_numbers() > train.last_day - model.max_horizon
    changed = dataclasses.replace(
        train,
        sales=np.where(last, train.sales * 3 + 1, train.sales).astype(np.float32),
        hour_sales=np.where(last[:, None], train.hour_sales * 3 + 0.1, train.hour_sales).astype(np.float32),
    )
    other = DailyForecaster(**FAST).fit(changed)
    np.testing.assert_array_equal(model.calibrator_.holdout_.mean, other.calibrator_.holdout_.mean)
    assert not np.array_equal(model.calibrator_.holdout_.actual, other.calibrator_.holdout_.actual)


def test_interval_covers_about_80_percent_of_in_stock_days(sample_panel, split):
    train, future = split
    pred = DailyForecaster(**FAST).fit(train).predict(7, future)
    pos = sample_panel.offsets[:-1, None] + (train.last_day + np.arange(1, 8) - sample_panel.start[:, None])
    actual, in_stock = sample_panel.sales[pos].ravel(), sample_panel.in_stock()[pos].ravel()
    inside = (actual >= pred.q10.to_numpy()) & (actual <= pred.q90.to_numpy())
    assert in_stock.sum() > 300
    assert 0.7 <= inside[in_stock].mean() <= 0.9
    assert abs((actual <= pred.q50.to_numpy())[in_stock].mean() - 0.5) < 0.1


def test_hour_and_slot_rows_carry_their_own_quantiles(split):
    train, future = split
    model = DailyForecaster(**FAST, quantiles=(0.25, 0.75)).fit(train)
    daily = model.predict(7, future)
    for part in (model.predict(7, future, level="hour"), model.predict(7, future, slots="06-14,14-22,22-06")):
        assert list(part.columns[-3:]) == ["yhat", "q25", "q75"]
        assert (part.q25 >= 0).all() and (part.q25 <= part.q75).all()
        # a part's upper quantile is not just its share of the day's: parts are noisier
        assert part.q75.sum() > 0 and not np.allclose(
            part.groupby(["store_id", "product_id", "dt"], sort=False).q75.sum().to_numpy(), daily.q75.to_numpy()
        )


def test_quantiles_need_history_beyond_the_held_out_days(sample_panel):
    short = sample_panel.until(int(sample_panel.start.min()) + 33)
    with pytest.raises(FreshcastError, match="ask for none"):
        DailyForecaster(**FAST).fit(short)
    assert DailyForecaster(**FAST, quantiles=()).fit(short).n_train_rows_ > 0


def test_quantiles_vary_with_size_and_volatility_on_one_small_city(split):
    """The embedded sample (197 series) has too few held-out pairs for the full grid: a
    coarser, shrunk grid still gives each forecast its own relative spread."""
    from freshcast.forecast.quantiles import bin_grid

    train, future = split
    model = DailyForecaster(**FAST).fit(train)
    pred = model.predict(7, future)
    assert bin_grid(model.calibrator_.holdout_.mean.size)[:2] != (20, 4)
    spread = (pred.q90 - pred.q10) / pred.yhat.clip(1e-6)
    assert spread[pred.yhat > 0.01].round(4).nunique() >= 4
    median_ratio = (pred.q50 / pred.yhat.clip(1e-6))[pred.yhat > 0.01]
    assert median_ratio.min() < median_ratio.max() - 0.02  # q50 is not one fixed share of the mean


def test_a_small_grid_leans_towards_the_pooled_ratios():
    rng = np.random.default_rng(1)
    mu, y = _pairs(rng, 600, 0.5)
    table = QuantileTable.fit(mu, y, rng.uniform(0, 2, 600), LEVELS)
    pooled = np.quantile(y / mu, LEVELS)
    assert 1 < table.ratios.shape[0] < 20 * 4
    assert (np.abs(table.ratios - pooled).max(axis=1) > 0).all()
    with pytest.raises(FreshcastError, match="too few held-out"):
        QuantileTable.fit(mu[:10], y[:10], np.ones(10), LEVELS)


def test_the_calibrator_wraps_any_point_forecaster(split):
    """The calibrator is its own object: given a point forecaster's parameters and a history
    it trains a copy without the last days and calibrates on what that copy got wrong."""
    from freshcast.forecast.calibrator import QuantileCalibrator

    train, _ = split
    point = DailyForecaster(**FAST, quantiles=())
    calibrator = QuantileCalibrator([0.9, 0.1]).fit(point, train)
    assert calibrator.levels == (0.1, 0.9) and not hasattr(point, "booster_")  # the point model is untouched
    assert calibrator.holdout_.mean.shape == (train.n_series, point.max_horizon)
    q = calibrator.table().predict(np.array([0.5, 2.0, 8.0], np.float32), np.ones(3, np.float32))
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] > 0).all()
    fitted = DailyForecaster(**FAST, quantiles=(0.1, 0.9)).fit(train)
    np.testing.assert_array_equal(fitted.calibrator_.holdout_.mean, calibrator.holdout_.mean)


def test_the_calibration_model_trains_a_share_of_the_trees_at_a_rate_raised_as_much(split):
    from freshcast.forecast.calibrator import QuantileCalibrator, calibration_copy, held_out

    train, _ = split
    point = DailyForecaster(**FAST, quantiles=(), calibration_tree_share=0.25)
    copy = calibration_copy(point)
    assert copy.n_estimators == 10 and copy.learning_rate == pytest.approx(4 * point.learning_rate) and copy.quantiles == ()
    calibrator = QuantileCalibrator([0.1, 0.9]).fit(point, train)
    by_hand = DailyForecaster(**{**FAST, "n_estimators": 10, "learning_rate": 4 * point.learning_rate}, quantiles=())
    by_hand.fit(train.until(train.last_day - point.max_horizon))
    np.testing.assert_array_equal(calibrator.holdout_.mean, held_out(by_hand, train, "in_stock").mean)
    for share in (0, 1.5):
        with pytest.raises(FreshcastError, match="calibration_tree_share: expected a number above 0 and at most 1"):
            DailyForecaster(**FAST, calibration_tree_share=share).fit(train)


def test_quantiles_calibrated_on_demand_count_the_days_stockouts_censored(split, tmp_path):
    from freshcast.features.latent import recovered_demand

    train, future = split
    on_demand = DailyForecaster(**FAST, quantiles=(0.5, 0.9), calibrate_on="demand").fit(train)
    in_stock = DailyForecaster(**FAST, quantiles=(0.5, 0.9)).fit(train)
    held = on_demand.calibrator_.holdout_
    H = on_demand.max_horizon
    pos = train.positions(train.last_day - H + 1 + np.arange(H)[None, :])
    np.testing.assert_array_equal(held.demand, recovered_demand(train)[pos])
    assert in_stock.calibrator_.holdout_.demand is None
    censored = train.stockout_shop_hours[pos] > 0
    assert censored.any() and (held.demand[censored] > train.sales[pos][censored]).any()
    hi_demand = on_demand.predict_distribution(7, future).quantiles[:, :, 1]
    hi_in_stock = in_stock.predict_distribution(7, future).quantiles[:, :, 1]
    assert hi_demand.mean() > hi_in_stock.mean()  # the busy days that ran out count too
    on_demand.save(tmp_path / "m")
    loaded = DailyForecaster.load(tmp_path / "m")
    assert loaded.calibrator_.on == "demand"
    np.testing.assert_array_equal(loaded.predict_distribution(7, future, train).quantiles, on_demand.predict_distribution(7, future).quantiles)
    with pytest.raises(FreshcastError, match="calibrate_on: expected \"in_stock\" or \"demand\""):
        DailyForecaster(**FAST, calibrate_on="sales").fit(train)


def test_a_big_chain_calibrates_on_a_sample_of_series_picked_by_their_ids(split):
    """Above `calibration_series` series, the calibration's model trains on, and is held out
    on, about that many series: the same series whatever else the history holds (a hash of
    the ids), a smaller sample among the series of a larger one; exactly what calibrating on
    those series alone gives, their held-out days those of the whole chain."""
    from dataclasses import fields

    from freshcast.forecast import calibrator as cal
    from freshcast.forecast.quantiles import Holdout

    for first_store, first_product in ((0, 0), (9_000_000_000_000, 4_006_381_333_931)):  # and GLN x EAN ids
        ids = np.column_stack([first_store + np.arange(1000, dtype=np.int64).repeat(100),
                               first_product + np.tile(np.arange(100, dtype=np.int64), 1000)])  # fmt: skip
        pick = cal.calibration_sample(ids, 0.3)
        assert abs(pick.mean() - 0.3) < 0.01  # 100,000 series
        np.testing.assert_array_equal(cal.calibration_sample(ids[::-7], 0.3), pick[::-7])  # any partition picks alike
        assert not (cal.calibration_sample(ids, 0.1) & ~pick).any()  # a smaller share picks among the same
        assert cal.calibration_sample(ids, 1.0).all()
    # ids below 2**31 (stores) and 2**32 (products) pick the series they picked when the hash
    # read the key store_id << 32 | product_id (models calibrated before keep their sample)
    rng = np.random.default_rng(1)
    ids = np.column_stack([rng.integers(0, 2**31, 200_000), rng.integers(0, 2**32, 200_000)])
    ids[0] = [2**31 - 1, 2**32 - 1]
    x = ((ids[:, 0] << 32) | ids[:, 1]).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    for share in (0.01, 0.3, 0.77):
        np.testing.assert_array_equal(cal.calibration_sample(ids, share), (x >> np.uint64(11)) / 2.0**53 < share)
    assert cal.calibration_share(50_000, 25_000) == 0.5 and cal.calibration_share(100, 25_000) == 1.0
    assert cal.calibration_share(50_000, None) == 1.0

    train, _ = split
    half = train.n_series // 2

    def holdout(panel, limit):
        return cal.QuantileCalibrator([0.1, 0.9]).fit(DailyForecaster(**FAST, quantiles=(), calibration_series=limit),
                                                      panel).holdout_  # fmt: skip

    full, sampled = holdout(train, None), holdout(train, half)
    kept = cal.calibration_sample(train.ids(), cal.calibration_share(train.n_series, half))
    assert 0.3 < kept.mean() < 0.7 and len(full.mean) == train.n_series and len(sampled.mean) == kept.sum()
    alone = holdout(train.take(np.flatnonzero(kept)), None)
    for f in fields(Holdout):
        if getattr(full, f.name) is not None:
            np.testing.assert_array_equal(getattr(sampled, f.name), getattr(alone, f.name))
    for name in ("actual", "stockout", "volatility"):
        np.testing.assert_array_equal(getattr(sampled, name), getattr(full, name)[kept])
    assert not np.allclose(sampled.mean, full.mean[kept])  # its model learnt from the sample's series only
    with pytest.raises(FreshcastError, match="calibration_series: expected a whole number of at least 1"):
        DailyForecaster(**FAST, calibration_series=0).fit(train)
    with pytest.raises(FreshcastError, match="calibration_series must be a whole number"):
        cal.calibration_share(1000, 2.5)  # the Dask path checks it there
    # series none of which a sample of one picks (each left out of a sample of 5%, at least 20 of them)
    rest = train.take(np.flatnonzero(~cal.calibration_sample(train.ids(), 0.05)))
    assert rest.n_series >= 20
    with pytest.raises(FreshcastError, match="calibration_series = 1 picks none of the"):
        holdout(rest, 1)
