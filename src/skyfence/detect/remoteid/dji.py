"""DJI's proprietary DroneID in Wi-Fi beacon vendor elements (flight information, subcommand
0x10), as broadcast by older DJI drones and imitated by spoofing tools.

Layout (little-endian, after the OUI): vendor type, two unknown bytes, subcommand, version,
sequence number, state bits, 16-character serial, longitude and latitude as int32 radians
× 1e7, altitude (m), height (0.1 m), north/east/up speeds (cm/s), yaw (0.01 deg), then for
version 2 the GPS time and the pilot (app) and home positions, the product type and a
length-prefixed UUID. Version 1 has pitch/roll/yaw and only the home position. The layout
follows public reverse engineering (Kismet, DroneSecurity NDSS'23); the UUID field is
unverified.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from skyfence.errors import DecodeError

__all__ = ["DjiFlightInfo", "decode_dji_flight_info", "dji_record", "encode_dji_flight_info"]

FLIGHT_INFO = 0x10
_RAD7_TO_DEG = 180.0 / math.pi / 1e7
_V2 = struct.Struct("<BHH16siihhhhhhQiiiiBB")
_V1 = struct.Struct("<BHH16siihhhhhhhhiiBB")


@dataclass(frozen=True, slots=True)
class DjiFlightInfo:
    """One DJI DroneID flight-information record; degrees, metres, m/s; ``None`` = not sent."""

    oui: str
    version: int
    sequence_number: int
    state_info: int
    serial_number: str
    latitude: float | None
    longitude: float | None
    altitude: float
    height: float
    v_north: float
    v_east: float
    v_up: float
    yaw: float
    gps_time: int | None
    pilot_latitude: float | None
    pilot_longitude: float | None
    home_latitude: float | None
    home_longitude: float | None
    product_type: int
    uuid: str


def _deg(lat_raw: int, lon_raw: int) -> tuple[float | None, float | None]:
    lat = lat_raw * _RAD7_TO_DEG
    lon = lon_raw * _RAD7_TO_DEG
    if (lat_raw == 0 and lon_raw == 0) or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, None
    return round(lat, 7), round(lon, 7)


def decode_dji_flight_info(body: bytes, oui: str = "26:37:12") -> DjiFlightInfo:
    """Decode a DJI vendor element body (the bytes after the OUI)."""
    if len(body) < 5:
        raise DecodeError("dji_truncated", f"{len(body)} bytes")
    if body[3] != FLIGHT_INFO:
        raise DecodeError("dji_subcommand", f"subcommand 0x{body[3]:02x}")
    version = body[4]
    if version == 2:
        layout = _V2
    elif version == 1:
        layout = _V1
    else:
        raise DecodeError("dji_version", f"flight info version {version}")
    if len(body) < 5 + layout.size:
        raise DecodeError(
            "dji_truncated", f"version {version} needs {5 + layout.size} bytes, have {len(body)}"
        )
    f = layout.unpack_from(body, 4)
    _, seq, state, serial_raw, lon_raw, lat_raw, alt, height, vn, ve, vu = f[:11]
    if version == 2:
        yaw, gps_time, plat, plon, hlon, hlat, product, uuid_len = f[11:]
        pilot_lat, pilot_lon = _deg(plat, plon)
    else:
        _pitch, _roll, yaw, hlon, hlat, product, uuid_len = f[11:]
        gps_time, pilot_lat, pilot_lon = None, None, None
    uuid_at = 4 + layout.size
    uuid = body[uuid_at : uuid_at + min(uuid_len, 20)]
    lat, lon = _deg(lat_raw, lon_raw)
    home_lat, home_lon = _deg(hlat, hlon)
    end = serial_raw.find(b"\x00")
    serial = (serial_raw if end < 0 else serial_raw[:end]).decode("ascii", errors="replace")
    return DjiFlightInfo(
        oui=oui,
        version=version,
        sequence_number=seq,
        state_info=state,
        serial_number=serial,
        latitude=lat,
        longitude=lon,
        altitude=float(alt),
        height=height * 0.1,
        v_north=vn * 0.01,
        v_east=ve * 0.01,
        v_up=vu * 0.01,
        yaw=yaw * 0.01,
        gps_time=gps_time,
        pilot_latitude=pilot_lat,
        pilot_longitude=pilot_lon,
        home_latitude=home_lat,
        home_longitude=home_lon,
        product_type=product,
        uuid=uuid.decode("latin-1"),
    )


def _rad7(deg: float | None) -> int:
    return 0 if deg is None else round(math.radians(deg) * 1e7)


def encode_dji_flight_info(info: DjiFlightInfo) -> bytes:
    """The vendor element body (after the OUI) of a version-2 flight-information record;
    used by tests and the simulator, never transmitted."""
    uuid = info.uuid.encode("latin-1")[:20]
    fields = _V2.pack(
        2,
        info.sequence_number & 0xFFFF,
        info.state_info & 0xFFFF,
        info.serial_number.encode("ascii")[:16].ljust(16, b"\x00"),
        _rad7(info.longitude),
        _rad7(info.latitude),
        _i16(info.altitude),
        _i16(info.height * 10),
        _i16(info.v_north * 100),
        _i16(info.v_east * 100),
        _i16(info.v_up * 100),
        _i16(info.yaw * 100),
        (info.gps_time or 0) & 0xFFFFFFFFFFFFFFFF,
        _rad7(info.pilot_latitude),
        _rad7(info.pilot_longitude),
        _rad7(info.home_longitude),
        _rad7(info.home_latitude),
        info.product_type & 0xFF,
        len(uuid),
    )
    return b"\x58\x62\x13" + bytes([FLIGHT_INFO]) + fields + uuid.ljust(20, b"\x00")


def _i16(value: float) -> int:
    return max(-32768, min(32767, round(value)))


def dji_record(info: DjiFlightInfo) -> dict[str, object]:
    """A JSON-ready dict of every decoded field (``type`` is ``dji_flight_info``)."""
    rec: dict[str, object] = {"type": "dji_flight_info"}
    for name in info.__slots__:
        rec[name] = getattr(info, name)
    return rec
