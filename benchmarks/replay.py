"""Replay benchmark: the last two weeks of the shared data (default 2024-06-05 .. 06-18) for
all 50,000 series, ordering policies side by side on the same real demand.

Policies: the stores' rule of thumb (order up to last week's sales + a safety share), ordering
up to the mean forecast, freshcast's optimizer, and the hindsight bound; plus the
trade-off curves (waste vs fill rate) of the rule of thumb as its safety share moves and of
the optimizer as its service weight moves. Master data are freshcast's documented
assumptions (`freshcast.optimize.master.ASSUMPTIONS`).

    python benchmarks/replay.py --json benchmarks/replay.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import date

from daily import DEFAULT_DATA, Stages, _day

SAFETY_SHARES = (0.0, 0.1, 0.2, 0.3, 0.5)
SERVICE_WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0)


def main() -> None:
    from freshcast.data import load_history
    from freshcast.forecast import DailyForecaster
    from freshcast.optimize.master import assume_master_data
    from freshcast.simulate.policies import MeanForecast, Optimizer, RuleOfThumb
    from freshcast.simulate.replay import REPLAY_QUANTILES, replay

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--first-day", default="2024-06-05", help="first replayed day; the history ends the day before")
    ap.add_argument("--last-day", help="last replayed day (default: the last day of the data)")
    ap.add_argument("--json")
    args = ap.parse_args()
    st = Stages()
    with st.stage("load"):
        panel = load_history(args.data)
    if args.last_day:
        panel = panel.until(_day(args.last_day))
    first = _day(args.first_day)
    history = panel.until(first - 1)
    master = assume_master_data(history)
    model = DailyForecaster(quantiles=REPLAY_QUANTILES, seed=0)
    with st.stage("fit_forecaster"):
        model.fit(history)
    policies = [RuleOfThumb(s, name=f"rule_of_thumb_{s:g}") for s in SAFETY_SHARES]
    policies += [Optimizer(w, name=f"optimizer_{w:g}") for w in SERVICE_WEIGHTS]
    policies += [MeanForecast()]  # the replay adds the hindsight bound
    with st.stage("replay"):
        result = replay(panel, first, model, master, policies, progress=lambda m: print(m, file=sys.stderr))
    s = result.summary
    for name, row in s.items():
        row["decision_seconds"] = round(result.seconds[name], 2)
    ref, best = s["rule_of_thumb_0.2"], s["hindsight"]
    for name, row in s.items():
        gap = ref["total_cost"] - best["total_cost"]
        row["gap_closed"] = (ref["total_cost"] - row["total_cost"]) / gap if gap > 0 else float("nan")
    head = ("fill", 6), ("waste%", 7), ("lost", 9), ("margin", 10), ("cost", 10), ("gap", 6), ("s", 6)
    print(f"{'policy':22s}" + "".join(f" {h:>{w}s}" for h, w in head))
    for name, row in s.items():
        print(
            f"{name:22s} {row['fill_rate']:6.3f} {row['waste_pct']:7.2f} {row['units_lost']:9.0f} "
            f"{row['gross_margin']:10.0f} {row['total_cost']:10.0f} {row['gap_closed']:6.1%} "
            f"{row['decision_seconds']:6.1f}"
        )
    if args.json:
        record = {
            "date": str(date.today()),
            "machine": f"{platform.machine()}, {platform.python_version()}",
            "first_day": args.first_day,
            "command": " ".join(["python", "benchmarks/replay.py", *sys.argv[1:]]),
            "days": int(panel.last_day - first + 1),
            "series": panel.n_series,
            "assumptions": master.notes,
            "stages": st.rows,
            "policies": s,
        }
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=2)


if __name__ == "__main__":
    main()
