"""The stages of the nightly run, as data: what each reads (config sections, input files,
earlier stages' outputs) and the function that writes its folder `<root>/<date>/<stage>/`
(whole or not at all). Adding a stage is one entry in STAGES."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..console import Step
from ..data import contract as C
from ..data.dates import day_to_date
from ..errors import FreshcastError
from ..outputs import output_folder, write_table, write_text
from .config import RunConfig, ladder
from .manifest import folder_outputs


@dataclass
class Context:
    """What the stages of one run date share: the config, the date, the run's folder and the
    history cut after the day before the run date (loaded once, when first needed)."""

    config: RunConfig
    date: str  # YYYY-MM-DD, the business day: orders placed and prices set on it
    day: int  # its day number
    folder: Path  # <root>/<date>
    progress: Callable[[str], None] | None = None
    full_panel: object = None  # the history as read (set when the date was worked out from it)
    scheduler: str | None = None  # [run] scheduler: the history is read, and the model trained, on Dask
    stack: object = None  # an ExitStack the run closes: it holds the Dask client, once connected
    full_parts: object = None  # the history by store on the cluster, as read (`cluster.nightly.Partitions`)
    _panel: object = None
    _parts: object = None
    _client: object = None

    def client(self):
        """The Dask client of [run] scheduler, connected on first use."""
        if self._client is None:
            from ..cluster.connect import connected

            self._client = self.stack.enter_context(connected(self.scheduler))
        return self._client

    def path(self, section: str, key: str) -> Path | None:
        return self.config.get(section, key, self.date) if self.config.has(section) else None

    def partitions(self):
        """On a Dask cluster: the history through the day before the run date, by store."""
        if self._parts is None:
            from ..cluster.nightly import Partitions

            parts = self.full_parts
            if parts is None:
                parts = Partitions(self.client(), self.path("data", "history"), self.config.get("data", "map"),
                                   self.progress)  # fmt: skip
            if parts.facts["first_day"] > self.day - 1:
                raise FreshcastError(f"{parts.facts['source']}: the history starts on "
                                     f"{day_to_date(parts.facts['first_day'])}; the run for {self.date} needs sales before it")  # fmt: skip
            self._parts = parts.cut(self.day - 1)
        return self._parts

    def panel(self):
        """The history through the day before the run date (DataError if it ends earlier)."""
        if self._panel is None:
            from ..data import load_history

            panel = self.full_panel
            if panel is None:
                with Step(f"loading history {self.path('data', 'history')}", self.progress):
                    panel = load_history(self.path("data", "history"), self.config.get("data", "map"))
            if panel.last_day < self.day - 1:
                raise FreshcastError(
                    f"{panel.source}: the history ends on {day_to_date(panel.last_day)}; the run for {self.date} "
                    f"needs sales through {day_to_date(self.day - 1)}"
                )  # fmt: skip
            if int(panel.start.min()) > self.day - 1:
                raise FreshcastError(f"{panel.source}: the history starts on {day_to_date(int(panel.start.min()))}; "
                                     f"the run for {self.date} needs sales before it")  # fmt: skip
            self._panel = panel if panel.last_day == self.day - 1 else panel.until(self.day - 1)
        return self._panel


@dataclass(frozen=True)
class Stage:
    name: str
    write: Callable[[Context, Path], dict]  # fills the stage's folder; returns row counts
    sections: tuple[str, ...] = ()  # config sections (or "section.key": one key) its result depends on
    inputs: tuple[tuple[str, str], ...] = ()  # (section, key) of the input files it reads
    after: tuple[str, ...] = ()  # stages whose outputs it reads
    needs: str | None = None  # config section without which it is skipped


# ------------------------------------------------------------------ validate
TABLE_READERS = {  # (section, key) -> reader name in data.tables
    ("orders", "products"): "read_products", ("orders", "inventory"): "read_on_hand",
    ("orders", "terms"): "read_terms", ("orders", "on_order"): "read_on_order",
    ("orders", "capacity"): "read_capacity", ("prices", "products"): "read_products",
    ("prices", "inventory"): "read_on_hand",
}  # fmt: skip


def validate(ctx: Context, out: Path) -> dict:
    """Read and check every input: the history (cut after the day before the run date), the
    future covariates (or assume them, as `make-future` does) and the decision tables.
    Writes summary.json and future.parquet, the covariates the forecast uses."""
    from ..data import load_future
    from ..data.future import assume_future, assumption_note

    missing = [(section, key) for section, key in INPUT_KEYS
               if ctx.path(section, key) is not None and not ctx.path(section, key).exists()]  # fmt: skip
    if missing:
        raise FreshcastError("; ".join(f"[{section}] {key} = {ctx.path(section, key)}: no such file or folder"
                                       for section, key in missing))  # fmt: skip
    days = ctx.config.get("forecast", "days")
    future_path = ctx.path("data", "future")
    if ctx.scheduler is not None:
        from ..cluster.nightly import validated

        future, note, history, products, stores = validated(ctx.partitions(), future_path, days)
        _check_tables(ctx, products, stores)
        return _write_validated(ctx, out, future, note, history)
    panel = ctx.panel()
    if future_path is not None:
        with Step(f"loading future covariates {future_path}", ctx.progress):
            fut = load_future(future_path, panel, ctx.config.get("data", "map"))
        if fut.n_days < days:
            raise FreshcastError(f"{future_path}: covers {fut.n_days} day(s) from {ctx.date}; [forecast] days = {days}")
        future = future_frame(panel, fut, days)
        note = f"future covariates from {future_path}"
    else:
        future = assume_future(panel, days)
        note = assumption_note(panel)
    _check_tables(ctx, panel.series[C.PRODUCT].unique(), panel.series[C.STORE].unique())
    history = {"first_day": str(day_to_date(int(panel.start.min()))), "last_day": str(day_to_date(panel.last_day)),
               "series": panel.n_series, "series_days": panel.n_flat, **filled_counts(panel), "hourly": panel.hourly,
               "covariates": list(panel.covariates), "sha256": panel_digest(panel)}  # fmt: skip
    return _write_validated(ctx, out, future, note, history)


def filled_counts(panel, top: int = 5) -> dict:
    """Days without any input row (filled with zero sales): how many series-days, how many of
    them on the history's last day (the day the forecast and the orders lean on most), and
    the `top` stores with the most of those (`filled_last_day_by_store`: their counts)."""
    whole = panel.filled_hours >= 24
    last = np.flatnonzero(whole[panel.offsets[1:] - 1])
    ids, counts = np.unique(panel.series[C.STORE].to_numpy()[last], return_counts=True)
    order = np.argsort(-counts, kind="stable")[:top]
    return {"filled_days": int(whole.sum()), "filled_last_day": len(last),
            "filled_last_day_stores": [int(v) for v in ids[order]],
            "filled_last_day_by_store": [int(v) for v in counts[order]]}


def filled_note(history: dict) -> list[str]:
    """What a planner should hear of filled days (none: [])."""
    if not history.get("filled_days"):
        return []
    note = (f"{history['filled_days']:,} series-day(s) of the history have no rows and count as zero sales "
            f"(an export gap?)")  # fmt: skip
    if history["filled_last_day"]:
        stores = ", ".join(map(str, history["filled_last_day_stores"]))
        note += (f"; {history['filled_last_day']:,} series lack the last day {history['last_day']}, e.g. in store(s) "
                 f"{stores}: their forecasts and orders are lower")  # fmt: skip
    return [note]


def _check_tables(ctx: Context, products: np.ndarray, stores: np.ndarray) -> None:
    """Read and check the decision tables; the products table must cover `products` (the
    history's product ids). With GS1 codes in the EDI orders, `stores` (the history's store
    ids) and the products' and suppliers' ids of the products table must be GS1 keys."""
    from ..data import tables
    from ..documents.edifact import check_gs1_ids

    gs1 = ctx.config.get("orders", "edi_codes") == "gs1"
    if gs1:
        check_gs1_ids(stores, C.STORE, "GLN", str(ctx.path("data", "history")))
    for (section, key), reader in TABLE_READERS.items():
        path = ctx.path(section, key)
        if path is not None and not (section == "prices" and path == ctx.path("orders", key)):
            table = getattr(tables, reader)(path)
            if key == "products":
                _covers(table, products, path)
                if gs1 and section == "orders":
                    check_gs1_ids(table[C.PRODUCT], C.PRODUCT, "GTIN", str(path))
                    check_gs1_ids(table["supplier_id"], "supplier_id", "GLN", str(path))
    if ctx.config.has("prices"):
        from ..optimize.pricing import read_labels

        read_labels(ctx.path("prices", "labels"))


def _write_validated(ctx: Context, out: Path, future: pd.DataFrame, note: str, history: dict) -> dict:
    summary = {"run_date": ctx.date, "history": history, "future": note}
    with output_folder(out, "run-validate") as tmp:
        write_table(future, tmp / "future.parquet")
        write_text(tmp / "summary.json", json.dumps(summary, indent=1) + "\n")
    notes = filled_note(history)
    for line in notes if ctx.progress else ():
        ctx.progress(line)
    return {"series": history["series"], "series_days": history["series_days"], "future_rows": len(future),
            "filled_days": history.get("filled_days", 0), **({"notes": notes} if notes else {})}  # fmt: skip


def _covers(products: pd.DataFrame, product_ids: np.ndarray, path: Path) -> None:
    """Every product with sales in the history needs a row in the products table."""
    missing = np.setdiff1d(product_ids, products[C.PRODUCT].to_numpy())
    if len(missing):
        raise FreshcastError(f"{path}: {len(missing)} product(s) of the history are not in the products table, "
                             f"e.g. product_id={missing[0]}")  # fmt: skip


def future_frame(panel, fut, days: int) -> pd.DataFrame:
    """The covariates `fut` of the `days` days after `panel` as a table, a row per series and day."""
    n = panel.n_series
    frame = pd.DataFrame({
        C.STORE: np.repeat(panel.series[C.STORE].to_numpy(), days),
        C.PRODUCT: np.repeat(panel.series[C.PRODUCT].to_numpy(), days),
        C.DAY: np.tile(day_to_date(fut.first_day + np.arange(days)), n),
    })  # fmt: skip
    for name, values in fut.values.items():
        frame[name] = values[:, :days].ravel()
    return frame


def panel_digest(panel) -> str:
    """sha256 of everything in the history panel a forecast can read."""
    import hashlib

    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(panel.series, index=False).to_numpy().tobytes())
    digest.update(str(list(panel.series.columns)).encode())
    for name in ("offsets", "start", "sales", "stockout_hours", "stockout_shop_hours", "instock_sales",
                 "instock_hours", "filled_hours", "hour_sales", "stockout_mask"):  # fmt: skip
        value = getattr(panel, name)
        if value is not None:
            digest.update(np.ascontiguousarray(value).tobytes())
    for name, values in panel.covariates.items():
        digest.update(name.encode() + np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------ model
def model_settings(config: RunConfig) -> dict:
    """What shapes a trained model: the [model] section (and its params file's content), the
    days it forecasts, the column map."""
    from ..forecast.params import read_params
    from .manifest import digest_of

    params = config.get("model", "params")  # its values (a comment changed is no change), checked when loaded
    return {**config.part("model")["model"], "days": config.get("forecast", "days"), "map": config.get("data", "map"),
            **({"params": digest_of(read_params(params))} if params else {})}  # fmt: skip


def train_model(ctx: Context, out: Path) -> dict:
    """Train on the history (as `freshcast forecast` does) and save the model to `out`."""
    from ..forecast.job import forecaster
    from ..forecast.params import read_params

    get = lambda k: ctx.config.get("model", k)  # noqa: E731
    params = None if get("params") is None else read_params(get("params"))
    model = forecaster(ctx.config.get("forecast", "days"), get("seed"), get("quantiles"), get("recover_stockouts"), params)
    if ctx.scheduler is not None:
        from ..cluster.nightly import trained

        parts = ctx.partitions()
        with Step(f"training on {parts.facts['n_series']:,} series", ctx.progress):
            model = trained(parts, model)
    else:
        panel = ctx.panel()
        with Step(f"training on {panel.n_series:,} series", ctx.progress):
            model.fit(panel, ctx.progress)
    model.save(out)
    notes = getattr(model, "notes_", [])
    for note in notes if ctx.progress else ():
        ctx.progress(note)
    return {"trained": 1, "train_rows": int(model.n_train_rows_), **({"notes": notes} if notes else {})}


def copy_model(source: Path, out: Path) -> dict:
    """Today's model folder as a copy of an earlier run's (byte for byte)."""
    with output_folder(out, "model") as tmp:
        for f in sorted(source.iterdir()):
            if f.is_file() and not f.name.startswith("."):
                shutil.copyfile(f, tmp / f.name)
    return {"trained": 0}


# ------------------------------------------------------------------ forecast
def forecast(ctx: Context, out: Path) -> dict:
    """Forecast the run date and the days after it with the stage `model`'s model: a daily
    forecast with quantiles (forecast.parquet), and per hour or slot if configured."""
    from ..forecast.daily import DailyForecaster

    days, level, slots = (ctx.config.get("forecast", k) for k in ("days", "level", "slots"))
    model = DailyForecaster.load(ctx.folder / "model")
    future = ctx.folder / "validate" / "future.parquet"
    kinds = [("forecast", "day", None), *([("forecast_hour", "hour", None)] if level == "hour" else []),
             *([("forecast_slot", "day", slots)] if slots else [])]  # (file, level, slots)
    rows = {}
    with output_folder(out, "run-forecast") as tmp, Step(f"forecasting {days} day(s)", ctx.progress):
        if ctx.scheduler is not None:
            from ..cluster.nightly import forecasts

            tables = forecasts(ctx.partitions(), model, future, kinds)
        else:
            panel = ctx.panel()
            tables = {name: model.predict(days, future, history=panel, level=lv, slots=sl) for name, lv, sl in kinds}
        for name, pred in tables.items():
            write_table(pred, tmp / f"{name}.parquet")
            rows[name] = len(pred)
    return rows


# ------------------------------------------------------------------ orders, prices, export
def orders(ctx: Context, out: Path) -> dict:
    """Purchase orders of the run date (as `freshcast plan-orders`): tables and EDIFACT."""
    from ..documents.purchase_orders import write_purchase_orders
    from ..optimize.purchase import plan_orders

    p = lambda k: ctx.path("orders", k)  # noqa: E731
    with Step("optimising orders", ctx.progress):
        po = plan_orders(ctx.folder / "forecast" / "forecast.parquet", p("products"), terms=p("terms"),
                         capacity=p("capacity"), on_hand=p("inventory"), on_order=p("on_order"), order_date=ctx.date,
                         budget=ctx.config.get("orders", "budget"), seed=ctx.config.get("orders", "seed"),
                         timezone=ctx.config.get("orders", "timezone"))  # fmt: skip
    write_purchase_orders(po, out, ctx.config.get("orders", "buyer_id"), ctx.config.get("orders", "edi_codes"))
    return {"purchase_orders": len(po.headers), "order_lines": len(po.lines)}


def prices(ctx: Context, out: Path) -> dict:
    """Markdowns of the run date (as `freshcast plan-prices`): label changes and ESL feed."""
    from ..documents.price_labels import write_price_labels
    from ..optimize.pricing import plan_prices

    p = lambda k: ctx.path("prices", k)  # noqa: E731
    hourly, evening = p("hourly_forecast"), ctx.config.get("prices", "evening_hour")
    if hourly is None and ctx.config.get("forecast", "level") == "hour" and evening is not None:
        hourly = ctx.folder / "forecast" / "forecast_hour.parquet"  # the evening step's share of the day
    with Step("choosing prices", ctx.progress):
        plan = plan_prices(ctx.folder / "forecast" / "forecast.parquet", p("products"), p("inventory"), p("labels"),
                           date=ctx.date, evening_hour=evening, response=p("response"),
                           hourly_forecast=hourly, ladder=ladder(ctx.config.get("prices", "ladder")),
                           max_changes=ctx.config.get("prices", "max_changes"),
                           min_gain=ctx.config.get("prices", "min_gain"),
                           timezone=ctx.config.get("prices", "timezone"),
                           evening_later=ctx.config.get("prices", "evening_later"))  # fmt: skip
    write_price_labels(plan, out)
    return {"label_changes": len(plan.changes), "lines": len(plan.decisions)}


def export(ctx: Context, out: Path) -> dict:
    """Deliver the day's purchase orders and price labels to the folders the ERP and the label
    system pick them up from ([export]), each swapped in whole; delivered.json lists them.
    Each supplier gets the day's orders once: later exports send it only revisions
    (`nightly.delivery`)."""
    from .delivery import check_unread, deliver_orders

    before = _delivered(out)
    delivered = {}
    for key, stage, kind in (("orders", "orders", "purchase-orders"), ("labels", "prices", "price-labels")):
        target = ctx.path("export", key)
        if target is None:
            continue
        source = ctx.folder / stage
        with output_folder(target, kind) as tmp:
            for f in sorted(source.rglob("*")):
                if f.is_file() and not f.name.startswith(".") and not (key == "orders" and f.suffix == ".edi"):
                    (tmp / f.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, tmp / f.relative_to(source))
            if key == "orders":
                suppliers, unread = deliver_orders(source, tmp, target, before.get("orders", {}).get("suppliers"),
                                                   ctx.config.get("orders", "buyer_id"),
                                                   ctx.config.get("orders", "edi_codes"))  # fmt: skip
                check_unread(unread)  # last, before the swap: the pickup may have taken one meanwhile
            delivered[key] = {"to": str(target), "files": folder_outputs(tmp)}  # as delivered, before any pickup
        if key == "orders":
            delivered[key]["suppliers"] = suppliers
    with output_folder(out, "run-export") as tmp:
        write_text(tmp / "delivered.json", json.dumps(delivered, indent=1, sort_keys=True) + "\n")
    return {"files": sum(len(v["files"]) for v in delivered.values())}


def _delivered(out: Path) -> dict:
    """What the last export of the run date delivered (its delivered.json), or {}."""
    try:
        return json.loads((out / "delivered.json").read_text())
    except (OSError, ValueError):
        return {}


STAGES = (
    Stage("validate", validate, ("data", "orders.edi_codes"), (("data", "history"), ("data", "future"), *TABLE_READERS,
                                            ("prices", "labels"))),  # fmt: skip
    Stage("model", train_model, (), (("model", "params"),)),  # what it depends on: `run._model_decision`
    Stage("forecast", forecast, ("forecast",), (), ("validate", "model")),
    Stage("orders", orders, ("orders",), tuple(("orders", k) for k in ("products", "inventory", "terms", "on_order",
                                                                          "capacity")), ("forecast",)),  # fmt: skip
    Stage("prices", prices, ("prices",), tuple(("prices", k) for k in ("products", "inventory", "labels", "response",
                                                                          "hourly_forecast")), ("forecast",), "prices"),  # fmt: skip
    Stage("export", export, ("export",), (), ("orders", "prices"), "export"),
)
INPUT_KEYS = tuple(dict.fromkeys(k for s in STAGES for k in s.inputs))


def describe_inputs(ctx: Context) -> dict:
    """Every configured input file or folder: path, files with bytes and sha256."""
    from .manifest import describe_input

    out = {}
    for section, key in INPUT_KEYS:
        path = ctx.path(section, key)
        if path is None:
            continue
        name = f"{section}.{key}"
        if not path.exists():
            out[name] = {"path": str(path), "sha256": "missing"}
        elif name not in out:
            out[name] = describe_input(path)
    return out
