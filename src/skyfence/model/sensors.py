"""The sensor registry: where each sensor is and what it measures (`sensors.json`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.geo import Site
from skyfence.model.classes import MeasurementKind

__all__ = ["SENSOR_TYPES", "Sensor", "SensorRegistry"]

#: Sensor types and the measurement kind each produces.
SENSOR_TYPES: dict[str, MeasurementKind] = {
    "radar": "polar",
    "rf": "bearing",
    "acoustic": "bearing",
    "eo": "bearing",
    "ir": "bearing",
    "remote_id": "remote_id",
    "adsb": "position",
    "position": "position",
}


@dataclass(frozen=True, slots=True, eq=False)
class Sensor:
    """One sensor: ``position`` ENU metres; ``params`` holds type-specific settings
    (field of view, noise, Pd model, bands ...) as plain JSON values."""

    id: str
    type: str
    kind: MeasurementKind
    position: NDArray[np.float64]
    rate_hz: float
    max_range_m: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pos = np.array(self.position, dtype=np.float64).reshape(3)
        pos.flags.writeable = False
        object.__setattr__(self, "position", pos)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "kind": self.kind,
            "position": [float(v) for v in self.position],
            "rate_hz": self.rate_hz,
            "max_range_m": self.max_range_m,
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class SensorRegistry:
    site: Site
    sensors: tuple[Sensor, ...]

    def __init__(self, site: Site, sensors: Sequence[Sensor]) -> None:
        ids = [s.id for s in sensors]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate sensor id(s): {', '.join(sorted(dup))}")
        object.__setattr__(self, "site", site)
        object.__setattr__(self, "sensors", tuple(sensors))

    def __iter__(self) -> Iterator[Sensor]:
        return iter(self.sensors)

    def __len__(self) -> int:
        return len(self.sensors)

    def __contains__(self, sensor_id: object) -> bool:
        return any(s.id == sensor_id for s in self.sensors)

    def get(self, sensor_id: str) -> Sensor:
        for s in self.sensors:
            if s.id == sensor_id:
                return s
        raise KeyError(f"unknown sensor {sensor_id!r}; known: {', '.join(s.id for s in self.sensors)}")

    def as_dict(self) -> dict[str, Any]:
        return {"site": self.site.as_dict(), "sensors": [s.as_dict() for s in self.sensors]}
