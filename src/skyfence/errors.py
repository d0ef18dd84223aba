"""One exception family for everything skyfence reports to a person.

Messages name the file, line or field and what was expected; the CLI prints them on one
line and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "DecodeError",
    "FormatError",
    "ScenarioError",
    "SkyfenceError",
]


class SkyfenceError(Exception):
    """Base of every error skyfence raises on purpose."""


class FormatError(SkyfenceError):
    """A file or record does not match its documented format."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if self.path is not None:
            where.append(self.path if line is None else f"{self.path}:{line}")
        elif line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ScenarioError(FormatError):
    """A scenario YAML is unreadable or invalid."""


class ConfigError(FormatError):
    """A configuration file or option is invalid."""


class DecodeError(SkyfenceError):
    """A decoder could not decode a frame; ``reason`` is a short stable category."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)
