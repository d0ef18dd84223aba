"""Simulated compliant drones on the air: ``remote_id`` detections (as the simulator makes them)
to the Wi-Fi beacon frames those drones would broadcast, and those frames back through the real
decoder, so an exercise runs exactly the decoding path a live receiver does. Nothing transmits.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np

from skyfence.detect.remoteid.capture import decode_packets, position_reports
from skyfence.detect.remoteid.detections import remote_id_detections
from skyfence.detect.remoteid.encode import beacon_frame
from skyfence.detect.remoteid.messages import ODID_EPOCH, BasicID, Location, MessagePack, System
from skyfence.detect.remoteid.plausibility import PlausibilityConfig, check_plausibility
from skyfence.geo import Site
from skyfence.model.detections import Detections
from skyfence.sources.pcap import LINKTYPE_IEEE802_11, Packet

__all__ = ["beacons_from_detections", "detections_from_beacons", "drone_address"]


def drone_address(serial: str) -> str:
    """A stable, locally administered MAC address for a serial (what a drone's Wi-Fi uses)."""
    h = zlib.crc32(serial.encode()).to_bytes(4, "big")
    return "02:52:" + ":".join(f"{b:02x}" for b in h)


def _opt(values: np.ndarray | None, i: int) -> float | None:
    if values is None:
        return None
    v = float(values[i])
    return v if math.isfinite(v) else None


def beacons_from_detections(dets: Detections, site: Site) -> list[tuple[float, bytes]]:
    """One 802.11 beacon (no FCS) per detection: Basic ID (``attrs['serial']``), Location and,
    when ``attrs['operator']`` (ENU) is given, System with the operator position. Speed and
    course come from ``attrs['speed']``/``attrs['course']`` (radians) when present, else they
    are broadcast as unknown; the Location timestamp is the detection time."""
    if dets.kind != "remote_id":
        raise ValueError(f"expected remote_id detections, got {dets.kind}")
    n = len(dets)
    geo = site.to_wgs84(dets.z) if n else np.zeros((0, 3))
    serial = dets.attrs.get("serial")
    operator = dets.attrs.get("operator")
    op_geo = site.to_wgs84(np.asarray(operator, dtype=np.float64)) if operator is not None and n else None
    speed = dets.attrs.get("speed")
    course = dets.attrs.get("course")
    vspeed = dets.attrs.get("vertical_speed")
    counters: dict[str, int] = {}
    frames = []
    for i in range(n):
        s = str(serial[i]) if serial is not None else f"SIM{i:06d}"
        t = float(dets.t[i])
        c = _opt(course, i)
        loc = Location(
            status=2,
            height_type=0,
            direction=None if c is None else math.degrees(c) % 360.0,
            speed_horizontal=_opt(speed, i),
            speed_vertical=_opt(vspeed, i),
            latitude=float(geo[i, 0]),
            longitude=float(geo[i, 1]),
            altitude_baro=None,
            altitude_geo=float(geo[i, 2]),
            height=None,
            horizontal_accuracy=11,  # < 10 m
            vertical_accuracy=4,  # < 25 m
            baro_accuracy=0,
            speed_accuracy=3,
            timestamp_accuracy=2,
            timestamp=round(t % 3600.0, 1),
        )
        msgs: list[BasicID | Location | System] = [BasicID(1, 2, s), loc]
        if op_geo is not None and np.isfinite(op_geo[i]).all():
            msgs.append(
                System(
                    1,
                    1,
                    float(op_geo[i, 0]),
                    float(op_geo[i, 1]),
                    1,
                    0.0,
                    None,
                    None,
                    1,
                    2,
                    float(op_geo[i, 2]),
                    max(0, int(t) - ODID_EPOCH),
                )
            )
        k = counters.get(s, 0)
        counters[s] = k + 1
        frames.append((t, beacon_frame(MessagePack(tuple(msgs)), k, drone_address(s), ssid=f"RID-{s}"[:32])))
    return frames


def detections_from_beacons(
    frames: Sequence[tuple[float, bytes]],
    site: Site,
    sensor_id: str = "remoteid",
    config: PlausibilityConfig | None = None,
) -> Detections:
    """Decode beacon frames (``(t, 802.11 frame)``) exactly as a capture is decoded."""
    packets = [Packet(i + 1, t, LINKTYPE_IEEE802_11, f) for i, (t, f) in enumerate(frames)]
    reports = position_reports(decode_packets(packets).decoded)
    return remote_id_detections(reports, check_plausibility(reports, config), site, sensor_id)
