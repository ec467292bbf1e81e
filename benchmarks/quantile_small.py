"""Quantiles on small data: the ratio-table grid for single cities of the shared data, each
forecast on its own (65-444 series), scored on the in-stock days of a week the calibration
never saw.

The fixed grid (20 forecast-size x 4 volatility bins, 100 held-out pairs per bin) leaves a
city of a few hundred series with the pooled ratios only: one ratio per level on every row.
`bin_grid` picks a coarser grid for fewer pairs and shrinks its bins towards the pooled
ratios. Same fitted models for every variant (only the ratio table differs); two weeks:
train to 2024-06-04 (forecast 06-05..11; the defaults were chosen on it) and to 2024-06-11
(forecast 06-12..18; reported, not used for choosing).

    python benchmarks/quantile_small.py --json benchmarks/quantile_small.json
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from common import DEFAULT_DATA, _day, check_data, check_output, write_json

LEVELS = (0.1, 0.5, 0.9)
CITIES = (8, 9, 17, 10, 2, 7)  # the six smallest cities (65 .. 444 series)
WEEKS = ("2024-06-04", "2024-06-11")


def main() -> None:
    import pyarrow.dataset as ds

    from freshcast.data import load_history
    from freshcast.forecast import DailyForecaster
    from freshcast.forecast import quantiles as Q
    from freshcast.forecast.metrics import pinball

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--json")
    args = ap.parse_args()
    check_data(args.data)
    check_output(args.json)
    data = ds.dataset(args.data, format="parquet", partitioning="hive")
    default = (Q.bin_grid, Q.SMALL_PAIRS, Q.SHRINK_PAIRS)
    variants = {  # name: (grid function, SMALL_PAIRS, SHRINK_PAIRS)
        "fixed 20x4 grid (before)": (lambda n: (Q.LEVEL_BINS, Q.VOLATILITY_BINS, Q.MIN_PAIRS), *default[1:]),
        "bin_grid 40 pairs, no shrink": (Q.bin_grid, 40, 0),
        "bin_grid 40 pairs, shrink 40": (Q.bin_grid, 40, 40),
        "bin_grid 80 pairs, no shrink": (Q.bin_grid, 80, 0),
        f"bin_grid {default[1]} pairs, shrink {default[2]} (default)": default,
        "bin_grid 160 pairs, shrink 160": (Q.bin_grid, 160, 160),
    }
    rows = []
    for city in CITIES:
        panel = load_history(data.to_table(filter=ds.field("city_id") == city))
        for week in WEEKS:
            cut = _day(week)
            model = DailyForecaster(seed=0, quantiles=LEVELS).fit(panel.until(cut))
            future = panel.future(cut + 1, 7)
            pos = panel.positions(cut + 1 + np.arange(7)[None, :])
            in_stock = panel.in_stock()[pos].ravel()
            y = panel.sales[pos].ravel()[in_stock].astype(np.float64)
            for name, (grid, small, shrink) in variants.items():
                Q.bin_grid, Q.SMALL_PAIRS, Q.SHRINK_PAIRS = grid, small, shrink
                try:
                    pred = model.predict(7, future)
                finally:
                    Q.bin_grid, Q.SMALL_PAIRS, Q.SHRINK_PAIRS = default
                q = pred[["q10", "q50", "q90"]].to_numpy(np.float64)[in_stock]
                row = {
                    "city": city, "series": panel.n_series, "train_end": week, "variant": name,
                    "distinct_q90_ratios": int(np.unique(np.round(pred.q90 / pred.yhat.clip(1e-6), 4)).size),
                    "coverage_p10_p90": float(np.mean((y >= q[:, 0]) & (y <= q[:, 2]))),
                    "scaled_pinball": float(np.mean([pinball(y, q[:, j], lv) for j, lv in enumerate(LEVELS)]) / y.mean()),
                }  # fmt: skip
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    summary = {}
    for name in variants:
        for week in WEEKS:
            mine = [r for r in rows if r["variant"] == name and r["train_end"] == week]
            summary[f"{name} | train to {week}"] = {
                "scaled_pinball": round(float(np.mean([r["scaled_pinball"] for r in mine])), 5),
                "coverage_p10_p90": round(float(np.mean([r["coverage_p10_p90"] for r in mine])), 4),
                "distinct_q90_ratios": round(float(np.mean([r["distinct_q90_ratios"] for r in mine])), 1),
            }
    print(json.dumps(summary, indent=2))
    if args.json:
        write_json(args.json, {"rows": rows, "summary": summary}, indent=2)


if __name__ == "__main__":
    main()
