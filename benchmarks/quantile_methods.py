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
from pathlib import Path

import numpy as np
from scipy import stats

from daily import DEFAULT_DATA, _day

LEVELS = np.array([0.1, 0.5, 0.9])


def main() -> None:
    from freshcast.data import load_history
    from freshcast.features.daily import build_matrix, forecast_rows
    from freshcast.forecast import DailyForecaster
    from freshcast.forecast.quantiles import QuantileTable, volatility

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--train-end", default="2024-06-11")
    ap.add_argument("--json")
    args = ap.parse_args()
    panel = load_history(args.data)
    cut, H = _day(args.train_end), 7
    n, base = panel.n_series, int(panel.start.min())
    assert (panel.start == base).all(), "every series must start on the first day"
    sales = panel.sales.reshape(n, -1)
    in_stock = panel.in_stock().reshape(n, -1)

    def forecast(model, train, rows=None):
        """Mean forecasts and volatility: the next H days, or the given (series, pos, h) rows."""
        if rows is None:
            arrays = train.with_sales(model.training_target(train)).extend(panel.future(train.last_day + 1, H))
            rows = forecast_rows(arrays, H, H)
        else:
            arrays = train.with_sales(model.training_target(train))
        series, target, h = rows
        X = build_matrix(arrays, train.series, series, target, h, model.spec, model.max_horizon, model.static_)
        return np.clip(model.booster_.predict(X), 0, None), volatility(arrays.sales, arrays.offsets, target - h)

    def actual(first_day, days):
        cols = slice(first_day - base, first_day - base + days)
        return sales[:, cols].ravel(), in_stock[:, cols].ravel()

    t0 = time.perf_counter()
    test = DailyForecaster(quantiles=()).fit(panel.until(cut))
    mu, vol = forecast(test, test.history_)
    y, ins = actual(cut + 1, H)
    held = DailyForecaster(quantiles=()).fit(panel.until(cut - H))
    mu_h, vol_h = forecast(held, held.history_)
    y_h, ins_h = actual(cut - H + 1, H)
    # in-sample: the production model's forecasts of its last 14 days, every horizon
    C = 14
    train = test.history_
    series = np.repeat(np.arange(n), C * H)
    pos = train.offsets[:-1][series] + np.tile(np.repeat(np.arange(train.n_flat // n - C, train.n_flat // n), H), n)
    hs = np.tile(np.arange(1, H + 1), n * C).astype(np.int32)
    mu_s, vol_s = forecast(test, train, (series, pos, hs))
    y_s, ins_s = train.sales[pos], train.in_stock()[pos]
    print(f"fits and forecasts: {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    results = {}

    def score(name, Q):
        Q = np.maximum(np.sort(Q, axis=1), 0)
        yi, Qi = y[ins], Q[ins]
        results[name] = {
            **{f"pinball_q{lv * 100:g}": round(float(np.mean(np.maximum(lv * (yi - Qi[:, j]), (lv - 1) * (yi - Qi[:, j])))), 4) for j, lv in enumerate(LEVELS)},
            **{f"coverage_q{lv * 100:g}": round(float(np.mean(yi <= Qi[:, j])), 4) for j, lv in enumerate(LEVELS)},
            "interval_coverage": round(float(np.mean((yi >= Qi[:, 0]) & (yi <= Qi[:, 2]))), 4),
        }
        print(name, results[name], file=sys.stderr)

    for source, (m, v, a, i) in {"holdout": (mu_h, vol_h, y_h, ins_h), "in-sample": (mu_s, vol_s, y_s, ins_s)}.items():
        by_size = QuantileTable.fit(m[i], a[i], np.zeros(int(i.sum())), LEVELS)
        score(f"{source} ratio table, size bins", by_size.predict(mu, np.zeros(len(mu))))
        table = QuantileTable.fit(m[i], a[i], v[i], LEVELS)
        score(f"{source} ratio table, size x volatility bins", table.predict(mu, vol))
    # gamma around the mean, variance a * mean^b from binned held-out squared errors
    sel = ins_h & (mu_h > 0.01)
    edges = np.quantile(mu_h[sel], np.linspace(0, 1, 41))
    k = np.clip(np.searchsorted(edges, mu_h[sel]) - 1, 0, 39)
    count = np.bincount(k, minlength=40)
    mean_bin = np.bincount(k, mu_h[sel], 40) / count
    var_bin = np.bincount(k, (y_h[sel] - mu_h[sel]) ** 2, 40) / count
    b, log_a = np.polyfit(np.log(mean_bin), np.log(var_bin), 1)
    m = np.maximum(mu, 1e-3)
    var = np.exp(log_a) * m**b
    score("gamma, variance a * mean^b", np.stack([stats.gamma.ppf(q, m**2 / var, scale=var / m) for q in LEVELS], 1))
    # LightGBM quantile models
    t1 = time.perf_counter()
    Q = np.stack(
        [
            DailyForecaster(quantiles=(), objective="quantile", lgb_params={"alpha": float(q)})
            .fit(panel.until(cut))
            .predict(H, panel.future(cut + 1, H))["yhat"]
            .to_numpy()
            for q in LEVELS
        ],
        axis=1,
    )
    score("LightGBM quantile models", Q)
    results["_lightgbm_quantile_fit_seconds"] = round(time.perf_counter() - t1, 1)
    results["_in_stock_rows"] = int(ins.sum())
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"command": " ".join(["python", *sys.argv]), **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
