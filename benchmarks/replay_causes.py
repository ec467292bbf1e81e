"""Where the optimizer's remaining gap to the hindsight bound comes from (a diagnostic, not
a policy: it uses the replayed days' demand).

For each window the replay's forecaster is fitted once and the optimizer replayed twice:
with its own forecasts, and with the same forecasts rescaled per target day so that their
sum over all series equals that day's actual demand (mean and quantiles alike). The second
keeps every series' error around the chain's level and removes only the error common to all
series on a day (a holiday, a busy weekend, the weather): the gap it closes beyond the first
is what forecasting the day's chain-wide level would be worth.

Then, with `--sharper`, the optimizer is replayed with forecasts made sharper by a share k:
every mean forecast, those of the held-out days the quantiles are calibrated on and those of
each replayed day, is moved k of the way to the demand that happened, so each error shrinks
by exactly k (relative) and the quantile table, refitted on the shrunk held-out errors,
narrows with it: how much the gap closed would gain from a forecast whose errors against
demand were k smaller, everywhere.

    python benchmarks/replay_causes.py --sharper 0.05,0.1,0.2 --json benchmarks/replay_causes.json
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import date

import numpy as np
from common import DEFAULT_DATA, _day, check_data, check_output, machine, write_json


class LevelOracle:
    """The fitted forecaster's forecasts, each target day rescaled to the actual chain-wide
    demand of that day."""

    def __init__(self, model, demand: np.ndarray, first_day: int):
        self.model, self.demand, self.first_day = model, demand, first_day
        self.quantiles, self.booster_ = model.quantiles, model.booster_

    def predict_each_day(self, panel, first_day, n_days, pooled=None, days=None):
        out = []  # every day of every series (`days` not used): the scale is the chain's whole day
        for f in self.model.predict_each_day(panel, first_day, n_days, pooled):
            t0 = f.first_day - self.first_day
            k = min(f.horizon, self.demand.shape[1] - t0)
            scale = np.ones(f.horizon, np.float32)
            scale[:k] = self.demand[:, t0 : t0 + k].sum(axis=0) / np.maximum(f.mean[:, :k].sum(axis=0), 1e-9)
            out.append(replace(f, mean=f.mean * scale, quantiles=f.quantiles * scale[None, :, None]))
        return out


class Sharper:
    """The fitted forecaster with every mean forecast moved `share` of the way to the demand
    that happened (held-out days and replayed days alike), its quantiles from the held-out
    errors shrunk the same way."""

    def __init__(self, model, share: float):
        self.model, self.share = model, share
        self.quantiles, self.booster_ = model.quantiles, model.booster_

    def predict_each_day(self, panel, first_day, n_days, pooled=None, days=None):
        from freshcast.features.latent import recovered_demand

        model, k, truth = self.model, self.share, recovered_demand(panel)
        held = model.calibrator_.holdout_
        sharp = replace(held, mean=((1 - k) * held.mean + k * held.demand).astype(np.float32))
        own = type(model).predict_rows

        def sharp_rows(rows, pooled=None):
            return ((1 - k) * own(model, rows, pooled) + k * truth[rows.target]).astype(np.float32)

        model.predict_rows = sharp_rows
        model.calibrator_.holdout_ = sharp
        try:
            return model.predict_each_day(panel, first_day, n_days, pooled, days)
        finally:
            del model.predict_rows
            model.calibrator_.holdout_ = held


def main() -> None:
    from freshcast.data import load_history
    from freshcast.forecast import DailyForecaster
    from freshcast.optimize.master import assume_master_data
    from freshcast.simulate.policies import Optimizer
    from freshcast.simulate.replay import REPLAY_FORECASTER, replay
    from freshcast.simulate.scoring import served_demand

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--windows", default="2024-06-05:2024-06-11,2024-06-12:2024-06-18", help="FIRST:LAST,...")
    ap.add_argument("--sharper", default="", help="shares by which the errors shrink, comma-separated (e.g. 0.05,0.1)")
    ap.add_argument("--json")
    args = ap.parse_args()
    check_data(args.data)
    check_output(args.json)
    panel = load_history(args.data)
    results = {}
    for spec in args.windows.split(","):
        first, last = (_day(x) for x in spec.split(":"))
        window = panel.until(last)
        history = window.until(first - 1)
        master = assume_master_data(history)
        model = DailyForecaster(**REPLAY_FORECASTER, seed=0).fit(history)
        demand = served_demand(window, first, "recovered")
        row = {}
        variants = [("own forecasts", model), ("chain-wide daily level known", LevelOracle(model, demand, first))]
        variants += [(f"errors {float(k):.0%} smaller", Sharper(model, float(k))) for k in filter(None, args.sharper.split(","))]
        for label, forecaster in variants:
            s = replay(window, first, forecaster, master, [Optimizer()], log=False).summary
            base = min((k for k in s if k not in ("optimizer", "hindsight")), key=lambda k: s[k]["total_cost"])
            gap = s[base]["total_cost"] - s["hindsight"]["total_cost"]
            o = s["optimizer"]
            row[label] = {"gap_closed": round((s[base]["total_cost"] - o["total_cost"]) / gap, 4),
                          "fill_rate": round(o["fill_rate"], 4), "waste_pct": round(o["waste_pct"], 3),
                          "total_cost": round(o["total_cost"], 1), "cheapest_baseline": base}  # fmt: skip
            print(spec, label, row[label], flush=True)
        results[spec] = row
    if args.json:
        record = {"date": str(date.today()), "machine": machine(),
                  "command": " ".join(["python", "benchmarks/replay_causes.py", *sys.argv[1:]]), "windows": results}  # fmt: skip
        write_json(args.json, record, indent=2)


if __name__ == "__main__":
    main()
