"""Price labels from a forecast: the markdown of every store x product with stock on hand,
the label changes to send to the stores, and why (the job of `freshcast plan-prices`).

Inputs are the tables of `plan-orders` (forecast, products, stock on hand by expiry date) and
what each label shows now (`store_id, product_id, price`, optionally `expiry_date`: the expiry
date of the batch a markdown on the label is for, as freshcast's feed writes it). A markdown
whose batch is gone ends (the label goes back to the regular price unless a new markdown is
chosen); a markdown whose batch is unknown is kept as a floor (it is never raised without
knowing its stock is gone). The price response comes from `freshcast price-response`
(`response=`), or products columns `elasticity` and `deepest_discount`, or, when neither is
given, the embedded FreshRetailNet-50K estimate (an ASSUMPTION, said in the notes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..data import sample_path, tables
from ..data.contract import PRODUCT, STORE
from ..data.dates import day_to_date, time_zone
from ..data.read import source_of
from ..errors import DataError, FreshcastError
from ..forecast.hourly import read_hour_table
from ..forecast.price_response import CATEGORY, PriceResponse
from .markdown import LADDER, MIN_GAIN, MarkdownPlan, oldest_expiry, plan_markdowns
from .purchase import _order_day, master_for, read_forecast, stock_arrays, unknown_lines

LABELS = {"store_id": ("id", None), "product_id": ("id", None), "price": ("num", "> 0")}  # 0 shows no price
LABELS_OPTIONAL = {"expiry_date": ("date", "may be empty")}
PRICE_STEP = 1e-4  # prices are written to 4 decimals: a smaller difference is no change
SHOP_OPEN, SHOP_CLOSE = 6, 22  # hours; without hourly forecasts demand is assumed even between them
CHANGE_COLUMNS = ("change_id", "store_id", "product_id", "regular_price", "current_price", "new_price", "markdown_pct",
                  "valid_from", "valid_to", "reason", "expiry_date")  # fmt: skip
CHANGE_TYPES = {"store_id": "int64", "product_id": "int64", "regular_price": "float64", "current_price": "float64",
                "new_price": "float64", "markdown_pct": "float64", "valid_from": str, "valid_to": str, "reason": str,
                "expiry_date": str}  # fmt: skip


@dataclass
class PricePlan:
    changes: pd.DataFrame  # only labels whose price changes (CHANGE_COLUMNS)
    decisions: pd.DataFrame  # every line considered, with why
    date: int  # day number of the plan
    notes: list[str] = field(default_factory=list)
    start_hour: int = 0  # local hour from which the plan's prices hold (the evening hour for an evening run)


def plan_prices(
    forecast,
    products,
    on_hand,
    labels,
    date: str | None = None,
    evening_hour: int | None = None,
    response: str | Path | PriceResponse | None = None,
    hourly_forecast=None,
    ladder=LADDER,
    max_changes: int | None = None,
    timezone: str = "UTC",
    at_evening_hour: bool = False,
    evening_later: bool = False,
    min_gain: float = MIN_GAIN,
) -> PricePlan:
    """Markdowns for `date` (default: the forecast's first day, whose sales are still to come)
    of every store x product of the forecast. `evening_hour` allows a deeper evening step from
    that hour on a day when units expire; the share of the day's demand left then comes from
    `hourly_forecast` (`freshcast forecast --level hour`) or, without it, even demand over shop
    hours 06-22. Returns of ended markdowns are not capped by `max_changes`. Prices of the feed are valid from midnight (the evening step from its hour) in
    `timezone` (an IANA name like Europe/Berlin), written ISO-8601 with the offset.

    `at_evening_hour`: the plan is made at the evening hour of `date`, `on_hand` being the
    stock left then and `labels` what they show then: only the evening step of the lines
    whose units expire tonight is chosen, for the evening's share of the day's demand (the
    day's labels stay; a markdown whose batch is gone still ends). Deciding it then, from the
    stock the day has left, rather than in the morning's plan earns more (benchmarks/RESULTS.md,
    "Markdowns"). `evening_later` (the morning run of a store that runs the evening one): the
    day's price is planned for an evening step, but none is written, the evening run choosing it.
    A markdown shown off the ladder is kept as it is, never raised to the ladder's step.
    `min_gain`: a markdown expected to earn less than this share of one unit's regular price
    over keeping the label is not made (for a store whose label changes cost work)."""
    if (at_evening_hour or evening_later) and evening_hour is None:
        raise FreshcastError("the evening run needs the evening hour (--evening-hour)")
    if at_evening_hour and evening_later:
        raise FreshcastError("evening_later is for the morning run, at_evening_hour for the evening one: give one")
    whole = isinstance(evening_hour, (int, float, np.number)) and not isinstance(evening_hour, bool)
    if evening_hour is not None and not (whole and float(evening_hour).is_integer() and SHOP_OPEN < evening_hour < 24):
        raise FreshcastError(f"the evening hour must be a whole hour from {SHOP_OPEN + 1} to 23, got {evening_hour!r}")
    evening_hour = None if evening_hour is None else int(evening_hour)
    ladder = check_ladder(ladder)
    if max_changes is not None and (isinstance(max_changes, bool) or not isinstance(max_changes, (int, np.integer))
                                    or max_changes < 0):  # fmt: skip
        raise FreshcastError(f"max_changes must be a whole number of at least 0, got {max_changes!r}")
    if isinstance(min_gain, bool) or not isinstance(min_gain, (int, float, np.number)) or not 0 <= min_gain < 1:
        raise FreshcastError(f"min_gain must be a share of a unit's regular price from 0 up to 1, got {min_gain!r}")
    zone = time_zone(timezone)
    distribution = read_forecast(forecast, timezone)
    lines = distribution.lines()
    name = {k: source_of(v, k) for k, v in dict(forecast=forecast, products=products, inventory=on_hand,
                                                labels=labels).items()}  # fmt: skip
    raw_products = tables.read_frame(products)  # with the optional pricing columns the check drops
    products_table = tables.read_products(raw_products, source=name["products"])
    raw_products = _pricing_columns(raw_products, products_table, name["products"])
    stock = tables.read_on_hand(on_hand, name["inventory"], zone=timezone)
    current = read_labels(labels, name["labels"], zone=timezone)
    day0 = _order_day(distribution, date, name["forecast"], "price date")
    master, _ = master_for(lines, products_table, None, None, (name["products"], "terms"))
    E = int(master.shelf_life_days.max()) + 1
    full, _, stock_notes = stock_arrays(lines, day0, master, stock, None, E, (name["inventory"], "on order"))
    notes = master.notes + stock_notes
    held = whole = full[:, :E]
    far = full[:, E:].sum(axis=1) > 0  # stock expiring after the days the plan looks at
    elasticity, deepest, borrowed, about = _response(response, raw_products, lines, name["products"])
    notes.append(about)
    regular = master.regular_price
    by_batch = _by_batch(raw_products, lines, name["products"])
    oldest = day0 + oldest_expiry(held)
    rows, pos = unknown_lines(lines, current, name["labels"], notes)
    on_shelf = lambda at, offset: _held_expiring(whole[at], offset, far[at])  # noqa: E731
    shown, batch_expiry, gone = _current_labels(rows, pos, lines, regular, by_batch, oldest, name["labels"],
                                                on_shelf, day0, held.any(axis=1))  # fmt: skip
    if by_batch.any():  # the plan prices each such line's oldest batch, on its own label
        held = np.where(by_batch[:, None] & (np.arange(E)[None, :] != (oldest - day0)[:, None]), 0.0, held)
    above = shown > regular + 1e-9
    if above.any():
        notes.append(f"{int(above.sum())} label(s) show more than the regular price: set back to it")
    depth_shown = np.clip(1 - shown / np.where(regular > 0, regular, 1), 0, None)
    ended = (depth_shown > 1e-9) & (batch_expiry >= 0) & ~on_shelf(slice(None), batch_expiry - day0)
    floor = np.where(ended, 0.0, depth_shown)
    unknown = (depth_shown > 1e-9) & (batch_expiry < 0)
    if unknown.any():
        notes.append(f"{int(unknown.sum())} label(s) show a markdown without the expiry date of its batch: kept as a "
                     f"floor (give expiry_date, as freshcast's feed writes it, so that markdowns can end)")  # fmt: skip
    share = None
    if evening_hour is not None:
        share = _evening_share(hourly_forecast, lines, day0, evening_hour, notes, timezone)
    elif hourly_forecast is not None:
        notes.append("the hourly forecast was not read: it gives the evening step's share of the day, and there is "
                     "no evening step without an evening hour")  # fmt: skip
    quantiles = distribution.quantiles[:, day0 - int(distribution.first_day) :]
    if at_evening_hour:
        plan = _evening_plan(quantiles, distribution.levels, held, master, elasticity, deepest, floor, share, borrowed,
                             ladder, lines[STORE].to_numpy(), max_changes, min_gain)  # fmt: skip
    else:
        resumes = (floor > 0) & (batch_expiry > oldest)  # a deeper markdown adds the row that brings it back
        plan = plan_markdowns(quantiles, distribution.levels, held, master, elasticity, deepest, depth_in_force=floor,
                              evening_share=share, borrowed=borrowed, ladder=ladder, store=lines[STORE].to_numpy(),
                              max_changes=max_changes, day_changes=1 + resumes.astype(np.int64),
                              evening_changes=0 if evening_later else 1, min_gain=min_gain)  # fmt: skip
        _keep_off_ladder(plan, floor, regular)
        if evening_later:
            plan.evening_depth, plan.evening_price = np.full(len(lines), np.nan), np.full(len(lines), np.nan)
            plan.changed = np.abs(plan.depth - floor) > 1e-12
    decisions = _decisions(lines, day0, master, whole, shown, batch_expiry, floor, plan, ended, above, by_batch,
                           oldest)  # fmt: skip
    start = evening_hour if at_evening_hour else 0
    changes = _changes(decisions, day0, evening_hour, zone, start, gone)
    return PricePlan(changes, decisions, day0, notes, start)


def _evening_plan(quantiles, levels, held, master, elasticity, deepest, floor, share, borrowed, ladder, store,
                  max_changes, min_gain) -> MarkdownPlan:  # fmt: skip
    """The plan made at the evening hour: the day's depth stays `floor`; on the lines whose
    units expire tonight an evening step (deeper than it) for the evening's demand, the day's
    quantiles x `share`, and the days after."""
    n = len(held)
    regular = master.regular_price
    kept = _keep(held, floor, regular)
    rows = np.flatnonzero(held[:, 0] > 0)
    if len(rows) == 0:
        return kept
    q = np.array(quantiles[rows], np.float32)
    q[:, 0] *= share[rows, None].astype(np.float32)
    p = plan_markdowns(q, levels, held[rows], master.take(rows), elasticity[rows], deepest[rows],
                       depth_in_force=floor[rows], borrowed=borrowed, ladder=ladder, store=store[rows],
                       max_changes=max_changes, evening=True, min_gain=min_gain)  # fmt: skip
    deeper = p.depth > floor[rows] + 1e-12
    evening = np.full(n, np.nan)
    evening[rows[deeper]] = p.depth[deeper]
    for name in ("expected_waste", "expected_waste_kept", "expected_revenue", "expected_revenue_kept"):
        getattr(kept, name)[rows] = getattr(p, name)
    kept.evening_depth, kept.evening_price, kept.changed = evening, regular * (1 - evening), np.isfinite(evening)
    return kept


def _keep_off_ladder(plan: MarkdownPlan, floor: np.ndarray, regular: np.ndarray) -> None:
    """A markdown in force that lies between two steps of the ladder (the plan rounds it down
    to the shallower one) stays as it is where the plan keeps it: a markdown never rises."""
    kept = plan.depth < floor - 1e-12
    plan.depth = np.where(kept, floor, plan.depth)
    plan.price = np.where(kept, regular * (1 - floor), plan.price)
    plan.changed = plan.changed & ~(kept & ~np.isfinite(plan.evening_depth))


def _keep(held: np.ndarray, floor: np.ndarray, regular: np.ndarray) -> MarkdownPlan:
    """The plan that keeps the depth `floor` (expected waste and revenue not worked out: NaN)."""
    n = len(held)
    unknown = np.full(n, np.nan)
    return MarkdownPlan(depth=floor.copy(), evening_depth=unknown.copy(), price=regular * (1 - floor),
                        evening_price=unknown.copy(), units_expiring=held[:, 0].astype(np.float64),
                        expected_waste=unknown.copy(), expected_waste_kept=unknown.copy(),
                        expected_revenue=unknown.copy(), expected_revenue_kept=unknown.copy(),
                        changed=np.zeros(n, bool))  # fmt: skip


def _response(response, products: pd.DataFrame, lines: pd.DataFrame, source: str):
    """(elasticity, deepest depth) per line, the response to yesterday's price, and a note."""
    if response is None and {"elasticity", "deepest_discount"} <= set(products.columns):
        by_product = products.set_index(PRODUCT)[["elasticity", "deepest_discount"]]
        values = by_product.reindex(lines[PRODUCT]).to_numpy(np.float64)
        if not np.isfinite(values).all() or (values[:, 0] > 0).any() or ((values[:, 1] < 0) | (values[:, 1] >= 1)).any():
            raise DataError(source, ["columns 'elasticity' (<= 0) and 'deepest_discount' (0 .. <1) must be filled "
                                     "for every product of the forecast"])  # fmt: skip
        return values[:, 0], values[:, 1], 0.0, "price response: the products table's elasticity and deepest_discount"
    if isinstance(response, PriceResponse):
        fitted, about = response, "price response: as given"
    elif response is not None:
        fitted, about = PriceResponse.load(response), f"price response: {response}"
    else:
        fitted = PriceResponse.load(sample_path().parent / "price_response")
        about = ("ASSUMED price response: FreshRetailNet-50K's (freshcast price-response on its 90 days), by "
                 "first_category_id where the products table has it; estimate your own with freshcast price-response")
    if CATEGORY in products.columns:
        category = products.set_index(PRODUCT)[CATEGORY].reindex(lines[PRODUCT]).to_numpy()
        deepest = fitted.deepest(category)
    else:  # the pooled response, no deeper than most estimated categories' data reached
        category = np.full(len(lines), -1)
        own = fitted.table_.loc[fitted.table_["estimated"].astype(bool), "deepest_discount"]
        deepest = np.full(len(lines), float(np.median(own)) if len(own) else fitted.deepest_pooled_)
        about += (" (no first_category_id in products: the pooled response, no deeper than the median "
                  "category with its own estimate)")
    borrowed = fitted.neighbours_.get("log_price_yesterday", {"coef": 0.0})["coef"]
    return fitted.elasticity(category), deepest, max(borrowed, 0.0), about


def read_labels(path, source: str | None = None, zone: str | None = None) -> pd.DataFrame:
    """What each label shows now (LABELS; `expiry_date` as day numbers, NOT_A_DAY where
    empty, aware timestamps dated in `zone`): one row per store x product, or, for a product
    priced by batch, one per batch (store x product x expiry date); a table without rows is
    refused (it would set every label back to the regular price)."""
    return tables.read_table(path, LABELS, LABELS_OPTIONAL, keys=(STORE, PRODUCT, "expiry_date"), source=source,
                             zone=zone, empty="list every label with the price it shows")  # fmt: skip


def _current_labels(current: pd.DataFrame, pos: np.ndarray, lines: pd.DataFrame, regular: np.ndarray,
                    by_batch: np.ndarray, oldest: np.ndarray, source: str, on_shelf, day0: int,
                    stocked: np.ndarray):  # fmt: skip
    """(price shown, expiry day of the batch its markdown is for or -1) per line, and the
    labels of batches gone (a frame), from the labels of forecast lines and their line
    positions (`unknown_lines`). A line without a label shows the regular price. A line priced
    by batch shows its oldest batch's label (or its label without a date, or the regular
    price); the labels of its batches gone end (`on_shelf(lines, offsets)`: whether units of
    each line expire that many days after day0; `stocked`: whether a line holds stock within
    the plan's days)."""
    n = len(lines)
    expiry = np.full(len(current), -1, np.int64)
    if "expiry_date" in current:
        e = current["expiry_date"].to_numpy()
        expiry = np.where(e == tables.NOT_A_DAY, -1, e)
    price = current["price"].to_numpy(np.float64)
    batch = by_batch[pos]
    several = np.bincount(pos[~batch], minlength=n) > 1
    if several.any():
        i = int(np.flatnonzero(several[pos] & ~batch)[0])
        raise DataError(source, [f"store_id={lines[STORE].iat[pos[i]]}, product_id={lines[PRODUCT].iat[pos[i]]} has "
                                 f"{int(np.bincount(pos[~batch])[pos[i]])} labels: one per store x product unless the "
                                 f"products table's price_by_batch prices each batch on its own"])  # fmt: skip
    shown, shown_expiry = regular.copy(), np.full(n, -1, np.int64)
    undated = ~batch | (expiry < 0)  # a line's one label, or a batch line's label without a date
    shown[pos[undated]], shown_expiry[pos[undated]] = price[undated], expiry[undated]
    own = batch & (expiry == oldest[pos]) & stocked[pos]  # the oldest batch's own label
    shown[pos[own]], shown_expiry[pos[own]] = price[own], expiry[own]
    gone = batch & (expiry >= 0) & (price < regular[pos] - 1e-9) & ~on_shelf(pos, expiry - day0)
    at = pos[gone]
    ended = pd.DataFrame({STORE: lines[STORE].to_numpy()[at], PRODUCT: lines[PRODUCT].to_numpy()[at],
                          "regular_price": regular[at], "current_price": price[gone],
                          "expiry": expiry[gone]})  # fmt: skip
    return shown, shown_expiry, ended


def _pricing_columns(raw: pd.DataFrame, products: pd.DataFrame, source: str) -> pd.DataFrame:
    """The products table's optional pricing columns (`first_category_id`, `elasticity`,
    `deepest_discount`, `price_by_batch`, checked where they are used) keyed by the checked
    product ids of `products` (`read_products` of `raw`, row for row): ids written as text or
    floats find their lines; a category that is not a number is refused (empty: the pooled
    response)."""
    out = raw.reset_index(drop=True).assign(**{PRODUCT: products[PRODUCT].to_numpy()})
    if CATEGORY in out.columns:
        category = pd.to_numeric(out[CATEGORY], errors="coerce")
        bad = out[CATEGORY].notna() & (category.isna() | (category < 0) | (category != category.round()))
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            value = out[CATEGORY].iat[i]
            shown = repr(value) if isinstance(value, str) else value
            raise DataError(source, [f"column '{CATEGORY}' is not an id (a whole number >= 0): {int(bad.sum())} "
                                     f"row(s) (first: product_id={out[PRODUCT].iat[i]}, {CATEGORY}={shown})"])
        out[CATEGORY] = category
    return out


def _by_batch(products: pd.DataFrame, lines: pd.DataFrame, source: str) -> np.ndarray:
    """Whether each line's product is priced by batch (products column `price_by_batch`, 1 or
    0, true or false; absent: no line is)."""
    if "price_by_batch" not in products.columns:
        return np.zeros(len(lines), bool)
    flag = products.set_index(PRODUCT)["price_by_batch"].reindex(lines[PRODUCT]).to_numpy()
    text = pd.Series(flag, dtype=object).map(lambda v: str(v).strip().lower())
    ok = text.isin(["1", "0", "1.0", "0.0", "true", "false"]).to_numpy()
    if not ok.all():
        i = int(np.argmin(ok))
        raise DataError(source, [f"column 'price_by_batch' must be 1 or 0 (true or false) for every product of the "
                                 f"forecast, got {flag[i]!r} for product_id={lines[PRODUCT].iat[i]}"])  # fmt: skip
    return text.isin(["1", "1.0", "true"]).to_numpy()


def _held_expiring(held: np.ndarray, offset: np.ndarray, far: np.ndarray) -> np.ndarray:
    """Whether each line holds units expiring `offset` days from the plan's day (`far`: it
    holds some that expire after the days `held` covers, which a later offset is taken for)."""
    ok = (offset >= 0) & (offset < held.shape[1])
    out = (offset >= held.shape[1]) & far
    rows = np.flatnonzero(ok)
    out[rows] = held[rows, offset[rows]] > 0
    return out


def _evening_share(hourly, lines: pd.DataFrame, day0: int, hour: int, notes: list[str], zone: str) -> np.ndarray:
    """Share of the plan day's demand after `hour`, per line (time-zone aware days dated in
    `zone`); lines without hours that day: even demand over shop hours, with a note."""
    even = max(SHOP_CLOSE - hour, 0) / (SHOP_CLOSE - SHOP_OPEN)
    if hourly is None:
        notes.append(f"no hourly forecast: demand ASSUMED even over shop hours {SHOP_OPEN:02d}-{SHOP_CLOSE:02d} "
                     f"for the evening step")  # fmt: skip
        return np.full(len(lines), even)
    source = source_of(hourly, "hourly forecast")
    df = read_hour_table(hourly, source, zone, ["yhat"])
    today = df[df["dt"] == day0]
    after = today["hour"].to_numpy() >= hour
    shop = after & (today["hour"].to_numpy() < SHOP_CLOSE)  # the shop hours from the evening hour on
    late = today["yhat"].where(after, 0.0)
    sums = today.assign(late=late, shop=shop).groupby([STORE, PRODUCT]).agg(
        late=("late", "sum"), yhat=("yhat", "sum"), shop=("shop", "sum"))
    sums = sums.reindex(pd.MultiIndex.from_frame(lines))
    found = sums["yhat"].notna().to_numpy()
    if not found.any():
        raise DataError(source, [f"holds no hour of {day_to_date(day0)} of the forecast's store x product lines: "
                                 f"write it with freshcast forecast --level hour from the same history"])  # fmt: skip
    if not found.all():
        notes.append(f"{int((~found).sum())} line(s) without hours of {day_to_date(day0)} in the hourly forecast: "
                     f"demand ASSUMED even over shop hours {SHOP_OPEN:02d}-{SHOP_CLOSE:02d} for their evening step")
    unlisted = found & (sums["shop"].to_numpy() < max(SHOP_CLOSE - hour, 0))  # NaN where not found: False
    if unlisted.any():
        notes.append(f"{int(unlisted.sum())} line(s) lack some of the shop hours {hour:02d}-{SHOP_CLOSE:02d} of "
                     f"{day_to_date(day0)} in the hourly forecast: a missing hour is taken as no demand (none of "
                     f"them, no evening step)")  # fmt: skip
    total = sums["yhat"].to_numpy()
    return np.where(~found, even, np.where(total > 0, sums["late"].to_numpy() / np.where(total > 0, total, 1), 0.0))


def _decisions(lines, day0, master, held, shown, shown_expiry, floor, plan, ended, above, by_batch,
               oldest) -> pd.DataFrame:  # fmt: skip
    """One row per line: the stock, the price shown (and the expiry of the batch its markdown
    is for, if known) and chosen, the expected waste and revenue with and without the change,
    and the reason; `oldest` the day its oldest units expire (the batch a markdown is for)."""
    reason = np.full(len(lines), "", object)
    has_evening = np.isfinite(plan.evening_depth)
    for i in range(len(lines)):
        if plan.changed[i] or ended[i]:
            parts = [f"{plan.units_expiring[i]:.2f} unit(s) expire tonight" if plan.units_expiring[i] > 0 else
                     "stock at risk of expiring"]  # fmt: skip
            if ended[i] and plan.depth[i] == 0 and not has_evening[i]:
                parts = ["markdown ended: its batch is gone"]
            else:
                parts.append(f"expected waste {plan.expected_waste_kept[i]:.2f} -> {plan.expected_waste[i]:.2f} units, "
                             f"expected revenue {plan.gain[i]:+.2f}")  # fmt: skip
            reason[i] = "; ".join(parts)
        elif above[i]:
            reason[i] = "the label showed more than the regular price"
        elif held[i].sum() <= 0:
            reason[i] = "no stock on hand"
        elif floor[i] > 0:
            reason[i] = "markdown in force kept"
        else:
            reason[i] = "no markdown pays"
    return pd.DataFrame({
        STORE: lines[STORE].to_numpy(), PRODUCT: lines[PRODUCT].to_numpy(),
        "date": day_to_date(np.full(len(lines), day0)).astype("datetime64[s]"),
        "on_hand": held.sum(axis=1), "units_expiring": plan.units_expiring,
        "regular_price": master.regular_price, "unit_cost": master.unit_cost, "current_price": shown,
        "current_expiry_date": np.where(shown_expiry >= 0, day_to_date(np.maximum(shown_expiry, 0)),
                                        np.datetime64("NaT")).astype("datetime64[s]"),
        "markdown_ended": ended, "price_by_batch": by_batch,
        "new_price": np.round(plan.price, 4), "markdown_pct": np.round(plan.depth * 100, 2),
        "evening_price": np.round(plan.evening_price, 4), "evening_markdown_pct": np.round(plan.evening_depth * 100, 2),
        "expected_waste": plan.expected_waste, "expected_waste_without": plan.expected_waste_kept,
        "expected_revenue": plan.expected_revenue, "expected_revenue_without": plan.expected_revenue_kept,
        "changes_label": plan.changed | ended | above, "reason": reason,
        "batch_expiry": day_to_date(oldest).astype("datetime64[s]"),
    })  # fmt: skip


def _changes(decisions: pd.DataFrame, day0: int, evening_hour: int | None, zone: ZoneInfo,
             from_hour: int = 0, gone: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """The label changes: the day's price (valid from `from_hour` until the end of the
    batch's expiry day, or open-ended for a return to the regular price) and the evening step
    (from its hour to midnight), only where the price shown changes. A markdown whose batch is
    gone but which the plan keeps, at the same price, for the next batch is written again with
    that batch's validity (the label's would end with the old batch); a markdown in force for a
    later batch that a deeper one for an earlier batch replaces resumes when that one ends."""
    today = pd.Timestamp(day_to_date(day0)).date()
    date = datetime.combine(today, time(0), tzinfo=zone)
    start_day = datetime.combine(today, time(from_hour), tzinfo=zone)
    rows = []
    for r in decisions.itertuples(index=False):
        expiry = pd.Timestamp(r.batch_expiry).date()
        until = datetime.combine(expiry + timedelta(days=1), time(0), tzinfo=zone)
        markdown = r.new_price < r.regular_price - 1e-9
        moves = abs(r.new_price - r.current_price) > PRICE_STEP / 2
        named = markdown or r.price_by_batch  # a batch's own label is named by its expiry date, also at full price
        if moves or (markdown and r.markdown_ended):
            rows.append((r.store_id, r.product_id, r.regular_price, r.current_price, r.new_price, r.markdown_pct,
                         start_day, until if markdown else None, r.reason, expiry if named else None,
                         r.price_by_batch))  # fmt: skip
        later = pd.Timestamp(r.current_expiry_date).date() if not pd.isna(r.current_expiry_date) else None
        if (markdown and moves and r.new_price < r.current_price and r.current_price < r.regular_price - 1e-9
                and not r.markdown_ended and later is not None and later > expiry):
            rows.append((r.store_id, r.product_id, r.regular_price, r.new_price, r.current_price,
                         round((1 - r.current_price / r.regular_price) * 100, 2), until,
                         datetime.combine(later + timedelta(days=1), time(0), tzinfo=zone),
                         f"the markdown in force for the batch expiring {later} resumes", later,
                         r.price_by_batch))  # fmt: skip
        if np.isfinite(r.evening_price):
            start = datetime.combine(today, time(evening_hour), tzinfo=zone)
            rows.append((r.store_id, r.product_id, r.regular_price, r.new_price, r.evening_price,
                         r.evening_markdown_pct, start, date + timedelta(days=1), "evening: " + r.reason,
                         today, r.price_by_batch))  # fmt: skip
    for r in () if gone is None else gone.itertuples(index=False):  # a batch label whose batch is gone
        expiry = day_to_date(int(r.expiry)).item()
        rows.append((r.store_id, r.product_id, r.regular_price, r.current_price, r.regular_price, 0.0, start_day, None,
                     "markdown ended: its batch is gone (priced by batch)", expiry, True))  # fmt: skip
    batch = [r[10] for r in rows]
    rows = [r[:5] + (r[5], r[6].isoformat(), r[7].isoformat() if r[7] else "", r[8], str(r[9]) if r[9] else "")
            for r in rows]  # fmt: skip
    df = pd.DataFrame(rows, columns=CHANGE_COLUMNS[1:]).astype(CHANGE_TYPES)  # the same types without rows
    ids = [change_id(*v, batch=e if b else "") for v, e, b in
           zip(zip(df.store_id, df.product_id, df.new_price, df.valid_from, df.valid_to), df.expiry_date, batch)]
    df.insert(0, "change_id", pd.Series(ids, dtype=object))
    return df.sort_values(["store_id", "product_id", "valid_from"], kind="stable").reset_index(drop=True)


def check_ladder(ladder) -> np.ndarray:
    """The markdown depths (shares of the regular price, rising from 0 to below 1) as an
    array; FreshcastError otherwise."""
    try:
        depths = np.asarray(ladder, np.float64).ravel()
    except (TypeError, ValueError):
        depths = np.array([np.nan])
    if not (len(depths) and np.isfinite(depths).all() and depths[0] == 0 and (np.diff(depths) > 0).all()
            and depths[-1] < 1):  # fmt: skip
        raise FreshcastError(f"the ladder must rise from 0 (no markdown) to depths below 1 (shares of the regular "
                             f"price, e.g. 0, 0.1, 0.2), got {list(np.atleast_1d(ladder))}")  # fmt: skip
    return depths


def change_id(store_id, product_id, price, valid_from: str, valid_to: str, batch: str = "") -> str:
    """Stable id of a label change: the same store, product, price and validity (and, for a
    batch's own label, the batch's expiry date) give the same id."""
    text = f"{int(store_id)}|{int(product_id)}|{float(price):.4f}|{valid_from}|{valid_to}"
    text += f"|{batch}" if batch else ""
    return "PC-" + hashlib.sha256(text.encode()).hexdigest()[:16]
