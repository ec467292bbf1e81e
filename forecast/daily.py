"""The daily forecaster: one global LightGBM model over every store x product series."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ..data.contract import PRODUCT, STORE
from ..data.dates import day_to_date
from ..data.load import load_future, load_history
from ..data.panel import DailyPanel, FutureCovariates
from ..errors import FreshcastError
from ..threads import numba_threads, thread_count
from ..features import DailyFeatureSpec, DailyFeatures, FeatureRows
from ..features.daily import pooled_sales
from . import persist, trainer
from .calibrator import QuantileCalibrator
from .distribution import ForecastDistribution
from .hourly import dayparts, part_shares, sales_profile, split_days
from .quantiles import check_quantiles, volatility
from .target import demand_target

FLAGS = ("relative_model", "promotion_runs")  # the settings that are True or False
PREDICT_ROWS = 1 << 21  # rows forecast at a time: a feature matrix of about 0.45 GB at 53 features


def _threaded(method):
    """Run a method with the numba kernels limited to the forecaster's thread count."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with numba_threads(thread_count(self.n_jobs)):
            return method(self, *args, **kwargs)

    return run


class DailyForecaster(BaseEstimator):
    """Forecast daily units sold per store x product for the next 1..max_horizon days.

    Direct multi-horizon: one LightGBM model is trained on rows (series, day, horizon h)
    whose features use only sales up to h days before that day, plus the declared future
    covariates; ids and category levels are categorical features. By default a second model
    learns the same rows relative to each row's recent level, and the forecast is the mean
    of the two (`relative_model`).

    Parameters
    ----------
    max_horizon : longest horizon in days the model can forecast.
    lags, windows, ewm_alphas, weekday_weeks : daily feature set (see DailyFeatureSpec).
    objective : LightGBM objective for the mean ("tweedie", "poisson", "regression", "gamma":
        what a params file takes).
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM tree settings.
    reg_lambda : L2 regularisation of leaf values (LightGBM's lambda_l2).
    max_bin : histogram bins per feature (fewer bins train faster).
    stockout_recovery : share of the demand censored by stockout shop hours that is added back
        to the sales the model learns from and, unless `feature_recovery` is given, builds its
        features on (0: sales as observed, 1:
        the full recovered demand; see `freshcast.features.latent`). Needs hourly rows;
        daily input is used as observed (``recovered_`` tells which happened).
    feature_recovery : the same share for the sales the features read (lags, windows, levels),
        None: `stockout_recovery`. A model may learn all of the demand (1) from features on
        less of it, whose recovery is noisier than the sales (measured for the replay's
        forecaster in benchmarks/RESULTS.md: better on its choosing windows, mixed on the
        reported ones, so not its default).
    relative_model : also train a model of demand relative to each row's level (its
        exponentially weighted demand over about the last 10 days at the origin, at least 0.1
        a day; the features in units divided by it, rows weighted by it) and forecast the mean
        of the two models. Scale-free rows let every series learn from the others' level
        moves; measured on two weekly origins of the shared data (benchmarks/RESULTS.md) the
        mean of the two had a 1.4% and 2.4% lower WAPE than the units model alone, for twice
        the training time.
    promotion_runs : features of how long the target day's discount and promotion flag have
        held and when they change next (as declared up to the last known day), with the
        day-to-day steps into and out of the target day (`features.daily.RUN_TOLERANCE`).
    quantiles : quantile levels every forecast row carries (columns q10, q50, q90 for the
        default); () for mean forecasts only. They are calibrated on a second model's
        forecasts of the last `max_horizon` days of history (`calibrator_`, a
        `freshcast.forecast.calibrator.QuantileCalibrator`; method in `forecast.quantiles`),
        which adds `calibration_tree_share` of the training time.
    calibration_tree_share : share of `n_estimators` the calibration's model trains, at a
        learning rate raised by the same factor (1: the same settings as the forecaster).
        Half the trees at twice the rate make errors of nearly the same spread in 41-44% less
        time (benchmarks/RESULTS.md).
    calibration_series : the calibration's model trains on, and is held out on, a sample of
        about this many series when the chain has more (a fixed sample, by a hash of the store
        and product ids; None: every series). On the 50,000 shared series 25,000 calibrate as
        well (summed pinball within 0.9% of every series' on three weeks) in 38-48% less time
        (benchmarks/RESULTS.md).
    calibrate_on : "in_stock" (default): daily quantiles of the sales of days that stay in
        stock; "demand": of every day's demand, recovered where stockouts hid it (what
        ordering decisions are scored on; the replay's forecaster uses it).
    min_history_days : days a series needs before one of its days becomes a training row.
    train_days : only the last `train_days` days of history become training rows (None: all).
    seed : makes training deterministic.
    n_jobs : threads for LightGBM and the numba kernels (None or 0: what
        `freshcast.threads.set_threads` chose, else FRESHCAST_THREADS or the physical cores).
        LightGBM's trees depend on it in their last digits: the same count gives the same
        forecast.
    group_models : a series attribute (like "management_group_id"): also train the models
        (units and relative) once per value of it, on that group's rows only, and forecast the
        mean of the chain's models and the group's (a group with fewer than 20 x
        min_child_samples training rows keeps the chain's alone; on Dask each group's models
        train over every worker's rows of it). None: the chain's models only.
    lgb_params : further LightGBM parameters, overriding freshcast's defaults. The defaults
        smooth categorical splits strongly (cat_smooth 200, cat_l2 100, min_data_per_group
        1000): on all 50,000 shared series they lowered WAPE by 0.35% and 0.45% on two weeks
        with 200 trees at learning rate 0.1 (with the current trees, level on the 06-04 week);
        on single cities (200-5,000 series) neither they nor LightGBM's own (10, 10, 100) win
        consistently (benchmarks/RESULTS.md).
    """

    def __init__(
        self,
        max_horizon: int = 7,
        lags: tuple[int, ...] = (1, 7, 14),
        windows: tuple[int, ...] = (7, 14, 28),
        ewm_alphas: tuple[float, ...] = (0.1, 0.3),
        weekday_weeks: int = 4,
        objective: str = "tweedie",
        n_estimators: int = 160,
        learning_rate: float = 0.125,
        num_leaves: int = 127,
        min_child_samples: int = 200,
        reg_lambda: float = 10.0,
        max_bin: int = 127,
        stockout_recovery: float = 0.25,
        feature_recovery: float | None = None,
        relative_model: bool = True,
        promotion_runs: bool = True,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        calibration_tree_share: float = 0.5,
        calibration_series: int | None = 25_000,
        calibrate_on: str = "in_stock",
        min_history_days: int = 28,
        train_days: int | None = None,
        seed: int = 0,
        n_jobs: int | None = None,
        group_models: str | None = None,
        lgb_params: dict | None = None,
    ):
        self.max_horizon = max_horizon
        self.lags = lags
        self.windows = windows
        self.ewm_alphas = ewm_alphas
        self.weekday_weeks = weekday_weeks
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.stockout_recovery = stockout_recovery
        self.feature_recovery = feature_recovery
        self.relative_model = relative_model
        self.promotion_runs = promotion_runs
        self.quantiles = quantiles
        self.calibration_tree_share = calibration_tree_share
        self.calibration_series = calibration_series
        self.calibrate_on = calibrate_on
        self.min_history_days = min_history_days
        self.train_days = train_days
        self.seed = seed
        self.n_jobs = n_jobs
        self.group_models = group_models
        self.lgb_params = lgb_params

    # ---------------------------------------------------------------- parameters
    @property
    def spec(self) -> DailyFeatureSpec:
        return DailyFeatureSpec(tuple(self.lags), tuple(self.windows), tuple(self.ewm_alphas), self.weekday_weeks,
                                promotion_runs=self.promotion_runs)  # fmt: skip

    def lightgbm_params(self) -> dict:
        """The LightGBM parameters `fit` trains with (freshcast's defaults, then `lgb_params`
        under LightGBM's main names)."""
        from .params import lightgbm_table

        return {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            # ids have ~900 levels: without strong smoothing, trees spend most splits
            # partitioning stores and products (measured: 65% of splits, 8% of the gain)
            "cat_smooth": 200.0,
            "cat_l2": 100.0,
            "min_data_per_group": 1000,
            "max_cat_to_onehot": 4,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": thread_count(self.n_jobs),
            "verbosity": -1,
            **lightgbm_table(self.lgb_params or {}, "DailyForecaster lgb_params"),
        }

    @property
    def feature_share(self) -> float:
        """Share of the stockout-censored demand in the sales the features read."""
        return self.stockout_recovery if self.feature_recovery is None else self.feature_recovery

    def feature_demand(self, panel: DailyPanel) -> np.ndarray:
        """The daily demand the model's sales features read: sales with `feature_share` of
        the stockout-censored demand added back (`forecast.target`). Worked out once for the
        fitted history; nothing about the model changes."""
        if panel is getattr(self, "history_", None):
            return self.history_demand_
        return demand_target(panel, self.feature_share)[0]

    def _check_settings(self) -> None:
        """FreshcastError (ConfigError) naming a parameter set to what cannot train, with the
        checks of a params file (`forecast.params`)."""
        from .params import TUNABLE, check_params, lightgbm_table

        def plain(v):  # numpy scalars (a grid search's) as Python ones
            return v.item() if isinstance(v, np.generic) else v

        skip = (*FLAGS, "objective", "lgb_params")  # flags and lgb_params' names below; LightGBM judges the rest
        values = {k: plain(getattr(self, k)) for k in TUNABLE if k not in skip and getattr(self, k) is not None}
        check_params(values, "DailyForecaster")
        for name, least in (("max_horizon", 1), ("min_history_days", 1), ("seed", 0)):
            value = plain(getattr(self, name))
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise FreshcastError(f"DailyForecaster {name}: expected a whole number of at least {least}, "
                                     f"got {value!r}")  # fmt: skip
        if self.min_history_days < self.max_horizon:
            raise FreshcastError("DailyForecaster min_history_days must be at least max_horizon")
        for flag in FLAGS:
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise FreshcastError(f"DailyForecaster {flag}: expected True or False, got {getattr(self, flag)!r}")
        lightgbm_table(self.lgb_params or {}, "DailyForecaster lgb_params")

    # ---------------------------------------------------------------- training
    @_threaded
    def fit(self, history: DailyPanel | str | Path | pd.DataFrame, progress=None) -> DailyForecaster:
        """Train on the whole history (a DailyPanel, a path, or a DataFrame in the contract).
        `progress`, a function taking a line, hears how training goes."""
        self._check_settings()
        levels = check_quantiles(self.quantiles)  # sorted once: every table assumes rising levels
        if history is None:
            raise FreshcastError("fit needs the sales history: a DailyPanel, a path or a DataFrame")
        panel = _as_panel(history)
        t0 = time.perf_counter()
        demand, recovered = demand_target(panel, self.stockout_recovery)
        known = demand if self.feature_share == self.stockout_recovery else demand_target(panel, self.feature_share)[0]
        features = DailyFeatures.for_history(panel, self.spec, self.max_horizon)
        rows = features.training_rows(panel.with_sales(known), self.min_history_days, self.seed, self.train_days)
        if len(rows) == 0:
            raise FreshcastError(
                f"{panel.source}: no series has more than {self.min_history_days} days of history to learn from"
            )
        X, y = features.matrix(rows), demand[rows.target]
        t1 = time.perf_counter()
        train = lambda X, y, weight=None, report=progress: trainer.train(  # noqa: E731
            X, y, self.lightgbm_params(), features.names, len(features.static), self.n_estimators, self.max_bin,
            report, weight=weight)  # fmt: skip
        booster, relative = train(X, y), None
        rows_of = self._group_rows(rows)
        trained = groups_to_train({g: len(at) for g, at in rows_of.items()}, self.min_child_samples)
        groups = {g: rows_of[g] for g in trained}
        group_boosters = {g: [train(X[at], y[at], report=None), None] for g, at in groups.items()}
        if self.relative_model:
            if progress:
                progress("training the model relative to each row's level")
            level = rows.level
            features.to_relative(X, level)
            relative = train(X, (y / level).astype(np.float32), level)
            for g, at in groups.items():
                group_boosters[g][1] = train(X[at], (y[at] / level[at]).astype(np.float32), level[at], None)
        del X
        seconds = {"features": t1 - t0, "train": time.perf_counter() - t1}
        calibrator = None
        if levels:
            t2 = time.perf_counter()
            if progress:
                progress(f"calibrating the quantiles on a model of the days before the last {self.max_horizon}")
            calibrator = QuantileCalibrator(levels, self.calibrate_on).fit(self, panel, progress)
            seconds["calibration"] = time.perf_counter() - t2
        # all went well: the fitted attributes change together (a failed refit leaves the old model)
        self.__dict__.pop("calibrator_", None)
        if calibrator is not None:
            self.calibrator_ = calibrator
        self.quantiles_, self.recovered_, self.features_, self.booster_ = levels, recovered, features, booster
        self.relative_booster_ = relative
        self.group_boosters_ = {g: tuple(b) for g, b in group_boosters.items()}
        self.history_, self.history_demand_ = panel, known
        self.trained_range_ = (str(day_to_date(int(panel.start.min()))), str(day_to_date(panel.last_day)))
        self.n_train_rows_ = len(y)
        self.fit_seconds_ = seconds
        self.notes_ = fit_notes(self, booster, len(y), panel.n_series, list(panel.series.columns))
        return self

    # ---------------------------------------------------------------- forecasting
    @_threaded
    def predict(
        self,
        horizon: int,
        future: FutureCovariates | str | Path | pd.DataFrame,
        history: DailyPanel | str | Path | pd.DataFrame | None = None,
        level: str = "day",
        slots: str | None = None,
        pooled=None,
    ) -> pd.DataFrame:
        """Forecast the `horizon` days after the history. `future` holds the declared future
        covariates of those days; `history` defaults to the history the model was fitted on
        (`pooled`: the chain's group tables when `history` is a partition of the chain, see
        `features.daily.GroupSales`).

        Returns store_id, product_id, dt, yhat (units, >= 0) per day; with ``level="hour"``
        one row per hour (column ``hour``), with ``slots`` (like ``"06-10,10-14,14-22,22-06"``)
        one row per slot (column ``slot``). Hours and slots add up to the daily forecast. Every
        row also carries the quantiles of the model's `quantiles` levels (q10, q50, q90 ...)."""
        key, labels, groups = dayparts(level, slots)  # validates both before any work
        panel, future = self._inputs(horizon, future, history)
        if groups is not None and self.quantiles_ and not self.calibrator_.hourly:
            raise FreshcastError("hour and slot quantiles need a model fitted on hourly rows")
        forecast, vol = self._distribution(panel, future, horizon, pooled)
        if groups is None:
            return forecast.to_frame()
        profile = sales_profile(panel)
        part_quantiles = None
        if self.quantiles_:
            table = self.calibrator_.table(groups)
            part_quantiles = lambda part_mean: table.predict(part_mean, np.repeat(vol, len(groups)))  # noqa: E731
        return split_days(forecast, part_shares(profile, groups), key, labels, part_quantiles)

    @_threaded
    def predict_distribution(
        self,
        horizon: int,
        future: FutureCovariates | str | Path | pd.DataFrame,
        history: DailyPanel | str | Path | pd.DataFrame | None = None,
        pooled=None,
    ) -> ForecastDistribution:
        """Daily forecasts of the `horizon` days after the history, in the history's series
        order: the mean and the quantiles of the model's levels (see `predict`)."""
        return self._distribution(*self._inputs(horizon, future, history), horizon, pooled)[0]

    @_threaded
    def predict_each_day(self, panel: DailyPanel, first_day: int, n_days: int, pooled=None,
                         days: np.ndarray | None = None) -> list[ForecastDistribution]:  # fmt: skip
        """The forecasts made on each of the `n_days` days from `first_day` (a day number) with
        the sales before that day: for day t, days t .. t + h - 1 with h = min(max_horizon,
        days left in `panel`). Equal to `predict_distribution(h, panel.future(t, h),
        panel.until(t - 1))` for each day (a test checks it), in one pass: every feature reads
        only the days up to its row's origin, and the training target is worked out day by day
        from the past, so the later days of `panel` change nothing. `pooled`: the chain's group
        tables when `panel` is a partition of it. `days` (series x `n_days`): how many days
        from each day each series' forecast must cover; the days after are not forecast (NaN
        mean and quantiles). None: all h."""
        if not hasattr(self, "booster_"):
            raise FreshcastError("the forecaster is not fitted: call fit() or load() first")
        if n_days < 1 or first_day <= int(panel.start.max()) or first_day + n_days - 1 > panel.last_day:
            raise FreshcastError(f"{panel.source}: every series needs sales before {day_to_date(first_day)} and "
                                 f"the panel days up to {day_to_date(first_day + n_days - 1)}")  # fmt: skip
        known = panel.with_sales(self.feature_demand(panel))
        n = panel.n_series
        horizons = [min(self.max_horizon, panel.last_day - (first_day + t) + 1) for t in range(n_days)]
        need = np.broadcast_to(horizons, (n, n_days)) if days is None else np.minimum(days, horizons)
        blocks = [(t, h) for t, k in enumerate(horizons) for h in range(1, k + 1)]  # day-major: (day, horizon)
        which = [np.flatnonzero(need[:, t] >= h) for t, h in blocks]
        count = [len(w) for w in which]
        series = np.concatenate(which)
        horizon = np.repeat([h for _, h in blocks], count).astype(np.int32)
        target = panel.positions(np.repeat([first_day - 1 + t for t, _ in blocks], count) + horizon, series)
        rows = FeatureRows(known, series, target, horizon)
        yhat = self.predict_rows(rows, pooled)
        vol = volatility(known.sales, known.offsets, rows.origin)
        table = self.calibrator_.table() if self.quantiles_ else None
        mean = [np.full((n, k), np.nan, np.float32) for k in horizons]  # per day: series x its horizons
        vols = [np.ones((n, k), np.float32) for k in horizons]
        at = 0
        for (t, h), w in zip(blocks, which):
            mean[t][w, h - 1], vols[t][w, h - 1] = yhat[at : at + len(w)], vol[at : at + len(w)]
            at += len(w)
        return [self._as_distribution(panel, first_day + t, mean[t], vols[t], table) for t in range(n_days)]

    def _as_distribution(self, panel: DailyPanel, first_day: int, mean: np.ndarray, vol: np.ndarray, table=None):
        """A ForecastDistribution of `mean` (n, H) with the calibrated quantiles (from `table`,
        default the calibrator's daily table)."""
        n, H = mean.shape
        if self.quantiles_:
            table = self.calibrator_.table() if table is None else table
            q = table.predict(mean.ravel(), vol.ravel()).reshape(n, H, -1)
        else:
            q = np.empty((n, H, 0), np.float32)
        return ForecastDistribution(
            store_id=panel.series[STORE].to_numpy(), product_id=panel.series[PRODUCT].to_numpy(),
            first_day=first_day, mean=mean, levels=self.quantiles_, quantiles=q,
        )  # fmt: skip

    def _distribution(self, panel: DailyPanel, future: FutureCovariates, horizon: int, pooled=None):
        """The daily forecast distribution, with the volatility of each series-day (series-major)."""
        yhat, vol = self.point_forecast(panel, future, horizon, pooled)
        n = len(yhat) // horizon
        return self._as_distribution(panel, panel.last_day + 1, yhat.reshape(n, horizon), vol), vol

    def _inputs(self, horizon, future, history) -> tuple[DailyPanel, FutureCovariates]:
        """Check the model and the forecast inputs; load them if given as paths or frames."""
        if not hasattr(self, "booster_"):
            raise FreshcastError("the forecaster is not fitted: call fit() or load() first")
        if not 1 <= horizon <= self.max_horizon:
            raise FreshcastError(f"horizon must be between 1 and {self.max_horizon} days, got {horizon}")
        panel = _as_panel(history) if history is not None else getattr(self, "history_", None)
        if panel is None:
            raise FreshcastError("a loaded model needs the sales history: pass history=")
        if list(panel.covariates) != self.covariates_:
            raise FreshcastError(
                f"{panel.source}: the history has covariates {list(panel.covariates)}, "
                f"the model was trained with {self.covariates_}"
            )
        if future is None:
            raise FreshcastError("predict needs the future covariates of the days to forecast: a path, a "
                                 "DataFrame or FutureCovariates (see load_future)")  # fmt: skip
        if not isinstance(future, FutureCovariates):
            future = load_future(future, panel)
        shapes = {v.shape for v in future.values.values()}
        if (future.ids is not None and not np.array_equal(future.ids, panel.ids())) or (
            shapes and shapes != {(panel.n_series, future.n_days)}
        ):
            raise FreshcastError(
                f"the future covariates are for other store x product series than the history ({panel.source}): "
                f"load them with load_future(path, history)"
            )
        if future.first_day != panel.last_day + 1 or future.n_days < horizon:
            raise FreshcastError(
                f"future covariates must cover {horizon} day(s) from {day_to_date(panel.last_day + 1)}"
            )
        return panel, future

    def point_forecast(self, panel: DailyPanel, future: FutureCovariates, horizon: int, pooled=None):
        """(mean, volatility): mean daily forecasts (float32 units) of days 1..horizon after
        `panel` for every series, series-major, and the volatility of each (the spread the
        quantile calibrator bins by). Inputs as `predict_distribution` checks them. `pooled`:
        the chain's group tables when `panel` is a partition of it (`features.daily`)."""
        rows = self.features_.forecast_rows(panel.with_sales(self.feature_demand(panel)), future, horizon)
        return self.predict_rows(rows, pooled), volatility(rows.panel.sales, rows.panel.offsets, rows.origin)

    def predict_rows(self, rows: FeatureRows, pooled=None) -> np.ndarray:
        """The mean forecast (float32 units) of each feature row (`features_.training_rows` or
        `forecast_rows`): the units model's, or its mean with the relative model's times the
        row's level; with `group_models`, the mean of that and the same from the models of the
        row's group. Rows are forecast PREDICT_ROWS at a time (the feature matrix of a
        long replay's every day and horizon would not fit in memory)."""
        if len(rows) <= PREDICT_ROWS:
            return self._predict_part(rows, pooled)
        pooled = pooled_sales(rows.panel) if pooled is None else pooled  # the panel's, once for every part
        parts = range(0, len(rows), PREDICT_ROWS)
        return np.concatenate([self._predict_part(rows.part(a, a + PREDICT_ROWS), pooled) for a in parts])

    def _predict_part(self, rows: FeatureRows, pooled) -> np.ndarray:
        X, threads = self.features_.matrix(rows, pooled), thread_count(self.n_jobs)
        groups = {g: at for g, at in self._group_rows(rows).items() if g in self.group_boosters_}
        yhat = trainer.predict(self.booster_, X, threads)
        by_group = {g: trainer.predict(self.group_boosters_[g][0], X[at], threads) for g, at in groups.items()}
        if self.relative_booster_ is not None:
            level = rows.level
            self.features_.to_relative(X, level)
            yhat = 0.5 * (yhat + trainer.predict(self.relative_booster_, X, threads) * level)
            for g, at in groups.items():
                relative = trainer.predict(self.group_boosters_[g][1], X[at], threads)
                by_group[g] = 0.5 * (by_group[g] + relative * level[at])
        for g, at in groups.items():
            yhat[at] = 0.5 * (yhat[at] + by_group[g])
        return yhat.astype(np.float32)

    def row_groups(self, rows: FeatureRows) -> np.ndarray | None:
        """The `group_models` value of each feature row (None without group models or when
        the series have no such attribute)."""
        column = self.group_models
        if column is None or column not in rows.panel.series.columns:
            return None
        return rows.panel.series[column].to_numpy()[rows.series]

    def _group_rows(self, rows: FeatureRows) -> dict:
        """{group value: positions of its rows, ascending} of `group_models` ({} without)."""
        values = self.row_groups(rows)
        if values is None:
            return {}
        order = np.argsort(values, kind="stable")
        keys, starts = np.unique(values[order], return_index=True)
        return dict(zip(keys.tolist(), np.split(order, starts[1:])))

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model into folder `path` (replaced whole; see `forecast.persist`)."""
        return persist.save(self, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> DailyForecaster:
        """A model written by `save`; refuses a folder whose files do not match the checksums
        in its meta.json (files of two different saves)."""
        return persist.load(cls, Path(path))

    # ---------------------------------------------------------------- fitted features
    @property
    def feature_names_(self) -> list[str]:
        return self.features_.names

    @property
    def covariates_(self) -> list[str]:
        return list(self.features_.covariates)


def _as_panel(history) -> DailyPanel:
    return history if isinstance(history, DailyPanel) else load_history(history)


def groups_to_train(counts: dict, min_child_samples: int) -> list:
    """The groups of series (value -> training rows) that get models of their own: those with
    at least 20 x `min_child_samples` rows, unless one group holds every row (its models
    would be the chain's)."""
    if len(counts) < 2:
        return []
    return sorted(g for g, n in counts.items() if n >= 20 * min_child_samples)


def fit_notes(model: DailyForecaster, booster, n_rows: int, n_series: int, columns: list[str]) -> list[str]:
    """What a planner should know about a model just trained on `n_rows` rows of `n_series`
    series with the series attributes `columns` (`notes_`, on one machine and on Dask alike):
    that it learned nothing, or that the series lack the attribute `group_models` names."""
    notes = []
    if trainer.learned_nothing(booster):
        notes.append(f"the model found nothing to split on in {n_rows:,} training rows of {n_series:,} series "
                     f"(min_child_samples {model.min_child_samples}): the forecasts are flat, the same every day of a "
                     f"series; more series or a lower min_child_samples (--params) would let it learn weekdays and "
                     f"discounts")  # fmt: skip
    if model.group_models is not None and model.group_models not in columns:
        notes.append(f"group_models: the history has no column '{model.group_models}': the chain's models alone "
                     f"forecast")  # fmt: skip
    return notes
