"""The append-only event log (SQLite WAL by default, PostgreSQL by URL) and its replay."""

from skyfence.store.events import (
    EVENT_KINDS,
    Event,
    EventKind,
    EventStore,
    PostgresStore,
    SqliteStore,
    StoreError,
    alert_events,
    alert_payload,
    data_dir,
    default_url,
    detection_summary,
    open_store,
    replay_alerts,
    tracks_payload,
)

__all__ = [
    "EVENT_KINDS",
    "Event",
    "EventKind",
    "EventStore",
    "PostgresStore",
    "SqliteStore",
    "StoreError",
    "alert_events",
    "alert_payload",
    "data_dir",
    "default_url",
    "detection_summary",
    "open_store",
    "replay_alerts",
    "tracks_payload",
]
