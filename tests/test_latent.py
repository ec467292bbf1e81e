import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from freshcast.features.latent import recover_hours, recovered_sales, shop_hours_mask

SHOP = shop_hours_mask((6, 22))
PROFILE = np.r_[np.zeros(6), np.linspace(1, 3, 8), np.linspace(3, 1, 8), np.zeros(2)]
PROFILE = PROFILE / PROFILE.sum()


def _series(days=60, level=200.0, seed=0):
    """Hourly sales of one series: a fixed intraday profile, Poisson noise, no stockouts."""
    rng = np.random.default_rng(seed)
    return rng.poisson(level * PROFILE, (days, 24)).astype(np.float32)


def _bits(hours):
    return np.uint32(sum(1 << h for h in hours))


def test_censored_evenings_are_recovered():
    """Cut the last 6 shop hours of every 3rd day: recovered days come back near the truth."""
    truth = _series()
    sales, mask = truth.copy(), np.zeros(len(truth), np.uint32)
    cut = np.arange(30, 60, 3)
    sales[cut, 16:] = 0
    mask[cut] = _bits(range(16, 24))
    rec = recover_hours(sales, mask, np.array([0, len(sales)]), SHOP, 0.05, 1.0, 0.2)
    ratio = rec[cut].sum() / truth[cut].sum()
    assert sales[cut].sum() / truth[cut].sum() < 0.75  # what the model would learn from
    assert 0.93 < ratio < 1.07
    untouched = np.setdiff1d(np.arange(60), cut)
    np.testing.assert_array_equal(rec[untouched], sales[untouched])
    np.testing.assert_array_equal(rec[cut, 22:], sales[cut, 22:])  # outside the shop hours


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 40))
def test_recovery_is_causal_and_never_lowers_sales(seed, day):
    """A day's recovered demand reads only that day and the days before it."""
    rng = np.random.default_rng(seed)
    sales = rng.poisson(0.5, (45, 24)).astype(np.float32)
    mask = (rng.random((45, 24)) < 0.3) @ (1 << np.arange(24)).astype(np.uint32)
    mask = mask.astype(np.uint32)
    offsets = np.array([0, 20, 45])  # two series
    rec = recover_hours(sales, mask, offsets, SHOP, 0.05, 1.0, 0.2)
    assert (rec >= sales).all()
    later_sales, later_mask = sales.copy(), mask.copy()
    later_sales[day + 1 :] = rng.poisson(5.0, later_sales[day + 1 :].shape)
    later_mask[day + 1 :] = rng.integers(0, 1 << 24, len(mask) - day - 1)
    again = recover_hours(later_sales, later_mask, offsets, SHOP, 0.05, 1.0, 0.2)
    np.testing.assert_array_equal(again[: day + 1], rec[: day + 1])


def test_recovered_sales_weight(sample_panel):
    full = recovered_sales(sample_panel, 1.0)
    part = recovered_sales(sample_panel, 0.25)
    assert recovered_sales(sample_panel, 0.0) is sample_panel.sales
    added = full - sample_panel.sales
    assert (added >= -1e-4).all() and added.sum() > 0
    assert (added[sample_panel.stockout_shop_hours == 0] < 1e-4).all()
    np.testing.assert_allclose(part - sample_panel.sales, 0.25 * added, rtol=1e-4, atol=1e-4)
