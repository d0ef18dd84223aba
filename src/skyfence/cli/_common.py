"""Helpers shared by the CLI areas: consoles, progress bars, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["console", "emit_json", "err_console", "progress"]

console = Console()
err_console = Console(stderr=True)


def progress(transient: bool = True) -> Progress:
    """The one progress-bar style of the CLI (on stderr, so stdout stays machine-readable)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
    )


def emit_json(record: Any) -> None:
    """One JSON line on stdout (the ``--json`` output of every command)."""
    sys.stdout.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()
