"""Per-track memory of the inference layer: float columns keyed by track id that follow
the row order of each new view (rows come and go; state of deleted ids is dropped).

The rows of a new view are matched to the previous view's once per update
(:func:`align_rows`); every stage then reorders its own columns with that one index
(:meth:`TrackState.align`); a :class:`StateTable` holds several stages' columns in one
table and reorders them all in a single compiled gather."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel

__all__ = ["StateTable", "TrackState", "align_rows"]


@kernel
def align_rows(prev: NDArray[np.int64], ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """Row in ``prev`` of each of ``ids`` (the first such row), -1 for ids not in ``prev``.
    The tracker's ids are increasing (merged in one pass); any order is accepted."""
    n = ids.shape[0]
    m = prev.shape[0]
    src = np.full(n, -1, np.int64)
    if n == 0 or m == 0:
        return src
    increasing = True
    for k in range(1, m):
        if prev[k] <= prev[k - 1]:
            increasing = False
            break
    if increasing:
        for k in range(1, n):
            if ids[k] <= ids[k - 1]:
                increasing = False
                break
    if increasing:
        j = 0
        for k in range(n):
            while j < m and prev[j] < ids[k]:
                j += 1
            if j == m:
                break
            if prev[j] == ids[k]:
                src[k] = j
        return src
    order = np.argsort(prev, kind="mergesort")
    sorted_ids = prev[order]
    for k in range(n):
        p = np.searchsorted(sorted_ids, ids[k])
        if p < m and sorted_ids[p] == ids[k]:
            src[k] = order[p]
    return src


@kernel
def _gather(
    data: NDArray[np.float64], src: NDArray[np.int64], fill: NDArray[np.float64]
) -> NDArray[np.float64]:
    k_cols = data.shape[0]
    n = src.shape[0]
    out = np.empty((k_cols, n))
    for k in range(k_cols):
        for i in range(n):
            out[k, i] = data[k, src[i]] if src[i] >= 0 else fill[k]
    return out


class TrackState:
    """Float columns ``[K, N]`` aligned with ``ids`` (``data[k]`` is column ``k``, a
    contiguous row); :meth:`align` reorders them to a new id list, carrying the values of
    ids seen before and filling new ids with each column's default. Integer and boolean
    memory (ids, codes, flags) is kept exactly as float64. A column of width ``w`` (spec
    ``(w, fill)``) spans ``w`` consecutive rows of ``data``."""

    def __init__(self, spec: Mapping[str, float | tuple[int, float]]) -> None:
        self.slots: dict[str, slice] = {}
        fills: list[float] = []
        for name, entry in spec.items():
            width, fill = entry if isinstance(entry, tuple) else (1, entry)
            self.slots[name] = slice(len(fills), len(fills) + width)
            fills.extend([float(fill)] * width)
        self.fill = np.asarray(fills, dtype=np.float64)
        self.ids: NDArray[np.int64] = np.zeros(0, np.int64)
        self.data: NDArray[np.float64] = np.zeros((self.fill.shape[0], 0))

    def index(self, name: str) -> int:
        """Row of ``data`` that holds column ``name`` (its first row for a wide one)."""
        return int(self.slots[name].start)

    def __getitem__(self, name: str) -> NDArray[np.float64]:
        sl = self.slots[name]
        out: NDArray[np.float64] = self.data[sl.start] if sl.stop - sl.start == 1 else self.data[sl]
        return out

    def __setitem__(self, name: str, value: NDArray[np.float64]) -> None:
        sl = self.slots[name]
        if sl.stop - sl.start == 1:
            self.data[sl.start] = value
        else:
            self.data[sl] = value

    def align(self, ids: NDArray[np.int64], src: NDArray[np.int64] | None = None) -> NDArray[np.bool_]:
        """Reorder to ``ids`` (``src`` from :func:`align_rows` when the caller has it);
        returns the mask of ids not seen before."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if src is None:
            src = align_rows(self.ids, ids)
        self.data = _gather(self.data, src, self.fill)
        self.ids = ids.copy()
        out: NDArray[np.bool_] = src < 0
        return out


class StateTable:
    """The columns of several :class:`TrackState` in one ``[K, N]`` table: each state's
    ``data`` is a view of its rows, so one gather reorders them all."""

    def __init__(self, states: tuple[TrackState, ...]) -> None:
        self.states = states
        self.fill = np.concatenate([st.fill for st in states])
        self.data: NDArray[np.float64] = np.zeros((self.fill.shape[0], 0))
        self._bind(np.zeros(0, np.int64))

    def _bind(self, ids: NDArray[np.int64]) -> None:
        at = 0
        for st in self.states:
            k = st.fill.shape[0]
            st.data = self.data[at : at + k]
            st.ids = ids
            at += k

    def align(self, ids: NDArray[np.int64], src: NDArray[np.int64]) -> None:
        """Reorder every state to ``ids`` (``src`` from :func:`align_rows`); ``ids`` is
        shared by the states, so the caller must not change it afterwards."""
        self.data = _gather(self.data, src, self.fill)
        self._bind(ids)
