"""Fuzzing: random, truncated, scaled and corrupted baseband never makes the DroneID RF decoder
raise anything but DecodeError; bad files raise FormatError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.detect.droneid_rf import DecodeStats, decode_droneid_file, decode_droneid_iq
from skyfence.errors import DecodeError, FormatError

from .conftest import SAMPLE_RATE, Decoded

_RATES = st.sampled_from([50e6, 15.36e6, 30.72e6, 61.44e6, 1e6, 0.0, -5.0, float("nan"), 1e12])


def _decode(samples: np.ndarray, rate: float) -> None:
    stats = DecodeStats()
    try:
        frames = decode_droneid_iq(samples, rate, stats, max_iterations=1)
    except DecodeError as exc:
        assert exc.reason.startswith("droneid_rf_")
        return
    assert stats.demodulated == len(frames)
    assert stats.candidates == stats.demodulated + sum(
        v for k, v in stats.errors.items() if k != "droneid_rf_crc"
    )


@pytest.mark.fuzz
@given(
    data=st.binary(min_size=0, max_size=40_000),
    rate=_RATES,
)
def test_random_bytes_as_iq(data: bytes, rate: float) -> None:
    raw = data[: len(data) // 8 * 8]
    _decode(np.frombuffer(raw, dtype="<c8"), rate)


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.integers(0, 225_000),
    length=st.integers(0, 45_000),
    scale=st.sampled_from([1.0, 1e-20, 1e20, -1.0]),
    flips=st.lists(st.integers(0, 44_999), max_size=50),
)
def test_truncated_and_corrupted_capture(
    mavic: Decoded, start: int, length: int, scale: float, flips: list[int]
) -> None:
    seg = (mavic.samples[start : start + length] * np.float32(scale)).copy()
    for i in flips:
        if i < seg.size:
            seg[i] = np.complex64(complex(-seg[i].imag, seg[i].real) * 100)
    _decode(seg, SAMPLE_RATE)


def test_non_finite_and_bad_shapes_are_decode_errors() -> None:
    for bad, rate in [
        (np.array([1 + 1j, np.nan], np.complex64), 50e6),
        (np.zeros((4, 4), np.complex64), 50e6),
        (np.zeros(10, np.complex64), 1e6),
        (np.array(["a", "b"]), 50e6),
    ]:
        with pytest.raises(DecodeError):
            decode_droneid_iq(bad, rate)


def test_bad_files_are_format_errors(tmp_path: Path) -> None:
    odd = tmp_path / "odd.iq"
    odd.write_bytes(b"\x00" * 12)
    with pytest.raises(FormatError, match="complex64"):
        decode_droneid_file(odd, SAMPLE_RATE)
    with pytest.raises(FormatError, match="cannot read"):
        decode_droneid_file(tmp_path / "missing.iq", SAMPLE_RATE)
    silent = tmp_path / "silent.iq"
    silent.write_bytes(b"\x00" * 8 * 1000)
    assert decode_droneid_file(silent, SAMPLE_RATE) == []


@pytest.mark.fuzz
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    # each example may demodulate a whole burst (~0.15 s), so a hundredth of the profile's count
    max_examples=max(10, (settings.default.max_examples or 100) // 100),
)
@given(
    start=st.integers(85_000, 170_000),
    length=st.integers(25_000, 45_000),
    flips=st.lists(st.tuples(st.integers(0, 44_999), st.integers(1, 2_000)), max_size=8),
)
def test_corrupted_bursts(mavic: Decoded, start: int, length: int, flips: list[tuple[int, int]]) -> None:
    """Spans that hold (part of) a real burst, with runs of samples zeroed or replaced by noise:
    these reach synchronisation, equalisation and the turbo decoder."""
    seg = mavic.samples[start : start + length].copy()
    rng = np.random.default_rng(start)
    for at, run in flips:
        seg[at : at + run] = (rng.normal(0, 0.3, min(run, max(seg.size - at, 0))) + 0j).astype(np.complex64)
    _decode(seg, SAMPLE_RATE)


def test_burst_of_band_limited_noise_is_counted_not_returned(rng: np.random.Generator) -> None:
    """Something with a DroneID burst's length and bandwidth but no ZC/pilot structure (another
    OFDM link, say) is a candidate that fails synchronisation with a reason."""
    from scipy import signal

    fs = 50e6
    n = int(700e-6 * fs)
    burst = rng.normal(size=n) + 1j * rng.normal(size=n)
    burst = signal.lfilter(signal.firwin(129, 4.5e6, fs=fs), 1.0, burst)
    x = 0.01 * (rng.normal(size=4 * n) + 1j * rng.normal(size=4 * n))
    x[n : 2 * n] += burst
    stats = DecodeStats()
    assert decode_droneid_iq(x.astype(np.complex64), fs, stats) == []
    assert stats.candidates == 1
    assert set(stats.errors) <= {"droneid_rf_zc", "droneid_rf_pilot"} and sum(stats.errors.values()) == 1
