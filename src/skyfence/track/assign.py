"""Assignment of gated pairs: global nearest neighbour (GNN) and JPDA.

GNN is one compiled exact solver (:mod:`skyfence.track.kern_assign`): sparse shortest
augmenting paths with dual potentials, adding one track at a time, so a track alone in
its gate costs one edge scan and a conflict explores only the pairs it touches; giant
conflict sets (wide bearing gates over a thousand tracks) get the exact optimum too.
``_sparse_gnn`` (scipy's sparse LAPJV) stays as an independent reference. JPDA splits the
conflicts into connected components (``scipy.sparse.csgraph``) and enumerates joint
events per component.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from skyfence.track.kern_assign import gnn_exact

__all__ = ["clusters", "gnn", "jpda"]

#: JPDA clusters with more joint events than this use the cheap-JPDA approximation.
MAX_JOINT_EVENTS = 20000


def clusters(
    track: NDArray[np.int64], det: NDArray[np.int64], n_tracks: int, n_dets: int
) -> NDArray[np.int64]:
    """Component label of each pair in the bipartite gate graph."""
    if track.size == 0:
        return np.zeros(0, dtype=np.int64)
    g = coo_matrix(
        (np.ones(track.size), (track, det + n_tracks)), shape=(n_tracks + n_dets, n_tracks + n_dets)
    )
    _, labels = connected_components(g, directed=False)
    out: NDArray[np.int64] = labels[track].astype(np.int64)
    return out


def gnn(
    track: NDArray[np.int64],
    det: NDArray[np.int64],
    cost: NDArray[np.float64],
    n_tracks: int,
    n_dets: int,
    miss_cost: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Minimum total cost one-to-one assignment over the gated pairs, where leaving a
    track unassigned costs ``miss_cost`` (pairs dearer than that are never chosen).
    Returns the assigned ``(track, det)`` arrays (sorted by track). Exact: a compiled
    sparse shortest-augmenting-path solver (:mod:`skyfence.track.kern_assign`)."""
    if track.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    return gnn_exact(track, det, cost, n_tracks, n_dets, miss_cost)


def _sparse_gnn(
    track: NDArray[np.int64], det: NDArray[np.int64], cost: NDArray[np.float64], miss_cost: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The same optimum as the dense problem, by sparse LAPJV on an augmented square graph:
    each track may take its "missed" column (``miss_cost``), each detection its "clutter"
    row (free), and a dummy pairs with a dummy wherever the real pair exists, so a full
    matching always exists. Large gate graphs (bearings with wide gates) stay sparse."""
    ut, ti = np.unique(track, return_inverse=True)
    ud, di = np.unique(det, return_inverse=True)
    nt, nd = ut.size, ud.size
    eps = 1e-9  # explicit zeros would vanish from the sparse matrix
    rows = np.concatenate([ti, np.arange(nt), nt + np.arange(nd), nt + di])
    cols = np.concatenate([di, nd + np.arange(nt), np.arange(nd), nd + ti])
    w = np.concatenate([cost + eps, np.full(nt, miss_cost), np.full(nd, eps), np.full(ti.size, eps)])
    graph = csr_matrix((w, (rows, cols)), shape=(nt + nd, nd + nt))
    r, c = min_weight_full_bipartite_matching(graph)
    real = (r < nt) & (c < nd)
    return ut[r[real]].astype(np.int64), ud[c[real]].astype(np.int64)


def jpda(
    track: NDArray[np.int64],
    det: NDArray[np.int64],
    loglik: NDArray[np.float64],
    n_tracks: int,
    n_dets: int,
    pd: float,
    clutter_density: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Marginal association probabilities: ``beta [K]`` per pair and ``beta0 [n_tracks]``
    (no detection). Exact joint-event enumeration per cluster; the cheap-JPDA
    approximation for clusters too large to enumerate."""
    beta = np.zeros(track.size)
    beta0 = np.ones(n_tracks)
    if track.size == 0:
        return beta, beta0
    # Likelihood ratio of "pair is the target" to "detection is clutter".
    lr = pd * np.exp(np.clip(loglik, -700.0, 700.0)) / clutter_density
    miss = 1.0 - pd
    single_det = np.bincount(det, minlength=n_dets)[det] == 1
    # Tracks whose detections are all theirs alone: closed form, vectorised.
    own = np.ones(n_tracks, dtype=bool)
    np.logical_and.at(own, track, single_det)
    easy = own[track]
    if easy.any():
        tot = np.full(n_tracks, miss)
        np.add.at(tot, track[easy], lr[easy])
        beta[easy] = lr[easy] / tot[track[easy]]
        touched = np.unique(track[easy])
        beta0[touched] = miss / tot[touched]
    hard = ~easy
    if not hard.any():
        return beta, beta0
    idx = np.flatnonzero(hard)
    labels = clusters(track[idx], det[idx], n_tracks, n_dets)
    order = np.argsort(labels, kind="stable")
    idx, labels = idx[order], labels[order]
    for sl in np.split(idx, np.flatnonzero(np.diff(labels)) + 1):
        ut, ti = np.unique(track[sl], return_inverse=True)
        ud, di = np.unique(det[sl], return_inverse=True)
        nt, nd = ut.size, ud.size
        L = np.zeros((nt, nd))
        L[ti, di] = lr[sl]
        b, b0 = _jpda_cluster(L, miss)
        beta[sl] = b[ti, di]
        beta0[ut] = b0
    return beta, beta0


def _jpda_cluster(L: NDArray[np.float64], miss: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    nt, nd = L.shape
    n_events = 1
    for i in range(nt):
        n_events *= int(np.count_nonzero(L[i])) + 1
        if n_events > MAX_JOINT_EVENTS:
            break
    if n_events > MAX_JOINT_EVENTS:
        # Cheap JPDA (Fitzgerald): normalise by the row and column sums.
        row = L.sum(axis=1, keepdims=True)
        col = L.sum(axis=0, keepdims=True)
        b = L / np.maximum(row + col - L + miss, 1e-300)
        b0 = np.clip(1.0 - b.sum(axis=1), 0.0, 1.0)
        return b, b0
    options = [[-1, *np.flatnonzero(L[i]).tolist()] for i in range(nt)]
    b = np.zeros((nt, nd))
    b0 = np.zeros(nt)
    total = 0.0
    for event in itertools.product(*options):
        used = [d for d in event if d >= 0]
        if len(used) != len(set(used)):
            continue
        w = 1.0
        for i, d in enumerate(event):
            w *= miss if d < 0 else L[i, d]
        total += w
        for i, d in enumerate(event):
            if d < 0:
                b0[i] += w
            else:
                b[i, d] += w
    return b / total, b0 / total
