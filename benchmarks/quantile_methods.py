"""How freshcast's quantile method was chosen: daily P10 / P50 / P90 on in-stock days of the
forecast week, by several methods, on the full shared data.

- holdout ratio tables (freshcast's method): ratio quantiles per bin, calibrated on a second
  model's forecasts of the week before the forecast week; by forecast size alone and by
  forecast size x volatility;
- in-sample ratio tables: the same, calibrated on the production model's own forecasts of its
  last 14 training days (no second model);
- a gamma distribution around the mean with variance a * mean^b fitted on the holdout;
- three LightGBM quantile models (objective "quantile", alpha 0.1 / 0.5 / 0.9).

    python benchmarks/quantile_methods.py --json benchmarks/quantile_methods.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import stats

from common import DEFAULT_DATA, _day, check_data, check_output, write_json

from freshcast.data import load_history
from freshcast.features import FeatureRows
from freshcast.forecast import DailyForecaster
from freshcast.forecast.metrics import coverage, pinball
from freshcast.forecast.quantiles import QuantileTable, volatility

LEVELS = np.array([0.1, 0.5, 0.9])
H = 7  # days forecast
IN_SAMPLE_DAYS = 14  # the production model's own last days, for the in-sample tables


def forecast(model, train, future=None, rows=None):
    """Mean forecasts and volatility: the next H days after `train` (with `future`'s
    covariates), or the given (series, position, horizon) rows of `train`."""
    known = train.with_sales(model.feature_demand(train))
    rows = model.features_.forecast_rows(known, future, H) if rows is None else FeatureRows(known, *rows)
    mean = model.predict_rows(rows)
    return mean, volatility(rows.panel.sales, rows.panel.offsets, rows.origin)


def forecasts(panel, cut: int) -> dict[str, tuple]:
    """(mean, volatility, sales, in stock) of the forecast week after `cut` ("test"), of a
    second model's forecast week before it ("holdout"), and of the production model's own
    forecasts of its last days, every horizon ("in-sample")."""
    n = panel.n_series
    assert (panel.start == panel.start[0]).all(), "every series must start on the first day"

    def actual(first_day, days):
        pos = panel.positions(first_day + np.arange(days)[None, :])
        return panel.sales[pos].ravel(), panel.in_stock()[pos].ravel()

    test = DailyForecaster(quantiles=()).fit(panel.until(cut))
    held = DailyForecaster(quantiles=()).fit(panel.until(cut - H))
    out = {
        "test": (*forecast(test, test.history_, panel.future(cut + 1, H)), *actual(cut + 1, H)),
        "holdout": (*forecast(held, held.history_, panel.future(cut - H + 1, H)), *actual(cut - H + 1, H)),
    }
    train, C = test.history_, IN_SAMPLE_DAYS
    series = np.repeat(np.arange(n), C * H)
    pos = train.offsets[:-1][series] + np.tile(np.repeat(np.arange(train.n_flat // n - C, train.n_flat // n), H), n)
    hs = np.tile(np.arange(1, H + 1), n * C).astype(np.int32)
    out["in-sample"] = (*forecast(test, train, rows=(series, pos, hs)), train.sales[pos], train.in_stock()[pos])
    return out


def scores(y: np.ndarray, in_stock: np.ndarray, Q: np.ndarray) -> dict[str, float]:
    """Pinball loss and coverage of each level, and of the P10-P90 interval, on in-stock days."""
    Q = np.maximum(np.sort(Q, axis=1), 0)
    yi, Qi = y[in_stock], Q[in_stock]
    out = {f"pinball_q{lv * 100:g}": round(pinball(yi, Qi[:, j], lv), 4) for j, lv in enumerate(LEVELS)}
    out.update({f"coverage_q{lv * 100:g}": round(coverage(yi, Qi[:, j]), 4) for j, lv in enumerate(LEVELS)})
    out["interval_coverage"] = round(float(np.mean((yi >= Qi[:, 0]) & (yi <= Qi[:, 2]))), 4)
    return out


def gamma_quantiles(mu, mu_h, y_h, ins_h) -> np.ndarray:
    """A gamma around each mean with variance a * mean^b fitted on binned held-out errors."""
    sel = ins_h & (mu_h > 0.01)
    edges = np.quantile(mu_h[sel], np.linspace(0, 1, 41))
    k = np.clip(np.searchsorted(edges, mu_h[sel]) - 1, 0, 39)
    count = np.bincount(k, minlength=40)
    mean_bin = np.bincount(k, mu_h[sel], 40) / count
    var_bin = np.bincount(k, (y_h[sel] - mu_h[sel]) ** 2, 40) / count
    b, log_a = np.polyfit(np.log(mean_bin), np.log(var_bin), 1)
    m = np.maximum(mu, 1e-3)
    var = np.exp(log_a) * m**b
    return np.stack([stats.gamma.ppf(q, m**2 / var, scale=var / m) for q in LEVELS], 1)


def lightgbm_quantiles(panel, cut: int) -> np.ndarray:
    """One LightGBM quantile model per level."""
    fits = [DailyForecaster(quantiles=(), objective="quantile", lgb_params={"alpha": float(q)}).fit(panel.until(cut))
            for q in LEVELS]  # fmt: skip
    return np.stack([m.predict(H, panel.future(cut + 1, H))["yhat"].to_numpy() for m in fits], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--train-end", default="2024-06-11")
    ap.add_argument("--json")
    args = ap.parse_args()
    check_data(args.data)
    check_output(args.json)
    panel, cut = load_history(args.data), _day(args.train_end)
    t0 = time.perf_counter()
    runs = forecasts(panel, cut)
    print(f"fits and forecasts: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    mu, vol, y, ins = runs["test"]
    results = {}
    for source in ("holdout", "in-sample"):
        m, v, a, i = runs[source]
        by_size = QuantileTable.fit(m[i], a[i], np.zeros(int(i.sum())), LEVELS)
        results[f"{source} ratio table, size bins"] = scores(y, ins, by_size.predict(mu, np.zeros(len(mu))))
        table = QuantileTable.fit(m[i], a[i], v[i], LEVELS)
        results[f"{source} ratio table, size x volatility bins"] = scores(y, ins, table.predict(mu, vol))
    mu_h, _, y_h, ins_h = runs["holdout"]
    results["gamma, variance a * mean^b"] = scores(y, ins, gamma_quantiles(mu, mu_h, y_h, ins_h))
    t1 = time.perf_counter()
    results["LightGBM quantile models"] = scores(y, ins, lightgbm_quantiles(panel, cut))
    results["_lightgbm_quantile_fit_seconds"] = round(time.perf_counter() - t1, 1)
    results["_in_stock_rows"] = int(ins.sum())
    print(json.dumps(results, indent=2))
    if args.json:
        write_json(args.json, {"command": " ".join(["python", *sys.argv]), **results}, indent=2)


if __name__ == "__main__":
    main()
