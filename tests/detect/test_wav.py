"""WAV reading: every PCM/float width, multi-channel, extensible format, bad files, fuzzing."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyfence.errors import FormatError
from skyfence.sources.wav import decode_wav, read_wav, write_wav


@pytest.mark.parametrize("bits", [16, 24, 32, -32])
@pytest.mark.parametrize("channels", [1, 4])
def test_round_trip(tmp_path: Path, bits: int, channels: int, rng: np.random.Generator) -> None:
    x = rng.uniform(-0.9, 0.9, (channels, 1000))
    write_wav(tmp_path / "a.wav", x, 44100, bits=bits)
    a = read_wav(tmp_path / "a.wav")
    assert a.sample_rate == 44100 and a.channels == channels and a.samples.shape == (channels, 1000)
    np.testing.assert_allclose(a.samples, x, atol=2.0 ** (1 - abs(bits)) * 1.01 if bits > 0 else 1e-6)


def _riff(fmt: bytes, data: bytes) -> bytes:
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_8_bit_unsigned_and_extensible_float() -> None:
    a = decode_wav(_riff(struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8), bytes([0, 128, 255])))
    np.testing.assert_allclose(a.samples[0], [-1.0, 0.0, 127 / 128])
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    ext = (
        struct.pack("<HHIIHH", 0xFFFE, 2, 48000, 48000 * 8, 8, 32)
        + struct.pack("<HHI", 22, 32, 3)
        + struct.pack("<H", 3)
        + guid_tail
    )
    a = decode_wav(_riff(ext, np.array([0.5, -0.25], "<f4").tobytes()))
    assert a.channels == 2 and a.samples[:, 0].tolist() == [0.5, -0.25]


def test_truncated_data_chunk_keeps_whole_frames() -> None:
    raw = _riff(struct.pack("<HHIIHH", 1, 2, 16000, 64000, 4, 16), np.arange(6, dtype="<i2").tobytes())
    raw = raw[:-2]  # a recorder killed mid-frame
    a = decode_wav(raw)
    assert a.samples.shape == (2, 2)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"OggS" + b"\0" * 40, "header"),
        (b"RIFF\x04\0\0\0WAVE", "fmt"),
        (_riff(struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16), b"")[:-8], "data"),
        (_riff(struct.pack("<HHIIHH", 2, 1, 8000, 16000, 2, 16), b"\0\0"), "fmt.wFormatTag"),
        (_riff(struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 12), b"\0\0"), "fmt.wBitsPerSample"),
        (_riff(struct.pack("<HHIIHH", 1, 1, 12, 24, 2, 16), b"\0\0"), "fmt.nSamplesPerSec"),
        (_riff(struct.pack("<HHIIHH", 1, 0, 8000, 16000, 2, 16), b"\0\0"), "fmt.nChannels"),
        (_riff(struct.pack("<HHIIHH", 1, 2, 8000, 16000, 2, 16), b"\0\0"), "fmt.nBlockAlign"),
    ],
)
def test_bad_files_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(FormatError) as err:
        decode_wav(raw, "x.wav")
    assert err.value.field == field and "x.wav" in str(err.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"nope\.wav"):
        read_wav(tmp_path / "nope.wav")


def test_real_clips(shared_data: Path) -> None:
    clips = sorted((shared_data / "drone-audio-alemadi" / "clips").glob("*.wav"))
    assert len(clips) == 40
    for c in clips:
        a = read_wav(c)
        assert a.sample_rate == 16000 and a.channels == 1 and 0.85 < a.duration < 6.0


@pytest.mark.fuzz
@given(
    tag=st.sampled_from([1, 3, 0xFFFE, 7]),
    ch=st.integers(0, 9),
    rate=st.integers(0, 200_000),
    align=st.integers(0, 40),
    bits=st.sampled_from([0, 8, 12, 16, 24, 32, 64]),
    data=st.binary(max_size=64),
    cut=st.integers(0, 120),
)
def test_fuzzed_headers_raise_only_format_errors(
    tag: int, ch: int, rate: int, align: int, bits: int, data: bytes, cut: int
) -> None:
    raw = _riff(struct.pack("<HHIIHH", tag, ch, rate, rate * align, align, bits) + b"\0" * 24, data)
    for blob in (raw, raw[:cut]):
        try:
            a = decode_wav(blob)
            assert a.samples.dtype == np.float32 and np.isfinite(a.samples).all()
        except FormatError:
            pass


@pytest.mark.fuzz
@given(st.binary(max_size=200))
def test_fuzzed_bytes_raise_only_format_errors(blob: bytes) -> None:
    for raw in (blob, b"RIFF\0\0\0\0WAVE" + blob):
        with contextlib.suppress(FormatError):
            decode_wav(raw)
