"""Purchase orders written for the ERP and the suppliers: po_headers, po_lines and decisions
as Parquet and CSV, and one EDIFACT ORDERS interchange per supplier."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from ..data.contract import PRODUCT, STORE
from ..errors import FreshcastError
from ..optimize.purchase import PurchaseOrders
from ..outputs import output_folder, write_table, write_text
from .edifact import ENCODING, check_buyer_id, check_codes, check_ids, number, orders_interchange


def write_purchase_orders(po: PurchaseOrders, out: str | Path, buyer_id: str = "FRESHCAST",
                          edi_codes: str = "own") -> list[Path]:  # fmt: skip
    """Write po_headers, po_lines and decisions as Parquet and CSV, one EDIFACT ORDERS
    interchange per supplier under edi/ (its ids as `edi_codes`: "own", the buyer's codes, or
    "gs1", GLNs and GTINs checked; `documents.edifact`), and notes.txt into folder `out`,
    which is replaced whole (no file of an earlier run stays beside them). Returns the files'
    final paths."""
    if not isinstance(po, PurchaseOrders):
        raise FreshcastError(f"write_purchase_orders takes the PurchaseOrders that plan_orders returns, got "
                             f"{type(po).__name__}")  # fmt: skip
    out, buyer_id = Path(out), check_buyer_id(buyer_id, edi_codes)
    check_ids(po.headers, po.lines)  # Latin-1, what syntax UNOC carries
    if check_codes(edi_codes) == "gs1":  # every line that could order today, a superset of those that do
        check_ids(po.decisions, po.decisions, edi_codes)
    names = []
    with output_folder(out, "purchase-orders") as tmp:
        for name, df in (("po_headers", po.headers), ("po_lines", po.lines), ("decisions", po.decisions)):
            for ext in ("parquet", "csv"):
                names.append(write_table(df, tmp / f"{name}.{ext}").relative_to(tmp))
        for supplier, headers in po.headers.groupby("supplier_id", sort=True):
            lines = po.lines[po.lines["po_id"].isin(headers["po_id"])]
            text = orders_interchange(headers, lines, buyer_id, str(supplier), codes=edi_codes)
            path = tmp / "edi" / edi_name(supplier, headers["order_date"].iat[0])
            names.append(write_text(path, text, encoding=ENCODING).relative_to(tmp))
        names.append(write_text(tmp / "notes.txt", "".join(f"{n}\n" for n in po.notes)).relative_to(tmp))
    return [out / n for n in names]


def po_digests(headers: pd.DataFrame, lines: pd.DataFrame) -> dict[str, list]:
    """po_id -> [supplier_id, store_id, order date, sha256 of what the order asks the supplier
    for (delivery date, products, quantities, case packs, prices)]: what a later revision of
    the day's orders compares against."""
    by_po = dict(tuple(lines.sort_values(["po_id", PRODUCT]).groupby("po_id", sort=False)))
    out = {}
    for header in headers.itertuples(index=False):
        mine = by_po.get(header.po_id, lines.iloc[:0])
        asked = [str(pd.Timestamp(header.delivery_date).date()),
                 [[str(getattr(r, PRODUCT)), number(r.order_qty), number(r.case_pack), number(r.unit_cost)]
                  for r in mine.itertuples(index=False)]]  # fmt: skip
        digest = hashlib.sha256(json.dumps(asked).encode()).hexdigest()
        out[header.po_id] = [str(header.supplier_id), str(getattr(header, STORE)),
                             str(pd.Timestamp(header.order_date).date()), digest]  # fmt: skip
    return out


def edi_name(supplier, order_date, revision: int = 0) -> str:
    """The file name of a supplier's interchange of the day's orders (of a revision after the first)."""
    suffix = f"_R{revision}" if revision else ""
    return f"ORDERS_{supplier}_{pd.Timestamp(order_date).strftime('%Y%m%d')}{suffix}.edi"


def write_revision(headers: pd.DataFrame, lines: pd.DataFrame, buyer_id: str, folder: Path, supplier: str,
                   now: dict, known: dict, sent: set, revision: int, codes: str = "own") -> Path:  # fmt: skip
    """Into `folder`/edi/ the interchange of `revision` of the day's orders of `supplier` (its
    `po_digests` entries `now`), who has `known` (the same, as it received them) and was ever
    sent the orders `sent` (cancelled ones too): the orders that are new (original) or changed
    or sent before (a replacement), and the cancellation of those it has that are gone; ids as
    `codes`. Returns the file written."""
    changed = headers[headers["po_id"].isin([po for po, entry in now.items() if known.get(po) != entry])]
    cancelled = {po: (e[1], e[2]) for po, e in known.items() if po not in now}
    text = orders_interchange(changed, lines[lines["po_id"].isin(changed["po_id"])], buyer_id, supplier, revision,
                              replacing=sent, cancelled=cancelled, codes=codes)  # fmt: skip
    day = changed["order_date"].min() if len(changed) else min(d for _, d in cancelled.values())
    return write_text(folder / "edi" / edi_name(supplier, day, revision), text, encoding=ENCODING)
