"""Errors a planner can act on: each names the file, the column and the problem."""


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


def one_line(exc: Exception) -> str:
    """The error as one line for a terminal or a log: a DataError's file and its first three
    problems (the rest counted), any other error's message."""
    if not isinstance(exc, DataError):
        return str(exc)
    more = f" (and {len(exc.problems) - 3} more: run `freshcast validate`)" if len(exc.problems) > 3 else ""
    return f"{exc.source}: {'; '.join(exc.problems[:3])}{more}"
