"""Threads under contention: a one-city fit (city 8, 65 series, quantiles on: two LightGBM
fits) timed alone and beside another freshcast job that trains on three cities in a loop,
with OpenMP's default spin (freshcast's default), GOMP_SPINCOUNT=10000 and a passive wait
policy; and a three-city fit (4,240 series) alone, to see what each setting costs on an idle
machine. Each setting runs in its own process (OpenMP reads them when it loads).

    python benchmarks/threads.py --json benchmarks/threads.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import DEFAULT_DATA

FIT = """
import json, sys, time
import pyarrow.dataset as ds
from freshcast.data import load_history
from freshcast.forecast import DailyForecaster
data = ds.dataset(sys.argv[1], format="parquet", partitioning="hive")
panel = load_history(data.to_table(filter=ds.field("city_id").isin(json.loads(sys.argv[2]))))
n_jobs = int(sys.argv[3]) or None
DailyForecaster(seed=0, n_jobs=n_jobs).fit(panel)
times = []
for _ in range(int(sys.argv[4])):
    t = time.perf_counter(); DailyForecaster(seed=0, n_jobs=n_jobs).fit(panel); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
BUSY = """
import sys, time
import pyarrow.dataset as ds
from freshcast.data import load_history
from freshcast.forecast import DailyForecaster
data = ds.dataset(sys.argv[1], format="parquet", partitioning="hive")
panel = load_history(data.to_table(filter=ds.field("city_id").isin([1, 3, 4])))
print("ready", flush=True)
while True:
    DailyForecaster(seed=0).fit(panel)
"""
SETTINGS = {
    "OpenMP defaults": {},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "OMP_WAIT_POLICY=passive": {"OMP_WAIT_POLICY": "passive"},
}


def run(data: str, cities: list[int], env: dict, n_jobs: int, repeats: int) -> list[float]:
    full = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", FIT, data, json.dumps(cities), str(n_jobs), str(repeats)],
                         env=full, check=True, capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {}
    for name, env in SETTINGS.items():
        results[f"three cities alone | {name}"] = run(args.data, [1, 3, 4], env, 0, 2)
        results[f"city 8 alone | {name}"] = run(args.data, [8], env, 0, 5)
    busy = subprocess.Popen([sys.executable, "-c", BUSY, args.data], stdout=subprocess.PIPE, text=True)
    try:
        busy.stdout.readline()
        time.sleep(3)
        for name, env in SETTINGS.items():
            for n_jobs in (0, 1, 2):
                label = f"city 8 beside a training job | {name} | threads {n_jobs or 'default'}"
                results[label] = run(args.data, [8], env, n_jobs, 5)
    finally:
        busy.kill()
    for k, v in results.items():
        print(f"{k:80s} median {sorted(v)[len(v) // 2]:6.2f} s  ({', '.join(f'{x:.2f}' for x in v)})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
