"""The price-label feed of `freshcast plan-prices`: tables of label changes and decisions, and
one JSON file per store for the electronic shelf label (ESL) system.

`esl/<store_id>.json`, freshcast's vendor-neutral layout::

    {"format": "freshcast-esl/1", "store_id": 12, "date": "2024-06-12",
     "changes": [{"change_id": "PC-...", "product_id": 7, "price": 0.8, "regular_price": 1.0,
                  "markdown_pct": 20.0, "valid_from": "2024-06-12T00:00:00+08:00",
                  "valid_to": "2024-06-13T00:00:00+08:00", "reason": "...", "expiry_date": "2024-06-12"}]}

(`valid_to` and `expiry_date` are null for a return to the regular price: valid until changed;
in the price_changes table, empty.
A product priced by batch has a label per batch, named by `expiry_date`, also when it ends.)

`esl/vusion/<store_id>.json`, an item array modelled on VusionCloud's, to send when the plan's
prices take effect (midnight, or the evening hour for an evening run): one object per label,
``{"id": "<product_id>", "price": new price}`` (for a batch's label, the id
"<product_id>-<expiry_date>") plus, for a markdown,
``"promotion": {"regularPrice": ..., "start": valid_from, "end": valid_to}``. A change that
takes effect later (the evening step, a markdown resuming when a deeper one ends) is in
`esl/vusion/<YYYY-MM-DD>T<HHMM>/<store_id>.json`, named by its local start, to send then: each
file holds an id at most once, so an importer that replaces an item by its id applies a line's
day price, then its evening step, in turn. (Where two changes of a label start at once, as in
an evening run that ends a gone batch's markdown and starts the evening step, the file holds
the later-written one, the evening step, whose end returns the label to the regular price.)

Stores without a change get no file; JSON keys are sorted, so a rerun on the same inputs
writes the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from ..errors import FreshcastError
from ..optimize.pricing import PricePlan
from ..outputs import output_folder, write_table, write_text
from ..data.dates import day_to_date


def write_price_labels(plan: PricePlan, out: str | Path) -> list[Path]:
    """Write price_changes and decisions (Parquet and CSV), esl/ and notes.txt into folder
    `out`, replaced whole. Returns the files' final paths."""
    if not isinstance(plan, PricePlan):
        raise FreshcastError(f"write_price_labels takes the PricePlan that plan_prices returns, got "
                             f"{type(plan).__name__}")  # fmt: skip
    out = Path(out)
    names = []
    date = str(day_to_date(plan.date))
    by_batch = plan.decisions[plan.decisions["price_by_batch"]]
    batch = set(zip(by_batch["store_id"], by_batch["product_id"]))
    with output_folder(out, "price-labels") as tmp:
        for name, df in (("price_changes", plan.changes), ("decisions", plan.decisions)):
            for ext in ("parquet", "csv"):
                names.append(write_table(df, tmp / f"{name}.{ext}").relative_to(tmp))
        for store, changes in plan.changes.groupby("store_id", sort=True):
            neutral = {
                "format": "freshcast-esl/1", "store_id": int(store), "date": date,
                "changes": [{
                    "change_id": r.change_id, "product_id": int(r.product_id), "price": float(r.new_price),
                    "regular_price": float(r.regular_price), "markdown_pct": float(r.markdown_pct),
                    "valid_from": r.valid_from, "valid_to": r.valid_to or None, "reason": r.reason,
                    "expiry_date": r.expiry_date or None,
                } for r in changes.itertuples(index=False)],
            }  # fmt: skip
            sends: dict[str, dict] = {}
            for r in changes.itertuples(index=False):
                label = str(int(r.product_id)) + (f"-{r.expiry_date}" if (store, r.product_id) in batch else "")
                item = {"id": label, "price": float(r.new_price)}
                if r.new_price < r.regular_price:
                    item["promotion"] = {"regularPrice": float(r.regular_price), "start": r.valid_from, "end": r.valid_to}
                starts = datetime.fromisoformat(r.valid_from)
                now = starts.date().isoformat() == date and starts.hour == plan.start_hour and starts.minute == 0
                sends.setdefault("" if now else starts.strftime("%Y-%m-%dT%H%M"), {})[label] = item  # the later one
            files = [(tmp / "esl" / f"{store}.json", neutral)]
            files += [(tmp / "esl" / "vusion" / at / f"{store}.json", list(items.values()))
                      for at, items in sorted(sends.items())]  # fmt: skip
            for path, doc in files:
                names.append(write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n").relative_to(tmp))
        names.append(write_text(tmp / "notes.txt", "".join(f"{n}\n" for n in plan.notes)).relative_to(tmp))
    return [out / n for n in names]
