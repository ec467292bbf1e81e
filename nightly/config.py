"""The nightly run's configuration: a TOML file (stdlib `tomllib`) read and checked once.

Every error names the file, the key and what was expected (`ConfigError`, exit code 2).
Relative paths resolve against the config file's folder; input paths may hold `{date}`,
replaced by the run date (YYYY-MM-DD), e.g. ``inventory = "stock/{date}.csv"``."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, FreshcastError

REQUIRED = object()


@dataclass(frozen=True)
class Key:
    kind: str  # path, int, number, bool, text, code, choice, numbers, map
    default: object = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


# section -> key -> Key. The sections `prices` and `export` are optional: without them the
# stage is skipped. Every option of `forecast`, `plan-orders` and `plan-prices` has a key here.
SCHEMA: dict[str, dict[str, Key]] = {
    "run": {
        "root": Key("path", "runs"),
        "date": Key("choice", "today", choices=("today", "after-history")),
        "threads": Key("int", 0, low=0),
        "scheduler": Key("text"),  # local:N or tcp://HOST:PORT: validate, train and forecast on Dask (`cluster`)
    },
    "data": {
        "history": Key("path", REQUIRED),
        "future": Key("path"),
        "map": Key("map"),
    },
    "model": {
        "retrain_every_days": Key("int", 7, low=1),
        "seed": Key("int", 0),
        "recover_stockouts": Key("bool", True),
        "quantiles": Key("numbers", (0.1, 0.5, 0.9)),
        "params": Key("path"),  # forecaster parameters, e.g. the best_params.toml of `freshcast tune`
    },
    "forecast": {
        "days": Key("int", 7, low=1, high=28),
        "level": Key("choice", "day", choices=("day", "hour")),
        "slots": Key("text"),
    },
    "orders": {
        "products": Key("path", REQUIRED),
        "inventory": Key("path", REQUIRED),
        "terms": Key("path"),
        "on_order": Key("path"),
        "capacity": Key("path"),
        "budget": Key("number", low=0),
        "buyer_id": Key("code", "FRESHCAST"),  # text, or a whole number (a GLN)
        "edi_codes": Key("choice", "own", choices=("own", "gs1")),  # documents.edifact.CODES
        "seed": Key("int", 0),
        "timezone": Key("text", "UTC"),  # the stores': dates time-zone aware expiry and arrival timestamps
    },
    "prices": {
        "labels": Key("path", REQUIRED),
        "products": Key("path"),  # default: [orders] products
        "inventory": Key("path"),  # default: [orders] inventory
        "evening_hour": Key("int", low=7, high=23),
        "evening_later": Key("bool", False),  # the evening step left to `plan-prices --at-evening-hour`
        "response": Key("path"),
        "hourly_forecast": Key("path"),  # default: the run's own hourly forecast when [forecast] level = "hour"
        "ladder": Key("numbers", (0, 10, 20, 30, 40, 50)),
        "max_changes": Key("int", low=0),
        "min_gain": Key("number", 0.0, low=0, high=0.99),  # least expected gain of a markdown, share of a unit's price
        "timezone": Key("text"),  # default: [orders] timezone
    },
    "export": {
        "orders": Key("path"),
        "labels": Key("path"),
    },
}
OPTIONAL_SECTIONS = ("prices", "export")
NOT_TEMPLATED = {("run", "root"), ("model", "params")}  # the paths that may not hold {date}


@dataclass(frozen=True)
class RunConfig:
    """A checked configuration: `values[section][key]` with defaults filled in (paths
    absolute, still holding `{date}` where written); `sections` lists those present."""

    path: Path
    values: dict
    sections: tuple[str, ...]
    sha256: str  # of the file's bytes

    def has(self, section: str) -> bool:
        return section in self.sections

    def get(self, section: str, key: str, date: str | None = None):
        """The value; a path as a Path, with `{date}` filled in when `date` (YYYY-MM-DD) is given."""
        value = self.values[section][key]
        if SCHEMA[section][key].kind == "path" and value is not None:
            return Path(value if date is None else value.replace("{date}", date))
        return value

    def part(self, *sections: str) -> dict:
        """The values of `sections` as JSON-ready dicts (what a stage's result depends on)."""
        return {s: json.loads(json.dumps(self.values[s], default=str)) for s in sections if s in self.values}


def load_config(path: str | Path) -> RunConfig:
    """Read and check the TOML file at `path`; ConfigError naming the key on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return check_config(doc, path, hashlib.sha256(raw).hexdigest())


def check_config(doc: dict, path: Path, sha256: str = "") -> RunConfig:
    """Check a parsed config (`doc`) read from `path` against SCHEMA."""
    for section in doc:
        if section not in SCHEMA:
            raise ConfigError(f"{path}: unknown section [{section}]; known: {', '.join(SCHEMA)}")
        if not isinstance(doc[section], dict):
            raise ConfigError(f"{path}: '{section}' must be a section ([{section}]), got {_shown(doc[section])}")
    base = path.resolve().parent
    values = {}
    for section, keys in SCHEMA.items():
        given = doc.get(section, {})
        if section not in doc and section in OPTIONAL_SECTIONS:
            continue
        for key in given:
            if key not in keys:
                raise ConfigError(f"{path}: unknown key [{section}] {key}; known: {', '.join(keys)}")
        values[section] = {}
        for key, spec in keys.items():
            if key not in given:
                if spec.default is REQUIRED:
                    raise ConfigError(f"{path}: [{section}] {key} is missing ({_expected(spec)})")
                value = spec.default
                if spec.kind == "path" and value is not None:
                    value = str(base / value)
            else:
                value = _checked(given[key], spec, f"{path}: [{section}] {key}", base, (section, key) in NOT_TEMPLATED)
            values[section][key] = value
    if "prices" in values:
        for key in ("products", "inventory", "timezone"):
            if values["prices"][key] is None:
                values["prices"][key] = values["orders"][key]
    _check_meaning(values, path)
    return RunConfig(path.resolve(), values, tuple(values), sha256)


def _checked(value, spec: Key, where: str, base: Path, plain: bool):
    kind = spec.kind
    bad = ConfigError(f"{where}: expected {_expected(spec)}, got {_shown(value)}")
    if kind == "path":
        if not isinstance(value, str) or not value.strip():
            raise bad
        if "{" in value.replace("{date}", "") or "}" in value.replace("{date}", "") or (plain and "{date}" in value):
            raise ConfigError(f"{where}: only {{date}} may be written in braces{' (not here)' if plain else ''}, "
                              f"got {_shown(value)}")  # fmt: skip
        return str(base / Path(value).expanduser())
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind in ("int", "number"):
        ok = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
        if not ok or isinstance(value, bool):
            raise bad
        if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
            raise bad
        return float(value) if kind == "number" else value
    if kind == "code" and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if kind in ("text", "code", "choice"):
        if not isinstance(value, str) or (kind == "choice" and value not in spec.choices):
            raise bad
        return value
    if kind == "numbers":
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise bad
        return tuple(float(v) for v in value)
    if kind == "map":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise bad
        return dict(value)
    raise AssertionError(kind)


def _check_meaning(values: dict, path: Path) -> None:
    """Checks of a value's meaning, with the same parsers the command line uses."""
    from ..data.contract import parse_column_map
    from ..forecast.hourly import parse_slots
    from ..forecast.params import read_params
    from ..data.dates import time_zone
    from ..documents.edifact import check_buyer_id

    def check(section, key, parse, text):
        value = values.get(section, {}).get(key)
        if value is None:
            return
        try:
            parse(text(value))
        except (ValueError, FreshcastError) as exc:
            raise ConfigError(f"{path}: [{section}] {key}: {exc}") from None

    from ..cluster.connect import check_scheduler

    check("run", "scheduler", check_scheduler, str)
    check("data", "map", parse_column_map, lambda m: [f"{k}={v}" for k, v in m.items()])
    check("model", "quantiles", _levels, lambda q: q)
    check("model", "params", read_params, lambda p: p)
    check("forecast", "slots", parse_slots, str)
    check("prices", "ladder", ladder, lambda v: v)
    check("orders", "timezone", time_zone, str)
    codes = values.get("orders", {}).get("edi_codes") or "own"
    check("orders", "buyer_id", lambda b: check_buyer_id(b, codes), str)
    check("prices", "timezone", time_zone, str)
    if "export" in values and values["export"]["labels"] is not None and "prices" not in values:
        raise ConfigError(f"{path}: [export] labels needs a [prices] section (there are no labels to deliver)")
    for key, value in values.get("export", {}).items():
        if value is not None and "{date}" not in str(value):
            raise ConfigError(f"{path}: [export] {key}: must hold {{date}}, like \"outbox/{key}/{{date}}\" (each "
                              f"day's files in a folder of their own: a folder of one export replaces the one "
                              f"before, with any file not yet picked up)")  # fmt: skip


def _levels(levels) -> tuple[float, ...]:
    from ..forecast.quantiles import check_quantiles

    if len(levels) < 2:
        raise ValueError("orders are chosen from the forecast's quantiles: give two or more levels, like [0.1, 0.5, 0.9]")
    return check_quantiles(levels)


def ladder(percents) -> tuple[float, ...]:
    """Percent-off depths -> shares (0, 0.1, ...): start at 0, deepen, stay below 100 (the
    rule of `optimize.pricing.check_ladder`, said in percent)."""
    from ..optimize.pricing import check_ladder

    depths = tuple(float(x) / 100 for x in percents)
    try:
        check_ladder(depths)
    except FreshcastError:
        shown = ",".join(f"{100 * d:g}" for d in depths)
        raise ValueError(f"'{shown}' must start at 0 and deepen below 100, like [0, 10, 20, 30]") from None
    return depths


def _expected(spec: Key) -> str:
    what = {
        "path": "a path (text)", "int": "a whole number", "number": "a number", "bool": "true or false",
        "text": "text", "code": "text or a whole number", "numbers": "a list of numbers",
        "map": "a table of THEIR_NAME = \"native_name\"",
        "choice": " or ".join(f'"{c}"' for c in spec.choices),
    }[spec.kind]  # fmt: skip
    if spec.low is not None and spec.high is not None:
        what += f" from {spec.low:g} to {spec.high:g}"
    elif spec.low is not None:
        what += f" of at least {spec.low:g}"
    return what


def _shown(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
