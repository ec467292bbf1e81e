"""`freshcast run`: the business day's batch from sales to purchase orders and price labels,
as stages that each write `<root>/<date>/<stage>/` whole (see `stages`).

A stage is redone only when something it depends on changed since it was done (its config
sections, its input files' contents, the outputs of the stages it reads, the model decision),
when its outputs on disk are missing or altered, or with `force`; the manifest says why.
A killed run resumes from the first stage not done; SIGTERM and SIGINT abandon the stage in
progress (nothing of it is written) and stop with `Interrupted`."""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ..data.dates import day_number, day_to_date
from ..errors import FreshcastError, Interrupted, StageFailed, one_line, raise_if_stopped, stop_on_signals
from .config import RunConfig, load_config
from .lock import run_lock
from .manifest import Log, Manifest, digest_of, folder_outputs, now
from .stages import STAGES, Context, Stage, copy_model, describe_inputs, model_settings, train_model


@dataclass
class RunResult:
    date: str
    folder: Path  # <root>/<date>
    stages: dict  # stage -> its manifest entry
    redone: list[str]  # stages done by this call (the others were up to date or skipped)


def run(config: str | Path | RunConfig, date: str | None = None, force: bool = False,
        progress: Callable[[str], None] | None = None) -> RunResult:  # fmt: skip
    """Run (or finish, or confirm) the batch of `date` (YYYY-MM-DD; default from the config's
    [run] date: today, or the day after the history's last day). Raises ConfigError, RunLocked,
    StageFailed (after recording it in the manifest), Interrupted, or FreshcastError."""
    from ..threads import set_threads

    config = config if isinstance(config, RunConfig) else load_config(config)
    root = Path(config.get("run", "root"))
    set_threads(config.get("run", "threads"))
    with run_lock(root) as earlier, stop_on_signals(), ExitStack() as stack:
        ctx = _context(config, date, root, progress, stack)
        ctx.folder.mkdir(parents=True, exist_ok=True)
        log = Log(ctx.folder / "log.jsonl")
        log("run", "start", pid=os.getpid(), force=force, **({"lock_taken_over_from": earlier} if earlier else {}))
        manifest = Manifest(ctx.folder / "manifest.json")
        if "unreadable_before" in manifest.data:
            log("run", "manifest unreadable: every stage is redone", problem=manifest.data["unreadable_before"])
            if ctx.progress:
                ctx.progress(f"{ctx.folder / 'manifest.json'} could not be read: every stage is redone")
        manifest.data = {**_about(config, ctx), "stages": {s.name: manifest.stage(s.name) for s in STAGES
                                                           if manifest.stage(s.name)}}  # fmt: skip
        manifest.save()
        redone = []
        t0 = time.perf_counter()
        for k, stage in enumerate(STAGES):
            try:
                raise_if_stopped()
                if _run_stage(stage, ctx, manifest, log, force):
                    redone.append(stage.name)
            except (StageFailed, Interrupted) as exc:
                for later in STAGES[k + 1 :]:
                    _not_reached(manifest, later.name, stage.name)
                code = 128 + exc.signum if isinstance(exc, Interrupted) else 1
                log("run", "stopped" if isinstance(exc, Interrupted) else "failed", exit_code=code,
                    seconds=round(time.perf_counter() - t0, 3), redone=redone, at=stage.name)  # fmt: skip
                raise
        log("run", "done", seconds=round(time.perf_counter() - t0, 3), redone=redone)
        return RunResult(ctx.date, ctx.folder, manifest.data["stages"], redone)


def _not_reached(manifest: Manifest, name: str, failed: str) -> None:
    """Mark stage `name` skipped after stage `failed` stopped the run. A stage done before
    keeps what it was done on (`done`), so a later run redoes it only if that changed."""
    prev = manifest.stage(name)
    done = prev if prev.get("status") == "done" else prev.get("done")
    kept = " (its folder holds the result of an earlier run, see done)" if done else ""
    manifest.set_stage(name, status="skipped", why=f"not reached: stage {failed} failed{kept}",
                       **({"done": done} if done else {}))  # fmt: skip


def _as_done(entry: dict) -> dict:
    """A stage's entry as it was when last done, if a failure since only skipped it."""
    return entry["done"] if entry.get("status") == "skipped" and "done" in entry else entry


def _context(config: RunConfig, date: str | None, root: Path, progress, stack: ExitStack) -> Context:
    full, parts = None, None
    scheduler = config.get("run", "scheduler")
    if date is not None:
        day = day_number(date)
    elif config.get("run", "date") == "today":
        day = day_number(_dt.date.today())
    else:
        from ..console import Step
        from ..data import load_history

        history = config.get("data", "history")
        try:
            if scheduler is None:
                with Step(f"loading history {history}", progress):
                    full = load_history(history, config.get("data", "map"))
                day = full.last_day + 1
            else:
                from ..cluster.connect import connected
                from ..cluster.nightly import Partitions

                parts = Partitions(stack.enter_context(connected(scheduler)), history, config.get("data", "map"), progress)
                day = parts.facts["last_day"] + 1
        except FreshcastError as exc:
            message = f"cannot tell the run date ([run] date = \"after-history\"): {one_line(exc)}"
            manifest = _record_undated(config, root, message)
            raise StageFailed(f"stage validate failed: {message} (see {manifest})") from None
    iso = str(day_to_date(day))
    return Context(config, iso, day, root / iso, progress, full_panel=full, scheduler=scheduler, stack=stack,
                   full_parts=parts, _client=None if parts is None else parts.client)  # fmt: skip


UNDATED = "undated"  # <root>/undated/: the record of a run that failed before it knew its date


def _record_undated(config: RunConfig, root: Path, message: str) -> Path:
    """Write <root>/undated/manifest.json and log.jsonl for a run whose history could not be
    read, so its date is unknown (replaced by the next such failure). Returns the manifest."""
    ctx = Context(config, None, 0, root / UNDATED)
    ctx.folder.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(ctx.folder / "manifest.json")
    manifest.data = {**_about(config, ctx), "stages": {"validate": {"status": "failed", "ended": now(), "error": message}}}
    manifest.save()
    log = Log(ctx.folder / "log.jsonl")
    log("validate", "failed", error=message)
    log("run", "failed", exit_code=1, at="validate")
    return manifest.path


def _about(config: RunConfig, ctx: Context) -> dict:
    import importlib.metadata as md
    import platform

    from .. import __version__

    versions = {"freshcast": __version__, "python": platform.python_version()}
    for name in ("numpy", "pandas", "pyarrow", "numba", "lightgbm", "scikit-learn"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return {
        "date": ctx.date,
        "config": {"path": str(config.path), "sha256": config.sha256, "values": config.part(*config.sections)},
        "inputs": describe_inputs(ctx),
        "versions": versions,
    }


def _run_stage(stage: Stage, ctx: Context, manifest: Manifest, log: Log, force: bool) -> bool:
    """Do `stage` if it is due; True if it was done now."""
    name = stage.name
    prev = _as_done(manifest.stage(name))
    if stage.needs and not ctx.config.has(stage.needs):
        skipped = {"status": "skipped", "why": f"no [{stage.needs}] section in the config"}
        if manifest.stage(name) != skipped:
            manifest.set_stage(name, **skipped)
        log(name, "skipped", why=skipped["why"])
        return False
    write, basis, settings, decision = stage.write, _basis(stage, ctx, manifest), None, None
    if name == "model":
        write, basis, settings, decision = _model_decision(ctx, manifest)
    why = _why(prev, basis, ctx.folder / name, force)
    if not why:
        if manifest.stage(name).get("status") == "skipped":  # skipped after a failure, and still as it was done
            manifest.set_stage(name, **prev)
        log(name, "up to date")
        if ctx.progress:
            ctx.progress(f"{name}: up to date")
        return False
    if decision is not None:
        why.append(f"model {decision}")
    started, t0 = now(), time.perf_counter()
    entry = {"status": "running", "started": started, "pid": os.getpid(), "why": why, "basis": basis}
    if settings is not None:
        entry["settings"] = settings
    manifest.set_stage(name, **entry)
    log(name, "start", why=why)
    if ctx.progress:
        ctx.progress(f"{name}: {'; '.join(why)}")
    try:
        rows = write(ctx, ctx.folder / name)
    except Interrupted as exc:
        _failed(manifest, log, name, entry, str(exc), t0)
        raise
    except Exception as exc:  # any error of a stage is recorded, then reported
        message = one_line(exc) if isinstance(exc, FreshcastError) else f"{type(exc).__name__}: {exc}"
        _failed(manifest, log, name, entry, message, t0)
        raise StageFailed(f"stage {name} failed: {message} (see {manifest.path})") from exc
    seconds = round(time.perf_counter() - t0, 3)
    outputs = folder_outputs(ctx.folder / name)
    manifest.set_stage(name, **{**entry, "status": "done", "ended": now(), "seconds": seconds, "rows": rows,
                                "outputs": outputs})  # fmt: skip
    log(name, "done", seconds=seconds, rows=rows)
    return True


def _failed(manifest: Manifest, log: Log, name: str, entry: dict, message: str, t0: float) -> None:
    seconds = round(time.perf_counter() - t0, 3)
    manifest.set_stage(name, **{**entry, "status": "failed", "ended": now(), "seconds": seconds, "error": message})
    log(name, "failed", seconds=seconds, error=message)


def _basis(stage: Stage, ctx: Context, manifest: Manifest) -> dict:
    """What the stage's result depends on, one digest per part."""
    inputs = manifest.data["inputs"]
    parts = {"date": ctx.date}
    for section in stage.sections:
        if "." in section:  # one key of a section
            name, key = section.split(".")
            parts[f"config [{name}] {key}"] = digest_of(ctx.config.get(name, key))
        else:
            parts[f"config [{section}]"] = digest_of(ctx.config.part(section))
    for section, key in stage.inputs:
        if ctx.path(section, key) is not None:
            parts[f"input {section}.{key}"] = inputs[f"{section}.{key}"]["sha256"]
    for name in stage.after:
        upstream = manifest.stage(name)
        if upstream.get("status") != "skipped":
            parts[f"output of stage {name}"] = digest_of(upstream.get("outputs"))
    return parts


def _model_decision(ctx: Context, manifest: Manifest):
    """Train today, or copy the latest model trained before the run date with the same
    settings and less than [model] retrain_every_days old. A decision once taken stands while
    what it rests on is unchanged, also when the stage was stopped before it finished (a
    resumed run ends as the uninterrupted one would have; a run of another date does not
    change it). Returns (write, basis, settings, reason)."""
    settings = digest_of(model_settings(ctx.config))
    trained = {"model": "trained", "settings": settings,
               "output of stage validate": digest_of(manifest.stage("validate").get("outputs"))}  # fmt: skip
    prev = _as_done(manifest.stage("model"))
    taken = prev.get("status") in ("done", "running", "failed")  # running: killed; failed: stopped or an error
    if taken and prev.get("basis") == trained:
        return train_model, trained, settings, "trained"
    if taken and prev.get("settings") == settings and "source" in prev.get("basis", {}):
        copied = _copy_basis(ctx.folder.parent / prev["basis"]["from"])
        if copied == prev["basis"]:
            return _copy_from(ctx.folder.parent / copied["from"] / "model"), copied, settings, "copied"
    every = ctx.config.get("model", "retrain_every_days")
    reason = "no model trained before this date"
    for folder in sorted(ctx.folder.parent.iterdir(), reverse=True):
        try:
            day = day_number(folder.name)
        except ValueError:
            continue
        entry = _as_done(Manifest(folder / "manifest.json").stage("model")) if day < ctx.day else {}
        if entry.get("status") != "done" or not entry.get("rows", {}).get("trained"):
            continue
        if entry.get("settings") != settings:
            reason = f"the model settings changed since the model trained for {folder.name}"
        elif ctx.day - day >= every:
            reason = f"the model trained for {folder.name} is {ctx.day - day} day(s) old ([model] retrain_every_days = {every})"
        elif _copy_basis(folder) is None:
            reason = f"the model trained for {folder.name} is missing or was changed"
        else:
            return _copy_from(folder / "model"), _copy_basis(folder), settings, f"copy of the model trained for {folder.name}"
        break
    return train_model, trained, settings, f"trained: {reason}"


def _copy_basis(folder: Path) -> dict | None:
    """The basis of a copy of the model trained in run folder `folder` (None if it is not whole)."""
    entry = _as_done(Manifest(folder / "manifest.json").stage("model")) if (folder / "manifest.json").exists() else {}
    outputs = folder_outputs(folder / "model")
    if not outputs or outputs != entry.get("outputs"):
        return None
    return {"model": "copied", "from": folder.name, "source": digest_of(outputs)}


def _copy_from(source: Path):
    return lambda ctx, out: copy_model(source, out)


def _why(prev: dict, basis: dict, folder: Path, force: bool) -> list[str]:
    """Why the stage must be done now (empty: it is up to date)."""
    if force:
        return ["--force"]
    status = prev.get("status")
    if status is None or status == "skipped":
        return ["not done before for this date"]
    if status == "running":
        return [f"left unfinished by run pid {prev.get('pid')} (killed?)"]
    if status == "failed":
        return [f"failed last time: {prev.get('error')}"]
    old = prev.get("basis", {})
    why = [f"{k} changed" if k in old else f"{k} is new" for k, v in basis.items() if old.get(k) != v]
    why += [f"{k} is gone" for k in old if k not in basis]
    if not why and folder_outputs(folder) != prev.get("outputs"):
        why.append(f"its outputs in {folder} are missing or were changed")
    return why
