"""The alerts timeline an operator (or the demo) reads: one line per alert transition with
its reason on an indented line under it (readable on an 80-column terminal), the most
important transitions first chosen, then shown in time order."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from skyfence.model.alert import Alert, AlertState, ThreatLevel
from skyfence.model.records import read_alerts

__all__ = ["LEVEL_STYLES", "alerts_list", "alerts_table", "alerts_timeline"]

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


def _clock(dt: float) -> str:
    return f"{int(dt // 60):02d}:{dt % 60:04.1f}"


def _to_zone(a: Alert) -> str:
    if a.time_to_zone == 0:
        return "in zone"
    return f"{a.time_to_zone:.0f} s to zone" if math.isfinite(a.time_to_zone) else ""


def _importance(a: Alert, peak: int) -> tuple[int, int, int, float]:
    """Sort key, most important first: alerts that peaked higher, then openings and
    escalations before acknowledgements and resolutions, then higher levels, then earlier."""
    order = list(ThreatLevel)
    state_rank = {
        AlertState.NEW: 0,
        AlertState.ESCALATED: 0,
        AlertState.ACKNOWLEDGED: 1,
        AlertState.RESOLVED: 2,
    }
    return (-peak, state_rank[a.state], -order.index(a.level), a.t)


def alerts_list(
    alerts: Sequence[Alert], title: str = "Alerts timeline", limit: int | None = 30
) -> RenderableType:
    """Alert transitions in time order (times relative to the first), each as a short
    line ``t  alert  state  level  who → zone  time to zone`` with the reason indented
    under it, so the reason wraps at the terminal's width instead of a narrow column.
    With ``limit``, only the ``limit`` most important transitions are shown (those of the
    alerts that peaked highest, openings and escalations first) and a last line counts
    the rest."""
    rows = sorted(alerts, key=lambda a: a.t)
    t0 = rows[0].t if rows else 0.0
    order = list(ThreatLevel)
    peak: dict[str, int] = {}
    for a in rows:
        peak[a.id] = max(peak.get(a.id, 0), order.index(a.level))
    keep = set(range(len(rows)))
    if limit is not None and len(rows) > limit:
        ranked = sorted(range(len(rows)), key=lambda k: _importance(rows[k], peak[rows[k].id]))
        keep = set(ranked[:limit])
    out: list[RenderableType] = [Text(title, style="bold")]
    last: dict[str, Alert] = {}
    for k, a in enumerate(rows):
        prev = last.get(a.id)
        last[a.id] = a
        if k not in keep:
            continue
        down = (
            prev is not None
            and prev.state == a.state
            and a.state != AlertState.RESOLVED
            and order.index(a.level) < order.index(prev.level)
        )
        who = f"swarm {a.group_id}" if a.group_id >= 0 else f"T{a.track_id}"
        line = Text(_clock(a.t - t0), style="dim")
        line.append(f"  {a.id}  ")
        line.append(
            f"{a.state.value} ↓" if down else a.state.value, style="dim" if down else _STATE_STYLES[a.state]
        )
        line.append("  ")
        line.append(a.level.value, style=LEVEL_STYLES[a.level])
        line.append(f"  {who} → {a.zone_id}")
        ttz = _to_zone(a)
        if ttz:
            line.append(f"  {ttz}")
        line.no_wrap = True
        line.overflow = "ellipsis"
        out.append(line)
        if a.reason:
            out.append(Padding(Text(a.reason, style="italic"), (0, 0, 0, 9)))
    if len(keep) < len(rows):
        rest = [a for k, a in enumerate(rows) if k not in keep]
        low = sum(1 for a in rest if peak[a.id] <= order.index(ThreatLevel.MEDIUM))
        out.append(
            Text(
                f"… {len(rest)} more transition{'' if len(rest) == 1 else 's'} not shown "
                f"({low} of alerts that never rose above medium)",
                style="dim",
            )
        )
    return Group(*out)


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


def alerts_timeline(alerts_path: str | Path, limit: int | None = 30) -> Group:
    """The timeline of an ``ALERTS.jsonl`` file (from ``skyfence assess run``), at most
    ``limit`` transitions (see :func:`alerts_list`), with a one-line summary: how many
    alerts, at which peak level, how many still open."""
    alerts = read_alerts(alerts_path)
    table = alerts_list(alerts, limit=limit)
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
