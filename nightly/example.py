"""`freshcast init-config PATH`: a commented example config that runs as is on the embedded
sample, with ASSUMED products, supplier terms, stock and labels written beside it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import contract as C
from ..data import load_history, sample_path
from ..data.dates import day_to_date
from ..errors import FreshcastError
from ..optimize.master import ASSUMPTIONS, assumed_tables
from ..outputs import output_folder, reserve_all, write_table, write_text

INPUTS = "freshcast_inputs"  # the folder of example tables, beside the config

TEMPLATE = """\
# freshcast nightly run (`freshcast run --config {name}`), written by `freshcast init-config`.
# It runs as is on {what} with the ASSUMED tables in {inputs}/. Relative paths resolve against this file's folder; an input
# path may hold {{date}}, replaced by the run date (YYYY-MM-DD), e.g. "stock/{{date}}.csv".

[run]
root = "runs"            # <root>/<date>/: manifest.json, log.jsonl and one folder per stage
date = "after-history"   # the run date without --date: "today" (cron), or "after-history":
                         # the day after the history's last day (this sample ends {last})
threads = 0              # 0: FRESHCAST_THREADS or the physical cores (results depend on the count)
# scheduler = "local:4"  # read the history, train and forecast on Dask: local:N worker processes
                         # or a running cluster, "tcp://HOST:PORT" (needs freshcast[dask])

[data]
history = "{history}"    # sales through the day before the run date (file or hive folder)
# future = "future/{{date}}.parquet"  # planned discounts, promotions, weather of the days to
                         # forecast; without it they are ASSUMED as `freshcast make-future` does
# map = {{ qty = "hourly_sale", date = "dt" }}  # THEIR_NAME = "native_name"

[model]
retrain_every_days = 7   # train again when the saved model is this old, or its settings changed
seed = 0
recover_stockouts = true # learn from demand recovered in stockout hours
quantiles = [0.1, 0.5, 0.9]
# params = "tune/best_params.toml"  # forecaster parameters, e.g. from `freshcast tune`

[forecast]
days = 8                 # the run date and the days after it (the orders look at lead time + shelf life)
level = "day"            # "hour" adds forecast_hour.parquet (and the evening share for prices)
# slots = "06-10,10-14,14-18,18-22,22-06"  # adds forecast_slot.parquet (with either level)

[orders]
products = "{inputs}/products.csv"   # shelf life, case pack, costs, supplier
inventory = "{inputs}/inventory.csv" # stock on hand by batch: store_id, product_id, on_hand, expiry_date
terms = "{inputs}/terms.csv"         # lead_time_days, order_weekdays per store x supplier
# on_order = "on_order/{{date}}.csv"  # open orders: store_id, product_id, on_order, arrival_date
# capacity = "capacity.csv"          # store_id, product_id, capacity_units
# budget = 5000.0                    # most a store may spend on the run date
buyer_id = "FRESHCAST"               # sender id in the EDIFACT interchanges
edi_codes = "own"                    # "gs1": ids are GLNs and GTINs (EANCOM), buyer_id the buyer's GLN
seed = 0
timezone = "UTC"                     # the stores' time zone (IANA name): dates expiry timestamps

[prices]                             # remove this section to leave prices alone
labels = "{inputs}/labels.csv"       # what each label shows now: store_id, product_id, price [, expiry_date]
# products and inventory default to those of [orders]
evening_hour = 19                    # a deeper evening markdown from this hour on a batch's last day
# evening_later = true               # left to `freshcast plan-prices --at-evening-hour` run at that hour
# response = "price_response"        # `freshcast price-response` folder (default: FreshRetailNet's)
ladder = [0, 10, 20, 30, 40, 50]     # percent off the regular price
# max_changes = 200                  # most new markdowns per store in the run
# min_gain = 0.01                    # only markdowns expected to earn 1% of a unit's price (default 0: any gain)
# timezone = "UTC"                   # default: that of [orders]; the label validity times

# [export]                           # folders the ERP and the label system pick files up from
# orders = "outbox/orders/{{date}}"
# labels = "outbox/labels/{{date}}"
"""


def write_example(path: str | Path, history: str | Path | None = None) -> tuple[Path, Path]:
    """Write the example config at `path` and its ASSUMED tables in `freshcast_inputs/` beside
    it (refused if either is there), for `history` (default: the embedded sample). Returns
    both paths."""
    path = Path(path)
    history = Path(history).resolve() if history is not None else sample_path()
    if path.exists():
        raise FreshcastError(f"{path}: already exists; give a new file name (freshcast does not overwrite a config)")
    inputs = path.parent / INPUTS
    if inputs.exists():
        raise FreshcastError(f"{inputs}: already exists (the tables of an earlier init-config, perhaps edited, "
                             f"which another config may read, or those of an init-config stopped before it "
                             f"wrote its config): write the config into another folder, or move it away")  # fmt: skip
    with reserve_all((path, None), (inputs, "example-inputs")):
        panel = load_history(history)
        products, terms = assumed_tables(panel)
        run_day = panel.last_day + 1
        last = panel.positions(panel.last_day)
        week = np.stack([panel.sales[np.maximum(last - k, panel.offsets[:-1])] for k in range(7)]).mean(axis=0)
        stock = panel.series[[C.STORE, C.PRODUCT]].assign(on_hand=np.round(week, 1), expiry_date=str(day_to_date(run_day)))
        regular = products.set_index(C.PRODUCT)["regular_price"]
        labels = panel.series[[C.STORE, C.PRODUCT]].assign(price=regular.loc[panel.series[C.PRODUCT]].to_numpy())
        with output_folder(inputs, "example-inputs") as tmp:
            write_table(products, tmp / "products.csv")
            write_table(terms, tmp / "terms.csv")
            write_table(stock, tmp / "inventory.csv")  # every line, those with nothing in stock at 0
            write_table(labels, tmp / "labels.csv")
            write_text(tmp / "ASSUMPTIONS.txt", ASSUMPTIONS + "\nStock: each line holds its mean daily sales of the "
                       "last 7 days, all expiring on the run date. Labels: every product at its regular price.\n")  # fmt: skip
        what = ("the embedded sample (one city of FreshRetailNet-50K, CC BY 4.0)" if history == sample_path()
                else str(history))  # fmt: skip
        text = TEMPLATE.format(what=what, name=path.name, inputs=INPUTS, history=history, last=day_to_date(panel.last_day))
        write_text(path, text)
    return path, inputs
