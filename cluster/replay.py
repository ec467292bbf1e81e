"""`freshcast replay` on a Dask cluster. The history and the actual days are split by store as
for the forecast (`cluster.forecast`); each worker reads its stores' rows and assumes their
master data. The baselines' settings are chosen on the chain's costs of the window before the
replay (each worker replays the grid on its lines; the costs are added up); the forecaster
trains data-parallel on the partitions' history; then each worker replays its lines through
every policy, forecasting each day with the chain's group tables, and only the summaries and
the log come back. Lines are independent in the replay, so the chain's summary is the
partitions' added up. With markdowns, the price response is estimated in one task on the
partitions' daily demand and discounts put end to end (`forecast.price_response.response_panel`:
the chain's estimate, as on one machine), and each worker prices its own stores (a store's label
changes are all on one worker)."""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..console import Step
from ..data import load_history_with_actuals
from ..data.dates import day_to_date
from ..data.panel import DailyPanel
from ..data.partitions import store_partitions
from ..data.read import source_name
from ..forecast.price_response import PriceResponse, check_discounts, response_panel
from ..optimize.master import assume_master_data, series_mean_sales, typical_sales
from ..simulate.markdowns import EVENING_HOUR, MARKDOWN_POLICIES, merged_markdown_summaries
from ..simulate.policies import RuleOfThumb, default_policies
from ..simulate.replay import (ReplayResult, absent_note, absent_series, baseline_grid, baseline_window,
                               check_every_day_has_rows, chosen_baselines, days_without_any_row, default_baselines,
                               gap_days, gap_note, markdown_about, replay, replay_about,
                               replay_forecaster)  # fmt: skip
from ..simulate.scoring import merged, ranked
from .connect import shared, workers
from .forecast import (calibrated, check_path, check_stores, combined_facts, group_tables, known_panel, partition_facts,
                       same_days)  # fmt: skip
from .price_response import chain_panel

NOT_ADDED = ("rank", "gap_closed")  # of a partition's summary: worked out again for the chain


def replay_on_dask(client, history, actuals, column_map=None, seed: int = 0, demand: str = "recovered",
                   progress: Callable[[str], None] | None = None, params: dict | None = None,
                   markdowns: bool = False, response_scale: float = 1.0,
                   evening_hour: int = EVENING_HOUR) -> tuple[ReplayResult, dict]:  # fmt: skip
    """The replay of `simulate.replay.replay_to_folder` of the history and actuals at these
    paths, on the workers of `client`: the result (its log in store order within each policy)
    and what summary.json says of it."""
    check_path(history, "history")
    check_path(actuals, "actuals")
    with Step(f"loading history {source_name(history)} and actuals {source_name(actuals)} by store", progress):
        parts = store_partitions(history, len(workers(client)), column_map)
        check_stores(actuals, column_map, parts, source_name(history))
        where = workers(client)
        loaded = [client.submit(load_history_with_actuals, history, actuals, column_map, part, pure=False,
                                workers=[where[i % len(where)]], allow_other_workers=True)
                  for i, part in enumerate(parts)]  # fmt: skip
        panels = client.map(operator.itemgetter(0), loaded)
        days = client.gather(client.map(lambda x: (x[1], x[0].last_day), loaded))
    first_day, last_day = same_days(source_name(actuals), "actual", parts, days)
    T = last_day - first_day + 1
    empty = client.gather(client.map(days_without_any_row, panels, first_day=first_day))
    check_every_day_has_rows(source_name(actuals), first_day, np.logical_and.reduce(empty))
    notes_absent = absent_note(source_name(actuals), client.gather(client.map(absent_series, panels,
                                                                              first_day=first_day)))  # fmt: skip
    notes_absent += gap_note(source_name(actuals), client.gather(client.map(gap_days, panels, first_day=first_day)))
    for note in notes_absent:
        if progress:
            progress(note)
    histories = client.map(DailyPanel.until, panels, day=first_day - 1)
    facts = combined_facts(source_name(history), parts, client.gather(client.map(partition_facts, histories)))
    if markdowns:  # before the forecaster trains, not after
        check_discounts(facts["covariates"], f"{source_name(history)} + {source_name(actuals)}")
    if progress:
        progress(f"{facts['n_series']:,} series in {len(parts)} partitions, {T} day(s) to replay from "
                 f"{day_to_date(first_day)}")
    typical = typical_sales(pd.concat(client.gather(client.map(series_mean_sales, histories))))  # the chain's
    masters = client.map(assume_master_data, histories, typical=shared(client, typical))
    notes = client.submit(lambda m: m.notes, masters[0]).result()
    if progress:
        progress(notes[0])  # the ASSUMED master data, as the local replay says
    chosen, choices = _baselines(client, panels, histories, masters, first_day, T, demand, facts["sizes"], progress)
    with Step(f"training the forecaster on {facts['n_series']:,} series", progress):
        model = replay_forecaster(demand, params, seed)
        fitted, _ = calibrated(client, histories, facts, model)
        pooled = group_tables(client, client.map(known_panel, panels, recovery=fitted.feature_share))
    response = None
    if markdowns:
        with Step("estimating the price response on the history", progress):
            response = client.submit(_chain_response, client.map(response_panel, histories), pure=False)
            response.result()  # its errors here, once
    with Step(f"replaying {T} day(s)", progress):
        done = client.gather(client.map(_replay_part, panels, masters, first_day=first_day, model=shared(client, fitted),
                                        chosen=chosen, seed=seed, demand=demand, pooled=pooled, markdowns=markdowns,
                                        response_scale=response_scale, response=response,
                                        evening_hour=evening_hour))  # fmt: skip
    names = list(done[0].summary)
    gap_from = [p.name for p in chosen] + [p.name for p in default_policies(seed) if isinstance(p, RuleOfThumb)]
    summary = ranked({name: _added([r.summary[name] for r in done], facts["sizes"]) for name in names}, gap_from)
    order = list(done[0].log["policy"].unique())  # the local log's: policy by policy, lines in store order
    log = pd.concat([r.log[r.log["policy"].to_numpy() == name] for name in order for r in done], ignore_index=True)
    seconds = {name: sum(r.seconds[name] for r in done) for name in done[0].seconds}
    about = replay_about(first_day, last_day, facts["n_series"], notes, model, params)
    if notes_absent:
        about["notes"] = notes_absent
    priced = None
    if markdowns:
        priced = {p: merged_markdown_summaries([r.markdowns[p] for r in done]) for p in MARKDOWN_POLICIES}
        about.update(markdown_about(response_scale, evening_hour))
    return ReplayResult(summary, log, seconds, demand, choices, priced), about


def _baselines(client, panels, histories, masters, first_day: int, T: int, demand: str, sizes: list[int], progress):
    """`simulate.replay.choose_baselines` over the partitions: each replays the grid on its
    lines, the chain's costs choose."""
    starts = client.gather(client.map(baseline_window, panels, first_day=first_day, days=T))
    if any(s is None for s in starts):
        return default_baselines(first_day, progress)
    start = max(starts)  # the window every partition's series have the history for
    with Step(f"choosing the baselines' settings on {day_to_date(start)} .. {day_to_date(first_day - 1)}", progress):
        tried = client.gather(client.map(_grid_part, histories, masters, start=start, demand=demand))
    return chosen_baselines({name: _added([t[name] for t in tried], sizes) for name in tried[0]}, start, first_day)


def _grid_part(history, master, start: int, demand: str) -> dict:
    return replay(history, start, master=master, policies=baseline_grid(), demand=demand, hindsight=False,
                  baselines=False, log=False).summary  # fmt: skip


def _replay_part(panel, master, first_day: int, model, chosen: list, seed: int, demand: str, pooled, markdowns: bool,
                 response_scale: float, response, evening_hour: int) -> ReplayResult:  # fmt: skip
    return replay(panel, first_day, model, master=master, policies=default_policies(seed) + list(chosen), seed=seed,
                  demand=demand, baselines=False, pooled=pooled, markdowns=markdowns, response_scale=response_scale,
                  response=response, evening_hour=evening_hour)  # fmt: skip


def _chain_response(parts: list[DailyPanel]) -> PriceResponse:
    return PriceResponse().fit(chain_panel(parts))


def _added(summaries: list[dict], sizes: list[int]) -> dict:
    return merged([{k: v for k, v in s.items() if k not in NOT_ADDED} for s in summaries], sizes)
