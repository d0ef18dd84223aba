"""DJI DroneID from raw baseband: bursts in, decoded frames out.

Each candidate burst is demodulated (``phy``), its 7200 soft bits rate de-matched and turbo
decoded (``coding``), and a transport block whose CRC-24A holds is parsed: byte 0 is the DroneID
message length, byte 1 the subcommand (0x10 flight information, laid out like DJI's Wi-Fi
DroneID, so ``decode_dji_flight_info`` reads it), and a CRC-16 (reflected CCITT polynomial,
initial value 0x3692, little-endian) follows the ``length + 1`` message bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from skyfence.detect.droneid_rf.coding import BLOCK_BITS, rate_dematch, turbo_decode
from skyfence.detect.droneid_rf.phy import LTE_RATE, demodulate, find_bursts
from skyfence.detect.remoteid.dji import FLIGHT_INFO, DjiFlightInfo, decode_dji_flight_info
from skyfence.errors import DecodeError, FormatError

__all__ = [
    "DecodeStats",
    "DroneIdFrame",
    "decode_droneid_file",
    "decode_droneid_iq",
    "droneid_crc16",
]

_CRC16_INIT = 0x3692
_CRC16_POLY_REFLECTED = 0x8408  # x^16 + x^12 + x^5 + 1, bit-reversed


@dataclass(frozen=True, slots=True)
class DroneIdFrame:
    """One demodulated DroneID burst.

    ``crc_ok``: the transport block's CRC-24A holds (the turbo decoder converged).
    ``payload_crc_ok``: the DroneID message's own CRC-16 holds (None when the block is bad).
    ``flight_info``: the decoded flight information for subcommand 0x10, else None.
    """

    start_s: float
    cfo_hz: float
    evm_db: float
    zc_quality: float
    pilot_bit_errors: int
    crc_ok: bool
    turbo_iterations: int
    block: bytes
    subcommand: int | None
    payload_crc_ok: bool | None
    flight_info: DjiFlightInfo | None


@dataclass(slots=True)
class DecodeStats:
    """Counters over one or more calls: candidates found, bursts demodulated, CRC outcomes and
    the reason of every burst that could not be decoded."""

    candidates: int = 0
    demodulated: int = 0
    crc_ok: int = 0
    crc_errors: int = 0
    payload_crc_ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def droneid_crc16(data: bytes) -> int:
    reg = _CRC16_INIT
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ _CRC16_POLY_REFLECTED if reg & 1 else reg >> 1
    return reg


def _check_input(samples: NDArray[np.generic], sample_rate: float) -> NDArray[np.complex128]:
    if not np.isfinite(sample_rate) or sample_rate < LTE_RATE * 0.99:
        raise DecodeError("droneid_rf_rate", f"sample rate {sample_rate} below 15.36 MS/s")
    if sample_rate > 200e6:
        raise DecodeError("droneid_rf_rate", f"sample rate {sample_rate} above 200 MS/s")
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise DecodeError("droneid_rf_shape", f"expected 1-D samples, got shape {arr.shape}")
    if not (np.iscomplexobj(arr) or np.issubdtype(arr.dtype, np.number)):
        raise DecodeError("droneid_rf_dtype", f"samples of dtype {arr.dtype}")
    with np.errstate(invalid="ignore", over="ignore"):
        out = arr.astype(np.complex128)
    if not np.all(np.isfinite(out)):
        raise DecodeError("droneid_rf_nonfinite", "samples contain NaN or infinity")
    return out


def _parse_block(block: bytes) -> tuple[int, bool | None, DjiFlightInfo | None]:
    length, subcommand = block[0], block[1]
    crc_at = length + 1
    payload_ok: bool | None = None
    if crc_at + 2 <= len(block):
        stored = int.from_bytes(block[crc_at : crc_at + 2], "little")
        payload_ok = droneid_crc16(block[:crc_at]) == stored
    info = None
    if subcommand == FLIGHT_INFO and payload_ok:
        # The Wi-Fi element body has three bytes before the subcommand; the RF message has one.
        info = decode_dji_flight_info(b"\x00\x00\x00" + block[1:crc_at])
    return subcommand, payload_ok, info


def decode_droneid_iq(
    samples: NDArray[np.generic],
    sample_rate: float,
    stats: DecodeStats | None = None,
    max_iterations: int = 8,
) -> list[DroneIdFrame]:
    """Every DroneID burst in a complex baseband capture, in time order.

    Raises DecodeError for input that cannot be a capture (rate, shape, NaN). Bursts that fail
    to synchronise are counted in ``stats.errors`` by reason and skipped; bursts whose turbo
    decoding fails the CRC are returned with ``crc_ok`` False.
    """
    st = stats if stats is not None else DecodeStats()
    x = _check_input(samples, float(sample_rate))
    frames: list[DroneIdFrame] = []
    for burst in find_bursts(x, float(sample_rate)):
        st.candidates += 1
        try:
            demod = demodulate(x, float(sample_rate), burst)
        except DecodeError as exc:
            st.errors[exc.reason] += 1
            continue
        st.demodulated += 1
        result = turbo_decode(rate_dematch(demod.llr), max_iterations=max_iterations)
        block = np.packbits(result.bits[:BLOCK_BITS]).tobytes()
        subcommand: int | None = None
        payload_ok: bool | None = None
        info: DjiFlightInfo | None = None
        if result.crc_ok:
            st.crc_ok += 1
            try:
                subcommand, payload_ok, info = _parse_block(block)
            except DecodeError as exc:
                st.errors[exc.reason] += 1
            if payload_ok:
                st.payload_crc_ok += 1
        else:
            st.crc_errors += 1
            st.errors["droneid_rf_crc"] += 1
        frames.append(
            DroneIdFrame(
                start_s=demod.frame_start,
                cfo_hz=demod.cfo_hz,
                evm_db=demod.evm_db,
                zc_quality=demod.zc_quality,
                pilot_bit_errors=demod.pilot_bit_errors,
                crc_ok=result.crc_ok,
                turbo_iterations=result.iterations,
                block=block,
                subcommand=subcommand,
                payload_crc_ok=payload_ok,
                flight_info=info,
            )
        )
    return frames


def decode_droneid_file(
    path: str | Path, sample_rate: float, stats: DecodeStats | None = None
) -> list[DroneIdFrame]:
    """Decode a raw interleaved little-endian float32 I/Q file (complex64, no header)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror}", path=p) from exc
    if len(raw) % 8:
        raise FormatError(f"{len(raw)} bytes is not a whole number of complex64 samples", path=p)
    samples = np.frombuffer(raw, dtype="<c8")
    return decode_droneid_iq(samples, sample_rate, stats)
