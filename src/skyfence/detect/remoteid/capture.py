"""From a capture to Remote ID position reports: read frames, find payloads, decode them,
count what fails (per reason) and go on; then tie each position to its drone's serial and
operator position, one columnar :class:`PositionReports` for the whole capture.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from skyfence.detect.remoteid.dji import DjiFlightInfo, decode_dji_flight_info, dji_record
from skyfence.detect.remoteid.frames import Payload, remote_id_payloads
from skyfence.detect.remoteid.messages import (
    HORIZONTAL_ACCURACY_M,
    VERTICAL_ACCURACY_M,
    BasicID,
    Location,
    Message,
    MessagePack,
    System,
    decode_message,
    message_record,
)
from skyfence.errors import DecodeError, FormatError
from skyfence.sources.pcap import Packet, read_packets

__all__ = [
    "CaptureDecode",
    "DecodedPayload",
    "PositionReports",
    "decode_capture",
    "decode_packets",
    "decode_payload",
    "message_records",
    "position_reports",
]


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """One decoded payload: where it came from and what it says."""

    payload: Payload
    message: Message | DjiFlightInfo

    def messages(self) -> tuple[Message | DjiFlightInfo, ...]:
        """The single messages (a pack's contents, or the message itself)."""
        if isinstance(self.message, MessagePack):
            return self.message.messages
        return (self.message,)


@dataclass(slots=True)
class CaptureDecode:
    """Everything decoded from a capture, and what could not be (``errors``: reason → count).

    Mutable on purpose: it accumulates while frames stream in, so a capture that breaks off
    half way still returns what came before the damage."""

    decoded: list[DecodedPayload] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    packets: int = 0


def decode_payload(payload: Payload) -> Message | DjiFlightInfo:
    """Decode one payload; raises :class:`DecodeError` only."""
    if payload.protocol == "dji":
        oui = ":".join(f"{b:02x}" for b in payload.data[:3])
        return decode_dji_flight_info(payload.data[3:], oui)
    return decode_message(payload.data)


def decode_packets(
    packets: Iterable[Packet], result: CaptureDecode | None = None, *, keep_bad_crc: bool = False
) -> CaptureDecode:
    """Decode every Remote ID payload of ``packets``; bad frames are counted, never raised.

    Frames the capture marks as failing their CRC/FCS are counted as ``crc_error`` and
    skipped (their bit errors decode into nonsense serials and speeds), unless
    ``keep_bad_crc``."""
    out = CaptureDecode() if result is None else result
    for packet in packets:
        out.packets += 1
        try:
            payloads = remote_id_payloads(packet)
        except DecodeError as exc:
            out.errors[exc.reason] += 1
            continue
        for pl in payloads:
            if pl.crc_ok is False and not keep_bad_crc:
                out.errors["crc_error"] += 1
                continue
            try:
                msg = decode_payload(pl)
            except DecodeError as exc:
                out.errors[exc.reason] += 1
                continue
            out.decoded.append(DecodedPayload(pl, msg))
    return out


def decode_capture(path: str | Path, *, keep_bad_crc: bool = False) -> CaptureDecode:
    """Decode a pcap/pcapng file. A damaged file ends the read at the damage; what came before
    is kept and the damage is counted as ``capture_damaged``. An unreadable or unrecognised
    file raises :class:`FormatError`."""
    out = CaptureDecode()
    it: Iterator[Packet] = read_packets(path)
    try:
        decode_packets(it, out, keep_bad_crc=keep_bad_crc)
    except FormatError:
        if out.packets == 0:
            raise
        out.errors["capture_damaged"] += 1
    return out


def message_records(decoded: Iterable[DecodedPayload]) -> Iterator[dict[str, object]]:
    """One JSON-ready record per decoded message with every field: where it was heard
    (``t``, ``frame``, ``transport``, ``protocol``, ``address``, ``counter``, ``crc_ok``), its
    place in a pack (``pack_index``, ``pack_missing_bytes``) and its own fields (``type``...)."""
    for dp in decoded:
        pl = dp.payload
        where: dict[str, object] = {
            "t": pl.t,
            "frame": pl.index,
            "transport": pl.transport,
            "protocol": pl.protocol,
            "address": pl.address,
            "counter": pl.counter,
            "crc_ok": pl.crc_ok,
        }
        if isinstance(dp.message, DjiFlightInfo):
            yield where | dji_record(dp.message)
            continue
        pack = dp.message if isinstance(dp.message, MessagePack) else None
        for k, m in enumerate(dp.messages()):
            assert not isinstance(m, DjiFlightInfo)
            rec = dict(where)
            if pack is not None:
                rec["pack_index"] = k
                rec["pack_missing_bytes"] = pack.missing_bytes
            rec.update(message_record(m))
            yield rec


@dataclass(frozen=True, slots=True)
class PositionReports:
    """Position reports of every drone in a capture, columnar, in receive order.

    Angles in degrees here (they are WGS84 edge data); ``drone_time`` is the drone's own
    timestamp resolved to UTC epoch seconds (NaN if it sent none); operator columns are the
    latest operator (pilot) position that drone had sent, NaN if none yet. Accuracies are
    95 % bounds in metres (NaN unknown)."""

    t: NDArray[np.float64]
    frame: NDArray[np.int64]
    serial: NDArray[np.str_]
    protocol: NDArray[np.str_]
    transport: NDArray[np.str_]
    address: NDArray[np.str_]
    latitude: NDArray[np.float64]
    longitude: NDArray[np.float64]
    altitude: NDArray[np.float64]
    height: NDArray[np.float64]
    speed: NDArray[np.float64]
    vertical_speed: NDArray[np.float64]
    direction: NDArray[np.float64]
    drone_time: NDArray[np.float64]
    sequence: NDArray[np.int64]
    status: NDArray[np.int64]
    horizontal_accuracy: NDArray[np.float64]
    vertical_accuracy: NDArray[np.float64]
    operator_latitude: NDArray[np.float64]
    operator_longitude: NDArray[np.float64]
    operator_altitude: NDArray[np.float64]
    malformed: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.t.shape[0])


def _f(v: float | None) -> float:
    return math.nan if v is None else float(v)


def resolve_hour_time(seconds_after_hour: float, t_rx: float) -> float:
    """The UTC epoch of a timestamp given in seconds after the full hour, taking the hour that
    puts it nearest the receive time (a drone's clock and the receiver's differ by little)."""
    if not (math.isfinite(seconds_after_hour) and math.isfinite(t_rx)):
        return math.nan
    t = math.floor(t_rx / 3600.0) * 3600.0 + seconds_after_hour
    if t - t_rx > 1800.0:
        t -= 3600.0
    elif t_rx - t > 1800.0:
        t += 3600.0
    return t


_COLS = (
    "t",
    "frame",
    "serial",
    "protocol",
    "transport",
    "address",
    "latitude",
    "longitude",
    "altitude",
    "height",
    "speed",
    "vertical_speed",
    "direction",
    "drone_time",
    "sequence",
    "status",
    "horizontal_accuracy",
    "vertical_accuracy",
    "operator_latitude",
    "operator_longitude",
    "operator_altitude",
    "malformed",
)


def position_reports(decoded: Iterable[DecodedPayload]) -> PositionReports:
    """One row per position (ODID Location or DJI flight info), with its drone's serial.

    Single Bluetooth messages arrive apart from their Basic ID; they are tied to it through
    the advertiser address, and rows heard before the Basic ID get the serial once it is
    known (until then, ``addr:<address>``)."""
    rows: dict[str, list[object]] = {c: [] for c in _COLS}
    serial_of: dict[str, str] = {}
    operator_of: dict[str, tuple[float, float, float]] = {}
    unresolved: list[tuple[int, str]] = []
    for dp in decoded:
        pl = dp.payload
        msgs = dp.messages()
        malformed = isinstance(dp.message, MessagePack) and dp.message.missing_bytes > 0
        for m in msgs:
            if isinstance(m, BasicID) and m.uas_id:
                serial_of[pl.address] = m.uas_id
            elif isinstance(m, System):
                operator_of[pl.address] = (
                    _f(m.operator_latitude),
                    _f(m.operator_longitude),
                    _f(m.operator_altitude_geo),
                )
        for m in msgs:
            if isinstance(m, Location):
                serial = serial_of.get(pl.address)
                if serial is None:
                    unresolved.append((len(rows["t"]), pl.address))
                    serial = f"addr:{pl.address}"
                op = operator_of.get(pl.address, (math.nan, math.nan, math.nan))
                alt = m.altitude_geo if m.altitude_geo is not None else m.altitude_baro
                values: tuple[object, ...] = (
                    pl.t, pl.index, serial, pl.protocol, pl.transport, pl.address,
                    _f(m.latitude), _f(m.longitude), _f(alt), _f(m.height), _f(m.speed_horizontal),
                    _f(m.speed_vertical), _f(m.direction),
                    resolve_hour_time(_f(m.timestamp), pl.t), -1, m.status,
                    HORIZONTAL_ACCURACY_M[m.horizontal_accuracy], VERTICAL_ACCURACY_M[m.vertical_accuracy],
                    *op, malformed,
                )  # fmt: skip
            elif isinstance(m, DjiFlightInfo):
                speed = math.hypot(m.v_north, m.v_east)
                direction = math.degrees(math.atan2(m.v_east, m.v_north)) % 360.0 if speed > 0 else math.nan
                values = (
                    pl.t, pl.index, m.serial_number or f"addr:{pl.address}", pl.protocol, pl.transport,
                    pl.address, _f(m.latitude), _f(m.longitude), m.altitude, m.height, speed, m.v_up,
                    direction, math.nan if m.gps_time is None else m.gps_time / 1000.0, m.sequence_number,
                    -1, math.nan, math.nan, _f(m.pilot_latitude), _f(m.pilot_longitude), math.nan, False,
                )  # fmt: skip
            else:
                continue
            for c, v in zip(_COLS, values, strict=True):
                rows[c].append(v)
    serial_col = rows["serial"]
    for i, addr in unresolved:
        if addr in serial_of:
            serial_col[i] = serial_of[addr]
    return PositionReports(
        t=np.array(rows["t"], dtype=np.float64),
        frame=np.array(rows["frame"], dtype=np.int64),
        serial=np.array(serial_col, dtype=str),
        protocol=np.array(rows["protocol"], dtype=str),
        transport=np.array(rows["transport"], dtype=str),
        address=np.array(rows["address"], dtype=str),
        **{c: np.array(rows[c], dtype=np.float64) for c in _COLS[6:14]},
        sequence=np.array(rows["sequence"], dtype=np.int64),
        status=np.array(rows["status"], dtype=np.int64),
        **{c: np.array(rows[c], dtype=np.float64) for c in _COLS[16:21]},
        malformed=np.array(rows["malformed"], dtype=bool),
    )
