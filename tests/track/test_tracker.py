"""Tracker behaviour: 2-D and 3-D tracking, crossing targets, bearing triangulation,
out-of-sequence and duplicate batches, empty batches, bad detections, hard identity,
JPDA in clutter, configuration files and the inference hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skyfence.errors import ConfigError, SkyfenceError
from skyfence.model import Detections, Sensor, SensorRegistry, TrackStatus
from skyfence.track import (
    InferResult,
    InvalidDetectionError,
    Tracker,
    TrackerConfig,
    TrackView,
    UnknownSensorError,
    uniform_result,
)
from skyfence.track.config import AssociationConfig, ManagementConfig
from skyfence.track.initiate import BearingPool, triangulate

from .conftest import SITE, polar_of, positions, registry


def _run_line(
    tracker: Tracker, start: np.ndarray, vel: np.ndarray, steps: int, rng: np.random.Generator
) -> Any:
    out = None
    for k in range(steps):
        p = start + vel * k
        out = tracker.update(positions("pos", float(k), [p + rng.normal(0, 5.0, p.shape)]))
    return out


def test_five_lines_track_a_target(rng: np.random.Generator) -> None:
    tracker = Tracker(TrackerConfig(run_inference=False))
    for k in range(10):
        tracks = tracker.update(positions("pos", float(k), [[10.0 * k, 5.0 * k] + rng.normal(0, 5, 2)]))
    assert len(tracks) == 1 and tracks.status[0] == TrackStatus.CONFIRMED
    assert np.allclose(tracks.x[0, 3:5], [10.0, 5.0], atol=4.0)


def test_two_dimensional_positions_track_in_the_horizontal_plane(
    quiet: TrackerConfig, rng: np.random.Generator
) -> None:
    out = _run_line(Tracker(quiet), np.array([0.0, 0.0]), np.array([12.0, -7.0]), 15, rng)
    assert len(out) == 1
    assert out.x[0, 2] == 0.0 and out.x[0, 5] == 0.0  # height and climb stay zero...
    assert out.P[0, 2, 2] > 1e5  # ...with a large variance
    assert np.allclose(out.x[0, :2], [12.0 * 14, -7.0 * 14], atol=15.0)
    assert np.allclose(out.x[0, 3:5], [12.0, -7.0], atol=3.0)


def test_three_dimensional_positions_estimate_height_and_climb(
    quiet: TrackerConfig, rng: np.random.Generator
) -> None:
    out = _run_line(Tracker(quiet), np.array([0.0, 0.0, 100.0]), np.array([5.0, 5.0, 2.0]), 20, rng)
    assert len(out) == 1
    assert abs(out.x[0, 2] - (100.0 + 2.0 * 19)) < 10.0
    assert abs(out.x[0, 5] - 2.0) < 1.5
    assert out.P[0, 2, 2] < 100.0


def test_two_crossing_targets_keep_their_ids(quiet: TrackerConfig, rng: np.random.Generator) -> None:
    tracker = Tracker(quiet)
    a0, va = np.array([-300.0, -10.0]), np.array([20.0, 0.5])
    b0, vb = np.array([300.0, 10.0]), np.array([-20.0, -0.5])
    first: dict[int, int] = {}
    for k in range(31):
        za = a0 + va * k + rng.normal(0, 3, 2)
        zb = b0 + vb * k + rng.normal(0, 3, 2)
        tracks = tracker.update(positions("pos", float(k), [za, zb], sigma=3.0))
        firm = tracks.status != TrackStatus.TENTATIVE
        if k == 5:
            assert firm.sum() == 2
            for name, p in (("a", a0 + va * k), ("b", b0 + vb * k)):
                i = int(np.argmin(np.linalg.norm(tracks.x[:, :2] - p, axis=1)))
                first[ord(name)] = int(tracks.id[i])
    # After crossing at k = 15 each target is still followed by the track it started with.
    for name, p in (("a", a0 + va * 30), ("b", b0 + vb * 30)):
        i = int(np.argmin(np.linalg.norm(tracks.x[:, :2] - p, axis=1)))
        assert int(tracks.id[i]) == first[ord(name)]
        assert np.linalg.norm(tracks.x[i, :2] - p) < 15.0


def test_triangulated_bearings_are_consistent_with_their_covariance(rng: np.random.Generator) -> None:
    """Two bearings (3 degrees) from sensors 4-5 km away: the intersection's squared
    Mahalanobis error averages 2 (two dimensions) over many draws."""
    k, sig = 4000, np.radians(3.0)
    target = np.array([500.0, 2500.0, 60.0])

    def pool(sp: np.ndarray, sensor: int) -> BearingPool:
        d = target - sp
        az = np.arctan2(d[0], d[1]) + rng.normal(0, sig, k)
        return BearingPool(
            np.full(k, sensor),
            np.zeros(k),
            np.tile(sp, (k, 1)),
            az,
            np.full(k, np.nan),
            np.full(k, sig**2),
            np.full(k, np.nan),
            np.full(k, 8000.0),
            np.zeros(k),
        )

    a, b = pool(np.array([-3000.0, 0.0, 8.0]), 0), pool(np.array([0.0, -2500.0, 8.0]), 1)
    errs = []
    for i in range(0, k, 1000):  # triangulate pairs row by row, 1000 at a time
        idx = np.arange(i, i + 1000)
        for j in idx[:50]:
            tri = triangulate(a.take(np.array([j])), b.take(np.array([j])), 1.0, 8.0, 10.0, 20.0, 50.0, 1e6)
            assert tri.new.size == 1
            e = tri.x[0, :2] - target[:2]
            errs.append(e @ np.linalg.solve(tri.P[0, :2, :2], e))
    nees = np.array(errs)
    assert 1.6 < nees.mean() < 2.4, nees.mean()
    assert np.mean(nees < 13.8) > 0.99  # chi-square(2) 99.9 % bound


def test_bearing_only_target_is_initiated_and_kept_by_several_sensors(rng: np.random.Generator) -> None:
    sens = {"rf-a": [-3000.0, 0.0, 8.0], "rf-b": [0.0, -2500.0, 8.0], "ac-c": [3000.0, 0.0, 3.0]}
    reg = registry(*((k, "rf", "bearing", v) for k, v in sens.items()))
    tracker = Tracker(TrackerConfig(run_inference=False), reg)
    sig = np.radians(2.0)
    x = np.array([500.0, 2500.0, 60.0, -8.0, -4.0, 0.0])
    errors = []
    for k in range(40):
        p = x[:3] + x[3:] * k
        for sid, sp in sens.items():
            d = p - np.array(sp)
            az = np.arctan2(d[0], d[1]) + rng.normal(0, sig)
            tracks = tracker.update(Detections(sid, "bearing", [float(k)], [[az]], [[[sig**2]]]))
        assert len(tracks) == 1
        errors.append(np.linalg.norm(tracks.x[0, :2] - p[:2]))
        sd = np.sqrt(tracks.P[0, 0, 0] + tracks.P[0, 1, 1])
        assert errors[-1] < 4.0 * sd + 50.0
    assert tracks.status[0] == TrackStatus.CONFIRMED
    assert sorted(tracks.sensors_of(0)) == sorted(sens)
    assert np.mean(errors[10:]) < 150.0


@pytest.mark.parametrize(("pixels", "started"), [(1.0, False), (12.0, True)])
def test_camera_bearings_cross_only_where_the_apparent_size_allows(pixels: float, started: bool) -> None:
    """Two cameras 400 m apart whose bearings cross 360 m away. At one pixel across, an
    object of 0.15-3 m is at least ~0.8 km off (a 20 deg, 3840-pixel camera): the
    crossing is a ghost of two far-off objects and starts nothing. At twelve pixels the
    object can be 140 m-3 km off, and the crossing starts a track."""
    cams = {"eo-a": [0.0, 0.0, 10.0], "eo-b": [400.0, 0.0, 10.0]}
    reg = SensorRegistry(
        SITE,
        [
            Sensor(k, "eo", "bearing", np.array(v), 5.0, 4000.0, {"hfov_deg": 20.0, "pixels_h": 3840})
            for k, v in cams.items()
        ],
    )
    cfg = TrackerConfig(run_inference=False, management=ManagementConfig(camera_size_m=(0.15, 3.0)))
    tracker = Tracker(cfg, reg)
    crossing = np.array([200.0, 300.0, 40.0])
    sig = 1e-4
    for k in range(6):
        for sid, sp in cams.items():
            d = crossing - np.array(sp)
            az, el = np.arctan2(d[0], d[1]), np.arctan2(d[2], np.hypot(d[0], d[1]))
            tracks = tracker.update(
                Detections(
                    sid,
                    "bearing",
                    [k + 0.1 * (sid == "eo-b")],
                    [[az, el]],
                    [np.diag([sig**2, sig**2])],
                    attrs={"pixels": [pixels]},
                )
            )
    assert (len(tracks) > 0) == started
    if started:
        np.testing.assert_allclose(tracks.x[0, :3], crossing, atol=5.0)


def test_polar_radar_tracks_with_ekf_and_ukf(rng: np.random.Generator) -> None:
    sp = np.array([0.0, 0.0, 10.0])
    reg = registry(("radar", "radar", "polar", sp))
    R = np.diag([5.0**2, np.radians(0.5) ** 2, np.radians(0.5) ** 2])
    for method in ("ekf", "ukf"):
        cfg = TrackerConfig(run_inference=False, association=AssociationConfig(nonlinear=method))  # type: ignore[arg-type]
        tracker = Tracker(cfg, reg)
        for k in range(20):
            p = np.array([1500.0 - 15 * k, 800.0 + 10 * k, 150.0])
            z = polar_of(sp, p) + rng.multivariate_normal(np.zeros(3), R)
            tracks = tracker.update(Detections("radar", "polar", [float(k)], z, R[None]))
        assert len(tracks) == 1
        assert np.linalg.norm(tracks.x[0, :3] - p) < 25.0
        assert np.allclose(tracks.x[0, 3:5], [-15.0, 10.0], atol=4.0)


def test_out_of_sequence_batches_are_reordered_within_the_window(quiet: TrackerConfig) -> None:
    cfg = quiet.model_copy(update={"latency_s": 2.0})
    tracker = Tracker(cfg)
    order = [0, 1, 3, 2, 4, 5, 7, 6, 8, 9]  # each swap is 1 s late: within the window
    for k in order:
        tracker.update(positions("pos", float(k), [[10.0 * k, 0.0]]))
    tracks = tracker.flush()
    assert tracker.stats.dropped_late == 0
    assert tracks.t == 9.0 and len(tracks) == 1
    assert abs(tracks.x[0, 3] - 10.0) < 1.0


def test_batches_older_than_the_window_are_counted_and_dropped(quiet: TrackerConfig) -> None:
    tracker = Tracker(quiet)
    for k in range(5):
        tracker.update(positions("pos", float(k), [[10.0 * k, 0.0]]))
    tracks = tracker.update(positions("pos", 2.5, [[25.0, 0.0], [30.0, 1.0]]))
    assert tracker.stats.dropped_late == 2
    assert tracks.t == 4.0


def test_exact_duplicates_are_ignored(quiet: TrackerConfig) -> None:
    tracker = Tracker(quiet)
    for k in range(4):
        b = positions("pos", float(k), [[10.0 * k, 0.0]])
        tracker.update([b, b])  # the same batch twice
    tracker.update(positions("pos", 4.0, [[40.0, 0.0], [40.0, 0.0]]))  # a repeated row
    assert tracker.stats.duplicates == 5
    tracks = tracker.update(positions("pos", 5.0, [[50.0, 0.0]]))
    assert len(tracks) == 1
    # The same time and sensor but a different value is not a duplicate.
    tracker.update(positions("pos", 5.0, [[900.0, 900.0]]))
    assert tracker.stats.duplicates == 5


def test_empty_batches_change_nothing(quiet: TrackerConfig) -> None:
    tracker = Tracker(quiet)
    assert len(tracker.update(Detections.empty("pos", "position"))) == 0
    assert len(tracker.update([])) == 0
    for k in range(4):
        tracker.update(positions("pos", float(k), [[10.0 * k, 0.0]]))
    before = tracker.update(Detections.empty("pos", "position"))
    after = tracker.update([Detections.empty("pos", "position", 3), Detections.empty("x", "polar")])
    assert before.t == after.t == 3.0
    assert np.array_equal(before.x, after.x)


@pytest.mark.parametrize(
    ("z", "R", "why"),
    [
        ([[np.nan, 1.0]], np.eye(2), "NaN"),
        ([[np.inf, 1.0]], np.eye(2), "NaN"),
        ([[1.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]], "positive definite"),
        ([[1.0, 1.0]], [[1.0, 0.5], [0.2, 1.0]], "positive definite"),
        ([[1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]], "positive definite"),
        ([[1.0, 1.0]], [[np.nan, 0.0], [0.0, 1.0]], "NaN"),
    ],
)
def test_bad_detections_are_rejected_naming_sensor_and_time(
    quiet: TrackerConfig, z: list[list[float]], R: Any, why: str
) -> None:
    det = Detections("radar-7", "position", [12.5], z, np.asarray(R, dtype=float)[None])
    with pytest.raises(InvalidDetectionError, match=rf"'radar-7' at t=12\.5.*{why}") as info:
        Tracker(quiet).update(det)
    assert isinstance(info.value, SkyfenceError)
    skipping = Tracker(quiet.model_copy(update={"skip_invalid": True}))
    good = positions("radar-7", 12.5, [[5.0, 5.0]])
    tracks = skipping.update([det, good])
    assert skipping.stats.invalid == 1 and len(tracks) == 1


def test_bad_rows_among_good_ones_are_dropped_when_skipping(quiet: TrackerConfig) -> None:
    z = np.array([[0.0, 0.0], [np.nan, 0.0], [500.0, 500.0]])
    det = Detections("pos", "position", [1.0, 1.0, 1.0], z, np.tile(np.eye(2), (3, 1, 1)))
    tracker = Tracker(quiet.model_copy(update={"skip_invalid": True}))
    assert len(tracker.update(det)) == 2 and tracker.stats.invalid == 1


def test_unknown_sensors_are_rejected(quiet: TrackerConfig) -> None:
    reg = registry(("radar", "radar", "polar", [0.0, 0.0, 0.0]))
    polar = Detections("ghost", "polar", [3.0], [[1000.0, 0.1, 0.05]], np.diag([25.0, 1e-4, 1e-4])[None])
    with pytest.raises(UnknownSensorError, match=r"'ghost' at t=3\.0.*not in the sensor registry"):
        Tracker(quiet, reg).update(polar)
    with pytest.raises(UnknownSensorError, match=r"'ghost' at t=3\.0.*position"):
        Tracker(quiet).update(polar)  # no registry: angles need the sensor's position
    skipping = Tracker(quiet.model_copy(update={"skip_invalid": True}), reg)
    assert len(skipping.update(polar)) == 0 and skipping.stats.invalid == 1
    # Position reports carry their own frame: accepted without a registry entry.
    assert len(Tracker(quiet).update(positions("adsb-x", 1.0, [[1.0, 2.0, 300.0]]))) == 1


def test_remote_id_serial_is_hard_identity(quiet: TrackerConfig) -> None:
    tracker = Tracker(quiet)
    for k in range(4):
        tracker.update(
            positions("rid", float(k), [[10.0 * k, 0.0, 50.0], [10.0 * k, 40.0, 50.0]], serial=["AAA", "BBB"])
        )
    tracks = tracker.update(
        positions("rid", 4.0, [[40.0, 0.0, 50.0], [40.0, 40.0, 50.0]], serial=["AAA", "BBB"])
    )
    by_serial = {str(s): int(i) for s, i in zip(tracks.identity, tracks.id, strict=True)}
    assert set(by_serial) == {"AAA", "BBB"}
    # The two report swapped positions (a spoofed or garbled fix): identity still wins.
    tracks = tracker.update(
        positions("rid", 5.0, [[50.0, 40.0, 50.0], [50.0, 0.0, 50.0]], serial=["AAA", "BBB"])
    )
    row = {str(s): r for r, s in enumerate(tracks.identity)}
    assert int(tracks.id[row["AAA"]]) == by_serial["AAA"]
    assert tracks.x[row["AAA"], 1] > 20.0  # AAA's track was pulled towards AAA's report
    # A far jump of a known serial goes to its own track, not to a new one.
    tracks = tracker.update(positions("rid", 6.0, [[3000.0, 3000.0, 50.0]], serial=["AAA"]))
    assert len(tracks) == 2


def test_adsb_icao_binds_to_a_radar_track(quiet: TrackerConfig, rng: np.random.Generator) -> None:
    tracker = Tracker(quiet)
    for k in range(4):
        p = np.array([1000.0 + 60 * k, 0.0, 900.0])
        tracker.update(positions("radar3d", float(k), [p + rng.normal(0, 5, 3)]))
        tracks = tracker.update(
            positions("adsb", float(k) + 0.5, [p + [30, 0, 0]], sigma=20.0, icao=["4CA123"])
        )
    assert len(tracks) == 1 and tracks.identity[0] == "4CA123"


def test_jpda_follows_a_target_in_dense_clutter(rng: np.random.Generator) -> None:
    cfg = TrackerConfig(
        run_inference=False, association=AssociationConfig(method="jpda", pd=0.9, clutter_density=2e-4)
    )
    tracker = Tracker(cfg)
    errs = []
    for k in range(40):
        p = np.array([8.0 * k, 3.0 * k])
        clutter = p + rng.uniform(-150, 150, (20, 2))  # 20 false alarms around the target each scan
        z = np.vstack([p + rng.normal(0, 3.0, 2), clutter])
        tracks = tracker.update(positions("pos", float(k), z, sigma=3.0))
        firm = tracks.status != TrackStatus.TENTATIVE
        if k >= 20:
            assert firm.any()
            errs.append(np.min(np.linalg.norm(tracks.x[firm, :2] - p, axis=1)))
    assert np.median(errs) < 6.0


def test_config_loads_from_yaml_and_names_bad_fields(tmp_path: Path) -> None:
    good = tmp_path / "track.yaml"
    good.write_text("motion:\n  model: imm\nassociation:\n  method: jpda\nlatency_s: 0.5\n")
    cfg = TrackerConfig.from_yaml(good)
    assert cfg.motion.model == "imm" and cfg.association.method == "jpda" and cfg.latency_s == 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text("management:\n  confirm_m: -1\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*management\.confirm_m"):
        TrackerConfig.from_yaml(bad)
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        TrackerConfig.from_yaml(tmp_path / "missing.yaml")


class _Recorder:
    """A stand-in inference stage that records what it is shown and flags every track."""

    def __init__(self) -> None:
        self.views: list[TrackView] = []

    def update(self, view: TrackView) -> InferResult:
        self.views.append(view)
        n = len(view)
        base = uniform_result(n)
        return InferResult(
            cls_prob=np.tile(np.eye(6)[0], (n, 1)),
            rf_silent=np.full(n, 0.75),
            relay=np.ones(n, dtype=bool),
            relay_id=view.ids.copy(),
            group_id=np.full(n, 7, dtype=np.int64),
            attrs={"speed_mps": np.hypot(view.x[:, 3], view.x[:, 4]), **dict(base.attrs)},
        )


def test_inference_sees_the_view_and_its_answer_reaches_the_tracks() -> None:
    reg = registry(("pos", "position", "position", [0, 0, 0]), ("rf", "rf", "bearing", [0, -1000, 0]))
    rec = _Recorder()
    tracker = Tracker(TrackerConfig(), reg, inference=rec)
    lik = np.array([[0.7, 0.1, 0.05, 0.05, 0.05, 0.05]])
    for k in range(3):
        p = np.array([100.0 + 10 * k, 500.0, 50.0])
        pos = Detections("pos", "position", [float(k)], [p], np.eye(3)[None] * 25.0, cls_lik=lik)
        d = p - np.array([0, -1000, 0])
        rf = Detections(
            "rf", "bearing", [float(k)], [[np.arctan2(d[0], d[1])]], [[[1e-4]]], attrs={"band": ["5g8"]}
        )
        tracks = tracker.update([pos, rf])
    view = rec.views[-1]
    assert len(view) == 1 and view.last_seen_by.shape == (1, 2)
    assert view.last_seen_by[0].tolist() == [2.0, 2.0]
    assert np.allclose(view.cls_lik[0], lik[0])  # this update's associated likelihoods
    assert [a[0] for a in view.assoc_attrs] == ["pos", "rf"]
    assert all(a[1].tolist() == [0] for a in view.assoc_attrs)
    assert view.assoc_attrs[1][2].attrs["band"][0] == "5g8"
    assert tracks.cls[0] == 0 and tracks.rf_silent[0] == 0.75 and tracks.relay[0]
    assert tracks.group_id[0] == 7 and tracks.relay_id[0] == tracks.id[0]
    assert "speed_mps" in tracks.attrs


def test_default_inference_runs_inside_the_tracker(rng: np.random.Generator) -> None:
    tracker = Tracker()  # TrackInference from skyfence.track.infer
    for k in range(6):
        tracks = tracker.update(positions("pos", float(k), [[15.0 * k, 0.0, 80.0] + rng.normal(0, 3, 3)]))
    assert len(tracks) == 1
    assert np.isclose(tracks.cls_prob.sum(), 1.0)


def test_point_detections_outside_the_height_band_are_dropped_unless_identified(quiet: TrackerConfig) -> None:
    sp = np.array([0.0, 0.0, 10.0])
    reg = registry(("radar", "radar", "polar", sp), ("adsb", "adsb", "position", [0, 0, 0]))
    tracker = Tracker(quiet, reg)
    R = np.diag([25.0, 1e-5, 1e-5])
    high = polar_of(sp, np.array([[3000.0, 1000.0, 4500.0], [1000.0, 1000.0, 100.0]]))
    tracks = tracker.update(Detections("radar", "polar", [1.0, 1.0], high, np.stack([R, R])))
    assert len(tracks) == 1 and tracker.stats.out_of_band == 1
    assert abs(tracks.x[0, 2] - 100.0) < 5.0
    airliner = positions("adsb", 2.0, [[5000.0, 5000.0, 10_000.0]], sigma=30.0, icao=["4CA123"])
    assert len(tracker.update(airliner)) == 2 and tracker.stats.out_of_band == 1
