"""The command line: exact output contract, exit codes, atomic output, validate."""

import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from freshcast.cli import app
from conftest import split_sample
from freshcast.data import sample_path

runner = CliRunner()


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


def test_help_does_not_import_the_heavy_libraries():
    code = "import sys; from freshcast.cli import app; print(sorted({'numba','lightgbm','pandas'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


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
