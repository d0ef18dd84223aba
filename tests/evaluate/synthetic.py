"""A hand-made exercise run whose metric values are known by construction."""

from __future__ import annotations

import numpy as np

from skyfence.evaluate.record import RunRecord, RunRecorder
from skyfence.geo import Site
from skyfence.model import (
    Alert,
    AlertState,
    Detections,
    Sensor,
    SensorRegistry,
    ThreatLevel,
    Tracks,
    Truth,
    Zone,
)
from skyfence.model.classes import N_CLASSES, TargetClass
from skyfence.model.tracks import TrackStatus
from skyfence.model.truth import TargetInfo

SITE = Site(48.0, 22.0, 100.0)
ZONE = Zone("base", [[0, 2000], [200, 2000], [200, 2200], [0, 2200]], name="Base", kind="protected")
SENSORS = SensorRegistry(SITE, [Sensor("s1", "position", "position", [0, 0, 0], 1.0, 5000.0)])
FPV = TargetInfo(1, "fpv-1", "attack", "fpv", "threat", link="fiber", zone="base")
BIRD = TargetInfo(2, "bird-1", "wander", "bird", "benign")


def one_hot(k: int, n: int) -> np.ndarray:
    p = np.full((n, N_CLASSES), 0.02)
    p[:, k] = 1 - 0.02 * (N_CLASSES - 1)
    return p


def build_run(assess_ran: bool = True, steps: int = 120) -> RunRecord:
    """FPV 1 flies north at 20 m/s from (100, 0) and enters the zone at t = 100 s; a bird
    sits at (-1000, 500). Track 10 follows the FPV from t = 5 (confirmed at 7), is replaced by
    track 11 at t = 50 (one ID switch), loses it for t = 60..62 (one fragmentation); track 11
    ends up called multirotor. Track 20 follows the bird; track 30 is false (t = 20..40).
    One alert on track 10 at t = 40 (60 s warning) and one on the false track at t = 30."""
    rec = RunRecorder(SENSORS, [ZONE], assess_ran=assess_ran)
    rng = np.random.default_rng(0)
    for k in range(steps):
        t = float(k)
        fpv = np.array([100.0, 20.0 * t, 50.0, 0.0, 20.0, 0.0])
        bird = np.array([-1000.0, 500.0, 30.0, 0.0, 0.0, 0.0])
        truth = Truth([t, t], [1, 2], np.stack([fpv, bird]), targets=[FPV, BIRD])
        ids, xs, cls, status, silent = [], [], [], [], []
        if 5 <= k < 50:
            ids.append(10)
            xs.append(fpv + [3.0, -4.0, 0, 0, 0, 0])
            cls.append(TargetClass.FPV)
            status.append(TrackStatus.CONFIRMED if k >= 7 else TrackStatus.TENTATIVE)
            silent.append(0.8 if k >= 30 else 0.1)
        if k >= 50 and not 60 <= k <= 62:
            ids.append(11)
            xs.append(fpv + [0.0, 6.0, 0, 0, 0, 0])
            cls.append(TargetClass.MULTIROTOR)
            status.append(TrackStatus.CONFIRMED)
            silent.append(0.1)
        ids.append(20)
        xs.append(bird + [1.0, 0, 0, 0, 0, 0])
        cls.append(TargetClass.BIRD)
        status.append(TrackStatus.CONFIRMED)
        silent.append(0.0)
        if 20 <= k <= 40:
            ids.append(30)
            xs.append(np.array([3000.0, 3000.0, 0, 0, 0, 0]))
            cls.append(TargetClass.FPV)
            status.append(TrackStatus.CONFIRMED)
            silent.append(0.0)
        probs = np.concatenate([one_hot(int(c), 1) for c in cls])
        tracks = Tracks(
            t, ids, np.stack(xs), np.tile(np.eye(6), (len(ids), 1, 1)), probs, status, rf_silent=silent
        )
        src = []
        z = []
        if k >= 3:
            src.append(1)
            z.append(fpv[:2] + rng.normal(0, 5, 2))
        if k % 2 == 0:
            src.append(2)
            z.append(bird[:2])
        src.append(-1)
        z.append(rng.uniform(-3000, 3000, 2))
        det = Detections(
            "s1", "position", np.full(len(z), t), np.array(z), np.tile(np.eye(2) * 25, (len(z), 1, 1))
        )
        alerts = []
        if k == 40:
            alerts.append(Alert("a1", t, 10, "base", ThreatLevel.HIGH, AlertState.NEW, 60.0, "approaching"))
        if k == 30:
            alerts.append(
                Alert("a2", t, 30, "base", ThreatLevel.MEDIUM, AlertState.NEW, 200.0, "approaching")
            )
        if k == 45:
            alerts.append(Alert("a2", t, 30, "base", ThreatLevel.MEDIUM, AlertState.RESOLVED, 200.0, "gone"))
        rec.add_step(t, truth, [det], [np.array(src)], tracks, alerts)
    return rec.finish()
