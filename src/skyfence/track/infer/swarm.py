"""Swarm grouping: FPV-like tracks that fly close together on the same course at the
same speed share a ``group_id``.

Edges join pairs within ``max_distance_m`` (found with a k-d tree, so large pictures do
not build dense matrices) whose courses and speeds agree; pairs already in one group are
judged with thresholds relaxed by ``keep_factor`` (hysteresis against flicker). Connected
components (``scipy.sparse.csgraph``) of at least ``min_size`` tracks are groups. A new
component inherits the previous id held by most of its members (largest overlaps
first, each old id used once), so ids stay stable while members come and go.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from skyfence.model.classes import TargetClass
from skyfence.model.tracks import TrackStatus
from skyfence.track.infer._state import TrackState
from skyfence.track.infer.config import SwarmConfig

__all__ = ["SwarmGrouping"]


class SwarmGrouping:
    def __init__(self, config: SwarmConfig) -> None:
        self.config = config
        self.state = TrackState({"group": ((), np.int64, -1)})
        self._next_id = 1

    def update(
        self,
        ids: NDArray[np.int64],
        x: NDArray[np.float64],
        status: NDArray[np.int8],
        cls_prob: NDArray[np.float64],
        t: float = 0.0,
        last_passive: NDArray[np.float64] | None = None,
        height_var: NDArray[np.float64] | None = None,
    ) -> NDArray[np.int64]:
        c = self.config
        s = self.state
        s.align(ids)
        prev = s["group"]
        n = ids.shape[0]
        if last_passive is None:
            last_passive = np.full(n, t)
        fpv = cls_prob[:, TargetClass.FPV]
        speed = np.hypot(x[:, 3], x[:, 4])
        # Members keep their place on looser terms (hysteresis).
        relax = np.where(prev >= 0, c.keep_factor, 1.0)
        # Members must be seen by a radar, camera or microphone: RF-only tracks may be
        # ghosts of crossing bearings, and ghosts fly in formation with anything.
        seen = t - last_passive <= c.passive_recent_s
        eligible = (
            seen
            & (fpv >= c.min_fpv_prob / relax)
            & (speed >= c.min_speed_mps / relax)
            & ((status == TrackStatus.CONFIRMED) | ((status == TrackStatus.COASTING) & (prev >= 0)))
        )
        cand = np.flatnonzero(eligible)
        group = np.full(n, -1, dtype=np.int64)
        if height_var is None:
            height_var = np.full(n, np.inf)
        known_h = np.asarray(height_var, dtype=np.float64).reshape(n) <= c.height_known_sigma_m**2
        if cand.size >= c.min_size:
            # Horizontal neighbours; heights are compared apart, and only where both are
            # known (a 2-D track's height is a placeholder).
            pos = x[cand, :2]
            tree = cKDTree(pos)
            pairs = tree.query_pairs(c.max_distance_m * c.keep_factor, output_type="ndarray")
            if pairs.size:
                i, j = pairs[:, 0], pairs[:, 1]
                gi, gj = cand[i], cand[j]
                same = (prev[gi] >= 0) & (prev[gi] == prev[gj])
                k = np.where(same, c.keep_factor, 1.0)
                dist = np.linalg.norm(pos[i] - pos[j], axis=1)
                vi, vj = x[gi, 3:5], x[gj, 3:5]
                si, sj = speed[gi], speed[gj]
                cosang = (vi * vj).sum(axis=1) / np.maximum(si * sj, 1e-9)
                ang = np.arccos(np.clip(cosang, -1.0, 1.0))
                dv = np.abs(si - sj)
                tol_v = np.maximum(c.max_speed_diff_mps, c.max_speed_diff_frac * 0.5 * (si + sj))
                dh = np.abs(x[gi, 2] - x[gj, 2])
                level = ~(known_h[gi] & known_h[gj]) | (dh <= c.max_height_diff_m * k)
                ok = (
                    (dist <= c.max_distance_m * k)
                    & (ang <= c.max_heading_diff_rad * k)
                    & (dv <= tol_v * k)
                    & level
                )
                m = cand.size
                graph = coo_matrix((np.ones(int(ok.sum())), (i[ok], j[ok])), shape=(m, m)).tocsr()
                _, labels = connected_components(graph, directed=False)
                sizes = np.bincount(labels)
                big = sizes[labels] >= c.min_size
                group[cand[big]] = self._assign_ids(labels[big], prev[cand[big]])
        s["group"] = group
        return group

    def _assign_ids(self, labels: NDArray[np.int64], prev: NDArray[np.int64]) -> NDArray[np.int64]:
        """Stable ids: each component takes the old id most of its members held."""
        comps = np.unique(labels)
        out_of = {int(lab): -1 for lab in comps}
        has = prev >= 0
        if has.any():
            pair, counts = np.unique(np.stack([labels[has], prev[has]], axis=1), axis=0, return_counts=True)
            order = np.argsort(-counts, kind="stable")
            used: set[int] = set()
            # Few groups at any time: a loop over (component, old id) overlaps is cheap.
            for lab, old in pair[order]:
                if out_of[int(lab)] < 0 and int(old) not in used:
                    out_of[int(lab)] = int(old)
                    used.add(int(old))
        for lab in comps:
            if out_of[int(lab)] < 0:
                out_of[int(lab)] = self._next_id
                self._next_id += 1
        lut = np.array([out_of[int(lab)] for lab in comps], dtype=np.int64)
        result: NDArray[np.int64] = lut[np.searchsorted(comps, labels)]
        return result
