"""The event log on both backends: order, append-only, replay of alert state, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from skyfence.assess import Assessor
from skyfence.errors import ConfigError
from skyfence.model import Alert, AlertState, Detections, ThreatLevel, Tracks, Zone
from skyfence.store import (
    StoreError,
    alert_events,
    detection_summary,
    open_store,
    replay_alerts,
    tracks_payload,
)

pytestmark = pytest.mark.xdist_group("postgres")


def test_append_and_read_back_in_order(store_url: str) -> None:
    store = open_store(store_url)
    try:
        det = Detections("radar-1", "position", [1.0, 1.5], [[0, 0], [1, 1]], np.tile(np.eye(2), (2, 1, 1)))
        s1 = store.append("detections", 1.5, detection_summary(det), key="radar-1")
        tr = Tracks(2.0, [4], [[1, 2, 3, 4, 5, 6]], np.eye(6)[None])
        s2 = store.append("tracks", 2.0, tracks_payload(tr))
        s3, s4 = store.append_many(
            [
                ("action", 3.0, "A00001", {"action": "acknowledge", "alert_id": "A00001", "operator": "kim"}),
                ("alert", 3.5, "A00002", {"x": float("inf"), "nested": {"v": [1, 2]}}),
            ]
        )
        assert s1 < s2 < s3 < s4
        evs = list(store.events())
        assert [e.seq for e in evs] == [s1, s2, s3, s4]
        assert [e.kind for e in evs] == ["detections", "tracks", "action", "alert"]
        assert evs[0].payload == {"sensor": "radar-1", "kind": "position", "n": 2, "t_min": 1.0, "t_max": 1.5}
        assert evs[1].payload["tracks"][0]["x"] == [1, 2, 3, 4, 5, 6]
        assert "P" not in evs[1].payload["tracks"][0]
        assert evs[3].payload == {"x": None, "nested": {"v": [1, 2]}}
        assert [e.seq for e in store.events(kind="alert")] == [s4]
        assert [e.seq for e in store.events(after_seq=s2, limit=1)] == [s3]
        assert store.count() == 4
        assert store.count("tracks") == 1
    finally:
        store.close()
    # Reopening finds the same log (the file / database persists).
    again = open_store(store_url)
    try:
        assert again.count() == 4
    finally:
        again.close()


def test_log_is_append_only(store_url: str) -> None:
    store = open_store(store_url)
    try:
        store.append("action", 1.0, {"action": "note"})
        if store_url.startswith("postgresql://"):
            import psycopg

            with (
                psycopg.connect(store_url, autocommit=True) as conn,
                pytest.raises(psycopg.Error, match="append-only"),
            ):
                conn.execute("DELETE FROM events")
        else:
            import sqlite3

            conn = sqlite3.connect(store_url)
            with pytest.raises(sqlite3.Error, match="append-only"):
                conn.execute("UPDATE events SET kind = 'x'")
            conn.close()
        assert store.count() == 1
    finally:
        store.close()


def _approach(k: int) -> Tracks:
    x = np.array([[-1500.0 + 30 * k, 100, 60, 30, 0, 0], [3000.0, 3000, 50, 0, 0, 0]])
    cls = [[0.92, 0.04, 0.01, 0.01, 0.01, 0.01], [0.05, 0.05, 0.05, 0.8, 0.025, 0.025]]
    P = np.tile(np.diag([25, 25, 25, 4, 4, 4.0]), (2, 1, 1))
    return Tracks(1000.0 + k, [7, 8], x, P, cls, rf_silent=[0.9, 0.0])


def test_replay_rebuilds_alert_state(store_url: str) -> None:
    zones = [Zone("B", [[0, 0], [200, 0], [200, 200], [0, 200]], name="Site B", priority=3)]
    assessor = Assessor(zones)
    store = open_store(store_url)
    try:
        acked = False
        for k in range(40):
            tracks = _approach(k)
            store.append("tracks", tracks.t, tracks_payload(tracks))
            events = assessor.update(tracks)
            store.append_many(alert_events(events, {a.id: assessor.details(a.id) for a in events}))
            if events and not acked:
                ack = assessor.acknowledge(events[0].id, "kim", tracks.t + 0.5)
                store.append(
                    "action", ack.t, {"action": "acknowledge", "alert_id": ack.id, "operator": "kim"}, ack.id
                )
                acked = True
        state = replay_alerts(store.events())
    finally:
        store.close()
    active = {a.id: a for a in assessor.active()}
    assert active, "the approaching FPV must have raised an alert"
    replayed_active = {k: a for k, a in state.items() if a.state != AlertState.RESOLVED}
    assert set(replayed_active) == set(active)
    for aid, a in replayed_active.items():
        assert (a.level, a.track_id, a.zone_id) == (
            active[aid].level,
            active[aid].track_id,
            active[aid].zone_id,
        )
    # The escalation after the acknowledgement wins: replay applies events in order.
    assert replayed_active[next(iter(active))].state == active[next(iter(active))].state

    # A restarted assessor continues from the replayed alerts: no duplicate alert.
    fresh = Assessor(zones)
    fresh.restore(state.values())
    later = fresh.update(_approach(41))
    assert not [e for e in later if e.state == AlertState.NEW]
    assert {a.id for a in fresh.active()} == set(active)


def test_open_store_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported"):
        open_store("mysql://x@y/z")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError):
        open_store(blocker / "sub" / "events.db")
    s = open_store(f"sqlite:///{tmp_path / 'u.db'}")
    assert s.url.endswith("u.db")
    s.close()


def test_default_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYFENCE_DB_URL", raising=False)
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    s = open_store()
    try:
        assert Path(s.url.removeprefix("sqlite:///")) == tmp_path / "data" / "events.db"
        s.append("action", 0.0, {"action": "note"})
    finally:
        s.close()
    assert (tmp_path / "data" / "events.db").exists()


_WRITER = textwrap.dedent(
    """
    import sys
    from skyfence.store import open_store
    store = open_store(sys.argv[1])
    i = 0
    while True:
        payload = {"i": i, "blob": "x" * 2000}
        row = ("action", float(i), str(i), payload)
        seqs = store.append_many([row, row])
        # Only what append_many returned is committed; report it.
        print(i, seqs[0], seqs[1], flush=True)
        i += 1
    """
)


def test_sigkill_loses_no_committed_event(store_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, store_url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    reported: list[tuple[int, int, int]] = []
    deadline = time.monotonic() + 60
    try:
        while len(reported) < 150 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            i, a, b = map(int, line.split())
            reported.append((i, a, b))
        # Killed while it is writing its next transactions.
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    for line in rest.splitlines():
        if line.strip():
            i, a, b = map(int, line.split())
            reported.append((i, a, b))
    assert len(reported) >= 150
    store = open_store(store_url)
    try:
        stored = {e.seq: e for e in store.events()}
    finally:
        store.close()
    for i, a, b in reported:
        assert a in stored and b in stored, f"committed event {i} lost"
        assert stored[a].payload["i"] == i and stored[b].payload["i"] == i
    # Transactions are atomic: no half-written pair survives.
    counts: dict[str, int] = {}
    for e in stored.values():
        counts[e.key] = counts.get(e.key, 0) + 1
    assert set(counts.values()) == {2}


def test_alert_record_round_trip_through_store(store_url: str) -> None:
    a = Alert("A00009", 5.0, 3, "B", ThreatLevel.HIGH, AlertState.NEW, float("inf"), "FPV 0.9", 0.6, 0.8)
    store = open_store(store_url)
    try:
        store.append_many(alert_events([a], {"A00009": {"areas": [{"kind": "launch"}]}}))
        evs = list(store.events(kind="alert"))
    finally:
        store.close()
    assert evs[0].payload["details"] == {"areas": [{"kind": "launch"}]}
    assert replay_alerts(evs) == {"A00009": a}


def test_detection_and_action_rows(store_url: str) -> None:
    from skyfence.store import action_event, detection_events

    dets = [
        Detections("rf-1", "bearing", [1.0, 2.0], [[0.1], [0.2]], np.full((2, 1, 1), 0.01)),
        Detections.empty("radar-1", "polar"),
    ]
    store = open_store(store_url)
    try:
        store.append_many([*detection_events(dets), action_event("acknowledge", "A1", "kim", 3.0, note="x")])
        evs = list(store.events())
    finally:
        store.close()
    assert [(e.kind, e.key, e.t) for e in evs] == [("detections", "rf-1", 2.0), ("action", "A1", 3.0)]
    assert evs[0].payload["n"] == 2
    assert evs[1].payload == {"action": "acknowledge", "alert_id": "A1", "operator": "kim", "note": "x"}
