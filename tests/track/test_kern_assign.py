"""The compiled exact GNN solver against scipy's dense ``linear_sum_assignment`` on the
same augmented problem (a private "missed" column per track), with either side as rows
and with negative costs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from skyfence.track.kern_assign import gnn_exact


def _dense_total(
    track: NDArray[np.int64], det: NDArray[np.int64], cost: NDArray[np.float64], nt: int, nd: int, miss: float
) -> float:
    big = float(np.abs(cost).sum()) + abs(miss) * (nt + 1) + 1.0
    C = np.full((nt, nd + nt), big)
    for t, d, c in zip(track, det, cost, strict=True):
        C[t, d] = min(C[t, d], c)
    C[np.arange(nt), nd + np.arange(nt)] = miss
    r, c = linear_sum_assignment(C)
    return float(C[r, c].sum())


def _total(
    at: NDArray[np.int64],
    ad: NDArray[np.int64],
    track: NDArray[np.int64],
    det: NDArray[np.int64],
    cost: NDArray[np.float64],
    nt: int,
    miss: float,
) -> float:
    assert len(set(at.tolist())) == at.size and len(set(ad.tolist())) == ad.size
    lookup: dict[tuple[int, int], float] = {}
    for t, d, c in zip(track.tolist(), det.tolist(), cost.tolist(), strict=True):
        lookup[(t, d)] = min(lookup.get((t, d), np.inf), c)
    return sum(lookup[(t, d)] for t, d in zip(at.tolist(), ad.tolist(), strict=True)) + miss * (nt - at.size)


problems = st.tuples(st.integers(1, 7), st.integers(1, 7), st.booleans()).flatmap(
    lambda p: st.tuples(
        st.just(p[0]),
        st.just(p[1]),
        st.lists(
            st.tuples(
                st.integers(0, p[0] - 1),
                st.integers(0, p[1] - 1),
                st.floats(-5.0, 8.99) if p[2] else st.floats(0.0, 8.99),
            ),
            max_size=p[0] * p[1] + 3,
        ),
    )
)


@pytest.mark.fuzz
@given(problems)
def test_gnn_exact_matches_dense_lsap(problem: tuple[int, int, list[tuple[int, int, float]]]) -> None:
    nt, nd, entries = problem
    miss = 9.0
    track = np.array([e[0] for e in entries], dtype=np.int64)
    det = np.array([e[1] for e in entries], dtype=np.int64)
    cost = np.array([e[2] for e in entries], dtype=np.float64)
    at, ad = gnn_exact(track, det, cost, nt, nd, miss)
    assert np.all(np.diff(at) > 0)  # sorted by track
    want = _dense_total(track, det, cost, nt, nd, miss)
    assert abs(_total(at, ad, track, det, cost, nt, miss) - want) < 1e-6


@pytest.mark.parametrize("shape", [(300, 200), (200, 300)])
def test_gnn_exact_on_a_giant_conflict_set(shape: tuple[int, int], rng: np.random.Generator) -> None:
    """Wide gates over hundreds of tracks (one connected conflict): still the optimum."""
    nt, nd = shape
    # Bearing-like: track and detection azimuths on a circle, gate a few neighbours wide.
    ta, da = rng.uniform(0, 100, nt), rng.uniform(0, 100, nd)
    diff = ta[:, None] - da[None, :]
    t, d = np.nonzero(np.abs(diff) < 3.0)
    cost = (diff[t, d] / 1.0) ** 2
    ok = cost < 9.0
    t, d, cost = t[ok], d[ok], cost[ok]
    at, ad = gnn_exact(t, d, cost, nt, nd, 9.0)
    want = _dense_total(t, d, cost, nt, nd, 9.0)
    assert abs(_total(at, ad, t, d, cost, nt, 9.0) - want) < 1e-6


def test_gnn_exact_without_pairs() -> None:
    z = np.zeros(0, dtype=np.int64)
    at, ad = gnn_exact(z, z, np.zeros(0), 3, 4, 9.0)
    assert at.size == 0 and ad.size == 0


def test_gnn_exact_rejects_out_of_range_pairs() -> None:
    with pytest.raises(ValueError, match="out of range"):
        gnn_exact(np.array([0, 3]), np.array([0, 0]), np.array([1.0, 2.0]), 3, 4, 9.0)
    with pytest.raises(ValueError, match="out of range"):
        gnn_exact(np.array([0, 1]), np.array([0, 5]), np.array([1.0, 2.0]), 3, 4, 9.0)


@pytest.mark.parametrize(("nt", "nd"), [(2, 3), (3, 2)])
def test_gnn_exact_never_takes_pairs_at_or_above_the_miss_cost(nt: int, nd: int) -> None:
    track = np.array([0, 0, 1, 1], dtype=np.int64)
    det = np.array([0, 1, 0, 1], dtype=np.int64)
    cost = np.array([9.0, np.nan, 12.0, 3.0])
    at, ad = gnn_exact(track, det, cost, nt, nd, 9.0)
    assert at.tolist() == [1] and ad.tolist() == [1]
