"""Replay real demand through ordering policies, day by day.

Each morning the deliveries due arrive; on an order day the policy orders (from the stock
held and on order, and forecasts made only from the sales before that day); the day's real
sales are then served first-in-first-out, unmet demand is lost and what expires that evening
is thrown away. Orders arrive `lead_time_days` later. Every policy starts from the same
stock: the first `lead_time_days` days are covered by deliveries of last week's sales.
"""

from __future__ import annotations

import json
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
from ..errors import FreshcastError
from ..forecast.quantiles import check_quantiles
from ..outputs import output_folder, write_table, write_text
from ..optimize import kernels as K
from ..optimize.master import MasterData, assume_master_data
from ..optimize.orders import OrderLines, days_needed, weekly_extend
from .policies import DayState, Policy, default_policies

REPLAY_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


@dataclass
class ReplayResult:
    summary: dict  # per policy: units and money over the replay
    log: pd.DataFrame  # per policy, series and day
    seconds: dict  # per policy: wall time spent deciding orders


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
    progress: Callable[[str], None] | None = None,
) -> ReplayResult:
    """Replay the days `first_day` .. `panel.last_day` of `panel` (history followed by the
    actual days) through each policy. `forecaster` (a DailyForecaster with two or more
    quantiles) is fitted on the history if not fitted yet; forecasts on each day use only
    the sales before it. `master` defaults to `assume_master_data` on the history."""
    from ..forecast.daily import DailyForecaster

    T = panel.last_day - first_day + 1
    if T < 1 or int(panel.start.max()) >= first_day:
        raise FreshcastError(
            f"{panel.source}: the replay needs history before {day_to_date(first_day)} for every series"
        )
    history = panel.until(first_day - 1)
    master = assume_master_data(history) if master is None else master
    policies = default_policies(seed) if policies is None else policies
    forecaster = DailyForecaster(quantiles=REPLAY_QUANTILES, seed=seed) if forecaster is None else forecaster
    if len(check_quantiles(forecaster.quantiles)) < 2:
        raise FreshcastError("the replay's forecaster needs two or more quantile levels")
    if not hasattr(forecaster, "booster_"):
        _note(progress, f"training the forecaster on {history.n_series} series")
        forecaster.fit(history)
    S, L = master.shelf_life_days, master.lead_time_days
    demand = panel.sales[panel.positions(first_day)[:, None] + np.arange(T)].astype(np.float64)
    stock, logs = _opening_stock(panel, first_day, master, [p.name for p in policies], T)
    seconds = {p.name: 0.0 for p in policies}
    for t in range(T):
        state = _day_state(panel, forecaster, master, demand, first_day, t)
        for p in policies:
            st, log = stock[p.name], logs[p.name]
            state.on_hand, state.on_order = _split(st, S, L, t)  # what arrived and is on its way
            t0 = time.perf_counter()
            lines = p.order(state)  # decide
            seconds[p.name] += time.perf_counter() - t0
            _book_orders(st, log, lines, t, T, S, L)  # arrive after the lead time
            _sell_and_expire(st, log, S, t, demand[:, t])
        _note(progress, f"replayed {day_to_date(state.day)}")
    summary = {p.name: _summarise(demand, logs[p.name], master) for p in policies}
    return ReplayResult(summary, _log_frame(panel, first_day, demand, logs), seconds)


def _opening_stock(panel: DailyPanel, first_day: int, master: MasterData, names: list[str],
                   T: int) -> tuple[dict, dict]:  # fmt: skip
    """Per policy: the stock by expiry day (series x day of the replay) and empty logs. Every
    policy starts from the same stock: the first `lead_time_days` days are covered by
    deliveries of the sales a week earlier."""
    n, S, L = panel.n_series, master.shelf_life_days, master.lead_time_days
    width = T + int(S.max() + L.max()) + 1
    stock = {name: np.zeros((n, width)) for name in names}
    logs = {name: {f: np.full((n, T), np.nan) for f in _LOG} for name in names}
    for name in names:
        logs[name]["received"][:] = 0.0
        for j in range(int(L.max())):
            qty = np.where(j < L, _sales_before(panel, first_day + j - 7), 0.0)
            stock[name][np.arange(n), j + S - 1] += qty
            logs[name]["received"][:, j] += qty
    return stock, logs


def _day_state(panel: DailyPanel, forecaster, master: MasterData, demand: np.ndarray, first_day: int,
               t: int) -> DayState:  # fmt: skip
    """What the policies know on day t of the replay (stock filled in per policy): forecasts
    from the sales before that day only."""
    T = demand.shape[1]
    day = first_day + t
    review = master.review_days(day)
    D = days_needed(master, review)
    h = min(forecaster.max_horizon, T - t)
    forecast = forecaster.predict_distribution(h, panel.future(day, h), panel.until(day - 1))
    return DayState(
        day=day, master=master, on_hand=None, on_order=None, review=review, can_order=master.orders_on(day),
        mean=weekly_extend(forecast.mean, D).astype(np.float64), quantiles=forecast.quantiles,
        levels=forecast.levels,
        last_week=np.stack([_sales_before(panel, day + d - 7 * (d // 7 + 1)) for d in range(D)], axis=1),
        actual=weekly_extend(demand[:, t:], D),  # past the replay: the same weekday repeated
    )  # fmt: skip


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
    progress: Callable[[str], None] | None = None,
) -> ReplayResult:
    """The job of `freshcast replay`: replay the days of `actuals` after `history` through the
    default policies on ASSUMED master data and write summary.json and log.parquet into
    folder `out` (swapped in whole)."""
    from ..data import load_history_with_actuals

    with Step(f"loading history {history} and actuals {actuals}", progress):
        panel, first_day = load_history_with_actuals(history, actuals, column_map)
    days = panel.last_day - first_day + 1
    _note(progress, f"{panel.n_series:,} series, {days} day(s) to replay from {day_to_date(first_day)}")
    master = assume_master_data(panel.until(first_day - 1))
    _note(progress, master.notes[0])
    with Step(f"replaying {days} day(s)", progress):
        result = replay(panel, first_day, master=master, seed=seed, progress=progress)
    about = {
        "first_day": str(day_to_date(first_day)),
        "last_day": str(day_to_date(panel.last_day)),
        "series": panel.n_series,
        "assumptions": master.notes,
    }
    write_replay(result, Path(out), about)
    return result


def write_replay(result: ReplayResult, out: Path, about: dict) -> None:
    """Write DIR/log.parquet (per policy, series and day) and DIR/summary.json (per policy,
    plus `about`: days, series, assumptions); the folder is replaced whole."""
    with output_folder(out, "replay") as tmp:
        write_table(result.log, tmp / "log.parquet")
        write_text(tmp / "summary.json", json.dumps({**about, "policies": result.summary}, indent=2))


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
    B, A = int(shelf.max()), int(lead.max())
    rows = np.arange(n)[:, None]
    e = np.arange(B)[None, :]
    on_hand = np.where(e < shelf[:, None], stock[rows, np.minimum(t + e, stock.shape[1] - 1)], 0.0)
    a = np.arange(1, A + 1)[None, :]
    col = np.minimum(t + a + shelf[:, None] - 1, stock.shape[1] - 1)
    on_order = np.zeros((n, A + 1))
    on_order[:, 1:] = np.where(a < lead[:, None], stock[rows, col], 0.0)
    return np.ascontiguousarray(on_hand), on_order


def _summarise(demand: np.ndarray, log: dict, master: MasterData) -> dict:
    margin, waste_cost, hold = master.lost_margin[:, None], master.waste_cost[:, None], master.holding_cost[:, None]
    received = float(log["received"].sum())
    sold, wasted, lost = (float(log[k].sum()) for k in ("sold", "wasted", "lost"))
    lost_margin = float((margin * log["lost"]).sum())
    waste_money = float((waste_cost * log["wasted"]).sum())
    holding = float((hold * log["stock_end"]).sum())
    return {
        "units_demanded": float(demand.sum()),
        "units_received": received,
        "units_sold": sold,
        "units_wasted": wasted,
        "units_lost": lost,
        "units_ending_stock": float(log["stock_end"][:, -1].sum()),
        "waste_pct": 100.0 * wasted / received if received > 0 else 0.0,
        "fill_rate": sold / float(demand.sum()) if demand.sum() > 0 else 1.0,
        "average_stock": float(log["stock_end"].mean()),
        "gross_margin": float((margin * log["sold"]).sum()) - waste_money,
        "lost_margin": lost_margin,
        "waste_cost": waste_money,
        "holding_cost": holding,
        "total_cost": lost_margin + waste_money + holding,
    }


def _log_frame(panel: DailyPanel, first_day: int, demand: np.ndarray, logs: dict) -> pd.DataFrame:
    n, T = demand.shape
    frames = []
    for name, log in logs.items():
        frames.append(
            pd.DataFrame(
                {
                    "policy": name,
                    STORE: np.repeat(panel.series[STORE].to_numpy(), T),
                    PRODUCT: np.repeat(panel.series[PRODUCT].to_numpy(), T),
                    DAY: np.tile(day_to_date(first_day + np.arange(T)), n),
                    "demand": demand.ravel(),
                    **{k: v.ravel() for k, v in log.items()},
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
