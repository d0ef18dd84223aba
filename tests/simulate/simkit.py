"""Helpers for the simulator tests: synthetic scenes for checking one sensor model at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skyfence.model.classes import class_index
from skyfence.model.truth import TargetInfo
from skyfence.simulate.world import LINK_CODES, Scene, TargetTable

__all__ = ["ROOT", "SCENARIOS", "SMALL", "make_scene", "make_table", "ring"]

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"

SMALL: dict[str, Any] = {
    "name": "small",
    "site": {"lat": 47.8, "lon": 22.6, "alt": 150},
    "duration_s": 20,
    "seed": 3,
    "extent_m": 5000,
    "zones": {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "camp", "kind": "protected", "priority": 3},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[22.599, 47.799], [22.601, 47.799], [22.601, 47.801], [22.599, 47.801]]],
                },
            },
            {
                "type": "Feature",
                "properties": {"id": "border", "kind": "border", "buffer_m": 100},
                "geometry": {"type": "LineString", "coordinates": [[22.57, 47.82], [22.63, 47.82]]},
            },
        ],
    },
    "sensors": [
        {"id": "radar-1", "type": "radar", "position": [0, -500], "max_range_m": 6000, "clutter_rate": 1.0},
        {"id": "rf-1", "type": "rf", "position": [200, 0], "max_range_m": 6000},
        {"id": "rid-1", "type": "remote_id", "position": [0, 0], "max_range_m": 4000},
    ],
    "targets": [
        {
            "name": "fpv-a",
            "behaviour": "fpv",
            "launch": [0, 3000],
            "target_zone": "camp",
            "link": "analog_5g8",
        },
        {"name": "fpv-f", "behaviour": "fpv", "launch": [500, 3000], "target_zone": "camp", "link": "fiber"},
        {"name": "survey", "behaviour": "compliant", "area_center": [-1000, -1000]},
        {"name": "birds", "behaviour": "bird", "count": 3, "center": [1000, 1000]},
    ],
}


def make_table(
    cls: list[str],
    *,
    rcs: float | list[float] = 0.02,
    size: float = 0.25,
    source_db: float = 86.0,
    link: str | None = None,
    remote_id: bool = False,
    adsb: bool = False,
) -> TargetTable:
    n = len(cls)
    code = -1 if link is None else LINK_CODES.index(link)
    return TargetTable(
        infos=tuple(TargetInfo(i, f"t{i}", "fpv", c, "threat") for i, c in enumerate(cls)),
        cls_idx=np.array([class_index(c) for c in cls], dtype=np.int64),
        rcs_m2=np.broadcast_to(np.asarray(rcs, dtype=np.float64), (n,)).copy(),
        size_m=np.full(n, size),
        source_db=np.full(n, source_db),
        link=np.full(n, code, dtype=np.int64),
        remote_id=np.full(n, remote_id),
        serial=np.array([f"SN{i:04d}" if remote_id else "" for i in range(n)], dtype=str),
        operator=np.zeros((n, 3)),
        spoof_offset=np.zeros((n, 3)),
        adsb=np.full(n, adsb),
        icao=np.array(["ABC123" if adsb else "" for _ in range(n)], dtype=str),
        callsign=np.array(["" for _ in range(n)], dtype=str),
        relay_of=np.full(n, -1, dtype=np.int64),
        extra=tuple({} for _ in range(n)),
    )


def ring(n: int, r: float, height: float, origin: np.ndarray | None = None) -> np.ndarray:
    """``n`` points on a horizontal circle of radius ``r`` round ``origin`` at ``height``."""
    o = np.zeros(3) if origin is None else origin
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([o[0] + r * np.sin(a), o[1] + r * np.cos(a), np.full(n, height)])


def make_scene(
    pos: np.ndarray, table: TargetTable, vel: np.ndarray | None = None, emitting: bool = True
) -> Scene:
    n = pos.shape[0]
    return Scene(
        t=1000.0,
        ids=np.arange(n, dtype=np.int64),
        pos=pos,
        vel=np.zeros((n, 3)) if vel is None else vel,
        emitting=np.full(n, emitting),
        table=table,
    )
