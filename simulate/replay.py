"""Replay real demand through ordering policies, day by day.

Each morning the deliveries due arrive (cut to the whole cases the store has room for); on an
order day the policy orders (from the stock held and on order, and forecasts made only from
the sales before that day); the day's demand (recovered where stockouts hid it, or the sales
as observed) is then served first-in-first-out, unmet demand is lost and what expires that
evening is thrown away. Orders arrive `lead_time_days` later. Every policy starts from the
same stock: the first `lead_time_days` days are covered by deliveries of last week's sales.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..console import Step
from ..data.contract import DAY, PRODUCT, STORE
from ..data.dates import day_to_date
from ..data.panel import DailyPanel
from ..errors import DataError, FreshcastError
from ..forecast.distribution import ForecastDistribution
from ..forecast.quantiles import check_quantiles
from ..outputs import output_folder, write_table, write_text
from ..optimize import kernels as K
from ..optimize.master import MasterData, assume_master_data
from ..optimize.orders import OrderLines, days_needed, line_days, weekly_extend
from .hindsight import hindsight_plan
from .scoring import DEMAND_KINDS, following_demand, held_by_expiry, ranked, served_demand, summarise
from .markdowns import (EVENING_HOUR, MARKDOWN_POLICIES, MarkdownBook, PriceWorld, demand_ahead, markdown_summary,
                        per_line, trade_day)  # fmt: skip
from .policies import BASELINES, PAST_DAYS, DayState, Hindsight, Optimizer, Policy, RuleOfThumb, default_policies

REPLAY_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
# The replay's forecaster: it forecasts demand (all of the demand stockouts hid is learnt, and
# its quantiles are calibrated on every day's demand, which decisions are scored on), with 80
# trees of 63 leaves at learning rate 0.25: chosen on the replays of 05-22..28 and 05-29..06-04
# (4 cities), where it closed as much of the gap as the default 160 trees of 127 leaves at
# 0.125 in well under half the time (benchmarks/RESULTS.md, "Replay: choosing the settings").
# Its quantiles are calibrated on a copy with half the trees, as the default forecaster's: on
# the same windows it closed 35.9% and 37.5% of the gap against 34.8% and 37.5% with all of them
# (2026-12-06), in less time; and, like every forecaster, on a sample of about 25,000 series
# (`calibration_series`: 30.4% / 38.0% against 30.5% / 38.3% with every series on the same
# windows of all 50,000 series). Replaying the sales as observed, it forecasts sales as the
# default forecaster does, calibrated on a copy with the same trees.
REPLAY_FORECASTER = dict(
    quantiles=REPLAY_QUANTILES, stockout_recovery=1.0, calibrate_on="demand", n_estimators=80, learning_rate=0.25,
    num_leaves=63,
)
OBSERVED_FORECASTER = dict(quantiles=REPLAY_QUANTILES, calibration_tree_share=1.0)
REPLAY_KEEPS = ("quantiles", "stockout_recovery", "calibrate_on")  # not taken from a params file


@dataclass
class ReplayResult:
    summary: dict  # per policy: units and money over the replay
    log: pd.DataFrame | None  # per policy, series and day
    seconds: dict  # per policy: wall time spent deciding orders
    demand: str = "recovered"  # which demand was served (see `served_demand`)
    baselines_chosen: dict | None = None  # how each baseline's setting was chosen (`choose_baselines`)
    markdowns: dict | None = None  # per markdown policy, with freshcast's orders (`simulate.markdowns`)


_LOG = (
    "order_qty", "usable_at_delivery", "expected_waste", "expected_fill_rate",
    "received", "sold", "lost", "wasted", "stock_end",
)  # fmt: skip


def replay(
    panel: DailyPanel,
    first_day: int,
    forecaster=None,
    master: MasterData | None = None,
    policies: list[Policy] | None = None,
    seed: int = 0,
    demand: str = "recovered",
    hindsight: bool = True,
    baselines: bool = True,
    log: bool = True,
    progress: Callable[[str], None] | None = None,
    markdowns: bool = False,
    response_scale: float = 1.0,
    response=None,
    pooled=None,
    evening_hour: int = EVENING_HOUR,
) -> ReplayResult:
    """Replay the days `first_day` .. `panel.last_day` of `panel` (history followed by the
    actual days) through each policy, serving the `demand` of those days (see
    `served_demand`). `forecaster` (a DailyForecaster with two or more quantiles) is fitted
    on the history if not fitted yet; forecasts on each day use only the sales before it.
    `master` defaults to `assume_master_data` on the history. With `baselines`, the store
    managers' baselines join, each with its setting chosen on the days before the replay
    (`choose_baselines`); with `hindsight`, the hindsight bound (`simulate.hindsight`).
    Without `log`, the result's log is None (the summary is all that is kept). With
    `markdowns`, ordering (freshcast's optimizer) and markdown pricing are replayed together
    for each markdown policy (`simulate.markdowns`), the simulator's price response being
    `response_scale` x `response` (a fitted PriceResponse; default: fitted on the history),
    the evening step from `evening_hour` (the day's demand split there as its hours sold).
    `pooled`: the chain's group tables the forecasts read when `panel` is a partition of the
    chain (`cluster.replay`)."""
    T = panel.last_day - first_day + 1
    if T < 1 or int(panel.start.max()) >= first_day:
        raise FreshcastError(
            f"{panel.source}: the replay needs history before {day_to_date(first_day)} for every series"
        )
    if markdowns:  # the logged prices and the response need it: said before the forecaster trains, not after
        from ..forecast.price_response import check_discounts

        check_discounts(panel.covariates, panel.source)
    kind, demand = demand, served_demand(panel, first_day, demand)
    history = panel.until(first_day - 1)
    master = assume_master_data(history) if master is None else master
    policies = default_policies(seed) if policies is None else list(policies)
    choices, chosen = None, []
    if baselines:
        chosen, choices = choose_baselines(panel, first_day, T, master, kind, progress)
        policies += chosen
    forecasts = None
    if markdowns or any(p.needs_forecast for p in policies):
        own = all(getattr(p, "reads_order_days", False) for p in policies if p.needs_forecast)
        read = days_read(master, first_day, T) if own and not markdowns else None  # the markdowns read every day
        forecasts = _fitted(forecaster, history, seed, kind, progress).predict_each_day(panel, first_day, T, pooled,
                                                                                        read)  # fmt: skip
    opening, received = _opening_stock(panel, first_day, master, T)
    if hindsight:
        _note(progress, "working out the hindsight bound")
        order_days = np.stack([master.orders_on(first_day + t) for t in range(T)], axis=1)
        plan, _, exact = hindsight_plan(opening, demand, following_demand(demand, master.shelf_life_days), order_days,
                                        master)  # fmt: skip
        if not exact.all():
            _note(progress, f"the hindsight bound is the best plan found, not proven the cheapest, on {(~exact).sum()} "
                            f"line(s) with too many stock states")  # fmt: skip
        policies.append(Hindsight(plan, first_day))
    names = [p.name for p in policies]
    if len(set(names)) < len(names):
        raise FreshcastError(f"the replay's policies need different names, got {names}")
    stock, logs, seconds = _run(panel, first_day, demand, master, policies, forecasts, opening, received, progress)
    # the gap is measured from the cheapest of the baselines as chosen before the replay (and today's rule)
    gap_from = [p.name for p in chosen] + [p.name for p in policies if isinstance(p, RuleOfThumb)]
    summary = ranked({p.name: summarise(demand, logs[p.name], master, stock[p.name]) for p in policies}, gap_from)
    frame = _log_frame(panel, first_day, demand, logs) if log else None
    priced = None
    if markdowns:
        world = price_world(panel, first_day, history, response_scale, response, progress, kind, evening_hour)
        orderer = next((p for p in policies if isinstance(p, Optimizer)), None) or Optimizer(seed=seed)
        priced = _run_markdowns(panel, first_day, demand, master, orderer, forecasts, world, progress)
    return ReplayResult(summary, frame, seconds, kind, choices, priced)


def price_world(panel: DailyPanel, first_day: int, history: DailyPanel, scale: float, response=None,
                progress=None, demand: str = "recovered", evening_hour: int = EVENING_HOUR) -> PriceWorld:  # fmt: skip
    """What the markdown replay prices with: the price response (fitted on the history
    unless given), each line's evening share of demand (its intraday profile as of the
    history's end: the share from `evening_hour` on), the share of each replayed day's `demand`
    (see `served_demand`) that came from the evening hour on (from the day's hours; the usual
    share on a day without demand or for daily input) and the logged price ratios of the
    replayed days (above 1 read as 1)."""
    from ..features.latent import demand_hours
    from ..forecast.hourly import demand_profile
    from ..forecast.price_response import CATEGORY, PriceResponse

    if response is None:
        _note(progress, "estimating the price response on the history")
        response = PriceResponse().fit(history)
    table = panel.series
    category = table[CATEGORY].to_numpy() if CATEGORY in table.columns else np.full(panel.n_series, -1)
    T = panel.last_day - first_day + 1
    pos = panel.positions(first_day)[:, None] + np.arange(T)
    logged = np.clip(panel.covariates["discount"][pos].astype(np.float64), 0.05, 1.0)
    usual = demand_profile(history)[:, evening_hour:].sum(axis=1).astype(np.float64)
    day_share = np.repeat(usual[:, None], T, axis=1)
    if panel.hourly:
        hours = demand_hours(panel, 1.0 if demand == "recovered" else 0.0)[pos].astype(np.float64)
        total, late = hours.sum(axis=2), hours[:, :, evening_hour:].sum(axis=2)
        day_share = np.where(total > 0, late / np.where(total > 0, total, 1.0), day_share)
    return PriceWorld(
        elasticity=response.elasticity(category), deepest=response.deepest(category),
        borrowed=max(response.neighbours_.get("log_price_yesterday", {"coef": 0.0})["coef"], 0.0),
        evening_share=usual, logged=logged, scale=scale, day_share=day_share,
    )  # fmt: skip


def _run_markdowns(panel, first_day, demand, master, orderer, forecasts, world, progress, lines=None,
                   joint_orders=False) -> dict:  # fmt: skip
    """Each markdown policy's replay with `orderer`'s orders, from the same opening stock;
    per policy its summary (and, into dict `lines` if given, its per-line results). With
    `joint_orders`, the optimizer's and the hindsight's orders count on the markdowns of a
    batch's last day (`optimize.markdown.last_day_markdowns`, from the response freshcast
    estimated); the sticker rules keep the plain orders. Off by default: on 2024-05-29 ..
    06-04 of four cities it earned 18-51 less margin at every response scale, with a little
    more waste (benchmarks/RESULTS.md, "Markdowns")."""
    from dataclasses import replace

    from ..optimize.markdown import last_day_markdowns

    n, T = demand.shape
    joint = orderer
    if joint_orders:
        joint = replace(orderer, markdowns=last_day_markdowns(master, world.elasticity, world.deepest,
                                                              world.evening_share))  # fmt: skip
    orderers = {p: joint if p in ("optimizer", "hindsight") else orderer for p in MARKDOWN_POLICIES}
    S, L = master.shelf_life_days, master.lead_time_days
    opening, received = _opening_stock(panel, first_day, master, T)
    stock = {p: opening.copy() for p in MARKDOWN_POLICIES}
    logs = {p: {f: np.full((n, T), np.nan) for f in _LOG} for p in MARKDOWN_POLICIES}
    books = {p: MarkdownBook(n, T) for p in MARKDOWN_POLICIES}
    for log in logs.values():
        log["received"][:] = received
    for t in range(T):
        state = _day_state(panel, forecasts[t], master, first_day + t)
        for p in MARKDOWN_POLICIES:
            st, log, book = stock[p], logs[p], books[p]
            book.end_floor(st, t)
            _deliver(st, log, master, t)
            state.on_hand, state.on_order = _split(st, S, L, t)
            _book_orders(st, log, orderers[p].order(state), t, T, S, L)
            if p == "hindsight":  # the actual demand ahead, as a distribution without spread
                q, levels = np.repeat(demand_ahead(demand, S, t, state.on_hand.shape[1])[:, :, None], 2, axis=2), (0.25, 0.75)
            else:
                q, levels = forecasts[t].quantiles, forecasts[t].levels
            sold, lost, wasted, left = trade_day(p, st, master, book, world, t, demand[:, t], state.on_hand, q, levels)
            log["sold"][:, t], log["lost"][:, t], log["wasted"][:, t], log["stock_end"][:, t] = sold, lost, wasted, left
        _note(progress, f"replayed prices of {day_to_date(state.day)}")
    if lines is not None:
        lines.update({p: per_line(books[p], logs[p], stock[p], demand, master, world) for p in MARKDOWN_POLICIES})
    return {p: markdown_summary(books[p], logs[p], stock[p], demand, master, world) for p in MARKDOWN_POLICIES}


def _fitted(forecaster, history: DailyPanel, seed: int, demand: str, progress):
    """The replay's forecaster (by default one for the `demand` served), fitted on the
    history if it is not yet."""
    from ..forecast.daily import DailyForecaster

    if forecaster is None:
        forecaster = DailyForecaster(**(REPLAY_FORECASTER if demand == "recovered" else OBSERVED_FORECASTER), seed=seed)
    if len(check_quantiles(forecaster.quantiles)) < 2:
        raise FreshcastError("the replay's forecaster needs two or more quantile levels")
    if not hasattr(forecaster, "booster_"):
        _note(progress, f"training the forecaster on {history.n_series} series")
        forecaster.fit(history)
    return forecaster


def _run(panel, first_day, demand, master, policies, forecasts, opening, received, progress):
    """The replay's days: each policy decides, its orders are booked, the day's demand is
    served and what expires is thrown away. Returns per policy the stock left, the logs and
    the seconds spent deciding."""
    n, T = demand.shape
    S, L = master.shelf_life_days, master.lead_time_days
    stock = {p.name: opening.copy() for p in policies}
    logs = {p.name: {f: np.full((n, T), np.nan) for f in _LOG} for p in policies}
    for log in logs.values():
        log["received"][:] = received
    seconds = {p.name: 0.0 for p in policies}
    for t in range(T):
        state = _day_state(panel, None if forecasts is None else forecasts[t], master, first_day + t)
        for p in policies:
            st, log = stock[p.name], logs[p.name]
            _deliver(st, log, master, t)  # within the store's capacity
            state.on_hand, state.on_order = _split(st, S, L, t)  # what arrived and is on its way
            t0 = time.perf_counter()
            lines = p.order(state)  # decide
            seconds[p.name] += time.perf_counter() - t0
            _book_orders(st, log, lines, t, T, S, L)  # arrive after the lead time
            _sell_and_expire(st, log, S, t, demand[:, t])
        _note(progress, f"replayed {day_to_date(state.day)}")
    return stock, logs, seconds


def choose_baselines(panel: DailyPanel, first_day: int, days: int, master: MasterData, demand: str = "recovered",
                     progress: Callable[[str], None] | None = None) -> tuple[list[Policy], dict]:  # fmt: skip
    """Each baseline of `policies.BASELINES` with the setting of its grid that cost least
    when replayed on the days before `first_day` (`baseline_window`), never on the replayed
    days. Returns the policies and a record of the choice (window, grid costs, chosen); with
    too little history for a week's window, the defaults and a note."""
    start = baseline_window(panel, first_day, days)
    if start is None:
        return default_baselines(first_day, progress)
    _note(progress, f"choosing the baselines' settings on {day_to_date(start)} .. {day_to_date(first_day - 1)}")
    tried = replay(panel.until(first_day - 1), start, master=master, policies=baseline_grid(), demand=demand,
                   hindsight=False, baselines=False, log=False).summary  # fmt: skip
    return chosen_baselines(tried, start, first_day)


def baseline_window(panel: DailyPanel, first_day: int, days: int) -> int | None:
    """The first day of the window the baselines' settings are chosen on: the max(days, 7)
    days before `first_day`, shortened to the days before which every series has PAST_DAYS
    of history (what the baselines read); None when that leaves less than a week."""
    start = max(first_day - max(days, 7), int(panel.start.max()) + PAST_DAYS)
    return start if first_day - start >= 7 else None


def default_baselines(first_day: int, progress=None) -> tuple[list[Policy], dict]:
    """The baselines at their default settings and the record saying why (too little history
    before a replay from `first_day` to choose them), also told to `progress`."""
    note = (f"too little history before {day_to_date(first_day - 7)} to choose the baselines' settings "
            f"({PAST_DAYS} days before a week's window): defaults used")  # fmt: skip
    _note(progress, note)
    return [cls() for cls in BASELINES], {"note": note}


def baseline_grid() -> list[Policy]:
    """Every baseline at every setting of its grid, named "<name> <param>=<value>"."""
    return [cls(**{param: v, "name": f"{cls().name} {param}={v}"}) for cls, (param, values) in BASELINES.items()
            for v in values]  # fmt: skip


def chosen_baselines(tried: dict, start: int, first_day: int) -> tuple[list[Policy], dict]:
    """The baselines at the settings of `baseline_grid` whose replay on days `start` ..
    `first_day` - 1 cost least (`tried`: summary per grid policy), and the record."""
    chosen, record = [], {"first_day": str(day_to_date(start)), "last_day": str(day_to_date(first_day - 1))}
    for cls, (param, values) in BASELINES.items():
        name = cls().name
        costs = {str(v): tried[f"{name} {param}={v}"]["total_cost"] for v in values}
        best = values[int(np.argmin(list(costs.values())))]
        chosen.append(cls(**{param: best}))
        record[name] = {param: best, "total_cost_by_setting": costs}
    return chosen, record


def _opening_stock(panel: DailyPanel, first_day: int, master: MasterData, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The stock every policy starts from, by expiry day (series x day of the replay), and
    what it receives on each replayed day: the first `lead_time_days` days are covered by
    deliveries of the sales a week earlier."""
    n, S, L = panel.n_series, master.shelf_life_days, master.lead_time_days
    stock = np.zeros((n, T + int(S.max() + L.max()) + 1))
    received = np.zeros((n, T))
    for j in range(int(L.max())):
        qty = np.where(j < L, _sales_before(panel, first_day + j - 7), 0.0)
        stock[np.arange(n), j + S - 1] += qty
        if j < T:
            received[:, j] += qty
    return stock, received


def days_read(master: MasterData, first_day: int, T: int) -> np.ndarray:
    """(lines x T) days of forecast, from each replayed day on, that each line's order reads
    that day (`line_days`: until the later of the next delivery and the end of this one's
    shelf life); freshcast's order policies read no further."""
    return np.stack([line_days(master, master.review_days(first_day + t)) for t in range(T)], axis=1)


def _day_state(panel: DailyPanel, forecast: ForecastDistribution | None, master: MasterData, day: int) -> DayState:
    """What the policies know on `day` (stock filled in per policy): the sales before it and,
    if given, the forecast made with them."""
    review = master.review_days(day)
    D = days_needed(master, review)
    past = np.stack([_sales_before(panel, day - PAST_DAYS + k) for k in range(PAST_DAYS)], axis=1)
    state = DayState(day=day, master=master, on_hand=None, on_order=None, review=review,
                     can_order=master.orders_on(day), n_days=D, past_sales=past)  # fmt: skip
    if forecast is not None:
        state.mean = weekly_extend(forecast.mean, D).astype(np.float64)
        state.quantiles, state.levels = forecast.quantiles, forecast.levels
    return state


def _book_orders(stock: np.ndarray, log: dict, lines: OrderLines, t: int, T: int, S: np.ndarray,
                 L: np.ndarray) -> None:  # fmt: skip
    """Put day t's orders into the stock by expiry day (they arrive on day t + lead time and
    keep their shelf life; orders arriving after the replay are not placed) and log them."""
    arrives = t + L
    q = np.where(arrives < T, lines.order_qty, 0.0)
    rows = np.flatnonzero(q > 0)
    stock[rows, arrives[rows] + S[rows] - 1] += q[rows]
    log["received"][rows, arrives[rows]] += q[rows]
    log["order_qty"][:, t] = q
    log["usable_at_delivery"][:, t] = lines.usable_at_delivery
    log["expected_waste"][:, t] = lines.expected_waste
    log["expected_fill_rate"][:, t] = lines.expected_fill_rate


def _deliver(stock: np.ndarray, log: dict, master: MasterData, t: int) -> None:
    """Morning of day t: an order's delivery that would leave more on hand than the store's
    capacity is cut to the whole cases that fit (to nothing below the minimum order), alike
    for every policy; the opening deliveries are not cut."""
    S, L, cap = master.shelf_life_days, master.lead_time_days, master.capacity
    lines = np.flatnonzero(np.isfinite(cap) & (t >= L))
    if len(lines) == 0:
        return
    col = t + S[lines] - 1  # today's delivery expires at the end of day t + S - 1
    arriving = stock[lines, col]
    span = np.arange(int(S.max()))
    held = np.where(span[None, :] < S[lines, None],
                    stock[lines[:, None], np.minimum(t + span[None, :], stock.shape[1] - 1)], 0.0).sum(axis=1) - arriving  # fmt: skip
    keep = K.delivered(arriving, held, cap[lines].astype(np.float64), master.case_pack[lines].astype(np.float64),
                       master.min_order_qty[lines].astype(np.float64))  # fmt: skip
    stock[lines, col] = keep
    log["received"][lines, t] -= arriving - keep


def _sell_and_expire(stock: np.ndarray, log: dict, S: np.ndarray, t: int, demand: np.ndarray) -> None:
    """Serve day t's demand first-in-first-out from the stock on the shelf; what is unmet is
    lost, what expires that evening is thrown away."""
    sold, lost, wasted, left = K.sell_day(stock, S, t, demand)
    log["sold"][:, t], log["lost"][:, t], log["wasted"][:, t], log["stock_end"][:, t] = sold, lost, wasted, left


def replay_to_folder(
    history: str | Path,
    actuals: str | Path,
    out: str | Path,
    column_map: dict[str, str] | None = None,
    seed: int = 0,
    demand: str = "recovered",
    progress: Callable[[str], None] | None = None,
    markdowns: bool = False,
    response_scale: float = 1.0,
    params: dict | None = None,
    scheduler: str | None = None,
    evening_hour: int | None = None,
) -> ReplayResult:
    """The job of `freshcast replay`: replay the `demand` of the days of `actuals` after
    `history` through the default policies on ASSUMED master data and write summary.json and
    log.parquet into folder `out` (swapped in whole); with `markdowns`, markdown pricing too
    (summary.json's `markdown_policies`; `response_scale` and `evening_hour` as in `replay`:
    the hour from 7 to 23, only with markdowns, default `EVENING_HOUR`). `params` set the
    replay's forecaster's parameters over its defaults (`REPLAY_FORECASTER`, or
    `OBSERVED_FORECASTER` for observed demand), except what makes it forecast the demand
    served (`REPLAY_KEEPS`); summary.json records them as `forecaster_params`. With
    `scheduler` ("local:N" or "tcp://HOST:PORT", paths only) on that Dask cluster, partitioned
    by store (`cluster.replay`)."""
    from ..data import load_history_with_actuals
    from ..data.read import source_name

    if demand not in DEMAND_KINDS:
        raise FreshcastError(f"demand must be one of {', '.join(DEMAND_KINDS)}, got '{demand}'")
    real = isinstance(response_scale, numbers.Real) and not isinstance(response_scale, bool)
    if not (real and 0 < response_scale < math.inf) or (response_scale != 1.0 and not markdowns):
        raise FreshcastError(f"response_scale: a number above 0, other than 1 only with markdowns; "
                             f"got {response_scale!r}")  # fmt: skip
    evening_hour = _evening_hour(evening_hour, markdowns)
    if scheduler is not None:
        from ..cluster.connect import connected
        from ..cluster.replay import replay_on_dask

        with connected(scheduler) as client:
            result, about = replay_on_dask(client, history, actuals, column_map, seed, demand, progress, params,
                                           markdowns, response_scale, evening_hour)  # fmt: skip
        write_replay(result, Path(out), about)
        return result

    with Step(f"loading history {source_name(history)} and actuals {source_name(actuals)}", progress):
        panel, first_day = load_history_with_actuals(history, actuals, column_map)
    days = panel.last_day - first_day + 1
    _note(progress, f"{panel.n_series:,} series, {days} day(s) to replay from {day_to_date(first_day)}")
    named = source_name(actuals)
    check_every_day_has_rows(named, first_day, days_without_any_row(panel, first_day))
    notes = absent_note(named, [absent_series(panel, first_day)]) + gap_note(named, [gap_days(panel, first_day)])
    for note in notes:
        _note(progress, note)
    master = assume_master_data(panel.until(first_day - 1))
    _note(progress, master.notes[0])
    model = replay_forecaster(demand, params, seed)
    with Step(f"replaying {days} day(s)", progress):
        result = replay(panel, first_day, model, master=master, seed=seed, demand=demand, progress=progress,
                        markdowns=markdowns, response_scale=response_scale, evening_hour=evening_hour)  # fmt: skip
    about = replay_about(first_day, panel.last_day, panel.n_series, master.notes, model, params)
    if notes:
        about["notes"] = notes
    if markdowns:
        about.update(markdown_about(response_scale, evening_hour))
    write_replay(result, Path(out), about)
    return result


def _evening_hour(hour, markdowns: bool) -> int:
    """The replay's evening hour: `EVENING_HOUR` if None, else a whole hour of the shop's
    evening and only with markdowns (FreshcastError otherwise)."""
    from ..optimize.pricing import SHOP_OPEN

    if hour is None:
        return EVENING_HOUR
    whole = isinstance(hour, numbers.Integral) and not isinstance(hour, bool)
    if not markdowns or not (whole and SHOP_OPEN < hour < 24):
        raise FreshcastError(f"evening_hour: a whole hour from {SHOP_OPEN + 1} to 23, only with markdowns; "
                             f"got {hour!r}{'' if markdowns else ' without markdowns'}")  # fmt: skip
    return int(hour)


def markdown_about(response_scale: float, evening_hour: int) -> dict:
    """What summary.json says of a replay with markdowns besides its results."""
    return {"response_scale": response_scale, "markdown_evening_hour": int(evening_hour),
            "markdown_day_split": "each day's demand before and after the evening hour as its own hours sold"}


def absent_series(panel: DailyPanel, first_day: int) -> tuple[int, str]:
    """(how many series have no row on any day from `first_day` on, the first of them as
    'store_id=.., product_id=..' or ''): they are replayed with zero demand, which a series
    delisted that week has and an export that left it out does not."""
    absent = _days_without_rows(panel, first_day).all(axis=1)
    if not absent.any():
        return 0, ""
    i = int(np.argmax(absent))
    return int(absent.sum()), f"store_id={panel.series[STORE].iat[i]}, product_id={panel.series[PRODUCT].iat[i]}"


def gap_days(panel: DailyPanel, first_day: int) -> tuple[int, str]:
    """(how many days from `first_day` on have no row, of the series that have rows on other
    days then; the first as 'store_id=.., product_id=.., dt=..' or ''): they are replayed
    with zero demand, as a day an export left out would be."""
    empty = _days_without_rows(panel, first_day)
    gaps = empty & ~empty.all(axis=1, keepdims=True)
    if not gaps.any():
        return 0, ""
    i, t = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
    return int(gaps.sum()), (f"store_id={panel.series[STORE].iat[i]}, product_id={panel.series[PRODUCT].iat[i]}, "
                             f"dt={day_to_date(first_day + int(t))}")  # fmt: skip


def days_without_any_row(panel: DailyPanel, first_day: int) -> np.ndarray:
    """(day from `first_day` on,) True where no series had a row (of a partition: AND them)."""
    return _days_without_rows(panel, first_day).all(axis=0)


def check_every_day_has_rows(actuals, first_day: int, empty: np.ndarray) -> None:
    """DataError naming the first day of the replay on which no series had a row (`empty`, by
    day from `first_day`): replayed, it would be a day without demand anywhere."""
    if empty.any():
        day = day_to_date(first_day + int(np.argmax(empty)))
        raise DataError(str(actuals), [f"no row at all on {day}, {int(empty.sum())} day(s) of the replay in all "
                                       f"(first: {day}): replayed, every series would sell nothing that day; give "
                                       f"its rows (with zero sales if the stores were closed)"])  # fmt: skip


def _days_without_rows(panel: DailyPanel, first_day: int) -> np.ndarray:
    """(series, day from `first_day` on) True where the input had no row (filled days)."""
    return panel.filled_hours[panel.positions(np.arange(first_day, panel.last_day + 1)[None, :])] >= 24


def gap_note(actuals, found: list[tuple[int, str]]) -> list[str]:
    """The note (or none) of the `gap_days` of a panel, or of its partitions in store order."""
    return _counted(actuals, found, "day(s) of series that have rows here on other days have none and are replayed "
                                    "with zero demand: a day left out of the export?")  # fmt: skip


def absent_note(actuals, found: list[tuple[int, str]]) -> list[str]:
    """The note (or none) of the `absent_series` of a panel, or of its partitions in store order."""
    return _counted(actuals, found, "series of the history have no row here and are replayed with zero demand")


def _counted(actuals, found: list[tuple[int, str]], what: str) -> list[str]:
    """'<actuals>: <count> <what> (first: ...)' over the (count, first) `found`, or none."""
    count = sum(n for n, _ in found)
    if count == 0:
        return []
    first = next(f for n, f in found if n)
    return [f"{actuals}: {count:,} {what} (first: {first})"]


def replay_forecaster(demand: str, params: dict | None, seed: int):
    """The (unfitted) forecaster of a replay serving `demand`: `params` over its defaults
    (`REPLAY_FORECASTER`, or `OBSERVED_FORECASTER` for observed demand), except what makes
    it forecast the demand served (`REPLAY_KEEPS`)."""
    from ..forecast.daily import DailyForecaster

    defaults = REPLAY_FORECASTER if demand == "recovered" else OBSERVED_FORECASTER
    kept = {k: v for k, v in defaults.items() if k in REPLAY_KEEPS}  # what the replay forecasts stays
    return DailyForecaster(**{**defaults, **(params or {}), **kept, "seed": seed})


def replay_about(first_day: int, last_day: int, series: int, notes: list[str], model, params: dict | None) -> dict:
    """What summary.json says of a replay besides its results."""
    return {
        "first_day": str(day_to_date(first_day)), "last_day": str(day_to_date(last_day)), "series": series,
        "assumptions": notes,
        **({"forecaster_params": {k: v for k, v in model.get_params().items() if k != "n_jobs"}} if params else {}),
    }  # fmt: skip


def write_replay(result: ReplayResult, out: Path, about: dict) -> None:
    """Write DIR/log.parquet (per policy, series and day) and DIR/summary.json (the demand
    served, `about` (days, series, assumptions) and a summary per policy); the folder is
    replaced whole."""
    with output_folder(out, "replay") as tmp:
        write_table(result.log, tmp / "log.parquet")
        summary = {"demand": result.demand, **about, "baselines_chosen_on": result.baselines_chosen,
                   "policies": result.summary}  # fmt: skip
        if result.markdowns is not None:
            summary["markdown_policies"] = result.markdowns
        write_text(tmp / "summary.json", json.dumps(_no_nan(summary), indent=2, allow_nan=False))


def _no_nan(value):
    """`value` with NaN numbers as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return None if isinstance(value, float) and value != value else value


def _note(progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _sales_before(panel: DailyPanel, day: int) -> np.ndarray:
    """Each series' sales on `day` (0 before its first day)."""
    pos = panel.positions(day)
    ok = day >= panel.start
    return np.where(ok, panel.sales[np.where(ok, pos, 0)], 0.0).astype(np.float64)


def _split(stock: np.ndarray, shelf: np.ndarray, lead: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Stock by expiry day (absolute) -> on hand by expiry (day 0 = t) and on order by
    arrival day. Units expiring on day e arrived on day e - shelf + 1."""
    n = len(shelf)
    A = int(lead.max())
    rows = np.arange(n)[:, None]
    a = np.arange(1, A + 1)[None, :]
    col = np.minimum(t + a + shelf[:, None] - 1, stock.shape[1] - 1)
    on_order = np.zeros((n, A + 1))
    on_order[:, 1:] = np.where(a < lead[:, None], stock[rows, col], 0.0)
    return held_by_expiry(stock, shelf, t), on_order


def _log_frame(panel: DailyPanel, first_day: int, demand: np.ndarray, logs: dict) -> pd.DataFrame:
    """One row per policy, series and day (policy-major), each column made once: no frame per
    policy to concatenate (a long replay's log is millions of rows)."""
    n, T = demand.shape
    k = len(logs)
    return pd.DataFrame(
        {
            "policy": np.repeat(np.array(list(logs), dtype=object), n * T),
            STORE: np.tile(np.repeat(panel.series[STORE].to_numpy(), T), k),
            PRODUCT: np.tile(np.repeat(panel.series[PRODUCT].to_numpy(), T), k),
            DAY: np.tile(day_to_date(first_day + np.arange(T)), n * k),
            "demand": np.tile(demand.ravel(), k),
            **{f: np.concatenate([log[f].ravel() for log in logs.values()]) for f in _LOG},
        }
    )
