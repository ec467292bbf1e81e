"""How to split the daily forecast into hours: hourly WAPE of the default daily model's mean
split by candidate intraday profiles, on all series, at weekly origins (all 24 hours of the 7
days after each origin, scored against the sales).

    python benchmarks/hour_split.py --origins 2024-05-07,2024-05-14 --json benchmarks/hour_split.json

Profiles: `demand r`, the exponentially weighted share of demand per hour (alpha 0.05) with
stockout shop hours counted at r x their recovered demand (r = 0: sales as observed; 0.25 was
the split before 2026-12-05); `sales b`, the full demand profile times each hour's in-stock
share over recent days (exponential weight b per day), normalised: freshcast's split
(`forecast.hourly.sales_profile`, b = 0.2, chosen on the two origins above).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from common import DEFAULT_DATA, _day, report_head, write_json

from freshcast.data import load_history
from freshcast.forecast import DailyForecaster
from freshcast.forecast.hourly import demand_profile, sales_profile

RECOVERY = (0.0, 0.25, 1.0)
IN_STOCK = (0.05, 0.1, 0.2, 0.3, 0.5)


def profiles(train) -> dict[str, np.ndarray]:
    """Each candidate's (n_series, 24) shares as of the history's last day."""
    out = {f"demand {r:g}": demand_profile(train, r) for r in RECOVERY}
    return out | {f"sales {b:g}": sales_profile(train, in_stock_alpha=b) for b in IN_STOCK}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--origins", default="2024-05-07,2024-05-14", help="last training days")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--json", help="write the figures to this JSON file")
    args = ap.parse_args()
    panel = load_history(args.data)
    report = {**report_head(), "origins": {}}
    for origin in args.origins.split(","):
        cut = _day(origin)
        train, kept = panel.until(cut), np.flatnonzero(panel.start <= cut)
        model = DailyForecaster(max_horizon=args.horizon, quantiles=(), seed=0).fit(train)
        mean = model.predict_distribution(args.horizon, panel.future(cut + 1, args.horizon, kept)).mean
        pos = panel.positions(cut + 1 + np.arange(args.horizon)[None, :], kept)
        actual = panel.hour_sales[pos].astype(np.float64)  # (n, horizon, 24)
        total = actual.sum()
        scores = {"daily_wape": float(np.abs(actual.sum(axis=2) - mean).sum() / total)}
        for name, shares in profiles(train).items():
            hours = mean[:, :, None] * shares[:, None, :]
            scores[name] = float(np.abs(actual - hours).sum() / total)
        report["origins"][origin] = scores
        print(origin, json.dumps({k: round(v, 4) for k, v in scores.items()}), file=sys.stderr, flush=True)
    if args.json:
        write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
