"""Zones as GeoJSON (WGS84 degrees at this edge) <-> :class:`Zone` in the site ENU frame.

A zone is a ``Feature`` whose geometry is a ``Polygon`` (exterior ring; holes are not
supported) or a ``LineString`` (a border line, widened by ``buffer_m`` on each side), with
properties ``id``, ``name``, ``kind`` (protected | border | restricted), ``buffer_m``,
``floor_m``, ``ceiling_m`` (metres above the site origin) and ``priority``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import FormatError
from skyfence.geo import Site
from skyfence.model.zone import Zone, ZoneKind

__all__ = ["zones_from_geojson", "zones_to_geojson"]

_KINDS: tuple[str, ...] = get_args(ZoneKind)


def zones_from_geojson(doc_or_path: Mapping[str, Any] | str | Path, site: Site) -> list[Zone]:
    """Zones from a GeoJSON ``FeatureCollection`` (a parsed document or a file path).

    Raises :class:`FormatError` naming the file (if any) and ``features[i]`` (with its id)
    for anything that is not a valid polygon or line zone.
    """
    path: Path | None = None
    if isinstance(doc_or_path, str | Path):
        path = Path(doc_or_path)
        try:
            doc: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
                raise FormatError(f"invalid JSON: {exc}", path=path) from None
            reason = getattr(exc, "strerror", None) or exc
            raise FormatError(f"cannot read file: {reason}", path=path) from None
        except RecursionError:
            raise FormatError("invalid JSON: nested too deeply", path=path) from None
    else:
        doc = doc_or_path
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise FormatError("expected a GeoJSON FeatureCollection", path=path)
    features = doc.get("features")
    if not isinstance(features, list):
        raise FormatError("expected a list of features", path=path, field="features")
    zones: list[Zone] = []
    seen: set[str] = set()
    for i, feat in enumerate(features):
        zone = _zone_from_feature(feat, i, site, path)
        if zone.id in seen:
            raise FormatError(
                f"duplicate zone id {zone.id!r}", path=path, field=f"features[{i}].properties.id"
            )
        seen.add(zone.id)
        zones.append(zone)
    return zones


def _zone_from_feature(feat: Any, i: int, site: Site, path: Path | None) -> Zone:
    where = f"features[{i}]"
    if not isinstance(feat, Mapping) or feat.get("type") != "Feature":
        raise FormatError("expected a GeoJSON Feature", path=path, field=where)
    props = feat.get("properties") or {}
    if not isinstance(props, Mapping):
        raise FormatError("properties must be an object", path=path, field=f"{where}.properties")
    zid = props.get("id", feat.get("id", f"zone-{i}"))
    if not isinstance(zid, str | int) or isinstance(zid, bool) or str(zid) == "":
        raise FormatError("id must be a non-empty string", path=path, field=f"{where}.properties.id")
    zid = str(zid)
    label = f"{where} (id {zid!r})"

    def fail(msg: str, sub: str = "") -> FormatError:
        return FormatError(msg, path=path, field=f"{label}{'.' + sub if sub else ''}")

    geom = feat.get("geometry")
    if not isinstance(geom, Mapping):
        raise fail("missing geometry", "geometry")
    gtype = geom.get("type")
    if gtype not in ("Polygon", "LineString"):
        raise fail(f"zone geometry must be a Polygon or a LineString, got {gtype!r}", "geometry.type")
    coords_in = geom.get("coordinates")
    try:
        if gtype == "Polygon":
            if not isinstance(coords_in, list) or not coords_in:
                raise ValueError("a Polygon needs at least one ring")
            ring = _lonlat(coords_in[0])
        else:
            ring = _lonlat(coords_in)
    except (TypeError, ValueError) as exc:
        raise fail(f"invalid coordinates: {exc}", "geometry.coordinates") from None
    enu = site.to_enu(ring[:, 1], ring[:, 0], np.full(len(ring), site.alt))[:, :2]

    kind = props.get("kind", "protected")
    if kind not in _KINDS:
        raise fail(f"kind must be one of {', '.join(_KINDS)}, got {kind!r}", "properties.kind")
    nums: dict[str, float] = {}
    for key, default in (("buffer_m", 0.0), ("floor_m", -math.inf), ("ceiling_m", math.inf), ("priority", 1)):
        v = props.get(key, default)
        if v is None:
            v = default
        if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
            raise fail(f"{key} must be a number", f"properties.{key}")
        nums[key] = float(v)
    if nums["buffer_m"] < 0 or not math.isfinite(nums["buffer_m"]):
        raise fail("buffer_m must be a finite number >= 0", "properties.buffer_m")
    if not math.isfinite(nums["priority"]) or nums["priority"] != int(nums["priority"]):
        raise fail("priority must be an integer", "properties.priority")

    import shapely

    if gtype == "Polygon":
        if len(enu) >= 2 and np.allclose(enu[0], enu[-1]):
            enu = enu[:-1]
        if len(enu) < 3:
            raise fail("a polygon needs at least 3 distinct corners", "geometry.coordinates")
        poly = shapely.polygons(enu)
        if not shapely.is_valid(poly) or shapely.area(poly) <= 0:
            reason = shapely.is_valid_reason(poly)
            raise fail(f"invalid polygon ({reason})", "geometry.coordinates")
        geometry = "polygon"
    else:
        if len(enu) < 2 or float(shapely.length(shapely.linestrings(enu))) <= 0:
            raise fail("a line needs at least 2 distinct points", "geometry.coordinates")
        if nums["buffer_m"] <= 0:
            raise fail("a line zone needs a positive buffer_m", "properties.buffer_m")
        geometry = "line"
    name = props.get("name", zid)
    try:
        return Zone(
            zid,
            enu,
            name=str(name),
            kind=kind,
            geometry=geometry,  # type: ignore[arg-type]
            buffer_m=nums["buffer_m"],
            floor_m=nums["floor_m"],
            ceiling_m=nums["ceiling_m"],
            priority=int(nums["priority"]),
        )
    except ValueError as exc:
        raise fail(str(exc)) from None


def _lonlat(coords: Any) -> NDArray[np.float64]:
    if not isinstance(coords, list) or not coords:
        raise ValueError("expected a list of [lon, lat] positions")
    rows = []
    for c in coords:
        if not isinstance(c, list | tuple) or len(c) < 2:
            raise ValueError("each position is [lon, lat] or [lon, lat, alt]")
        lon, lat = c[0], c[1]
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lon, lat)):
            raise ValueError("longitude and latitude must be numbers")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError(f"position [{lon}, {lat}] is not WGS84 degrees [lon, lat]")
        rows.append((float(lon), float(lat)))
    return np.array(rows, dtype=np.float64)


def zones_to_geojson(zones: Sequence[Zone], site: Site) -> dict[str, Any]:
    """A GeoJSON ``FeatureCollection`` (WGS84 degrees) of the zones; infinite altitude
    limits are written as ``null``."""
    features = []
    for z in zones:
        geo = site.to_wgs84(np.column_stack([z.coords, np.zeros(len(z.coords))]))
        pts = [[round(float(lon), 9), round(float(lat), 9)] for lat, lon, _ in geo]
        if z.geometry == "polygon":
            geometry: dict[str, Any] = {"type": "Polygon", "coordinates": [[*pts, pts[0]]]}
        else:
            geometry = {"type": "LineString", "coordinates": pts}
        props: dict[str, Any] = {
            "id": z.id,
            "name": z.name,
            "kind": z.kind,
            "priority": z.priority,
            "floor_m": z.floor_m if math.isfinite(z.floor_m) else None,
            "ceiling_m": z.ceiling_m if math.isfinite(z.ceiling_m) else None,
        }
        if z.geometry == "line":
            props["buffer_m"] = z.buffer_m
        features.append({"type": "Feature", "id": z.id, "properties": props, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}
