"""Atomic outputs: a file is written to a temporary file beside it, then renamed; an output
of several files is written to a temporary folder beside it and swapped in whole. A lock
beside each output keeps two runs from writing it at once, and its path is checked before
the work starts. A crash, a kill or a rerun never leaves a half-written or mixed output."""

from __future__ import annotations

import ctypes
import fcntl
import glob
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd

from .errors import FreshcastError, RunLocked, raise_if_stopped


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask sets it,
    briefly, for every thread)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def _atomic(path: Path, write: Callable[[str], None], record: bool = False) -> Path:
    """Write `path` whole by `write(temporary name)` and a rename. A stop that was lost
    (`errors.raise_if_stopped`) is raised before the rename, unless the file is a `record` of
    the work (a manifest, a study's table), which must be written even while it stops."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; others (an ERP) read it
        with open(tmp, "rb") as fh:  # on disk before it takes the name: a power cut leaves the old file or the new
            os.fsync(fh.fileno())
        if not record:
            raise_if_stopped()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """float64 columns rounded to 12 significant digits, so that CSV shows 1.4, not the
    1.4000000000000001 of binary arithmetic (float32 columns already print short)."""
    import numpy as np

    floats = [c for c in df.columns if df[c].dtype == np.float64]
    if not floats:
        return df
    out = df.copy()
    for c in floats:
        v = out[c].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            digits = 11 - np.floor(np.log10(np.abs(v))).astype(np.float64)
        ok = np.isfinite(v) & (v != 0) & np.isfinite(digits)
        rounded = v.copy()
        for d in np.unique(digits[ok]).astype(int):
            sel = ok & (digits == d)
            rounded[sel] = np.round(v[sel], int(d))
        out[c] = rounded
    return out


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (hex), read in 1 MB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text(path: str | Path, text: str, record: bool = False, encoding: str = "utf-8") -> Path:
    """Write `text` in `encoding` (UTF-8 unless a format says otherwise, whatever the machine's
    locale). `record`: see `_atomic`."""
    return _atomic(Path(path), lambda tmp: Path(tmp).write_text(text, encoding=encoding), record)


def write_arrays(path: str | Path, arrays: dict) -> Path:
    """Write numpy arrays as a compressed .npz (no pickled objects)."""
    import numpy as np

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    return _atomic(Path(path), write)


def write_table(df: pd.DataFrame, path: str | Path, record: bool = False) -> Path:
    """Write a DataFrame as Parquet (or CSV when the name ends in .csv); datetime columns
    become calendar dates, text columns Arrow strings (also when the table has no rows, and
    whichever string type the pandas version makes). `record`: see `_atomic`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _atomic(path, lambda tmp: _csv_ready(df).to_csv(tmp, index=False, date_format="%Y-%m-%d"), record)
    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.date32()))
        elif pa.types.is_large_string(f.type) or (pa.types.is_null(f.type)
                                                  and not pd.api.types.is_numeric_dtype(df[f.name])):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"), record)


def write_joined(parts: list[Path], path: str | Path) -> Path:
    """Join the Parquet files `parts` (one schema) into the one table output `path` (Parquet,
    or CSV when the name ends in .csv), one part in memory at a time, written whole."""
    import pyarrow.parquet as pq

    path = Path(path)

    def write(tmp: str) -> None:
        if path.suffix.lower() == ".csv":
            for i, part in enumerate(parts):
                _csv_ready(pd.read_parquet(part)).to_csv(tmp, mode="a" if i else "w", header=i == 0, index=False,
                                                         date_format="%Y-%m-%d")  # fmt: skip
            return
        with pq.ParquetWriter(tmp, pq.read_schema(parts[0]), compression="zstd") as writer:
            for part in parts:
                writer.write_table(pq.read_table(part))

    return _atomic(path, write)


DATASET = "forecast-dataset"  # the kind of a table output written as a folder of Parquet parts


def is_dataset(path: str | Path) -> bool:
    """Whether a table output named `path` is a folder of Parquet parts (a name without a
    suffix, e.g. `pred/`) rather than one file (`pred.parquet`, `pred.csv`)."""
    return Path(path).suffix == ""


# ------------------------------------------------------------------ whole outputs
MARKER = ".freshcast-output"  # in every output folder: its kind and the files freshcast wrote
_held: dict[tuple[int, Path], list] = {}  # (thread, output) -> [kind, depth]: reservations nest


@contextmanager
def reserve(path: str | Path, kind: str | None = None) -> Iterator[Path]:
    """Check before any work that `path` can be written: its parent folder can be made and
    written to; a file output (`kind` None) is not a folder; a folder output of `kind`
    ("model", "purchase-orders" ...) is not a file and is new, empty, or freshcast's output
    of the same kind holding only the files freshcast wrote there. Then hold a lock beside
    it so that no other freshcast run writes it meanwhile, and remove leftovers of killed
    runs. A thread may reserve a path it holds again, as the same kind of output."""
    path = Path(os.path.abspath(path))
    key = (threading.get_ident(), path)
    if key in _held:
        if _held[key][0] != kind:
            what = lambda k: "a file" if k is None else f"a {k} output"  # noqa: E731
            raise FreshcastError(f"{path}: is written as {what(_held[key][0])} by this run; "
                                 f"give {what(kind)} another path")  # fmt: skip
        _held[key][1] += 1
        try:
            yield path
        finally:
            _held[key][1] -= 1
        return
    _check_target(path, kind)
    fd = _lock(path)
    _held[key] = [kind, 1]
    try:
        _remove_leftovers(path)
        yield path
    finally:
        del _held[key]
        _unlock(path, fd)


def _overlap(a: Path, b: Path) -> bool:
    """Whether two absolute paths are the same place or one lies inside the other."""
    return a == b or a in b.parents or b in a.parents


@contextmanager
def reserve_all(*targets: tuple[str | Path | None, str | None], inputs=()) -> Iterator[None]:
    """`reserve` every (path, kind) output of one job (None paths skipped), after checking
    that no two are the same place or one inside the other, and that none is one of the
    job's `inputs` (paths; None skipped), inside an input folder, or a folder holding one."""
    apart(*targets, inputs=inputs)
    with ExitStack() as stack:
        for path, kind in targets:
            if path is not None:
                stack.enter_context(reserve(path, kind))
        yield


def apart(*targets: tuple[str | Path | None, str | None], inputs=()) -> None:
    """FreshcastError unless the outputs `targets` ((path, kind); None paths skipped) are
    apart from each other and from the job's `inputs` (the checks of `reserve_all`)."""
    paths = [Path(os.path.abspath(p)) for p, _ in targets if p is not None]
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if _overlap(a, b):
                raise FreshcastError(f"{a} and {b}: give each output its own place, neither inside the other")
    for a in paths:
        real = Path(os.path.realpath(a))
        for given in (p for p in inputs if p is not None):
            b = Path(os.path.realpath(given))
            if _overlap(real, b):
                where = "is" if real == b else "is inside" if b in real.parents else "holds"
                raise FreshcastError(f"{a}: this output {where} the input {given}; give the output another place "
                                     f"(writing it would overwrite or change the input)")  # fmt: skip


@contextmanager
def output_folder(path: str | Path, kind: str) -> Iterator[Path]:
    """Write a multi-file output of `kind`: yields a new sibling temporary folder to fill; on
    success it replaces `path` whole (the old files are gone, none survive beside the new
    ones); on failure or a kill the old folder stays as it was and the temporary one is
    removed (by the next run, after a kill)."""
    with reserve(path, kind) as path:
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            yield staging
            files = sorted(str(f.relative_to(staging)) for f in staging.rglob("*") if not f.is_dir())
            (staging / MARKER).write_text(
                "written by freshcast; the next run of the same kind replaces this folder whole\n"
                f"kind: {kind}\n" + "".join(f"{f}\n" for f in files)
            )  # fmt: skip
            os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes the folder private
            if path.is_dir():
                _check_folder(path, kind)  # again: nothing of the user's arrived while we worked
            _swap_in(staging, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _check_target(path: Path, kind: str | None) -> None:
    if path.exists():
        if kind is not None and not path.is_dir():
            raise FreshcastError(f"{path}: is a file; give a folder for this output")
        if kind is None and path.is_dir():
            raise FreshcastError(f"{path}: is a folder; give a file name for this output")
        if kind is not None:
            _check_folder(path, kind)
    check_parent(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.probe.", suffix=".tmp")
        os.close(fd)
        Path(probe).unlink(missing_ok=True)
    except OSError as exc:
        raise FreshcastError(f"{path}: cannot be written: {exc.strerror or exc} (in {existing_parent(path)})") from None


def check_parent(path: Path) -> None:
    """FreshcastError if `path` cannot be made: its nearest existing parent is a file, or it
    lies inside a freshcast output folder (which its command replaces whole, and whose
    readers would take the stranger for one of its files)."""
    parent = existing_parent(path)
    if not parent.is_dir():
        raise FreshcastError(f"{path}: cannot be written: {parent} is a file, not a folder")
    for folder in (parent, *parent.parents):
        if (folder / MARKER).is_file():
            raise FreshcastError(f"{path}: lies inside {folder}, the output of another freshcast command, which "
                                 f"it replaces whole; give a path outside it")  # fmt: skip


def existing_parent(path: Path) -> Path:
    """The nearest parent of `path` that exists."""
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    return parent


def _check_folder(path: Path, kind: str) -> None:
    """An existing folder may be replaced only if it is empty or freshcast's `kind` output
    holding nothing but what freshcast wrote there."""
    present = sorted(str(f.relative_to(path)) for f in path.rglob("*") if not f.is_dir() and f.name != MARKER)
    marker = path / MARKER
    if not marker.exists():
        if present:  # empty folders (a pickup that took every file) hold nothing to lose
            raise FreshcastError(f"{path}: the folder holds files that freshcast did not write, and this output "
                                 f"replaces the folder whole; give a new or empty folder")  # fmt: skip
        return
    try:
        lines = marker.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FreshcastError(f"{path}: its {MARKER} cannot be read ({exc}); give a new or empty folder") from None
    there = lines[1].removeprefix("kind: ") if len(lines) > 1 and lines[1].startswith("kind: ") else "older"
    if there != kind:
        raise FreshcastError(f"{path}: holds a freshcast {there} output, not a {kind} output; give another folder")
    foreign = sorted(set(present) - set(lines[2:]))
    if foreign:
        raise FreshcastError(f"{path}: holds {len(foreign)} file(s) that freshcast did not write (e.g. {foreign[0]}), "
                             f"and this output replaces the folder whole; move them or give another folder")  # fmt: skip


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def _lock(path: Path) -> int:
    """Take the lock file beside `path` (flock, released by the kernel if the process dies).
    Returns its descriptor; FreshcastError if another process holds it."""
    lock = _lock_path(path)
    while True:
        fd = _open_lock(lock, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunLocked(f"{path}: another freshcast run (pid {holder}) is writing this output; wait for "
                            f"it to finish or choose another path") from None  # fmt: skip
        try:
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:  # not unlinked by a run that just ended
                try:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, str(os.getpid()).encode(), 0)
                except OSError:
                    pass  # read-only: the lock holds all the same
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _open_lock(lock: Path, path: Path) -> int:
    try:
        try:
            return os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:  # left by another user's killed run: a read-only descriptor locks too
            return os.open(lock, os.O_RDONLY)
    except OSError as exc:
        raise FreshcastError(f"{path}: cannot take the lock {lock}: {exc.strerror or exc}") from None


def _unlock(path: Path, fd: int) -> None:
    try:
        os.unlink(_lock_path(path))
    except OSError:
        pass  # another user's lock file in a shared folder: it stays, unlocked
    finally:
        os.close(fd)


def _remove_leftovers(path: Path) -> None:
    """Temporary files and folders of earlier runs on `path` that were killed (we hold the
    lock, so no live run owns them)."""
    ours = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")  # tempfile's 8 random characters
    for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if not ours.fullmatch(p.name):
            continue  # another output's, e.g. of 'pred.csv' beside 'pred'
        if not path.exists() and p.is_dir() and [q.name for q in p.iterdir()] == ["old"]:
            os.rename(p / "old", path)  # a swap of two renames killed between them: the earlier output is back
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_cwd = -100
    return renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _swap_in(new: Path, path: Path) -> None:
    """Make folder `new` be `path`; the old contents end up in `new` (to be removed). Atomic
    where renameat2 can exchange them: `path` always names a whole output. Elsewhere there is
    a moment without `path` between two renames."""
    raise_if_stopped()
    if not path.exists():
        os.rename(new, path)
    elif not _exchange(new, path):
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))  # a leftover if killed
        os.rename(path, old / "old")
        try:
            os.rename(new, path)
        except OSError:
            os.rename(old / "old", path)  # put the earlier output back
            raise
        shutil.rmtree(old, ignore_errors=True)
