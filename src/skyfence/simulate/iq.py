"""IQ synthesiser for the drone and background links the RF detector must tell apart:
analog FM video with line sync, ELRS/LoRa chirps with frequency hopping, digital OFDM video,
Wi-Fi-like OFDM bursts and narrowband FSK carriers, with their ground truth.

SNR is defined in each emission's own occupied (99 %) bandwidth: the complex noise has unit
power over the whole sample rate, so a signal of in-band SNR ``s`` has power ``s * B / fs``
while it is on. Array versions apply a plane-wave phase per element (narrowband: the
aperture is small against ``c / bandwidth``). Deliberately independent of the rest of
``skyfence.simulate`` and of the detector, so the two check each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LINK_TYPES",
    "SPEED_OF_LIGHT",
    "Emitter",
    "IqScene",
    "analog_video",
    "digital_ofdm",
    "elrs",
    "narrowband",
    "occupied_bandwidth",
    "synthesize",
    "wifi",
]

SPEED_OF_LIGHT = 299_792_458.0
LINK_TYPES = ("analog_video", "elrs", "digital_ofdm", "wifi", "narrowband")

Signal = tuple[NDArray[np.complex128], NDArray[np.bool_]]


def _chirp(
    n_sym: int, sps: float, shift: int, bw: float, fs: float, up: bool = True
) -> NDArray[np.complex128]:
    """One LoRa symbol: a chirp over ``bw`` starting at cyclic shift ``shift`` of ``n_sym`` chips."""
    n = round(n_sym * sps)
    t = np.arange(n) / fs
    T = n_sym / bw
    # Instantaneous frequency sweeps -bw/2 .. bw/2, wrapped at the symbol's cyclic shift.
    f = -bw / 2 + ((t * bw / T + shift * bw / n_sym) % bw)
    if not up:
        f = -f
    phase = 2 * np.pi * np.cumsum(f) / fs
    out: NDArray[np.complex128] = np.exp(1j * phase)
    return out


def elrs(
    n: int,
    fs: float,
    rng: np.random.Generator,
    *,
    sf: int = 7,
    bw: float = 500e3,
    hop_channels: Sequence[float] | None = None,
    packet_interval: float | None = None,
    payload_symbols: int = 12,
    preamble: int = 8,
) -> tuple[NDArray[np.complex128], NDArray[np.bool_], list[tuple[float, float, float]]]:
    """ELRS-style LoRa packets hopping over ``hop_channels`` (Hz offsets).

    Returns the signal, the on mask and one ``(t_start, t_end, f_offset)`` per packet.
    """
    n_sym = 2**sf
    sps = fs / bw
    sym_len = round(n_sym * sps)
    packet_syms = preamble + 2 + payload_symbols
    packet_len = packet_syms * sym_len + sym_len // 4
    interval = packet_interval if packet_interval is not None else 1.6 * packet_len / fs
    step = max(round(interval * fs), packet_len + 1)
    if hop_channels is None:
        hop_channels = [0.0]
    x = np.zeros(n, dtype=np.complex128)
    on = np.zeros(n, dtype=bool)
    packets: list[tuple[float, float, float]] = []
    up = _chirp(n_sym, sps, 0, bw, fs)
    down = _chirp(n_sym, sps, 0, bw, fs, up=False)
    start = int(rng.integers(0, max(1, step // 2)))
    hop = int(rng.integers(0, len(hop_channels)))
    while start < n:
        parts = [up] * preamble + [down, down[: sym_len // 4]]
        parts.append(down)
        parts += [_chirp(n_sym, sps, int(rng.integers(0, n_sym)), bw, fs) for _ in range(payload_symbols)]
        pkt = np.concatenate(parts)[: n - start]
        f_off = float(hop_channels[hop % len(hop_channels)])
        tt = (start + np.arange(pkt.size)) / fs
        x[start : start + pkt.size] = pkt * np.exp(2j * np.pi * f_off * tt)
        on[start : start + pkt.size] = True
        packets.append((start / fs, (start + pkt.size) / fs, f_off))
        hop += 1 + int(rng.integers(0, 3))  # pseudo-random hop sequence
        start += step
    return x, on, packets


def analog_video(
    n: int, fs: float, rng: np.random.Generator, *, line_rate: float = 15625.0, deviation: float = 3e6
) -> Signal:
    """FM-modulated composite video: one sync pulse per line (4.7 µs), luminance in between."""
    t = np.arange(n) / fs
    line_pos = (t * line_rate) % 1.0
    sync = line_pos < 4.7e-6 * line_rate
    # Luminance: a few smooth random bars per line plus picture noise, band-limited to ~3 MHz.
    lines = int(np.ceil(n / fs * line_rate)) + 2
    bars = rng.uniform(0.1, 1.0, size=(lines, 8))
    line_idx = np.floor(t * line_rate).astype(np.int64)
    bar_idx = np.minimum((line_pos * 8).astype(np.int64), 7)
    luma = bars[line_idx, bar_idx] + 0.05 * rng.standard_normal(n)
    k = max(1, int(fs / 3e6))
    luma = np.convolve(luma, np.ones(k) / k, mode="same")
    video = np.where(sync, -0.4, luma) - 0.35  # sync tip below black; centred so the carrier stays put
    phase = 2 * np.pi * deviation * np.cumsum(video) / fs
    return np.exp(1j * phase), np.ones(n, dtype=bool)


def _ofdm_symbols(
    n: int, fs: float, rng: np.random.Generator, n_fft: int, n_cp: int, used: NDArray[np.int64]
) -> NDArray[np.complex128]:
    sym = n_fft + n_cp
    count = n // sym + 1
    grid = np.zeros((count, n_fft), dtype=np.complex128)
    qpsk = (rng.integers(0, 2, (count, used.size)) * 2 - 1) + 1j * (
        rng.integers(0, 2, (count, used.size)) * 2 - 1
    )
    grid[:, used % n_fft] = qpsk / np.sqrt(2)
    body = np.fft.ifft(grid, axis=1) * np.sqrt(n_fft)
    symbols = np.concatenate([body[:, -n_cp:], body], axis=1)
    return symbols.reshape(-1)[:n]


def digital_ofdm(
    n: int,
    fs: float,
    rng: np.random.Generator,
    *,
    bandwidth: float = 10e6,
    spacing: float = 15e3,
    cp_ratio: float = 0.125,
) -> Signal:
    """Continuous digital-video OFDM: ``bandwidth`` of QPSK subcarriers ``spacing`` apart, CP ``cp_ratio``."""
    n_fft = round(fs / spacing)
    n_cp = max(1, round(n_fft * cp_ratio))
    half = int(bandwidth / spacing / 2)
    used = np.concatenate([np.arange(-half, 0), np.arange(1, half + 1)]).astype(np.int64)
    return _ofdm_symbols(n, fs, rng, n_fft, n_cp, used), np.ones(n, dtype=bool)


def wifi(
    n: int,
    fs: float,
    rng: np.random.Generator,
    *,
    duty: float = 0.3,
    burst: tuple[float, float] = (150e-6, 1.2e-3),
) -> Signal:
    """802.11a/g-like bursts: 64-point OFDM at 20 MHz (3.2 µs + 0.8 µs CP), 52 subcarriers."""
    n_fft = round(fs * 3.2e-6)
    n_cp = round(fs * 0.8e-6)
    k = n_fft / 64.0  # subcarrier spacing stays 312.5 kHz at any sample rate
    used = np.round(np.concatenate([np.arange(-26, 0), np.arange(1, 27)]) * 1).astype(np.int64)
    if abs(k - round(k)) > 1e-9 or k < 1:
        raise ValueError("wifi needs a sample rate that is a multiple of 20 MS/s")
    x = _ofdm_symbols(n, fs, rng, n_fft, n_cp, used)
    on = np.zeros(n, dtype=bool)
    pos = int(rng.integers(0, max(1, int(burst[1] * fs))))
    while pos < n:
        length = int(rng.uniform(*burst) * fs)
        on[pos : pos + length] = True
        gap = int(length * (1 - duty) / duty * rng.uniform(0.5, 1.5))
        pos += length + max(gap, int(20e-6 * fs))
    return x * on, on


def narrowband(
    n: int, fs: float, rng: np.random.Generator, *, baud: float = 19.2e3, deviation: float = 10e3
) -> Signal:
    """A continuous 2-FSK telemetry carrier (≈ 2·(deviation + baud) wide)."""
    sps = fs / baud
    bits = rng.integers(0, 2, int(np.ceil(n / sps)) + 1) * 2 - 1
    idx = (np.arange(n) / sps).astype(np.int64)
    freq = deviation * bits[idx].astype(np.float64)
    k = max(1, int(sps / 2))
    freq = np.convolve(freq, np.ones(k) / k, mode="same")  # Gaussian-ish shaping keeps it narrow
    return np.exp(2j * np.pi * np.cumsum(freq) / fs), np.ones(n, dtype=bool)


def occupied_bandwidth(x: NDArray[np.complexfloating[Any, Any]], fs: float, fraction: float = 0.99) -> float:
    """Bandwidth holding ``fraction`` of the power (the band the SNR is defined in)."""
    nfft = 4096
    m = x.size // nfft
    if m == 0:
        seg = np.pad(x, (0, nfft - x.size))[None, :]
    else:
        seg = x[: m * nfft].reshape(m, nfft)
    p = np.fft.fftshift((np.abs(np.fft.fft(seg * np.hanning(nfft), axis=1)) ** 2).sum(axis=0))
    c = np.cumsum(p) / p.sum()
    lo = int(np.searchsorted(c, (1 - fraction) / 2))
    hi = int(np.searchsorted(c, 1 - (1 - fraction) / 2))
    return float(max(hi - lo + 1, 1) * fs / nfft)


@dataclass(frozen=True, slots=True)
class Emitter:
    """One transmitter in a scene. ``f_offset`` is Hz from the capture centre; angles in radians."""

    protocol: str
    f_offset: float = 0.0
    snr_db: float = 10.0
    az: float = 0.0
    el: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IqScene:
    """Synthetic samples ``[channels, n]`` and the truth: one row per emission (per packet for ELRS)."""

    samples: NDArray[np.complex64]
    sample_rate: float
    frequency: float
    emitter: NDArray[np.int64]
    protocol: NDArray[np.str_]
    t_start: NDArray[np.float64]
    t_end: NDArray[np.float64]
    f_center: NDArray[np.float64]  # offset from the capture centre, Hz
    bandwidth: NDArray[np.float64]
    snr_db: NDArray[np.float64]
    az: NDArray[np.float64]
    duty: NDArray[np.float64]
    sf: NDArray[np.int64]  # LoRa spreading factor, -1 otherwise


def _steering(positions: NDArray[np.float64], az: float, el: float, freq: float) -> NDArray[np.complex128]:
    # Unit vector from the array towards the emitter (E, N, U); azimuth clockwise from north.
    u = np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])
    out: NDArray[np.complex128] = np.exp(2j * np.pi * freq / SPEED_OF_LIGHT * (positions @ u))
    return out


def synthesize(
    emitters: Sequence[Emitter],
    *,
    sample_rate: float,
    n: int,
    rng: np.random.Generator,
    frequency: float = 5.8e9,
    positions: NDArray[np.float64] | None = None,
) -> IqScene:
    """White complex noise (unit power per channel) plus ``emitters``, with their truth.

    ``positions`` (``[channels, 3]`` ENU metres) makes an array recording with each emitter
    arriving from its ``az``/``el``.
    """
    pos = np.zeros((1, 3)) if positions is None else np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    ch = pos.shape[0]
    noise = rng.standard_normal((ch, n), dtype=np.float32) + 1j * rng.standard_normal(
        (ch, n), dtype=np.float32
    )
    out = (noise * np.float32(np.sqrt(0.5))).astype(np.complex64)
    rows: list[tuple[Any, ...]] = []
    t = np.arange(n) / sample_rate
    for k, em in enumerate(emitters):
        sf = -1
        packets: list[tuple[float, float, float]] | None = None
        p = dict(em.params)
        if em.protocol == "elrs":
            sf = int(p.get("sf", 7))
            x, on, packets = elrs(n, sample_rate, rng, **p)
            x = x * np.exp(2j * np.pi * em.f_offset * t)
        else:
            gen: dict[str, Any] = {
                "analog_video": analog_video,
                "digital_ofdm": digital_ofdm,
                "wifi": wifi,
                "narrowband": narrowband,
            }
            if em.protocol not in gen:
                raise ValueError(
                    f"unknown link type {em.protocol!r}; expected one of {', '.join(LINK_TYPES)}"
                )
            x, on = gen[em.protocol](n, sample_rate, rng, **p)
            x = x * np.exp(2j * np.pi * em.f_offset * t)
        active = x[on]
        if active.size == 0:
            continue
        base = active * np.exp(-2j * np.pi * em.f_offset * t[on])
        if em.protocol == "elrs":
            bw = float(p.get("bw", 500e3))  # a chirp occupies its sweep exactly
        else:
            bw = occupied_bandwidth(base, sample_rate)
        power = float(np.mean(np.abs(active) ** 2))
        gain = np.sqrt(10 ** (em.snr_db / 10) * bw / sample_rate / power)
        steer = _steering(pos, em.az, em.el, frequency + em.f_offset)
        out += (steer[:, None] * (gain * x)[None, :]).astype(np.complex64)
        duty = float(on.mean())
        if packets is not None:
            for t0, t1, f in packets:
                rows.append((k, em.protocol, t0, t1, em.f_offset + f, bw, em.snr_db, em.az, duty, sf))
        else:
            idx = np.flatnonzero(on)
            rows.append(
                (
                    k,
                    em.protocol,
                    idx[0] / sample_rate,
                    (idx[-1] + 1) / sample_rate,
                    em.f_offset,
                    bw,
                    em.snr_db,
                    em.az,
                    duty,
                    sf,
                )
            )
    cols: list[Any] = list(zip(*rows)) if rows else [() for _ in range(10)]
    return IqScene(
        samples=out,
        sample_rate=float(sample_rate),
        frequency=float(frequency),
        emitter=np.array(cols[0], dtype=np.int64),
        protocol=np.array(cols[1], dtype=np.str_),
        t_start=np.array(cols[2], dtype=np.float64),
        t_end=np.array(cols[3], dtype=np.float64),
        f_center=np.array(cols[4], dtype=np.float64),
        bandwidth=np.array(cols[5], dtype=np.float64),
        snr_db=np.array(cols[6], dtype=np.float64),
        az=np.array(cols[7], dtype=np.float64),
        duty=np.array(cols[8], dtype=np.float64),
        sf=np.array(cols[9], dtype=np.int64),
    )
