"""Price response: how much more a store x product sells when its price is lower.

Estimated from the discount history (`discount` = price paid / regular price, per day), as a
within-series response: Poisson pseudo-likelihood (`forecast.ppml`) of each day's demand on
log(discount) with one effect per series (its own level) and one per city x date (weather,
holidays, the chain's day), so only price differences between days of the same series,
net of what moved every series of the city that day, identify it. One elasticity per
first-level category, shrunk towards the pooled one in proportion to its standard error
(empirical Bayes, DerSimonian-Laird between-category variance), capped at 0 so that a deeper
discount never lowers expected demand. Yesterday's and tomorrow's discounts enter too
(pooled): their responses say how much of a discount's lift is borrowed from the days
around it. Standard errors are clustered by product (discounts are set centrally, so days
of one product across stores are not independent).

The response of demand to a price ratio ``r`` (price / regular price) is ``r ** elasticity``;
demand at a new price = demand at the planned price x lift(new) / lift(planned). Depths
deeper than the data supports (fewer than `min_support_days` days or `min_support_products`
products at that depth or deeper, per category) are not offered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.contract import PRODUCT, STORE
from ..data.panel import DailyPanel
from ..errors import FreshcastError
from ..features.latent import recovered_demand
from ..outputs import output_folder, write_table, write_text
from .ppml import poisson_two_way

CATEGORY = "first_category_id"
CITY = "city_id"
LADDER = (0.1, 0.2, 0.3, 0.4, 0.5)  # markdown depths: share off the regular price
LOWEST_DISCOUNT = 0.05  # a price below 5% of the regular one is a data error, not a price
ON = ("demand", "in_stock")
# A category gets its own elasticity when at least this many of its products were sold
# MIN_CUT or more below the regular price (clustered errors need several products); the
# others take the pooled one.
MIN_CUT = 0.05
MIN_PRODUCTS_CUT = 5
REPORT_DEPTH = 0.2  # depth at which the share borrowed from neighbouring days is reported


@dataclass
class ResponseRows:
    """The days a response is estimated on: outcome, design and groups (see `design`)."""

    y: np.ndarray  # float64 demand (units)
    X: np.ndarray  # (k, n) float32 regressors
    names: list[str]
    categories: list  # the categories with a price column each (the first regressors, in order)
    series: np.ndarray  # int64 series index (panel order)
    period: np.ndarray  # int64 city x date group
    product: np.ndarray  # int64 product index (clusters)
    category: np.ndarray  # category label of each row's series
    log_price: np.ndarray  # float64 log(discount) of the day
    excluded: int  # days left out: discount missing or below LOWEST_DISCOUNT (that day or a neighbour)
    position: np.ndarray  # flat panel position of each row


class PriceResponse:
    """Elasticities of daily demand to the price paid, per first-level category.

    on : "demand" (default): every day's demand, recovered where stockouts hid it (needs
        hourly rows; daily input falls back to "in_stock"); "in_stock": only days that
        stayed in stock, at their sales.
    min_support_days, min_support_products : the deepest discount a category supports is the
        deepest reached on at least this many series-days of at least this many products.
    ladder : depths (share off the regular price) at which the lift is reported.
    A category with too few discounted products for its own elasticity takes the pooled
    one; its deepest discount is still what its own days reached.

    After `fit(panel)`: `table_` (one row per category: elasticity, its standard error, the
    unshrunk estimate, rows, deepest supported discount, lift at each ladder depth),
    `pooled_` (elasticity, std_error, between-category sd), `neighbours_` (responses to
    yesterday's and tomorrow's discount, with standard errors), `pull_forward_share_`."""

    def __init__(self, on: str = "demand", min_support_days: int = 200, min_support_products: int = 5,
                 ladder=LADDER):  # fmt: skip
        self.on = on
        self.min_support_days = min_support_days
        self.min_support_products = min_support_products
        self.ladder = ladder

    def fit(self, panel: DailyPanel) -> PriceResponse:
        if self.on not in ON:
            raise FreshcastError(f"the price response is estimated on one of {', '.join(ON)}, got '{self.on}'")
        rows = design(panel, self.on)
        cats = rows.categories
        try:
            fit = poisson_two_way(rows.X, rows.y, rows.series, rows.period, rows.product)
        except np.linalg.LinAlgError:
            raise FreshcastError(
                f"{panel.source}: the price response cannot be estimated: the discounts do not vary once each "
                f"series' level and each city's day are taken out (every product at the same discount on a day?)"
            ) from None
        k = len(cats)
        raw, se = fit.coef[:k], fit.std_error[:k]
        pooled, pooled_se, tau2 = _pool(raw, se)
        shrunk = (tau2 * raw + se**2 * pooled) / (tau2 + se**2)
        weight = se**2 / (tau2 + se**2)  # on the pooled estimate, whose own error counts too
        shrunk_se = np.sqrt((1 - weight) * se**2 + weight**2 * pooled_se**2)
        support = supported_depths(rows, self.min_support_days, self.min_support_products)
        every = list(np.unique(rows.category))
        own = {c: i for i, c in enumerate(cats)}
        pick = np.array([own.get(c, -1) for c in every])
        mine = pick >= 0
        table = pd.DataFrame({
            CATEGORY: every,
            "estimated": mine,
            "elasticity": np.where(mine, np.minimum(shrunk[pick], 0.0), min(pooled, 0.0)),
            "std_error": np.where(mine, shrunk_se[pick], pooled_se),
            "elasticity_unshrunk": np.where(mine, raw[pick], np.nan),
            "std_error_unshrunk": np.where(mine, se[pick], np.nan),
            "days": [int(np.sum(rows.category == c)) for c in every],
            "deepest_discount": [support.get(c, 0.0) for c in every],
        })  # fmt: skip
        self.pooled_ = {"elasticity": float(min(pooled, 0.0)), "std_error": float(pooled_se),
                        "between_category_sd": float(np.sqrt(tau2))}  # fmt: skip
        names = rows.names
        self.neighbours_ = {
            n: {"coef": float(fit.coef[names.index(n)]), "std_error": float(fit.std_error[names.index(n)])}
            for n in names[k:] if n != "log_price:others"
        }
        self.deepest_pooled_ = support.get(None, 0.0)
        self.table_ = table
        for d in self.ladder:
            table[f"lift_{round(d * 100):d}"] = self.lift(table[CATEGORY].to_numpy(), np.full(len(table), 1 - d))
        table["pull_forward_share"] = [self.pull_forward_share(c, REPORT_DEPTH) for c in every]
        self.pull_forward_share_ = self.pull_forward_share(None, REPORT_DEPTH)
        self.rows_, self.excluded_, self.iterations_ = len(rows.y), rows.excluded, fit.iterations
        used = np.unique(rows.series)
        self.level_ = pd.Series(fit.a[used], index=_series_index(panel, used))  # each series' demand level
        return self

    def log_effect(self, rows: ResponseRows, own: bool = True) -> np.ndarray:
        """log of the expected demand factor of each row from its prices (own price only with
        `own`) and promotion flag, as estimated (the level effects aside)."""
        out = np.zeros(len(rows.y))
        for n, x in zip(rows.names, rows.X):
            if n in self.neighbours_:
                out += self.neighbours_[n]["coef"] * x
        if own:
            out += self.elasticity(rows.category) * rows.log_price
        return out

    @classmethod
    def load(cls, folder: str | Path) -> PriceResponse:
        """The response written by `price_response_to_folder` (response.parquet, summary.json)."""
        folder = Path(folder)
        try:
            table = pd.read_parquet(folder / "response.parquet")
            about = json.loads((folder / "summary.json").read_text())
        except (OSError, ValueError) as exc:
            raise FreshcastError(f"{folder}: not a price response written by freshcast price-response ({exc})") from None
        self = cls(on=about["estimated_on"])
        self.table_, self.pooled_, self.neighbours_ = table, about["pooled"], about["neighbouring_days"]
        self.deepest_pooled_ = about["deepest_discount_pooled"]
        return self

    def elasticity(self, categories) -> np.ndarray:
        """Elasticity of each category label (the pooled one for categories not estimated)."""
        known = dict(zip(self.table_[CATEGORY], self.table_["elasticity"]))
        return np.array([known.get(c, self.pooled_["elasticity"]) for c in np.asarray(categories)], np.float64)

    def deepest(self, categories) -> np.ndarray:
        """Deepest supported discount (share off) of each category label."""
        known = dict(zip(self.table_[CATEGORY], self.table_["deepest_discount"]))
        return np.array([known.get(c, self.deepest_pooled_) for c in np.asarray(categories)], np.float64)

    def lift(self, categories, price_ratio) -> np.ndarray:
        """Expected demand at `price_ratio` (price / regular price, <= 1) relative to the
        regular price, per row; NaN where the discount is deeper than its category supports.
        Never below 1 for a ratio below 1, and never lower at a deeper discount."""
        r = np.asarray(price_ratio, np.float64)
        out = np.power(np.maximum(r, LOWEST_DISCOUNT), self.elasticity(categories))
        out[1 - r > self.deepest(categories) + 1e-9] = np.nan
        return out

    def pull_forward_share(self, category, depth: float) -> float:
        """Share of a one-day discount's extra units lost on the day before and the day after
        (positive: borrowed from them), at `depth` off."""
        e = self.pooled_["elasticity"] if category is None else float(self.elasticity([category])[0])
        gain = (1 - depth) ** e - 1
        if gain <= 0:
            return 0.0
        coefs = [self.neighbours_.get(n, {"coef": 0.0})["coef"] for n in ("log_price_yesterday", "log_price_tomorrow")]
        loss = sum(1 - (1 - depth) ** c for c in coefs)
        return float(loss / gain)

    def summary(self) -> dict:
        return {
            "method": "Poisson pseudo-likelihood, effects per series and per city x date, elasticity per first-level "
            "category shrunk towards the pooled one (DerSimonian-Laird), standard errors clustered by product",
            "estimated_on": self.on,
            "days": self.rows_,
            "days_excluded": self.excluded_,
            "pooled": self.pooled_,
            "deepest_discount_pooled": self.deepest_pooled_,
            "neighbouring_days": self.neighbours_,
            "pull_forward_share": {"depth": REPORT_DEPTH, "share": self.pull_forward_share_},
        }


def check_discounts(covariates, source: str) -> None:
    """FreshcastError unless the columns `covariates` of `source` hold the discount."""
    if "discount" not in covariates:
        raise FreshcastError(f"{source}: the price response needs the column 'discount' (price paid / regular price)")


def design(panel: DailyPanel, on: str = "demand") -> ResponseRows:
    """Rows (series-days with a discount that day and on both neighbouring days) and
    regressors: log(discount) per category, yesterday's and tomorrow's log(discount), and
    the promotion flag where the input has one."""
    check_discounts(panel.covariates, panel.source)
    price = panel.covariates["discount"].astype(np.float64)
    y, use = _outcome(panel, on)
    lengths = np.diff(panel.offsets)
    series = np.repeat(np.arange(panel.n_series), lengths)
    pos = np.arange(panel.n_flat)
    inner = (pos > panel.offsets[:-1][series]) & (pos < panel.offsets[1:][series] - 1)
    priced = np.isfinite(price) & (price >= LOWEST_DISCOUNT)
    ok_price = inner & priced & np.roll(priced, 1) & np.roll(priced, -1)
    keep = ok_price & use & np.isfinite(y)
    excluded = int(np.sum(inner & use & np.isfinite(y) & ~ok_price))
    p = np.flatnonzero(keep)
    if len(p) == 0:
        raise FreshcastError(f"{panel.source}: no day with a discount and sales to estimate a price response from")
    table = panel.series
    cat_of_series = table[CATEGORY].to_numpy() if CATEGORY in table.columns else np.zeros(panel.n_series, np.int64)
    cat = cat_of_series[series[p]]
    log_price = np.log(np.where(priced, price, 1.0))
    lp = log_price[p]
    _, product = np.unique(table[PRODUCT].to_numpy()[series[p]], return_inverse=True)
    product = product.ravel()
    cut = lp < np.log(1 - MIN_CUT)
    cats = [c for c in np.unique(cat) if len(np.unique(product[cut & (cat == c)])) >= MIN_PRODUCTS_CUT]
    if not cats:
        raise FreshcastError(
            f"{panel.source}: the column 'discount' goes {MIN_CUT:.0%} or more below the regular price for fewer "
            f"than {MIN_PRODUCTS_CUT} products of any category, too few to estimate a price response from"
        )
    cols = [np.where(cat == c, lp, 0.0).astype(np.float32) for c in cats]
    names = [f"log_price:{c}" for c in cats]
    others = ~np.isin(cat, cats)
    if np.any(others & cut):  # the thinly discounted categories share one response (not reported)
        cols.append(np.where(others, lp, 0.0).astype(np.float32))
        names.append("log_price:others")
    cols += [log_price[p - 1], log_price[p + 1]]
    names += ["log_price_yesterday", "log_price_tomorrow"]
    if "activity_flag" in panel.covariates:
        cols.append(panel.covariates["activity_flag"][p].astype(np.float32))
        names.append("activity_flag")
    day = panel.day_numbers()[p].astype(np.int64)
    city = table[CITY].to_numpy()[series[p]] if CITY in table.columns else np.zeros(len(p), np.int64)
    _, period = np.unique(np.stack([pd.factorize(city)[0], day - day.min()]), axis=1, return_inverse=True)
    X = np.vstack(cols)
    usable = X.std(axis=1) > 0
    if not usable[len(cats):].all():  # a constant neighbour or promotion column adds nothing
        keep_cols = np.r_[np.ones(len(cats), bool), usable[len(cats):]]
        X, names = X[keep_cols], [n for n, k in zip(names, keep_cols) if k]
    return ResponseRows(y[p], X, names, cats, series[p].astype(np.int64), period.ravel().astype(np.int64),
                        product.astype(np.int64), cat, lp, excluded, p)  # fmt: skip


def _series_index(panel: DailyPanel, series: np.ndarray | slice = slice(None)) -> pd.MultiIndex:
    """(store_id, product_id) of the panel's `series` (all by default)."""
    return pd.MultiIndex.from_frame(panel.series[[STORE, PRODUCT]].iloc[series])


def _outcome(panel: DailyPanel, on: str) -> tuple[np.ndarray, np.ndarray]:
    """(float64 units per flat position, which positions count): every day's demand
    (recovered) on "demand" with hours; else the sales of the days that stayed in stock."""
    if on == "demand" and panel.hourly:
        return recovered_demand(panel).astype(np.float64), np.ones(panel.n_flat, bool)
    return panel.sales.astype(np.float64), panel.in_stock()


def response_panel(panel: DailyPanel, on: str = "demand") -> DailyPanel:
    """What `design` reads of `panel`, without its hours: a daily panel whose sales are the
    units the response is estimated `on` (NaN on the days that do not count, no stockout
    left to drop a day) with only the discount and promotion columns. `PriceResponse().fit` on
    the partitions' response panels put end to end (`data.panel.concat_panels`) is the fit on
    the whole panel: how a chain on Dask estimates it (`cluster.replay`). Fit it with the
    `on` it was made for (the panel holds that outcome whatever `on` the fit is given)."""
    y, use = _outcome(panel, on)
    zeros = np.zeros(panel.n_flat, np.float32)
    return DailyPanel(
        series=panel.series, offsets=panel.offsets, start=panel.start, last_day=panel.last_day,
        sales=np.where(use, y, np.nan).astype(np.float32), stockout_hours=zeros, stockout_shop_hours=zeros,
        instock_sales=zeros, instock_hours=zeros, filled_hours=zeros, source=panel.source,
        covariates={k: v for k, v in panel.covariates.items() if k in ("discount", "activity_flag")},
    )  # fmt: skip


def _pool(estimate: np.ndarray, se: np.ndarray) -> tuple[float, float, float]:
    """(pooled estimate, its standard error, between-group variance tau^2), DerSimonian-Laird."""
    w = 1 / se**2
    fixed = np.sum(w * estimate) / np.sum(w)
    if len(estimate) < 2:
        return float(fixed), float(np.sqrt(1 / np.sum(w))), 0.0
    q = np.sum(w * (estimate - fixed) ** 2)
    tau2 = max(0.0, (q - (len(estimate) - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    w_star = 1 / (se**2 + tau2)
    return float(np.sum(w_star * estimate) / np.sum(w_star)), float(np.sqrt(1 / np.sum(w_star))), float(tau2)


def supported_depths(rows: ResponseRows, min_days: int, min_products: int) -> dict:
    """Deepest discount (share off, floored to 1%) reached on at least `min_days` days of at
    least `min_products` products, per category and pooled (key None); 0 when none is."""
    depth = 1 - np.exp(rows.log_price)
    out = {}
    for c in [*np.unique(rows.category), None]:
        sel = np.ones(len(depth), bool) if c is None else rows.category == c
        d = np.sort(depth[sel])[::-1]
        if len(d) < min_days:
            out[c] = 0.0
            continue
        by_product = pd.Series(depth[sel]).groupby(rows.product[sel]).max().sort_values(ascending=False).to_numpy()
        if len(by_product) < min_products:
            out[c] = 0.0
            continue
        deepest = min(d[min_days - 1], by_product[min_products - 1])
        out[c] = float(max(np.floor(deepest * 100 + 1e-6) / 100, 0.0))
    return out


DEPTH_BINS = (0.0, 0.05, 0.15, 0.25, 0.35, 1.0)


def validate_response(panel: DailyPanel, holdout_days: int = 14, **params) -> tuple[PriceResponse, pd.DataFrame, dict]:
    """Out-of-sample check: fit on `panel` without its last `holdout_days` days, then on
    those days, wherever a series' price moved 5% or more from the day before, compare the
    realised lift (demand against the fitted demand at the regular price) with the predicted
    one, by depth of the day's discount. Each series' level comes from the fit; each city x
    date's level is fitted on the held-out days themselves (all series, the response fixed),
    so the check is of the response, not of a level forecast. Returns (the response fitted
    on the earlier days, the table by depth, totals: WAPE of the changed days with the
    response and with none)."""
    cut, first = panel.last_day - holdout_days, int(panel.start.min())
    if cut < first:
        raise FreshcastError(f"{panel.source}: holdout_days {holdout_days} holds back the whole history "
                             f"({panel.last_day - first + 1} days): nothing is left to fit on; give fewer days (0: "
                             f"no check)")  # fmt: skip
    response = PriceResponse(**params).fit(panel.until(cut))
    rows = design(panel, response.on)
    held = panel.day_numbers()[rows.position] > cut
    level = response.level_.reindex(_series_index(panel)).to_numpy()[rows.series]
    held &= np.isfinite(level) & (level > 0)
    if not held.any():
        raise FreshcastError(f"{panel.source}: no held-out day of a series seen before to validate the price response on")
    sub = _subset(rows, held)
    level = level[held]
    changed = np.abs(sub.log_price - sub.X[sub.names.index("log_price_yesterday")]) >= -np.log(0.95)
    out = {}
    for name, own in (("with_response", True), ("without_response", False)):
        expect = level * np.exp(response.log_effect(sub, own))
        period_level = _ratio_by(sub.y, expect, sub.period)
        out[name] = expect * period_level[sub.period]
    mu = out["with_response"]
    at_regular = mu / np.exp(response.elasticity(sub.category) * sub.log_price)
    depth = 1 - np.exp(sub.log_price)
    bins = np.digitize(depth, DEPTH_BINS[1:-1])
    table = []
    for b in range(len(DEPTH_BINS) - 1):
        sel = changed & (bins == b)
        if sel.any():
            table.append({
                "depth_from": DEPTH_BINS[b], "depth_to": DEPTH_BINS[b + 1], "days": int(sel.sum()),
                "realised_lift": float(sub.y[sel].sum() / at_regular[sel].sum()),
                "predicted_lift": float(mu[sel].sum() / at_regular[sel].sum()),
            })  # fmt: skip
    y = sub.y[changed]
    totals = {"holdout_days": holdout_days, "days_with_price_change": int(changed.sum()),
              **{f"wape_{k}": float(np.abs(y - v[changed]).sum() / max(y.sum(), 1e-12)) for k, v in out.items()}}  # fmt: skip
    return response, pd.DataFrame(table), totals


def _ratio_by(y: np.ndarray, expect: np.ndarray, group: np.ndarray) -> np.ndarray:
    total = np.bincount(group, y)
    base = np.bincount(group, expect)
    return np.divide(total, base, out=np.zeros_like(total), where=base > 0)


def _subset(rows: ResponseRows, keep: np.ndarray) -> ResponseRows:
    return ResponseRows(rows.y[keep], rows.X[:, keep], rows.names, rows.categories, rows.series[keep],
                        rows.period[keep], rows.product[keep], rows.category[keep], rows.log_price[keep], 0,
                        rows.position[keep])  # fmt: skip


def price_response_to_folder(
    history, out: str | Path, column_map: dict[str, str] | None = None, holdout_days: int = 14,
    progress: Callable[[str], None] | None = None, scheduler: str | None = None,
) -> tuple[PriceResponse, dict]:  # fmt: skip
    """The job of `freshcast price-response`: estimate the response on the whole `history`,
    check one fitted without its last `holdout_days` days on those days (0: no check), and
    write folder `out` (swapped in whole): response.parquet / .csv (one row per category),
    validation.csv (predicted and realised lift by depth) and summary.json. With `scheduler`
    ("local:N" or "tcp://HOST:PORT", a path only) the history is read on that Dask cluster
    (`cluster.price_response`)."""
    from ..console import Step
    from ..data import load_history
    from ..data.read import source_name

    if isinstance(holdout_days, bool) or not isinstance(holdout_days, (int, np.integer)) or holdout_days < 0:
        raise FreshcastError(f"holdout_days: expected a whole number of days, 0 or more, got {holdout_days!r}")
    if scheduler is not None:
        from ..cluster.connect import connected
        from ..cluster.price_response import chain_response_panel

        with connected(scheduler) as client:
            panel = chain_response_panel(client, history, column_map, progress)
    else:
        with Step(f"loading history {source_name(history)}", progress):
            panel = load_history(history, column_map)
    with Step(f"estimating the price response of {panel.n_series:,} series", progress):
        response = PriceResponse().fit(panel)
    summary = {"history": source_name(history), "series": panel.n_series, **response.summary()}
    validation = pd.DataFrame()
    if holdout_days > 0:
        with Step(f"checking it on the last {holdout_days} days, fitted without them", progress):
            _, validation, totals = validate_response(panel, holdout_days)
        summary["validation"] = {**totals, "by_depth": validation.to_dict(orient="records")}
    with output_folder(out, "price-response") as tmp:
        write_table(response.table_, tmp / "response.parquet")
        write_table(response.table_, tmp / "response.csv")
        write_table(validation, tmp / "validation.csv")
        write_text(tmp / "summary.json", json.dumps(summary, indent=2, default=_plain))
    return response, summary


def _plain(value):
    return value.item() if hasattr(value, "item") else str(value)
