"""The nightly run's cost: its overhead over calling the stages' commands one by one, and the
numba compilation it pays on an empty cache.

    python benchmarks/nightly.py [--city 03] [--json benchmarks/nightly.json]

1. Overhead: on one city of the shared data (ASSUMED tables from `init-config --history`),
   `freshcast run --force` beside the same work done by `make-future`, `forecast`,
   `plan-orders` and `plan-prices`, each timed twice (warm numba cache, the better of two).
2. Cold start: `freshcast run` on the embedded sample with NUMBA_CACHE_DIR empty, then again
   (the cache now filled); the difference is the compilation, listed per kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import check_output, machine, write_json

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "freshretailnet-50k" / "hourly"
FRESHCAST = [sys.executable, "-m", "freshcast.cli"]

PROFILE = """
import json, sys, time, collections
from numba.core import event
seconds, stack = collections.defaultdict(float), []
class Listener(event.Listener):
    def on_start(self, e):
        stack.append(time.perf_counter())
    def on_end(self, e):
        t = time.perf_counter() - stack.pop()
        if not stack:  # top-level compilations only (they include what they call)
            f = e.data["dispatcher"].py_func
            seconds[f"{f.__module__}.{f.__name__}"] += t
event.register("numba:compile", Listener())
t0 = time.perf_counter()
from freshcast import api
api.run(sys.argv[1], force=True)
print(json.dumps({"wall": time.perf_counter() - t0, "kernels": dict(seconds)}))
"""


def timed(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def overhead(city: str, work: Path) -> dict:
    history = work / "history"
    history.mkdir()
    (history / f"city_id={city}").symlink_to(SHARED / f"city_id={city}")
    config = work / "freshcast.toml"
    subprocess.run([*FRESHCAST, "init-config", str(config), "--history", str(history)], check=True, capture_output=True)
    inputs = work / "freshcast_inputs"
    first = subprocess.run([*FRESHCAST, "run", "--config", str(config)], check=True, capture_output=True, text=True)
    date = first.stdout.split(":")[0].strip()  # "2024-06-19: all stages done ..."
    direct = [
        [*FRESHCAST, "make-future", "--history", str(history), "--days", "7", "--out", str(work / "future.parquet")],
        [*FRESHCAST, "forecast", "--history", str(history), "--future", str(work / "future.parquet"),
         "--out", str(work / "pred.parquet")],
        [*FRESHCAST, "plan-orders", "--forecast", str(work / "pred.parquet"), "--products", str(inputs / "products.csv"),
         "--inventory", str(inputs / "inventory.csv"), "--terms", str(inputs / "terms.csv"), "--out", str(work / "po")],
        [*FRESHCAST, "plan-prices", "--forecast", str(work / "pred.parquet"), "--products", str(inputs / "products.csv"),
         "--inventory", str(inputs / "inventory.csv"), "--labels", str(inputs / "labels.csv"), "--evening-hour", "19",
         "--out", str(work / "pl")],
    ]  # fmt: skip
    run_cmd = [*FRESHCAST, "run", "--config", str(config), "--force"]
    steps, runs = [], []
    for _ in range(2):
        steps.append([timed(c) for c in direct])
        runs.append(timed(run_cmd))
    manifest = json.loads((work / "runs" / date / "manifest.json").read_text())
    best = min(steps, key=sum)
    return {
        "city": city, "date": date, "series": manifest["stages"]["validate"]["rows"]["series"],
        "direct_seconds": dict(zip(("make-future", "forecast", "plan-orders", "plan-prices"), best)),
        "direct_total": sum(best), "run_total": min(runs),
        "run_stage_seconds": {k: v.get("seconds") for k, v in manifest["stages"].items()},
        "overhead_pct": 100 * (min(runs) / sum(best) - 1),
    }  # fmt: skip


def cold_start(work: Path) -> dict:
    config = work / "freshcast.toml"
    subprocess.run([*FRESHCAST, "init-config", str(config)], check=True, capture_output=True)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(work / "numba-cache")}
    out = {}
    for name in ("cold", "warm"):
        result = subprocess.run([sys.executable, "-c", PROFILE, str(config)], check=True, capture_output=True,
                                text=True, env=env)  # fmt: skip
        out[name] = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "cold_wall": out["cold"]["wall"], "warm_wall": out["warm"]["wall"],
        "compile_seconds": sum(out["cold"]["kernels"].values()),
        "kernels": dict(sorted(out["cold"]["kernels"].items(), key=lambda kv: -kv[1])),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--city", default="03")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    check_output(args.json)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        result = {"cold_start": cold_start(Path(a)), "overhead": overhead(args.city, Path(b))}
    result["when"] = time.strftime("%Y-%m-%d")
    result["machine"] = machine()
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
