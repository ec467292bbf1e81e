"""Keys of store x product series: one int64 per (store_id, product_id) pair, to sort, group
and match series in numpy."""

from __future__ import annotations

import numpy as np

_PACKED = 2**31  # ids below it (store) / below 2**32 (product) pack into one int64 exactly


def pair_keys(*pairs: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """int64 keys of the (store ids, product ids) arrays of each pair, comparable across the
    pairs: equal where both ids are, ordered by store id, then product id. store_id << 32 |
    product_id when every id fits (stores below 2**31, products below 2**32), else each id's
    rank among all the ids of the pairs in its place."""
    stores = [np.asarray(s, np.int64) for s, _ in pairs]
    products = [np.asarray(p, np.int64) for _, p in pairs]
    if all(len(s) == 0 or s.max() < _PACKED for s in stores) and all(
        len(p) == 0 or p.max() < 2 * _PACKED for p in products
    ):
        return [(s << 32) | p for s, p in zip(stores, products)]
    store_ids, product_ids = np.unique(np.concatenate(stores)), np.unique(np.concatenate(products))
    return [(np.searchsorted(store_ids, s) << 32) | np.searchsorted(product_ids, p) for s, p in zip(stores, products)]


def match_pairs(pairs: tuple[np.ndarray, np.ndarray],
                among: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """For each (store, product) pair of `pairs`: its key (`pair_keys`, comparable within
    `pairs`), its index among the distinct pairs `among` (meaningless where absent) and whether
    it is among them."""
    keys, known = pair_keys(pairs, among)
    order = np.argsort(known, kind="stable")
    at = np.minimum(np.searchsorted(known[order], keys), len(order) - 1)
    return keys, order[at], known[order][at] == keys


def pair_word(store: np.ndarray, product: np.ndarray) -> np.ndarray:
    """One uint64 per pair that depends on the two ids alone (not on the other pairs), to hash:
    store_id << 32 | product_id where that is exact, else the product id xor-ed with the store
    id's bits spread over the word (splitmix64's finaliser)."""
    s, p = np.asarray(store, np.int64).astype(np.uint64), np.asarray(product, np.int64).astype(np.uint64)
    packed = (s < np.uint64(_PACKED)) & (p < np.uint64(2 * _PACKED))
    return np.where(packed, (s << np.uint64(32)) | p, spread(s) ^ p)


def spread(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser of uint64 `x`: every bit of the input moves about half the output's."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))
