"""The quantile calibrator: a separate object that wraps a point forecaster and gives its
forecasts quantiles from the errors a copy of it makes on days it has not seen (method:
`freshcast.forecast.quantiles`)."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ..data.keys import pair_word, spread
from ..data.panel import DailyPanel
from ..errors import FreshcastError
from ..features.latent import recovered_demand
from .hourly import sales_profile
from .quantiles import Holdout, QuantileTable, check_quantiles


CALIBRATE_ON = ("in_stock", "demand")


class QuantileCalibrator:
    """levels : quantile levels in (0, 1) (sorted here).
    on : what the daily quantiles are calibrated against: "in_stock", the sales of days
        without a stockout shop hour (what the sales will be where the shelf stays full);
        "demand", every day's demand, recovered where stockouts hid it (needs hourly rows;
        daily input falls back to in-stock days). Hour and slot quantiles use in-stock parts.

    `fit(point, panel)` trains a copy of the point forecaster `point` (`calibration_copy`;
    unfitted parameters are enough) on `panel` without its last `max_horizon` days, forecasts
    those days with horizons 1..H and keeps the forecasts with what happened (`holdout_`); on
    a chain of more than `point.calibration_series` series, on a sample of about that many
    (`calibration_sample`);
    `table(groups)` is the ratio table for whole days (None) or for the parts of a day given
    as hour groups."""

    def __init__(self, levels, on: str = "in_stock"):
        self.levels = check_quantiles(levels)
        if on not in CALIBRATE_ON:
            raise FreshcastError(f"quantiles are calibrated on one of {', '.join(CALIBRATE_ON)}, got '{on}'")
        self.on = on

    def fit(self, point, panel: DailyPanel, progress=None) -> QuantileCalibrator:
        H = point.max_horizon
        share = calibration_share(panel.n_series, point.calibration_series)
        if share < 1:
            sample = sampled_panel(panel, share)
            if sample.n_series == 0:
                raise FreshcastError(empty_sample(panel.source, point.calibration_series, panel.n_series))
            panel = sample
        early = panel.until(panel.last_day - H)
        model = calibration_copy(point)
        try:
            model.fit(early, progress)
        except FreshcastError as exc:
            raise FreshcastError(
                f"{panel.source}: quantiles are calibrated on forecasts of the last {H} days, which needs "
                f"more than {point.min_history_days + H} days of history ({exc}); ask for none to skip them "
                f"(--quantiles none; a replay needs them: give it more history)"
            ) from None
        self.holdout_ = held_out(model, panel, self.on)
        return self

    @classmethod
    def from_holdout(cls, levels, holdout: Holdout) -> QuantileCalibrator:
        """A calibrator fitted before (its held-out forecasts saved with the model)."""
        calibrator = cls(levels, "demand" if holdout.demand is not None else "in_stock")
        calibrator.holdout_ = holdout
        return calibrator

    @property
    def hourly(self) -> bool:
        """Whether the held-out days had hours (hour and slot quantiles need them)."""
        return self.holdout_.hourly

    def table(self, groups: list[np.ndarray] | None = None) -> QuantileTable:
        return self.holdout_.table(groups, self.levels)


def calibration_copy(point):
    """The unfitted copy of the point forecaster `point` whose forecasts of held-out days
    calibrate its quantiles: no quantiles of its own, and `point.calibration_tree_share` of its
    trees at a learning rate higher by the same factor (fewer, larger steps: errors of nearly
    the same size in a fraction of the time; benchmarks/RESULTS.md)."""
    trees = max(1, round(point.n_estimators * point.calibration_tree_share))
    rate = point.learning_rate * point.n_estimators / trees
    return clone(point).set_params(quantiles=(), n_estimators=trees, learning_rate=rate)


def calibration_share(n_series: int, limit: int | None) -> float:
    """The share of a chain of `n_series` series the calibration's model trains on and is held
    out on: about `limit` of them (None: all; FreshcastError unless a whole number >= 1)."""
    check_calibration_series(limit)
    return 1.0 if limit is None else min(1.0, limit / max(n_series, 1))


def check_calibration_series(limit) -> None:
    """FreshcastError unless `limit` (`calibration_series`) is None or a whole number >= 1."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise FreshcastError(f"calibration_series must be a whole number of at least 1 or None, got {limit!r}")


def empty_sample(source: str, limit: int, n_series: int) -> str:
    return (f"{source}: calibration_series = {limit} picks none of the {n_series} series to calibrate the "
            f"quantiles on: give a larger one")  # fmt: skip


def calibration_sample(ids: np.ndarray, share: float) -> np.ndarray:
    """Whether each series (`ids`: its store_id and product_id, as `DailyPanel.ids`) is among
    the `share` of the chain's series the quantiles are calibrated on: decided by a hash of its
    two ids alone, so one machine and every partition of a cluster pick the same series, and a
    smaller share picks among the series of a larger one."""
    if share >= 1:
        return np.ones(len(ids), bool)
    x = spread(pair_word(ids[:, 0], ids[:, 1]))
    return (x >> np.uint64(11)).astype(np.float64) / 2.0**53 < share


def sampled_panel(panel: DailyPanel, share: float) -> DailyPanel:
    """The series of `panel` (the chain or a partition of it) in the chain's `calibration_sample`."""
    return panel.take(np.flatnonzero(calibration_sample(panel.ids(), share)))


def held_out(model, panel: DailyPanel, on: str, pooled=None) -> Holdout:
    """The forecasts by `model`, fitted on `panel` without its last `model.max_horizon` days,
    of those days, with what happened (`Holdout`; `on` as for `QuantileCalibrator`).
    `pooled`: the chain's group tables when `panel` is a partition (see `features.daily`)."""
    H = model.max_horizon
    cut = panel.last_day - H
    kept = np.flatnonzero(panel.start <= cut)
    early = panel.until(cut)
    mean, vol = model.point_forecast(early, panel.future(cut + 1, H, kept), H, pooled)
    pos = panel.positions(cut + 1 + np.arange(H)[None, :], kept)
    if panel.hourly:
        actual, stockout = panel.hour_sales[pos], panel.stockout_mask[pos]
        profile = sales_profile(early)
    else:
        actual, stockout = panel.sales[pos][:, :, None], (~panel.in_stock()[pos]).astype(np.uint32)
        profile = np.ones((len(kept), 1), np.float32)
    demand = recovered_demand(panel)[pos] if on == "demand" and panel.hourly else None
    return Holdout(mean.reshape(-1, H), vol.reshape(-1, H), actual, profile, stockout, demand)
