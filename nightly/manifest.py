"""What a nightly run did: `<root>/<date>/manifest.json` (config, inputs with sizes and
content hashes, package versions, per stage its status, times, counts, output hashes and
error) and `<root>/<date>/log.jsonl` (one JSON object per event)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from ..outputs import MARKER, file_sha256, write_text

STATUSES = ("done", "failed", "skipped", "running")  # running: left by a run that was killed


def describe_input(path: Path) -> dict:
    """A file or folder input: its files (relative path, bytes, sha256) and one sha256 over
    them all. Hidden files (temporary files of writers) are left out."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.relative_to(path).parts))
        rows = [{"file": str(p.relative_to(path)), "bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in files]
    else:
        rows = [{"file": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}]
    return {"path": str(path), "files": rows, "sha256": digest_of(rows)}


def folder_outputs(path: Path) -> dict[str, str]:
    """sha256 of every file a stage wrote into its folder (relative path -> hash)."""
    if not path.is_dir():
        return {}
    return {str(p.relative_to(path)): file_sha256(p) for p in sorted(path.rglob("*"))
            if p.is_file() and p.name != MARKER}  # fmt: skip


def digest_of(value) -> str:
    """sha256 of a JSON-ready value, keys sorted."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def now() -> str:
    """The local time, ISO 8601 with the offset written as the price feed writes it (+02:00)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


class Manifest:
    """The manifest of one run date, saved (atomically) after every change."""

    def __init__(self, path: Path):
        self.path = path
        self.data = {"stages": {}}
        if path.exists():
            try:
                self.data = json.loads(path.read_text())
                stages = self.data.setdefault("stages", {}) if isinstance(self.data, dict) else None
                if not isinstance(stages, dict) or not all(isinstance(v, dict) for v in stages.values()):
                    raise ValueError("not a manifest")
            except (ValueError, UnicodeDecodeError) as exc:  # e.g. emptied by a power cut: every stage is redone
                self.data = {"stages": {}, "unreadable_before": f"{type(exc).__name__}: {str(exc)[:200]}"}

    def stage(self, name: str) -> dict:
        return self.data["stages"].get(name, {})

    def set_stage(self, name: str, **entry) -> None:
        self.data["stages"][name] = entry
        self.save()

    def save(self) -> None:
        write_text(self.path, json.dumps(self.data, indent=1, sort_keys=False) + "\n", record=True)


class Log:
    """`log.jsonl`: one JSON object per line (time, stage, event, and what else is known)."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, stage: str, event: str, **fields) -> None:
        line = json.dumps({"time": now(), "stage": stage, "event": event, **fields}, default=str)
        with open(self.path, "a") as fh:
            fh.write(line + "\n")
