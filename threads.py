"""Threads: LightGBM (OpenMP) and the numba kernels run one after the other on the same
cores, so both get the same count. By default that is the machine's physical cores less the
cores other processes keep busy right now (sampled over 0.2 s on the CPUs this process may
use, at most once a minute), at least one; `--threads` / `set_threads` / `n_jobs` override it.

Measured (benchmarks/RESULTS.md, "Threads"): beside another job that keeps both cores of a
2-core machine busy, a one-city fit with 2 OpenMP threads took 1.6-4.2 s (0.5-12.7 s in an
earlier run: threads wait at LightGBM's barriers for a descheduled partner), with 1 thread
0.51 s; an OpenMP passive wait policy avoids that but makes every fit on an idle machine
1.8-6x slower, a short spin count does not help, so freshcast leaves OpenMP's settings alone
and picks the thread count.
"""

from __future__ import annotations

import numbers
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import FreshcastError

_chosen: int | None = None  # set by set_threads for the whole process


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (logical CPUs if unknown)."""
    cpus = _affinity()
    cores = set()
    for cpu in cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology"
        try:
            with open(f"{base}/physical_package_id") as pkg, open(f"{base}/core_id") as core:
                cores.add((pkg.read().strip(), core.read().strip()))
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


def _affinity() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


def busy_cores(seconds: float = 0.2) -> float:
    """CPUs this process may run on that other processes keep busy over the next `seconds`
    (from the per-CPU lines of /proc/stat; 0 where unknown)."""
    mine = {f"cpu{c}" for c in _affinity()}

    def sample() -> dict[str, tuple[int, int]]:
        with open("/proc/stat") as fh:
            rows = [line.split() for line in fh if line.startswith("cpu")]
        return {r[0]: (sum(int(x) for x in r[1:9]), int(r[4]) + int(r[5])) for r in rows if r[0] in mine}

    try:
        before = sample()
        time.sleep(seconds)
        after = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    busy = 0.0
    for cpu, (total, idle) in after.items():
        if cpu in before and total > before[cpu][0]:
            busy += 1.0 - (idle - before[cpu][1]) / (total - before[cpu][0])
    return busy


def free_cores(physical: int, busy: float) -> int:
    """Physical cores less the busy ones, rounded, at least 1."""
    return max(1, min(physical, int(physical - busy + 0.5)))


_default: tuple[float, int] | None = None  # (time measured, thread count)


def default_threads() -> int:
    """The physical cores not kept busy by other processes (measured at most once a minute)."""
    global _default
    now = time.monotonic()
    if _default is None or now - _default[0] > 60:
        _default = (now, free_cores(physical_cores(), busy_cores()))
    return _default[1]


def thread_count(n_jobs: int | None = None) -> int:
    """Threads to use: `n_jobs` if given (>= 1), else the process-wide choice, else
    `default_threads()`. None, 0 and negative values mean 'the default'."""
    if not isinstance(n_jobs, (numbers.Integral, type(None))) or isinstance(n_jobs, bool):
        raise FreshcastError(f"threads must be a whole number (0 or less: the default), got {n_jobs!r}")
    if n_jobs is None or n_jobs <= 0:  # scikit-learn's and LightGBM's -1 ("all cores") too
        return _chosen or default_threads()
    return int(n_jobs)


def set_threads(n_jobs: int | None) -> int:
    """Use `n_jobs` threads (None or 0: `default_threads()`) for everything freshcast runs in
    this process from now on. Returns the count."""
    global _chosen
    _chosen = None
    count = thread_count(n_jobs)
    _chosen = None if n_jobs is None or n_jobs <= 0 else count  # follow the load from now on
    _set_numba_threads(count)
    return count


def _set_numba_threads(n: int) -> None:
    import numba

    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


@contextmanager
def numba_threads(n: int) -> Iterator[None]:
    """Run the numba kernels inside with at most `n` threads."""
    import numba

    before = numba.get_num_threads()
    _set_numba_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def run_lines(kernel, n: int, *args) -> None:
    """Call ``kernel(lo, hi, *args)`` over chunks of the lines 0..n-1 on as many threads as the
    numba kernels may use. `kernel` is an ``njit(nogil=True)`` function that works out lines
    lo..hi-1 into output arrays among `args`. Threads over a serial kernel rather than a
    ``parallel=True`` one: it compiles in a third of the time (a cold cache costs a nightly run
    less) and runs as fast, lines being independent."""
    import numba
    import numpy as np
    from concurrent.futures import ThreadPoolExecutor

    threads = min(numba.get_num_threads(), max(n, 1))
    if threads <= 1:
        kernel(0, n, *args)
        return
    bounds = np.linspace(0, n, min(n, 8 * threads) + 1).astype(np.int64)
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda k: kernel(bounds[k], bounds[k + 1], *args), range(len(bounds) - 1)):
            pass
