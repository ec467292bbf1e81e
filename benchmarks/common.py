"""What the benchmark scripts share: the data's place and columns, stage timing with peak
memory, the machine's description, the driver that runs each engine in its own process, and
the paired bootstrap interval of a WAPE difference."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np

from freshcast.data import contract as C
from freshcast.data.dates import day_number as _day  # noqa: F401 (the scripts take it from here)

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


def write_json(path: Path, data) -> None:
    """`data` as JSON at `path`, written whole (a temporary file, then renamed)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def machine() -> str:
    """Architecture, CPU model, cores and Python version, as every report records them."""
    return f"{platform.machine()}, {_processor()}, {os.cpu_count()} cores, python {platform.python_version()}"


def report_head() -> dict:
    """The command, date and machine a report was made with."""
    return {"command": " ".join([Path(sys.executable).name, *sys.argv]), "date": date.today().isoformat(),
            "machine": machine()}


def run_self(script: str, *extra: str) -> None:
    """Run `script` in a child process with this command's arguments and `extra` ones."""
    subprocess.run([sys.executable, script, *sys.argv[1:], *extra], check=True)


def engines_at(script: str, work: Path, origin: str, engines: list[str]) -> dict:
    """Each engine's figures at `origin` (a last training day): an engine whose figures are
    not in work/origin yet runs there first, in its own process of `script` (called with this
    command's arguments and `--engine NAME --origin ORIGIN`), so its time and memory are its own
    and a stopped benchmark resumes."""
    folder = work / origin
    folder.mkdir(parents=True, exist_ok=True)
    figures = {}
    for name in engines:
        done = folder / f"{name}.json"
        if not done.exists():
            print(f"{name} at {origin}:", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            run_self(script, "--engine", name, "--origin", origin)
            stamp = json.loads(done.read_text())
            stamp["process_seconds"] = round(time.perf_counter() - t0, 1)
            write_json(done, stamp)
        figures[name] = json.loads(done.read_text())
    return figures


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
