"""Daily benchmark, fair protocol: freshcast and mlforecast + LightGBM, each tuned with the same
Optuna budget on the first weekly origins, then scored on the last four origins only.

Origins are last training days; each is scored on the `--horizon` days after it. The first
`--tuning-origins` of `--origins` are the only days either search sees: freshcast runs
`freshcast tune` on the history up to the first scoring origin (whose last weeks are the tuning
origins), the peer an Optuna study with the same sampler, pruner and number of trials over the
LightGBM parameters both engines have (freshcast's own ranges and objective choices). At each
scoring origin, in its own process per engine: the default command (freshcast: mean and
quantiles P10/P50/P90; the peer: 500 trees, 127 leaves, l2, and at the last origin also with
its conformal P10-P90 interval) timed stage by stage with peak memory, then the tuned model,
then the baselines. Scores per origin: WAPE and WPE on all and on in-stock days, and a paired
bootstrap 95% interval over series of each WAPE difference.

Every finished step is kept in `--work DIR` (the two studies, one folder per origin), so a run
that was stopped resumes where it was; delete DIR to start over.

    pip install ".[bench,tune]"
    python benchmarks/daily.py --work DIR --json benchmarks/daily.json

Needs ../shared/data/freshretailnet-50k beside the repository (or --data).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from common import (COVARIATES, DEFAULT_DATA, PEER_THREADS, KEYS, STATIC, Stages, _day, engines_at, paired_interval,
                    report_head, run_self, warm_file_cache, write_json, check_data, check_days, check_output,
                    check_protocol, data_span)
from peer import PeerOrigin, tune_peer

from freshcast.data.keys import pair_keys

ORIGINS = "2024-05-07,2024-05-14,2024-05-21,2024-05-28,2024-06-04,2024-06-11"
PEER_DEFAULT = {"n_estimators": 500, "num_leaves": 127}  # and LightGBM's defaults (l2, learning rate 0.1)
INTERVAL = 80  # the peer's conformal interval (%): its bounds are P10 and P90


# ------------------------------------------------------------------------ the peer
def peer_frame(data: str):
    """Daily rows (`unique_id, ds, y`, the ids and category levels as categoricals, the
    day-level covariates) from pyarrow's group_by on the hourly rows."""
    import pandas as pd
    import pyarrow.dataset as ds

    table = ds.dataset(data, partitioning="hive").to_table(columns=[*STATIC, "dt", "hourly_sale", *COVARIATES])
    daily = table.group_by([*STATIC, "dt"]).aggregate([("hourly_sale", "sum")] + [(c, "mean") for c in COVARIATES])
    del table
    df = daily.to_pandas()
    del daily
    df.columns = [c.removesuffix("_sum").removesuffix("_mean") for c in df.columns]
    df = df.rename(columns={"dt": "ds", "hourly_sale": "y"})
    df["ds"] = pd.to_datetime(df["ds"])
    df["unique_id"] = df["store_id"].astype("int64") * 1_000_000 + df["product_id"]
    for c in STATIC:
        df[c] = df[c].astype("category")
    return df.sort_values(["unique_id", "ds"], ignore_index=True)


def peer_origin(df, origin: str, horizon: int, stages: Stages | None = None) -> PeerOrigin:
    """mlforecast at one origin: lags 1/7/14, rolling mean and std over 7 and 28 days on lags 1
    and 7, day of week, ids and category levels as categoricals, the covariates as dynamic
    features, recursive forecast of the `horizon` days after `origin`."""
    import pandas as pd
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd

    rolls = [RollingMean(7), RollingStd(7), RollingMean(28), RollingStd(28)]
    fcst = MLForecast(models={}, freq="D", lags=[1, 7, 14], lag_transforms={1: rolls, 7: rolls},
                      date_features=["dayofweek"], num_threads=PEER_THREADS)  # fmt: skip
    return PeerOrigin(df, fcst, pd.Timestamp(origin), horizon, pd.Timedelta(days=1), stages)


def run_mlforecast(args, out: Path) -> dict:
    """The peer at one scoring origin: default (timed), tuned, and with its interval."""
    st = Stages()
    with st.stage("load"):
        df = peer_frame(args.data)
    origin = peer_origin(df, args.origin, args.horizon, st)
    frames = [origin.forecast(PEER_DEFAULT, "mlforecast")]
    tuned = json.loads((Path(args.work) / "tune_mlforecast" / "best_params.json").read_text())["params"]
    frames.append(origin.forecast(tuned, "mlforecast_tuned"))
    if args.origin == args.origins.split(",")[-1]:
        frames.append(_peer_with_interval(origin, st))
    pred = frames[0]
    for f in frames[1:]:
        pred = pred.merge(f, on=["unique_id", "ds"], validate="one_to_one")
    keys = df.drop_duplicates("unique_id")[["unique_id", "store_id", "product_id"]]
    pred = pred.merge(keys, on="unique_id").rename(columns={"ds": "dt"})
    pred["store_id"] = pred["store_id"].astype("int64")
    pred["product_id"] = pred["product_id"].astype("int64")
    pred["dt"] = pred["dt"].dt.date
    pred.drop(columns="unique_id").to_parquet(out / "mlforecast.parquet")
    return {"stages": st.rows, "train_rows": int(len(origin.train)), "tuned_params": tuned}


def _peer_with_interval(origin: PeerOrigin, st: Stages):
    """The peer's default model with mlforecast's conformal interval (2 windows of the horizon,
    each a model of its own), its whole fit and predict timed as one stage."""
    import lightgbm as lgb
    from mlforecast.utils import PredictionIntervals

    fcst = origin.fcst
    fcst.models = {"mlforecast_int": lgb.LGBMRegressor(random_state=0, verbosity=-1, n_jobs=PEER_THREADS,
                                                       **PEER_DEFAULT)}  # fmt: skip
    with st.stage("default_with_interval"):
        fcst.fit(origin.train, static_features=STATIC,
                 prediction_intervals=PredictionIntervals(n_windows=2, h=origin.steps))  # fmt: skip
        pred = fcst.predict(origin.steps, X_df=origin.x_future, level=[INTERVAL])
    return pred.rename(columns={f"mlforecast_int-lo-{INTERVAL}": "mlforecast_q10",
                                f"mlforecast_int-hi-{INTERVAL}": "mlforecast_q90"})  # fmt: skip


def tune_mlforecast(args, work: Path) -> dict:
    """The peer's Optuna study on the tuning origins (resumes from work/study.db)."""
    df = peer_frame(args.data)
    origins = args.origins.split(",")[: args.tuning_origins]
    return tune_peer(work, args.seed, args.trials, origins, lambda origin: peer_origin(df, origin, args.horizon))


# ------------------------------------------------------------------------ freshcast
def run_freshcast(args, out: Path) -> dict:
    """freshcast at one scoring origin: the default command (timed), the tuned mean, baselines."""
    from freshcast.data import load_history
    from freshcast.features import kernels as K
    from freshcast.forecast import DailyForecaster, baselines
    from freshcast.forecast.params import read_params
    from freshcast.forecast.quantiles import quantile_column
    from freshcast.forecast.tune import forecast_after

    st = Stages()
    cut = _day(args.origin)
    with st.stage("load"):
        panel = load_history(args.data)
        train = panel.until(cut)
        future = panel.future(cut + 1, args.horizon)
    with st.stage("features_peer_set"):
        peer_like_features(train, K)
    model = DailyForecaster(max_horizon=args.horizon, seed=0)
    with st.stage("fit"):
        model.fit(train)
    for part, seconds in model.fit_seconds_.items():  # features, train, calibration (of quantiles)
        st.rows[part] = {"seconds": round(seconds, 2)}
    with st.stage("predict"):
        pred = model.predict(args.horizon, future)
    del model
    tuned = read_params(Path(args.work) / "tune_freshcast" / "best_params.toml")
    mean, _ = forecast_after(panel, tuned, cut, args.horizon)
    pred["freshcast_tuned"] = mean.ravel()
    pos = panel.positions((cut + 1 + np.arange(args.horizon))[None, :], np.flatnonzero(panel.start <= cut))
    pred["actual"] = panel.sales[pos].ravel()
    pred["in_stock"] = panel.in_stock()[pos].ravel()
    pred["seasonal_naive"] = baselines.seasonal_naive(train, args.horizon).ravel()
    pred["moving_average"] = baselines.moving_average(train, args.horizon).ravel()
    quantiles = {quantile_column(q): f"freshcast_{quantile_column(q)}" for q in (0.1, 0.5, 0.9)}
    pred.rename(columns={"yhat": "freshcast", **quantiles}).to_parquet(out / "freshcast.parquet")
    return {"stages": st.rows, "train_rows": int(train.n_flat), "tuned_params": {k: str(v) for k, v in tuned.items()}}


def peer_like_features(panel, K) -> np.ndarray:
    """The mlforecast feature set (lags 1/7/14; rolling mean and std over 7 and 28 days on
    lags 1 and 7; day of week) for every series-day, built with freshcast's kernels."""
    y, offsets = panel.sales, panel.offsets
    n = panel.n_flat
    series = np.repeat(np.arange(panel.n_series), np.diff(offsets))
    row_start = offsets[:-1][series]
    target = np.arange(n)
    ones = np.ones(n, np.int32)
    cols = list(K.target_lags(y, row_start, target, ones, np.array([1, 7, 14])).T)
    for w in (7, 28):
        mean, std = K.rolling_mean(y, offsets, w, w), K.rolling_std(y, offsets, w, w)
        for stat in (mean, std):
            cols += list(K.target_lags(stat, row_start, target, ones, np.array([1, 7])).T)
    cols.append(((panel.day_numbers() + 3) % 7).astype(np.float32))
    return np.column_stack(cols)


def tune_freshcast(args, work: Path) -> dict:
    """`freshcast tune` on the history up to the first scoring origin (resumes from work/)."""
    from freshcast.data import load_history
    from freshcast.forecast.tune import tune

    origins = args.origins.split(",")
    panel = load_history(args.data).until(_day(origins[args.tuning_origins]))
    result = tune(panel, work, args.trials, args.tuning_origins, args.horizon, args.seed,
                  progress=lambda m: print(f"  freshcast {m}", file=sys.stderr, flush=True))  # fmt: skip
    if result.origins != origins[: args.tuning_origins]:
        raise SystemExit(f"freshcast tune used origins {result.origins}, not {origins[: args.tuning_origins]}")
    return {"wape": result.best_wape, "params": {k: str(v) for k, v in result.best_params.items()}}


STEPS = {"freshcast": ("tune_freshcast", tune_freshcast), "mlforecast": ("tune_mlforecast", tune_mlforecast)}
ENGINES = {"freshcast": run_freshcast, "mlforecast": run_mlforecast}


# ------------------------------------------------------------------------ scoring
def score_origin(folder: Path) -> dict:
    import pandas as pd

    from freshcast.forecast.metrics import coverage, wape, wpe

    base = pd.read_parquet(folder / "freshcast.parquet")
    methods = ["freshcast", "freshcast_tuned", "moving_average", "seasonal_naive"]
    pairs = [("freshcast", "moving_average"), ("freshcast_tuned", "moving_average")]
    if (folder / "mlforecast.parquet").exists():
        peer = pd.read_parquet(folder / "mlforecast.parquet")
        peer["dt"] = pd.to_datetime(peer["dt"]).dt.date
        base["dt"] = pd.to_datetime(base["dt"]).dt.date
        base = base.merge(peer, on=KEYS, how="left", validate="one_to_one")
        if base["mlforecast"].isna().any():
            raise SystemExit(f"{folder}: mlforecast missed {int(base['mlforecast'].isna().sum())} forecast rows")
        methods[2:2] = ["mlforecast", "mlforecast_tuned"]
        pairs = [("freshcast", "mlforecast_tuned"), ("freshcast_tuned", "mlforecast_tuned"), ("freshcast", "mlforecast")]
    y, m = base["actual"].to_numpy(), base["in_stock"].to_numpy()
    (series,) = pair_keys((base["store_id"].to_numpy(), base["product_id"].to_numpy()))
    result = {"rows": int(len(base)), "rows_in_stock": int(m.sum()), "methods": {}}
    for name in methods:
        f = base[name].to_numpy()
        result["methods"][name] = {"wape": wape(y, f), "wpe": wpe(y, f), "wape_instock": wape(y[m], f[m]),
                                   "wpe_instock": wpe(y[m], f[m])}  # fmt: skip
    result["wape_difference_95"] = {f"{a} - {b}": paired_interval(y, base[a].to_numpy(), base[b].to_numpy(), series)
                                    for a, b in pairs}  # fmt: skip
    cover = {}  # share of in-stock actuals at or below each quantile, and inside P10-P90
    for name in ("freshcast", "mlforecast"):
        if f"{name}_q10" in base:
            levels = [c for c in base if c.startswith(f"{name}_q") and c.removeprefix(f"{name}_q").isdigit()]
            cover[name] = {f"coverage_{c.removeprefix(name + '_')}": coverage(y[m], base[c].to_numpy()[m]) for c in levels}
            lo, hi = base[f"{name}_q10"].to_numpy()[m], base[f"{name}_q90"].to_numpy()[m]
            cover[name]["interval_coverage"] = float(np.mean((y[m] >= lo) & (y[m] <= hi)))
    result["quantiles_in_stock"] = cover
    return result


# ------------------------------------------------------------------------ driver
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="history (the layout --history reads)")
    ap.add_argument("--origins", default=ORIGINS, help="last training days, oldest first")
    ap.add_argument("--tuning-origins", type=int, default=2, help="how many of the first origins tune")
    ap.add_argument("--trials", type=int, default=20, help="Optuna trials for each engine")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", default="freshcast,mlforecast", help="freshcast alone leaves the peer out")
    ap.add_argument("--work", required=True, help="folder keeping each finished step")
    ap.add_argument("--json", help="write all figures to this JSON file")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--origin", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work)
    origins = args.origins.split(",")
    if not 1 <= args.tuning_origins <= len(origins) - 1:
        raise SystemExit("--tuning-origins must leave at least one scoring origin")

    engines = args.engines.split(",")
    if "freshcast" not in engines or not set(engines) <= set(ENGINES):
        raise SystemExit(f"--engines: freshcast and optionally mlforecast, not {args.engines}")
    steps = dict(STEPS[e] for e in engines)
    if args.step:  # child: one tuning study
        write_json(work / args.step / "result.json", steps[args.step](args, work / args.step))
        return
    if args.engine:  # child: one engine at one origin
        folder = work / args.origin
        figures = ENGINES[args.engine](args, folder)
        write_json(folder / f"{args.engine}.json", figures)
        return

    check_data(args.data)
    check_days(data_span(args.data), args.origins, "--origins", horizon=args.horizon)  # the tuning ones too
    check_output(args.json)
    warm_file_cache(args.data)
    work.mkdir(parents=True, exist_ok=True)
    settings = ("data", "origins", "tuning_origins", "trials", "horizon", "seed")
    check_protocol(work, {k: getattr(args, k) for k in settings})
    for step in steps:
        if not (work / step / "result.json").exists():
            print(f"{step}:", file=sys.stderr, flush=True)
            run_self(__file__, "--step", step)
    report = {**report_head(), "tuning_origins": origins[: args.tuning_origins],
              "scoring_origins": origins[args.tuning_origins:], "horizon_days": args.horizon, "trials_each": args.trials,
              "tuning": {s: json.loads((work / s / "result.json").read_text()) for s in steps}, "origins": {}}  # fmt: skip
    for origin in origins[args.tuning_origins:]:
        figures = engines_at(__file__, work, origin, engines)
        report["origins"][origin] = {"engines": figures, "accuracy": score_origin(work / origin)}
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
