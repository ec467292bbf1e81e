"""`freshcast tune`: search the forecaster's parameters on the user's own history.

Optuna's TPE sampler proposes parameters (`SPACE`: LightGBM's, the feature windows, the
stockout recovery weight and the training window), after a first trial of the forecaster's
defaults (`default_trial`), so the best parameters are never worse than the defaults on the
origins tuned on; each trial trains freshcast's mean model
(no quantile calibration) at K weekly origins at the end of the history and scores the
mean WAPE of the `horizon` days after each origin. After each origin but the last, a trial
whose mean WAPE so far is worse than the median of earlier trials' there is pruned. The
study lives in `DIR/study.db` (SQLite), so a tune that was stopped resumes up to `trials`
trials in all; `DIR/best_params.toml` (read by --params) and `DIR/trials.csv` are rewritten
after each trial. Tune on days you will not report on: the origins are the last K weeks of
the history given.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dates import day_to_date
from ..data.panel import DailyPanel
from ..errors import FreshcastError, Interrupted, raise_if_stopped
from ..outputs import check_parent, write_table, write_text
from .backtest import fold_cutoffs
from .daily import DailyForecaster
from .metrics import wape
from .params import params_text

STUDY = "freshcast"
STUDY_DB = "study.db"  # the study's SQLite file in the tune folder
WINDOWS = {"7,14,28": (7, 14, 28), "7,28": (7, 28), "7,14,28,56": (7, 14, 28, 56)}
TRAIN_DAYS = (0, 42, 56)  # 0: every day with enough history before it
PRUNE_AFTER = 5  # complete trials before any trial is pruned


def suggest(trial) -> dict:
    """One trial's DailyForecaster parameters (the search space)."""
    train_days = trial.suggest_categorical("train_days", TRAIN_DAYS)
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 40, 400, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 15, 255, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 1000, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 0.1, 100.0, log=True),
        "max_bin": trial.suggest_categorical("max_bin", (63, 127, 255)),
        "objective": trial.suggest_categorical("objective", ("tweedie", "poisson")),
        "stockout_recovery": trial.suggest_float("stockout_recovery", 0.0, 1.0),
        "windows": WINDOWS[trial.suggest_categorical("windows", tuple(WINDOWS))],
        "train_days": None if train_days == 0 else train_days,
        "lgb_params": {"feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0)},
    }


def default_trial() -> dict:
    """The search space's answers that give DailyForecaster's defaults (a study's first trial)."""
    model = DailyForecaster()
    windows = {v: k for k, v in WINDOWS.items()}[tuple(model.windows)]
    return {
        "train_days": model.train_days or 0, "learning_rate": model.learning_rate, "n_estimators": model.n_estimators,
        "num_leaves": model.num_leaves, "min_child_samples": model.min_child_samples, "reg_lambda": model.reg_lambda,
        "max_bin": model.max_bin, "objective": model.objective, "stockout_recovery": model.stockout_recovery,
        "windows": windows, "feature_fraction": model.lightgbm_params()["feature_fraction"],
    }  # fmt: skip


def forecast_after(panel: DailyPanel, params: dict, cutoff: int, horizon: int, seed: int = 0):
    """The mean forecast (series x days) of the `horizon` days after `cutoff` by a model with
    `params` trained on the history up to it (no quantile calibration), and the panel
    positions of those days (the same shape)."""
    model = DailyForecaster(**{**params, "max_horizon": horizon, "min_history_days": max(28, horizon),
                               "quantiles": (), "seed": seed}).fit(panel.until(cutoff))  # fmt: skip
    kept = np.flatnonzero(panel.start <= cutoff)
    forecast = model.predict_distribution(horizon, panel.future(cutoff + 1, horizon, kept))
    return forecast.mean, panel.positions(forecast.days[None, :], kept)


def origin_wapes(panel: DailyPanel, params: dict, cutoffs: list[int], horizon: int, seed: int = 0):
    """WAPE of the mean forecast of the `horizon` days after each cutoff (a generator, oldest
    origin first), the model trained on the history up to the cutoff."""
    for cutoff in cutoffs:
        raise_if_stopped()  # a stop lost in the origin before
        mean, pos = forecast_after(panel, params, cutoff, horizon, seed)
        yield wape(panel.sales[pos].ravel(), mean.ravel())


@dataclass
class TuneResult:
    best_params: dict  # DailyForecaster keyword arguments of the best trial
    best_wape: float  # its mean WAPE over the origins
    trials: pd.DataFrame  # every trial: number, state, wape, per-origin WAPE, parameters, seconds
    origins: list[str]  # the origins' last training days


def tune(panel: DailyPanel, out: str | Path, trials: int = 30, origins: int = 4, horizon: int = 7, seed: int = 0,
         progress: Callable[[str], None] | None = None) -> TuneResult:  # fmt: skip
    """Run (or resume) the study in folder `out` until it holds `trials` finished trials."""
    try:
        import optuna
    except ImportError:
        raise FreshcastError('freshcast tune needs Optuna: pip install "freshcast[tune]"') from None
    from ..nightly.lock import run_lock
    from ..nightly.stages import panel_digest

    if trials < 1 or origins < 1 or horizon < 1:
        raise FreshcastError("trials, origins and horizon must be at least 1")
    try:
        cutoffs = fold_cutoffs(panel, origins, horizon)
    except FreshcastError:
        raise FreshcastError(f"{panel.source}: history too short for {origins} weekly origin(s) of {horizon} days "
                             f"(each keeps {max(28, horizon)} days to train on)") from None  # fmt: skip
    names = [str(day_to_date(c)) for c in cutoffs]
    out = Path(out)
    check_study_folder(out)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with run_lock(out):
        study = open_study(f"sqlite:///{out / STUDY_DB}", STUDY, seed, first=default_trial())
        about = {"origins": names, "horizon": horizon, "history": panel_digest(panel), "seed": seed}
        _check_same_study(study, about, out)
        for key, value in about.items():
            study.set_user_attr(key, value)
        done = finished_count(study)
        if progress and done:
            progress(f"resuming the study in {out}: {done} trial(s) finished, {max(trials - done, 0)} to run")

        def objective(trial):
            try:
                return scored_trial(trial, origin_wapes(panel, suggest(trial), cutoffs, horizon, seed), names)
            except (Interrupted, KeyboardInterrupt) as exc:  # SIGTERM or Ctrl-C: not the parameters' doing
                trial.set_user_attr("signal", getattr(exc, "signum", signal.SIGINT))  # (see open_study)
                raise
            except Exception as exc:  # it stops the tune; the table says why
                said = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                trial.set_user_attr("note", f"failed: {said}")
                raise

        def after(study, trial):
            _write(study, out, names, horizon)
            if progress:
                progress(trial_line(study, trial))

        while finished_count(study) < trials:
            next_trial(study, objective, seed, [after])
            raise_if_stopped()
            last = study.trials[-1]
            if last.state == optuna.trial.TrialState.FAIL:  # Optuna fails a trial whose WAPE is NaN
                raise FreshcastError(f"{panel.source}: trial {last.number + 1} has no WAPE: the days after the "
                                     f"origins {', '.join(names)} sold nothing to score it on")  # fmt: skip
        if not _completed(study):
            raise FreshcastError(f"{out}: no trial finished, so there are no best parameters")
        table = _write(study, out, names, horizon)
        return TuneResult(_params(study.best_trial), study.best_value, table, names)


def check_study_folder(out: str | Path) -> None:
    """FreshcastError unless `out` can hold a study: a new or empty folder (its parents
    folders or still to make), or one holding only what `tune` writes there; RunLocked if
    another tune works there now."""
    from ..nightly.lock import LOCK_FILE, check_lock_free

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FreshcastError(f"{out}: is a file; give a folder for the study")
    check_parent(out)
    if not out.is_dir():
        return
    names = {p.name for p in out.iterdir()}
    sqlite = {f"{STUDY_DB}-{kind}" for kind in ("journal", "wal", "shm")}  # SQLite's files beside the study
    ours = {STUDY_DB, *sqlite, "trials.csv", "best_params.toml", LOCK_FILE}
    left = {n for n in names if n.startswith(".") and n.endswith(".tmp")}  # a write cut off by a kill
    foreign = sorted(names - ours - left)
    if not foreign and STUDY_DB not in names:  # a study's tables without its study are someone else's
        foreign = sorted(names & {"trials.csv", "best_params.toml"})
    if foreign:
        raise FreshcastError(f"{out}: holds files that freshcast tune did not write (e.g. {foreign[0]}), which a "
                             f"study would overwrite or sit beside; tune into a new or empty folder")  # fmt: skip
    check_lock_free(out)


def open_study(storage: str, name: str, seed: int, first: dict | None = None):
    """Create or resume the Optuna study `name` in `storage` (TPE sampler, seeded per trial by
    `next_trial`; trials are pruned by `scored_trial`). Until a trial has finished, the study
    tries the parameters `first` (the search space's answers) before any the sampler draws. A
    trial left running by a stopped run is marked failed and its parameters are tried again
    next; parameters cut off twice by a kill (which they may cause: memory) are given up, while
    a stop by a signal (a trial tagged "signal") does not count against them."""
    import optuna

    study = optuna.create_study(
        study_name=name, storage=storage, load_if_exists=True, direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed), pruner=optuna.pruners.NopPruner(),
    )  # fmt: skip
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in running:  # killed, or stopped by a signal (Optuna fails a trial stopped by KeyboardInterrupt)
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    retried = {t.user_attrs.get("retry_of") for t in study.get_trials(deepcopy=False)}
    for t in running + [t for t in failed if "signal" in t.user_attrs]:
        if t.params and t.number + 1 not in retried and _kills(t) < 2:
            again = {"retry_of": t.number + 1, "first": t.user_attrs.get("first", False), "kills": _kills(t)}
            study.enqueue_trial(t.params, user_attrs=again)
            retried.add(t.number + 1)
    trials = study.get_trials(deepcopy=False)
    tries = sum(bool(t.user_attrs.get("first")) for t in trials)
    waiting = any(t.state == optuna.trial.TrialState.WAITING for t in trials)
    if first is not None and finished_count(study) == 0 and not waiting and tries < 2:
        study.enqueue_trial(first, user_attrs={"first": True})
    return study


def _kills(trial) -> int:
    """How many kills cut off `trial`'s parameters, counting its own end if it failed but was not
    stopped by a signal (a retry from before the count was kept follows one kill)."""
    before = trial.user_attrs.get("kills", 1 if "retry_of" in trial.user_attrs else 0)
    return before + ("signal" not in trial.user_attrs)


def next_trial(study, objective, seed: int, callbacks=()) -> None:
    """Run one trial of `study`: a waiting one, or parameters drawn by a TPE sampler seeded by
    the trials finished before it (so a resumed study draws what the uninterrupted one would
    have) and by the parameters given up (so they are not drawn a third time)."""
    import optuna

    given_up = sum(t.state == optuna.trial.TrialState.FAIL and _kills(t) >= 2
                   for t in study.get_trials(deepcopy=False))  # fmt: skip
    study.sampler = optuna.samplers.TPESampler(seed=seed + 1_000_003 * finished_count(study) + 7_919 * given_up)
    study.optimize(objective, n_trials=1, callbacks=list(callbacks), catch=())


def scored_trial(trial, scores: Iterable[float], names: list[str]) -> float:
    """A trial's mean WAPE over the origins `names`, drawn one origin at a time from `scores`;
    after each origin but the last the trial is pruned if its mean WAPE so far is worse than
    the median of the complete trials' there (once `PRUNE_AFTER` trials are complete). Records
    each origin's WAPE and the trial's seconds."""
    import optuna

    t0, seen = time.perf_counter(), []
    for k, score in enumerate(scores):
        seen.append(score)
        so_far = float(np.mean(seen))
        trial.set_user_attr(f"wape_{names[k]}", score)
        trial.report(so_far, k)
        median = _median_at(trial.study, k) if k < len(names) - 1 else None
        if median is not None and so_far > median:
            trial.set_user_attr("seconds", round(time.perf_counter() - t0, 1))
            trial.set_user_attr("note", f"pruned after origin {k + 1}: mean WAPE so far {so_far:.4f} above the "
                                        f"complete trials' median {median:.4f}")  # fmt: skip
            raise optuna.TrialPruned()
    trial.set_user_attr("seconds", round(time.perf_counter() - t0, 1))
    if not np.isfinite(np.mean(seen)):  # Optuna fails the trial
        trial.set_user_attr("note", "no WAPE: the days after the origins sold nothing")
    return float(np.mean(seen))


def _median_at(study, k: int) -> float | None:
    """The median of the complete trials' mean WAPE over their first k + 1 origins (None before
    `PRUNE_AFTER` trials are complete). A trial above it there is pruned. (Optuna's median
    pruner compares a trial's best value over the origins so far: a trial good at the first
    origin would never be pruned.)"""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < PRUNE_AFTER:
        return None
    return float(np.median([t.intermediate_values[k] for t in done]))


def finished_count(study) -> int:
    """Trials of the study that completed or were pruned."""
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=done))


def trial_line(study, trial) -> str:
    """One progress line for a finished trial."""
    import optuna

    if trial.state == optuna.trial.TrialState.FAIL:
        value = "failed"
    elif trial.state == optuna.trial.TrialState.PRUNED:
        step, wape = max(trial.intermediate_values.items(), default=(0, float("nan")))
        value = f"pruned after origin {step + 1} (mean WAPE so far {wape:.4f})"
    else:
        value = f"WAPE {trial.value:.4f}"
    best = study.best_value if _completed(study) else float("nan")
    return f"trial {trial.number + 1}: {value} (best {best:.4f})"


def _completed(study) -> bool:
    import optuna

    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def _check_same_study(study, about: dict, out: Path) -> None:
    """A study is resumed only on the same origins, horizon, history and seed."""
    before = {k: study.user_attrs.get(k) for k in about}
    if before["origins"] is None:  # a new study
        return
    if (before["origins"], before["horizon"]) != (about["origins"], about["horizon"]):
        raise FreshcastError(f"{out}: holds a study on origins {', '.join(before['origins'])} (--horizon "
                             f"{before['horizon']}); this history, --origins and --horizon give "
                             f"{', '.join(about['origins'])} (--horizon {about['horizon']}): tune into another "
                             f"folder")  # fmt: skip
    if before["history"] != about["history"]:
        raise FreshcastError(f"{out}: holds a study on another history (same origins): its trials' WAPE are not "
                             f"comparable with this one's: tune into another folder")  # fmt: skip
    if before["seed"] not in (None, about["seed"]):  # None: a study from before the seed was kept
        raise FreshcastError(f"{out}: holds a study run with --seed {before['seed']}, not {about['seed']}: its "
                             f"trials' WAPE depend on the seed; resume it with --seed {before['seed']} or tune "
                             f"into another folder")  # fmt: skip


def _note(trial, retried_as: int | None) -> str:
    """Why a trial ended as it did, for trials.csv (`retried_as`: the trial that tried its
    parameters again, if any)."""
    import optuna

    attrs, state = trial.user_attrs, trial.state
    again = f"tried again as trial {retried_as}" if retried_as else "tried again next"
    said = [f"the parameters of trial {attrs['retry_of']} again"] if "retry_of" in attrs else []
    if attrs.get("first") and not said:
        said.append("the forecaster's defaults")
    if state == optuna.trial.TrialState.FAIL and "signal" in attrs:
        said.append(f"stopped by {signal.Signals(attrs['signal']).name}: {again}")
    elif state == optuna.trial.TrialState.FAIL and "note" not in attrs:
        if not trial.params:
            said.append("cut off by a kill (kill -9, out of memory) before it drew its parameters")
        elif _kills(trial) >= 2:
            said.append("cut off by a kill (kill -9, out of memory) a second time: its parameters are given up")
        else:
            said.append(f"cut off by a kill (kill -9, out of memory): {again}")
    elif state in (optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED):  # failed, no WAPE, or pruned
        said.append(attrs["note"])
    elif state == optuna.trial.TrialState.WAITING:
        said.append("waiting: tried next")
    return "; ".join(said)


def _params(trial) -> dict:
    """The DailyForecaster keyword arguments of a finished trial."""
    from optuna.trial import FixedTrial

    return suggest(FixedTrial(trial.params))


def _write(study, out: Path, names: list[str], horizon: int) -> pd.DataFrame:
    """trials.csv and, once a trial completed, best_params.toml (each written whole)."""
    import optuna

    rows, trials = [], study.get_trials(deepcopy=False)
    retried_as = {t.user_attrs["retry_of"]: t.number + 1 for t in trials if "retry_of" in t.user_attrs}
    for t in trials:
        complete = t.state == optuna.trial.TrialState.COMPLETE
        rows.append({"trial": t.number + 1, "state": t.state.name.lower(), "wape": t.value if complete else None,
                     **{f"wape_{n}": t.user_attrs.get(f"wape_{n}") for n in names}, **t.params,
                     "seconds": t.user_attrs.get("seconds"),
                     "note": _note(t, retried_as.get(t.number + 1))})  # fmt: skip
    table = pd.DataFrame(rows)
    write_table(table, out / "trials.csv", record=True)
    if _completed(study):
        best = study.best_trial
        header = (f"freshcast tune: trial {best.number + 1} of {len(rows)}, mean WAPE {best.value:.4f} over the "
                  f"{len(names)} origins {', '.join(names)} (horizon {horizon} days)\n"
                  f"read by: freshcast forecast|backtest|replay --params FILE, or [model] params in the run's config")  # fmt: skip
        write_text(out / "best_params.toml", params_text(_params(best), header), record=True)
    return table
