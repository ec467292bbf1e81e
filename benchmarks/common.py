"""What the benchmark scripts share: the data's place and columns, stage timing with peak
memory, the machine's description, the driver that runs each engine in its own process, and
the paired bootstrap interval of a WAPE difference."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np

from freshcast.data import contract as C
from freshcast.data.dates import day_number as _day

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "freshretailnet-50k" / "hourly"
KEYS = list(C.KEYS)
STATIC = [C.STORE, C.PRODUCT, *C.STATIC]
COVARIATES = list(C.COVARIATES)


# ------------------------------------------------------------------------ measurement
def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Stages:
    """Wall time and peak resident memory (sampled every 10 ms) of named stages."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    @contextmanager
    def stage(self, name: str):
        peak = [_rss()]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.01):
                peak[0] = max(peak[0], _rss())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - t0
            stop.set()
            thread.join()
            peak[0] = max(peak[0], _rss())
            self.rows[name] = {"seconds": round(seconds, 2), "peak_rss_gb": round(peak[0] / 1e9, 2)}
            print(f"  {name}: {seconds:.1f} s, peak {peak[0] / 1e9:.2f} GB", file=sys.stderr, flush=True)


def _processor() -> str:
    """The CPU model from /proc/cpuinfo (timings differ by several tens of percent between
    the machines this benchmark has run on)."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"




def warm_file_cache(data: str) -> None:
    """Read every input file once, so that no engine pays for a cold disk cache."""
    for f in sorted(Path(data).rglob("*")):
        if f.is_file():
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass


def run(args, engines: dict, script: str, score) -> None:
    """Run a benchmark script: as a child (--engine), one engine; as the driver, every engine
    of --engines in its own process of `script`, then `score(out, engines)` when freshcast ran,
    and the report (stdout, and --json)."""
    if args.engine:  # child process: run one engine
        figures = engines[args.engine](args, Path(args.out))
        (Path(args.out) / f"{args.engine}.json").write_text(json.dumps(figures))
        return
    names = args.engines.split(",")
    warm_file_cache(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        report = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "date": date.today().isoformat(),
            "machine": f"{platform.machine()}, {_processor()}, {os.cpu_count()} cores, {platform.python_version()}",
            "train_end": args.train_end,
            "horizon_days": args.horizon,
            "engines": {},
        }
        for name in names:
            print(f"{name}:", file=sys.stderr, flush=True)
            cmd = [sys.executable, script, "--engine", name, "--out", tmp, *sys.argv[1:]]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            figures = json.loads((out / f"{name}.json").read_text())
            figures["process_seconds"] = round(time.perf_counter() - t0, 1)
            report["engines"][name] = figures
        if "freshcast" in names:
            report["accuracy"] = score(out, names)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


BOOTSTRAP = 1000


def paired_interval(actual, a, b, series, seed=0) -> list[float]:
    """95% bootstrap interval over series of WAPE(a) - WAPE(b)."""
    _, s = np.unique(series, return_inverse=True)
    n = s.max() + 1
    y, ea, eb = (np.bincount(s, w, n) for w in (actual, np.abs(actual - a), np.abs(actual - b)))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, n, n)
        draws.append((ea[i].sum() - eb[i].sum()) / y[i].sum())
    return [float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))]
