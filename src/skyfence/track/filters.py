"""Kalman-family predict and update over many tracks at once (KF, EKF, UKF, IMM).

Track state is mode-conditioned: ``xm [N,M,6]``, ``Pm [N,M,6,6]`` and mode
probabilities ``mu [N,M]``; ``M = 1`` is a plain (E/U)KF, ``M > 1`` an IMM whose modes
are mixed before each prediction. Updates are moment-matched mixtures over
``(track, detection)`` pairs with weights ``beta`` (1 for GNN, the association
probabilities for JPDA), so one code path serves both associators. The common cases
are compiled (:mod:`skyfence.track.kern_kalman`): the constant velocity prediction and
the one-detection-per-track EKF update, both in place.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from skyfence.track.kern_kalman import KIND_BEARING, KIND_LINEAR, KIND_POLAR, cv_predict, ekf_update_one
from skyfence.track.measure import Nonlinear, angle_mask, predict_measurement, residual

__all__ = [
    "backward_solve",
    "cholesky",
    "combine",
    "forward_solve",
    "gaussian_loglik",
    "kalman_gain",
    "mixture_update",
    "predict",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
_UPDATE_KIND = {
    "position": KIND_LINEAR,
    "remote_id": KIND_LINEAR,
    "polar": KIND_POLAR,
    "bearing": KIND_BEARING,
}


def _kernel_ok(*arrays: NDArray[np.float64]) -> bool:
    """Whether the compiled in-place kernels may write these arrays (one specialisation)."""
    return all(a.dtype == np.float64 and a.flags.c_contiguous and a.flags.writeable for a in arrays)


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
    """One step for all tracks: IMM mixing (when ``M > 1``), then ``F x``, ``F P F' + Q``.
    The input arrays may be updated in place and returned."""
    if xm.shape[1] > 1:
        c = mu @ Pi  # predicted mode probabilities [N,M]
        w = mu[:, :, None] * Pi[None] / np.maximum(c[:, None, :], 1e-300)  # mu_{i|j} [N,M,M]
        x0 = np.einsum("nij,nik->njk", w, xm)
        d = xm[:, :, None, :] - x0[:, None, :, :]  # [N,i,j,6]
        P0 = np.einsum("nij,nikl->njkl", w, Pm) + np.einsum("nij,nijk,nijl->njkl", w, d, d)
        xm, Pm, mu = x0, P0, c
    f = F[0]
    if (
        F.shape[0] == 1
        and f[3, 3] == f[4, 4] == 1.0
        and f[0, 3] == f[1, 4] == f[2, 5]
        and not f[3:, :3].any()
    ):
        # Constant velocity: F = [[I, dt I], [0, I]] applied by block, not as a 6x6 product.
        # In place: the caller hands over its state arrays and takes the results back.
        dt = f[0, 3]
        if _kernel_ok(xm, Pm):
            cv_predict(xm, Pm, float(dt), np.ascontiguousarray(Q[0], dtype=np.float64))
            return xm, Pm, mu
        xm[..., :3] += dt * xm[..., 3:]
        Pm[..., :3, :] += dt * Pm[..., 3:, :]
        Pm[..., :, :3] += dt * Pm[..., :, 3:]
        Pm += Q
        return xm, Pm, mu
    xp = np.einsum("mij,nmj->nmi", F, xm)
    Pp = F @ Pm @ np.swapaxes(F, 1, 2) + Q
    return xp, Pp, mu


def cholesky(S: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower Cholesky factors of ``S [K,m,m]``, batched. For the measurement sizes here
    (m <= 3) the factor is written out element by element over the batch, which is many
    times faster than a LAPACK call per small matrix; a factor of a matrix that is not
    positive definite has NaN entries (callers treat those pairs as outside the gate)."""
    m = S.shape[-1]
    if m > 3:
        return np.asarray(np.linalg.cholesky(S), dtype=np.float64)
    L = np.zeros_like(S)
    # sqrt of NaN (not of a negative) keeps a non-PD matrix quiet: no warning, NaN factor.
    a = S[:, 0, 0]
    L[:, 0, 0] = l00 = np.sqrt(np.where(a > 0, a, np.nan))
    if m == 1:
        return L
    L[:, 1, 0] = l10 = S[:, 1, 0] / l00
    d = S[:, 1, 1] - l10 * l10
    L[:, 1, 1] = l11 = np.sqrt(np.where(d > 0, d, np.nan))
    if m == 2:
        return L
    L[:, 2, 0] = l20 = S[:, 2, 0] / l00
    L[:, 2, 1] = l21 = (S[:, 2, 1] - l20 * l10) / l11
    d = S[:, 2, 2] - l20 * l20 - l21 * l21
    L[:, 2, 2] = np.sqrt(np.where(d > 0, d, np.nan))
    return L


def forward_solve(L: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``L^-1 b`` for lower-triangular ``L [K,m,m]`` and ``b [K,m,r]``."""
    m = L.shape[-1]
    y = np.empty_like(b)
    for i in range(m):
        acc = b[:, i, :]
        for k in range(i):
            acc = acc - L[:, i, k, None] * y[:, k, :]
        y[:, i, :] = acc / L[:, i, i, None]
    return y


def backward_solve(L: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """``L^-T y`` for lower-triangular ``L [K,m,m]`` and ``y [K,m,r]``."""
    m = L.shape[-1]
    x = np.empty_like(y)
    for i in range(m - 1, -1, -1):
        acc = y[:, i, :]
        for k in range(i + 1, m):
            acc = acc - L[:, k, i, None] * x[:, k, :]
        x[:, i, :] = acc / L[:, i, i, None]
    return x


def gaussian_loglik(
    nu: NDArray[np.float64], S: NDArray[np.float64], with_loglik: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Squared Mahalanobis distance and log-likelihood of residuals ``nu [K,m]`` with
    covariances ``S [K,m,m]`` (batched Cholesky). Non-positive-definite ``S`` gives
    ``d2 = inf``. ``with_loglik=False`` skips the log-likelihood (returned as ``d2``
    itself, for callers that only gate)."""
    if nu.shape[1] == 1:  # bearings: scalar innovations, no factorisation needed
        s = S[:, 0, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            d2 = np.where(s > 0, nu[:, 0] ** 2 / s, np.inf)
            if not with_loglik:
                return d2, d2
            logdet = np.log(np.where(s > 0, s, np.nan))
        return d2, -0.5 * (d2 + logdet + _LOG_2PI)
    if nu.shape[1] == 2:  # 2-D positions: the 2x2 inverse written out
        a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
        det = a * c - b * b
        ok = (a > 0) & (det > 0)
        n0, n1 = nu[:, 0], nu[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            d2 = np.where(ok, (c * n0 * n0 - 2.0 * b * n0 * n1 + a * n1 * n1) / det, np.inf)
            if not with_loglik:
                return d2, d2
            logdet = np.log(np.where(ok, det, np.nan))
        return d2, -0.5 * (d2 + logdet + 2 * _LOG_2PI)
    L = cholesky(S)
    y = forward_solve(L, nu[..., None])[..., 0]
    d2 = np.einsum("ki,ki->k", y, y)
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    d2 = np.where(np.isfinite(d2), d2, np.inf)
    if not with_loglik:
        return d2, d2
    m = nu.shape[1]
    return d2, -0.5 * (d2 + logdet + m * _LOG_2PI)


def kalman_gain(Pxz: NDArray[np.float64], S: NDArray[np.float64]) -> NDArray[np.float64]:
    """``Pxz S^-1 [K,6,m]`` through the Cholesky factor of ``S`` (the inverse written
    out for 1x1 and 2x2)."""
    m = S.shape[-1]
    if m == 1:
        out1: NDArray[np.float64] = Pxz / S[:, 0, 0][:, None, None]
        return out1
    if m == 2:
        a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 1, 1]
        det = a * c - b * b
        inv = np.empty_like(S)
        inv[:, 0, 0], inv[:, 1, 1] = c / det, a / det
        inv[:, 0, 1] = inv[:, 1, 0] = -b / det
        out2: NDArray[np.float64] = Pxz @ inv
        return out2
    L = cholesky(S)
    out = backward_solve(L, forward_solve(L, np.swapaxes(Pxz, 1, 2)))
    return np.swapaxes(out, 1, 2)


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
    one_to_one: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Update tracks ``rows = unique(track)`` with detections ``z [K,m]`` (pair ``k`` links
    ``track[k]`` to ``z[k]`` with weight ``beta[k]``; ``beta0[rows]`` is each updated
    track's weight of "no detection"). Returns ``xm``, ``Pm``, ``mu`` for all tracks (the
    inputs may be updated in place).

    Each mode is updated with its own gain (IMM); the mode probabilities are reweighted
    by the mode likelihoods ``sum_k beta_k N(nu_k; S_k)`` (plus ``mode_lik_floor`` for
    JPDA's missed-detection term). ``one_to_one`` promises what GNN guarantees: at most
    one pair per track, every ``beta`` 1 and ``beta0`` 0 on the updated tracks.
    """
    M = mu.shape[1]
    K = track.shape[0]
    if K == 0:
        return xm, Pm, mu
    m = z.shape[1]
    code = _UPDATE_KIND.get(kind)
    if (
        M == 1
        and code is not None
        and (method == "ekf" or code == KIND_LINEAR)
        and m <= 3
        and _kernel_ok(xm, Pm)
        and (one_to_one or (beta0[track].max() == 0.0 and np.all(beta == 1.0)))
    ):
        # GNN with a plain filter: one compiled pass, each track updated in place.
        sp = spos[None, :] if spos.ndim == 1 else spos
        ekf_update_one(
            xm,
            Pm,
            np.ascontiguousarray(track, dtype=np.int64),
            np.ascontiguousarray(z, dtype=np.float64),
            np.ascontiguousarray(R, dtype=np.float64),
            code,
            angle_mask(kind, m),
            np.ascontiguousarray(sp, dtype=np.float64),
        )
        return xm, Pm, mu
    xk = xm[track].reshape(K * M, 6)
    Pk = Pm[track].reshape(K * M, 6, 6)
    sp = spos if spos.ndim == 1 else np.repeat(spos, M, axis=0)
    zhat, Pzz, Pxz = predict_measurement(xk, Pk, kind, m, sp, method)
    zr = np.repeat(z, M, axis=0)
    S = Pzz + np.repeat(R, M, axis=0)
    nu = residual(zr, zhat, angle_mask(kind, m))
    gain = kalman_gain(Pxz, S)  # [KM,6,m]
    dx = np.einsum("kim,km->ki", gain, nu)
    Pu = Pk - gain @ np.swapaxes(Pxz, 1, 2)
    Pu = 0.5 * (Pu + np.swapaxes(Pu, 1, 2))

    if M == 1 and (one_to_one or (beta0[track].max() == 0.0 and np.all(beta == 1.0))):
        # GNN with a plain filter: one detection per track, no mixture to match (in place).
        xm[track, 0] = xk + dx
        Pm[track, 0] = Pu
        return xm, Pm, mu
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
