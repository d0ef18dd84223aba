"""Scenario loading: every class of bad input is one ScenarioError naming file, field, line."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simkit import SCENARIOS, SMALL

from skyfence.errors import ScenarioError
from skyfence.model.scenario import Scenario
from skyfence.simulate import load_scenario, parse_scenario, scenario_terrain, scenario_zones

WriteDoc = Callable[[dict[str, Any] | str, str], Path]


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in text")


def test_small_scenario_loads(small_doc: dict[str, Any], write_doc: WriteDoc) -> None:
    sc = load_scenario(write_doc(small_doc))
    assert isinstance(sc, Scenario)
    assert [z.id for z in scenario_zones(sc)] == ["camp", "border"]
    assert scenario_terrain(sc).is_flat
    assert sc.n_steps == 20


@pytest.mark.parametrize(
    ("mutate", "field", "needle", "words"),
    [
        (
            lambda d: d["targets"][0].update(cruise_speed="fast"),
            "targets[0].cruise_speed",
            "cruise_speed",
            "number",
        ),
        (
            lambda d: d["targets"][0].update(cruise_speed=400),
            "targets[0].cruise_speed",
            "cruise_speed",
            "less",
        ),
        (lambda d: d["targets"][2].update(behaviour="blimp"), "targets[2]", "blimp", "unknown"),
        (lambda d: d["sensors"][1].update(type="sonar"), "sensors[1]", "sonar", "unknown"),
        (lambda d: d["sensors"][0].update(rate_hz=-1), "sensors[0].rate_hz", "rate_hz", "greater than 0"),
        (lambda d: d["sensors"][2].update(clutter_rate=-0.5), "sensors[2].clutter_rate", "-0.5", "greater"),
        (
            lambda d: d["targets"][0].update(launch=[0, 9000]),
            "targets[0].launch",
            "launch:",
            "outside the site",
        ),
        (
            lambda d: d["sensors"][0].update(position=[7000, 0]),
            "sensors[0].position",
            "position:",
            "outside the site",
        ),
        (
            lambda d: d["targets"][0].update(target_zone="nowhere"),
            "targets[0].target_zone",
            "nowhere",
            "unknown zone",
        ),
        (lambda d: d["targets"][0].update(relay="ghost"), "targets[0].relay", "ghost", "relay"),
        (
            lambda d: d["targets"][0].update(link="carrier_pigeon"),
            "targets[0].link",
            "carrier_pigeon",
            "Input",
        ),
        (lambda d: d.update(duration_s=-5), "duration_s", "duration_s", "greater than 0"),
        (lambda d: d.update(colour="blue"), "colour", "colour", "unknown field"),
        (lambda d: d["targets"][3].update(wings=2), "targets[3].wings", "wings", "unknown field"),
        (lambda d: d["targets"].append(dict(d["targets"][0])), "targets[4].name", None, "duplicate"),
        (
            lambda d: d["zones"]["features"][0]["geometry"].update(type="Point", coordinates=[22.6, 47.8]),
            "zones.features[0].geometry.type",
            "Point",
            "Polygon or a LineString",
        ),
        (
            lambda d: d["zones"]["features"][0]["geometry"].update(
                coordinates=[[[22.599, 47.799], [22.601, 47.801], [22.601, 47.799], [22.599, 47.801]]]
            ),
            "zones.features[0].geometry.coordinates",
            None,
            "invalid polygon",
        ),
        (
            lambda d: d["zones"]["features"][1]["properties"].update(buffer_m=0),
            "zones.features[1].properties.buffer_m",
            "buffer_m",
            "positive buffer_m",
        ),
    ],
)
def test_bad_input_names_file_field_and_line(
    small_doc: dict[str, Any], write_doc: WriteDoc, mutate: Any, field: str, needle: str | None, words: str
) -> None:
    mutate(small_doc)
    path = write_doc(small_doc)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.path == str(path)
    assert err.field is not None and err.field.startswith(field), err.field
    assert words in str(err)
    assert err.line is not None
    if needle is not None:
        assert err.line == _line_of(path.read_text(), needle), str(err)
    assert str(err).startswith(f"{path}:{err.line}, field '")


def test_lat_lon_positions(small_doc: dict[str, Any], write_doc: WriteDoc) -> None:
    from skyfence.simulate import sensor_registry

    site = small_doc["site"]
    # About 1 km north and 1 km east of the site origin, given in WGS84 degrees.
    small_doc["sensors"][0]["position"] = {"lat": site["lat"] + 0.008993, "lon": site["lon"] + 0.013389}
    small_doc["sensors"][1]["position"] = {"lat": site["lat"], "lon": site["lon"], "alt": site["alt"] + 30.0}
    reg = sensor_registry(load_scenario(write_doc(small_doc)))
    e, n, u = reg.get("radar-1").position
    assert (e, n) == pytest.approx((1000.0, 1000.0), abs=5.0)
    assert u == pytest.approx(5.0, abs=0.5), "no altitude given: the mast height above the ground"
    assert reg.get("rf-1").position == pytest.approx([0.0, 0.0, 30.0], abs=1e-3)


def test_missing_field(small_doc: dict[str, Any], write_doc: WriteDoc) -> None:
    del small_doc["sensors"][0]["max_range_m"]
    path = write_doc(small_doc)
    with pytest.raises(ScenarioError, match="Field required") as info:
        load_scenario(path)
    assert info.value.field == "sensors[0].max_range_m"
    # A missing field has no line of its own: the line of its parent mapping.
    assert info.value.line == _line_of(path.read_text(), "radar-1")


def test_yaml_syntax_error_has_line(write_doc: WriteDoc) -> None:
    path = write_doc("name: x\nsite: {lat: 1, lon: 2\nduration_s: 5\n")
    with pytest.raises(ScenarioError, match="invalid YAML") as info:
        load_scenario(path)
    assert info.value.line == 3


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just a string\n", "42\n"])
def test_not_a_mapping(write_doc: WriteDoc, text: str) -> None:
    with pytest.raises(ScenarioError, match="YAML mapping"):
        load_scenario(write_doc(text))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario") as info:
        load_scenario(tmp_path / "absent.yaml")
    assert info.value.path == str(tmp_path / "absent.yaml")
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path)  # a directory
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError, match="UTF-8"):
        load_scenario(bad)


def test_missing_referenced_files(small_doc: dict[str, Any], write_doc: WriteDoc) -> None:
    small_doc["zones"] = "file:nope.geojson"
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario(write_doc(small_doc))
    small_doc["zones"] = copy.deepcopy(SMALL["zones"])
    small_doc["terrain"] = {"file": "file:nope.npz", "spacing_m": 50}
    path = write_doc(small_doc)
    with pytest.raises(ScenarioError, match="cannot read terrain grid") as info:
        load_scenario(path)
    assert info.value.field == "terrain.file"
    assert info.value.line == _line_of(path.read_text(), "nope.npz")


def test_zone_and_terrain_files_are_relative_to_the_scenario(
    small_doc: dict[str, Any], write_doc: WriteDoc, tmp_path: Path
) -> None:
    import json

    (tmp_path / "z.geojson").write_text(json.dumps(small_doc["zones"]))
    heights = np.zeros((11, 11))
    heights[:, 5] = 100.0
    np.savez(
        tmp_path / "ridge.npz", heights=heights, spacing=np.array([100.0]), origin=np.array([-500.0, -500.0])
    )
    small_doc["zones"] = "file:z.geojson"
    small_doc["terrain"] = {"file": "file:ridge.npz"}
    sc = load_scenario(write_doc(small_doc, "sub.yaml"))
    assert len(scenario_zones(sc)) == 2
    ter = scenario_terrain(sc)
    assert ter.height(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(100.0)
    assert ter.height(np.array([-100.0]), np.array([0.0]))[0] == pytest.approx(0.0)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_load(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.name == path.stem
    assert scenario_zones(sc), "every shipped scenario has zones"
    assert all(s.cost is not None for s in sc.sensors), "every shipped sensor has a cost"


def test_at_least_six_scenarios_ship() -> None:
    names = {p.stem for p in SCENARIOS.glob("*.yaml")}
    assert {
        "border-incursion",
        "fiber-optic",
        "relay-extension",
        "swarm",
        "night-low-level",
        "clutter-only",
    } <= names


# -- property tests: nothing but ScenarioError escapes the loader ------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


_ALL_PATHS = _paths(SMALL)[1:]


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_documents_raise_only_scenario_errors(data: st.DataObject) -> None:
    doc = copy.deepcopy(SMALL)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_ALL_PATHS))
        parent: Any = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = data.draw(st.sampled_from(["replace", "delete"]))
            if action == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = data.draw(_values)
        except (KeyError, IndexError, TypeError):
            continue
    try:
        text = yaml.safe_dump(doc)
    except yaml.YAMLError:
        return
    try:
        parse_scenario(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert str(exc).startswith("fuzz.yaml")


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200))
def test_arbitrary_text_raises_only_scenario_errors(text: str) -> None:
    with contextlib.suppress(ScenarioError):
        parse_scenario(text, "fuzz.yaml")


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=4000),
    junk=st.sampled_from(["", ":", "- ", "{", "]", "!!python/object:os.system ''", "&a *a", "\t", "\x00"]),
)
def test_truncated_flagship_raises_only_scenario_errors(cut: int, junk: str) -> None:
    text = (SCENARIOS / "border-incursion.yaml").read_text()
    with contextlib.suppress(ScenarioError):
        parse_scenario(text[:cut] + junk + text[cut:][:50], SCENARIOS / "border-incursion.yaml")


def test_the_documented_minimal_scenario_loads(tmp_path: Path) -> None:
    doc = (SCENARIOS.parent / "docs" / "simulate.md").read_text()
    block = doc.split("A minimal scenario:", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    path = tmp_path / "minimal.yaml"
    path.write_text(block)
    sc = load_scenario(path)
    assert sc.name == "one-fpv" and len(sc.targets) == 1
