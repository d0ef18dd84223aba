"""Gating: which (track, detection) pairs are close enough to be the same target.

Two stages. A coarse index proposes candidate pairs: all pairs when the problem is
small, otherwise each track's horizontal radius (point detections) or azimuth window
(bearings), so the work grows with the number of plausible pairs rather than tracks x
detections. Then the exact chi-square gate: the Mahalanobis distance of every candidate
pair's innovation under ``S = Pzz + R``. :func:`gate` runs both fused in one compiled
pass per track (:mod:`skyfence.track.kern_gate`: a uniform grid for points, the sorted
azimuths for bearings); :func:`candidate_pairs` and ``_gate_numpy`` are the array
reference (k-d tree or east sweep, batched Cholesky), used for ``m > 3``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from scipy.stats import chi2

from skyfence.model.detections import Detections
from skyfence.track.filters import gaussian_loglik
from skyfence.track.kern_gate import gate_points, gate_sorted_angle
from skyfence.track.measure import (
    Nonlinear,
    angle_mask,
    is_linear,
    predict_measurement,
    residual,
    to_position,
    wrap,
)

__all__ = ["COARSE_DENSE_PAIRS", "DENSE_PAIRS", "GatedPairs", "candidate_pairs", "gate", "gate_threshold"]

#: Below this many track x detection pairs every pair is checked exactly (an index costs more).
DENSE_PAIRS = 256
#: The same for linear (position) detections, whose exact test is a few array operations.
DENSE_PAIRS_LINEAR = 1024
#: Below this many pairs the coarse test is one dense distance matrix; above, a k-d tree.
COARSE_DENSE_PAIRS = 40_000


@lru_cache(maxsize=16)
def gate_threshold(probability: float, m: int) -> float:
    """Chi-square quantile for an ``m``-dimensional innovation."""
    return float(chi2.ppf(probability, m))


@dataclass(frozen=True, slots=True)
class GatedPairs:
    """Pairs inside the gate: ``track[k]`` with detection ``det[k]``, squared Mahalanobis
    distance ``d2[k]`` and Gaussian log-likelihood ``loglik[k]``."""

    track: NDArray[np.int64]
    det: NDArray[np.int64]
    d2: NDArray[np.float64]
    loglik: NDArray[np.float64]

    @classmethod
    def empty(cls) -> GatedPairs:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, np.zeros(0), np.zeros(0))


def _flatten(lists: NDArray[np.object_] | list[list[int]]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    rows = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    cols = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
    return rows, cols


def _sweep(
    te: NDArray[np.float64],
    tn: NDArray[np.float64],
    radius: NDArray[np.float64],
    de: NDArray[np.float64],
    dn: NDArray[np.float64],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pairs within ``radius`` of each track: detections sorted by east, one window per
    track found by binary search, then the exact distance on the few in the window.
    Work grows with the pairs in the windows, not with tracks x detections (a dense
    distance matrix cost more than everything else in a 100-target scan)."""
    order = np.argsort(de)
    se = de[order]
    lo = np.searchsorted(se, te - radius, side="left")
    counts = np.searchsorted(se, te + radius, side="right") - lo
    total = int(counts.sum())
    if total == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    rows = np.repeat(np.arange(te.shape[0], dtype=np.int64), counts)
    ends = np.cumsum(counts)
    cols = order[np.arange(total) + np.repeat(lo - (ends - counts), counts)]
    d_e, d_n = te[rows] - de[cols], tn[rows] - dn[cols]
    r = radius[rows]
    keep = d_e * d_e + d_n * d_n <= r * r
    return rows[keep], cols[keep].astype(np.int64)


def _point_keys(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    det: Detections,
    spos: NDArray[np.float64],
    g: float,
    max_gate_m: float,
    unobserved_height_var: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Horizontal detection positions ``[k,2]`` and each track's search radius ``[n]``."""
    # Radius: the gate along the widest axis of the track and of the detection.
    trk_r = g * np.sqrt(np.maximum(P[:, 0, 0], P[:, 1, 1]) + np.abs(P[:, 0, 1]))
    if det.kind == "polar":
        # Horizontal point and a bound on its variance, without propagating each R.
        r, az = det.z[:, 0], det.z[:, 1]
        rh = r * np.cos(det.z[:, 2]) if det.dim == 3 else r
        pos = np.column_stack([spos[0] + rh * np.sin(az), spos[1] + rh * np.cos(az)])
        # Elevation error moves the point radially by r sin(el) d(el): small when low.
        ang = det.R[:, 1, 1] + (np.sin(det.z[:, 2]) ** 2 * det.R[:, 2, 2] if det.dim == 3 else 0.0)
        det_r = g * np.sqrt(np.max(det.R[:, 0, 0] + r * r * ang))
    elif is_linear(det.kind):
        pos, cov = det.z[:, :2], det.R
        det_r = g * math.sqrt(float(np.max(np.maximum(cov[:, 0, 0], cov[:, 1, 1]) + np.abs(cov[:, 0, 1]))))
    else:
        pos3, cov, _ = to_position(det.kind, det.z, det.R, spos, unobserved_height_var)
        pos = pos3[:, :2]
        det_r = g * np.sqrt(np.max(np.maximum(cov[:, 0, 0], cov[:, 1, 1]) + np.abs(cov[:, 0, 1])))
    radius: NDArray[np.float64] = np.minimum(trk_r + det_r, max_gate_m)
    return np.ascontiguousarray(pos[:, :2]), radius


def _bearing_half(Pzz: NDArray[np.float64], det: Detections, g: float) -> NDArray[np.float64]:
    """Half-width of each track's azimuth window: the gate under the widest ``R``."""
    half: NDArray[np.float64] = np.minimum(g * np.sqrt(Pzz[:, 0, 0] + det.R[:, 0, 0].max()), np.pi)
    return half


def candidate_pairs(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    det: Detections,
    spos: NDArray[np.float64],
    zhat: NDArray[np.float64],
    Pzz: NDArray[np.float64],
    threshold: float,
    max_gate_m: float,
    unobserved_height_var: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Coarse candidate pairs (a superset of the gated ones, up to ``max_gate_m``)."""
    n, k = x.shape[0], len(det)
    if n * k <= (DENSE_PAIRS_LINEAR if is_linear(det.kind) else DENSE_PAIRS):
        rows, cols = np.divmod(np.arange(n * k, dtype=np.int64), k)
        return rows, cols
    g = np.sqrt(threshold)
    if det.kind == "bearing":
        # Azimuth index: sorted detection azimuths, one interval per track.
        az = det.z[:, 0]
        half = _bearing_half(Pzz, det, g)
        order = np.argsort(az)
        saz = az[order]
        ext = np.concatenate([saz - 2 * np.pi, saz, saz + 2 * np.pi])
        ext_idx = np.concatenate([order, order, order])
        lo = np.searchsorted(ext, zhat[:, 0] - half, side="left")
        hi = np.searchsorted(ext, zhat[:, 0] + half, side="right")
        counts = np.minimum(hi - lo, k)
        rows = np.repeat(np.arange(n), counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        cols = ext_idx[np.repeat(lo, counts) + offs]
        return rows, cols
    pos, radius = _point_keys(x, P, det, spos, g, max_gate_m, unobserved_height_var)
    if n * k <= COARSE_DENSE_PAIRS:
        return _sweep(x[:, 0], x[:, 1], radius, pos[:, 0], pos[:, 1])
    tree = cKDTree(pos[:, :2])
    lists = tree.query_ball_point(x[:, :2], radius, return_sorted=False)
    return _flatten(lists)


def gate(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    det: Detections,
    spos: NDArray[np.float64],
    probability: float,
    method: Nonlinear,
    max_gate_m: float,
    unobserved_height_var: float,
    allowed: NDArray[np.bool_] | None = None,
    with_loglik: bool = True,
) -> GatedPairs:
    """Pairs of tracks (``x [N,6]``, ``P [N,6,6]``) and ``det`` inside the chi-square gate.
    ``allowed [N]`` excludes tracks (e.g. those bound to another identity);
    ``with_loglik=False`` (GNN) leaves ``loglik`` equal to ``d2``, not computed."""
    n, k = x.shape[0], len(det)
    if n == 0 or k == 0:
        return GatedPairs.empty()
    m = det.dim
    thr = gate_threshold(probability, m)
    if is_linear(det.kind):
        zhat, Pzz = x[:, :m], P[:, :m, :m]  # views: H selects the first m coordinates
    else:
        zhat, Pzz, _ = predict_measurement(x, P, det.kind, m, spos, method, with_pxz=False)
    # A copy: always a writable array, so one kernel specialisation.
    ok = np.ones(n, dtype=bool) if allowed is None else np.array(allowed, dtype=bool)
    zc = np.ascontiguousarray(zhat)
    Sc = np.ascontiguousarray(Pzz)
    angles = angle_mask(det.kind, m)
    if m > 3:
        return _gate_numpy(
            x, P, det, spos, zhat, Pzz, thr, max_gate_m, unobserved_height_var, ok, with_loglik
        )
    if det.kind == "bearing":
        half = _bearing_half(Pzz, det, math.sqrt(thr))
        zd, Rd = np.ascontiguousarray(det.z), np.ascontiguousarray(det.R)
        ti, dj, d2, ll = gate_sorted_angle(zc, Sc, zd, Rd, angles, half, ok, thr, with_loglik)
    else:
        dense = n * k <= (DENSE_PAIRS_LINEAR if is_linear(det.kind) else DENSE_PAIRS)
        if dense:
            pos, radius = np.zeros((k, 2)), np.zeros(n)
        else:
            pos, radius = _point_keys(x, P, det, spos, math.sqrt(thr), max_gate_m, unobserved_height_var)
        en = np.ascontiguousarray(x[:, :2])
        zd, Rd = np.ascontiguousarray(det.z), np.ascontiguousarray(det.R)
        ti, dj, d2, ll = gate_points(zc, Sc, zd, Rd, angles, en, pos, radius, dense, ok, thr, with_loglik)
    if ti.size == 0:
        return GatedPairs.empty()
    return GatedPairs(ti, dj, d2, ll)


def _gate_numpy(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    det: Detections,
    spos: NDArray[np.float64],
    zhat: NDArray[np.float64],
    Pzz: NDArray[np.float64],
    thr: float,
    max_gate_m: float,
    unobserved_height_var: float,
    allowed: NDArray[np.bool_],
    with_loglik: bool,
) -> GatedPairs:
    """The reference path: coarse candidates, then the batched exact test."""
    m = det.dim
    ti, dj = candidate_pairs(x, P, det, spos, zhat, Pzz, thr, max_gate_m, unobserved_height_var)
    if ti.size:
        keep = allowed[ti]
        ti, dj = ti[keep], dj[keep]
    if ti.size == 0:
        return GatedPairs.empty()
    if m == 1:
        # Bearings: scalar innovations on flat arrays (no [K,1,1] gathers).
        nu1 = wrap(det.z[:, 0][dj] - zhat[:, 0][ti])
        s = Pzz[:, 0, 0][ti] + det.R[:, 0, 0][dj]
        d2, ll = gaussian_loglik(nu1[:, None], s[:, None, None], with_loglik)
    elif is_linear(det.kind):
        nu = det.z[dj] - zhat[ti]
        S = Pzz[ti] + det.R[dj]
        d2, ll = gaussian_loglik(nu, S, with_loglik)
    else:
        nu = residual(det.z[dj], zhat[ti], angle_mask(det.kind, m))
        S = Pzz[ti] + det.R[dj]
        d2, ll = gaussian_loglik(nu, S, with_loglik)
    inside = d2 <= thr
    return GatedPairs(ti[inside], dj[inside], d2[inside], ll[inside])
