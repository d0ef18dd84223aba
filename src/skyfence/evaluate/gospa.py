"""GOSPA and OSPA: the set distances between truth and tracks that every exercise score builds on.

GOSPA (Rahmathullah, García-Fernández, Svensson 2017) of order ``p`` with cut-off ``c`` and
``alpha`` for truth set ``X`` (``m`` points) and track set ``Y`` (``n`` points), ``m <= n``::

    d = ( min_pi  sum_i min(|x_i - y_pi(i)|, c)^p  +  c^p / alpha * (n - m) )^(1/p)

(symmetric in ``X`` and ``Y``). With ``alpha = 2`` (the default, and the only value Stone
Soup supports) it equals the assignment form: each assigned pair closer than ``c`` costs
``d^p`` (localisation), each truth left unassigned costs ``c^p / 2`` (missed), each track
left unassigned costs ``c^p / 2`` (false). The parts are reported in that ``p``-th power
unit, as Stone Soup's ``GOSPAMetric`` does, so ``total ** p == localisation + missed + false``.
A pair assigned at or beyond ``c`` counts as one missed and one false point, its ``c^p``
split half and half; for ``alpha != 2`` the cardinality difference costs ``c^p / alpha`` per
point, so the identity above holds for every ``alpha``.

OSPA (Schuhmacher, Vo, Vo 2008) is the normalised form: ``( (1/n) (min_pi sum_i
min(d, c)^p + c^p (n - m)) )^(1/p)``; ``p = inf`` gives the largest assigned distance when
``m == n`` and ``c`` otherwise. Both empty gives 0.

The optimal assignment is ``scipy.optimize.linear_sum_assignment`` on the dense cut-off
cost matrix, built in one vectorised call (no Python object per pair).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

__all__ = [
    "GospaResult",
    "GospaSeries",
    "OspaResult",
    "gospa",
    "gospa_series",
    "ospa",
    "ospa_series",
]


@dataclass(frozen=True, slots=True)
class GospaResult:
    """GOSPA at one time step.

    ``total`` is the distance in metres; ``localisation``, ``missed`` and ``false`` are its
    parts in the ``p``-th power unit (``total ** p`` is their sum). ``assignment[i]`` is the
    track index given to truth ``i`` (only pairs closer than ``c``), -1 when missed.
    """

    total: float
    localisation: float
    missed: float
    false: float
    n_missed: int
    n_false: int
    assignment: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class GospaSeries:
    """GOSPA over ``T`` time steps: one value per step in each column."""

    total: NDArray[np.float64]
    localisation: NDArray[np.float64]
    missed: NDArray[np.float64]
    false: NDArray[np.float64]
    n_missed: NDArray[np.int64]
    n_false: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.total.shape[0])

    @property
    def mean(self) -> float:
        """Mean GOSPA distance over the steps (``nan`` with no step)."""
        return float(self.total.mean()) if len(self) else math.nan


@dataclass(frozen=True, slots=True)
class OspaResult:
    """OSPA at one time step: ``total`` in metres, with its localisation and cardinality
    parts in the ``p``-th power unit, normalised by ``max(m, n)`` (sum is ``total ** p``
    for finite ``p``)."""

    total: float
    localisation: float
    cardinality: float


def _points(value: ArrayLike, name: str, dim: int | None = None) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, dim or 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a [N, d] array of points, got shape {list(arr.shape)}")
    return arr


def _check(truth: ArrayLike, tracks: ArrayLike, c: float, p: float) -> tuple[NDArray[np.float64], ...]:
    x = _points(truth, "truth")
    y = _points(tracks, "tracks", x.shape[1])
    if x.shape[0] == 0 and y.shape[0] > 0:
        x = x.reshape(0, y.shape[1])
    if x.shape[0] and y.shape[0] and x.shape[1] != y.shape[1]:
        raise ValueError(f"truth has {x.shape[1]} coordinates but tracks have {y.shape[1]}")
    if not c > 0 or not math.isfinite(c):
        raise ValueError(f"cut-off c must be a positive finite distance, got {c}")
    if not p >= 1:
        raise ValueError(f"order p must be >= 1, got {p}")
    return x, y


def _cut_cost(x: NDArray[np.float64], y: NDArray[np.float64], c: float) -> NDArray[np.float64]:
    d: NDArray[np.float64] = cdist(x, y)
    np.minimum(d, c, out=d)
    return d


def gospa(truth: ArrayLike, tracks: ArrayLike, c: float, p: float = 1.0, alpha: float = 2.0) -> GospaResult:
    """GOSPA between truth points ``[T, d]`` and track points ``[K, d]`` at one time."""
    if not 0 < alpha <= 2:
        raise ValueError(f"alpha must be in (0, 2], got {alpha}")
    x, y = _check(truth, tracks, c, p)
    m, n = x.shape[0], y.shape[0]
    assignment = np.full(m, -1, dtype=np.int64)
    cp = c**p
    if m == 0 or n == 0:
        missed = m * cp / alpha
        false = n * cp / alpha
        return GospaResult((missed + false) ** (1.0 / p), 0.0, missed, false, m, n, assignment)
    cost = _cut_cost(x, y, c) ** p
    rows, cols = linear_sum_assignment(cost)
    pair = cost[rows, cols]
    # A pair at the cut-off is no match: report it as one missed and one false point.
    close = pair < cp
    localisation = float(pair[close].sum())
    n_cut = int((~close).sum())
    assignment[rows[close]] = cols[close]
    n_missed = m - int(close.sum())
    n_false = n - int(close.sum())
    missed = n_cut * cp / 2.0 + (m - rows.shape[0]) * cp / alpha
    false = n_cut * cp / 2.0 + (n - rows.shape[0]) * cp / alpha
    total = (localisation + missed + false) ** (1.0 / p)
    return GospaResult(total, localisation, missed, false, n_missed, n_false, assignment)


def gospa_series(
    truth: Sequence[ArrayLike],
    tracks: Sequence[ArrayLike],
    c: float,
    p: float = 1.0,
    alpha: float = 2.0,
) -> GospaSeries:
    """GOSPA at each time step: ``truth[k]`` and ``tracks[k]`` are the points at step ``k``."""
    if len(truth) != len(tracks):
        raise ValueError(f"{len(truth)} truth steps but {len(tracks)} track steps")
    cols = np.zeros((6, len(truth)), dtype=np.float64)
    for k, (x, y) in enumerate(zip(truth, tracks, strict=True)):
        r = gospa(x, y, c, p, alpha)
        cols[:, k] = (r.total, r.localisation, r.missed, r.false, r.n_missed, r.n_false)
    return GospaSeries(cols[0], cols[1], cols[2], cols[3], cols[4].astype(np.int64), cols[5].astype(np.int64))


def ospa(truth: ArrayLike, tracks: ArrayLike, c: float, p: float = 1.0) -> OspaResult:
    """OSPA between truth points ``[T, d]`` and track points ``[K, d]`` at one time."""
    x, y = _check(truth, tracks, c, p)
    m, n = x.shape[0], y.shape[0]
    big = max(m, n)
    if big == 0:
        return OspaResult(0.0, 0.0, 0.0)
    if math.isinf(p):
        if m != n:
            return OspaResult(c, 0.0, c)
        cost = _cut_cost(x, y, c)
        rows, cols = linear_sum_assignment(cost)
        worst = float(cost[rows, cols].max())
        return OspaResult(worst, worst, 0.0)
    if m == 0 or n == 0:
        return OspaResult(c, 0.0, c**p)
    cost = _cut_cost(x, y, c) ** p
    rows, cols = linear_sum_assignment(cost)
    loc = float(cost[rows, cols].sum()) / big
    card = c**p * (big - min(m, n)) / big
    return OspaResult((loc + card) ** (1.0 / p), loc, card)


def ospa_series(
    truth: Sequence[ArrayLike], tracks: Sequence[ArrayLike], c: float, p: float = 1.0
) -> NDArray[np.float64]:
    """OSPA distance at each time step."""
    if len(truth) != len(tracks):
        raise ValueError(f"{len(truth)} truth steps but {len(tracks)} track steps")
    return np.array([ospa(x, y, c, p).total for x, y in zip(truth, tracks, strict=True)], dtype=np.float64)
