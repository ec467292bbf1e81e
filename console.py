"""Progress lines on stderr, for the command line and for unattended runs' logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def say(msg: str) -> None:
    """One progress line on stderr, prefixed `[freshcast]`."""
    print(f"[freshcast] {msg}", file=sys.stderr, flush=True)


class Step:
    """Report a long step's start and, if it succeeds, its duration (seconds) through
    `progress` (a function taking one line; None: silent)."""

    def __init__(self, what: str, progress: Callable[[str], None] | None = say):
        self.what = what
        self.progress = progress

    def __enter__(self) -> Step:
        self.t0 = time.perf_counter()
        if self.progress:
            self.progress(f"{self.what} ...")
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None and self.progress:
            self.progress(f"{self.what}: done in {time.perf_counter() - self.t0:.1f} s")


def scores_text(scores) -> str:
    """The backtest's scores over all folds (or its one fold) as a text table, with the
    quantile scores of freshcast."""
    view = scores[scores["fold"] == "all"] if (scores["fold"] == "all").any() else scores
    cols = ["method", "wape", "wpe", "mase", "wape_instock", "wpe_instock"]
    lines = [view[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    ours = view[view["method"] == "freshcast"].iloc[0]
    quantile_cols = [c for c in view.columns if c.startswith(("coverage_", "pinball_", "interval_"))]
    if quantile_cols:
        lines.append("freshcast quantiles on in-stock days: " + ", ".join(f"{c} {ours[c]:.3f}" for c in quantile_cols))
    return "\n".join(lines)


def forecast_scores_text(scores) -> str:
    """`freshcast score`'s table per day ahead and over all days, with the quantile scores of all
    days (or hours, for an hourly forecast)."""
    hourly = "hours" in scores.columns
    cols = ["dt", "horizon", "lines", *(["hours"] if hourly else []), "actual", "forecast", "wape", "wpe",
            "wape_instock", "wpe_instock"]  # fmt: skip
    lines = [scores[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="")]
    quantile_cols = [c for c in scores.columns if c.startswith(("coverage_", "pinball_", "interval_"))]
    if quantile_cols:
        every = scores.iloc[-1]
        lines.append(f"quantiles on in-stock {'hours' if hourly else 'days'}: "
                     + ", ".join(f"{c} {every[c]:.3f}" for c in quantile_cols))  # fmt: skip
    return "\n".join(lines)


def replay_text(summary: dict) -> str:
    """The replay's summary per policy as a text table."""
    cols = ("fill_rate", "waste_pct", "units_lost", "gross_margin", "total_cost", "gap_closed")
    lines = [f"{'policy':18s}" + "".join(f"{c:>13s}" for c in cols)]
    lines += [f"{name:18s}" + "".join(f"{row.get(c, float('nan')):13.3f}" for c in cols) for name, row in summary.items()]
    return "\n".join(lines)
