"""Track initiation: one-point tracks from point detections, and bearing-only targets
triangulated from two sensors' bearings (vectorised over candidate pairs).

A triangulation pairs each new unassociated bearing with the pooled unassociated
bearings of *other* sensors from the last few seconds, intersects the two rays in the
horizontal plane (least squares; with elevations, the two heights must agree within the
gate), keeps intersections in front of both sensors, inside their range and with a
crossing angle wide enough to be well conditioned, and picks a one-to-one set of pairs
with ``linear_sum_assignment``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from skyfence.model.detections import Detections
from skyfence.track.measure import to_position

__all__ = ["BearingPool", "Triangulation", "apparent_size_ranges", "point_states", "triangulate"]


def point_states(
    kind: str,
    z: NDArray[np.float64],
    R: NDArray[np.float64],
    spos: NDArray[np.float64],
    speed_sigma: float,
    unobserved_height_var: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Initial ``x [K,6]``, ``P [K,6,6]`` of one-point tracks (velocity unknown, zero mean)."""
    pos, cov, has_u = to_position(kind, z, R, spos, unobserved_height_var)
    k = z.shape[0]
    x = np.zeros((k, 6))
    x[:, :3] = pos
    P = np.zeros((k, 6, 6))
    P[:, :3, :3] = cov
    v = speed_sigma**2
    P[:, 3, 3] = P[:, 4, 4] = v
    P[:, 5, 5] = np.where(has_u, v / 4.0, v / 16.0)
    return x, P


@dataclass(frozen=True, slots=True)
class BearingPool:
    """Unassociated bearings kept for triangulation: sensor index, time, sensor position,
    azimuth, elevation (NaN if not measured), their variances, and the range interval
    the object can be at (the sensor's reach; for a camera also what its apparent size
    allows, see :func:`apparent_size_ranges`)."""

    sensor: NDArray[np.int64]
    t: NDArray[np.float64]
    spos: NDArray[np.float64]
    az: NDArray[np.float64]
    el: NDArray[np.float64]
    var_az: NDArray[np.float64]
    var_el: NDArray[np.float64]
    max_range: NDArray[np.float64]
    min_range: NDArray[np.float64]

    @classmethod
    def empty(cls) -> BearingPool:
        z = np.zeros(0)
        return cls(np.zeros(0, np.int64), z, np.zeros((0, 3)), z, z, z, z, z, z)

    @classmethod
    def from_detections(
        cls,
        det: Detections,
        sensor: int,
        spos: NDArray[np.float64],
        max_range: float,
        ranges: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    ) -> BearingPool:
        """``ranges``: per-detection ``(lo, hi)`` range bounds, narrowing ``[0, max_range]``."""
        k = len(det)
        has_el = det.dim == 2
        lo = np.zeros(k) if ranges is None else np.asarray(ranges[0], dtype=np.float64)
        hi = np.full(k, max_range) if ranges is None else np.minimum(ranges[1], max_range)
        return cls(
            np.full(k, sensor, dtype=np.int64),
            det.t.copy(),
            np.tile(spos, (k, 1)),
            det.z[:, 0].copy(),
            det.z[:, 1].copy() if has_el else np.full(k, np.nan),
            det.R[:, 0, 0].copy(),
            det.R[:, 1, 1].copy() if has_el else np.full(k, np.nan),
            hi,
            lo,
        )

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def take(self, idx: NDArray[np.int64] | NDArray[np.bool_]) -> BearingPool:
        return BearingPool(
            self.sensor[idx],
            self.t[idx],
            self.spos[idx],
            self.az[idx],
            self.el[idx],
            self.var_az[idx],
            self.var_el[idx],
            self.max_range[idx],
            self.min_range[idx],
        )

    @staticmethod
    def concat(a: BearingPool, b: BearingPool) -> BearingPool:
        return BearingPool(
            *(
                np.concatenate([getattr(a, f), getattr(b, f)])
                for f in ("sensor", "t", "spos", "az", "el", "var_az", "var_el", "max_range", "min_range")
            )
        )


def apparent_size_ranges(
    pixels: NDArray[np.float64], ifov_rad: float, size_m: tuple[float, float], pixel_error: float = 1.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Range interval of objects of ``size_m = (smallest, largest)`` metres that a camera
    with instantaneous field of view ``ifov_rad`` sees ``pixels`` across (give or take
    ``pixel_error``): an object spans ``size / (range * ifov)`` pixels. Two cameras looking
    at two far-off objects have bearings that cross close by; the crossing is out of the
    interval both apparent sizes allow, so no ghost starts there."""
    px = np.asarray(pixels, dtype=np.float64)
    hi_px = px + pixel_error
    lo_px = np.maximum(px - pixel_error, 0.5)
    return size_m[0] / (hi_px * ifov_rad), size_m[1] / (lo_px * ifov_rad)


@dataclass(frozen=True, slots=True)
class Triangulation:
    """Chosen pairs (row of the new bearings, row of the pool) and the initial states."""

    new: NDArray[np.int64]
    old: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]


def _intersect(
    a: BearingPool,
    b: BearingPool,
    min_angle_rad: float,
    height_gate: float,
    default_height: float,
    unobserved_height_var: float,
    ceiling: float = np.inf,
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Row-wise intersection of rays ``a[k]`` and ``b[k]``: ok, position, covariance, cost."""
    sa, ca = np.sin(a.az), np.cos(a.az)
    sb, cb = np.sin(b.az), np.cos(b.az)
    dx = b.spos[:, 0] - a.spos[:, 0]
    dy = b.spos[:, 1] - a.spos[:, 1]
    det = sb * ca - sa * cb  # sin of the crossing angle (signed)
    safe = np.where(np.abs(det) > 1e-12, det, 1e-12)
    s = (-dx * cb + sb * dy) / safe  # range along ray a
    r = (sa * dy - ca * dx) / safe  # range along ray b
    ok = (s > 0) & (r > 0) & (np.abs(det) >= math.sin(min_angle_rad))
    ok &= (s <= a.max_range) & (r <= b.max_range) & (s >= a.min_range) & (r >= b.min_range)
    k = a.az.shape[0]
    pos = np.zeros((k, 3))
    pos[:, 0] = a.spos[:, 0] + s * sa
    pos[:, 1] = a.spos[:, 1] + s * ca
    # Cross-range errors along each ray's normal, combined in information form.
    wa = 1.0 / np.maximum(s * s * a.var_az, 1e-6)
    wb = 1.0 / np.maximum(r * r * b.var_az, 1e-6)
    i11 = wa * ca * ca + wb * cb * cb
    i22 = wa * sa * sa + wb * sb * sb
    i12 = -wa * ca * sa - wb * cb * sb
    dinfo = np.maximum(i11 * i22 - i12 * i12, 1e-300)
    cov = np.zeros((k, 3, 3))
    cov[:, 0, 0] = i22 / dinfo
    cov[:, 1, 1] = i11 / dinfo
    cov[:, 0, 1] = cov[:, 1, 0] = -i12 / dinfo
    # Heights from each ray's elevation at its range; they must agree.
    hs = s  # horizontal range along ray a
    ua = a.spos[:, 2] + hs * np.tan(np.nan_to_num(a.el))
    ub = b.spos[:, 2] + r * np.tan(np.nan_to_num(b.el))
    # Height variance: the elevation error at that range, plus the range error along the
    # ray (from the horizontal intersection) times the slope of the ray.
    var_s = sa * sa * cov[:, 0, 0] + ca * ca * cov[:, 1, 1] + 2 * sa * ca * cov[:, 0, 1]
    var_r = sb * sb * cov[:, 0, 0] + cb * cb * cov[:, 1, 1] + 2 * sb * cb * cov[:, 0, 1]
    ta, tb = np.tan(np.nan_to_num(a.el)), np.tan(np.nan_to_num(b.el))
    va = (
        (hs / np.cos(np.nan_to_num(a.el)) ** 2) ** 2 * np.nan_to_num(a.var_el, nan=1.0)
        + ta * ta * var_s
        + 1.0
    )
    vb = (
        (r / np.cos(np.nan_to_num(b.el)) ** 2) ** 2 * np.nan_to_num(b.var_el, nan=1.0) + tb * tb * var_r + 1.0
    )
    has_a, has_b = np.isfinite(a.el), np.isfinite(b.el)
    both = has_a & has_b
    d2 = np.where(both, (ua - ub) ** 2 / (va + vb), 0.0)
    ok &= d2 <= height_gate
    wa_u = np.where(has_a, 1.0 / va, 0.0)
    wb_u = np.where(has_b, 1.0 / vb, 0.0)
    wsum = wa_u + wb_u
    none = wsum == 0
    pos[:, 2] = np.where(none, default_height, (wa_u * ua + wb_u * ub) / np.where(none, 1.0, wsum))
    cov[:, 2, 2] = np.where(none, unobserved_height_var, 1.0 / np.where(none, 1.0, wsum))
    # Nothing flies far below every sensor: such an intersection is a ghost.
    floor = np.minimum(a.spos[:, 2], b.spos[:, 2]) - 3.0 * np.sqrt(cov[:, 2, 2]) - 100.0
    ok &= pos[:, 2] >= floor
    ok &= pos[:, 2] <= ceiling + 3.0 * np.sqrt(cov[:, 2, 2])
    cost = d2 + 0.5 * np.log(dinfo**-1)
    return ok, pos, cov, cost


def triangulate(
    new: BearingPool,
    pool: BearingPool,
    window_s: float,
    min_angle_deg: float,
    height_gate: float,
    speed_sigma: float,
    default_height: float,
    unobserved_height_var: float,
    max_pairs: int = 2_000_000,
    ceiling: float = np.inf,
) -> Triangulation:
    """Initial states for targets seen as bearings by ``new`` and by other sensors in ``pool``."""
    empty = Triangulation(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 6)), np.zeros((0, 6, 6)))
    nn, no = len(new), len(pool)
    if nn == 0 or no == 0 or nn * no > max_pairs:
        return empty
    ii = np.repeat(np.arange(nn), no)
    jj = np.tile(np.arange(no), nn)
    keep = (new.sensor[ii] != pool.sensor[jj]) & (np.abs(new.t[ii] - pool.t[jj]) <= window_s)
    ii, jj = ii[keep], jj[keep]
    if ii.size == 0:
        return empty
    ok, pos, cov, cost = _intersect(
        new.take(ii),
        pool.take(jj),
        math.radians(min_angle_deg),
        height_gate,
        default_height,
        unobserved_height_var,
        ceiling,
    )
    ii, jj, pos, cov, cost = ii[ok], jj[ok], pos[ok], cov[ok], cost[ok]
    if ii.size == 0:
        return empty
    big = float(np.max(cost)) + 1e6
    C = np.full((nn, no), big)
    C[ii, jj] = cost
    r, c = linear_sum_assignment(C)
    chosen = C[r, c] < big
    r, c = r[chosen], c[chosen]
    lookup = np.full((nn, no), -1, dtype=np.int64)
    lookup[ii, jj] = np.arange(ii.size)
    sel = lookup[r, c]
    k = sel.size
    x = np.zeros((k, 6))
    x[:, :3] = pos[sel]
    P = np.zeros((k, 6, 6))
    P[:, :3, :3] = cov[sel]
    # The older bearing saw the target up to window_s earlier: widen by that motion.
    lag = np.abs(new.t[r] - pool.t[c])
    P[:, 0, 0] += (speed_sigma * lag) ** 2
    P[:, 1, 1] += (speed_sigma * lag) ** 2
    v = speed_sigma**2
    P[:, 3, 3] = P[:, 4, 4] = v
    P[:, 5, 5] = v / 4.0
    return Triangulation(r.astype(np.int64), c.astype(np.int64), x, P)
