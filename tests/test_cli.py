"""The command line: exact output contract, exit codes, atomic output, validate."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import pyarrow.parquet as pq
from typer.testing import CliRunner

from freshcast.cli import app
from conftest import split_sample, unboxed
from freshcast.data import sample_path

runner = CliRunner()


@pytest.mark.slow
def test_forecast_command_writes_the_contract(tmp_path):
    df = split_sample(tmp_path)
    out = tmp_path / "pred.parquet"
    args = ["forecast", "--history", str(tmp_path / "history.parquet"), "--future", str(tmp_path / "future.parquet")]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names == ["store_id", "product_id", "dt", "yhat", "q10", "q50", "q90"]
    assert str(table.schema.field("dt").type) == "date32[day]"
    pred = table.to_pandas()
    assert (pred.q10 >= 0).all() and (pred.q10 <= pred.q50).all() and (pred.q50 <= pred.q90).all()
    assert (pred.q90 > pred.q10).mean() > 0.5  # real intervals, not points
    assert len(pred) == df.groupby(["store_id", "product_id"]).ngroups * 3
    assert not list(tmp_path.glob(".*.tmp"))
    # rerun: identical output
    runner.invoke(app, [*args, "--out", str(tmp_path / "again.parquet")])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "again.parquet"), pred)
    # a name without suffix: a folder of Parquet parts (here one), replaced whole on a rerun
    parts = tmp_path / "parts"
    for _ in range(2):
        result = runner.invoke(app, [*args, "--out", str(parts)])
        assert result.exit_code == 0, result.output
        assert sorted(f.name for f in parts.iterdir()) == [".freshcast-output", "part-00000.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(parts), pred)


@pytest.mark.slow
def test_forecast_quantile_levels_are_configurable(tmp_path):
    split_sample(tmp_path)
    args = ["forecast", "--history", str(tmp_path / "history.parquet"), "--future", str(tmp_path / "future.parquet")]
    for levels, columns in [("0.975,0.025", ["q2.5", "q97.5"]), ("none", [])]:
        out = tmp_path / f"{levels}.parquet"
        result = runner.invoke(app, [*args, "--out", str(out), "--quantiles", levels])
        assert result.exit_code == 0, result.output
        assert pq.read_table(out).column_names == ["store_id", "product_id", "dt", "yhat", *columns]
    for bad, message in [("0.1,1.5", "between 0 and 1"), ("ten", "comma-separated"), ("0.5,0.5", "distinct")]:
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "x.parquet"), "--quantiles", bad])
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "x.parquet").exists()


def test_forecast_with_bad_future_exits_1_and_writes_nothing(tmp_path):
    split_sample(tmp_path)
    fut = pd.read_parquet(tmp_path / "future.parquet")
    fut[fut.product_id != fut.product_id.iloc[0]].to_parquet(tmp_path / "future.parquet")
    out = tmp_path / "pred.parquet"
    args = ["forecast", "--history", str(tmp_path / "history.parquet"), "--future", str(tmp_path / "future.parquet")]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 1
    assert "future.parquet" in result.output and "missing from the future covariates" in result.output
    assert not out.exists()


def test_validate_exit_codes(tmp_path):
    assert runner.invoke(app, ["validate", str(sample_path())]).exit_code == 0
    df = pd.read_parquet(sample_path()).head(100)
    df.loc[4, "hourly_sale"] = -1
    df.to_csv(tmp_path / "bad.csv", index=False)
    result = runner.invoke(app, ["validate", str(tmp_path / "bad.csv")])
    assert result.exit_code == 1
    assert "bad.csv" in result.output and "'hourly_sale' is negative" in result.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.parquet")])
    assert missing.exit_code == 1 and "no such file" in missing.output


@pytest.mark.slow
def test_help_does_not_import_the_heavy_libraries():
    code = "import sys; from freshcast.cli import app; print(sorted({'numba','lightgbm','pandas'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_usage_errors_are_plain_lines_with_exit_2():
    """As a cron job's log gets them: no box, each message on one line, whatever the width."""
    for args, message in [(["replay", "--history"], "Error: Option '--history' requires an argument."),
                          (["forecast", "--bogus", "x"], "Error: No such option: --bogus"),
                          (["nosuch"], "Error: No such command 'nosuch'.")]:  # fmt: skip
        run = subprocess.run([sys.executable, "-m", "freshcast.cli", *args], capture_output=True, text=True,
                             env={**os.environ, "COLUMNS": "40"})  # fmt: skip
        assert run.returncode == 2 and any(line.startswith(message) for line in run.stderr.splitlines()), run.stderr
        assert not set("╭╮╰╯│") & set(run.stderr) and run.stdout == ""
    assert runner.invoke(app, ["replay", "--history"]).exit_code == 2
    assert runner.invoke(app, ["--help"]).exit_code == 0


def test_unwritable_outputs_fail_before_the_work(tmp_path):
    split_sample(tmp_path)
    (tmp_path / "file").write_text("x")
    args = ["forecast", "--history", str(tmp_path / "history.parquet"), "--future", str(tmp_path / "future.parquet")]
    for extra in (["--out", str(tmp_path / "file" / "pred.parquet")],
                  ["--out", str(tmp_path / "p.parquet"), "--save-model", str(tmp_path / "file")]):  # fmt: skip
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 1 and "error:" in result.output
        assert "loading history" not in result.output  # refused before reading anything
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("x")
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "mine")])
    assert result.exit_code == 1 and "did not write" in result.output and "loading" not in result.output
    assert not (tmp_path / "p.parquet").exists()


@pytest.mark.slow
def test_threads_option_and_defaults(tmp_path, monkeypatch):
    import numba

    from freshcast.errors import FreshcastError
    from freshcast.threads import physical_cores, set_threads, thread_count

    try:
        assert 1 <= physical_cores() <= (__import__("os").cpu_count() or 1)
        monkeypatch.delenv("FRESHCAST_THREADS")
        assert thread_count(None) == thread_count(0) == physical_cores() and thread_count(3) == 3  # not the load's
        monkeypatch.setenv("FRESHCAST_THREADS", "3")
        assert thread_count(None) == 3 and thread_count(2) == 2
        for bad in ("0", "two", "-1"):
            monkeypatch.setenv("FRESHCAST_THREADS", bad)
            with pytest.raises(FreshcastError, match="FRESHCAST_THREADS must be a whole number of at least 1"):
                thread_count(None)
        bad_env = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])  # exit 2 at once, one line
        assert bad_env.exit_code == 2 and "FRESHCAST_THREADS must be a whole number" in bad_env.output
        assert "Traceback" not in bad_env.output and not (tmp_path / "demo").exists()
        monkeypatch.setenv("FRESHCAST_THREADS", "1")
        split_sample(tmp_path)
        args = ["forecast", "--history", str(tmp_path / "history.parquet"), "--future", str(tmp_path / "future.parquet")]
        one = runner.invoke(app, [*args, "--out", str(tmp_path / "one.parquet"), "--threads", "1"])
        assert one.exit_code == 0, one.output
        assert thread_count(None) == 1 and numba.get_num_threads() == 1
        assert runner.invoke(app, [*args, "--out", str(tmp_path / "x.parquet"), "--threads", "-1"]).exit_code == 2
    finally:
        set_threads(None)


@pytest.mark.slow
def test_make_future_writes_assumed_covariates_that_forecast_accepts(tmp_path):
    split_sample(tmp_path)
    hist = pd.read_parquet(tmp_path / "history.parquet")
    out = tmp_path / "future.csv"
    result = runner.invoke(app, ["make-future", "--history", str(tmp_path / "history.parquet"), "--days", "9",
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ASSUMED" in result.output
    fut = pd.read_csv(out)
    text = out.read_text()
    assert "00001," not in text and "99999," not in text  # no float32 noise (0.85 read as 0.85000002)
    n = hist.groupby(["store_id", "product_id"]).ngroups
    assert len(fut) == n * 9 and (fut["covariates_source"] == "assumed (freshcast make-future)").all()
    assert fut["dt"].min() == "2024-06-16" and fut["dt"].max() == "2024-06-24"
    last = hist[hist.dt == hist.dt.max()].groupby(["store_id", "product_id"]).discount.first()
    first_day = fut[fut.dt == "2024-06-16"].set_index(["store_id", "product_id"]).discount
    np.testing.assert_allclose(first_day.loc[last.index].to_numpy(), last.to_numpy(), rtol=1e-6)
    week_ago = hist[hist.dt == pd.Timestamp("2024-06-09").date()].groupby(["store_id", "product_id"]).holiday_flag.first()
    same_weekday = fut[fut.dt == "2024-06-16"].set_index(["store_id", "product_id"]).holiday_flag
    assert (same_weekday.loc[week_ago.index].to_numpy() == week_ago.to_numpy()).all()  # Sundays
    days = [pd.Timestamp(f"2024-06-{d}").date() for d in (9, 2)] + [pd.Timestamp("2024-05-26").date(),
                                                                    pd.Timestamp("2024-05-19").date()]  # fmt: skip
    sundays = hist[hist.dt.isin(days)].groupby(["store_id", "product_id", "dt"]).avg_temperature.mean()
    expected = sundays.groupby(["store_id", "product_id"]).mean()
    got = fut[fut.dt == "2024-06-16"].set_index(["store_id", "product_id"]).avg_temperature
    np.testing.assert_allclose(got.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-5)
    pred = tmp_path / "pred.parquet"
    result = runner.invoke(app, ["forecast", "--history", str(tmp_path / "history.parquet"), "--future", str(out),
                                 "--out", str(pred), "--quantiles", "none"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(pred)["dt"].nunique() == 9
    bad = runner.invoke(app, ["make-future", "--history", str(tmp_path / "history.parquet"), "--days", "29",
                              "--out", str(tmp_path / "x.csv")])  # fmt: skip
    assert bad.exit_code == 2 and not (tmp_path / "x.csv").exists()


@pytest.mark.slow
def test_their_column_names_hold_from_history_through_make_future_to_forecast(tmp_path):
    """--map names the history's columns; a future file has no sales to map and may already be
    in freshcast's names (what make-future writes): the same forecast either way."""
    split_sample(tmp_path)
    theirs = {"hourly_sale": "qty", "dt": "date"}
    pd.read_parquet(tmp_path / "history.parquet").rename(columns=theirs).to_parquet(tmp_path / "h.parquet")
    pd.read_parquet(tmp_path / "future.parquet").rename(columns=theirs).to_parquet(tmp_path / "f.parquet")
    light = tmp_path / "light.toml"
    light.write_text("[forecaster]\nn_estimators = 20\n")
    mapping = ["--map", "qty=hourly_sale", "--map", "date=dt"]

    def forecast(history, future, out, *extra):
        return runner.invoke(app, ["forecast", "--history", str(history), "--future", str(future), "--out", str(out),
                                   "--quantiles", "none", "--params", str(light), *extra])  # fmt: skip

    native = forecast(tmp_path / "history.parquet", tmp_path / "future.parquet", tmp_path / "native.parquet")
    mapped = forecast(tmp_path / "h.parquet", tmp_path / "f.parquet", tmp_path / "mapped.parquet", *mapping)
    assert native.exit_code == 0 and mapped.exit_code == 0, unboxed(mapped.output)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "mapped.parquet"),
                                  pd.read_parquet(tmp_path / "native.parquet"))
    made = runner.invoke(app, ["make-future", "--history", str(tmp_path / "h.parquet"), "--days", "3", "--out",
                               str(tmp_path / "made.csv"), *mapping])  # fmt: skip
    assert made.exit_code == 0, unboxed(made.output)
    assert "dt" in pd.read_csv(tmp_path / "made.csv").columns  # make-future writes freshcast's names
    chained = forecast(tmp_path / "h.parquet", tmp_path / "made.csv", tmp_path / "chained.parquet", *mapping)
    assert chained.exit_code == 0, unboxed(chained.output)
    assert pd.read_parquet(tmp_path / "chained.parquet")["dt"].nunique() == 3
    bare = pd.read_parquet(tmp_path / "h.parquet").drop(columns="qty")
    bare.to_parquet(tmp_path / "bare.parquet")  # neither their name nor freshcast's: still an error
    refused = forecast(tmp_path / "bare.parquet", tmp_path / "f.parquet", tmp_path / "x.parquet", *mapping)
    assert refused.exit_code == 1 and not (tmp_path / "x.parquet").exists()
    assert "mapped column 'qty' (for 'hourly_sale') is not in the data" in unboxed(refused.output)


def test_version_csv_numbers_and_file_named_once(tmp_path):
    from freshcast import __version__
    from freshcast.outputs import write_table

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"freshcast {__version__}"
    write_table(pd.DataFrame({"a": [0.7 * 2, 1e-9 / 3, 123456.789, float("nan")],
                              "b": pd.Series([1.4, 0.1, 2.5, 3.0], dtype="float32")}), tmp_path / "x.csv")  # fmt: skip
    assert (tmp_path / "x.csv").read_text().splitlines() == [
        "a,b", "1.4,1.4", "3.33333333333e-10,0.1", "123456.789,2.5", ",3.0"
    ]
    df = pd.read_parquet(sample_path()).head(100)
    df.loc[4, "hourly_sale"] = -1
    df.to_parquet(tmp_path / "bad.parquet")
    out = runner.invoke(app, ["forecast", "--history", str(tmp_path / "bad.parquet"), "--future",
                              str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "p.parquet")])  # fmt: skip
    line = [ln for ln in out.output.splitlines() if ln.startswith("error:")][0]
    assert line.count("bad.parquet") == 1 and "row 5" in line, line


def test_backtest_scores_the_quantiles_asked_for(tmp_path):
    for asked, columns in (("none", set()), ("0.5", {"pinball_q50", "coverage_q50"})):
        out = tmp_path / f"scores_{asked}.csv"
        res = CliRunner().invoke(app, ["backtest", "--history", str(sample_path()), "--folds", "1", "--horizon", "3",
                                       "--quantiles", asked, "--out", str(out)])  # fmt: skip
        assert res.exit_code == 0, res.output
        scored = {c for c in pd.read_csv(out).columns if c.startswith(("pinball", "coverage", "interval"))}
        assert scored == columns


def test_backtest_writes_the_forecast_rows_its_scores_come_from(tmp_path):
    rows_path, out = tmp_path / "rows.parquet", tmp_path / "scores.csv"
    res = CliRunner().invoke(app, ["backtest", "--history", str(sample_path()), "--folds", "2", "--horizon", "3",
                                   "--quantiles", "0.5", "--out", str(out), "--forecasts", str(rows_path)])  # fmt: skip
    assert res.exit_code == 0, res.output
    rows, scores = pd.read_parquet(rows_path), pd.read_csv(out)
    assert list(rows.columns) == ["store_id", "product_id", "dt", "yhat", "q50", "fold", "horizon", "actual",
                                  "in_stock", "seasonal_naive", "moving_average"]  # fmt: skip
    assert set(rows.fold) == {1, 2} and set(rows.horizon) == {1, 2, 3}
    assert not rows.duplicated(["store_id", "product_id", "dt", "fold"]).any()
    for method, column in (("freshcast", "yhat"), ("moving_average", "moving_average")):
        for fold, part in [*rows.groupby("fold"), ("all", rows)]:
            wape = (part[column] - part.actual).abs().sum() / part.actual.sum()
            mine = scores[(scores.fold.astype(str) == str(fold)) & (scores.method == method)].wape.item()
            assert wape == pytest.approx(mine, rel=1e-6)
    res = CliRunner().invoke(app, ["backtest", "--history", str(sample_path()), "--out", str(out),
                                   "--forecasts", str(out)])  # fmt: skip
    assert res.exit_code == 1 and "give each output its own place" in unboxed(res.output), res.output
    res = CliRunner().invoke(app, ["backtest", "--history", str(sample_path()), "--forecasts", "rows.xlsx"])
    assert res.exit_code == 2 and "--forecasts" in unboxed(res.output)


def test_a_data_error_prints_every_problem(tmp_path):
    df = pd.read_parquet(sample_path()).head(100)
    df.loc[4, "hourly_sale"] = -1
    df.loc[5, "hour"] = 30
    df.loc[6, "hourly_stockout"] = 2
    df.loc[7, "discount"] = 5.0
    df.to_parquet(tmp_path / "bad.parquet")
    out = CliRunner().invoke(app, ["forecast", "--history", str(tmp_path / "bad.parquet"), "--future",
                                   str(tmp_path / "bad.parquet"), "--out", str(tmp_path / "p.parquet")])  # fmt: skip
    lines = out.output.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("error:"))
    assert out.exit_code == 1 and lines[first].endswith("(and 1 more)"), out.output
    assert len(lines) == first + 2 and lines[first + 1].startswith("  - ") and "discount" in lines[first + 1] + lines[first]


def test_a_table_output_needs_a_table_name(tmp_path):
    history = str(sample_path())
    for args in (["forecast", "--history", history, "--future", "f.parquet", "--out", str(tmp_path / "p.xlsx")],
                 ["backtest", "--history", history, "--out", str(tmp_path / "scores.xlsx")],
                 ["make-future", "--history", history, "--days", "7", "--out", str(tmp_path / "future.txt")]):  # fmt: skip
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2 and "name a table .parquet or .csv" in unboxed(res.output), res.output
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_command_cleanly(tmp_path, signame):
    import signal

    signum = getattr(signal, signame)
    fut = tmp_path / "fut.parquet"
    assert CliRunner().invoke(app, ["make-future", "--history", str(sample_path()), "--days", "7",
                                    "--out", str(fut)]).exit_code == 0  # fmt: skip
    run = subprocess.Popen([sys.executable, "-m", "freshcast.cli", "forecast", "--history", str(sample_path()),
                            "--future", str(fut), "--out", str(tmp_path / "pred.parquet")],
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen = ""
    while "training" not in seen and run.poll() is None:
        seen += run.stderr.readline()
    run.send_signal(signum)
    err = run.stderr.read()
    assert run.wait(timeout=120) == 128 + signum, seen + err
    assert f"error: stopped by {signame}; nothing of the output was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fut.parquet"]  # no output, temp file or lock left
