"""Unobservable heights of RF-bearing-only tracks, and Remote ID inputs for assessment
(broadcast position, operator position, spoofing) carried on the tracks."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from skyfence.model import Detections, TrackStatus
from skyfence.model.terrain import Terrain
from skyfence.track import Tracker, TrackerConfig
from skyfence.track.config import ManagementConfig

from .conftest import polar_of, positions, registry

RF = {"rf-a": [-3000.0, 0.0, 8.0], "rf-b": [0.0, -2500.0, 8.0], "rf-c": [3000.0, 0.0, 3.0]}
SIG = np.radians(2.0)


def _rf_only_run(
    rng: np.random.Generator,
    tracker: Tracker,
    truth_u: float,
    seconds: int = 40,
    radar_from: int | None = None,
) -> list[tuple[float, float, bool, int]]:
    """A target seen by three azimuth-only RF sensors (and a radar from ``radar_from``);
    per second: track height, its sd, height_observed, status of the single track."""
    x = np.array([500.0, 2500.0, truth_u, -8.0, -4.0, 0.0])
    out = []
    for k in range(seconds):
        p = x[:3] + x[3:] * k
        for sid, sp in RF.items():
            d = p - np.array(sp)
            az = np.arctan2(d[0], d[1]) + rng.normal(0, SIG)
            tracks = tracker.update(Detections(sid, "bearing", [float(k)], [[az]], [[[SIG**2]]]))
        if radar_from is not None and k >= radar_from:
            sp = np.array([0.0, 0.0, 10.0])
            R = np.diag([5.0**2, np.radians(0.5) ** 2, np.radians(0.5) ** 2])
            z = polar_of(sp, p) + rng.multivariate_normal(np.zeros(3), R)
            tracks = tracker.update(Detections("radar", "polar", [k + 0.5], z, R[None]))
        assert len(tracks) == 1
        out.append(
            (
                float(tracks.x[0, 2]),
                float(np.sqrt(tracks.P[0, 2, 2])),
                bool(tracks.attrs["height_observed"][0]),
                int(tracks.status[0]),
            )
        )
    return out


def test_rf_only_track_keeps_a_plausible_unobserved_height(rng: np.random.Generator) -> None:
    """Azimuths say nothing about height: the track says so (height_observed False), its
    height stays in the band above ground (here terrain at 400 m: 400..700 m) with a wide
    variance, whatever the default height of a triangulation is."""
    reg = registry(*((k, "rf", "bearing", v) for k, v in RF.items()))
    cfg = TrackerConfig(run_inference=False)
    tracker = Tracker(cfg, reg, terrain=Terrain.flat(400.0))
    rows = _rf_only_run(rng, tracker, truth_u=450.0)
    heights = np.array([r[0] for r in rows])
    sds = np.array([r[1] for r in rows])
    assert not any(r[2] for r in rows)
    assert np.all((heights >= 400.0) & (heights <= 700.0)), heights
    assert np.all(sds >= np.sqrt(cfg.management.unobserved_height_var) - 1e-6), sds
    assert rows[-1][3] == TrackStatus.CONFIRMED  # still a track, just with an honest height


def test_rf_only_height_band_without_terrain(rng: np.random.Generator) -> None:
    reg = registry(*((k, "rf", "bearing", v) for k, v in RF.items()))
    cfg = TrackerConfig(
        run_inference=False,
        management=ManagementConfig(default_height_m=-350.0, unobserved_height_band_m=(10.0, 120.0)),
    )
    rows = _rf_only_run(rng, Tracker(cfg, reg), truth_u=60.0, seconds=15)
    heights = np.array([r[0] for r in rows])
    assert np.all((heights >= 10.0) & (heights <= 120.0)), heights


def test_radar_elevation_makes_the_height_observed(rng: np.random.Generator) -> None:
    """Once a radar with elevation updates the track, its height is measured: the track
    says so and its height follows the target, not the assumed default."""
    reg = registry(
        *((k, "rf", "bearing", v) for k, v in RF.items()), ("radar", "radar", "polar", [0.0, 0.0, 10.0])
    )
    tracker = Tracker(TrackerConfig(run_inference=False), reg)
    rows = _rf_only_run(rng, tracker, truth_u=220.0, seconds=30, radar_from=10)
    assert not rows[5][2]
    assert rows[5][0] == pytest.approx(50.0)  # the default, clamped into the band
    assert rows[-1][2]
    assert abs(rows[-1][0] - 220.0) < 30.0, rows[-1]


def test_band_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="unobserved_height_band_m"):
        ManagementConfig(unobserved_height_band_m=(300.0, 0.0))


def test_remote_id_positions_operator_and_spoofing_reach_the_tracks() -> None:
    reg = registry(("rid", "remote_id", "remote_id", [0, 0, 0]), ("radar", "position", "position", [0, 0, 0]))
    tracker = Tracker(TrackerConfig(run_inference=False), reg)
    op = np.array([[-500.0, -800.0, 1.5]])
    for k in range(5):
        p = np.array([[100.0 + 10 * k, 200.0, 80.0]])
        tracker.update(positions("radar", float(k), p + [[300.0, 0.0, 0.0]]))  # another target
        spoofed = np.array([k == 3])
        tracks = tracker.update(
            positions("rid", k + 0.5, p, serial=["1581F5FKD229400DRONE"], operator=op + k, spoofed=spoofed)
        )
    rid_row = int(np.flatnonzero(tracks.identity == "1581F5FKD229400DRONE")[0])
    other = 1 - rid_row
    assert len(tracks) == 2
    np.testing.assert_allclose(tracks.attrs["rid_pos"][rid_row], [140.0, 200.0, 80.0])
    np.testing.assert_allclose(tracks.attrs["operator_pos"][rid_row], op[0] + 4)
    assert np.isnan(tracks.attrs["rid_pos"][other]).all()
    assert np.isnan(tracks.attrs["operator_pos"][other]).all()
    # Flagged once (at k = 3), the broadcast stays suspect; the other track never was.
    assert tracks.spoofed[rid_row] and not tracks.spoofed[other]
    assert tracks.attrs["height_observed"].all()  # 3-D positions and Remote ID measure height


def test_remote_id_without_operator_or_spoof_flag() -> None:
    reg = registry(("rid", "remote_id", "remote_id", [0, 0, 0]))
    tracker = Tracker(TrackerConfig(run_inference=False), reg)
    tracks = tracker.update(positions("rid", 0.0, [[10.0, 20.0, 30.0]], serial=["ABC"]))
    np.testing.assert_allclose(tracks.attrs["rid_pos"][0], [10.0, 20.0, 30.0])
    assert np.isnan(tracks.attrs["operator_pos"][0]).all()
    assert not tracks.spoofed[0]


def test_height_observed_needs_a_known_height() -> None:
    """A height some sensor measured, but only vaguely (sd above height_observed_sigma_m),
    is not reported as observed."""
    reg = registry(("rid", "remote_id", "remote_id", [0, 0, 0]))
    for sigma_max, expected in ((150.0, True), (1.0, False)):
        cfg = TrackerConfig(
            run_inference=False, management=ManagementConfig(height_observed_sigma_m=sigma_max)
        )
        tracks = Tracker(cfg, reg).update(positions("rid", 0.0, [[10.0, 20.0, 30.0]], serial=["ABC"]))
        assert bool(tracks.attrs["height_observed"][0]) is expected
