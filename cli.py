"""The `freshcast` command line: a thin layer over the library functions the ERP calls.

Heavy libraries are imported inside the commands so that `freshcast --help` answers at once.
Exit codes: 0 success, 1 bad input or a failed step (one clear line on stderr), 2 bad usage.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from .console import Step as _Step
from .console import forecast_scores_text, replay_text, say as _say, scores_text


# click's base of usage errors, as the installed typer has it (its own copy of click since 0.24)
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Commands(typer.core.TyperGroup):
    """freshcast's commands. A usage error (exit 2) is told in click's plain lines, not a
    box drawn at the terminal's width, so a cron job's log keeps each message on one line."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)  # a typer.Exit's code, else None
        except _USAGE_ERROR as exc:
            exc.show()
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_Commands,
    help="Demand forecasts and replenishment for fresh-grocery retail, per store x product.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # help paragraphs reflow; [dask] is text, not a rich style tag
)

HistoryOption = Annotated[Path, typer.Option(help="Sales history (file or folder, shared layout)")]
MapOption = Annotated[
    Optional[list[str]],
    typer.Option("--map", help="Column mapping THEIR_NAME=NATIVE_NAME (repeatable), e.g. --map qty=hourly_sale"),
]
ParamsOption = Annotated[
    Optional[Path], typer.Option(help="Forecaster parameters from a TOML file, e.g. the best_params.toml of freshcast tune")
]


def _scheduler(value: Optional[str]) -> Optional[str]:
    """The --scheduler value if it names one (a usage error, exit 2, otherwise)."""
    from .cluster.connect import check_scheduler
    from .errors import FreshcastError

    try:
        return None if value is None else check_scheduler(value)
    except FreshcastError as exc:
        raise typer.BadParameter(str(exc)) from None


SchedulerOption = Annotated[
    Optional[str],
    typer.Option(help="Run on Dask: local:N (N worker processes here) or tcp://HOST:PORT (a running "
                      "scheduler); needs freshcast[dask] and paths every worker can read", callback=_scheduler),
]
ThreadsOption = Annotated[
    int,
    typer.Option(
        "--threads", min=0,
        help="Threads for training and the numba kernels (0: FRESHCAST_THREADS or the physical cores; the same count "
             "gives the same results)",
    ),
]


def _use_threads(n: int) -> None:
    """Use `n` threads (0: the default); exit 2 with one line if FRESHCAST_THREADS is malformed."""
    from .errors import ConfigError
    from .threads import set_threads

    try:
        set_threads(n)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


def _fail(exc: Exception) -> None:
    """Print one line for a user-facing error (then, for bad data, the problems after the
    first three, one per line) and exit 1."""
    from .errors import DataError, one_line

    print(f"error: {one_line(exc)}", file=sys.stderr)
    if isinstance(exc, DataError):
        for problem in exc.problems[3:]:
            print(f"  - {problem}", file=sys.stderr)
    raise typer.Exit(1)


@contextmanager
def _writing(*targets, inputs=()):
    """Reserve each (path, kind) output (kind None: a file, else a folder of that kind) before
    the work starts: exit 1 with one line at once if one cannot be written or is (or is in, or
    holds) one of the command's `inputs`; exit 75 if another freshcast run is writing it."""
    from .errors import FreshcastError, RunLocked
    from .outputs import reserve_all

    with ExitStack() as stack:
        try:
            stack.enter_context(reserve_all(*targets, inputs=inputs))
        except RunLocked as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(75) from None
        except FreshcastError as exc:
            _fail(exc)
        yield


def _checked(parse, value, option: str):
    """parse(value), or a usage error (exit 2) naming `option`."""
    from .errors import FreshcastError

    try:
        return parse(value)
    except (FreshcastError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _budget(value: float | None) -> float | None:
    """The library's check of `--budget` as a usage error (exit 2): typer's `min` lets inf through."""
    from .optimize.purchase import check_budget

    return _checked(check_budget, value, "--budget")


def _column_map(items):
    from .data.contract import parse_column_map

    return _checked(parse_column_map, items, "--map")


@app.command()
def validate(
    path: Annotated[
        Optional[Path], typer.Argument(help="Sales history: Parquet or CSV file, or a hive-partitioned folder")
    ] = None,
    future: Annotated[
        Optional[Path], typer.Option(help="Check this future covariates file instead (needs --history)")
    ] = None,
    history: Annotated[Optional[Path], typer.Option(help="The history the --future file follows")] = None,
    map: MapOption = None,
) -> None:
    """Check a sales history file (or, with --future and --history, a future covariates file)
    against the data contract; list every problem found."""
    from .data.load import validate_future, validate_path

    if future is not None:
        history = history or path
        if history is None:
            raise typer.BadParameter("give the history the future follows with --history", param_hint="--future")
        path = future
        problems, summary = validate_future(future, history, _column_map(map))
    else:
        path = path or history
        if path is None:
            raise typer.BadParameter("give a history file or folder to check", param_hint="PATH")
        problems, summary = validate_path(path, _column_map(map))
    if problems:
        print(f"{path}: {len(problems)} problem(s)")
        for p in problems:
            print(f"  - {p}")
        raise typer.Exit(1)
    print(f"{path}: valid")
    for k, v in summary.items():
        print(f"  {k}: {v}")


@app.command()
def forecast(
    history: HistoryOption,
    future: Annotated[Path, typer.Option(help="Future covariates of the days to forecast")],
    out: Annotated[Path, typer.Option(help="Output Parquet (or .csv; a name without suffix: a folder of Parquet "
                                           "parts): store_id, product_id, dt, yhat, q10, q50, q90")],
    map: MapOption = None,
    seed: Annotated[int, typer.Option(help="Random seed (same inputs and seed, same forecast)")] = 0,
    save_model: Annotated[Optional[Path], typer.Option(help="Also save the trained model to this folder")] = None,
    level: Annotated[str, typer.Option(help="day, or hour: one row per hour (adds column 'hour')")] = "day",
    slots: Annotated[
        Optional[str],
        typer.Option(help="Dayparts covering the day, e.g. 06-10,10-14,14-18,18-22,22-06 (adds column 'slot')"),
    ] = None,
    recover_stockouts: Annotated[
        bool, typer.Option(help="Learn from demand recovered in stockout hours, not only censored sales")
    ] = True,
    quantiles: Annotated[
        str, typer.Option(help="Quantile levels added as columns q10, q50, q90 ...; 'none' for the mean only")
    ] = "0.1,0.5,0.9",
    params: ParamsOption = None,
    threads: ThreadsOption = 0,
    scheduler: SchedulerOption = None,
) -> None:
    """Train on the history and forecast every store x product for each day in FUTURE
    (or each hour or slot of those days): the mean (yhat) and quantiles of demand."""
    from .errors import FreshcastError
    from .forecast.hourly import dayparts, parse_slots
    from .forecast.job import forecast_to_file
    from .outputs import DATASET, is_dataset
    from .forecast.quantiles import parse_quantiles

    _use_threads(threads)
    _checked(lambda lv: dayparts(lv, None), level, "--level")
    if slots is not None and level == "hour":
        raise typer.BadParameter("give --slots or --level hour, not both", param_hint="--slots")
    if slots is not None:
        _checked(parse_slots, slots, "--slots")
    levels = _checked(parse_quantiles, quantiles, "--quantiles")
    _table_name(out, folder=True)
    tuned = _params(params)
    with _writing((out, DATASET if is_dataset(out) else None), (save_model, "model"), inputs=(history, future, params)):
        try:
            rows = forecast_to_file(
                history, future, out, _column_map(map), seed, save_model, level, slots, recover_stockouts, levels, _say,
                tuned, scheduler,
            )
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    _say(f"wrote {rows:,} rows to {out}")


@app.command()
def backtest(
    history: HistoryOption,
    folds: Annotated[int, typer.Option(min=1, help="Weekly folds ending on the last history day")] = 3,
    horizon: Annotated[int, typer.Option(min=1, max=28, help="Days forecast in each fold")] = 7,
    out: Annotated[Optional[Path], typer.Option(help="Write the scores table here (.csv or .parquet)")] = None,
    forecasts: Annotated[
        Optional[Path], typer.Option(help="Write every fold's forecast rows with the actual sales, in-stock flag and "
                                          "the baselines here (.csv or .parquet)")
    ] = None,
    map: MapOption = None,
    seed: int = 0,
    quantiles: Annotated[
        str, typer.Option(help="Quantile levels scored (pinball loss, coverage); 'none' for the mean only")
    ] = "0.1,0.5,0.9",
    params: ParamsOption = None,
    threads: ThreadsOption = 0,
    scheduler: SchedulerOption = None,
) -> None:
    """Rolling-origin backtest of freshcast beside seasonal-naive and moving-average baselines."""
    from .errors import FreshcastError
    from .forecast.backtest import folds_tuned_on
    from .forecast.job import backtest_history
    from .forecast.params import tuned_origins
    from .forecast.quantiles import parse_quantiles
    from .outputs import write_table

    _use_threads(threads)
    levels = _checked(parse_quantiles, quantiles, "--quantiles")
    _table_name(out)
    _table_name(forecasts, "--forecasts")
    tuned = _params(params) or {}
    with _writing((out, None), (forecasts, None), inputs=(history, params)):
        try:
            scores, rows = backtest_history(history, folds, horizon, {**tuned, "seed": seed, "quantiles": levels},
                                            _column_map(map), _say, scheduler)  # fmt: skip
            if forecasts is not None:
                write_table(rows, forecasts)
            if out is not None:
                write_table(scores, out)
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    print(scores_text(scores))
    for path, what in ((out, "scores"), (forecasts, f"{len(rows):,} forecast rows")):
        if path is not None:
            _say(f"wrote {what} to {path}")
    origins = [] if params is None else tuned_origins(params)
    if same := folds_tuned_on(rows, origins):
        _say(f"note: {params} was tuned at the origins of fold(s) {', '.join(str(f) for f in same)}: their scores "
             f"are those the tuning chose by and flatter the parameters; judge them on folds after "
             f"{', '.join(origins)}")  # fmt: skip


@app.command()
def score(
    forecast: Annotated[Path, typer.Option(help="Forecast (freshcast forecast output: daily, or hourly with "
                                                "--level hour)")],
    actuals: Annotated[Path, typer.Option(help="Sales of the forecast's days, as the history holds them (hourly "
                                               "or daily rows)")],
    out: Annotated[Optional[Path], typer.Option(help="Write the scores table here (.csv or .parquet)")] = None,
    map: MapOption = None,
    timezone: Annotated[str, typer.Option(help="Time zone of the stores (IANA name): dates time-zone aware "
                                               "forecast days")] = "UTC",
) -> None:
    """Score a forecast against the sales that followed it: WAPE and bias (WPE) per day ahead
    and over all its days, on all and on in-stock days (or hours), and its quantiles' pinball
    loss and coverage (the forecast that orders were placed on, say, once its days have sold)."""
    from .data.dates import time_zone
    from .errors import FreshcastError
    from .forecast.score import score_files
    from .outputs import write_table

    _checked(time_zone, timezone, "--timezone")
    _table_name(out)
    with _writing((out, None), inputs=(forecast, actuals)):
        try:
            scores, notes = score_files(forecast, actuals, _column_map(map), timezone)
            if out is not None:
                write_table(scores, out)
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    for note in notes:
        _say(note)
    print(forecast_scores_text(scores))
    if out is not None:
        _say(f"wrote the scores to {out}")


@app.command()
def replay(
    history: HistoryOption,
    actuals: Annotated[Path, typer.Option(help="Real hourly rows of the days to replay, which follow the history")],
    out: Annotated[Path, typer.Option(help="Folder for summary.json and log.parquet")],
    map: MapOption = None,
    seed: Annotated[int, typer.Option(help="Random seed (same inputs and seed, same replay)")] = 0,
    demand: Annotated[
        str, typer.Option(help="recovered: demand lost in stockout hours added back; observed: the sales as recorded")
    ] = "recovered",
    markdowns: Annotated[
        bool, typer.Option("--markdowns", help="Replay markdown pricing too (summary.json: markdown_policies)")
    ] = False,
    response_scale: Annotated[
        float, typer.Option(min=0.01, help="With --markdowns: the simulated price response = S x the estimated one")
    ] = 1.0,
    evening_hour: Annotated[
        Optional[int], typer.Option(min=7, max=23, help="With --markdowns: the hour of the evening markdown step and "
                                                        "of each day's split of demand (default 19)")
    ] = None,
    params: ParamsOption = None,
    threads: ThreadsOption = 0,
    scheduler: SchedulerOption = None,
) -> None:
    """Replay the real demand of ACTUALS through the ordering policies (the stores' rule of
    thumb, three baselines with settings chosen on the days before, ordering to the mean
    forecast, freshcast's optimizer, the hindsight bound) with deliveries after their lead
    time, FIFO selling and expiry, on ASSUMED master data.
    Each day is forecast only from the history and the actuals before it. Demand is
    recovered where stockouts hid it (--demand observed: the sales as recorded)."""
    from .errors import FreshcastError
    from .simulate.replay import replay_to_folder
    from .simulate.scoring import DEMAND_KINDS

    _use_threads(threads)
    if demand not in DEMAND_KINDS:
        raise typer.BadParameter(f"'{demand}' is not one of {', '.join(DEMAND_KINDS)}", param_hint="--demand")
    if response_scale != 1.0 and not markdowns:
        raise typer.BadParameter("only means something with --markdowns", param_hint="--response-scale")
    if evening_hour is not None and not markdowns:
        raise typer.BadParameter("only means something with --markdowns", param_hint="--evening-hour")
    tuned = _params(params)
    with _writing((out, "replay"), inputs=(history, actuals, params)):
        try:
            result = replay_to_folder(history, actuals, out, _column_map(map), seed, demand, progress=_say,
                                      markdowns=markdowns, response_scale=response_scale, params=tuned,
                                      scheduler=scheduler, evening_hour=evening_hour)  # fmt: skip
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    print(replay_text(result.summary))
    if result.markdowns is not None:
        print("markdowns (with freshcast's orders): gross margin, waste %, label changes")
        for name, row in result.markdowns.items():
            print(f"  {name:<14} {row['gross_margin']:>14,.2f} {row['waste_pct']:>8.2f} {row['label_changes']:>10,}")
    _say(f"wrote {out / 'summary.json'} and {out / 'log.parquet'}")


@app.command("price-response")
def price_response(
    history: HistoryOption,
    out: Annotated[Path, typer.Option(help="Folder for response.parquet/.csv, validation.csv and summary.json")],
    map: MapOption = None,
    holdout_days: Annotated[
        int, typer.Option(min=0, help="Days at the end held out to check the response on (0: no check)")
    ] = 14,
    threads: ThreadsOption = 0,
    scheduler: SchedulerOption = None,
) -> None:
    """Estimate how demand responds to the price paid (the discount column), per first-level
    category, with standard errors, the lift at each markdown depth, the share borrowed from
    neighbouring days and the deepest discount the data supports; check it out of sample."""
    from .errors import FreshcastError
    from .forecast.price_response import price_response_to_folder

    _use_threads(threads)
    with _writing((out, "price-response"), inputs=(history,)):
        try:
            response, summary = price_response_to_folder(history, out, _column_map(map), holdout_days, progress=_say,
                                                         scheduler=scheduler)  # fmt: skip
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    pooled = summary["pooled"]
    print(f"elasticity {pooled['elasticity']:.2f} (std error {pooled['std_error']:.2f}) pooled over "
          f"{int(response.table_['estimated'].sum())} of {len(response.table_)} categories; "
          f"deepest discount supported {summary['deepest_discount_pooled']:.0%}")  # fmt: skip
    if "validation" in summary:
        v = summary["validation"]
        print(f"held-out days with a price change: {v['days_with_price_change']:,}, WAPE "
              f"{v['wape_with_response']:.3f} with the response, {v['wape_without_response']:.3f} without")  # fmt: skip
    _say(f"wrote {out}/: response (.parquet, .csv), validation.csv, summary.json")


@app.command("plan-orders")
def plan_orders(
    forecast: Annotated[Path, typer.Option(help="Daily forecast with quantiles (freshcast forecast output)")],
    products: Annotated[Path, typer.Option(help="Products: shelf life, case pack, costs, supplier (CSV or Parquet)")],
    inventory: Annotated[Path, typer.Option(help="Stock on hand by batch: store_id, product_id, on_hand, expiry_date")],
    out: Annotated[Path, typer.Option(help="Folder for the purchase orders")],
    on_order: Annotated[
        Optional[Path], typer.Option(help="Open orders: store_id, product_id, on_order, arrival_date")
    ] = None,
    terms: Annotated[
        Optional[Path], typer.Option(help="Store x supplier terms: lead_time_days, order_weekdays [, order_cutoff]")
    ] = None,
    capacity: Annotated[
        Optional[Path], typer.Option(help="Store capacity: store_id, product_id, capacity_units")
    ] = None,
    order_date: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD (default: the forecast's first day)")] = None,
    budget: Annotated[
        Optional[float], typer.Option(min=0, callback=_budget, help="Most a store may spend on this order date")
    ] = None,
    buyer_id: Annotated[str, typer.Option(help="Sender id in the EDI interchange (with --edi-codes gs1: the "
                                               "buyer's GLN)")] = "FRESHCAST",
    edi_codes: Annotated[str, typer.Option(help="Whose codes the EDI ids are: own (the buyer's) or gs1 (GLNs and "
                                                "GTINs, EANCOM 1997, checked)")] = "own",
    seed: Annotated[int, typer.Option(help="Random seed of the demand scenarios")] = 0,
    timezone: Annotated[str, typer.Option(help="Time zone of the stores (IANA name): dates time-zone aware expiry "
                                               "and arrival timestamps")] = "UTC",
    threads: ThreadsOption = 0,
) -> None:
    """Work out today's order for every store x product from the forecast distribution and
    write purchase orders per store, supplier and delivery date: po_headers and po_lines
    (Parquet and CSV), decisions (every line that can order that day, with why), and EDIFACT
    ORDERS files in edi/."""
    from .data.dates import day_number, time_zone
    from .documents.edifact import check_buyer_id, check_codes
    from .documents.purchase_orders import write_purchase_orders
    from .errors import FreshcastError
    from .optimize.purchase import plan_orders as run_plan

    _use_threads(threads)
    if order_date is not None:
        _checked(day_number, order_date, "--order-date")
    _checked(time_zone, timezone, "--timezone")
    _checked(check_codes, edi_codes, "--edi-codes")
    _checked(lambda b: check_buyer_id(b, edi_codes), buyer_id, "--buyer-id")
    with _writing((out, "purchase-orders"), inputs=(forecast, products, inventory, on_order, terms, capacity)):
        try:
            with _Step("reading forecast, master data and stock; optimising orders"):
                po = run_plan(
                    forecast, products, terms=terms, capacity=capacity, on_hand=inventory, on_order=on_order,
                    order_date=order_date, budget=budget, seed=seed, timezone=timezone,
                )  # fmt: skip
            for note in po.notes:
                _say(note)
            write_purchase_orders(po, out, buyer_id, edi_codes)
        except (FreshcastError, OSError, ValueError) as exc:
            _fail(exc)
    total = po.headers["total_cost"].sum()
    print(f"{len(po.headers):,} purchase orders, {len(po.lines):,} lines, total cost {total:,.2f}")
    edi = po.headers["supplier_id"].nunique()
    _say(f"wrote {out}/: po_headers, po_lines, decisions (.parquet, .csv), notes.txt and "
         + (f"{edi} EDI file(s) in edi/" if edi else "no EDI file (nothing to order)"))


@app.command("plan-prices")
def plan_prices(
    forecast: Annotated[Path, typer.Option(help="Daily forecast with quantiles (freshcast forecast output)")],
    products: Annotated[Path, typer.Option(help="Products: unit_cost, regular_price, salvage_value, shelf life ...")],
    inventory: Annotated[Path, typer.Option(help="Stock on hand by batch: store_id, product_id, on_hand, expiry_date")],
    labels: Annotated[Path, typer.Option(help="What each label shows now: store_id, product_id, price [, expiry_date]")],
    out: Annotated[Path, typer.Option(help="Folder for price_changes, decisions and the esl/ feed")],
    date: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD (default: the forecast's first day)")] = None,
    evening_hour: Annotated[
        Optional[int],
        typer.Option(min=7, max=23, help="Allow a deeper evening markdown from this hour on a batch's last day"),
    ] = None,
    response: Annotated[
        Optional[Path], typer.Option(help="Price response folder (freshcast price-response; default: FreshRetailNet's)")
    ] = None,
    hourly_forecast: Annotated[
        Optional[Path], typer.Option(help="Hourly forecast (forecast --level hour): the evening's share of the day")
    ] = None,
    ladder: Annotated[str, typer.Option(help="Markdown depths in percent off the regular price")] = "0,10,20,30,40,50",
    max_changes: Annotated[Optional[int], typer.Option(
        min=0, help="Most label changes per store in this run (each row written counts: a day price, an evening "
                    "step, a later batch's markdown brought back; returns of ended markdowns do not)")] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of the stores (IANA name) for the validity times")] = "UTC",
    min_gain: Annotated[float, typer.Option(
        min=0.0, max=0.99, help="Make a markdown only if it is expected to earn at least this share of one unit's "
                                "regular price more than keeping the label (0: every markdown expected to pay)")] = 0.0,
    at_evening_hour: Annotated[
        bool,
        typer.Option("--at-evening-hour", help="Run at --evening-hour with the stock left then: only the evening "
                                               "markdowns of units expiring tonight"),
    ] = False,
    evening_later: Annotated[
        bool,
        typer.Option("--evening-later", help="Morning run of a store that also runs --at-evening-hour: plan the "
                                             "day for an evening step, write none"),
    ] = False,
    threads: ThreadsOption = 0,
) -> None:
    """Work out today's price of every store x product with stock on hand (markdowns of stock
    near its expiry date) and write the label changes: price_changes and decisions (Parquet
    and CSV), `esl/<store_id>.json` (freshcast's layout) and `esl/vusion/<store_id>.json` (to
    send now; changes that start later, like the evening step, in
    `esl/vusion/<YYYY-MM-DD>T<HHMM>/<store_id>.json`).

    Run it again at the evening hour with `--at-evening-hour` and the stock left then (the
    morning run with `--evening-later`): the evening markdowns are chosen from what the day
    has left, which earns more than the morning's evening step."""
    from .errors import FreshcastError
    from .data.dates import day_number, time_zone
    from .documents.price_labels import write_price_labels
    from .optimize.pricing import plan_prices as run_plan

    _use_threads(threads)
    if date is not None:
        _checked(day_number, date, "--date")
    depths = _checked(_ladder, ladder, "--ladder")
    _checked(time_zone, timezone, "--timezone")
    if (at_evening_hour or evening_later) and evening_hour is None:
        flag = "--at-evening-hour" if at_evening_hour else "--evening-later"
        raise typer.BadParameter("needs --evening-hour (the hour the evening run prices from)", param_hint=flag)
    if at_evening_hour and evening_later:
        raise typer.BadParameter("is for the morning run, --at-evening-hour for the evening one: give one",
                                 param_hint="--evening-later")
    with _writing((out, "price-labels"), inputs=(forecast, products, inventory, labels, response, hourly_forecast)):
        try:
            with _Step("reading forecast, products, stock and labels; choosing prices"):
                plan = run_plan(forecast, products, inventory, labels, date=date, evening_hour=evening_hour,
                                response=response, hourly_forecast=hourly_forecast, ladder=depths,
                                max_changes=max_changes, timezone=timezone, at_evening_hour=at_evening_hour,
                                evening_later=evening_later, min_gain=min_gain)  # fmt: skip
            for note in plan.notes:
                _say(note)
            write_price_labels(plan, out)
        except (FreshcastError, OSError, ValueError) as exc:
            _fail(exc)
    d = plan.decisions
    evening = d["evening_markdown_pct"].notna()
    marked = evening if at_evening_hour else d["markdown_pct"] > 0
    steps = "" if at_evening_hour else f", {int(evening.sum()):,} with an evening step"
    print(f"{len(plan.changes):,} label change(s) in {plan.changes['store_id'].nunique():,} store(s); "
          f"{int(marked.sum()):,} of {len(d):,} lines marked down{' tonight' if at_evening_hour else ''}{steps}; "
          f"expected waste {d['expected_waste_without'].sum():,.2f} -> {d['expected_waste'].sum():,.2f} units")  # fmt: skip
    _say(f"wrote {out}/: price_changes, decisions (.parquet, .csv), esl/, notes.txt")


def _ladder(text: str) -> tuple[float, ...]:
    """'0,10,20' (percent off) -> (0.0, 0.1, 0.2): starts at 0, deepens, below 100."""
    from .nightly.config import ladder

    return ladder(text.split(","))


@app.command("master-data")
def master_data(
    history: HistoryOption,
    out: Annotated[Path, typer.Option(help="Folder for products.csv and terms.csv")],
    map: MapOption = None,
) -> None:
    """Write freshcast's ASSUMED master data for a history without any (like FreshRetailNet):
    products.csv and terms.csv, to edit or to try plan-orders with, and ASSUMPTIONS.txt."""
    from .data import load_history
    from .errors import FreshcastError
    from .optimize.master import ASSUMPTIONS, write_assumed_tables

    with _writing((out, "master-data"), inputs=(history,)):
        try:
            products, terms = write_assumed_tables(load_history(history, _column_map(map)), out)
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    _say(ASSUMPTIONS)
    _say(f"wrote {out / 'products.csv'} ({len(products)} products) and {out / 'terms.csv'} ({len(terms)} rows)")


@app.command("make-future")
def make_future(
    history: HistoryOption,
    days: Annotated[int, typer.Option(min=1, max=28, help="Days after the history to write covariates for")],
    out: Annotated[Path, typer.Option(help="Output Parquet (or .csv) to pass to forecast --future")],
    map: MapOption = None,
) -> None:
    """Write ASSUMED future covariates for the DAYS after the history, for planners without
    a promotion plan or weather feed: discount and activity flag carried forward from the last
    day, holiday flag from the same weekday last week, weather the same weekdays' recent mean."""
    from .data import load_history
    from .data.future import assume_future, assumption_note
    from .errors import FreshcastError
    from .outputs import write_table

    _table_name(out)
    with _writing((out, None), inputs=(history,)):
        try:
            panel = load_history(history, _column_map(map))
            frame = assume_future(panel, days)
            write_table(frame, out)
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    _say(assumption_note(panel))
    _say(f"wrote {len(frame):,} rows ({panel.n_series:,} series x {days} day(s)) to {out}")


@app.command()
def tune(
    history: HistoryOption,
    out: Annotated[Path, typer.Option(help="Folder of the study (study.db, trials.csv, best_params.toml); resumed")],
    trials: Annotated[int, typer.Option(min=1, help="Trials in all (a resumed study runs the ones missing)")] = 30,
    origins: Annotated[int, typer.Option(min=1, help="Weekly origins at the end of the history, scored by mean WAPE")] = 4,
    horizon: Annotated[int, typer.Option(min=1, max=28, help="Days forecast after each origin")] = 7,
    map: MapOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampler and the models")] = 0,
    threads: ThreadsOption = 0,
) -> None:
    """Search the forecaster's parameters (Optuna TPE: LightGBM's, feature windows, stockout
    recovery, training window; the first trial is the defaults) by mean WAPE over the last
    weekly origins of HISTORY; writes OUT/best_params.toml for --params. Tune on weeks you will
    not report on."""
    import signal

    from .data import load_history
    from .errors import FreshcastError, Interrupted, RunLocked
    from .forecast.tune import check_study_folder, tune as run_tune

    from .outputs import apart

    _use_threads(threads)
    try:
        apart((out, "folder"), inputs=(history,))
        check_study_folder(out)  # before the history's load
        with _Step(f"loading history {history}"):
            panel = load_history(history, _column_map(map))
        result = run_tune(panel, out, trials, origins, horizon, seed, progress=_say)
    except RunLocked as exc:  # another tune works in OUT
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(75) from None
    except Interrupted as exc:  # the finished trials are kept: not "nothing written", as for other commands
        print(f"error: stopped by {signal.Signals(exc.signum).name}: {out} keeps the finished trials (a trial cut "
              f"off is tried again) and the same command resumes the study", file=sys.stderr)  # fmt: skip
        raise typer.Exit(128 + exc.signum) from None
    except (FreshcastError, OSError) as exc:
        _fail(exc)
    print(f"best mean WAPE {result.best_wape:.4f} over origins {', '.join(result.origins)}; "
          f"{len(result.trials)} trial(s) in {out / 'trials.csv'}")  # fmt: skip
    _say(f"wrote {out / 'best_params.toml'}")


def _table_name(path: Optional[Path], option: str = "--out", folder: bool = False) -> None:
    """A usage error (exit 2) unless a table output's name ends in .parquet or .csv (or, with
    `folder`, has no suffix: a folder of Parquet parts)."""
    if path is not None and path.suffix.lower() not in (".parquet", ".csv") and not (folder and path.suffix == ""):
        also = ", or no suffix for a folder of Parquet parts" if folder else ""
        raise typer.BadParameter(f"'{path}': name a table .parquet or .csv{also}", param_hint=option)


def _params(path: Optional[Path]) -> Optional[dict]:
    from .forecast.params import read_params

    return None if path is None else _checked(read_params, path, "--params")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's forecast, scores, replay")] = Path("freshcast_demo"),
    threads: ThreadsOption = 0,
) -> None:
    """Forecast the last week of the embedded sample (one city of FreshRetailNet-50K) from the
    weeks before it and score it beside the baselines; then replay that week's real demand
    through the ordering policies (on ASSUMED master data)."""
    from .demo import run_demo
    from .errors import FreshcastError

    _use_threads(threads)
    with _writing((out, "demo")):
        try:
            scores, summary = run_demo(out, progress=_say)
        except (FreshcastError, OSError) as exc:
            _fail(exc)
    print(scores_text(scores))
    print(replay_text(summary))
    _say(f"wrote {out / 'forecast.parquet'}, {out / 'scores.csv'} and {out / 'replay'}/")


@app.command()
def run(
    config: Annotated[Path, typer.Option(help="The run's TOML config (freshcast init-config writes an example)")],
    date: Annotated[
        Optional[str], typer.Option(help="YYYY-MM-DD, the business day (default: the config's run.date: today or after-history)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo every stage, even those up to date")] = False,
) -> None:
    """The business day's batch: validate inputs, train or load the model, forecast, orders,
    prices, export, each stage into `<root>/<date>/<stage>/` with manifest.json and log.jsonl.
    Rerunning a done day changes nothing; a killed run resumes. Exit codes: 0 done, 1 bad
    input or failed stage, 2 usage or bad config, 75 another run holds the lock, 130/143
    stopped by SIGINT/SIGTERM."""
    _numba_cache_beside_runs(config)  # before numba is imported
    from .errors import ConfigError, FreshcastError, Interrupted, RunLocked, one_line
    from .nightly.run import run as run_batch

    if date is not None:
        from .data.dates import day_number

        _checked(day_number, date, "--date")
    progress = _say if sys.stderr.isatty() else None
    try:
        result = run_batch(config, date, force, progress)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2)
    except RunLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(75)
    except Interrupted as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(128 + exc.signum)
    except (FreshcastError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        raise typer.Exit(1)
    done = ", ".join(result.redone) or "none (all up to date)"
    print(f"{result.date}: all stages done; redone now: {done}; see {result.folder / 'manifest.json'}")


def _numba_cache_beside_runs(config: Path) -> None:
    """Keep numba's compiled kernels in <run root>/.numba-cache (unless NUMBA_CACHE_DIR is
    set): a cron job in a fresh container then compiles only on the first run that uses the
    run root, not on every run. A config that cannot be read is reported later, as usual."""
    import os
    import tomllib

    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    try:
        root = tomllib.loads(config.read_text()).get("run", {}).get("root", "runs")
    except (OSError, ValueError, AttributeError):
        return
    if isinstance(root, str) and root.strip():
        os.environ["NUMBA_CACHE_DIR"] = str(config.resolve().parent / Path(root).expanduser() / ".numba-cache")


@app.command("init-config")
def init_config(
    path: Annotated[Path, typer.Argument(help="Where to write the example config (a new file)")],
    history: Annotated[
        Optional[Path], typer.Option(help="Write it for this sales history (default: the embedded sample)")
    ] = None,
) -> None:
    """Write a commented example config for `freshcast run` that runs as is on the embedded
    sample (or on --history), with ASSUMED products, terms, stock and labels in
    freshcast_inputs/ beside it."""
    from .errors import FreshcastError
    from .nightly.example import write_example

    try:
        config, inputs = write_example(path, history)
    except (FreshcastError, OSError) as exc:
        _fail(exc)
    _say(f"wrote {config} and {inputs}/; try: freshcast run --config {config}")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"freshcast {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Demand forecasts and replenishment for fresh-grocery retail, per store x product."""


def main() -> None:
    """The `freshcast` command. SIGTERM (a cron job's or a service manager's stop) and SIGINT
    (Ctrl-C) end any command alike: what it was writing is removed, one line says so, exit
    128 + the signal (143, 130)."""
    import signal

    from .errors import Interrupted, stop_on_signals

    try:
        with stop_on_signals():
            app()
    except Interrupted as exc:
        print(f"error: stopped by {signal.Signals(exc.signum).name}; nothing of the output was written",
              file=sys.stderr)  # fmt: skip
        sys.exit(128 + exc.signum)


if __name__ == "__main__":
    main()
