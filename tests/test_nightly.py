"""The nightly run: idempotent reruns, dependent stages redone on change, the model decision,
config errors, locking, kills and signals, and the API beside the command line."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from freshcast import api
from freshcast.cli import app
from freshcast.errors import ConfigError, FreshcastError, RunLocked, StageFailed
from freshcast.nightly.example import write_example
from freshcast.nightly.lock import LOCK_FILE, run_lock
from freshcast.outputs import file_sha256, write_table

STAGE_FOLDERS = ("validate", "model", "forecast", "orders", "prices")


@pytest.fixture
def config(tmp_path):
    path, _ = write_example(tmp_path / "freshcast.toml")
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def outputs(folder: Path) -> dict:
    """sha256 of every file of the stage folders of one run date."""
    return {str(p.relative_to(folder)): file_sha256(p) for s in STAGE_FOLDERS
            for p in sorted((folder / s).rglob("*")) if p.is_file()}  # fmt: skip


def manifest(result) -> dict:
    return json.loads((result.folder / "manifest.json").read_text())


def test_rerun_changes_nothing_and_force_gives_the_same_bytes(config):
    first = api.run(config)
    assert first.date == "2024-06-19" and first.redone == list(STAGE_FOLDERS)
    m = manifest(first)
    assert m["stages"]["export"]["status"] == "skipped"
    assert all(m["stages"][s]["status"] == "done" for s in STAGE_FOLDERS)
    assert m["inputs"]["data.history"]["files"] and len(m["inputs"]["orders.inventory"]["sha256"]) == 64
    assert m["stages"]["orders"]["rows"]["order_lines"] > 0 and m["versions"]["lightgbm"]
    before = outputs(first.folder)
    assert api.run(config).redone == []
    assert outputs(first.folder) == before
    assert api.run(config, force=True).redone == list(STAGE_FOLDERS)
    assert outputs(first.folder) == before
    log = [json.loads(line) for line in (first.folder / "log.jsonl").read_text().splitlines()]
    assert {"stage", "event", "time"} <= set(log[0]) and sum(e["event"] == "up to date" for e in log) == 5


def test_a_changed_input_redoes_the_stages_that_read_it(config):
    api.run(config)
    stock = config.parent / "freshcast_inputs" / "inventory.csv"
    table = pd.read_csv(stock)
    table.loc[0, "on_hand"] += 5
    table.to_csv(stock, index=False)
    result = api.run(config)
    assert result.redone == ["validate", "orders", "prices"]  # the model and the forecast do not read stock
    why = manifest(result)["stages"]["orders"]["why"]
    assert why == ["input orders.inventory changed"]
    edit(config, "evening_hour = 19", "evening_hour = 18")
    result = api.run(config)
    assert result.redone == ["prices"]
    assert manifest(result)["stages"]["prices"]["why"] == ["config [prices] changed"]
    evening = lambda: pd.read_parquet(result.folder / "prices" / "price_changes.parquet").valid_from.str.contains("T18:00")  # noqa: E731
    assert evening().any()
    edit(config, "# evening_later = true", "evening_later = true")  # left to the evening run
    assert api.run(config).redone == ["prices"] and not evening().any()
    (result.folder / "orders" / "po_lines.csv").write_text("tampered\n")
    assert api.run(config).redone == ["orders"]


def test_the_model_is_retrained_when_due_and_never_taken_from_a_later_day(config):
    edit(config, "retrain_every_days = 7", "retrain_every_days = 2")
    later = api.run(config, "2024-06-19")
    days = {d: api.run(config, d) for d in ("2024-06-12", "2024-06-13", "2024-06-14")}
    why = {d: manifest(r)["stages"]["model"]["why"][-1] for d, r in days.items()}
    assert why["2024-06-12"] == "model trained: no model trained before this date"  # not the 06-19 model
    assert why["2024-06-13"] == "model copy of the model trained for 2024-06-12"
    assert why["2024-06-14"].startswith("model trained: the model trained for 2024-06-12 is 2 day(s) old")
    model = lambda r: file_sha256(r.folder / "model" / "model.txt")  # noqa: E731
    assert model(days["2024-06-13"]) == model(days["2024-06-12"]) != model(days["2024-06-14"])
    assert api.run(config, "2024-06-19").redone == []  # other days' models do not change a done day
    assert model(later) == model(api.run(config, "2024-06-19"))
    edit(config, "seed = 0", "seed = 1")
    result = api.run(config, "2024-06-15")
    assert "settings changed" in manifest(result)["stages"]["model"]["why"][-1]


def test_days_without_rows_are_counted_and_said(tmp_path):
    """An export gap (a store's last day missing) is filled with zero sales, as everywhere,
    and the nightly run says so where an operator looks: the stage's notes and summary."""
    from freshcast.data import sample_path

    frame = pd.read_parquet(sample_path())
    store = int(frame.store_id.max())
    gap = frame[~((frame.dt == frame.dt.max()) & (frame.store_id == store))]
    gap.to_parquet(tmp_path / "gap.parquet")
    config, _ = write_example(tmp_path / "freshcast.toml", history=tmp_path / "gap.parquet")
    result = api.run(config, "2024-06-19")
    rows = manifest(result)["stages"]["validate"]["rows"]
    missing = frame[(frame.dt == frame.dt.max()) & (frame.store_id == store)].product_id.nunique()
    assert rows["filled_days"] >= missing > 0
    note = rows["notes"][0]
    assert f"{missing} series lack the last day 2024-06-18" in note and f"store(s) {store}" in note
    summary = json.loads((result.folder / "validate" / "summary.json").read_text())
    assert summary["history"]["filled_last_day"] == missing and summary["history"]["filled_last_day_stores"] == [store]


def test_an_unreadable_manifest_is_redone_not_a_crash(config):
    """A manifest emptied (a power cut before the disk had it) makes its run date's stages
    redo and is passed over when a later date looks for a model to copy."""
    first = api.run(config, "2024-06-12")
    (first.folder / "manifest.json").write_text("")
    later = api.run(config, "2024-06-13")
    assert manifest(later)["stages"]["model"]["why"][-1] == "model trained: no model trained before this date"
    before = outputs(later.folder)
    (first.folder / "manifest.json").write_text('{"stages": {"model": "done"}}')  # JSON, but not a manifest
    from freshcast.nightly.manifest import Manifest

    assert Manifest(first.folder / "manifest.json").stage("model") == {}
    assert api.run(config, "2024-06-13").redone == []
    (later.folder / "manifest.json").write_text('{"stages": ')
    again = api.run(config, "2024-06-13")
    assert again.redone == list(STAGE_FOLDERS) and outputs(again.folder) == before
    log = [json.loads(line) for line in (again.folder / "log.jsonl").read_text().splitlines()]
    assert any(e["event"].startswith("manifest unreadable") for e in log)


@pytest.mark.parametrize("stopped", ["failed", "running"])  # stopped by a signal or an error; killed
def test_a_stopped_model_stage_resumes_with_the_decision_it_had_taken(config, stopped):
    later = api.run(config, "2024-06-13")  # trained: no model before it
    api.run(config, "2024-06-12")  # trained; a model 06-13 could copy now
    expected = outputs(later.folder)
    path = later.folder / "manifest.json"
    m = json.loads(path.read_text())
    m["stages"]["model"] = {**m["stages"]["model"], "status": stopped, "pid": 999999, "error": "stopped by SIGTERM"}
    path.write_text(json.dumps(m))  # what a forced rerun of 06-13 stopped in its model stage leaves
    result = api.run(config, "2024-06-13")
    assert result.redone == ["model"]
    assert manifest(result)["stages"]["model"]["why"][-1] == "model trained"
    assert outputs(result.folder) == expected


@pytest.mark.parametrize(
    "old, new, named",
    [
        ("retrain_every_days = 7", "retrain_every_days = \"weekly\"", "[model] retrain_every_days: expected a whole number"),
        ("\ndays = 8", "\ndays = 40", "[forecast] days: expected a whole number from 1 to 28"),
        ("threads = 0", "threads = 0\nthredas = 2", "unknown key [run] thredas"),
        ("quantiles = [0.1, 0.5, 0.9]", "quantiles = [0.5]", "[model] quantiles"),
        ("ladder = [0, 10, 20, 30, 40, 50]", "ladder = [10, 20]", "[prices] ladder"),
        ('timezone = "UTC"', 'timezone = "Mars/Olympus"', "[orders] timezone"),
        ('labels = "freshcast_inputs/labels.csv"', "", "[prices] labels is missing"),
        ("[model]", "[model\n", "not valid TOML"),
    ],
)
def test_a_bad_config_exits_2_naming_the_key(config, old, new, named):
    edit(config, old, new)
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert named in result.output and str(config) in result.output
    with pytest.raises(ConfigError):
        api.run(config)
    assert not (config.parent / "runs" / "2024-06-19").exists()


def test_a_bad_buyer_id_is_refused_when_the_config_loads(config):
    from freshcast.nightly.config import load_config

    edit(config, 'buyer_id = "FRESHCAST"', 'buyer_id = "' + "x" * 36 + '"')
    with pytest.raises(ConfigError, match=r"\[orders\] buyer_id: the buyer id \(the EDI sender id\) must be 1 to 35"):
        load_config(config)
    edit(config, 'buyer_id = "' + "x" * 36 + '"', 'buyer_id = "FRESHCAST"')
    edit(config, 'edi_codes = "own"', 'edi_codes = "gs1"')  # GS1 codes: the sender is the buyer's GLN
    with pytest.raises(ConfigError, match=r"\[orders\] buyer_id: the buyer id 'FRESHCAST' is not a GLN"):
        load_config(config)
    edit(config, 'buyer_id = "FRESHCAST"', 'buyer_id = "614141000012"')  # a GLN whose leading zero was dropped
    assert load_config(config).get("orders", "edi_codes") == "gs1"
    edit(config, 'buyer_id = "614141000012"', 'buyer_id = 614141000012')  # a GLN written as a number
    assert load_config(config).get("orders", "buyer_id") == "614141000012"
    edit(config, 'buyer_id = 614141000012', 'buyer_id = 6.5')
    with pytest.raises(ConfigError, match=r"\[orders\] buyer_id: expected text or a whole number, got 6.5"):
        load_config(config)
    edit(config, 'buyer_id = 6.5', 'buyer_id = "614141000012"')
    edit(config, 'edi_codes = "gs1"', 'edi_codes = "GS1"')
    with pytest.raises(ConfigError, match=r"\[orders\] edi_codes"):
        load_config(config)


def test_gs1_codes_check_every_id_when_the_run_validates(config):
    """With GS1 codes in the EDI orders the validate stage checks the history's store ids and the
    products table's product and supplier ids as GS1 keys, before any model is trained; a day
    run before with the buyer's own codes validates again."""
    from freshcast.data import sample_path
    from freshcast.documents.edifact import gs1_check_digit

    api.run(config)
    edit(config, 'edi_codes = "own"', 'edi_codes = "gs1"')
    edit(config, 'buyer_id = "FRESHCAST"', 'buyer_id = "5412345000013"')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "stage validate failed" in result.output and "store_id '" in result.output
    assert "is not a GLN (13 digits;" in result.output
    why = json.loads((config.parent / "runs" / "2024-06-19" / "manifest.json").read_text())["stages"]["validate"]
    assert why["status"] == "failed" and "config [orders] edi_codes changed" in why["why"]
    history = pd.read_parquet(sample_path())
    body = history.store_id.map(lambda s: f"40{s:010d}")
    history["store_id"] = (body + body.map(lambda b: str(gs1_check_digit(b)))).astype("int64")  # GLNs
    history.to_parquet(config.parent / "gln_history.parquet")
    edit(config, f'history = "{sample_path()}"', f'history = "{config.parent / "gln_history.parquet"}"')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1 and "stage validate failed" in result.output, result.output
    assert "products.csv: product_id '" in result.output and "is not a GTIN" in result.output


def test_a_bad_input_fails_its_stage_with_exit_1_and_the_manifest_says_which(config):
    products = config.parent / "freshcast_inputs" / "products.csv"
    pd.read_csv(products).drop(columns=["unit_cost"]).to_csv(products, index=False)
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1 and "products.csv" in result.output and "unit_cost" in result.output
    m = json.loads((config.parent / "runs" / "2024-06-19" / "manifest.json").read_text())
    entry = m["stages"]["validate"]
    assert entry["status"] == "failed" and "products.csv" in entry["error"] and "unit_cost" in entry["error"]
    assert m["stages"]["model"] == {"status": "skipped", "why": "not reached: stage validate failed"}  # nothing after it ran
    assert not (config.parent / "runs" / "2024-06-19" / "validate").exists()
    with pytest.raises(StageFailed, match="stage validate failed"):
        api.run(config)


def test_a_history_that_ends_too_early_fails_validation(config):
    with pytest.raises(StageFailed, match="needs sales through 2024-06-20"):
        api.run(config, "2024-06-21")


def test_a_second_run_exits_75_naming_the_holder_and_a_dead_holder_is_taken_over(config):
    root = config.parent / "runs"
    with run_lock(root):
        result = CliRunner().invoke(app, ["run", "--config", str(config)])
        assert result.exit_code == 75
        assert f"pid {os.getpid()}" in result.output and "another freshcast run" in result.output
        with pytest.raises(RunLocked):
            api.run(config)
    dead = {"pid": 999999, "host": "elsewhere", "started": "2024-06-19T02:00:00+0000"}
    (root / LOCK_FILE).write_text(json.dumps(dead) + "\n")  # left by a process that died: no lock held
    result = api.run(config)
    first = json.loads((result.folder / "log.jsonl").read_text().splitlines()[0])
    assert first["lock_taken_over_from"] == dead


def test_init_config_does_not_overwrite(config):
    result = CliRunner().invoke(app, ["init-config", str(config)])
    assert result.exit_code == 1 and "already exists" in result.output
    # nor the tables beside the first config, which a planner may have edited and it reads
    products = config.parent / "freshcast_inputs" / "products.csv"
    edited = products.read_text() + products.read_text().splitlines()[-1] + "\n"
    products.write_text(edited)
    result = CliRunner().invoke(app, ["init-config", str(config.parent / "second.toml")])
    assert result.exit_code == 1 and "freshcast_inputs: already exists" in result.output
    assert products.read_text() == edited and not (config.parent / "second.toml").exists()


KILLER = textwrap.dedent("""
    import os, signal, sys
    point, config = sys.argv[1], sys.argv[2]
    def stop(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM if point == "sigterm" else signal.SIGKILL)
    if point in ("train", "sigterm"):
        import freshcast.forecast.trainer as trainer
        train = trainer.train
        def killed_in_training(*args, **kwargs):
            stop()
            return train(*args, **kwargs)
        trainer.train = killed_in_training
    elif point == "between":
        from freshcast.nightly.manifest import Manifest
        set_stage = Manifest.set_stage
        def killed_after_forecast(self, name, **entry):
            set_stage(self, name, **entry)
            if name == "forecast" and entry["status"] == "done":
                stop()
        Manifest.set_stage = killed_after_forecast
    elif point == "write":
        import freshcast.documents.purchase_orders as po
        po.orders_interchange = stop  # after po_headers, po_lines and decisions are written
    from freshcast.cli import main
    sys.argv = ["freshcast", "run", "--config", config]
    main()
""")


@pytest.mark.slow
def test_killed_runs_resume_to_the_same_bytes(tmp_path):
    reference, _ = write_example(tmp_path / "ref" / "freshcast.toml")
    expected = outputs(api.run(reference).folder)
    for point in ("train", "between", "write", "sigterm"):
        config, _ = write_example(tmp_path / point / "freshcast.toml")
        killed = subprocess.run([sys.executable, "-c", KILLER, point, str(config)], capture_output=True, text=True)
        folder = config.parent / "runs" / "2024-06-19"
        m = json.loads((folder / "manifest.json").read_text())
        if point == "sigterm":
            assert killed.returncode == 128 + signal.SIGTERM, killed.stderr
            assert "stopped by SIGTERM" in killed.stderr and m["stages"]["model"]["status"] == "failed"
        else:
            assert killed.returncode == -signal.SIGKILL, killed.stderr
        done = [s for s, e in m["stages"].items() if e["status"] == "done"]
        assert done == {"train": ["validate"], "sigterm": ["validate"], "between": ["validate", "model", "forecast"],
                        "write": ["validate", "model", "forecast"]}[point]  # fmt: skip
        assert not (folder / "orders").exists()
        resumed = CliRunner().invoke(app, ["run", "--config", str(config)])
        assert resumed.exit_code == 0, resumed.output
        assert "redone now: validate" not in resumed.output  # validate was done: not redone
        assert outputs(folder) == expected, point


def test_the_api_and_the_command_line_give_the_same_outputs(tmp_path, config):
    by_api = api.run(config)
    other, _ = write_example(tmp_path / "cli" / "freshcast.toml")
    result = CliRunner().invoke(app, ["run", "--config", str(other)])
    assert result.exit_code == 0, result.output
    assert outputs(other.parent / "runs" / "2024-06-19") == outputs(by_api.folder)
    # the stage functions alone, on Arrow and pandas inputs, give the run's forecast and orders
    import pyarrow.parquet as pq

    folder = by_api.folder
    history = pq.read_table(json.loads((folder / "manifest.json").read_text())["inputs"]["data.history"]["path"])
    pred = api.forecast(history, pd.read_parquet(folder / "validate" / "future.parquet"))
    write_table(pred, tmp_path / "forecast.parquet")
    assert file_sha256(tmp_path / "forecast.parquet") == file_sha256(folder / "forecast" / "forecast.parquet")
    inputs = config.parent / "freshcast_inputs"
    po = api.plan_orders(pred, inputs / "products.csv", inputs / "inventory.csv", terms=inputs / "terms.csv",
                         order_date="2024-06-19")  # fmt: skip
    api.write_purchase_orders(po, tmp_path / "po")
    assert file_sha256(tmp_path / "po" / "po_lines.parquet") == file_sha256(folder / "orders" / "po_lines.parquet")
    plan = api.plan_prices(pred, inputs / "products.csv", inputs / "inventory.csv", inputs / "labels.csv", evening_hour=19)
    assert not any("no first_category_id" in n for n in plan.notes)  # each category's response, not the pooled
    api.write_price_labels(plan, tmp_path / "labels")
    for name in ("price_changes.parquet", "decisions.csv"):
        assert file_sha256(tmp_path / "labels" / name) == file_sha256(folder / "prices" / name)


def test_progress_only_when_asked_for(config):
    quiet = CliRunner().invoke(app, ["run", "--config", str(config)])  # stderr is not a terminal here
    assert quiet.exit_code == 0 and "[freshcast]" not in quiet.output
    lines = []
    api.run(config, force=True, progress=lines.append)
    assert "model: --force; model trained" in lines and any(line.strip() == "160 of 160 trees" for line in lines)


def test_after_a_failure_later_stages_say_they_were_not_reached(config):
    first = api.run(config)
    expected = outputs(first.folder)
    stock = config.parent / "freshcast_inputs" / "inventory.csv"
    good = stock.read_bytes()
    stock.write_bytes(b"st\xf6re_id,product_id,on_hand,expiry_date\n1,2,3,2024-06-19\n")  # not UTF-8
    with pytest.raises(StageFailed, match="inventory.csv: cannot be read: not UTF-8"):
        api.run(config)
    stages = manifest(first)["stages"]
    assert stages["validate"]["status"] == "failed"
    assert {stages[s]["status"] for s in STAGE_FOLDERS[1:]} == {"skipped"}
    assert "not reached: stage validate failed" in stages["orders"]["why"]
    last = json.loads((first.folder / "log.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "failed" and last["exit_code"] == 1 and last["at"] == "validate"
    # the table mended: only the failed stage is redone, the others were done on the same inputs
    stock.write_bytes(good)
    mended = api.run(config)
    assert mended.redone == ["validate"] and outputs(first.folder) == expected
    assert {e["status"] for s, e in manifest(first)["stages"].items() if s != "export"} == {"done"}
    with pytest.raises(StageFailed, match="history starts on"):
        api.run(config, "2024-03-01")


def test_a_products_table_without_a_product_of_the_history_fails_validation(config):
    products = config.parent / "freshcast_inputs" / "products.csv"
    pd.read_csv(products).iloc[1:].to_csv(products, index=False)
    with pytest.raises(StageFailed, match=r"stage validate failed: .*products.csv: 1 product\(s\) of the history"):
        api.run(config)


def test_a_missing_input_file_is_named_with_its_key(config):
    edit(config, 'inventory = "', 'inventory = "nope.csv" # was "')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1 and "[orders] inventory = " in result.output and "nope.csv: no such file" in result.output
    stages = json.loads((config.parent / "runs" / "2024-06-19" / "manifest.json").read_text())["stages"]
    assert stages["validate"]["status"] == "failed" and "[orders] inventory" in stages["validate"]["error"]
    assert [stages[s]["status"] for s in STAGE_FOLDERS[1:]] == ["skipped"] * (len(STAGE_FOLDERS) - 1)


def test_an_unreadable_history_without_a_date_is_recorded_in_undated(config, tmp_path):
    history = tmp_path / "history.parquet"
    history.write_bytes(b"PAR1 not really parquet")
    edit(config, 'history = "', f'history = "{history}" # was "')
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1 and "cannot tell the run date" in result.output and "history.parquet" in result.output
    m = json.loads((config.parent / "runs" / "undated" / "manifest.json").read_text())
    assert m["stages"]["validate"]["status"] == "failed" and "history.parquet" in m["stages"]["validate"]["error"]
    assert m["inputs"]["data.history"]["files"][0]["bytes"] == history.stat().st_size


def test_orders_exported_again_after_the_suppliers_took_them_are_a_revision(config):
    """A rerun with corrected stock: a supplier whose file still lies in the pickup folder
    gets a new original in its place (same reference: the unread one is as never sent); one
    whose file was picked up gets only what changed, under a new reference, as replacements
    (BGM function 5) and cancellations (1), never a second original of an order number."""
    edit(config, '# [export]', '[export]')
    edit(config, '# orders = "outbox/orders/{date}"', 'orders = "outbox/orders/{date}"')
    outbox = config.parent / "outbox" / "orders" / "2024-06-19"
    inventory_path = config.parent / "freshcast_inputs" / "inventory.csv"
    stock = pd.read_csv(inventory_path)
    counted = stock.copy()
    orders = config.parent / "runs" / "2024-06-19" / "orders"

    def segments(path: Path) -> list[str]:
        return path.read_bytes().decode("latin-1").split("'\n")

    def bgm(paths) -> dict:
        return {s.split("+")[2]: s.split("+")[3] for p in paths for s in segments(p) if s.startswith("BGM+")}

    def reference(path: Path) -> str:
        return next(s for s in segments(path) if s.startswith("UNB+")).split("+")[-1]

    def correct(store_id, product_id=None):  # a count corrected: the line (or the store) needs nothing
        at = stock.store_id == store_id if product_id is None else (stock.store_id == store_id) & (
            stock.product_id == product_id)
        stock.loc[at, ["on_hand", "expiry_date"]] = [1e5, "2024-07-31"]
        stock.to_csv(inventory_path, index=False)

    api.run(config)
    first = {p.name: p.read_bytes() for p in (outbox / "edi").glob("*.edi")}
    references = {reference(outbox / "edi" / n) for n in first}
    assert len(first) > 2 and set(bgm(outbox / "edi" / n for n in first).values()) == {"9"}
    ordered = pd.read_parquet(orders / "decisions.parquet").query("order_qty > 0").iloc[0]
    correct(ordered.store_id, ordered.product_id)
    assert "export" in api.run(config).redone
    unread = sorted((outbox / "edi").glob("*.edi"))  # none picked up: new originals in their place
    assert {p.name for p in unread} == set(first) and set(bgm(unread).values()) == {"9"}
    assert {reference(p) for p in unread} == references and {p.name: p.read_bytes() for p in unread} != first

    # the ERP takes every supplier's file but one; then a store's whole stock is corrected
    sent = {p.name: bgm([p]) for p in unread}
    left = sorted(sent)[0]
    for p in unread:
        if p.name != left:
            p.unlink()
    store = int(stock.store_id.iloc[0])
    correct(store)
    api.run(config)
    files = sorted((outbox / "edi").glob("*.edi"))
    now = pd.read_parquet(orders / "po_headers.parquet")
    assert left in {p.name for p in files} and set(bgm([outbox / "edi" / left]).values()) == {"9"}  # unread: original
    assert set(bgm([outbox / "edi" / left])) == {po for po in now.po_id if f"_{po.split('-')[3]}_" in f"_{left}"}
    revised = [p for p in files if p.name != left]
    assert revised and all(p.name.endswith("_R1.edi") for p in revised)
    assert not {reference(p) for p in revised} & references
    functions = bgm(revised)
    gone = {po for name, pos in sent.items() if name != left for po in pos if po.split("-")[2] == str(store)}
    assert gone and {po for po, f in functions.items() if f == "1"} == gone
    assert set(functions.values()) <= {"1", "5"}  # picked up: nothing sent again as an original
    assert api.run(config).redone == []

    # the pickup folder's own record decides, also when the run's copy is gone (a kill between them)
    delivered = {p.name: p.read_bytes() for p in files}
    (config.parent / "runs" / "2024-06-19" / "export" / "delivered.json").unlink()
    api.run(config, force=True)  # nothing picked up since: the same files again, byte for byte
    assert {p.name: p.read_bytes() for p in (outbox / "edi").glob("*.edi")} == delivered

    # the corrected store's orders come back after their cancellation was read: replacements, not originals
    for p in (outbox / "edi").glob("*.edi"):
        p.unlink()
    counted.to_csv(inventory_path, index=False)
    api.run(config)
    functions = bgm(sorted((outbox / "edi").glob("*_R2.edi")))
    assert gone <= set(functions) and {functions[po] for po in gone} == {"5"}

    # a file taken for unread that the pickup takes while the export runs stops it: nothing delivered
    from freshcast.nightly.delivery import check_unread, deliver_orders

    staging = config.parent / "staging"
    staging.mkdir()
    before = sorted((outbox / "edi").glob("*.edi"))
    _, unread = deliver_orders(orders, staging, outbox, None, "FRESHCAST")
    assert set(unread) == set(before)
    check_unread(unread)
    before[0].unlink()
    with pytest.raises(FreshcastError, match="picked up while this export ran"):
        check_unread(unread)

    edit(config, 'orders = "outbox/orders/{date}"', 'orders = "outbox/orders"')
    with pytest.raises(ConfigError, match=r"\[export\] orders: must hold \{date\}"):
        api.run(config)


def test_hours_and_slots_together_each_get_their_table_adding_up_to_the_day(config):
    edit(config, 'level = "day"', 'level = "hour"')
    edit(config, '# slots = "06-10,10-14,14-18,18-22,22-06"', 'slots = "06-14,14-22,22-06"')
    folder = api.run(config).folder / "forecast"
    day, hours, slots = (pd.read_parquet(folder / f"{n}.parquet")
                         for n in ("forecast", "forecast_hour", "forecast_slot"))  # fmt: skip
    keys = ["store_id", "product_id", "dt"]
    assert set(slots.slot) == {"06-14", "14-22", "22-06"} and hours.hour.nunique() == 24
    for part in (hours, slots):
        summed = part.groupby(keys, as_index=False).yhat.sum().merge(day[keys + ["yhat"]], on=keys)
        assert len(summed) == len(day) and np.allclose(summed.yhat_x, summed.yhat_y, rtol=1e-5, atol=1e-5)
