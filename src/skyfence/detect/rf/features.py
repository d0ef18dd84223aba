"""Signal features that name an emission's link: LoRa dechirping (spreading factor and
bandwidth), cyclic-prefix autocorrelation (OFDM symbol length) and the line-sync rate of an
FM-demodulated video carrier. Each works on one excerpt of complex baseband samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.typing import NDArray

__all__ = ["ChirpFit", "CyclicPrefix", "LineSync", "band_limit", "cyclic_prefix", "dechirp", "line_sync"]

#: Line rates of 625-line/50 Hz (PAL) and 525-line/59.94 Hz (NTSC) analog video.
LINE_RATES = (15625.0, 15734.264)


def band_limit(x: NDArray[np.complex64], fs: float, f_lo: float, f_hi: float) -> NDArray[np.complex128]:
    """Spectrum of ``x`` with every bin outside ``[f_lo, f_hi]`` (Hz offsets) set to zero."""
    n = x.size
    spec = scipy.fft.fft(x.astype(np.complex128), workers=1)
    f = scipy.fft.fftfreq(n, 1.0 / fs)
    spec[(f < f_lo) | (f > f_hi)] = 0.0
    out: NDArray[np.complex128] = spec
    return out


@dataclass(frozen=True, slots=True)
class ChirpFit:
    score: float  # share of window power in the strongest dechirped bins (noise: ~4 ln(2N)/N)
    sf: int
    bandwidth: float


@lru_cache(maxsize=64)
def _base_downchirp(ns: int) -> NDArray[np.complex128]:
    k = np.arange(ns)
    # Conjugate of a unit up-chirp sampled at one sample per chip.
    out: NDArray[np.complex128] = np.exp(-1j * np.pi * (k * k / ns - k))
    return out


def dechirp(
    x: NDArray[np.complex64],
    fs: float,
    f_center: float,
    bandwidths: Sequence[float],
    sfs: Sequence[int],
) -> ChirpFit:
    """Best (spreading factor, bandwidth) by dechirping ``x`` against up-chirps of each candidate.

    The excerpt is resampled to one sample per chip around ``f_center``; each window of
    ``2**sf`` chips is multiplied by the conjugate base chirp; the score is the share of its
    power in the four strongest bins of a 2x zero-padded FFT (a window straddles two symbols,
    each tone spreads over two padded bins), averaged over the windows of the packet.
    """
    best = ChirpFit(0.0, -1, float("nan"))
    if not bandwidths:
        return best
    # Mix the emission to 0 Hz and decimate by a boxcar to about 4x the widest candidate
    # bandwidth first: the resampling FFT then works on tens of times fewer samples.
    d = max(1, int(fs / (4.0 * max(bandwidths))))
    if d > 1:
        ph = np.exp(-2j * np.pi * (f_center / fs) * np.arange(x.size, dtype=np.float64)).astype(np.complex64)
        m0 = x.size // d
        x = (x[: m0 * d] * ph[: m0 * d]).reshape(m0, d).mean(axis=1)
        fs, f_center = fs / d, 0.0
    n = x.size
    spec = scipy.fft.fft(x.astype(np.complex128), workers=1)
    kc = round(f_center / fs * n)
    for bw in bandwidths:
        m = round(n * bw / fs)
        if m < 64 or bw >= fs:
            continue
        idx = (kc + np.arange(-(m // 2), m - m // 2)) % n
        z = scipy.fft.ifft(scipy.fft.ifftshift(spec[idx]), workers=1)
        for sf in sfs:
            ns = 1 << sf
            nwin = m // ns - 1
            if nwin < 2:
                continue
            # Windows rarely line up with symbols: try two offsets half a symbol apart and keep the
            # better per window; zero-pad 2x so a tone between bins still lands in the top bins.
            shares = []
            for off in (0, ns // 2):
                w = z[off : off + nwin * ns].reshape(nwin, ns) * _base_downchirp(ns)
                p = np.abs(scipy.fft.fft(w, n=2 * ns, axis=1, workers=1)) ** 2
                total = p.sum(axis=1)
                top = np.partition(p, 2 * ns - 4, axis=1)[:, -4:].sum(axis=1) / np.maximum(total, 1e-30)
                shares.append((top, total))
            top = np.maximum(shares[0][0], shares[1][0])
            total = shares[0][1]
            live = total > 0.3 * total.max()  # windows of the packet, not the gaps
            score = float(np.mean(top[live]))
            if score > best.score:
                best = ChirpFit(score, sf, float(bw))
    return best


@dataclass(frozen=True, slots=True)
class CyclicPrefix:
    rho: float  # |autocorrelation| at the best lag over its value at lag 0
    lag: float  # seconds (the OFDM useful-symbol time)
    contrast: float  # rho over the median |autocorrelation| of the searched lags


def cyclic_prefix(
    band: NDArray[np.complex128], fs: float, bandwidth: float, max_lag_s: float = 150e-6
) -> CyclicPrefix:
    """Peak of the autocorrelation ``|R(tau)| / R(0)`` of a band-limited spectrum ``band``
    (from :func:`band_limit`) over lags past the spectrum's own main lobe."""
    n = band.size
    r = scipy.fft.ifft(np.abs(band) ** 2, workers=1)
    r0 = float(np.abs(r[0]))
    if r0 <= 0:
        return CyclicPrefix(0.0, float("nan"), 0.0)
    lo = max(int(8.0 * fs / max(bandwidth, 1.0)), int(0.5e-6 * fs), 2)
    hi = min(int(max_lag_s * fs), n // 3)
    if hi <= lo + 4:
        return CyclicPrefix(0.0, float("nan"), 0.0)
    mag = np.abs(r) / r0
    k = lo + int(np.argmax(mag[lo:hi]))
    # A cyclic prefix gives a narrow peak at the symbol time; a smooth (e.g. FM) signal gives a
    # slope down from lag 0. Contrast against the lags at 0.7 and 1.3 times the peak's.
    side = max(float(mag[int(0.7 * k)]), float(mag[min(int(1.3 * k), n - 1)]), float(np.median(mag[lo:hi])))
    return CyclicPrefix(float(mag[k]), k / fs, float(mag[k] / max(side, 1e-12)))


@dataclass(frozen=True, slots=True)
class LineSync:
    score: float  # harmonic peaks of the line rate over the local spectrum level
    line_rate: float  # Hz of the better-matching standard


def line_sync(band: NDArray[np.complex128], fs: float) -> LineSync:
    """FM-demodulate a band-limited spectrum and look for the video line rate and its harmonics."""
    z = scipy.fft.ifft(band, workers=1)
    d = np.angle(z[1:] * np.conj(z[:-1]))
    d = d - d.mean()
    n = d.size
    spec = np.abs(scipy.fft.rfft(d * np.hanning(n), workers=1))
    df = fs / n
    top = min(spec.size - 2, int(800e3 / df))
    if top < 64:
        return LineSync(0.0, float("nan"))
    base = float(np.median(spec[1:top])) + 1e-12
    best = LineSync(0.0, float("nan"))
    for rate in LINE_RATES:
        k = np.arange(1, int(min(40, 600e3 / rate)) + 1)
        idx = np.round(k * rate / df).astype(np.int64)
        idx = idx[(idx > 1) & (idx < top)]
        if idx.size == 0:
            continue
        peaks = np.maximum(np.maximum(spec[idx - 1], spec[idx]), spec[idx + 1])
        score = float(np.median(peaks) / base)
        if score > best.score:
            best = LineSync(score, rate)
    return best
