"""Fixtures for the detector tests: array geometries and small synthetic recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def square_array(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Four elements on a 0.5 m-side square (an antenna or microphone array)."""
    el = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.0]])
    path = tmp_path / "ARRAY.json"
    path.write_text(
        json.dumps({"sensor_id": "arr-1", "elements": el.tolist(), "position": [10.0, 20.0, 2.0]})
    )
    return path, el
