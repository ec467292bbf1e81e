"""freshcast tune and the params files it writes: the study, its resumption, the files the
forecast, backtest, replay and nightly run read, and their checks."""

import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import unboxed
from freshcast import api
from freshcast.cli import app
from freshcast.data import load_history, sample_path
from freshcast.data.dates import day_to_date
from freshcast.errors import ConfigError, FreshcastError, RunLocked
from freshcast.forecast.params import params_text, read_params
from freshcast.forecast import DailyForecaster
from freshcast.forecast.tune import PRUNE_AFTER, default_trial, origin_wapes, scored_trial, trial_line, tune

FUTURE_DAYS = 7


@pytest.fixture(scope="module")
def panel():
    return load_history(sample_path())


@pytest.fixture(scope="module")
def tuned(panel, tmp_path_factory):
    out = tmp_path_factory.mktemp("tune")
    return tune(panel, out, trials=3, origins=2), out


def test_a_backtest_says_which_folds_the_params_were_tuned_at(panel, tuned, tmp_path):
    """The backtest's folds that end on the origins the params file was tuned at are named:
    their scores flatter the parameters (the tuning chose by them)."""
    from freshcast.forecast.backtest import folds_tuned_on
    from freshcast.forecast.params import tuned_origins

    result, out = tuned
    assert tuned_origins(out / "best_params.toml") == result.origins
    assert tuned_origins(tmp_path / "none.toml") == []
    days = [day_to_date(panel.last_day - k) for k in (20, 13, 6)]  # the first days of 3 weekly folds
    forecasts = pd.DataFrame({"fold": [1, 2, 3], "dt": days})
    assert folds_tuned_on(forecasts, result.origins) == [2, 3]
    cli = CliRunner().invoke(app, ["backtest", "--history", str(sample_path()), "--params", str(out / "best_params.toml"),
                                   "--folds", "2", "--quantiles", "none"])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert "was tuned at the origins of fold(s) 1, 2: their scores are those the tuning chose by" in cli.output


def test_tune_scores_the_last_weekly_origins_and_writes_the_best_params(panel, tuned):
    result, out = tuned
    last = panel.last_day
    assert result.origins == [str(day_to_date(last - 14)), str(day_to_date(last - 7))]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and set(trials["state"]) == {"complete"}
    assert result.best_wape == pytest.approx(trials["wape"].min())
    params = read_params(out / "best_params.toml")
    assert params == result.best_params
    # the score is what the params give again, origin by origin
    again = list(origin_wapes(panel, params, [last - 14, last - 7], 7))
    best = trials.loc[trials["wape"].idxmin()]
    assert again == pytest.approx([best[f"wape_{n}"] for n in result.origins], rel=1e-12)
    assert np.mean(again) == pytest.approx(result.best_wape, rel=1e-12)


def test_the_first_trial_is_the_defaults_so_the_best_is_never_worse_than_them(panel, tuned):
    result, out = tuned
    first = pd.read_csv(out / "trials.csv").iloc[0]
    study = optuna.load_study(study_name="freshcast", storage=f"sqlite:///{out / 'study.db'}")
    assert study.trials[0].params == default_trial()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna only warns of a fixed value outside the space
        as_tuned = DailyForecaster(**suggest_params(default_trial()))
    assert as_tuned.get_params() | {"lgb_params": None} == DailyForecaster().get_params()
    assert as_tuned.lightgbm_params() == DailyForecaster().lightgbm_params()
    last = panel.last_day
    defaults = list(origin_wapes(panel, {}, [last - 14, last - 7], 7))
    assert [first[f"wape_{n}"] for n in result.origins] == pytest.approx(defaults, rel=1e-12)
    assert result.best_wape <= first["wape"]


def suggest_params(answers: dict) -> dict:
    from freshcast.forecast.tune import suggest

    return suggest(optuna.trial.FixedTrial(answers))


def test_an_origin_is_scored_on_days_after_it_only(panel):
    # the sales after an origin's scored week cannot change its score (no leakage from later days)
    cutoff = panel.last_day - 14
    params = {"n_estimators": 30, "stockout_recovery": 0.0}  # the model learns from the daily sales scrambled here
    before = next(origin_wapes(panel, params, [cutoff], 7))
    later = panel.positions(np.arange(cutoff + 8, panel.last_day + 1)[None, :])
    scrambled = panel.sales.copy()
    scrambled[later] = np.random.default_rng(0).permutation(scrambled[later].ravel()).reshape(later.shape) * 3
    assert next(origin_wapes(panel.with_sales(scrambled), params, [cutoff], 7)) == before


def test_a_trial_is_pruned_after_any_origin_but_the_last_and_its_later_origins_are_not_trained():
    study = optuna.create_study()
    names = ["o1", "o2", "o3"]
    trained = []

    def scores(wapes):
        for k, w in enumerate(wapes):
            trained.append(k)
            yield w

    def run(wapes):
        trained.clear()
        study.optimize(lambda t: scored_trial(t, scores(wapes), names), n_trials=1)
        return study.trials[-1]

    for _ in range(PRUNE_AFTER - 1):
        assert run([0.30, 0.30, 0.30]).state == optuna.trial.TrialState.COMPLETE
    # no trial is pruned before PRUNE_AFTER are complete
    assert run([0.30, 0.50, 0.50]).state == optuna.trial.TrialState.COMPLETE
    pruned = run([0.30, 0.50, 0.50])  # level at the first origin, worse at the second
    assert pruned.state == optuna.trial.TrialState.PRUNED and trained == [0, 1]
    assert pruned.user_attrs["note"] == ("pruned after origin 2: mean WAPE so far 0.4000 above the complete trials' "
                                         "median 0.3000")  # fmt: skip
    assert "pruned after origin 2" in trial_line(study, pruned)
    last = run([0.30, 0.30, 0.90])  # worse only at the last origin: scored, not pruned
    assert last.state == optuna.trial.TrialState.COMPLETE and trained == [0, 1, 2] and last.value == pytest.approx(0.5)


def test_a_stopped_tune_resumes_to_the_trials_asked_for(panel, tmp_path):
    folder = tmp_path / "study"
    tune(panel, folder, trials=2, origins=1)
    study = optuna.load_study(study_name="freshcast", storage=f"sqlite:///{folder / 'study.db'}")
    study.ask()  # a trial left running by a tune that was killed
    result = tune(panel, folder, trials=4, origins=1)
    states = list(result.trials["state"])
    assert states.count("complete") + states.count("pruned") == 4 and states.count("fail") == 1
    tried = result.trials[result.trials["state"] != "fail"].drop(columns=["trial", "state", "wape", "seconds", "note"])
    tried = tried.drop(columns=[c for c in tried if c.startswith("wape_")])
    assert not tried.duplicated().any()  # the resumed tune did not draw the first trials again
    with pytest.raises(FreshcastError, match="holds a study on origins"):
        tune(panel, folder, trials=5, origins=2)
    with pytest.raises(FreshcastError, match="history too short for 20 weekly origin"):
        tune(panel, tmp_path / "other", trials=1, origins=20)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FreshcastError, match="a_file: is a file"):
        tune(panel, tmp_path / "a_file", trials=1, origins=1)
    with pytest.raises(FreshcastError, match="cannot be written: .*a_file is a file, not a folder"):
        tune(panel, tmp_path / "a_file" / "study", trials=1, origins=1)
    for name in ("trials.csv", "notes.txt"):  # another's table by a study's name, or any other file
        mine = tmp_path / f"mine_{name}"
        mine.mkdir()
        (mine / name).write_text("my own")
        with pytest.raises(FreshcastError, match=f"holds files that freshcast tune did not write \\(e.g. {name}\\)"):
            tune(panel, mine, trials=1, origins=1)
        assert sorted(p.name for p in mine.iterdir()) == [name] and (mine / name).read_text() == "my own"
    with pytest.raises(FreshcastError, match="holds a study on another history"):
        tune(panel.take(np.arange(0, panel.n_series, 2)), folder, trials=5, origins=1)
    with pytest.raises(FreshcastError, match="run with --seed 0, not 3: .* resume it with --seed 0"):
        tune(panel, folder, trials=5, origins=1, seed=3)
    from freshcast.nightly.lock import run_lock

    with run_lock(folder):  # another tune at work there: refused before the history is read
        res = CliRunner().invoke(app, ["tune", "--history", str(sample_path()), "--out", str(folder), "--trials", "5",
                                       "--origins", "1"])  # fmt: skip
        assert res.exit_code == 75 and "another freshcast run holds it (pid" in unboxed(res.output), res.output
        assert "loading history" not in res.output
        with pytest.raises(RunLocked):
            tune(panel, folder, trials=5, origins=1)
    (folder / "notes.txt").write_text("beside a study")
    with pytest.raises(FreshcastError, match="did not write \\(e.g. notes.txt\\)"):
        tune(panel, folder, trials=4, origins=1)


def test_a_killed_tune_resumes_to_the_trials_of_one_never_stopped(panel, tmp_path, monkeypatch):
    """A trial cut off by a kill is tried again with its parameters and each trial's sampler is
    seeded by the trials finished before it: the same trials, values and best parameters."""
    import freshcast.forecast.tune as tuning

    whole = tune(panel, tmp_path / "whole", trials=3, origins=1)
    real, calls = tuning.origin_wapes, []

    def killed_at_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("killed")  # leaves its trial running, as kill -9 does
        return real(*args, **kwargs)

    monkeypatch.setattr(tuning, "origin_wapes", killed_at_the_second)
    with pytest.raises(SystemExit):
        tune(panel, tmp_path / "cut", trials=3, origins=1)
    monkeypatch.setattr(tuning, "origin_wapes", real)
    resumed = tune(panel, tmp_path / "cut", trials=3, origins=1)
    assert list(resumed.trials.state) == ["complete", "fail", "complete", "complete"]
    ran = resumed.trials[resumed.trials.state != "fail"].drop(columns=["trial", "seconds", "note"])
    ran = ran.reset_index(drop=True)
    pd.testing.assert_frame_equal(ran, whole.trials.drop(columns=["trial", "seconds", "note"]))
    assert resumed.best_params == whole.best_params and resumed.best_wape == whole.best_wape


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_tune_stopped_in_its_first_trial_still_starts_from_the_defaults(panel, tmp_path, monkeypatch, stop):
    """Ctrl-C fails the trial it stops; a kill (SystemExit here) leaves it running: either
    way the resumed study tries the defaults first and ends as one never stopped."""
    import freshcast.forecast.tune as tuning

    whole = tune(panel, tmp_path / "whole", trials=2, origins=1)
    real = tuning.origin_wapes

    def stopped(*args, **kwargs):
        raise stop()

    monkeypatch.setattr(tuning, "origin_wapes", stopped)
    with pytest.raises(stop):
        tune(panel, tmp_path / "cut", trials=2, origins=1)
    monkeypatch.setattr(tuning, "origin_wapes", real)
    resumed = tune(panel, tmp_path / "cut", trials=2, origins=1)
    assert list(resumed.trials.state) == ["fail", "complete", "complete"]
    study = optuna.load_study(study_name="freshcast", storage=f"sqlite:///{tmp_path / 'cut' / 'study.db'}")
    assert study.trials[1].params == default_trial()
    ran = resumed.trials[resumed.trials.state != "fail"].drop(columns=["trial", "seconds", "note"])
    ran = ran.reset_index(drop=True)
    pd.testing.assert_frame_equal(ran, whole.trials.drop(columns=["trial", "seconds", "note"]))


def test_a_signal_stops_tune_keeping_the_finished_trials_and_the_same_command_resumes(tmp_path):
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "freshcast.cli", "tune", "--history", str(sample_path()), "--out",
               str(tmp_path / "study"), "--trials", "3", "--origins", "1"]  # fmt: skip
    run = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "trial 1:" not in seen and run.poll() is None:
        seen += run.stderr.readline()
    run.send_signal(signal.SIGTERM)  # in the second trial
    err = run.stderr.read()
    assert run.wait(timeout=120) == 143, seen + err
    assert f"error: stopped by SIGTERM: {tmp_path / 'study'} keeps the finished trials (a trial cut off is tried " \
           f"again) and the same command resumes the study" in err
    kept = pd.read_csv(tmp_path / "study" / "trials.csv")
    # the first trial, and the second too where the signal's stop was lost in a finalizer (Python
    # only prints an exception raised there) and that trial ran to its end
    done = len(kept)
    assert done in (1, 2) and set(kept.state) == {"complete"} and (tmp_path / "study" / "best_params.toml").exists()
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"resuming the study in {tmp_path / 'study'}: {done} trial(s) finished, {3 - done} to run" in again.stderr
    trials = pd.read_csv(tmp_path / "study" / "trials.csv")
    assert trials.iloc[0].equals(kept.iloc[0]) and (trials.state == "complete").sum() == 3


def test_parameters_killed_twice_are_given_up_stopped_twice_not_and_a_week_without_sales_is_refused(panel, tmp_path,
                                                                                              monkeypatch):  # fmt: skip
    import freshcast.forecast.tune as tuning

    real, calls = tuning.origin_wapes, []

    def killed_at(*at):
        def run(*args, **kwargs):
            calls.append(1)
            if len(calls) in at:
                raise SystemExit("killed")
            return real(*args, **kwargs)

        return run

    monkeypatch.setattr(tuning, "origin_wapes", killed_at(2, 3))  # the second trial, then its retry
    for _ in range(2):
        with pytest.raises(SystemExit):
            tune(panel, tmp_path, trials=2, origins=1)
    monkeypatch.setattr(tuning, "origin_wapes", real)
    result = tune(panel, tmp_path, trials=2, origins=1)
    assert list(result.trials.state) == ["complete", "fail", "fail", "complete"]
    assert list(result.trials.note) == [
        "the forecaster's defaults", "cut off by a kill (kill -9, out of memory): tried again as trial 3",
        "the parameters of trial 2 again; cut off by a kill (kill -9, out of memory) a second time: its parameters "
        "are given up", ""]
    params = result.trials[[c for c in result.trials if c not in ("trial", "state", "wape", "seconds", "note")
                            and not c.startswith("wape_")]]  # fmt: skip
    first, retry, new = (params.iloc[i] for i in (1, 2, 3))
    assert first.equals(retry) and not first.equals(new)  # the parameters, not only their scores, differ

    import signal

    from freshcast.errors import Interrupted

    def stopped_at(*at):  # SIGTERM (a cron job's timeout) in the second trial, then Ctrl-C (in Python) in its retry
        def run(*args, **kwargs):
            calls.append(1)
            if len(calls) in at:
                raise Interrupted(signal.SIGTERM) if len(calls) == at[0] else KeyboardInterrupt()
            return real(*args, **kwargs)

        return run

    calls.clear()
    monkeypatch.setattr(tuning, "origin_wapes", stopped_at(2, 3))
    for stop in (Interrupted, KeyboardInterrupt):
        with pytest.raises(stop):
            tune(panel, tmp_path / "signals", trials=2, origins=1)
    monkeypatch.setattr(tuning, "origin_wapes", real)
    result = tune(panel, tmp_path / "signals", trials=2, origins=1)
    assert list(result.trials.state) == ["complete", "fail", "fail", "complete"]  # not given up: tried a third time
    assert list(result.trials.note)[1:] == ["stopped by SIGTERM: tried again as trial 3",
                                            "the parameters of trial 2 again; stopped by SIGINT: tried again as "
                                            "trial 4", "the parameters of trial 3 again"]  # fmt: skip
    params = result.trials[[c for c in result.trials if c not in ("trial", "state", "wape", "seconds", "note")
                            and not c.startswith("wape_")]]  # fmt: skip
    assert params.iloc[1].equals(params.iloc[3]) and params.iloc[2].equals(params.iloc[3])

    def broken(*args, **kwargs):  # an error of the trial's own stops the tune, and is not tried again
        raise ValueError("boom\nmore")

    monkeypatch.setattr(tuning, "origin_wapes", broken)
    with pytest.raises(ValueError, match="boom"):
        tune(panel, tmp_path / "error", trials=1, origins=1)
    monkeypatch.setattr(tuning, "origin_wapes", real)
    result = tune(panel, tmp_path / "error", trials=1, origins=1)
    assert list(result.trials.state) == ["fail", "complete"]
    assert list(result.trials.note) == ["the forecaster's defaults; failed: boom", "the forecaster's defaults"]

    last = panel.positions(np.arange(panel.last_day - 6, panel.last_day + 1)[None, :])
    sales = panel.sales.copy()
    sales[last] = 0
    lines = []
    with pytest.raises(FreshcastError, match="sold nothing to score it on"):
        tune(panel.with_sales(sales), tmp_path / "none", trials=2, origins=1, progress=lines.append)
    assert lines == ["trial 1: failed (best nan)"]


def test_params_files_are_checked_naming_the_key(tmp_path):
    path = tmp_path / "p.toml"
    for text, named in (
        ("[forecaster]\nleaves = 3\n", "[forecaster] leaves: not a forecaster parameter"),
        ("[forecaster]\nnum_leaves = 2.5\n", "[forecaster] num_leaves: expected a whole number"),
        ("[forecaster]\nwindows = [7, 0]\n", "[forecaster] windows: expected whole numbers of at least 1"),
        ("[forecaster]\nstockout_recovery = 2\n", "[forecaster] stockout_recovery: expected a number between 0"),
        ("[forecaster]\nfeature_recovery = -0.5\n", "[forecaster] feature_recovery: expected a number between 0"),
        ("[forecaster]\nquantiles = [0.5]\n", "quantiles: not a forecaster parameter (set by the command)"),
        ("[model]\nseed = 1\n", "expected one [forecaster] table"),
        ("[forecaster\n", "cannot be read as TOML"),
        ('[forecaster]\nobjective = "banana"\n', '[forecaster] objective: expected "tweedie" or'),
        ('[forecaster]\nobjective = "quantile"\n', '[forecaster] objective: expected "tweedie" or'),  # no mean
        ("[forecaster]\nlearning_rate = 0\n", "[forecaster] learning_rate: expected a number above 0"),
        ("[forecaster]\nrelative_model = 1\n", "[forecaster] relative_model: expected true or false"),
        ("[forecaster]\npromotion_runs = \"yes\"\n", "[forecaster] promotion_runs: expected true or false"),
        ("[forecaster]\ncalibration_tree_share = 1.5\n", "calibration_tree_share: expected a number above 0 and at most 1"),
        ("[forecaster]\ncalibration_series = 0\n", 'calibration_series: expected a whole number of at least 1 or "all"'),
        ("[forecaster]\ncalibration_series = \"some\"\n", 'calibration_series: expected a whole number of at least 1 or "all"'),
        ("[forecaster]\nnum_leaves = 1\n", "[forecaster] num_leaves: expected a whole number of at least 2"),
        ("[forecaster]\nmax_bin = 1\n", "[forecaster] max_bin: expected a whole number of at least 2"),
        ("[forecaster]\nreg_lambda = nan\n", "[forecaster] reg_lambda: expected a finite number"),
        ("[forecaster]\nreg_lambda = inf\n", "[forecaster] reg_lambda: expected a finite number"),
        ("[forecaster]\nlgb_params = { feature_fraction = nan }\n", "lgb_params: expected finite numbers"),
        ("[forecaster]\nlgb_params = { feture_fraction = 0.7, bagging_freq = 1 }\n",  # a typo LightGBM only warns of
         "[forecaster] lgb_params: not LightGBM parameters: feture_fraction"),
        ("[forecaster]\nlgb_params = { eta = 0.3 }\n", "[forecaster] lgb_params may not set eta: use the forecaster's "
         "own learning_rate"),
        ("[forecaster]\nlgb_params = { feature_fraction = 0.7, sub_feature = 0.6 }\n",
         "lgb_params: sub_feature sets feature_fraction a second time"),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            read_params(path)
    aliased = DailyForecaster(lgb_params={"colsample_bytree": 0.3, "subsample": 0.6}).lightgbm_params()
    assert (aliased["feature_fraction"], aliased["bagging_fraction"]) == (0.3, 0.6)  # not freshcast's 0.8 over them
    assert "colsample_bytree" not in aliased and "subsample" not in aliased
    params = {"windows": (7, 28), "learning_rate": 0.2, "train_days": 42, "relative_model": False,
              "lgb_params": {"feature_fraction": 0.7}}
    path.write_text(params_text(params, "round trip"))
    assert read_params(path) == params
    for sample in (None, 5000):  # None, every series, is written as "all" (left out, it would be the default sample)
        path.write_text(params_text({"calibration_series": sample}, "round trip"))
        assert read_params(path) == {"calibration_series": sample}
    result = CliRunner().invoke(app, ["backtest", "--history", str(sample_path()), "--params", str(tmp_path / "no.toml")])
    shown = unboxed(result.output)
    assert result.exit_code == 2 and "--params" in shown and "no.toml: no such params file" in shown


@pytest.mark.slow
def test_forecast_with_params_is_the_api_forecast_with_them_and_not_the_default(tuned, tmp_path):
    _, out = tuned
    future = tmp_path / "future.parquet"
    made = CliRunner().invoke(app, ["make-future", "--history", str(sample_path()), "--days", str(FUTURE_DAYS),
                                    "--out", str(future)])  # fmt: skip
    assert made.exit_code == 0, made.output
    pred = tmp_path / "pred.parquet"
    result = CliRunner().invoke(app, ["forecast", "--history", str(sample_path()), "--future", str(future), "--out",
                                      str(pred), "--params", str(out / "best_params.toml")])  # fmt: skip
    assert result.exit_code == 0, result.output
    by_cli = pd.read_parquet(pred)
    by_api = api.forecast(sample_path(), future, params=out / "best_params.toml")
    assert np.array_equal(by_cli["yhat"].to_numpy(), by_api["yhat"].to_numpy())
    default = api.forecast(sample_path(), future)
    assert not np.allclose(default["yhat"].to_numpy(), by_api["yhat"].to_numpy())


def test_the_nightly_run_trains_with_the_params_file_and_again_when_it_changes(tmp_path):
    from freshcast.nightly.example import write_example

    config, _ = write_example(tmp_path / "freshcast.toml")
    params = tmp_path / "best_params.toml"
    params.write_text(params_text({"n_estimators": 20, "num_leaves": 15}, "test"))
    text = config.read_text()
    config.write_text(text.replace("quantiles = [0.1, 0.5, 0.9]\n", 'quantiles = [0.1, 0.5, 0.9]\nparams = "best_params.toml"\n', 1))
    first = api.run(config)
    assert "model" in first.redone
    from freshcast.forecast.daily import DailyForecaster

    model = DailyForecaster.load(first.folder / "model")
    assert model.n_estimators == 20 and model.num_leaves == 15
    assert api.run(config).redone == []
    params.write_text("# only a comment more\n" + params.read_text())
    assert api.run(config).redone == []  # the values count, not the bytes
    params.write_text(params_text({"n_estimators": 25, "num_leaves": 15}, "test"))
    assert "model" in api.run(config).redone
    params.write_text("[forecaster]\nnum_leaves = 'many'\n")
    with pytest.raises(ConfigError, match=r"\[model\] params: .*num_leaves: expected a whole number"):
        api.run(config)


@pytest.mark.slow
def test_replay_with_params_keeps_forecasting_demand_and_records_them(tmp_path):
    import json

    import pyarrow.parquet as pq

    rows = pq.read_table(sample_path()).to_pandas()
    day = pd.to_datetime(rows["dt"])
    rows[day <= "2024-06-11"].to_parquet(tmp_path / "hist.parquet")
    rows[day > "2024-06-11"].to_parquet(tmp_path / "act.parquet")
    params = tmp_path / "p.toml"
    params.write_text(params_text({"n_estimators": 30, "stockout_recovery": 0.1, "windows": (7, 28)}, "test"))
    result = CliRunner().invoke(app, ["replay", "--history", str(tmp_path / "hist.parquet"), "--actuals",
                                      str(tmp_path / "act.parquet"), "--out", str(tmp_path / "out"), "--params",
                                      str(params)])  # fmt: skip
    assert result.exit_code == 0, result.output
    used = json.loads((tmp_path / "out" / "summary.json").read_text())["forecaster_params"]
    assert used["n_estimators"] == 30 and used["windows"] == [7, 28]
    assert used["stockout_recovery"] == 1.0 and used["calibrate_on"] == "demand"  # the replay's, not the file's
