"""Per-track memory of the inference layer: columns keyed by track id that follow the
row order of each new view (rows come and go; state of deleted ids is dropped)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["TrackState"]


class TrackState:
    """Columns ``[N, ...]`` aligned with ``ids``; :meth:`align` reorders them to a new id
    list, carrying rows of ids seen before and filling new ids with each column's default."""

    def __init__(self, spec: Mapping[str, tuple[tuple[int, ...], Any, Any]]) -> None:
        self._spec = dict(spec)
        self.ids: NDArray[np.int64] = np.zeros(0, np.int64)
        self.cols: dict[str, NDArray[Any]] = {
            name: np.full((0, *tail), fill, dtype=dtype) for name, (tail, dtype, fill) in self._spec.items()
        }

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self.cols[name]

    def __setitem__(self, name: str, value: NDArray[Any]) -> None:
        self.cols[name] = value

    def align(self, ids: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Reorder to ``ids``; returns the mask of ids not seen before."""
        ids = np.asarray(ids, dtype=np.int64)
        n = ids.shape[0]
        found = np.zeros(n, dtype=bool)
        src = np.zeros(n, dtype=np.intp)
        if self.ids.size and n:
            order = np.argsort(self.ids, kind="stable")
            sorted_ids = self.ids[order]
            pos = np.clip(np.searchsorted(sorted_ids, ids), 0, sorted_ids.size - 1)
            found = sorted_ids[pos] == ids
            src = order[pos]
        for name, (tail, dtype, fill) in self._spec.items():
            new = np.full((n, *tail), fill, dtype=dtype)
            new[found] = self.cols[name][src[found]]
            self.cols[name] = new
        self.ids = ids.copy()
        return ~found
