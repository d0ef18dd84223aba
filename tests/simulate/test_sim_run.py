"""The runner end to end: the SimStep contract, determinism, independent random streams,
the exercise files, and the behaviours' ground rules on the shipped scenarios."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
    tracks_of: dict[str, list[np.ndarray]] = {"fpv-relayed": [], "relay-1": [], "fpv-single": []}
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
        for i, (tid, em) in enumerate(
            zip(step.truth.target.tolist(), step.truth.emitting.tolist(), strict=True)
        ):
            last_seen[tid] = step.t
            emitting.setdefault(tid, []).append(em)
            name = step.truth.targets[tid].name
            if name in tracks_of:
                tracks_of[name].append(step.truth.x[i, :3].copy())
    assert infos is not None
    return {
        "scenario": sc,
        "steps": steps,
        "counts": by_sensor_target,
        "kinds": kinds,
        "infos": {i.id: i for i in infos},
        "last_seen": last_seen,
        "emitting": emitting,
        "tracks_of": {k: np.array(v) for k, v in tracks_of.items()},
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


def test_relay_fed_fpv_flies_beyond_its_operators_line_of_sight(flagship_run: dict[str, Any]) -> None:
    from skyfence.simulate import scenario_terrain

    sc = flagship_run["scenario"]
    ter = scenario_terrain(sc)
    relay_spec = next(t for t in sc.targets if t.name == "relay-1")
    e, n = relay_spec.operator[0], relay_spec.operator[1]
    operator = np.array([e, n, float(ter.height(np.array([e]), np.array([n]))[0]) + 1.5])
    fpv = flagship_run["tracks_of"]["fpv-relayed"]
    relay = flagship_run["tracks_of"]["relay-1"]
    fpv_los = ter.line_of_sight(np.broadcast_to(operator, fpv.shape), fpv)
    relay_los = ter.line_of_sight(operator, relay[-1])
    # Once past the hostile-side ridge (N ~ 4600) the FPV is out of its operator's sight.
    beyond = fpv[:, 1] < 4200.0
    assert beyond.sum() > 60
    assert fpv_los[beyond].mean() < 0.05, "the relayed FPV flies beyond its operator's line of sight"
    assert relay_los.all(), "the operator sees the relay on station"
    assert relay[-1][2] - ter.height(relay[-1][:1], relay[-1][1:2])[0] == pytest.approx(150.0, abs=5.0)


def test_pop_up_attack_climbs_before_the_dive(flagship_run: dict[str, Any]) -> None:
    from skyfence.simulate import scenario_terrain

    sc = flagship_run["scenario"]
    ter = scenario_terrain(sc)
    path = flagship_run["tracks_of"]["fpv-single"]
    agl = path[:, 2] - ter.height(path[:, 0], path[:, 1])
    spec = next(t for t in sc.targets if t.name == "fpv-single")
    aim = next(z for z in scenario_zones(sc) if z.id == spec.target_zone).coords.mean(axis=0)
    dist = np.hypot(path[:, 0] - aim[0], path[:, 1] - aim[1])
    cruise = (dist > 1000) & (np.arange(len(path)) > 10)
    assert np.median(agl[cruise]) == pytest.approx(spec.altitude_agl_m, abs=3.0)
    assert agl[dist < 200].max() == pytest.approx(spec.pop_up_m, abs=3.0)


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
    sc = _shorter(load_scenario(FLAGSHIP), 60)
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
    # Every record meets the published JSON Schemas (docs/formats.md).
    import jsonschema

    from skyfence.model.schemas import load_schema

    for name, file in (("detection", "detections.jsonl"), ("truth", "truth.jsonl")):
        schema = load_schema(name)
        validator = jsonschema.validators.validator_for(schema)(schema)
        for line in (out / file).read_text().splitlines()[::7]:
            validator.validate(json.loads(line))
    schema = load_schema("sensors")
    jsonschema.validators.validator_for(schema)(schema).validate(
        json.loads((out / "sensors.json").read_text())
    )


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


# Each example simulates a few seconds: a few dozen under make test, up to 1000 under make fuzz.
_SIM_EXAMPLES = min(int(os.environ.get("SKYFENCE_FUZZ_EXAMPLES", "40")), 1000)
_pos = st.lists(st.floats(-3000, 3000), min_size=2, max_size=2)
_attack = {
    "launch": _pos,
    "aim": _pos,
    "waypoints": st.lists(_pos, max_size=3),
    "cruise_speed": st.floats(5, 60),
    "altitude_agl_m": st.floats(1, 200),
    "link": st.sampled_from(["analog_5g8", "elrs_900", "elrs_2g4", "digital_ofdm", "fiber"]),
    "terminal_autonomy_s": st.floats(0, 10),
    "start_s": st.floats(0, 5),
    "operator_emits": st.booleans(),
}
_target = st.one_of(
    st.fixed_dictionaries({"behaviour": st.just("fpv"), **_attack}),
    st.fixed_dictionaries(
        {"behaviour": st.sampled_from(["swarm", "decoy"]), "count": st.integers(1, 4), **_attack}
    ),
    st.fixed_dictionaries(
        {"behaviour": st.just("relay"), "launch": _pos, "station": _pos, "altitude_agl_m": st.floats(10, 300)}
    ),
    st.fixed_dictionaries(
        {
            "behaviour": st.just("compliant"),
            "area_center": _pos,
            "area_width_m": st.floats(1, 2000),
            "line_spacing_m": st.floats(1, 500),
            "spoofed_remote_id": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {
            "behaviour": st.just("bird"),
            "center": _pos,
            "count": st.integers(1, 5),
            "radius_m": st.floats(1, 3000),
        }
    ),
    st.fixed_dictionaries(
        {"behaviour": st.just("aircraft"), "closest_point": _pos, "heading_deg": st.floats(-360, 360)}
    ),
)


@pytest.mark.fuzz
@settings(max_examples=_SIM_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(targets=st.lists(_target, min_size=1, max_size=5), ridge=st.booleans(), wind=st.floats(0, 30))
def test_random_scenarios_simulate_to_finite_valid_output(
    targets: list[dict[str, Any]], ridge: bool, wind: float
) -> None:
    from skyfence.model.detections import invalid_rows

    doc: dict[str, Any] = {
        "name": "fuzz",
        "site": {"lat": 10.0, "lon": 20.0},
        "duration_s": 6,
        "step_s": 1.0,
        "extent_m": 3000,
        "wind": {"speed_mps": wind},
        "sensors": [
            {"id": "radar", "type": "radar", "position": [0, 0], "max_range_m": 5000, "clutter_rate": 1},
            {"id": "rf", "type": "rf", "position": [10, 0], "max_range_m": 5000, "measure_el": True},
            {"id": "mic", "type": "acoustic", "position": [0, 10], "max_range_m": 5000, "rate_hz": 3},
            {
                "id": "eo",
                "type": "ir",
                "position": [0, 20],
                "max_range_m": 5000,
                "hfov_deg": 360,
                "vfov_deg": 180,
            },
            {"id": "rid", "type": "remote_id", "position": [5, 5], "max_range_m": 5000},
            {"id": "adsb", "type": "adsb", "position": [5, 5], "max_range_m": 50000},
        ],
        "targets": [{"name": f"t{k}", **t} for k, t in enumerate(targets)],
    }
    for t in doc["targets"]:
        if t.get("link") == "fiber":
            t["operator_emits"] = False  # a fibre attack has no radio anywhere
    if ridge:
        doc["terrain"] = {
            "ridges": [{"start": [-3000, 500], "end": [3000, 800], "height_m": 200, "width_m": 100}]
        }
    sc = Scenario.model_validate(doc)
    for step in simulate(sc, seed=1):
        assert np.isfinite(step.truth.x).all()
        for det in step.detections:
            bad, reasons = invalid_rows(det)
            assert not bad.any(), reasons


def test_operator_controllers_radiate_while_their_drones_fly(
    small_doc: dict[str, Any], write_doc: WriteDoc
) -> None:
    small_doc["duration_s"] = 160
    small_doc["targets"][0].update(operator_emits=True, operator=[300, 3500], operator_link="elrs_900")
    sc = load_scenario(write_doc(small_doc))
    heard: Counter[int] = Counter()
    op_states: list[tuple[np.ndarray, bool]] = []
    fpv_alive: list[bool] = []
    infos: dict[int, Any] = {}
    for step in simulate(sc, seed=2):
        infos = {i.id: i for i in step.truth.targets}
        op = next(i.id for i in infos.values() if i.behaviour == "operator")
        fpv = next(i.id for i in infos.values() if i.name == "fpv-a")
        row = np.flatnonzero(step.truth.target == op)
        assert len(row) == 1, "the operator is on the ground from the start"
        op_states.append((step.truth.x[row[0]], bool(step.truth.emitting[row[0]])))
        fpv_alive.append(bool((step.truth.target == fpv).any()))
        for det, src in zip(step.detections, step.sources, strict=True):
            if det.sensor_id == "rf-1":
                heard.update(src[src >= 0].tolist())
    info = infos[op]
    assert (info.cls, info.role, info.link, info.flags) == ("unknown", "threat", "elrs_900", ("operator",))
    xs = np.array([x for x, _ in op_states])
    assert np.allclose(xs, xs[0]) and xs[0][:2].tolist() == [300.0, 3500.0] and not xs[0][3:].any()
    emitting = [e for _, e in op_states]
    assert any(emitting) and fpv_alive[0] and not fpv_alive[-1], "the FPV flies and hits within the run"
    # The controller radiates while the FPV flies and falls silent once it is down.
    assert emitting == fpv_alive
    assert heard[op] > 0


def test_fibre_attack_operators_cannot_radiate(small_doc: dict[str, Any], write_doc: WriteDoc) -> None:
    from skyfence.errors import ScenarioError

    small_doc["targets"][1].update(operator_emits=True)
    with pytest.raises(ScenarioError, match="fibre"):
        load_scenario(write_doc(small_doc))
