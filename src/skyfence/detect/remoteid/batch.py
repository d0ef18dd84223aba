"""Vectorised decoding of many Location messages at once: ``[N, 25] uint8`` in, columns out.

The same scalings as :func:`~skyfence.detect.remoteid.messages.decode_location`, with NaN where
the per-message decoder gives ``None``. A busy receiver site hears thousands of drones'
messages per second; one numpy pass per field keeps that far below a core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skyfence.detect.remoteid.messages import MAX_PROTOCOL_VERSION, MESSAGE_SIZE
from skyfence.errors import DecodeError

__all__ = ["LOCATION_DTYPE", "LocationBatch", "decode_locations"]

#: The Location message's wire layout as a packed little-endian record.
LOCATION_DTYPE = np.dtype(
    [
        ("header", "u1"),
        ("flags", "u1"),
        ("direction", "u1"),
        ("speed", "u1"),
        ("vspeed", "i1"),
        ("lat", "<i4"),
        ("lon", "<i4"),
        ("alt_baro", "<u2"),
        ("alt_geo", "<u2"),
        ("height", "<u2"),
        ("acc_vh", "u1"),
        ("acc_bs", "u1"),
        ("timestamp", "<u2"),
        ("ts_acc", "u1"),
        ("reserved", "u1"),
    ]
)
assert LOCATION_DTYPE.itemsize == MESSAGE_SIZE


@dataclass(frozen=True, slots=True)
class LocationBatch:
    """Decoded Location columns; ``valid`` is False where a row is not a Location message of a
    known protocol version (its other columns are then meaningless)."""

    valid: NDArray[np.bool_]
    protocol_version: NDArray[np.uint8]
    status: NDArray[np.uint8]
    height_type: NDArray[np.uint8]
    direction: NDArray[np.float64]
    speed_horizontal: NDArray[np.float64]
    speed_vertical: NDArray[np.float64]
    latitude: NDArray[np.float64]
    longitude: NDArray[np.float64]
    altitude_baro: NDArray[np.float64]
    altitude_geo: NDArray[np.float64]
    height: NDArray[np.float64]
    horizontal_accuracy: NDArray[np.uint8]
    vertical_accuracy: NDArray[np.uint8]
    baro_accuracy: NDArray[np.uint8]
    speed_accuracy: NDArray[np.uint8]
    timestamp_accuracy: NDArray[np.uint8]
    timestamp: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.valid.shape[0])


def _u8(x: NDArray[Any]) -> NDArray[np.uint8]:
    return np.asarray(x, dtype=np.uint8)


def _alt(raw: NDArray[np.uint16]) -> NDArray[np.float64]:
    out = np.asarray(raw * 0.5 - 1000.0, dtype=np.float64)
    out[raw == 0] = np.nan
    return out


def decode_locations(messages: ArrayLike) -> LocationBatch:
    """Decode ``[N, 25]`` uint8 Location messages (rows of other types come back invalid)."""
    raw = np.ascontiguousarray(messages, dtype=np.uint8)
    if raw.ndim != 2 or raw.shape[1] != MESSAGE_SIZE:
        raise DecodeError("batch_shape", f"expected [N, {MESSAGE_SIZE}] uint8, got {list(raw.shape)}")
    rec = raw.view(LOCATION_DTYPE)[:, 0]
    header = rec["header"]
    version = header & 0x0F
    valid = ((header >> 4) == 1) & (version <= MAX_PROTOCOL_VERSION)
    flags = rec["flags"]
    direction = rec["direction"].astype(np.float64)
    direction += np.where(flags & 0x02, 180.0, 0.0)
    direction[direction > 360.0] = np.nan
    speed_raw = rec["speed"].astype(np.float64)
    mult = (flags & 0x01).astype(bool)
    speed = np.where(mult, speed_raw * 0.75 + 63.75, speed_raw * 0.25)
    speed[speed == 255.0] = np.nan
    vspeed = rec["vspeed"] * 0.5
    vspeed[vspeed == 63.0] = np.nan
    lat_raw = rec["lat"]
    lon_raw = rec["lon"]
    lat = lat_raw / 1e7
    lon = lon_raw / 1e7
    no_fix = ((lat_raw == 0) & (lon_raw == 0)) | (np.abs(lat) > 90.0) | (np.abs(lon) > 180.0)
    lat[no_fix] = np.nan
    lon[no_fix] = np.nan
    ts_raw = rec["timestamp"]
    ts = ts_raw / 10.0
    ts[ts_raw > 36000] = np.nan
    acc_vh = rec["acc_vh"]
    acc_bs = rec["acc_bs"]
    return LocationBatch(
        valid=valid,
        protocol_version=_u8(version),
        status=_u8(flags >> 4),
        height_type=_u8((flags >> 2) & 0x01),
        direction=direction,
        speed_horizontal=speed,
        speed_vertical=vspeed,
        latitude=lat,
        longitude=lon,
        altitude_baro=_alt(rec["alt_baro"]),
        altitude_geo=_alt(rec["alt_geo"]),
        height=_alt(rec["height"]),
        horizontal_accuracy=_u8(acc_vh & 0x0F),
        vertical_accuracy=_u8(acc_vh >> 4),
        baro_accuracy=_u8(acc_bs >> 4),
        speed_accuracy=_u8(acc_bs & 0x0F),
        timestamp_accuracy=_u8(rec["ts_acc"] & 0x0F),
        timestamp=ts,
    )
