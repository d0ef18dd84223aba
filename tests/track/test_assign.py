"""Assignment against brute force on small random problems: GNN (the compiled exact
solver, and scipy's sparse LAPJV reference, both give the optimum), and JPDA marginals
against explicit enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyfence.track.assign import _sparse_gnn, clusters, gnn, jpda

MISS = 9.0


def _brute_force(nt: int, nd: int, cost: dict[tuple[int, int], float]) -> float:
    """Least total cost over every partial matching; an unassigned track costs MISS."""
    best = np.inf
    options = [[-1, *[d for d in range(nd) if (t, d) in cost]] for t in range(nt)]
    for choice in itertools.product(*options):
        used = [d for d in choice if d >= 0]
        if len(used) != len(set(used)):
            continue
        total = sum(MISS if d < 0 else cost[(t, d)] for t, d in enumerate(choice))
        best = min(best, total)
    return float(best)


def _total(at: np.ndarray, ad: np.ndarray, nt: int, cost: dict[tuple[int, int], float]) -> float:
    assert len(set(at.tolist())) == at.size and len(set(ad.tolist())) == ad.size
    return float(sum(cost[(int(t), int(d))] for t, d in zip(at, ad, strict=True)) + MISS * (nt - at.size))


problems = st.integers(1, 5).flatmap(
    lambda nt: st.integers(1, 5).flatmap(
        lambda nd: st.tuples(
            st.just(nt),
            st.just(nd),
            st.lists(
                st.tuples(st.integers(0, nt - 1), st.integers(0, nd - 1), st.floats(0.0, 8.99)),
                min_size=0,
                max_size=nt * nd,
            ),
        )
    )
)


@pytest.mark.fuzz
@given(problems)
def test_gnn_finds_the_brute_force_optimum(problem: tuple[int, int, list[tuple[int, int, float]]]) -> None:
    nt, nd, entries = problem
    cost = {(t, d): c for t, d, c in entries}
    track = np.array([k[0] for k in cost], dtype=np.int64)
    det = np.array([k[1] for k in cost], dtype=np.int64)
    c = np.array(list(cost.values()), dtype=float)
    want = _brute_force(nt, nd, cost)
    at, ad = gnn(track, det, c, nt, nd, MISS)
    assert abs(_total(at, ad, nt, cost) - want) < 1e-6
    if track.size:
        st_, sd = _sparse_gnn(track, det, c, MISS)
        assert abs(_total(st_, sd, nt, cost) - want) < 1e-6


def test_gnn_on_many_independent_clusters_matches_per_cluster_optimum(rng: np.random.Generator) -> None:
    """Hundreds of small conflicts solved at once equal each solved alone."""
    tracks: list[int] = []
    dets: list[int] = []
    costs: list[float] = []
    want = 0.0
    for k in range(300):
        nt, nd = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        cost = {
            (t, d): float(rng.uniform(0, 8.9)) for t in range(nt) for d in range(nd) if rng.random() < 0.8
        }
        unpaired = nt - len({t for t, _ in cost})
        want += _brute_force(nt, nd, cost) - MISS * unpaired
        for (t, d), c in cost.items():
            tracks.append(10 * k + t)
            dets.append(10 * k + d)
            costs.append(c)
    track, det, c = np.array(tracks), np.array(dets), np.array(costs)
    at, ad = gnn(track, det, c, 3000, 3000, MISS)
    lookup = {(int(t), int(d)): float(x) for t, d, x in zip(track, det, c, strict=True)}
    got = sum(lookup[(int(t), int(d))] for t, d in zip(at, ad, strict=True)) + MISS * (
        len(set(tracks)) - at.size
    )
    assert abs(got - want) < 1e-6


def test_clusters_are_connected_components() -> None:
    track = np.array([0, 0, 1, 2, 3])
    det = np.array([0, 1, 1, 2, 4])
    lab = clusters(track, det, 4, 5)
    assert lab[0] == lab[1] == lab[2]
    assert len({lab[0], lab[3], lab[4]}) == 3


@pytest.mark.fuzz
@given(
    st.integers(1, 3).flatmap(
        lambda nt: st.tuples(
            st.just(nt),
            st.integers(1, 3),
            st.lists(st.floats(-12.0, 2.0), min_size=nt * 3, max_size=nt * 3),
            st.lists(st.booleans(), min_size=nt * 3, max_size=nt * 3),
        )
    )
)
def test_jpda_marginals_match_enumeration(
    problem: tuple[int, int, list[float], list[bool]],
) -> None:
    nt, nd, lls, mask = problem
    pd, lam = 0.8, 0.01
    pairs = [(t, d) for t in range(nt) for d in range(nd) if mask[t * 3 + d]]
    if not pairs:
        return
    track = np.array([p[0] for p in pairs], dtype=np.int64)
    det = np.array([p[1] for p in pairs], dtype=np.int64)
    ll = np.array([lls[t * 3 + d] for t, d in pairs])
    beta, beta0 = jpda(track, det, ll, nt, nd, pd, lam)
    # Enumerate the joint events by hand.
    lr = {p: pd * np.exp(v) / lam for p, v in zip(pairs, ll, strict=True)}
    want = dict.fromkeys(pairs, 0.0)
    want0 = np.zeros(nt)
    total = 0.0
    options = [[-1, *[d for d in range(nd) if (t, d) in lr]] for t in range(nt)]
    for ev in itertools.product(*options):
        used = [d for d in ev if d >= 0]
        if len(used) != len(set(used)):
            continue
        w = float(np.prod([(1 - pd) if d < 0 else lr[(t, d)] for t, d in enumerate(ev)]))
        total += w
        for t, d in enumerate(ev):
            if d < 0:
                want0[t] += w
            else:
                want[(t, d)] += w
    for k, p in enumerate(pairs):
        assert abs(beta[k] - want[p] / total) < 1e-9
    touched = sorted(set(track.tolist()))
    assert np.allclose(beta0[touched], want0[touched] / total)
