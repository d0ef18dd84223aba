"""skyfence's tracker against Stone Soup 1.9 on the same scenario, scored by one GOSPA.

Scenario (numpy, seeded): N nearly-constant-velocity targets at 10-40 m/s in a 10 km x
10 km area over 300 s (half present from the start, the rest appearing later; each
lives 60-300 s), one 2-D position sensor at 1 Hz with 5 m sigma, Pd 0.9 and 10 uniform
false alarms per scan. Stone Soup runs its standard components: Kalman predictor and
updater, Mahalanobis DistanceHypothesiser with a gate, GNNWith2DAssignment,
MultiMeasurementInitiator and an UpdateTimeStepsDeleter, driven by MultiTargetTracker.
Both trackers get the same detections (pre-built in each one's own types, not timed)
and the same motion and noise models. Only the tracking loop is timed. For N = 500 both
run the first 40 scans only (Stone Soup takes seconds per scan there).

GOSPA (c = 100 m, p = 1, alpha = 2) from ``skyfence.evaluate.gospa`` compares truth
positions with confirmed (and coasting) track positions each scan; the mean over scans
is printed. One JSON line per N: both wall times and their ratio, both process CPU
times and their ratio (steadier on a shared machine), and both GOSPAs. skyfence first
runs a 20-scan warm-up that loads its compiled kernels (compiling them on the first
run after a fresh checkout); its time is printed as ``skyfence_warmup_s``.

    .venv/bin/python bench/track_vs_stonesoup.py [--quick] [--n 10 100 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyfence.evaluate.gospa import gospa
from skyfence.model import Detections, TrackStatus
from skyfence.track import Tracker, TrackerConfig
from skyfence.track.config import AssociationConfig, ManagementConfig, MotionConfig

AREA_M = 10_000.0
DURATION_S = 300
SIGMA_M = 5.0
PD = 0.9
CLUTTER_PER_SCAN = 10
Q_TRUE = 0.05  # m^2/s^3: nearly constant velocity
Q_FILTER = 0.1
GATE_D = 3.0  # Mahalanobis distance gate (not squared) for both trackers
C, P_ORDER, ALPHA = 100.0, 1.0, 2.0


@dataclass(frozen=True)
class Scenario:
    truth: list[NDArray[np.float64]]  # per scan [T_k, 2]
    dets: list[NDArray[np.float64]]  # per scan [D_k, 2]


def make_scenario(n: int, seed: int, scans: int = DURATION_S) -> Scenario:
    rng = np.random.default_rng(seed)
    birth = np.where(rng.random(n) < 0.5, 0, rng.integers(1, DURATION_S - 60, n))
    death = np.minimum(birth + rng.integers(60, DURATION_S + 1, n), DURATION_S)
    pos = rng.uniform(0.15 * AREA_M, 0.85 * AREA_M, (n, 2))
    speed = rng.uniform(10.0, 40.0, n)
    head = rng.uniform(0, 2 * np.pi, n)
    vel = np.stack([speed * np.sin(head), speed * np.cos(head)], axis=1)
    truth: list[NDArray[np.float64]] = []
    dets: list[NDArray[np.float64]] = []
    # Exact discretisation of white-noise acceleration for a 1 s step.
    q = Q_TRUE * np.array([[1 / 3, 1 / 2], [1 / 2, 1.0]])
    lq = np.linalg.cholesky(q)
    for k in range(scans):
        alive = (birth <= k) & (k < death)
        truth.append(pos[alive].copy())
        seen = alive & (rng.random(n) < PD)
        z = pos[seen] + rng.normal(0, SIGMA_M, (int(seen.sum()), 2))
        clutter = rng.uniform(0, AREA_M, (CLUTTER_PER_SCAN, 2))
        dets.append(np.concatenate([z, clutter]))
        w = rng.normal(size=(n, 2, 2)) @ lq.T  # [n, axis, (pos, vel)]
        pos = pos + vel + w[:, :, 0]
        vel = vel + w[:, :, 1]
    return Scenario(truth, dets)


def run_skyfence(sc: Scenario, scans: int) -> tuple[float, float, float]:
    cfg = TrackerConfig(
        motion=MotionConfig(model="cv", q_horizontal=Q_FILTER, q_vertical=Q_FILTER),
        association=AssociationConfig(method="gnn", gate_probability=1 - np.exp(-(GATE_D**2) / 2)),
        management=ManagementConfig(confirm_m=2, confirm_n=3, delete_misses=3, initial_speed_sigma_m_s=25.0),
        run_inference=False,
    )
    batches = [
        Detections(
            "radar", "position", np.full(len(z), float(k)), z, np.tile(np.eye(2) * SIGMA_M**2, (len(z), 1, 1))
        )
        for k, z in enumerate(sc.dets[:scans])
    ]
    tracker = Tracker(cfg)
    firm = np.int8(TrackStatus.TENTATIVE)
    outs = []
    c0, t0 = time.process_time(), time.perf_counter()
    for b in batches:
        tracks = tracker.update(b)
        outs.append(tracks.x[tracks.status != firm, :2])
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    score = np.mean([gospa(sc.truth[k], outs[k], C, P_ORDER, ALPHA).total for k in range(scans)])
    return elapsed, cpu, float(score)


def run_stonesoup(sc: Scenario, scans: int) -> tuple[float, float, float]:
    from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
    from stonesoup.deleter.time import UpdateTimeStepsDeleter
    from stonesoup.hypothesiser.distance import DistanceHypothesiser
    from stonesoup.initiator.simple import MultiMeasurementInitiator
    from stonesoup.measures import Mahalanobis
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantVelocity
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.tracker.simple import MultiTargetTracker
    from stonesoup.types.detection import Detection
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater

    start = dt.datetime(2026, 1, 1)
    transition = CombinedLinearGaussianTransitionModel(
        [ConstantVelocity(Q_FILTER), ConstantVelocity(Q_FILTER)]
    )
    mm = LinearGaussian(ndim_state=4, mapping=(0, 2), noise_covar=np.eye(2) * SIGMA_M**2)
    predictor = KalmanPredictor(transition)
    updater = KalmanUpdater(mm)
    hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=GATE_D)
    associator = GNNWith2DAssignment(hyp)
    deleter = UpdateTimeStepsDeleter(time_steps_since_update=3)
    prior = GaussianState(np.zeros((4, 1)), np.diag([SIGMA_M**2, 25.0**2, SIGMA_M**2, 25.0**2]))
    initiator = MultiMeasurementInitiator(
        prior_state=prior,
        deleter=UpdateTimeStepsDeleter(time_steps_since_update=2),
        data_associator=GNNWith2DAssignment(hyp),
        updater=updater,
        measurement_model=mm,
        min_points=2,
    )
    feed = []
    for k, z in enumerate(sc.dets[:scans]):
        t = start + dt.timedelta(seconds=k)
        feed.append((t, {Detection(zz.reshape(2, 1), timestamp=t, measurement_model=mm) for zz in z}))
    tracker = MultiTargetTracker(
        initiator=initiator, deleter=deleter, detector=feed, data_associator=associator, updater=updater
    )
    outs = []
    c0, t0 = time.process_time(), time.perf_counter()
    for _, tracks in tracker:
        outs.append(
            np.array([[tr.state_vector[0, 0], tr.state_vector[2, 0]] for tr in tracks]).reshape(-1, 2)
        )
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    score = np.mean([gospa(sc.truth[k], outs[k], C, P_ORDER, ALPHA).total for k in range(scans)])
    return elapsed, cpu, float(score)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 10 only")
    ap.add_argument("--n", type=int, nargs="*", default=[10, 100, 500])
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    ns = [10] if args.quick else args.n
    # Warm-up, untimed but reported: loads (or, on a fresh checkout, compiles) the
    # tracker's kernels, as Stone Soup's imports are paid before its loop.
    w0 = time.perf_counter()
    warm = make_scenario(5, 0, 20)
    run_skyfence(warm, 20)
    warmup_s = time.perf_counter() - w0
    for n in ns:
        scans = 40 if n >= 500 else DURATION_S
        sc = make_scenario(n, args.seed + n)
        sky_s, sky_cpu, sky_g = run_skyfence(sc, scans)
        ss_s, ss_cpu, ss_g = run_stonesoup(sc, scans)
        rec = {
            "bench": "track_vs_stonesoup",
            "n_targets": n,
            "scans": scans,
            "skyfence_s": round(sky_s, 4),
            "skyfence_warmup_s": round(warmup_s, 3),
            "stonesoup_s": round(ss_s, 3),
            "ratio": round(ss_s / sky_s, 1),
            "skyfence_cpu_s": round(sky_cpu, 4),
            "stonesoup_cpu_s": round(ss_cpu, 3),
            "cpu_ratio": round(ss_cpu / max(sky_cpu, 1e-9), 1),
            "gospa_skyfence": round(sky_g, 2),
            "gospa_stonesoup": round(ss_g, 2),
            "gospa_c_p_alpha": [C, P_ORDER, ALPHA],
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        }
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
