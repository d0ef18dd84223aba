"""Compiled exact GNN: sparse shortest augmenting paths (Jonker-Volgenant / Crouse style
Dijkstra with dual potentials) over the gated pairs.

Each track may take one detection or its own private "missed" column at ``miss_cost``;
detections may stay unassigned for free. Rows (the smaller side, tracks or detections)
are added one at a time; each addition runs Dijkstra on reduced costs over the sparse
gate graph (binary heap) and stops at the first free column, so a row alone in its gate
(the common case) costs one edge scan, and a conflict explores only the pairs it
touches. Free columns keep zero dual, so any real costs work (no column reduction,
which is only valid for square problems). No connected components, no dense matrix,
no Python per cluster; the result is the exact optimum (unique almost surely).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel

__all__ = ["gnn_exact"]


@kernel
def _ssp(
    track: NDArray[np.int64],
    det: NDArray[np.int64],
    cost: NDArray[np.float64],
    n_tracks: int,
    n_dets: int,
    miss_cost: float,
    shift: float,
    limit: float,
    by_column: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows ``track``, columns ``det``, pair cost ``cost - shift`` (pairs with ``cost``
    not below ``limit`` left out); row ``i`` may also take its own column ``n_dets + i``
    at ``miss_cost``. Every row with a pair ends matched. Returns the rows matched to
    real columns and their columns, sorted by row, or ``by_column`` the columns and
    their rows, sorted by column."""
    # Pairs grouped by track (counting sort): CSR adjacency.
    indptr = np.zeros(n_tracks + 1, dtype=np.int64)
    for e in range(track.shape[0]):
        if not (0 <= track[e] < n_tracks and 0 <= det[e] < n_dets):
            raise ValueError("pair index out of range")  # no bounds checks below
        if cost[e] < limit:
            indptr[track[e] + 1] += 1
    for i in range(n_tracks):
        indptr[i + 1] += indptr[i]
    n_pairs = indptr[n_tracks]
    fill = indptr[:-1].copy()
    adj_col = np.empty(n_pairs, dtype=np.int64)
    adj_cost = np.empty(n_pairs, dtype=np.float64)
    for e in range(track.shape[0]):
        if cost[e] < limit:
            i = track[e]
            adj_col[fill[i]] = det[e]
            adj_cost[fill[i]] = cost[e] - shift
            fill[i] += 1
    n_cols = n_dets + n_tracks  # column n_dets + i: track i missed
    u = np.zeros(n_tracks)
    v = np.zeros(n_cols)
    col4row = np.full(n_tracks, -1, dtype=np.int64)
    row4col = np.full(n_cols, -1, dtype=np.int64)
    spc = np.full(n_cols, np.inf)
    path = np.full(n_cols, -1, dtype=np.int64)
    visited = np.zeros(n_cols, dtype=np.bool_)
    touched = np.empty(n_cols, dtype=np.int64)
    seen_rows = np.empty(n_tracks, dtype=np.int64)
    cap = n_pairs + n_tracks + 1
    hk = np.empty(cap)
    hv = np.empty(cap, dtype=np.int64)
    n_assigned = 0
    for cur in range(n_tracks):
        if indptr[cur + 1] == indptr[cur]:
            continue
        # Fast path: the row's cheapest column (reduced cost) is free, so it is the whole
        # shortest augmenting path (what Dijkstra's first pop would find), without a heap.
        best = miss_cost - u[cur] - v[n_dets + cur]
        jb = n_dets + cur
        for e in range(indptr[cur], indptr[cur + 1]):
            r = adj_cost[e] - u[cur] - v[adj_col[e]]
            if r < best:
                best = r
                jb = adj_col[e]
        if row4col[jb] < 0:
            u[cur] += best
            row4col[jb] = cur
            col4row[cur] = jb
            n_assigned += 1
            continue
        n_touched = 0
        n_seen = 0
        hsize = 0
        i = cur
        min_val = 0.0
        sink = -1
        ub = np.inf  # the shortest distance to a free column seen so far
        while True:
            seen_rows[n_seen] = i
            n_seen += 1
            base = min_val - u[i]
            for e in range(indptr[i], indptr[i + 1] + 1):
                if e < indptr[i + 1]:
                    j = adj_col[e]
                    c = adj_cost[e]
                else:
                    j = n_dets + i
                    c = miss_cost
                if visited[j]:
                    continue
                r = base + c - v[j]
                if r >= ub:
                    continue  # past a free column already reached: never popped first
                if r < spc[j]:
                    if row4col[j] < 0:
                        ub = r
                    if spc[j] == np.inf:
                        touched[n_touched] = j
                        n_touched += 1
                    spc[j] = r
                    path[j] = i
                    # Binary heap push, written out: a call with array arguments
                    # would cost reference counting on every edge.
                    h = hsize
                    hsize += 1
                    while h > 0:
                        p = (h - 1) >> 1
                        if hk[p] <= r:
                            break
                        hk[h] = hk[p]
                        hv[h] = hv[p]
                        h = p
                    hk[h] = r
                    hv[h] = j
            # The cheapest unvisited column (stale heap entries skipped).
            j = -1
            while hsize > 0:
                d = hk[0]
                jj = hv[0]
                # Pop: sift the last entry down from the root.
                hsize -= 1
                lk = hk[hsize]
                lv = hv[hsize]
                h = 0
                while True:
                    ca = 2 * h + 1
                    if ca >= hsize:
                        break
                    if ca + 1 < hsize and hk[ca + 1] < hk[ca]:
                        ca += 1
                    if lk <= hk[ca]:
                        break
                    hk[h] = hk[ca]
                    hv[h] = hv[ca]
                    h = ca
                hk[h] = lk
                hv[h] = lv
                if not visited[jj] and d <= spc[jj]:
                    j = jj
                    break
            if j < 0:  # cannot happen: the track's own "missed" column is always free
                break
            visited[j] = True
            min_val = spc[j]
            if row4col[j] < 0:
                sink = j
                break
            i = row4col[j]
        if sink < 0:
            continue
        # Dual update (only the rows and columns this search visited).
        u[cur] += min_val
        for s in range(1, n_seen):
            ii = seen_rows[s]
            u[ii] += min_val - spc[col4row[ii]]
        for t in range(n_touched):
            j = touched[t]
            if visited[j]:
                v[j] -= min_val - spc[j]
        # Augment along the path back to ``cur``.
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            nxt = col4row[i]
            col4row[i] = j
            j = nxt
            if i == cur:
                break
        n_assigned += 1
        for t in range(n_touched):
            j = touched[t]
            spc[j] = np.inf
            visited[j] = False
    out_t = np.empty(n_assigned, dtype=np.int64)
    out_d = np.empty(n_assigned, dtype=np.int64)
    k = 0
    if by_column:
        for j in range(n_dets):
            if row4col[j] >= 0:
                out_t[k] = j
                out_d[k] = row4col[j]
                k += 1
        return out_t[:k], out_d[:k]
    for i in range(n_tracks):
        j = col4row[i]
        if 0 <= j < n_dets:
            out_t[k] = i
            out_d[k] = j
            k += 1
    return out_t[:k], out_d[:k]


def gnn_exact(
    track: NDArray[np.int64],
    det: NDArray[np.int64],
    cost: NDArray[np.float64],
    n_tracks: int,
    n_dets: int,
    miss_cost: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Exact minimum-cost one-to-one assignment over pairs ``(track[k], det[k])`` with
    cost ``cost[k]``, where a track left unassigned costs ``miss_cost`` (pairs at or above
    it, or NaN, are never chosen and are left out). Returns assigned ``(track, det)``,
    sorted by track."""
    t = np.ascontiguousarray(track, dtype=np.int64)
    d = np.ascontiguousarray(det, dtype=np.int64)
    c = np.ascontiguousarray(cost, dtype=np.float64)
    miss = float(miss_cost)
    if n_tracks < n_dets:
        return _ssp(t, d, c, int(n_tracks), int(n_dets), miss, 0.0, miss, False)
    # Detections as rows (the smaller side: fewer searches, and the many tracks left
    # free end most searches at once): a pair then costs ``cost - miss_cost`` and an
    # unused detection 0, which differs from the track-side total by a constant.
    return _ssp(d, t, c, int(n_dets), int(n_tracks), 0.0, miss, miss, True)
