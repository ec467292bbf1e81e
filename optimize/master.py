"""Master data of every store x product line: shelf life, case pack, costs, supplier terms.

The FreshRetailNet data has no prices, costs, shelf lives, lead times or stock levels.
`assume_master_data` states a deterministic set of assumptions for it (every output built on
them says so); `master_data_from_tables` takes the real tables of a retailer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ..data.contract import PRODUCT, STORE
from ..data.panel import DailyPanel
from ..data.tables import EVERY_DAY, WEEKDAYS
from ..errors import DataError


# The assumptions, keyed by the product's first-level category id (ids only in the data).
ASSUMED_SHELF_LIVES = (1, 2, 3, 5, 7)  # days, by first_category_id % 5
ASSUMED_MARGINS = (0.30, 0.40, 0.50)  # gross margin on the regular price, by first_category_id % 3
ASSUMED_CASE_PACKS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)  # units; the data's sales step is 0.1
ASSUMED_HOLDING_RATE = 0.01  # holding cost per unit and night, as a share of unit cost
ASSUMPTIONS = (
    "ASSUMED master data (FreshRetailNet has none): regular price 1.0 per (normalised) unit; "
    "gross margin 30/40/50% by first_category_id % 3; shelf life 1/2/3/5/7 days by "
    "first_category_id % 5; case pack = half of the product's median daily sales per store "
    "(history), rounded to 0.1/0.2/0.5/1/2/5 units; minimum order one case; unsold units are "
    "thrown away (salvage 0); holding 1% of unit cost per night; one supplier per "
    "first_category_id; lead time 1 day; orders every day for shelf lives up to 3 days, "
    "Mon/Wed/Fri otherwise; no capacity limit."
)


@dataclass
class MasterData:
    """Per-line arrays aligned to a panel's series (one entry per store x product)."""

    shelf_life_days: np.ndarray  # int64, days a unit can be sold, arrival day included
    case_pack: np.ndarray  # units per case
    min_order_qty: np.ndarray  # units; an order is 0 or at least this
    unit_cost: np.ndarray  # money per unit paid to the supplier
    regular_price: np.ndarray  # money per unit sold
    salvage_value: np.ndarray  # money per unit thrown away (0 = nothing back)
    holding_cost: np.ndarray  # money per unit held overnight
    supplier_id: np.ndarray  # int64
    lead_time_days: np.ndarray  # int64, days from order to delivery (>= 1)
    order_weekdays: np.ndarray  # int64 bit mask, bit 0 = Monday
    capacity: np.ndarray  # units the store can hold after a delivery (inf = no limit)
    assumed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def lost_margin(self) -> np.ndarray:
        """Cost of one unit of demand not served (price - cost)."""
        return self.regular_price - self.unit_cost

    @property
    def waste_cost(self) -> np.ndarray:
        """Cost of one unit thrown away (cost - salvage)."""
        return self.unit_cost - self.salvage_value

    def take(self, rows) -> MasterData:
        """The master data of a subset of lines (an index array, mask or slice)."""
        arrays = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name not in ("assumed", "notes")}
        return MasterData(**arrays, assumed=self.assumed, notes=self.notes)

    def review_days(self, day: int) -> np.ndarray:
        """Days from `day` (a day number) to each line's next order day (1..7)."""
        out = np.full(len(self.order_weekdays), 7, np.int64)
        for k in range(7, 0, -1):
            weekday = (day + k + 3) % 7  # day 0 (1970-01-01) was a Thursday
            out = np.where((self.order_weekdays >> weekday) & 1 == 1, k, out)
        return out

    def orders_on(self, day: int) -> np.ndarray:
        """True for lines that can order on `day` (a day number)."""
        return (self.order_weekdays >> ((day + 3) % 7)) & 1 == 1


def _nice_case_pack(units: np.ndarray) -> np.ndarray:
    packs = np.asarray(ASSUMED_CASE_PACKS)
    idx = np.abs(np.log(np.maximum(units, 1e-6))[:, None] - np.log(packs)[None, :]).argmin(axis=1)
    return packs[idx]


def series_mean_sales(panel: DailyPanel) -> pd.Series:
    """Each series' mean daily sales (units), indexed by its product id."""
    lengths = np.diff(panel.offsets)
    mean_sales = np.add.reduceat(panel.sales.astype(np.float64), panel.offsets[:-1]) / np.maximum(lengths, 1)
    return pd.Series(mean_sales, index=panel.series[PRODUCT].to_numpy())


def typical_sales(means: pd.Series) -> pd.Series:
    """Each product's median over its stores of the mean daily sales `means` (`series_mean_sales`)."""
    return means.groupby(level=0).median()


def assume_master_data(panel: DailyPanel, typical: pd.Series | None = None) -> MasterData:
    """The documented assumptions (`ASSUMPTIONS`) for every series of `panel`; case packs
    from `typical` (`typical_sales` of the chain; default: of `panel`'s series)."""
    if "first_category_id" not in panel.series:
        raise DataError(panel.source, ["column 'first_category_id' is needed to assume master data"])
    cat = panel.series["first_category_id"].to_numpy().astype(np.int64)
    n = len(cat)
    typical = typical_sales(series_mean_sales(panel)) if typical is None else typical
    typical = typical.reindex(panel.series[PRODUCT].to_numpy()).to_numpy()
    case_pack = _nice_case_pack(0.5 * typical)
    shelf = np.asarray(ASSUMED_SHELF_LIVES)[cat % len(ASSUMED_SHELF_LIVES)]
    price = np.ones(n)
    cost = price * (1.0 - np.asarray(ASSUMED_MARGINS)[cat % len(ASSUMED_MARGINS)])
    mon_wed_fri = 0b0010101
    return MasterData(
        shelf_life_days=shelf.astype(np.int64),
        case_pack=case_pack,
        min_order_qty=case_pack.copy(),
        unit_cost=cost,
        regular_price=price,
        salvage_value=np.zeros(n),
        holding_cost=ASSUMED_HOLDING_RATE * cost,
        supplier_id=cat,
        lead_time_days=np.ones(n, np.int64),
        order_weekdays=np.where(shelf <= 3, EVERY_DAY, mon_wed_fri).astype(np.int64),
        capacity=np.full(n, np.inf),
        assumed=True,
        notes=[ASSUMPTIONS],
    )


def assumed_tables(panel: DailyPanel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The assumptions as the tables a retailer would supply: products (one row per product,
    with its first_category_id, which picks its price response) and terms (one row per store
    and supplier); see `data.tables`."""
    m = assume_master_data(panel)
    lines = panel.series[[STORE, PRODUCT, "first_category_id"]].assign(
        shelf_life_days=m.shelf_life_days, case_pack=m.case_pack, min_order_qty=m.min_order_qty,
        unit_cost=m.unit_cost, regular_price=m.regular_price, salvage_value=m.salvage_value,
        holding_cost=m.holding_cost, supplier_id=m.supplier_id, lead_time_days=m.lead_time_days,
        order_weekdays=[",".join(d for k, d in enumerate(WEEKDAYS) if w >> k & 1) for w in m.order_weekdays],
    )  # fmt: skip
    products = lines.drop(columns=[STORE, "lead_time_days", "order_weekdays"]).drop_duplicates(PRODUCT)
    terms = lines[[STORE, "supplier_id", "lead_time_days", "order_weekdays"]].drop_duplicates([STORE, "supplier_id"])
    products = products.sort_values(PRODUCT).reset_index(drop=True)
    return products, terms.sort_values([STORE, "supplier_id"]).reset_index(drop=True)


def write_assumed_tables(panel: DailyPanel, out) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the assumed products.csv and terms.csv with ASSUMPTIONS.txt into folder `out`
    (replaced whole); returns the two tables."""
    from ..outputs import output_folder, write_table, write_text

    products, terms = assumed_tables(panel)
    with output_folder(out, "master-data") as tmp:
        write_table(products, tmp / "products.csv")
        write_table(terms, tmp / "terms.csv")
        write_text(tmp / "ASSUMPTIONS.txt", ASSUMPTIONS + "\n")
    return products, terms
