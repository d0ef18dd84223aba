"""The compiled linear GNN step against the tracker's general step."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.geo import Site
from skyfence.model import Detections, Sensor, SensorRegistry
from skyfence.track import Tracker, TrackerConfig
from skyfence.track.config import AssociationConfig, ManagementConfig, MotionConfig


def _batches(n: int, scans: int, dim: int, seed: int, clutter: int = 6) -> list[Detections]:
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 3000, (n, dim))
    vel = rng.normal(0, 15, (n, dim))
    if dim == 3:
        pos[:, 2] = rng.uniform(50, 400, n)
        vel[:, 2] = rng.normal(0, 1, n)
    out = []
    for k in range(scans):
        seen = rng.random(n) < 0.85
        z = pos[seen] + rng.normal(0, 5.0, (int(seen.sum()), dim))
        fa = rng.uniform(0, 3000, (clutter, dim))
        if dim == 3:
            fa[:, 2] = rng.uniform(0, 500, clutter)
        z = np.concatenate([z, fa])
        # Crossing pairs now and then: two targets swap places half way.
        out.append(
            Detections(
                "radar", "position", np.full(len(z), float(k)), z, np.tile(np.eye(dim) * 25.0, (len(z), 1, 1))
            )
        )
        pos = pos + vel
        vel = vel + rng.normal(0, 0.3, vel.shape)
    return out


def _run(
    batches: list[Detections], fast: bool, cfg: TrackerConfig, sensors: SensorRegistry | None = None
) -> list:
    tr = Tracker(cfg, sensors)
    tr._fast_paths = fast
    snaps = [tr.update(b) for b in batches]
    return [snaps, tr.stats]


@pytest.mark.parametrize(
    ("dim", "n", "seed", "max_range"),
    [
        (2, 12, 1, None),
        (2, 60, 2, None),
        (3, 25, 3, None),
        (2, 150, 4, None),
        (3, 40, 5, 1800.0),
        (2, 80, 6, 1500.0),
    ],
)
def test_compiled_step_gives_the_same_tracks_as_the_general_step(
    dim: int, n: int, seed: int, max_range: float | None
) -> None:
    # With a registered sensor of limited range, tracks beyond it are neither gated nor
    # charged a miss (the range branches of both paths).
    sensors = (
        None
        if max_range is None
        else SensorRegistry(
            Site(48.0, 22.0),
            [Sensor("radar", "radar", "position", np.array([1500.0, 1500.0, 0.0]), 1.0, max_range)],
        )
    )
    cfg = TrackerConfig(
        motion=MotionConfig(model="cv", q_horizontal=0.5, q_vertical=0.2),
        association=AssociationConfig(method="gnn", gate_probability=0.999),
        management=ManagementConfig(confirm_m=2, confirm_n=3, delete_misses=3, initial_speed_sigma_m_s=20.0),
        run_inference=False,
    )
    batches = _batches(n, 40, dim, seed)
    (fast, fstats), (slow, sstats) = _run(batches, True, cfg, sensors), _run(batches, False, cfg, sensors)
    assert fstats == sstats
    assert sum(len(s) for s in fast) > 40
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a.id, b.id)
        np.testing.assert_array_equal(a.status, b.status)
        np.testing.assert_array_equal(a.sensors, b.sensors)
        np.testing.assert_array_equal(a.x, b.x)  # the same kernels in the same order
        np.testing.assert_array_equal(a.P, b.P)
        np.testing.assert_array_equal(a.attrs["height_observed"], b.attrs["height_observed"])


def test_compiled_step_serves_inference_the_same_associations() -> None:
    batches = _batches(8, 12, 3, 9)
    out = []
    for fast in (True, False):
        tr = Tracker(TrackerConfig())
        tr._fast_paths = fast
        out.append([tr.update(b) for b in batches])
    for a, b in zip(*out, strict=True):
        np.testing.assert_array_equal(a.id, b.id)
        np.testing.assert_allclose(a.cls_prob, b.cls_prob, atol=1e-12)
