"""Where a drone took off and where its operator is: interdiction teams go there.

- Launch area: the track's earliest state is propagated back along its velocity to the
  ground (terrain height, flat when none), with its covariance carried through the
  unscented transform; the result is a 95 % ellipse.
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
    ground: Ground,
    known_alt: NDArray[np.bool_],
    assumed_agl_m: float,
    max_back_s: float,
) -> NDArray[np.float64]:
    """Ground point ``[M, 2]`` each state ``x[M, 6]`` came from, flying straight back.

    With a measured climb (``vU`` above 0.3 m/s) the time back is height above ground over
    ``vU``; otherwise ``climb[M]`` is the assumed climb rate (and ``assumed_agl_m`` the
    height when the track has none). The terrain under the first guess refines it once.
    """
    e, n, u = x[:, 0], x[:, 1], x[:, 2]
    ve, vn, vu = x[:, 3], x[:, 4], x[:, 5]
    rate = np.where(known_alt & (vu > 0.3), vu, climb)
    g = ground.height(e, n)
    agl = np.where(known_alt, u - g, assumed_agl_m)
    tau = np.clip(agl / rate, 0.0, max_back_s)
    le, ln = e - ve * tau, n - vn * tau
    # Taking off from a hillside: recompute with the ground under the first guess.
    g2 = ground.height(le, ln)
    agl2 = np.where(known_alt, u - g2, assumed_agl_m)
    tau = np.clip(agl2 / rate, 0.0, max_back_s)
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
) -> list[LaunchArea]:
    """Launch ellipses for ``M`` earliest states, through the unscented transform over the
    6-D state plus one extra dimension for the (log-normal) assumed climb rate."""
    m = x.shape[0]
    if m == 0:
        return []
    dim = 7
    kappa = 3.0 - dim
    lam = kappa
    Pa = np.zeros((m, dim, dim))
    Pa[:, :6, :6] = 0.5 * (P + np.swapaxes(P, 1, 2))
    Pa[:, 6, 6] = 1.0
    # Unknown height: the state's U/vU variance is a placeholder, leave it out.
    Pa[~known_alt, 2, :] = 0.0
    Pa[~known_alt, :, 2] = 0.0
    Pa[~known_alt, 5, :] = 0.0
    Pa[~known_alt, :, 5] = 0.0
    w_e, V = np.linalg.eigh((dim + lam) * Pa)
    S = V * np.sqrt(np.clip(w_e, 0.0, None))[:, None, :]  # columns are square-root directions
    mean = np.concatenate([x, np.zeros((m, 1))], axis=1)
    pts = [mean]
    for k in range(dim):
        pts.append(mean + S[:, :, k])
        pts.append(mean - S[:, :, k])
    sig = np.stack(pts, axis=1)  # [m, 2·dim+1, dim]
    wts = np.full(2 * dim + 1, 1.0 / (2 * (dim + lam)))
    wts[0] = lam / (dim + lam)
    flat = sig.reshape(-1, dim)
    climb = climb_rate_mps * np.exp(0.4 * flat[:, 6])
    pts2 = back_propagate(
        flat[:, :6], climb, ground, np.repeat(known_alt, 2 * dim + 1), assumed_agl_m, max_back_s
    ).reshape(m, 2 * dim + 1, 2)
    mu = np.einsum("k,mki->mi", wts, pts2)
    d = pts2 - mu[:, None, :]
    cov = np.einsum("k,mki,mkj->mij", wts, d, d)
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
