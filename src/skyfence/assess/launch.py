"""Where a drone took off and where its operator is: interdiction teams go there.

- Launch area: the track's earliest state is propagated back along its velocity to the
  ground (terrain height, flat when none), adding the time it may have flown unseen
  before the sensors picked it up; its covariance and those assumptions are sampled;
  the result is a 95 % ellipse.
- Remote ID operator: the reported operator position (track attrs ``operator_pos``
  ``[N, 2|3]`` ENU or ``operator_lat``/``operator_lon``), a small ellipse.
- Relay: the bearing of the ground link from the relay (track attr ``operator_bearing_rad``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from skyfence.geo import Site
from skyfence.model.tracks import Tracks

__all__ = [
    "CHI2_2D_95",
    "FlatGround",
    "Ground",
    "LaunchArea",
    "back_propagate",
    "launch_areas",
    "link_bearings",
    "operator_positions",
]

#: 95 % quantile of the chi-square distribution with 2 degrees of freedom.
CHI2_2D_95 = 5.991464547107979

LaunchKind = Literal["launch", "operator", "link_bearing"]


class Ground(Protocol):
    """The terrain role: ground height (ENU ``U``, metres) at east/north positions."""

    def height(self, e: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]: ...


class FlatGround:
    """Flat ground at the site origin's height."""

    def height(self, e: NDArray[np.float64], n: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros(np.broadcast(e, n).shape)


@dataclass(frozen=True, slots=True)
class LaunchArea:
    """An area on the ground: ``center`` ENU ``[E, N, U]``; a 95 % ellipse with semi-axes
    ``semi_major_m``/``semi_minor_m``, major axis at azimuth ``orientation_rad``; for a
    ``link_bearing`` the line from ``center`` along ``bearing_rad``."""

    track_id: int
    kind: LaunchKind
    t: float
    center: tuple[float, float, float]
    semi_major_m: float
    semi_minor_m: float
    orientation_rad: float
    bearing_rad: float = math.nan

    def as_dict(self, site: Site | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "track_id": self.track_id,
            "t": self.t,
            "center": [round(c, 2) for c in self.center],
            "semi_major_m": round(self.semi_major_m, 2),
            "semi_minor_m": round(self.semi_minor_m, 2),
            "orientation_deg": round(math.degrees(self.orientation_rad) % 360.0, 2),
        }
        if math.isfinite(self.bearing_rad):
            out["bearing_deg"] = round(math.degrees(self.bearing_rad) % 360.0, 2)
        if site is not None:
            lat, lon, alt = (float(v) for v in site.to_wgs84(np.array(self.center)))
            out.update(lat=round(lat, 7), lon=round(lon, 7), alt=round(alt, 2))
        return out

    def describe(self, from_xy: tuple[float, float] = (0.0, 0.0)) -> str:
        """A short operator phrase, e.g. ``launch ~1.2 km SW (±150 m)``."""
        if self.kind == "link_bearing":
            return f"ground link bearing {math.degrees(self.bearing_rad) % 360:.0f}°"
        de = self.center[0] - from_xy[0]
        dn = self.center[1] - from_xy[1]
        rng = math.hypot(de, dn)
        where = (
            f"{rng / 1000:.1f} km {_compass(math.atan2(de, dn))}"
            if rng >= 1000
            else f"{rng:.0f} m {_compass(math.atan2(de, dn))}"
        )
        what = "launch" if self.kind == "launch" else "operator"
        return f"{what} ~{where} (±{self.semi_major_m:.0f} m)"


def _compass(az: float) -> str:
    names = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
    return names[int(((math.degrees(az) % 360) + 22.5) // 45) % 8]


def back_propagate(
    x: NDArray[np.float64],
    climb: NDArray[np.float64],
    unseen_s: NDArray[np.float64],
    ground: Ground,
    known_alt: NDArray[np.bool_],
    assumed_agl_m: float,
    max_back_s: float,
) -> NDArray[np.float64]:
    """Ground point ``[M, 2]`` each state ``x[M, 6]`` came from, flying straight back.

    The time back is the climb from the ground (height above ground over ``vU`` when the
    track climbs at more than 0.3 m/s, else over the assumed ``climb[M]``; height
    ``assumed_agl_m`` when the track has none) plus, for a track first seen in level
    flight over 20 m up, ``unseen_s[M]`` of cruise before the sensors picked it up.
    The terrain under the first guess refines it once.
    """
    e, n, u = x[:, 0], x[:, 1], x[:, 2]
    ve, vn, vu = x[:, 3], x[:, 4], x[:, 5]
    climbing = known_alt & (vu > 0.3)
    rate = np.where(climbing, vu, climb)

    def time_back(g: NDArray[np.float64]) -> NDArray[np.float64]:
        agl = np.where(known_alt, u - g, assumed_agl_m)
        # Still climbing out: the climb itself dates the take-off. Level and airborne:
        # it may have cruised unseen for a while first.
        tau = np.clip(agl / rate, 0.0, None) + np.where((agl > 20.0) & ~climbing, unseen_s, 0.0)
        out: NDArray[np.float64] = np.clip(tau, 0.0, max_back_s)
        return out

    tau = time_back(ground.height(e, n))
    # Taking off from a hillside: recompute with the ground under the first guess.
    tau = time_back(ground.height(e - ve * tau, n - vn * tau))
    return np.stack([e - ve * tau, n - vn * tau], axis=1)


def _ellipse(
    cov: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    w, V = np.linalg.eigh(0.5 * (cov + np.swapaxes(cov, 1, 2)))
    w = np.clip(w, 0.0, None)
    major = np.sqrt(CHI2_2D_95 * w[:, 1])
    minor = np.sqrt(CHI2_2D_95 * w[:, 0])
    vec = V[:, :, 1]
    # Azimuth clockwise from north of the major axis (E is x, N is y).
    orient = np.mod(np.arctan2(vec[:, 0], vec[:, 1]), np.pi)
    return major, minor, orient


def launch_areas(
    track_id: NDArray[np.int64],
    t: NDArray[np.float64],
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    known_alt: NDArray[np.bool_],
    ground: Ground,
    climb_rate_mps: float,
    assumed_agl_m: float,
    max_back_s: float,
    unseen_median_s: float = 45.0,
    unseen_sigma: float = 0.8,
    samples: int = 256,
) -> list[LaunchArea]:
    """Launch ellipses for ``M`` earliest states: fixed samples of the state ``N(x, P)``,
    of a log-normal climb rate and of a log-normal unseen flight time are flown back to
    the ground; the ellipse is the 95 % one of their mean and covariance (a skewed,
    non-linear map, so samples rather than sigma points)."""
    m = x.shape[0]
    if m == 0:
        return []
    Ps = 0.5 * (P + np.swapaxes(P, 1, 2))
    # Unknown height: the state's U/vU variance is a placeholder, leave it out.
    Ps[~known_alt, 2, :] = 0.0
    Ps[~known_alt, :, 2] = 0.0
    Ps[~known_alt, 5, :] = 0.0
    Ps[~known_alt, :, 5] = 0.0
    w_e, V = np.linalg.eigh(Ps)
    L = V * np.sqrt(np.clip(w_e, 0.0, None))[:, None, :]
    half = np.random.default_rng(0x1A0C).standard_normal((samples // 2, 8))
    eps = np.concatenate([half, -half])  # antithetic: the mean is unbiased
    draws = x[:, None, :] + np.einsum("mij,kj->mki", L, eps[:, :6])  # [m, K, 6]
    k = eps.shape[0]
    climb = np.tile(climb_rate_mps * np.exp(0.4 * eps[:, 6]), m)
    unseen = np.tile(unseen_median_s * np.exp(unseen_sigma * eps[:, 7]), m)
    pts = back_propagate(
        draws.reshape(m * k, 6), climb, unseen, ground, np.repeat(known_alt, k), assumed_agl_m, max_back_s
    ).reshape(m, k, 2)
    mu = pts.mean(axis=1)
    d = pts - mu[:, None, :]
    cov = np.einsum("mki,mkj->mij", d, d) / k
    major, minor, orient = _ellipse(cov)
    g = ground.height(mu[:, 0], mu[:, 1])
    return [
        LaunchArea(
            int(track_id[i]),
            "launch",
            float(t[i]),
            (float(mu[i, 0]), float(mu[i, 1]), float(g[i])),
            float(major[i]),
            float(minor[i]),
            float(orient[i]),
        )
        for i in range(m)
    ]


def operator_positions(
    tracks: Tracks, site: Site | None, ground: Ground, sigma_m: float = 15.0
) -> list[LaunchArea]:
    """Operator positions reported by Remote ID, from the track attributes."""
    n = len(tracks)
    pos: NDArray[np.float64] | None = None
    if "operator_pos" in tracks.attrs:
        pos = np.asarray(tracks.attrs["operator_pos"], dtype=np.float64).reshape(n, -1)[:, :2]
    elif "operator_lat" in tracks.attrs and "operator_lon" in tracks.attrs and site is not None:
        lat = np.asarray(tracks.attrs["operator_lat"], dtype=np.float64)
        lon = np.asarray(tracks.attrs["operator_lon"], dtype=np.float64)
        pos = site.to_enu(lat, lon, np.full(n, site.alt))[:, :2]
    if pos is None:
        return []
    ok = np.flatnonzero(np.isfinite(pos).all(axis=1))
    if ok.size == 0:
        return []
    g = ground.height(pos[ok, 0], pos[ok, 1])
    r = math.sqrt(CHI2_2D_95) * sigma_m
    return [
        LaunchArea(
            int(tracks.id[i]),
            "operator",
            tracks.t,
            (float(pos[i, 0]), float(pos[i, 1]), float(gi)),
            r,
            r,
            0.0,
        )
        for i, gi in zip(ok, g, strict=True)
    ]


def link_bearings(tracks: Tracks) -> list[LaunchArea]:
    """Ground-link bearings measured at relays (track attr ``operator_bearing_rad``)."""
    if "operator_bearing_rad" not in tracks.attrs:
        return []
    b = np.asarray(tracks.attrs["operator_bearing_rad"], dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(b))
    return [
        LaunchArea(
            int(tracks.id[i]),
            "link_bearing",
            tracks.t,
            (float(tracks.x[i, 0]), float(tracks.x[i, 1]), float(tracks.x[i, 2])),
            0.0,
            0.0,
            0.0,
            float(b[i]),
        )
        for i in ok
    ]
