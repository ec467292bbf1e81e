"""The Dask client of a run: a local cluster of worker processes or a running scheduler."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import FreshcastError

LOST_WORKER_SECONDS = 600  # how long a local cluster waits for a dead worker's nanny to bring it back


@contextmanager
def connected(scheduler: str) -> Iterator:
    """A `distributed.Client` for `scheduler`: "local:N" starts N worker processes of one
    thread each on this machine (stopped on leaving); "tcp://HOST:PORT" connects to a
    scheduler that is running. FreshcastError when Dask is not installed, the name is
    neither, or the scheduler cannot be reached."""
    check_scheduler(scheduler)
    try:
        import distributed
    except ImportError:
        raise FreshcastError('a scheduler needs Dask: pip install "freshcast[dask]"') from None
    if scheduler.startswith("local:"):
        import dask

        n = scheduler.removeprefix("local:")
        # a local worker that dies is restarted by its nanny; Dask's local cluster closes the nanny
        # itself if no worker of its name is back within this time (15 s by default), which a
        # restart on a busy machine can take (the training then waits for a worker that never comes)
        with dask.config.set({"distributed.deploy.lost-worker-timeout": f"{LOST_WORKER_SECONDS}s"}), \
                distributed.LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True, dashboard_address=":0",
                                         silence_logs=logging.CRITICAL) as cluster, \
                distributed.Client(cluster) as client:  # fmt: skip
            yield client
    elif scheduler.startswith("tcp://"):
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise FreshcastError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client


def check_scheduler(scheduler: str) -> str:
    """`scheduler` if it names one ("local:N" with N >= 1, or "tcp://HOST:PORT"), else FreshcastError."""
    if scheduler.startswith("local:"):
        n = scheduler.removeprefix("local:")
        if not n.isdigit() or int(n) < 1:
            raise FreshcastError(f"scheduler 'local:N' needs a number of worker processes of 1 or more, got '{scheduler}'")
    elif scheduler.startswith("tcp://"):
        from urllib.parse import urlsplit

        address = urlsplit(scheduler)
        try:
            host, port = address.hostname, address.port
        except ValueError:
            host = port = None
        if not host or port is None:
            raise FreshcastError(f"scheduler 'tcp://HOST:PORT' needs a host and a port number, got '{scheduler}'")
    else:
        raise FreshcastError(f"scheduler must be local:N or tcp://HOST:PORT, got '{scheduler}'")
    return scheduler


def workers(client, at_least: int = 1, timeout: float | None = None) -> list[str]:
    """Addresses of the workers connected now, sorted, once `at_least` are (TimeoutError after
    `timeout` seconds)."""
    client.wait_for_workers(at_least, timeout=timeout)
    # asked of the scheduler, not read from `client.scheduler_info()`: the client's cached copy
    # of it is replaced every few seconds by one that lists no worker, also between that
    # method's refresh and its return (a rank's workers then seemed to have left the cluster)
    return sorted(client.sync(client.scheduler.identity, n_workers=-1)["workers"])


def shared(client, value):
    """A future of `value` for tasks on every worker. Unlike scattered data, which is lost
    with the workers holding it, a task's result is computed again when they die. The value
    travels once, in the task's graph: Dask's warning about a large graph (a model with its
    groups' models is tens of MB) is not for the user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
        return client.submit(_same, value, pure=False)


def _same(value):
    return value
