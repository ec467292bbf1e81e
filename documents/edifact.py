"""Purchase orders as a UN/EDIFACT ORDERS interchange (directory D.96A), the order message
suppliers and ERPs import. Serialised by pydifact (escaping, segment counts).

One interchange per supplier; one ORDERS message per purchase order:

    UNA:+.? '                                  service characters (decimal point '.')
    UNB+UNOC:3+<buyer>+<supplier>+<date>:0000+<ref>'   interchange header
    UNH+<n>+ORDERS:D:96A:UN'                   message header
    BGM+220+<po_id>+9'                         order, original (5: replaces one sent before; 1: cancels it)
    DTM+137:<order date>:102'                  document date (CCYYMMDD)
    DTM+2:<delivery date>:102'                 delivery date requested
    NAD+BY+<store_id>::92'  NAD+SU+<supplier_id>::92'  NAD+DP+<store_id>::92'
    LIN+<k>++<product_id>:IN'                  line k, buyer's item number
    QTY+21:<units>'  QTY+59:<units per case>'  ordered quantity, case pack
    PRI+AAA:<unit cost>'  MOA+203:<amount>'    net price, line amount
    UNS+S'  CNT+2:<lines>'  UNT+<segments>+<n>'  UNZ+<messages>+<ref>'
"""

from __future__ import annotations

import datetime
import hashlib
import warnings

import pandas as pd

from ..data.contract import PRODUCT, STORE
from ..errors import FreshcastError


def number(x: float, decimals: int = 6) -> str:
    """Fixed-point text to `decimals` places without trailing zeros ('2.5', '3', '0.0625')."""
    text = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def control_reference(order_date: pd.Timestamp, supplier_id, revision: int = 0) -> str:
    """The interchange's control reference (at most 14 characters): the order date, the
    supplier id and, for a revision of the day's orders sent after the first, R and its number;
    where those are longer, 14 hex digits of their hash (one per supplier, date and revision,
    so the supplier's duplicate check tells interchanges apart)."""
    text = order_date.strftime("%y%m%d") + str(supplier_id) + (f"R{revision}" if revision else "")
    return text if len(text) <= 14 else hashlib.sha256(text.encode()).hexdigest()[:14].upper()


def check_buyer_id(buyer_id) -> str:
    """The sender id of the interchange header: 1 to 35 characters of Latin-1 (syntax UNOC)."""
    text = str(buyer_id)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        text = ""
    if not 1 <= len(text) <= 35:
        raise FreshcastError(f"the buyer id (the EDI sender id) must be 1 to 35 characters of Latin-1 (EDIFACT UNOC), "
                             f"got {buyer_id!r}")  # fmt: skip
    return text


ENCODING = "latin-1"  # the character set of syntax UNOC: an interchange's bytes


def check_ids(headers: pd.DataFrame, lines: pd.DataFrame) -> None:
    """FreshcastError naming the column and id of the first store, product or supplier id that
    syntax UNOC (Latin-1) cannot carry."""
    for table, column in ((headers, STORE), (headers, "supplier_id"), (lines, PRODUCT)):
        for value in pd.unique(table[column].astype(str)):
            try:
                value.encode(ENCODING)
            except UnicodeEncodeError:
                raise FreshcastError(f"{column} {value!r}: the EDIFACT orders (syntax UNOC) carry only Latin-1 "
                                     f"characters; map the ids to codes the supplier knows") from None  # fmt: skip


def orders_interchange(headers: pd.DataFrame, lines: pd.DataFrame, buyer_id: str, supplier_id: str,
                       revision: int = 0, replacing=frozenset(), cancelled: dict | None = None) -> str:  # fmt: skip
    """The ORDERS interchange for one supplier's purchase orders (headers and their lines), to
    be written in `ENCODING`. A `revision` of orders the supplier received before: the orders
    whose po_id is in `replacing` replace those (BGM function 5), and `cancelled` (po_id ->
    (store_id, order date)) lists orders sent before that are now cancelled (function 1, no
    lines)."""
    from pydifact.control import Characters
    from pydifact.segmentcollection import Interchange, Message
    from pydifact.segments import Segment

    cancelled = cancelled or {}
    first = pd.Timestamp(headers["order_date"].min() if len(headers) else min(d for _, d in cancelled.values()))
    reference = control_reference(first, supplier_id, revision)
    with warnings.catch_warnings():  # pydifact ships no syntax tables for the service segments
        warnings.simplefilter("ignore")
        interchange = Interchange(
            sender=buyer_id, recipient=str(supplier_id), control_reference=reference,
            syntax_identifier=("UNOC", 3), timestamp=datetime.datetime(first.year, first.month, first.day),
            characters=Characters(decimal_point="."),
        )  # fmt: skip
        interchange.has_una_segment = True
        n = 0
        for n, header in enumerate(headers.sort_values("po_id").itertuples(index=False), start=1):
            msg = Message(str(n), ("ORDERS", "D", "96A", "UN"))
            store = str(getattr(header, STORE))
            msg.add_segment(Segment("BGM", "220", header.po_id, "5" if header.po_id in replacing else "9"))
            msg.add_segment(Segment("DTM", ["137", pd.Timestamp(header.order_date).strftime("%Y%m%d"), "102"]))
            msg.add_segment(Segment("DTM", ["2", pd.Timestamp(header.delivery_date).strftime("%Y%m%d"), "102"]))
            msg.add_segment(Segment("NAD", "BY", [store, "", "92"]))
            msg.add_segment(Segment("NAD", "SU", [str(supplier_id), "", "92"]))
            msg.add_segment(Segment("NAD", "DP", [store, "", "92"]))
            mine = lines[lines["po_id"] == header.po_id].sort_values(PRODUCT)
            for k, line in enumerate(mine.itertuples(index=False), start=1):
                msg.add_segment(Segment("LIN", str(k), "", [str(getattr(line, PRODUCT)), "IN"]))
                msg.add_segment(Segment("QTY", ["21", number(line.order_qty)]))
                msg.add_segment(Segment("QTY", ["59", number(line.case_pack)]))
                msg.add_segment(Segment("PRI", ["AAA", number(line.unit_cost)]))
                msg.add_segment(Segment("MOA", ["203", number(line.amount)]))
            msg.add_segment(Segment("UNS", "S"))
            msg.add_segment(Segment("CNT", ["2", str(len(mine))]))
            interchange.add_message(msg)
        for n, (po_id, (store, order_date)) in enumerate(sorted(cancelled.items()), start=n + 1):
            msg = Message(str(n), ("ORDERS", "D", "96A", "UN"))
            msg.add_segment(Segment("BGM", "220", po_id, "1"))
            msg.add_segment(Segment("DTM", ["137", pd.Timestamp(order_date).strftime("%Y%m%d"), "102"]))
            for party, who in (("BY", store), ("SU", supplier_id), ("DP", store)):
                msg.add_segment(Segment("NAD", party, [str(who), "", "92"]))
            msg.add_segment(Segment("UNS", "S"))
            msg.add_segment(Segment("CNT", ["2", "0"]))
            interchange.add_message(msg)
        return interchange.serialize(break_lines=True)
