"""DJI DroneID (OcuSync 2.0 downlink burst) decoded from raw RF baseband; receive only."""

from __future__ import annotations

from skyfence.detect.droneid_rf.decode import (
    DecodeStats,
    DroneIdFrame,
    decode_droneid_file,
    decode_droneid_iq,
    droneid_crc16,
)

__all__ = [
    "DecodeStats",
    "DroneIdFrame",
    "decode_droneid_file",
    "decode_droneid_iq",
    "droneid_crc16",
]
