"""Compiled Kalman stages: EKF measurement prediction (polar, bearing, linear), the
one-detection-per-track update in place (GNN with a plain filter), and the constant
velocity prediction in place.

The measurement Jacobian of every kind touches only the position columns, so ``Pxz`` is
``P[:, :3] H'`` (a 6x3 by 3xm product) and ``Pzz = H Pxz[:3]``; each state is one loop
iteration with no ``[K,m,6]`` temporaries.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel

__all__ = ["KIND_BEARING", "KIND_LINEAR", "KIND_POLAR", "cv_predict", "ekf_measure", "ekf_update_one"]

KIND_LINEAR = 0
KIND_POLAR = 1
KIND_BEARING = 2

_TWO_PI = 2.0 * math.pi
_INV_TWO_PI = 1.0 / _TWO_PI


@kernel
def _h_and_jacobian(
    kind: int, m: int, px: float, py: float, pz: float, sx: float, sy: float, sz: float
) -> tuple[float, float, float, float, float, float, float, float, float, float, float, float]:
    """``h`` of position ``(px, py, pz)`` seen from ``(sx, sy, sz)`` (3 values, the first
    ``m`` used) and its position Jacobian row by row (9 values). Scalars in and out: a
    call with array arguments would cost reference counting per state."""
    if kind == KIND_LINEAR:
        return px, py, pz, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0
    e = px - sx
    n = py - sy
    u = pz - sz
    rh2 = max(e * e + n * n, 1e-12)
    rh = math.sqrt(rh2)
    rh_m = max(math.hypot(e, n), 1e-6)
    r2 = rh2 + u * u
    az = math.atan2(e, n)
    az0, az1 = n / rh2, -e / rh2  # azimuth row
    el0, el1, el2 = -u * e / (r2 * rh), -u * n / (r2 * rh), rh / r2  # elevation row
    if kind == KIND_POLAR:
        if m == 2:
            return rh_m, az, 0.0, e / rh, n / rh, 0.0, az0, az1, 0.0, 0.0, 0.0, 0.0
        r = math.sqrt(r2)
        rng = math.sqrt(rh_m * rh_m + u * u)
        el = math.atan2(u, rh_m)
        return rng, az, el, e / r, n / r, u / r, az0, az1, 0.0, el0, el1, el2
    if m == 2:
        return az, math.atan2(u, rh_m), 0.0, az0, az1, 0.0, el0, el1, el2, 0.0, 0.0, 0.0
    return az, 0.0, 0.0, az0, az1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0


@kernel
def ekf_measure(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    kind: int,
    m: int,
    spos: NDArray[np.float64],
    with_pxz: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``zhat [K,m]``, ``Pzz [K,m,m]``, ``Pxz [K,6,m]`` of states ``x [K,6]``, ``P [K,6,6]``
    seen from ``spos [1,3]`` (one sensor) or ``[K,3]`` (one per state). Without
    ``with_pxz`` (gating) ``Pxz`` is empty and only its position rows are formed."""
    k = x.shape[0]
    zhat = np.empty((k, m))
    Pzz = np.empty((k, m, m))
    Pxz = np.empty((k if with_pxz else 0, 6, m))
    rows = 6 if with_pxz else 3
    T = np.empty((6, m))
    zh = np.empty(3)
    H = np.empty((3, 3))
    per_state = spos.shape[0] > 1
    for i in range(k):
        si = i if per_state else 0
        v = _h_and_jacobian(kind, m, x[i, 0], x[i, 1], x[i, 2], spos[si, 0], spos[si, 1], spos[si, 2])
        zh[0], zh[1], zh[2] = v[0], v[1], v[2]
        H[0, 0], H[0, 1], H[0, 2] = v[3], v[4], v[5]
        H[1, 0], H[1, 1], H[1, 2] = v[6], v[7], v[8]
        H[2, 0], H[2, 1], H[2, 2] = v[9], v[10], v[11]
        for a in range(m):
            zhat[i, a] = zh[a]
        for r in range(rows):
            for b in range(m):
                T[r, b] = P[i, r, 0] * H[b, 0] + P[i, r, 1] * H[b, 1] + P[i, r, 2] * H[b, 2]
                if with_pxz:
                    Pxz[i, r, b] = T[r, b]
        for a in range(m):
            for b in range(m):
                Pzz[i, a, b] = H[a, 0] * T[0, b] + H[a, 1] * T[1, b] + H[a, 2] * T[2, b]
    return zhat, Pzz, Pxz


@kernel
def ekf_update_one(
    xm: NDArray[np.float64],
    Pm: NDArray[np.float64],
    track: NDArray[np.int64],
    z: NDArray[np.float64],
    R: NDArray[np.float64],
    kind: int,
    angles: NDArray[np.bool_],
    spos: NDArray[np.float64],
) -> None:
    """EKF update of mode 0 of ``xm [N,M,6]``, ``Pm [N,M,6,6]`` in place, pair ``k``
    updating track ``track[k]`` with ``z[k]``, ``R[k]`` (at most one pair per track).
    ``P - K Pxz'`` is symmetrised as the numpy path does."""
    npair = track.shape[0]
    m = z.shape[1]
    zh = np.empty(3)
    H = np.empty((3, 3))
    Pxz = np.empty((6, m))
    S = np.empty((m, m))
    L = np.zeros((m, m))
    inv = np.empty(m)
    G = np.empty((6, m))
    nu = np.empty(m)
    per_pair = spos.shape[0] > 1
    for p in range(npair):
        t = track[p]
        if not 0 <= t < xm.shape[0]:
            raise ValueError("track index out of range")  # no bounds checks below
        si = p if per_pair else 0
        v = _h_and_jacobian(
            kind, m, xm[t, 0, 0], xm[t, 0, 1], xm[t, 0, 2], spos[si, 0], spos[si, 1], spos[si, 2]
        )
        zh[0], zh[1], zh[2] = v[0], v[1], v[2]
        H[0, 0], H[0, 1], H[0, 2] = v[3], v[4], v[5]
        H[1, 0], H[1, 1], H[1, 2] = v[6], v[7], v[8]
        H[2, 0], H[2, 1], H[2, 2] = v[9], v[10], v[11]
        for r in range(6):
            for b in range(m):
                Pxz[r, b] = Pm[t, 0, r, 0] * H[b, 0] + Pm[t, 0, r, 1] * H[b, 1] + Pm[t, 0, r, 2] * H[b, 2]
        for a in range(m):
            for b in range(m):
                S[a, b] = H[a, 0] * Pxz[0, b] + H[a, 1] * Pxz[1, b] + H[a, 2] * Pxz[2, b] + R[p, a, b]
            d = z[p, a] - zh[a]
            if angles[a]:
                d -= _TWO_PI * math.floor((d + math.pi) * _INV_TWO_PI)
            nu[a] = d
        # Cholesky of S, then G = Pxz S^-1 row by row (forward then backward solve).
        ok = True
        for a in range(m):
            for b in range(a + 1):
                acc = S[a, b]
                for c in range(b):
                    acc -= L[a, c] * L[b, c]
                if a == b:
                    if not acc > 0:
                        ok = False
                        break
                    L[a, a] = math.sqrt(acc)
                else:
                    L[a, b] = acc / L[b, b]
            if not ok:
                break
        if not ok:
            continue  # not positive definite: leave the track as predicted
        for a in range(m):
            inv[a] = 1.0 / L[a, a]  # multiply, not divide, in the 6m solves below
        for r in range(6):
            for a in range(m):
                acc = Pxz[r, a]
                for c in range(a):
                    acc -= L[a, c] * G[r, c]
                G[r, a] = acc * inv[a]
            for a in range(m - 1, -1, -1):
                acc = G[r, a]
                for c in range(a + 1, m):
                    acc -= L[c, a] * G[r, c]
                G[r, a] = acc * inv[a]
        for r in range(6):
            acc = 0.0
            for a in range(m):
                acc += G[r, a] * nu[a]
            xm[t, 0, r] += acc
        # P - G Pxz', symmetrised: each (r, c), (c, r) couple read, then written once.
        for r in range(6):
            for c in range(r, 6):
                a_rc = Pm[t, 0, r, c]
                a_cr = Pm[t, 0, c, r]
                for a in range(m):
                    a_rc -= G[r, a] * Pxz[c, a]
                    a_cr -= G[c, a] * Pxz[r, a]
                sym = 0.5 * (a_rc + a_cr)
                Pm[t, 0, r, c] = sym
                Pm[t, 0, c, r] = sym


@kernel
def cv_predict(xm: NDArray[np.float64], Pm: NDArray[np.float64], dt: float, Q: NDArray[np.float64]) -> None:
    """Constant velocity step in place for every track and mode: ``x[:3] += dt x[3:]``,
    ``P <- F P F' + Q`` with ``F = [[I, dt I], [0, I]]`` applied by blocks."""
    n, M = xm.shape[0], xm.shape[1]
    for i in range(n):
        for q in range(M):
            for a in range(3):
                xm[i, q, a] += dt * xm[i, q, a + 3]
            for a in range(3):
                for c in range(6):
                    Pm[i, q, a, c] += dt * Pm[i, q, a + 3, c]
            for r in range(6):
                for a in range(3):
                    Pm[i, q, r, a] += dt * Pm[i, q, r, a + 3]
            for r in range(6):
                for c in range(6):
                    Pm[i, q, r, c] += Q[r, c]
