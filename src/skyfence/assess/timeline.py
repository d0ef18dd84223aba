"""The alerts timeline an operator (or the demo) reads: one row per alert transition."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text

from skyfence.model.alert import Alert, AlertState, ThreatLevel
from skyfence.model.records import read_alerts

__all__ = ["LEVEL_STYLES", "alerts_table", "alerts_timeline"]

LEVEL_STYLES: dict[ThreatLevel, str] = {
    ThreatLevel.LOW: "green",
    ThreatLevel.MEDIUM: "yellow",
    ThreatLevel.HIGH: "bold dark_orange",
    ThreatLevel.CRITICAL: "bold red",
}

_STATE_STYLES: dict[AlertState, str] = {
    AlertState.NEW: "bold",
    AlertState.ESCALATED: "bold magenta",
    AlertState.ACKNOWLEDGED: "cyan",
    AlertState.RESOLVED: "dim",
}


def alerts_table(alerts: Sequence[Alert], title: str = "Alerts timeline", reason_width: int = 90) -> Table:
    """A rich table of alert transitions in time order, times relative to the first."""
    table = Table(title=title, title_justify="left", expand=False, show_lines=False)
    table.add_column("t", justify="right", no_wrap=True)
    table.add_column("alert", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("who", no_wrap=True)
    table.add_column("zone", no_wrap=True)
    table.add_column("to zone", justify="right", no_wrap=True)
    table.add_column("reason", overflow="fold", max_width=reason_width)
    rows = sorted(alerts, key=lambda a: a.t)
    t0 = rows[0].t if rows else 0.0
    order = list(ThreatLevel)
    last: dict[str, Alert] = {}
    for a in rows:
        prev = last.get(a.id)
        last[a.id] = a
        # A level that falls keeps the state; say so rather than repeat "new".
        down = (
            prev is not None
            and prev.state == a.state
            and a.state != AlertState.RESOLVED
            and order.index(a.level) < order.index(prev.level)
        )
        state = Text(
            f"{a.state.value} ↓" if down else a.state.value, style="dim" if down else _STATE_STYLES[a.state]
        )
        dt = a.t - t0
        who = f"swarm {a.group_id}" if a.group_id >= 0 else f"T{a.track_id}"
        ttz = (
            "in zone"
            if a.time_to_zone == 0
            else (f"{a.time_to_zone:.0f} s" if math.isfinite(a.time_to_zone) else "—")
        )
        table.add_row(
            f"{int(dt // 60):02d}:{dt % 60:04.1f}",
            a.id,
            state,
            Text(a.level.value, style=LEVEL_STYLES[a.level]),
            who,
            a.zone_id,
            ttz,
            a.reason,
        )
    return table


def alerts_timeline(alerts_path: str | Path) -> Group:
    """The timeline of an ``ALERTS.jsonl`` file (from ``skyfence assess run``) with a
    one-line summary: how many alerts, at which peak level, how many still open."""
    alerts = read_alerts(alerts_path)
    table = alerts_table(alerts)
    latest: dict[str, Alert] = {}
    peak: dict[str, int] = {}
    order = list(ThreatLevel)
    for a in sorted(alerts, key=lambda a: a.t):
        latest[a.id] = a
        peak[a.id] = max(peak.get(a.id, 0), order.index(a.level))
    by_level = {lv: sum(1 for p in peak.values() if p == i) for i, lv in enumerate(order)}
    still_open = sum(1 for a in latest.values() if a.state != AlertState.RESOLVED)
    summary = Text(f"{len(latest)} alert{'' if len(latest) == 1 else 's'} (peak: ")
    summary.append(
        Text(", ").join(
            Text(f"{n} {lv.value}", style=LEVEL_STYLES[lv]) for lv, n in reversed(by_level.items()) if n
        )
        or Text("none")
    )
    summary.append(f"), {still_open} still open, {len(alerts)} transitions")
    return Group(table, summary)
