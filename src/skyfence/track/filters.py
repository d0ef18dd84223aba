"""Kalman-family predict and update over many tracks at once (KF, EKF, UKF, IMM).

Track state is mode-conditioned: ``xm [N,M,6]``, ``Pm [N,M,6,6]`` and mode
probabilities ``mu [N,M]``; ``M = 1`` is a plain (E/U)KF, ``M > 1`` an IMM whose modes
are mixed before each prediction. Updates are moment-matched mixtures over
``(track, detection)`` pairs with weights ``beta`` (1 for GNN, the association
probabilities for JPDA), so one code path serves both associators.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyfence.track.measure import Nonlinear, angle_mask, predict_measurement, residual

__all__ = ["combine", "gaussian_loglik", "mixture_update", "predict"]

_LOG_2PI = float(np.log(2.0 * np.pi))


def combine(
    xm: NDArray[np.float64], Pm: NDArray[np.float64], mu: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Moment-matched single Gaussian ``x [N,6]``, ``P [N,6,6]`` of the mode mixture."""
    if xm.shape[1] == 1:
        return xm[:, 0].copy(), Pm[:, 0].copy()
    x = np.einsum("nm,nmi->ni", mu, xm)
    d = xm - x[:, None, :]
    P = np.einsum("nm,nmij->nij", mu, Pm + d[..., :, None] * d[..., None, :])
    return x, P


def predict(
    xm: NDArray[np.float64],
    Pm: NDArray[np.float64],
    mu: NDArray[np.float64],
    F: NDArray[np.float64],
    Q: NDArray[np.float64],
    Pi: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """One step for all tracks: IMM mixing (when ``M > 1``), then ``F x``, ``F P F' + Q``."""
    if xm.shape[1] > 1:
        c = mu @ Pi  # predicted mode probabilities [N,M]
        w = mu[:, :, None] * Pi[None] / np.maximum(c[:, None, :], 1e-300)  # mu_{i|j} [N,M,M]
        x0 = np.einsum("nij,nik->njk", w, xm)
        d = xm[:, :, None, :] - x0[:, None, :, :]  # [N,i,j,6]
        P0 = np.einsum("nij,nikl->njkl", w, Pm) + np.einsum("nij,nijk,nijl->njkl", w, d, d)
        xm, Pm, mu = x0, P0, c
    xp = np.einsum("mij,nmj->nmi", F, xm)
    Pp = F @ Pm @ np.swapaxes(F, 1, 2) + Q
    return xp, Pp, mu


def gaussian_loglik(
    nu: NDArray[np.float64], S: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Squared Mahalanobis distance and log-likelihood of residuals ``nu [K,m]`` with
    covariances ``S [K,m,m]`` (batched Cholesky)."""
    L = np.linalg.cholesky(S)
    y = np.linalg.solve(L, nu[..., None])[..., 0]
    d2 = np.einsum("ki,ki->k", y, y)
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    m = nu.shape[1]
    return d2, -0.5 * (d2 + logdet + m * _LOG_2PI)


def mixture_update(
    xm: NDArray[np.float64],
    Pm: NDArray[np.float64],
    mu: NDArray[np.float64],
    track: NDArray[np.int64],
    z: NDArray[np.float64],
    R: NDArray[np.float64],
    beta: NDArray[np.float64],
    beta0: NDArray[np.float64],
    kind: str,
    spos: NDArray[np.float64],
    method: Nonlinear,
    mode_lik_floor: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Update tracks ``rows = unique(track)`` with detections ``z [K,m]`` (pair ``k`` links
    ``track[k]`` to ``z[k]`` with weight ``beta[k]``; ``beta0[rows]`` is each updated
    track's weight of "no detection"). Returns new ``xm``, ``Pm``, ``mu`` for all tracks.

    Each mode is updated with its own gain (IMM); the mode probabilities are reweighted
    by the mode likelihoods ``sum_k beta_k N(nu_k; S_k)`` (plus ``mode_lik_floor`` for
    JPDA's missed-detection term).
    """
    M = mu.shape[1]
    K = track.shape[0]
    if K == 0:
        return xm, Pm, mu
    m = z.shape[1]
    xk = xm[track].reshape(K * M, 6)
    Pk = Pm[track].reshape(K * M, 6, 6)
    sp = spos if spos.ndim == 1 else np.repeat(spos, M, axis=0)
    zhat, Pzz, Pxz = predict_measurement(xk, Pk, kind, m, sp, method)
    zr = np.repeat(z, M, axis=0)
    S = Pzz + np.repeat(R, M, axis=0)
    nu = residual(zr, zhat, angle_mask(kind, m))
    gain = np.linalg.solve(S, np.swapaxes(Pxz, 1, 2))  # S^-1 Pzx = K'
    gain = np.swapaxes(gain, 1, 2)  # [KM,6,m]
    dx = np.einsum("kim,km->ki", gain, nu)
    Pu = Pk - gain @ S @ np.swapaxes(gain, 1, 2)
    Pu = 0.5 * (Pu + np.swapaxes(Pu, 1, 2))
    _, ll = gaussian_loglik(nu, S)

    rows, inv = np.unique(track, return_inverse=True)
    b = np.repeat(beta, M)
    pair_mode = inv.repeat(M) * M + np.tile(np.arange(M), K)  # index into [rows*M]
    nr = rows.shape[0] * M
    # Moment-matched mixture of "no detection" (beta0) and each pair's posterior.
    dx_mean = np.zeros((nr, 6))
    np.add.at(dx_mean, pair_mode, b[:, None] * dx)
    second = np.zeros((nr, 6, 6))
    np.add.at(second, pair_mode, b[:, None, None] * (Pu + dx[:, :, None] * dx[:, None, :]))
    P_prior = Pm[rows].reshape(nr, 6, 6)
    b0 = np.repeat(beta0[rows], M)
    P_new = b0[:, None, None] * P_prior + second - dx_mean[:, :, None] * dx_mean[:, None, :]
    xm = xm.copy()
    Pm = Pm.copy()
    xm[rows] = (xm[rows].reshape(nr, 6) + dx_mean).reshape(-1, M, 6)
    Pm[rows] = (0.5 * (P_new + np.swapaxes(P_new, 1, 2))).reshape(-1, M, 6, 6)
    if M > 1:
        # Mode likelihoods in log space, pairs of one track summed (log-sum-exp).
        llm = ll.reshape(K, M)
        shift = np.full(rows.shape[0], -np.inf)
        np.maximum.at(shift, inv, llm.max(axis=1))
        lik = np.zeros((rows.shape[0], M))
        np.add.at(lik, inv, beta[:, None] * np.exp(llm - shift[inv][:, None]))
        if mode_lik_floor is not None:
            lik += mode_lik_floor[rows][:, None] * np.exp(-shift)[:, None]
        post = mu[rows] * np.maximum(lik, 1e-300)
        mu = mu.copy()
        mu[rows] = post / post.sum(axis=1, keepdims=True)
        mu[rows] = np.maximum(mu[rows], 1e-6)
        mu[rows] /= mu[rows].sum(axis=1, keepdims=True)
    return xm, Pm, mu
