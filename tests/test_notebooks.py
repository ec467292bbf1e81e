"""The notebooks run headless, the benchmark report on what the benchmark scripts write for
the embedded sample, so neither the notebooks nor the scripts' JSON layout can rot."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from freshcast.data import sample_path

ROOT = Path(__file__).resolve().parents[1]


def execute(name: str):
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    return notebook


def outputs(cell) -> str:
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)


def figures(notebook) -> int:
    return sum("image/png" in o.get("data", {}) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


def bench(script: str, *args: str) -> None:
    done = subprocess.run([sys.executable, script, "--data", str(sample_path()), *args], cwd=ROOT / "benchmarks",
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def daily_json(tmp_path_factory):
    """What benchmarks/daily.py writes for the sample: freshcast tuned (2 trials) on one origin,
    scored on the two after it."""
    folder = tmp_path_factory.mktemp("daily")
    bench("daily.py", "--engines", "freshcast", "--origins", "2024-05-28,2024-06-04,2024-06-11", "--tuning-origins", "1",
          "--trials", "2", "--work", str(folder / "work"), "--json", str(folder / "daily.json"))  # fmt: skip
    return folder / "daily.json"


@pytest.mark.slow
def test_benchmark_report_runs_on_the_scripts_output(daily_json, tmp_path, monkeypatch):
    replay = tmp_path / "replay.json"
    bench("replay.py", "--windows", "2024-06-12:2024-06-18", "--demand", "recovered", "--weights", "1,2",
          "--json", str(replay))  # fmt: skip
    report = json.loads(daily_json.read_text())
    assert report["tuning_origins"] == ["2024-05-28"] and report["scoring_origins"] == ["2024-06-04", "2024-06-11"]
    monkeypatch.setenv("FRESHCAST_DAILY_JSON", str(daily_json))
    monkeypatch.setenv("FRESHCAST_REPLAY_JSON", str(replay))
    notebook = execute("benchmark_report.ipynb")
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "scoring origins (reported):   2024-06-04, 2024-06-11" in outputs(code[0])
    wape = outputs(code[1])  # the accuracy table: one row per scoring origin, the methods as columns
    assert "2024-06-04" in wape and "2024-06-11" in wape and "freshcast_tuned" in wape and "2024-05-28" not in wape
    assert figures(notebook) == 3  # accuracy, calibration, waste against fill rate


@pytest.mark.slow
def test_benchmark_report_without_replay_results(daily_json, tmp_path, monkeypatch):
    monkeypatch.setenv("FRESHCAST_DAILY_JSON", str(daily_json))
    monkeypatch.setenv("FRESHCAST_REPLAY_JSON", str(tmp_path / "absent.json"))
    notebook = execute("benchmark_report.ipynb")
    assert figures(notebook) == 2
    assert "no replay results at" in outputs([c for c in notebook.cells if c.cell_type == "code"][-1])


@pytest.mark.slow
def test_quickstart_runs():
    code = [c for c in execute("quickstart.ipynb").cells if c.cell_type == "code"]
    assert "freshcast" in outputs(code[1])  # the backtest's scores name the methods
    assert "yhat" in outputs(code[2])  # the forecast's first rows
