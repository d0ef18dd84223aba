"""GOSPA/OSPA against Stone Soup 1.9.1's GOSPAMetric and OSPAMetric on random point sets."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skyfence.evaluate.gospa import gospa, gospa_series, ospa, ospa_series

ospametric = pytest.importorskip("stonesoup.metricgenerator.ospametric")
State = pytest.importorskip("stonesoup.types.state").State

T0 = dt.datetime(2026, 1, 1)


def _states(points: np.ndarray) -> list[object]:
    return [State(row.reshape(-1, 1), timestamp=T0) for row in points]


def _stonesoup_gospa(truth: np.ndarray, tracks: np.ndarray, c: float, p: float) -> dict[str, float]:
    metric = ospametric.GOSPAMetric(c=c, p=p)
    result, _ = metric.compute_gospa_metric(_states(tracks), _states(truth))
    return {k: float(v) for k, v in result.value.items()}


def _check_against_stonesoup(truth: np.ndarray, tracks: np.ndarray, c: float, p: float) -> None:
    ours = gospa(truth, tracks, c, p)
    theirs = _stonesoup_gospa(truth, tracks, c, p)
    for ours_v, key in (
        (ours.total, "distance"),
        (ours.localisation, "localisation"),
        (ours.missed, "missed"),
        (ours.false, "false"),
    ):
        assert ours_v == pytest.approx(theirs[key], rel=1e-9, abs=1e-9), key
    assert ours.total**p == pytest.approx(ours.localisation + ours.missed + ours.false, rel=1e-12)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5])
@pytest.mark.parametrize("dim", [2, 3])
def test_gospa_matches_stonesoup_on_seeded_sets(p: float, dim: int) -> None:
    rng = np.random.default_rng(7)
    sizes = [(0, 0), (0, 3), (4, 0), (1, 1), (5, 9), (9, 5), (20, 20), (37, 12)]
    for m, n in sizes:
        for c in (5.0, 40.0, 1000.0):
            truth = rng.uniform(0, 100, (m, dim))
            tracks = np.concatenate(
                [
                    truth[: min(m, n)] + rng.normal(0, 8, (min(m, n), dim)),
                    rng.uniform(0, 100, (n - min(m, n), dim)),
                ]
            )
            rng.shuffle(tracks)
            if m == 0 and n == 0:
                # Stone Soup needs a timestamp from at least one state; GOSPA of two empty sets is 0.
                r = gospa(truth, tracks, c, p)
                assert (r.total, r.localisation, r.missed, r.false) == (0.0, 0.0, 0.0, 0.0)
                continue
            _check_against_stonesoup(truth, tracks, c, p)


point_sets = st.integers(0, 12).flatmap(
    lambda m: arrays(np.float64, (m, 2), elements=st.floats(-500, 500, allow_nan=False))
)


@given(truth=point_sets, tracks=point_sets, c=st.floats(0.5, 300), p=st.sampled_from([1.0, 2.0, 3.0]))
def test_gospa_matches_stonesoup_property(truth: np.ndarray, tracks: np.ndarray, c: float, p: float) -> None:
    if len(truth) == 0 and len(tracks) == 0:
        assert gospa(truth, tracks, c, p).total == 0.0
        return
    _check_against_stonesoup(truth, tracks, c, p)


@given(truth=point_sets, tracks=point_sets, c=st.floats(0.5, 300), p=st.sampled_from([1.0, 2.0, math.inf]))
def test_ospa_matches_stonesoup_property(truth: np.ndarray, tracks: np.ndarray, c: float, p: float) -> None:
    if len(truth) == 0 and len(tracks) == 0:
        assert ospa(truth, tracks, c, p).total == 0.0
        return
    theirs = float(
        ospametric.OSPAMetric(c=c, p=p).compute_OSPA_distance(_states(tracks), _states(truth)).value
    )
    ours = ospa(truth, tracks, c, p).total
    if p in (1.0, math.inf):
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)
    else:
        # Stone Soup 1.9.1 assigns on min(d, c) and only then raises to p, so for p > 1 its
        # assignment is not always the one OSPA's definition minimises; ours never exceeds it.
        assert ours <= theirs + 1e-9


def _brute_ospa(truth: np.ndarray, tracks: np.ndarray, c: float, p: float) -> float:
    small, big = (truth, tracks) if len(truth) <= len(tracks) else (tracks, truth)
    n = len(big)
    best = math.inf
    for perm in itertools.permutations(range(n), len(small)):
        d = sum(min(float(np.linalg.norm(small[i] - big[j])), c) ** p for i, j in enumerate(perm))
        best = min(best, d)
    return float(((best + c**p * (n - len(small))) / n) ** (1 / p))


def test_ospa_is_the_true_minimum_where_stonesoup_is_not() -> None:
    # Found by hypothesis: Stone Soup's OSPA of order 2 is 1.8516 here; the minimum is 1.8127.
    truth = np.array([[0.0, 0.0], [1.0, 1.0]])
    tracks = np.array([[-1.0, 0.0]] + [[3.0, 0.0]] * 5 + [[0.0, 0.0]])
    assert ospa(truth, tracks, 2.0, 2.0).total == pytest.approx(
        _brute_ospa(truth, tracks, 2.0, 2.0), rel=1e-12
    )
    rng = np.random.default_rng(3)
    for m, n in [(2, 4), (3, 3), (4, 2), (1, 5)]:
        x, y = rng.uniform(0, 10, (m, 2)), rng.uniform(0, 10, (n, 2))
        assert ospa(x, y, 4.0, 2.0).total == pytest.approx(_brute_ospa(x, y, 4.0, 2.0), rel=1e-12)


def test_gospa_assignment_and_counts() -> None:
    truth = np.array([[0.0, 0.0], [100.0, 0.0], [500.0, 500.0]])
    tracks = np.array([[1.0, 0.0], [100.0, 3.0], [900.0, 900.0], [-700.0, 0.0]])
    r = gospa(truth, tracks, c=10.0, p=1.0)
    assert r.assignment.tolist() == [0, 1, -1]
    assert (r.n_missed, r.n_false) == (1, 2)
    assert r.localisation == pytest.approx(4.0)
    assert r.missed == pytest.approx(5.0)
    assert r.false == pytest.approx(10.0)
    assert r.total == pytest.approx(19.0)


def test_gospa_alpha_below_two_charges_cardinality_at_c_over_alpha() -> None:
    truth = np.zeros((1, 2))
    tracks = np.array([[3.0, 4.0], [50.0, 50.0]])
    r = gospa(truth, tracks, c=10.0, p=1.0, alpha=1.0)
    assert r.total == pytest.approx(5.0 + 10.0)
    assert r.total == pytest.approx(r.localisation + r.missed + r.false)


def test_series_and_errors() -> None:
    rng = np.random.default_rng(1)
    truth = [rng.uniform(0, 50, (k, 2)) for k in (0, 3, 5)]
    tracks = [rng.uniform(0, 50, (k, 2)) for k in (2, 3, 0)]
    s = gospa_series(truth, tracks, c=20.0, p=2.0)
    assert len(s) == 3
    for k in range(3):
        assert s.total[k] == pytest.approx(gospa(truth[k], tracks[k], 20.0, 2.0).total)
    assert s.mean == pytest.approx(float(np.mean(s.total)))
    assert s.n_missed.tolist()[2] == 5 and s.n_false.tolist()[0] == 2
    o = ospa_series(truth, tracks, c=20.0, p=2.0)
    assert o[0] == pytest.approx(20.0) and o[2] == pytest.approx(20.0)
    with pytest.raises(ValueError, match="cut-off"):
        gospa(truth[1], tracks[1], c=0.0)
    with pytest.raises(ValueError, match="coordinates"):
        gospa(np.zeros((2, 2)), np.zeros((2, 3)), c=1.0)
    with pytest.raises(ValueError, match="steps"):
        gospa_series(truth, tracks[:2], c=1.0)
