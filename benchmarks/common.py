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
from freshcast.threads import thread_count

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "freshretailnet-50k" / "hourly"
KEYS = list(C.KEYS)
STATIC = [C.STORE, C.PRODUCT, *C.STATIC]
COVARIATES = list(C.COVARIATES)
# the peer's threads: freshcast's own count (FRESHCAST_THREADS, else the physical cores)
PEER_THREADS = thread_count()


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


def write_json(path: Path | str, data, indent: int = 1) -> None:
    """`data` as JSON at `path`, written whole (a temporary file, then renamed)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=indent) + "\n")
    os.replace(tmp, path)


def check_output(path: str | None) -> None:
    """Exit with one line, before any work, if the report's folder does not exist."""
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise SystemExit(f"--json {path}: the folder {Path(path).resolve().parent} does not exist")


def check_data(path: str) -> None:
    """Exit with one line if the data folder or file `path` does not exist."""
    if not Path(path).exists():
        raise SystemExit(f"--data {path}: no such file or folder (the same layout as freshcast's --history; "
                         f"default: the shared FreshRetailNet-50K folder beside the repository)")  # fmt: skip


def data_span(path: str) -> tuple[int, int]:
    """The first and last day numbers of the `dt` column of the data at `path` (a Parquet
    file or hive-partitioned folder, as the peer reads it), without loading the rest."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    span = pc.min_max(ds.dataset(path, partitioning="hive").to_table(columns=["dt"])["dt"])
    return _day(span["min"].as_py()), _day(span["max"].as_py())


def check_days(span: tuple[int, int], spec: str, option: str, windows: bool = False,
               horizon: int = 7) -> list[tuple[int, int]]:  # fmt: skip
    """The origins (comma-separated last training days, each scored on the `horizon` days
    after it) or, with `windows`, the windows (FIRST:LAST, the history ending the day before
    FIRST) of `spec` as (last training day, last scored day) pairs; exit with one line naming
    the first that the data (`span`: its first and last day numbers) cannot hold (28 days
    before it to train on, its days after)."""
    from freshcast.data.dates import day_to_date

    first, last = span
    pairs = []
    for item in spec.split(","):
        try:
            a, b = item.split(":") if windows else (item, None)
            pair = (_day(a) - 1, _day(b)) if windows else (_day(a), _day(a) + horizon)
        except (ValueError, TypeError):
            raise SystemExit(f"{option} {item}: expected {'FIRST:LAST' if windows else 'a date'} like "
                             f"{'2024-06-12:2024-06-18' if windows else '2024-06-11'}") from None  # fmt: skip
        if pair[0] - first < 28 or pair[1] > last or pair[1] <= pair[0]:
            raise SystemExit(f"{option} {item}: the data hold {day_to_date(first)} .. {day_to_date(last)}: "
                             f"{'a window' if windows else 'an origin'} needs 28 days before it and its "
                             f"{'days' if windows else f'{horizon} days after it'} in them")  # fmt: skip
        pairs.append(pair)
    return pairs


def check_protocol(work: Path, protocol: dict) -> None:
    """Keep `protocol` (the settings every step of a run in `work` shares) in work/protocol.json;
    exit with one line naming the settings that differ if `work` holds a run of another one
    (the data compared as resolved paths)."""
    here = {**protocol, "data": str(Path(protocol["data"]).resolve())}
    file = work / "protocol.json"
    if file.exists():
        before = json.loads(file.read_text())
        before = {**before, "data": str(Path(before.get("data", "")).resolve())}
        differ = sorted(k for k in {**before, **here} if before.get(k) != here.get(k))
        if differ:
            said = "; ".join(f"{k} {before.get(k)!r} there, {here.get(k)!r} here" for k in differ)
            raise SystemExit(f"{work}: holds a run of other settings ({said}); use another --work")
    write_json(file, here)


def machine() -> str:
    """Architecture, CPU model, cores and Python version, as every report records them."""
    return f"{platform.machine()}, {_processor()}, {os.cpu_count()} cores, python {platform.python_version()}"


def versions() -> dict:
    """The versions of freshcast and of the libraries whose results a report depends on."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("freshcast", "lightgbm", "numpy", "pandas", "pyarrow", "numba", "mlforecast", "optuna"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def report_head() -> dict:
    """The command, date, machine, threads and library versions a report was made with."""
    return {"command": " ".join([Path(sys.executable).name, *sys.argv]), "date": date.today().isoformat(),
            "machine": machine(), "threads": PEER_THREADS, "versions": versions()}


def run_self(script: str, *extra: str) -> None:
    """Run `script` in a child process with this command's arguments and `extra` ones; a
    signal that stops this process stops the child (Linux: it dies with its parent); a child
    that fails ends this run with its exit code (its own error is already printed)."""
    kill_with_parent = _parent_death_signal if sys.platform.startswith("linux") else None
    done = subprocess.run([sys.executable, script, *sys.argv[1:], *extra], preexec_fn=kill_with_parent)
    if done.returncode:  # (a child killed by signal N: 128 + N, as a shell says it)
        raise SystemExit(done.returncode if done.returncode > 0 else 128 - done.returncode)


def _parent_death_signal() -> None:
    """In the child, before it runs: SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


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
