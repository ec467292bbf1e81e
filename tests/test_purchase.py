"""Purchase orders from a forecast: tables, EDIFACT ORDERS, validation, reruns."""

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from freshcast.cli import app
from freshcast.data import load_history, sample_path
from freshcast.errors import DataError, FreshcastError
from freshcast.forecast import DailyForecaster
from freshcast.data import tables
from freshcast.optimize.master import assumed_tables
from freshcast.optimize.purchase import plan_orders

CUT = pd.Timestamp("2024-06-11")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A forecast of the sample's last 7 days, assumed master data and some stock."""
    d = tmp_path_factory.mktemp("po")
    df = pd.read_parquet(sample_path())
    df[df.dt <= CUT.date()].to_parquet(d / "history.parquet")
    df[df.dt > CUT.date()].drop(columns=["hourly_sale", "hourly_stockout"]).to_parquet(d / "future.parquet")
    history = load_history(d / "history.parquet")
    model = DailyForecaster(n_estimators=30, seed=0).fit(history)
    pred = model.predict(7, d / "future.parquet")
    pred.to_parquet(d / "pred.parquet")
    res = CliRunner().invoke(app, ["master-data", "--history", str(d / "history.parquet"), "--out", str(d / "md")])
    assert res.exit_code == 0, res.output
    assert "ASSUMED" in (d / "md" / "ASSUMPTIONS.txt").read_text()
    products, terms = assumed_tables(history)
    pd.testing.assert_frame_equal(products, pd.read_csv(d / "md" / "products.csv"), check_dtype=False)
    products.to_csv(d / "products.csv", index=False)
    terms.to_csv(d / "terms.csv", index=False)
    lines = pred[["store_id", "product_id"]].drop_duplicates()
    stock = lines.iloc[::3].assign(on_hand=0.5, expiry_date="2024-06-13")
    stock.to_csv(d / "inventory.csv", index=False)
    return d, pred


def _run(d, out, *extra):
    args = ["plan-orders", "--forecast", str(d / "pred.parquet"), "--products", str(d / "products.csv"),
            "--terms", str(d / "terms.csv"), "--inventory", str(d / "inventory.csv"),
            "--out", str(out), *extra]  # fmt: skip
    return CliRunner().invoke(app, args)


def test_plan_orders_writes_consistent_purchase_orders_and_reruns_byte_identical(files, tmp_path):
    d, _ = files
    res = _run(d, tmp_path / "a")
    assert res.exit_code == 0, res.output
    headers = pd.read_parquet(tmp_path / "a" / "po_headers.parquet")
    lines = pd.read_parquet(tmp_path / "a" / "po_lines.parquet")
    products = pd.read_csv(d / "products.csv").set_index("product_id")
    assert len(headers) > 0 and len(lines) >= len(headers)
    cases = lines["order_qty"] / products.loc[lines["product_id"], "case_pack"].to_numpy()
    assert np.allclose(cases, np.round(cases)) and (lines["order_qty"] > 0).all()
    assert (lines["cases"] == np.round(cases)).all()
    per_po = lines.groupby("po_id").agg(n=("product_id", "size"), amount=("amount", "sum"))
    assert (per_po.loc[headers["po_id"], "n"].to_numpy() == headers["line_count"].to_numpy()).all()
    assert np.allclose(per_po.loc[headers["po_id"], "amount"].to_numpy(), headers["total_cost"].to_numpy())
    first = headers.iloc[0]
    assert first["po_id"] == f"PO-20240612-{first['store_id']}-{first['supplier_id']}-20240613"
    assert pd.read_csv(tmp_path / "a" / "po_lines.csv").shape == lines.shape
    assert _run(d, tmp_path / "b").exit_code == 0
    for f in sorted((tmp_path / "a").rglob("*.*")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f.name


def test_edifact_orders_follow_the_segment_rules(files, tmp_path):
    from pydifact.segmentcollection import Interchange

    d, _ = files
    assert _run(d, tmp_path).exit_code == 0
    headers = pd.read_parquet(tmp_path / "po_headers.parquet")
    lines = pd.read_parquet(tmp_path / "po_lines.parquet").set_index("po_id")
    edi = sorted((tmp_path / "edi").glob("ORDERS_*.edi"))
    assert len(edi) == headers["supplier_id"].nunique()
    seen = set()
    for path in edi:
        text = path.read_text()
        assert text.startswith("UNA:+.? '\nUNB+UNOC:3+FRESHCAST+")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interchange = Interchange.from_str(text)
        messages = list(interchange.get_messages())
        assert interchange.get_footer_segment().elements[0] == str(len(messages))  # UNZ message count
        segments = [s for s in text.split("'\n") if s]
        for n, msg in enumerate(messages, start=1):
            tags = [s.tag for s in msg.segments]
            assert tags[0] == "BGM" and tags[-2:] == ["UNS", "CNT"]
            po = msg.segments[0].elements[1]
            seen.add(po)
            start = segments.index(f"UNH+{n}+ORDERS:D:96A:UN")
            end = next(i for i in range(start, len(segments)) if segments[i].startswith("UNT+"))
            assert segments[end] == f"UNT+{end - start + 1}+{n}"  # UNT counts UNH..UNT
            mine = lines.loc[[po]]
            assert tags.count("LIN") == len(mine) == int(msg.segments[-1].elements[0][1])
            qty = [float(s.elements[0][1]) for s in msg.segments if s.tag == "QTY" and s.elements[0][0] == "21"]
            assert sum(qty) == pytest.approx(mine["order_qty"].sum())
    assert seen == set(headers["po_id"])


def test_stock_and_budget_lower_orders(files):
    d, pred = files
    products = tables.read_products(d / "products.csv")
    terms = tables.read_terms(d / "terms.csv")
    base = plan_orders(pred, products, terms)
    lines = pred[["store_id", "product_id"]].drop_duplicates()
    lots = lines.assign(on_hand=50.0, expiry_date="2024-06-20")
    stocked = plan_orders(pred, products, terms, on_hand=lots)
    assert stocked.decisions["order_qty"].sum() < 0.2 * base.decisions["order_qty"].sum()
    expired = lines.assign(on_hand=50.0, expiry_date="2024-06-10")  # already past: does not count
    stale = plan_orders(pred, products, terms, on_hand=expired)
    assert np.array_equal(stale.decisions["order_qty"], base.decisions["order_qty"])
    assert any("past their expiry" in n for n in stale.notes)
    spend = base.decisions.groupby("store_id")["amount"].sum()
    budget = 0.5 * spend.max()
    capped = plan_orders(pred, products, terms, budget=budget)
    assert (capped.decisions.groupby("store_id")["amount"].sum() <= budget + 1e-6).all()


def test_products_that_cost_more_than_their_price_are_noted_and_not_ordered(files):
    d, pred = files
    products = tables.read_products(d / "products.csv")
    terms = tables.read_terms(d / "terms.csv")
    assert not any("cost more than their regular price" in n for n in plan_orders(pred, products, terms).notes)
    dear = int(pred["product_id"].iat[0])
    costly = products.assign(unit_cost=np.where(products.product_id == dear, 2 * products.regular_price,
                                                products.unit_cost))  # fmt: skip
    po = plan_orders(pred, costly, terms)
    assert any(n.startswith("products <DataFrame>: 1 product(s) of the forecast cost more than their regular price")
               and f"product_id={dear})" in n for n in po.notes), po.notes  # fmt: skip
    assert po.decisions.loc[po.decisions.product_id == dear, "order_qty"].eq(0).all()


def test_bad_master_data_and_stock_are_named(files, tmp_path):
    d, pred = files
    products = pd.read_csv(d / "products.csv")
    products.loc[3, "case_pack"] = -1
    products.drop(columns=["unit_cost"]).to_csv(tmp_path / "p1.csv", index=False)
    with pytest.raises(DataError) as err:
        tables.read_products(tmp_path / "p1.csv")
    assert "p1.csv" in str(err.value) and "'unit_cost' is missing" in str(err.value)
    assert "'case_pack' must be > 0" in str(err.value)
    orphan = pd.DataFrame({"store_id": [999], "product_id": [1], "on_hand": [1.0], "expiry_date": ["2024-06-13"]})
    orphan.to_csv(tmp_path / "inv.csv", index=False)
    res = CliRunner().invoke(app, ["plan-orders", "--forecast", str(d / "pred.parquet"), "--products",
                                   str(d / "products.csv"), "--inventory", str(tmp_path / "inv.csv"),
                                   "--out", str(tmp_path / "out")])  # fmt: skip
    assert res.exit_code == 0, res.output  # stock of a line without a forecast is left out, and said so
    note = f"{tmp_path / 'inv.csv'}: 1 row(s) for store x product lines without a forecast are not used " \
           f"(first row 1: store_id=999, product_id=1)"  # fmt: skip
    assert note in res.output and note in (tmp_path / "out" / "notes.txt").read_text()
    late = pd.DataFrame({"store_id": [36], "product_id": [0], "on_order": [1.0], "arrival_date": ["2024-06-01"]})
    late.to_csv(tmp_path / "due.csv", index=False)
    res = CliRunner().invoke(app, ["plan-orders", "--forecast", str(d / "pred.parquet"), "--products",
                                   str(d / "products.csv"), "--inventory", str(tmp_path / "inv.csv"),
                                   "--on-order", str(tmp_path / "due.csv"), "--out", str(tmp_path / "out2")])  # fmt: skip
    assert res.exit_code == 1 and f"error: {tmp_path / 'due.csv'}: column 'arrival_date' is before" in res.output
    assert "in 1 row(s) (first row 1: store_id=36, product_id=0)" in res.output and not (tmp_path / "out2").exists()
    with pytest.raises(DataError, match="quantile columns"):
        plan_orders(pred[["store_id", "product_id", "dt", "yhat"]], tables.read_products(d / "products.csv"))


def _date_as(kind: str, days: list[str]):
    """The same calendar days in each type a table may hold them in."""
    import pyarrow as pa

    ts = pd.to_datetime(pd.Series(days))
    return {
        "str": pd.Series(days, dtype=object),
        "datetime64[s]": ts.astype("datetime64[s]"),
        "datetime64[ns]": ts.astype("datetime64[ns]"),
        "arrow date32": pd.Series(pa.array(ts.dt.date, pa.date32()), dtype=pd.ArrowDtype(pa.date32())),
    }[kind]


@pytest.mark.parametrize("kind", ["str", "datetime64[s]", "datetime64[ns]", "arrow date32"])
def test_expiry_and_arrival_dates_count_in_days(files, kind):
    """Stock expiring sooner is worth less and orders more; an open order arriving with the
    delivery counts; the result is the same whatever type the dates come in."""
    d, pred = files
    products = tables.read_products(d / "products.csv")
    terms = tables.read_terms(d / "terms.csv")
    keeps = products.loc[products["shelf_life_days"] >= 5, "product_id"]  # ordered Mon/Wed/Fri: covers 2 days
    lines = pred.loc[pred["product_id"].isin(keeps), ["store_id", "product_id"]].drop_duplicates().iloc[:20]
    sub = pred.merge(lines)
    week = sub.groupby(["store_id", "product_id"], sort=True)["yhat"].sum().to_numpy()
    lines = lines.sort_values(["store_id", "product_id"]).reset_index(drop=True).assign(on_hand=np.round(week, 1))
    usable, ordered = [], []
    for ahead in (1, 2, 5, 30):  # order date 2024-06-12
        day = str((pd.Timestamp("2024-06-12") + pd.Timedelta(days=ahead)).date())
        stock = lines.assign(expiry_date=_date_as(kind, [day] * len(lines)))
        dec = plan_orders(sub, products, terms, on_hand=stock).decisions
        usable.append(dec["usable_at_delivery"].to_numpy())
        ordered.append(dec["order_qty"].to_numpy())
        assert np.allclose(dec["on_hand"], lines["on_hand"])
    usable, ordered = np.array(usable), np.array(ordered)
    today = lines.assign(expiry_date=_date_as(kind, ["2024-06-12"] * len(lines)))
    assert (plan_orders(sub, products, terms, on_hand=today).decisions["usable_at_delivery"] == 0).all()
    assert (np.diff(usable, axis=0) >= -1e-9).all() and (usable > 0).all()  # all on the shelf on arrival
    assert (np.diff(ordered, axis=0) <= 1e-9).all() and (ordered[0] > ordered[3]).any()
    none = plan_orders(sub, products, terms).decisions
    for ahead, counted in ((1, True), (2, False), (5, False), (30, False)):
        day = str((pd.Timestamp("2024-06-12") + pd.Timedelta(days=ahead)).date())
        due = lines.drop(columns="on_hand").assign(on_order=5.0, arrival_date=_date_as(kind, [day] * len(lines)))
        dec = plan_orders(sub, products, terms, on_order=due).decisions
        assert (dec["on_order"] == (5.0 if counted else 0.0)).all(), ahead
        if ahead == 1:
            assert (dec["usable_at_delivery"] >= 5.0 - 1e-9).all()
            assert (dec["order_qty"] <= none["order_qty"]).all() and (dec["order_qty"] < none["order_qty"]).any()


def test_far_expiry_keeps_the_stock_arrays_small(files):
    """A batch expiring next year is stock that outlives every day a decision looks at: same
    orders as one expiring a month out, computed at once."""
    d, pred = files
    products = tables.read_products(d / "products.csv")
    lines = pred[["store_id", "product_id"]].drop_duplicates()
    month = plan_orders(pred, products, on_hand=lines.assign(on_hand=1.0, expiry_date="2024-07-12")).decisions
    year = plan_orders(pred, products, on_hand=lines.assign(on_hand=1.0, expiry_date="2099-12-31")).decisions
    pd.testing.assert_frame_equal(month, year)


def test_a_rerun_that_orders_nothing_leaves_no_old_orders(files, tmp_path):
    d, pred = files
    out = tmp_path / "orders"
    assert _run(d, out).exit_code == 0
    assert list((out / "edi").glob("*.edi"))
    lines = pred[["store_id", "product_id"]].drop_duplicates()
    lines.assign(on_hand=1000.0, expiry_date="2024-06-30").to_csv(tmp_path / "full.csv", index=False)
    args = ["plan-orders", "--forecast", str(d / "pred.parquet"), "--products", str(d / "products.csv"),
            "--inventory", str(tmp_path / "full.csv"), "--out", str(out)]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert pd.read_parquet(out / "po_headers.parquet").empty and not (out / "edi").exists()
    assert (pd.read_parquet(out / "decisions.parquet")["order_qty"] == 0).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.csv", "orders"]


def test_bad_order_inputs_are_refused_with_one_line(files, tmp_path):
    d, pred = files
    swapped = pred.copy()
    swapped.loc[5, "q10"] = swapped.loc[5, "q50"] + 1
    swapped.to_parquet(tmp_path / "swapped.parquet")
    terms = pd.read_csv(d / "terms.csv").assign(order_cutoff="10:00")
    terms.loc[2, "order_cutoff"] = "25:99"
    terms.to_csv(tmp_path / "terms.csv", index=False)
    base = ["plan-orders", "--products", str(d / "products.csv"), "--inventory", str(d / "inventory.csv"),
            "--out", str(tmp_path / "out")]  # fmt: skip
    for extra, code, message in [
        (["--forecast", str(tmp_path / "swapped.parquet")], 1, "q10, q50, q90 must not decrease"),
        (["--forecast", str(d / "pred.parquet"), "--terms", str(tmp_path / "terms.csv")], 1,
         "'order_cutoff' is not a time of day HH:MM or HH:MM:SS (00:00 .. 23:59): 1 row(s) (first: row 3: "),
        (["--forecast", str(d / "pred.parquet"), "--order-date", "tomorrow"], 2, "--order-date"),
        *[(["--forecast", str(d / "pred.parquet"), "--budget", b], 2, "--budget") for b in ("nan", "inf", "-1")],
    ]:  # fmt: skip
        res = CliRunner().invoke(app, base + extra)
        assert res.exit_code == code and message in res.output, res.output
        assert "Traceback" not in res.output and not (tmp_path / "out").exists()
    ok = terms.assign(order_cutoff=["9:30", "10:00:00"] * (len(terms) // 2) + ["9:30"] * (len(terms) % 2))
    assert plan_orders(pred, tables.read_products(d / "products.csv"), ok).headers["order_cutoff"].isin(["9:30", "10:00:00"]).all()


def test_master_data_and_stock_tables_are_read_like_the_sales_history(files, tmp_path):
    d, _ = files
    products = pd.read_csv(d / "products.csv")
    folder = tmp_path / "products"  # a folder of files, as the sales history may be
    folder.mkdir()
    products.iloc[:5].assign(case_pack=1).to_csv(folder / "a.csv", index=False)  # whole numbers here,
    products.iloc[5:].to_csv(folder / "b.csv", index=False)  # decimals there
    (folder / "README.txt").write_text("not data")
    read = tables.read_products(folder)
    expected = tables.read_products(d / "products.csv")
    expected.loc[:4, "case_pack"] = 1.0
    pd.testing.assert_frame_equal(read, expected)
    products.iloc[:5].drop(columns="holding_cost").to_csv(folder / "a.csv", index=False)  # a column in one file only
    with pytest.raises(DataError) as err:
        tables.read_products(folder)
    assert f"column 'holding_cost' is empty: 5 row(s) (first: {folder / 'a.csv'} row 1: " in str(err.value)
    terms = pd.read_csv(d / "terms.csv").assign(order_cutoff="10:00")
    terms.loc[1, "order_weekdays"] = "Mon,Funday"
    terms.to_csv(tmp_path / "terms.csv", index=False)
    with pytest.raises(DataError) as err:
        tables.read_terms(tmp_path / "terms.csv")
    store, supplier = terms.loc[1, ["store_id", "supplier_id"]]
    assert str(err.value).splitlines()[1] == (
        f"  - column 'order_weekdays' is not 'daily' or weekdays like Mon,Wed,Fri: 1 row(s) "
        f"(first: row 2: store_id={store}, supplier_id={supplier}, order_weekdays='Mon,Funday')"
    )
    terms.loc[1, "order_weekdays"] = "monday, Thursday"
    terms.loc[2, "order_cutoff"] = None  # no cutoff for this one
    terms.to_csv(tmp_path / "terms.csv", index=False)
    read = tables.read_terms(tmp_path / "terms.csv")
    assert read["order_weekdays"].iat[1] == 0b1001 and read["order_cutoff"].iat[2] == ""
    assert (read["order_cutoff"].drop(index=2) == "10:00").all()  # a time stays text
    assert tables.parse_weekdays("Monkey") == -1 and tables.parse_weekdays("Mo") == -1
    (tmp_path / "stock.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match=r"stock\.parquet: .*\n  - cannot be read"):
        tables.read_on_hand(tmp_path / "stock.parquet")
    with pytest.raises(DataError, match="required column 'expiry_date' is missing"):
        tables.read_on_hand(pd.DataFrame({"store_id": [1], "product_id": [2], "on_hand": [1.0]}))
    pd.DataFrame({"store_id": [1, 3], "product_id": [2, 4], "on_hand": [1.0, 2.0], "expiry_date": ["2024-06-13", ""]}
                 ).to_csv(tmp_path / "inv.csv", index=False)  # fmt: skip
    with pytest.raises(DataError, match=r"'expiry_date' is empty: 1 row\(s\) \(first: row 2: store_id=3, product_id=4\)"):
        tables.read_on_hand(tmp_path / "inv.csv")


def test_empty_stock_refused_and_repeated_rows_added_with_a_note(files, tmp_path):
    d, pred = files
    args = ["plan-orders", "--forecast", str(d / "pred.parquet"), "--products", str(d / "md" / "products.csv"),
            "--inventory", str(tmp_path / "inv.csv")]  # fmt: skip
    stock = pd.DataFrame({"store_id": [36, 36], "product_id": [0, 4], "on_hand": [1.5, 2.0],
                          "expiry_date": ["2024-06-14", "2024-06-14"]})  # fmt: skip
    stock.head(0).to_csv(tmp_path / "inv.csv", index=False)
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "empty")])
    assert res.exit_code == 1 and f"{tmp_path / 'inv.csv'}: holds no rows" in res.output
    assert not (tmp_path / "empty").exists()
    stock.to_csv(tmp_path / "inv.csv", index=False)
    once = plan_orders(pred, tables.read_products(d / "md" / "products.csv"), on_hand=tmp_path / "inv.csv")
    assert not any("repeat the store_id" in n for n in once.notes)
    pd.concat([stock, stock.head(1)]).to_csv(tmp_path / "inv.csv", index=False)
    twice = plan_orders(pred, tables.read_products(d / "md" / "products.csv"), on_hand=tmp_path / "inv.csv")
    note = f"{tmp_path / 'inv.csv'}: 1 row(s) repeat the store_id, product_id and expiry_date of an earlier row " \
           f"and are added to it (first row 3: store_id=36, product_id=0)"  # fmt: skip
    assert note in twice.notes
    line = (twice.decisions.store_id == 36) & (twice.decisions.product_id == 0)
    assert once.decisions.loc[line, "on_hand"].iat[0] == pytest.approx(1.5)
    assert twice.decisions.loc[line, "on_hand"].iat[0] == pytest.approx(3.0)


def test_a_table_with_another_separator_is_named_so(tmp_path):
    (tmp_path / "inv.csv").write_text("store_id;product_id;on_hand;expiry_date\n36;0;1.5;2024-06-14\n")
    with pytest.raises(DataError, match="the header is one column, 'store_id;product_id;on_hand;expiry_date': CSV "
                                        "fields are separated by commas"):  # fmt: skip
        tables.read_on_hand(tmp_path / "inv.csv")


def test_the_api_checks_what_the_command_line_checks_and_names_each_table(files, tmp_path):
    """An ERP passing DataFrames gets the checks of the files, each error naming its table;
    settings the command line refuses are refused; the forecast's ids must be whole."""
    from freshcast.errors import FreshcastError
    from freshcast.forecast.backtest import backtest
    from freshcast.optimize.pricing import plan_prices

    d, pred = files
    products, terms = pd.read_csv(d / "products.csv"), pd.read_csv(d / "terms.csv")
    inventory = pd.read_csv(d / "inventory.csv")
    half = pred.assign(store_id=pred.store_id + 0.5)
    for bad, match in ((half, r"(?s)forecast <DataFrame>.*'store_id' is not a whole"),
                       (pred.assign(store_id=np.nan), r"'store_id' is empty"), (pred.iloc[:0], "holds no rows"),
                       (pred.assign(q50=pred.q50.astype(object).where(pred.index != 3, "n/a")),
                        r"(?s)'q50' is not a number.*row 4")):  # fmt: skip
        with pytest.raises(DataError, match=match):
            plan_orders(bad, products, terms, on_hand=inventory)
    broken = terms.assign(supplier_id=-1)
    with pytest.raises(DataError, match=r"^terms <DataFrame>"):
        plan_orders(pred, products, broken, on_hand=inventory)
    with pytest.raises(DataError, match=r"^products <DataFrame>"):
        plan_orders(pred, products.assign(supplier_id=-1), terms, on_hand=inventory)
    for budget in (-5.0, float("nan")):
        with pytest.raises(FreshcastError, match="budget must be a finite amount"):
            plan_orders(pred, products, terms, on_hand=inventory, budget=budget)
    labels = pred[["store_id", "product_id"]].drop_duplicates().assign(price=1.0)
    with pytest.raises(FreshcastError, match="ladder must rise from 0"):
        plan_prices(pred, products, inventory, labels, ladder=(0, 1.5))
    with pytest.raises(FreshcastError, match="max_changes must be a whole number"):
        plan_prices(pred, products, inventory, labels, max_changes=-1)

    history = load_history(d / "history.parquet")
    for settings, match in (({"n_estimators": 0}, "n_estimators: expected a whole number of at least 1"),
                            ({"max_horizon": 0}, "max_horizon: expected a whole number of at least 1"),
                            ({"seed": -1}, "seed: expected a whole number of at least 0"),
                            ({"windows": (0,)}, "windows: expected whole numbers of at least 1"),
                            ({"ewm_alphas": (2.0,)}, r"ewm_alphas: expected numbers in \(0, 1\]")):  # fmt: skip
        with pytest.raises(FreshcastError, match=match):
            DailyForecaster(**settings).fit(history)
    with pytest.raises(FreshcastError, match="not fitted"):
        DailyForecaster().save(tmp_path / "model")
    for folds, horizon in ((0, 7), (2, 0)):
        with pytest.raises(FreshcastError, match="folds and horizon must be at least 1"):
            backtest(history, folds=folds, horizon=horizon)


def test_the_api_refuses_arguments_of_the_wrong_kind_with_freshcast_errors_naming_them(files, tmp_path):
    """What an ERP may get wrong in a call (not a table, a number as text, the wrong result to
    write, a ladder out of range, a history too short for the horizon or the check) is a
    FreshcastError naming the argument; a history and a future given as DataFrames are named
    by their roles in data errors."""
    import pyarrow as pa

    from freshcast import api

    d, pred = files
    products, inventory = pd.read_csv(d / "products.csv"), pd.read_csv(d / "inventory.csv")
    labels = pred[["store_id", "product_id"]].drop_duplicates().assign(price=1.0)
    history = pd.read_parquet(d / "history.parquet")
    future = pd.read_parquet(d / "future.parquet")
    po = api.plan_orders(pred, products, inventory)
    for call, match in (
        (lambda: api.plan_orders(pred, None, inventory), "^products: expected a path .* got NoneType"),
        (lambda: api.plan_orders(pred, products, inventory, terms={"a": 1}), "^terms: expected a path .* got dict"),
        (lambda: api.plan_prices(pred, products, inventory, labels, evening_hour="19"),
         "^the evening hour must be a whole hour from 7 to 23, got '19'"),
        (lambda: api.plan_prices(pred, products, inventory, labels, ladder=(0, 10, 200)), r"^ladder: percents off"),
        (lambda: api.plan_prices(pred, products, inventory, labels, response={}), "^response: expected the folder"),
        (lambda: api.write_price_labels(po, tmp_path / "labels"), "takes the PricePlan that plan_prices returns"),
        (lambda: api.write_purchase_orders(labels, tmp_path / "po"), "takes the PurchaseOrders that plan_orders"),
        (lambda: api.backtest(history, folds="3"), r"^folds: expected a whole number of at least 1, got '3'"),
        (lambda: api.backtest(history, horizon=40), "too short for 3 folds of 40 days .each keeps 80 days to train on, "
                                                   "the last 40 to calibrate the quantiles"),
        (lambda: api.plan_orders(pred, products, inventory, timezone=None), "^timezone: expected an IANA"),
        (lambda: api.plan_orders(pred, products, inventory, budget="10"), "budget must be a finite amount"),
        (lambda: api.forecast(history, future, column_map="x"), "^column_map: expected a dict"),
        (lambda: api.price_response(history, tmp_path / "response", holdout_days=500),
         "^history <DataFrame>: holdout_days 500 holds back the whole history"),
        (lambda: api.forecast(history, future.drop(columns="discount")), "^future <DataFrame>: "),
        (lambda: api.forecast(pa.Table.from_pandas(history.assign(hourly_sale=-1.0)), future), "^history <Table>: "),
    ):  # fmt: skip
        with pytest.raises(FreshcastError, match=match):
            call()
    assert history.attrs == {} and not (tmp_path / "labels").exists() and not (tmp_path / "response").exists()
    assert api.plan_orders(pred, products, None).decisions.equals(plan_orders(pred, products).decisions)  # no stock
    pd.testing.assert_frame_equal(api.plan_prices(pred, products, inventory, labels, evening_hour=19.0).decisions,
                                  api.plan_prices(pred, products, inventory, labels, evening_hour=19).decisions)


def test_long_ids_and_fine_decimals_reach_the_edifact_orders_as_in_po_lines(files, tmp_path):
    """GLN-length ids: every po_id fits EDIFACT's 35 characters and each interchange has its own
    control reference; quantities, case packs and prices are written as po_lines holds them."""
    from freshcast.api import write_purchase_orders

    d, pred = files
    big_store, big_supplier = 98765432100000, 1234567890000
    products = pd.read_csv(d / "products.csv")
    products = products.assign(supplier_id=products.supplier_id + big_supplier, case_pack=0.0625, unit_cost=0.60738)
    terms = pd.read_csv(d / "terms.csv")
    terms = terms.assign(store_id=terms.store_id + big_store, supplier_id=terms.supplier_id + big_supplier)
    inventory = pd.read_csv(d / "inventory.csv").assign(store_id=lambda t: t.store_id + big_store)
    po = plan_orders(pred.assign(store_id=pred.store_id + big_store), products, terms, on_hand=inventory)
    write_purchase_orders(po, tmp_path / "po")
    assert len(po.headers) > 1 and po.headers.po_id.str.len().max() <= 35 and po.headers.po_id.is_unique
    references, documents, values = [], [], []
    for path in sorted((tmp_path / "po" / "edi").glob("*.edi")):
        segments = path.read_text().split("'\n")
        references.append(next(s for s in segments if s.startswith("UNB+")).split("+")[-1])
        assert segments[-2].split("+")[-1] == references[-1]  # UNZ closes with the same reference
        documents += [s.split("+")[2] for s in segments if s.startswith("BGM+")]
        values += [s.split(":")[1] for s in segments if s.startswith(("QTY+21:", "QTY+59:", "PRI+AAA:"))]
    assert len(set(references)) == len(references) == po.headers.supplier_id.nunique()
    assert all(len(r) <= 14 for r in references) and sorted(documents) == sorted(po.headers.po_id)
    lines = po.lines.sort_values(["po_id", "product_id"])
    expected = np.c_[lines.order_qty, lines.case_pack, lines.unit_cost].ravel()
    assert sorted(map(float, values)) == sorted(expected.tolist())  # 0.5625 units of 0.0625 at 0.60738
    assert (np.round(lines.order_qty / 0.0625, 6) % 1 == 0).all()
    with pytest.raises(FreshcastError, match="buyer id"):
        write_purchase_orders(po, tmp_path / "po2", buyer_id="東京ストア")
    assert not (tmp_path / "po2").exists()
    # syntax UNOC: the interchange's bytes are Latin-1, whatever the ids hold
    write_purchase_orders(po, tmp_path / "po3", buyer_id="Größe")
    raw = next((tmp_path / "po3" / "edi").glob("*.edi")).read_bytes()
    assert b"UNB+UNOC:3+Gr\xf6\xdfe+" in raw and raw.decode("latin-1").startswith("UNA:+.? '\nUNB+UNOC:3+Größe+")
    from freshcast.documents.edifact import check_ids

    lines = po.lines.assign(product_id=po.lines.product_id.astype(str))
    lines.loc[lines.index[-1], "product_id"] = "北京-7"
    with pytest.raises(FreshcastError, match="product_id '北京-7': the EDIFACT orders \\(syntax UNOC\\) carry only"):
        check_ids(po.headers, lines)


def test_a_day_no_line_can_order_and_stock_the_planner_should_check(files, tmp_path):
    """No supplier orders on the day: the tables keep their column types, and a note says
    why; lines missing from the inventory, stock dated beyond its shelf life and time-zone
    aware expiry timestamps (dated in the stores' zone) are noted or dated as plan_prices
    does; an order weekday given as a number, a stand-in date and quantile columns named as
    fractions are refused."""
    from freshcast.api import write_purchase_orders

    d, pred = files
    products, terms = pd.read_csv(d / "products.csv"), pd.read_csv(d / "terms.csv")
    inventory = pd.read_csv(d / "inventory.csv")
    normal = plan_orders(pred, products, terms, on_hand=inventory)
    write_purchase_orders(normal, tmp_path / "normal")
    thursday = plan_orders(pred, products, terms.assign(order_weekdays="Mon,Wed,Fri"), on_hand=inventory,
                           order_date="2024-06-13")  # fmt: skip
    assert thursday.decisions.empty and any("no line can order on 2024-06-13 (Thursday)" in n for n in thursday.notes)
    write_purchase_orders(thursday, tmp_path / "thursday")
    import pyarrow.parquet as pq

    for name in ("po_headers", "po_lines", "decisions"):
        assert pq.read_schema(tmp_path / "thursday" / f"{name}.parquet").equals(
            pq.read_schema(tmp_path / "normal" / f"{name}.parquet"), check_metadata=False)
    n = len(pred[["store_id", "product_id"]].drop_duplicates())
    assert any(f"{n - len(inventory)} of {n} store x product line(s) of the forecast have no inventory row" in note
               for note in normal.notes)  # fmt: skip
    far = plan_orders(pred, products, terms, on_hand=inventory.assign(expiry_date="2042-06-13"))
    assert any(f"{len(inventory)} row(s) expire more than the product's shelf_life_days" in note for note in far.notes)
    with pytest.raises(DataError, match=r"'expiry_date' is not between 1990 and 2199 .*expiry_date='1970-01-01'"):
        plan_orders(pred, products, terms, on_hand=inventory.assign(expiry_date="1970-01-01"))

    evening = inventory.assign(expiry_date=pd.Timestamp("2024-06-12T20:00:00Z"))  # 06-13 04:00 in Shanghai
    local = [plan_orders(pred, products, terms, on_hand=stock, timezone="Asia/Shanghai").decisions
             for stock in (evening, inventory.assign(expiry_date="2024-06-13"))]  # fmt: skip
    pd.testing.assert_frame_equal(*local)
    utc = plan_orders(pred, products, terms, on_hand=evening).decisions
    assert utc.order_qty.sum() > local[0].order_qty.sum()  # dated 06-12 in UTC: a day less to sell it
    from freshcast import api

    pd.testing.assert_frame_equal(api.plan_orders(pred, products, evening, terms=terms,
                                                  timezone="Asia/Shanghai").decisions, local[0])  # fmt: skip
    for zone in ("Mars/Base", "America"):  # "America" is a folder of the zone database
        with pytest.raises(FreshcastError, match="IANA time zone"):
            plan_orders(pred, products, terms, on_hand=inventory, timezone=zone)
    # a forecast whose days an ERP stored as time-zone aware timestamps (the stores' midnights in UTC)
    stored = pred.assign(dt=pd.to_datetime(pred.dt).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC"))
    plain = plan_orders(pred, products, terms, on_hand=inventory, timezone="Asia/Shanghai")
    aware = plan_orders(stored, products, terms, on_hand=inventory, timezone="Asia/Shanghai")
    pd.testing.assert_frame_equal(aware.decisions, plain.decisions)
    assert (plan_orders(stored, products, terms, on_hand=inventory).headers.order_date
            < plain.headers.order_date.iat[0]).all()  # dated in UTC: each day the one before
    own = pred.assign(dt=pd.to_datetime(pred.dt).dt.tz_localize("Asia/Shanghai"))  # midnights: their own days
    for zone in ("UTC", "Asia/Shanghai", "America/New_York"):
        pd.testing.assert_frame_equal(plan_orders(own, products, terms, on_hand=inventory, timezone=zone).decisions,
                                      plan_orders(pred, products, terms, on_hand=inventory, timezone=zone).decisions)
    read = tables.read_terms(terms)  # bit masks, marked: read again as they are, new text parsed
    assert tables.read_terms(read).order_weekdays.tolist() == read.order_weekdays.tolist()
    assert (tables.read_terms(read.assign(order_weekdays="Tue,Thu")).order_weekdays == 0b1010).all()
    unknown = pd.DataFrame({"store_id": [999, 999], "product_id": [1, 2], "on_hand": 1.0, "expiry_date": "2024-06-13"})
    first = inventory.iloc[:1].assign(expiry_date="2042-06-13")
    noted = plan_orders(pred, products, terms, on_hand=pd.concat([unknown, first, inventory.iloc[1:]]))
    assert any("1 row(s) expire more than" in n and "(first row 3: " in n for n in noted.notes)  # its own row

    terms.assign(order_weekdays=3).to_parquet(tmp_path / "terms.parquet")
    with pytest.raises(DataError, match=r"'order_weekdays' is not 'daily' or weekdays like Mon,Wed,Fri"):
        plan_orders(pred, products, tmp_path / "terms.parquet", on_hand=inventory)
    fractions = pred.rename(columns={"q10": "q0.1", "q50": "q0.5", "q90": "q0.9"})
    with pytest.raises(DataError, match=r"would be the 0.1%, 0.5%, 0.9% quantiles: quantile columns are named by "):
        plan_orders(fractions, products, terms, on_hand=inventory)
    fractions.rename(columns={"q0.9": "q150"}).to_parquet(tmp_path / "pred.parquet")
    with pytest.raises(DataError, match=r"pred\.parquet(?s:.*)column\(s\) q150: a quantile column is q<percent>"):
        plan_orders(tmp_path / "pred.parquet", products, terms, on_hand=inventory)


def test_gs1_codes_write_glns_and_gtins_each_checked_by_its_check_digit(files, tmp_path):
    """EANCOM 1997: the interchange's parties are GLNs (13 digits, a leading zero an integer id
    dropped put back) with agency 9, its products GTINs (:EN) in their 13-digit form, the sender
    and recipient qualified 14, UNH ORDERS:D:96A:UN:EAN008; an id whose check digit is wrong is
    refused naming it, and nothing is written. The published examples' keys pass the check."""
    from pydifact.segmentcollection import Interchange

    from freshcast.api import write_purchase_orders
    from freshcast.documents.edifact import gs1_check_digit, gs1_key

    for key in ("5412345000013", "4012345500004", "4000862141404"):  # EANCOM's examples
        assert gs1_key(int(key), "GLN") == key and gs1_key(key, "GTIN") == key
        with pytest.raises(ValueError, match=f"check digit of the others \\(that would be {key[-1]}\\)"):
            gs1_key(key[:-1] + str((int(key[-1]) + 1) % 10), "GLN")

    def key(body: str) -> int:
        return int(body + str(gs1_check_digit(body)))

    d, pred = files
    stores = {s: key(f"40{s:010d}") for s in pred.store_id.unique()}
    goods = {p: key(f"6{p:010d}") for p in pred.product_id.unique()}  # 12-digit GTINs (UPC-A)
    products = pd.read_csv(d / "products.csv")
    suppliers = {s: key(f"0614141{s:05d}") for s in products.supplier_id.unique()}  # 0... GLNs: 12 as integers
    products = products.assign(product_id=products.product_id.map(goods),
                               supplier_id=products.supplier_id.map(suppliers))  # fmt: skip
    terms = pd.read_csv(d / "terms.csv").assign(store_id=lambda t: t.store_id.map(stores),
                                                supplier_id=lambda t: t.supplier_id.map(suppliers))  # fmt: skip
    inventory = pd.read_csv(d / "inventory.csv").assign(store_id=lambda t: t.store_id.map(stores),
                                                        product_id=lambda t: t.product_id.map(goods))  # fmt: skip
    po = plan_orders(pred.assign(store_id=pred.store_id.map(stores), product_id=pred.product_id.map(goods)),
                     products, terms, on_hand=inventory)  # fmt: skip
    write_purchase_orders(po, tmp_path / "gs1", buyer_id=5412345000013, edi_codes="gs1")
    write_purchase_orders(po, tmp_path / "own")
    files_gs1 = sorted((tmp_path / "gs1" / "edi").glob("*.edi"))
    assert len(files_gs1) == po.headers.supplier_id.nunique() > 1
    for path, plain in zip(files_gs1, sorted((tmp_path / "own" / "edi").glob("*.edi")), strict=True):
        segments, before = path.read_text().split("'\n"), plain.read_text().split("'\n")
        supplier = next(s for s in segments if s.startswith("UNB+")).split("+")[3]
        assert supplier.endswith(":14") and len(supplier) == 16 and supplier.startswith("0614141")
        assert segments[1].startswith(f"UNB+UNOC:3+5412345000013:14+{supplier}+")
        assert {s.split("+", 2)[2] for s in segments if s.startswith("UNH+")} == {"ORDERS:D:96A:UN:EAN008"}
        nad = [s.split("+")[2] for s in segments if s.startswith("NAD+")]
        assert nad and all(n.endswith("::9") and len(n) == 16 and gs1_key(n[:13], "GLN") for n in nad)
        assert {n[:13] for n in nad} >= {supplier[:13]} and {n[:13] for n in nad} - {supplier[:13]} <= {
            str(g) for g in stores.values()}  # fmt: skip
        tags = [s[:3] for s in segments]
        first = tags.index("LIN")
        assert tags[first:first + 5] == ["LIN", "QTY", "QTY", "MOA", "PRI"]  # a line's MOA before its price group
        lin = [s.split("+")[3] for s in segments if s.startswith("LIN+")]
        assert all(i.endswith(":EN") and i.startswith("06") and len(i) == 16 for i in lin)
        assert {int(i[:13]) for i in lin} <= set(goods.values())
        # the same interchange as with the buyer's own codes but for the ids' segments
        assert [s for s in segments if not s.startswith(("UNB", "UNH", "NAD", "LIN"))] == [
            s for s in before if not s.startswith(("UNB", "UNH", "NAD", "LIN"))]  # fmt: skip
        assert len(segments) == len(before)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            messages = list(Interchange.from_str(path.read_text()).get_messages())
        assert len(messages) == int(segments[-2].split("+")[1])  # UNZ's count
    # a nightly revision's cancellation (the store as its record keeps it, text) names the same GLNs
    from freshcast.documents.purchase_orders import po_digests, write_revision

    supplier = str(po.headers.supplier_id.iat[0])
    mine = {k: e for k, e in po_digests(po.headers, po.lines).items() if e[0] == supplier}
    gone = {"PO-gone": [supplier, str(stores[pred.store_id.iat[0]]), "2024-06-12", "0"]}
    revision = write_revision(po.headers, po.lines, "5412345000013", tmp_path / "rev", supplier, mine,
                              {**mine, **gone}, set(mine), 1, codes="gs1").read_text().split("'\n")  # fmt: skip
    with pytest.raises(FreshcastError, match="store_id '36' is not a GLN"):  # a record of an export in own codes
        write_revision(po.headers, po.lines, "5412345000013", tmp_path / "rev", supplier, mine,
                       {**mine, "PO-own": [supplier, "36", "2024-06-12", "0"]}, set(mine), 1, codes="gs1")  # fmt: skip
    assert [s for s in revision if s.startswith(("BGM", "NAD"))] == [
        "BGM+220+PO-gone+1", f"NAD+BY+{stores[pred.store_id.iat[0]]}::9", f"NAD+SU+{int(supplier):013d}::9",
        f"NAD+DP+{stores[pred.store_id.iat[0]]}::9"]  # fmt: skip
    wrong = po.lines.assign(product_id=po.lines.product_id + (po.lines.index == po.lines.index[-1]))
    bad = type(po)(po.headers, wrong, po.decisions, po.notes)
    with pytest.raises(FreshcastError, match="product_id '6\\d+' is not a GTIN: its last digit is not the GS1 check"):
        write_purchase_orders(bad, tmp_path / "bad", buyer_id=5412345000013, edi_codes="gs1")
    idle = po.decisions.order_qty.eq(0).to_numpy().argmax()  # a line that orders nothing today is checked too
    assert po.decisions.order_qty.iat[idle] == 0
    quiet = type(po)(po.headers, po.lines, po.decisions.assign(product_id=po.decisions.product_id.where(
        po.decisions.index != po.decisions.index[idle], 6000000000017)), po.notes)  # fmt: skip
    with pytest.raises(FreshcastError, match="product_id '6000000000017' is not a GTIN: its last digit"):
        write_purchase_orders(quiet, tmp_path / "bad", buyer_id=5412345000013, edi_codes="gs1")
    for short in (17, "0000000000017", 1234565):  # check digits right, but no GS1 key is that short
        with pytest.raises(ValueError, match=r"is not a GLN \(13 digits; \d without its leading zeros\)"):
            gs1_key(short, "GLN")
    assert gs1_key(96385074, "GTIN") == "0000096385074"  # a GTIN-8
    assert gs1_key("00614141000012", "GTIN") == "0614141000012" and gs1_key(10614141000019, "GTIN") == "10614141000019"
    with pytest.raises(FreshcastError, match="the buyer id 'FRESHCAST' is not a GLN"):
        write_purchase_orders(po, tmp_path / "bad", edi_codes="gs1")
    with pytest.raises(FreshcastError, match="the EDI codes must be one of own, gs1, got 'GS1'"):
        write_purchase_orders(po, tmp_path / "bad", edi_codes="GS1")
    assert not (tmp_path / "bad").exists()


def test_plan_orders_with_gs1_codes_refuses_ids_that_are_not_gs1_keys(files, tmp_path):
    d, _ = files
    res = _run(d, tmp_path / "a", "--edi-codes", "gs1")
    assert res.exit_code == 2 and "--buyer-id" in res.output and "is not a GLN" in res.output
    res = _run(d, tmp_path / "a", "--edi-codes", "gs2", "--buyer-id", "5412345000013")
    assert res.exit_code == 2 and "--edi-codes" in res.output
    res = _run(d, tmp_path / "a", "--edi-codes", "gs1", "--buyer-id", "5412345000013")
    assert res.exit_code == 1 and "store_id" in res.output and "is not a GLN" in res.output, res.output
    assert not (tmp_path / "a").exists()
