import os
import re

# the command line's error boxes as wide as their message (typer reads this once, on import): a
# long temporary path (a pytest-xdist worker's) is not wrapped inside a file name a test looks for
os.environ["TERMINAL_WIDTH"] = "1000"
# one thread per test process (pytest-xdist runs one per core; a notebook's kernel inherits it):
# OpenMP threads on cores other processes keep busy wait for each other at every barrier
os.environ["FRESHCAST_THREADS"] = "1"

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from freshcast.data import load_history, sample_path  # noqa: E402


@pytest.fixture(scope="session")
def sample_panel():
    return load_history(sample_path())


@pytest.fixture(scope="session")
def sample_frame():
    return pd.read_parquet(sample_path())


def make_hourly(n_stores=2, n_products=3, days=40, seed=0, start="2024-01-01") -> pd.DataFrame:
    """A small synthetic hourly history in the native columns (weekly pattern + noise)."""
    rng = np.random.default_rng(seed)
    dts = pd.date_range(start, periods=days, freq="D")
    rows = []
    for s in range(n_stores):
        for p in range(n_products):
            level = rng.uniform(0.5, 3.0)
            for d in dts:
                day_level = level * (1.5 if d.day_of_week >= 5 else 1.0)
                sales = rng.poisson(day_level / 24 * 4, 24) / 4
                rows.append(
                    pd.DataFrame(
                        {
                            "store_id": s,
                            "product_id": 100 + p,
                            "dt": d.date(),
                            "hour": np.arange(24),
                            "hourly_sale": sales.astype("float32"),
                            "hourly_stockout": (rng.random(24) < 0.1).astype("int8"),
                            "discount": np.float32(1.0 if d.day % 5 else 0.8),
                            "holiday_flag": np.int8(d.day_of_week >= 5),
                            "activity_flag": np.int8(0),
                            "avg_temperature": np.float32(20 + rng.normal()),
                        }
                    )
                )
    out = pd.concat(rows, ignore_index=True)
    out["hour"] = out["hour"].astype("int8")
    return out


def split_sample(tmp_path):
    """Sample history up to 2024-06-15 and the covariates of the 3 days after, as Parquet."""
    df = pd.read_parquet(sample_path())
    cut = pd.Timestamp("2024-06-15").date()
    df[df.dt <= cut].to_parquet(tmp_path / "history.parquet")
    df[df.dt > cut].drop(columns=["hourly_sale", "hourly_stockout"]).to_parquet(tmp_path / "future.parquet")
    return df


def unboxed(output: str) -> str:
    """A command's output with rich's error box drawn away and every run of white space one
    space, so that a message wrapped at the terminal's width reads as one line."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", output).split())
