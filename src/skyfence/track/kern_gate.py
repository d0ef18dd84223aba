"""Compiled gating: coarse candidates and the exact chi-square test fused in one pass.

For each track, a window over the detections sorted by azimuth (bearings, circular) or
the cells of a uniform grid within its horizontal radius (point detections) proposes
candidates, and each candidate's innovation ``nu = z - zhat`` (angles wrapped) is tested
at once under ``S = Pzz + R`` (1x1, 2x2 written out, 3x3 by Cholesky). No candidate arrays, no
``[K,m,m]`` temporaries: the output holds only the pairs inside the gate. The candidates
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
    k = order.shape[0]
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
    # Pass 1: each track's window (start and length) in the sorted azimuths extended by
    # a turn either side; pass 2 tests them, its output allocated once.
    ext = np.concatenate((saz - _TWO_PI, saz, saz + _TWO_PI))
    lo = np.searchsorted(ext, zhat[:, 0] - half, side="left")
    hi = np.searchsorted(ext, zhat[:, 0] + half, side="right")
    start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if allowed[i]:
            start[i] = lo[i] % k
            count[i] = min(hi[i] - lo[i], k)
    none = np.zeros((0, 2))
    return _test_windows(
        zhat, Pzz, z, R, angles, order, start, count, none, none, half, False, thr, with_loglik
    )


@kernel
def _grid_sweep(
    track_en: NDArray[np.float64],
    det_en: NDArray[np.float64],
    radius: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    grid: NDArray[np.float64],
    ne: int,
    nn: int,
    cstart: NDArray[np.int64],
    by_cell: NDArray[np.int64],
    start: NDArray[np.int64],
    count: NDArray[np.int64],
    out: NDArray[np.int64],
) -> None:
    """One sweep of each track's cells: with ``out`` empty, the number of candidates
    into ``count``; otherwise the candidates into ``out[start[i]:]``. (A flag argument
    would be typed as a literal and compile the sweep twice.)"""
    e0, e1, n0, n1, cell = grid[0], grid[1], grid[2], grid[3], grid[4]
    filling = out.shape[0] > 0
    for i in range(track_en.shape[0]):
        if not allowed[i]:
            continue
        te, tn, r = track_en[i, 0], track_en[i, 1], radius[i]
        if te + r < e0 or te - r > e1 or tn + r < n0 or tn - r > n1:
            continue
        ca = max(math.floor((te - r - e0) / cell), 0)
        cb = min(math.floor((te + r - e0) / cell), ne - 1)
        ra = max(math.floor((tn - r - n0) / cell), 0)
        rb = min(math.floor((tn + r - n0) / cell), nn - 1)
        r2 = r * r
        got = 0
        base = start[i]
        for row in range(ra, rb + 1):
            for c in range(row * ne + ca, row * ne + cb + 1):
                for q in range(cstart[c], cstart[c + 1]):
                    j = by_cell[q]
                    de = te - det_en[j, 0]
                    dn = tn - det_en[j, 1]
                    if de * de + dn * dn <= r2:
                        if filling:
                            out[base + got] = j
                        got += 1
        if not filling:
            count[i] = got


@kernel
def _grid_candidates(
    track_en: NDArray[np.float64],
    det_en: NDArray[np.float64],
    radius: NDArray[np.float64],
    allowed: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Detections within ``radius[i]`` of each track, through a uniform grid of cells about
    the mean radius wide: ``(cand, start, count)``, track ``i``'s candidates being
    ``cand[start[i]:start[i] + count[i]]``."""
    n = track_en.shape[0]
    k = det_en.shape[0]
    start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    if k == 0:
        return np.zeros(0, dtype=np.int64), start, count
    e0, e1 = det_en[:, 0].min(), det_en[:, 0].max()
    n0, n1 = det_en[:, 1].min(), det_en[:, 1].max()
    # Cells about the mean radius wide (np.median would cost seconds of compile time).
    cell = 0.0
    for i in range(n):
        cell += radius[i]
    cell = max(cell / max(n, 1), 1e-3)
    ne = int((e1 - e0) / cell) + 1
    nn = int((n1 - n0) / cell) + 1
    if ne * nn > 4 * k + 16:  # no more cells than a few per detection
        cell *= math.sqrt(ne * nn / (4 * k + 16))
        ne = int((e1 - e0) / cell) + 1
        nn = int((n1 - n0) / cell) + 1
    # Counting sort of the detections by cell.
    cid = np.empty(k, dtype=np.int64)
    cstart = np.zeros(ne * nn + 1, dtype=np.int64)
    for j in range(k):
        ce = min(int((det_en[j, 0] - e0) / cell), ne - 1)
        cn = min(int((det_en[j, 1] - n0) / cell), nn - 1)
        cid[j] = cn * ne + ce
        cstart[cid[j] + 1] += 1
    for c in range(ne * nn):
        cstart[c + 1] += cstart[c]
    fill = cstart[:-1].copy()
    by_cell = np.empty(k, dtype=np.int64)
    for j in range(k):
        by_cell[fill[cid[j]]] = j
        fill[cid[j]] += 1
    # Two sweeps over each track's cells: count, then fill.
    grid = np.array([e0, e1, n0, n1, cell])
    _grid_sweep(
        track_en,
        det_en,
        radius,
        allowed,
        grid,
        ne,
        nn,
        cstart,
        by_cell,
        start,
        count,
        np.empty(0, dtype=np.int64),
    )
    total = 0
    for i in range(n):
        start[i] = total
        total += count[i]
    cand = np.empty(total, dtype=np.int64)
    _grid_sweep(track_en, det_en, radius, allowed, grid, ne, nn, cstart, by_cell, start, count, cand)
    return cand, start, count


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
    position ``track_en[i]`` (a uniform grid over the detections ``det_en [k,2]``);
    ``dense`` tests every pair instead."""
    n = zhat.shape[0]
    k = z.shape[0]
    if dense:
        order = np.arange(k)
        start = np.zeros(n, dtype=np.int64)
        count = np.zeros(n, dtype=np.int64)
        for i in range(n):
            if allowed[i]:
                count[i] = k
    else:
        order, start, count = _grid_candidates(track_en, det_en, radius, allowed)
    return _test_windows(
        zhat, Pzz, z, R, angles, order, start, count, track_en, det_en, radius, False, thr, with_loglik
    )
