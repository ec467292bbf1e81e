"""Ablations of the daily model on the full shared data: the same training and forecast rows
as `DailyForecaster.fit` / `predict`, trained once per variant with some LightGBM settings
changed or some feature columns left out, scored on the days after --train-end. Only the
units model is trained (the forecaster's `relative_model` is left out; `variants.py`
compares whole forecasters).

    python benchmarks/ablation.py --train-end 2024-06-11 \\
        --variants '{"default": {}, "no_store": {"drop": ["store_id"]}, "lr": {"learning_rate": 0.15, "n_estimators": 130}}'

A variant holds `DailyForecaster` parameters that do not change the feature matrix
(n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda, max_bin,
lgb_params) and optionally "drop": feature names to leave out. Prints one JSON line per
variant (WAPE / WPE on all and in-stock days, training seconds) and appends it to --json.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from common import DEFAULT_DATA, _day

from freshcast.data import load_history
from freshcast.features import DailyFeatures
from freshcast.forecast import DailyForecaster, trainer
from freshcast.forecast.metrics import wape, wpe

# the seed also draws the training rows' horizons, so it changes the matrix too
MATRIX_FREE = {"n_estimators", "learning_rate", "num_leaves", "min_child_samples", "reg_lambda", "max_bin", "lgb_params"}


def default_rows(panel, cut: int, horizon: int):
    """The default model to train up to day `cut`, its features, training and forecast rows
    (built as the forecaster builds them), and the actuals and in-stock flags of the forecast
    rows."""
    train, future = panel.until(cut), panel.future(cut + 1, horizon)
    model = DailyForecaster(max_horizon=horizon, quantiles=())
    features = DailyFeatures.for_history(train, model.spec, horizon)
    known = train.with_sales(model.feature_demand(train))
    rows = features.training_rows(known, model.min_history_days, model.seed, model.train_days)
    ahead = features.forecast_rows(known, future, horizon)
    pos = panel.positions(cut + ahead.horizon, np.flatnonzero(panel.start <= cut)[ahead.series])
    return model, features, rows, ahead, panel.sales[pos], panel.in_stock()[pos]


def matrices(panel, cut: int, horizon: int):
    """Training and forecast matrices of the default model trained up to day `cut`, with the
    actuals and in-stock flags of the forecast rows."""
    _, features, rows, ahead, actual, in_stock = default_rows(panel, cut, horizon)
    return (features.matrix(rows), rows.demand, features.matrix(ahead), actual, in_stock, features.names,
            len(features.static))  # fmt: skip


def scores(actual: np.ndarray, forecast: np.ndarray, in_stock: np.ndarray) -> dict:
    """WAPE / WPE of `forecast` on all rows and on the in-stock ones."""
    return {"wape": round(wape(actual, forecast), 4), "wpe": round(wpe(actual, forecast), 4),
            "wape_instock": round(wape(actual[in_stock], forecast[in_stock]), 4),
            "wpe_instock": round(wpe(actual[in_stock], forecast[in_stock]), 4)}  # fmt: skip


def report(row: dict, path: str | None) -> None:
    """Print one result as a JSON line and append it to the file at `path`, if given."""
    print(json.dumps(row), flush=True)
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(row) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--train-end", default="2024-06-11")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--variants", default='{"default": {}}', help="JSON: name -> parameters")
    ap.add_argument("--json", help="append one JSON line per variant to this file")
    args = ap.parse_args()
    variants = json.loads(args.variants)
    for name, v in variants.items():
        unknown = set(v) - MATRIX_FREE - {"drop"}
        if unknown:
            raise SystemExit(f"variant {name}: {sorted(unknown)} change the feature matrix; use benchmarks/daily.py")
    X, y, Xf, actual, in_stock, names, n_static = matrices(load_history(args.data), _day(args.train_end), args.horizon)
    for name, v in variants.items():
        drop = set(v.get("drop", ()))
        if drop - set(names):
            raise SystemExit(f"variant {name}: no feature named {sorted(drop - set(names))}")
        keep = [j for j, n in enumerate(names) if n not in drop]
        Xk, Xfk = (X, Xf) if not drop else (np.asfortranarray(X[:, keep]), Xf[:, keep])
        model = DailyForecaster(max_horizon=args.horizon, **{k: x for k, x in v.items() if k != "drop"})
        t0 = time.perf_counter()
        booster = trainer.train(Xk, y, model.lightgbm_params(), [names[j] for j in keep],
                                sum(j < n_static for j in keep), model.n_estimators, model.max_bin)  # fmt: skip
        seconds = time.perf_counter() - t0
        f = trainer.predict(booster, Xfk, model.lightgbm_params()["num_threads"])
        row = {"variant": name, "train_end": args.train_end, "params": v, "train_seconds": round(seconds, 1),
               **scores(actual, f, in_stock)}  # fmt: skip
        report(row, args.json)


if __name__ == "__main__":
    main()
