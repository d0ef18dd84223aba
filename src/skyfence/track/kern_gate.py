"""Compiled gating: coarse candidates and the exact chi-square test fused in one pass.

For each track, a window over the detections sorted by one key (azimuth for bearings,
circular; east for point detections, then the horizontal radius) proposes candidates,
and each candidate's innovation ``nu = z - zhat`` (angles wrapped) is tested at once
under ``S = Pzz + R`` (1x1, 2x2 written out, 3x3 by Cholesky). No candidate arrays, no
``[K,m,m]`` temporaries: the output holds only the pairs inside the gate. The windows
are exactly those of :func:`skyfence.track.gate.candidate_pairs`, so the pairs are the
same (in track-major order).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel

__all__ = ["gate_points", "gate_sorted_angle", "pair_d2", "pair_logdet"]

_TWO_PI = 2.0 * math.pi
_LOG_2PI = math.log(2.0 * math.pi)
_INV_TWO_PI = 1.0 / _TWO_PI


@kernel
def pair_d2(
    m: int, n0: float, n1: float, n2: float, a: float, b: float, d: float, c: float, e: float, f: float
) -> float:
    """Squared Mahalanobis distance of the innovation ``(n0, n1, n2)[:m]`` under the
    symmetric ``S = [[a, b, d], [b, c, e], [d, e, f]]`` (``inf`` where ``S`` is not
    positive definite). Scalars only: a call with array arguments would cost reference
    counting on every pair."""
    if not a > 0:
        return np.inf
    if m == 1:
        return n0 * n0 / a
    if m == 2:
        det = a * c - b * b
        if det > 0:
            return (c * n0 * n0 - 2.0 * b * n0 * n1 + a * n1 * n1) / det
        return np.inf
    l00 = math.sqrt(a)
    l10 = b / l00
    g = c - l10 * l10
    if not g > 0:
        return np.inf
    l11 = math.sqrt(g)
    l20 = d / l00
    l21 = (e - l20 * l10) / l11
    d = f - l20 * l20 - l21 * l21
    if not d > 0:
        return np.inf
    l22 = math.sqrt(d)
    y0 = n0 / l00
    y1 = (n1 - l10 * y0) / l11
    y2 = (n2 - l20 * y0 - l21 * y1) / l22
    return y0 * y0 + y1 * y1 + y2 * y2


@kernel
def pair_logdet(m: int, a: float, b: float, d: float, c: float, e: float, f: float) -> float:
    """``log det S`` (``S`` as in :func:`pair_d2`, positive definite)."""
    if m == 1:
        return math.log(a)
    if m == 2:
        return math.log(a * c - b * b)
    return math.log(a * (c * f - e * e) - b * (b * f - e * d) + d * (b * e - c * d))


@kernel
def _test_windows(
    zhat: NDArray[np.float64],
    Pzz: NDArray[np.float64],
    z: NDArray[np.float64],
    R: NDArray[np.float64],
    angles: NDArray[np.bool_],
    order: NDArray[np.int64],
    start: NDArray[np.int64],
    count: NDArray[np.int64],
    track_en: NDArray[np.float64],
    det_en: NDArray[np.float64],
    radius: NDArray[np.float64],
    check_radius: bool,
    thr: float,
    with_loglik: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """The exact test on each track's window: detections ``order[start[i]:][:count[i]]``
    (circular), optionally first within ``radius[i]`` horizontally."""
    n = zhat.shape[0]
    k = z.shape[0]
    m = z.shape[1]
    total = 0
    for i in range(n):
        total += count[i]
    ti = np.empty(total, dtype=np.int64)
    dj = np.empty(total, dtype=np.int64)
    d2 = np.empty(total)
    ll = np.empty(total)
    a0, a1, a2 = angles[0], m > 1 and angles[1], m > 2 and angles[2]
    cnt = 0
    for i in range(n):
        q = start[i]
        r2 = radius[i] * radius[i]
        for _ in range(count[i]):
            j = order[q]
            q = q + 1 if q + 1 < k else 0
            if check_radius:
                de = track_en[i, 0] - det_en[j, 0]
                dn = track_en[i, 1] - det_en[j, 1]
                if de * de + dn * dn > r2:
                    continue
            n0 = z[j, 0] - zhat[i, 0]
            if a0:
                n0 -= _TWO_PI * math.floor((n0 + math.pi) * _INV_TWO_PI)
            s00 = Pzz[i, 0, 0] + R[j, 0, 0]
            n1 = n2 = s01 = s02 = s11 = s12 = s22 = 0.0
            if m > 1:
                n1 = z[j, 1] - zhat[i, 1]
                if a1:
                    n1 -= _TWO_PI * math.floor((n1 + math.pi) * _INV_TWO_PI)
                s01 = Pzz[i, 0, 1] + R[j, 0, 1]
                s11 = Pzz[i, 1, 1] + R[j, 1, 1]
            if m > 2:
                n2 = z[j, 2] - zhat[i, 2]
                if a2:
                    n2 -= _TWO_PI * math.floor((n2 + math.pi) * _INV_TWO_PI)
                s02 = Pzz[i, 0, 2] + R[j, 0, 2]
                s12 = Pzz[i, 1, 2] + R[j, 1, 2]
                s22 = Pzz[i, 2, 2] + R[j, 2, 2]
            e = pair_d2(m, n0, n1, n2, s00, s01, s02, s11, s12, s22)
            if e <= thr:
                ti[cnt] = i
                dj[cnt] = j
                d2[cnt] = e
                if with_loglik:
                    ll[cnt] = -0.5 * (e + pair_logdet(m, s00, s01, s02, s11, s12, s22) + m * _LOG_2PI)
                else:
                    ll[cnt] = e
                cnt += 1
    return ti[:cnt], dj[:cnt], d2[:cnt], ll[:cnt]


@kernel
def gate_sorted_angle(
    zhat: NDArray[np.float64],
    Pzz: NDArray[np.float64],
    z: NDArray[np.float64],
    R: NDArray[np.float64],
    angles: NDArray[np.bool_],
    half: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    thr: float,
    with_loglik: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Bearings: detections sorted by azimuth ``z[:, 0]`` (wrapped, circular); track
    ``i`` sees those within ``half[i]`` of ``zhat[i, 0]`` (at most every detection once)."""
    n = zhat.shape[0]
    k = z.shape[0]
    key = z[:, 0] - _TWO_PI * np.floor((z[:, 0] + math.pi) / _TWO_PI)  # into [-pi, pi)
    order = np.argsort(key)
    saz = key[order]
    # Pass 1: each track's window (start in the virtual array saz - 2pi, saz, saz + 2pi
    # of 3k entries, and length); pass 2 tests them, its output allocated once.
    start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if not allowed[i]:
            continue
        lo_v = zhat[i, 0] - half[i]
        hi_v = zhat[i, 0] + half[i]
        a, b = 0, 3 * k
        while a < b:  # first entry >= lo_v
            mid = (a + b) >> 1
            if saz[mid % k] + _TWO_PI * (mid // k - 1) < lo_v:
                a = mid + 1
            else:
                b = mid
        lo = a
        a, b = lo, 3 * k
        while a < b:  # first entry > hi_v
            mid = (a + b) >> 1
            if saz[mid % k] + _TWO_PI * (mid // k - 1) <= hi_v:
                a = mid + 1
            else:
                b = mid
        start[i] = lo % k
        count[i] = min(a - lo, k)
    none = np.zeros((0, 2))
    return _test_windows(
        zhat, Pzz, z, R, angles, order, start, count, none, none, half, False, thr, with_loglik
    )


@kernel
def gate_points(
    zhat: NDArray[np.float64],
    Pzz: NDArray[np.float64],
    z: NDArray[np.float64],
    R: NDArray[np.float64],
    angles: NDArray[np.bool_],
    track_en: NDArray[np.float64],
    det_en: NDArray[np.float64],
    radius: NDArray[np.float64],
    dense: bool,
    allowed: NDArray[np.bool_],
    thr: float,
    with_loglik: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Point detections: candidates within ``radius[i]`` of track ``i``'s horizontal
    position ``track_en[i]`` (detections ``det_en [k,2]`` sorted by east, one window per
    track); ``dense`` tests every pair instead."""
    n = zhat.shape[0]
    k = z.shape[0]
    order = np.argsort(det_en[:, 0])
    se = det_en[order, 0]
    start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if not allowed[i]:
            continue
        if dense:
            count[i] = k
        else:
            start[i] = np.searchsorted(se, track_en[i, 0] - radius[i], side="left")
            count[i] = np.searchsorted(se, track_en[i, 0] + radius[i], side="right") - start[i]
    if dense:
        order = np.arange(k)
    return _test_windows(
        zhat, Pzz, z, R, angles, order, start, count, track_en, det_en, radius, not dense, thr, with_loglik
    )
