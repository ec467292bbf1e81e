"""One helper turns dates of every type pandas and Arrow produce into day numbers."""

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from freshcast.data.dates import NOT_A_DAY, day_number, day_numbers, day_to_date

DAY = 19894  # 2024-06-20
STAMP = pd.Timestamp("2024-06-20 23:59:59")
CASES = {
    "iso string": ["2024-06-20"],
    "string with time": ["2024-06-20 23:59"],
    "other string format": ["06/20/2024"],
    "python date": [dt.date(2024, 6, 20)],
    "python datetime": [dt.datetime(2024, 6, 20, 23, 59)],
    "pandas Timestamp": [STAMP],
    "datetime64[s]": np.array([STAMP], "datetime64[s]"),
    "datetime64[ms]": np.array([STAMP], "datetime64[ms]"),
    "datetime64[ns]": np.array([STAMP], "datetime64[ns]"),
    "datetime64[D]": np.array(["2024-06-20"], "datetime64[D]"),
    "Series datetime64[s]": pd.Series([STAMP]).astype("datetime64[s]"),
    "Series datetime64[us]": pd.Series([STAMP]).astype("datetime64[us]"),
    "Series tz-aware": pd.Series([STAMP]).dt.tz_localize("Asia/Shanghai"),
    "Series categorical": pd.Series(["2024-06-20"], dtype="category"),
    "Series ArrowDtype date32": pd.Series([dt.date(2024, 6, 20)], dtype=pd.ArrowDtype(pa.date32())),
    "Series ArrowDtype timestamp": pd.Series([STAMP], dtype=pd.ArrowDtype(pa.timestamp("us"))),
    "Series ArrowDtype string": pd.Series(["2024-06-20"], dtype=pd.ArrowDtype(pa.string())),
    "Arrow date32": pa.array([dt.date(2024, 6, 20)], pa.date32()),
    "Arrow date64": pa.array([dt.date(2024, 6, 20)], pa.date64()),
    "Arrow timestamp[s]": pa.array([STAMP], pa.timestamp("s")),
    "Arrow timestamp[ns]": pa.array([STAMP], pa.timestamp("ns")),
    "Arrow timestamp tz": pa.array([STAMP.tz_localize("Asia/Shanghai")]),
    "Arrow string": pa.array(["2024-06-20"]),
    "Arrow dictionary": pa.array(["2024-06-20"]).dictionary_encode(),
    "Arrow chunked": pa.chunked_array([pa.array([dt.date(2024, 6, 20)])]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_date_type_gives_the_calendar_day(name):
    days = day_numbers(CASES[name])
    assert days.dtype == np.int64 and days.tolist() == [DAY]
    assert str(day_to_date(days[0])) == "2024-06-20"


@pytest.mark.parametrize(
    "values", [["tomorrow", None], [19894, np.nan], pa.array([None, "x"]), pd.Series([pd.NaT, pd.NaT])]
)
def test_missing_values_numbers_and_text_are_not_days(values):
    assert (day_numbers(values) == NOT_A_DAY).all()


def test_day_number_round_trip_and_error():
    for day in (-1, 0, DAY, 100_000):
        assert day_number(str(day_to_date(day))) == day
    assert day_number("1969-12-31T12:00") == -1  # floors, also before 1970
    with pytest.raises(ValueError, match="'tomorrow' is not a date"):
        day_number("tomorrow")


def test_one_format_for_a_whole_column_and_offsets_in_their_own_zone():
    jan = day_number("2024-01-13")
    assert day_numbers(pd.Series(["13/01/2024", "10/01/2024"])).tolist() == [jan, jan - 3]  # day first
    # month first from its first value does not fit the second row; day first fits both
    assert day_numbers(pd.Series(["10/01/2024", "13/01/2024"])).tolist() == [jan - 3, jan]
    # both orders fit every row and disagree: ambiguous, so none is a date
    april = pd.Series([f"{d:02d}/04/2024" for d in range(1, 13)])
    assert (day_numbers(april) == NOT_A_DAY).all()
    assert (day_numbers(pa.array(april.tolist())) == NOT_A_DAY).all()  # Arrow strings alike
    assert day_numbers(pd.Series(["04/04/2024", "04/04/2024"])).tolist() == [day_number("2024-04-04")] * 2
    assert day_numbers(pd.Series(["12/31/2024", "01/04/2024"])).tolist() == [day_number("2024-12-31"),
                                                                             day_number("2024-01-04")]  # fmt: skip
    summer = pd.Series(["2024-03-30T23:30:00+01:00", "2024-03-31T23:30:00+02:00"])  # offsets change
    assert day_numbers(summer).tolist() == [day_number("2024-03-30"), day_number("2024-03-31")]


def test_a_csv_history_with_offsets_keeps_its_local_days(tmp_path):
    from conftest import make_hourly

    from freshcast.data import load_history

    df = make_hourly(n_stores=1, n_products=1, days=10)
    df.assign(dt=df.dt.astype(str) + "T00:00:00+01:00").to_csv(tmp_path / "h.csv", index=False)
    panel = load_history(tmp_path / "h.csv")
    assert str(day_to_date(panel.start[0])) == "2024-01-01" and str(day_to_date(panel.last_day)) == "2024-01-10"


def test_aware_timestamps_are_dated_in_the_stores_zone_when_given():
    """15:00 UTC on 06-19 is already 06-20 in Tokyo: with the stores' zone, every aware type
    (pandas, Arrow, text with an offset, offsets changing row to row) is dated there."""
    utc = pd.Series(pd.to_datetime(["2024-06-19 15:00", "2024-06-19 14:59"]).tz_localize("UTC"))
    texts = ["2024-06-19T15:00:00+00:00", "2024-06-20T00:59:00+10:00"]
    for values in (utc, pa.array(utc), pd.Series(texts), pd.Series([texts[0], "2024-06-19T15:59:00+01:00"])):
        tokyo = day_numbers(values, "Asia/Tokyo")
        assert tokyo[0] == DAY and tokyo[1] == DAY - 1, values
    assert list(day_numbers(utc)) == [DAY - 1, DAY - 1]  # without a zone: the values' own
    naive = pd.Series(pd.to_datetime(["2024-06-20 23:00"]))
    assert day_numbers(naive, "Asia/Tokyo")[0] == DAY  # naive times are local already


def test_a_history_whose_dates_hold_times_of_day_is_refused_naming_the_column(tmp_path):
    """A database export's UTC timestamps of the stores' midnights (16:00 the day before in
    Shanghai) would date every row a day early: refused, while the same instants in the stores'
    zone, or dates, load. Arrow timestamps, aware or not, and ISO text alike."""
    from conftest import make_hourly

    from freshcast.data import load_history
    from freshcast.errors import FreshcastError

    df = make_hourly(n_stores=1, n_products=2, days=10)
    local = pd.to_datetime(df.dt).dt.tz_localize("Asia/Shanghai")
    local_panel = None
    for name, dates in (("local.parquet", local), ("utc.parquet", local.dt.tz_convert("UTC")),
                        ("naive.parquet", local.dt.tz_convert("UTC").dt.tz_localize(None)),
                        ("text.csv", local.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))):  # fmt: skip
        path = tmp_path / name
        (df.assign(dt=dates).to_csv(path, index=False) if name.endswith(".csv")
         else df.assign(dt=dates).to_parquet(path))  # fmt: skip
        if name == "local.parquet":
            local_panel = load_history(path)
            assert str(day_to_date(local_panel.start[0])) == "2024-01-01"
            continue
        with pytest.raises(FreshcastError, match=f"(?s){name}.*column 'dt' holds times of day, not calendar days.*"
                                                 f"first: row 1: '2023-12-31.16:00:00"):  # fmt: skip
            load_history(path)
    from freshcast.data.dates import times_of_day

    texts = ["2024-01-01 00:00:00 UTC", "2024-01-01 00:00:00 +08:00", "2024-01-01T00:00:00.000Z", "2024-01-01",
             "2024-01-01 16:00:00 UTC", "2024-01-01T00:30", "2023-12-31T16:00:00Z"]  # midnights, then times of day
    assert times_of_day(pa.array(texts)).tolist() == [False] * 4 + [True] * 3
    df.assign(dt=local.dt.strftime("%Y-%m-%dT00:00:00+08:00")).to_csv(tmp_path / "offsets.csv", index=False)
    assert np.array_equal(load_history(tmp_path / "offsets.csv").start, local_panel.start)
    # a DataFrame of a database driver's datetimes: fixed offsets that change with daylight saving
    # (Berlin midnights, +01:00 before 2024-03-31, +02:00 from it): each dated on its own wall clock
    import datetime as dt

    berlin = pd.to_datetime(df.dt).dt.tz_localize("Europe/Berlin") + pd.Timedelta(days=89)  # 03-30 .. 04-08
    fixed = [dt.datetime(*t.timetuple()[:3], tzinfo=dt.timezone(t.utcoffset())) for t in berlin]
    assert len({t.utcoffset() for t in fixed}) == 2
    driver = load_history(df.assign(dt=pd.Series(fixed, dtype=object)))
    assert [str(day_to_date(d)) for d in (driver.start[0], driver.last_day)] == ["2024-03-30", "2024-04-08"]
    repeated = df.assign(dt=pd.Series(fixed, dtype=object)).set_axis(np.zeros(len(df), int))  # an index of one label
    assert np.array_equal(load_history(repeated).start, driver.start)
    late = [t.replace(hour=1) if k == 0 else t for k, t in enumerate(fixed)]
    with pytest.raises(FreshcastError, match="column 'dt' holds times of day"):
        load_history(df.assign(dt=pd.Series(late, dtype=object)))
