"""Purchase orders written for the ERP and the suppliers: po_headers, po_lines and decisions
as Parquet and CSV, and one EDIFACT ORDERS interchange per supplier."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..optimize.purchase import PurchaseOrders
from ..outputs import output_folder, write_table, write_text
from .edifact import ENCODING, check_buyer_id, check_ids, orders_interchange


def write_purchase_orders(po: PurchaseOrders, out: str | Path, buyer_id: str = "FRESHCAST") -> list[Path]:
    """Write po_headers, po_lines and decisions as Parquet and CSV, one EDIFACT ORDERS
    interchange per supplier under edi/, and notes.txt into folder `out`, which is replaced
    whole (no file of an earlier run stays beside them). Returns the files' final paths."""
    out, buyer_id = Path(out), check_buyer_id(buyer_id)
    check_ids(po.headers, po.lines)
    names = []
    with output_folder(out, "purchase-orders") as tmp:
        for name, df in (("po_headers", po.headers), ("po_lines", po.lines), ("decisions", po.decisions)):
            for ext in ("parquet", "csv"):
                names.append(write_table(df, tmp / f"{name}.{ext}").relative_to(tmp))
        for supplier, headers in po.headers.groupby("supplier_id", sort=True):
            lines = po.lines[po.lines["po_id"].isin(headers["po_id"])]
            date = pd.Timestamp(headers["order_date"].iat[0]).strftime("%Y%m%d")
            text = orders_interchange(headers, lines, buyer_id, str(supplier))
            path = tmp / "edi" / f"ORDERS_{supplier}_{date}.edi"
            names.append(write_text(path, text, encoding=ENCODING).relative_to(tmp))
        names.append(write_text(tmp / "notes.txt", "".join(f"{n}\n" for n in po.notes)).relative_to(tmp))
    return [out / n for n in names]
