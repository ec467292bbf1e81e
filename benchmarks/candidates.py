"""Accuracy candidates measured at weekly origins on the full shared data: features pooled
over groups of series and training-row weights, added to the units model's own rows and
features (the default forecaster's first model; nothing in freshcast changes), each variant trained once per origin and scored on
the 7 days after it (WAPE / WPE of the mean, all and in-stock days).

    python benchmarks/candidates.py --origins 2024-05-07,2024-05-14,2024-05-21,2024-05-28,2024-06-04,2024-06-11 \\
        --variants '{"base": {}, "pooled": {"groups": ["product", "product_city", "store", "category_city"]}}' \\
        --json benchmarks/candidates.json

A variant may hold "groups" (pooled features of those groups: the group's mean discount on
the target day, its change from the 28 days before the origin, and the group's same-weekday
index; "skip" drops the ones whose names end so), "half_life" (training rows weighted
0.5 ** (age in days / half_life)) and "seeds" (the mean of one model per seed).
"""

from __future__ import annotations

import argparse
import json
import time

import lightgbm as lgb
import numpy as np
from ablation import default_rows, report, scores
from common import DEFAULT_DATA, _day

from freshcast.data import load_history
from freshcast.forecast import trainer


def group_means(panel, values, group):
    """Per group and day (columns from the panel's first day): the sum of `values` over the
    group's series that have one, and how many."""
    _, g = np.unique(group, return_inverse=True)
    days = panel.day_numbers()
    d0, n_days = int(days.min()), int(days.max() - days.min()) + 1
    cell = np.repeat(g, np.diff(panel.offsets)).astype(np.int64) * n_days + (days - d0)
    ok = ~np.isnan(values)
    size = (g.max() + 1) * n_days
    total = np.bincount(cell[ok], weights=values[ok], minlength=size).reshape(-1, n_days)
    count = np.bincount(cell[ok], minlength=size).reshape(-1, n_days).astype(float)
    return g, d0, np.cumsum(np.pad(total, ((0, 0), (1, 0))), 1), np.cumsum(np.pad(count, ((0, 0), (1, 0))), 1)


def window(tables, gi, end, w):
    """Mean per series of group gi over columns end-w+1 .. end."""
    _, _, ct, cc = tables
    lo, hi = np.clip(end - w + 1, 0, None), end + 1
    s, c = ct[gi, hi] - ct[gi, lo], cc[gi, hi] - cc[gi, lo]
    return np.where(c > 0, s / np.maximum(c, 1), np.nan)


def pooled_features(rows, groups: dict[str, np.ndarray]):
    p, ser = rows.panel, rows.series
    o_day, t_day = p.day_of(ser, rows.origin), p.day_of(ser, rows.target)
    cols, names = [], []
    for name, key in groups.items():
        sales, disc = group_means(p, p.sales, key), group_means(p, p.covariates["discount"], key)
        gi, o, t = sales[0][ser], o_day - sales[1], t_day - sales[1]
        with np.errstate(all="ignore"):
            weekday = np.nanmean(np.stack([window(sales, gi, t - 7 * k, 1) for k in (1, 2, 3, 4)]), 0)
            on_day = window(disc, gi, t, 1)
            cols += [weekday / window(sales, gi, o, 28), on_day - window(disc, gi, o, 28), on_day]
        names += [f"{name}_weekday_index", f"{name}_discount_vs_28", f"{name}_discount"]
    return np.column_stack(cols).astype(np.float32), names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--origins", default="2024-06-04,2024-06-11", help="last training days, comma-separated")
    ap.add_argument("--variants", default='{"base": {}}')
    ap.add_argument("--json", help="append one JSON line per origin and variant to this file")
    args = ap.parse_args()
    variants = json.loads(args.variants)
    panel = load_history(args.data)
    for end in args.origins.split(","):
        cut = _day(end)
        model, features, rows, ahead, actual, in_stock = default_rows(panel, cut, 7)
        X, y, Xf = features.matrix(rows), rows.demand, features.matrix(ahead)
        s = rows.panel.series
        city = s["city_id"].to_numpy().astype(np.int64)
        keys = {"product": s["product_id"].to_numpy(), "store": s["store_id"].to_numpy(),
                "product_city": s["product_id"].to_numpy().astype(np.int64) * 1000 + city,
                "category_city": s["third_category_id"].to_numpy().astype(np.int64) * 1000 + city}  # fmt: skip
        for name, v in variants.items():
            Xv, Xfv, names = X, Xf, list(features.names)
            if v.get("groups"):
                chosen = {g: keys[g] for g in v["groups"]}
                (E, extra), (Ef, _) = pooled_features(rows, chosen), pooled_features(ahead, chosen)
                keep = [j for j, n in enumerate(extra) if not n.endswith(tuple(v.get("skip", [])))] if v.get("skip") \
                    else list(range(len(extra)))  # fmt: skip
                Xv, Xfv = np.asfortranarray(np.hstack([X, E[:, keep]])), np.hstack([Xf, Ef[:, keep]])
                names += [extra[j] for j in keep]
            age = (cut - rows.panel.day_of(rows.series, rows.target)).astype(float)
            weight = 0.5 ** (age / v["half_life"]) if "half_life" in v else None
            params = model.lightgbm_params()
            data = lgb.Dataset(Xv, y, weight=weight, feature_name=names, categorical_feature=list(range(len(features.static))),
                               params={"max_bin": model.max_bin, "verbosity": -1})  # fmt: skip
            t0, forecasts = time.perf_counter(), []
            for seed in v.get("seeds", [model.seed]):
                booster = lgb.train({**params, "seed": seed}, data, num_boost_round=model.n_estimators)
                forecasts.append(trainer.predict(booster, Xfv, params["num_threads"]))
            f = np.mean(forecasts, axis=0)
            row = {"origin": end, "variant": name, "params": v, "train_seconds": round(time.perf_counter() - t0, 1),
                   **scores(actual, f, in_stock)}  # fmt: skip
            report(row, args.json)


if __name__ == "__main__":
    main()
