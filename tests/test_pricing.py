import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import unboxed
from freshcast.cli import app
from freshcast.errors import FreshcastError
from freshcast.forecast.distribution import ForecastDistribution
from freshcast.optimize.pricing import CHANGE_COLUMNS, plan_prices

DAY0 = pd.Timestamp("2024-06-12")


def inputs(tmp_path, n_stores=2, n_products=6, stock_scale=2.0, seed=0):
    """Forecast (4 days), products, stock and labels files for a small chain."""
    rng = np.random.default_rng(seed)
    stores, products = np.repeat(np.arange(n_stores), n_products), np.tile(100 + np.arange(n_products), n_stores)
    mean = rng.uniform(2, 6, (len(stores), 4)).astype(np.float32)
    levels = (0.1, 0.5, 0.9)
    q = (mean[:, :, None] * np.array([0.6, 1.0, 1.4], np.float32)).astype(np.float32)
    dist = ForecastDistribution(stores.astype(np.int64), products.astype(np.int64),
                                int(DAY0.value // 86_400_000_000_000), mean, levels, q)  # fmt: skip
    dist.to_frame().to_parquet(tmp_path / "pred.parquet")
    pd.DataFrame({
        "product_id": 100 + np.arange(n_products), "shelf_life_days": 3, "case_pack": 1.0, "min_order_qty": 0.0,
        "unit_cost": 0.6, "regular_price": 1.0, "salvage_value": 0.0, "supplier_id": 1,
        "first_category_id": np.arange(n_products) % 3 + 4,
    }).to_csv(tmp_path / "products.csv", index=False)  # fmt: skip
    stock = pd.DataFrame({
        "store_id": np.r_[stores, stores], "product_id": np.r_[products, products],
        "on_hand": np.r_[mean[:, 0] * stock_scale * rng.uniform(0.5, 1.5, len(stores)), mean[:, 1]],
        "expiry_date": [DAY0.date()] * len(stores) + [(DAY0 + pd.Timedelta(days=2)).date()] * len(stores),
    })  # fmt: skip
    stock.to_csv(tmp_path / "stock.csv", index=False)
    pd.DataFrame({"store_id": stores, "product_id": products, "price": 1.0}).to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


def args(d, out="prices", *extra):
    return ["plan-prices", "--forecast", str(d / "pred.parquet"), "--products", str(d / "products.csv"),
            "--inventory", str(d / "stock.csv"), "--labels", str(d / "labels.csv"), "--out", str(d / out), *extra]  # fmt: skip


def files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_feed_written_and_rerun_byte_identical(tmp_path):
    d = inputs(tmp_path)
    run = CliRunner().invoke(app, args(d, "prices", "--evening-hour", "19", "--timezone", "Europe/Berlin"))
    assert run.exit_code == 0, run.output
    changes = pd.read_parquet(d / "prices" / "price_changes.parquet")
    assert tuple(changes.columns) == CHANGE_COLUMNS and len(changes) > 0
    assert (changes.new_price <= changes.regular_price + 1e-12).all()
    assert np.allclose(changes.markdown_pct, np.round((1 - changes.new_price / changes.regular_price) * 100, 2))
    assert changes.valid_from.str.endswith("+02:00").all()  # June in Berlin
    assert changes.change_id.is_unique
    later, both = set(), set()
    for store in changes.store_id.unique():
        neutral = json.loads((d / "prices" / "esl" / f"{store}.json").read_text())
        vusion = d / "prices" / "esl" / "vusion"
        sends = {p.parent.name: json.loads(p.read_text()) for p in vusion.rglob(f"{store}.json")}
        assert len(neutral["changes"]) == sum(map(len, sends.values())) == int((changes.store_id == store).sum())
        mine = changes[changes.store_id == store].set_index("change_id")
        for c in neutral["changes"]:  # a revert: valid until changed, no batch (null, not "")
            row = mine.loc[c["change_id"]]
            assert c["valid_to"] == (row.valid_to or None) and c["expiry_date"] == (row.expiry_date or None)
        for at, items in sends.items():  # a file per moment to send, each label once in it
            assert len({item["id"] for item in items}) == len(items)
            assert all("promotion" in item for item in items if item["price"] < 1.0)
            if at != "vusion":  # sent later: the evening step, from its hour
                later.add(at)
                assert at == "2024-06-12T1900"
                assert all(i["promotion"]["start"] == "2024-06-12T19:00:00+02:00" for i in items)
        now = {i["id"] for i in sends["vusion"]}
        both |= {i["id"] for at, items in sends.items() if at != "vusion" for i in items} & now
    assert later and both  # lines marked down for the day and again from 19:00, one object in each file
    decisions = pd.read_parquet(d / "prices" / "decisions.parquet")
    assert len(decisions) == 12 and decisions.reason.str.len().gt(0).all()
    before = files(d / "prices")
    assert CliRunner().invoke(app, args(d, "prices", "--evening-hour", "19", "--timezone", "Europe/Berlin")).exit_code == 0
    assert files(d / "prices") == before


def test_nothing_at_risk_gives_an_empty_feed(tmp_path):
    d = inputs(tmp_path, stock_scale=0.05)
    stock = pd.read_csv(d / "stock.csv")
    stock.loc[stock.expiry_date != str(DAY0.date()), "on_hand"] = 0.1
    stock.to_csv(d / "stock.csv", index=False)
    run = CliRunner().invoke(app, args(d, "prices", "--evening-hour", "19"))
    assert run.exit_code == 0, run.output
    assert len(pd.read_parquet(d / "prices" / "price_changes.parquet")) == 0
    assert not (d / "prices" / "esl").exists()


def test_markdown_of_a_gone_batch_ends_and_one_of_an_unknown_batch_stays(tmp_path):
    d = inputs(tmp_path, stock_scale=0.05)
    labels = pd.read_csv(d / "labels.csv")
    labels["price"] = [0.8, 0.8] + [1.0] * (len(labels) - 2)
    labels["expiry_date"] = ["2024-06-10", ""] + [""] * (len(labels) - 2)
    labels.to_csv(d / "labels.csv", index=False)
    plan = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    first, second = plan.decisions.iloc[0], plan.decisions.iloc[1]
    assert first.new_price == 1.0 and first.reason == "markdown ended: its batch is gone"
    assert second.new_price <= 0.8 + 1e-12  # never raised without knowing its stock is gone
    assert ((plan.changes.product_id == first.product_id) & (plan.changes.store_id == first.store_id)).sum() == 1
    assert any("without the expiry date" in n for n in plan.notes)


def test_products_that_cost_more_than_their_price_are_noted_in_the_price_plan_too(tmp_path):
    d = inputs(tmp_path)
    plain = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    assert not any("cost more than their regular price" in n or "supplier terms" in n for n in plain.notes)
    products = pd.read_csv(d / "products.csv")
    dear = int(products.product_id.iat[0])
    products.loc[0, "unit_cost"] = 2 * products.loc[0, "regular_price"]
    products.to_csv(d / "products.csv", index=False)
    noted = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    assert [n for n in noted.notes if n not in plain.notes] == [
        f"{d / 'products.csv'}: 1 product(s) of the forecast cost more than their regular price (unit_cost above "
        f"regular_price, e.g. product_id={dear}): every unit sold at that price loses money; check the table"]


def test_a_markdown_kept_for_the_next_batch_is_sent_again_and_one_for_a_later_batch_resumes(tmp_path):
    """The feed's validity follows the batch: a markdown whose batch is gone, chosen again at
    the same price for the next batch, is written with that batch's validity; a markdown in
    force for a later batch comes back when a deeper one for an earlier batch ends."""
    d = inputs(tmp_path, n_products=10, stock_scale=3.0)
    first = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv").decisions
    marked = first.new_price < first.regular_price
    assert marked.sum() >= 3
    labels = pd.read_csv(d / "labels.csv")
    labels["price"] = first.new_price.to_numpy()
    labels["expiry_date"] = np.where(marked, str((DAY0 - pd.Timedelta(days=1)).date()), "")
    labels.to_csv(d / "labels.csv", index=False)
    again = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    same = marked & (again.decisions.new_price == first.new_price)
    assert same.sum() >= 3 and again.decisions.markdown_ended[marked].all()
    sent = again.changes.set_index(["store_id", "product_id"])
    for r in again.decisions[same].itertuples():
        row = sent.loc[(r.store_id, r.product_id)]
        assert row.new_price == r.new_price and row.expiry_date == str(pd.Timestamp(r.batch_expiry).date())
        assert row.valid_to.startswith(str((pd.Timestamp(r.batch_expiry) + pd.Timedelta(days=1)).date()))

    later = DAY0 + pd.Timedelta(days=2)  # the inputs' second batch of every line
    labels["price"], labels["expiry_date"] = 0.9, str(later.date())
    labels.to_csv(d / "labels.csv", index=False)
    deeper = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    dec = deeper.decisions
    today = dec[(dec.new_price < 0.9 - 1e-9) & (dec.batch_expiry == DAY0)]
    assert len(today) >= 3 and not dec.markdown_ended.any()
    for r in today.itertuples():
        rows = deeper.changes[(deeper.changes.store_id == r.store_id) & (deeper.changes.product_id == r.product_id)]
        day, back = rows.iloc[0], rows.iloc[-1]
        assert day.new_price == r.new_price and day.valid_to == back.valid_from
        assert back.new_price == 0.9 and back.current_price == r.new_price and back.expiry_date == str(later.date())
        assert back.valid_from.startswith(str((DAY0 + pd.Timedelta(days=1)).date()))
        assert back.valid_to.startswith(str((later + pd.Timedelta(days=1)).date()))
    assert deeper.changes.change_id.is_unique
    from freshcast.api import write_price_labels

    write_price_labels(deeper, tmp_path / "feed")  # the resuming markdown is sent when the deeper one ends
    store = today.store_id.iat[0]
    resumes = json.loads((tmp_path / "feed" / "esl" / "vusion" / "2024-06-13T0000" / f"{store}.json").read_text())
    assert {i["id"] for i in resumes} >= {str(p) for p in today.product_id[today.store_id == store]}
    assert all(i["price"] == 0.9 and i["promotion"]["start"] == "2024-06-13T00:00:00+00:00" for i in resumes)


def test_label_changes_capped_per_store(tmp_path):
    d = inputs(tmp_path, n_products=10, stock_scale=3.0)
    free = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    capped = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv", max_changes=2)
    assert free.changes.groupby("store_id").size().max() > 2
    assert capped.changes.groupby("store_id").size().max() <= 2
    steps = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv", evening_hour=19)
    assert steps.changes.reason.str.startswith("evening").any()
    for cap in (1, 3):  # a day price and an evening step are two label changes
        capped = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv",
                             evening_hour=19, max_changes=cap)  # fmt: skip
        assert 0 < capped.changes.groupby("store_id").size().max() <= cap


def test_bad_tables_named(tmp_path):
    d = inputs(tmp_path)
    pd.read_csv(d / "labels.csv").drop(columns=["price"]).to_csv(d / "labels.csv", index=False)
    run = CliRunner().invoke(app, args(d))
    assert run.exit_code == 1 and "labels.csv" in run.output and "'price'" in run.output
    assert not (d / "prices").exists()
    (tmp_path / "b").mkdir()
    d = inputs(tmp_path / "b")
    labels = pd.read_csv(d / "labels.csv").assign(expiry_date="tomorrow")
    labels.to_csv(d / "labels.csv", index=False)
    with pytest.raises(FreshcastError, match="expiry_date"):
        plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    labels.drop(columns=["expiry_date"]).to_csv(d / "labels.csv", index=False)
    run = CliRunner().invoke(app, args(d, "p2", "--timezone", "Mars/Olympus"))
    assert run.exit_code == 2 and "time zone" in run.output
    run = CliRunner().invoke(app, args(d, "p3", "--ladder", "10,20"))
    assert run.exit_code == 2
    labels.loc[3, "price"] = 0.0  # a label that shows no price is a data error, not a 100% markdown
    labels.drop(columns=["expiry_date"]).to_csv(d / "labels.csv", index=False)
    run = CliRunner().invoke(app, args(d, "p4"))
    assert run.exit_code == 1 and "labels.csv" in run.output and "'price'" in run.output and "must be > 0" in run.output
    assert "row 4" in run.output and not (d / "p4").exists()


def test_a_label_above_the_regular_price_is_set_back(tmp_path):
    d = inputs(tmp_path, stock_scale=0.05)
    labels = pd.read_csv(d / "labels.csv")
    labels.loc[0, "price"] = 1.5
    labels.to_csv(d / "labels.csv", index=False)
    plan = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    row = plan.changes[(plan.changes.store_id == labels.store_id[0]) & (plan.changes.product_id == labels.product_id[0])]
    assert len(row) == 1 and row.current_price.iat[0] == 1.5 and row.new_price.iat[0] == 1.0
    assert any("more than the regular price" in n for n in plan.notes)


def test_the_evening_run_marks_down_only_what_expires_tonight(tmp_path):
    """`--at-evening-hour`: with the stock left at the evening hour, only evening steps (from
    that hour, deeper than the label shows) on lines whose units expire tonight; more stock
    left never a shallower one; the evening hour is required."""
    d = inputs(tmp_path, stock_scale=3.0)
    stock = pd.read_csv(d / "stock.csv")
    none_tonight = (stock.product_id <= 101) & (stock.expiry_date == str(DAY0.date()))
    stock.loc[none_tonight, "on_hand"] = 0.0
    stock.to_csv(d / "stock.csv", index=False)
    labels = pd.read_csv(d / "labels.csv")
    labels["expiry_date"] = ""
    labels.loc[labels.product_id == 103, ["price", "expiry_date"]] = [0.9, str(DAY0.date())]  # a day markdown in force
    labels.to_csv(d / "labels.csv", index=False)
    run = CliRunner().invoke(app, args(d, "evening", "--evening-hour", "19", "--at-evening-hour"))
    assert run.exit_code == 0, run.output
    changes = pd.read_parquet(d / "evening" / "price_changes.parquet")
    assert len(changes) > 0 and changes.valid_from.str.contains("T19:00:00").all()
    assert (changes.new_price < changes.current_price - 1e-9).all()
    assert not changes.product_id.isin([100, 101]).any()
    shown = changes.merge(labels, on=["store_id", "product_id"])
    assert np.allclose(shown.current_price, shown.price)
    sent = [p.relative_to(d / "evening" / "esl" / "vusion") for p in (d / "evening" / "esl" / "vusion").rglob("*.json")]
    assert sorted(str(p) for p in sent) == sorted(f"{s}.json" for s in changes.store_id.unique())  # to send at 19:00

    def depth(scale):
        s = stock.copy()
        s.loc[s.expiry_date == str(DAY0.date()), "on_hand"] *= scale
        plan = plan_prices(d / "pred.parquet", d / "products.csv", s, d / "labels.csv", evening_hour=19,
                           at_evening_hour=True)  # fmt: skip
        return plan.decisions.evening_markdown_pct.fillna(0).to_numpy()

    few, many = depth(0.1), depth(1.0)
    assert (many >= few - 1e-9).all() and many.sum() > few.sum()
    with pytest.raises(FreshcastError, match="evening hour"):
        plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv", at_evening_hour=True)
    run = CliRunner().invoke(app, args(d, "nope", "--at-evening-hour"))
    assert run.exit_code == 2 and "needs --evening-hour" in unboxed(run.output) and not (d / "nope").exists()


def test_an_evening_run_ending_a_gone_markdown_sends_each_label_once(tmp_path):
    """At the evening hour a line whose markdown's batch is gone gets two changes from that
    hour (the end of the markdown and the evening step): the Vusion file holds the evening step."""
    from freshcast.api import write_price_labels

    d = inputs(tmp_path, n_stores=1, n_products=3, stock_scale=3.0)
    labels = pd.read_csv(d / "labels.csv")
    labels["price"], labels["expiry_date"] = 0.8, str((DAY0 - pd.Timedelta(days=1)).date())
    labels.to_csv(d / "labels.csv", index=False)
    plan = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv", evening_hour=19,
                       at_evening_hour=True)  # fmt: skip
    twice = plan.changes.product_id.value_counts()
    assert (twice == 2).any()
    write_price_labels(plan, tmp_path / "feed")
    items = json.loads((tmp_path / "feed" / "esl" / "vusion" / "0.json").read_text())
    assert sorted(i["id"] for i in items) == sorted(str(p) for p in twice.index)
    evening = plan.changes[plan.changes.reason.str.startswith("evening")].set_index("product_id").new_price
    for item in items:
        if int(item["id"]) in evening.index:
            assert item["price"] == evening[int(item["id"])] and item["promotion"]["end"].startswith("2024-06-13T00:00")


def test_the_morning_before_an_evening_run_writes_no_evening_step(tmp_path):
    """`--evening-later`: the same day prices as a morning run with the evening step, and no
    evening step in the feed."""
    d = inputs(tmp_path, stock_scale=3.0)
    assert CliRunner().invoke(app, args(d, "both", "--evening-hour", "19")).exit_code == 0
    run = CliRunner().invoke(app, args(d, "later", "--evening-hour", "19", "--evening-later"))
    assert run.exit_code == 0, run.output
    both, later = (pd.read_parquet(d / f / "decisions.parquet") for f in ("both", "later"))
    assert both.evening_price.notna().any() and later.evening_price.isna().all()
    assert np.array_equal(both.new_price, later.new_price)
    changes = pd.read_parquet(d / "later" / "price_changes.parquet")
    assert len(changes) > 0 and changes.valid_from.str.contains("T00:00:00").all()


def test_a_markdown_between_ladder_steps_is_never_raised(tmp_path):
    d = inputs(tmp_path, stock_scale=0.05)
    labels = pd.read_csv(d / "labels.csv")
    labels["expiry_date"] = str((DAY0 + pd.Timedelta(days=2)).date())  # the batch still on hand
    labels.loc[0, "price"] = 0.85  # 15% off: between the ladder's 10% and 20%
    labels.to_csv(d / "labels.csv", index=False)
    for extra in ((), ("--evening-hour", "19", "--at-evening-hour")):
        run = CliRunner().invoke(app, args(d, "p", *extra))
        assert run.exit_code == 0, run.output
        decisions = pd.read_parquet(d / "p" / "decisions.parquet")
        assert decisions.new_price.iloc[0] == pytest.approx(0.85)
        changes = pd.read_parquet(d / "p" / "price_changes.parquet")
        first = (changes.store_id == labels.store_id[0]) & (changes.product_id == labels.product_id[0])
        assert (changes.new_price[first] < 0.85).all()


def test_empty_stock_or_labels_refused_and_labels_of_unknown_lines_said(tmp_path):
    """A stock or labels table with a header and no rows (an export that came out empty) is
    refused naming the file, nothing written; labels of lines the forecast does not cover are
    left out with a note, and a label's own line keeps the price it shows."""
    d = inputs(tmp_path)
    stock, labels = pd.read_csv(d / "stock.csv"), pd.read_csv(d / "labels.csv")
    stock.head(0).to_csv(d / "stock.csv", index=False)
    run = CliRunner().invoke(app, args(d))
    assert run.exit_code == 1 and f"{d / 'stock.csv'}: holds no rows" in run.output and not (d / "prices").exists()
    stock.to_csv(d / "stock.csv", index=False)
    labels.head(0).to_csv(d / "labels.csv", index=False)
    run = CliRunner().invoke(app, args(d))
    assert run.exit_code == 1 and f"{d / 'labels.csv'}: holds no rows" in run.output and not (d / "prices").exists()
    labels.loc[0, "price"] = 0.8
    stray = pd.DataFrame({"store_id": [999], "product_id": [100], "price": [0.5]})
    pd.concat([labels, stray]).to_csv(d / "labels.csv", index=False)
    plan = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv")
    note = f"{d / 'labels.csv'}: 1 row(s) for store x product lines without a forecast are not used " \
           f"(first row {len(labels) + 1}: store_id=999, product_id=100)"  # fmt: skip
    assert note in plan.notes
    first = plan.decisions.iloc[0]
    assert (first.store_id, first.product_id, first.current_price) == (labels.store_id[0], labels.product_id[0], 0.8)


def test_infinite_numbers_refused_empty_feed_typed_and_dates_of_parquet_labels(tmp_path):
    """An infinite stock is refused with its row; a feed without changes keeps the column
    types of one with changes; a Parquet label's missing expiry date (a null) means none;
    aware expiry timestamps are dated in the stores' time zone."""
    d = inputs(tmp_path)
    stock = pd.read_csv(d / "stock.csv")
    bad = stock.assign(on_hand=stock.on_hand.where(stock.index != 2, np.inf))
    bad.to_csv(d / "inf.csv", index=False)
    with pytest.raises(FreshcastError, match=r"on_hand.*infinite.*row 3"):
        plan_prices(d / "pred.parquet", d / "products.csv", d / "inf.csv", d / "labels.csv")
    run = CliRunner().invoke(app, args(d, "none", "--max-changes", "0"))
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(app, args(d, "some"))
    assert run.exit_code == 0, run.output
    empty, some = (pd.read_parquet(d / name / "price_changes.parquet") for name in ("none", "some"))
    assert len(empty) == 0 < len(some)
    assert empty.dtypes.astype(str).tolist() == some.dtypes.astype(str).tolist()

    labels = pd.read_csv(d / "labels.csv")
    labels["price"] = [0.8] + [1.0] * (len(labels) - 1)
    labels["expiry_date"] = pd.to_datetime([str(DAY0.date() - pd.Timedelta(days=1))] + [None] * (len(labels) - 1))
    labels.to_parquet(d / "labels.parquet")
    plan = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.parquet")
    assert plan.decisions.markdown_ended.tolist() == [True] + [False] * (len(labels) - 1)

    aware = stock.assign(expiry_date=(pd.to_datetime(stock.expiry_date) - pd.Timedelta(hours=9)).dt.tz_localize("UTC"))
    aware.to_parquet(d / "aware.parquet")  # Tokyo midnight written in UTC: the day before at 15:00
    local = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv",
                        timezone="Asia/Tokyo")  # fmt: skip
    utc = plan_prices(d / "pred.parquet", d / "products.csv", d / "aware.parquet", d / "labels.csv",
                      timezone="Asia/Tokyo")  # fmt: skip
    pd.testing.assert_frame_equal(utc.changes, local.changes)
    assert len(local.changes) > 0


def test_a_product_priced_by_batch_marks_down_its_oldest_batch_on_its_own_label(tmp_path):
    """With price_by_batch, the oldest batch is priced as if it were all the stock (its
    markdown does not price the fresher units), on a label named by its expiry date; a younger
    batch's label is left as it is and the label of a batch gone ends."""
    d = inputs(tmp_path, stock_scale=3.0)
    plain = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv", evening_hour=19)
    stock = pd.read_csv(d / "stock.csv")
    stock[stock.expiry_date == str(DAY0.date())].to_csv(d / "oldest.csv", index=False)
    alone = plan_prices(d / "pred.parquet", d / "products.csv", d / "oldest.csv", d / "labels.csv", evening_hour=19)
    products = pd.read_csv(d / "products.csv").assign(price_by_batch=1)
    products.to_csv(d / "by_batch.csv", index=False)
    later, gone = (str((DAY0 + pd.Timedelta(days=k)).date()) for k in (2, -1))
    labels = pd.read_csv(d / "labels.csv").assign(expiry_date="")
    extra = pd.DataFrame({"store_id": 0, "product_id": 100, "price": [0.9, 0.8], "expiry_date": [later, gone]})
    others = labels[~((labels.store_id == 0) & (labels.product_id == 100))]
    pd.concat([others, extra]).to_csv(d / "batches.csv", index=False)
    plan = plan_prices(d / "pred.parquet", d / "by_batch.csv", d / "stock.csv", d / "batches.csv", evening_hour=19)
    dec = plan.decisions
    assert dec.price_by_batch.all() and (dec.on_hand.to_numpy() > alone.decisions.on_hand.to_numpy()).all()
    for column in ("new_price", "evening_price"):
        np.testing.assert_array_equal(dec[column].to_numpy(), alone.decisions[column].to_numpy())
    for column in ("expected_waste", "expected_revenue"):  # the same sums, zeros added in another order
        np.testing.assert_allclose(dec[column].to_numpy(), alone.decisions[column].to_numpy(), rtol=1e-12)
    # one label for all the stock would count the fresher units too
    assert not np.allclose(dec.expected_revenue.to_numpy(), plain.decisions.expected_revenue.to_numpy())
    ch = plan.changes
    line = ch[(ch.store_id == 0) & (ch.product_id == 100)]
    assert later not in set(line.expiry_date)  # the younger batch's label stays
    ended = line[line.expiry_date == gone]
    assert len(ended) == 1 and ended.new_price.iat[0] == 1.0 and ended.current_price.iat[0] == 0.8
    marked = ch[ch.new_price < ch.regular_price]
    assert len(marked) > 0 and (marked.expiry_date == str(DAY0.date())).all()
    write_dir = tmp_path / "feed"
    from freshcast.api import write_price_labels

    write_price_labels(plan, write_dir)
    ids = {item["id"] for item in json.loads((write_dir / "esl" / "vusion" / "0.json").read_text())}
    assert f"100-{gone}" in ids and all("-" in i for i in ids)

    pd.concat([labels, labels.head(1)]).to_csv(d / "twice.csv", index=False)
    with pytest.raises(FreshcastError, match="repeats a key"):
        plan_prices(d / "pred.parquet", d / "by_batch.csv", d / "stock.csv", d / "twice.csv")
    pd.concat([labels, extra]).to_csv(d / "two.csv", index=False)  # a line with one label and batch labels
    with pytest.raises(FreshcastError, match="has 3 labels: one per store x product unless"):
        plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "two.csv")


def test_labels_of_batches_gone_far_or_later_and_the_cap_on_every_row_written(tmp_path):
    """Rows that end two batch labels differ in id; a line without stock ends its batch label
    once; a markdown for a batch expiring after the plan's days is not ended; --max-changes
    counts the row that brings back a later batch's markdown, and not the evening step a
    morning run leaves to the evening run."""
    day = lambda k: str((DAY0 + pd.Timedelta(days=k)).date())  # noqa: E731
    d = inputs(tmp_path, n_stores=1, n_products=2, stock_scale=3.0)
    pd.read_csv(d / "products.csv").assign(price_by_batch=1).to_csv(d / "by_batch.csv", index=False)
    stock = pd.read_csv(d / "stock.csv")
    stock[stock.product_id != 100].to_csv(d / "some.csv", index=False)  # product 100 holds nothing
    pd.DataFrame({"store_id": 0, "product_id": [100, 100, 101, 101], "price": [0.8, 0.7, 0.8, 0.8],
                  "expiry_date": [day(0), day(-1), day(-1), day(-2)]}).to_csv(d / "gone.csv", index=False)  # fmt: skip
    plan = plan_prices(d / "pred.parquet", d / "by_batch.csv", d / "some.csv", d / "gone.csv")
    ended = plan.changes[plan.changes.reason.str.contains("batch is gone")]
    assert sorted(zip(ended.product_id, ended.expiry_date)) == [(100, day(-1)), (100, day(0)), (101, day(-2)),
                                                                 (101, day(-1))]  # fmt: skip
    assert plan.changes.change_id.is_unique and (plan.changes.expiry_date != "").all()

    far = pd.concat([stock, pd.DataFrame({"store_id": [0], "product_id": [100], "on_hand": [20.0],
                                          "expiry_date": [day(5)]})])  # fmt: skip
    far.to_csv(d / "far.csv", index=False)
    pd.DataFrame({"store_id": 0, "product_id": [100, 101], "price": 0.8, "expiry_date": day(5)}).to_csv(
        d / "far_labels.csv", index=False)  # fmt: skip
    kept = plan_prices(d / "pred.parquet", d / "products.csv", d / "far.csv", d / "far_labels.csv")
    assert list(kept.decisions.markdown_ended) == [False, True]  # 101 holds nothing that expires then
    assert (kept.decisions.new_price.iloc[:1] <= 0.8).all()

    (tmp_path / "cap").mkdir()
    d = inputs(tmp_path / "cap", n_stores=1, n_products=8, stock_scale=3.0)
    free = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv", evening_hour=19,
                       evening_later=True)  # fmt: skip
    for cap in (1, 3):
        capped = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "labels.csv",
                             evening_hour=19, evening_later=True, max_changes=cap)  # fmt: skip
        assert len(capped.changes) == min(cap, len(free.changes))  # no evening step is written, none counted
    labels = pd.read_csv(d / "labels.csv").assign(price=0.9, expiry_date=day(2))  # for the later batch
    labels.to_csv(d / "later.csv", index=False)
    for cap in (1, 2, 3):
        capped = plan_prices(d / "pred.parquet", d / "products.csv", d / "stock.csv", d / "later.csv", max_changes=cap)
        rows = capped.changes
        assert len(rows) <= cap and rows.reason.str.contains("resumes").sum() * 2 == len(rows)


def test_ids_written_as_text_find_their_lines_and_bad_ones_are_named(tmp_path):
    """Product ids and categories of the products table and the ids of the hourly forecast
    written as text give the plan of the same ids as numbers (the categories' responses and
    each line's evening share are found); an hourly forecast missing some lines is noted and
    one missing all of them, or holding an id that is not one, refused naming the column."""
    d = inputs(tmp_path)
    pred, stock, labels = d / "pred.parquet", d / "stock.csv", d / "labels.csv"
    products = pd.read_csv(d / "products.csv")
    lines = pd.read_parquet(pred)[["store_id", "product_id"]].drop_duplicates()
    hourly = lines.merge(pd.DataFrame({"hour": np.arange(6, 22)}), how="cross").assign(dt=DAY0)
    hourly["yhat"] = np.where(hourly.hour >= 19, np.where(hourly.product_id % 2 == 0, 3.0, 0.05), 0.2)
    base = plan_prices(pred, products, stock, labels, evening_hour=19, hourly_forecast=hourly)
    pooled = plan_prices(pred, products.drop(columns="first_category_id"), stock, labels, evening_hour=19,
                         hourly_forecast=hourly)  # fmt: skip
    even = plan_prices(pred, products, stock, labels, evening_hour=19)
    assert not base.decisions.equals(pooled.decisions) and not base.decisions.equals(even.decisions)
    as_text = {"store_id": str, "product_id": str}
    text = plan_prices(pred, products.astype({"product_id": str, "first_category_id": str}), stock, labels,
                       evening_hour=19, hourly_forecast=hourly.astype(as_text))  # fmt: skip
    pd.testing.assert_frame_equal(text.decisions, base.decisions)
    part = plan_prices(pred, products, stock, labels, evening_hour=19, hourly_forecast=hourly[hourly.store_id == 0])
    assert any("6 line(s) without hours of 2024-06-12 in the hourly forecast" in n for n in part.notes)
    assert not any("lack some of the shop hours" in n for n in base.notes + part.notes)
    for gone in (hourly.hour >= 19, hourly.hour == 20):
        early = plan_prices(pred, products, stock, labels, evening_hour=19,
                            hourly_forecast=hourly[~gone | (hourly.store_id == 0)])  # fmt: skip
        assert any("6 line(s) lack some of the shop hours 19-22 of 2024-06-12 in the hourly forecast: a missing "
                   "hour is taken as no demand" in n for n in early.notes)  # fmt: skip
    unread = plan_prices(pred, products, stock, labels, hourly_forecast=hourly)
    assert any("the hourly forecast was not read" in n for n in unread.notes)
    other = hourly.store_id + 7
    with pytest.raises(FreshcastError, match="holds no hour of 2024-06-12 of the forecast's store x product lines"):
        plan_prices(pred, products, stock, labels, evening_hour=19, hourly_forecast=hourly.assign(store_id=other))
    with pytest.raises(FreshcastError, match=r"column 'store_id' is not an id in 0..9007199254740991: 96 row"):
        plan_prices(pred, products, stock, labels, evening_hour=19,
                    hourly_forecast=hourly.assign(store_id=hourly.store_id.replace(1, 2**53)))  # fmt: skip
    blank = products.assign(first_category_id=products.first_category_id.where(products.product_id != 101))
    kept = plan_prices(pred, blank, stock, labels, evening_hour=19, hourly_forecast=hourly).decisions  # pooled for 101
    others = base.decisions.product_id != 101
    pd.testing.assert_frame_equal(kept[others], base.decisions[others])
    with pytest.raises(FreshcastError, match=r"column 'first_category_id' is not an id .*first_category_id='fruit'"):
        plan_prices(pred, products.assign(first_category_id=products.first_category_id.astype(object).where(
            products.product_id != 101, "fruit")), stock, labels)  # fmt: skip
