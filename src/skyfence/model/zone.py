"""`Zone`: a protected area or a border band in the site ENU frame."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skyfence.model._arrays import frozen_array

__all__ = ["GeometryType", "Zone", "ZoneKind"]

ZoneKind = Literal["protected", "border", "restricted"]
GeometryType = Literal["polygon", "line"]


@dataclass(frozen=True, slots=True, init=False, eq=False)
class Zone:
    """A polygon (``coords`` is its exterior ring) or a line with a ``buffer_m`` half-width
    on each side (a border band); altitudes ``floor_m``/``ceiling_m`` above the site origin.
    Higher ``priority`` matters more."""

    id: str
    name: str
    kind: ZoneKind
    geometry: GeometryType
    coords: NDArray[np.float64]
    buffer_m: float
    floor_m: float
    ceiling_m: float
    priority: int

    def __init__(
        self,
        id: str,
        coords: ArrayLike,
        *,
        name: str | None = None,
        kind: ZoneKind = "protected",
        geometry: GeometryType = "polygon",
        buffer_m: float = 0.0,
        floor_m: float = -math.inf,
        ceiling_m: float = math.inf,
        priority: int = 1,
    ) -> None:
        arr = frozen_array(coords, np.float64, f"zone {id!r} coords", (None, 2))
        need = 3 if geometry == "polygon" else 2
        if arr.shape[0] < need:
            raise ValueError(f"zone {id!r}: a {geometry} needs at least {need} points")
        if geometry == "line" and buffer_m <= 0:
            raise ValueError(f"zone {id!r}: a line zone needs a positive buffer_m")
        if not floor_m < ceiling_m:
            raise ValueError(f"zone {id!r}: floor_m must be below ceiling_m")
        object.__setattr__(self, "id", str(id))
        object.__setattr__(self, "name", name or str(id))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "geometry", geometry)
        object.__setattr__(self, "coords", arr)
        object.__setattr__(self, "buffer_m", float(buffer_m))
        object.__setattr__(self, "floor_m", float(floor_m))
        object.__setattr__(self, "ceiling_m", float(ceiling_m))
        object.__setattr__(self, "priority", int(priority))

    def area_polygon(self) -> NDArray[np.float64]:
        """Exterior ring of the zone's area (a line is buffered), as ``[K, 2]`` ENU."""
        import shapely

        if self.geometry == "polygon":
            return self.coords
        geom = shapely.buffer(shapely.linestrings(self.coords), self.buffer_m, cap_style="flat")
        return np.asarray(shapely.get_coordinates(shapely.get_exterior_ring(geom)), dtype=np.float64)
