"""The data contract: reading, daily aggregation, and every validation problem named."""

import decimal
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from freshcast.data import load_future, load_history, validate_path
from freshcast.data.contract import parse_column_map
from freshcast.errors import DataError

from conftest import make_hourly


def test_daily_sums_match_pandas(sample_panel, sample_frame):
    expected = sample_frame.groupby(["store_id", "product_id", "dt"]).hourly_sale.sum().to_numpy()
    assert sample_panel.n_flat == len(expected)
    np.testing.assert_allclose(sample_panel.sales, expected, rtol=1e-5, atol=1e-5)
    stockouts = sample_frame.groupby(["store_id", "product_id", "dt"]).hourly_stockout.sum()
    np.testing.assert_array_equal(sample_panel.stockout_hours, stockouts)
    instock = sample_frame.assign(s=sample_frame.hourly_sale.where(sample_frame.hourly_stockout == 0, 0))
    np.testing.assert_allclose(
        sample_panel.instock_sales, instock.groupby(["store_id", "product_id", "dt"]).s.sum(), rtol=1e-5, atol=1e-5
    )
    shop = sample_frame[(sample_frame.hour >= 6) & (sample_frame.hour < 22)]
    np.testing.assert_allclose(
        sample_panel.stockout_shop_hours, shop.groupby(["store_id", "product_id", "dt"]).hourly_stockout.sum()
    )
    assert sample_panel.covariates.keys() >= {"discount", "holiday_flag", "avg_temperature"}
    assert list(sample_panel.series.columns[:2]) == ["store_id", "product_id"]
    assert "city_id" in sample_panel.series.columns


def test_hour_matrices_match_the_rows(sample_panel, sample_frame):
    """The panel keeps every hour: sales per hour and the stockout hours as a bitmask."""
    frame = sample_frame.sort_values(["store_id", "product_id", "dt", "hour"])
    assert sample_panel.hourly and len(frame) == sample_panel.n_flat * 24
    np.testing.assert_array_equal(sample_panel.hour_sales.ravel(), frame.hourly_sale.to_numpy())
    bits = (frame.hourly_stockout.to_numpy().reshape(-1, 24).astype(np.uint32) << np.arange(24, dtype=np.uint32)).sum(1)
    np.testing.assert_array_equal(sample_panel.stockout_mask, bits)
    cut = sample_panel.until(sample_panel.last_day - 5)
    np.testing.assert_allclose(cut.hour_sales.sum(1), cut.sales, rtol=1e-5, atol=1e-5)


def test_csv_and_parquet_and_row_order_give_the_same_panel(tmp_path):
    df = make_hourly()
    df.to_parquet(tmp_path / "h.parquet")
    df.sample(frac=1.0, random_state=1).to_csv(tmp_path / "h.csv", index=False)
    a = load_history(tmp_path / "h.parquet")
    b = load_history(tmp_path / "h.csv")
    np.testing.assert_allclose(a.sales, b.sales, rtol=1e-6)
    np.testing.assert_array_equal(a.stockout_hours, b.stockout_hours)
    np.testing.assert_allclose(a.covariates["discount"], b.covariates["discount"])


def test_a_folder_of_csv_files_reads_whole_numbers_in_one_and_decimals_in_another(tmp_path):
    df = make_hourly()
    stores = df["store_id"].unique()
    first = df[df["store_id"] == stores[0]].assign(hourly_sale=lambda d: d["hourly_sale"].round(), discount=1)
    rest = df[df["store_id"] != stores[0]]
    (tmp_path / "h").mkdir()
    first.to_csv(tmp_path / "h" / "a.csv", index=False)  # Arrow would guess integers from this file
    rest.to_csv(tmp_path / "h" / "b.csv", index=False)
    panel = load_history(tmp_path / "h")
    assert panel.sales.sum() == pytest.approx(first["hourly_sale"].sum() + rest["hourly_sale"].sum(), rel=1e-5)


def test_column_mapping(tmp_path):
    df = make_hourly().rename(columns={"hourly_sale": "qty", "dt": "date"})
    df.to_parquet(tmp_path / "h.parquet")
    with pytest.raises(DataError, match="required column 'hourly_sale' is missing"):
        load_history(tmp_path / "h.parquet")
    with pytest.raises(DataError, match="mapping 'qty=sales' names no freshcast column 'sales'"):
        load_history(tmp_path / "h.parquet", {"qty": "sales", "date": "dt"})
    for bad, message in [(["qty=sales"], "'sales' is not a freshcast column"), (["=dt"], "must name both"),
                         (["qty=hourly_sale", "q2=hourly_sale"], "two columns are mapped to 'hourly_sale'")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_column_map(bad)
    panel = load_history(tmp_path / "h.parquet", {"qty": "hourly_sale", "date": "dt"})
    assert panel.n_series == 6


def test_missing_hours_and_days_are_filled_and_flagged(tmp_path):
    df = make_hourly(n_stores=1, n_products=1, days=10)
    dropped_day = df.dt == df.dt.iloc[24 * 4]
    dropped_hours = (df.dt == df.dt.iloc[24 * 6]) & df.hour.isin([3, 4, 5])
    df[~dropped_day & ~dropped_hours].to_parquet(tmp_path / "h.parquet")
    panel = load_history(tmp_path / "h.parquet")
    assert panel.n_flat == 10
    assert panel.filled_hours[4] == 24 and panel.sales[4] == 0
    assert panel.filled_hours[6] == 3
    assert panel.filled_hours.sum() == 27
    # the filled day's covariates are carried forward from the day before
    assert panel.covariates["discount"][4] == panel.covariates["discount"][3]
    problems, summary = validate_path(tmp_path / "h.parquet")
    assert problems == [] and summary["filled_days"] == 1 and summary["filled_hours"] == 3


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda d: d.assign(hourly_sale=d.hourly_sale.where(d.index != 7, -1.0)), "'hourly_sale' is negative: 1 row"),
        (lambda d: d.assign(hourly_sale=d.hourly_sale.where(d.index != 7, np.nan)), "'hourly_sale' is empty (NaN or null): 1 row(s) (first: row 8)"),
        (lambda d: d.assign(store_id=d.store_id.astype(float).where(d.index != 3)), "'store_id' is empty (NaN or null): 1 row(s) (first: row 4)"),
        (lambda d: d.assign(store_id=d.store_id.astype(str).where(d.index != 4, "x12")),
         re.compile(r"'store_id' has type text; expected a number \(first: row 5: 'x12'\)")),
        (lambda d: d.assign(store_id=d.store_id.astype(str)),
         "'store_id' has type text; expected a number (numbers written as text: give them as numbers"),
        (lambda d: d.assign(store_id=d.store_id.astype(str).astype("category")),
         "'store_id' has type text (categorical); expected a number (numbers written as text"),
        (lambda d: d.assign(first_category_id=np.where(d.index == 30, 9, 1)),
         "'first_category_id' changes within a store x product series: 2 row(s) (first: row 31: store_id=0, product_id=100, dt=2024-01-02, hour=6, against row 30)"),
        (lambda d: d.assign(first_category_id=np.where(d.index == 48, 9, 1)),
         "'first_category_id' changes within a store x product series: 3 row(s) (first: row 49: store_id=0, product_id=100, dt=2024-01-03, hour=0, against row 48)"),
        (lambda d: pd.concat([d, d.iloc[[5]]]),
         re.compile(r"duplicate store_id, product_id, dt, hour keys: 1 row.*row 241: store_id=0, product_id=100, "
                    r"dt=\S+, hour=5\)")),
        (lambda d: pd.concat([d.iloc[:6], d.iloc[[5]], d.iloc[6:]]),
         re.compile(r"hour keys: 1 row.*row 7: store_id=0.*, hour=5\)")),
        (lambda d: pd.concat([d, d.iloc[24:48]]), re.compile(r"hour keys: 24 row\(s\) .*row 241: .*, hour=0\)")),
        (lambda d: pd.concat([d, d.iloc[[5, 5]]]), re.compile(r"hour keys: 2 row\(s\) .*row 241: .*, hour=5\)")),
        # the first repeat in the file, not the first series' repeat
        (lambda d: pd.concat([d.iloc[:150], d.iloc[[149]], d.iloc[150:], d.iloc[[0]]]),
         re.compile(r"hour keys: 2 row\(s\) .*row 151: store_id=0, product_id=101, dt=\S+, hour=5\)")),
        (lambda d: d.assign(hour=d.hour.where(d.index != 2, 24)), "'hour' is not an hour 0..23"),
        (lambda d: d.assign(hourly_stockout=d.hourly_stockout.where(d.index != 2, 3)), "'hourly_stockout' is not 0 or 1"),
        (lambda d: d.drop(columns="product_id"), "required column 'product_id' is missing"),
        (lambda d: d.assign(hourly_sale="x"), re.compile(r"column 'hourly_sale' has type text; expected a number")),
        (lambda d: d.assign(dt="not a date"), "'dt' is not a date"),
        (lambda d: d.assign(hourly_sale=d.hourly_sale.where(d.index != 7, np.inf)), "'hourly_sale' is NaN or infinite: 1 row"),
        (lambda d: d.assign(dt=d.dt.where(d.index != 30, pd.Timestamp("2124-01-02").date())),
         re.compile(r"'dt' leaves 36,5\d\d days without any row .* a mistyped date\?: 1 row.*row 31: store_id=0")),
        (lambda d: d.assign(dt=d.dt.where(d.index != 30, pd.Timestamp("1024-01-02").date())), "'dt' is not between 1990"),
        (lambda d: d.assign(discount=d.discount.where(d.index != 7, 5.0)), "'discount' is outside the plausible range 0 .. 2: 1 row"),
        (lambda d: d.assign(avg_temperature=d.avg_temperature.where(d.index != 7, 1e9)), "'avg_temperature' is outside"),
        (lambda d: d.assign(holiday_flag=d.holiday_flag.where(d.index != 7, 2)), "'holiday_flag' is not 0 or 1"),
    ],
)
def test_bad_input_names_file_column_and_problem(tmp_path, corrupt, message):
    path = tmp_path / "bad.parquet"
    corrupt(make_hourly(n_stores=1, n_products=2, days=5)).to_parquet(path)
    with pytest.raises(DataError) as err:
        load_history(path)
    text = str(err.value)
    assert "bad.parquet" in text
    assert message.search(text) if isinstance(message, re.Pattern) else message in text


def test_a_csv_of_a_header_alone_says_it_holds_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    make_hourly(n_stores=1, n_products=1, days=1).head(0).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        load_history(path)
    assert len(err.value.problems) == 1 and "does the file hold any rows?" in err.value.problems[0]


def test_validate_reports_all_problems(tmp_path):
    df = make_hourly(n_stores=1, n_products=2, days=5)
    df.loc[3, "hourly_sale"] = -2.0
    df.loc[9, "hourly_stockout"] = 5
    df.to_parquet(tmp_path / "bad.parquet")
    problems, _ = validate_path(tmp_path / "bad.parquet")
    assert len(problems) == 2
    assert any("negative" in p for p in problems) and any("not 0 or 1" in p for p in problems)
    assert any("store_id=0, product_id=100" in p for p in problems)


def test_daily_rows_without_hour_column(tmp_path):
    hourly = make_hourly(n_stores=1, n_products=2, days=10)
    daily = hourly.groupby(["store_id", "product_id", "dt"], as_index=False).agg(
        hourly_sale=("hourly_sale", "sum"), discount=("discount", "first"), holiday_flag=("holiday_flag", "first")
    )
    daily.to_csv(tmp_path / "daily.csv", index=False)
    panel = load_history(tmp_path / "daily.csv")
    np.testing.assert_allclose(panel.sales, daily.hourly_sale, rtol=1e-6)
    assert panel.filled_hours.sum() == 0
    assert not panel.hourly and panel.stockout_mask is None


def future_of(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["hourly_sale", "hourly_stockout"])


def test_future_covariates_are_aligned_and_checked(tmp_path):
    df = make_hourly(n_stores=1, n_products=2, days=20)
    cut = df.dt.unique()[14]
    df[df.dt <= cut].to_parquet(tmp_path / "hist.parquet")
    fut = future_of(df[df.dt > cut])
    history = load_history(tmp_path / "hist.parquet")
    f = load_future(fut, history)
    assert f.n_days == 5 and f.values["discount"].shape == (2, 5)
    expected = fut[fut.hour == 0].sort_values(["store_id", "product_id", "dt"]).discount.to_numpy()
    np.testing.assert_allclose(f.values["discount"].ravel(), expected)

    with pytest.raises(DataError, match="combinations missing from the future covariates"):
        load_future(fut[~((fut.product_id == 101) & (fut.dt == fut.dt.max()))], history)
    with pytest.raises(DataError, match="must start on"):
        load_future(fut[fut.dt > fut.dt.min()], history)
    with pytest.raises(DataError, match="not in the history"):
        load_future(pd.concat([fut, fut.assign(product_id=999)]), history)
    with pytest.raises(DataError, match="column 'discount' is in the history but missing"):
        load_future(fut.drop(columns="discount"), history)


def test_ids_up_to_2_to_the_53_are_read_exactly_and_larger_ones_refused(tmp_path):
    """13- and 16-digit ids (GLN stores, EAN products, up to 2**53 - 1) keep every digit through
    the history, the future, the actuals and the master tables; 2**53 and more (a float64 or
    a JSON reader would round them) is refused naming the column."""
    from freshcast.data.load import load_history_with_actuals
    from freshcast.data.tables import read_capacity

    top = 2**53 - 1
    df = make_hourly(n_stores=2, n_products=2, days=10)
    df["store_id"] = df.store_id.map({0: 4_012_345_000_009, 1: top}).astype("int64")
    df["product_id"] = df.product_id.astype("int64") + 4_006_381_333_000 - 100
    days = sorted(df.dt.unique())
    history = load_history(df[df.dt < days[-2]])
    assert sorted(history.series.store_id.unique()) == [4_012_345_000_009, top]
    assert set(history.series.product_id) == set(df.product_id) and len(history.series) == 4
    future = load_future(df[df.dt >= days[-2]], history)
    np.testing.assert_array_equal(future.ids, history.ids())
    both, first = load_history_with_actuals(df[df.dt < days[-2]], df[df.dt >= days[-2]])
    np.testing.assert_array_equal(both.ids(), history.ids())
    other = df[df.dt >= days[-2]].assign(product_id=lambda f: f.product_id.where(f.store_id != top, 4_006_381_333_999))
    with pytest.raises(DataError, match=f"not in the history, e.g. store_id={top}, product_id=4006381333999"):
        load_history_with_actuals(df[df.dt < days[-2]], other)
    with pytest.raises(DataError, match=r"'store_id' is not an id in 0..9007199254740991: 480 row\(s\)"):
        load_history(df.assign(store_id=df.store_id.replace(top, 2**53)))
    capacity = pd.DataFrame({"store_id": [top, 2**53 + 2], "product_id": [7, 7], "capacity_units": [10.0, 10.0]})
    with pytest.raises(DataError, match=r"'store_id' .*is not an id in 0..9007199254740991"):
        read_capacity(capacity)
    assert read_capacity(capacity.iloc[:1]).store_id.tolist() == [top]
    # float32 holds whole numbers exactly only up to 2**24: 13-digit ids in it are refused, not merged
    with pytest.raises(DataError, match=r"'product_id' is above 16777215, the largest id a float32 column holds"):
        load_history(df.astype({"product_id": np.float32}))
    with pytest.raises(DataError, match=r"'store_id' is above 16777215, the largest id a float32 column holds"):
        read_capacity(capacity.iloc[:1].assign(store_id=np.float32(4_012_345_000_009)))
    as_category = pd.Series([4_012_345_000_009], dtype=np.float32).astype("category")  # a category of float32
    with pytest.raises(DataError, match=r"'store_id' is above 16777215, the largest id a float32 column holds"):
        read_capacity(capacity.iloc[:1].assign(store_id=as_category))
    with pytest.raises(DataError, match=r"'product_id' is above 2047, the largest id a float16 column holds"):
        load_history(df.assign(product_id=(df.product_id % 1000 * 3 + 3001).astype(np.float16)))
    small = make_hourly(n_stores=2, n_products=2, days=10)
    as_float32 = load_history(small.astype({"product_id": np.float32}))
    np.testing.assert_array_equal(as_float32.ids(), load_history(small).ids())


def test_a_key_written_two_ways_is_one_key(tmp_path):
    """A master table's keys are compared as read: product '0042' and 42, or a label's expiry
    date as text and as a timestamp, repeat one key."""
    from freshcast.data.tables import read_products
    from freshcast.optimize.pricing import read_labels

    products = pd.DataFrame({"product_id": ["0042", "42"], "shelf_life_days": 2, "case_pack": 1.0,
                             "min_order_qty": 0.0, "unit_cost": 0.5, "regular_price": 1.0, "salvage_value": 0.0,
                             "supplier_id": 1})  # fmt: skip
    with pytest.raises(DataError, match=r"'product_id' repeats a key \(each must appear once\): 2 row"):
        read_products(products)
    assert read_products(products.assign(product_id=["0042", "43"])).product_id.tolist() == [42, 43]
    labels = pd.DataFrame({"store_id": [1, 1], "product_id": [7, 7], "price": [0.8, 0.9],
                           "expiry_date": ["2024-06-12", pd.Timestamp("2024-06-12")]})  # fmt: skip
    with pytest.raises(DataError, match="'store_id, product_id, expiry_date' repeats a key"):
        read_labels(labels)


def test_a_cluster_splits_float_store_ids_and_refuses_ones_no_partition_would_hold(tmp_path):
    """store_row_counts (the partitions' split) reads whole float store ids as one machine
    does, and refuses ids outside 0 .. 2**53 - 1 (they would fall in no partition's range)."""
    from freshcast.data.read import store_row_counts

    df = make_hourly(n_stores=3, n_products=2, days=3)
    df.astype({"store_id": np.float64}).to_parquet(tmp_path / "float.parquet")
    ids, rows = store_row_counts(tmp_path / "float.parquet")
    assert ids.dtype == np.int64 and ids.tolist() == [0, 1, 2] and rows.tolist() == [144, 144, 144]
    df.assign(store_id=df.store_id.astype(np.uint64).replace(2, 2**64 - 1)).to_parquet(tmp_path / "huge.parquet")
    with pytest.raises(DataError, match=r"(?s)huge.parquet.*'store_id' is not an id in 0..9007199254740991.*144 row"):
        store_row_counts(tmp_path / "huge.parquet")
    gln = pa.array([decimal.Decimal(4_012_345_000_009 + s) for s in df.store_id], pa.decimal128(13, 0))
    pq.write_table(pa.Table.from_pandas(df).set_column(list(df.columns).index("store_id"), "store_id", gln),
                   tmp_path / "numeric.parquet")  # a database's NUMERIC(13)  # fmt: skip
    ids, rows = store_row_counts(tmp_path / "numeric.parquet")
    assert ids.tolist() == [4_012_345_000_009, 4_012_345_000_010, 4_012_345_000_011] and rows.tolist() == [144] * 3
    np.testing.assert_array_equal(load_history(tmp_path / "numeric.parquet").ids()[:, 0], np.repeat(ids, 2))


def test_pair_keys_order_and_match_ids_of_any_size():
    """pair_keys: store then product order (as np.lexsort), equal exactly where both ids are,
    across calls that mix ids below 2**31 with 13-digit ones."""
    from freshcast.data.keys import pair_keys

    rng = np.random.default_rng(0)
    for top in (1000, 2**53 - 1):
        s = rng.integers(0, top, 5000, dtype=np.int64)
        p = np.where(rng.random(5000) < 0.5, rng.integers(0, 50, 5000), rng.integers(0, top, 5000))
        a, b = pair_keys((s[:3000], p[:3000]), (s[2000:], p[2000:]))
        keys = np.concatenate([a, b[1000:]])
        np.testing.assert_array_equal(np.argsort(keys, kind="stable"), np.lexsort((p, s)))
        same = (s[:, None] == s[None, :]) & (p[:, None] == p[None, :])
        np.testing.assert_array_equal(keys[:, None] == keys[None, :], same)
        np.testing.assert_array_equal(a[2000:], b[:1000])


def test_bad_category_ids_are_named(tmp_path):
    df = make_hourly(n_stores=1, n_products=2, days=5)
    df["third_category_id"] = np.int32(7)
    df.loc[24, "third_category_id"] = -3  # hour 0 of day 2: category ids are checked per day
    df.to_parquet(tmp_path / "neg.parquet")
    with pytest.raises(DataError, match="'third_category_id' is not an id"):
        load_history(tmp_path / "neg.parquet")
    df["third_category_id"] = 7.0
    df.loc[30, "third_category_id"] = 7.5
    df.to_parquet(tmp_path / "frac.parquet")
    with pytest.raises(DataError, match=r"'third_category_id' is not an id in 0..9007199254740991: 1 row"):
        load_history(tmp_path / "frac.parquet")


def test_a_folder_reads_its_data_files_only(tmp_path, sample_panel):
    """Notes beside the data are not read; mixing formats is refused."""
    import shutil

    from freshcast.data import sample_path

    folder = tmp_path / "hist"
    shutil.copytree(sample_path(), folder)
    (folder / "README.md").write_text("not data")
    (folder / "city_id=09" / "notes.txt").write_text("not data either")
    panel = load_history(folder)
    assert np.array_equal(panel.sales, sample_panel.sales)
    assert (panel.series["city_id"] == sample_panel.series["city_id"]).all()
    pd.read_parquet(sample_path()).head(24).to_csv(folder / "extra.csv", index=False)
    with pytest.raises(DataError, match="mixes CSV and Parquet"):
        load_history(folder)


def test_a_folder_follows_symlinked_partitions_and_skips_hidden_ones(tmp_path, sample_panel):
    """A partition folder that is a symbolic link is read (once, even if linked twice);
    folders named with a leading "." or "_" (checkpoints, temporaries) are not."""
    import shutil

    from freshcast.data import sample_path

    real = tmp_path / "elsewhere"
    shutil.copytree(sample_path(), real)
    folder = tmp_path / "hist"
    folder.mkdir()
    for part in sorted(real.iterdir()):
        (folder / part.name).symlink_to(part, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # a cycle is walked once
    shutil.copytree(real, folder / ".checkpoints")
    panel = load_history(folder)
    assert np.array_equal(panel.sales, sample_panel.sales)
    assert (panel.series["city_id"] == sample_panel.series["city_id"]).all()


def test_a_corrupt_file_is_named_not_a_traceback(tmp_path, sample_frame):
    from typer.testing import CliRunner

    from freshcast.cli import app

    folder = tmp_path / "hist"
    for city, part in ((1, sample_frame.iloc[:5000]), (2, sample_frame.iloc[5000:])):
        (folder / f"city_id={city:02d}").mkdir(parents=True)
        part.drop(columns="city_id").to_parquet(folder / f"city_id={city:02d}" / "part-0.parquet", compression="snappy")
    bad = folder / "city_id=02" / "part-0.parquet"
    data = bytearray(bad.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 2000] = bytes(2000)  # zero a stretch of pages
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        load_history(folder)
    assert str(bad) in str(err.value) and "cannot be read" in str(err.value)
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1 and "cannot be read" in result.output and "Traceback" not in result.output
    assert str(bad) in result.output
    (folder / "city_id=01" / "part-0.parquet").unlink()  # a folder of one file names that file too
    (folder / "city_id=01").rmdir()
    with pytest.raises(DataError) as err:
        load_history(folder)
    assert str(bad) in str(err.value)


def test_future_covariates_are_refused_when_implausible(tmp_path):
    from typer.testing import CliRunner

    from freshcast.cli import app

    df = make_hourly(n_stores=1, n_products=2, days=70)
    cut = df.dt.unique()[-30]
    df[df.dt <= cut].to_parquet(tmp_path / "hist.parquet")
    history = load_history(tmp_path / "hist.parquet")
    fut = future_of(df[df.dt > cut])
    week = fut[fut.dt <= fut.dt.unique()[6]]
    assert load_future(fut[fut.dt <= fut.dt.unique()[27]], history).n_days == 28
    cases = [
        (pd.concat([week, week.iloc[[30]]]), "repeated store_id, product_id, dt, hour rows: 1 day(s)"),
        (pd.concat([week, week.iloc[[30]]]), f", hour={week.hour.iloc[30]})"),
        (week.assign(discount=week.discount.where(week.index != week.index[3], 1.5 + 1)), "'discount' is outside"),
        (week.assign(avg_temperature=1e9), "'avg_temperature' is outside the plausible range"),
        (fut[fut.dt <= fut.dt.unique()[28]], "(29 days); freshcast forecasts at most 28 days ahead"),
        (pd.concat([week, week.assign(dt=week.dt + pd.Timedelta(days=399))]), "(406 days); freshcast forecasts"),
    ]
    for frame, message in cases:
        with pytest.raises(DataError) as err:
            load_future(frame, history)
        assert message in str(err.value), str(err.value)
    cases[0][0].to_parquet(tmp_path / "dup.parquet")
    result = CliRunner().invoke(app, ["validate", "--future", str(tmp_path / "dup.parquet"),
                                      "--history", str(tmp_path / "hist.parquet")])  # fmt: skip
    assert result.exit_code == 1 and "dup.parquet" in result.output and "repeated" in result.output
    every = fut[fut.dt <= fut.dt.unique()[28]]
    every = pd.concat([every, every.iloc[[30]]]).assign(discount=5.0)
    every.to_parquet(tmp_path / "every.parquet")
    result = CliRunner().invoke(app, ["validate", "--future", str(tmp_path / "every.parquet"),
                                      "--history", str(tmp_path / "hist.parquet")])  # fmt: skip
    assert result.exit_code == 1 and "3 problem(s)" in result.output, result.output
    for message in ("'discount' is outside", "(29 days)", "repeated store_id, product_id, dt, hour rows"):
        assert message in result.output
    week.to_parquet(tmp_path / "week.parquet")
    result = CliRunner().invoke(app, ["validate", "--future", str(tmp_path / "week.parquet"),
                                      "--history", str(tmp_path / "hist.parquet")])  # fmt: skip
    assert result.exit_code == 0 and "days: 7" in result.output, result.output


def test_csv_reading_errors_in_a_planners_words(tmp_path):
    df = make_hourly(n_stores=1, n_products=2, days=5)
    bad = df.astype({"hourly_sale": object})
    bad.loc[7, "hourly_sale"] = "abc"
    bad.to_csv(tmp_path / "text.csv", index=False)
    (tmp_path / "empty.csv").write_text("")
    df.to_csv(tmp_path / "semicolons.csv", index=False, sep=";")
    for name, says in (("text.csv", "column 'hourly_sale' is not a number: row 8: 'abc'"),
                       ("empty.csv", "is empty: no header line, no rows"),
                       ("semicolons.csv", "the header is one column")):  # fmt: skip
        with pytest.raises(DataError) as err:
            load_history(tmp_path / name)
        assert says in err.value.problems[0] and name in str(err.value), str(err.value)


def test_a_dataframe_with_values_of_mixed_types_or_repeated_columns_is_named(sample_frame):
    """What a file would say (a DataError naming column and row), not an Arrow traceback."""
    frame = sample_frame.head(50).copy()
    for column, value, holds in (("hourly_sale", "n/a", "row 6 holds 'n/a' (str) among float values"),
                                 ("store_id", "S36", "row 6 holds 'S36' (str) among int")):  # fmt: skip
        bad = frame.astype({column: object})
        bad.loc[5, column] = value
        with pytest.raises(DataError, match=re.escape(f"column '{column}' mixes values of different types: {holds}")):
            load_history(bad)
    twice = pd.concat([frame, frame[["hourly_sale"]]], axis=1)
    with pytest.raises(DataError, match="column 'hourly_sale' appears more than once"):
        load_history(twice)


def test_decimal_columns_from_sql_drivers_read_like_floats(sample_frame, tmp_path):
    from decimal import Decimal

    frame = sample_frame.head(3000)
    plain = load_history(frame)
    exact = frame.assign(hourly_sale=[Decimal(repr(float(v))) for v in frame.hourly_sale],
                         discount=[Decimal(repr(float(v))) for v in frame.discount])  # fmt: skip
    exact.to_parquet(tmp_path / "decimals.parquet")
    for source in (exact, tmp_path / "decimals.parquet"):
        panel = load_history(source)
        np.testing.assert_array_equal(panel.sales, plain.sales)
        np.testing.assert_array_equal(panel.covariates["discount"], plain.covariates["discount"])


def test_a_repeated_day_of_daily_rows_is_one_row_and_names_no_hour(tmp_path):
    df = make_hourly(n_stores=1, n_products=2, days=5)
    daily = df.groupby(["store_id", "product_id", "dt"], as_index=False).agg(hourly_sale=("hourly_sale", "sum"))
    pd.concat([daily, daily.iloc[[3]]]).to_parquet(tmp_path / "daily.parquet")
    with pytest.raises(DataError) as err:
        load_history(tmp_path / "daily.parquet")
    assert re.search(r"duplicate store_id, product_id, dt keys: 1 row\(s\) \(first: \S*daily.parquet row 11: "
                     r"store_id=0, product_id=100, dt=\S+\)", str(err.value)), str(err.value)  # fmt: skip


def test_the_api_validates_as_the_command_does(tmp_path):
    from typer.testing import CliRunner

    from freshcast import api
    from freshcast.cli import app

    df = make_hourly(n_stores=1, n_products=2, days=40)
    problems, summary = api.validate(df)
    assert problems == [] and summary["series"] == 2 and summary["days"] == 40
    df.assign(hourly_sale=df.hourly_sale.where(df.index != 7, -1.0)).to_parquet(tmp_path / "bad.parquet")
    problems, _ = api.validate(tmp_path / "bad.parquet")
    shown = CliRunner().invoke(app, ["validate", str(tmp_path / "bad.parquet")])
    assert shown.exit_code == 1 and len(problems) == 1 and "'hourly_sale' is negative" in problems[0]
    assert problems[0] in shown.output
    cut = df.dt.unique()[-7]
    history, future = df[df.dt <= cut], future_of(df[df.dt > cut])
    assert api.validate(history, future=future)[0] == []
    repeated, _ = api.validate(history, future=pd.concat([future, future.iloc[[3]]]))
    assert len(repeated) == 1 and "repeated store_id, product_id, dt, hour rows" in repeated[0]
