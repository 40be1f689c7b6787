"""The domain's own exceptions: each carries what a user must be told (file, line, field)."""

from __future__ import annotations

from dataclasses import dataclass


class QAError(Exception):
    """Base of every error the CLI and the app show to a user as a message, never a traceback."""


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in a file, at a 1-based line and column."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ScorecardError(QAError):
    """A scorecard file is invalid; holds every problem found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


class AnswerError(QAError):
    """Answers do not fit the scorecard; each message names its criterion."""

    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages  # criterion or field id -> what is wrong
        super().__init__("\n".join(f"{key}: {msg}" for key, msg in messages.items()))


class PermissionDenied(QAError):
    """The signed-in user may not do this."""


class NotFound(QAError):
    """A record that was asked for does not exist (or is not visible to this user)."""
