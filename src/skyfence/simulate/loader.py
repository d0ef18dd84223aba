"""Read a scenario YAML into a checked :class:`Scenario`; every problem becomes one
:class:`ScenarioError` naming the file, the field path (``targets[2].cruise_speed``) and
the YAML line, found by walking the composed YAML node tree along the error's path."""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from skyfence.errors import FormatError, ScenarioError
from skyfence.geo import Site
from skyfence.model.geojson import zones_from_geojson
from skyfence.model.scenario import (
    AircraftTarget,
    BirdTarget,
    CompliantTarget,
    GeoPoint,
    RadarSensor,
    RelayTarget,
    Scenario,
    _Attacker,
)
from skyfence.model.terrain import Ridge, Terrain
from skyfence.model.zone import Zone

__all__ = ["load_scenario", "parse_scenario", "position_enu", "scenario_terrain", "scenario_zones"]

PathKey = tuple[str | int, ...]


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and cross-check a scenario file (raises :class:`ScenarioError`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario: {exc.strerror or exc}", path=p) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=p) from None
    return parse_scenario(text, p)


def parse_scenario(text: str, path: str | Path | None = None) -> Scenario:
    """Validate scenario YAML ``text``; ``path`` names it in errors and anchors ``file:``."""
    p = None if path is None else Path(path)
    where = p if p is not None else "<scenario>"
    node, data = _compose(text, where)
    if not isinstance(data, dict):
        raise ScenarioError(
            f"a scenario is a YAML mapping of fields, got {type(data).__name__}",
            path=where,
            line=None if node is None else node.start_mark.line + 1,
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, node, where) from None
    except (ValueError, TypeError, RecursionError) as exc:  # pragma: no cover - pydantic wraps these
        raise ScenarioError(f"invalid scenario: {exc}", path=where) from None
    scenario.with_source(None if p is None else p.resolve(), text)
    for key, msg in _cross_check(scenario):
        raise ScenarioError(msg, path=where, line=_line_of(node, key), field=_path_str(key))
    return scenario


# -- YAML ---------------------------------------------------------------------------------


def _compose(text: str, where: str | Path) -> tuple[yaml.Node | None, Any]:
    loader: yaml.SafeLoader | None = None
    try:
        # The reader already rejects control characters when the loader is built.
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(s for s in (exc.context, exc.problem) if s) or "invalid YAML"
        raise ScenarioError(
            f"invalid YAML: {msg}", path=where, line=None if mark is None else mark.line + 1
        ) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise ScenarioError(f"invalid YAML: {exc}", path=where) from None
    finally:
        if loader is not None:
            loader.dispose()
    return node, data


def _children(node: yaml.Node) -> Iterator[tuple[Any, yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                yield k.value, k, v


def _walk(node: yaml.Node | None, key: PathKey) -> tuple[list[str | int], yaml.Node | None, yaml.Node | None]:
    """Follow ``key`` into the node tree; returns the matched part of the path, the last
    matched node and, for a mapping key, the key's own node (for its line)."""
    matched: list[str | int] = []
    cur = node
    key_node: yaml.Node | None = None
    for part in key:
        if cur is None:
            break
        if isinstance(cur, yaml.MappingNode) and isinstance(part, str):
            hit = next(((k, v) for name, k, v in _children(cur) if name == part), None)
            if hit is None:
                continue  # a union tag pydantic put in the path, or a missing field
            key_node, cur = hit
            matched.append(part)
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(cur.value):
            cur = cur.value[part]
            key_node = None
            matched.append(part)
    return matched, cur, key_node


def _line_of(node: yaml.Node | None, key: PathKey) -> int | None:
    if node is None:
        return None
    _, cur, key_node = _walk(node, key)
    target = key_node if key_node is not None else cur
    return None if target is None else target.start_mark.line + 1


def _path_str(key: Sequence[str | int]) -> str:
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _from_validation(exc: ValidationError, node: yaml.Node | None, where: str | Path) -> ScenarioError:
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = tuple(err["loc"])
    msg = str(err["msg"])
    ctx = err.get("ctx") or {}
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        # Point at the discriminator itself (``behaviour:`` / ``type:``).
        tag_field = str(ctx.get("discriminator", "type")).strip("'\"")
        loc = (*loc, tag_field)
        if err["type"] == "union_tag_invalid":
            msg = f"unknown {tag_field} {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        else:
            msg = f"missing {tag_field!r}"
    elif err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif "input" in err and err["type"] != "missing" and _short(err["input"]):
        msg = f"{msg} (got {_short(err['input'])})"
    matched, _, _ = _walk(node, loc)
    shown: list[str | int] = list(matched)
    if err["type"] in ("missing", "union_tag_not_found") and loc and isinstance(loc[-1], str):
        shown.append(loc[-1])
    more = len(errors) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ScenarioError(msg, path=where, line=_line_of(node, loc), field=_path_str(shown) or None)


def _short(value: Any) -> str:
    if isinstance(value, dict | list):
        return ""
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


# -- cross-field checks ---------------------------------------------------------------


def position_enu(pos: list[float] | GeoPoint, site: Site) -> tuple[float, float, float | None]:
    """A scenario position in site ENU metres; ``U`` is ``None`` when not given."""
    if isinstance(pos, GeoPoint):
        alt = site.alt if pos.alt is None else pos.alt
        enu = site.to_enu(pos.lat, pos.lon, alt)
        return float(enu[0]), float(enu[1]), None if pos.alt is None else float(enu[2])
    return float(pos[0]), float(pos[1]), float(pos[2]) if len(pos) > 2 else None


def scenario_zones(scenario: Scenario) -> list[Zone]:
    """The scenario's zones in the site frame (empty when it has none)."""
    z = scenario.zones
    if z is None:
        return []
    site = scenario.site_frame()
    try:
        if isinstance(z, str):
            ref = _file_ref(z)
            return zones_from_geojson(scenario.base_dir / ref, site)
        return zones_from_geojson(z, site)
    except ScenarioError:
        raise
    except FormatError as exc:
        src = scenario.source_path or "<scenario>"
        if exc.path is not None:
            raise ScenarioError(exc.reason, path=exc.path, field=exc.field) from None
        raise ScenarioError(
            exc.reason, path=src, field=f"zones.{exc.field}" if exc.field else "zones"
        ) from None


def scenario_terrain(scenario: Scenario) -> Terrain:
    """The scenario's ground: flat, a height grid file, or rasterised ridges (built once
    per scenario object, so repeated runs share the terrain and its sensor horizons)."""
    cached = scenario.cached_terrain()
    if isinstance(cached, Terrain):
        return cached
    terrain = _build_terrain(scenario)
    scenario.cache_terrain(terrain)
    return terrain


def _build_terrain(scenario: Scenario) -> Terrain:
    spec = scenario.terrain
    src = scenario.source_path or "<scenario>"
    if spec.file is not None:
        path = scenario.base_dir / _file_ref(spec.file)
        sp = spec.spacing_m
        try:
            return Terrain.from_file(path, spacing=sp, origin=spec.origin)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ScenarioError(
                f"cannot read terrain grid {path}: {exc}", path=src, field="terrain.file"
            ) from None
    if spec.ridges:
        ridges = [
            Ridge((r.start[0], r.start[1]), (r.end[0], r.end[1]), r.height_m, r.width_m) for r in spec.ridges
        ]
        return Terrain.from_ridges(ridges, scenario.extent_m, spec.grid_spacing_m, spec.base_m)
    return Terrain.flat(spec.base_m)


def _file_ref(value: str) -> str:
    return value[5:] if value.startswith("file:") else value


def _cross_check(s: Scenario) -> Iterator[tuple[PathKey, str]]:
    site = s.site_frame()
    ext = s.extent_m

    def outside(pos: list[float] | GeoPoint | None) -> bool:
        if pos is None:
            return False
        e, n, _ = position_enu(pos, site)
        return not (math.isfinite(e) and math.isfinite(n) and abs(e) <= ext and abs(n) <= ext)

    bounds = f"outside the site bounds (|E|, |N| <= extent_m = {ext:g} m)"
    ids = [x.id for x in s.sensors]
    for i, sen in enumerate(s.sensors):
        if ids.index(sen.id) != i:
            yield ("sensors", i, "id"), f"duplicate sensor id {sen.id!r}"
        if outside(sen.position):
            yield ("sensors", i, "position"), f"sensor {bounds}"
        if isinstance(sen, RadarSensor) and sen.min_el_deg >= sen.max_el_deg:
            yield ("sensors", i, "min_el_deg"), "min_el_deg must be below max_el_deg"

    if isinstance(s.zones, str) and not s.zones.startswith("file:"):
        yield ("zones",), "zones is an inline GeoJSON FeatureCollection or 'file:PATH'"
        return
    try:
        zones = scenario_zones(s)
    except ScenarioError as exc:
        field = exc.field or "zones"
        key = _key_from_field(field)
        yield key, exc.reason
        return
    zone_ids = {z.id for z in zones}

    names = [t.name for t in s.targets]
    relays = {t.name for t in s.targets if isinstance(t, RelayTarget)}
    for i, tgt in enumerate(s.targets):
        if names.index(tgt.name) != i:
            yield ("targets", i, "name"), f"duplicate target name {tgt.name!r}"
        checks: list[tuple[PathKey, list[float] | GeoPoint | None]]
        if isinstance(tgt, _Attacker):
            if tgt.target_zone is not None and tgt.target_zone not in zone_ids:
                known = ", ".join(sorted(zone_ids)) or "none"
                yield ("targets", i, "target_zone"), f"unknown zone {tgt.target_zone!r} (zones: {known})"
            if tgt.relay is not None and tgt.relay not in relays:
                yield ("targets", i, "relay"), f"no relay target named {tgt.relay!r}"
            checks = [
                (("launch",), tgt.launch),
                (("aim",), tgt.aim),
                (("operator",), tgt.operator),
            ]
            checks += [(("waypoints", k), w) for k, w in enumerate(tgt.waypoints)]
        elif isinstance(tgt, RelayTarget):
            checks = [(("launch",), tgt.launch), (("station",), tgt.station), (("operator",), tgt.operator)]
        elif isinstance(tgt, CompliantTarget):
            checks = [
                (("area_center",), tgt.area_center),
                (("launch",), tgt.launch),
                (("operator",), tgt.operator),
            ]
        elif isinstance(tgt, BirdTarget):
            checks = [(("center",), tgt.center)]
        elif isinstance(tgt, AircraftTarget):
            checks = [(("closest_point",), tgt.closest_point)]
        else:  # pragma: no cover - the union is closed
            checks = []
        for sub, pos in checks:
            if outside(pos):
                yield ("targets", i, *sub), f"target {tgt.name!r} {bounds}"
    try:
        scenario_terrain(s)
    except ScenarioError as exc:
        yield ("terrain", "file"), exc.reason


def _key_from_field(field: str) -> PathKey:
    """``zones.features[3] (id 'x').geometry`` -> ('zones', 'features', 3, 'geometry')."""
    out: list[str | int] = []
    for name, idx in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", re.sub(r" \(id [^)]*\)", "", field)):
        if name:
            out.append(name)
        elif idx:
            out.append(int(idx))
    return tuple(out)
