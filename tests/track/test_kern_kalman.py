"""Compiled Kalman stages against the numpy formulas: EKF measurement prediction, the
one-detection-per-track update and the constant velocity prediction."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from skyfence.track.config import MotionConfig
from skyfence.track.filters import kalman_gain, mixture_update, predict
from skyfence.track.measure import angle_mask, measure, measure_jacobian, predict_measurement, residual
from skyfence.track.motion import cv_noise, mode_matrices

CASES = [("polar", 3), ("polar", 2), ("bearing", 1), ("bearing", 2), ("position", 2), ("position", 3)]


def _states(rng: np.random.Generator, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.column_stack(
        [rng.uniform(-5000, 5000, (n, 2)), rng.uniform(10, 400, n), rng.normal(0, 15, (n, 3))]
    )
    A = rng.normal(0, 1, (n, 6, 6)) * np.array([40, 40, 15, 4, 4, 1.0])[None, :, None]
    return x, A @ np.swapaxes(A, 1, 2) + np.eye(6)


def _reference(
    x: NDArray[np.float64], P: NDArray[np.float64], kind: str, m: int, spos: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    H = measure_jacobian(x, kind, m, spos)
    Pxz = P @ np.swapaxes(H, 1, 2)
    return measure(x, kind, m, spos), H @ Pxz, Pxz


@pytest.mark.parametrize(("kind", "m"), [c for c in CASES if c[0] != "position"])
@pytest.mark.parametrize("per_state", [False, True])
def test_ekf_measure_matches_numpy(kind: str, m: int, per_state: bool, rng: np.random.Generator) -> None:
    x, P = _states(rng, 200)
    spos = rng.normal(0, 100, (200, 3)) if per_state else np.array([30.0, -20.0, 5.0])
    got = predict_measurement(x, P, kind, m, spos, "ekf")
    want = _reference(x, P, kind, m, spos)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    zhat, Pzz, Pxz = predict_measurement(x, P, kind, m, spos, "ekf", with_pxz=False)
    assert Pxz.shape[0] == 0
    np.testing.assert_allclose(zhat, want[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(Pzz, want[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("kind", "m"), CASES)
def test_one_to_one_update_matches_numpy(kind: str, m: int, rng: np.random.Generator) -> None:
    n = 150
    x, P = _states(rng, n)
    spos = np.array([30.0, -20.0, 5.0])
    track = rng.permutation(n)[:100].astype(np.int64)
    zt = measure(x[track] + rng.normal(0, 10, (100, 6)), kind, m, spos)
    sig = {"polar": [10.0, 0.01, 0.02], "bearing": [0.03, 0.05], "position": [5.0, 5.0, 5.0]}[kind][:m]
    R = np.tile(np.diag(np.square(sig)), (100, 1, 1))
    # The numpy formulas (the reference path of mixture_update).
    zhat, Pzz, Pxz = predict_measurement(x[track], P[track], kind, m, spos, "ekf")
    S = Pzz + R
    nu = residual(zt, zhat, angle_mask(kind, m))
    G = kalman_gain(Pxz, S)
    want_x = x.copy()
    want_P = P.copy()
    want_x[track] = x[track] + np.einsum("kim,km->ki", G, nu)
    Pu = P[track] - G @ np.swapaxes(Pxz, 1, 2)
    want_P[track] = 0.5 * (Pu + np.swapaxes(Pu, 1, 2))
    xm, Pm, mu = x[:, None].copy(), P[:, None].copy(), np.ones((n, 1))
    xm, Pm, _ = mixture_update(
        xm, Pm, mu, track, zt, R, np.ones(100), np.zeros(n), kind, spos, "ekf", one_to_one=True
    )
    np.testing.assert_allclose(xm[:, 0], want_x, rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(Pm[:, 0], want_P, rtol=1e-8, atol=1e-7)


def test_cv_predict_matches_matrix_product(rng: np.random.Generator) -> None:
    x, P = _states(rng, 50)
    F, Q = mode_matrices(0.7, MotionConfig(model="cv"))
    want_x = x @ F[0].T
    want_P = F[0] @ P @ F[0].T + Q[0]
    xm, Pm, _ = predict(x[:, None].copy(), P[:, None].copy(), np.ones((50, 1)), F, Q, np.ones((1, 1)))
    np.testing.assert_allclose(xm[:, 0], want_x, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(Pm[:, 0], want_P, rtol=1e-12, atol=1e-9)
    assert cv_noise(0.7, 1.0, 1.0).shape == (6, 6)
