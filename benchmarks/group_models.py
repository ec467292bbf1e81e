"""A LightGBM model per group of series (a management group, a city) beside the default
global one: each trained as `freshcast tune` scores a trial (the default settings, mean
models, no quantiles) on the history up to each origin, the group's own series only; scored
on the 7 days after it, alone and averaged with the global model. An exploration of the
tuning issue's accuracy candidates, not a setting of the library (yet).

    python benchmarks/group_models.py --keys management_group_id,city_id \\
        --origins 2024-05-07,2024-05-14 --json benchmarks/group_models.json
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
from freshcast.forecast.metrics import wape, wpe
from freshcast.forecast.tune import forecast_after


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--keys", required=True, help="series attributes that group the series, comma-separated")
    ap.add_argument("--origins", required=True, help="last training days, comma-separated")
    ap.add_argument("--json", help="write the figures to this JSON file")
    args = ap.parse_args()
    keys = args.keys.split(",")
    panel = load_history(args.data)
    in_stock = panel.in_stock()
    report = {**report_head(), "keys": keys, "origins": {}}
    for origin in args.origins.split(","):
        cut = _day(origin)
        t0 = time.perf_counter()
        whole, pos = forecast_after(panel, {}, cut, 7)
        forecasts, seconds = {"global": whole}, {"global": round(time.perf_counter() - t0, 1)}
        kept = np.flatnonzero(panel.start <= cut)
        for key in keys:
            t0 = time.perf_counter()
            groups, by_group = panel.series[key].to_numpy(), np.full_like(whole, np.nan)
            for g in np.unique(groups[kept]):
                idx = kept[groups[kept] == g]
                by_group[np.searchsorted(kept, idx)] = forecast_after(panel.take(idx), {}, cut, 7)[0]
            forecasts[key], forecasts[f"mean of global and {key}"] = by_group, (whole + by_group) / 2
            seconds[key] = round(time.perf_counter() - t0, 1)
        if len(keys) > 1:
            forecasts["mean of all"] = sum(forecasts[k] for k in ["global", *keys]) / (1 + len(keys))
        y, k = panel.sales[pos].ravel(), in_stock[pos].ravel()
        scores = report["origins"][origin] = {"seconds": seconds}
        for name, f in forecasts.items():
            f = f.ravel()
            scores[name] = {"wape": wape(y, f), "wpe": wpe(y, f), "wape_in_stock": wape(y[k], f[k]),
                            "wpe_in_stock": wpe(y[k], f[k])}  # fmt: skip
        print(origin, json.dumps({n: round(v["wape"], 4) for n, v in scores.items() if n != "seconds"}),
              file=sys.stderr, flush=True)  # fmt: skip
    if args.json:
        write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
