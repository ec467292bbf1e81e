"""freshcast on Dask (`--scheduler`): a LocalCluster of worker processes on the embedded sample.
One worker gives the local path's forecasts to the bit; two workers, each training on its own
stores' rows, forecast as well as one machine; bad input found on a worker is the same
one-line error; without a scheduler Dask is not imported."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")  # the [dask] extra is part of [test]: CI always runs these

from conftest import split_sample  # noqa: E402
from distributed import WorkerPlugin  # noqa: E402

from freshcast.cluster.backtest import backtest_on_dask  # noqa: E402
from freshcast.cluster.connect import connected  # noqa: E402
from freshcast.cluster.price_response import chain_response_panel  # noqa: E402
from freshcast.cluster.replay import replay_on_dask  # noqa: E402
from freshcast.data import load_history, load_history_with_actuals, sample_path  # noqa: E402
from freshcast.cluster.forecast import forecast_on_dask, load_partitions  # noqa: E402
from freshcast.data.partitions import store_partitions  # noqa: E402
from freshcast.errors import DataError, FreshcastError, one_line  # noqa: E402
from freshcast.forecast.job import backtest_history, forecast_table, forecaster  # noqa: E402
from freshcast.forecast.metrics import wape  # noqa: E402
from freshcast.forecast.price_response import PriceResponse, validate_response  # noqa: E402
from freshcast.simulate.markdowns import MARKDOWN_POLICIES  # noqa: E402
from freshcast.simulate.replay import absent_note, absent_series, replay, replay_forecaster, replay_to_folder  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def short_network_timeout(monkeypatch):
    """A LightGBM rank that cannot connect fails the test within a minute instead of hanging."""
    from freshcast.cluster import trainer

    monkeypatch.setattr(trainer, "NETWORK_TIMEOUT_MINUTES", 1)


@pytest.fixture(scope="module")
def two_workers():
    with connected("local:2") as client:
        yield client


@pytest.fixture(scope="module")
def one_worker():
    with connected("local:1") as client:
        yield client


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    frame = split_sample(tmp)
    return tmp / "history.parquet", tmp / "future.parquet", frame


def _on_dask(client, files, **kw):
    history, future, _ = files
    return forecast_on_dask(client, history, future, lambda days: forecaster(days, **kw))


def test_one_worker_forecasts_what_one_machine_does(files, one_worker):
    local, model = forecast_table(files[0], files[1])
    dask, fitted = _on_dask(one_worker, files)
    pd.testing.assert_frame_equal(dask, local)
    assert fitted.n_train_rows_ == model.n_train_rows_ and fitted.trained_range_ == model.trained_range_
    assert fitted.notes_ == model.notes_ == []


def test_models_per_group_train_on_dask_as_on_one_machine(files, one_worker, two_workers):
    """group_models: each group's models train over every worker's rows of the group (one
    worker: the local models, to the bit); a history without the attribute gets the same note."""
    params = {"group_models": "management_group_id", "min_child_samples": 20, "calibration_series": 100,
              "n_estimators": 40, "learning_rate": 0.3}  # fewer trees: each is a round of messages between the workers
    local, model = forecast_table(files[0], files[1], params=params)
    dask, fitted = _on_dask(one_worker, files, params=params)
    pd.testing.assert_frame_equal(dask, local)
    assert len(model.group_boosters_) >= 2 and fitted.group_boosters_.keys() == model.group_boosters_.keys()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        spread, fitted = _on_dask(two_workers, files, params=params)
    assert not [w for w in seen if "large graph" in str(w.message)]  # the model sent to the workers is ours to send
    assert fitted.group_boosters_.keys() == model.group_boosters_.keys()
    assert all(b is not None for pair in fitted.group_boosters_.values() for b in pair)
    _, chain = _on_dask(two_workers, files, params={k: v for k, v in params.items() if k != "group_models"})
    assert chain.group_boosters_ == {}
    keys = ["store_id", "product_id", "dt"]
    pd.testing.assert_frame_equal(spread[keys], local[keys])
    frame = files[2]
    actual = frame.assign(dt=pd.to_datetime(frame.dt)).groupby(keys)["hourly_sale"].sum()
    truth = actual.reindex(pd.MultiIndex.from_frame(local[keys].assign(dt=pd.to_datetime(local.dt)))).to_numpy()
    assert abs(wape(truth, spread["yhat"].to_numpy()) - wape(truth, local["yhat"].to_numpy())) < 0.02
    # a group whose series are all in the first store (the first worker's) trains there alone
    history, future = pd.read_parquet(files[0]), pd.read_parquet(files[1])
    elsewhere = lambda df: (df.management_group_id == 5) & (df.store_id > history.store_id.min())  # noqa: E731
    one_part = (files[0].parent / "one_part_history.parquet", files[0].parent / "one_part_future.parquet")
    history[~elsewhere(history)].to_parquet(one_part[0])
    future[~elsewhere(future)].to_parquet(one_part[1])
    (_, hi), _ = store_partitions(one_part[0], 2)
    kept = history[~elsewhere(history)]
    assert elsewhere(history).any() and set(kept.store_id[kept.management_group_id == 5]) <= set(range(hi + 1))
    _, fitted = _on_dask(two_workers, (*one_part, None), params=params)
    assert 5 in fitted.group_boosters_ and fitted.group_boosters_.keys() == model.group_boosters_.keys()
    bare = files[0].parent / "bare.parquet"
    history.drop(columns="management_group_id").to_parquet(bare)
    _, told = _on_dask(one_worker, (bare, files[1], None), params=params)
    assert told.group_boosters_ == {} and any("has no column 'management_group_id'" in n for n in told.notes_)


def test_a_model_that_learned_nothing_on_dask_says_so_as_on_one_machine(files, one_worker):
    """The note of `DailyForecaster.notes_` comes from the same function on both paths."""
    params = {"min_child_samples": 10**6}
    _, model = forecast_table(files[0], files[1], params=params)
    _, fitted = _on_dask(one_worker, files, params=params)
    assert len(fitted.notes_) == 1 and "nothing to split on" in fitted.notes_[0]
    assert fitted.notes_ == model.notes_


def test_two_workers_forecast_as_well_as_one_machine(files, two_workers):
    sample = {"calibration_series": 100}  # the quantiles of a chain this big are calibrated on a sample of its series
    local, model = forecast_table(files[0], files[1], params=sample)
    dask, fitted = _on_dask(two_workers, files, params=sample)
    # both pick the same series: the workers' held-out days are the one machine's
    held, held_local = fitted.calibrator_.holdout_, model.calibrator_.holdout_
    assert 50 < len(held.actual) < model.history_.n_series
    np.testing.assert_array_equal(held.actual, held_local.actual)
    np.testing.assert_array_equal(held.stockout, held_local.stockout)
    keys = ["store_id", "product_id", "dt"]
    pd.testing.assert_frame_equal(dask[keys], local[keys])
    assert not np.array_equal(dask["yhat"], local["yhat"])  # each worker drew its own rows' horizons
    frame = files[2]
    actual = frame.assign(dt=pd.to_datetime(frame.dt)).groupby(keys)["hourly_sale"].sum()
    truth = actual.reindex(pd.MultiIndex.from_frame(local[keys].assign(dt=pd.to_datetime(local.dt)))).to_numpy()
    assert abs(wape(truth, dask["yhat"].to_numpy()) - wape(truth, local["yhat"].to_numpy())) < 0.02
    # the quantiles are calibrated over both workers' held-out days: still ordered, still spread
    assert (dask["q10"] <= dask["q50"]).all() and (dask["q50"] <= dask["q90"]).all()
    assert (dask["q90"] > dask["q10"]).mean() > 0.9


def test_ids_too_large_for_float32_are_told_apart_on_the_cluster_too(files, one_worker, two_workers, tmp_path):
    """Product ids of 40,000,000 and more (float32, the feature matrix, cannot hold every one)
    are read by their position among the chain's ids: on two workers the position table is the
    whole chain's, and one worker forecasts what one machine does."""
    for name in ("history", "future"):
        frame = pd.read_parquet(files[0 if name == "history" else 1])
        frame.assign(product_id=frame.product_id.astype("int64") + 40_000_000).to_parquet(tmp_path / f"{name}.parquet")
    large = (tmp_path / "history.parquet", tmp_path / "future.parquet", None)
    local, model = forecast_table(large[0], large[1], quantiles=())
    products = model.features_.categories["product_id"]
    assert len(products) == model.history_.series.product_id.nunique() and list(model.features_.categories) == ["product_id"]
    dask, _ = _on_dask(one_worker, large, quantiles=())
    pd.testing.assert_frame_equal(dask, local)
    parts = store_partitions(large[0], 2, None)
    _, facts = load_partitions(two_workers, str(large[0]), None, parts)
    np.testing.assert_array_equal(facts["features"](model).categories["product_id"], products)


def test_a_partition_with_none_of_the_calibration_sample_sits_the_calibration_out(files, two_workers, tmp_path):
    """The first stores keep only series a sample of 45% leaves out, so the first partition
    holds none of the calibration's sample: the other partition's series alone calibrate, the
    ones a single machine picks."""
    from freshcast.forecast.calibrator import calibration_sample

    frame = pd.read_parquet(files[0])
    panel = load_history(files[0])
    ids = panel.series[["store_id", "product_id"]]
    unpicked = ids[~calibration_sample(panel.ids(), 0.5)]
    stores = np.sort(ids.store_id.unique())
    first = frame.store_id.isin(stores[:-1])
    kept = frame.merge(unpicked, on=["store_id", "product_id"]).loc[lambda f: f.store_id.isin(stores[:-1])]
    history, future = tmp_path / "history.parquet", tmp_path / "future.parquet"
    chain = pd.concat([kept, frame[~first]])
    chain.to_parquet(history)
    pd.read_parquet(files[1]).merge(chain[["store_id", "product_id"]].drop_duplicates()).to_parquet(future)
    parts = store_partitions(history, 2)
    assert len(parts) == 2 and parts[0][1] < stores[-1]  # the last store, whole, is in the second partition
    chain_panel = load_history(history)
    sample = {"calibration_series": int(0.45 * chain_panel.n_series)}
    picked = calibration_sample(chain_panel.ids(), sample["calibration_series"] / chain_panel.n_series)
    in_first = chain_panel.series.store_id.to_numpy() <= parts[0][1]
    assert in_first.any() and not (picked & in_first).any() and picked.sum() >= 5
    local, model = forecast_table(history, future, params=sample)
    dask, fitted = forecast_on_dask(two_workers, history, future, lambda days: forecaster(days, params=sample))
    held, held_local = fitted.calibrator_.holdout_, model.calibrator_.holdout_
    assert 0 < len(held.actual) == len(held_local.actual)
    np.testing.assert_array_equal(held.actual, held_local.actual)
    assert (dask["q90"] > dask["q10"]).mean() > 0.9


def test_the_api_runs_on_dask_too(files):
    from freshcast import api

    local = api.forecast(files[0], files[1], quantiles=())
    pd.testing.assert_frame_equal(api.forecast(files[0], files[1], quantiles=(), scheduler="local:1"), local)


BACKTEST = {"n_estimators": 20, "seed": 0}


def test_the_backtest_on_one_worker_is_the_local_backtest(files, one_worker):
    from freshcast import api

    local = api.backtest(files[0], folds=2, params={"n_estimators": 20})
    dask = backtest_on_dask(one_worker, files[0], 2, 7, BACKTEST)
    for got, want in zip(dask, local):  # scores, then forecasts
        pd.testing.assert_frame_equal(got, want)


def test_the_backtest_on_two_workers_scores_the_same_rows(files, two_workers):
    local, rows = backtest_history(files[0], 2, 7, BACKTEST)
    dask, dask_rows = backtest_on_dask(two_workers, files[0], 2, 7, BACKTEST)
    keys = ["fold", "store_id", "product_id", "dt", "actual", "in_stock", "seasonal_naive", "moving_average"]
    pd.testing.assert_frame_equal(dask_rows[keys], rows[keys])
    # the baselines' scores (MASE too: each fold's series scales) come out the same; freshcast's are close
    base = local["method"] != "freshcast"
    pd.testing.assert_frame_equal(dask[base].dropna(axis=1), local[base].dropna(axis=1))
    assert not np.array_equal(dask_rows["yhat"], rows["yhat"])
    own = local["method"] == "freshcast"
    np.testing.assert_allclose(dask.loc[own, "wape"], local.loc[own, "wape"], atol=0.03)


class DiesOnce(WorkerPlugin):
    """A Dask worker plugin: the first worker to start a task whose key begins with one of
    `prefixes` dies there and then (as under kill -9), once per prefix (marker files in `folder`)."""

    def __init__(self, prefixes: tuple[str, ...], folder: str):
        self.prefixes, self.folder = prefixes, folder

    def transition(self, key, start, finish, **kwargs):
        name = str(key[0] if isinstance(key, tuple) else key)
        for prefix in self.prefixes:
            if finish == "executing" and name.startswith(prefix):
                try:
                    os.close(os.open(os.path.join(self.folder, prefix), os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    continue
                os._exit(9)


@pytest.fixture(scope="module")
def replay_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    df = pd.read_parquet(sample_path())
    cut = pd.Timestamp("2024-06-14").date()
    df[df.dt <= cut].to_parquet(tmp / "history.parquet")
    df[df.dt > cut].to_parquet(tmp / "actuals.parquet")
    return tmp / "history.parquet", tmp / "actuals.parquet"


REPLAY = {"n_estimators": 20, "feature_recovery": 0.25}  # features on less of the demand than the target: the Dask path too


def test_the_replay_on_one_worker_is_the_local_replay(replay_files, one_worker, tmp_path):
    told, told_dask = [], []
    local = replay_to_folder(*replay_files, tmp_path / "local", params=REPLAY, progress=told.append)
    dask, about = replay_on_dask(one_worker, *replay_files, params=REPLAY, progress=told_dask.append)
    assert dask.summary == local.summary and dask.baselines_chosen == local.baselines_chosen
    assumed = [line for line in told if line.startswith("ASSUMED master data")]
    assert len(assumed) == 1 and assumed == [line for line in told_dask if line.startswith("ASSUMED")]
    pd.testing.assert_frame_equal(dask.log, local.log)
    summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert {k: summary[k] for k in about} == json.loads(json.dumps(about))


def test_the_markdown_replay_on_one_worker_is_the_local_one(replay_files, one_worker, tmp_path):
    local = replay_to_folder(*replay_files, tmp_path / "local", params=REPLAY, markdowns=True, response_scale=0.5,
                             evening_hour=17)  # fmt: skip
    dask, about = replay_on_dask(one_worker, *replay_files, params=REPLAY, markdowns=True, response_scale=0.5,
                                 evening_hour=17)  # fmt: skip
    assert set(dask.markdowns) == set(MARKDOWN_POLICIES) and dask.markdowns == local.markdowns
    assert dask.summary == local.summary
    summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert {k: summary[k] for k in about} == json.loads(json.dumps(about)) and about["response_scale"] == 0.5
    assert about["markdown_evening_hour"] == 17


def test_the_price_response_on_two_workers_is_the_one_machines(replay_files, two_workers):
    chain = chain_response_panel(two_workers, replay_files[0])
    whole = load_history(replay_files[0])
    assert chain.n_series == whole.n_series and not chain.hourly
    local, dask = PriceResponse().fit(whole), PriceResponse().fit(chain)
    pd.testing.assert_frame_equal(dask.table_, local.table_, rtol=1e-9)
    pd.testing.assert_series_equal(dask.level_, local.level_, rtol=1e-9)
    (_, by_depth, totals), (_, by_depth_local, totals_local) = validate_response(chain), validate_response(whole)
    pd.testing.assert_frame_equal(by_depth, by_depth_local, rtol=1e-9)
    assert totals == pytest.approx(totals_local, rel=1e-9)


def test_a_markdown_replay_without_discounts_is_refused_before_training(replay_files, two_workers, tmp_path):
    bare = [tmp_path / f"{name}.parquet" for name in ("history", "actuals")]
    for source, target in zip(replay_files, bare):
        pd.read_parquet(source).drop(columns=["discount"]).to_parquet(target)
    told = []
    with pytest.raises(FreshcastError, match="history.parquet \\+ .*actuals.parquet: the price response needs"):
        replay_on_dask(two_workers, *bare, params=REPLAY, markdowns=True, progress=told.append)
    assert not [line for line in told if "training" in line]


def test_the_replay_on_two_workers_adds_up_the_chain(replay_files, two_workers, tmp_path):
    history, actuals = replay_files  # without the actual rows of a series of each partition's ...
    act = pd.read_parquet(actuals)
    stores = np.sort(act.store_id.unique())
    gone = act[act.store_id.isin([stores[0], stores[-1]])].drop_duplicates("store_id")[["store_id", "product_id"]]
    act.merge(gone, how="left", indicator=True).query("_merge == 'left_only'").drop(columns="_merge").to_parquet(
        tmp_path / "actuals.parquet")  # fmt: skip
    files = history, tmp_path / "actuals.parquet"
    one, about = replay_on_dask(two_workers, *files, params=REPLAY, markdowns=True)
    panel, first = load_history_with_actuals(*files)
    local = replay(panel, first, replay_forecaster("recovered", REPLAY, 0), markdowns=True)
    # ... replayed with zero demand and counted as on one machine
    assert about["notes"] == absent_note(str(files[1]), [absent_series(panel, first)])
    assert about["notes"][0].startswith(f"{files[1]}: 2 series of the history have no row here")
    assert set(one.summary) == set(local.summary)
    for name, chosen in local.baselines_chosen.items():  # the same settings, from the same costs (added in another order)
        if isinstance(chosen, dict):
            costs = chosen.pop("total_cost_by_setting")
            np.testing.assert_allclose(list(one.baselines_chosen[name].pop("total_cost_by_setting").values()),
                                       list(costs.values()), rtol=1e-12)  # fmt: skip
    assert one.baselines_chosen == local.baselines_chosen
    # the policies that do not forecast, and the demand every policy serves, come out the same
    for name, row in local.summary.items():
        np.testing.assert_allclose(one.summary[name]["units_demanded"], row["units_demanded"], rtol=1e-12)
        if "forecast" not in name and "optimizer" not in name:
            for key in ("total_cost", "fill_rate", "waste_pct", "units_wasted", "units_lost", "gross_margin",
                        "ending_stock_value", "average_stock"):  # fmt: skip
                np.testing.assert_allclose(one.summary[name][key], row[key], rtol=1e-9, err_msg=f"{name} {key}")
    same = ~local.log["policy"].str.contains("forecast|optimizer").to_numpy()
    pd.testing.assert_frame_equal(one.log[same].reset_index(drop=True), local.log[same].reset_index(drop=True))
    assert abs(one.summary["optimizer"]["total_cost"] / local.summary["optimizer"]["total_cost"] - 1) < 0.05
    # markdowns: the chain's price response, each partition's lines priced, the totals added up
    for key in ("units_demanded", "label_changes", "markdown_spend"):  # what the orders do not move
        np.testing.assert_allclose(one.markdowns["no_markdown"][key], local.markdowns["no_markdown"][key], rtol=1e-9)
    for name, row in local.markdowns.items():
        assert abs(one.markdowns[name]["gross_margin"] / row["gross_margin"] - 1) < 0.05, name
        assert one.markdowns[name]["waste_pct"] == pytest.approx(
            100 * one.markdowns[name]["units_wasted"] / one.markdowns[name]["units_received"])


def test_the_nightly_run_on_one_worker_writes_what_the_local_run_does(tmp_path):
    from freshcast import api
    from freshcast.nightly.example import write_example

    runs = {}
    for name, scheduler in (("local", None), ("dask", "local:1")):
        config, _ = write_example(tmp_path / name / "freshcast.toml")
        if scheduler:
            config.write_text(config.read_text().replace('# scheduler = "local:4"', f'scheduler = "{scheduler}"', 1))
        runs[name] = api.run(config)
    local, dask = runs["local"].folder, runs["dask"].folder
    for table in ("validate/future.parquet", "forecast/forecast.parquet", "orders/po_lines.csv"):
        read = pd.read_csv if table.endswith(".csv") else pd.read_parquet
        pd.testing.assert_frame_equal(read(dask / table), read(local / table))
    about = [json.loads((f / "validate" / "summary.json").read_text())["history"] for f in (local, dask)]
    assert {k: v for k, v in about[0].items() if k != "sha256"} == {k: v for k, v in about[1].items() if k != "sha256"}
    manifest = json.loads((dask / "manifest.json").read_text())
    assert all(manifest["stages"][s]["status"] == "done" for s in ("validate", "model", "forecast", "orders"))
    from freshcast.errors import ConfigError, StageFailed
    from freshcast.nightly.config import load_config

    config = tmp_path / "dask" / "freshcast.toml"  # GS1 codes: the workers' store ids checked as the local run's
    config.write_text(config.read_text().replace('edi_codes = "own"', 'edi_codes = "gs1"').replace(
        'buyer_id = "FRESHCAST"', 'buyer_id = "5412345000013"'))  # fmt: skip
    with pytest.raises(StageFailed, match=r"stage validate failed: .*: store_id '\d+' is not a GLN \(13 digits;"):
        api.run(config)
    config.write_text(config.read_text().replace('scheduler = "local:1"', 'scheduler = "spark://host:7077"'))
    with pytest.raises(ConfigError, match=r"\[run\] scheduler: scheduler must be local:N or tcp://HOST:PORT"):
        load_config(config)


KILLED_IN = ("_training_rows", "_train_rank", "forecast_part")  # features, LightGBM's ranks, forecasts


SLOW_START = """
import os, time

def dask_setup(worker):
    if os.path.exists(os.environ["FRESHCAST_TEST_SLOW_START"]):  # the restarted worker: 20 s to come back
        os.remove(os.environ["FRESHCAST_TEST_SLOW_START"])
        time.sleep(20)
"""


@pytest.mark.slow
def test_a_local_worker_slow_to_restart_is_waited_for(tmp_path, monkeypatch):
    """Dask's local cluster closed the nanny of a worker not back within 15 s; a training that
    lost a worker on a busy machine then waited for one that never came."""
    import dask

    from freshcast.cluster.connect import workers

    (tmp_path / "slow_start.py").write_text(SLOW_START)
    marker = tmp_path / "restarting"
    monkeypatch.setenv("FRESHCAST_TEST_SLOW_START", str(marker))
    with dask.config.set({"distributed.worker.preload": [str(tmp_path / "slow_start.py")]}), \
            connected("local:1") as client:  # fmt: skip
        first = workers(client, 1, timeout=60)
        marker.write_text("")
        (pid,) = client.run(os.getpid).values()
        os.kill(pid, signal.SIGKILL)
        gone = time.monotonic() + 60
        while first == sorted(client.sync(client.scheduler.identity, n_workers=-1)["workers"]):
            assert time.monotonic() < gone, "the scheduler never saw the worker go"
            time.sleep(0.1)
        again = workers(client, 1, timeout=90)  # back after 20 s and more
        assert again != first and not marker.exists()


def test_workers_killed_mid_task_give_the_same_forecast(files, two_workers, tmp_path):
    undisturbed, _ = _on_dask(two_workers, files, quantiles=())
    with connected("local:2") as client:
        client.register_plugin(DiesOnce(KILLED_IN, str(tmp_path)))
        dask, _ = _on_dask(client, files, quantiles=())
    assert sorted(os.listdir(tmp_path)) == sorted(KILLED_IN)  # a worker died in each
    pd.testing.assert_frame_equal(dask, undisturbed)


def test_hour_forecasts_add_up_to_the_days(files, two_workers):
    hours, _ = _on_dask_level(two_workers, files, "hour")
    days, _ = _on_dask(two_workers, files, quantiles=())
    summed = hours.groupby(["store_id", "product_id", "dt"], sort=False)["yhat"].sum().to_numpy()
    np.testing.assert_allclose(summed, days["yhat"].to_numpy(), rtol=1e-5, atol=1e-6)


def _on_dask_level(client, files, level):
    history, future, _ = files
    return forecast_on_dask(client, history, future, lambda days: forecaster(days, quantiles=()), level=level)


def test_bad_input_on_a_worker_is_the_same_one_line_error(files, two_workers, tmp_path):
    frame = pd.read_parquet(files[0])
    last_store = frame.store_id.max()  # found by the second partition's worker
    frame.loc[frame.index[frame.store_id == last_store][:3], "hourly_sale"] = -1.0
    bad = tmp_path / "bad.parquet"
    frame.to_parquet(bad)
    local, dask = _errors(two_workers, bad, files[1])
    assert dask == local and "hourly_sale" in dask
    frame = pd.read_parquet(files[0]).astype({"store_id": "Int64"})
    frame.loc[frame.index[-2:], "store_id"] = pd.NA  # rows of no store: no partition may drop them
    frame.to_parquet(bad)
    local, dask = _errors(two_workers, bad, files[1])
    assert dask == local and "empty" in dask


def _errors(client, history, future) -> tuple[str, str]:
    """The one-line errors of one machine and of the cluster on the same files."""
    with pytest.raises(DataError) as local:
        forecast_table(history, future)
    with pytest.raises(DataError) as dask:
        forecast_on_dask(client, history, future, lambda days: forecaster(days))
    return one_line(local.value), one_line(dask.value)


def test_future_stores_not_in_the_history_are_refused(files, two_workers, tmp_path):
    future = pd.read_parquet(files[1])
    future.loc[future.index[:24], "store_id"] = 99999
    path = tmp_path / "future.parquet"
    future.to_parquet(path)
    with pytest.raises(FreshcastError, match="store_id=99999"):
        forecast_on_dask(two_workers, files[0], path, lambda days: forecaster(days))


def test_stores_with_fewer_future_days_are_refused(files, two_workers, tmp_path):
    future = pd.read_parquet(files[1])
    last = future.dt.max()
    lo, hi = store_partitions(files[0], 2)[-1]  # the second worker's stores all lack the last day
    future = future[~(future.store_id.between(lo, hi) & (future.dt == last))]
    path = tmp_path / "future.parquet"
    future.to_parquet(path)
    with pytest.raises(FreshcastError, match="every series needs the same days") as dask:
        forecast_on_dask(two_workers, files[0], path, lambda days: forecaster(days))
    with pytest.raises(FreshcastError, match="missing from the future covariates"):
        forecast_table(files[0], path)  # one machine refuses it too
    assert f"store ids {lo}..{hi}" in str(dask.value)


def test_the_cluster_needs_paths_and_a_known_scheduler(files, two_workers):
    with pytest.raises(FreshcastError, match="path every worker can read"):
        forecast_on_dask(two_workers, pd.read_parquet(files[0]), files[1], lambda days: forecaster(days))
    for name in ("local:0", "local:x", "spark://host:7077", "tcp://host", "tcp://host:port"):
        with pytest.raises(FreshcastError, match="scheduler"):
            with connected(name):
                pass


def test_the_command_line_runs_on_dask_and_the_local_path_does_not_import_it(files, replay_files, tmp_path):
    out = tmp_path / "pred.parquet"
    light = tmp_path / "light.toml"  # fewer trees: each is a round of messages between the workers
    light.write_text("[forecaster]\nn_estimators = 40\nlearning_rate = 0.3\n")
    cmd = [sys.executable, "-m", "freshcast.cli", "forecast", "--history", str(files[0]), "--future", str(files[1]),
           "--out", str(out), "--quantiles", "none", "--scheduler", "local:2", "--params", str(light)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_parquet(out).columns) == ["store_id", "product_id", "dt", "yhat"]
    parts = tmp_path / "parts"  # a name without suffix: each worker writes its part of the dataset
    done = subprocess.run(cmd[:9] + [str(parts)] + cmd[10:], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(f.name for f in parts.iterdir()) == [".freshcast-output", "part-00000.parquet", "part-00001.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(parts), pd.read_parquet(out))
    csv = tmp_path / "pred.csv"  # one file joined from the workers' parts, one part at a time
    done = subprocess.run(cmd[:9] + [str(csv)] + cmd[10:], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    joined = pd.read_csv(csv)
    assert list(joined.columns) == ["store_id", "product_id", "dt", "yhat"] and len(joined) == len(pd.read_parquet(out))
    np.testing.assert_allclose(joined["yhat"], pd.read_parquet(out)["yhat"], rtol=1e-6)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".pred")]  # no staging left
    bad = subprocess.run(cmd[:-3] + ["nowhere:1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "tcp://HOST:PORT" in bad.stderr  # a usage error
    scores = tmp_path / "scores.csv"
    backtest = [sys.executable, "-m", "freshcast.cli", "backtest", "--history", str(files[0]), "--folds", "1",
                "--out", str(scores), "--scheduler", "local:2", "--params", str(light)]  # fmt: skip
    done = subprocess.run(backtest, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert set(pd.read_csv(scores)["method"]) == {"freshcast", "seasonal_naive", "moving_average"}
    assert "LightGBM" not in done.stdout and done.stdout.lstrip().startswith("method")  # the table alone
    bad = pd.read_parquet(files[0])
    bad.loc[bad.index[-3:], "hourly_sale"] = -1.0
    bad.to_parquet(tmp_path / "bad.parquet")
    done = subprocess.run(backtest[:5] + [str(tmp_path / "bad.parquet")] + backtest[6:], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 1 and "hourly_sale" in done.stderr
    assert [line for line in done.stderr.splitlines() if not line.startswith("[freshcast]")] == [
        next(line for line in done.stderr.splitlines() if line.startswith("error:"))]  # no Dask log, one line
    replay = [sys.executable, "-m", "freshcast.cli", "replay", "--history", str(replay_files[0]), "--actuals",
              str(replay_files[1]), "--out", str(tmp_path / "replay"), "--scheduler", "local:2",
              "--params", str(light), "--markdowns", "--response-scale", "1.5"]  # fmt: skip
    done = subprocess.run(replay, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "replay" / "summary.json").read_text())
    assert summary["demand"] == "recovered" and {"optimizer", "hindsight"} <= set(summary["policies"])
    assert set(summary["markdown_policies"]) == set(MARKDOWN_POLICIES) and summary["response_scale"] == 1.5
    assert "estimating the price response on the history" in done.stderr
    priced = [sys.executable, "-m", "freshcast.cli", "price-response", "--history", str(replay_files[0]), "--out",
              str(tmp_path / "response"), "--scheduler", "local:2"]  # fmt: skip
    done = subprocess.run(priced, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "response" / "summary.json").read_text())["series"] == load_history(
        replay_files[0]).n_series and "by store" in done.stderr  # fmt: skip
    code = ("import sys; from freshcast.forecast.job import forecast_table; "
            f"forecast_table({str(files[0])!r}, {str(files[1])!r}, quantiles=()); "
            "print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_partition_rows_become_relative_once_and_in_place():
    """A worker holds one copy of its partition's matrix: the relative model's rows are the
    units model's, divided by each row's level in place; a task run again (Dask recomputing a
    lost result) finds them done instead of dividing twice, and the units model refuses them."""
    from freshcast.cluster.forecast import PartitionRows, _relative, _units
    from freshcast.features import DailyFeatures
    from freshcast.forecast.daily import DailyForecaster

    panel = load_history(sample_path())
    model = DailyForecaster()
    features = DailyFeatures.for_history(panel, model.spec, model.max_horizon)
    rows = features.training_rows(panel, model.min_history_days, model.seed)
    X = features.matrix(rows)
    part = PartitionRows(X, rows.demand.astype(np.float32), rows.level)
    units = _units(part)[0].copy()
    first = _relative(part, features)
    again = _relative(part, features)
    assert first[0] is X and again[0] is X  # the same matrix, not a copy
    expected = units.copy()
    features.to_relative(expected, rows.level)
    np.testing.assert_array_equal(again[0], expected)
    assert not np.array_equal(expected, units)  # some column was in units
    np.testing.assert_array_equal(again[1], (part.y / part.level).astype(np.float32))
    with pytest.raises(RuntimeError, match="units"):
        _units(part)


def test_the_ranks_get_as_many_workers_as_partitions_even_when_one_leaves_meanwhile():
    """The scheduler said two workers run, then listed one (the other left in between): the
    ranks wait for two again instead of training with too few (an IndexError before). The
    workers are asked of the scheduler, never read from the client's cached copy of its
    identity (which a refresh every few seconds leaves without workers: every rank's worker
    then seemed to have left during training)."""
    from freshcast.cluster.trainer import _rank_workers

    class Scheduler:
        lists = [{"b": {}}, {"a": {}, "b": {}, "c": {}}]

        def identity(self, n_workers):
            assert n_workers == -1  # every worker
            return {"workers": self.lists.pop(0)}

    class Client:
        scheduler = Scheduler()

        def wait_for_workers(self, n, timeout=None):
            assert timeout > 0

        def sync(self, call, **kw):
            return call(**kw)

        def scheduler_info(self):  # the client's cached copy, which its own refresh empties now and then
            return {"workers": {}}

    assert _rank_workers(Client(), 2) == ["a", "b"]


def test_partitions_filled_days_add_up_to_the_chains(sample_frame):
    """The nightly validate summary on Dask (partitions by store) says what one machine does."""
    from freshcast.cluster.nightly import _filled
    from freshcast.nightly.stages import filled_counts

    last = sample_frame.dt == sample_frame.dt.max()
    stores = sorted(sample_frame.store_id.unique())
    some = sample_frame.product_id % (2 + sample_frame.store_id % 3) == 0  # a different share of each store
    gap = last & sample_frame.store_id.isin(stores[:3]) & some
    panel = load_history(sample_frame[~gap])
    whole = filled_counts(panel)
    assert whole["filled_last_day"] == sample_frame[gap][["store_id", "product_id"]].drop_duplicates().shape[0] > 0
    store = panel.series["store_id"].to_numpy()
    parts = [panel.take(np.flatnonzero(np.isin(store, group))) for group in (stores[::2], stores[1::2])]
    assert _filled([filled_counts(p) for p in parts]) == whole
