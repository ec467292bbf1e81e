"""Replay benchmark: ordering policies side by side on the same real demand, for all 50,000
series of the shared data, on weekly windows (default: 2024-06-05..11 and 06-12..18, each
with the history before it), on recovered and on observed demand.

Every policy of `freshcast replay` (the baselines with their settings chosen on the week
before each window, freshcast's optimizer and mean-forecast policies, the hindsight bound),
plus the trade-off curves: the optimizer at several service weights and each baseline at
every setting of its grid (waste against fill rate). Master data are freshcast's documented
assumptions (`freshcast.optimize.master.ASSUMPTIONS`).

    python benchmarks/replay.py --json benchmarks/replay.json

The optimizer's settings and the replay forecaster were chosen with the same script on two
earlier windows of four cities (never on the windows above):

    python benchmarks/replay.py --data <cities 3, 6, 12, 13> \\
        --windows 2024-05-22:2024-05-28,2024-05-29:2024-06-04 --demand recovered \\
        --forecaster '{"n_estimators": 160, "learning_rate": 0.125}' --weights 0.8,1,1.25
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date

import numpy as np
from common import DEFAULT_DATA, _day, check_data, check_days, check_output, data_span, machine, versions, write_json

WEIGHTS = (0.5, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)
KEYS = ("fill_rate", "waste_pct", "units_lost", "gross_margin", "ending_stock_value", "total_cost", "gap_closed")


def curve_policies(weights):
    """The trade-off curves: the optimizer at each service weight and every baseline setting."""
    from freshcast.simulate.policies import BASELINES, Optimizer

    policies = [Optimizer(w, name=f"optimizer w={w:g}") for w in weights if w != 1.0]
    for cls, (param, values) in BASELINES.items():
        policies += [cls(**{param: v, "name": f"{cls().name} {param}={v}"}) for v in values]
    return policies


def waste_at_fill(summary: dict, prefix: str, fill: float) -> float:
    """Waste % of a policy family's curve at fill rate `fill`: linear between its points; below
    its lowest fill rate, the waste of that point (which fills more: conservative); NaN above
    its highest."""
    points = sorted((v["fill_rate"], v["waste_pct"]) for k, v in summary.items() if k.startswith(prefix))
    f, w = np.array(points).T
    return float(np.interp(fill, f, w, left=w[0], right=np.nan))


def run_window(panel, first: int, last: int, forecaster_params: dict, weights, demands, say) -> dict:
    from freshcast.forecast import DailyForecaster
    from freshcast.optimize.master import assume_master_data
    from freshcast.simulate.policies import default_policies
    from freshcast.simulate.replay import OBSERVED_FORECASTER, replay

    window = panel.until(last)
    history = window.until(first - 1)
    master = assume_master_data(history)
    out = {}
    for kind in demands:
        t0 = time.perf_counter()
        params = forecaster_params if kind == "recovered" else {**OBSERVED_FORECASTER, "seed": 0}
        model = DailyForecaster(**params).fit(history)
        fit = {"fit_seconds": round(time.perf_counter() - t0, 1), **{k: round(v, 1) for k, v in model.fit_seconds_.items()}}
        t0 = time.perf_counter()
        r = replay(window, first, model, master, default_policies() + curve_policies(weights), demand=kind, log=False,
                   progress=say)  # fmt: skip
        s = r.summary
        base = min((k for k in ("weekday_mean_4w", "moving_average_7d", "newsvendor_naive", "rule_of_thumb")),
                   key=lambda k: s[k]["total_cost"])  # fmt: skip
        gap = s[base]["total_cost"] - s["hindsight"]["total_cost"]
        for row in s.values():  # against the cheapest baseline as chosen on the week before, not the curves
            row["gap_closed"] = (s[base]["total_cost"] - row["total_cost"]) / gap
        at_fill = waste_at_fill(s, "optimizer", s[base]["fill_rate"])
        out[kind] = {
            "forecaster_fit": fit,
            "seconds": round(time.perf_counter() - t0, 1),
            "cheapest_baseline": base,
            "optimizer_waste_pct_at_its_fill_rate": round(at_fill, 3),
            "waste_cut_at_equal_fill": round(1 - at_fill / s[base]["waste_pct"], 3),
            "baselines_chosen_on": r.baselines_chosen,
            "policies": {k: {c: round(v[c], 4) for c in KEYS} for k, v in s.items()},
        }
        say(f"{kind}: cheapest baseline {base}; optimizer gap closed {s['optimizer']['gap_closed']:.3f}")
    return out


def main() -> None:
    from freshcast.data import load_history
    from freshcast.simulate.replay import REPLAY_FORECASTER

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--windows", default="2024-06-05:2024-06-11,2024-06-12:2024-06-18", help="FIRST:LAST,...")
    ap.add_argument("--demand", default="recovered,observed")
    ap.add_argument("--forecaster", default="{}", help="JSON: DailyForecaster parameters over the replay's own "
                    "(recovered demand; observed demand uses the default forecaster)")
    ap.add_argument("--weights", default=",".join(f"{w:g}" for w in WEIGHTS), help="optimizer service weights")
    ap.add_argument("--json")
    args = ap.parse_args()
    check_data(args.data)
    check_output(args.json)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    check_days(data_span(args.data), args.windows, "--windows", windows=True)
    t0 = time.perf_counter()
    panel = load_history(args.data)
    load_seconds = round(time.perf_counter() - t0, 1)
    params = {**REPLAY_FORECASTER, "seed": 0, **json.loads(args.forecaster)}
    weights = [float(w) for w in args.weights.split(",")]
    results = {}
    for spec in args.windows.split(","):
        a, b = spec.split(":")
        results[spec] = run_window(panel, _day(a), _day(b), params, weights, args.demand.split(","), say)
        for kind in args.demand.split(","):
            r = results[spec][kind]
            print(f"\n{spec} demand {kind} (cheapest baseline {r['cheapest_baseline']}; optimizer waste at its fill "
                  f"rate {r['optimizer_waste_pct_at_its_fill_rate']:.2f}%, cut {r['waste_cut_at_equal_fill']:.1%})")  # fmt: skip
            print(f"{'policy':34s}" + "".join(f" {k[:12]:>12s}" for k in KEYS))
            for name, row in r["policies"].items():
                print(f"{name:34s}" + "".join(f" {row[k]:12.3f}" for k in KEYS))
    if args.json:
        record = {
            "date": str(date.today()),
            "machine": machine(),
            "versions": versions(),
            "command": " ".join(["python", "benchmarks/replay.py", *sys.argv[1:]]),
            "series": panel.n_series,
            "load_seconds": load_seconds,
            "forecaster": {k: str(v) for k, v in params.items()},
            "windows": results,
        }
        write_json(args.json, record, indent=2)


if __name__ == "__main__":
    main()
