"""The one error family: every failure a user can cause is a ClearleafError."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input, with where it is, how serious it is and how to fix it."""

    path: str
    line: int | None
    message: str
    fix: str
    # The form field a problem belongs to (e.g. "medication.dose"), so the desk can show it there.
    field: str | None = field(default=None, compare=False)
    # A warning is reported but stops nothing (build.py check exits 0 on warnings alone).
    level: str = ERROR

    @property
    def where(self) -> str:
        """Return 'path:line', or the path alone when the problem has no line."""
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        return f"{self.where}: {self.message} — {self.fix}"


class ClearleafError(Exception):
    """Base of every error meant for the user, never for a traceback."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            self.text = problems
        else:
            self.problems = sorted(set(problems), key=_problem_order)
            self.text = "\n".join(str(p) for p in self.problems)
        super().__init__(self.text)


class ContentError(ClearleafError):
    """One or more leaflets, inserts or config files are invalid."""


class RenderError(ClearleafError):
    """A template, stylesheet or the PDF renderer failed."""


def _problem_order(problem: Problem) -> tuple:
    # Report in file order, then line order, so authors can work top to bottom.
    return (problem.path, problem.line or 0, problem.message)


class Problems:
    """Collect problems across every file, then raise once (check everything, stop once)."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str, line: int | None, message: str, fix: str, field: str | None = None) -> None:
        self.items.append(Problem(path, line, message, fix, field))

    def extend(self, other: "Problems") -> None:
        self.items.extend(other.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, cls: type[ClearleafError] = ContentError) -> None:
        if self.items:
            raise cls(self.items)


# Plain words where the operating system's own (strerror) would not say what to look at.
_REASONS = {
    errno.ENOTDIR: "a folder in the path is a file",
    errno.EISDIR: "it is a folder, not a file",
}


def os_reason(exc: OSError) -> str:
    """Return why an operating-system call failed, in words a user can act on (never a traceback)."""
    return _REASONS.get(exc.errno) or exc.strerror or str(exc) or type(exc).__name__


def cannot(path, doing: str, exc: OSError, fix: str, cls: type[ClearleafError] = ClearleafError) -> ClearleafError:
    """Return the error for a file that could not be read or written: `path: cannot <doing>: why — fix`."""
    return cls([Problem(str(path), None, f"cannot {doing}: {os_reason(exc)}", fix)])
