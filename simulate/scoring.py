"""What the replay scores: the demand it serves, the costs and units of each policy, the
stock left at the end, and the ranking against the cheapest baseline and the hindsight bound."""

from __future__ import annotations

import numpy as np

from ..data.panel import DailyPanel
from ..errors import FreshcastError
from ..features.latent import recovered_demand
from ..optimize import kernels as K
from ..optimize.master import MasterData
from ..optimize.orders import weekly_extend

DEMAND_KINDS = ("recovered", "observed")


def ranked(summary: dict, baselines: list[str]) -> dict:
    """The summaries ordered by total cost, each with its rank and the share of the cheapest
    baseline's gap to the hindsight bound it closes (`gap_closed`; 1 = as cheap as the bound)."""
    order = sorted(summary, key=lambda k: summary[k]["total_cost"])
    out = {name: {**summary[name], "rank": i + 1} for i, name in enumerate(order)}
    if baselines and "hindsight" in summary:
        base = min(baselines, key=lambda k: summary[k]["total_cost"])
        gap = summary[base]["total_cost"] - summary["hindsight"]["total_cost"]
        for row in out.values():
            row["gap_closed"] = (summary[base]["total_cost"] - row["total_cost"]) / gap if gap > 0 else float("nan")
    return out


def served_demand(panel: DailyPanel, first_day: int, kind: str = "recovered") -> np.ndarray:
    """(n_series, days) demand of the days `first_day` .. `panel.last_day`, float64 units.
    "observed": the sales. "recovered": on days with stockout shop hours the demand recovered
    from the day's in-stock hours by the series' intraday in-stock profile (all of it, see
    `features.latent`; never below the sales), on in-stock days the sales."""
    if kind not in DEMAND_KINDS:
        raise FreshcastError(f"demand must be one of {', '.join(DEMAND_KINDS)}, got '{kind}'")
    if kind == "recovered" and not panel.hourly:
        raise FreshcastError(f"{panel.source}: recovered demand needs hourly rows; replay the sales with demand "
                             f"'observed'")  # fmt: skip
    pos = panel.positions(first_day)[:, None] + np.arange(panel.last_day - first_day + 1)
    return (panel.sales if kind == "observed" else recovered_demand(panel))[pos].astype(np.float64)


def held_by_expiry(stock: np.ndarray, shelf: np.ndarray, t: int) -> np.ndarray:
    """(n, longest shelf life) units held on day t by expiry (0 = t) from the replay's stock by
    absolute expiry day: only units that have arrived (expiry within the shelf life)."""
    e = np.arange(int(shelf.max()))[None, :]
    col = np.minimum(t + e, stock.shape[1] - 1)
    return np.ascontiguousarray(np.where(e < shelf[:, None], stock[np.arange(len(stock))[:, None], col], 0.0))


def following_demand(demand: np.ndarray, shelf: np.ndarray) -> np.ndarray:
    """(n, longest shelf life) demand of the days after the replay, to sell the stock left
    against: the same weekday of the replay's last week (its last day if shorter)."""
    T = demand.shape[1]
    return weekly_extend(demand, T + int(shelf.max()))[:, T:]


RATIOS = ("waste_pct", "fill_rate", "average_stock")  # of `summarise`; its other figures add up over lines


def ratios(wasted: float, received: float, sold: float, demanded: float) -> dict:
    """waste_pct (percent of the units received) and fill_rate (share of the units demanded)."""
    return {"waste_pct": 100.0 * wasted / received if received > 0 else 0.0,
            "fill_rate": sold / demanded if demanded > 0 else 1.0}  # fmt: skip


def with_ratios(totals: dict) -> dict:
    """`totals` (units wasted, received, sold and demanded, added up over lines) with their
    waste_pct and fill_rate worked out (`ratios`)."""
    totals.update(ratios(totals["units_wasted"], totals["units_received"], totals["units_sold"],
                         totals["units_demanded"]))  # fmt: skip
    return totals


def merged(summaries: list[dict], lines: list[int]) -> dict:
    """One `summarise` of several groups of lines (partitions of the chain, with `lines`
    series each) replayed over the same days: the totals added, the ratios worked out again
    (one group's as it is: averaging it again could move its last digit)."""
    if len(summaries) == 1:
        return dict(summaries[0])
    out = with_ratios({k: float(sum(s[k] for s in summaries)) for k in summaries[0] if k not in RATIOS})
    out["average_stock"] = float(sum(s["average_stock"] * n for s, n in zip(summaries, lines)) / max(sum(lines), 1))
    return {k: out[k] for k in summaries[0]}


def ending_stock(stock: np.ndarray, shelf: np.ndarray, demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What becomes of the stock left after the T replayed days (`stock` by expiry day, as the
    replay holds it; not changed): it is sold first-in-first-out, with nothing else
    arriving, against the following days' demand taken as the replay's own (the same weekday
    of its last week; its last day if shorter), until it expires. Returns per line (units
    expected to sell, units expected to expire)."""
    n, T = demand.shape
    left = stock.copy()
    sold, wasted = np.zeros(n), np.zeros(n)
    following = following_demand(demand, shelf)
    for d in range(following.shape[1]):
        day_sold, _, day_wasted, _ = K.sell_day(left, shelf, T + d, np.ascontiguousarray(following[:, d]))
        sold += day_sold
        wasted += day_wasted
    return sold, wasted


def summarise(demand: np.ndarray, log: dict, master: MasterData, stock: np.ndarray) -> dict:
    """Units and money over the replay. The stock left at the end is costed alike for every
    policy (`ending_stock`): what is expected to sell is worth its unit cost
    (`ending_stock_value`), what is expected to expire costs its waste cost, which
    `total_cost` includes (`ending_waste_cost`)."""
    margin, waste_cost, hold = master.lost_margin[:, None], master.waste_cost[:, None], master.holding_cost[:, None]
    received = float(log["received"].sum())
    sold, wasted, lost = (float(log[k].sum()) for k in ("sold", "wasted", "lost"))
    lost_margin = float((margin * log["lost"]).sum())
    waste_money = float((waste_cost * log["wasted"]).sum())
    holding = float((hold * log["stock_end"]).sum())
    later_sold, later_wasted = ending_stock(stock, master.shelf_life_days, demand)
    ending_waste = float((master.waste_cost * later_wasted).sum())
    return {
        "units_demanded": float(demand.sum()),
        "units_received": received,
        "units_sold": sold,
        "units_wasted": wasted,
        "units_lost": lost,
        "units_ending_stock": float(log["stock_end"][:, -1].sum()),
        **ratios(wasted, received, sold, float(demand.sum())),
        "average_stock": float(log["stock_end"].mean()),
        "gross_margin": float((margin * log["sold"]).sum()) - waste_money,
        "lost_margin": lost_margin,
        "waste_cost": waste_money,
        "holding_cost": holding,
        "ending_units_expected_to_sell": float(later_sold.sum()),
        "ending_units_expected_to_expire": float(later_wasted.sum()),
        "ending_stock_value": float((master.unit_cost * later_sold).sum()),
        "ending_waste_cost": ending_waste,
        "total_cost": lost_margin + waste_money + holding + ending_waste,
    }
