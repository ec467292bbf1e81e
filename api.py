"""freshcast for an ERP or any Python caller: the functions behind the command line, with the
same checks and the same errors (`freshcast.errors`), and nothing printed.

Tables are accepted as file paths (Parquet or CSV, or a hive-partitioned folder for the
history), pandas DataFrames or Arrow tables, in the columns the README's data contract names.

    from freshcast import api
    problems, summary = api.validate("history/", future="future.parquet")   # [] when valid
    pred = api.forecast("history/", "future.parquet")            # store_id, product_id, dt, yhat, q10, q50, q90
    scores, notes = api.score(pred, "actuals.parquet")           # once its days have sold: WAPE, bias per day
    po = api.plan_orders(pred, "products.csv", "stock.csv", terms="terms.csv")
    api.write_purchase_orders(po, "out/orders")                  # po_headers, po_lines, decisions, edi/
    plan = api.plan_prices(pred, "products.csv", "stock.csv", "labels.csv", evening_hour=19)
    api.write_price_labels(plan, "out/labels")                   # price_changes, decisions, esl/
    result = api.run("freshcast.toml")                           # the nightly batch, as `freshcast run`
    done = api.replay("history/", "actuals.parquet", "out/replay")   # summary.json, log.parquet
    response, summary = api.price_response("history/", "out/response")
"""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from .documents.price_labels import write_price_labels
from .documents.purchase_orders import write_purchase_orders
from .data.read import named
from .errors import FreshcastError
from .nightly.config import ladder as _ladder
from .nightly.run import RunResult
from .optimize.pricing import PricePlan
from .optimize.purchase import PurchaseOrders

__all__ = ["validate", "forecast", "backtest", "score", "tune", "replay", "price_response", "plan_orders",
           "plan_prices", "run", "write_purchase_orders", "write_price_labels", "PurchaseOrders", "PricePlan",
           "RunResult"]  # fmt: skip


def validate(history, *, future=None, column_map: dict[str, str] | None = None) -> tuple[list[str], dict]:
    """Check `history` against the data contract, or with `future` that future covariates
    table against the history it follows, as `freshcast validate`: (every problem found,
    each naming the file, column and first row; a summary: series, days, filled hours ...).
    No problem means valid; nothing is raised for bad data."""
    from .data.load import validate_future, validate_path

    _tables({"future": future}, history=history)
    _mapping(column_map)
    history, future = named(history, "history"), named(future, "future")
    return validate_path(history, column_map) if future is None else validate_future(future, history, column_map)


def forecast(
    history,
    future,
    *,
    column_map: dict[str, str] | None = None,
    seed: int = 0,
    level: str = "day",
    slots: str | None = None,
    recover_stockouts: bool = True,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    progress: Callable[[str], None] | None = None,
    params: str | Path | dict | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Train on `history` and forecast every store x product for each day of `future` (the
    declared covariates of the days to forecast): store_id, product_id, dt, yhat and the
    quantile columns (q10, q50, q90 ...) in units; per hour (`level="hour"`) or slot too.
    `params`: a params file (what `tune` writes) or a dict of forecaster parameters.
    `scheduler`: "local:N" or "tcp://HOST:PORT" to run on Dask (paths only; README
    "Scale-out on Dask"). As `freshcast forecast`."""
    from .forecast.hourly import dayparts, parse_slots
    from .forecast.job import forecast_table
    from .forecast.quantiles import check_quantiles

    _tables(history=history, future=future)
    _mapping(column_map)
    history, future = named(history, "history"), named(future, "future")
    _whole(seed=(seed, 0))
    dayparts(level, None)
    if slots is not None:
        parse_slots(slots)
    pred, _ = forecast_table(history, future, column_map, seed, level, slots, recover_stockouts,
                             check_quantiles(quantiles), progress, _params(params), scheduler)  # fmt: skip
    return pred


def backtest(history, *, folds: int = 3, horizon: int = 7, seed: int = 0, params: str | Path | dict | None = None,
             column_map: dict[str, str] | None = None, progress: Callable[[str], None] | None = None,
             scheduler: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Rolling-origin backtest of `folds` weekly folds of `horizon` days ending on the
    history's last day: (scores, forecasts), freshcast beside seasonal-naive and moving
    average, as `freshcast backtest` (`scheduler` as in `forecast`)."""
    from .forecast.job import backtest_history

    _tables(history=history)
    _mapping(column_map)
    history = named(history, "history")
    _whole(folds=(folds, 1), horizon=(horizon, 1), seed=(seed, 0))
    return backtest_history(history, folds, horizon, {**(_params(params) or {}), "seed": seed}, column_map, progress,
                            scheduler)  # fmt: skip


def score(forecast, actuals, *, column_map: dict[str, str] | None = None,
          timezone: str = "UTC") -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    """A forecast (what `forecast` returns, daily or hourly) scored against `actuals`, the sales
    of its days in the history's format: (scores per day ahead and over all days: WAPE, WPE,
    in-stock WAPE and WPE, the quantiles' pinball loss and coverage; notes on lines or days
    left out). As `freshcast score`."""
    from .data.dates import time_zone
    from .forecast.score import score_files

    _tables(forecast=forecast, actuals=actuals)
    _mapping(column_map)
    time_zone(timezone)
    return score_files(named(forecast, "forecast"), named(actuals, "actuals"), column_map, timezone)


def tune(history, out: str | Path, *, trials: int = 30, origins: int = 4, horizon: int = 7, seed: int = 0,
         column_map: dict[str, str] | None = None, progress: Callable[[str], None] | None = None):  # fmt: skip
    """Search the forecaster's parameters on `history` (Optuna; the study in `out`, resumed if
    it is there): returns a `forecast.tune.TuneResult`; `out/best_params.toml` is what
    `forecast(..., params=)` reads. As `freshcast tune`."""
    from .data import load_history
    from .forecast.tune import tune as run_tune

    _tables(history=history)
    _mapping(column_map)
    history = named(history, "history")
    _whole(trials=(trials, 1), origins=(origins, 1), horizon=(horizon, 1), seed=(seed, 0))
    return run_tune(load_history(history, column_map), out, trials, origins, horizon, seed, progress)


def replay(history, actuals, out: str | Path, *, demand: str = "recovered", markdowns: bool = False,
           response_scale: float = 1.0, seed: int = 0, params: str | Path | dict | None = None,
           column_map: dict[str, str] | None = None, progress: Callable[[str], None] | None = None,
           scheduler: str | None = None, evening_hour: int | None = None):  # fmt: skip
    """Replay the real demand of `actuals` (the days after `history`) through the ordering
    policies, and with `markdowns` the pricing policies too, on ASSUMED master data, as
    `freshcast replay`: writes `out/summary.json` and `out/log.parquet` (the folder swapped in
    whole) and returns a `simulate.replay.ReplayResult` (`.summary` per policy, `.markdowns`,
    `.log`). With markdowns, `evening_hour` (7 to 23, default 19) is the hour of the evening
    markdown step and of each day's split of demand. RunLocked if another run is writing
    `out` (`scheduler` as in `forecast`)."""
    from .outputs import reserve_all
    from .simulate.replay import replay_to_folder

    _tables(history=history, actuals=actuals)
    _mapping(column_map)
    history, actuals = named(history, "history"), named(actuals, "actuals")
    _whole(seed=(seed, 0))
    with reserve_all((out, "replay"), inputs=_paths(history, actuals)):
        return replay_to_folder(history, actuals, out, column_map, seed, demand, progress, markdowns, response_scale,
                                _params(params), scheduler, evening_hour)  # fmt: skip


def price_response(history, out: str | Path, *, holdout_days: int = 14, column_map: dict[str, str] | None = None,
                   progress: Callable[[str], None] | None = None, scheduler: str | None = None):  # fmt: skip
    """How demand responds to the price paid, per first-level category, checked on the last
    `holdout_days` days (0: no check), as `freshcast price-response`: writes `out`
    (response.parquet / .csv, validation.csv, summary.json) and returns (the fitted
    `forecast.price_response.PriceResponse`, the summary); `plan_prices(..., response=)` takes
    the folder or the fitted response. RunLocked if another run is writing `out` (`scheduler`
    as in `forecast`)."""
    from .forecast.price_response import price_response_to_folder
    from .outputs import reserve_all

    _tables(history=history)
    _mapping(column_map)
    history = named(history, "history")
    with reserve_all((out, "price-response"), inputs=_paths(history)):
        return price_response_to_folder(history, out, column_map, holdout_days, progress, scheduler)


def _paths(*tables) -> tuple:
    """The tables given as paths (the others are in memory: nothing to keep an output out of)."""
    return tuple(t for t in tables if isinstance(t, (str, PathLike)))


def _params(params) -> dict | None:
    from .forecast.params import check_params, read_params

    if params is None or isinstance(params, dict):
        return None if params is None else check_params(params, "params")
    return read_params(params)


def plan_orders(
    forecast,
    products,
    inventory,
    *,
    terms=None,
    on_order=None,
    capacity=None,
    order_date: str | None = None,
    budget: float | None = None,
    seed: int = 0,
    timezone: str = "UTC",
) -> PurchaseOrders:
    """Today's orders of every store x product from the daily forecast with quantiles (as
    `freshcast plan-orders`; `timezone`: the stores', in which time-zone aware expiry and
    arrival timestamps are dated); write them with `write_purchase_orders`."""
    from .optimize.purchase import plan_orders as plan

    _tables({"inventory": inventory, "terms": terms, "on_order": on_order, "capacity": capacity}, forecast=forecast,
            products=products)  # fmt: skip
    _whole(seed=(seed, 0))
    return plan(_frame(forecast), products, terms=terms, capacity=capacity, on_hand=inventory, on_order=on_order,
                order_date=order_date, budget=budget, seed=seed, timezone=timezone)  # fmt: skip


def plan_prices(
    forecast,
    products,
    inventory,
    labels,
    *,
    date: str | None = None,
    evening_hour: int | None = None,
    response=None,
    hourly_forecast=None,
    ladder=(0, 10, 20, 30, 40, 50),
    max_changes: int | None = None,
    timezone: str = "UTC",
    at_evening_hour: bool = False,
    evening_later: bool = False,
    min_gain: float = 0.0,
) -> PricePlan:
    """Markdowns of stock near its expiry date and the label changes (as `freshcast
    plan-prices`; `ladder` in percent off the regular price; `at_evening_hour`: the evening
    run, `inventory` the stock left at `evening_hour`; `evening_later`: the morning run before
    it, no evening step written; `min_gain`: the least expected gain of a markdown, as a share
    of one unit's regular price); write them with `write_price_labels`."""
    from .forecast.price_response import PriceResponse
    from .optimize.pricing import plan_prices as plan

    _tables({"hourly_forecast": hourly_forecast}, forecast=forecast, products=products, inventory=inventory,
            labels=labels)  # fmt: skip
    if response is not None and not isinstance(response, (str, PathLike, PriceResponse)):
        raise FreshcastError(f"response: expected the folder `price_response` wrote or the PriceResponse it returned, "
                             f"got {type(response).__name__}")  # fmt: skip
    return plan(_frame(forecast), products, inventory, labels, date=date, evening_hour=evening_hour,
                response=response, hourly_forecast=_frame(hourly_forecast), ladder=_percent_ladder(ladder),
                max_changes=max_changes, timezone=timezone, at_evening_hour=at_evening_hour,
                evening_later=evening_later, min_gain=min_gain)  # fmt: skip


def run(config: str | Path, date: str | None = None, force: bool = False,
        progress: Callable[[str], None] | None = None) -> RunResult:  # fmt: skip
    """The nightly batch of `date` as `freshcast run` does it (lock, stages, manifest).
    Raises ConfigError, RunLocked, StageFailed or Interrupted (see `freshcast.errors`)."""
    from .nightly.run import run as run_batch

    return run_batch(config, date, force, progress)


def _tables(optional: dict | None = None, **required) -> None:
    """FreshcastError naming the first argument that is not a table (a path, a DataFrame or an
    Arrow table); those in `optional` may be None."""
    import pyarrow as pa

    given = {**required, **{k: v for k, v in (optional or {}).items() if v is not None}}
    for name, value in given.items():
        if not isinstance(value, (str, PathLike, pd.DataFrame, pa.Table)):
            raise FreshcastError(f"{name}: expected a path (a Parquet or CSV file), a DataFrame or an Arrow table, "
                                 f"got {type(value).__name__}")  # fmt: skip


def _mapping(column_map) -> None:
    """FreshcastError unless `column_map` is None or a dict of column names (theirs -> freshcast's)."""
    pairs = column_map.items() if isinstance(column_map, dict) else [(None, None)]
    names = all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)
    if column_map is not None and not names:
        raise FreshcastError(f"column_map: expected a dict of column names {{their name: freshcast's}}, got "
                             f"{column_map!r}")  # fmt: skip


def _whole(**numbers) -> None:
    """FreshcastError naming the first argument, given as (value, least), that is not a whole
    number of at least `least`."""
    for name, (value, least) in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise FreshcastError(f"{name}: expected a whole number of at least {least}, got {value!r}")


def _percent_ladder(ladder) -> tuple[float, ...]:
    """The ladder in percent off as shares of the regular price; FreshcastError otherwise."""
    try:
        return _ladder(ladder)
    except (TypeError, ValueError):
        raise FreshcastError(f"ladder: percents off the regular price rising from 0 to below 100, like (0, 10, 20, "
                             f"30), got {ladder!r}") from None


def _frame(table):
    """An Arrow table as a DataFrame; paths and DataFrames as they are."""
    import pyarrow as pa

    return table.to_pandas() if isinstance(table, pa.Table) else table
