"""Fixtures for the tracker tests: sensor registries and detection builders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from skyfence.geo import Site
from skyfence.model import Detections, Sensor, SensorRegistry
from skyfence.track import TrackerConfig

SITE = Site(48.0, 22.0, 120.0)


def registry(*sensors: tuple[str, str, str, Sequence[float]], max_range: float = 10_000.0) -> SensorRegistry:
    """``(id, type, kind, position)`` tuples to a registry."""
    return SensorRegistry(
        SITE, [Sensor(i, ty, k, np.asarray(p, dtype=float), 1.0, max_range) for i, ty, k, p in sensors]
    )


def positions(
    sensor: str,
    t: float,
    z: NDArray[np.float64] | Sequence[Sequence[float]],
    sigma: float = 5.0,
    **attrs: object,
) -> Detections:
    zz = np.asarray(z, dtype=float)
    m = zz.shape[1]
    kind = "remote_id" if "serial" in attrs else "position"
    return Detections(
        sensor,
        kind,
        np.full(len(zz), t),
        zz,
        np.tile(np.eye(m) * sigma**2, (len(zz), 1, 1)),
        attrs={k: np.asarray(v) for k, v in attrs.items()},
    )


def polar_of(sp: NDArray[np.float64], p: NDArray[np.float64]) -> NDArray[np.float64]:
    d = np.atleast_2d(p) - sp
    rh = np.hypot(d[:, 0], d[:, 1])
    return np.column_stack([np.hypot(rh, d[:, 2]), np.arctan2(d[:, 0], d[:, 1]), np.arctan2(d[:, 2], rh)])


@pytest.fixture
def quiet() -> TrackerConfig:
    """Tracker settings without track inference (core behaviour only)."""
    return TrackerConfig(run_inference=False)
