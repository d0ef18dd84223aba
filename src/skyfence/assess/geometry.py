"""Track × zone geometry as array operations: inside, distance, closest approach, exact
time to zone on the straight-line prediction, and the probability of entering within a
horizon from each track's state and covariance.

Every function takes all tracks and all zones at once and returns ``[N, Z]`` arrays;
shapely 2's vectorised predicates do point-in-polygon and distances, and the ray ×
boundary intersections are plain numpy over all ``N × S`` (track, edge) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from skyfence.errors import FormatError
from skyfence.model.zone import Zone

__all__ = [
    "ZoneGeometry",
    "ZoneSet",
    "altitude_known",
    "closest_approach",
    "enter_probability",
    "time_to_zone",
    "zone_geometry",
]

#: Above this vertical variance (m²) a track's height is treated as unknown (2-D sensors
#: leave ``U = 0`` with a huge variance): altitude limits are then not applied.
ALTITUDE_UNKNOWN_VAR = 300.0**2


@dataclass(frozen=True, slots=True, eq=False)
class ZoneSet:
    """Zones prepared once for the vectorised functions.

    ``polygons[Z]`` are prepared shapely polygons (lines already buffered); the boundary
    edges of all zones are concatenated counter-clockwise as ``edge_a[S, 2]`` →
    ``edge_b[S, 2]``, zone by zone, with ``edge_start[Z]`` the first edge of each zone.
    """

    zones: tuple[Zone, ...]
    polygons: NDArray[Any]
    floor_m: NDArray[np.float64]
    ceiling_m: NDArray[np.float64]
    priority: NDArray[np.int64]
    edge_a: NDArray[np.float64]
    edge_b: NDArray[np.float64]
    edge_zone: NDArray[np.int64]
    edge_start: NDArray[np.int64]
    center: NDArray[np.float64]
    radius: NDArray[np.float64]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(z.id for z in self.zones)

    def __len__(self) -> int:
        return len(self.zones)

    @classmethod
    def from_zones(cls, zones: Sequence[Zone]) -> ZoneSet:
        polys = []
        a_parts: list[NDArray[np.float64]] = []
        b_parts: list[NDArray[np.float64]] = []
        zone_idx: list[NDArray[np.int64]] = []
        starts: list[int] = []
        n_edges = 0
        # One pass per zone at set-up time only; the per-update work is all vectorised.
        for k, zone in enumerate(zones):
            ring = np.asarray(zone.area_polygon(), dtype=np.float64)
            poly = shapely.polygons(ring)
            if not shapely.is_valid(poly) or shapely.area(poly) <= 0:
                why = shapely.is_valid_reason(poly)
                raise FormatError(f"invalid zone geometry ({why})", field=f"zone {zone.id!r}")
            if np.allclose(ring[0], ring[-1]):
                ring = ring[:-1]
            # Shoelace: a clockwise ring is reversed so the interior is always on the left.
            signed = 0.5 * float(
                np.sum(ring[:, 0] * np.roll(ring[:, 1], -1) - np.roll(ring[:, 0], -1) * ring[:, 1])
            )
            if signed < 0:
                ring = ring[::-1]
            polys.append(poly)
            a_parts.append(ring)
            b_parts.append(np.roll(ring, -1, axis=0))
            zone_idx.append(np.full(len(ring), k, dtype=np.int64))
            starts.append(n_edges)
            n_edges += len(ring)
        arr = np.array(polys, dtype=object)
        shapely.prepare(arr)
        return cls(
            zones=tuple(zones),
            polygons=arr,
            floor_m=np.array([z.floor_m for z in zones], dtype=np.float64),
            ceiling_m=np.array([z.ceiling_m for z in zones], dtype=np.float64),
            priority=np.array([z.priority for z in zones], dtype=np.int64),
            edge_a=np.concatenate(a_parts) if a_parts else np.zeros((0, 2)),
            edge_b=np.concatenate(b_parts) if b_parts else np.zeros((0, 2)),
            edge_zone=np.concatenate(zone_idx) if zone_idx else np.zeros(0, np.int64),
            edge_start=np.array(starts, dtype=np.int64),
            center=np.array([p.mean(axis=0) for p in a_parts]).reshape(-1, 2),
            radius=np.array([np.hypot(*(p - p.mean(axis=0)).T).max() for p in a_parts]),
        )


def altitude_known(P: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Tracks whose height is measured well enough to apply zone floors and ceilings."""
    out: NDArray[np.bool_] = P[:, 2, 2] < ALTITUDE_UNKNOWN_VAR
    return out


def _altitude_window(
    u: NDArray[np.float64], vu: NDArray[np.float64], known: NDArray[np.bool_], zs: ZoneSet
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``[t0, t1]`` (``[N, Z]``, from now on) during which the straight-line height is
    between each zone's floor and ceiling; ``t1 < t0`` when never."""
    floor = zs.floor_m[None, :]
    ceil = zs.ceiling_m[None, :]
    u2 = u[:, None]
    level_ok = ~known[:, None] | ((floor <= u2) & (u2 <= ceil))
    lo = np.where(level_ok, 0.0, np.inf)
    hi = np.where(level_ok, np.inf, -np.inf)
    moving = np.flatnonzero(known & (vu != 0))
    if moving.size:
        # vU is finite and non-zero here, so an infinite floor gives a signed infinity.
        inv = 1.0 / vu[moving, None]
        um = u[moving, None]
        tf = (floor - um) * inv
        tc = (ceil - um) * inv
        lo[moving] = np.minimum(tf, tc)
        hi[moving] = np.maximum(tf, tc)
    np.maximum(lo, 0.0, out=lo)
    return lo, hi


def time_to_zone(
    pos: NDArray[np.float64],
    vel: NDArray[np.float64],
    zs: ZoneSet,
    known_alt: NDArray[np.bool_] | None = None,
) -> NDArray[np.float64]:
    """Exact time (s) until each straight-line track ``pos[N, 3] + vel[N, 3]·t`` is inside
    each zone (horizontally inside or on the boundary, and between floor and ceiling),
    ``0`` if it is inside now, ``inf`` if never. Returns ``[N, Z]``.

    The ray is intersected with every boundary edge; the answer is the start of the
    altitude window if the track is horizontally inside then, else the first edge it
    crosses inward inside that window.
    """
    n, nz = pos.shape[0], len(zs)
    if n == 0 or nz == 0:
        return np.full((n, nz), np.inf)
    known = np.ones(n, dtype=bool) if known_alt is None else known_alt
    t0, t1 = _altitude_window(pos[:, 2], vel[:, 2], known, zs)
    window = t1 >= t0
    c = np.where(window, t0, 0.0)
    px = pos[:, 0:1] + vel[:, 0:1] * c
    py = pos[:, 1:2] + vel[:, 1:2] * c
    inside_at_c = shapely.intersects_xy(zs.polygons[None, :], px, py)

    # Ray p + v t against edge a + d s: t = (a−p)×d / v×d, s = (a−p)×v / v×d.
    # Counter-clockwise rings keep the interior on the left, so the ray enters through
    # an edge exactly when v×d < 0; only those need the division.
    dx = (zs.edge_b[:, 0] - zs.edge_a[:, 0])[None, :]
    dy = (zs.edge_b[:, 1] - zs.edge_a[:, 1])[None, :]
    ap_x = zs.edge_a[None, :, 0] - pos[:, 0:1]  # [N, S]
    ap_y = zs.edge_a[None, :, 1] - pos[:, 1:2]
    vx = vel[:, 0:1]
    vy = vel[:, 1:2]
    denom = vx * dy - vy * dx
    enter = denom < 0.0
    num_s = ap_x * vy - ap_y * vx
    # 0 <= s <= 1 with denom < 0, without dividing (a hair of tolerance for corners).
    enter &= num_s <= -1e-12 * denom
    enter &= num_s >= (1.0 + 1e-12) * denom
    t = ap_x * dy
    t -= ap_y * dx
    t /= np.where(enter, denom, -1.0)
    ze = zs.edge_zone
    enter &= t >= c[:, ze]
    enter &= t <= t1[:, ze]
    t[~enter] = np.inf
    first = np.minimum.reduceat(t, zs.edge_start, axis=1)
    out: NDArray[np.float64] = np.where(window & inside_at_c, c, np.where(window, first, np.inf))
    return out


@dataclass(frozen=True, slots=True)
class ZoneGeometry:
    """Everything the threat score needs about every (track, zone) pair, ``[N, Z]``."""

    inside: NDArray[np.bool_]
    distance_m: NDArray[np.float64]
    time_to_zone: NDArray[np.float64]
    cpa_m: NDArray[np.float64]
    cpa_time: NDArray[np.float64]
    p_enter: NDArray[np.float64]
    closing_speed: NDArray[np.float64]


def closest_approach(
    pos: NDArray[np.float64], vel: NDArray[np.float64], zs: ZoneSet, horizon_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Horizontal distance now, closest approach over the horizon on the straight-line
    prediction, and when: three ``[N, Z]`` arrays."""
    dist, cpa, t_cpa, _ = _approach(pos, vel, zs, horizon_s)
    return dist, cpa, t_cpa


def _approach(
    pos: NDArray[np.float64], vel: NDArray[np.float64], zs: ZoneSet, horizon_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """:func:`closest_approach` plus each zone's nearest point now (``[N, Z, 2]``).

    The time of closest approach is the along-track time of the zone's nearest point
    (clipped to the horizon): exact for a track passing a convex zone's nearest corner or
    edge, a one-call approximation otherwise (it only times the urgency of a miss).
    """
    n = pos.shape[0]
    pts = shapely.points(pos[:, :2])
    near = shapely.shortest_line(pts[:, None], zs.polygons[None, :])
    q = shapely.get_coordinates(near.ravel()).reshape(n, len(zs), 2, 2)[:, :, 1, :]
    dist = np.hypot(q[..., 0] - pos[:, None, 0], q[..., 1] - pos[:, None, 1])
    ends = np.stack([pos[:, :2], pos[:, :2] + vel[:, :2] * horizon_s], axis=1)
    cpa = shapely.distance(shapely.linestrings(ends)[:, None], zs.polygons[None, :])
    v2 = vel[:, 0] ** 2 + vel[:, 1] ** 2
    along = (q[..., 0] - pos[:, None, 0]) * vel[:, None, 0] + (q[..., 1] - pos[:, None, 1]) * vel[:, None, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cpa = np.where(v2[:, None] > 1e-18, np.clip(along / v2[:, None], 0.0, horizon_s), 0.0)
    return dist, cpa, t_cpa, q


def _standard_normals(k: int, dim: int) -> NDArray[np.float64]:
    """Fixed antithetic standard-normal draws (common random numbers): the probability of
    entering changes smoothly from one update to the next instead of jittering."""
    half = np.random.default_rng(0x5F3E).standard_normal((k // 2, dim))
    return np.concatenate([half, -half])


def enter_probability(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    zs: ZoneSet,
    horizon_s: float,
    samples: int = 32,
    rows: NDArray[np.bool_] | None = None,
) -> NDArray[np.float64]:
    """Probability ``[N, Z]`` that each track enters each zone within ``horizon_s``,
    by pushing fixed samples of the state distribution ``N(x, P)`` along straight lines.

    ``rows`` limits the work to tracks that can plausibly reach a zone (others get 0).
    Height is not sampled where it is unknown.
    """
    n, nz = x.shape[0], len(zs)
    out = np.zeros((n, nz))
    sel = np.flatnonzero(np.ones(n, bool) if rows is None else rows)
    if sel.size == 0 or nz == 0:
        return out
    xs = x[sel]
    Ps = P[sel].copy()
    known = altitude_known(Ps)
    # Unknown height: drop U and vU from the sampling (their variance is a placeholder).
    Ps[~known, 2, :] = 0.0
    Ps[~known, :, 2] = 0.0
    Ps[~known, 5, :] = 0.0
    Ps[~known, :, 5] = 0.0
    Ps = 0.5 * (Ps + np.swapaxes(Ps, 1, 2))
    # Eigen-decomposition tolerates the semi-definite matrices that the masking makes.
    w, V = np.linalg.eigh(Ps)
    L = V * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
    eps = _standard_normals(samples, 6)  # [K, 6]
    draws = xs[:, None, :] + np.einsum("nij,kj->nki", L, eps)  # [n, K, 6]
    m = sel.size
    flat = draws.reshape(m * samples, 6)
    known_flat = np.repeat(known, samples)
    # A sample can only enter a zone within the horizon if it can reach the zone's
    # bounding circle: the exact ray test runs on those samples only.
    gap = (
        np.hypot(flat[:, None, 0] - zs.center[None, :, 0], flat[:, None, 1] - zs.center[None, :, 1])
        - zs.radius
    )
    reach = (gap <= np.hypot(flat[:, 3], flat[:, 4])[:, None] * horizon_s).any(axis=1)
    ttz = np.full((m * samples, nz), np.inf)
    if reach.any():
        ttz[reach] = time_to_zone(flat[reach, :3], flat[reach, 3:], zs, known_flat[reach])
    out[sel] = np.mean(ttz.reshape(m, samples, nz) <= horizon_s, axis=1)
    return out


def zone_geometry(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    zs: ZoneSet,
    horizon_s: float,
    samples: int = 32,
    gate_sigma: float = 4.0,
    sample_rows: NDArray[np.bool_] | None = None,
) -> ZoneGeometry:
    """All per (track, zone) quantities for ``N`` states ``x[N, 6]`` with covariance ``P``.

    ``sample_rows`` limits the (costly) probability of entering to the tracks whose score
    could matter; the others get 0 unless they are inside."""
    n, nz = x.shape[0], len(zs)
    if n == 0 or nz == 0:
        z = np.zeros((n, nz))
        return ZoneGeometry(
            np.zeros((n, nz), bool), z + np.inf, z + np.inf, z + np.inf, z + np.inf, z, z.copy()
        )
    pos, vel = x[:, :3], x[:, 3:]
    known = altitude_known(P)
    ttz = time_to_zone(pos, vel, zs, known)
    dist, cpa, t_cpa, q = _approach(pos, vel, zs, horizon_s)
    inside = ttz == 0.0
    # Sampling is only worth it where a few sigma of position and velocity error could
    # bring the track to the zone within the horizon.
    sig_p = np.sqrt(np.maximum(P[:, 0, 0] + P[:, 1, 1], 0.0))
    sig_v = np.sqrt(np.maximum(P[:, 3, 3] + P[:, 4, 4], 0.0))
    reach = gate_sigma * (sig_p + sig_v * horizon_s)
    rows: NDArray[np.bool_] = np.asarray((cpa <= reach[:, None]).any(axis=1), dtype=bool)
    if sample_rows is not None:
        rows &= sample_rows
    p_enter = enter_probability(x, P, zs, horizon_s, samples, rows)
    p_enter = np.where(inside, 1.0, p_enter)
    # Closing speed towards each zone: velocity along the line to its nearest point.
    dx = q[..., 0] - pos[:, None, 0]
    dy = q[..., 1] - pos[:, None, 1]
    norm = np.hypot(dx, dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        closing = np.where(norm > 1e-9, (dx * vel[:, None, 0] + dy * vel[:, None, 1]) / norm, 0.0)
    return ZoneGeometry(inside, dist, ttz, cpa, np.where(cpa == 0, ttz, t_cpa), p_enter, closing)
