"""Tuning benchmark: `freshcast tune` on the shared data up to --tune-end (its origins are the
last weeks before it), then the default forecaster and the tuned one side by side on the
weeks after it, which the tuning never saw: WAPE and WPE of the mean forecast (no quantile
calibration, as in the trials), on all and on in-stock days, with a paired bootstrap 95%
interval over series of the WAPE difference.

    python benchmarks/tune.py --tune-end 2024-06-04 --trials 30 --origins 4 --out TUNE_DIR \\
        --json benchmarks/tune.json

A TUNE_DIR that already holds the finished study is reused (a tune resumes; nothing is
retrained then, so its wall time is that of the first run: see RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from common import (DEFAULT_DATA, _day, check_data, check_output, data_span, machine, paired_interval, versions,
                    write_json)


def history_until(data: Path, last: str, out: Path) -> Path:
    """A copy of the hive folder `data` with the rows up to day `last` (its `dt` column)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for folder in sorted(p for p in data.iterdir() if p.is_dir() and "=" in p.name):
        for f in sorted(folder.glob("*.parquet")):
            t = pq.read_table(f)
            limit = pa.scalar(date.fromisoformat(last)).cast(t.schema.field("dt").type)
            (out / folder.name).mkdir(parents=True, exist_ok=True)
            pq.write_table(t.filter(pc.less_equal(t["dt"], limit)), out / folder.name / f.name)
    return out


def scores(panel, params: dict, cutoff: int, horizon: int):
    """Per-row actual, mean forecast and in-stock flag of the days after `cutoff` (as the tune's
    trials forecast them), and each row's series."""
    from freshcast.forecast.tune import forecast_after

    mean, pos = forecast_after(panel, params, cutoff, horizon)
    series = np.repeat(np.flatnonzero(panel.start <= cutoff), horizon)
    return panel.sales[pos].ravel(), mean.ravel(), panel.in_stock()[pos].ravel(), series


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--tune-end", default="2024-06-04")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--out", required=True, help="the study's folder (reused if it holds one)")
    ap.add_argument("--json")
    args = ap.parse_args()
    check_data(args.data)
    check_output(args.json)
    from freshcast.data import load_history
    from freshcast.data.dates import day_to_date
    from freshcast.forecast.metrics import wape, wpe
    from freshcast.forecast.params import read_params
    from freshcast.forecast.tune import tune

    def say(msg):
        print(msg, file=sys.stderr, flush=True)

    last_day = data_span(args.data)[1]  # the dt column alone, before the tuning
    if _day(args.tune_end) + args.horizon > last_day:
        raise SystemExit(f"--tune-end {args.tune_end}: no week after it to score (the data end on "
                         f"{day_to_date(last_day)})")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = tune(load_history(history_until(Path(args.data), args.tune_end, Path(tmp))), args.out, args.trials,
                      args.origins, args.horizon, progress=say)  # fmt: skip
        tune_s = time.perf_counter() - t0
    tuned = read_params(Path(args.out) / "best_params.toml")
    panel = load_history(args.data)
    out = {"command": " ".join(["python", *sys.argv]), "date": str(date.today()), "machine": machine(),
           "versions": versions(),
           "tune_end": args.tune_end, "tuning_origins": result.origins, "best_tuning_wape": result.best_wape,
           "trials": {k: int(v) for k, v in result.trials["state"].value_counts().items()}, "tune_seconds_this_call": tune_s,
           "best_params": {k: v for k, v in tuned.items()}, "weeks": {}}  # fmt: skip
    cutoff = _day(args.tune_end)
    while cutoff + args.horizon <= panel.last_day:
        actual, base, instock, series = scores(panel, {}, cutoff, args.horizon)
        _, best, _, _ = scores(panel, tuned, cutoff, args.horizon)
        week = {}
        for name, f in (("default", base), ("tuned", best)):
            week[name] = {"wape": wape(actual, f), "wpe": wpe(actual, f), "wape_instock": wape(actual[instock], f[instock]),
                          "wpe_instock": wpe(actual[instock], f[instock])}  # fmt: skip
        week["tuned_minus_default_wape_95"] = paired_interval(actual, best, base, series)
        first = str(day_to_date(cutoff + 1))
        out["weeks"][first] = week
        say(f"week from {first}: default WAPE {week['default']['wape']:.4f}, tuned {week['tuned']['wape']:.4f}, "
            f"difference 95% {week['tuned_minus_default_wape_95']}")  # fmt: skip
        cutoff += 7
    text = json.dumps(out, indent=1, default=list)
    print(text)
    if args.json:
        write_json(args.json, json.loads(text))


if __name__ == "__main__":
    main()
