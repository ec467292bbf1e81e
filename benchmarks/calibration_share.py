"""How many trees and series the quantile calibration's model needs: the default forecaster
fitted at each origin, its quantiles calibrated on held-out copies that train a share of its
trees at a learning rate raised by the same factor (`calibration_tree_share`) on a sample of
about N series (`calibration_series`), scored on the in-stock days of the 7 days after the
origin (pinball loss and coverage per level, the P10-P90 interval) with the seconds each
calibration took. Same point forecasts for every copy.

    python benchmarks/calibration_share.py --origins 2024-05-07,2024-05-14,2024-06-11 \\
        --json benchmarks/calibration_share.json
    python benchmarks/calibration_share.py --origins 2024-05-07,2024-05-14,2024-06-11 --shares 0.5 \\
        --series all,25000,12500 --json benchmarks/calibration_series.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, _day, report_head, write_json

from freshcast.data import load_history
from freshcast.forecast import DailyForecaster
from freshcast.forecast.calibrator import QuantileCalibrator
from freshcast.forecast.metrics import coverage, pinball

LEVELS = (0.1, 0.5, 0.9)
SHARES = (1.0, 0.5, 0.25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--origins", default="2024-05-07,2024-05-14", help="last training days, comma-separated")
    ap.add_argument("--shares", default=",".join(f"{x:g}" for x in SHARES), help="calibration_tree_share values")
    ap.add_argument("--series", default="all", help="calibration_series values ('all': every series)")
    ap.add_argument("--json", help="write the figures to this JSON file")
    args = ap.parse_args()
    copies = [(float(share), None if n == "all" else int(n)) for share in args.shares.split(",")
              for n in args.series.split(",")]  # fmt: skip
    panel = load_history(args.data)
    in_stock = panel.in_stock()
    report = {**report_head(), "levels": LEVELS, "origins": {}}
    for origin in args.origins.split(","):
        cut = _day(origin)
        train, kept = panel.until(cut), np.flatnonzero(panel.start <= cut)
        model = DailyForecaster(quantiles=(), seed=0).fit(train)
        future = panel.future(cut + 1, 7, kept)
        pos = panel.positions(cut + 1 + np.arange(7)[None, :], kept)
        y, ok = panel.sales[pos].ravel(), in_stock[pos].ravel()
        scores = report["origins"][origin] = {"train_seconds": round(model.fit_seconds_["train"], 1)}
        for share, series in copies:
            t0 = time.perf_counter()
            point = DailyForecaster(seed=0, quantiles=(), calibration_tree_share=share, calibration_series=series)
            model.calibrator_ = QuantileCalibrator(LEVELS, model.calibrate_on).fit(point, train)
            seconds = time.perf_counter() - t0
            model.quantiles_ = LEVELS
            q = model.predict_distribution(7, future).quantiles.reshape(-1, len(LEVELS))[ok]
            row = {"seconds": round(seconds, 1)}
            for j, level in enumerate(LEVELS):
                row[f"pinball_{level:g}"] = pinball(y[ok], q[:, j], level)
                row[f"coverage_{level:g}"] = coverage(y[ok], q[:, j])
            row["interval"] = float(np.mean((y[ok] >= q[:, 0]) & (y[ok] <= q[:, -1])))
            name = f"share {share:g}" + ("" if series is None else f", series {series}")
            scores[name] = row
            print(origin, name, json.dumps({k: round(v, 4) for k, v in row.items()}), file=sys.stderr, flush=True)
    if args.json:
        write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
