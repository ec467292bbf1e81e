"""Threads: LightGBM (OpenMP) and the numba kernels run one after the other on the same
cores, so both get the same count. By default that is the physical cores among the CPUs this
process may use; `--threads` / `set_threads` / `n_jobs` override it.

The environment variable FRESHCAST_THREADS (a whole number, at least 1) replaces the physical
cores as the default, as OMP_NUM_THREADS does for OpenMP: for a machine shared with other jobs,
and for processes freshcast starts (a test suite's workers, a notebook's kernel).

The count is fixed, not chosen by how busy the machine is: LightGBM's trees depend on its
thread count (histograms summed in another order: on one city's 5,117 series, leaf values
differ in their last digits between 1 and 2 threads; a 28-day replay run beside a test run
ordered differently from the same replay on an idle machine), so a count that followed the
load would give a rerun other forecasts and orders. Beside another
job that keeps the cores busy, fewer threads are faster (benchmarks/RESULTS.md, "Threads":
a one-city fit with 2 OpenMP threads on two busy cores took 1.6-4.2 s, with 1 thread 0.51 s):
pass `--threads` there, the same on every run.
"""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ConfigError, FreshcastError

ENV = "FRESHCAST_THREADS"  # the default thread count, when set
_chosen: int | None = None  # set by set_threads for the whole process


@functools.cache
def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (logical CPUs if unknown; read
    once per process)."""
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


def default_threads() -> int:
    """FRESHCAST_THREADS if set, else the physical cores. ConfigError if it is not a whole
    number of at least 1."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return physical_cores()
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"the environment variable {ENV} must be a whole number of at least 1, got {value!r}")
    return int(value)


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
    _chosen = None if n_jobs is None or n_jobs <= 0 else count
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
