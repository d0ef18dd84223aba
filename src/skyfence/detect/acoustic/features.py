"""Acoustic features of a window of audio for drone detection: blade-pass-frequency tracking by
harmonic sum over a 50-500 Hz fundamental, harmonic salience and its steadiness, spectral
shape (log band energies, flatness, centroid) and level dynamics.

Every window is first resampled to 16 kHz so that a model trained at one rate applies to
microphones at any common rate.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import signal

__all__ = ["FEATURE_NAMES", "RATE", "BladePass", "blade_pass", "features", "features_and_bpf", "to_rate"]

RATE = 16000
_NFFT = 4096  # 3.9 Hz bins at 16 kHz: resolves a 50 Hz fundamental's harmonics
_HOP = 2048
_F0 = np.exp(np.linspace(np.log(50.0), np.log(500.0), 160))
_HARMONICS = 10
_BANDS = np.array([50, 150, 300, 600, 1200, 2400, 4800, 8000], dtype=np.float64)

FEATURE_NAMES: tuple[str, ...] = (
    "salience_mean",
    "salience_p90",
    "salient_fraction",
    "f0_steadiness",
    "f0_log",
    "flatness",
    "centroid_log",
    "level_dynamics",
    "peakiness",
    "harmonic_ratio",
    "salience_hi_mean",
    "f0_hi_steadiness",
    *(f"band_{int(a)}_{int(b)}" for a, b in itertools.pairwise(_BANDS)),
)


def to_rate(x: NDArray[np.floating], fs: float) -> NDArray[np.float64]:
    """``x`` (``[..., n]``) resampled to 16 kHz (polyphase, integer ratio when the rate is common)."""
    xd: NDArray[np.float64] = np.asarray(x, dtype=np.float64)
    fs_i = round(fs)
    if fs_i == RATE:
        return xd
    g = np.gcd(fs_i, RATE)
    out: NDArray[np.float64] = signal.resample_poly(xd, RATE // g, fs_i // g, axis=-1)
    return out


@lru_cache(maxsize=2)
def _harmonic_matrix() -> NDArray[np.float64]:
    """Weights mapping a magnitude spectrum to harmonic sums over the f0 grid."""
    freqs = np.fft.rfftfreq(_NFFT, 1 / RATE)
    m = np.zeros((_F0.size, freqs.size))
    df = freqs[1]
    for i, f0 in enumerate(_F0):
        for k in range(1, _HARMONICS + 1):
            b = k * f0 / df
            lo = int(np.floor(b))
            if lo + 1 >= freqs.size:
                break
            w = k**-0.5  # gentle emphasis of low harmonics, as blade-pass spectra fall off
            m[i, lo] += w * (1 - (b - lo))
            m[i, lo + 1] += w * (b - lo)
    out: NDArray[np.float64] = m / m.sum(axis=1, keepdims=True)
    return out


def _frames(x: NDArray[np.float64]) -> NDArray[np.float64]:
    if x.size < _NFFT:
        x = np.pad(x, (0, _NFFT - x.size))
    n = 1 + (x.size - _NFFT) // _HOP
    idx = np.arange(_NFFT)[None, :] + _HOP * np.arange(n)[:, None]
    out: NDArray[np.float64] = x[idx] * np.hanning(_NFFT)[None, :]
    return out


class BladePass:
    """Per-frame blade-pass fundamental (Hz) and harmonic salience of a 16 kHz window; ``*_hi``
    the same with the fundamental above 90 Hz (mains hum and idling engines sit below)."""

    __slots__ = ("f0", "f0_hi", "salience", "salience_hi", "spectrum")

    def __init__(
        self,
        f0: NDArray[np.float64],
        salience: NDArray[np.float64],
        f0_hi: NDArray[np.float64],
        salience_hi: NDArray[np.float64],
        spectrum: NDArray[np.float64],
    ):
        self.f0 = f0
        self.salience = salience
        self.f0_hi = f0_hi
        self.salience_hi = salience_hi
        self.spectrum = spectrum


def blade_pass(x16: NDArray[np.float64]) -> BladePass:
    """Harmonic-sum pitch track: for each frame the f0 in 50-500 Hz whose harmonics hold the
    most (log-compressed, whitened) spectral energy, and how far that stands above the median f0."""
    spec = np.abs(np.fft.rfft(_frames(x16), axis=1))
    # Whiten by a smoothed spectral envelope so that loud low-frequency rumble does not win.
    env = signal.medfilt(np.log(spec.mean(axis=0) + 1e-9), 31)
    white = np.log1p(spec / (np.exp(env)[None, :] + 1e-9))
    hs = white @ _harmonic_matrix().T  # [frames, f0]
    # Subharmonic guard: a true f0 also scores at f0/2 and f0/3; prefer the highest f0 whose
    # score is close to the best, so 2*f0 harmonics do not make f0/2 win.
    best = hs.argmax(axis=1)
    f0 = _F0[best]
    med = np.median(hs, axis=1) + 1e-9
    sal = hs[np.arange(hs.shape[0]), best] / med
    hi = _F0 >= 90.0
    best_hi = hs[:, hi].argmax(axis=1)
    f0_hi = _F0[hi][best_hi]
    sal_hi = hs[:, hi][np.arange(hs.shape[0]), best_hi] / med
    return BladePass(f0, sal, f0_hi, sal_hi, spec)


def features(x: NDArray[np.floating], fs: float) -> NDArray[np.float64]:
    """Feature vector (``FEATURE_NAMES``) of one mono window."""
    return features_and_bpf(x, fs)[0]


def features_and_bpf(x: NDArray[np.floating], fs: float) -> tuple[NDArray[np.float64], float]:
    """Feature vector and median blade-pass frequency (Hz) of one mono window."""
    x16 = to_rate(x, fs)
    x16 = x16 - x16.mean()
    bp = blade_pass(x16)
    spec = bp.spectrum
    power = spec**2
    freqs = np.fft.rfftfreq(_NFFT, 1 / RATE)
    mean_p = power.mean(axis=0) + 1e-20
    sal = bp.salience
    strong = sal > 1.6
    f0_log = np.log2(bp.f0)
    steady = float(np.std(f0_log[strong])) if strong.sum() >= 2 else 2.0
    geo = np.exp(np.mean(np.log(mean_p[(freqs > 50) & (freqs < 6000)])))
    flat = geo / mean_p[(freqs > 50) & (freqs < 6000)].mean()
    centroid = float((freqs * mean_p).sum() / mean_p.sum())
    frame_e = np.log10(power.sum(axis=1) + 1e-20)
    band_e = np.array([mean_p[(freqs >= a) & (freqs < b)].sum() for a, b in itertools.pairwise(_BANDS)])
    band_e = np.log10(band_e / band_e.sum() + 1e-9)
    mid = (freqs > 200) & (freqs < 4000)
    peaky = float(np.log10(np.max(mean_p[mid]) / np.median(mean_p[mid])))
    f0m = float(np.median(bp.f0))
    harm_bins = np.zeros(freqs.size, dtype=bool)
    for k in range(1, 20):
        b = round(k * f0m / freqs[1])
        if b + 2 < freqs.size:
            harm_bins[max(b - 2, 0) : b + 3] = True
    band = (freqs > 40) & (freqs < 6000)
    hr = float(mean_p[harm_bins & band].sum() / mean_p[band].sum())
    strong_hi = bp.salience_hi > 1.6
    steady_hi = float(np.std(np.log2(bp.f0_hi[strong_hi]))) if strong_hi.sum() >= 2 else 2.0
    vec = np.array(
        [
            float(np.mean(sal)),
            float(np.percentile(sal, 90)),
            float(np.mean(strong)),
            steady,
            float(np.median(f0_log)),
            float(np.log10(flat + 1e-9)),
            float(np.log2(centroid + 1.0)),
            float(np.std(frame_e)),
            peaky,
            hr,
            float(np.mean(bp.salience_hi)),
            steady_hi,
            *band_e.tolist(),
        ]
    )
    return vec, float(np.median(bp.f0))
