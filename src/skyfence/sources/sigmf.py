"""SigMF recordings: metadata (validated with the ``sigmf`` package's schema) and samples read
block by block, from a finished file or from one an SDR tool is still writing (``follow``).

Samples come back as ``complex64`` arrays of shape ``[channels, n]``, integers scaled to
[-1, 1); real datatypes (``r*``) come back with a zero imaginary part. Every problem with a
recording is a :class:`~skyfence.errors.FormatError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import FormatError

__all__ = [
    "DATATYPES",
    "Capture",
    "SampleBlock",
    "SigmfRecording",
    "decode_samples",
    "encode_samples",
    "open_sigmf",
    "parse_datatype",
    "require_data",
    "write_sigmf",
]

_DATATYPE_RE = re.compile(r"^(c|r)(f32|f64|i32|i16|i8|u32|u16|u8)(_le|_be)?$")

#: Every SigMF core datatype this reader decodes.
DATATYPES: tuple[str, ...] = tuple(
    f"{c}{k}{e}"
    for c in "cr"
    for k in ("f32", "f64", "i32", "i16", "i8", "u32", "u16", "u8")
    for e in (("",) if k.endswith("8") else ("_le", "_be"))
)


@dataclass(frozen=True, slots=True)
class Datatype:
    """A parsed ``core:datatype``: numpy component dtype, complex or real, integer scale."""

    name: str
    component: np.dtype[Any]
    is_complex: bool
    scale: float  # multiply integers by this to land in [-1, 1)
    offset: float  # subtracted before scaling (unsigned types are offset binary)

    @property
    def bytes_per_value(self) -> int:
        """Bytes of one channel's sample (two components when complex)."""
        return int(self.component.itemsize) * (2 if self.is_complex else 1)


def parse_datatype(name: object, path: str | Path | None = None) -> Datatype:
    """``core:datatype`` string to a :class:`Datatype`; FormatError names the field."""
    if not isinstance(name, str):
        raise FormatError(f"expected a string, got {type(name).__name__}", path=path, field="core:datatype")
    m = _DATATYPE_RE.match(name)
    if m is None:
        raise FormatError(
            f"unsupported datatype {name!r}; expected one of {', '.join(DATATYPES)}",
            path=path,
            field="core:datatype",
        )
    cplx, kind, endian = m.groups()
    if kind.endswith("8") and endian:
        # 8-bit types carry no byte order; accept the suffix but it changes nothing.
        endian = ""
    if not kind.endswith("8") and not endian:
        # The spec requires an endianness for multi-byte types; little endian is what every SDR writes.
        endian = "_le"
    order = ">" if endian == "_be" else "<"
    letter = {"f": "f", "i": "i", "u": "u"}[kind[0]]
    size = int(kind[1:]) // 8
    comp = np.dtype(f"{order}{letter}{size}") if size > 1 else np.dtype(f"{letter}1")
    if letter == "f":
        scale, offset = 1.0, 0.0
    elif letter == "i":
        scale, offset = 1.0 / float(2 ** (8 * size - 1)), 0.0
    else:
        scale, offset = 1.0 / float(2 ** (8 * size - 1)), float(2 ** (8 * size - 1))
    return Datatype(name, comp, cplx == "c", scale, offset)


def decode_samples(
    raw: bytes | memoryview | NDArray[np.uint8], dtype: Datatype, channels: int
) -> NDArray[np.complex64]:
    """Whole sample frames of ``raw`` to ``complex64[channels, n]`` (a trailing part frame is dropped)."""
    frame = dtype.bytes_per_value * channels
    buf = np.frombuffer(raw, dtype=np.uint8)
    n = buf.size // frame
    vals = np.frombuffer(buf[: n * frame].tobytes(), dtype=dtype.component)
    if dtype.component.kind == "f":
        v = vals.astype(np.float32, copy=False)
        v = np.where(np.isfinite(v), v, np.float32(0.0))  # a NaN from a broken SDR must not poison the FFT
    else:
        v = (vals.astype(np.float64) - dtype.offset).astype(np.float32) * np.float32(dtype.scale)
    if dtype.is_complex:
        c = v.reshape(n, channels, 2)
        out = (c[..., 0] + 1j * c[..., 1]).astype(np.complex64)
    else:
        out = v.reshape(n, channels).astype(np.complex64)
    return np.ascontiguousarray(out.T)


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture segment: where it starts, its RF centre and the UTC time of its first sample."""

    sample_start: int
    frequency: float  # Hz; NaN when the recording does not say
    datetime: float  # epoch seconds; NaN when the recording does not say
    header_bytes: int = 0


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """A block of samples: ``samples[channels, n]`` starting at sample index ``start``."""

    start: int
    t0: float  # time of the first sample, epoch seconds (or seconds from the start when unknown)
    sample_rate: float
    frequency: float
    samples: NDArray[np.complex64]


def _epoch(text: object, path: Path, field: str) -> float:
    if text is None:
        return math.nan
    if not isinstance(text, str):
        raise FormatError("expected an ISO-8601 string", path=path, field=field)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FormatError(f"not an ISO-8601 time: {text[:40]!r}", path=path, field=field) from None
    if dt.tzinfo is None:
        raise FormatError("time has no time zone (SigMF requires 'Z')", path=path, field=field)
    return dt.timestamp()


def _int(v: object, path: Path, field: str, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise FormatError(f"expected an integer, got {type(v).__name__}", path=path, field=field)
    if v < minimum:
        raise FormatError(f"must be >= {minimum}, got {v}", path=path, field=field)
    return v


def _validate_schema(meta: Mapping[str, Any], path: Path) -> None:
    """Check ``meta`` against the SigMF JSON schema that ships with the ``sigmf`` package."""
    try:
        import jsonschema
        from sigmf import schema as sigmf_schema
    except ImportError:  # pragma: no cover - the signal extra is not installed
        return
    try:
        ref = sigmf_schema.get_schema()
        validator = jsonschema.Draft202012Validator(ref)
        err = next(iter(sorted(validator.iter_errors(meta), key=lambda e: list(e.absolute_path))), None)
    except Exception as exc:  # pragma: no cover - a schema library failure is reported as format error
        raise FormatError(f"metadata could not be validated: {exc}", path=path) from None
    if err is not None:
        where = ".".join(str(p) for p in err.absolute_path) or None
        msg = err.message if len(err.message) < 200 else err.message[:200] + "..."
        raise FormatError(f"does not match the SigMF schema: {msg}", path=path, field=where)


@dataclass(frozen=True, slots=True)
class SigmfRecording:
    """A SigMF recording: metadata plus the path of its dataset file."""

    meta_path: Path
    data_path: Path
    datatype: Datatype
    num_channels: int
    sample_rate: float
    captures: tuple[Capture, ...]
    annotations: tuple[Mapping[str, Any], ...]
    global_info: Mapping[str, Any]
    trailing_bytes: int = 0

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample instant across all channels."""
        return self.datatype.bytes_per_value * self.num_channels

    def _header_total(self) -> int:
        return sum(c.header_bytes for c in self.captures)

    def num_samples(self) -> int:
        """Whole sample frames in the dataset file as it is now."""
        try:
            size = self.data_path.stat().st_size
        except OSError as exc:
            raise FormatError(f"cannot read data file: {exc.strerror or exc}", path=self.data_path) from None
        usable = size - self._header_total() - self.trailing_bytes
        return max(usable, 0) // self.frame_bytes

    def check_size(self) -> None:
        """A finished recording must hold whole frames: otherwise the datatype or channel count is wrong."""
        try:
            size = self.data_path.stat().st_size
        except OSError as exc:
            raise FormatError(f"cannot read data file: {exc.strerror or exc}", path=self.data_path) from None
        usable = size - self._header_total() - self.trailing_bytes
        if usable < 0 or usable % self.frame_bytes:
            raise FormatError(
                f"data file holds {size} bytes, not a whole number of {self.frame_bytes}-byte sample "
                f"frames ({self.datatype.name} x {self.num_channels} channel(s)): wrong datatype or "
                "channel count?",
                path=self.meta_path,
                field="global.core:datatype",
            )
        last = self.captures[-1].sample_start if self.captures else 0
        n = usable // self.frame_bytes
        if last > n:
            raise FormatError(
                f"capture starts at sample {last} but the data file holds only {n} samples",
                path=self.meta_path,
                field=f"captures[{len(self.captures) - 1}].core:sample_start",
            )

    def capture_of(self, sample: int) -> int:
        """Index of the capture segment holding sample index ``sample``."""
        starts = [c.sample_start for c in self.captures]
        return max(0, int(np.searchsorted(starts, sample, side="right")) - 1)

    def time_of(self, sample: int) -> float:
        """Epoch time of a sample (seconds from the recording start when no capture has a time)."""
        cap = self.captures[self.capture_of(sample)]
        if math.isfinite(cap.datetime):
            return cap.datetime + (sample - cap.sample_start) / self.sample_rate
        first = self.captures[0]
        base = first.datetime if math.isfinite(first.datetime) else 0.0
        return base + sample / self.sample_rate

    def _byte_offset(self, sample: int) -> int:
        k = self.capture_of(sample)
        head = sum(c.header_bytes for c in self.captures[: k + 1])
        return head + sample * self.frame_bytes

    def read(self, start: int = 0, count: int | None = None) -> NDArray[np.complex64]:
        """Samples ``[start, start + count)`` within one capture segment, ``complex64[channels, n]``."""
        total = self.num_samples()
        if count is None:
            count = total - start
        count = max(0, min(count, total - start))
        try:
            with self.data_path.open("rb") as fh:
                fh.seek(self._byte_offset(start))
                raw = fh.read(count * self.frame_bytes)
        except OSError as exc:
            raise FormatError(f"cannot read data file: {exc.strerror or exc}", path=self.data_path) from None
        return decode_samples(raw, self.datatype, self.num_channels)

    def blocks(
        self,
        block_len: int,
        *,
        follow: bool = False,
        idle_timeout: float = 2.0,
        poll: float = 0.005,
        stop: Callable[[], bool] | None = None,
        stream: IO[bytes] | None = None,
    ) -> Iterator[SampleBlock]:
        """Blocks of ``block_len`` samples in time order; a block never straddles two captures.

        With ``follow`` the dataset file is still being written: wait for each block to be
        complete, and end after ``idle_timeout`` seconds without growth (or when ``stop()``
        says so). With ``stream`` (e.g. stdin) samples come from that byte stream instead.
        """
        if block_len <= 0:
            raise ValueError("block_len must be positive")
        if stream is not None:
            yield from self._stream_blocks(stream, block_len)
            return
        if not follow:
            self.check_size()
        try:
            fh = self.data_path.open("rb")
        except OSError as exc:
            raise FormatError(f"cannot read data file: {exc.strerror or exc}", path=self.data_path) from None
        with fh:
            pos = 0
            last_growth = time.monotonic()
            while True:
                if stop is not None and stop():
                    return
                total = self.num_samples()
                k = self.capture_of(pos)
                seg_end = self.captures[k + 1].sample_start if k + 1 < len(self.captures) else None
                want = block_len if seg_end is None else min(block_len, seg_end - pos)
                have = total - pos
                if have >= want and want > 0:
                    fh.seek(self._byte_offset(pos))
                    raw = fh.read(want * self.frame_bytes)
                    yield self._block(pos, decode_samples(raw, self.datatype, self.num_channels))
                    pos += want
                    last_growth = time.monotonic()
                    continue
                if not follow:
                    if have > 0:  # the short tail of a finished recording
                        fh.seek(self._byte_offset(pos))
                        raw = fh.read(have * self.frame_bytes)
                        yield self._block(pos, decode_samples(raw, self.datatype, self.num_channels))
                    return
                if time.monotonic() - last_growth > idle_timeout:
                    return
                time.sleep(poll)

    def _stream_blocks(self, stream: IO[bytes], block_len: int) -> Iterator[SampleBlock]:
        pos = 0
        nbytes = block_len * self.frame_bytes
        pending = b""
        while True:
            chunk = stream.read(nbytes - len(pending))
            if not chunk:
                break
            pending += chunk
            if len(pending) < nbytes:
                continue
            yield self._block(pos, decode_samples(pending, self.datatype, self.num_channels))
            pos += block_len
            pending = b""
        whole = len(pending) // self.frame_bytes
        if whole:
            yield self._block(pos, decode_samples(pending, self.datatype, self.num_channels))

    def _block(self, start: int, samples: NDArray[np.complex64]) -> SampleBlock:
        cap = self.captures[self.capture_of(start)]
        return SampleBlock(start, self.time_of(start), self.sample_rate, cap.frequency, samples)


def open_sigmf(
    path: str | Path, *, data_path: str | Path | None = None, validate: bool = True
) -> SigmfRecording:
    """Read a ``.sigmf-meta`` file (the ``.sigmf-data`` beside it, or ``data_path``).

    The data file need not exist yet when the caller will follow it; :meth:`SigmfRecording.blocks`
    raises then. Use :meth:`SigmfRecording.check_size` to check a finished recording.
    """
    p = Path(path)
    if p.suffix == ".sigmf-data":
        p = p.with_suffix(".sigmf-meta")
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read metadata: {exc.strerror or exc}", path=p) from None
    try:
        meta = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise FormatError("metadata is not UTF-8 text", path=p) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"metadata is not valid JSON ({exc})", path=p) from None
    if not isinstance(meta, dict):
        raise FormatError("metadata must be a JSON object", path=p)
    glob = meta.get("global")
    if not isinstance(glob, dict):
        raise FormatError("missing or not an object", path=p, field="global")
    if "core:datatype" not in glob:
        raise FormatError("missing", path=p, field="global.core:datatype")
    dtype = parse_datatype(glob["core:datatype"], p)
    if validate:
        _validate_schema(meta, p)
    rate = glob.get("core:sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0:
        raise FormatError(
            "missing or not a positive number (needed to time detections)",
            path=p,
            field="global.core:sample_rate",
        )
    channels = _int(glob.get("core:num_channels", 1), p, "global.core:num_channels", 1)
    if channels > 1024:
        raise FormatError(
            f"{channels} channels is not a plausible recording", path=p, field="global.core:num_channels"
        )
    trailing = _int(glob.get("core:trailing_bytes", 0), p, "global.core:trailing_bytes")
    caps_doc = meta.get("captures", [])
    if not isinstance(caps_doc, list):
        raise FormatError("expected a list", path=p, field="captures")
    captures: list[Capture] = []
    for i, c in enumerate(caps_doc):
        where = f"captures[{i}]"
        if not isinstance(c, dict):
            raise FormatError("expected an object", path=p, field=where)
        start = _int(c.get("core:sample_start", 0), p, f"{where}.core:sample_start")
        if captures and start < captures[-1].sample_start:
            raise FormatError(
                "captures must be sorted by sample_start", path=p, field=f"{where}.core:sample_start"
            )
        freq = c.get("core:frequency", math.nan)
        if isinstance(freq, bool) or not isinstance(freq, int | float):
            raise FormatError("expected a number", path=p, field=f"{where}.core:frequency")
        header = _int(c.get("core:header_bytes", 0), p, f"{where}.core:header_bytes")
        captures.append(
            Capture(start, float(freq), _epoch(c.get("core:datetime"), p, f"{where}.core:datetime"), header)
        )
    if not captures:
        captures.append(Capture(0, math.nan, math.nan))
    if captures[0].sample_start != 0:
        # Samples before the first capture still exist in the file; give them the first capture's metadata.
        first = captures[0]
        captures[0] = Capture(
            0, first.frequency, first.datetime - first.sample_start / float(rate), first.header_bytes
        )
    ann = meta.get("annotations", [])
    if not isinstance(ann, list) or not all(isinstance(a, dict) for a in ann):
        raise FormatError("expected a list of objects", path=p, field="annotations")
    if data_path is not None:
        dp = Path(data_path)
    else:
        dataset = glob.get("core:dataset")
        if dataset is not None:
            if (
                not isinstance(dataset, str)
                or "/" in dataset
                or "\\" in dataset
                or dataset in ("", ".", "..")
            ):
                raise FormatError(
                    "must be a plain file name beside the metadata", path=p, field="global.core:dataset"
                )
            dp = p.with_name(dataset)
        else:
            name = p.name[: -len(".sigmf-meta")] if p.name.endswith(".sigmf-meta") else p.stem
            dp = p.with_name(name + ".sigmf-data")
    return SigmfRecording(
        meta_path=p,
        data_path=dp,
        datatype=dtype,
        num_channels=channels,
        sample_rate=float(rate),
        captures=tuple(captures),
        annotations=tuple(ann),
        global_info=dict(glob),
        trailing_bytes=trailing,
    )


def require_data(rec: SigmfRecording) -> None:
    """Raise a FormatError naming the missing dataset file."""
    if not rec.data_path.is_file():
        raise FormatError(
            f"data file missing (expected {rec.data_path.name} beside the metadata)", path=rec.data_path
        )


def encode_samples(samples: NDArray[np.complexfloating[Any, Any]], dtype: Datatype) -> bytes:
    """``samples[channels, n]`` to the bytes of ``dtype`` (the inverse of :func:`decode_samples`)."""
    x = np.atleast_2d(samples).T  # [n, channels]
    if dtype.is_complex:
        vals = np.stack([x.real, x.imag], axis=-1).reshape(-1)
    else:
        vals = x.real.reshape(-1)
    if dtype.component.kind == "f":
        return np.asarray(vals, dtype=dtype.component).tobytes()
    info = np.iinfo(dtype.component)
    q = np.round(vals.astype(np.float64) / dtype.scale + dtype.offset)
    return np.clip(q, info.min, info.max).astype(dtype.component).tobytes()


def write_sigmf(
    meta_path: str | Path,
    samples: NDArray[np.complexfloating[Any, Any]],
    sample_rate: float,
    *,
    frequency: float | None = None,
    datatype: str = "cf32_le",
    datetime_utc: str | None = None,
    description: str = "",
    extra_global: Mapping[str, Any] | None = None,
) -> SigmfRecording:
    """Write ``samples[channels, n]`` as a SigMF recording (``.sigmf-meta`` + ``.sigmf-data``)."""
    p = Path(meta_path)
    dtype = parse_datatype(datatype, p)
    x = np.atleast_2d(samples)
    glob: dict[str, Any] = {
        "core:datatype": datatype,
        "core:version": "1.2.0",
        "core:sample_rate": float(sample_rate),
        "core:num_channels": int(x.shape[0]),
        "core:recorder": "skyfence",
    }
    if description:
        glob["core:description"] = description
    if extra_global:
        glob.update(extra_global)
    cap: dict[str, Any] = {"core:sample_start": 0}
    if frequency is not None:
        cap["core:frequency"] = float(frequency)
    if datetime_utc is not None:
        cap["core:datetime"] = datetime_utc
    meta = {"global": glob, "captures": [cap], "annotations": []}
    data_path = p.with_name(p.name.removesuffix(".sigmf-meta") + ".sigmf-data")
    data_path.write_bytes(encode_samples(x, dtype))
    p.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return open_sigmf(p)
