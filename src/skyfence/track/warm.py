"""Compile (or load from the on-disk cache) every kernel the tracker and its inference
use, on a tiny synthetic scene with each measurement kind.

Kernels compile on first use and are cached next to their modules, so the first run
after a fresh checkout pays the compile time once. Calling :func:`warm_up` before
spawning worker processes lets every worker load the cache instead of each compiling
the same kernels at the same time.
"""

from __future__ import annotations

import numpy as np

from skyfence.geo import Site
from skyfence.model import Detections, Sensor, SensorRegistry
from skyfence.track.config import MotionConfig, TrackerConfig

__all__ = ["warm_up"]


def warm_up() -> None:
    """Run a few scans of three targets past a radar, two direction finders and a
    position sensor, with a single-mode and an IMM tracker."""
    from skyfence.track.tracker import Tracker

    sensors = SensorRegistry(
        Site(48.0, 22.0),
        [
            Sensor("radar", "radar", "polar", np.array([0.0, 0.0, 5.0]), 1.0, 8000.0),
            Sensor("rf", "rf", "bearing", np.array([1500.0, -800.0, 2.0]), 1.0, 8000.0),
            Sensor("mic", "acoustic", "bearing", np.array([-900.0, 700.0, 1.0]), 1.0, 3000.0),
            Sensor("pos", "position", "position", np.zeros(3), 1.0, 8000.0),
        ],
    )
    truth = np.array([[400.0, 900.0, 60.0], [-700.0, 300.0, 90.0], [1200.0, 1500.0, 40.0]])
    vel = np.array([[8.0, -3.0, 0.0], [2.0, 6.0, 0.0], [-5.0, -5.0, 0.0]])
    for motion in ("cv", "imm"):
        tracker = Tracker(TrackerConfig(motion=MotionConfig(model=motion)), sensors)
        for k in range(6):
            p = truth + vel * k
            batches: list[Detections] = []
            for s in sensors:
                d = p - s.position
                rh = np.hypot(d[:, 0], d[:, 1])
                az, el = np.arctan2(d[:, 0], d[:, 1]), np.arctan2(d[:, 2], rh)
                if s.kind == "polar":
                    z = np.column_stack([np.hypot(rh, d[:, 2]), az, el])
                    R = np.diag([100.0, 1e-4, 1e-4])
                elif s.id == "rf":
                    z, R = az[:, None], np.diag([1e-3])
                elif s.kind == "bearing":
                    z, R = np.column_stack([az, el]), np.diag([2e-3, 2e-3])
                else:
                    z, R = p[:, :2], np.eye(2) * 25.0
                t = k + 0.1 * len(batches)
                batches.append(Detections(s.id, s.kind, np.full(len(z), t), z, np.tile(R, (len(z), 1, 1))))
            tracker.update(batches)
        tracker.flush()
