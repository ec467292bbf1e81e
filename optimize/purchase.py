"""Purchase orders from a forecast: the optimizer's order for every store x product that can
order on the order date, grouped into one purchase order per store, supplier and delivery
date, with the reasons for every line."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.contract import DAY, PRODUCT, STORE
from ..data.dates import day_number, day_to_date, time_zone
from ..data import tables
from ..data.read import read_frame, source_of
from ..errors import DataError, FreshcastError
from ..forecast.distribution import ForecastDistribution
from ..data.tables import EVERY_DAY
from .master import MasterData
from .orders import days_needed, optimal_orders


@dataclass
class PurchaseOrders:
    headers: pd.DataFrame  # one row per purchase order
    lines: pd.DataFrame  # one row per ordered product
    decisions: pd.DataFrame  # every line that could order, ordered or not, with why
    notes: list[str] = field(default_factory=list)


def read_forecast(path: str | Path | pd.DataFrame, zone: str = "UTC") -> ForecastDistribution:
    """The daily forecast (`freshcast forecast` output, a path or a DataFrame) with two or
    more quantile levels, as orders need them; its days read by `data.dates.calendar_days` in
    `zone`, the stores' time zone."""
    source = source_of(path, "forecast")
    df = read_frame(path, (DAY,))
    forecast = ForecastDistribution.from_frame(df, source, zone)
    if len(forecast.levels) < 2:
        raise DataError(source, ["needs two or more quantile columns (q10, q50, q90 ...): forecast with --quantiles"])
    return forecast


def master_for(lines: pd.DataFrame, products: pd.DataFrame, terms: pd.DataFrame | None,
               capacity: pd.DataFrame | None,
               names: tuple[str, str] = ("products", "terms")) -> tuple[MasterData, list[str]]:  # fmt: skip
    """Master data aligned to `lines` from validated tables (see `data.tables`); `names`
    name the products and terms tables in errors."""
    notes = []
    merged = lines.merge(products, on=PRODUCT, how="left", validate="many_to_one")
    missing = merged["shelf_life_days"].isna()
    if missing.any():
        absent = merged.loc[missing, PRODUCT]
        raise DataError(names[0], [f"{absent.nunique()} product(s) of the forecast are not in the products "
                                     f"table, e.g. product_id={absent.iat[0]}"])  # fmt: skip
    losing = (merged["unit_cost"] > merged["regular_price"]).to_numpy()
    if losing.any():
        notes.append(f"{names[0]}: {merged.loc[losing, PRODUCT].nunique()} product(s) of the forecast cost more than "
                     f"their regular price (unit_cost above regular_price, e.g. product_id="
                     f"{merged[PRODUCT].iat[int(np.argmax(losing))]}): every unit sold at that price loses money; "
                     f"check the table")  # fmt: skip
    if terms is None:  # (plan_orders says so; prices need no terms)
        merged["lead_time_days"], merged["order_weekdays"], merged["order_cutoff"] = 1, EVERY_DAY, ""
    else:
        merged = merged.merge(terms, on=[STORE, "supplier_id"], how="left", validate="many_to_one")
        missing = merged["lead_time_days"].isna()
        if missing.any():
            i = int(np.argmax(missing.to_numpy()))
            raise DataError(names[1], [f"{int(missing.sum())} line(s) have no terms for their store and supplier, "
                                      f"e.g. store_id={merged[STORE].iat[i]}, "
                                      f"supplier_id={merged['supplier_id'].iat[i]}"])  # fmt: skip
        if "order_cutoff" not in merged:
            merged["order_cutoff"] = ""
    if capacity is not None:
        merged = merged.merge(capacity, on=[STORE, PRODUCT], how="left", validate="one_to_one")
    cap = merged["capacity_units"].fillna(np.inf).to_numpy() if capacity is not None else np.full(len(lines), np.inf)
    master = MasterData(
        shelf_life_days=merged["shelf_life_days"].to_numpy(np.int64),
        case_pack=merged["case_pack"].to_numpy(np.float64),
        min_order_qty=merged["min_order_qty"].to_numpy(np.float64),
        unit_cost=merged["unit_cost"].to_numpy(np.float64),
        regular_price=merged["regular_price"].to_numpy(np.float64),
        salvage_value=merged["salvage_value"].to_numpy(np.float64),
        holding_cost=merged["holding_cost"].to_numpy(np.float64),
        supplier_id=merged["supplier_id"].to_numpy(np.int64),
        lead_time_days=merged["lead_time_days"].to_numpy(np.int64),
        order_weekdays=merged["order_weekdays"].to_numpy(np.int64),
        capacity=cap,
        notes=notes,
    )
    return master, merged["order_cutoff"].astype(str).tolist()


def stock_arrays(lines: pd.DataFrame, order_day: int, master: MasterData, on_hand: pd.DataFrame | None,
                 on_order: pd.DataFrame | None, n_days: int,
                 names: tuple[str, str] = ("inventory", "on order")) -> tuple[np.ndarray, np.ndarray, list[str]]:  # fmt: skip
    """on_hand (n, B) by days to expiry and on_order (n, A) by days to arrival, counted in
    days from the order date (a day number; the tables' dates are day numbers too). Stock
    that expires, and orders that arrive, `n_days` or more days out (past every day a
    decision looks at) are counted on day `n_days`: the orders are the same, the arrays small.
    Rows for lines without a forecast are left out, with a note; so are rows repeating the
    store, product and date of an earlier row, which are added to it (two batches alike, or
    an export that wrote a row twice); `names` name the two tables in notes and errors."""
    notes = []
    n = len(lines)

    def locate(df: pd.DataFrame, name: str, date: str) -> tuple[pd.DataFrame, np.ndarray]:
        repeated = df.duplicated([STORE, PRODUCT, date]).to_numpy()
        if repeated.any():
            notes.append(f"{name}: {int(repeated.sum())} row(s) repeat the store_id, product_id and {date} of an "
                         f"earlier row and are added to it ({first_row(df, repeated)})")  # fmt: skip
        return unknown_lines(lines, df, name, notes)

    held = np.zeros((n, int(master.shelf_life_days.max()) + 1))
    on_hand, pos = locate(on_hand, names[0], "expiry_date") if on_hand is not None else (on_hand, None)
    if on_hand is not None and len(on_hand):
        ahead = on_hand["expiry_date"].to_numpy(np.int64) - order_day
        late = ahead > master.shelf_life_days[pos]
        if late.any():
            notes.append(f"{names[0]}: {int(late.sum())} row(s) expire more than the product's shelf_life_days after "
                         f"the order date ({first_row(on_hand, late)}): counted as dated; check the dates or the "
                         f"shelf lives")  # fmt: skip
        e = np.minimum(ahead, n_days)
        expired = e < 0
        if on_hand["on_hand"].to_numpy()[expired].sum() > 0:
            notes.append(f"{on_hand['on_hand'].to_numpy()[expired].sum():g} unit(s) on hand are past their expiry "
                         f"date and not counted")  # fmt: skip
        held = np.zeros((n, max(int(e.max()) + 1, held.shape[1])))
        np.add.at(held, (pos[~expired], e[~expired]), on_hand["on_hand"].to_numpy()[~expired])
    due = np.zeros((n, int(master.lead_time_days.max()) + 1))
    on_order, pos = locate(on_order, names[1], "arrival_date") if on_order is not None else (on_order, None)
    if on_order is not None and len(on_order):
        a = np.minimum(on_order["arrival_date"].to_numpy(np.int64) - order_day, n_days)
        if (a < 0).any():
            raise DataError(names[1], [f"column 'arrival_date' is before the order date {day_to_date(order_day)} "
                                       f"in {int((a < 0).sum())} row(s) ({first_row(on_order, a < 0)}): record what "
                                       f"has arrived as on hand"])  # fmt: skip
        due = np.zeros((n, max(int(a.max()) + 1, due.shape[1])))
        np.add.at(due, (pos, a), on_order["on_order"].to_numpy())
    return held, due, notes


def first_row(df: pd.DataFrame, rows: np.ndarray) -> str:
    """'first row K: store_id=.., product_id=..' of the first marked row of a table read by
    `data.tables` (K its row in the table, also after rows were taken out of `df`)."""
    i = int(np.argmax(rows))
    return f"first row {df.index[i] + 1}: store_id={df[STORE].iat[i]}, product_id={df[PRODUCT].iat[i]}"


def unknown_lines(lines: pd.DataFrame, df: pd.DataFrame, name: str, notes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of table `df` (`name`) for store x product `lines`, and their line positions;
    a note counts the rows for lines without a forecast, which are left out."""
    pos = pd.MultiIndex.from_frame(lines).get_indexer(pd.MultiIndex.from_frame(df[[STORE, PRODUCT]]))
    unknown = pos < 0
    if unknown.any():
        notes.append(f"{name}: {int(unknown.sum())} row(s) for store x product lines without a forecast are "
                     f"not used ({first_row(df, unknown)})")  # fmt: skip
    return df[~unknown], pos[~unknown]


def check_budget(budget: float | None) -> float | None:
    """`budget` (a store's most spend on the order date) if it is None or a finite amount of at
    least 0; FreshcastError otherwise."""
    number = isinstance(budget, (int, float, np.number)) and not isinstance(budget, bool)
    if budget is not None and not (number and np.isfinite(budget) and budget >= 0):
        raise FreshcastError(f"the budget must be a finite amount of at least 0, got {budget}")
    return budget


def plan_orders(
    forecast,
    products,
    terms=None,
    capacity=None,
    on_hand=None,
    on_order=None,
    order_date: str | None = None,
    budget: float | None = None,
    seed: int = 0,
    timezone: str = "UTC",
) -> PurchaseOrders:
    """Orders to place on `order_date` (default: the forecast's first day, whose sales are
    still to come) for every store x product of the forecast that orders that weekday.
    Tables are paths (Parquet or CSV) or DataFrames with the columns of `data.tables`;
    all but products are optional. `budget` caps each store's spend on the order date.
    `timezone` (the stores', an IANA name): time-zone aware expiry and arrival timestamps are
    dated there, as `plan_prices` dates them (the forecast's days too)."""
    time_zone(timezone)
    distribution = read_forecast(forecast, timezone)
    lines = distribution.lines()
    name = {k: source_of(v, k) for k, v in dict(forecast=forecast, products=products, terms=terms, capacity=capacity,
                                                inventory=on_hand, on_order=on_order).items()}  # fmt: skip
    check_budget(budget)
    products = tables.read_products(products, name["products"])
    terms = None if terms is None else tables.read_terms(terms, name["terms"])
    capacity = None if capacity is None else tables.read_capacity(capacity, name["capacity"])
    on_hand = None if on_hand is None else tables.read_on_hand(on_hand, name["inventory"], zone=timezone)
    on_order = None if on_order is None else tables.read_on_order(on_order, name["on_order"], zone=timezone)
    day0 = _order_day(distribution, order_date, name["forecast"])
    quantiles = distribution.quantiles[:, day0 - int(distribution.first_day) :]
    master, cutoff = master_for(lines, products, terms, capacity, (name["products"], name["terms"]))
    review = master.review_days(day0)
    held, due, stock_notes = stock_arrays(lines, day0, master, on_hand, on_order, days_needed(master, review),
                                          (name["inventory"], name["on_order"]))  # fmt: skip
    notes = master.notes + (["no supplier terms given: lead time 1 day, orders every day"] if terms is None else [])
    notes += stock_notes
    if on_hand is not None:  # an inventory export that left out lines would order them as if out of stock
        absent = ~pd.MultiIndex.from_frame(lines).isin(pd.MultiIndex.from_frame(on_hand[[STORE, PRODUCT]]))
        if absent.any():
            notes.append(f"{int(absent.sum())} of {len(lines)} store x product line(s) of the forecast have no "
                         f"inventory row and are planned with nothing on hand (e.g. store_id="
                         f"{lines[STORE].to_numpy()[absent][0]}, product_id={lines[PRODUCT].to_numpy()[absent][0]}); "
                         f"list lines with nothing in stock with on_hand 0")  # fmt: skip
    if quantiles.shape[1] < days_needed(master, review):
        repeat = "of the same weekday in its last week" if quantiles.shape[1] >= 7 else "of its last day"
        notes.append(f"the forecast covers {quantiles.shape[1]} day(s) from the order date, fewer than the "
                     f"{int(days_needed(master, review))} the orders look at: later days repeat its forecast {repeat} "
                     f"(forecast more days for them)")  # fmt: skip
    can_order = master.orders_on(day0)
    if not can_order.any():
        notes.append(f"no line can order on {day_to_date(day0)} ({pd.Timestamp(day_to_date(day0)).day_name()}): "
                     f"no supplier's order_weekdays include it")  # fmt: skip
    group = np.unique(lines[STORE].to_numpy(), return_inverse=True)[1] if budget is not None else None
    out = optimal_orders(
        quantiles, distribution.levels, held, due, master, review, can_order, seed=seed,
        budget_group=group, budget=None if budget is None else np.full(group.max() + 1, float(budget)),
    )  # fmt: skip
    decisions = _decisions(lines, day0, master, out, held, due, cutoff)
    headers, po_lines = group_purchase_orders(decisions)
    return PurchaseOrders(headers, po_lines, decisions.drop(columns=["order_cutoff"]), notes)


def _order_day(distribution: ForecastDistribution, order_date, source: str, what: str = "order date") -> int:
    """The order date (or the plan's date, `what`) as a day number (default: the forecast's
    first day), one of the forecast's days."""
    days = distribution.days
    try:
        day0 = int(days[0]) if order_date is None else day_number(order_date)
    except ValueError as exc:
        raise FreshcastError(f"{what}: {exc}") from None
    if not days[0] <= day0 <= days[-1]:
        raise DataError(source, [f"the {what} {day_to_date(day0)} is not among the forecast days "
                                 f"{day_to_date(days[0])} .. {day_to_date(days[-1])}"])  # fmt: skip
    return day0


def _decisions(lines: pd.DataFrame, day0: int, master: MasterData, out, held: np.ndarray, due: np.ndarray,
               cutoff: list[str]) -> pd.DataFrame:  # fmt: skip
    """One row per line that can order on `day0`: the order (0 or more), the stock it was
    decided on and the optimizer's expectations, with the line's purchase-order id."""
    lead = master.lead_time_days
    decisions = pd.DataFrame(
        {
            STORE: lines[STORE].to_numpy(),
            PRODUCT: lines[PRODUCT].to_numpy(),
            "supplier_id": master.supplier_id,
            "order_date": day_to_date(np.full(len(lines), day0)),
            "delivery_date": day_to_date(day0 + lead),
            "order_qty": np.round(out.order_qty, 6),
            "cases": np.round(out.order_qty / master.case_pack).astype(np.int64),
            "case_pack": master.case_pack,
            "unit_cost": master.unit_cost,
            "amount": np.round(out.order_qty * master.unit_cost, 4),
            "on_hand": held.sum(axis=1),
            "on_order": np.where(np.arange(due.shape[1])[None, :] <= lead[:, None], due, 0.0).sum(axis=1),
            "usable_at_delivery": out.usable_at_delivery,
            "target_stock": out.target_stock,
            "expected_waste": out.expected_waste,
            "expected_fill_rate": out.expected_fill_rate,
            "order_cutoff": cutoff,
        }
    )[master.orders_on(day0)].reset_index(drop=True)
    decisions["order_date"] = decisions["order_date"].astype("datetime64[s]")
    decisions["delivery_date"] = decisions["delivery_date"].astype("datetime64[s]")
    decisions.insert(0, "po_id", pd.Series([
        po_id(s, p, o, d) if q > 0 else "" for s, p, o, d, q in
        zip(decisions[STORE], decisions["supplier_id"], decisions["order_date"], decisions["delivery_date"],
            decisions["order_qty"])
    ], index=decisions.index, dtype=object))  # text also on a day no line can order
    return decisions


def group_purchase_orders(decisions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(headers, lines): one purchase order per store, supplier and delivery date, of the
    lines that order something."""
    ordered = decisions[decisions["order_qty"] > 0].sort_values(["po_id", PRODUCT]).reset_index(drop=True)
    headers = (
        ordered.groupby("po_id", sort=True)
        .agg(
            supplier_id=("supplier_id", "first"),
            store_id=(STORE, "first"),
            order_date=("order_date", "first"),
            delivery_date=("delivery_date", "first"),
            order_cutoff=("order_cutoff", "first"),
            line_count=(PRODUCT, "size"),
            total_cost=("amount", "sum"),
        )
        .reset_index()
    )
    headers["total_cost"] = headers["total_cost"].round(4)
    lines = ordered.drop(columns=[STORE, "supplier_id", "order_date", "delivery_date", "order_cutoff"])
    return headers, lines


def po_id(store_id, supplier_id, order_date, delivery_date) -> str:
    """Stable purchase order number: the same store, supplier and dates give the same id,
    `PO-<order date>-<store>-<supplier>-<delivery date>`, or where that is longer than the 35
    characters of an EDIFACT document number (long ids), `PO-<order date>-<16 hex digits of it>`."""
    o, d = (pd.Timestamp(x).strftime("%Y%m%d") for x in (order_date, delivery_date))
    text = f"PO-{o}-{store_id}-{supplier_id}-{d}"
    return text if len(text) <= 35 else f"PO-{o}-{hashlib.sha256(text.encode()).hexdigest()[:16].upper()}"
