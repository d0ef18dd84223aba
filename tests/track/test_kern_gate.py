"""The compiled fused gate against the numpy reference (coarse candidates, then the
batched exact chi-square test): the same pairs, distances and log-likelihoods, for every
measurement kind, on problems small (every pair tested) and large (windowed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.model import Detections
from skyfence.track.gate import _gate_numpy, gate, gate_threshold
from skyfence.track.measure import is_linear, predict_measurement

SPOS = np.array([100.0, -50.0, 10.0])


def _problem(kind: str, m: int, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, Detections]:
    rng = np.random.default_rng(seed)
    half = 3000.0 if n * k > 2000 else 400.0
    x = np.zeros((n, 6))
    x[:, :2] = rng.uniform(-half, half, (n, 2))
    x[:, 2] = rng.uniform(20, 300, n)
    x[:, 3:] = rng.normal(0, 10, (n, 3))
    A = rng.normal(0, 1, (n, 6, 6)) * np.array([30, 30, 10, 3, 3, 1.0])[None, :, None]
    P = A @ np.swapaxes(A, 1, 2) + np.eye(6) * 4.0
    x[: n // 4, 1] = SPOS[1] - rng.uniform(50, half, n // 4)  # south of the sensor
    x[: n // 4, 0] = SPOS[0] + rng.normal(0, 30, n // 4)
    truth = x[rng.integers(0, n, k), :3] + rng.normal(0, 20, (k, 3))
    d = truth - SPOS
    rh = np.hypot(d[:, 0], d[:, 1])
    az, el = np.arctan2(d[:, 0], d[:, 1]), np.arctan2(d[:, 2], rh)
    if kind == "polar":
        z = np.column_stack([np.hypot(rh, d[:, 2]), az, el])[:, :m]
        sig = np.array([10.0, 0.01, 0.02])[:m]
    elif kind == "bearing":
        z = np.column_stack([az, el])[:, :m]
        # Targets south of the sensor put azimuths on both sides of +-pi (the wrap).
        sig = np.array([0.03, 0.05])[:m]
    else:
        z = truth[:, :m]
        sig = np.full(m, 15.0)
    z = z + rng.normal(0, 1, z.shape) * sig
    if kind == "bearing":
        z[:, 0] = (z[:, 0] + np.pi) % (2 * np.pi) - np.pi
    R = np.tile(np.diag(sig**2), (k, 1, 1)) * rng.uniform(0.5, 2.0, (k, 1, 1))
    return x, P, Detections("s", kind, np.zeros(k), z, R)  # type: ignore[arg-type]


CASES = [("polar", 3), ("polar", 2), ("bearing", 1), ("bearing", 2), ("position", 2), ("position", 3)]


def _check(kind: str, m: int, n: int, k: int, seed: int, with_loglik: bool) -> None:
    x, P, det = _problem(kind, m, n, k, seed)
    prob = 0.999
    allowed = np.random.default_rng(seed).random(n) < 0.9
    got = gate(x, P, det, SPOS, prob, "ekf", 5000.0, 100.0**2, allowed, with_loglik)
    thr = gate_threshold(prob, m)
    if is_linear(kind):
        zhat, Pzz = x[:, :m], P[:, :m, :m]
    else:
        zhat, Pzz, _ = predict_measurement(x, P, kind, m, SPOS, "ekf")
    want = _gate_numpy(x, P, det, SPOS, zhat, Pzz, thr, 5000.0, 100.0**2, allowed, with_loglik)
    a = np.lexsort((got.det, got.track))
    b = np.lexsort((want.det, want.track))
    np.testing.assert_array_equal(got.track[a], want.track[b])
    np.testing.assert_array_equal(got.det[a], want.det[b])
    np.testing.assert_allclose(got.d2[a], want.d2[b], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.loglik[a], want.loglik[b], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("kind", "m"), CASES)
@pytest.mark.parametrize(("n", "k"), [(7, 9), (300, 250)])
def test_fused_gate_equals_reference(kind: str, m: int, n: int, k: int) -> None:
    _check(kind, m, n, k, 1, True)
    _check(kind, m, n, k, 2, False)


@pytest.mark.fuzz
@settings(max_examples=40, deadline=None)
@given(st.sampled_from(CASES), st.integers(1, 80), st.integers(1, 80), st.integers(0, 10_000))
def test_fused_gate_equals_reference_fuzz(case: tuple[str, int], n: int, k: int, seed: int) -> None:
    _check(case[0], case[1], n, k, seed, seed % 2 == 0)
