"""The alert lifecycle: hysteresis, resolution, Remote ID, swarms, acknowledgement,
reasons and launch areas."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from skyfence.assess import AllowList, AssessConfig, Assessor, UnknownAlertError
from skyfence.errors import ConfigError, FormatError
from skyfence.geo import Site
from skyfence.model import Alert, AlertState, ThreatLevel, Tracks, Zone
from skyfence.model.terrain import Terrain

SITE_B = Zone("site-b", [[0, 0], [200, 0], [200, 200], [0, 200]], name="Site B", priority=3)
FPV = [0.92, 0.04, 0.01, 0.01, 0.01, 0.01]
MULTI = [0.02, 0.9, 0.02, 0.02, 0.02, 0.02]
BIRD = [0.01, 0.01, 0.01, 0.95, 0.01, 0.01]
P0 = np.diag([25.0, 25.0, 25.0, 1.0, 1.0, 1.0])
#: Tests about other things open alerts on young tracks too.
YOUNG_OK = AssessConfig(min_track_age_s=0.0)


def _one(t: float, x: list[float], cls: list[float] = FPV, tid: int = 7, **kw: object) -> Tracks:
    return Tracks(t, [tid], [x], P0[None], [cls], **kw)  # type: ignore[arg-type]


def _run(assessor: Assessor, snapshots: list[Tracks]) -> list[Alert]:
    out: list[Alert] = []
    for s in snapshots:
        out.extend(assessor.update(s))
    return out


def _fly_through(rf: float = 0.9) -> list[Tracks]:
    # West to east through Site B at 30 m/s, one snapshot a second, 60 m up.
    return [_one(1000.0 + k, [-1500.0 + 30 * k, 100, 60, 30, 0, 0], rf_silent=[rf]) for k in range(100)]


def test_reason_text_reads_like_an_operator_would_say_it() -> None:
    a = Assessor([SITE_B], YOUNG_OK)
    events = _run(a, _fly_through()[:3])
    assert [e.state for e in events] == [AlertState.NEW]
    new = events[0]
    assert new.zone_id == "site-b" and new.track_id == 7 and new.group_id == -1
    assert new.reason.startswith("FPV 0.92, RF-silent, 30 m/s toward Site B, 49 s to zone, P(enter) ")
    assert "launch ~" in new.reason
    assert new.time_to_zone == pytest.approx(49.0)
    assert new.level in (ThreatLevel.HIGH, ThreatLevel.CRITICAL)


def test_lifecycle_escalates_then_resolves_when_the_track_leaves() -> None:
    a = Assessor([SITE_B], YOUNG_OK)
    events = _run(a, _fly_through())
    states = [(e.state, e.level) for e in events]
    assert states[0][0] == AlertState.NEW
    assert (AlertState.ESCALATED, ThreatLevel.CRITICAL) in states
    assert events[-1].state == AlertState.RESOLVED
    assert "resolved: left the zone" in events[-1].reason
    # Left the zone at t = 1000 + 1700/30 ≈ 1056.7; resolution waits the close dwell.
    assert (
        1057.0 + a.config.close_dwell_s
        <= events[-1].t
        <= 1057.0 + a.config.close_dwell_s + a.config.down_dwell_s
    )
    assert len({e.id for e in events}) == 1
    assert a.active() == []


def test_alert_resolved_at_once_when_the_track_dies() -> None:
    a = Assessor([SITE_B])
    events = _run(a, _fly_through()[:30])
    assert a.active()
    gone = a.update(Tracks.empty(1030.0))
    assert [(e.state, e.id) for e in gone] == [(AlertState.RESOLVED, events[0].id)]
    assert "track lost" in gone[0].reason
    assert a.active() == []


def _skimming(rng: np.random.Generator, n: int = 300) -> list[Tracks]:
    # A multirotor flying along Site B's north edge with 15 m of position noise,
    # so it is in and out of the zone at every other update.
    out = []
    for k in range(n):
        e = -100.0 + 1.0 * k
        nn = 200.0 + rng.normal(0, 15.0)
        vn = rng.normal(0, 1.5)
        out.append(_one(2000.0 + k, [e, nn, 50, 1.0, vn, 0], MULTI))
    return out


def test_no_flapping_on_a_noisy_track_skimming_the_boundary(rng: np.random.Generator) -> None:
    snaps = _skimming(rng)
    a = Assessor([SITE_B])
    events = _run(a, snaps[:280])
    # One alert, opened once; no resolve/reopen cycles and only a few level changes.
    assert len({e.id for e in events}) == 1
    assert Counter(e.state for e in events)[AlertState.NEW] == 1
    assert AlertState.RESOLVED not in {e.state for e in events}
    assert len(events) <= 4
    # The same track without hysteresis or dwell times flaps: the test can tell.
    raw = Assessor(
        [SITE_B], AssessConfig(hysteresis=0.0, open_dwell_s=0.0, down_dwell_s=0.0, close_dwell_s=0.0)
    )
    flappy = _run(raw, snaps[:280])
    assert len(flappy) > 3 * len(events)


def test_allow_listed_compliant_drone_raises_no_alert(tmp_path: Path) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("# registered survey drones\n1581F5FJD229N00DH0XY,PERMIT-22-0042\nOTHER\n")
    snaps = [
        _one(1000.0 + k, [50.0 + k, 100, 60, 1, 0, 0], MULTI, identity=["1581F5FJD229N00DH0XY"])
        for k in range(20)
    ]
    allowed = Assessor([SITE_B], allow_list=AllowList.load(allow))
    assert _run(allowed, snaps) == []
    pic = allowed.picture
    assert pic is not None and bool(pic.compliant[0])
    # Not on the list: the same drone over the same site is alerted.
    other = Assessor([SITE_B])
    events = _run(other, snaps)
    assert events and events[0].state == AlertState.NEW
    assert "not on allow-list" in events[0].reason


def test_spoofed_remote_id_is_alerted(tmp_path: Path) -> None:
    allow = tmp_path / "allow.txt"
    allow.write_text("1581F5FJD229N00DH0XY\n")
    al = AllowList.load(allow)
    # Broadcasts a position 600 m away from where radar/EO put it.
    snaps = [
        _one(
            1000.0 + k,
            [50.0 + k, 100, 60, 1, 0, 0],
            MULTI,
            identity=["1581F5FJD229N00DH0XY"],
            attrs={"rid_pos": [[650.0 + k, 100, 60]]},
        )
        for k in range(20)
    ]
    events = _run(Assessor([SITE_B], allow_list=al), snaps)
    assert events and events[0].state == AlertState.NEW
    assert "Remote ID spoofed (600 m off track)" in events[0].reason
    assert events[0].level in (ThreatLevel.HIGH, ThreatLevel.CRITICAL)
    # A Remote ID position that agrees is not a spoof (and the drone is allowed).
    agree = [
        _one(
            s.t, list(s.x[0]), MULTI, identity=["1581F5FJD229N00DH0XY"], attrs={"rid_pos": [s.x[0, :3] + 20]}
        )
        for s in snaps
    ]
    assert _run(Assessor([SITE_B], allow_list=al), agree) == []
    # The tracker's own spoof flag counts too.
    flagged = [
        _one(s.t, list(s.x[0]), MULTI, identity=["1581F5FJD229N00DH0XY"], spoofed=[True]) for s in snaps
    ]
    ev = _run(Assessor([SITE_B], allow_list=al), flagged)
    assert ev and "Remote ID spoofed" in ev[0].reason


def test_allow_list_errors_and_expiry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("OK1\nA,B,not-a-time\n")
    with pytest.raises(FormatError, match=r"bad.txt:2"):
        AllowList.load(bad)
    good = tmp_path / "good.txt"
    good.write_text("OLD,P1,2020-01-01T00:00:00Z\nNEW,P2,2099-01-01T00:00:00Z\n")
    al = AllowList.load(good)
    t = 1.7e9
    assert al.allowed(np.array(["OLD", "NEW", "", "X"]), t).tolist() == [False, True, False, False]
    assert al.permit("NEW") == "P2"


def test_one_group_alert_per_swarm() -> None:
    ids = [11, 12, 13, 14, 15]
    snaps = []
    for k in range(10):
        x = [[-900.0 + 30 * k + 10 * j, 50 + 20 * j, 60, 30, 0, 0] for j in range(5)]
        snaps.append(Tracks(1000.0 + k, ids, x, np.tile(P0, (5, 1, 1)), [FPV] * 5, group_id=[3, 3, 3, 3, 3]))
    a = Assessor([SITE_B])
    events = _run(a, snaps)
    assert {e.group_id for e in events} == {3}
    assert len({e.id for e in events}) == 1
    assert events[0].reason.startswith("swarm of 5 (5 closing), lead FPV 0.92")
    assert a.details(events[0].id)["members"] == ids
    # The swarm scatters (group lost): the group alert resolves; members alert singly.
    later = a.update(Tracks(1011.0, ids, [list(s) for s in snaps[-1].x], np.tile(P0, (5, 1, 1)), [FPV] * 5))
    later += a.update(Tracks(1012.5, ids, [list(s) for s in snaps[-1].x], np.tile(P0, (5, 1, 1)), [FPV] * 5))
    assert [e.state for e in later if e.group_id == 3] == [AlertState.RESOLVED]
    assert {e.track_id for e in later if e.state == AlertState.NEW} == set(ids)


def test_acknowledge_then_escalation_needs_a_new_acknowledgement() -> None:
    a = Assessor([SITE_B], YOUNG_OK)
    snaps = _fly_through()
    events = _run(a, snaps[:3])
    aid = events[0].id
    ack = a.acknowledge(aid, "kim", 1002.5)
    assert ack.state == AlertState.ACKNOWLEDGED and ack.t == 1002.5
    assert a.details(aid)["acknowledged_by"] == "kim"
    later = _run(a, snaps[3:40])
    assert any(e.state == AlertState.ESCALATED and e.level == ThreatLevel.CRITICAL for e in later)
    with pytest.raises(UnknownAlertError):
        a.acknowledge("A99999", "kim", 1003.0)


def test_young_tracks_wait_unless_critical() -> None:
    # A multirotor hovering inside Site B from its first update: medium, so it waits.
    hover = [_one(1000.0 + k, [100.0, 100, 60, 0, 0, 0], MULTI, tid=4) for k in range(10)]
    a = Assessor([SITE_B])
    events = _run(a, hover)
    assert [e.t for e in events] == [1000.0 + a.config.min_track_age_s + a.config.open_dwell_s]
    # An FPV inside the zone is critical at once: no waiting on a clear threat.
    fpv = [_one(1000.0 + k, [100.0, 100, 60, 20, 0, 0], FPV, tid=5, rf_silent=[0.9]) for k in range(3)]
    events = _run(Assessor([SITE_B]), fpv)
    assert [(e.t, e.level) for e in events] == [(1001.0, ThreatLevel.CRITICAL)]


def test_birds_and_far_tracks_stay_quiet() -> None:
    a = Assessor([SITE_B])
    bird = [_one(1000.0 + k, [100.0, 100, 30, 3, 0, 0], BIRD, tid=1) for k in range(20)]
    assert _run(a, bird) == []
    far = [_one(1000.0 + k, [-9000.0 + 30 * k, 100, 60, 30, 0, 0], FPV, tid=2) for k in range(20)]
    assert _run(Assessor([SITE_B]), far) == []
    # Uninformative class probabilities (clutter) inside the zone: at most low.
    clutter = [_one(1000.0 + k, [100.0, 100, 30, 0.5, 0, 0], [1 / 6] * 6, tid=3) for k in range(20)]
    assert _run(Assessor([SITE_B]), clutter) == []


def test_launch_area_contains_the_take_off_point() -> None:
    # Took off at (-2000, 100) from a 40 m plateau, climbing 4 m/s while flying 20 m/s east;
    # first tracked 15 s later.
    ground = Terrain.flat(40.0)
    take_off = np.array([-2000.0, 100.0])
    t_first = 15.0
    first = [take_off[0] + 20 * t_first, 100.0, 40.0 + 4 * t_first, 20.0, 0.0, 4.0]
    a = Assessor([SITE_B], site=Site(47.8, 22.6, 150.0), ground=ground)
    snaps = [
        Tracks(1000.0 + k, [5], [[first[0] + 20 * k, 100.0, first[2] + 4 * k, 20, 0, 4]], P0[None], [FPV])
        for k in range(30)
    ]
    events = _run(a, snaps)
    assert events
    det = a.details(events[0].id)
    [launch] = [x for x in det["areas"] if x["kind"] == "launch"]
    c = np.array(launch["center"][:2])
    assert np.hypot(*(c - take_off)) < launch["semi_minor_m"]
    assert launch["center"][2] == pytest.approx(40.0)
    assert launch["semi_major_m"] < 300.0
    assert {"lat", "lon"} <= set(launch)
    assert [x.kind for x in a.launch_areas()] == ["launch"]


def test_operator_position_and_relay_bearing_in_alert() -> None:
    snaps = [
        _one(
            1000.0 + k,
            [-600.0 + 30 * k, 100, 60, 30, 0, 0],
            FPV,
            relay=[True],
            attrs={"operator_pos": [[-3000.0, 400.0]], "operator_bearing_rad": [math.radians(300.0)]},
        )
        for k in range(5)
    ]
    a = Assessor([SITE_B], YOUNG_OK)
    events = _run(a, snaps)
    kinds = [x["kind"] for x in a.details(events[0].id)["areas"]]
    assert kinds == ["launch", "operator", "link_bearing"]
    assert "operator ~3.0 km W" in events[0].reason
    assert "ground link bearing 300°" in events[0].reason


def test_config_from_yaml(tmp_path: Path) -> None:
    p = tmp_path / "assess.yaml"
    p.write_text("horizon_s: 60\nclass_threat: {bird: 0.1}\n")
    cfg = AssessConfig.from_yaml(p)
    assert cfg.horizon_s == 60 and cfg.class_threat["bird"] == 0.1 and cfg.class_threat["fpv"] == 1.0
    p.write_text("level_enter: [0.5, 0.4, 0.9]\n")
    with pytest.raises(ConfigError, match="increasing"):
        AssessConfig.from_yaml(p)
    p.write_text("horizon: 60\n")
    with pytest.raises(ConfigError, match="horizon"):
        AssessConfig.from_yaml(p)


def test_launch_uses_the_tentative_start_of_a_track() -> None:
    # Tentative for its first three updates, then confirmed: the launch is dated from the
    # first (tentative) state, not from confirmation.
    from skyfence.model import TrackStatus

    a = Assessor([SITE_B], YOUNG_OK)
    states = [TrackStatus.TENTATIVE] * 3 + [TrackStatus.CONFIRMED] * 5
    for k, st in enumerate(states):
        # Climbing out at 5 m/s from (-1000, 100) on flat ground, 20 m/s east.
        x = [-1000.0 + 20 * (k + 2), 100.0, 5.0 * (k + 2), 20.0, 0.0, 5.0]
        a.update(Tracks(1000.0 + k, [9], [x], P0[None], [FPV], status=[st]))
    [launch] = a.launch_areas()
    assert launch.t == 1000.0
    assert math.hypot(launch.center[0] + 1000.0, launch.center[1] - 100.0) < 30.0
