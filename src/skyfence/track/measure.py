"""Measurement models: what each kind of sensor would measure of a state, batched.

``predict_measurement`` returns the predicted measurement ``zhat``, its covariance
``Pzz`` (without sensor noise) and the state-measurement cross covariance ``Pxz`` for
many states at once, by linearisation (EKF; exact for the linear kinds) or by the
unscented transform (UKF); the EKF for polar and bearing kinds is compiled
(:func:`skyfence.track.kern_kalman.ekf_measure`). Angles wrap: residuals of azimuth go through :func:`wrap`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from skyfence.track.kern_kalman import KIND_BEARING, KIND_POLAR, ekf_measure

__all__ = [
    "Nonlinear",
    "angle_mask",
    "is_linear",
    "measure",
    "measure_jacobian",
    "predict_measurement",
    "residual",
    "to_position",
    "wrap",
]

Nonlinear = Literal["ekf", "ukf"]
#: Kinds whose EKF prediction is compiled (:mod:`skyfence.track.kern_kalman`).
_KIND_CODE = {"polar": KIND_POLAR, "bearing": KIND_BEARING}
_TWO_PI = 2.0 * np.pi


def wrap(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Angles to ``[-pi, pi)``."""
    # floor() is several times faster than the float modulo on large arrays.
    out: NDArray[np.float64] = a - _TWO_PI * np.floor((a + np.pi) / _TWO_PI)
    return out


def is_linear(kind: str) -> bool:
    return kind in ("position", "remote_id")


def angle_mask(kind: str, m: int) -> NDArray[np.bool_]:
    """Which measurement coordinates are angles (wrap their residuals)."""
    if kind == "polar":
        return np.array([False, True, True][:m])
    if kind == "bearing":
        return np.ones(m, dtype=bool)
    return np.zeros(m, dtype=bool)


def residual(
    z: NDArray[np.float64], zhat: NDArray[np.float64], angles: NDArray[np.bool_]
) -> NDArray[np.float64]:
    nu = z - zhat
    if angles.any():
        nu[..., angles] = wrap(nu[..., angles])
    return nu


def measure(x: NDArray[np.float64], kind: str, m: int, spos: NDArray[np.float64]) -> NDArray[np.float64]:
    """``h(x)`` for states ``x [K,6]`` seen from sensor position(s) ``spos [3]`` or ``[K,3]``."""
    if is_linear(kind):
        return x[:, :m].copy()
    d = x[:, :3] - spos
    rh = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
    az = np.arctan2(d[:, 0], d[:, 1])
    if kind == "polar":
        if m == 2:
            return np.stack([rh, az], axis=1)
        r = np.sqrt(rh * rh + d[:, 2] ** 2)
        return np.stack([r, az, np.arctan2(d[:, 2], rh)], axis=1)
    if m == 1:
        return az[:, None]
    return np.stack([az, np.arctan2(d[:, 2], rh)], axis=1)


def measure_jacobian(
    x: NDArray[np.float64], kind: str, m: int, spos: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``dh/dx [K,m,6]`` (the velocity columns are zero for every kind)."""
    k = x.shape[0]
    H = np.zeros((k, m, 6))
    if is_linear(kind):
        H[:, np.arange(m), np.arange(m)] = 1.0
        return H
    d = x[:, :3] - spos
    e, n, u = d[:, 0], d[:, 1], d[:, 2]
    rh2 = np.maximum(e * e + n * n, 1e-12)
    rh = np.sqrt(rh2)
    r2 = rh2 + u * u
    r = np.sqrt(r2)
    az_row = np.stack([n / rh2, -e / rh2, np.zeros(k)], axis=1)
    el_row = np.stack([-u * e / (r2 * rh), -u * n / (r2 * rh), rh / r2], axis=1)
    if kind == "polar":
        if m == 2:
            H[:, 0, :3] = np.stack([e / rh, n / rh, np.zeros(k)], axis=1)
            H[:, 1, :3] = az_row
        else:
            H[:, 0, :3] = d / r[:, None]
            H[:, 1, :3] = az_row
            H[:, 2, :3] = el_row
        return H
    H[:, 0, :3] = az_row
    if m == 2:
        H[:, 1, :3] = el_row
    return H


def _sqrt_psd(P: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower square roots of covariances; eigen-decomposition where Cholesky fails."""
    try:
        return np.asarray(np.linalg.cholesky(P), dtype=np.float64)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(0.5 * (P + np.swapaxes(P, -1, -2)))
        out: NDArray[np.float64] = V * np.sqrt(np.maximum(w, 0.0))[..., None, :]
        return out


def predict_measurement(
    x: NDArray[np.float64],
    P: NDArray[np.float64],
    kind: str,
    m: int,
    spos: NDArray[np.float64],
    method: Nonlinear = "ekf",
    with_pxz: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``zhat [K,m]``, ``Pzz [K,m,m]`` and ``Pxz [K,6,m]`` for states ``x [K,6]``, ``P [K,6,6]``.
    ``with_pxz=False`` (gating) lets the compiled EKF skip ``Pxz`` (then empty)."""
    if is_linear(kind):
        zhat = x[:, :m].copy()
        Pxz = P[:, :, :m].copy()
        return zhat, Pxz[:, :m, :].copy(), Pxz
    if method == "ekf":
        if kind in _KIND_CODE and m <= 3:
            sp = spos[None, :] if spos.ndim == 1 else spos
            return ekf_measure(
                np.ascontiguousarray(x, dtype=np.float64),
                np.ascontiguousarray(P, dtype=np.float64),
                _KIND_CODE[kind],
                m,
                np.ascontiguousarray(sp, dtype=np.float64),
                with_pxz,
            )
        H = measure_jacobian(x, kind, m, spos)
        zhat = measure(x, kind, m, spos)
        Pxz = P @ np.swapaxes(H, 1, 2)
        return zhat, H @ Pxz, Pxz
    # Unscented transform, 2n symmetric points (kappa = 0: no negative weights).
    k, n = x.shape[0], 6
    L = _sqrt_psd(P) * np.sqrt(n)
    dX = np.concatenate([np.swapaxes(L, 1, 2), -np.swapaxes(L, 1, 2)], axis=1)  # [K,2n,6]
    X = x[:, None, :] + dX
    sp = spos if spos.ndim == 1 else np.repeat(spos, 2 * n, axis=0)
    Z = measure(X.reshape(-1, 6), kind, m, sp).reshape(k, 2 * n, m)
    angles = angle_mask(kind, m)
    centre = measure(x, kind, m, spos)
    dZ = residual(Z, centre[:, None, :], angles)
    zhat = centre + dZ.mean(axis=1)
    if angles.any():
        zhat[:, angles] = wrap(zhat[:, angles])
    dZ = residual(Z, zhat[:, None, :], angles)
    w = 1.0 / (2 * n)
    Pzz = w * np.einsum("kpi,kpj->kij", dZ, dZ)
    Pxz = w * np.einsum("kpi,kpj->kij", dX, dZ)
    return zhat, Pzz, Pxz


def to_position(
    kind: str,
    z: NDArray[np.float64],
    R: NDArray[np.float64],
    spos: NDArray[np.float64],
    unobserved_height_var: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Point measurements ``z [K,m]``, ``R [K,m,m]`` of one kind (position, remote_id,
    polar) to ENU positions ``[K,3]`` with covariance ``[K,3,3]`` and whether the height
    was measured. Bearings have no point."""
    k, m = z.shape
    pos = np.zeros((k, 3))
    cov = np.zeros((k, 3, 3))
    if kind in ("position", "remote_id"):
        pos[:, :m] = z
        cov[:, :m, :m] = R
        if m == 2:
            cov[:, 2, 2] = unobserved_height_var
        return pos, cov, np.full(k, m == 3)
    if kind != "polar":
        raise ValueError(f"{kind} detections have no position")
    r, az = z[:, 0], z[:, 1]
    el = z[:, 2] if m == 3 else np.zeros(k)
    ch = np.cos(el)
    rh = r * ch
    pos[:, 0] = spos[0] + rh * np.sin(az)
    pos[:, 1] = spos[1] + rh * np.cos(az)
    pos[:, 2] = spos[2] + r * np.sin(el) if m == 3 else 0.0
    # Jacobian of (E, N, U) with respect to (r, az[, el]) propagates R.
    J = np.zeros((k, 3, m))
    if m == 3:
        J[:, 0, 0], J[:, 1, 0], J[:, 2, 0] = ch * np.sin(az), ch * np.cos(az), np.sin(el)
        J[:, 0, 2], J[:, 1, 2], J[:, 2, 2] = -r * np.sin(el) * np.sin(az), -r * np.sin(el) * np.cos(az), rh
    else:
        J[:, 0, 0], J[:, 1, 0] = np.sin(az), np.cos(az)
    J[:, 0, 1], J[:, 1, 1] = rh * np.cos(az), -rh * np.sin(az)
    cov = J @ R @ np.swapaxes(J, 1, 2)
    if m == 2:
        cov[:, 2, 2] = unobserved_height_var
    return pos, cov, np.full(k, m == 3)
