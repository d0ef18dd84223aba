"""The runner end to end: the SimStep contract, determinism, independent random streams,
the exercise files, and the behaviours' ground rules on the shipped scenarios."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from simkit import SCENARIOS

from skyfence.model.records import (
    detection_records,
    read_detections,
    read_sensors,
    read_truth,
    truth_records,
    write_jsonl,
)
from skyfence.model.scenario import Scenario
from skyfence.simulate import (
    EXERCISE_FILES,
    SimStep,
    load_scenario,
    scenario_zones,
    sensor_registry,
    simulate,
    write_exercise,
)
from skyfence.simulate.fastjson import TruthLines, detection_lines

WriteDoc = Callable[[dict[str, Any] | str, str], Path]
FLAGSHIP = SCENARIOS / "border-incursion.yaml"


def _shorter(sc: Scenario, seconds: float) -> Scenario:
    short = sc.model_copy(update={"duration_s": seconds})
    return short.with_source(sc.source_path, sc.source_text)


@pytest.fixture(scope="module")
def flagship_run() -> dict[str, Any]:
    """One full run of the flagship, reduced to what the tests below look at."""
    sc = load_scenario(FLAGSHIP)
    by_sensor_target: Counter[tuple[str, int]] = Counter()
    kinds: dict[str, str] = {}
    last_seen: dict[int, float] = {}
    emitting: dict[int, list[bool]] = {}
    steps = 0
    infos = None
    for step in simulate(sc):
        steps += 1
        infos = step.truth.targets
        assert len(step.detections) == len(step.sources)
        times = [float(d.t[0]) for d in step.detections if len(d)]
        assert times == sorted(times)
        for det, src in zip(step.detections, step.sources, strict=True):
            assert src.dtype == np.int64 and src.shape == (len(det),)
            assert not (set(det.attrs) & {"target", "truth", "source"}), "detections carry no truth"
            kinds[det.sensor_id] = det.kind
            for tid in src.tolist():
                by_sensor_target[(det.sensor_id, tid)] += 1
        for tid, em in zip(step.truth.target.tolist(), step.truth.emitting.tolist(), strict=True):
            last_seen[tid] = step.t
            emitting.setdefault(tid, []).append(em)
    assert infos is not None
    return {
        "scenario": sc,
        "steps": steps,
        "counts": by_sensor_target,
        "kinds": kinds,
        "infos": {i.id: i for i in infos},
        "last_seen": last_seen,
        "emitting": emitting,
    }


def test_simstep_contract(flagship_run: dict[str, Any]) -> None:
    sc = flagship_run["scenario"]
    assert flagship_run["steps"] == sc.n_steps + 1
    step = next(iter(simulate(sc)))
    assert isinstance(step, SimStep)
    assert step.t == sc.start_time
    assert step.truth.targets and all(step.truth.t == step.t)
    reg = sensor_registry(sc)
    assert [s.id for s in reg] == [s.id for s in sc.sensors]
    assert {d.sensor_id for d in step.detections} == {s.id for s in reg}


def test_fiber_fpv_gives_no_rf_detections(flagship_run: dict[str, Any]) -> None:
    infos = flagship_run["infos"]
    rf = {s.id for s in flagship_run["scenario"].sensors if s.type == "rf"}
    fiber = [i.id for i in infos.values() if i.link == "fiber"]
    assert fiber
    for tid in fiber:
        assert sum(flagship_run["counts"][(s, tid)] for s in rf) == 0
        assert not any(flagship_run["emitting"][tid])
        assert "rf_silent" in infos[tid].flags
    # ...while radio-linked FPVs are heard.
    radio = [i.id for i in infos.values() if i.behaviour in ("fpv", "swarm") and i.link != "fiber"]
    assert all(sum(flagship_run["counts"][(s, tid)] for s in rf) > 0 for tid in radio)


def test_only_compliant_drones_give_remote_id(flagship_run: dict[str, Any]) -> None:
    infos = flagship_run["infos"]
    rid = {s for s, k in flagship_run["kinds"].items() if k == "remote_id"}
    assert rid
    sources = {tid for (s, tid), n in flagship_run["counts"].items() if s in rid and n and tid >= 0}
    assert sources and all(infos[t].behaviour == "compliant" for t in sources)


def test_behaviours_keep_their_promises(flagship_run: dict[str, Any]) -> None:
    sc = flagship_run["scenario"]
    infos = flagship_run["infos"]
    end = sc.start_time + sc.duration_s
    by_name = {i.name: i for i in infos.values()}
    # FPVs dive onto their targets and are gone before the end; the relay and birds stay.
    for name in ("fpv-single", "fpv-relayed", "fpv-fiber", "swarm-north-01", "swarm-north-06"):
        assert flagship_run["last_seen"][by_name[name].id] < end, name
    assert flagship_run["last_seen"][by_name["relay-1"].id] == end
    assert by_name["fpv-relayed"].relay == by_name["relay-1"].id
    groups = {i.group for i in infos.values() if i.behaviour == "swarm"}
    assert len(groups) == 1 and None not in groups
    assert sum(1 for i in infos.values() if i.behaviour == "swarm") == 6
    # Terminal autonomy: swarm members fall silent before impact.
    em = flagship_run["emitting"][by_name["swarm-north-01"].id]
    assert any(em) and not em[-1]
    assert by_name["airliner"].icao == "4D2219"


def test_fpv_motion_is_physical() -> None:
    sc = _shorter(load_scenario(FLAGSHIP), 200)
    infos = None
    prev: dict[int, np.ndarray] = {}
    for step in simulate(sc):
        infos = {i.id: i for i in step.truth.targets}
        for tid, x in zip(step.truth.target.tolist(), step.truth.x, strict=True):
            info = infos[tid]
            if info.behaviour not in ("fpv", "swarm"):
                continue
            speed = float(np.linalg.norm(x[3:5]))
            assert speed <= 60.0
            if tid in prev:
                h0 = np.arctan2(prev[tid][3], prev[tid][4])
                h1 = np.arctan2(x[3], x[4])
                turn = abs((h1 - h0 + np.pi) % (2 * np.pi) - np.pi)
                if speed > 10 and np.linalg.norm(prev[tid][3:5]) > 10 and x[5] > -5:
                    assert turn <= np.radians(181.0)
            prev[tid] = x


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    sc = _shorter(load_scenario(FLAGSHIP), 120)
    a = _files(write_exercise(sc, tmp_path / "a", seed=5))
    b = _files(write_exercise(sc, tmp_path / "b", seed=5))
    assert set(a) == set(EXERCISE_FILES)
    assert a == b
    c = _files(write_exercise(sc, tmp_path / "c", seed=6))
    assert c["detections.jsonl"] != a["detections.jsonl"]
    assert c["sensors.json"] == a["sensors.json"]


def test_adding_a_sensor_leaves_the_others_draws_unchanged(
    small_doc: dict[str, Any], write_doc: WriteDoc
) -> None:
    base = load_scenario(write_doc(small_doc, "a.yaml"))
    small_doc["sensors"].insert(
        0, {"id": "extra-rf", "type": "rf", "position": [-900, 0], "max_range_m": 5000}
    )
    more = load_scenario(write_doc(small_doc, "b.yaml"))

    def dets(sc: Scenario) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for step in simulate(sc, seed=9):
            for d in step.detections:
                out.setdefault(d.sensor_id, []).append(detection_lines(d))
        return out

    a, b = dets(base), dets(more)
    assert "extra-rf" in b
    for sid in a:
        assert a[sid] == b[sid], sid


def test_fast_writer_matches_the_record_writer(tmp_path: Path) -> None:
    import io

    sc = _shorter(load_scenario(FLAGSHIP), 150)
    seen_kinds = set()
    truth_lines = TruthLines()
    for step in simulate(sc, seed=1):
        buf = io.StringIO()
        write_jsonl(buf, truth_records(step.truth))
        assert truth_lines(step.truth) == buf.getvalue()
        for d in step.detections:
            buf = io.StringIO()
            write_jsonl(buf, detection_records(d))
            assert detection_lines(d) == buf.getvalue()
            if len(d):
                seen_kinds.add(d.kind)
    assert seen_kinds == {"polar", "bearing", "remote_id", "position"}


def test_exercise_files_read_back(tmp_path: Path) -> None:
    sc = _shorter(load_scenario(FLAGSHIP), 60)
    out = write_exercise(sc, tmp_path / "ex")
    truth = read_truth(out / "truth.jsonl")
    assert len(truth) > 0 and {"fpv", "bird", "aircraft", "multirotor"} <= {i.cls for i in truth.targets}
    dets = read_detections(out / "detections.jsonl")
    reg = read_sensors(out / "sensors.json")
    assert {d.sensor_id for d in dets} <= {s.id for s in reg}
    n_det = sum(len(d) for d in dets)
    assoc = [json.loads(line) for line in (out / "associations.jsonl").read_text().splitlines()]
    assert len(assoc) == n_det
    assert [a["line"] for a in assoc] == list(range(1, n_det + 1))
    lines = (out / "detections.jsonl").read_text().splitlines()
    ids = {i.id for i in truth.targets}
    for a in assoc[:: max(1, len(assoc) // 200)]:
        rec = json.loads(lines[a["line"] - 1])
        assert rec["sensor"] == a["sensor"] and rec["t"] == a["t"]
        assert a["target"] is None or a["target"] in ids
    zones = json.loads((out / "zones.geojson").read_text())
    assert [f["properties"]["id"] for f in zones["features"]] == [z.id for z in scenario_zones(sc)]
    targets = json.loads((out / "targets.json").read_text())["targets"]
    relay = next(t for t in targets if t["behaviour"] == "relay")
    assert relay["operator"] is not None and len(relay["operator"]) == 3
    copy = load_scenario(out / "scenario.yaml")
    assert copy.model_dump() == sc.model_dump() | {"duration_s": copy.duration_s}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["detections"] == n_det


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_simulates(path: Path, tmp_path: Path) -> None:
    sc = _shorter(load_scenario(path), 8)
    out = write_exercise(sc, tmp_path / path.stem)
    # A copied scenario with file references still loads on its own.
    load_scenario(out / "scenario.yaml")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["truth_points"] > 0


def test_fiber_scenario_has_no_rf_from_fibre_targets() -> None:
    sc = load_scenario(SCENARIOS / "fiber-optic.yaml")
    rf = {s.id for s in sc.sensors if s.type == "rf"}
    heard: Counter[int] = Counter()
    infos: dict[int, Any] = {}
    for step in simulate(sc):
        infos = {i.id: i for i in step.truth.targets}
        for det, src in zip(step.detections, step.sources, strict=True):
            if det.sensor_id in rf:
                heard.update(src[src >= 0].tolist())
    assert all(infos[t].link != "fiber" for t in heard)
    assert any(infos[t].name == "analog-control" for t in heard)


def test_terrain_is_built_once_per_scenario_and_not_pickled() -> None:
    import pickle

    from skyfence.simulate import scenario_terrain

    sc = load_scenario(FLAGSHIP)
    ter = scenario_terrain(sc)
    assert scenario_terrain(sc) is ter
    flat = sc.model_copy(update={"terrain": type(sc.terrain)()})
    assert scenario_terrain(flat).is_flat and not ter.is_flat
    next(iter(simulate(sc)))
    blob = pickle.dumps(sc)
    assert len(blob) < 200_000, "caches must not travel to worker processes"
    back = pickle.loads(blob)
    assert back == sc and back.source_path == sc.source_path
    first = [detection_lines(d) for d in next(iter(simulate(back, seed=3))).detections]
    assert first == [detection_lines(d) for d in next(iter(simulate(sc, seed=3))).detections]
