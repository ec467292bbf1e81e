"""Hourly feature kernels: each against a plain numpy reference, and no look-ahead."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshcast.features.hourly import HourlyFeatureSpec, hourly_feature_names, hourly_features
from freshcast.features.intraday import ewm_profile, ewm_profile_by_day

SPEC = HourlyFeatureSpec(lags=(24, 25, 168), rolling_lag=24, windows=(3, 24), same_hour_days=(2, 7))


def _series(seed):
    """Three series of 1, 9 and 4 days (hour matrices), stockout bitmasks, offsets, starts."""
    rng = np.random.default_rng(seed)
    offsets = np.array([0, 1, 10, 14])
    hours = (rng.poisson(0.5, (14, 24)) * rng.random((14, 24))).astype(np.float32)
    stockout = rng.integers(0, 2**24, 14).astype(np.uint32) & rng.choice([0, 0xFFFFFF], 14).astype(np.uint32)
    start = np.array([19800, 19801, 19805], np.int32)
    return hours, stockout, offsets, start


def _reference(hours, stockout, offsets, start):
    """The same features with pandas, one series at a time."""
    frames = []
    for i in range(len(offsets) - 1):
        y = pd.Series(hours[offsets[i] : offsets[i + 1]].ravel().astype(np.float64))
        days = offsets[i + 1] - offsets[i]
        so = ((stockout[offsets[i] : offsets[i + 1], None] >> np.arange(24)) & 1).ravel().astype(bool)
        f = {"hour": np.tile(np.arange(24), days), "dow": np.repeat((start[i] + np.arange(days) + 3) % 7, 24)}
        for k in SPEC.lags:
            f[f"lag_{k}h"] = y.shift(k)
        for w in SPEC.windows:
            f[f"mean_{w}h_lag_24h"] = y.shift(24).rolling(w).mean()
        for d in SPEC.same_hour_days:
            f[f"same_hour_mean_{d}d"] = pd.concat([y.shift(24 * k) for k in range(1, d + 1)], axis=1).mean(axis=1)
        prof = ewm_profile_by_day(hours, offsets, SPEC.profile_alpha)[offsets[i] : offsets[i + 1]]
        f["profile_share"] = prof.ravel()
        since, today = [], []
        for t in range(len(y)):
            before = np.flatnonzero(so[: t - t % 24])
            since.append(min(t - before[-1], SPEC.stockout_cap_hours) if len(before) else SPEC.stockout_cap_hours)
            today.append((~so[t - t % 24 : t]).sum())
        f["hours_since_stockout"], f["instock_hours_today"] = since, today
        frames.append(pd.DataFrame(f))
    return pd.concat(frames, ignore_index=True)[hourly_feature_names(SPEC)].to_numpy(np.float64)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 100_000))
def test_hourly_features_match_a_pandas_reference(seed):
    hours, stockout, offsets, start = _series(seed)
    got = hourly_features(hours, stockout, offsets, start, SPEC)
    assert got.dtype == np.float32 and got.flags.f_contiguous
    np.testing.assert_allclose(got, _reference(hours, stockout, offsets, start), rtol=1e-5, atol=1e-6)


def test_profile_by_day_is_the_profile_of_the_days_before():
    hours, _, offsets, _ = _series(1)
    by_day = ewm_profile_by_day(hours, offsets, 0.1)
    for d in range(2, 9):  # series 1 holds rows 1..9
        cut = np.array([0, d - 1])
        np.testing.assert_allclose(by_day[d], ewm_profile(hours[1:d], cut, 0.1)[0], rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 100_000), st.integers(2, 8), st.integers(0, 23))
def test_no_feature_reads_the_forecast_day_or_later(seed, day, hour):
    """Changing sales and stockouts from (day, hour) on leaves that hour's features unchanged
    (in-stock hours so far may read earlier hours of the same day only)."""
    hours, stockout, offsets, start = _series(seed)
    base = hourly_features(hours, stockout, offsets, start, SPEC)
    rng = np.random.default_rng(seed + 1)
    row = offsets[1] + day  # inside the 9-day series
    changed_hours, changed_stockout = hours.copy(), stockout.copy()
    changed_hours[row + 1 : offsets[2]] = rng.random((offsets[2] - row - 1, 24)) * 9
    changed_hours[row, :] = rng.random(24) * 9  # the whole forecast day, earlier hours included
    changed_stockout[row + 1 : offsets[2]] ^= 0xFFFFFF
    changed_stockout[row] ^= np.uint32((0xFFFFFF >> hour) << hour)  # hours >= hour of that day
    after = hourly_features(changed_hours, changed_stockout, offsets, start, SPEC)
    t = row * 24 + hour
    np.testing.assert_array_equal(after[t], base[t])


def test_lags_shorter_than_a_day_are_refused():
    hours, stockout, offsets, start = _series(0)
    with pytest.raises(ValueError, match="at least 24"):
        hourly_features(hours, stockout, offsets, start, HourlyFeatureSpec(lags=(1, 24)))
