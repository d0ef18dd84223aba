"""The append-only event log: detection summaries, track snapshots, alert transitions and
operator actions, each a row ``(seq, t, kind, key, payload)``.

SQLite in WAL mode is the embedded default (one file under the data directory);
PostgreSQL is used for a ``postgresql://`` URL (or ``SKYFENCE_DB_URL``). Both refuse
UPDATE and DELETE with a trigger, so the log can only grow. ``append`` returns once the
row is committed: a process killed right after loses nothing it was told was stored.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from skyfence.errors import ConfigError, SkyfenceError
from skyfence.model.alert import Alert, AlertState
from skyfence.model.detections import Detections
from skyfence.model.records import alert_from_record, alert_record, track_records
from skyfence.model.tracks import Tracks

__all__ = [
    "EVENT_KINDS",
    "Event",
    "EventKind",
    "EventStore",
    "PostgresStore",
    "SqliteStore",
    "StoreError",
    "action_event",
    "alert_events",
    "alert_payload",
    "data_dir",
    "default_url",
    "detection_events",
    "detection_summary",
    "open_store",
    "replay_alerts",
    "tracks_payload",
]

EventKind = Literal["detections", "tracks", "alert", "action"]
EVENT_KINDS: tuple[str, ...] = ("detections", "tracks", "alert", "action")


def _events_query(
    placeholder: str, kind: str | None, after_seq: int, limit: int | None
) -> tuple[str, list[Any]]:
    """The events query in the driver's parameter style (``?`` SQLite, ``%s`` psycopg)."""
    sql = f"SELECT seq, t, kind, key, payload FROM events WHERE seq > {placeholder}"
    args: list[Any] = [after_seq]
    if kind is not None:
        sql += f" AND kind = {placeholder}"
        args.append(kind)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {placeholder}"
        args.append(int(limit))
    return sql, args


class StoreError(SkyfenceError):
    """The event store cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event; ``seq`` is the store's commit order (strictly increasing)."""

    seq: int
    t: float
    kind: str
    key: str
    payload: Mapping[str, Any]

    def as_record(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "t": self.t,
            "kind": self.kind,
            "key": self.key,
            "payload": dict(self.payload),
        }


class EventStore(Protocol):
    """The store role: append events, read them back in order."""

    url: str

    def append(self, kind: EventKind, t: float, payload: Mapping[str, Any], key: str = "") -> int: ...

    def append_many(self, events: Iterable[tuple[EventKind, float, str, Mapping[str, Any]]]) -> list[int]: ...

    def events(
        self, kind: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[Event]: ...

    def count(self, kind: str | None = None) -> int: ...

    def close(self) -> None: ...


def data_dir() -> Path:
    """``$SKYFENCE_DATA_DIR``, else ``$XDG_DATA_HOME/skyfence`` (``~/.local/share/skyfence``)."""
    env = os.environ.get("SKYFENCE_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "skyfence"


def default_url() -> str:
    """``$SKYFENCE_DB_URL`` when set, else the SQLite file ``events.db`` in the data directory."""
    return os.environ.get("SKYFENCE_DB_URL") or str(data_dir() / "events.db")


def _dumps(payload: Mapping[str, Any]) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(dict(payload)), separators=(",", ":"), allow_nan=False, default=str)


# Both backends: a trigger refuses UPDATE/DELETE so history can only grow.
_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    recorded REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, seq);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"""

_PG_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS events (
        seq BIGSERIAL PRIMARY KEY,
        t DOUBLE PRECISION NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL DEFAULT '',
        payload JSONB NOT NULL,
        recorded DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS events_kind ON events(kind, seq)",
    """CREATE OR REPLACE FUNCTION skyfence_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the event log is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS events_append_only ON events",
    """CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION skyfence_append_only()""",
]


class SqliteStore:
    """SQLite file in WAL mode with ``synchronous=FULL``: a commit is on disk when
    ``append`` returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SQLITE_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open event store {self.path}: {exc}") from None
        self._lock = threading.Lock()

    def append(self, kind: EventKind, t: float, payload: Mapping[str, Any], key: str = "") -> int:
        return self.append_many([(kind, t, key, payload)])[0]

    def append_many(self, events: Iterable[tuple[EventKind, float, str, Mapping[str, Any]]]) -> list[int]:
        rows = [(float(t), kind, key, _dumps(p), time.time()) for kind, t, key, p in events]
        out: list[int] = []
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for row in rows:
                    cur = self._db.execute(
                        "INSERT INTO events (t, kind, key, payload, recorded) VALUES (?, ?, ?, ?, ?)", row
                    )
                    out.append(int(cur.lastrowid or 0))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreError(f"event store {self.path}: {exc}") from None
        return out

    def events(
        self, kind: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[Event]:
        sql, args = _events_query("?", kind, after_seq, limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        for seq, t, k, key, payload in rows:
            yield Event(int(seq), float(t), str(k), str(key), json.loads(payload))

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind is None:
                row = self._db.execute("SELECT count(*) FROM events").fetchone()
            else:
                row = self._db.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresStore:
    """PostgreSQL through psycopg 3; each ``append_many`` is one committed transaction."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        try:
            self._db = psycopg.connect(url, autocommit=False, connect_timeout=10)
            with self._db.transaction():
                for stmt in _PG_SCHEMA:
                    self._db.execute(stmt)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open event store {_redact(url)}: {str(exc).strip()}") from None
        self._lock = threading.Lock()

    def append(self, kind: EventKind, t: float, payload: Mapping[str, Any], key: str = "") -> int:
        return self.append_many([(kind, t, key, payload)])[0]

    def append_many(self, events: Iterable[tuple[EventKind, float, str, Mapping[str, Any]]]) -> list[int]:
        import psycopg

        rows = [(float(t), kind, key, _dumps(p), time.time()) for kind, t, key, p in events]
        out: list[int] = []
        with self._lock:
            try:
                with self._db.transaction(), self._db.cursor() as cur:
                    for row in rows:
                        cur.execute(
                            "INSERT INTO events (t, kind, key, payload, recorded) "
                            "VALUES (%s, %s, %s, %s::jsonb, %s) RETURNING seq",
                            row,
                        )
                        got = cur.fetchone()
                        out.append(int(got[0]) if got else 0)
            except psycopg.Error as exc:
                raise StoreError(f"event store {_redact(self.url)}: {str(exc).strip()}") from None
        return out

    def events(
        self, kind: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[Event]:
        sql, args = _events_query("%s", kind, after_seq, limit)
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall()
        for seq, t, k, key, payload in rows:
            yield Event(int(seq), float(t), str(k), str(key), payload)

    def count(self, kind: str | None = None) -> int:
        with self._lock, self._db.transaction(), self._db.cursor() as cur:
            if kind is None:
                cur.execute("SELECT count(*) FROM events")
            else:
                cur.execute("SELECT count(*) FROM events WHERE kind = %s", (kind,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _redact(url: str) -> str:
    """A URL without its password, for error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':', 1)[0]}@{host}"
    return url


def open_store(url_or_path: str | Path | None = None) -> SqliteStore | PostgresStore:
    """Open (creating if needed) the event store: ``postgresql://…`` → PostgreSQL;
    ``sqlite:///path`` or a plain path → SQLite; ``None`` → :func:`default_url`."""
    target = str(url_or_path) if url_or_path is not None else default_url()
    if target.startswith(("postgresql://", "postgres://")):
        return PostgresStore(target)
    if target.startswith("sqlite:///"):
        # sqlite:///relative and sqlite:////absolute, as SQLAlchemy spells them.
        return SqliteStore(target[len("sqlite:///") :])
    if "://" in target:
        raise ConfigError(
            f"unsupported event store URL scheme in {_redact(target)!r} (postgresql:// or sqlite:///)"
        )
    return SqliteStore(target)


# ------------------------------------------------------------------ payloads


def detection_summary(det: Detections) -> dict[str, Any]:
    """What the log keeps of a detection batch: who, what, when, how many."""
    n = len(det)
    return {
        "sensor": det.sensor_id,
        "kind": det.kind,
        "n": n,
        "t_min": float(det.t.min()) if n else None,
        "t_max": float(det.t.max()) if n else None,
    }


def detection_events(
    batches: Iterable[Detections],
) -> list[tuple[EventKind, float, str, Mapping[str, Any]]]:
    """Rows for ``append_many`` summarising detection batches (key: the sensor id)."""
    out: list[tuple[EventKind, float, str, Mapping[str, Any]]] = []
    for det in batches:
        if len(det):
            out.append(("detections", float(det.t.max()), det.sensor_id, detection_summary(det)))
    return out


def action_event(
    action: str, alert_id: str, operator: str, t: float, **extra: Any
) -> tuple[EventKind, float, str, Mapping[str, Any]]:
    """An operator action row (``acknowledge``, ``note`` ...) about an alert."""
    return ("action", t, alert_id, {"action": action, "alert_id": alert_id, "operator": operator, **extra})


def tracks_payload(tracks: Tracks) -> dict[str, Any]:
    """A track snapshot without covariances (the log keeps the picture, not the filter)."""
    recs = []
    for rec in track_records(tracks):
        rec.pop("P", None)
        recs.append(rec)
    return {"t": tracks.t, "n": len(tracks), "tracks": recs}


def alert_payload(alert: Alert, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    rec = alert_record(alert)
    if details:
        rec["details"] = dict(details)
    return rec


def alert_events(
    alerts: Sequence[Alert], details: Mapping[str, Mapping[str, Any]] | None = None
) -> list[tuple[EventKind, float, str, Mapping[str, Any]]]:
    """Rows for ``append_many`` from alert transitions (with optional details by alert id)."""
    det = details or {}
    return [("alert", a.t, a.id, alert_payload(a, det.get(a.id))) for a in alerts]


def replay_alerts(events: Iterable[Event]) -> dict[str, Alert]:
    """The latest state of every alert, rebuilt from the log in commit order; operator
    acknowledgements recorded as actions are applied too."""
    latest: dict[str, Alert] = {}
    for ev in events:
        if ev.kind == "alert":
            latest[ev.key] = alert_from_record(ev.payload, "<event store>", ev.seq)
        elif ev.kind == "action" and ev.payload.get("action") == "acknowledge":
            aid = str(ev.payload.get("alert_id", ""))
            a = latest.get(aid)
            if a is not None and a.state != AlertState.RESOLVED:
                latest[aid] = a.with_state(AlertState.ACKNOWLEDGED, ev.t)
    return latest
