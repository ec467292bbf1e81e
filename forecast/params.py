"""Forecaster parameters in a TOML file (what `freshcast tune` writes as best_params.toml and
`forecast`, `backtest`, `replay` and the nightly run read with --params / [model] params).

    [forecaster]
    learning_rate = 0.08
    n_estimators = 240
    windows = [7, 14, 28]
    lgb_params = { feature_fraction = 0.7 }

Only the model's own settings belong there (`TUNABLE`); the commands keep setting the
horizon, the history a row needs, the quantiles, the seed and the threads.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import tomllib
from pathlib import Path

from ..data.contract import STATIC
from ..errors import ConfigError
from .calibrator import CALIBRATE_ON
from .daily import FLAGS, DailyForecaster

_DEFAULTS = {k: p.default for k, p in inspect.signature(DailyForecaster.__init__).parameters.items() if k != "self"}
SET_BY_COMMANDS = ("max_horizon", "min_history_days", "quantiles", "seed", "n_jobs")
TUNABLE = tuple(k for k in _DEFAULTS if k not in SET_BY_COMMANDS)
_LISTS = ("lags", "windows", "ewm_alphas")
_WHOLE = ("weekday_weeks", "n_estimators", "num_leaves", "min_child_samples", "max_bin", "train_days",
          "calibration_series")  # fmt: skip
_ALL = ("train_days", "calibration_series")  # None, written "all": every day, every series
# LightGBM's objectives whose forecast is the mean of a non-negative amount, as `yhat` is (its
# aliases are not taken; a median, a quantile or a robust fit would not be the mean)
OBJECTIVES = ("tweedie", "poisson", "regression", "gamma")


def read_params(path: str | Path) -> dict:
    """DailyForecaster keyword arguments from a params file; ConfigError naming the file and
    the key for a file that cannot be read, an unknown key or a value of the wrong type."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as TOML: {exc}") from None
    unknown = [k for k in data if k != "forecaster"]
    if unknown or not isinstance(data.get("forecaster"), dict):
        raise ConfigError(f"{path}: expected one [forecaster] table, got {sorted(data) or 'nothing'}")
    return check_params(data["forecaster"], f"{path}: [forecaster]")


def tuned_origins(path: str | Path) -> list[str]:
    """The origins (last training days, ISO) a params file written by `freshcast tune` was
    chosen on, read from its header; [] for a file without them."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    found = re.search(r"^# freshcast tune: .* origins ((?:\d{4}-\d\d-\d\d(?:, )?)+) \(horizon", text, re.MULTILINE)
    return found.group(1).split(", ") if found else []


def check_params(values: dict, where: str) -> dict:
    """The values as DailyForecaster keyword arguments (lists become tuples), checked."""
    out = {}
    for key, value in values.items():
        if key not in TUNABLE:
            hint = " (set by the command)" if key in SET_BY_COMMANDS else ""
            raise ConfigError(f"{where} {key}: not a forecaster parameter{hint}; known: {', '.join(TUNABLE)}")
        out[key] = _checked(key, value, f"{where} {key}")
    return out


def _checked(key: str, value, where: str):
    def bad(expected: str):
        return ConfigError(f"{where}: expected {expected}, got {value!r}")

    number = (int, float)
    if key in _LISTS:
        kind = int if key != "ewm_alphas" else number
        if not isinstance(value, (list, tuple)) or not value or any(isinstance(v, bool) or not isinstance(v, kind) for v in value):
            raise bad("a non-empty list of " + ("whole numbers" if kind is int else "numbers"))
        if key == "ewm_alphas" and not all(0 < v <= 1 for v in value):
            raise bad("numbers in (0, 1]")
        if key != "ewm_alphas" and not all(v >= 1 for v in value):
            raise bad("whole numbers of at least 1")
        return tuple(value)
    if key in _ALL and value == "all":
        return None  # every series, or every day
    if key in _WHOLE:
        least = 2 if key in ("num_leaves", "max_bin") else 1  # LightGBM needs two leaves and two bins
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise bad(f"a whole number of at least {least}" + (' or "all"' if key in _ALL else ""))
        return value
    if key == "group_models":
        if not isinstance(value, str) or value not in STATIC:
            raise bad(" or ".join(f'"{a}"' for a in STATIC))
        return value
    if key in ("objective", "calibrate_on"):
        allowed = CALIBRATE_ON if key == "calibrate_on" else OBJECTIVES
        if not isinstance(value, str) or value not in allowed:
            raise bad(" or ".join(f'"{a}"' for a in allowed))
        return value
    if key in FLAGS:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if key == "lgb_params":
        if not isinstance(value, dict) or not all(isinstance(v, (bool, int, float, str)) for v in value.values()):
            raise bad("a table of LightGBM parameters with single values")
        if any(isinstance(v, float) and not math.isfinite(v) for v in value.values()):
            raise bad("finite numbers in the table of LightGBM parameters")
        lightgbm_table(value, where)
        return dict(value)
    if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
        raise bad("a finite number")
    if key in ("stockout_recovery", "feature_recovery") and not 0 <= value <= 1:
        raise bad("a number between 0 and 1")
    if key == "learning_rate" and value <= 0:
        raise bad("a number above 0")
    if key == "calibration_tree_share" and not 0 < value <= 1:
        raise bad("a number above 0 and at most 1")
    if value < 0:
        raise bad("a number of at least 0")
    return float(value)


# LightGBM's parameters that the forecaster's own parameters set (its main names): through
# lgb_params they would bypass the checks above and the quantiles' calibration, which scales
# the tree count and the learning rate
SET_BY_FORECASTER = {"num_iterations": "n_estimators", "learning_rate": "learning_rate", "objective": "objective",
                     "num_leaves": "num_leaves", "min_data_in_leaf": "min_child_samples", "lambda_l2": "reg_lambda",
                     "max_bin": "max_bin", "seed": "seed", "num_threads": "n_jobs"}  # fmt: skip


@functools.cache
def _lightgbm_names() -> dict[str, str]:
    """Every name LightGBM knows (its parameters and their aliases) -> the parameter's main name."""
    import lightgbm

    try:
        from lightgbm.basic import _ConfigAliases  # LightGBM's own table (not public: may go in a later release)

        aliases = _ConfigAliases._get_all_param_aliases()
    except (ImportError, AttributeError):
        raise ConfigError(f"lgb_params are checked against LightGBM's table of parameter names, which LightGBM "
                          f"{lightgbm.__version__} does not have: train without lgb_params or with LightGBM "
                          f"4") from None  # fmt: skip
    return {name: main for main, names in aliases.items() for name in (main, *names)}


def lightgbm_table(table: dict, where: str) -> dict:
    """`table` (lgb_params) under LightGBM's main names, so that an alias (colsample_bytree)
    overrides freshcast's setting of its parameter (feature_fraction) instead of losing to it.
    ConfigError naming a key LightGBM does not know (it would only warn and train without it),
    one the forecaster's own parameters set, or two keys for one parameter."""
    if not table:
        return {}
    names = _lightgbm_names()
    unknown = [k for k in table if k not in names]
    if unknown:
        raise ConfigError(f"{where}: not LightGBM parameters: {', '.join(sorted(unknown))} (see LightGBM's "
                          f"Parameters page)")  # fmt: skip
    taken = sorted(k for k in table if names[k] in SET_BY_FORECASTER)
    if taken:
        own = sorted({SET_BY_FORECASTER[names[k]] for k in taken})
        raise ConfigError(f"{where} may not set {', '.join(taken)}: use the forecaster's own {', '.join(own)}")
    out = {}
    for key, value in table.items():
        if names[key] in out:
            raise ConfigError(f"{where}: {key} sets {names[key]} a second time")
        out[names[key]] = value
    return out


def params_text(params: dict, header: str) -> str:
    """A params file holding `params` (DailyForecaster keyword arguments), `header` as comments."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()] + ["[forecaster]"]
    for key in TUNABLE:
        if key in params and params[key] is not None:
            lines.append(f"{key} = {_toml(params[key])}")
        elif key in _ALL and key in params:  # None: every series (the default is a sample) or every day
            lines.append(f'{key} = "all"')
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):  # an inline table: a key added below stays in [forecaster]
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, float):
        return repr(value)
    return str(value)
