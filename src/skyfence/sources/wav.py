"""WAV audio: a small RIFF/WAVE parser (PCM 8/16/24/32-bit, IEEE float 32/64, mono or
multi-channel, plain or WAVE_FORMAT_EXTENSIBLE) returning ``float32[channels, n]`` in [-1, 1).

Written on numpy rather than a C library so that any byte string either decodes or raises a
:class:`~skyfence.errors.FormatError` naming the file and the chunk field, never crashes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import FormatError

__all__ = ["Audio", "decode_wav", "read_wav", "write_wav"]

_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
#: Rates outside this range are not audio a microphone array records.
_MIN_RATE, _MAX_RATE = 1000, 768_000


@dataclass(frozen=True, slots=True)
class Audio:
    """Decoded audio: ``samples[channels, n]`` float32 in [-1, 1) at ``sample_rate`` Hz."""

    samples: NDArray[np.float32]
    sample_rate: int
    bits: int
    source: str = ""

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return float(self.samples.shape[1] / self.sample_rate)


def decode_wav(data: bytes, source: str = "<bytes>") -> Audio:
    """Decode the bytes of a WAV file."""

    def fail(msg: str, field: str | None = None) -> FormatError:
        return FormatError(msg, path=source, field=field)

    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise fail("not a RIFF/WAVE file (expected 'RIFF....WAVE' header)", "header")
    big = data[:4] == b"RIFX"
    end = "<>"[big]
    pos = 12
    fmt: tuple[int, int, int, int, int] | None = None
    payload: bytes | None = None
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack(end + "I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise fail(f"fmt chunk is {len(body)} bytes, needs 16", "fmt")
            tag, ch, rate, _byte_rate, align, bits = struct.unpack(end + "HHIIHH", body[:16])
            if tag == _EXTENSIBLE:
                if len(body) < 40:
                    raise fail("WAVE_FORMAT_EXTENSIBLE fmt chunk shorter than 40 bytes", "fmt.cbSize")
                (tag,) = struct.unpack(end + "H", body[24:26])
            fmt = (tag, ch, rate, align, bits)
        elif cid == b"data":
            # A recorder that was killed leaves a data size larger than the file: keep what is there.
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise fail("no fmt chunk", "fmt")
    if payload is None:
        raise fail("no data chunk", "data")
    tag, ch, rate, align, bits = fmt
    if ch < 1 or ch > 256:
        raise fail(f"{ch} channels is not plausible", "fmt.nChannels")
    if not _MIN_RATE <= rate <= _MAX_RATE:
        raise fail(f"sample rate {rate} Hz outside {_MIN_RATE}..{_MAX_RATE}", "fmt.nSamplesPerSec")
    if (tag == _PCM and bits in (8, 16, 24, 32)) or (tag == _FLOAT and bits in (32, 64)):
        pass
    else:
        kind = {_PCM: "PCM", _FLOAT: "float"}.get(tag, f"format tag {tag:#x}")
        raise fail(
            f"unsupported encoding: {kind} with {bits} bits (expected PCM 8/16/24/32 or float 32/64)",
            "fmt.wFormatTag" if tag not in (_PCM, _FLOAT) else "fmt.wBitsPerSample",
        )
    width = bits // 8
    if align != width * ch:
        raise fail(f"block align {align} != {ch} channels x {width} bytes", "fmt.nBlockAlign")
    n = len(payload) // align
    raw = np.frombuffer(payload, dtype=np.uint8, count=n * align)
    if tag == _FLOAT:
        vals = raw.view(np.dtype(end + ("f4" if bits == 32 else "f8"))).astype(np.float32)
        vals = np.where(np.isfinite(vals), vals, np.float32(0.0))
    elif bits == 8:
        vals = (raw.astype(np.float32) - 128.0) / 128.0
    elif bits == 24:
        b = raw.reshape(-1, 3).astype(np.int32)
        lo, mid, hi = (b[:, 2], b[:, 1], b[:, 0]) if big else (b[:, 0], b[:, 1], b[:, 2])
        v = lo | (mid << 8) | (hi << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        vals = v.astype(np.float32) / float(1 << 23)
    else:
        vals = raw.view(np.dtype(f"{end}i{width}")).astype(np.float32) / float(1 << (bits - 1))
    samples = np.ascontiguousarray(vals.reshape(n, ch).T.astype(np.float32))
    return Audio(samples, int(rate), int(bits), source)


def read_wav(path: str | Path) -> Audio:
    """Read a WAV file; FormatError names the file and the field that is wrong."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read audio file: {exc.strerror or exc}", path=p) from None
    return decode_wav(data, str(p))


def write_wav(path: str | Path, samples: NDArray[np.floating], sample_rate: int, bits: int = 16) -> None:
    """Write ``samples[channels, n]`` (or ``[n]``) in [-1, 1) as PCM ``bits`` (16/24/32) or float (-32)."""
    x = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    ch, n = x.shape
    if bits == -32:
        body = x.T.astype("<f4").tobytes()
        tag, width = _FLOAT, 4
    elif bits in (16, 32):
        q = np.clip(np.round(x * (1 << (bits - 1))), -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        body = q.T.astype(f"<i{bits // 8}").tobytes()
        tag, width = _PCM, bits // 8
    elif bits == 24:
        q = np.clip(np.round(x * (1 << 23)), -(1 << 23), (1 << 23) - 1).astype("<i4").T
        body = np.ascontiguousarray(q).view(np.uint8).reshape(n, ch, 4)[:, :, :3].tobytes()
        tag, width = _PCM, 3
    else:
        raise ValueError("bits must be 16, 24, 32 or -32 (float)")
    fmt = struct.pack("<HHIIHH", tag, ch, sample_rate, sample_rate * ch * width, ch * width, width * 8)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(body)) + body
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
