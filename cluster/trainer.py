"""LightGBM trained data-parallel over Dask workers: the distributed counterpart of
`forecast.trainer.train`, with a plain booster back. Rank i of LightGBM's network is
partition i, whichever worker holds it, so the same inputs and seed train the same trees in
every run (LightGBM's distributed bins and histograms depend on which rows each rank holds).
One worker trains exactly as one machine does."""

from __future__ import annotations

import ctypes
import os
import sys
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlparse

import numpy as np

from ..errors import FreshcastError
from ..forecast import trainer as local
from .connect import workers

NETWORK_TIMEOUT_MINUTES = 10  # a rank that never connects (its worker died) fails the fit, not hangs it
WAIT_FOR_WORKERS = 120  # seconds: a worker that died is restarted by its nanny meanwhile
RETRIES = 2  # training runs again (on the workers then connected) when a worker died during it (and
# a rank's death can take the next rank's worker with it: LightGBM aborts when its peer vanishes)
BIN_SAMPLE = 200_000  # rows LightGBM finds its bins on (its bin_construct_sample_cnt on one machine)


def train(client, parts: list, params: dict, feature_names: list[str], n_categorical: int, n_estimators: int,
          max_bin: int, seed: int = 0):  # fmt: skip
    """A booster of `n_estimators` trees on the rows of the futures `parts` ((X, y) or (X, y,
    row weights) per partition, X float32 with the first `n_categorical` columns categorical); partition i
    trains as LightGBM rank i on the i-th worker connected now (all at once: one worker per
    partition, waited for up to WAIT_FOR_WORKERS seconds). Every rank finds its histogram
    bins on the same sample of all partitions' rows (BIN_SAMPLE rows, drawn with `seed`):
    bins found on one rank's rows alone would miss the other ranks' stores and products.
    When a rank's worker dies during training (its nanny restarts it; Dask recomputes the
    partition it held), the ranks start again, RETRIES times at most."""
    sample = None
    if len(parts) > 1:
        sizes = client.gather([client.submit(lambda p: len(p[1]), part, pure=False) for part in parts])
        share = np.round(BIN_SAMPLE * np.asarray(sizes) / max(sum(sizes), 1)).astype(int)
        rows = [client.submit(_sample_rows, part, int(k), seed + i, pure=False)
                for i, (part, k) in enumerate(zip(parts, share))]  # fmt: skip
        sample = client.submit(np.concatenate, rows, pure=False)  # not scattered: recomputed if its worker dies
    for attempt in range(RETRIES + 1):
        ranks_at, token = _rank_workers(client, len(parts)), uuid.uuid4().hex
        try:
            return local.from_text(_ranks(client, parts, ranks_at, token, params, feature_names, n_categorical,
                                          n_estimators, max_bin, sample)[0])  # fmt: skip
        except Exception as exc:
            client.run(_release_port, token, on_error="ignore")
            if attempt == RETRIES or not _lost(client, ranks_at):
                raise
            if isinstance(exc, RankLost) and exc.training:
                _restart_survivors(client, ranks_at)


def _ranks(client, parts, ranks_at, token, params, feature_names, n_categorical, n_estimators, max_bin, sample) -> list:
    """One training attempt: partition i trains as rank i on worker `ranks_at[i]`; the ranks'
    results (rank 0's model text first). Its tasks are cancelled if it fails."""
    tasks, ranks = [], [params]
    try:
        if len(parts) > 1:
            ports = _ports(client, ranks_at, token, tasks)
            network = {**params, "tree_learner": "data", "num_machines": len(parts), "time_out": NETWORK_TIMEOUT_MINUTES,
                       "machines": ",".join(f"{urlparse(w).hostname}:{p}" for w, p in zip(ranks_at, ports))}  # fmt: skip
            ranks = [{**network, "local_listen_port": port} for port in ports]
        tasks += [client.submit(_train_rank, part, rank, ranks[rank], feature_names, n_categorical, n_estimators,
                                max_bin, sample, token, workers=[ranks_at[rank]], allow_other_workers=len(parts) == 1,
                                pure=False) for rank, part in enumerate(parts)]  # fmt: skip
        return _pinned(client, tasks[-len(parts):], ranks_at, training=True)
    except Exception:
        client.cancel(tasks)
        raise


class RankLost(FreshcastError):
    """A worker of a rank left the cluster (`training`: while the ranks trained)."""

    def __init__(self, message: str, training: bool = False):
        super().__init__(message)
        self.training = training


def _pinned(client, tasks: list, ranks_at: list[str], training: bool = False) -> list:
    """The results of `tasks`, each pinned to a worker of `ranks_at`: the first error raised as
    it is, and RankLost as soon as one of those workers has left (a task pinned there can
    never finish, and the other ranks may wait on it in LightGBM's network until it times out).
    Looked at every half second, and at once when the last task ends."""
    from distributed import wait

    def settled() -> bool:
        return all(t.status == "finished" for t in tasks) or any(t.status == "error" for t in tasks)

    while not settled():
        gone = set(ranks_at) - set(workers(client))
        if gone:
            raise RankLost(f"Dask worker(s) {sorted(gone)} left during training", training)
        try:
            wait(tasks, timeout=0.5)
        except TimeoutError:
            continue
        if not settled():
            time.sleep(0.5)  # all ended, not each as it should (cancelled): look again, not in a busy loop
    return client.gather(tasks)


def _restart_survivors(client, ranks_at: list[str]) -> None:
    """Restart the rank workers still connected: their ranks wait in LightGBM's network for
    the lost one (until NETWORK_TIMEOUT_MINUTES otherwise). Once the lost workers are back
    (their nannies restart them): a task whose pinned worker is gone runs elsewhere only if
    some worker is connected when Dask places it."""
    _rank_workers(client, len(ranks_at))
    client.restart_workers([w for w in ranks_at if w in workers(client)])


def _rank_workers(client, n: int) -> list[str]:
    """The addresses of the `n` workers the ranks train on (the first `n` connected, sorted),
    waited for up to WAIT_FOR_WORKERS seconds (again when one leaves between the scheduler's
    saying that `n` run and its list of them)."""
    deadline = time.monotonic() + WAIT_FOR_WORKERS
    while True:
        try:
            found = workers(client, n, max(deadline - time.monotonic(), 0.1))
        except TimeoutError:
            raise FreshcastError(f"training needs {n} Dask workers at once (one per partition); "
                                 f"{len(workers(client))} are connected") from None  # fmt: skip
        if len(found) >= n:
            return found[:n]
        time.sleep(0.1)


def _lost(client, ranks_at: list[str], wait: float = 10.0) -> bool:
    """Whether a worker of `ranks_at` has left the cluster (looked for over `wait` seconds: the
    scheduler may learn of a death after a rank on another worker failed of it)."""
    deadline = time.monotonic() + wait
    while not set(ranks_at) - set(workers(client)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _train_rank(part, rank: int, params: dict, feature_names, n_categorical, n_estimators, max_bin,
                sample, token: str) -> str | None:  # fmt: skip
    """This worker's rank: trains on its partition's rows; rank 0 returns the model as text."""
    import logging

    import lightgbm as lgb
    from distributed import get_worker

    quiet = logging.getLogger("freshcast.lightgbm")  # LightGBM's messages of this thread (its callback is per
    quiet.setLevel(logging.ERROR)  # thread), e.g. about the reference Dataset's parameters, not on stderr
    lgb.register_logger(quiet)
    lgb.basic._LIB.LGBM_RegisterLogCallback(lgb.basic._LIB.callback)
    X, y, *weight = part
    _release_port(token)  # LightGBM binds it next
    params = {**params, "num_threads": get_worker().state.nthreads}
    try:
        with _no_stdout():  # LightGBM's listening thread prints to stdout (the command's, on a local cluster)
            booster = local.train(X, y, params, feature_names, n_categorical, n_estimators, max_bin, bins_from=sample,
                                  weight=weight[0] if weight else None)  # fmt: skip
        return local.to_text(booster) if rank == 0 else None
    finally:  # LightGBM's network is one per process: closed now, not when the booster is collected
        lgb.basic._LIB.LGBM_NetworkFree()


@contextmanager
def _no_stdout():
    """This process's standard output (file descriptor 1, C's buffer flushed) to /dev/null."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


def _sample_rows(part, n: int, seed: int) -> np.ndarray:
    X = part[0]
    take = np.sort(np.random.default_rng(seed).choice(len(X), min(n, len(X)), replace=False))
    return np.ascontiguousarray(X[take])


def _ports(client, ranks_at: list[str], token: str, tasks: list) -> list[int]:
    """A port on each worker of `ranks_at`, all different, held open under `token` until that
    worker's rank starts (a port only looked up could be taken meanwhile by one of the
    worker's own connections). The tasks are added to `tasks`."""
    tasks += [client.submit(_hold_port, token, workers=[w], allow_other_workers=False, pure=False) for w in ranks_at]
    ports = _pinned(client, tasks, ranks_at)
    if len(set(ports)) != len(ports):
        raise FreshcastError("two Dask workers on one host were given the same network port; run again")
    return ports


_HELD: dict = {}  # token -> socket, in each worker process


def _hold_port(token: str) -> int:
    import socket

    sock = socket.socket()
    sock.bind(("", 0))
    _HELD[token] = sock
    return sock.getsockname()[1]


def _release_port(token: str) -> None:
    sock = _HELD.pop(token, None)
    if sock is not None:
        sock.close()
