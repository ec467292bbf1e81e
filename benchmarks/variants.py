"""DailyForecaster settings side by side at weekly origins on the full shared data: each
variant (keyword arguments over freshcast's defaults) is trained once per origin on the
history up to it, exactly as `freshcast tune` scores a trial (mean model, no quantiles), and
scored on the days after it: WAPE / WPE of the mean, all days and in-stock days.

    python benchmarks/variants.py --origins 2024-05-07,2024-05-14 \\
        --variants '{"units only": {"relative_model": false}, "default": {}}' --json benchmarks/variants.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import DEFAULT_DATA, _day, check_data, check_days, check_output, data_span, report_head, write_json

from freshcast.data import load_history
from freshcast.forecast import DailyForecaster
from freshcast.forecast.metrics import wape, wpe
from freshcast.forecast.tune import forecast_after


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--origins", required=True, help="last training days, comma-separated")
    ap.add_argument("--variants", required=True, help="JSON: name -> DailyForecaster keyword arguments")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the figures to this JSON file")
    args = ap.parse_args()
    check_data(args.data)
    check_output(args.json)
    try:
        variants = json.loads(args.variants)
        if not (isinstance(variants, dict) and all(isinstance(v, dict) for v in variants.values())):
            raise ValueError("not an object of objects")
        for settings in variants.values():
            DailyForecaster(**settings)
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"--variants: expected JSON like '{{\"name\": {{\"n_estimators\": 80}}}}' of DailyForecaster "
                         f"keyword arguments ({str(exc).splitlines()[0]})") from None  # fmt: skip
    check_days(data_span(args.data), args.origins, "--origins", horizon=args.horizon)
    panel = load_history(args.data)
    in_stock = panel.in_stock()
    report = {**report_head(), "variants": variants, "origins": {}}
    for origin in args.origins.split(","):
        scores = report["origins"][origin] = {}
        for name, params in variants.items():
            t0 = time.perf_counter()
            mean, pos = forecast_after(panel, params, _day(origin), args.horizon, args.seed)
            y, f, k = panel.sales[pos].ravel(), mean.ravel(), in_stock[pos].ravel()
            scores[name] = {"wape": wape(y, f), "wpe": wpe(y, f), "wape_in_stock": wape(y[k], f[k]),
                            "wpe_in_stock": wpe(y[k], f[k]), "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
            print(origin, name, json.dumps({m: round(v, 4) for m, v in scores[name].items()}), file=sys.stderr, flush=True)
    if args.json:
        write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
