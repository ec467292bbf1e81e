"""Ordering and markdown pricing replayed together, on the embedded sample."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from freshcast.cli import app
from freshcast.data import load_history, sample_path
from freshcast.data.dates import day_number
from freshcast.forecast import DailyForecaster
from freshcast.forecast.price_response import PriceResponse
from freshcast.simulate.markdowns import EVENING_HOUR, MARKDOWN_POLICIES, rule_depths
from freshcast.simulate.policies import Optimizer
from freshcast.simulate.replay import REPLAY_QUANTILES, replay

FIRST = "2024-06-12"
KEYS = ("gross_margin", "waste_pct", "units_wasted", "fill_rate", "markdown_spend", "label_changes", "total_cost")


@pytest.fixture(scope="module")
def setup():
    panel = load_history(sample_path())
    first = day_number(FIRST)
    history = panel.until(first - 1)
    model = DailyForecaster(quantiles=REPLAY_QUANTILES, n_estimators=30, seed=0).fit(history)
    response = PriceResponse(min_support_days=50, min_support_products=3).fit(history)
    return panel, first, model, response


def run(setup, scale=1.0, hour=EVENING_HOUR):
    panel, first, model, response = setup
    return replay(panel, first, model, policies=[Optimizer()], baselines=False, hindsight=False, log=False,
                  markdowns=True, response_scale=scale, response=response, evening_hour=hour)  # fmt: skip


@pytest.fixture(scope="module")
def result(setup):
    return run(setup)


def test_every_markdown_policy_reported_and_units_conserved(result):
    md = result.markdowns
    assert set(md) == set(MARKDOWN_POLICIES)
    for name, row in md.items():
        assert all(np.isfinite(row[k]) for k in KEYS), name
        balance = row["units_received"] - row["units_sold"] - row["units_wasted"] - row["units_ending_stock"]
        assert abs(balance) < 1e-6 * row["units_received"], name
        assert abs(row["units_demanded"] - row["units_sold"] - row["units_lost"]) < 1e-6 * row["units_demanded"]
    assert md["no_markdown"]["markdown_spend"] == 0 and md["no_markdown"]["label_changes"] == 0
    assert md["last_day_30"]["markdown_spend"] > 0 and md["ladder_30_60"]["label_changes"] > 0


def test_no_markdown_replays_the_orders_exactly(result):
    plain, md = result.summary["optimizer"], result.markdowns["no_markdown"]
    for k in ("units_sold", "units_wasted", "units_lost", "units_received"):
        assert md[k] == pytest.approx(plain[k], rel=1e-9), k


def test_markdowns_lower_waste_and_hindsight_earns_most(result):
    md = result.markdowns
    assert md["hindsight"]["units_wasted"] < md["no_markdown"]["units_wasted"]
    assert md["optimizer"]["units_wasted"] <= md["no_markdown"]["units_wasted"]
    assert md["hindsight"]["gross_margin"] >= max(md[p]["gross_margin"] for p in MARKDOWN_POLICIES if p != "hindsight")


def test_a_stronger_simulated_response_makes_the_rules_sell_more(setup, result):
    stronger = run(setup, 1.5).markdowns
    for rule in ("last_day_30", "ladder_30_60"):
        assert stronger[rule]["units_demanded"] > result.markdowns[rule]["units_demanded"]
    assert stronger["no_markdown"]["units_demanded"] == pytest.approx(result.markdowns["no_markdown"]["units_demanded"])


def test_an_earlier_evening_hour_marks_down_more_of_the_day(setup, result):
    earlier = run(setup, hour=15).markdowns
    # the ladder's 60% step then prices more of the last day's demand: more units demanded
    assert earlier["ladder_30_60"]["units_demanded"] > result.markdowns["ladder_30_60"]["units_demanded"]
    for rule in ("no_markdown", "last_day_30"):  # no evening step: the same prices (rounding may move a case)
        assert earlier[rule]["units_demanded"] == pytest.approx(result.markdowns[rule]["units_demanded"], rel=1e-3)


def test_rules():
    on_hand = np.array([[1.0, 0, 0], [0, 2.0, 0], [0, 0, 3.0]])
    day, evening = rule_depths("ladder_30_60", on_hand)
    assert list(day) == [0.3, 0.3, 0.0] and evening[0] == 0.6 and np.isnan(evening[1:]).all()
    day, evening = rule_depths("last_day_30", on_hand)
    assert list(day) == [0.3, 0.0, 0.0] and np.isnan(evening).all()


@pytest.mark.parametrize("hour", [EVENING_HOUR, 15])
def test_the_simulator_splits_each_day_as_its_hours_sold(setup, hour):
    """Demand before and after the evening hour follows the replayed day's own hours, not the
    line's usual profile (which would tell the optimizer the rest of the day from its morning)."""
    from freshcast.features.latent import demand_hours
    from freshcast.forecast.hourly import demand_profile
    from freshcast.simulate.replay import price_world

    panel, first, _, response = setup
    history = panel.until(first - 1)
    T = panel.last_day - first + 1
    world = price_world(panel, first, history, 1.0, response, evening_hour=hour)
    assert world.evening_share == pytest.approx(demand_profile(history)[:, hour:].sum(axis=1))
    hours = demand_hours(panel, 1.0)[panel.positions(first)[:, None] + np.arange(T)].astype(np.float64)
    total = hours.sum(axis=2)
    sold = total > 0
    expected = hours[:, :, hour:].sum(axis=2)[sold] / total[sold]
    assert world.day_share[sold] == pytest.approx(expected)
    assert np.all(world.day_share[~sold] == np.broadcast_to(world.evening_share[:, None], total.shape)[~sold])
    spread = world.day_share[sold] - np.broadcast_to(world.evening_share[:, None], total.shape)[sold]
    assert np.abs(spread).mean() > 0.02  # days differ from the usual share


def test_replay_cli_markdowns(tmp_path):
    import pandas as pd

    df = pd.read_parquet(sample_path())
    cut = pd.Timestamp("2024-06-15").date()
    df[df.dt <= cut].to_parquet(tmp_path / "h.parquet")
    df[df.dt > cut].to_parquet(tmp_path / "a.parquet")
    out = tmp_path / "r"
    files = ["--history", str(tmp_path / "h.parquet"), "--actuals", str(tmp_path / "a.parquet")]
    res = CliRunner().invoke(app, ["replay", *files, "--out", str(out), "--markdowns", "--response-scale", "1.5",
                                   "--evening-hour", "17"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["markdown_policies"]) == set(MARKDOWN_POLICIES)
    assert all(k in row for row in summary["markdown_policies"].values() for k in KEYS)
    assert summary["response_scale"] == 1.5 and "own hours" in summary["markdown_day_split"]
    assert summary["markdown_evening_hour"] == 17
    alone = CliRunner().invoke(app, ["replay", *files, "--out", str(tmp_path / "r2"), "--evening-hour", "17"])
    assert alone.exit_code != 0 and "--markdowns" in alone.output and not (tmp_path / "r2").exists()


def test_orders_that_count_on_markdowns_order_more_and_conserve_units(setup, result):
    from freshcast.simulate.replay import _run_markdowns, price_world
    from freshcast.simulate.scoring import served_demand
    from freshcast.optimize.master import assume_master_data

    panel, first, model, response = setup
    history = panel.until(first - 1)
    T = panel.last_day - first + 1
    forecasts = model.predict_each_day(panel, first, T)
    master, demand = assume_master_data(history), served_demand(panel, first, "recovered")
    world = price_world(panel, first, history, 1.0, response)
    args = (panel, first, demand, master, Optimizer(), forecasts, world, None)
    plain, joint = _run_markdowns(*args), _run_markdowns(*args, joint_orders=True)
    assert joint["optimizer"]["units_received"] > plain["optimizer"]["units_received"]
    for name in ("no_markdown", "last_day_30", "ladder_30_60"):  # the sticker rules keep the plain orders
        assert joint[name] == plain[name], name
    for row in joint.values():
        balance = row["units_received"] - row["units_sold"] - row["units_wasted"] - row["units_ending_stock"]
        assert abs(balance) < 1e-6 * row["units_received"]


def test_a_history_without_discounts_is_refused_before_the_forecaster_trains(setup):
    from dataclasses import replace

    from freshcast.errors import FreshcastError

    panel, first, _, _ = setup
    bare = replace(panel, covariates={k: v for k, v in panel.covariates.items() if k != "discount"})
    model = DailyForecaster(quantiles=REPLAY_QUANTILES, n_estimators=5)
    with pytest.raises(FreshcastError, match="needs the column 'discount'"):
        replay(bare, first, model, policies=[Optimizer()], baselines=False, hindsight=False, markdowns=True)
    assert not hasattr(model, "booster_")  # said at once, not after training
