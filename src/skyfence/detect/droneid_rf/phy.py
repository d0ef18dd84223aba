"""Physical layer of DJI's OcuSync 2.0 DroneID downlink burst: from raw complex baseband to the
transport block bits.

The burst (public reverse engineering, NDSS 2023 "Drone Security and the Mysterious Case of DJI's
DroneID") is LTE-like OFDM at 15.36 MS/s: FFT 1024, 601 occupied subcarriers (DC unused, so 600
carry data), nine symbols with 72-sample cyclic prefixes (80 for the first and last). Symbols 3
and 5 carry Zadoff-Chu sequences (roots 600 and 147) placed directly on the 601 subcarriers;
symbol 0 carries the bare scrambling sequence; symbols 1, 2, 4, 6, 7, 8 carry 7200 QPSK bits
(LTE mapping) scrambled with the LTE Gold sequence c(n), c_init = 0x12345678. The bits are an
LTE turbo codeword (K = 1408 with CRC-24A, rate matched to E = 7200, rv 0).

Why this order of work: bursts are found by 9 MHz band energy at the input rate (cheap), each is
centred on its own occupied band (DJI hops, bursts in one capture sit at different offsets), then
resampled to 15.36 MS/s and synchronised on the root-147 ZC symbol, whose correlation is sharp in
time; root 600 is nearly a pure tone in frequency and useless for timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import signal

from skyfence.errors import DecodeError

__all__ = [
    "LTE_RATE",
    "Burst",
    "DemodulatedBurst",
    "demodulate",
    "find_bursts",
    "gold_sequence",
    "zadoff_chu",
]

LTE_RATE: Final = 15.36e6
NFFT: Final = 1024
N_SUB: Final = 601
CP_LENGTHS: Final = (80, 72, 72, 72, 72, 72, 72, 72, 80)
ZC_SYMBOLS: Final = (3, 5)
ZC_ROOTS: Final = (600, 147)
DATA_SYMBOLS: Final = (1, 2, 4, 6, 7, 8)
PILOT_SYMBOL: Final = 0
SCRAMBLER_INIT: Final = 0x12345678
_SYMBOL_STARTS: Final = np.concatenate(([0], np.cumsum([NFFT + cp for cp in CP_LENGTHS[:-1]])))
_BURST_LEN_S: Final = (sum(CP_LENGTHS) + 9 * NFFT) / LTE_RATE  # about 643 us
_CFO_STEP_HZ: Final = 2500.0
_CFO_SPAN_HZ: Final = 150e3
_PILOT_GOOD: Final = 120  # of 1200 pilot bits: 10 % errors is far below chance (50 %)
_PILOT_CHANCE: Final = 480  # 40 %: chance is 600 +- 17; real bursts at 1 dB in-band SNR show ~280
_DETECT_NFFT: Final = 64
_CHANNEL_SMOOTH: Final = 7  # subcarriers (105 kHz)
_BURST_BW_HZ: Final = 9e6
_FRAME_LEN: Final = int(sum(CP_LENGTHS)) + 9 * NFFT


@dataclass(frozen=True, slots=True)
class Burst:
    """A candidate burst in the input: sample span and the centre of its occupied band."""

    start: int
    stop: int
    centre_hz: float


@dataclass(frozen=True, slots=True)
class DemodulatedBurst:
    """Equalised QPSK symbols of one burst and the soft bits of its data symbols.

    ``symbols``: (7, 600) complex, pilot symbol then the six data symbols, unit-power QPSK.
    ``llr``: (7200,) descrambled bit log-likelihood ratios, positive means bit 0.
    """

    burst: Burst
    frame_start: float  # seconds from the start of the input to the first symbol
    cfo_hz: float  # total offset from the input's centre frequency
    zc_quality: float  # 0..1, ZC root-147 correlation; near 1 for a clean burst
    evm_db: float
    pilot_bit_errors: int  # symbol 0 against the scrambling sequence (1200 bits)
    symbols: NDArray[np.complex128]
    llr: NDArray[np.float64]


def zadoff_chu(root: int, length: int = N_SUB) -> NDArray[np.complex128]:
    n = np.arange(length)
    out: NDArray[np.complex128] = np.exp(-1j * np.pi * root * n * (n + 1) / length)
    return out


def gold_sequence(length: int, c_init: int = SCRAMBLER_INIT) -> NDArray[np.uint8]:
    """LTE pseudo-random sequence c(n) (TS 36.211 7.2), Nc = 1600."""
    nc = 1600
    total = nc + length + 31
    x1 = np.zeros(total, np.uint8)
    x2 = np.zeros(total, np.uint8)
    x1[0] = 1
    x2[:31] = (c_init >> np.arange(31)) & 1
    # The recursion is sequential; 10k steps of Python are ~5 ms and cached by the callers.
    for i in range(nc + length):
        x1[i + 31] = x1[i + 3] ^ x1[i]
        x2[i + 31] = x2[i + 3] ^ x2[i + 2] ^ x2[i + 1] ^ x2[i]
    return x1[nc : nc + length] ^ x2[nc : nc + length]


_PILOT_BITS: Final = gold_sequence(1200)
_DATA_SCRAMBLE: Final = gold_sequence(7200)


def _time_symbol(root: int) -> NDArray[np.complex128]:
    """Time-domain OFDM symbol (no CP) carrying a ZC sequence on the 601 subcarriers."""
    grid = np.zeros(NFFT, np.complex128)
    zc = zadoff_chu(root)
    grid[-300:] = zc[:300]
    grid[:301] = zc[300:]
    return np.fft.ifft(grid)


_ZC147_T: Final = _time_symbol(147)


def find_bursts(samples: NDArray[np.complex64] | NDArray[np.complex128], sample_rate: float) -> list[Burst]:
    """Spans where the strongest 9 MHz slice of the spectrum stands well above its floor for
    about a burst length.

    Energy is measured per band, not over the whole input: a burst fills 9 MHz of, say, 50, so a
    band detector sees it ~7 dB further above the noise than a wideband power detector would.
    """
    if samples.size < 0.7 * _BURST_LEN_S * sample_rate:
        return []  # too short to hold a burst
    nfft = _DETECT_NFFT
    frames = samples.size // nfft
    spec = np.abs(np.fft.fft(samples[: frames * nfft].reshape(frames, nfft), axis=1)) ** 2
    # Power in every window of the burst's bandwidth (circular in frequency), per frame.
    width = max(1, min(nfft, round(_BURST_BW_HZ / sample_rate * nfft)))
    cums = np.cumsum(np.concatenate((spec, spec[:, : width - 1]), axis=1), axis=1)
    cums = np.concatenate((np.zeros((frames, 1)), cums), axis=1)
    band = cums[:, width : width + nfft] - cums[:, :nfft]
    # 20 us of smoothing bridges the OFDM envelope dips inside one burst.
    win = max(int(20e-6 * sample_rate / nfft), 1)
    smooth = signal.convolve2d(band, np.ones((win, 1)) / win, mode="same")
    env = smooth.max(axis=1)
    # Bursts can fill half a capture, so the floor is a low percentile, not the median; the
    # threshold sits halfway (in dB) between floor and the strong end.
    floor = float(np.percentile(env, 10))
    high = float(np.percentile(env, 99.5))
    if not np.isfinite(high) or high <= 0.0 or high < 2.0 * max(floor, 1e-30):
        return []
    on = env > np.sqrt(max(floor, high * 1e-6) * high)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], on.astype(np.int8), [0])))) * nfft
    starts, stops = edges[::2], edges[1::2]
    if starts.size > 1:
        keep = np.concatenate(([True], starts[1:] - stops[:-1] > win * nfft))
        starts = starts[keep]
        stops = np.concatenate((stops[:-1][keep[1:]], stops[-1:]))
    bursts: list[Burst] = []
    for start, stop in zip(starts, stops, strict=True):
        length_s = (stop - start) / sample_rate
        if not 0.7 * _BURST_LEN_S <= length_s <= 1.5 * _BURST_LEN_S:
            continue
        bursts.append(Burst(int(start), int(stop), _band_centre(samples[start:stop], sample_rate)))
    return bursts


def _band_centre(seg: NDArray[np.complex64] | NDArray[np.complex128], sample_rate: float) -> float:
    """Centre of the 9 MHz window of the spectrum holding the most power: a matched filter for
    the burst's flat band, robust to noise (edge thresholds are not) and narrow spurs."""
    nfft = 1024
    if seg.size < nfft:
        return 0.0
    f, pxx = signal.welch(seg, sample_rate, nfft=nfft, nperseg=nfft, return_onesided=False)
    f = np.fft.fftshift(f)
    pxx = np.fft.fftshift(pxx)
    width = max(1, min(nfft, round(_BURST_BW_HZ / sample_rate * nfft)))
    cums = np.concatenate(([0.0], np.cumsum(np.concatenate((pxx, pxx[: width - 1])))))
    band = cums[width : width + nfft] - cums[:nfft]
    lo = int(np.argmax(band))
    # window [lo, lo + width) wraps around the band edge like the spectrum does
    centre = f[0] + (lo + (width - 1) / 2.0) * (f[1] - f[0])
    half_rate = sample_rate / 2.0
    return float((centre + half_rate) % sample_rate - half_rate)


def demodulate(
    samples: NDArray[np.complex64] | NDArray[np.complex128], sample_rate: float, burst: Burst
) -> DemodulatedBurst:
    """Synchronise, equalise and demap one burst; raises DecodeError when it is not a DroneID burst."""
    # In noise the detected span can be shorter than the burst; a window of one burst length
    # plus margins around the span's middle still holds all nine symbols.
    half = int((0.5 * _BURST_LEN_S + 150e-6) * sample_rate)
    edge = int(50e-6 * sample_rate)  # a noisy span can end a little short of the capture's end
    cut = burst.start <= edge or burst.stop >= samples.size - edge
    if cut and burst.stop - burst.start < 0.95 * _BURST_LEN_S * sample_rate:
        raise DecodeError("droneid_rf_short", "burst cut off by the edge of the input")
    mid = (burst.start + burst.stop) // 2
    lo = max(min(burst.start, mid - half), 0)
    seg = samples[lo : max(burst.stop, mid + half)].astype(np.complex128)
    t = np.arange(seg.size) / sample_rate
    seg = seg * np.exp(-2j * np.pi * burst.centre_hz * t)
    up, down = _ratio(sample_rate)
    y = signal.resample_poly(seg, up, down) if (up, down) != (1, 1) else seg
    if y.size < _FRAME_LEN + NFFT:
        raise DecodeError("droneid_rf_short", f"burst of {y.size} samples at 15.36 MS/s")

    # Coarse timing and frequency: ZC-147 matched filter over a grid of frequency offsets (tens of
    # kHz remain after band centring: the band edges are read at ~50 kHz resolution). A ZC
    # sequence couples delay and Doppler, so a wrong whole-subcarrier offset with a matching time
    # shift correlates almost as well; every grid row's best peak is therefore demodulated and
    # the known pilot symbol (symbol 0 = bare scrambling sequence) picks the right one; the
    # search stops at the first row whose pilot has under 10 % bit errors.
    cfos = np.arange(-_CFO_SPAN_HZ, _CFO_SPAN_HZ + 1.0, _CFO_STEP_HZ)
    n = np.arange(NFFT)
    templates = _ZC147_T[None, :] * np.exp(2j * np.pi * cfos[:, None] * n[None, :] / LTE_RATE)
    corr = np.abs(signal.fftconvolve(y[None, :], np.conj(templates[:, ::-1]), mode="valid", axes=1))
    rows = np.argsort(corr.max(axis=1))[::-1]
    best: DemodulatedBurst | None = None
    last_error = DecodeError("droneid_rf_sync", "no ZC root 147 symbol in the burst")
    for ci in rows:
        frame0 = int(np.argmax(corr[ci])) - int(_SYMBOL_STARTS[5]) - CP_LENGTHS[5]
        try:
            cand = _demod_at(y, frame0, float(cfos[ci]), burst, lo / sample_rate)
        except DecodeError as exc:
            last_error = exc
            continue
        if best is None or cand.pilot_bit_errors < best.pilot_bit_errors:
            best = cand
        if best.pilot_bit_errors < _PILOT_GOOD:
            break
    if best is None:
        raise last_error
    if best.pilot_bit_errors > _PILOT_CHANCE:
        # No hypothesis beats coin-flipping on the pilot: not a DroneID burst (or far too weak),
        # and the turbo decoder would only spend its iterations on it.
        raise DecodeError("droneid_rf_pilot", f"{best.pilot_bit_errors} of 1200 pilot bits wrong")
    return best


def _demod_at(
    y: NDArray[np.complex128], frame0: int, cfo: float, burst: Burst, t0: float
) -> DemodulatedBurst:
    if frame0 < 0 or frame0 + _FRAME_LEN > y.size:
        raise DecodeError("droneid_rf_sync", "ZC symbol too close to the burst edge")
    tt = np.arange(y.size) / LTE_RATE
    y = y * np.exp(-2j * np.pi * cfo * tt)
    # Back off a few samples into the CP so the FFT window never reaches the next symbol; the
    # resulting linear phase is part of the channel estimate.
    backoff = 4
    grid = np.empty((9, N_SUB), np.complex128)
    for k in range(9):
        s = frame0 + int(_SYMBOL_STARTS[k]) + CP_LENGTHS[k] - backoff
        spec = np.fft.fft(y[s : s + NFFT])
        grid[k, :300] = spec[-300:]
        grid[k, 300:] = spec[:301]

    h3 = _smooth(grid[3] / zadoff_chu(ZC_ROOTS[0]))
    h5 = _smooth(grid[5] / zadoff_chu(ZC_ROOTS[1]))
    zc_quality = _zc_quality(grid[5], zadoff_chu(ZC_ROOTS[1]))
    if zc_quality < 0.5:
        raise DecodeError("droneid_rf_zc", f"ZC root 147 correlation {zc_quality:.2f}")
    # Residual frequency offset shows as a common phase step between the two ZC symbols.
    dphi = float(np.angle(np.vdot(h3, h5)))
    cfo += dphi / 2.0 / (2 * np.pi * (NFFT + 72) / LTE_RATE)
    rows = (PILOT_SYMBOL, *DATA_SYMBOLS)
    eq = np.empty((7, N_SUB - 1), np.complex128)
    for r, k in enumerate(rows):
        h = 0.5 * (h3 * np.exp(1j * dphi * (k - 3) / 2) + h5 * np.exp(1j * dphi * (k - 5) / 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = grid[k] / h
        eq[r] = np.delete(z, 300)
    eq = np.nan_to_num(eq, nan=0.0, posinf=0.0, neginf=0.0)
    rms = float(np.sqrt(np.mean(np.abs(eq) ** 2)))
    if not np.isfinite(rms) or rms == 0.0:
        raise DecodeError("droneid_rf_equalise", "no energy on the subcarriers")
    eq /= rms
    ideal = (np.sign(eq.real) + 1j * np.sign(eq.imag)) / np.sqrt(2.0)
    evm_db = float(10 * np.log10(max(float(np.mean(np.abs(eq - ideal) ** 2)), 1e-12)))

    # LTE QPSK: bit 0 on the real axis, bit 1 on the imaginary, negative = 1. Noise variance from
    # the EVM turns distances into log-likelihood ratios.
    noise = max(10 ** (evm_db / 10), 1e-3)
    scale = 2.0 * np.sqrt(2.0) / noise
    llr = np.stack([eq.real, eq.imag], axis=-1).reshape(7, 1200) * scale
    pilot_hard = (llr[0] < 0).astype(np.uint8)
    pilot_errors = int(np.count_nonzero(pilot_hard != _PILOT_BITS))
    data_llr = llr[1:].ravel() * (1.0 - 2.0 * _DATA_SCRAMBLE)
    return DemodulatedBurst(
        burst=burst,
        frame_start=t0 + frame0 / LTE_RATE,
        cfo_hz=burst.centre_hz + cfo,
        zc_quality=zc_quality,
        evm_db=evm_db,
        pilot_bit_errors=pilot_errors,
        symbols=eq,
        llr=data_llr,
    )


def _smooth(h: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Average the channel estimate over neighbouring subcarriers: two ZC symbols alone leave
    estimation noise as large as half the data's; the channel is flat over ~100 kHz at the
    ranges DroneID is heard (short delay spread), and the window's linear phase from the FFT
    backoff is small (0.1 rad across it)."""
    k = np.ones(_CHANNEL_SMOOTH)
    num = np.convolve(h, k, mode="same")
    den = np.convolve(np.ones(h.size), k, mode="same")
    out: NDArray[np.complex128] = num / den
    return out


def _zc_quality(received: NDArray[np.complex128], ref: NDArray[np.complex128]) -> float:
    """Differential correlation: insensitive to the timing ramp and a flat channel's phase."""
    q = received * np.conj(ref)
    d = q[1:] * np.conj(q[:-1])
    total = float(np.sum(np.abs(d)))
    return 0.0 if total == 0.0 else float(np.abs(d.sum()) / total)


def _ratio(sample_rate: float) -> tuple[int, int]:
    from fractions import Fraction

    frac = Fraction(LTE_RATE / sample_rate).limit_denominator(2000)
    return frac.numerator, frac.denominator
