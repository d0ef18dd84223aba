"""Simulator throughput: 1000 targets, 10 sensors, 600 s at 1 Hz, on one core.

The wall-clock ratio is the goal; CPU seconds are reported beside it because a shared
machine stretches wall time. Runs two parts, each in a fresh single-threaded child
process so that peak memory is its own:
``sim`` iterates :func:`skyfence.simulate.simulate` and counts detections; ``write`` runs
:func:`skyfence.simulate.write_exercise` (truth, detections and associations JSONL streamed
to a temporary directory). Prints ONE JSON line: simulated seconds, wall seconds, the
ratio to real time, peak RSS and detections for each part, and the write/sim wall ratio.
Goal: >= 100x real time with peak RSS < 2 GiB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N_TARGETS = 1000
DURATION_S = 600.0


def scenario_doc() -> dict[str, Any]:
    """A busy border: FPV swarms launched in waves all along the run, loitering decoys,
    hovering relays, bird flocks, survey drones and airliners (1000 targets in all)."""
    targets: list[dict[str, Any]] = []
    for k in range(10):
        targets.append(
            {
                "name": f"relay-{k}",
                "behaviour": "relay",
                "launch": [-4500 + 1000 * k, 6500],
                "station": [-4500 + 1000 * k, 3500],
                "altitude_agl_m": 130,
            }
        )
    links = ["analog_5g8", "elrs_900", "elrs_2g4", "digital_ofdm", "fiber"]
    for k in range(14):
        targets.append(
            {
                "name": f"swarm-{k}",
                "behaviour": "swarm",
                "count": 35,
                "waves": 5,
                "wave_interval_s": 90,
                "spacing_m": 25,
                "launch": [-6000 + 900 * k, 7500],
                "aim": [-3000 + 450 * k, -3000 + 200 * (k % 5)],
                "start_s": 10 * k,
                "cruise_speed": 20 + k,
                "altitude_agl_m": 10 + 3 * k,
                "link": links[k % 5],
                "relay": f"relay-{k % 10}" if k % 3 == 0 else None,
                "terminal_autonomy_s": 4 if k % 2 else 0,
            }
        )
    targets = [{k: v for k, v in t.items() if v is not None} for t in targets]
    targets.append(
        {
            "name": "decoys",
            "behaviour": "decoy",
            "count": 30,
            "launch": [0, 7000],
            "aim": [0, 0],
            "spacing_m": 60,
        }
    )
    for k in range(20):
        targets.append(
            {
                "name": f"flock-{k}",
                "behaviour": "bird",
                "count": 20,
                "center": [-6000 + 600 * k, -5000 + 500 * (k % 20)],
                "radius_m": 800,
            }
        )
    for k in range(50):
        targets.append(
            {
                "name": f"survey-{k}",
                "behaviour": "compliant",
                "area_center": [-6000 + 240 * k, -6000 + 120 * k],
                "area_width_m": 300,
                "area_height_m": 200,
                "spoofed_remote_id": k % 10 == 0,
            }
        )
    for k in range(20):
        targets.append(
            {
                "name": f"airliner-{k}",
                "behaviour": "aircraft",
                "closest_point": [-7000 + 700 * k, 0],
                "heading_deg": 18 * k,
                "altitude_m": 9000 + 100 * k,
                "pass_time_s": 30 * k,
                "icao": f"{0x400000 + k:06X}",
            }
        )
    sensors: list[dict[str, Any]] = [
        {
            "id": "radar-w",
            "type": "radar",
            "position": [-3000, -1000],
            "max_range_m": 8000,
            "clutter_rate": 2,
        },
        {"id": "radar-e", "type": "radar", "position": [3000, -500], "max_range_m": 8000, "clutter_rate": 2},
        {"id": "rf-w", "type": "rf", "position": [-4000, 1500], "max_range_m": 8000, "clutter_rate": 0.2},
        {"id": "rf-c", "type": "rf", "position": [0, 800], "max_range_m": 8000, "clutter_rate": 0.2},
        {"id": "rf-e", "type": "rf", "position": [4000, 1500], "max_range_m": 8000, "clutter_rate": 0.2},
        {"id": "acoustic", "type": "acoustic", "position": [0, 0], "max_range_m": 800, "clutter_rate": 0.05},
        {
            "id": "eo",
            "type": "eo",
            "position": [0, 1000],
            "max_range_m": 4000,
            "hfov_deg": 60,
            "vfov_deg": 30,
        },
        {
            "id": "ir",
            "type": "ir",
            "position": [100, 1000],
            "max_range_m": 4000,
            "hfov_deg": 40,
            "vfov_deg": 30,
        },
        {"id": "rid", "type": "remote_id", "position": [0, -2000], "max_range_m": 6000},
        {"id": "adsb", "type": "adsb", "position": [0, -2500], "max_range_m": 150000},
    ]
    return {
        "name": "bench-1000",
        "site": {"lat": 47.8, "lon": 22.6, "alt": 150},
        "duration_s": DURATION_S,
        "step_s": 1.0,
        "seed": 1,
        "extent_m": 8000,
        "terrain": {
            "grid_spacing_m": 50,
            "ridges": [
                {"start": [-4000, 4500], "end": [1000, 4700], "height_m": 80, "width_m": 300},
                {"start": [-4500, 600], "end": [-1500, 1000], "height_m": 60, "width_m": 250},
            ],
        },
        "wind": {"speed_mps": 4, "direction_deg": 250},
        "sensors": sensors,
        "targets": targets,
    }


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_part(part: str) -> dict[str, Any]:
    from skyfence.model.scenario import Scenario
    from skyfence.simulate import simulate, write_exercise
    from skyfence.simulate.loader import scenario_terrain
    from skyfence.simulate.world import World

    sc = Scenario.model_validate(scenario_doc())
    n_targets = len(World(sc, scenario_terrain(sc), 1).table)
    t0 = time.perf_counter()
    c0 = time.process_time()
    detections = 0
    if part == "sim":
        for step in simulate(sc):
            detections += sum(len(d) for d in step.detections)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = write_exercise(sc, Path(tmp) / "ex")
            detections = json.loads((out / "summary.json").read_text())["detections"]
            size = sum(p.stat().st_size for p in out.iterdir())
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rec: dict[str, Any] = {
        "targets": n_targets,
        "sensors": len(sc.sensors),
        "sim_s": sc.duration_s,
        "wall_s": round(wall, 3),
        "x_real_time": round(sc.duration_s / wall, 1),
        "cpu_s": round(cpu, 3),
        "x_real_time_cpu": round(sc.duration_s / cpu, 1),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "detections": detections,
    }
    if part == "write":
        rec["bytes_written"] = size
    return rec


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--part":
        print(json.dumps(run_part(sys.argv[2])))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    parts = {}
    for part in ("sim", "write"):
        proc = subprocess.run(
            [sys.executable, __file__, "--part", part], capture_output=True, text=True, env=env, check=False
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        parts[part] = json.loads(proc.stdout.strip().splitlines()[-1])
    sim, write = parts["sim"], parts["write"]
    print(
        json.dumps(
            {
                "bench": "simulate",
                "targets": sim["targets"],
                "sensors": sim["sensors"],
                "sim_s": sim["sim_s"],
                "simulate": sim,
                "simulate_and_write_jsonl": write,
                "x_real_time": sim["x_real_time"],
                "x_real_time_with_jsonl": write["x_real_time"],
                "x_real_time_cpu": sim["x_real_time_cpu"],
                "x_real_time_cpu_with_jsonl": write["x_real_time_cpu"],
                "peak_rss_mib": max(sim["peak_rss_mib"], write["peak_rss_mib"]),
                "write_over_sim_wall": round(write["wall_s"] / sim["wall_s"], 2),
                "goal": {"x_real_time": 100, "peak_rss_mib": 2048},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
