"""Scale-out benchmark: the default forecast command (mean and quantiles, 7 days) on one
machine and on a Dask cluster of local worker processes, each in its own process, on the same
history and future files; wall time, peak memory of the client and of each worker, and WAPE /
WPE of the mean on the actual days.

    pip install ".[bench,dask]"
    python benchmarks/scale.py --train-end 2024-06-11 --workers 2 --json benchmarks/scale.json

The synthetic enlargement: `--enlarge 4` writes 4 copies of the history and future (store ids
remapped, copy k adding k x STORE_STRIDE) to disk once and runs them; `--memory-limit 8GB`
caps each worker (a Dask LocalCluster reached through its tcp:// address, as a cluster run by
hand is); `--engines` picks what runs:

    python benchmarks/scale.py --enlarge 4 --workers 4 --memory-limit 8GB --engines dask,local \
        --json benchmarks/scale_x4.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import DEFAULT_DATA, check_data, check_output, machine, write_json

KEYS = ["store_id", "product_id", "dt"]
STORE_STRIDE = 100_000  # copy k of the data has store ids + k x STORE_STRIDE


def enlarge(history: Path, future: Path, copies: int, out: Path) -> tuple[Path, Path]:
    """`copies` copies of the hive history and the future file, store ids remapped, in `out`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def shifted(table, k):
        i = table.schema.get_field_index("store_id")
        ids = table.column(i)
        return table.set_column(i, "store_id", pc.add(ids, pc.cast(k * STORE_STRIDE, ids.type)))

    for f in sorted(history.rglob("*.parquet")):
        t = pq.read_table(f, partitioning=None)
        assert pc.max(t["store_id"]).as_py() < STORE_STRIDE
        folder = out / "history" / f.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(copies):
            pq.write_table(shifted(t, k), folder / f"copy-{k}-{f.name}")
    t = pq.read_table(future)
    pq.write_table(pa.concat_tables([shifted(t, k) for k in range(copies)]), out / "future.parquet")
    return out / "history", out / "future.parquet"


def prepare(data: Path, last: str, out: Path) -> tuple[Path, Path]:
    """The history up to `last` (a hive copy) and the covariates of the 7 days after it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq
    from tune import history_until

    history = history_until(data, last, out / "history")
    first, end = dt.date.fromisoformat(last) + dt.timedelta(days=1), dt.date.fromisoformat(last) + dt.timedelta(days=7)
    source = ds.dataset(data, partitioning="hive")
    days = (pc.field("dt") >= pa.scalar(first)) & (pc.field("dt") <= pa.scalar(end))
    cols = [c for c in source.schema.names if c not in ("hourly_sale", "hourly_stockout")]
    pq.write_table(source.to_table(filter=days, columns=cols), out / "future.parquet")
    return history, out / "future.parquet"


def peak_gb() -> float:
    """This process's peak resident memory (VmHWM: since its exec; getrusage's maximum would
    carry over what the forking parent held)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 2**20, 2)
    return float("nan")


def run_engine(engine: str, history: str, future: str, out: str, workers: int, memory_limit: str | None) -> dict:
    """One engine's run in this process: the forecast table written to `out`, its figures."""
    from freshcast.forecast.job import forecast_table, forecaster

    t0 = time.perf_counter()
    fig = {"engine": engine}
    if engine == "local":
        pred, _ = forecast_table(history, future)
    else:
        from freshcast.cluster.connect import connected
        from freshcast.cluster.forecast import forecast_on_dask

        if memory_limit:
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=memory_limit,
                                   dashboard_address=":0")  # fmt: skip
            scheduler = cluster.scheduler_address
            fig["memory_limit"] = memory_limit
        else:
            cluster, scheduler = None, f"local:{workers}"
        with connected(scheduler) as client:
            pred, _ = forecast_on_dask(client, history, future, lambda days: forecaster(days))
            fig["worker_peak_gb"] = sorted(client.run(peak_gb).values())
        if cluster is not None:
            cluster.close()
    fig["wall_seconds"] = round(time.perf_counter() - t0, 1)
    fig["client_peak_gb"] = peak_gb()
    pred.to_parquet(out)
    return fig


def score(data: Path, last: str, pred_path: str) -> dict:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    pred = pd.read_parquet(pred_path)
    pred["dt"] = pd.to_datetime(pred["dt"]).dt.date
    after = pc.field("dt") > pa.scalar(dt.date.fromisoformat(last))
    rows = ds.dataset(data, partitioning="hive").to_table(filter=after, columns=[*KEYS, "hourly_sale"]).to_pandas()
    keys = pred[KEYS].assign(store_id=pred["store_id"] % STORE_STRIDE)  # an enlarged copy's actuals are the original's
    actual = rows.groupby(KEYS)["hourly_sale"].sum().reindex(pd.MultiIndex.from_frame(keys)).to_numpy()
    f = pred["yhat"].to_numpy()
    return {"wape": round(float(np.abs(actual - f).sum() / actual.sum()), 4),
            "wpe": round(float((f.sum() - actual.sum()) / actual.sum()), 4)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--train-end", default="2024-06-11")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--enlarge", type=int, default=1, help="copies of the data (store ids remapped)")
    ap.add_argument("--memory-limit", help="each Dask worker's memory cap, e.g. 8GB")
    ap.add_argument("--engines", default="local,dask")
    ap.add_argument("--json")
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--files", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    check_data(args.data)
    check_output(args.json)
    if args.engine:  # a child: one engine, its figures as JSON on stdout
        print(json.dumps(run_engine(args.engine, *args.files, args.workers, args.memory_limit)))
        return
    results = {"date": str(dt.date.today()), "machine": machine(),
               "train_end": args.train_end, "workers": args.workers, "enlarge": args.enlarge,
               "memory_limit": args.memory_limit, "engines": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        history, future = prepare(Path(args.data), args.train_end, Path(tmp))
        if args.enlarge > 1:
            history, future = enlarge(history, future, args.enlarge, Path(tmp) / "enlarged")
        for engine in args.engines.split(","):
            out = str(Path(tmp) / f"{engine}.parquet")
            cmd = [sys.executable, __file__, "--engine", engine, "--workers", str(args.workers), "--files", str(history),
                   str(future), out, *(["--memory-limit", args.memory_limit] if args.memory_limit else [])]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                fig = {"engine": engine, "failed": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
                results["engines"].append(fig)
                continue
            fig = json.loads(done.stdout.strip().splitlines()[-1])
            fig["series"] = int(len(pd.read_parquet(out, columns=["store_id"])) // 7)
            fig.update(score(Path(args.data), args.train_end, out))
            print(json.dumps(fig), flush=True)
            results["engines"].append(fig)
    if args.json:
        write_json(args.json, results, indent=2)


if __name__ == "__main__":
    main()
