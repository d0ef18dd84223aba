"""Open Drone ID encoder: the inverse of :mod:`skyfence.detect.remoteid.messages`, plus the
Wi-Fi beacon and Bluetooth framing, so simulated compliant drones produce the same bytes a
receiver captures and the exercise runs the real decoder on them. Nothing here transmits.

Quantisation follows the reference library (opendroneid-core-c) so its published test vectors
encode byte for byte: direction, horizontal speed and positions round to the nearest step;
vertical speed, altitudes, area radius and timestamps are truncated toward zero.
"""

from __future__ import annotations

import math
import struct

from skyfence.detect.remoteid.frames import ASTM_OUI, ASTM_VENDOR_TYPE, ODID_APP_CODE, ODID_UUID16
from skyfence.detect.remoteid.messages import (
    MESSAGE_SIZE,
    PACK_MAX_MESSAGES,
    Authentication,
    BasicID,
    Location,
    Message,
    MessagePack,
    OperatorID,
    SelfID,
    System,
)

__all__ = [
    "beacon_frame",
    "ble_legacy_advertising_data",
    "encode_authentication",
    "encode_basic_id",
    "encode_location",
    "encode_message",
    "encode_message_pack",
    "encode_operator_id",
    "encode_self_id",
    "encode_system",
    "wifi_beacon_element",
]


def _clamp(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else hi if v > hi else v


def _head(mtype: int, version: int) -> int:
    return (mtype << 4) | (version & 0x0F)


def _text(s: str, n: int) -> bytes:
    return s.encode("latin-1", errors="replace")[:n].ljust(n, b"\x00")


def _latlon(lat: float | None, lon: float | None) -> tuple[int, int]:
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return 0, 0
    return (
        _clamp(round(lat * 1e7), -900_000_000, 900_000_000),
        _clamp(round(lon * 1e7), -1_800_000_000, 1_800_000_000),
    )


def _altitude(alt: float | None) -> int:
    if alt is None or not math.isfinite(alt):
        return 0
    return _clamp(int((alt + 1000.0) / 0.5), 0, 0xFFFF)


def encode_basic_id(msg: BasicID) -> bytes:
    return (
        bytes([_head(0, msg.protocol_version), ((msg.id_type & 0xF) << 4) | (msg.ua_type & 0xF)])
        + _text(msg.uas_id, 20)
        + bytes(3)
    )


_LOCATION = struct.Struct("<BBBBbiiHHHBBHBB")


def encode_location(msg: Location) -> bytes:
    direction = msg.direction
    if direction is None or not math.isfinite(direction) or not 0.0 <= direction <= 360.0:
        ew, dir_raw = 1, 181  # 361: unknown
    else:
        d = round(direction) % 360
        ew, dir_raw = (0, d) if d < 180 else (1, d - 180)
    speed = msg.speed_horizontal
    if speed is None or not math.isfinite(speed) or speed < 0:
        mult, speed_raw = 1, 255  # 255 m/s: unknown
    elif speed <= 255 * 0.25:
        mult, speed_raw = 0, _clamp(round(speed / 0.25), 0, 255)
    else:
        mult, speed_raw = 1, _clamp(round((speed - 255 * 0.25) / 0.75), 0, 254)
    vs = msg.speed_vertical
    vs_raw = 126 if vs is None or not math.isfinite(vs) else _clamp(int(vs / 0.5), -124, 124)
    lat, lon = _latlon(msg.latitude, msg.longitude)
    ts = msg.timestamp
    ts_raw = 0xFFFF if ts is None or not math.isfinite(ts) else _clamp(int(round(ts * 10, 6)), 0, 36000)
    flags = ((msg.status & 0xF) << 4) | ((msg.height_type & 1) << 2) | (ew << 1) | mult
    return _LOCATION.pack(
        _head(1, msg.protocol_version),
        flags,
        dir_raw,
        speed_raw,
        vs_raw,
        lat,
        lon,
        _altitude(msg.altitude_baro),
        _altitude(msg.altitude_geo),
        _altitude(msg.height),
        ((msg.vertical_accuracy & 0xF) << 4) | (msg.horizontal_accuracy & 0xF),
        ((msg.baro_accuracy & 0xF) << 4) | (msg.speed_accuracy & 0xF),
        ts_raw,
        msg.timestamp_accuracy & 0xF,
        0,
    )


def encode_authentication(msg: Authentication) -> bytes:
    head = bytes([_head(2, msg.protocol_version), ((msg.auth_type & 0xF) << 4) | (msg.page_number & 0xF)])
    if msg.page_number == 0:
        fixed = struct.pack(
            "<BBI",
            (msg.last_page_index or 0) & 0xFF,
            (msg.length or 0) & 0xFF,
            (msg.timestamp or 0) & 0xFFFFFFFF,
        )
        return head + fixed + bytes(msg.data[:17]).ljust(17, b"\x00")
    return head + bytes(msg.data[:23]).ljust(23, b"\x00")


def encode_self_id(msg: SelfID) -> bytes:
    return bytes([_head(3, msg.protocol_version), msg.description_type & 0xFF]) + _text(msg.description, 23)


_SYSTEM = struct.Struct("<BBiiHBHHBHIB")


def encode_system(msg: System) -> bytes:
    lat, lon = _latlon(msg.operator_latitude, msg.operator_longitude)
    radius = msg.area_radius if math.isfinite(msg.area_radius) else 0.0
    return _SYSTEM.pack(
        _head(4, msg.protocol_version),
        ((msg.classification_type & 0x7) << 2) | (msg.operator_location_type & 0x3),
        lat,
        lon,
        msg.area_count & 0xFFFF,
        _clamp(int(radius / 10), 0, 255),
        _altitude(msg.area_ceiling),
        _altitude(msg.area_floor),
        ((msg.category_eu & 0xF) << 4) | (msg.class_eu & 0xF),
        _altitude(msg.operator_altitude_geo),
        msg.timestamp & 0xFFFFFFFF,
        0,
    )


def encode_operator_id(msg: OperatorID) -> bytes:
    return (
        bytes([_head(5, msg.protocol_version), msg.operator_id_type & 0xFF])
        + _text(msg.operator_id, 20)
        + bytes(3)
    )


def encode_message_pack(pack: MessagePack) -> bytes:
    if len(pack.messages) > PACK_MAX_MESSAGES:
        raise ValueError(
            f"a message pack holds at most {PACK_MAX_MESSAGES} messages, got {len(pack.messages)}"
        )
    body = b"".join(encode_message(m) for m in pack.messages)
    return bytes([_head(0xF, pack.protocol_version), MESSAGE_SIZE, len(pack.messages)]) + body


def encode_message(msg: Message) -> bytes:
    """25 bytes for a single message, ``3 + 25 n`` for a pack."""
    if isinstance(msg, BasicID):
        return encode_basic_id(msg)
    if isinstance(msg, Location):
        return encode_location(msg)
    if isinstance(msg, Authentication):
        return encode_authentication(msg)
    if isinstance(msg, SelfID):
        return encode_self_id(msg)
    if isinstance(msg, System):
        return encode_system(msg)
    if isinstance(msg, OperatorID):
        return encode_operator_id(msg)
    return encode_message_pack(msg)


def wifi_beacon_element(pack: MessagePack, counter: int) -> bytes:
    """The vendor-specific element (id 221) carrying a pack in a Wi-Fi beacon."""
    body = ASTM_OUI + bytes([ASTM_VENDOR_TYPE, counter & 0xFF]) + encode_message_pack(pack)
    if len(body) > 255:
        raise ValueError(f"element body of {len(body)} bytes exceeds 255")
    return bytes([221, len(body)]) + body


def beacon_frame(pack: MessagePack, counter: int, address: str, ssid: str = "", tsf_us: int = 0) -> bytes:
    """A whole 802.11 beacon (no FCS) carrying ``pack``, as a monitor-mode capture shows it."""
    mac = bytes.fromhex(address.replace(":", ""))
    if len(mac) != 6:
        raise ValueError(f"address must be 6 bytes, got {address!r}")
    header = b"\x80\x00\x00\x00" + b"\xff" * 6 + mac + mac + b"\x00\x00"
    fixed = struct.pack("<QHH", tsf_us & 0xFFFFFFFFFFFFFFFF, 100, 0x0401)
    ssid_b = ssid.encode("utf-8")[:32]
    elements = bytes([0, len(ssid_b)]) + ssid_b + b"\x01\x01\x8c" + wifi_beacon_element(pack, counter)
    return header + fixed + elements


def ble_legacy_advertising_data(msg: Message, counter: int) -> bytes:
    """AdvData of a Bluetooth 4 legacy advertisement: one service-data AD structure with UUID
    0xFFFA, application code 0x0D, the message counter and one 25-byte message."""
    payload = encode_message(msg)
    if len(payload) != MESSAGE_SIZE:
        raise ValueError("legacy advertising carries a single message, not a pack")
    data = struct.pack("<H", ODID_UUID16) + bytes([ODID_APP_CODE, counter & 0xFF]) + payload
    return bytes([len(data) + 1, 0x16]) + data
