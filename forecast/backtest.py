"""Rolling-origin backtest: weekly folds, freshcast beside seasonal-naive and moving-average
baselines, scored per fold and over all folds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..data.dates import day_to_date
from ..data.panel import DailyPanel
from ..errors import FreshcastError
from . import baselines
from .daily import DailyForecaster
from .metrics import coverage, evaluate, pinball, seasonal_scale
from .quantiles import quantile_column


def fold_cutoffs(panel: DailyPanel, folds: int, horizon: int, step: int = 7, calibrated: bool = False) -> list[int]:
    """Last training day of each fold, oldest first; the newest fold ends on the last day."""
    return cutoffs_between(int(panel.start.min()), panel.last_day, folds, horizon, panel.source, step, calibrated)


def cutoffs_between(first_day: int, last_day: int, folds: int, horizon: int, source: str, step: int = 7,
                    calibrated: bool = False) -> list[int]:  # fmt: skip
    """`fold_cutoffs` of a history of days `first_day` .. `last_day` (day numbers); each fold
    keeps the days its model trains on (`calibrated`: and those its quantiles are calibrated
    on, the last `horizon`)."""
    if folds < 1 or horizon < 1:
        raise FreshcastError(f"folds and horizon must be at least 1, got {folds} and {horizon}")
    cutoffs = [last_day - horizon - step * k for k in range(folds - 1, -1, -1)]
    need = max(28, horizon) + (horizon if calibrated else 0)  # the models' min_history_days (+ calibration)
    if cutoffs[0] - first_day < need:
        kept = f"{need} days to train on" + (f", the last {horizon} to calibrate the quantiles" if calibrated else "")
        raise FreshcastError(f"{source}: history too short for {folds} folds of {horizon} days (each keeps {kept})")
    return cutoffs


def backtest(
    panel: DailyPanel,
    folds: int = 3,
    horizon: int = 7,
    params: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the backtest. Returns (scores, forecasts): scores has one row per fold and method
    plus fold "all" (freshcast's rows add pinball loss and coverage per quantile and the
    coverage of its outermost interval, on in-stock days); forecasts has every forecast row
    with its actual sales."""
    frames, scales = [], []
    cutoffs = fold_cutoffs(panel, folds, horizon, calibrated=bool(fold_model(horizon, params).quantiles))
    for k, cutoff in enumerate(cutoffs, start=1):
        if progress:
            progress(f"fold {k}/{folds}: train to {day_to_date(cutoff)}, forecast {horizon} days")
        train = panel.until(cutoff)
        model = fold_model(horizon, params).fit(train)
        frame, scale = fold_forecasts(panel, train, horizon, model)
        frames.append(frame.assign(fold=k, series=frame["series"] + (k - 1) * panel.n_series))
        scales.append(scale)
    return scored(pd.concat(frames, ignore_index=True), np.concatenate(scales), model.quantiles_)


def folds_tuned_on(forecasts: pd.DataFrame, origins: list[str]) -> list[int]:
    """The folds of a backtest's `forecasts` whose last training day is one of `origins` (ISO
    days a params file was tuned at): their scores are those the tuning chose by."""
    ends = (pd.to_datetime(forecasts.groupby("fold")["dt"].min()) - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
    return [int(fold) for fold in ends.index[ends.isin(origins)]]


def fold_model(horizon: int, params: dict | None) -> DailyForecaster:
    """The (unfitted) model each fold trains: `params` over the defaults, `horizon` days ahead."""
    return DailyForecaster(**{"max_horizon": horizon, "min_history_days": max(28, horizon), **(params or {})})


def fold_forecasts(panel: DailyPanel, train: DailyPanel, horizon: int, model: DailyForecaster,
                   pooled=None) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """The forecasts of the `horizon` days after `train` (= `panel.until(cutoff)`) by `model`
    (fitted on it; `pooled`: the chain's group tables when `panel` is a partition) with the
    actual sales, in-stock flags and the baselines, for the series known by the cutoff
    (column `series`: their index in `panel`); and the MASE scale of every series of `panel`
    from its days up to the cutoff (0 for those not known yet)."""
    cutoff = train.last_day
    kept = np.flatnonzero(panel.start <= cutoff)  # the series known by the cutoff (the forecast's)
    forecast = model.predict_distribution(horizon, panel.future(cutoff + 1, horizon, kept), train, pooled=pooled)
    scale = np.zeros(panel.n_series)
    scale[kept] = seasonal_scale(train.sales, train.offsets)
    pos = panel.positions(forecast.days[None, :], kept)
    frame = forecast.to_frame().assign(
        horizon=np.tile(np.arange(1, horizon + 1, dtype=np.int32), len(kept)),
        actual=panel.sales[pos].ravel(),
        in_stock=panel.in_stock()[pos].ravel(),
        seasonal_naive=baselines.seasonal_naive(train, horizon).ravel(),
        moving_average=baselines.moving_average(train, horizon).ravel(),
        series=np.repeat(kept, horizon),
    )
    return frame, scale


def scored(forecasts: pd.DataFrame, scale: np.ndarray, levels: tuple[float, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, forecasts) of the backtest from the forecast rows of every fold (column
    `series` indexing `scale`, the MASE scale of each fold's series): see `backtest`."""
    cols = [c for c in forecasts.columns if c != "fold"]
    forecasts = forecasts[cols[: cols.index("horizon")] + ["fold"] + cols[cols.index("horizon"):]]
    scores = []
    for fold, group in [*forecasts.groupby("fold"), ("all", forecasts)]:
        for method in ("yhat", "seasonal_naive", "moving_average"):
            m = evaluate(
                group["actual"].to_numpy(),
                group[method].to_numpy(),
                group["in_stock"].to_numpy(),
                group["series"].to_numpy(),
                scale,
            )
            if method == "yhat":
                m.update(quantile_scores(group, levels))
            name = "freshcast" if method == "yhat" else method
            scores.append({"fold": str(fold), "method": name, **m})
    return pd.DataFrame(scores), forecasts.drop(columns="series")


def quantile_scores(forecasts: pd.DataFrame, levels: tuple[float, ...]) -> dict[str, float]:
    """Pinball loss and coverage of each quantile, and the share inside the outermost
    interval, on in-stock days (where sales are demand)."""
    rows = forecasts[forecasts["in_stock"].to_numpy()]
    actual = rows["actual"].to_numpy()
    out = {}
    for level in levels:
        q = rows[quantile_column(level)].to_numpy()
        out[f"pinball_{quantile_column(level)}"] = pinball(actual, q, level)
        out[f"coverage_{quantile_column(level)}"] = coverage(actual, q)
    if len(levels) >= 2:
        lo, hi = (rows[quantile_column(q)].to_numpy() for q in (levels[0], levels[-1]))
        out["interval_coverage"] = float(np.mean((actual >= lo) & (actual <= hi)))
    return out
