"""Class fusion on synthetic kinematics and evidence, built as arrays (no tracker)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from infer_synth import registry, rf_batch, trajectory, view

from skyfence.model import CLASSES, Detections, TrackStatus
from skyfence.track.infer import InferConfig, TrackInference, band_loglik
from skyfence.track.infer.evidence import bearing_confidence
from skyfence.track.view import AssocBatch


def _run(kinds: list[str], seed: int = 1, seconds: int = 90) -> np.ndarray:
    rng = np.random.default_rng(seed)
    trajs = np.stack([trajectory(k, rng, seconds) for k in kinds], axis=1)
    reg = registry()
    inf = TrackInference(sensors=reg)
    ids = np.arange(1, len(kinds) + 1)
    for k in range(seconds):
        res = inf.update(view(float(k), ids, trajs[k], reg))
    return res.cls_prob


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kinematics_alone_separate_bird_fpv_aircraft_and_hover(seed: int) -> None:
    kinds = ["bird", "fpv", "aircraft", "hover"]
    prob = _run(kinds, seed)
    got = [CLASSES[int(i)] for i in np.argmax(prob, axis=1)]
    assert got == ["bird", "fpv", "aircraft", "multirotor"]
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)


def test_band_loglik_is_a_density_or_an_envelope() -> None:
    bands = np.array([[0.0, 10.0, 2.0], [5.0, 6.0, 0.5]])
    v = np.linspace(-30, 40, 70001)
    dens = np.exp(band_loglik(v, bands))
    area = dens.sum(axis=0) * (v[1] - v[0])
    np.testing.assert_allclose(area, 1.0, rtol=1e-3)
    env = np.exp(band_loglik(np.array([3.0, 5.5, 20.0]), bands, normalise=False))
    np.testing.assert_allclose(env[:2, 0], 1.0)
    assert env[2, 0] < 1e-5


def _eo(n: int, rows: list[int], t: float, lik: list[float]) -> tuple[AssocBatch, np.ndarray]:
    cls_lik = np.ones((n, 6))
    cls_lik[rows] = lik
    det = Detections(
        "eo", "bearing", np.full(len(rows), t), np.zeros((len(rows), 1)), np.full((len(rows), 1, 1), 1e-4)
    )
    return AssocBatch("eo", np.asarray(rows, np.int64), det), cls_lik


def test_one_bad_step_cannot_lock_a_class() -> None:
    rng = np.random.default_rng(4)
    x = trajectory("fpv", rng, 80)
    reg = registry()
    inf = TrackInference(sensors=reg)
    for k in range(40):
        res = inf.update(view(float(k), [7], x[k : k + 1], reg))
    assert CLASSES[int(np.argmax(res.cls_prob[0]))] == "fpv"
    # A camera frame that is sure it sees a bird, with a near-zero likelihood for the rest.
    _, lik = _eo(1, [0], 40.0, [1e-12, 1e-12, 1e-12, 1.0, 1e-12, 1e-12])
    res = inf.update(view(40.0, [7], x[40:41], reg, cls_lik=lik))
    assert res.cls_prob[0].min() >= InferConfig().classify.prob_floor / 2
    for k in range(41, 60):
        res = inf.update(view(float(k), [7], x[k : k + 1], reg))
    assert CLASSES[int(np.argmax(res.cls_prob[0]))] == "fpv"


def test_emission_evidence_names_the_class() -> None:
    reg = registry()
    inf = TrackInference(sensors=reg)
    # Three tracks that look alike kinematically (slow, 50 m): emissions tell them apart.
    x = np.zeros((3, 6))
    x[:, 0] = [-1500.0, 0.0, 1500.0]
    x[:, 1] = 1000.0
    x[:, 2] = 50.0
    x[:, 3] = 8.0
    rid_det = Detections(
        "rid", "remote_id", [0.0], [[0.0, 0.0, 50.0]], [np.eye(3)], attrs={"serial": ["1581F5FJD228400000"]}
    )
    adsb_det = Detections(
        "adsb", "position", [0.0], [[0.0, 0.0, 50.0]], [np.eye(3)], attrs={"icao": ["4CA2D1"]}
    )
    for k in range(10):
        t = float(k)
        assoc = [rf_batch(reg, "rf0", [0], t, "elrs_2g4", x), AssocBatch("rid", np.array([1]), rid_det)]
        assoc.append(AssocBatch("adsb", np.array([2]), adsb_det))
        res = inf.update(view(t, [1, 2, 3], x, reg, assoc=assoc))
    got = [CLASSES[int(i)] for i in np.argmax(res.cls_prob, axis=1)]
    assert got == ["fpv", "multirotor", "aircraft"]


def test_state_follows_ids_as_rows_come_and_go() -> None:
    rng = np.random.default_rng(5)
    fpv = trajectory("fpv", rng, 60)
    bird = trajectory("bird", rng, 60)
    reg = registry()
    inf = TrackInference(sensors=reg)
    for k in range(40):
        res = inf.update(view(float(k), [10, 20], np.stack([fpv[k], bird[k]]), reg))
    # Rows swap order and a new track appears: each id keeps its own posterior.
    res = inf.update(view(40.0, [30, 20, 10], np.stack([bird[40], bird[40], fpv[40]]), reg))
    assert CLASSES[int(np.argmax(res.cls_prob[2]))] == "fpv"
    assert CLASSES[int(np.argmax(res.cls_prob[1]))] == "bird"
    np.testing.assert_allclose(res.cls_prob[0], res.cls_prob[0].mean(), atol=0.3)
    # A deleted id leaves no state behind.
    inf.update(view(41.0, [30], bird[41:42], reg))
    assert inf._cls.state.ids.tolist() == [30]


def test_empty_view() -> None:
    reg = registry()
    inf = TrackInference(sensors=reg)
    res = inf.update(view(0.0, [], np.zeros((0, 6)), reg))
    assert res.cls_prob.shape == (0, 6) and res.group_id.shape == (0,)


finite = st.floats(-1e5, 1e5, allow_nan=False)


@settings(deadline=None)
@given(
    x=hnp.arrays(np.float64, (4, 3, 6), elements=st.one_of(finite, st.just(np.nan), st.just(np.inf))),
    var=hnp.arrays(np.float64, (4, 3), elements=st.floats(1e-6, 1e9)),
    lik=hnp.arrays(np.float64, (4, 3, 6), elements=st.one_of(st.floats(0, 1e6), st.just(np.nan))),
    dts=st.lists(st.floats(0.0, 100.0), min_size=4, max_size=4),
    status=hnp.arrays(np.int8, (4, 3), elements=st.sampled_from([int(s) for s in TrackStatus])),
)
def test_probabilities_stay_valid(
    x: np.ndarray, var: np.ndarray, lik: np.ndarray, dts: list[float], status: np.ndarray
) -> None:
    reg = registry()
    inf = TrackInference(sensors=reg)
    t = 0.0
    for k in range(4):
        t += dts[k]
        P = np.eye(6)[None] * var[k][:, None, None]
        ids = [1, 2, 3] if k % 2 == 0 else [3, 1, 4]
        res = inf.update(
            view(
                t,
                ids,
                x[k],
                reg,
                P=P,
                cls_lik=lik[k],
                status=status[k],
                assoc=[rf_batch(reg, "rf0", [0], t, "elrs_900", np.nan_to_num(x[k], posinf=0.0, neginf=0.0))],
            )
        )
        p = res.cls_prob
        assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
        assert np.isfinite(res.rf_silent).all()
        assert ((res.rf_silent >= 0) & (res.rf_silent <= 1)).all()


def test_a_bearing_on_two_tracks_line_does_not_make_a_bird_an_fpv() -> None:
    reg = registry(rf_positions=[(0.0, 0.0), (3000.0, 0.0)])
    inf = TrackInference(sensors=reg)
    for k in range(60):
        t = float(k)
        x = np.zeros((2, 6))
        # An FPV heard by both sensors, and a bird further out on rf0's line to the FPV.
        x[0, :3] = [1000.0, 1000.0 + 25.0 * k, 30.0]
        x[0, 4] = 25.0
        x[1, :3] = [2000.0, 2000.0 + 50.0 * k, 40.0]
        x[1, 4] = 9.0
        assoc = [rf_batch(reg, "rf1", [0], t, "elrs_900", x)]
        # A wrong association: rf0's bearing of the FPV handed to the bird every second step.
        bad = rf_batch(reg, "rf0", [0], t, "elrs_900", x)
        assoc.append(AssocBatch("rf0", np.array([1 if k % 2 else 0]), bad.detections))
        res = inf.update(view(t, [1, 2], x, reg, assoc=assoc))
    assert CLASSES[int(np.argmax(res.cls_prob[0]))] == "fpv"
    assert res.cls_prob[1, 0] < 0.3


def _dense_confidence(
    det: Detections,
    rows: np.ndarray,
    origin: np.ndarray,
    max_range: float,
    x: np.ndarray,
    P: np.ndarray,
    em: np.ndarray,
) -> np.ndarray:
    d = x[:, :2] - origin[:2]
    r2 = np.maximum((d**2).sum(axis=1), 1.0)
    az = np.arctan2(d[:, 0], d[:, 1])
    dz = np.angle(np.exp(1j * (det.z[:, 0][:, None] - az[None])))
    var = det.R[:, 0, 0][:, None] + (0.5 * (P[:, 0, 0] + P[:, 1, 1]) / r2)[None]
    lik = np.exp(-0.5 * dz**2 / var) / np.sqrt(2 * np.pi * var) * em[None]
    own = lik[np.arange(len(rows)), rows]
    total = np.where(r2[None] <= max_range**2, lik, 0.0).sum(axis=1) + np.where(
        r2[rows] > max_range**2, own, 0
    )
    return own / (np.maximum(total, own) + 0.05)


@pytest.mark.parametrize("seed", range(5))
def test_windowed_bearing_confidence_equals_the_dense_sum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n, k = int(rng.integers(1, 80)), int(rng.integers(1, 20))
        x = np.zeros((n, 6))
        x[:, :2] = rng.uniform(-5000, 5000, (n, 2))
        P = np.eye(6)[None] * (10 ** rng.uniform(0, 5, n))[:, None, None]
        origin = rng.uniform(-100, 100, 3)
        rows = rng.integers(0, n, k)
        az = np.arctan2(x[rows, 0] - origin[0], x[rows, 1] - origin[1]) + rng.normal(0, 0.05, k)
        det = Detections(
            "s", "bearing", np.zeros(k), np.mod(az, 2 * np.pi)[:, None], np.full((k, 1, 1), 0.02**2)
        )
        em = rng.uniform(0.05, 1, n)
        reach = float(rng.uniform(1000, 8000))
        q, _ = bearing_confidence(det, rows, origin, reach, x, P, em, 0.05)
        # Pairs beyond six sigmas are left out: at most ~1e-7 of the sum.
        np.testing.assert_allclose(
            q, _dense_confidence(det, rows, origin, reach, x, P, em), rtol=0, atol=1e-6
        )
