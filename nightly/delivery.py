"""What each supplier has of the day's orders, and what an export sends it: the first export
of a day sends the day's interchanges as they are (originals); an export after a supplier's
file was picked up sends that supplier a revision holding only what changed (new orders,
replacements, cancellations, under a new interchange reference); a file still lying in the
pickup folder as delivered is unread, and the new one takes its place as if it had never
been sent.

The record of it (supplier -> {file, sha256, had, have}, where `had` and `have` are what the
supplier has before and after reading the file: {"revision", "orders": po_id -> digest entry,
"sent": every order number it was ever sent, cancelled ones too, so that none comes back as an
original}) is written into the pickup folder itself (`STATE`), swapped in with the files, so a
kill between the swap and the run's own record cannot make the two disagree; the run's
delivered.json keeps a copy, read when the pickup folder lost it (cleared by hand)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from ..documents.purchase_orders import edi_name, po_digests, write_revision
from ..errors import FreshcastError
from ..outputs import file_sha256, write_text

STATE = ".freshcast-suppliers.json"  # in the pickup folder, beside the files it describes


def last_records(target: Path, fallback: dict | None) -> dict:
    """Supplier -> record of the last export into the pickup folder `target`: its own STATE,
    else `fallback` (the run's delivered.json copy), else none."""
    try:
        return json.loads((target / STATE).read_text())
    except (OSError, ValueError):
        return dict(fallback or {})


def known_to(record: dict | None, target: Path, unread: dict[Path, str]) -> dict | None:
    """What the supplier of `record` has of the day's orders: what its last file brought if
    that file was picked up (is no longer in `target` as delivered), else what it had before
    (an unread file does not count: it goes into `unread`, path -> sha256); None if nothing."""
    if record is None:
        return None
    name = record["file"]
    if name is None:
        return record["have"]
    if (target / name).is_file() and file_sha256(target / name) == record["sha"]:
        unread[target / name] = record["sha"]
        return record["had"]
    return record["have"]


def deliver_orders(source: Path, staging: Path, target: Path, fallback: dict | None,
                   buyer_id: str, codes: str = "own") -> tuple[dict, dict[Path, str]]:  # fmt: skip
    """Write into `staging` (the pickup folder `target`'s next contents) each supplier's
    interchange as the module says (revisions with the ids as `codes`), from the orders
    stage's folder `source` (its tables and originals in edi/), and STATE. Returns the
    records written and the files taken for unread (for `check_unread` just before the
    swap)."""
    headers, lines = (pd.read_parquet(source / f"{n}.parquet") for n in ("po_headers", "po_lines"))
    now = po_digests(headers, lines)
    before = last_records(target, fallback)
    records, unread = {}, {}
    for supplier in sorted({e[0] for e in now.values()} | set(before)):
        mine = {po: e for po, e in now.items() if e[0] == supplier}
        known = known_to(before.get(supplier), target, unread)
        if known is None and not mine:
            continue
        if known is None:  # the original, byte for byte the orders stage's
            name = edi_name(supplier, min(e[2] for e in mine.values()))
            (staging / "edi").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / "edi" / name, staging / "edi" / name)
            have = {"revision": 0, "orders": mine, "sent": sorted(mine)}
        elif mine == known["orders"]:  # it has them all: nothing to send
            records[supplier] = {"file": None, "sha": None, "had": known, "have": known}
            continue
        else:
            sent = set(known.get("sent", known["orders"]))
            have = {"revision": known["revision"] + 1, "orders": mine, "sent": sorted(sent | set(mine))}
            path = write_revision(headers, lines, buyer_id, staging, supplier, mine, known["orders"], sent,
                                  have["revision"], codes)  # fmt: skip
            name = path.name
        records[supplier] = {"file": f"edi/{name}", "sha": file_sha256(staging / "edi" / name), "had": known,
                             "have": have}  # fmt: skip
    write_text(staging / STATE, json.dumps(records, indent=1, sort_keys=True) + "\n")
    return records, unread


def check_unread(unread: dict[Path, str]) -> None:
    """FreshcastError if a file of the last export taken for unread (path -> sha256) when this
    export began was picked up since: run it again to decide anew (nothing was delivered)."""
    for path, sha in unread.items():
        if not path.is_file() or file_sha256(path) != sha:
            raise FreshcastError(f"{path}: picked up while this export ran, which took it for unread; nothing "
                                 f"was delivered: run again")  # fmt: skip
