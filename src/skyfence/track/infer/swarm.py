"""Swarm grouping: FPV-like tracks that fly close together on the same course at the
same speed share a ``group_id``.

Edges join pairs within ``max_distance_m`` (found by a sweep over the candidates sorted
east to west, so large pictures do not build dense matrices) whose courses and speeds
agree; pairs already in one group are judged with thresholds relaxed by ``keep_factor``
(hysteresis against flicker). Connected components (union-find, numbered in the order of
their first member) of at least ``min_size`` tracks are groups. A new
component inherits the previous id held by most of its members (largest overlaps
first, each old id used once), so ids stay stable while members come and go.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel
from skyfence.model.classes import TargetClass
from skyfence.model.tracks import TrackStatus
from skyfence.track.infer._state import TrackState
from skyfence.track.infer.config import SwarmConfig

__all__ = ["SwarmGrouping", "warm_up_swarm"]


@kernel
def _root(parent: NDArray[np.int64], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@kernel
def _components(
    x: NDArray[np.float64],
    status: NDArray[np.int8],
    prev: NDArray[np.float64],
    fpv_prob: NDArray[np.float64],
    last_passive: NDArray[np.float64],
    height_var: NDArray[np.float64],
    t: float,
    confirmed: int,
    coasting: int,
    min_fpv_prob: float,
    min_speed: float,
    keep_factor: float,
    passive_recent: float,
    height_known_var: float,
    max_distance: float,
    max_heading_diff: float,
    max_speed_diff: float,
    max_speed_diff_frac: float,
    max_height_diff: float,
    min_size: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Eligible rows ``[M]``, the component of each (numbered from 0 in the order of
    each component's first row) and whether its component is big enough to be a group."""
    n = x.shape[0]
    eligible = np.zeros(n, np.bool_)
    speed = np.empty(n)
    m = 0
    for i in range(n):
        speed[i] = math.hypot(x[i, 3], x[i, 4])
        # Members keep their place on looser terms (hysteresis).
        relax = keep_factor if prev[i] >= 0 else 1.0
        # Members must be seen by a radar, camera or microphone: RF-only tracks may be
        # ghosts of crossing bearings, and ghosts fly in formation with anything.
        eligible[i] = (
            t - last_passive[i] <= passive_recent
            and fpv_prob[i] >= min_fpv_prob / relax
            and speed[i] >= min_speed / relax
            and (status[i] == confirmed or (status[i] == coasting and prev[i] >= 0))
        )
        m += eligible[i]
    cand = np.flatnonzero(eligible)
    labels = np.full(m, -1, np.int64)
    big = np.zeros(m, np.bool_)
    if m < min_size:
        return cand, labels, big
    parent = np.arange(m)
    # Horizontal neighbours, swept east to west; heights are compared apart, and only
    # where both are known (a 2-D track's height is a placeholder).
    order = np.argsort(x[cand, 0], kind="mergesort")
    reach = max_distance * keep_factor
    for a in range(m):
        i = order[a]
        gi = cand[i]
        for b in range(a + 1, m):
            j = order[b]
            gj = cand[j]
            if x[gj, 0] - x[gi, 0] > reach:
                break
            same = prev[gi] >= 0 and prev[gi] == prev[gj]
            k = keep_factor if same else 1.0
            dx = x[gi, 0] - x[gj, 0]
            dy = x[gi, 1] - x[gj, 1]
            if not math.sqrt(dx * dx + dy * dy) <= max_distance * k:
                continue
            si = speed[gi]
            sj = speed[gj]
            cosang = (x[gi, 3] * x[gj, 3] + x[gi, 4] * x[gj, 4]) / max(si * sj, 1e-9)
            ang = math.acos(min(max(cosang, -1.0), 1.0))
            tol_v = max(max_speed_diff, max_speed_diff_frac * 0.5 * (si + sj))
            known = height_var[gi] <= height_known_var and height_var[gj] <= height_known_var
            level = not known or abs(x[gi, 2] - x[gj, 2]) <= max_height_diff * k
            if ang <= max_heading_diff * k and abs(si - sj) <= tol_v * k and level:
                ri = _root(parent, i)
                rj = _root(parent, j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    root_label = np.full(m, -1, np.int64)
    sizes = np.zeros(m, np.int64)
    n_comp = 0
    for i in range(m):
        r = _root(parent, i)
        if root_label[r] < 0:
            root_label[r] = n_comp
            n_comp += 1
        labels[i] = root_label[r]
        sizes[labels[i]] += 1
    for i in range(m):
        big[i] = sizes[labels[i]] >= min_size
    return cand, labels, big


class SwarmGrouping:
    def __init__(self, config: SwarmConfig) -> None:
        self.config = config
        self.state = TrackState({"group": -1.0})
        self._next_id = 1
        self._last_t = -np.inf

    def update(
        self,
        x: NDArray[np.float64],
        status: NDArray[np.int8],
        cls_prob: NDArray[np.float64],
        t: float,
        last_passive: NDArray[np.float64],
        height_var: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """Group ids ``[N]`` (-1: none) of the rows the state is aligned to. Groups are
        formed at most once per ``interval_s`` of track time; between, each track keeps
        its group id (a new track has none)."""
        c = self.config
        s = self.state
        n = x.shape[0]
        if t - c.interval_s < self._last_t <= t:
            carried: NDArray[np.int64] = s.data[0].astype(np.int64)
            return carried
        self._last_t = t
        cand, labels, big = _components(
            x,
            status,
            s.data[0],
            np.ascontiguousarray(cls_prob[:, TargetClass.FPV]),
            last_passive,
            height_var,
            float(t),
            int(TrackStatus.CONFIRMED),
            int(TrackStatus.COASTING),
            c.min_fpv_prob,
            c.min_speed_mps,
            c.keep_factor,
            c.passive_recent_s,
            c.height_known_sigma_m**2,
            c.max_distance_m,
            c.max_heading_diff_rad,
            c.max_speed_diff_mps,
            c.max_speed_diff_frac,
            c.max_height_diff_m,
            c.min_size,
        )
        group = np.full(n, -1, dtype=np.int64)
        if big.any():
            prev = s.data[0].astype(np.int64)
            group[cand[big]] = self._assign_ids(labels[big], prev[cand[big]])
        s.data[0] = group
        return group

    def _assign_ids(self, labels: NDArray[np.int64], prev: NDArray[np.int64]) -> NDArray[np.int64]:
        """Stable ids: each component takes the old id most of its members held."""
        out, self._next_id = _stable_ids(labels, prev, self._next_id)
        return out


@kernel
def _stable_ids(
    labels: NDArray[np.int64], prev: NDArray[np.int64], next_id: int
) -> tuple[NDArray[np.int64], int]:
    """Id of each member's component: the old id (``prev``, -1 none) most of its members
    held, largest overlaps first (ties: smaller component, then smaller old id), each old
    id used once; new ids from ``next_id`` for the rest, in component order. Returns the
    ids and the next free id."""
    comps = np.unique(labels)
    n_comp = comps.shape[0]
    comp = np.searchsorted(comps, labels)
    out_of = np.full(n_comp, -1, np.int64)
    has = np.flatnonzero(prev >= 0)
    if has.size:
        # (component, old id) overlaps, sorted by component then old id, with counts.
        span = prev[has].max() + 1
        keys = np.sort(comp[has] * span + prev[has])
        starts = np.flatnonzero(np.concatenate((np.ones(1, np.bool_), keys[1:] != keys[:-1])))
        pairs = keys[starts]
        counts = np.diff(np.append(starts, keys.shape[0]))
        used = set()
        used.add(np.int64(-1))
        for k in np.argsort(-counts, kind="mergesort"):
            lab = pairs[k] // span
            old = pairs[k] % span
            if out_of[lab] < 0 and old not in used:
                out_of[lab] = old
                used.add(old)
    for c in range(n_comp):
        if out_of[c] < 0:
            out_of[c] = next_id
            next_id += 1
    return out_of[comp], next_id


def warm_up_swarm() -> None:
    """Load the kernel of stable group ids (it runs only once a group forms)."""
    _stable_ids(np.zeros(3, np.int64), np.full(3, -1, np.int64), 1)
