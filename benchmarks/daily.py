"""Daily benchmark on the full shared data: freshcast beside seasonal naive, moving average and
mlforecast + LightGBM, in one run.

Train on days up to --train-end, forecast the next --horizon days for every series, score
WAPE / WPE on all days and on in-stock days (freshcast also trained without stockout
recovery, as `freshcast_observed`), and time each stage (load, features, train,
predict) with its peak resident memory. Each engine runs in its own process so that its time
and memory are its own.

    pip install ".[bench]"
    python benchmarks/daily.py --json benchmarks/daily.json

Needs ../shared/data/freshretailnet-50k beside the repository (or --data).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np

from freshcast.data import contract as C
from freshcast.data.dates import day_number as _day

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "freshretailnet-50k" / "hourly"
KEYS = list(C.KEYS)
STATIC = [C.STORE, C.PRODUCT, *C.STATIC]
COVARIATES = list(C.COVARIATES)


# ------------------------------------------------------------------------ measurement
def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Stages:
    """Wall time and peak resident memory (sampled every 10 ms) of named stages."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    @contextmanager
    def stage(self, name: str):
        peak = [_rss()]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.01):
                peak[0] = max(peak[0], _rss())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - t0
            stop.set()
            thread.join()
            peak[0] = max(peak[0], _rss())
            self.rows[name] = {"seconds": round(seconds, 2), "peak_rss_gb": round(peak[0] / 1e9, 2)}
            print(f"  {name}: {seconds:.1f} s, peak {peak[0] / 1e9:.2f} GB", file=sys.stderr, flush=True)


def _processor() -> str:
    """The CPU model from /proc/cpuinfo (timings differ by several tens of percent between
    the machines this benchmark has run on)."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"




# ------------------------------------------------------------------------ engines
def run_freshcast(args, out: Path) -> dict:
    from freshcast.data import load_history
    from freshcast.features import kernels as K
    from freshcast.forecast import DailyForecaster, baselines
    from freshcast.forecast.quantiles import quantile_column

    st = Stages()
    cut = _day(args.train_end)
    with st.stage("load"):
        panel = load_history(args.data)
        train = panel.until(cut)
        future = panel.future(cut + 1, args.horizon)
    with st.stage("features_peer_set"):
        peer_like_features(train, K)
    model = DailyForecaster(**{"max_horizon": args.horizon, "seed": 0, **json.loads(args.freshcast_params)})
    with st.stage("features_and_train"):
        model.fit(train)
    for part, seconds in model.fit_seconds_.items():  # features, train, calibration (of quantiles)
        st.rows[part] = {"seconds": round(seconds, 2)}
    with st.stage("predict"):
        pred = model.predict(args.horizon, future)
    # the same model trained on sales as observed (no stockout recovery), untimed
    if model.stockout_recovery > 0:
        observed = DailyForecaster(**{**model.get_params(), "stockout_recovery": 0.0, "quantiles": ()}).fit(train)
        pred["freshcast_observed"] = observed.predict(args.horizon, future)["yhat"].to_numpy()
    # actuals and baselines for the same rows (series of the training panel, days 1..horizon)
    pos = panel.positions((cut + 1 + np.arange(args.horizon))[None, :], np.flatnonzero(panel.start <= cut))
    pred["actual"] = panel.sales[pos].ravel()
    pred["in_stock"] = panel.in_stock()[pos].ravel()
    pred["seasonal_naive"] = baselines.seasonal_naive(train, args.horizon).ravel()
    pred["moving_average"] = baselines.moving_average(train, args.horizon).ravel()
    quantiles = {quantile_column(q): f"freshcast_{quantile_column(q)}" for q in model.quantiles_}
    pred.rename(columns={"yhat": "freshcast", **quantiles}).to_parquet(out / "freshcast.parquet")
    return {"stages": st.rows, "params": {k: str(v) for k, v in model.get_params().items()}, "train_rows": model.n_train_rows_}


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


def run_mlforecast(args, out: Path) -> dict:
    import lightgbm as lgb
    import pandas as pd
    import pyarrow.dataset as ds
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd

    st = Stages()
    with st.stage("load"):
        table = ds.dataset(args.data, partitioning="hive").to_table(columns=[*STATIC, "dt", "hourly_sale", *COVARIATES])
        daily = table.group_by([*STATIC, "dt"]).aggregate(
            [("hourly_sale", "sum")] + [(c, "mean") for c in COVARIATES]
        )
        del table
        df = daily.to_pandas()
        del daily
        df.columns = [c.removesuffix("_sum").removesuffix("_mean") for c in df.columns]
        df = df.rename(columns={"dt": "ds", "hourly_sale": "y"})
        df["ds"] = pd.to_datetime(df["ds"])
        df["unique_id"] = df["store_id"].astype("int64") * 1_000_000 + df["product_id"]
        for c in STATIC:
            df[c] = df[c].astype("category")
        df = df.sort_values(["unique_id", "ds"], ignore_index=True)
        end = pd.Timestamp(args.train_end)
        train = df[df.ds <= end]
        future = df[(df.ds > end) & (df.ds <= end + pd.Timedelta(days=args.horizon))]
        x_future = future[["unique_id", "ds", *COVARIATES]]
    model = lgb.LGBMRegressor(n_estimators=500, num_leaves=127, random_state=0, verbosity=-1, n_jobs=2)
    rolls = [RollingMean(7), RollingStd(7), RollingMean(28), RollingStd(28)]
    fcst = MLForecast(
        models={"mlforecast": model},
        freq="D",
        lags=[1, 7, 14],
        lag_transforms={1: rolls, 7: rolls},
        date_features=["dayofweek"],
        num_threads=2,
    )
    with st.stage("features"):
        prep = fcst.preprocess(train, static_features=STATIC)
    with st.stage("train"):
        X = prep.drop(columns=["unique_id", "ds", "y"])
        fcst.fit_models(X, prep["y"])
        del X, prep
    with st.stage("predict"):
        pred = fcst.predict(args.horizon, X_df=x_future)
    keys = df.drop_duplicates("unique_id")[["unique_id", "store_id", "product_id"]]
    pred = pred.merge(keys, on="unique_id").rename(columns={"ds": "dt"})
    pred["store_id"] = pred["store_id"].astype("int64")
    pred["product_id"] = pred["product_id"].astype("int64")
    pred["dt"] = pred["dt"].dt.date
    pred[KEYS + ["mlforecast"]].to_parquet(out / "mlforecast.parquet")
    return {"stages": st.rows, "train_rows": int(len(train))}


ENGINES = {"freshcast": run_freshcast, "mlforecast": run_mlforecast}


# ------------------------------------------------------------------------ driver
def warm_file_cache(data: str) -> None:
    """Read every input file once, so that no engine pays for a cold disk cache."""
    for f in sorted(Path(data).rglob("*")):
        if f.is_file():
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass


def score(out: Path, engines: list[str]) -> dict:
    import pandas as pd

    from freshcast.forecast.metrics import coverage, pinball, wape, wpe

    base = pd.read_parquet(out / "freshcast.parquet")
    base["dt"] = pd.to_datetime(base["dt"]).dt.date
    methods = ["freshcast", "seasonal_naive", "moving_average"]
    if "freshcast_observed" in base:
        methods.insert(1, "freshcast_observed")
    if "mlforecast" in engines:
        peer = pd.read_parquet(out / "mlforecast.parquet")
        peer["dt"] = pd.to_datetime(peer["dt"]).dt.date
        base = base.merge(peer, on=KEYS, how="left", validate="one_to_one")
        if base["mlforecast"].isna().any():
            raise SystemExit(f"mlforecast missed {int(base['mlforecast'].isna().sum())} forecast rows")
        methods.append("mlforecast")
    y = base["actual"].to_numpy()
    m = base["in_stock"].to_numpy()
    result = {}
    for name in methods:
        f = base[name].to_numpy()
        result[name] = {
            "wape": round(wape(y, f), 4),
            "wpe": round(wpe(y, f), 4),
            "wape_instock": round(wape(y[m], f[m]), 4),
            "wpe_instock": round(wpe(y[m], f[m]), 4),
        }
    levels = sorted(float(c.removeprefix("freshcast_q")) / 100 for c in base.columns if c.startswith("freshcast_q"))
    if levels:  # freshcast's quantiles, on in-stock days
        q = {lv: base[f"freshcast_q{lv * 100:g}"].to_numpy()[m] for lv in levels}
        result["freshcast_quantiles"] = {
            **{f"pinball_q{lv * 100:g}": round(pinball(y[m], q[lv], lv), 4) for lv in levels},
            **{f"coverage_q{lv * 100:g}": round(coverage(y[m], q[lv]), 4) for lv in levels},
            "interval_coverage": round(float(np.mean((y[m] >= q[levels[0]]) & (y[m] <= q[levels[-1]]))), 4),
        }
    result["_rows"] = int(len(base))
    return result


def run(args, engines: dict, script: str, score) -> None:
    """Run a benchmark script: as a child (--engine), one engine; as the driver, every engine
    of --engines in its own process of `script`, then `score(out, engines)` when freshcast ran,
    and the report (stdout, and --json)."""
    if args.engine:  # child process: run one engine
        figures = engines[args.engine](args, Path(args.out))
        (Path(args.out) / f"{args.engine}.json").write_text(json.dumps(figures))
        return
    names = args.engines.split(",")
    warm_file_cache(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        report = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "date": date.today().isoformat(),
            "machine": f"{platform.machine()}, {_processor()}, {os.cpu_count()} cores, {platform.python_version()}",
            "train_end": args.train_end,
            "horizon_days": args.horizon,
            "engines": {},
        }
        for name in names:
            print(f"{name}:", file=sys.stderr, flush=True)
            cmd = [sys.executable, script, "--engine", name, "--out", tmp, *sys.argv[1:]]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            figures = json.loads((out / f"{name}.json").read_text())
            figures["process_seconds"] = round(time.perf_counter() - t0, 1)
            report["engines"][name] = figures
        if "freshcast" in names:
            report["accuracy"] = score(out, names)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--train-end", default="2024-06-11")
    ap.add_argument("--horizon", type=int, default=7)
    ap.add_argument("--engines", default="freshcast,mlforecast")
    ap.add_argument("--freshcast-params", default="{}", help="JSON of DailyForecaster parameters")
    ap.add_argument("--json", help="write all figures to this JSON file")
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    run(args, ENGINES, __file__, score)


if __name__ == "__main__":
    main()
