"""Motion models: transition ``F`` and process noise ``Q`` for one time step, per mode.

All models act on ``[E, N, U, vE, vN, vU]``. Every mode is linear for a given step
(the coordinated turns use fixed turn rates), so one prediction is a batched matrix
product over tracks and modes: no Python loop per track.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from skyfence.track.config import MotionConfig

__all__ = ["cv_noise", "mode_count", "mode_matrices", "mode_transition"]


def mode_count(cfg: MotionConfig) -> int:
    return 1 if cfg.model == "cv" else 4


def cv_noise(dt: float, qh: float, qv: float) -> NDArray[np.float64]:
    """Continuous white-noise-acceleration process noise of a CV step."""
    a, b, c = dt**3 / 3.0, dt**2 / 2.0, dt
    Q = np.zeros((6, 6))
    for k, q in ((0, qh), (1, qh), (2, qv)):
        Q[k, k] = a * q
        Q[k, k + 3] = Q[k + 3, k] = b * q
        Q[k + 3, k + 3] = c * q
    return Q


def _cv(dt: float) -> NDArray[np.float64]:
    F = np.eye(6)
    F[0, 3] = F[1, 4] = F[2, 5] = dt
    return F


def _ct(dt: float, w: float) -> NDArray[np.float64]:
    F = _cv(dt)
    s, c = math.sin(w * dt), math.cos(w * dt)
    F[0, 3], F[0, 4] = s / w, -(1.0 - c) / w
    F[1, 3], F[1, 4] = (1.0 - c) / w, s / w
    F[3, 3], F[3, 4] = c, -s
    F[4, 3], F[4, 4] = s, c
    return F


def _hover(dt: float, tau: float) -> NDArray[np.float64]:
    """Velocity decays towards zero (a multirotor braking into a hover); the large
    process noise of this mode also covers dives and sudden climbs."""
    F = np.eye(6)
    e = math.exp(-dt / tau)
    for k in range(3):
        F[k, k + 3] = tau * (1.0 - e)
        F[k + 3, k + 3] = e
    return F


def mode_matrices(dt: float, cfg: MotionConfig) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``F [M,6,6]`` and ``Q [M,6,6]`` for a step of ``dt`` seconds."""
    q = cv_noise(dt, cfg.q_horizontal, cfg.q_vertical)
    if cfg.model == "cv":
        return _cv(dt)[None], q[None]
    w = cfg.turn_rate
    F = np.stack([_cv(dt), _ct(dt, w), _ct(dt, -w), _hover(dt, cfg.hover_tau_s)])
    qm = cv_noise(dt, cfg.q_manoeuvre, cfg.q_manoeuvre)
    Q = np.stack([q, q, q, qm])
    return F, Q


def mode_transition(dt: float, cfg: MotionConfig) -> NDArray[np.float64]:
    """IMM Markov matrix ``Pi[i, j]`` = P(mode j at the end of the step | mode i before)."""
    m = mode_count(cfg)
    if m == 1:
        return np.ones((1, 1))
    stay = math.exp(-max(dt, 0.0) / cfg.mode_sojourn_s)
    stay = min(max(stay, 0.5), 0.995)
    Pi = np.full((m, m), (1.0 - stay) / (m - 1))
    np.fill_diagonal(Pi, stay)
    return Pi
