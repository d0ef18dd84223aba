"""Bearing from a microphone array: GCC-PHAT time differences for each pair, steered response
power (SRP-PHAT) over an azimuth grid with the array geometry. Two microphones give the
mirror ambiguity of any pair; three or more in a plane resolve it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["AcousticBearing", "gcc_phat", "srp_phat"]


def gcc_phat(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    fs: float,
    max_tau: float,
    band: tuple[float, float] = (80.0, 6000.0),
) -> float:
    """Delay of ``b`` relative to ``a`` in seconds (positive: ``b`` hears it later), by the peak
    of the phase-transform-weighted cross-correlation, refined parabolically."""
    n = 1 << int(np.ceil(np.log2(a.size + b.size)))
    A = np.fft.rfft(a, n)
    B = np.fft.rfft(b, n)
    cross = B * np.conj(A)
    f = np.fft.rfftfreq(n, 1 / fs)
    w = np.where((f >= band[0]) & (f <= band[1]), 1.0, 0.0) / (np.abs(cross) + 1e-12)
    interp = 8  # upsampled correlation: sub-sample delays
    cc = np.fft.irfft(cross * w, n * interp)
    m = min(int(max_tau * fs * interp) + 1, n * interp // 2)
    cc = np.concatenate([cc[-m:], cc[: m + 1]])
    k = int(np.argmax(np.abs(cc)))
    return (k - m) / (fs * interp)


@dataclass(frozen=True, slots=True)
class AcousticBearing:
    az: float  # radians clockwise from north
    sigma: float
    az_alt: float  # mirror solution for a two-microphone array, NaN otherwise


def srp_phat(
    x: NDArray[np.float64], fs: float, positions: NDArray[np.float64], sound_speed: float = 343.0
) -> AcousticBearing:
    """SRP-PHAT over azimuth (elevation 0) for ``x[channels, n]`` at microphones ``positions``."""
    c = x.shape[0]
    pos = np.asarray(positions, dtype=np.float64)[:, :2]
    grid = np.radians(np.arange(0.0, 360.0, 1.0))
    u = np.stack([np.sin(grid), np.cos(grid)], axis=1)
    n = 1 << int(np.ceil(np.log2(2 * x.shape[1])))
    spec = np.fft.rfft(x, n, axis=1)
    f = np.fft.rfftfreq(n, 1 / fs)
    weight = ((f >= 80.0) & (f <= 6000.0)).astype(np.float64)
    interp = 2  # correlation sampled at fs * interp: sub-sample delays by linear interpolation
    power = np.zeros(grid.size)
    for i in range(c):
        for j in range(i + 1, c):
            cross = spec[j] * np.conj(spec[i])
            cross = cross * weight / (np.abs(cross) + 1e-12)
            cc = np.fft.irfft(cross, n * interp)  # GCC-PHAT: cc[k] at delay k / (fs * interp)
            # Microphone j hears a wave from u earlier by (p_j - p_i).u / c.
            tau = -((pos[j] - pos[i]) @ u.T) / sound_speed
            pos_k = tau * fs * interp
            k0 = np.floor(pos_k).astype(np.int64)
            frac = pos_k - k0
            power += (1 - frac) * cc[k0 % cc.size] + frac * cc[(k0 + 1) % cc.size]
    k = int(np.argmax(power))
    az = float(grid[k])
    aperture = float(np.max(np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)))
    sigma = float(
        np.clip(sound_speed / (2000.0 * max(aperture, 1e-3)) / 4, math.radians(1.0), math.radians(30.0))
    )
    alt = math.nan
    if c == 2:
        base = pos[1] - pos[0]
        base_az = math.atan2(base[0], base[1])
        alt = (2 * base_az - az) % (2 * math.pi)
    return AcousticBearing(az, sigma, alt)
