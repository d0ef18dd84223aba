"""Block spectrogram and CFAR: power per time-frequency cell, a noise floor per block from an
order statistic, and multi-scale tile thresholds set for a false-alarm probability per block.

Cells of white noise after a Hann-windowed FFT are exponential with mean equal to the floor;
the mean of a tile of ``tf x ff`` cells is close to a Gamma variable whose variance accounts for
the correlation the window puts between adjacent bins. Thresholds come from that Gamma tail,
split between the tiles and scales of a block (Bonferroni), so the design false-alarm rate per
block holds for white noise; tests measure it on noise-only runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.typing import NDArray
from scipy import stats

__all__ = ["CfarPlan", "block_power", "cfar_plan", "noise_floor", "tile_means"]


@lru_cache(maxsize=8)
def _window(nfft: int) -> NDArray[np.float32]:
    w = np.hanning(nfft + 1)[:-1]  # periodic Hann: adjacent-bin correlation is exact
    out: NDArray[np.float32] = (w / np.sqrt(np.sum(w * w))).astype(np.float32)
    return out


def block_power(x: NDArray[np.complex64], nfft: int) -> NDArray[np.float32]:
    """``|STFT|^2`` of ``x[..., frames * nfft]`` without overlap, frequency axis centred (fftshift).

    Scaled so that white noise of unit power per sample gives cells of mean 1.
    """
    frames = x.shape[-1] // nfft
    seg = x[..., : frames * nfft].reshape(*x.shape[:-1], frames, nfft) * _window(nfft)
    spec = scipy.fft.fft(seg, axis=-1, workers=1, overwrite_x=True)
    spec = scipy.fft.fftshift(spec, axes=-1)
    out: NDArray[np.float32] = (spec.real * spec.real + spec.imag * spec.imag).astype(np.float32, copy=False)
    return out


def _bin_correlation(nfft: int, lags: int) -> NDArray[np.float64]:
    """Correlation of cell powers ``d`` bins apart for white noise through the window."""
    w2 = _window(nfft).astype(np.float64) ** 2
    n = np.arange(nfft)
    rho = np.array([abs(np.sum(w2 * np.exp(-2j * np.pi * d * n / nfft))) ** 2 for d in range(lags)])
    out: NDArray[np.float64] = rho / rho[0]
    return out


def _tile_variance(nfft: int, tf: int, ff: int) -> float:
    rho = _bin_correlation(nfft, min(ff, 8))
    d = np.arange(min(ff, 8))
    # Variance of the mean of ff adjacent bins: sum over pairs of their correlation.
    pairs = ff + 2.0 * np.sum((ff - d[1:]) * rho[1:]) if ff > 1 else 1.0
    return float(pairs / (ff * ff) / tf)


@dataclass(frozen=True, slots=True)
class CfarPlan:
    """Tile scales and their thresholds (in units of the noise floor) for one block shape."""

    nfft: int
    frames: int
    scales: tuple[tuple[int, int], ...]
    thresholds: tuple[float, ...]
    floor_quantile: float
    floor_bias: float  # expected quantile / mean for noise, divides the raw floor estimate
    time_rank: int  # order statistic over time used per bin
    time_bias: float  # its median over bins / mean, for exponential cells


def cfar_plan(
    nfft: int, frames: int, scales: Sequence[tuple[int, int]], pfa_block: float, floor_quantile: float = 0.25
) -> CfarPlan:
    """Thresholds for a design false-alarm probability ``pfa_block`` per block."""
    return _cfar_plan(
        nfft, frames, tuple((int(a), int(b)) for a, b in scales), float(pfa_block), float(floor_quantile)
    )


@lru_cache(maxsize=32)
def _cfar_plan(
    nfft: int, frames: int, scales: tuple[tuple[int, int], ...], pfa_block: float, floor_quantile: float
) -> CfarPlan:
    fixed: list[tuple[int, int]] = []
    for tf, ff in scales:
        tf = frames if tf <= 0 else min(tf, frames)
        ff = min(max(ff, 1), nfft)
        while frames % tf:
            tf -= 1
        while nfft % ff:
            ff -= 1
        fixed.append((tf, ff))
    # Floor from a quantile of per-bin time means (Gamma(frames)/frames for noise).
    bias = float(stats.gamma.ppf(floor_quantile, frames) / frames)
    q_sd = (
        np.sqrt(floor_quantile * (1 - floor_quantile) / nfft)
        / stats.gamma.pdf(bias * frames, frames)
        / frames
    )
    margin = 1.0 + 4.0 * float(q_sd) / bias
    time_rank = max(int(0.25 * frames) - 1, 0)
    # k-th smallest of n exponentials has the distribution of sum_{j=n-k+1..n} E_j / j; its
    # median over bins is close to the mean of that sum minus a small skew term: simulate once.
    rng = np.random.default_rng(0)
    draws = rng.exponential(size=(4096, frames))
    time_bias = float(np.median(np.partition(draws, time_rank, axis=1)[:, time_rank]))
    thresholds = []
    for tf, ff in fixed:
        var = _tile_variance(nfft, tf, ff)
        k = 1.0 / var
        tiles = (frames // tf) * (nfft // ff) * (2 if ff > 1 else 1)
        p = pfa_block / (len(fixed) * tiles)
        thresholds.append(float(stats.gamma.isf(p, k, scale=1.0 / k)) * margin)
    return CfarPlan(nfft, frames, tuple(fixed), tuple(thresholds), floor_quantile, bias, time_rank, time_bias)


def noise_floor(power: NDArray[np.float32], plan: CfarPlan) -> NDArray[np.float32]:
    """Noise power per cell for each block of ``power[blocks, frames, nfft]``.

    Two order statistics, each unbiased for white noise, and the smaller is kept: a quantile
    over frequency of the time-averaged spectrum (robust to continuous emissions filling under
    3/4 of the band) and the median over frequency of a per-bin quantile over time (robust to
    bursty emissions that fill the whole band, such as Wi-Fi in a 20 MHz capture).
    """
    mean_t = power.mean(axis=1)
    kth = int(plan.floor_quantile * (mean_t.shape[-1] - 1))
    by_freq = np.partition(mean_t, kth, axis=-1)[..., kth] / np.float32(plan.floor_bias)
    kt = plan.time_rank
    # Every 4th bin is plenty for a median over frequency and a quarter of the sorting work.
    q_t = np.partition(power[:, :, ::4], kt, axis=1)[:, kt, :]
    by_time = np.median(q_t, axis=-1) / np.float32(plan.time_bias)
    out: NDArray[np.float32] = np.maximum(np.minimum(by_freq, by_time), np.float32(1e-30)).astype(np.float32)
    return out


def tile_means(norm: NDArray[np.float32], tf: int, ff: int) -> NDArray[np.float32]:
    """Means of ``tf x ff`` tiles of ``norm[blocks, frames, nfft]``, on a grid of half-tile
    steps in frequency (an emission straddling two tiles still fills one): ``[b, f/tf, 2n/ff]``,
    column ``2j`` the aligned tile ``j``, ``2j+1`` the one shifted by ``ff/2`` (wrapping)."""
    b, f, n = norm.shape
    t: NDArray[np.float32] = norm.reshape(b, f // tf, tf, n).mean(axis=2, dtype=np.float32)
    if ff == 1:
        return t
    h = ff // 2
    aligned = t.reshape(b, f // tf, n // ff, ff).mean(axis=3)
    shifted = np.roll(t, -h, axis=2).reshape(b, f // tf, n // ff, ff).mean(axis=3)
    out: NDArray[np.float32] = np.stack([aligned, shifted], axis=3).reshape(b, f // tf, 2 * (n // ff))
    return out
