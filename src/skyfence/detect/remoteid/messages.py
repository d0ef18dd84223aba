"""Open Drone ID (ASTM F3411-22a / ASD-STAN prEN 4709-002) messages as plain functions of bytes.

Every message is 25 bytes: a header byte (message type in the high nibble, protocol version in
the low one) and 24 bytes of fields. ``decode_message`` turns one into a frozen dataclass with
physical units (degrees, metres, m/s, seconds); a field the drone reports as unknown is
``None``. Raw enumerations (accuracies, status, classification) stay integers, with tables
here to turn them into their meaning. Anything malformed raises
:class:`~skyfence.errors.DecodeError` with a short stable ``reason`` and nothing else.

Wire quantisations follow the reference library (opendroneid-core-c): direction 1 deg, speed
0.25 m/s (0.75 m/s above 63.75 m/s), vertical speed 0.5 m/s, altitudes 0.5 m from -1000 m,
position 1e-7 deg, timestamp 0.1 s after the full hour (Location) or 1 s after
2019-01-01T00:00:00Z (System, Authentication).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from skyfence.errors import DecodeError

__all__ = [
    "AUTH_TYPES",
    "BARO_ACCURACY_M",
    "HORIZONTAL_ACCURACY_M",
    "ID_TYPES",
    "MESSAGE_SIZE",
    "MESSAGE_TYPES",
    "ODID_EPOCH",
    "OPERATOR_LOCATION_TYPES",
    "SPEED_ACCURACY_MPS",
    "STATUS_NAMES",
    "UA_TYPES",
    "VERTICAL_ACCURACY_M",
    "Authentication",
    "BasicID",
    "Location",
    "Message",
    "MessagePack",
    "OperatorID",
    "SelfID",
    "SingleMessage",
    "System",
    "assemble_authentication",
    "decode_authentication",
    "decode_basic_id",
    "decode_location",
    "decode_message",
    "decode_message_pack",
    "decode_operator_id",
    "decode_self_id",
    "decode_system",
    "message_record",
    "odid_time",
    "timestamp_accuracy_s",
]

MESSAGE_SIZE = 25
#: Highest protocol version this decoder knows (F3411-22a is 2).
MAX_PROTOCOL_VERSION = 2
#: The System/Authentication timestamps count seconds from this UTC epoch (2019-01-01).
ODID_EPOCH = 1546300800
#: Packs carry at most this many messages (ODID_PACK_MAX_MESSAGES in the reference library).
PACK_MAX_MESSAGES = 9

MESSAGE_TYPES = {
    0: "basic_id",
    1: "location",
    2: "auth",
    3: "self_id",
    4: "system",
    5: "operator_id",
    15: "pack",
}
ID_TYPES = ("none", "serial_number", "caa_registration", "utm_assigned", "specific_session")
UA_TYPES = (
    "none",
    "aeroplane",
    "helicopter_or_multirotor",
    "gyroplane",
    "hybrid_lift",
    "ornithopter",
    "glider",
    "kite",
    "free_balloon",
    "captive_balloon",
    "airship",
    "free_fall_parachute",
    "rocket",
    "tethered_powered_aircraft",
    "ground_obstacle",
    "other",
)
STATUS_NAMES = ("undeclared", "ground", "airborne", "emergency", "remote_id_system_failure")
AUTH_TYPES = (
    "none",
    "uas_id_signature",
    "operator_id_signature",
    "message_set_signature",
    "network_remote_id",
    "specific_method",
)
OPERATOR_LOCATION_TYPES = ("take_off", "live_gnss", "fixed")
_NAN = float("nan")
#: Upper bound in metres of each horizontal accuracy category (NaN: unknown / reserved).
HORIZONTAL_ACCURACY_M = (
    _NAN,
    1e9,
    18520.0,
    7408.0,
    3704.0,
    1852.0,
    926.0,
    555.6,
    185.2,
    92.6,
    30.0,
    10.0,
    3.0,
    1.0,
    _NAN,
    _NAN,
)
#: Upper bound in metres of each vertical (and barometric) accuracy category.
VERTICAL_ACCURACY_M = (_NAN, 1e9, 150.0, 45.0, 25.0, 10.0, 3.0, 1.0) + (_NAN,) * 8
BARO_ACCURACY_M = VERTICAL_ACCURACY_M
#: Upper bound in m/s of each speed accuracy category.
SPEED_ACCURACY_MPS = (_NAN, 1e9, 10.0, 3.0, 1.0, 0.3) + (_NAN,) * 10


def odid_time(seconds: int) -> float:
    """A System / Authentication timestamp (seconds after 2019-01-01) as UTC epoch seconds;
    NaN for 0, which the standard uses for "not set"."""
    return _NAN if seconds == 0 else float(ODID_EPOCH + seconds)


def timestamp_accuracy_s(code: int) -> float:
    """Timestamp accuracy category in seconds (code × 0.1 s; 0 is unknown)."""
    return _NAN if code == 0 else code * 0.1


@dataclass(frozen=True, slots=True)
class BasicID:
    """Message 0: who the aircraft is."""

    id_type: int
    ua_type: int
    uas_id: str
    protocol_version: int = 2


@dataclass(frozen=True, slots=True)
class Location:
    """Message 1: where the aircraft is and how it moves. ``None`` = reported unknown.

    ``direction`` is the track over ground in degrees clockwise from true north, speeds in
    m/s (vertical positive up), altitudes in metres above the WGS84 ellipsoid (geodetic) or
    the 1013.25 hPa surface (barometric), ``height`` above take-off (``height_type`` 0) or
    ground (1), ``timestamp`` seconds after the full UTC hour."""

    status: int
    height_type: int
    direction: float | None
    speed_horizontal: float | None
    speed_vertical: float | None
    latitude: float | None
    longitude: float | None
    altitude_baro: float | None
    altitude_geo: float | None
    height: float | None
    horizontal_accuracy: int
    vertical_accuracy: int
    baro_accuracy: int
    speed_accuracy: int
    timestamp_accuracy: int
    timestamp: float | None
    protocol_version: int = 2


@dataclass(frozen=True, slots=True)
class Authentication:
    """Message 2, one page. Page 0 carries the page count, data length and a timestamp
    (seconds after 2019-01-01); later pages only data (those fields are ``None``)."""

    auth_type: int
    page_number: int
    last_page_index: int | None
    length: int | None
    timestamp: int | None
    data: bytes
    protocol_version: int = 2


@dataclass(frozen=True, slots=True)
class SelfID:
    """Message 3: the operator's free-text description of the flight."""

    description_type: int
    description: str
    protocol_version: int = 2


@dataclass(frozen=True, slots=True)
class System:
    """Message 4: operator position, operating area, EU classification.

    ``area_radius`` in metres, ceiling/floor/operator altitude in metres (WGS84), timestamp in
    seconds after 2019-01-01 (0: unknown)."""

    operator_location_type: int
    classification_type: int
    operator_latitude: float | None
    operator_longitude: float | None
    area_count: int
    area_radius: float
    area_ceiling: float | None
    area_floor: float | None
    category_eu: int
    class_eu: int
    operator_altitude_geo: float | None
    timestamp: int
    protocol_version: int = 2


@dataclass(frozen=True, slots=True)
class OperatorID:
    """Message 5: the registered operator's ID."""

    operator_id_type: int
    operator_id: str
    protocol_version: int = 2


@dataclass(frozen=True, slots=True)
class MessagePack:
    """Message 0xF: several messages broadcast together (Wi-Fi, Bluetooth 5)."""

    messages: tuple[BasicID | Location | Authentication | SelfID | System | OperatorID, ...]
    protocol_version: int = 2
    #: Bytes the pack declared but the frame did not carry (zero-filled): some spoofing tools
    #: cut the last message short, which no compliant transmitter does.
    missing_bytes: int = 0


SingleMessage = BasicID | Location | Authentication | SelfID | System | OperatorID
Message = SingleMessage | MessagePack


def _header(msg: bytes, want: int) -> int:
    if len(msg) < MESSAGE_SIZE:
        raise DecodeError("message_truncated", f"{len(msg)} of {MESSAGE_SIZE} bytes")
    mtype = msg[0] >> 4
    version = msg[0] & 0x0F
    if mtype != want:
        raise DecodeError("message_type", f"expected type {want}, got {mtype}")
    if version > MAX_PROTOCOL_VERSION:
        raise DecodeError("protocol_version", f"version {version} (know up to {MAX_PROTOCOL_VERSION})")
    return version


def _text(raw: bytes) -> str:
    """A NUL-padded text field (ASCII by the standard). Read as Latin-1 like the reference
    decoder: every byte maps to one character, so a corrupted byte shows and never fails."""
    end = raw.find(b"\x00")
    return (raw if end < 0 else raw[:end]).decode("latin-1")


def _latlon(lat_raw: int, lon_raw: int) -> tuple[float | None, float | None]:
    lat = lat_raw / 1e7
    lon = lon_raw / 1e7
    # 0/0 is the spec's "no position"; out-of-range values are invalid, not a place.
    if (lat_raw == 0 and lon_raw == 0) or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, None
    return lat, lon


def _altitude(raw: int) -> float | None:
    return None if raw == 0 else raw * 0.5 - 1000.0


def decode_basic_id(msg: bytes) -> BasicID:
    version = _header(msg, 0)
    return BasicID(msg[1] >> 4, msg[1] & 0x0F, _text(msg[2:22]), version)


_LOCATION = struct.Struct("<BBBBbiiHHHBBHBB")


def decode_location(msg: bytes) -> Location:
    version = _header(msg, 1)
    (
        _,
        flags,
        dir_raw,
        sh_raw,
        sv_raw,
        lat_raw,
        lon_raw,
        baro,
        geo,
        height,
        acc_vh,
        acc_bs,
        ts,
        ts_acc,
        _r,
    ) = _LOCATION.unpack_from(msg, 0)
    direction = float(dir_raw + 180 if flags & 0x02 else dir_raw)
    if flags & 0x01:
        speed = sh_raw * 0.75 + 255 * 0.25
    else:
        speed = sh_raw * 0.25
    vspeed = sv_raw * 0.5
    lat, lon = _latlon(lat_raw, lon_raw)
    return Location(
        status=flags >> 4,
        height_type=(flags >> 2) & 0x01,
        direction=None if direction > 360.0 else direction,
        speed_horizontal=None if speed == 255.0 else speed,
        speed_vertical=None if vspeed == 63.0 else vspeed,
        latitude=lat,
        longitude=lon,
        altitude_baro=_altitude(baro),
        altitude_geo=_altitude(geo),
        height=_altitude(height),
        horizontal_accuracy=acc_vh & 0x0F,
        vertical_accuracy=acc_vh >> 4,
        baro_accuracy=acc_bs >> 4,
        speed_accuracy=acc_bs & 0x0F,
        timestamp_accuracy=ts_acc & 0x0F,
        timestamp=None if ts == 0xFFFF or ts > 36000 else ts / 10.0,
        protocol_version=version,
    )


def decode_authentication(msg: bytes) -> Authentication:
    version = _header(msg, 2)
    auth_type = msg[1] >> 4
    page = msg[1] & 0x0F
    if page == 0:
        last, length, ts = struct.unpack_from("<BBI", msg, 2)
        return Authentication(auth_type, 0, last, length, ts, bytes(msg[8:25]), version)
    return Authentication(auth_type, page, None, None, None, bytes(msg[2:25]), version)


def assemble_authentication(pages: Iterable[Authentication]) -> bytes | None:
    """The authentication data spread over pages 0..last_page_index (the latest copy of each
    page wins), cut to page 0's length; ``None`` while a page is still missing."""
    latest: dict[int, Authentication] = {}
    for page in pages:
        latest[page.page_number] = page
    first = latest.get(0)
    if first is None or first.last_page_index is None or first.length is None:
        return None
    parts = []
    for k in range(first.last_page_index + 1):
        got = latest.get(k)
        if got is None or got.auth_type != first.auth_type:
            return None
        parts.append(got.data)
    return b"".join(parts)[: first.length]


def decode_self_id(msg: bytes) -> SelfID:
    version = _header(msg, 3)
    return SelfID(msg[1], _text(msg[2:25]), version)


_SYSTEM = struct.Struct("<BBiiHBHHBHIB")


def decode_system(msg: bytes) -> System:
    version = _header(msg, 4)
    (_, flags, lat_raw, lon_raw, count, radius, ceiling, floor, cls, op_alt, ts, _r) = _SYSTEM.unpack_from(
        msg, 0
    )
    lat, lon = _latlon(lat_raw, lon_raw)
    return System(
        operator_location_type=flags & 0x03,
        classification_type=(flags >> 2) & 0x07,
        operator_latitude=lat,
        operator_longitude=lon,
        area_count=count,
        area_radius=radius * 10.0,
        area_ceiling=_altitude(ceiling),
        area_floor=_altitude(floor),
        category_eu=cls >> 4,
        class_eu=cls & 0x0F,
        operator_altitude_geo=_altitude(op_alt),
        timestamp=ts,
        protocol_version=version,
    )


def decode_operator_id(msg: bytes) -> OperatorID:
    version = _header(msg, 5)
    return OperatorID(msg[1], _text(msg[2:22]), version)


_DECODERS: dict[int, Callable[[bytes], SingleMessage]] = {
    0: decode_basic_id,
    1: decode_location,
    2: decode_authentication,
    3: decode_self_id,
    4: decode_system,
    5: decode_operator_id,
}


def decode_message_pack(data: bytes) -> MessagePack:
    """A message pack: header, message size (25), count, then the messages."""
    if len(data) < 3:
        raise DecodeError("pack_truncated", f"{len(data)} bytes")
    mtype = data[0] >> 4
    version = data[0] & 0x0F
    if mtype != 0xF:
        raise DecodeError("message_type", f"expected a message pack, got type {mtype}")
    if version > MAX_PROTOCOL_VERSION:
        raise DecodeError("protocol_version", f"version {version}")
    size, count = data[1], data[2]
    if size != MESSAGE_SIZE:
        raise DecodeError("pack_message_size", f"message size {size}")
    if count > PACK_MAX_MESSAGES:
        raise DecodeError("pack_count", f"{count} messages (at most {PACK_MAX_MESSAGES})")
    need = 3 + count * MESSAGE_SIZE
    missing = max(0, need - len(data))
    # A short tail inside the last message is zero-filled (the reference decoder reads such
    # packs the same way) and reported; a pack missing whole messages is not a pack.
    if missing >= MESSAGE_SIZE:
        raise DecodeError("pack_truncated", f"{count} messages need {need} bytes, have {len(data)}")
    if missing:
        data = bytes(data) + bytes(missing)
    msgs: list[SingleMessage] = []
    for i in range(count):
        part = data[3 + i * MESSAGE_SIZE : 3 + (i + 1) * MESSAGE_SIZE]
        inner = part[0] >> 4
        decoder = _DECODERS.get(inner)
        if decoder is None:
            raise DecodeError("pack_message_type", f"message {i} has type {inner}")
        msgs.append(decoder(part))
    return MessagePack(tuple(msgs), version, missing)


def decode_message(data: bytes) -> Message:
    """One message (25 bytes) or a message pack, dispatched on the header's type nibble."""
    if not data:
        raise DecodeError("message_truncated", "empty")
    mtype = data[0] >> 4
    if mtype == 0xF:
        return decode_message_pack(data)
    decoder = _DECODERS.get(mtype)
    if decoder is None:
        raise DecodeError("message_type", f"unknown message type {mtype}")
    return decoder(data)


def message_record(msg: Message) -> dict[str, object]:
    """A JSON-ready dict of every decoded field (``type`` names the message)."""
    if isinstance(msg, MessagePack):
        return {
            "type": "pack",
            "protocol_version": msg.protocol_version,
            "missing_bytes": msg.missing_bytes,
            "messages": [message_record(m) for m in msg.messages],
        }
    rec: dict[str, object] = {"type": _TYPE_NAMES[type(msg)]}
    for name in msg.__slots__:
        value = getattr(msg, name)
        rec[name] = value.hex() if isinstance(value, bytes) else value
    return rec


_TYPE_NAMES: dict[type, str] = {
    BasicID: "basic_id",
    Location: "location",
    Authentication: "auth",
    SelfID: "self_id",
    System: "system",
    OperatorID: "operator_id",
}
