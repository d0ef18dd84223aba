"""The assessment driver loop shared by the CLI and the exercise/live drivers: each track
snapshot goes through the assessor, and its alert transitions go to a JSONL file, TAK
and the event log (with the snapshot itself)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from skyfence.assess.assessor import Assessor
from skyfence.model.alert import Alert, AlertState
from skyfence.model.detections import Detections
from skyfence.model.records import alert_record
from skyfence.model.tracks import Tracks
from skyfence.share.cot import CotSink
from skyfence.store.events import EventStore, alert_events, detection_events, tracks_payload

__all__ = ["alert_line", "assess_events", "assess_step", "run_assessment"]


def alert_line(alert: Alert, details: dict[str, Any]) -> dict[str, Any]:
    """The ALERTS.jsonl record: the alert fields plus its ``details``."""
    rec = alert_record(alert)
    rec["details"] = details
    return rec


def assess_step(
    assessor: Assessor,
    tracks: Tracks,
    *,
    sink: CotSink | None = None,
    store: EventStore | None = None,
    store_tracks: bool = True,
    detections: Sequence[Detections] = (),
) -> list[dict[str, Any]]:
    """One snapshot through the assessor; returns its alert records (with details).
    With a store, the detection summaries, the snapshot and the alert transitions go
    into the log in one transaction."""
    return assess_events(
        assessor, tracks, sink=sink, store=store, store_tracks=store_tracks, detections=detections
    )[1]


def assess_events(
    assessor: Assessor,
    tracks: Tracks,
    *,
    sink: Any = None,
    store: EventStore | None = None,
    store_tracks: bool = True,
    detections: Sequence[Detections] = (),
) -> tuple[list[Alert], list[dict[str, Any]]]:
    """``assess_step`` that also returns the alert transitions themselves (for drivers
    that score them, such as the exercise runner). ``sink`` is anything with CotSink's
    ``send_tracks``/``send_alerts``/``send_areas``."""
    events = assessor.update(tracks)
    details = {a.id: assessor.details(a.id) for a in events}
    if store is not None:
        rows = detection_events(detections)
        if store_tracks:
            rows.append(("tracks", tracks.t, "", tracks_payload(tracks)))
        rows.extend(alert_events(events, details))
        if rows:
            store.append_many(rows)
    if sink is not None:
        sink.send_tracks(tracks)
        if events:
            sink.send_alerts(events, details)
            # Launch/operator markers go out once, with the alert that first needs them.
            new = {a.track_id for a in events if a.state == AlertState.NEW}
            if new:
                sink.send_areas([x for x in assessor.launch_areas() if x.track_id in new], t=tracks.t)
    return events, [alert_line(a, details[a.id]) for a in events]


def run_assessment(
    assessor: Assessor,
    snapshots: Iterable[Tracks],
    *,
    alerts_out: IO[str] | None = None,
    sink: CotSink | None = None,
    store: EventStore | None = None,
    on_alert: Callable[[dict[str, Any]], None] | None = None,
    on_step: Callable[[Tracks], None] | None = None,
) -> int:
    """Assess every snapshot in order; returns how many alert transitions were made."""
    n = 0
    dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode
    for tracks in snapshots:
        for rec in assess_step(assessor, tracks, sink=sink, store=store):
            n += 1
            if alerts_out is not None:
                alerts_out.write(dumps(rec) + "\n")
            if on_alert is not None:
                on_alert(rec)
        if on_step is not None:
            on_step(tracks)
    if alerts_out is not None:
        alerts_out.flush()
    return n
