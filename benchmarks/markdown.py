"""Markdown benchmark: ordering and pricing replayed together on real (recovered) demand, for
all 50,000 series of the shared data, on the last two weeks (2024-06-05..11 and 06-12..18,
each with the history before it), with the simulator's price response at 0.5, 1 and 1.5 times
the one freshcast estimated from that history (the optimizer always plans with the estimate).

Every markdown policy of `freshcast replay --markdowns` (no_markdown, last_day_30,
ladder_30_60, optimizer, hindsight) with freshcast's orders: gross margin, waste %, fill rate,
markdown spend, label changes, total cost, and paired bootstrap 95% intervals over series of
the optimizer's margin and waste against no_markdown and against the best rule. Master data
are freshcast's documented assumptions. Also the optimizer's markdown planning time per day.

    python benchmarks/markdown.py --json benchmarks/markdown.json

Orders that count on the last day's markdowns were tried on an earlier window of four cities
and not kept:

    python benchmarks/markdown.py --data <cities 3, 6, 12, 13> --windows 2024-05-29:2024-06-04 --joint-orders 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import date

import numpy as np
from common import DEFAULT_DATA, _day, check_data, check_days, check_output, data_span, machine, versions, write_json

RULES = ("no_markdown", "last_day_30", "ladder_30_60")
BOOTSTRAP = 1000


def interval(a: np.ndarray, b: np.ndarray, seed: int = 0) -> list[float]:
    """Paired bootstrap 95% interval over lines of sum(a) - sum(b)."""
    rng = np.random.default_rng(seed)
    d = a - b
    draws = [d[rng.integers(0, len(d), len(d))].sum() for _ in range(BOOTSTRAP)]
    return [float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))]


def waste_interval(a: dict, b: dict, seed: int = 0) -> list[float]:
    """Paired bootstrap 95% interval over lines of the relative change of waste % (a vs b)."""
    rng = np.random.default_rng(seed)
    n = len(a["wasted"])
    out = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, n, n)
        wa, wb = a["wasted"][i].sum() / a["received"][i].sum(), b["wasted"][i].sum() / b["received"][i].sum()
        out.append(wa / wb - 1)
    return [float(np.quantile(out, 0.025)), float(np.quantile(out, 0.975))]


def run_window(panel, first: int, last: int, scales, say, joint_orders: bool, evening_hour: int) -> dict:
    from freshcast.forecast import DailyForecaster
    from freshcast.forecast.price_response import PriceResponse
    from freshcast.optimize import markdown
    from freshcast.optimize.master import assume_master_data
    from freshcast.simulate.policies import Optimizer
    from freshcast.simulate.replay import REPLAY_FORECASTER, _run_markdowns, price_world
    from freshcast.simulate.scoring import served_demand

    whole = panel.until(last)
    history = whole.until(first - 1)
    T = last - first + 1
    master = assume_master_data(history)
    t0 = time.perf_counter()
    forecasts = DailyForecaster(**REPLAY_FORECASTER, seed=0).fit(history).predict_each_day(whole, first, T)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    response = PriceResponse().fit(history)
    response_s = time.perf_counter() - t0
    demand = served_demand(whole, first, "recovered")
    out = {"forecaster_s": fit_s, "price_response_s": response_s, "pooled_elasticity": response.pooled_["elasticity"],
           "scales": {}}  # fmt: skip
    planning = []
    original = markdown._plan

    def timed(*args):
        t = time.perf_counter()
        result = original(*args)
        planning.append((len(args[0]), time.perf_counter() - t))
        return result

    markdown._plan = timed
    try:
        # the same for every scale but the scale
        about = price_world(whole, first, history, 1.0, response, evening_hour=evening_hour)
        for scale in scales:
            world = replace(about, scale=scale)
            lines = {}
            t0 = time.perf_counter()
            summary = _run_markdowns(whole, first, demand, master, Optimizer(), forecasts, world, None, lines,
                                     joint_orders)  # fmt: skip
            run_s = time.perf_counter() - t0
            best_rule = max(RULES[1:], key=lambda r: summary[r]["gross_margin"])
            best = max(RULES, key=lambda r: summary[r]["gross_margin"])
            opt, hind = summary["optimizer"]["gross_margin"], summary["hindsight"]["gross_margin"]
            gap = hind - summary[best]["gross_margin"]
            row = {
                "policies": summary,
                "run_s": run_s,
                "best_sticker_rule": best_rule,
                "best_rule": best,
                "margin_gap_closed": (opt - summary[best]["gross_margin"]) / gap if gap > 0 else float("nan"),
                "optimizer_waste_vs_no_markdown": summary["optimizer"]["waste_pct"] / summary["no_markdown"]["waste_pct"] - 1,
                "bootstrap_95": {
                    "margin_optimizer_minus_no_markdown": interval(lines["optimizer"]["gross_margin"],
                                                                   lines["no_markdown"]["gross_margin"]),
                    f"margin_optimizer_minus_{best_rule}": interval(lines["optimizer"]["gross_margin"],
                                                                   lines[best_rule]["gross_margin"]),
                    "waste_pct_optimizer_vs_no_markdown": waste_interval(lines["optimizer"], lines["no_markdown"]),
                },
            }  # fmt: skip
            out["scales"][str(scale)] = row
            say(f"  scale {scale}: " + ", ".join(f"{k} margin {v['gross_margin']:,.0f} waste {v['waste_pct']:.2f}%"
                                                  for k, v in summary.items()) + f" ({run_s:.0f} s)")  # fmt: skip
    finally:
        markdown._plan = original
    n_lines = max(n for n, _ in planning)
    full = [s for n, s in planning if n == n_lines]
    out["optimizer_plan_s_per_day"] = {"lines": n_lines, "median": float(np.median(full)), "max": float(np.max(full))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--windows", default="2024-06-05:2024-06-11,2024-06-12:2024-06-18")
    parser.add_argument("--scales", default="0.5,1,1.5")
    parser.add_argument("--joint-orders", type=int, choices=(0, 1), default=0,
                        help="1: the optimizer's and the hindsight's orders count on the last day's markdowns")
    parser.add_argument("--evening-hour", type=int, choices=range(7, 24), default=19, metavar="7..23",
                        help="the hour of the evening markdown step and of each day's split")
    parser.add_argument("--min-gain", type=float, default=None,
                        help="the optimizer's least expected gain of a label change, share of a unit's regular price "
                             "(default: plan-prices' default)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    check_data(args.data)
    check_output(args.json)
    from freshcast.data import load_history
    from freshcast.simulate import markdowns

    if args.min_gain is not None:
        markdowns.MIN_GAIN = args.min_gain  # what the replay's optimizer plans with (the hindsight: none)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    check_days(data_span(args.data), args.windows, "--windows", windows=True)
    t0 = time.perf_counter()
    panel = load_history(args.data)
    say(f"loaded {panel.n_series:,} series in {time.perf_counter() - t0:.0f} s")
    scales = [float(s) for s in args.scales.split(",")]
    result = {"command": " ".join(["python", *sys.argv]), "date": str(date.today()), "machine": machine(),
              "versions": versions(), "data": args.data,
              "series": panel.n_series, "evening_hour": args.evening_hour, "min_gain": markdowns.MIN_GAIN,
              "complete": False, "windows": {}}  # fmt: skip
    windows = args.windows.split(",")
    for k, window in enumerate(windows, start=1):
        a, b = window.split(":")
        say(f"window {a} .. {b}")
        result["windows"][window] = run_window(panel, _day(a), _day(b), scales, say, bool(args.joint_orders),
                                               args.evening_hour)  # fmt: skip
        result["complete"] = k == len(windows)  # false: a run stopped before its last window
        if args.json:
            write_json(args.json, result, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
