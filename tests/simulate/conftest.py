"""Fixtures for the simulator tests: the shipped scenarios and a small valid scenario
document to mutate (scene helpers are in ``simkit.py``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

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


@pytest.fixture
def small_doc() -> dict[str, Any]:
    """A small valid scenario document (a fresh deep copy per test)."""
    return copy.deepcopy(SMALL)


@pytest.fixture
def write_doc(tmp_path: Path) -> Callable[[dict[str, Any] | str, str], Path]:
    """Write a scenario document (dict or YAML text) to ``tmp_path/name``."""

    def write(doc: dict[str, Any] | str, name: str = "scenario.yaml") -> Path:
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p

    return write
