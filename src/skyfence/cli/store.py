"""`skyfence store events|replay`: read the append-only event log back."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="event store URL or SQLite path (default: $SKYFENCE_DB_URL or the data dir)"),
]


def register(app: typer.Typer) -> None:
    @app.command("events")
    def events(
        db: DbOption = None,
        kind: Annotated[
            str | None, typer.Option("--kind", help="detections, tracks, alert or action")
        ] = None,
        after: Annotated[int, typer.Option("--after", help="only events after this sequence number")] = 0,
        limit: Annotated[int | None, typer.Option("--limit", help="at most this many")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines on stdout")] = False,
    ) -> None:
        """List stored events in commit order."""
        from rich.table import Table

        from skyfence.cli._common import console, emit_json
        from skyfence.errors import ConfigError
        from skyfence.store import EVENT_KINDS, open_store

        if kind is not None and kind not in EVENT_KINDS:
            raise ConfigError(f"expected one of {', '.join(EVENT_KINDS)}, got {kind!r}", field="--kind")
        store = open_store(db)
        try:
            rows = list(store.events(kind=kind, after_seq=after, limit=limit))
        finally:
            store.close()
        if json_out:
            for ev in rows:
                emit_json(ev.as_record())
            return
        table = Table(title=f"{len(rows)} events from {store.url}", title_justify="left")
        for col in ("seq", "t", "kind", "key", "summary"):
            table.add_column(col, overflow="fold")
        for ev in rows:
            p = ev.payload
            if ev.kind == "alert":
                who = f"T{p.get('track_id')}→{p.get('zone_id')}"
                summary = f"{p.get('state')} {p.get('level')} {who}: {p.get('reason')}"
            elif ev.kind == "tracks":
                summary = f"{p.get('n')} tracks"
            elif ev.kind == "detections":
                summary = f"{p.get('n')} {p.get('kind')} from {p.get('sensor')}"
            else:
                summary = ", ".join(f"{k}={v}" for k, v in p.items())
            table.add_row(str(ev.seq), f"{ev.t:.3f}", ev.kind, ev.key, summary)
        console.print(table)

    @app.command("replay")
    def replay(
        db: DbOption = None,
        all_alerts: Annotated[bool, typer.Option("--all", help="also list resolved alerts")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="JSON lines on stdout")] = False,
    ) -> None:
        """Rebuild the alert state from the log, in order, and show it."""
        from skyfence.assess.timeline import alerts_table
        from skyfence.cli._common import console, emit_json
        from skyfence.model.alert import AlertState
        from skyfence.model.records import alert_record
        from skyfence.store import open_store, replay_alerts

        store = open_store(db)
        try:
            state = replay_alerts(store.events())
            n_events = store.count()
        finally:
            store.close()
        shown = [a for a in state.values() if all_alerts or a.state != AlertState.RESOLVED]
        if json_out:
            for a in shown:
                emit_json(alert_record(a))
            return
        active = sum(1 for a in state.values() if a.state != AlertState.RESOLVED)
        console.print(alerts_table(shown, title=f"Alert state after {n_events} events: {active} active"))

    @app.command("ack")
    def ack(
        alert_id: Annotated[str, typer.Argument(help="the alert to acknowledge, e.g. A00012")],
        operator: Annotated[str, typer.Option("--operator", help="who acknowledges")],
        db: DbOption = None,
        note: Annotated[str, typer.Option("--note", help="free text kept with the action")] = "",
    ) -> None:
        """Record an operator's acknowledgement of an active alert in the log."""
        import time

        from skyfence.cli._common import console
        from skyfence.model.alert import AlertState
        from skyfence.store import action_event, open_store, replay_alerts

        store = open_store(db)
        try:
            state = replay_alerts(store.events())
            alert = state.get(alert_id)
            if alert is None or alert.state == AlertState.RESOLVED:
                from skyfence.assess import UnknownAlertError

                raise UnknownAlertError(f"no active alert {alert_id!r} in {store.url}")
            extra = {"note": note} if note else {}
            [seq] = store.append_many([action_event("acknowledge", alert_id, operator, time.time(), **extra)])
        finally:
            store.close()
        console.print(f"{alert_id} acknowledged by {operator} (event {seq})")
