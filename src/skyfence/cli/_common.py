"""Helpers shared by the CLI areas: consoles, progress bars, JSON output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

if TYPE_CHECKING:
    from skyfence.geo import Site

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


def parse_site(text: str, option: str = "--site") -> Site:
    """``LAT,LON[,ALT]`` in degrees and metres; a ConfigError names the option."""
    from skyfence.errors import ConfigError
    from skyfence.geo import Site

    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (2, 3):
            raise ValueError("expected LAT,LON or LAT,LON,ALT")
        return Site(*(float(p) for p in parts))
    except ValueError as exc:
        raise ConfigError(f"{exc} (got {text!r})", field=option) from None
