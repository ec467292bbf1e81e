"""Replay of real demand through ordering policies, on the embedded sample."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from freshcast.cli import app
from freshcast.data import load_history, load_history_with_actuals, sample_path
from freshcast.data.dates import day_number as _day
from freshcast.data.dates import day_to_date
from freshcast.errors import DataError, FreshcastError
from freshcast.forecast import DailyForecaster
from freshcast.optimize.master import assume_master_data
from freshcast.simulate.policies import PAST_DAYS
from freshcast.simulate.replay import (REPLAY_QUANTILES, absent_note, absent_series, baseline_window,
                                       choose_baselines, days_without_any_row, gap_days, gap_note, replay)
from freshcast.simulate.scoring import ending_stock, merged, served_demand

FIRST = "2024-06-09"  # replay the last 10 days of the sample


@pytest.fixture(scope="module")
def setup():
    panel = load_history(sample_path())
    first = _day(FIRST)
    model = DailyForecaster(quantiles=REPLAY_QUANTILES, n_estimators=30, seed=0).fit(panel.until(first - 1))
    return panel, first, model


@pytest.fixture(scope="module")
def result(setup):
    panel, first, model = setup
    return replay(panel, first, model)


def test_every_policy_conserves_units(result):
    for name, s in result.summary.items():
        assert s["units_received"] == pytest.approx(s["units_sold"] + s["units_wasted"] + s["units_ending_stock"]), name
        assert s["units_demanded"] == pytest.approx(s["units_sold"] + s["units_lost"]), name
        ending = s["ending_units_expected_to_sell"] + s["ending_units_expected_to_expire"]
        assert s["units_ending_stock"] == pytest.approx(ending), name
    log = result.log
    assert (log[["order_qty", "received", "sold", "lost", "wasted", "stock_end"]] >= 0).all().all()


POLICIES = {"rule_of_thumb", "weekday_mean_4w", "moving_average_7d", "newsvendor_naive", "mean_forecast", "optimizer",
            "hindsight"}  # fmt: skip


def test_no_policy_beats_the_hindsight_bound(result):
    s = result.summary
    assert set(s) == POLICIES
    assert s["hindsight"]["total_cost"] < min(v["total_cost"] for k, v in s.items() if k != "hindsight")
    assert [v["rank"] for v in s.values()] == list(range(1, 8)) and list(s)[0] == "hindsight"
    costs = [v["total_cost"] for v in s.values()]
    assert costs == sorted(costs)
    assert s["hindsight"]["gap_closed"] == pytest.approx(1.0)
    cheapest = min(("rule_of_thumb", "weekday_mean_4w", "moving_average_7d", "newsvendor_naive"),
                   key=lambda k: s[k]["total_cost"])  # fmt: skip
    assert s[cheapest]["gap_closed"] == pytest.approx(0.0)
    assert s["hindsight"]["fill_rate"] > 0.85  # the opening stock (last week's sales) is short of recovered demand


def test_replay_is_deterministic(setup, result):
    panel, first, model = setup
    again = replay(panel, first, model)
    assert again.summary == result.summary
    pd.testing.assert_frame_equal(again.log, result.log)


def test_decisions_use_only_sales_before_the_day(setup, result):
    """Change one replayed day's sales: no decision made on or before that day may change
    (except the hindsight bound's, which sees the future by definition)."""
    panel, first, model = setup
    t = 4
    changed = load_history(sample_path())
    pos = changed.positions(first + t)
    changed.sales[pos] *= 3.0
    changed.instock_sales[pos] *= 3.0
    changed.hour_sales[pos] *= 3.0
    other = replay(changed, first, model)
    day = np.datetime64(FIRST) + np.timedelta64(t, "D")
    assert other.baselines_chosen == result.baselines_chosen  # chosen on days before the replay
    for name in POLICIES:
        a = result.log[result.log.policy == name]
        b = other.log[other.log.policy == name]
        before = pd.to_datetime(a.dt).to_numpy() <= day
        same = np.allclose(a.order_qty.to_numpy()[before], b.order_qty.to_numpy()[before])
        assert same == (name != "hindsight"), name
        assert not np.allclose(a.order_qty.to_numpy()[~before], b.order_qty.to_numpy()[~before]), name


def test_baseline_settings_are_chosen_on_the_days_before_the_replay(setup, result):
    panel, first, _ = setup
    chosen = result.baselines_chosen
    T = panel.last_day - first + 1
    assert chosen["last_day"] == str(np.datetime64(FIRST) - np.timedelta64(1, "D"))
    assert chosen["first_day"] == str(np.datetime64(FIRST) - np.timedelta64(T, "D"))
    for name, param in (("weekday_mean_4w", "safety_share"), ("moving_average_7d", "safety_share"),
                        ("newsvendor_naive", "service_level")):  # fmt: skip
        costs = chosen[name]["total_cost_by_setting"]
        assert len(costs) == 7 and costs[str(chosen[name][param])] == min(costs.values())


def test_a_long_replay_chooses_the_baselines_on_the_days_its_history_allows(setup):
    panel, first, _ = setup
    earliest = int(panel.start.max()) + PAST_DAYS  # the first day the baselines can be replayed on
    assert baseline_window(panel, first, 7) == first - 7
    assert baseline_window(panel, first, 3) == first - 7  # never less than a week
    assert baseline_window(panel, first, first - earliest + 5) == earliest
    assert baseline_window(panel, earliest + 7, 30) == earliest
    assert baseline_window(panel, earliest + 6, 30) is None
    history = panel.until(first - 1)
    _, chosen = choose_baselines(panel, first, first - earliest + 5, assume_master_data(history))
    assert chosen["first_day"] == str(day_to_date(earliest)) and "note" not in chosen
    _, fallback = choose_baselines(panel, earliest + 6, 30, assume_master_data(history))
    assert "defaults used" in fallback["note"]


def test_recovered_demand_adds_what_stockouts_hid_and_nothing_else(setup, result):
    panel, first, model = setup
    observed = served_demand(panel, first, "observed")
    recovered = served_demand(panel, first, "recovered")
    pos = panel.positions(first)[:, None] + np.arange(observed.shape[1])
    stocked_out = panel.stockout_shop_hours[pos] > 0
    assert stocked_out.any() and (~stocked_out).any()
    np.testing.assert_array_equal(recovered[~stocked_out], observed[~stocked_out])  # in stock: the sales
    assert (recovered >= observed - 1e-6).all()  # never below the sales
    assert (recovered[stocked_out] > observed[stocked_out] + 1e-6).mean() > 0.5
    # the replay serves it: the default is recovered, and the observed replay sells no more than the sales
    assert result.demand == "recovered"
    assert result.summary["hindsight"]["units_demanded"] == pytest.approx(recovered.sum())
    plain = replay(panel, first, model, demand="observed")
    assert plain.demand == "observed" and plain.summary["hindsight"]["units_demanded"] == pytest.approx(observed.sum())
    for name, s in plain.summary.items():
        assert s["units_sold"] <= observed.sum() + 1e-6, name
    with pytest.raises(FreshcastError, match="demand must be one of"):
        served_demand(panel, first, "censored")


def test_ending_stock_is_sold_fifo_against_the_following_days_until_it_expires():
    stock = np.zeros((2, 8))
    stock[0, 2], stock[0, 3] = 5.0, 4.0  # 5 units expire at the end of day 2, 4 at the end of day 3
    stock[1, 4] = 1.0
    demand = np.array([[1.0, 2.0], [0.0, 3.0]])  # 2 replayed days; the following days repeat the last
    sold, wasted = ending_stock(stock, np.array([3, 3]), demand)
    np.testing.assert_allclose(sold, [2.0 + 2.0, 1.0])  # day 2: 2 of the 5, day 3: 2 of the 4
    np.testing.assert_allclose(wasted, [3.0 + 2.0, 0.0])
    assert stock[0, 2] == 5.0  # the replay's stock is not touched


def test_assumed_master_data_are_labelled(setup):
    panel, first, _ = setup
    a = assume_master_data(panel.until(first - 1))
    assert a.assumed and "ASSUMED" in a.notes[0]
    assert (a.unit_cost < a.regular_price).all() and (a.case_pack > 0).all()


@pytest.mark.slow
def test_replay_cli_writes_summary_and_log(tmp_path):
    df = pd.read_parquet(sample_path())
    cut = pd.Timestamp("2024-06-14").date()
    df[df.dt <= cut].to_parquet(tmp_path / "history.parquet")
    df[df.dt > cut].to_parquet(tmp_path / "actuals.parquet")
    out = tmp_path / "replay"
    args = ["replay", "--history", str(tmp_path / "history.parquet"), "--actuals", str(tmp_path / "actuals.parquet")]
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["demand"] == "recovered"
    assert summary["first_day"] == "2024-06-15" and summary["last_day"] == "2024-06-18"
    assert "ASSUMED" in summary["assumptions"][0]
    assert set(summary["policies"]) == POLICIES
    for name in POLICIES:
        row = summary["policies"][name]
        for key in ("total_cost", "fill_rate", "waste_pct", "units_wasted", "units_lost", "gross_margin",
                    "ending_stock_value"):  # the judged columns  # fmt: skip
            assert np.isfinite(row[key]), (name, key)
    log = pd.read_parquet(out / "log.parquet")
    assert len(log) == 4 * len(POLICIES) * summary["series"]
    assert summary["baselines_chosen_on"]["last_day"] == "2024-06-14"
    assert "notes" not in summary  # every series has actual rows
    # actuals that do not follow the history: one clear line, exit 1, nothing written
    bad = CliRunner().invoke(app, ["replay", "--history", str(tmp_path / "actuals.parquet"), "--actuals",
                                   str(tmp_path / "history.parquet"), "--out", str(tmp_path / "bad")])  # fmt: skip
    assert bad.exit_code == 1
    assert "actual days must start on" in bad.output
    assert not (tmp_path / "bad").exists()


def test_actuals_with_unknown_series_are_refused(tmp_path):
    df = pd.read_parquet(sample_path())
    cut = pd.Timestamp("2024-06-14").date()
    hist, act = df[df.dt <= cut], df[df.dt > cut].copy()
    act.loc[act.index[:24], "product_id"] = 999_999
    hist.to_parquet(tmp_path / "h.parquet")
    act.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DataError, match="not in the history"):
        load_history_with_actuals(tmp_path / "h.parquet", tmp_path / "a.parquet")


def test_series_without_actual_rows_are_counted_in_a_note(tmp_path):
    df = pd.read_parquet(sample_path())
    cut = pd.Timestamp("2024-06-14").date()
    hist, act = df[df.dt <= cut], df[df.dt > cut]
    gone = hist.drop_duplicates(["store_id", "product_id"]).head(2)[["store_id", "product_id"]]
    left = act.merge(gone, how="left", indicator=True).query("_merge == 'left_only'").drop(columns="_merge")
    hist.to_parquet(tmp_path / "h.parquet")
    act.to_parquet(tmp_path / "a.parquet")
    left.to_parquet(tmp_path / "left.parquet")
    panel, first = load_history_with_actuals(tmp_path / "h.parquet", tmp_path / "a.parquet")
    assert absent_series(panel, first) == (0, "") and absent_note("a.parquet", [(0, "")]) == []
    panel, first = load_history_with_actuals(tmp_path / "h.parquet", tmp_path / "left.parquet")
    s, p = gone.sort_values(["store_id", "product_id"]).iloc[0]
    assert absent_series(panel, first) == (2, f"store_id={s}, product_id={p}")
    # a chain's partitions in store order: the counts add up, the first partition with one names it
    (note,) = absent_note("left.parquet", [(0, ""), (2, "store_id=7, product_id=1"), (1, "store_id=9, product_id=2")])
    assert note == ("left.parquet: 3 series of the history have no row here and are replayed with zero demand "
                    "(first: store_id=7, product_id=1)")  # fmt: skip
    assert gap_days(panel, first) == (0, "")  # series left out whole are not gaps

    # a day left out of the export for some series is said too, and daily actuals are refused
    s, p = gone.iloc[1]
    holes = act[~((act.dt == act.dt.max()) & (act.store_id == s))]
    holes.to_parquet(tmp_path / "holes.parquet")
    panel, first = load_history_with_actuals(tmp_path / "h.parquet", tmp_path / "holes.parquet")
    missing = act[(act.dt == act.dt.max()) & (act.store_id == s)][["store_id", "product_id"]].drop_duplicates()
    n, where = gap_days(panel, first)
    assert n == len(missing) > 0 and where.startswith(f"store_id={s}, ") and where.endswith(f"dt={act.dt.max()}")
    assert gap_note("holes.parquet", [(n, where)])[0].startswith(f"holes.parquet: {n} day(s) of series")
    # a day left out of the export for every series is refused, by the command and on a chain's partitions
    middle = sorted(act.dt.unique())[1]
    act[act.dt != middle].to_parquet(tmp_path / "no_day.parquet")
    run = CliRunner().invoke(app, ["replay", "--history", str(tmp_path / "h.parquet"), "--actuals",
                                   str(tmp_path / "no_day.parquet"), "--out", str(tmp_path / "r")])  # fmt: skip
    assert run.exit_code == 1 and f"no_day.parquet: no row at all on {middle}, 1 day(s) of the replay" in run.output
    assert not (tmp_path / "r").exists()
    panel, first = load_history_with_actuals(tmp_path / "h.parquet", tmp_path / "no_day.parquet")
    halves = [days_without_any_row(panel.take(np.arange(k, panel.n_series, 2)), first) for k in (0, 1)]
    assert np.logical_and.reduce(halves).tolist() == days_without_any_row(panel, first).tolist() == [
        d == middle for d in sorted(act.dt.unique())]
    daily = act.groupby(["store_id", "product_id", "dt"], as_index=False).agg(
        {**{c: "first" for c in act.columns if c not in ("store_id", "product_id", "dt", "hour", "hourly_sale",
                                                           "hourly_stockout")},
         "hourly_sale": "sum", "hourly_stockout": "max"})  # fmt: skip
    daily.to_parquet(tmp_path / "daily.parquet")
    with pytest.raises(DataError, match="no 'hour' column while the history has hourly rows"):
        load_history_with_actuals(tmp_path / "h.parquet", tmp_path / "daily.parquet")


def test_forecasts_of_each_replayed_day_equal_a_rebuild_from_the_past(setup):
    panel, first, model = setup
    T = panel.last_day - first + 1
    each = model.predict_each_day(panel, first, T)
    assert len(each) == T
    for t, got in enumerate(each):
        h = min(model.max_horizon, T - t)
        rebuilt = model.predict_distribution(h, panel.future(first + t, h), panel.until(first + t - 1))
        assert got.first_day == rebuilt.first_day == first + t and got.levels == rebuilt.levels
        np.testing.assert_array_equal(got.mean, rebuilt.mean)
        np.testing.assert_array_equal(got.quantiles, rebuilt.quantiles)


def test_forecasts_made_in_parts_equal_those_made_at_once(setup, monkeypatch):
    import freshcast.forecast.daily as daily

    panel, first, model = setup
    T = panel.last_day - first + 1
    whole = model.predict_each_day(panel, first, T)
    monkeypatch.setattr(daily, "PREDICT_ROWS", 1000)  # parts that cut across days and horizons
    parts = model.predict_each_day(panel, first, T)
    assert panel.n_series * model.max_horizon > 1000
    for a, b in zip(whole, parts):
        np.testing.assert_array_equal(a.mean, b.mean)
        np.testing.assert_array_equal(a.quantiles, b.quantiles)


def test_forecasts_of_only_the_days_each_line_needs_equal_the_whole_forecast_there(setup):
    panel, first, model = setup
    T = panel.last_day - first + 1
    days = np.random.default_rng(0).integers(0, 9, (panel.n_series, T))
    whole, some = model.predict_each_day(panel, first, T), model.predict_each_day(panel, first, T, days=days)
    for t, (a, b) in enumerate(zip(whole, some)):
        kept = np.arange(a.horizon)[None, :] < days[:, t : t + 1]
        np.testing.assert_array_equal(b.mean[kept], a.mean[kept])
        np.testing.assert_array_equal(b.quantiles[kept], a.quantiles[kept])
        assert np.isnan(b.mean[~kept]).all() and np.isnan(b.quantiles[~kept]).all()
    assert (days == 0).any() and (days < 7).any()


def test_forecasting_only_the_days_orders_read_changes_no_decision(setup, result, monkeypatch):
    import freshcast.simulate.replay as rp

    panel, first, model = setup
    T = panel.last_day - first + 1
    read = rp.days_read(assume_master_data(panel.until(first - 1)), first, T)
    assert read.shape == (panel.n_series, T) and (read < model.max_horizon).mean() > 0.3  # the replay forecasts less
    monkeypatch.setattr(rp, "days_read", lambda master, first_day, T: np.full((len(master.lead_time_days), T), 99))
    every = replay(panel, first, model)  # every line forecast over every horizon
    assert every.summary == result.summary
    pd.testing.assert_frame_equal(every.log, result.log)


def test_lead_times_order_weekdays_and_capacity_hold_for_every_policy(setup):
    panel, first, model = setup
    master = assume_master_data(panel.until(first - 1))
    n = panel.n_series
    master.lead_time_days = np.full(n, 2, np.int64)
    master.order_weekdays = np.full(n, 0b0010101, np.int64)  # Mon, Wed, Fri
    master.capacity = np.where(np.arange(n) % 2 == 0, 4.0 * master.case_pack, np.inf)
    r = replay(panel, first, model, master)
    log = r.log
    days = pd.to_datetime(log["dt"])
    T = panel.last_day - first + 1
    for name, s in r.summary.items():
        assert s["units_received"] == pytest.approx(s["units_sold"] + s["units_wasted"] + s["units_ending_stock"]), name
        mine = log[log.policy == name]
        ordered = mine[mine.order_qty > 0]
        assert pd.to_datetime(ordered["dt"]).dt.day_of_week.isin([0, 2, 4]).all(), name
        q = mine["order_qty"].to_numpy().reshape(n, T)
        received = mine["received"].to_numpy().reshape(n, T)
        unlimited = ~np.isfinite(master.capacity)
        np.testing.assert_allclose(received[unlimited, 2:], q[unlimited, :-2], err_msg=name)  # arrives 2 days later
        assert (q[:, -2:] == 0).all(), name  # orders that would arrive after the replay are not placed
    s = r.summary
    assert s["hindsight"]["total_cost"] <= min(v["total_cost"] for v in s.values()) + 1e-9
    cut = 0.0
    for name in POLICIES:  # every delivery is within the store's capacity (cut to whole cases if need be)
        mine = log[log.policy == name]
        stock_end = mine["stock_end"].to_numpy().reshape(n, T)
        received = mine["received"].to_numpy().reshape(n, T)
        after = np.concatenate([np.zeros((n, 1)), stock_end[:, :-1]], axis=1) + received  # on hand after delivery
        delivered = mine["order_qty"].to_numpy().reshape(n, T)
        arriving = np.zeros_like(delivered, bool)
        arriving[:, 2:] = delivered[:, :-2] > 0
        capacity = np.broadcast_to(master.capacity[:, None], (n, T))
        assert (after[arriving] <= capacity[arriving] + 1e-6).all(), name
        cut += (delivered[:, :-2] - received[:, 2:]).sum()
        assert np.allclose(received[:, 2:] / master.case_pack[:, None], np.round(received[:, 2:] / master.case_pack[:, None]))
    assert cut > 0  # some policy ordered more than fitted: the replay cut it
    assert days.min() == pd.Timestamp(FIRST)


def test_policies_need_different_names_and_the_gap_counts_only_baselines_chosen_before(setup, result):
    from freshcast.simulate.policies import RuleOfThumb, WeekdayMean

    panel, first, model = setup
    with pytest.raises(FreshcastError, match="different names"):
        replay(panel, first, model, policies=[RuleOfThumb(), RuleOfThumb()], hindsight=False, baselines=False)
    tuned_on_the_window = WeekdayMean(0.5, name="weekday mean, any share")  # not a chosen baseline
    s = replay(panel, first, model, policies=[RuleOfThumb(), tuned_on_the_window]).summary
    cheapest = min(("rule_of_thumb", "weekday_mean_4w", "moving_average_7d", "newsvendor_naive"),
                   key=lambda k: s[k]["total_cost"])  # fmt: skip
    assert s[cheapest]["gap_closed"] == pytest.approx(0.0)


def test_a_replay_shorter_than_the_lead_time_places_no_order_and_costs_every_policy_alike(setup):
    """One replayed day with two days' lead time: no order can arrive, so every policy lives
    on the opening stock and costs the same as the hindsight bound."""
    panel, first, model = setup
    master = assume_master_data(panel.until(first - 1))
    master.lead_time_days = np.full(panel.n_series, 2, np.int64)
    r = replay(panel.until(first), first, model, master)
    assert (r.log["order_qty"].fillna(0) == 0).all()
    costs = {name: s["total_cost"] for name, s in r.summary.items()}
    assert max(costs.values()) == pytest.approx(min(costs.values()))
    for name, s in r.summary.items():
        assert s["units_received"] == pytest.approx(s["units_sold"] + s["units_wasted"] + s["units_ending_stock"]), name
        assert s["units_received"] > 0, name


def test_partitions_summaries_add_up_and_one_is_kept_to_the_bit():
    """The chain's summary from its partitions' (a Dask replay): totals added, ratios worked
    out again; one partition's unchanged (its average worked out again would lose a digit)."""
    a = {"units_wasted": 3.0, "units_received": 60.0, "units_sold": 50.0, "units_demanded": 70.0,
         "waste_pct": 5.0, "fill_rate": 50 / 70, "average_stock": 0.37914177243810715}  # fmt: skip
    b = {"units_wasted": 1.0, "units_received": 40.0, "units_sold": 30.0, "units_demanded": 30.0,
         "waste_pct": 2.5, "fill_rate": 1.0, "average_stock": 1.5}  # fmt: skip
    assert merged([a], [197]) == a
    both = merged([a, b], [197, 3])
    assert both["units_wasted"] == 4.0 and both["waste_pct"] == pytest.approx(4.0)
    assert both["fill_rate"] == pytest.approx(0.8)
    assert both["average_stock"] == pytest.approx((a["average_stock"] * 197 + 1.5 * 3) / 200)


def test_the_api_replays_and_estimates_the_response_as_the_commands_do(tmp_path):
    from freshcast import api
    from freshcast.forecast.price_response import PriceResponse

    df = pd.read_parquet(sample_path())
    cut = pd.Timestamp("2024-06-14").date()
    history, actuals = tmp_path / "history.parquet", tmp_path / "actuals.parquet"
    df[df.dt <= cut].to_parquet(history)
    df[df.dt > cut].to_parquet(actuals)
    with pytest.raises(FreshcastError, match="demand must be one of"):  # said before anything is read
        api.replay(tmp_path / "nowhere", tmp_path / "nowhere", tmp_path / "out", demand="sales")
    for scale, markdowns in ((2.0, False), ("2", True), (0.0, True), (float("nan"), True), (True, True)):
        with pytest.raises(FreshcastError, match="response_scale: a number above 0"):
            api.replay(history, actuals, tmp_path / "out", response_scale=scale, markdowns=markdowns)
    for hour, markdowns in ((17, False), (19, False), (6, True), (24, True), (17.5, True), (True, True)):
        with pytest.raises(FreshcastError, match="evening_hour: a whole hour from 7 to 23"):
            api.replay(history, actuals, tmp_path / "out", evening_hour=hour, markdowns=markdowns)
    with pytest.raises(FreshcastError, match="this output is the input"):
        api.replay(history, actuals, actuals)
    light = {"n_estimators": 20}
    done = api.replay(df[df.dt <= cut], df[df.dt > cut], tmp_path / "out", params=light)  # tables in memory
    light_file = _params_file(tmp_path, light)
    by_cli = CliRunner().invoke(app, ["replay", "--history", str(history), "--actuals", str(actuals), "--out",
                                      str(tmp_path / "cli"), "--params", str(light_file)])  # fmt: skip
    assert by_cli.exit_code == 0, by_cli.output
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["policies"] == json.loads((tmp_path / "cli" / "summary.json").read_text())["policies"]
    assert set(done.summary) == set(written["policies"]) and "optimizer" in done.summary
    with pytest.raises(FreshcastError, match="holdout_days"):
        api.price_response(history, tmp_path / "response", holdout_days=-1)
    response, summary = api.price_response(history, tmp_path / "response")
    assert isinstance(response, PriceResponse) and summary["validation"]["days_with_price_change"] > 0
    assert json.loads((tmp_path / "response" / "summary.json").read_text())["pooled"] == summary["pooled"]


def _params_file(folder, params: dict):
    path = folder / "light.toml"
    path.write_text("[forecaster]\n" + "".join(f"{k} = {v}\n" for k, v in params.items()))
    return path
