import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from freshcast.cli import app
from freshcast.data import load_history, sample_path
from freshcast.errors import FreshcastError
from freshcast.forecast.ppml import poisson_two_way
from freshcast.data.panel import concat_panels
from freshcast.forecast.price_response import PriceResponse, response_panel, validate_response

TRUE = {1: -0.6, 2: -1.2, 3: -1.8, 4: -2.6, 5: 0.8}  # category 5 responds the wrong way


def priced_history(days=42, stores=6, products_per_category=6, seed=0, categories=TRUE, deep=0.4) -> pd.DataFrame:
    """Hourly rows whose daily demand is level x city-day effect x discount ** elasticity of
    the category, with discounts set per product and day (as centrally), no stockouts."""
    rng = np.random.default_rng(seed)
    dts = pd.date_range("2024-03-01", periods=days, freq="D")
    cats = np.repeat(list(categories), products_per_category)
    n_prod = len(cats)
    depth_choices = np.array([0.1, 0.2, 0.3, deep])
    depth = np.where(rng.random((n_prod, days)) < 0.4, rng.choice(depth_choices, (n_prod, days)), 0.0)
    price = 1 - depth
    city = np.arange(stores) % 2
    day_effect = np.exp(rng.normal(0, 0.2, (2, days)))
    profile = np.r_[np.zeros(6), np.ones(16), np.zeros(2)] / 16
    frames = []
    for s in range(stores):
        level = rng.uniform(4, 12, n_prod)
        beta = np.array([categories[c] for c in cats])
        mean = level[:, None] * day_effect[city[s]][None, :] * price**beta[:, None]
        hourly = rng.poisson(mean[:, :, None] * profile[None, None, :]).astype(np.float32)
        frames.append(pd.DataFrame({
            "store_id": s, "product_id": np.repeat(1000 + np.arange(n_prod), days * 24),
            "dt": np.tile(np.repeat(dts.date, 24), n_prod), "hour": np.tile(np.arange(24), n_prod * days).astype("int8"),
            "hourly_sale": hourly.ravel(), "hourly_stockout": np.int8(0),
            "discount": np.repeat(price.ravel(), 24).astype(np.float32),
            "city_id": city[s], "first_category_id": np.repeat(cats, days * 24),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def priced():
    return load_history(priced_history())


@pytest.fixture(scope="module")
def fitted(priced):
    return PriceResponse().fit(priced)


def test_poisson_two_way_matches_statsmodels_with_dummies():
    rng = np.random.default_rng(1)
    n_g, n_days = 30, 12
    g = np.repeat(np.arange(n_g), n_days)
    city = g % 2
    h = city * n_days + np.tile(np.arange(n_days), n_g)
    product = g // 3
    x1 = np.log(rng.choice([1, 0.9, 0.7, 0.6], len(g)))
    X = np.stack([x1 * (g % 2 == 0), x1 * (g % 2 == 1), rng.normal(size=len(g))])
    mu = np.exp(X.T @ [-1.5, -0.8, 0.3] + rng.normal(size=n_g)[g] + rng.normal(0, 0.3, 2 * n_days)[h])
    y = rng.poisson(3 * mu).astype(float)
    fit = poisson_two_way(X, y, g, h, product)
    keep = [j for j in range(2 * n_days) if j % n_days]  # one date per city is the city's level
    D = np.column_stack([X.T, np.eye(n_g)[g], np.eye(2 * n_days)[h][:, keep]])
    ref = sm.GLM(y, D, family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": product, "use_correction": True, "df_correction": False}
    )
    assert np.allclose(fit.coef, ref.params[:3], atol=1e-6)
    assert np.allclose(fit.mu, ref.fittedvalues, rtol=1e-5)
    # statsmodels also scales by (n - 1) / (n - K) with the dummies counted; freshcast by G / (G - 1) only
    n, K = D.shape
    assert np.allclose(fit.std_error * np.sqrt((n - 1) / (n - K)), ref.bse[:3], rtol=1e-4)


def test_elasticities_recovered_per_category(fitted):
    t = fitted.table_.set_index("first_category_id")
    for c in (1, 2, 3, 4):
        assert t.loc[c, "estimated"]
        assert abs(t.loc[c, "elasticity_unshrunk"] - TRUE[c]) < 4 * t.loc[c, "std_error_unshrunk"] + 0.05, c
    assert t.loc[5, "elasticity_unshrunk"] > 0  # the data's wrong-way response is reported ...
    assert t.loc[5, "elasticity"] == 0.0  # ... but never used: a deeper discount never lowers demand
    assert t.loc[2, "std_error"] > 0 and np.isfinite(fitted.pooled_["std_error"])
    # shrinkage moves every category towards the pooled estimate, never past it
    pooled = fitted.pooled_["elasticity"]
    for c in (1, 2, 3, 4):
        raw, shrunk = t.loc[c, "elasticity_unshrunk"], t.loc[c, "elasticity"]
        assert min(raw, pooled) - 1e-9 <= shrunk <= max(raw, pooled) + 1e-9


def test_lift_is_monotone_along_a_grid_of_discounts(fitted):
    grid = np.linspace(1.0, 0.6, 41)
    for c in [*fitted.table_["first_category_id"], 99]:  # 99: unseen, the pooled response
        lift = fitted.lift(np.full(len(grid), c), grid)
        seen = np.isfinite(lift)
        assert seen[:5].all()
        assert np.all(np.diff(lift[seen]) >= -1e-12)
        assert np.all(lift[seen] >= 1 - 1e-12)
        assert not seen[seen.argmin():].any() or seen.all()  # past the deepest supported: nothing offered


def test_deepest_discount_is_what_the_data_reached():
    panel = load_history(priced_history(deep=0.35, seed=3))
    r = PriceResponse(min_support_days=50, min_support_products=3).fit(panel)
    assert set(r.table_["deepest_discount"]) == {0.35}
    assert np.isnan(r.lift([1], [0.6])[0]) and np.isfinite(r.lift([1], [0.65])[0])


def test_validation_out_of_sample(priced):
    response, table, totals = validate_response(priced, holdout_days=10)
    assert totals["days_with_price_change"] > 100
    assert totals["wape_with_response"] < totals["wape_without_response"]
    deep = table[table.depth_from >= 0.25]
    assert (deep.realised_lift > 1.2).all() and (abs(deep.realised_lift / deep.predicted_lift - 1) < 0.25).all()


def test_history_without_discounts_is_refused(priced):
    panel = load_history(priced_history().assign(discount=np.float32(1.0)))
    with pytest.raises(FreshcastError, match="discount"):
        PriceResponse().fit(panel)


def test_cli_writes_the_folder_and_loads_back(tmp_path):
    out = tmp_path / "response"
    res = CliRunner().invoke(app, ["price-response", "--history", str(sample_path()), "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["validation"]["days_with_price_change"] > 0
    loaded = PriceResponse.load(out)
    table = pd.read_csv(out / "response.csv")
    assert np.allclose(loaded.elasticity(table.first_category_id), table.elasticity)
    bad = tmp_path / "no_discount.parquet"
    pd.read_parquet(sample_path()).drop(columns=["discount"]).to_parquet(bad)
    res = CliRunner().invoke(app, ["price-response", "--history", str(bad), "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "discount" in res.output and not (tmp_path / "x").exists()


def test_partitions_put_end_to_end_estimate_what_the_whole_chain_does():
    """A chain on Dask estimates the response on its partitions' daily demand and discounts
    put end to end (`response_panel`): the same estimate as on the whole panel, demand
    recovered from the hours where stockouts hid it included."""
    panel = load_history(sample_path())
    assert panel.hourly and (panel.stockout_shop_hours > 0).any()
    stores = panel.series["store_id"].to_numpy()
    cut = np.median(np.unique(stores))
    parts = [response_panel(panel.take(np.flatnonzero(side))) for side in (stores <= cut, stores > cut)]
    assert all(p.n_series for p in parts) and not any(p.hourly for p in parts)
    whole, chain = PriceResponse().fit(panel), PriceResponse().fit(concat_panels(parts))
    pd.testing.assert_frame_equal(chain.table_, whole.table_, rtol=1e-9)
    assert chain.neighbours_.keys() == whole.neighbours_.keys()
    for name, effect in whole.neighbours_.items():
        assert chain.neighbours_[name] == pytest.approx(effect, rel=1e-9)
    assert chain.pooled_ == pytest.approx(whole.pooled_, rel=1e-9)
    assert chain.rows_ == whole.rows_ and chain.excluded_ == whole.excluded_
    pd.testing.assert_series_equal(chain.level_, whole.level_, rtol=1e-9)


def test_discounts_that_do_not_vary_within_a_day_are_refused_with_a_clear_error():
    from conftest import make_hourly

    same = load_history(make_hourly(n_stores=1, n_products=6, days=40))  # one store: each day's discount is the day's
    with pytest.raises(FreshcastError, match="the price response cannot be estimated: the discounts do not vary"):
        PriceResponse().fit(same)
