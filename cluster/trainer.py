"""LightGBM trained data-parallel over Dask workers: the distributed counterpart of
`forecast.trainer.train`, with a plain booster back. Rank i of LightGBM's network is
partition i, whichever worker holds it, so the same inputs and seed train the same trees in
every run (LightGBM's distributed bins and histograms depend on which rows each rank holds).
One worker trains exactly as one machine does."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import numpy as np

from ..errors import FreshcastError
from ..forecast import trainer as local
from .connect import workers

NETWORK_TIMEOUT_MINUTES = 10  # a rank that never connects (its worker died) fails the fit, not hangs it
WAIT_FOR_WORKERS = 120  # seconds: a worker that died is restarted by its nanny meanwhile
BIN_SAMPLE = 200_000  # rows LightGBM finds its bins on (its bin_construct_sample_cnt on one machine)


def train(client, parts: list, params: dict, feature_names: list[str], n_categorical: int, n_estimators: int,
          max_bin: int, seed: int = 0):  # fmt: skip
    """A booster of `n_estimators` trees on the rows of the futures `parts` ((X, y) per
    partition, X float32 with the first `n_categorical` columns categorical); partition i
    trains as LightGBM rank i on the i-th worker connected now (all at once: one worker per
    partition, waited for up to WAIT_FOR_WORKERS seconds). Every rank finds its histogram
    bins on the same sample of all partitions' rows (BIN_SAMPLE rows, drawn with `seed`):
    bins found on one rank's rows alone would miss the other ranks' stores and products."""
    try:
        ranks_at = workers(client, len(parts), WAIT_FOR_WORKERS)[: len(parts)]
    except TimeoutError:
        raise FreshcastError(f"training needs {len(parts)} Dask workers at once (one per partition); "
                             f"{len(workers(client))} are connected") from None  # fmt: skip
    ranks, sample, token = [params], None, ""
    if len(parts) > 1:
        sizes = client.gather([client.submit(lambda p: len(p[1]), part, pure=False) for part in parts])
        share = np.round(BIN_SAMPLE * np.asarray(sizes) / max(sum(sizes), 1)).astype(int)
        rows = client.gather([client.submit(_sample_rows, part, int(k), seed + i, pure=False)
                              for i, (part, k) in enumerate(zip(parts, share))])  # fmt: skip
        [sample] = client.scatter([np.concatenate(rows)], broadcast=True, hash=False)
        token = uuid.uuid4().hex
        ports = _ports(client, ranks_at, token)
        network = {**params, "tree_learner": "data", "num_machines": len(parts), "time_out": NETWORK_TIMEOUT_MINUTES,
                   "machines": ",".join(f"{urlparse(w).hostname}:{p}" for w, p in zip(ranks_at, ports))}  # fmt: skip
        ranks = [{**network, "local_listen_port": port} for port in ports]
    tasks = [client.submit(_train_rank, part, rank, ranks[rank], feature_names, n_categorical, n_estimators, max_bin,
                           sample, token, workers=[ranks_at[rank]], allow_other_workers=False, pure=False)
             for rank, part in enumerate(parts)]  # fmt: skip
    text = client.gather(tasks)[0]
    return local.from_text(text)


def _train_rank(part, rank: int, params: dict, feature_names, n_categorical, n_estimators, max_bin,
                sample, token: str) -> str | None:  # fmt: skip
    """This worker's rank: trains on its partition's rows; rank 0 returns the model as text."""
    from distributed import get_worker

    X, y = part
    _release_port(token)  # LightGBM binds it next
    params = {**params, "num_threads": get_worker().state.nthreads}
    try:
        booster = local.train(X, y, params, feature_names, n_categorical, n_estimators, max_bin, bins_from=sample)
        return local.to_text(booster) if rank == 0 else None
    finally:  # LightGBM's network is one per process: closed now, not when the booster is collected
        import lightgbm as lgb

        lgb.basic._LIB.LGBM_NetworkFree()


def _sample_rows(part, n: int, seed: int) -> np.ndarray:
    X = part[0]
    take = np.sort(np.random.default_rng(seed).choice(len(X), min(n, len(X)), replace=False))
    return np.ascontiguousarray(X[take])


def _ports(client, workers: list[str], token: str) -> list[int]:
    """A port on each worker, all different, held open under `token` until that worker's rank
    starts (a port only looked up could be taken meanwhile by one of the worker's own
    connections)."""
    ports = client.gather([client.submit(_hold_port, token, workers=[w], allow_other_workers=False, pure=False)
                           for w in workers])  # fmt: skip
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
