"""RF-silent inference, relay chains and swarm groups on synthetic track views."""

from __future__ import annotations

import numpy as np
from infer_synth import SITE, registry, rf_batch, view

from skyfence.model import Sensor, SensorRegistry, TrackStatus, Zone
from skyfence.track.infer import OPERATOR_SOURCES, InferConfig, TrackInference


def _fpv_states(t: float, starts: np.ndarray, vel: np.ndarray, height: float = 30.0) -> np.ndarray:
    x = np.zeros((starts.shape[0], 6))
    x[:, :2] = starts + vel * t
    x[:, 2] = height
    x[:, 3:5] = vel
    return x


def test_rf_silent_rises_only_for_a_silent_fpv_in_coverage() -> None:
    reg = registry(rf_positions=[(0.0, 0.0)], rf_range_m=5000.0)
    inf = TrackInference(sensors=reg)
    # Row 0 silent inside coverage, row 1 emits every other second inside coverage,
    # row 2 is silent far outside coverage.
    starts = np.array([[-1500.0, 1000.0], [-1500.0, -1000.0], [-1500.0, 15000.0]])
    vel = np.array([[25.0, 0.0]] * 3)
    history = []
    for k in range(60):
        t = float(k)
        x = _fpv_states(t, starts, vel)
        assoc = [rf_batch(reg, "rf0", [1], t, "elrs_900", x)] if k % 2 == 0 else []
        res = inf.update(view(t, [1, 2, 3], x, reg, assoc=assoc))
        history.append(res.rf_silent.copy())
    h = np.array(history)
    min_silent = InferConfig().rf_silent.min_silent_s
    assert (h[: int(min_silent) - 1, 0] == 0).all()
    assert h[-1, 0] > 0.8
    assert (np.diff(h[:, 0]) >= -1e-9).all()
    assert h[:, 1].max() < 0.05
    assert (h[:, 2] == 0).all()
    assert res.attrs["rf_covered"].tolist() == [True, True, False]


def test_rf_silent_falls_when_an_emission_arrives() -> None:
    reg = registry()
    inf = TrackInference(sensors=reg)
    start = np.array([[0.0, 1000.0]])
    vel = np.array([[25.0, 0.0]])
    for k in range(40):
        res = inf.update(view(float(k), [5], _fpv_states(float(k), start, vel), reg))
    assert res.rf_silent[0] > 0.8
    t = 40.0
    x = _fpv_states(t, start, vel)
    res = inf.update(view(t, [5], x, reg, assoc=[rf_batch(reg, "rf0", [0], t, "analog_5g8", x)]))
    assert res.rf_silent[0] == 0.0


def test_tentative_tracks_gather_no_silence() -> None:
    reg = registry()
    inf = TrackInference(sensors=reg)
    start = np.array([[0.0, 1000.0]])
    vel = np.array([[25.0, 0.0]])
    st = np.array([TrackStatus.TENTATIVE], np.int8)
    for k in range(40):
        res = inf.update(view(float(k), [5], _fpv_states(float(k), start, vel), reg, status=st))
    assert res.rf_silent[0] == 0.0


def _border_world() -> tuple[SensorRegistry, list[Zone]]:
    # Border along N = 0 (the far side is south); sensors on the home side, north.
    sensors = [
        Sensor("rf0", "rf", "bearing", np.array([-2000.0, 1500.0, 10.0]), 1.0, 15000.0),
        Sensor("rf1", "rf", "bearing", np.array([2000.0, 1500.0, 10.0]), 1.0, 15000.0),
        Sensor("radar", "radar", "polar", np.array([0.0, 3000.0, 10.0]), 1.0, 20000.0),
    ]
    border = Zone("border", [[-10000.0, 0.0], [10000.0, 0.0]], kind="border", geometry="line", buffer_m=500.0)
    return SensorRegistry(SITE, sensors), [border]


def _az(frm: np.ndarray, to: np.ndarray) -> float:
    d = to - frm
    return float(np.mod(np.arctan2(d[0], d[1]), 2 * np.pi))


def test_relay_links_the_fpvs_it_serves_and_points_at_its_operator() -> None:
    reg, zones = _border_world()
    inf = TrackInference(sensors=reg, zones=zones)
    relay_pos = np.array([500.0, 800.0, 120.0])
    operator = np.array([0.0, -4000.0])
    rf0 = reg.get("rf0").position[:2]
    rf1 = reg.get("rf1").position[:2]
    # Rows: relay, two ELRS FPVs deep inside, a fiber FPV deep inside, an FPV near the border.
    ids = [11, 12, 13, 14, 15]
    for k in range(80):
        t = float(k)
        x = np.zeros((5, 6))
        x[0, :3] = relay_pos
        x[0, 3:5] = [0.2, -0.1]
        x[1:4, :2] = [[-3000.0, 4000.0 + 25 * k], [1000.0, 4500.0 + 25 * k], [3000.0, 4200.0 + 25 * k]]
        x[1:4, 2] = 30.0
        x[1:4, 4] = 25.0
        x[4, :2] = [-6000.0 + 25 * k, 900.0]
        x[4, 2] = 30.0
        x[4, 3] = 25.0
        assoc = [
            # The relay re-transmits the FPVs' links; the FPVs' own links are heard too.
            rf_batch(reg, "rf0", [0, 1, 2, 4], t, "elrs_900", x),
            # The operator's ground link: bearings from both sensors that miss the relay.
            rf_batch(reg, "rf0", [-1], t, "elrs_900", az=[_az(rf0, operator)]),
            rf_batch(reg, "rf1", [-1], t, "elrs_900", az=[_az(rf1, operator)]),
        ]
        res = inf.update(view(t, ids, x, reg, assoc=assoc))
    assert res.relay.tolist() == [True, False, False, False, False]
    assert res.relay_id.tolist() == [-1, 11, 11, -1, -1]
    assert res.attrs["chain_id"].tolist() == [11, 11, 11, -1, -1]
    want = _az(relay_pos[:2], operator)
    got = float(res.attrs["operator_bearing_rad"][0])
    assert abs(np.angle(np.exp(1j * (got - want)))) < np.radians(3)
    assert OPERATOR_SOURCES[int(res.attrs["operator_source"][0])] == "rf_triangulated"
    assert np.isnan(res.attrs["operator_bearing_rad"][1:]).all()


def test_relay_without_ground_link_bearings_points_across_the_border() -> None:
    reg, zones = _border_world()
    inf = TrackInference(sensors=reg, zones=zones)
    for k in range(60):
        t = float(k)
        x = np.zeros((2, 6))
        x[0, :3] = [0.0, 600.0, 150.0]
        x[1, :3] = [0.0, 5000.0 + 25 * k, 20.0]
        x[1, 4] = 25.0
        res = inf.update(view(t, [1, 2], x, reg, assoc=[rf_batch(reg, "rf0", [0, 1], t, "elrs_2g4", x)]))
    assert res.relay.tolist() == [True, False]
    # South: bearing pi.
    assert abs(float(res.attrs["operator_bearing_rad"][0]) - np.pi) < 1e-6
    assert OPERATOR_SOURCES[int(res.attrs["operator_source"][0])] == "border"


def test_a_hovering_drone_with_no_fpv_to_serve_is_not_a_relay() -> None:
    reg, zones = _border_world()
    inf = TrackInference(sensors=reg, zones=zones)
    for k in range(60):
        t = float(k)
        x = np.zeros((1, 6))
        x[0, :3] = [0.0, 600.0, 150.0]
        res = inf.update(view(t, [1], x, reg, assoc=[rf_batch(reg, "rf0", [0], t, "elrs_2g4", x)]))
    assert not res.relay.any()


def test_swarm_of_six_is_one_stable_group_and_a_crossing_track_stays_out() -> None:
    reg = registry()
    inf = TrackInference(sensors=reg)
    rng = np.random.default_rng(3)
    offsets = np.array([[0, 0], [60, 0], [120, 0], [0, 60], [60, 60], [120, 60]], dtype=float)
    seen: set[int] = set()
    for k in range(60):
        t = float(k)
        sw = np.zeros((6, 6))
        sw[:, :2] = [-3000.0 + 28.0 * t, 2000.0] + offsets
        sw[:, 2] = 25.0
        sw[:, 3:5] = [28.0, 0.0] + rng.normal(0.0, 1.0, (6, 2))
        # An unrelated FPV crossing the formation at right angles.
        cross = np.zeros((1, 6))
        cross[0, :3] = [-3000.0 + 28.0 * 40 + 60.0, 2000.0 - 30.0 * 40 + 30.0 * t, 25.0]
        cross[0, 3:5] = [0.0, 30.0]
        ids = [1, 2, 3, 4, 5, 6, 99]
        x = np.vstack([sw, cross])
        status = np.full(7, TrackStatus.CONFIRMED, np.int8)
        if 30 <= k < 35:
            # One member coasts for a moment: the group keeps it and its id.
            status[0] = TrackStatus.COASTING
        if k >= 45:
            # One member is deleted: the rest keep the id.
            ids, x, status = ids[1:], x[1:], status[1:]
        res = inf.update(view(t, ids, x, reg, status=status))
        g = res.group_id
        if k >= 10:
            members = g[: len(ids) - 1]
            assert (members == members[0]).all() and members[0] >= 0
            seen.add(int(members[0]))
            assert g[-1] == -1
    assert len(seen) == 1


def test_slow_or_bird_like_tracks_are_not_a_swarm() -> None:
    reg = registry()
    inf = TrackInference(sensors=reg)
    offsets = np.array([[0, 0], [30, 0], [60, 0], [0, 30], [30, 30]], dtype=float)
    for k in range(60):
        t = float(k)
        x = np.zeros((5, 6))
        x[:, :2] = [0.0 + 9.0 * t, 1000.0] + offsets
        x[:, 2] = 40.0
        x[:, 3] = 9.0
        lik = np.tile([0.2, 0.2, 0.2, 1.0, 0.1, 0.2], (5, 1))
        res = inf.update(view(t, [1, 2, 3, 4, 5], x, reg, cls_lik=lik))
    assert (res.group_id == -1).all()


def test_decoys_loitering_above_a_swarm_are_not_its_members() -> None:
    # Two decoys at 120 m fly over the same ground as a four-FPV swarm skimming at 25 m,
    # on the same course: heights known to a few metres keep them out of its group.
    reg = registry()
    inf = TrackInference(sensors=reg)
    offsets = np.array([[0, 0], [60, 0], [0, 60], [60, 60], [30, 20], [90, 40]], dtype=float)
    heights = np.array([25.0, 25.0, 25.0, 25.0, 120.0, 120.0])
    P = np.broadcast_to(np.diag([25.0, 25.0, 25.0, 1.0, 1.0, 1.0]), (6, 6, 6)).copy()
    for k in range(30):
        t = float(k)
        x = np.zeros((6, 6))
        x[:, :2] = [-3000.0 + 28.0 * t, 2000.0] + offsets
        x[:, 2] = heights
        x[:, 3:5] = [28.0, 0.0]
        res = inf.update(view(t, [1, 2, 3, 4, 7, 8], x, reg, P=P))
    g = res.group_id
    assert (g[:4] == g[0]).all() and g[0] >= 0
    assert (g[4:] != g[0]).all()
