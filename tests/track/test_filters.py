"""Filter consistency: NEES and NIS over Monte Carlo runs stay inside chi-square bounds
(KF on positions, EKF and UKF on radar range/azimuth/elevation), and the IMM beats
constant velocity on a manoeuvring FPV."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from skyfence.model import Detections
from skyfence.track import Tracker, TrackerConfig
from skyfence.track.config import MotionConfig
from skyfence.track.filters import gaussian_loglik, mixture_update, predict
from skyfence.track.measure import angle_mask, measure, predict_measurement, residual
from skyfence.track.motion import cv_noise, mode_matrices, mode_transition

from .conftest import polar_of, registry

RUNS, STEPS = 300, 40


def _monte_carlo(kind: str, method: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-step average NEES and NIS over RUNS independent runs (one 'track' per run)."""
    cfg = MotionConfig(model="cv", q_horizontal=1.0, q_vertical=0.3)
    F, Q = mode_matrices(1.0, cfg)
    Pi = mode_transition(1.0, cfg)
    truth = np.zeros((RUNS, 6))
    truth[:, 0] = rng.uniform(2000, 4000, RUNS)
    truth[:, 1] = rng.uniform(-1000, 1000, RUNS)
    truth[:, 2] = rng.uniform(100, 300, RUNS)
    truth[:, 3:5] = rng.normal(0, 15, (RUNS, 2))
    P0 = np.diag([50.0**2, 50.0**2, 30.0**2, 10.0**2, 10.0**2, 3.0**2])
    xm = (truth + rng.multivariate_normal(np.zeros(6), P0, RUNS))[:, None, :]
    Pm = np.tile(P0, (RUNS, 1, 1, 1))
    mu = np.ones((RUNS, 1))
    spos = np.zeros(3)
    if kind == "position":
        m, R = 3, np.diag([10.0**2] * 3)
    else:
        m, R = 3, np.diag([10.0**2, np.radians(1.0) ** 2, np.radians(1.0) ** 2])
    Rb = np.tile(R, (RUNS, 1, 1))
    lq = np.linalg.cholesky(cv_noise(1.0, 1.0, 0.3))
    nees, nis = [], []
    rows = np.arange(RUNS)
    for _ in range(STEPS):
        truth = truth @ F[0].T + rng.normal(size=(RUNS, 6)) @ lq.T
        xm, Pm, mu = predict(xm, Pm, mu, F, Q, Pi)
        z = measure(truth, kind, m, spos) + rng.multivariate_normal(np.zeros(m), R, RUNS)
        zhat, Pzz, _ = predict_measurement(xm[:, 0], Pm[:, 0], kind, m, spos, method)  # type: ignore[arg-type]
        d2, _ = gaussian_loglik(residual(z, zhat, angle_mask(kind, m)), Pzz + Rb)
        nis.append(d2.mean())
        xm, Pm, mu = mixture_update(
            xm,
            Pm,
            mu,
            rows,
            z,
            Rb,
            np.ones(RUNS),
            np.zeros(RUNS),
            kind,
            spos,
            method,  # type: ignore[arg-type]
        )
        e = truth - xm[:, 0]
        nees.append(np.einsum("ki,kij,kj->k", e, np.linalg.inv(Pm[:, 0]), e).mean())
    return np.array(nees), np.array(nis), m


@pytest.mark.parametrize(("kind", "method"), [("position", "ekf"), ("polar", "ekf"), ("polar", "ukf")])
def test_nees_and_nis_within_chi_square_bounds(kind: str, method: str, rng: np.random.Generator) -> None:
    nees, nis, m = _monte_carlo(kind, method, rng)
    lo6, hi6 = chi2.ppf([0.005, 0.995], RUNS * 6) / RUNS
    lom, him = chi2.ppf([0.005, 0.995], RUNS * m) / RUNS
    # 99 % bounds per step: nearly every step must fall inside; a biased or
    # overconfident filter leaves them for good.
    assert np.mean((nees >= lo6) & (nees <= hi6)) >= 0.9, nees
    assert np.mean((nis >= lom) & (nis <= him)) >= 0.9, nis
    assert abs(nees[5:].mean() - 6.0) < 0.6
    assert abs(nis[5:].mean() - m) < 0.3 * m


def test_overconfident_filter_fails_the_same_bounds(rng: np.random.Generator) -> None:
    """The check can fail: shrink the process noise tenfold and NEES leaves the bounds."""
    cfg_true = cv_noise(1.0, 5.0, 1.0)
    F, Q = mode_matrices(1.0, MotionConfig(q_horizontal=0.05, q_vertical=0.05))
    lq = np.linalg.cholesky(cfg_true)
    truth = np.zeros((RUNS, 6))
    truth[:, 3] = 10.0
    xm = truth[:, None, :].copy()
    Pm = np.tile(np.eye(6), (RUNS, 1, 1, 1))
    mu = np.ones((RUNS, 1))
    R = np.tile(np.eye(3) * 25.0, (RUNS, 1, 1))
    nees = []
    for _ in range(STEPS):
        truth = truth @ F[0].T + rng.normal(size=(RUNS, 6)) @ lq.T
        xm, Pm, mu = predict(xm, Pm, mu, F, Q, np.ones((1, 1)))
        z = truth[:, :3] + rng.normal(0, 5.0, (RUNS, 3))
        xm, Pm, mu = mixture_update(
            xm, Pm, mu, np.arange(RUNS), z, R, np.ones(RUNS), np.zeros(RUNS), "position", np.zeros(3), "ekf"
        )
        e = truth - xm[:, 0]
        nees.append(np.einsum("ki,kij,kj->k", e, np.linalg.inv(Pm[:, 0]), e).mean())
    hi6 = chi2.ppf(0.995, RUNS * 6) / RUNS
    assert np.mean(np.array(nees[5:]) > hi6) > 0.9


def _fpv_trajectory(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A manoeuvring FPV: straight runs, hard turns, a braking hover and a dive, 0.5 s steps."""
    dt, n = 0.5, 240
    x = np.zeros((n, 6))
    pos = np.array([-2000.0, -500.0, 120.0])
    vel = np.array([25.0, 5.0, 0.0])
    for k in range(n):
        t = k * dt
        if 20 <= t < 30 or 70 <= t < 78:
            w = 0.6 if t < 50 else -0.7  # hard turns, rad/s
            c, s = np.cos(w * dt), np.sin(w * dt)
            vel[:2] = [c * vel[0] - s * vel[1], s * vel[0] + c * vel[1]]
        elif 45 <= t < 50:
            vel *= 0.6  # brake into a hover
        elif 50 <= t < 55:
            vel = np.array([0.0, 0.0, 0.0])
        elif 55 <= t < 60:
            vel = vel + np.array([6.0, -4.0, -3.0]) * dt  # dive away
        elif 95 <= t < 100:
            vel = vel + np.array([-8.0, 0.0, 2.0]) * dt
        if pos[2] < 30.0 and vel[2] < 0.0:
            vel[2] = 0.0  # pull out of the dive and fly level
        pos = pos + vel * dt
        x[k, :3], x[k, 3:] = pos, vel
    t = np.arange(n) * dt
    return t, x


def _rmse(motion: MotionConfig, t: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> float:
    """Position RMSE of the track nearest the FPV, radar range/az/el at 2 Hz."""
    sp = np.array([0.0, 0.0, 10.0])
    tracker = Tracker(
        TrackerConfig(run_inference=False, motion=motion), registry(("radar", "radar", "polar", sp))
    )
    R = np.diag([3.0**2, np.radians(0.5) ** 2, np.radians(0.5) ** 2])
    noise = rng.multivariate_normal(np.zeros(3), R, len(t))
    err = []
    for k in range(len(t)):
        z = polar_of(sp, x[k, :3]) + noise[k]
        tracks = tracker.update(Detections("radar", "polar", [t[k]], z, R[None]))
        assert len(tracks) >= 1
        if t[k] >= 5:
            i = int(np.argmin(np.linalg.norm(tracks.x[:, :3] - x[k, :3], axis=1)))
            err.append(np.sum((tracks.x[i, :3] - x[k, :3]) ** 2))
    return float(np.sqrt(np.mean(err)))


def test_imm_beats_constant_velocity_on_a_manoeuvring_fpv(rng: np.random.Generator) -> None:
    """IMM (CV, two coordinated turns, near-hover/dive) against CV at its best of three
    process-noise tunings, same measurements: lower position RMSE."""
    t, x = _fpv_trajectory(rng)
    seeds = rng.integers(1 << 30, size=3)

    def mean_rmse(motion: MotionConfig) -> float:
        return float(np.mean([_rmse(motion, t, x, np.random.default_rng(s)) for s in seeds]))

    cv = min(mean_rmse(MotionConfig(model="cv", q_horizontal=q, q_vertical=q / 2)) for q in (0.5, 2.0, 8.0))
    imm = mean_rmse(MotionConfig(model="imm", q_horizontal=0.5, q_vertical=0.25))
    assert imm < 0.95 * cv, (imm, cv)
