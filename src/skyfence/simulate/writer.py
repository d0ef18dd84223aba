"""Write an exercise to disk, streaming step by step (never holding every detection):
``truth.jsonl``, ``detections.jsonl``, ``associations.jsonl``, ``sensors.json``,
``zones.geojson``, ``targets.json``, ``summary.json`` and a copy of the scenario."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from skyfence.errors import ScenarioError
from skyfence.model.classes import CLASSES
from skyfence.model.geojson import zones_to_geojson
from skyfence.model.records import write_sensors
from skyfence.model.scenario import Scenario
from skyfence.simulate.fastjson import TruthLines, detection_lines
from skyfence.simulate.loader import scenario_terrain, scenario_zones
from skyfence.simulate.runner import sensor_registry, simulate
from skyfence.simulate.world import World

__all__ = ["EXERCISE_FILES", "write_exercise"]

EXERCISE_FILES = (
    "truth.jsonl",
    "detections.jsonl",
    "associations.jsonl",
    "sensors.json",
    "zones.geojson",
    "targets.json",
    "summary.json",
    "scenario.yaml",
)

_BUF = 1 << 20


def write_exercise(
    scenario: Scenario,
    out_dir: str | Path,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Simulate ``scenario`` and write the exercise files into ``out_dir`` (created);
    ``progress(done, total)`` is called after each step. Returns ``out_dir``. The same
    scenario and seed give byte-identical files."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(f"cannot create output directory: {exc.strerror or exc}", path=out) from None
    run_seed = scenario.seed if seed is None else int(seed)
    terrain = scenario_terrain(scenario)
    registry = sensor_registry(scenario, terrain)
    site = scenario.site_frame()
    write_sensors(out / "sensors.json", registry)
    zones = scenario_zones(scenario)
    _write_json(out / "zones.geojson", zones_to_geojson(zones, site))
    _copy_scenario(scenario, out)
    table = World(scenario, terrain, run_seed).table
    _write_json(out / "targets.json", {"targets": [_target_doc(table, i) for i in range(len(table))]})

    sensor_ids = [s.id for s in registry.sensors]
    sensor_no = {sid: k for k, sid in enumerate(sensor_ids)}
    n_targets = len(table)
    # Counts: per sensor x (target id, or clutter in the last column).
    counts = np.zeros((len(sensor_ids), n_targets + 1), dtype=np.int64)
    truth_points = 0
    total = scenario.n_steps + 1
    line = 0
    with (
        (out / "truth.jsonl").open("w", encoding="utf-8", buffering=_BUF) as f_truth,
        (out / "detections.jsonl").open("w", encoding="utf-8", buffering=_BUF) as f_det,
        (out / "associations.jsonl").open("w", encoding="utf-8", buffering=_BUF) as f_assoc,
    ):
        truth_lines = TruthLines()
        for done, step in enumerate(simulate(scenario, run_seed), start=1):
            f_truth.write(truth_lines(step.truth))
            truth_points += len(step.truth)
            for det, src in zip(step.detections, step.sources, strict=True):
                n = len(det)
                if n == 0:
                    continue
                f_det.write(detection_lines(det))
                t_s = repr(float(det.t[0]))
                sid = json.dumps(det.sensor_id)
                targets = ["null" if s < 0 else str(s) for s in src.tolist()]
                head = f',"t":{t_s},"sensor":{sid},"index":'
                f_assoc.write(
                    "".join(f'{{"line":{line + j + 1}{head}{j},"target":{targets[j]}}}\n' for j in range(n))
                )
                line += n
                np.add.at(counts[sensor_no[det.sensor_id]], np.where(src < 0, n_targets, src), 1)
            if progress is not None:
                progress(done, total)
    _write_json(
        out / "summary.json", _summary_doc(scenario, run_seed, table, sensor_ids, counts, truth_points, line)
    )
    return out


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")


def _copy_scenario(scenario: Scenario, out: Path) -> None:
    text = scenario.source_text
    if text is None:
        text = yaml.safe_dump(scenario.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
    (out / "scenario.yaml").write_text(text, encoding="utf-8")
    # Files the scenario refers to travel with it so the copy loads on its own.
    refs = [scenario.terrain.file] if scenario.terrain.file else []
    if isinstance(scenario.zones, str):
        refs.append(scenario.zones)
    for ref in refs:
        rel = Path(ref[5:] if ref.startswith("file:") else ref)
        src = scenario.base_dir / rel
        if rel.is_absolute() or ".." in rel.parts or not src.is_file():
            continue
        dst = out / rel
        if dst.resolve() == src.resolve():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def _target_doc(table: Any, i: int) -> dict[str, Any]:
    info = table.infos[i]
    doc: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "behaviour": info.behaviour,
        "cls": info.cls,
        "role": info.role,
        "link": info.link,
        "flags": list(info.flags),
        "group": info.group,
        "relay": info.relay,
        "zone": info.zone,
        "serial": info.serial,
        "icao": info.icao,
    }
    extra = table.extra[i]
    doc["operator"] = extra["operator"]
    doc["launch"] = extra["launch"]
    doc["start_s"] = extra["start_s"]
    doc["rcs_m2"] = extra["rcs_m2"]
    return doc


def _summary_doc(
    scenario: Scenario,
    seed: int,
    table: Any,
    sensor_ids: list[str],
    counts: np.ndarray[Any, np.dtype[np.int64]],
    truth_points: int,
    detections: int,
) -> dict[str, Any]:
    n_t = len(table)
    cls_of = [CLASSES.index(info.cls) for info in table.infos]
    per_sensor = {}
    for k, sid in enumerate(sensor_ids):
        by_cls: dict[str, int] = {c: 0 for c in CLASSES}
        for tid in range(n_t):
            by_cls[CLASSES[cls_of[tid]]] += int(counts[k, tid])
        per_sensor[sid] = {"total": int(counts[k].sum()), "clutter": int(counts[k, n_t]), "by_class": by_cls}
    per_target = []
    for tid, info in enumerate(table.infos):
        per_target.append(
            {
                "id": tid,
                "name": info.name,
                "behaviour": info.behaviour,
                "cls": info.cls,
                "role": info.role,
                "by_sensor": {sid: int(counts[k, tid]) for k, sid in enumerate(sensor_ids) if counts[k, tid]},
            }
        )
    return {
        "scenario": scenario.name,
        "seed": seed,
        "duration_s": scenario.duration_s,
        "step_s": scenario.step_s,
        "truth_points": truth_points,
        "detections": detections,
        "sensors": per_sensor,
        "targets": per_target,
    }
