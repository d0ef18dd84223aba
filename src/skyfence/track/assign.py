"""Assignment of gated pairs: global nearest neighbour (GNN) and JPDA.

The gate graph falls apart into independent clusters. Clusters of one track and one
detection (the common case) are settled in one vectorised step. For GNN, the remaining
conflicts go to ``scipy.optimize.linear_sum_assignment`` when few, and otherwise to
sparse LAPJV (``scipy.sparse.csgraph.min_weight_full_bipartite_matching``), which solves
every independent cluster in one call and finds the same optimum without a dense matrix.
A giant conflict set (wide bearing gates over a thousand tracks) is first pruned to each
detection's and track's few cheapest pairs and shrunk by mutual-best matching. JPDA
splits the conflicts into connected components (``scipy.sparse.csgraph``) and
enumerates joint events per component.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

__all__ = ["clusters", "gnn", "jpda"]

#: Up to this many conflicting pairs GNN solves one dense problem with linear_sum_assignment.
DENSE_CONFLICT = 64
#: Above this many conflicting pairs GNN first prunes to the K best and takes mutual bests.
SPARSE_PAIRS = 2000
#: In such large conflict sets only each detection's and each track's K cheapest pairs are kept.
K_BEST = 4
#: Rounds of mutual-best matching before the exact solver takes the remainder.
MUTUAL_ROUNDS = 6

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


def _singletons(
    track: NDArray[np.int64], det: NDArray[np.int64], n_tracks: int, n_dets: int
) -> NDArray[np.bool_]:
    """Pairs whose track and detection appear in no other pair (a cluster of one)."""
    tc = np.bincount(track, minlength=n_tracks)
    dc = np.bincount(det, minlength=n_dets)
    single: NDArray[np.bool_] = (tc[track] == 1) & (dc[det] == 1)
    return single


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
    Returns the assigned ``(track, det)`` arrays."""
    ok = cost < miss_cost
    track, det, cost = track[ok], det[ok], cost[ok]
    if track.size == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z
    single = _singletons(track, det, n_tracks, n_dets)
    out_t = [track[single]]
    out_d = [det[single]]
    rest = ~single
    if rest.sum() > SPARSE_PAIRS:
        rt, rd, rc = track[rest], det[rest], cost[rest]
        keep = _k_best(rt, rd, rc, K_BEST)
        rt, rd, rc = rt[keep], rd[keep], rc[keep]
        at, ad, left = _mutual_best(rt, rd, rc, n_tracks, n_dets)
        out_t.append(at)
        out_d.append(ad)
        if left.any():
            at, ad = _sparse_gnn(rt[left], rd[left], rc[left], miss_cost)
            out_t.append(at)
            out_d.append(ad)
    elif rest.sum() > DENSE_CONFLICT:
        # Many independent conflicts: sparse LAPJV solves every component in one call.
        at, ad = _sparse_gnn(track[rest], det[rest], cost[rest], miss_cost)
        out_t.append(at)
        out_d.append(ad)
    elif rest.any():
        rt, rd, rc = track[rest], det[rest], cost[rest]
        ut, ti = np.unique(rt, return_inverse=True)
        ud, di = np.unique(rd, return_inverse=True)
        nt, nd = ut.size, ud.size
        # Dummy column per track: "not assigned" at miss_cost.
        C = np.full((nt, nd + nt), miss_cost * 4.0 + 1.0)
        C[ti, di] = rc
        C[np.arange(nt), nd + np.arange(nt)] = miss_cost
        r, c = linear_sum_assignment(C)
        real = (c < nd) & (C[r, c] < miss_cost)
        out_t.append(ut[r[real]])
        out_d.append(ud[c[real]])
    return np.concatenate(out_t), np.concatenate(out_d)


def _rank_within(group: NDArray[np.int64], cost: NDArray[np.float64]) -> NDArray[np.int64]:
    """Rank of each pair's cost among the pairs of its group (0 = cheapest)."""
    # One float key (group, then cost within it) sorts faster than a two-key lexsort.
    span = float(cost.max() - cost.min()) + 1.0
    order = np.argsort(group * span + (cost - cost.min()))
    g = group[order]
    start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    counts = np.diff(np.r_[start, g.size])
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = np.arange(g.size) - np.repeat(start, counts)
    return rank


def _k_best(
    track: NDArray[np.int64], det: NDArray[np.int64], cost: NDArray[np.float64], k: int
) -> NDArray[np.bool_]:
    """Pairs among the ``k`` cheapest of their detection. Wide gates
    (bearings among hundreds of tracks) make one giant conflict graph; the optimal
    assignment almost never gives a detection a worse than ``k``-th best track, and
    pruning the rest keeps the matching fast and its graph sparse."""
    keep: NDArray[np.bool_] = _rank_within(det, cost) < k
    return keep


def _mutual_best(
    track: NDArray[np.int64],
    det: NDArray[np.int64],
    cost: NDArray[np.float64],
    n_tracks: int,
    n_dets: int,
    rounds: int = MUTUAL_ROUNDS,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Rounds of "each is the other's cheapest": such pairs are in every greedy and almost
    every optimal assignment; taking them shrinks a giant conflict set to a remainder
    (pairs whose track and detection are both still free) for the exact solver."""
    t_used = np.zeros(n_tracks, dtype=bool)
    d_used = np.zeros(n_dets, dtype=bool)
    out_t: list[NDArray[np.int64]] = []
    out_d: list[NDArray[np.int64]] = []
    live = np.ones(track.size, dtype=bool)
    for _ in range(rounds):
        idx = np.flatnonzero(live)
        if idx.size == 0:
            break
        c = cost[idx]
        best_d = np.full(n_dets, np.inf)
        np.minimum.at(best_d, det[idx], c)
        best_t = np.full(n_tracks, np.inf)
        np.minimum.at(best_t, track[idx], c)
        mutual = (c == best_d[det[idx]]) & (c == best_t[track[idx]])
        sel = idx[mutual]
        # Ties could pair one track twice: keep the first of each track and detection.
        _, first_t = np.unique(track[sel], return_index=True)
        sel = sel[first_t]
        _, first_d = np.unique(det[sel], return_index=True)
        sel = sel[first_d]
        if sel.size == 0:
            break
        out_t.append(track[sel])
        out_d.append(det[sel])
        t_used[track[sel]] = True
        d_used[det[sel]] = True
        live &= ~t_used[track] & ~d_used[det]
    z = np.zeros(0, dtype=np.int64)
    return (
        np.concatenate(out_t) if out_t else z,
        np.concatenate(out_d) if out_d else z,
        live,
    )


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
