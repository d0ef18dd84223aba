"""1000 targets seen by a radar (range/az/el), an RF direction finder (azimuth) and an
acoustic array (azimuth/elevation), each at 1 Hz and staggered in time: how much faster
than real time the tracker runs on one core.

Scenario (numpy, seeded): targets at 30-300 m height, 5-40 m/s nearly constant velocity
in a 16 km x 16 km area around the sensors; radar Pd 0.95 with 5 false alarms a scan; RF
hears the 70 % of targets that emit (Pd 0.8); acoustic hears targets within 3 km (Pd 0.7).
Prints one JSON line: data seconds, tracking wall seconds, the real-time ratio, and the
mean GOSPA (c = 100 m, p = 1) of confirmed tracks for context. As by default, track
inference (classification, RF-silent, relay, swarm) runs after every update;
``--no-infer`` times the tracker core alone. A short untimed warm-up first loads the
compiled kernels (compiling them on a fresh checkout); its time is printed as
``warmup_s``.

    .venv/bin/python bench/track_multisensor.py [--targets 1000] [--seconds 60] [--no-infer]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from numpy.typing import NDArray

from skyfence.evaluate.gospa import gospa
from skyfence.geo import Site
from skyfence.model import Detections, Sensor, SensorRegistry, TrackStatus
from skyfence.track import Tracker, TrackerConfig
from skyfence.track.config import AssociationConfig, ManagementConfig, MotionConfig

HALF_M = 8000.0
SENSORS = {
    "radar": np.array([0.0, 0.0, 10.0]),
    "rf": np.array([2500.0, -1500.0, 5.0]),
    "acoustic": np.array([-2000.0, 1500.0, 2.0]),
}
OFFSET_S = {"radar": 0.0, "rf": 0.33, "acoustic": 0.66}
SIG_R, SIG_AZ, SIG_EL = 10.0, np.radians(0.5), np.radians(1.0)
SIG_RF = np.radians(2.0)
SIG_AC_AZ, SIG_AC_EL = np.radians(3.0), np.radians(4.0)


def registry() -> SensorRegistry:
    return SensorRegistry(
        Site(48.0, 22.0, 150.0),
        [
            Sensor("radar", "radar", "polar", SENSORS["radar"], 1.0, 12_000.0),
            Sensor("rf", "rf", "bearing", SENSORS["rf"], 1.0, 12_000.0),
            Sensor("acoustic", "acoustic", "bearing", SENSORS["acoustic"], 1.0, 3_000.0),
        ],
    )


def _az_el(d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    rh = np.hypot(d[:, 0], d[:, 1])
    return np.arctan2(d[:, 0], d[:, 1]), np.arctan2(d[:, 2], rh), np.sqrt(rh * rh + d[:, 2] ** 2)


def scenario(
    n: int, seconds: int, seed: int
) -> tuple[list[Detections], list[tuple[float, NDArray[np.float64]]]]:
    rng = np.random.default_rng(seed)
    pos = np.column_stack(
        [rng.uniform(-HALF_M, HALF_M, n), rng.uniform(-HALF_M, HALF_M, n), rng.uniform(30, 300, n)]
    )
    speed = rng.uniform(5, 40, n)
    head = rng.uniform(0, 2 * np.pi, n)
    vel = np.column_stack([speed * np.sin(head), speed * np.cos(head), rng.normal(0, 0.5, n)])
    emits = rng.random(n) < 0.7
    batches: list[Detections] = []
    truth: list[tuple[float, NDArray[np.float64]]] = []
    for k in range(seconds):
        for name in ("radar", "rf", "acoustic"):
            t = k + OFFSET_S[name]
            p = pos + vel * OFFSET_S[name]
            d = p - SENSORS[name]
            az, el, r = _az_el(d)
            if name == "radar":
                seen = (rng.random(n) < 0.95) & (r < 12_000)
                z = np.column_stack([r, az, el])[seen] + rng.normal(0, 1, (int(seen.sum()), 3)) * [
                    SIG_R,
                    SIG_AZ,
                    SIG_EL,
                ]
                fa = np.column_stack(
                    [rng.uniform(200, 12_000, 5), rng.uniform(-np.pi, np.pi, 5), rng.uniform(0, 0.1, 5)]
                )
                z = np.vstack([z, fa])
                R = np.diag([SIG_R**2, SIG_AZ**2, SIG_EL**2])
                batches.append(Detections(name, "polar", np.full(len(z), t), z, np.tile(R, (len(z), 1, 1))))
                truth.append((t, p[:, :2].copy()))
            elif name == "rf":
                seen = emits & (rng.random(n) < 0.8) & (r < 12_000)
                z = (az[seen] + rng.normal(0, SIG_RF, int(seen.sum())))[:, None]
                R = np.full((len(z), 1, 1), SIG_RF**2)
                batches.append(Detections(name, "bearing", np.full(len(z), t), z, R))
            else:
                seen = (r < 3000) & (rng.random(n) < 0.7)
                m = int(seen.sum())
                z = np.column_stack([az[seen], el[seen]]) + rng.normal(0, 1, (m, 2)) * [SIG_AC_AZ, SIG_AC_EL]
                R = np.tile(np.diag([SIG_AC_AZ**2, SIG_AC_EL**2]), (m, 1, 1))
                batches.append(Detections(name, "bearing", np.full(m, t), z, R))
        pos = pos + vel
    return batches, truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--infer", action=argparse.BooleanOptionalAction, default=True, help="run track inference (default)"
    )
    args = ap.parse_args()
    batches, truth = scenario(args.targets, args.seconds, args.seed)
    cfg = TrackerConfig(
        motion=MotionConfig(model="cv", q_horizontal=0.5, q_vertical=0.1),
        association=AssociationConfig(method="gnn", gate_probability=0.999),
        management=ManagementConfig(confirm_m=2, confirm_n=3, delete_misses=3, initial_speed_sigma_m_s=25.0),
        run_inference=args.infer,
    )
    # Warm-up, untimed but reported: loads (on a fresh checkout, compiles) the tracker's
    # kernels and the inference stages on a few seconds of a scenario of the same size
    # (large batches take paths that small ones do not).
    w0 = time.perf_counter()
    warm_batches, _ = scenario(args.targets, 4, args.seed + 1)
    warm = Tracker(cfg, registry())
    for b in warm_batches:
        warm.update(b)
    warmup_s = time.perf_counter() - w0
    tracker = Tracker(cfg, registry())
    tentative = np.int8(TrackStatus.TENTATIVE)
    outs = []
    c0, t0 = time.process_time(), time.perf_counter()
    for b in batches:
        tracks = tracker.update(b)
        if b.sensor_id == "radar":
            outs.append(tracks.x[tracks.status != tentative, :2])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    g = [gospa(tp, o, 100.0, 1.0, 2.0) for (_, tp), o in zip(truth, outs, strict=True)]
    settled = g[5:]  # after the first few scans every target has had time to confirm
    print(
        json.dumps(
            {
                "bench": "track_multisensor",
                "targets": args.targets,
                "sensors": ["radar polar", "rf bearing", "acoustic bearing"],
                "data_s": args.seconds,
                "detections": int(sum(len(b) for b in batches)),
                "wall_s": round(wall, 3),
                "realtime_ratio": round(args.seconds / wall, 1),
                "cpu_s": round(cpu, 3),
                "realtime_ratio_cpu": round(args.seconds / cpu, 1),
                "warmup_s": round(warmup_s, 3),
                "inference": args.infer,
                "mean_gospa_after_5s": round(float(np.mean([r.total for r in settled])), 1),
                "mean_missed_after_5s": round(float(np.mean([r.n_missed for r in settled])), 1),
                "mean_false_after_5s": round(float(np.mean([r.n_false for r in settled])), 1),
                "live_tracks_end": len(tracker),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
