"""The demo on the embedded sample (one city of FreshRetailNet-50K): forecast its last week
from the weeks before and score it beside the baselines, then replay that week's real demand
through the ordering policies on ASSUMED master data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .console import Step
from .data import load_history, sample_path
from .data.dates import day_to_date
from .forecast.backtest import backtest
from .optimize.master import assume_master_data
from .outputs import output_folder, write_table
from .simulate.replay import replay, write_replay


def run_demo(out: str | Path, progress: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """Write forecast.parquet, scores.csv and replay/ into folder `out` (swapped in whole).
    Returns the backtest's scores and the replay's summary per policy."""
    say = progress or (lambda _: None)
    with output_folder(out, "demo") as tmp:
        with Step("loading the embedded sample", progress):
            panel = load_history(sample_path())
        say(f"{panel.n_series:,} series; data: FreshRetailNet-50K (Dingdong), CC BY 4.0")
        scores, forecasts = backtest(panel, folds=1, horizon=7, progress=progress)
        write_table(forecasts, tmp / "forecast.parquet")
        write_table(scores, tmp / "scores.csv")
        first_day = panel.last_day - 6
        master = assume_master_data(panel.until(first_day - 1))
        with Step("replaying the last 7 days through the ordering policies", progress):
            result = replay(panel, first_day, master=master, progress=progress)
        about = {"first_day": str(day_to_date(first_day)), "last_day": str(day_to_date(panel.last_day)),
                 "series": panel.n_series, "assumptions": master.notes}  # fmt: skip
        write_replay(result, tmp / "replay", about)
    return scores, result.summary
