"""How much of a daily forecast's error no forecast can remove: the counting noise of shoppers.

Even a forecast that knew each series' expected demand exactly would miss the day's sales by
the noise of who happened to come in and how much each bought. On the series whose every
hourly sale is a multiple of 0.1 (the data's normalised unit: 0.1 = one item), a day's sales
are modelled as a compound Poisson count: shoppers arrive as a Poisson process and each takes
a basket of 1, 2, 3 ... items drawn from the product's basket-size distribution, estimated
from quiet in-stock hours (hours whose mean sales per in-stock hour of that series are under
`--quiet` items, so that a selling hour is nearly always one shopper), each product's
distribution shrunk toward the pooled one by 20 hours. The floor of a forecast is the WAPE it
would score if each of its figures were exactly the mean of that count: sum of E|Y - f| over
the rows (Panjer's recursion, exact) / the sales. Day-level shocks no one can know at the
origin (weather, a local event) add to it, so the true floor is higher still.

At each origin: freshcast's default forecaster (its mean), the tuned peer of the daily
benchmark (mlforecast, the parameters its study chose, read from `--daily`), and the 7-day
moving average, each trained on the history to the origin and scored on the 7 days after it,
on the count series (all days and in-stock days).

    python benchmarks/noise_floor.py --json benchmarks/noise_floor.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np
from common import DEFAULT_DATA, ROOT, _day, report_head, write_json

from freshcast.data import load_history
from freshcast.forecast import baselines
from freshcast.forecast.tune import forecast_after

SCORING = "2024-05-21,2024-05-28,2024-06-04,2024-06-11"
MAX_BASKET = 40  # items; larger baskets count as this many
SHRINK_HOURS = 20.0


def count_series(panel, series_of: np.ndarray) -> np.ndarray:
    """True for series whose every hourly sale is a whole number of items (multiples of 0.1);
    `series_of`: the series of each day of the panel."""
    whole = (np.abs(panel.hour_sales * 10 - np.round(panel.hour_sales * 10)) < 1e-3).all(axis=1)
    return np.bincount(series_of, ~whole, panel.n_series) == 0


def basket_sizes(panel, series_of: np.ndarray, count: np.ndarray, quiet: float):
    """(product index of each series, basket-size pmf per product (products x MAX_BASKET + 1),
    summary): sizes of the selling in-stock hours whose series sells under `quiet` items per
    in-stock hour of that hour of day, on the count series."""
    items = np.round(panel.hour_sales * 10)
    in_stock = ((panel.stockout_mask[:, None] >> np.arange(24, dtype=np.uint32)) & 1) == 0
    hours = np.zeros((panel.n_series, 24))
    sold = np.zeros((panel.n_series, 24))
    np.add.at(hours, series_of, in_stock)
    np.add.at(sold, series_of, np.where(in_stock, items, 0))
    rate = sold / np.maximum(hours, 1)
    take = (rate[series_of] < quiet) & in_stock & (items > 0) & count[series_of][:, None]
    codes, product = np.unique(panel.series["product_id"].to_numpy(), return_inverse=True)
    of_hour = np.broadcast_to(product[series_of][:, None], items.shape)[take]
    hist = np.zeros((len(codes), MAX_BASKET + 1))
    np.add.at(hist, (of_hour, np.minimum(items[take], MAX_BASKET).astype(np.int64)), 1)
    pooled = hist.sum(0) / hist.sum()
    pmf = hist + SHRINK_HOURS * pooled
    pmf /= pmf.sum(1, keepdims=True)
    k = np.arange(MAX_BASKET + 1)
    mean = (pmf * k).sum(1)
    summary = {"quiet_items_per_hour": quiet, "hours": int(take.sum()),
               "pooled_share_1_2_3plus": [round(float(pooled[1]), 3), round(float(pooled[2]), 3),
                                          round(float(pooled[3:].sum()), 3)],
               "median_product_mean_basket": round(float(np.median(mean)), 3),
               "median_product_index_of_dispersion": round(float(np.median((pmf * k**2).sum(1) / mean)), 3)}  # fmt: skip
    return product, pmf, summary


@nb.njit(cache=True)
def expected_abs_error(forecast, pmf, of_row):
    """E|Y - forecast[i]| for each row, Y a compound Poisson count of mean forecast[i] (items)
    with basket sizes pmf[of_row[i]] (Panjer's recursion up to far in the tail; above 700
    shoppers, where its first term underflows, the normal count's sqrt(2 variance / pi))."""
    out = np.empty(forecast.shape[0])
    for i in range(forecast.shape[0]):
        p = pmf[of_row[i]]
        mean = 0.0
        second = 0.0
        for j in range(1, p.shape[0]):
            mean += j * p[j]
            second += j * j * p[j]
        lam = forecast[i]
        shoppers = lam / mean
        if shoppers > 700.0:
            out[i] = np.sqrt(2.0 * shoppers * second / np.pi)
            continue
        top = int(lam + 12.0 * np.sqrt(shoppers * second) + 60)
        f = np.zeros(top + 1)
        f[0] = np.exp(-shoppers)
        e = f[0] * lam
        for y in range(1, top + 1):
            acc = 0.0
            for j in range(1, min(y, p.shape[0] - 1) + 1):
                acc += j * p[j] * f[y - j]
            f[y] = shoppers / y * acc
            e += f[y] * abs(y - lam)
        out[i] = e
    return out


def peer_means(data: str, daily_json: Path, origin: str, horizon: int, panel, kept: np.ndarray) -> np.ndarray:
    """The tuned peer's forecasts (series x days, in the panel's order of `kept`)."""
    import pandas as pd
    from daily import peer_frame, peer_origin

    params = json.loads(daily_json.read_text())["tuning"]["tune_mlforecast"]["params"]
    df = peer_frame(data)
    pred = peer_origin(df, origin, horizon).forecast(params, "peer")
    del df
    keys = panel.series.iloc[kept]
    uid = keys["store_id"].to_numpy(np.int64) * 1_000_000 + keys["product_id"].to_numpy(np.int64)
    days = pd.Timestamp(origin) + pd.to_timedelta(np.arange(1, horizon + 1), unit="D")
    table = pred.pivot(index="unique_id", columns="ds", values="peer").reindex(index=uid, columns=days)
    return table.to_numpy(np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--origins", default=SCORING, help="last training days, comma-separated")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--quiet", default="0.1,0.2,0.4", help="items per hour under which an hour is quiet; the "
                    "first is the main figure, the others show how much it matters")  # fmt: skip
    ap.add_argument("--daily", default=str(ROOT / "benchmarks" / "daily.json"), help="the daily benchmark's JSON "
                    "(the tuned peer's parameters)")  # fmt: skip
    ap.add_argument("--json")
    args = ap.parse_args()
    panel = load_history(args.data)
    series_of = np.repeat(np.arange(panel.n_series), np.diff(panel.offsets))
    count = count_series(panel, series_of)
    quiets = [float(q) for q in args.quiet.split(",")]
    sizes = [basket_sizes(panel, series_of, count, q) for q in quiets]
    in_stock = panel.in_stock()
    report = {**report_head(), "count_series": int(count.sum()),
              "count_series_share_of_sales": round(float(panel.sales[count[series_of]].sum() / panel.sales.sum()), 4),
              "baskets": [s[2] for s in sizes], "origins": {}}  # fmt: skip
    print(json.dumps({k: v for k, v in report.items() if k != "origins"}), file=sys.stderr, flush=True)
    for origin in args.origins.split(","):
        t0 = time.perf_counter()
        cut = _day(origin)
        kept = np.flatnonzero(panel.start <= cut)
        freshcast, pos = forecast_after(panel, {}, cut, args.horizon)
        forecasts = {"freshcast": freshcast.astype(np.float64),
                     "mlforecast_tuned": peer_means(args.data, Path(args.daily), origin, args.horizon, panel, kept),
                     "moving_average": baselines.moving_average(panel.until(cut), args.horizon).astype(np.float64)}
        actual = panel.sales[pos].astype(np.float64)
        counted = np.broadcast_to(count[kept][:, None], actual.shape)
        rows = counted & np.isfinite(forecasts["mlforecast_tuned"])
        scores = report["origins"][origin] = {"rows": int(rows.sum()),
                                              "rows_without_peer": int((counted & ~rows).sum())}
        for days, sel in (("all_days", rows), ("in_stock_days", rows & in_stock[pos])):
            y = actual[sel] * 10
            part = scores[days] = {}
            for name, f in forecasts.items():
                f = np.maximum(f[sel] * 10, 0.0)
                part[name] = {"wape": round(float(np.abs(y - f).sum() / y.sum()), 4)}
                for q, (product, pmf, _) in zip(quiets, sizes):
                    of_row = np.broadcast_to(product[kept][:, None], actual.shape)[sel]
                    floor = expected_abs_error(f, pmf, of_row).sum() / y.sum()
                    part[name][f"floor_quiet_{q:g}"] = round(float(floor), 4)
            main_floor = f"floor_quiet_{quiets[0]:g}"
            peer_excess = part["mlforecast_tuned"]["wape"] - part["mlforecast_tuned"][main_floor]
            part["freshcast_removes_of_peer_excess"] = round(
                float((part["mlforecast_tuned"]["wape"] - part["freshcast"]["wape"]) / peer_excess), 4)
        scores["seconds"] = round(time.perf_counter() - t0, 1)
        print(origin, json.dumps(scores), file=sys.stderr, flush=True)
    if args.json:
        write_json(Path(args.json), report)


if __name__ == "__main__":
    main()
