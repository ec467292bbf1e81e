"""Errors a planner can act on: each names the file, the column and the problem."""

from collections.abc import Iterator
from contextlib import contextmanager


class FreshcastError(Exception):
    """Base class for errors freshcast reports to the user (exit code 1 in the CLI)."""


class DataError(FreshcastError):
    """Input data breaks the contract. `problems` lists every problem found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        prefix = f"{source}: "  # the file is named once, in front
        self.problems = [p[len(prefix):] if p.startswith(prefix) else p for p in problems]
        head = f"{source}: {len(self.problems)} problem(s) in the input data"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))

    def __reduce__(self):  # rebuilt whole when it crosses a process boundary (a Dask worker's error)
        return (type(self), (self.source, self.problems))


def one_line(exc: Exception) -> str:
    """The error as one line for a terminal or a log: a DataError's file and its first three
    problems (the rest counted), any other error's message."""
    if not isinstance(exc, DataError):
        return str(exc)
    more = f" (and {len(exc.problems) - 3} more)" if len(exc.problems) > 3 else ""
    return f"{exc.source}: {'; '.join(exc.problems[:3])}{more}"


class ConfigError(FreshcastError):
    """The run's configuration is malformed: names the file and the key (exit code 2)."""


class RunLocked(FreshcastError):
    """Another freshcast run holds the run root's lock (exit code 75)."""


class StageFailed(FreshcastError):
    """A stage of the nightly run failed; the manifest records which and why (exit code 1)."""


class Interrupted(BaseException):
    """SIGTERM or SIGINT stopped a run at a stage boundary (exit code 128 + the signal). A
    BaseException, like KeyboardInterrupt, so that no handler of ordinary errors takes it."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}: the stage in progress was abandoned "
                         f"(nothing of it written); run again to resume")  # fmt: skip


_lost: list[int] = []  # signals whose Interrupted was lost in the stop_on_signals blocks open now
_open: list[None] = []  # one entry per open block: the outermost one forgets the lost signals at its end


@contextmanager
def stop_on_signals(signals: tuple[int, ...] | None = None) -> Iterator[None]:
    """`signals` (default SIGTERM and SIGINT) raise Interrupted in the main thread while the
    block runs (elsewhere signals stay as they are); the handlers before are put back after.
    Python only hands an exception raised in a finalizer or a weakref callback to
    `sys.unraisablehook`, so an Interrupted raised there would be lost and the work go on:
    it is kept instead for `raise_if_stopped` to raise."""
    import signal
    import sys
    import threading

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def stop(signum, _frame):
        raise Interrupted(signum)

    def unraisable(info):
        if isinstance(info.exc_value, Interrupted):
            _lost.append(info.exc_value.signum)
        else:
            hook_before(info)

    _open.append(None)
    hook_before, sys.unraisablehook = sys.unraisablehook, unraisable
    before = {}
    try:
        for s in signals or (signal.SIGTERM, signal.SIGINT):
            before[s] = signal.signal(s, stop)
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        sys.unraisablehook = hook_before
        _open.pop()
        if not _open:
            _lost.clear()


def raise_if_stopped() -> None:
    """Raise, once, the Interrupted of a signal that was lost (see stop_on_signals): called
    before an output takes its name and between steps, so the work stops there."""
    if _lost:
        signum = _lost[0]
        _lost.clear()
        raise Interrupted(signum)
