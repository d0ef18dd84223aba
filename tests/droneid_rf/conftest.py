"""The DroneSecurity Mavic Air 2 capture, decoded once per session (each decode takes ~0.3 s)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from skyfence.detect.droneid_rf import DecodeStats, DroneIdFrame, decode_droneid_file

CAPTURE_DIR = "dji-droneid-iq-dronesecurity"
SAMPLE_RATE = 50e6


@dataclass(frozen=True)
class Decoded:
    samples: NDArray[np.complex64]
    expected: dict[str, Any]
    frames: list[DroneIdFrame]
    stats: DecodeStats


@pytest.fixture(scope="session")
def mavic(shared_data: Path) -> Decoded:
    folder = shared_data / CAPTURE_DIR
    capture = folder / "mavic_air_2"
    if not capture.is_file():
        pytest.skip(f"DroneID IQ capture not found at {capture}")
    expected = json.loads((folder / "expected_decoded.json").read_text())
    stats = DecodeStats()
    frames = decode_droneid_file(capture, SAMPLE_RATE, stats)
    samples = np.fromfile(capture, dtype="<c8")
    return Decoded(samples, expected, frames, stats)
