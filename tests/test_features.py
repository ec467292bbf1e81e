"""Feature kernels against pandas, and the leakage guard: no feature may read sales after the
forecast origin, nor covariates past the last known future day."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshcast.features.daily import DailyFeatureSpec, build_matrix, feature_names, training_rows
from freshcast.features import kernels as K
from freshcast.features.daily import static_columns

series_lists = st.lists(
    st.lists(st.floats(0, 100, allow_nan=False, width=32), min_size=1, max_size=40), min_size=1, max_size=5
)


def flat(lists):
    x = np.concatenate([np.asarray(v, np.float32) for v in lists])
    offsets = np.zeros(len(lists) + 1, np.int64)
    np.cumsum([len(v) for v in lists], out=offsets[1:])
    return x, offsets


@settings(max_examples=60, deadline=None)
@given(series_lists, st.integers(2, 10))
def test_rolling_kernels_match_pandas(lists, window):
    x, offsets = flat(lists)
    expect = {"mean": [], "std": [], "max": [], "sum": [], "ewm": []}
    for v in lists:
        s = pd.Series(v, dtype="float64")
        r = s.rolling(window, min_periods=1)
        expect["mean"].append(r.mean())
        expect["std"].append(s.rolling(window, min_periods=2).std())
        expect["max"].append(r.max())
        expect["sum"].append(r.sum())
        expect["ewm"].append(s.ewm(alpha=0.3, adjust=False).mean())
    got = {
        "mean": K.rolling_mean(x, offsets, window, 1),
        "std": K.rolling_std(x, offsets, window, 2),
        "max": K.rolling_max(x, offsets, window, 1),
        "sum": K.rolling_sum(x, offsets, window),
        "ewm": K.ewm_mean(x, offsets, 0.3),
    }
    for name, parts in expect.items():
        np.testing.assert_allclose(got[name], pd.concat(parts).to_numpy(), rtol=1e-3, atol=1e-2, err_msg=name)


def test_target_lags_and_weekday_mean_respect_the_origin():
    x = np.arange(30, dtype=np.float32)
    start = np.zeros(3, np.int64)
    target = np.array([20, 20, 20])
    horizon = np.array([1, 7, 8], np.int32)
    lags = K.target_lags(x, start, target, horizon, np.array([1, 7, 14]))
    np.testing.assert_array_equal(lags[0], [19, 13, 6])
    np.testing.assert_array_equal(lags[1], [np.nan, 13, 6])
    np.testing.assert_array_equal(lags[2], [np.nan, np.nan, 6])
    wk = K.same_weekday_mean(x, start, target, horizon, 2)
    np.testing.assert_allclose(wk, [(13 + 6) / 2, (13 + 6) / 2, 6])  # 20 - 21 < start


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.5, 0.51, 0.7, 1.0, np.nan]), min_size=2, max_size=30), st.data())
def test_run_bounds_counts_the_days_a_value_held_and_until_it_changes(values, data):
    """Against a direct reading: days before the target with the target's value (within the
    tolerance; NaN equals only NaN), up to max_days, and the first later day below row_end
    that differs."""
    x = np.asarray(values, np.float32)
    n = len(x)
    t = data.draw(st.integers(0, n - 1))
    lo = data.draw(st.integers(0, t))
    end = data.draw(st.integers(t + 1, n))
    since, until = K.run_bounds(x, np.array([lo]), np.array([end]), np.array([t]), 5, 0.02)

    def same(a, b):
        return (np.isnan(a) and np.isnan(b)) or (not np.isnan(a) and not np.isnan(b) and abs(a - b) <= 0.02)

    held = 0
    while held < 5 and t - held - 1 >= lo and same(x[t - held - 1], x[t]):
        held += 1
    change = next((d for d in range(1, end - t) if not same(x[t + d], x[t])), np.nan)
    assert since[0] == held
    np.testing.assert_array_equal(until, [change])


def _matrix(panel, series, target, horizon, future=None, max_horizon=7):
    arrays = panel if future is None else panel.extend(future)
    static = static_columns(panel.series)
    return build_matrix(arrays, series, target, horizon, DailyFeatureSpec(), max_horizon, static)


def _assert_no_leak(panel, n_rows=200, n_checked=10):
    """Scramble every value of every series after each row's origin day: features must not
    move. Fails if any sales-derived feature (lags, windows, stockouts, in-stock rates, store
    and product trends) peeks past the origin, or a covariate feature past the last day known
    at the origin (origin + max horizon)."""
    arrays = panel
    series, target, horizon = training_rows(arrays, 7, 14, seed=3)
    pick = np.random.default_rng(0).choice(len(series), n_rows, replace=False)
    base = _matrix(panel, series[pick], target[pick], horizon[pick])
    rng = np.random.default_rng(1)
    day = panel.day_numbers()
    for r in range(0, n_rows, n_rows // n_checked):
        i = pick[r]
        origin_day = day[target[i] - horizon[i]]
        changed = panel.until(panel.last_day)  # a copy
        after = day > origin_day  # in every series, not only the row's own
        for name in ("sales", "stockout_hours", "instock_sales", "instock_hours"):
            getattr(changed, name)[after] = rng.uniform(0, 50, after.sum())
        beyond = day > origin_day + 7  # covariates are known up to origin + max horizon
        for v in changed.covariates.values():
            v[beyond] = rng.uniform(0, 50, beyond.sum())
        again = _matrix(changed, series[i : i + 1], target[i : i + 1], horizon[i : i + 1])
        np.testing.assert_array_equal(again[0], base[r], err_msg=f"row {i} h={horizon[i]}")


def test_no_feature_reads_data_after_the_origin(sample_panel):
    names = feature_names(DailyFeatureSpec(), static_columns(sample_panel.series), list(sample_panel.covariates))
    assert _matrix(sample_panel, np.array([0]), np.array([30]), np.array([3], np.int32)).shape[1] == len(names)
    _assert_no_leak(sample_panel)


def test_leak_guard_catches_a_leaking_lag(sample_panel, monkeypatch):
    """The guard must be able to fail: lags that ignore the horizon read days after the origin."""

    def leaky_lags(x, row_start, target, horizon, lags):
        out = np.full((len(target), len(lags)), np.nan, np.float32)
        for i, k in enumerate(lags):
            ok = target - k >= row_start
            out[ok, i] = x[(target - k)[ok]]
        return out

    monkeypatch.setattr(K, "target_lags", leaky_lags)
    with pytest.raises(AssertionError):
        _assert_no_leak(sample_panel)


def test_forecast_features_equal_training_features_for_the_same_origin(sample_panel):
    """A forecast row (future sales unknown, covariates from the future table) gets exactly the
    features of the same row built from full history: training and serving agree."""
    cut = sample_panel.last_day - 7
    train = sample_panel.until(cut)
    future = sample_panel.future(cut + 1, 7)
    n = train.n_series
    series = np.repeat(np.arange(n), 7)
    h = np.tile(np.arange(1, 8), n).astype(np.int32)
    ext = train.extend(future)
    served = _matrix(train, series, ext.offsets[1:][series] - 8 + h, h, future)
    full = np.flatnonzero(sample_panel.start <= cut)[series]
    hist_target = sample_panel.offsets[full] + (cut + h - sample_panel.start[full])
    known = _matrix(sample_panel, full, hist_target, h)
    np.testing.assert_array_equal(served, known)


@pytest.mark.slow
def test_kernels_are_cached_for_a_second_process():
    code = (
        "import numpy as np; from freshcast.features import kernels as K;"
        "K.rolling_mean(np.ones(5, np.float32), np.array([0, 5]), 3, 1);"
        "print(sum(K._rolling_mean_lines.stats.cache_hits.values()), sum(K._rolling_mean_lines.stats.cache_misses.values()))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert int(out[0]) >= 1 and int(out[1]) == 0


def test_training_horizons_are_stratified_per_series(sample_panel):
    """Each run of 7 consecutive training days of a series holds every horizon 1..7 once."""
    arrays = sample_panel
    series, target, horizon = training_rows(arrays, 7, 14, seed=5)
    assert horizon.min() == 1 and horizon.max() == 7
    for s in np.unique(series)[:20]:
        h = horizon[series == s]
        full = len(h) // 7 * 7
        blocks = np.sort(h[:full].reshape(-1, 7), axis=1)
        np.testing.assert_array_equal(blocks, np.tile(np.arange(1, 8), (len(blocks), 1)))
    again = training_rows(arrays, 7, 14, seed=5)[2]
    np.testing.assert_array_equal(again, horizon)
    assert not np.array_equal(training_rows(arrays, 7, 14, seed=6)[2], horizon)


def test_the_public_builder_makes_the_matrix_the_forecaster_predicts_from(sample_panel):
    from freshcast.features import DailyFeatures
    from freshcast.forecast import DailyForecaster

    cut = sample_panel.last_day - 7
    train, future = sample_panel.until(cut), sample_panel.future(cut + 1, 7)
    model = DailyForecaster(n_estimators=20, quantiles=()).fit(train)
    features = DailyFeatures.for_history(train, model.spec, model.max_horizon)
    assert features == model.features_ and features.names == model.feature_names_
    rows = features.forecast_rows(train.with_sales(model.feature_demand(train)), future, 7)
    X = features.matrix(rows)
    assert X.shape == (train.n_series * 7, len(features.names)) and X.flags.f_contiguous
    units = np.clip(model.booster_.predict(X), 0, None).astype(np.float32)
    level = rows.level
    features.to_relative(X, level)
    relative = np.clip(model.relative_booster_.predict(X), 0, None).astype(np.float32) * level
    mean = (0.5 * (units + relative)).astype(np.float32)
    np.testing.assert_allclose(mean, model.predict_distribution(7, future).mean.ravel(), rtol=1e-6)
    assert np.isnan(rows.demand).all()  # future days: nothing known
