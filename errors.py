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
