"""Terrain heights and line of sight, and GeoJSON zones in and out."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyfence.errors import FormatError
from skyfence.geo import Site
from skyfence.model.geojson import zones_from_geojson, zones_to_geojson
from skyfence.model.terrain import Ridge, Terrain
from skyfence.model.zone import Zone

SITE = Site(47.8, 22.6, 150.0)


def test_flat_terrain() -> None:
    ter = Terrain.flat(5.0)
    assert ter.is_flat
    assert np.all(ter.height(np.array([0.0, 1e5]), np.array([3.0, -7.0])) == 5.0)
    a = np.array([[0.0, 0.0, 6.0], [0.0, 0.0, 6.0]])
    b = np.array([[1000.0, 0.0, 6.0], [1000.0, 0.0, 4.0]])
    assert ter.line_of_sight(a, b).tolist() == [True, False]


def test_grid_is_bilinear_and_clamped() -> None:
    ter = Terrain([[0.0, 10.0], [20.0, 30.0]], origin=(100.0, 200.0), spacing=(10.0, 20.0))
    assert ter.height(np.array([105.0]), np.array([210.0]))[0] == pytest.approx(15.0)
    assert ter.height(np.array([100.0]), np.array([220.0]))[0] == pytest.approx(20.0)
    assert ter.height(np.array([-1e6]), np.array([-1e6]))[0] == pytest.approx(0.0)
    assert ter.height(np.array([1e6]), np.array([1e6]))[0] == pytest.approx(30.0)
    with pytest.raises(ValueError, match="2-D grid"):
        Terrain([1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        Terrain([[0.0, np.nan], [0.0, 0.0]])


def test_ridge_blocks_low_lines_of_sight_and_horizon_agrees(rng: np.random.Generator) -> None:
    ter = Terrain.from_ridges([Ridge((-4000.0, 0.0), (4000.0, 0.0), 100.0, 150.0)], 5000.0, 25.0)
    obs = np.array([0.0, -2000.0, ter.height(np.array([0.0]), np.array([-2000.0]))[0] + 10.0])
    low = np.array([0.0, 2000.0, 5.0])
    high = np.array([0.0, 2000.0, 400.0])
    assert ter.line_of_sight(obs, low).tolist() == [False]
    assert ter.line_of_sight(obs, high).tolist() == [True]
    # Vectorised over N segments, and the fast horizon says the same almost everywhere.
    n = 3000
    pts = np.column_stack([rng.uniform(-3500, 3500, n), rng.uniform(-4500, 4500, n), rng.uniform(0, 250, n)])
    pts[:, 2] += ter.height(pts[:, 0], pts[:, 1])
    los = ter.line_of_sight(np.broadcast_to(obs, pts.shape), pts)
    hz = ter.horizon(obs, 6000.0).visible(pts)
    assert 0.2 < los.mean() < 0.9
    assert (los == hz).mean() > 0.97


def test_grid_files(tmp_path: Path) -> None:
    heights = np.arange(12.0).reshape(3, 4)
    np.savetxt(tmp_path / "g.csv", heights, delimiter=",")
    ter = Terrain.from_file(tmp_path / "g.csv", spacing=10.0, origin=(0.0, 0.0))
    assert ter.height(np.array([10.0]), np.array([10.0]))[0] == pytest.approx(5.0)
    np.savez(tmp_path / "g.npz", heights=heights, spacing=np.array([10.0, 10.0]))
    centred = Terrain.from_file(tmp_path / "g.npz")
    assert centred.origin == (-15.0, -10.0)
    with pytest.raises(ValueError, match="spacing"):
        Terrain.from_file(tmp_path / "g.csv")
    (tmp_path / "g.txt").write_text("1")
    with pytest.raises(ValueError, match=r"\.npz or \.csv"):
        Terrain.from_file(tmp_path / "g.txt")


def _square(cx: float, cy: float, half: float) -> list[list[float]]:
    pts = np.array(
        [
            [cx - half, cy - half, 0],
            [cx + half, cy - half, 0],
            [cx + half, cy + half, 0],
            [cx - half, cy + half, 0],
        ]
    )
    geo = SITE.to_wgs84(pts)
    ring = [[float(lon), float(lat)] for lat, lon, _ in geo]
    return [*ring, ring[0]]


def test_zones_round_trip() -> None:
    zones = [
        Zone(
            "site-a",
            [[0, 0], [500, 0], [500, 300], [0, 300]],
            kind="protected",
            floor_m=0,
            ceiling_m=300,
            priority=3,
        ),
        Zone("border", [[-5000, 3000], [5000, 3100]], kind="border", geometry="line", buffer_m=200),
    ]
    doc = zones_to_geojson(zones, SITE)
    back = zones_from_geojson(json.loads(json.dumps(doc)), SITE)
    assert [z.id for z in back] == ["site-a", "border"]
    for z0, z1 in zip(zones, back, strict=True):
        assert np.allclose(z0.coords, z1.coords, atol=1e-3)
        assert (z0.kind, z0.geometry, z0.buffer_m, z0.floor_m, z0.ceiling_m, z0.priority) == (
            z1.kind,
            z1.geometry,
            z1.buffer_m,
            z1.floor_m,
            z1.ceiling_m,
            z1.priority,
        )


@pytest.mark.parametrize(
    ("geometry", "props", "match"),
    [
        ({"type": "Point", "coordinates": [22.6, 47.8]}, {}, "Polygon or a LineString"),
        ({"type": "Polygon", "coordinates": []}, {}, "invalid coordinates"),
        ({"type": "Polygon", "coordinates": [[[22.6, 47.8], [22.61, 47.8]]]}, {}, "at least 3"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[22.6, 47.8], [22.61, 47.81], [22.61, 47.8], [22.6, 47.81], [22.6, 47.8]]],
            },
            {},
            "invalid polygon",
        ),
        ({"type": "LineString", "coordinates": [[22.6, 47.8], [22.61, 47.8]]}, {}, "positive buffer_m"),
        ({"type": "LineString", "coordinates": [[22.6, 47.8], [200.0, 47.8]]}, {"buffer_m": 10}, "WGS84"),
        ({"type": "Polygon", "coordinates": [_square(0, 0, 100)]}, {"kind": "castle"}, "kind must be one of"),
        ({"type": "Polygon", "coordinates": [_square(0, 0, 100)]}, {"priority": 1.5}, "integer"),
    ],
)
def test_invalid_zone_names_the_feature(
    geometry: dict[str, object], props: dict[str, object], match: str
) -> None:
    good = {
        "type": "Feature",
        "properties": {"id": "ok"},
        "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 50)]},
    }
    bad = {"type": "Feature", "properties": {"id": "bad-zone", **props}, "geometry": geometry}
    with pytest.raises(FormatError, match=match) as info:
        zones_from_geojson({"type": "FeatureCollection", "features": [good, bad]}, SITE)
    assert info.value.field is not None and info.value.field.startswith("features[1] (id 'bad-zone')")


def test_zone_file_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "z.geojson"
    p.write_text("{not json")
    with pytest.raises(FormatError, match="invalid JSON") as info:
        zones_from_geojson(p, SITE)
    assert info.value.path == str(p)
    with pytest.raises(FormatError, match="FeatureCollection"):
        zones_from_geojson({"type": "Feature"}, SITE)


@pytest.mark.fuzz
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["type", "features", "geometry", "properties", "coordinates", "id", "kind", "buffer_m"]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_geojson_reader_raises_only_format_errors(doc: object) -> None:
    for candidate in (
        doc,
        {"type": "FeatureCollection", "features": doc},
        {"type": "FeatureCollection", "features": [doc]},
    ):
        with contextlib.suppress(FormatError):
            zones_from_geojson(candidate, SITE)  # type: ignore[arg-type]
