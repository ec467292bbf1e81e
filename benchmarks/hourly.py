"""Hourly benchmark on the full shared data: freshcast's hour forecasts beside mlforecast +
LightGBM on hourly rows and the same-hour seasonal naive, on the same series, at the daily
benchmark's scoring origins.

At each origin (a last training day; scored on every hour of the `--horizon` days after it),
each engine in its own process: freshcast forecasts all 50,000 series with its default command
(the daily model with quantiles, split into hours by each series' intraday profile: the mean
`yhat` and the hour-level median `q50`); mlforecast (the issue's setup: lags 24/48/168, rolling
means of 24 and 168 hours at lag 24, hour and day of week, ids and covariates, 500 trees, 127
leaves) trains a mean model (tweedie) and a median model (quantile 0.5) on `--peer-series`
series drawn with a fixed seed, and every method is scored on those series: the means against
each other and the medians against each other, with a paired bootstrap 95% interval over
series of each hourly WAPE difference. Also: daily WAPE of the summed hours, freshcast's
quantile coverage by hour and by slot on all series, and stage times with peak memory.
The peer is also tuned (`mlforecast_tuned`): an Optuna study with the daily benchmark's budget
and space (`peer.py`: 20 trials over the LightGBM parameters both engines share, TPE, median
pruning at the first origin) scored by the hourly WAPE of its mean on its series at
`--tuning-origins` (05-07 and 05-14, before every scoring origin); its best mean model is then
scored at each origin beside the rest. Finished steps are kept in `--work DIR`, so a stopped
run resumes.

    pip install ".[bench,tune]"
    python benchmarks/hourly.py --work DIR --json benchmarks/hourly.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from common import (COVARIATES, DEFAULT_DATA, PEER_THREADS, STATIC, Stages, _day, engines_at, paired_interval,
                    report_head, run_self, warm_file_cache, write_json, check_data, check_days, check_output,
                    check_protocol, data_span)
from peer import PeerOrigin, tune_peer

from freshcast.data.keys import pair_keys

HOUR_KEYS = ["store_id", "product_id", "dt", "hour"]
SLOTS = "06-10,10-14,14-18,18-22,22-06"


def _sample_keys(args, store, product) -> np.ndarray:
    """The peer's series: --peer-series keys drawn with a fixed seed (ids of FreshRetailNet's
    size, below 2**31: the peer's unique_id packs them too)."""
    keys = np.unique((np.asarray(store, np.int64) << 32) | np.asarray(product, np.int64))
    return np.sort(np.random.default_rng(0).choice(keys, min(args.peer_series, len(keys)), replace=False))


def run_freshcast(args, out: Path) -> dict:
    import pandas as pd

    from freshcast.data import load_history
    from freshcast.features.hourly import HourlyFeatureSpec, hourly_features
    from freshcast.forecast import DailyForecaster

    st = Stages()
    cut, h = _day(args.origin), args.horizon
    with st.stage("load"):
        panel = load_history(args.data)
        train = panel.until(cut)
        future = panel.future(cut + 1, h)
    model = DailyForecaster(max_horizon=h, seed=0)
    with st.stage("features_and_train"):
        model.fit(train)
    with st.stage("predict_hours"):
        pred = model.predict(h, future, level="hour")
    slotted = model.predict(h, future, slots=SLOTS)
    pred = pred.rename(columns={"yhat": "freshcast"})
    # actuals and same-hour seasonal naive (the same hour 7 days before; for h <= 7 that day
    # is in the history)
    day = np.repeat(np.arange(1, h + 1), 24)
    pos = panel.offsets[:-1, None] + (cut + day[None, :] - panel.start[:, None])  # (series, 24 h)
    hour = np.tile(np.arange(24), h)
    assert len(pred) == pos.size, "every series must start before the origin"
    pred["actual"] = panel.hour_sales[pos, hour].ravel()
    pred["hour_stockout"] = ((panel.stockout_mask[pos] >> hour.astype(np.uint32)) & 1).ravel().astype(np.int8)
    pred["in_stock_day"] = panel.in_stock()[pos].ravel()
    pred["seasonal_naive"] = panel.hour_sales[pos - 7 * ((day - 1) // 7 + 1), hour].ravel()
    pred["dt"] = pd.to_datetime(pred["dt"]).dt.date
    quantiles = {"hour": _quantile_scores(pred, pred["hour_stockout"].to_numpy() == 0)}
    slot_actual, slot_in = _slot_truth(pred, SLOTS)
    quantiles["slot"] = _quantile_scores(slotted.assign(actual=slot_actual), slot_in)
    pred = pred.drop(columns=["q10", "q90"]).rename(columns={"q50": "freshcast_q50"})
    accuracy_all = _scores(pred, ["freshcast", "freshcast_q50", "seasonal_naive"])
    pred[_in_sample(args, pred)].to_parquet(out / "freshcast.parquet")  # the rows scored against the peer
    del pred
    with st.stage("features_hourly_peer_set"):  # all hourly rows, the peer's feature set
        peer_set = HourlyFeatureSpec(same_hour_days=(), profile=False, stockout=False)
        X = hourly_features(panel.hour_sales, panel.stockout_mask, panel.offsets, panel.start, peer_set)
    rows = X.shape[0]
    del X
    with st.stage("features_hourly_full_set"):  # + same-hour mean, profile share, stockout features
        X = hourly_features(panel.hour_sales, panel.stockout_mask, panel.offsets, panel.start)
    del X
    return {
        "stages": st.rows,
        "fit_seconds": {k: round(v, 2) for k, v in model.fit_seconds_.items()},
        "hourly_feature_rows": rows,
        "quantiles": quantiles,
        "accuracy_all_series": accuracy_all,
    }


def _in_sample(args, frame) -> np.ndarray:
    """Rows of `frame` whose series is one of the peer's."""
    keep = _sample_keys(args, frame["store_id"].to_numpy(), frame["product_id"].to_numpy())
    key = (frame["store_id"].to_numpy().astype(np.int64) << 32) | frame["product_id"].to_numpy().astype(np.int64)
    return np.isin(key, keep)


def _slot_truth(pred, slots: str):
    """Actual units and in-stock flags (no stockout in the slot's shop hours) per slot row, in
    the order of a slot forecast (series, day, slot)."""
    from freshcast.data.contract import SHOP_HOURS
    from freshcast.forecast.hourly import parse_slots

    actual = pred["actual"].to_numpy().reshape(-1, 24)
    stockout = pred["hour_stockout"].to_numpy().reshape(-1, 24).astype(bool)
    shop = np.zeros(24, bool)
    shop[SHOP_HOURS[0] : SHOP_HOURS[1]] = True
    parts_actual, parts_in = [], []
    for _, hours in parse_slots(slots):
        counted = hours[shop[hours]] if shop[hours].any() else hours
        parts_actual.append(actual[:, hours].sum(axis=1))
        parts_in.append(~stockout[:, counted].any(axis=1))
    return np.stack(parts_actual, axis=1).ravel(), np.stack(parts_in, axis=1).ravel()


def _quantile_scores(frame, in_stock) -> dict:
    """Pinball loss and coverage of q10 / q50 / q90 and of the 80% interval on in-stock rows."""
    from freshcast.forecast.metrics import coverage, pinball

    y = frame["actual"].to_numpy()[in_stock]
    q = {lv: frame[c].to_numpy()[in_stock] for lv, c in ((0.1, "q10"), (0.5, "q50"), (0.9, "q90"))}
    out = {f"pinball_q{lv * 100:g}": round(pinball(y, v, lv), 5) for lv, v in sorted(q.items())}
    out.update({f"coverage_q{lv * 100:g}": round(coverage(y, v), 4) for lv, v in sorted(q.items())})
    out["interval_coverage"] = round(float(np.mean((y >= q[0.1]) & (y <= q[0.9]))), 4)
    out["rows"] = int(len(y))
    return out


def run_mlforecast(args, out: Path) -> dict:
    import lightgbm as lgb
    import pandas as pd

    st = Stages()
    end = pd.Timestamp(args.origin)
    with st.stage("load"):
        df = _peer_frame(args, sample=True)
        last = end + pd.Timedelta(hours=23)
        train = df[df.ds <= last]
        future = df[(df.ds > last) & (df.ds <= last + pd.Timedelta(days=args.horizon))]
        x_future = future[["unique_id", "ds", *COVARIATES]]
    common = {"n_estimators": 500, "num_leaves": 127, "random_state": 0, "verbosity": -1, "n_jobs": PEER_THREADS}
    fcst = _peer_forecaster({"mlforecast": lgb.LGBMRegressor(objective="tweedie", **common),
                             "mlforecast_q50": lgb.LGBMRegressor(objective="quantile", alpha=0.5, **common)})  # fmt: skip
    with st.stage("features"):
        prep = fcst.preprocess(train, static_features=STATIC)
    with st.stage("train"):
        X = prep.drop(columns=["unique_id", "ds", "y"])
        fcst.fit_models(X, prep["y"])
        del X, prep
    with st.stage("predict"):
        pred = fcst.predict(24 * args.horizon, X_df=x_future)
    for m in ("mlforecast", "mlforecast_q50"):
        pred[m] = pred[m].clip(lower=0)
    _hour_rows(pred, df, ["mlforecast", "mlforecast_q50"]).to_parquet(out / "mlforecast.parquet")
    return {"stages": st.rows, "train_rows": int(len(train)), "series": int(df["unique_id"].nunique())}


def _hour_rows(pred, df, columns: list[str]):
    """mlforecast's rows (`unique_id, ds, columns`) keyed by store, product, day and hour."""
    keys = df.drop_duplicates("unique_id")[["unique_id", "store_id", "product_id"]]
    pred = pred.merge(keys, on="unique_id")
    pred["store_id"] = pred["store_id"].astype("int64")
    pred["product_id"] = pred["product_id"].astype("int64")
    pred["dt"] = pred["ds"].dt.date
    pred["hour"] = pred["ds"].dt.hour.astype("int8")
    return pred[[*HOUR_KEYS, *columns]]


def peer_origin(df, origin: str, horizon: int, stages: Stages | None = None) -> PeerOrigin:
    """The peer's features at one origin (a last training day), for the hours of the `horizon`
    days after it."""
    import pandas as pd

    end = pd.Timestamp(origin) + pd.Timedelta(hours=23)
    return PeerOrigin(df, _peer_forecaster({}), end, 24 * horizon, pd.Timedelta(hours=1), stages)


def run_mlforecast_tuned(args, out: Path) -> dict:
    """The peer's mean model with its study's best parameters at one scoring origin."""
    st = Stages()
    with st.stage("load"):
        df = _peer_frame(args, sample=True)
    tuned = json.loads((Path(args.work) / "tune_mlforecast" / "best_params.json").read_text())["params"]
    pred = peer_origin(df, args.origin, args.horizon, st).forecast(tuned, "mlforecast_tuned")
    _hour_rows(pred, df, ["mlforecast_tuned"]).to_parquet(out / "mlforecast_tuned.parquet")
    return {"stages": st.rows, "tuned_params": tuned}


def tune_mlforecast(args, work: Path) -> dict:
    """The peer's Optuna study (the daily benchmark's budget and space) scored by the hourly
    WAPE of its mean on its series at the tuning origins; resumes from work/study.db."""
    df = _peer_frame(args, sample=True)
    origins = args.tuning_origins.split(",")
    return tune_peer(work, args.seed, args.trials, origins, lambda origin: peer_origin(df, origin, args.horizon))


def _peer_frame(args, sample: bool):
    """All hourly rows (or those of the --peer-series sample) as the pandas frame mlforecast
    takes."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(args.data, partitioning="hive").to_table(columns=[*STATIC, "dt", "hour", "hourly_sale", *COVARIATES])
    if sample:
        keep = _sample_keys(args, table["store_id"].to_numpy(), table["product_id"].to_numpy())
        key = pc.add(pc.shift_left(pc.cast(table["store_id"], "int64"), 32), pc.cast(table["product_id"], "int64"))
        table = table.filter(pc.is_in(key, value_set=pa.array(keep, pa.int64())))
    df = table.to_pandas()
    del table
    df["ds"] = pd.to_datetime(df["dt"]) + pd.to_timedelta(df["hour"].astype("int64"), unit="h")
    df["unique_id"] = df["store_id"].astype("int64") * 1_000_000 + df["product_id"]
    df = df.rename(columns={"hourly_sale": "y"}).drop(columns=["dt", "hour"])
    for c in STATIC:
        df[c] = df[c].astype("category")
    return df.sort_values(["unique_id", "ds"], ignore_index=True)


def _peer_forecaster(models: dict):
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    return MLForecast(
        models=models,
        freq="h",
        lags=[24, 48, 168],
        lag_transforms={24: [RollingMean(24), RollingMean(168)]},
        date_features=["hour", "dayofweek"],
        num_threads=PEER_THREADS,
    )


def run_mlforecast_features(args, out: Path) -> dict:
    """mlforecast's preprocess on all hourly rows with the peer feature set, 3 times. Only the
    columns that feature set needs (unique_id, ds, y) are loaded: with the ids, categories and
    covariates as well, loading and preprocessing 99.6 M rows exceeds 24 GB."""
    import pandas as pd
    import pyarrow.dataset as ds
    from sklearn.linear_model import LinearRegression

    st = Stages()
    with st.stage("load"):
        table = ds.dataset(args.data, partitioning="hive").to_table(columns=["store_id", "product_id", "dt", "hour", "hourly_sale"])
        df = pd.DataFrame(
            {
                "unique_id": table["store_id"].to_numpy().astype(np.int64) * 1_000_000 + table["product_id"].to_numpy(),
                "ds": pd.to_datetime(table["dt"].to_numpy()) + pd.to_timedelta(table["hour"].to_numpy().astype(np.int64), unit="h"),
                "y": table["hourly_sale"].to_numpy(),
            }
        )
        del table
        df = df.sort_values(["unique_id", "ds"], ignore_index=True)
    rows = len(df)
    for k in range(3):
        with st.stage(f"features_hourly_peer_set_{k + 1}"):
            prep = _peer_forecaster({"unused": LinearRegression()}).preprocess(df, static_features=[])
        del prep
    return {"stages": st.rows, "hourly_feature_rows": rows}


ENGINES = {"freshcast": run_freshcast, "mlforecast": run_mlforecast, "mlforecast_tuned": run_mlforecast_tuned,
           "mlforecast_features": run_mlforecast_features}  # fmt: skip


def _scores(frame, methods) -> dict:
    from freshcast.forecast.metrics import wape, wpe

    y = frame["actual"].to_numpy()
    ins = frame["in_stock_day"].to_numpy()
    daily = frame.groupby(["store_id", "product_id", "dt"], sort=False)[["actual", "in_stock_day", *methods]].agg(
        {"actual": "sum", "in_stock_day": "first", **{m: "sum" for m in methods}}
    )
    dy, dins = daily["actual"].to_numpy(), daily["in_stock_day"].to_numpy()
    out = {}
    for m in methods:
        f = frame[m].to_numpy()
        df = daily[m].to_numpy()
        out[m] = {
            "hourly_wape": wape(y, f),
            "hourly_wpe": wpe(y, f),
            "hourly_wape_instock_days": wape(y[ins], f[ins]),
            "daily_wape": wape(dy, df),
            "daily_wpe": wpe(dy, df),
            "daily_wape_instock": wape(dy[dins], df[dins]),
            "daily_wpe_instock": wpe(dy[dins], df[dins]),
        }
    out["_hourly_rows"] = int(len(frame))
    return out


def score_origin(folder: Path) -> dict:
    """On the peer's series: every method's scores, and the paired intervals of the hourly WAPE
    differences of the means and of the medians."""
    import pandas as pd

    base = pd.read_parquet(folder / "freshcast.parquet")
    peer = pd.read_parquet(folder / "mlforecast.parquet")
    base = base.merge(peer, on=HOUR_KEYS, how="left", validate="one_to_one")
    methods = ["freshcast", "mlforecast", "freshcast_q50", "mlforecast_q50", "seasonal_naive"]
    pairs = [("freshcast", "mlforecast"), ("freshcast_q50", "mlforecast_q50")]
    if (folder / "mlforecast_tuned.parquet").exists():
        tuned = pd.read_parquet(folder / "mlforecast_tuned.parquet")
        base = base.merge(tuned, on=HOUR_KEYS, how="left", validate="one_to_one")
        methods.insert(2, "mlforecast_tuned")
        pairs.insert(0, ("freshcast", "mlforecast_tuned"))
    for m in methods:
        if m.startswith("mlforecast") and base[m].isna().any():
            raise SystemExit(f"{folder}: {m} missed {int(base[m].isna().sum())} forecast rows")
    result = _scores(base, methods)
    y = base["actual"].to_numpy()
    (series,) = pair_keys((base["store_id"].to_numpy(), base["product_id"].to_numpy()))
    result["hourly_wape_difference_95"] = {
        f"{a} - {b}": paired_interval(y, base[a].to_numpy(), base[b].to_numpy(), series) for a, b in pairs
    }
    result["_series"] = int(len(np.unique(series)))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="history (the layout --history reads)")
    ap.add_argument("--origins", default="2024-05-21,2024-05-28,2024-06-04,2024-06-11", help="last training days")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--peer-series", type=int, default=5000)
    ap.add_argument("--tuning-origins", default="2024-05-07,2024-05-14", help="the peer's study's origins")
    ap.add_argument("--trials", type=int, default=20, help="Optuna trials of the peer's study")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", default="freshcast,mlforecast,mlforecast_tuned", help="also: mlforecast_features "
                    "(feature build of mlforecast on all hourly rows, timed)")  # fmt: skip
    ap.add_argument("--work", required=True, help="folder keeping each finished step")
    ap.add_argument("--json", help="write all figures to this JSON file")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--origin", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work, engines = Path(args.work), args.engines.split(",")
    if not set(engines) <= set(ENGINES):
        raise SystemExit(f"--engines: some of {', '.join(ENGINES)}, not {args.engines}")
    if set(args.tuning_origins.split(",")) & set(args.origins.split(",")):
        raise SystemExit("--tuning-origins and --origins must not share an origin")
    if args.step:  # child: the peer's study
        write_json(work / args.step / "result.json", tune_mlforecast(args, work / args.step))
        return
    if args.engine:  # child: one engine at one origin
        write_json(work / args.origin / f"{args.engine}.json", ENGINES[args.engine](args, work / args.origin))
        return
    check_data(args.data)
    span = data_span(args.data)
    check_days(span, args.origins, "--origins", horizon=args.horizon)
    check_days(span, args.tuning_origins, "--tuning-origins", horizon=args.horizon)
    check_output(args.json)
    warm_file_cache(args.data)
    work.mkdir(parents=True, exist_ok=True)
    check_protocol(work, {k: getattr(args, k) for k in ("data", "origins", "horizon", "peer_series", "tuning_origins",
                                                        "trials", "seed")})  # fmt: skip
    report = {**report_head(), "origins": {}, "horizon_days": args.horizon, "peer_series": args.peer_series}
    if "mlforecast_tuned" in engines:
        if not (work / "tune_mlforecast" / "result.json").exists():
            print("tune_mlforecast:", file=sys.stderr, flush=True)
            run_self(__file__, "--step", "tune_mlforecast")
        report["tuning"] = {"origins": args.tuning_origins.split(","), "trials": args.trials,
                            "mlforecast": json.loads((work / "tune_mlforecast" / "result.json").read_text())}  # fmt: skip
    for origin in args.origins.split(","):
        figures = engines_at(__file__, work, origin, engines)
        accuracy = score_origin(work / origin) if {"freshcast", "mlforecast"} <= set(engines) else None
        report["origins"][origin] = {"engines": figures, "accuracy_peer_series": accuracy}
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
