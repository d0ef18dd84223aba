"""Site frame: WGS84 geodetic <-> local ENU metres about the site origin (one place only).

Exact ellipsoidal transforms through ECEF, vectorised over arrays; latitude/longitude in
degrees at this edge, heights in metres above the WGS84 ellipsoid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Site", "ecef_to_geodetic", "geodetic_to_ecef"]

_A = 6378137.0
_F = 1.0 / 298.257223563
_E2 = _F * (2.0 - _F)
_B = _A * (1.0 - _F)
_EP2 = (_A * _A - _B * _B) / (_B * _B)


def geodetic_to_ecef(
    lat: ArrayLike, lon: ArrayLike, alt: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    h = np.asarray(alt, dtype=np.float64)
    sin_phi = np.sin(phi)
    n = _A / np.sqrt(1.0 - _E2 * sin_phi * sin_phi)
    x = (n + h) * np.cos(phi) * np.cos(lam)
    y = (n + h) * np.cos(phi) * np.sin(lam)
    z = (n * (1.0 - _E2) + h) * sin_phi
    return x, y, z


def ecef_to_geodetic(
    x: ArrayLike, y: ArrayLike, z: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Bowring's method with two refinements: sub-millimetre for terrestrial heights."""
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    za = np.asarray(z, dtype=np.float64)
    p = np.hypot(xa, ya)
    lam = np.arctan2(ya, xa)
    beta = np.arctan2(_A * za, _B * p)
    phi = np.zeros_like(p)
    for _ in range(3):
        phi = np.arctan2(za + _EP2 * _B * np.sin(beta) ** 3, p - _E2 * _A * np.cos(beta) ** 3)
        beta = np.arctan2((1.0 - _F) * np.sin(phi), np.cos(phi))
    sin_phi = np.sin(phi)
    n = _A / np.sqrt(1.0 - _E2 * sin_phi * sin_phi)
    cos_phi = np.cos(phi)
    # Near the poles p/cos(phi) is ill-conditioned; use the z form there.
    h = np.where(
        np.abs(cos_phi) > 1e-3,
        p / np.where(np.abs(cos_phi) > 1e-3, cos_phi, 1.0) - n,
        za / np.where(np.abs(sin_phi) > 0, sin_phi, 1.0) - n * (1.0 - _E2),
    )
    return np.degrees(phi), np.degrees(lam), h


@dataclass(frozen=True, slots=True)
class Site:
    """The origin of a local East-North-Up frame."""

    lat: float
    lon: float
    alt: float = 0.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"site latitude must be within [-90, 90], got {self.lat}")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"site longitude must be within [-180, 180], got {self.lon}")

    def _rotation(self) -> NDArray[np.float64]:
        phi = np.radians(self.lat)
        lam = np.radians(self.lon)
        sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
        # Rows: unit vectors E, N, U expressed in ECEF.
        return np.array([[-sl, cl, 0.0], [-sp * cl, -sp * sl, cp], [cp * cl, cp * sl, sp]], dtype=np.float64)

    def to_enu(self, lat: ArrayLike, lon: ArrayLike, alt: ArrayLike) -> NDArray[np.float64]:
        """Geodetic degrees/metres to ENU metres, shape ``[..., 3]``."""
        x, y, z = geodetic_to_ecef(lat, lon, alt)
        x0, y0, z0 = geodetic_to_ecef(self.lat, self.lon, self.alt)
        d = np.stack([x - x0, y - y0, z - z0], axis=-1)
        out: NDArray[np.float64] = d @ self._rotation().T
        return out

    def to_wgs84(self, enu: ArrayLike) -> NDArray[np.float64]:
        """ENU metres ``[..., 3]`` (or ``[..., 2]`` on the origin's height) to
        ``[..., 3]`` of latitude, longitude (degrees) and height (metres)."""
        e = np.asarray(enu, dtype=np.float64)
        if e.shape[-1] == 2:
            e = np.concatenate([e, np.zeros((*e.shape[:-1], 1))], axis=-1)
        x0, y0, z0 = geodetic_to_ecef(self.lat, self.lon, self.alt)
        d = e @ self._rotation()
        lat, lon, h = ecef_to_geodetic(d[..., 0] + x0, d[..., 1] + y0, d[..., 2] + z0)
        return np.stack([lat, lon, h], axis=-1)

    def as_dict(self) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "alt": self.alt}
