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


class StoreError(QAError):
    """The data folder cannot do what was asked (locked, newer schema, conflicting record...)."""


class InvalidRecord(StoreError):
    """A record was refused before anything was written; each message names its field."""

    def __init__(self, record: str, messages: dict[str, str]) -> None:
        self.record = record  # e.g. "evaluation 'ev-42'"
        self.messages = messages  # field path -> what is wrong
        super().__init__("\n".join(f"{record}: {field}: {msg}" for field, msg in messages.items()))


class UnreadableFile(StoreError):
    """A store file is damaged; names the file and the newest backup that holds a good copy."""

    def __init__(self, path: str, reason: str, backup: str | None = None, *, looked_in: str = "") -> None:
        self.path = path
        self.reason = reason
        self.backup = backup
        self.looked_in = looked_in
        if backup:
            advice = f"The newest good backup is {backup} (restore it with: qa restore {backup})."
        elif looked_in:
            advice = f"No good backup was found in {looked_in}."
        else:
            advice = "Restore the newest backup of the data folder."
        super().__init__(f"cannot read {path}: {reason}. {advice}")


class RowsRejected(QAError):
    """A file was refused as a whole and nothing written: every bad row, with its line."""

    def __init__(self, path: object, problems: list[tuple[int, str]], limit: int = 25) -> None:
        self.path = path
        self.problems = sorted(problems)
        shown = [f"{path}:{line}: {message}" for line, message in self.problems[:limit]]
        if len(self.problems) > limit:
            shown.append(f"... and {len(self.problems) - limit} more problems")
        super().__init__(f"nothing imported from {path}:\n" + "\n".join(shown))
