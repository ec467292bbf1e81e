"""LightGBM trained data-parallel over Dask workers: the distributed counterpart of
`forecast.trainer.train`, with a plain booster back. Rank i of LightGBM's network is
partition i, whichever worker holds it, so the same inputs and seed train the same trees in
every run (LightGBM's distributed bins and histograms depend on which rows each rank holds).
One worker trains exactly as one machine does."""

from __future__ import annotations

from urllib.parse import urlparse

from ..forecast import trainer as local

NETWORK_TIMEOUT_MINUTES = 10  # a rank that never connects (its worker died) fails the fit, not hangs it


def train(client, parts: list, workers: list[str], params: dict, feature_names: list[str], n_categorical: int,
          n_estimators: int, max_bin: int):  # fmt: skip
    """A booster of `n_estimators` trees on the rows of the futures `parts` ((X, y) per
    partition, X float32 with the first `n_categorical` columns categorical); partition i
    trains on `workers[i]` as LightGBM rank i."""
    if len(parts) > len(workers):
        raise ValueError("one partition per worker: each trains as one LightGBM rank, all at once")
    network = {}
    if len(parts) > 1:
        ports = [client.submit(_free_port, workers=[w], allow_other_workers=False, pure=False) for w in workers[: len(parts)]]
        ports = client.gather(ports)
        network = {"tree_learner": "data", "num_machines": len(parts), "time_out": NETWORK_TIMEOUT_MINUTES,
                   "machines": ",".join(f"{urlparse(w).hostname}:{p}" for w, p in zip(workers, ports))}  # fmt: skip
    tasks = [
        client.submit(_train_rank, part, rank, {**params, **network, **({"local_listen_port": ports[rank]} if network else {})},
                      feature_names, n_categorical, n_estimators, max_bin, workers=[workers[rank]],
                      allow_other_workers=False, pure=False)  # fmt: skip
        for rank, part in enumerate(parts)
    ]
    text = client.gather(tasks)[0]
    return local.from_text(text)


def _train_rank(part, rank: int, params: dict, feature_names, n_categorical, n_estimators, max_bin) -> str | None:
    """This worker's rank: trains on its partition's rows; rank 0 returns the model as text."""
    from distributed import get_worker

    X, y = part
    params = {**params, "num_threads": get_worker().state.nthreads}
    booster = local.train(X, y, params, feature_names, n_categorical, n_estimators, max_bin, pre_partition=True)
    return local.to_text(booster) if rank == 0 else None


def _free_port() -> int:
    """A TCP port free on this worker's host now."""
    import socket

    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]
