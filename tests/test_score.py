"""A forecast scored against the sales that followed it (`freshcast score`, `api.score`)."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from freshcast import api
from freshcast.cli import app
from freshcast.data import load_history, sample_path
from freshcast.errors import DataError
from freshcast.forecast import DailyForecaster

CUT = pd.Timestamp("2024-06-11").date()


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    d = tmp_path_factory.mktemp("score")
    df = pd.read_parquet(sample_path())
    df[df.dt > CUT].to_parquet(d / "actuals.parquet")
    model = DailyForecaster(n_estimators=30, seed=0).fit(load_history(df[df.dt <= CUT]))
    pred = model.predict(7, df[df.dt > CUT].drop(columns=["hourly_sale", "hourly_stockout"]))
    pred.to_parquet(d / "pred.parquet")
    return d, df[df.dt > CUT], pred


def _by_hand(actuals: pd.DataFrame, pred: pd.DataFrame) -> pd.DataFrame:
    """Each line-day's sales summed from the hourly rows, in stock where no hour 06-21 was out."""
    shop = actuals.hour.between(6, 21)
    days = actuals.assign(out=actuals.hourly_stockout.where(shop, 0)).groupby(
        ["store_id", "product_id", "dt"], as_index=False).agg(actual=("hourly_sale", "sum"), out=("out", "sum"))
    days["dt"] = pd.to_datetime(days.dt)
    return pred.merge(days, on=["store_id", "product_id", "dt"], how="inner")


def test_scores_are_the_errors_of_the_forecast_against_the_days_sales(split):
    d, actuals, pred = split
    scores, notes = api.score(d / "pred.parquet", d / "actuals.parquet")
    assert notes == []
    rows = _by_hand(actuals, pred)
    assert len(rows) == len(pred) and scores.lines.tolist() == [len(pred) // 7] * 8  # store x product lines
    for (day, group), (_, score) in zip([*rows.groupby("dt"), (None, rows)], scores.iterrows(), strict=True):
        assert score["dt"] == ("all" if day is None else str(day.date()))
        err = group.yhat - group.actual
        assert score.wape == pytest.approx(err.abs().sum() / group.actual.sum(), rel=1e-5)
        assert score.wpe == pytest.approx(err.sum() / group.actual.sum(), rel=1e-5, abs=1e-7)
        ok = group[group.out == 0]
        assert score.wape_instock == pytest.approx((ok.yhat - ok.actual).abs().sum() / ok.actual.sum(), rel=1e-5)
        assert score.coverage_q90 == pytest.approx((ok.actual <= ok.q90).mean())
        diff = ok.actual - ok.q10
        assert score.pinball_q10 == pytest.approx(np.maximum(0.1 * diff, -0.9 * diff).mean(), rel=1e-5)
    assert scores.horizon.tolist()[:7] == list(range(1, 8)) and pd.isna(scores.horizon.iat[-1])


def test_lines_and_days_the_actuals_lack_are_left_out_and_said(split):
    d, actuals, pred = split
    first = pred[["store_id", "product_id"]].iloc[0]
    mine = actuals[~((actuals.store_id == first.store_id) & (actuals.product_id == first.product_id))]
    mine = mine[mine.dt <= pd.Timestamp("2024-06-14").date()]  # three of the seven days have sold
    extra = mine[mine.product_id == mine.product_id.iat[0]].assign(product_id=10**9)  # a series never forecast
    scores, notes = api.score(pred, pd.concat([mine, extra]))
    assert scores.dt.tolist() == ["2024-06-12", "2024-06-13", "2024-06-14", "all"]
    lines = pred.groupby(["store_id", "product_id"]).ngroups
    assert scores.lines.tolist() == [lines - 1] * 4
    assert f"1 forecast line(s) not in the actuals, not scored (e.g. store_id={first.store_id}, " in notes[0]
    assert notes[1] == (f"{4 * (lines - 1)} line-day(s) of the forecast without sales in the actuals, not scored: "
                        f"{4 * (lines - 1)} after their last day 2024-06-14")  # fmt: skip
    assert notes[2] == f"{extra.store_id.nunique()} series of the actuals have no forecast: their sales are not scored"
    rows = _by_hand(mine, pred)
    assert scores.actual.iat[-1] == pytest.approx(rows.actual.sum(), rel=1e-5)
    with pytest.raises(DataError, match="holds no sales of the forecast's lines on its days 2024-06-12 .. 2024-06-18"):
        api.score(pred.assign(store_id=pred.store_id + 1000), d / "actuals.parquet")
    late = actuals[actuals.dt >= pd.Timestamp("2024-06-14").date()]  # sales from the forecast's third day on
    scores, notes = api.score(pred, late)
    assert scores.horizon.tolist()[:-1] == [3, 4, 5, 6, 7] and notes == [
        f"{2 * lines} line-day(s) of the forecast without sales in the actuals, not scored: {2 * lines} before their "
        f"series' first day there"]  # fmt: skip
    gap = actuals[(actuals.dt != pd.Timestamp("2024-06-15").date()) | (actuals.store_id != first.store_id)]
    _, notes = api.score(pred, gap)
    stores = pred[pred.store_id == first.store_id].product_id.nunique()
    assert notes == [f"{stores} line-day(s) of the forecast without sales in the actuals, not scored: {stores} with "
                     f"no row on the day"]  # fmt: skip
    noon = actuals[(actuals.dt < pd.Timestamp("2024-06-18").date()) | (actuals.hour < 12)]  # exported at noon
    scores, notes = api.score(pred, noon)
    assert len(scores) == 8 and notes[0].startswith(f"{lines} line-day(s) scored fall on days lacking rows for some "
                                                     f"hours, counted as no sales (e.g. store_id=")  # fmt: skip
    assert "2024-06-18): a day not over when its sales were exported is scored as if it were" in notes[0]


def test_score_command_writes_and_prints_the_scores(split, tmp_path):
    d, _, pred = split
    res = CliRunner().invoke(app, ["score", "--forecast", str(d / "pred.parquet"), "--actuals",
                                   str(d / "actuals.parquet"), "--out", str(tmp_path / "s.csv")])  # fmt: skip
    assert res.exit_code == 0, res.output
    written = pd.read_csv(tmp_path / "s.csv", keep_default_na=False)
    scores, _ = api.score(pred, d / "actuals.parquet")
    assert written.dt.tolist() == scores.dt.tolist() and np.allclose(written.wape, scores.wape)
    assert "2024-06-18" in res.output and "quantiles on in-stock days: pinball_q10" in res.output
    pred.assign(yhat=-pred.yhat).to_parquet(tmp_path / "bad.parquet")
    res = CliRunner().invoke(app, ["score", "--forecast", str(tmp_path / "bad.parquet"), "--actuals",
                                   str(d / "actuals.parquet"), "--out", str(tmp_path / "t.csv")])  # fmt: skip
    assert res.exit_code == 1 and "bad.parquet" in res.output and "yhat" in res.output
    assert not (tmp_path / "t.csv").exists()


def test_an_hourly_forecast_is_scored_hour_by_hour(split, tmp_path):
    """Each forecast hour against the hour's sales, in stock where the hour is not flagged; the
    hours of a day add up to the daily scores' units."""
    d, actuals, pred = split
    model = DailyForecaster(n_estimators=30, seed=0).fit(load_history(pd.read_parquet(sample_path()).query(
        "dt <= @CUT")))  # fmt: skip
    hours = model.predict(7, actuals.drop(columns=["hourly_sale", "hourly_stockout"]), level="hour")
    scores, notes = api.score(hours, d / "actuals.parquet")
    assert notes == [] and scores.hours.tolist() == [len(hours) // 7] * 7 + [len(hours)]
    merged = hours.assign(dt=pd.to_datetime(hours.dt)).merge(
        actuals.assign(dt=pd.to_datetime(actuals.dt)), on=["store_id", "product_id", "dt", "hour"])  # fmt: skip
    assert len(merged) == len(hours)
    err = merged.yhat - merged.hourly_sale
    assert scores.wape.iat[-1] == pytest.approx(err.abs().sum() / merged.hourly_sale.sum(), rel=1e-5)
    ok = merged[merged.hourly_stockout == 0]
    assert scores.wape_instock.iat[-1] == pytest.approx((ok.yhat - ok.hourly_sale).abs().sum() / ok.hourly_sale.sum(),
                                                        rel=1e-5)  # fmt: skip
    assert scores.coverage_q50.iat[-1] == pytest.approx((ok.hourly_sale <= ok.q50).mean())
    daily, _ = api.score(pred, d / "actuals.parquet")
    assert np.allclose(scores.actual, daily.actual, rtol=1e-5)
    noon = actuals[(actuals.dt < pd.Timestamp("2024-06-18").date()) | (actuals.hour < 12)]
    assert api.score(hours, noon)[1][0].startswith(f"{len(hours) // 7} line-hour(s) scored fall on days lacking rows")
    res = CliRunner().invoke(app, ["score", "--forecast", str(d / "pred.parquet"), "--actuals",
                                   str(tmp_path / "none.parquet")])  # fmt: skip
    assert res.exit_code == 1 and "none.parquet" in res.output and isinstance(res.exception, SystemExit)
    odd = hours.rename(columns={"q10": "q010", "q50": "q50.0"}).sample(frac=1, random_state=0)  # names, row order
    pd.testing.assert_frame_equal(api.score(odd, d / "actuals.parquet")[0], scores)
    hours.query("hour < 20").to_parquet(tmp_path / "h.parquet")
    res = CliRunner().invoke(app, ["score", "--forecast", str(tmp_path / "h.parquet"), "--actuals",
                                   str(d / "actuals.parquet")])  # fmt: skip
    assert res.exit_code == 0 and "quantiles on in-stock hours" in res.output and "hours" in res.output.split()
    slots = model.predict(7, actuals.drop(columns=["hourly_sale", "hourly_stockout"]), slots="06-14,14-22,22-06")
    with pytest.raises(DataError, match="column 'slot': dayparts are not scored; score the daily forecast or the "):
        api.score(slots, d / "actuals.parquet")
    daily_actuals = actuals.groupby(["store_id", "product_id", "dt"], as_index=False).hourly_sale.sum()
    with pytest.raises(DataError, match="has no 'hour' column: an hourly forecast is scored against hourly sales"):
        api.score(hours, daily_actuals)
