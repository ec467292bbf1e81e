"""The daily forecaster, metrics and backtest on the embedded sample."""

import json
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from freshcast.errors import FreshcastError
from freshcast.forecast import DailyForecaster
from freshcast.forecast import trainer
from freshcast.forecast.backtest import backtest
from freshcast.forecast.metrics import mase, seasonal_scale, wape, wpe
from freshcast.data import load_future, load_history
from freshcast.features.daily import category_codes

FAST = dict(n_estimators=40, num_leaves=31, n_jobs=2)


@pytest.fixture(scope="module")
def split(sample_panel):
    cut = sample_panel.last_day - 7
    return sample_panel.until(cut), sample_panel.future(cut + 1, 7)


@pytest.fixture(scope="module")
def fitted(split):
    return DailyForecaster(**FAST).fit(split[0])


def test_forecast_has_one_non_negative_row_per_series_and_day(fitted, split):
    train, future = split
    pred = fitted.predict(7, future)
    assert list(pred.columns) == ["store_id", "product_id", "dt", "yhat", "q10", "q50", "q90"]
    assert len(pred) == train.n_series * 7
    assert not pred.duplicated(["store_id", "product_id", "dt"]).any()
    assert (pred.yhat >= 0).all() and np.isfinite(pred.yhat).all()
    assert pred.dt.min() == np.datetime64("2024-06-12") and pred.dt.max() == np.datetime64("2024-06-18")


def test_forecast_beats_seasonal_naive_on_the_sample(sample_panel):
    scores, _ = backtest(sample_panel, folds=2, horizon=7, params=FAST)
    overall = scores[scores.fold == "all"].set_index("method")
    assert set(overall.index) == {"freshcast", "seasonal_naive", "moving_average"}
    assert overall.loc["freshcast", "wape"] < overall.loc["seasonal_naive", "wape"]
    assert len(scores) == 3 * 3
    assert 0.6 < overall.loc["freshcast", "interval_coverage"] < 0.95
    assert 0.3 < overall.loc["freshcast", "coverage_q50"] < 0.7 and overall.loc["freshcast", "pinball_q50"] > 0
    assert np.isnan(overall.loc["seasonal_naive", "interval_coverage"])  # baselines give no quantiles


def test_same_seed_same_forecast_and_save_load_roundtrip(fitted, split, tmp_path):
    train, future = split
    first = fitted.predict(7, future)
    again = DailyForecaster(**FAST).fit(train).predict(7, future)
    pd.testing.assert_frame_equal(first, again)
    fitted.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())
    assert meta["feature_names"] == fitted.feature_names_ and "lightgbm" in meta["versions"]
    assert not list((tmp_path / "model").glob("*.pkl"))
    loaded = DailyForecaster.load(tmp_path / "model")
    with pytest.raises(FreshcastError, match="needs the sales history"):
        loaded.predict(7, future)
    pd.testing.assert_frame_equal(loaded.predict(7, future, history=train), first)


def test_a_model_that_learned_nothing_says_so(fitted, split):
    tiny = split[0].take(np.arange(5))
    flat = DailyForecaster(**FAST, quantiles=()).fit(tiny)
    assert len(flat.notes_) == 1 and "nothing to split on" in flat.notes_[0] and "5 series" in flat.notes_[0]
    future = replace(split[1], values={k: v[:5] for k, v in split[1].values.items()}, ids=split[1].ids[:5])
    forecast = flat.predict(7, future)
    assert (forecast.groupby("product_id").yhat.nunique() == 1).all()  # what the note warns of
    learned = DailyForecaster(**FAST, quantiles=(), min_child_samples=5).fit(tiny)
    assert learned.notes_ == [] and fitted.notes_ == []


def test_ids_beyond_float32_are_told_apart_and_saved(sample_frame, tmp_path):
    """Ids of 2**24 and more (float32, the feature matrix, cannot hold them all) are read by
    their position among the ids the model knows: the same forecasts as small ids, before and
    after a save, up to 13-digit ids (GLNs for stores, EAN-13s for products) that do not fit
    32 bits; an id the model does not know is read as missing."""
    kw = dict(FAST, quantiles=(), relative_model=False)
    frame = sample_frame.assign(store_id=sample_frame.store_id.astype("int64"),
                                product_id=sample_frame.product_id.astype("int64"))  # fmt: skip
    forecasts = []
    for store_shift, shift in ((0, 0), (9_501_101_530_000, 4_006_381_333_000), (0, 40_000_000)):
        history = frame.assign(store_id=frame.store_id + store_shift, product_id=frame.product_id + shift)
        panel = load_history(history)
        model = DailyForecaster(**kw).fit(panel.until(panel.last_day - 7))
        forecasts.append(model.predict(7, load_future(history[history.dt > history.dt.max() - timedelta(days=7)],
                                                      panel.until(panel.last_day - 7))))  # fmt: skip
    small, gln, large = forecasts
    np.testing.assert_array_equal(small.yhat.to_numpy(), large.yhat.to_numpy())
    np.testing.assert_array_equal(small.yhat.to_numpy(), gln.yhat.to_numpy())
    assert (large.product_id - small.product_id == 40_000_000).all()
    assert (gln.store_id - small.store_id == 9_501_101_530_000).all()
    assert (gln.product_id - small.product_id == 4_006_381_333_000).all() and gln.product_id.dtype == np.int64
    assert list(model.features_.categories) == ["product_id"] and model.features_.categories["product_id"].min() >= 40_000_000
    loaded = DailyForecaster.load(model.save(tmp_path / "model"))
    again = loaded.predict(7, panel.future(panel.last_day - 6, 7), history=panel.until(panel.last_day - 7))
    np.testing.assert_array_equal(again.yhat, large.yhat)
    known = model.features_.categories["product_id"]
    codes = category_codes(np.array([known[3], known[0] + 1 if known[0] + 1 not in known else 1 << 30]), known)
    assert codes[0] == 3 and np.isnan(codes[1])


def test_shorter_horizon_and_bad_horizon(fitted, split):
    _, future = split
    assert fitted.predict(3, future).dt.nunique() == 3
    with pytest.raises(FreshcastError, match="horizon must be between 1 and 7"):
        fitted.predict(8, future)


def test_fit_accepts_a_dataframe(sample_frame):
    model = DailyForecaster(**FAST).fit(sample_frame[sample_frame.dt <= pd.Timestamp("2024-06-11").date()])
    assert model.n_train_rows_ > 0


def test_metrics():
    y = np.array([2.0, 0.0, 4.0])
    f = np.array([1.0, 1.0, 4.0])
    assert wape(y, f) == pytest.approx(2 / 6)
    assert wpe(y, f) == pytest.approx(0.0)
    assert wpe(y, f * 0) == pytest.approx(-1.0)
    values = np.array([1, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4, 5, 6, 7], np.float32)
    scale = seasonal_scale(values, np.array([0, 14]))
    assert scale[0] == pytest.approx(2 / 7)  # only 3 -> 1 differs, by 2
    assert mase(y, f, np.zeros(3, np.int64), scale) == pytest.approx((2 / 3) / (2 / 7))


def test_a_model_folder_mixed_from_two_saves_is_refused(fitted, split, tmp_path):
    train, future = split
    short = DailyForecaster(**{**FAST, "max_horizon": 3, "min_history_days": 28}).fit(train)
    fitted.save(tmp_path / "a")
    short.save(tmp_path / "b")
    short.save(tmp_path / "a")  # a second save replaces the whole folder
    assert DailyForecaster.load(tmp_path / "a").max_horizon == 3
    fitted.save(tmp_path / "a")
    (tmp_path / "a" / "model.txt").write_bytes((tmp_path / "b" / "model.txt").read_bytes())  # a kill mid-copy
    with pytest.raises(FreshcastError, match="model.txt does not match meta.json"):
        DailyForecaster.load(tmp_path / "a")
    fitted.save(tmp_path / "a")
    (tmp_path / "a" / "calibration.npz").unlink()
    with pytest.raises(FreshcastError, match="calibration.npz is missing"):
        DailyForecaster.load(tmp_path / "a")
    fitted.save(tmp_path / "a")
    (tmp_path / "a" / "relative_model.txt").unlink()
    with pytest.raises(FreshcastError, match="relative_model.txt is missing"):
        DailyForecaster.load(tmp_path / "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary or lock files left


def test_api_misuse_gives_one_line_freshcast_errors(fitted, split, sample_panel):
    train, future = split
    few_future = sample_panel.future(train.last_day + 1, 7, np.arange(10))
    for call, message in [
        (lambda: fitted.predict(7, few_future), "other store x product series"),
        (lambda: fitted.predict(7, None), "needs the future covariates"),
        (lambda: DailyForecaster(**{**FAST, "objective": "nonsense"}).fit(train), "LightGBM refused"),
        (lambda: DailyForecaster(**FAST).fit(None), "needs the sales history"),
        (lambda: fitted.predict(7, future, level="hour", slots="06-18,18-06"), "not both"),
        (lambda: fitted.predict(7, future, level="week"), "level must be"),
        (lambda: DailyForecaster(**{**FAST, "relative_model": "no"}).fit(train), "relative_model: expected True"),
        (lambda: DailyForecaster(**{**FAST, "quantiles": None}).fit(train), r"or \(\) for none"),
        (lambda: DailyForecaster(**{**FAST, "lgb_params": {"eta": 0.3, "num_trees": 9}}).fit(train),
         "lgb_params may not set eta, num_trees: use the forecaster's own learning_rate, n_estimators"),
        (lambda: DailyForecaster(**{**FAST, "lgb_params": {"min_gain_to_splt": 1.0}}).fit(train),
         "DailyForecaster lgb_params: not LightGBM parameters: min_gain_to_splt"),
        (lambda: fitted.predict(7, future, history=replace(train, series=train.series.drop(columns="city_id"))),
         "series attributes"),
    ]:
        with pytest.raises(FreshcastError, match=message) as err:
            call()
        assert "\n" not in str(err.value)


def test_quantile_levels_are_sorted_once_in_fit(split):
    train, future = split
    model = DailyForecaster(**{**FAST, "quantiles": (0.9, 0.1, 0.5)}).fit(train)
    assert model.quantiles_ == (0.1, 0.5, 0.9) and model.quantiles == (0.9, 0.1, 0.5)  # the parameter as given
    pred = model.predict(7, future)
    assert list(pred.columns[-3:]) == ["q10", "q50", "q90"] and (pred.q10 <= pred.q90).all()


def test_the_forecast_does_not_depend_on_the_thread_count(split):
    """The default thread count follows the machine's load, so it must not change results."""
    train, future = split
    one = DailyForecaster(**{**FAST, "n_jobs": 1}).fit(train).predict(7, future)
    two = DailyForecaster(**{**FAST, "n_jobs": 2}).fit(train).predict(7, future)
    pd.testing.assert_frame_equal(one, two)


def test_the_distribution_is_the_one_carrier_of_forecasts(fitted, split):
    from freshcast.forecast.distribution import ForecastDistribution

    train, future = split
    dist = fitted.predict_distribution(7, future)
    assert dist.levels == (0.1, 0.5, 0.9) and dist.quantiles.shape == (train.n_series, 7, 3)
    frame = fitted.predict(7, future)
    pd.testing.assert_frame_equal(dist.to_frame(), frame)
    back = ForecastDistribution.from_frame(frame.sample(frac=1.0, random_state=0))  # any row order
    assert back.levels == dist.levels and back.first_day == dist.first_day
    order = np.lexsort((dist.product_id, dist.store_id))
    np.testing.assert_array_equal(back.quantiles, dist.quantiles[order])
    np.testing.assert_array_equal(back.mean, dist.mean[order])
    odd = frame.rename(columns={"q10": "q2.5"})  # levels come from the column names, once
    assert ForecastDistribution.from_frame(odd).levels == (0.025, 0.5, 0.9)


def test_scikit_learn_conventions_and_save_load_with_recovery_off(split, tmp_path):
    from sklearn.base import clone

    train, future = split
    model = DailyForecaster(**{**FAST, "stockout_recovery": 0.0, "quantiles": [0.9, 0.5, 0.1]})
    assert clone(model).get_params() == model.get_params()
    assert model.set_params(n_estimators=30) is model and model.n_estimators == 30
    model.fit(train)
    assert model.quantiles == [0.9, 0.5, 0.1] and model.quantiles_ == (0.1, 0.5, 0.9)  # parameters stay as given
    assert not model.recovered_
    model.save(tmp_path / "m")
    loaded = DailyForecaster.load(tmp_path / "m")
    assert not loaded.recovered_ and loaded.quantiles_ == model.quantiles_
    pd.testing.assert_frame_equal(loaded.predict(7, future, history=train), model.predict(7, future))


def test_predict_never_changes_the_fitted_model(fitted, split):
    """The training target is worked out once in fit; predicting on another history (daily
    rows, no recovery possible) reads the model without changing it."""
    import dataclasses

    train, future = split
    state = {k: v for k, v in fitted.__dict__.items()}
    daily = dataclasses.replace(train, hour_sales=None, stockout_mask=None)  # another panel, no hours
    fitted.predict(7, future, history=daily)
    assert fitted.recovered_ and fitted.__dict__.keys() == state.keys()
    assert all(fitted.__dict__[k] is v for k, v in state.items())


def test_a_failed_refit_leaves_the_fitted_model_as_it_was(fitted, split, sample_frame):
    train, future = split
    model = DailyForecaster(n_estimators=10, seed=0).fit(train)
    before = model.predict_distribution(7, future)
    booster, features = model.booster_, model.features_
    short = sample_frame[sample_frame["dt"] >= sample_frame["dt"].max() - pd.Timedelta(days=5)]
    with pytest.raises(FreshcastError, match="no series has more than"):
        model.fit(short.drop(columns=["city_id"]))
    assert model.booster_ is booster and model.features_ is features and model.history_ is train
    np.testing.assert_array_equal(model.predict_distribution(7, future).mean, before.mean)


def test_the_backtest_leaves_out_series_that_start_after_a_fold_cutoff(sample_frame):
    from freshcast.data import load_history

    late = sample_frame["store_id"].iat[0], sample_frame["product_id"].iat[0]
    is_late = (sample_frame["store_id"] == late[0]) & (sample_frame["product_id"] == late[1])
    last = sample_frame["dt"].max()
    frame = sample_frame[~is_late | (sample_frame["dt"] > last - pd.Timedelta(days=10))]
    scores, forecasts = backtest(load_history(frame), folds=2, horizon=7, params={"n_estimators": 10})
    per_fold = forecasts[(forecasts["store_id"] == late[0]) & (forecasts["product_id"] == late[1])]
    assert sorted(per_fold["fold"].unique()) == [2]  # unknown at the first cutoff, forecast at the second
    assert len(forecasts) == 7 * (2 * sample_frame.groupby(["store_id", "product_id"]).ngroups - 1)


def test_a_saved_model_does_not_depend_on_the_threads_it_trained_with(tmp_path):
    from freshcast.data import load_history, sample_path
    from freshcast.outputs import file_sha256

    from freshcast.threads import set_threads

    panel = load_history(sample_path())
    try:
        for n in (1, 2):  # as when the machine is busy or not: the same parameters, other thread counts
            set_threads(n)
            DailyForecaster(n_estimators=5, quantiles=()).fit(panel).save(tmp_path / f"m{n}")
    finally:
        set_threads(None)
    assert file_sha256(tmp_path / "m1" / "model.txt") == file_sha256(tmp_path / "m2" / "model.txt")
    assert file_sha256(tmp_path / "m1" / "meta.json") == file_sha256(tmp_path / "m2" / "meta.json")


def test_the_relative_model_reads_unit_features_over_each_rows_level(split, tmp_path):
    from freshcast.features import kernels as K
    from freshcast.features.matrix import LEVEL_FLOOR

    train, future = split
    units = DailyForecaster(**{**FAST, "relative_model": False, "quantiles": ()}).fit(train)
    both = DailyForecaster(**{**FAST, "quantiles": ()}).fit(train)
    assert units.relative_booster_ is None and both.relative_booster_ is not None
    a, b = units.predict_distribution(7, future).mean, both.predict_distribution(7, future).mean
    assert np.all(b >= 0) and not np.allclose(a, b)
    rows = both.features_.training_rows(train, 28, 0)
    X = both.features_.matrix(rows)
    level = rows.level
    ewm = K.ewm_mean(train.sales, train.offsets, 0.1)[rows.origin]
    np.testing.assert_allclose(level, np.maximum(np.nan_to_num(ewm), LEVEL_FLOOR), rtol=1e-6)
    relative = X.copy(order="F")
    both.features_.to_relative(relative, level)
    names = both.features_.names
    in_units = ("lag_", "weekday_mean_", "mean_", "std_", "max_", "ewm_", "instock_rate_")
    for j, name in enumerate(names):  # units divided by the level; shares, flags, covariates as they were
        ratio = relative[:, j] * (level if name.startswith(in_units) else 1)
        np.testing.assert_allclose(ratio, X[:, j], rtol=1e-5, err_msg=name)
    assert {"lag_1", "mean_28", "ewm_0.1", "weekday_mean_4w", "instock_rate_7", "discount", "dow"} <= set(names)
    units.save(tmp_path / "units")  # a model without the relative one saves and loads as it was
    loaded = DailyForecaster.load(tmp_path / "units")
    assert loaded.relative_model is False and loaded.relative_booster_ is None
    np.testing.assert_array_equal(loaded.predict_distribution(7, future, history=train).mean, a)


def test_promotion_runs_are_features_and_older_saves_load_without_them(split, fitted, tmp_path):
    train, future = split
    plain = DailyForecaster(**{**FAST, "promotion_runs": False, "quantiles": ()}).fit(train)
    runs = {"discount_held_days", "discount_days_to_change", "activity_flag_next_step"}
    assert runs <= set(fitted.feature_names_)
    assert not runs & set(plain.feature_names_)
    plain.save(tmp_path / "old")
    meta_path = tmp_path / "old" / "meta.json"
    meta = json.loads(meta_path.read_text())
    for setting in ("promotion_runs", "calibration_tree_share"):  # as a model saved before they existed
        del meta["params"][setting]
    meta_path.write_text(json.dumps(meta))
    loaded = DailyForecaster.load(tmp_path / "old")
    assert loaded.promotion_runs is False and loaded.calibration_tree_share == 1.0  # it calibrated on all the trees
    np.testing.assert_array_equal(loaded.predict_distribution(7, future, history=train).mean,
                                  plain.predict_distribution(7, future).mean)  # fmt: skip


def test_features_read_their_own_share_of_the_recovered_demand(split, monkeypatch):
    """`feature_recovery`: the features of the training rows are those of a model recovering
    that share, the target that of `stockout_recovery`; None reads the target's share."""
    from freshcast.forecast import trainer

    seen = []

    class Seen(Exception):
        pass

    def capture(X, y, *args, **kwargs):
        seen.append((X.copy(), y.copy()))
        raise Seen  # the rows are all this test needs

    monkeypatch.setattr(trainer, "train", capture)
    settings = dict(FAST, relative_model=False, quantiles=())
    for recovery, features in ((1.0, 0.0), (0.0, None), (1.0, None), (1.0, 1.0)):
        with pytest.raises(Seen):
            DailyForecaster(**settings, stockout_recovery=recovery, feature_recovery=features).fit(split[0])
    (X_mixed, y_mixed), (X_sales, y_sales), (X_demand, y_demand), (X_same, y_same) = seen
    assert np.array_equal(X_mixed, X_sales, equal_nan=True) and np.array_equal(y_mixed, y_demand)
    assert not np.array_equal(y_mixed, y_sales) and not np.array_equal(X_mixed, X_demand, equal_nan=True)
    assert np.array_equal(X_same, X_demand, equal_nan=True) and np.array_equal(y_same, y_demand)
    with pytest.raises(FreshcastError, match="feature_recovery: expected a number between 0 and 1"):
        DailyForecaster(**settings, feature_recovery=1.5).fit(split[0])


def test_models_per_group_of_series_average_with_the_chains_and_save(split, fitted, tmp_path, monkeypatch):
    """group_models: a model per management group with enough rows, each series' forecast the
    mean of the chain's and its group's (a group's model equals one trained on its series
    alone with the chain's features); saved and loaded whole; a note when the history lacks
    the attribute, refused when it names no series attribute (on Dask: test_cluster)."""
    from freshcast.data.contract import STATIC
    from freshcast.forecast.params import check_params

    train, future = split
    grouped = DailyForecaster(**FAST, min_child_samples=20, group_models="management_group_id").fit(train)
    groups = train.series["management_group_id"].to_numpy()
    trained = set(grouped.group_boosters_)
    assert len(trained) >= 2 and trained <= set(groups.tolist())
    rows = grouped.features_.forecast_rows(train.with_sales(grouped.feature_demand(train)), future, 7)
    chain = fitted.predict_rows(rows)
    mine = grouped.predict_rows(rows)
    keep = grouped.group_boosters_
    grouped.group_boosters_ = {}  # the same model without its group models: its chain's forecast
    whole = grouped.predict_rows(rows)
    grouped.group_boosters_ = keep
    in_group = np.isin(groups[rows.series], list(trained))
    np.testing.assert_array_equal(mine[~in_group], whole[~in_group])
    assert not np.allclose(mine[in_group], whole[in_group]) and not np.allclose(mine, chain)
    g = sorted(trained)[0]
    at = np.flatnonzero(groups[rows.series] == g)
    X = grouped.features_.matrix(rows)[at]
    units = trainer.predict(keep[g][0], X, 2)
    grouped.features_.to_relative(X, rows.level[at])
    own = 0.5 * (units + trainer.predict(keep[g][1], X, 2) * rows.level[at])
    np.testing.assert_allclose(mine[at], 0.5 * (whole[at] + own), rtol=1e-5)
    import freshcast.forecast.daily as daily

    monkeypatch.setattr(daily, "PREDICT_ROWS", 97)  # in parts that cut across groups: the same forecasts
    assert len(rows) > 97
    np.testing.assert_array_equal(grouped.predict_rows(rows), mine)
    monkeypatch.undo()
    grouped.save(tmp_path / "grouped")
    loaded = DailyForecaster.load(tmp_path / "grouped")
    pd.testing.assert_frame_equal(loaded.predict(7, future, train), grouped.predict(7, future))
    assert check_params({"group_models": "city_id"}, "p") == {"group_models": "city_id"}
    one_city = DailyForecaster(**FAST, min_child_samples=20, group_models="city_id").fit(train)
    assert train.series.city_id.nunique() == 1 and one_city.group_boosters_ == {}  # it would be the chain's model
    bare = replace(train, series=train.series.drop(columns=["management_group_id"]))
    told = DailyForecaster(**FAST, min_child_samples=20, group_models="management_group_id").fit(bare)
    assert told.group_boosters_ == {} and any("has no column 'management_group_id'" in n for n in told.notes_)
    with pytest.raises(FreshcastError, match=r"group_models: expected .*\"management_group_id\""):
        DailyForecaster(group_models="store_id").fit(train)
    assert "store_id" not in STATIC


def test_without_lightgbms_table_of_names_only_lgb_params_are_refused(monkeypatch):
    """lgb_params are checked with a table LightGBM does not publish: were it gone, a forecaster
    without lgb_params trains as before and one with them is refused in one line."""
    import lightgbm.basic

    from freshcast.forecast import params

    params._lightgbm_names.cache_clear()
    monkeypatch.delattr(lightgbm.basic, "_ConfigAliases")
    try:
        assert params.lightgbm_table({}, "DailyForecaster lgb_params") == {}
        with pytest.raises(FreshcastError, match="lgb_params are checked against LightGBM's table of parameter names, "
                                                 "which LightGBM .* does not have"):  # fmt: skip
            params.lightgbm_table({"min_gain_to_split": 1.0}, "DailyForecaster lgb_params")
    finally:
        monkeypatch.undo()
        params._lightgbm_names.cache_clear()
    assert params.lightgbm_table({"colsample_bytree": 0.5}, "x") == {"feature_fraction": 0.5}
