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
    MOA+203:<amount>'  PRI+AAA:<unit cost>'    line amount, net price (segment group 28)
    UNS+S'  CNT+2:<lines>'  UNT+<segments>+<n>'  UNZ+<messages>+<ref>'

Those are the buyer's own codes (`codes="own"`, code list agency 92, item number type IN).
With GS1 codes (`codes="gs1"`, EANCOM 1997, the ORDERS of D.96A that European grocery
suppliers read) every party is a GLN and every product a GTIN: UNB+UNOC:3+<buyer GLN>:14+
<supplier GLN>:14+..., UNH+<n>+ORDERS:D:96A:UN:EAN008', NAD+BY+<store GLN>::9' (SU, DP alike),
LIN+<k>++<GTIN>:EN'; GLNs written with 13 digits, GTINs shorter than 13 digits in their
13-digit form (leading zeros, which integer ids drop), each checked by its GS1 check digit.
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


CODES = ("own", "gs1")  # whose codes the interchange's ids are: the buyer's, or GS1 keys (GLN, GTIN)


def check_codes(codes) -> str:
    """`codes` if it is one of CODES, else a FreshcastError."""
    if codes not in CODES:
        raise FreshcastError(f"the EDI codes must be one of {', '.join(CODES)}, got {codes!r}")
    return codes


def gs1_check_digit(body: str) -> int:
    """The GS1 check digit of the digits `body` (weights 3, 1, 3, ... from the right)."""
    return -sum(int(c) * (3 - 2 * (i % 2)) for i, c in enumerate(reversed(body))) % 10


def gs1_key(value, kind: str) -> str:
    """`value` (an id as read: integer or text) as the GS1 key `kind` ('GLN' or 'GTIN') is
    written in EANCOM: a GLN with 13 digits, a GTIN of up to 13 digits (or a GTIN-14 of
    indicator digit 0) in its 13-digit form, another GTIN-14 as it is. ValueError saying what
    is wrong if it is not such a key: not digits, too long, under 8 digits without its
    leading zeros (the shortest GS1 key, a GTIN-8, has 8; a GLN's company prefix more), or a
    last digit that is not its check digit."""
    text = str(value).strip()
    longest = 13 if kind == "GLN" else 14
    size = "13 digits" if kind == "GLN" else "8, 12, 13 or 14 digits"
    if not text.isdecimal() or not text.isascii() or len(text) > longest:
        raise ValueError(f"is not a {kind} ({size})")
    if len(text.lstrip("0")) < 8:
        raise ValueError(f"is not a {kind} ({size}; {len(text.lstrip('0'))} without its leading zeros)")
    text = text.zfill(13)
    if len(text) == 14 and text[0] == "0":  # a GTIN-14 of indicator digit 0 is its GTIN-13
        text = text[1:]
    if gs1_check_digit(text[:-1]) != int(text[-1]):
        raise ValueError(f"is not a {kind}: its last digit is not the GS1 check digit of the others (that would "
                         f"be {gs1_check_digit(text[:-1])})")  # fmt: skip
    return text


def check_buyer_id(buyer_id, codes: str = "own") -> str:
    """The sender id of the interchange header: 1 to 35 characters of Latin-1 (syntax UNOC);
    with GS1 codes the buyer's GLN, written with 13 digits."""
    if check_codes(codes) == "gs1":
        try:
            return gs1_key(buyer_id, "GLN")
        except ValueError as exc:
            raise FreshcastError(f"the buyer id {buyer_id!r} {exc}: with GS1 codes in the EDI orders the sender "
                                 f"is the buyer's GLN (--buyer-id, [orders] buyer_id; the default FRESHCAST is "
                                 f"not one)") from None  # fmt: skip
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


def check_gs1_ids(values, column: str, kind: str, source: str | None = None) -> None:
    """FreshcastError naming `source` (if given), `column` and the first of `values` that is
    not the GS1 key `kind` ('GLN' or 'GTIN'), as the EDI orders with GS1 codes need."""
    for value in pd.unique(pd.Series(values).astype(str)):
        try:
            gs1_key(value, kind)
        except ValueError as exc:
            where = f"{source}: " if source else ""
            raise FreshcastError(f"{where}{column} {value!r} {exc}: with GS1 codes in the EDI orders every store and "
                                 f"supplier id is a GLN and every product id a GTIN; or write the ids as the buyer's "
                                 f"own codes (EDI codes 'own')") from None  # fmt: skip


def check_ids(headers: pd.DataFrame, lines: pd.DataFrame, codes: str = "own") -> None:
    """FreshcastError naming the column and id of the first store, product or supplier id that
    syntax UNOC (Latin-1) cannot carry, or with GS1 codes that is not a GLN (stores, suppliers)
    or a GTIN (products)."""
    gs1 = check_codes(codes) == "gs1"
    for table, column, kind in ((headers, STORE, "GLN"), (headers, "supplier_id", "GLN"), (lines, PRODUCT, "GTIN")):
        for value in pd.unique(table[column].astype(str)):
            try:
                value.encode(ENCODING)
            except UnicodeEncodeError:
                raise FreshcastError(f"{column} {value!r}: the EDIFACT orders (syntax UNOC) carry only Latin-1 "
                                     f"characters; map the ids to codes the supplier knows") from None  # fmt: skip
        if gs1:
            check_gs1_ids(table[column], column, kind)


def orders_interchange(headers: pd.DataFrame, lines: pd.DataFrame, buyer_id: str, supplier_id: str,
                       revision: int = 0, replacing=frozenset(), cancelled: dict | None = None,
                       codes: str = "own") -> str:  # fmt: skip
    """The ORDERS interchange for one supplier's purchase orders (headers and their lines), to
    be written in `ENCODING`, with the ids as `codes` (CODES; GS1 ids are checked here too, as a
    revision's come from records of earlier exports). A `revision` of orders the supplier
    received before: the orders whose po_id is in `replacing` replace those (BGM function 5),
    and `cancelled` (po_id -> (store_id, order date)) lists orders sent before that are now
    cancelled (function 1, no lines)."""
    from pydifact.control import Characters
    from pydifact.segmentcollection import Interchange, Message
    from pydifact.segments import Segment

    cancelled = cancelled or {}
    gs1 = check_codes(codes) == "gs1"
    if gs1:  # a revision's ids come from the records of earlier exports too: checked here, named
        check_gs1_ids([buyer_id], "buyer id", "GLN")
        check_gs1_ids([supplier_id], "supplier_id", "GLN")
        check_gs1_ids([*headers[STORE], *(store for store, _ in cancelled.values())], STORE, "GLN")
        check_gs1_ids(lines[PRODUCT], PRODUCT, "GTIN")
    kind = ("ORDERS", "D", "96A", "UN", "EAN008") if gs1 else ("ORDERS", "D", "96A", "UN")

    def party(who) -> list[str]:  # NAD's party identification: the id and its code list agency
        return [gs1_key(who, "GLN"), "", "9"] if gs1 else [str(who), "", "92"]

    first = pd.Timestamp(headers["order_date"].min() if len(headers) else min(d for _, d in cancelled.values()))
    reference = control_reference(first, supplier_id, revision)
    with warnings.catch_warnings():  # pydifact ships no syntax tables for the service segments
        warnings.simplefilter("ignore")
        interchange = Interchange(
            sender=[gs1_key(buyer_id, "GLN"), "14"] if gs1 else buyer_id,
            recipient=[gs1_key(supplier_id, "GLN"), "14"] if gs1 else str(supplier_id), control_reference=reference,
            syntax_identifier=("UNOC", 3), timestamp=datetime.datetime(first.year, first.month, first.day),
            characters=Characters(decimal_point="."),
        )  # fmt: skip
        interchange.has_una_segment = True
        n = 0
        for n, header in enumerate(headers.sort_values("po_id").itertuples(index=False), start=1):
            msg = Message(str(n), kind)
            store = getattr(header, STORE)
            msg.add_segment(Segment("BGM", "220", header.po_id, "5" if header.po_id in replacing else "9"))
            msg.add_segment(Segment("DTM", ["137", pd.Timestamp(header.order_date).strftime("%Y%m%d"), "102"]))
            msg.add_segment(Segment("DTM", ["2", pd.Timestamp(header.delivery_date).strftime("%Y%m%d"), "102"]))
            for role, who in (("BY", store), ("SU", supplier_id), ("DP", store)):
                msg.add_segment(Segment("NAD", role, party(who)))
            mine = lines[lines["po_id"] == header.po_id].sort_values(PRODUCT)
            for k, line in enumerate(mine.itertuples(index=False), start=1):
                product = getattr(line, PRODUCT)
                item = [gs1_key(product, "GTIN"), "EN"] if gs1 else [str(product), "IN"]
                msg.add_segment(Segment("LIN", str(k), "", item))
                msg.add_segment(Segment("QTY", ["21", number(line.order_qty)]))
                msg.add_segment(Segment("QTY", ["59", number(line.case_pack)]))
                msg.add_segment(Segment("MOA", ["203", number(line.amount)]))  # the line's MOA, then its price group
                msg.add_segment(Segment("PRI", ["AAA", number(line.unit_cost)]))
            msg.add_segment(Segment("UNS", "S"))
            msg.add_segment(Segment("CNT", ["2", str(len(mine))]))
            interchange.add_message(msg)
        for n, (po_id, (store, order_date)) in enumerate(sorted(cancelled.items()), start=n + 1):
            msg = Message(str(n), kind)
            msg.add_segment(Segment("BGM", "220", po_id, "1"))
            msg.add_segment(Segment("DTM", ["137", pd.Timestamp(order_date).strftime("%Y%m%d"), "102"]))
            for role, who in (("BY", store), ("SU", supplier_id), ("DP", store)):
                msg.add_segment(Segment("NAD", role, party(who)))
            msg.add_segment(Segment("UNS", "S"))
            msg.add_segment(Segment("CNT", ["2", "0"]))
            interchange.add_message(msg)
        return interchange.serialize(break_lines=True)
