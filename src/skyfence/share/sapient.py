"""SAPIENT (BSI Flex 335 v2.0): read and write SAPIENT messages, and talk to SAPIENT nodes.

In: detection reports from SAPIENT edge nodes become `Detections` (``position`` in the site
frame from a WGS84 location, ``polar``/``bearing`` from a range-bearing). Out: skyfence's
`Tracks` become detection reports (one stable ``object_id`` per track) and its `Alert`s become
SAPIENT alerts, for a SAPIENT fusion node or a higher-level skyfence.

On the wire every message is one ``SapientMessage`` prefixed with its length as a 4-octet
little-endian unsigned integer (as Dstl's reference middleware, Apex, frames it). The asyncio
:class:`SapientServer` plays the fusion node (acknowledges registrations, collects everything
else); :class:`SapientClient` plays an edge node or a sender of tracks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skyfence.errors import DecodeError, FormatError
from skyfence.geo import Site
from skyfence.model.alert import Alert, AlertState, ThreatLevel
from skyfence.model.classes import CLASSES, N_CLASSES
from skyfence.model.detections import Detections
from skyfence.model.tracks import Tracks, TrackStatus
from skyfence.share.sapient_proto import (
    alert_pb2,
    detection_report_pb2,
    location_pb2,
    range_bearing_pb2,
    registration_pb2,
    sapient_message_pb2,
    status_report_pb2,
    task_ack_pb2,
    task_pb2,
)

__all__ = [
    "ICD_VERSION",
    "MAX_FRAME",
    "FrameReader",
    "SapientClient",
    "SapientMessage",
    "SapientServer",
    "SapientTranslator",
    "alert_message",
    "detection_reports_to_detections",
    "encode_frame",
    "node_uuid",
    "parse_message",
    "registration_ack",
    "registration_message",
    "status_report",
    "task_ack_message",
    "task_message",
    "timestamp_of",
    "ulid",
]

SapientMessage = sapient_message_pb2.SapientMessage
ICD_VERSION = "BSI Flex 335 v2.0"
#: Frames longer than this are refused (the reference middleware also caps the size): a
#: damaged or hostile length prefix must not make a node allocate gigabytes.
MAX_FRAME = 4 * 1024 * 1024
_LEN = struct.Struct("<I")
_R_EARTH = 6371008.8
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_LOC = location_pb2
_RB = range_bearing_pb2
_DR = detection_report_pb2.DetectionReport
_AL = alert_pb2.Alert


# ------------------------------------------------------------------------------- framing
def ulid(t: float, rng: random.Random) -> str:
    """A ULID (26 Crockford base-32 characters: 48-bit milliseconds, 80 random bits), the
    identifier SAPIENT uses for reports, objects, tasks and alerts."""
    value = (int(t * 1000) & ((1 << 48) - 1)) << 80 | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> (125 - 5 * i)) & 31] for i in range(26))


def encode_frame(msg: Any) -> bytes:
    """One length-prefixed frame."""
    body: bytes = msg.SerializeToString()
    if len(body) > MAX_FRAME:
        raise DecodeError("frame_too_large", f"{len(body)} octets")
    return _LEN.pack(len(body)) + body


def parse_message(payload: bytes) -> Any:
    """A ``SapientMessage`` from one frame's payload; DecodeError if it is not one, or if a
    field the standard makes mandatory is missing (timestamp, node_id, content; report and
    object ids and a location in a detection report)."""
    msg = SapientMessage()
    try:
        msg.ParseFromString(payload)
    except Exception as exc:  # protobuf raises its own DecodeError (and others on some input)
        raise DecodeError("bad_protobuf", str(exc)[:120]) from None
    kind = msg.WhichOneof("content")
    if kind is None:
        raise DecodeError("missing_field", "SapientMessage.content")
    if not msg.HasField("node_id") or not msg.node_id:
        raise DecodeError("missing_field", "SapientMessage.node_id")
    if not msg.HasField("timestamp"):
        raise DecodeError("missing_field", "SapientMessage.timestamp")
    if kind == "detection_report":
        dr = msg.detection_report
        for name in ("report_id", "object_id"):
            if not getattr(dr, name):
                raise DecodeError("missing_field", f"DetectionReport.{name}")
        if dr.WhichOneof("location_oneof") is None:
            raise DecodeError("missing_field", "DetectionReport.location")
    return msg


@dataclass(slots=True)
class FrameReader:
    """Incremental de-framer: feed it received bytes, get complete payloads back."""

    max_frame: int = MAX_FRAME
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        """Payloads completed by ``data``; DecodeError("frame_too_large") if a length prefix
        exceeds the cap (the stream cannot be resynchronised after that)."""
        self._buf.extend(data)
        out: list[bytes] = []
        while len(self._buf) >= 4:
            (n,) = _LEN.unpack_from(self._buf, 0)
            if n > self.max_frame:
                raise DecodeError("frame_too_large", f"length prefix {n}")
            if len(self._buf) < 4 + n:
                break
            out.append(bytes(self._buf[4 : 4 + n]))
            del self._buf[: 4 + n]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)


# ------------------------------------------------------------------------ message makers
def timestamp_of(msg: Any) -> float:
    """UTC epoch seconds of a message's timestamp."""
    ts = msg.timestamp
    return float(ts.seconds) + float(ts.nanos) * 1e-9


def _envelope(node_id: str, t: float, destination: str | None = None) -> Any:
    msg = SapientMessage()
    msg.timestamp.seconds = math.floor(t)
    msg.timestamp.nanos = min(round((t - math.floor(t)) * 1e9), 999_999_999)
    msg.node_id = node_id
    if destination:
        msg.destination_id = destination
    return msg


def registration_message(
    node_id: str, t: float, name: str = "skyfence", node_type: str = "NODE_TYPE_FUSION_NODE"
) -> Any:
    """A registration for a node that reports tracks (location in WGS84 degrees/metres)."""
    msg = _envelope(node_id, t)
    reg = msg.registration
    reg.icd_version = ICD_VERSION
    reg.name = name
    reg.short_name = name[:16]
    nd = reg.node_definition.add()
    nd.node_type = registration_pb2.Registration.NodeType.Value(node_type)
    reg.status_definition.status_interval.units = registration_pb2.Registration.TIME_UNITS_SECONDS
    reg.status_definition.status_interval.value = 10.0
    loc = reg.status_definition.location_definition
    loc.location_units = _LOC.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    loc.location_datum = _LOC.LOCATION_DATUM_WGS84_E
    mode = reg.mode_definition.add()
    mode.mode_name = "default"
    mode.mode_type = registration_pb2.Registration.MODE_TYPE_PERMANENT
    mode.tracking_type = registration_pb2.Registration.TRACKING_TYPE_TRACK
    det = mode.detection_definition.add()
    det.location_type.location_units = _LOC.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    det.location_type.location_datum = _LOC.LOCATION_DATUM_WGS84_E
    cls = det.detection_class_definition.add()
    cls.confidence_definition = registration_pb2.Registration.CONFIDENCE_DEFINITION_MULTI_CLASS
    for c in _SAPIENT_CLASS:
        cls.class_definition.add().type = _SAPIENT_CLASS[c]
    return msg


def registration_ack(node_id: str, t: float, to: str, accepted: bool = True, reason: str = "") -> Any:
    msg = _envelope(node_id, t, to)
    msg.registration_ack.acceptance = accepted
    if reason:
        msg.registration_ack.ack_response_reason.append(reason)
    return msg


def task_message(
    node_id: str,
    t: float,
    to: str,
    rng: random.Random,
    name: str = "",
    look_at: tuple[float, float, float] | None = None,
    mode_change: str | None = None,
) -> Any:
    """A task for node ``to``: look at a WGS84 point (lat, lon, alt) or change mode (the two
    commands skyfence gives sensors: cue a camera to a track, switch a radar's mode)."""
    msg = _envelope(node_id, t, to)
    task = msg.task
    task.task_id = ulid(t, rng)
    task.task_name = name or "skyfence cue"
    task.control = task_pb2.Task.CONTROL_START
    if look_at is not None:
        locs = task.command.look_at.location_list.locations.add()
        _set_location(locs, *look_at)
    elif mode_change is not None:
        task.command.mode_change = mode_change
    else:
        task.command.request = "status"
    return msg


def task_ack_message(node_id: str, t: float, to: str, task_id: str, accepted: bool, reason: str = "") -> Any:
    msg = _envelope(node_id, t, to)
    ack = msg.task_ack
    ack.task_id = task_id
    ack.task_status = (
        task_ack_pb2.TaskAck.TASK_STATUS_ACCEPTED if accepted else task_ack_pb2.TaskAck.TASK_STATUS_REJECTED
    )
    if reason:
        ack.reason.append(reason)
    return msg


def status_report(
    node_id: str, t: float, rng: random.Random, site: Site | None = None, mode: str = "default"
) -> Any:
    msg = _envelope(node_id, t)
    sr = msg.status_report
    sr.report_id = ulid(t, rng)
    sr.system = status_report_pb2.StatusReport.SYSTEM_OK
    sr.info = status_report_pb2.StatusReport.INFO_NEW
    sr.mode = mode
    if site is not None:
        _set_location(sr.node_location, site.lat, site.lon, site.alt)
    return msg


def _set_location(
    loc: Any, lat: float, lon: float, alt: float | None, errors: tuple[float, float, float] | None = None
) -> None:
    loc.x, loc.y = float(lon), float(lat)
    if alt is not None:
        loc.z = float(alt)
    if errors is not None:
        loc.x_error, loc.y_error, loc.z_error = (float(e) for e in errors)
    loc.coordinate_system = _LOC.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    loc.datum = _LOC.LOCATION_DATUM_WGS84_E


# SAPIENT's class taxonomy words for skyfence's classes (and back, by keyword).
_SAPIENT_CLASS = {
    "fpv": "UAV Rotary Wing FPV",
    "multirotor": "UAV Rotary Wing",
    "fixed_wing": "UAV Fixed Wing",
    "bird": "Bird",
    "aircraft": "Manned Aircraft",
    "unknown": "Unknown",
}
_CLASS_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("fpv", "fpv"),
    ("rotary", "multirotor"),
    ("multirotor", "multirotor"),
    ("quad", "multirotor"),
    ("fixed wing", "fixed_wing"),
    ("fixed_wing", "fixed_wing"),
    ("bird", "bird"),
    ("manned", "aircraft"),
    ("aircraft", "aircraft"),
    ("helicopter", "aircraft"),
    ("uav", "multirotor"),
    ("drone", "multirotor"),
)


def _class_of(sapient_type: str) -> str | None:
    s = sapient_type.lower()
    if "unmanned" in s:
        s = s.replace("unmanned", "uav")
    for word, cls in _CLASS_KEYWORDS:
        if word in s:
            return cls
    return None


# --------------------------------------------------------------------- SAPIENT -> Detections
_RB_UNITS = {
    _RB.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M: (math.pi / 180.0, 1.0),
    _RB.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_M: (1.0, 1.0),
    _RB.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM: (math.pi / 180.0, 1000.0),
    _RB.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM: (1.0, 1000.0),
}


@dataclass(frozen=True, slots=True)
class _Row:
    node: str
    kind: str
    t: float
    z: tuple[float, ...]
    sig: tuple[float, ...]
    attrs: tuple[Any, ...]
    lik: tuple[float, ...] | None


_ROW_ATTRS = (
    "object_id",
    "report_id",
    "confidence",
    "sapient_class",
    "identity",
    "ve_mps",
    "vn_mps",
    "vu_mps",
)


def _report_row(msg: Any, site: Site, defaults: tuple[float, float, float]) -> _Row:
    """One detection report as one measurement row; DecodeError naming what is unusable."""
    dr = msg.detection_report
    t = timestamp_of(msg)
    where = dr.WhichOneof("location_oneof")
    sh, sv, sa = defaults
    if where == "location":
        loc = dr.location
        cs = loc.coordinate_system
        if cs == _LOC.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M:
            lat, lon, scale = loc.y, loc.x, 1.0
        elif cs == _LOC.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M:
            lat, lon, scale = math.degrees(loc.y), math.degrees(loc.x), 180.0 / math.pi
        else:
            raise DecodeError("unsupported_coordinates", f"location coordinate system {cs}")
        if loc.datum == _LOC.LOCATION_DATUM_WGS84_G:
            raise DecodeError("unsupported_datum", "geoid heights need a geoid model")
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise DecodeError("invalid_location", f"lat {lat!r} lon {lon!r}")
        has_z = loc.HasField("z") and math.isfinite(loc.z)
        enu = site.to_enu(lat, lon, loc.z if has_z else site.alt)
        # errors are in the coordinates' own units: degrees of arc to metres on the ground
        m_per_deg = _R_EARTH * math.pi / 180.0
        ey = loc.y_error * scale * m_per_deg if loc.HasField("y_error") else sh
        ex = loc.x_error * scale * m_per_deg * math.cos(math.radians(lat)) if loc.HasField("x_error") else sh
        ez = loc.z_error if loc.HasField("z_error") else sv
        sig_full = (ex, ey, ez)
        z: tuple[float, ...] = (
            (float(enu[0]), float(enu[1]), float(enu[2])) if has_z else (float(enu[0]), float(enu[1]))
        )
        kind = "position"
        sig = sig_full[: len(z)]
    else:
        rb = dr.range_bearing
        units = _RB_UNITS.get(rb.coordinate_system)
        if units is None:
            raise DecodeError(
                "unsupported_coordinates", f"range-bearing coordinate system {rb.coordinate_system}"
            )
        if rb.datum not in (_RB.RANGE_BEARING_DATUM_TRUE, _RB.RANGE_BEARING_DATUM_UNSPECIFIED):
            raise DecodeError("unsupported_datum", f"range-bearing datum {rb.datum}")
        ang, dist = units
        if not rb.HasField("azimuth"):
            raise DecodeError("missing_field", "RangeBearing.azimuth")
        az = (rb.azimuth * ang) % (2 * math.pi)
        s_az = rb.azimuth_error * ang if rb.HasField("azimuth_error") else sa
        vals: list[float] = []
        sigs: list[float] = []
        if rb.HasField("range"):
            vals.append(rb.range * dist)
            sigs.append(rb.range_error * dist if rb.HasField("range_error") else sh)
        vals.append(az)
        sigs.append(s_az)
        if rb.HasField("elevation"):
            vals.append(rb.elevation * ang)
            sigs.append(rb.elevation_error * ang if rb.HasField("elevation_error") else sa)
        kind = "polar" if rb.HasField("range") else "bearing"
        z, sig = tuple(vals), tuple(sigs)
    if not all(math.isfinite(v) for v in z):
        raise DecodeError("invalid_location", "non-finite coordinate")
    # An error must be positive and below the size of the earth (its square must stay finite).
    if not all(0.0 < s < 1e7 for s in sig):
        raise DecodeError("invalid_error", f"location errors {sig!r}")
    best = ""
    lik: list[float] | None = None
    if len(dr.classification):
        best_conf = -1.0
        lik = [0.0] * N_CLASSES
        for c in dr.classification:
            conf = c.confidence if c.HasField("confidence") else 1.0
            if conf > best_conf:
                best, best_conf = c.type, conf
            cls = _class_of(c.type)
            if cls is not None and math.isfinite(conf):
                lik[CLASSES.index(cls)] += max(conf, 0.0)
        total = sum(lik)
        lik = None if total <= 0 else [max(v, 0.01 * total) for v in lik]
    vel = (math.nan, math.nan, math.nan)
    if dr.HasField("enu_velocity"):
        v = dr.enu_velocity
        vel = (v.east_rate, v.north_rate, v.up_rate if v.HasField("up_rate") else math.nan)
    conf = float(dr.detection_confidence) if dr.HasField("detection_confidence") else math.nan
    attrs = (dr.object_id, dr.report_id, conf, best, dr.id, *vel)
    return _Row(msg.node_id, kind, t, z, sig, attrs, None if lik is None else tuple(lik))


def detection_reports_to_detections(
    messages: Iterable[Any],
    site: Site,
    errors: Counter[str] | None = None,
    sigma_m: float = 10.0,
    sigma_vertical_m: float = 10.0,
    sigma_angle_rad: float = 0.02,
) -> list[Detections]:
    """Detection reports among ``messages`` into batches, one per (node, kind, dimension),
    time-sorted. ``sensor_id`` is the reporting node's id; attributes ``object_id``,
    ``report_id``, ``confidence``, ``sapient_class``, ``identity`` (the report's ``id``),
    ``ve_mps``/``vn_mps``/``vu_mps``. The sigmas stand in for errors the report leaves out.
    Unusable reports are counted in ``errors`` by reason."""
    counts = errors if errors is not None else Counter()
    groups: dict[tuple[str, str, int], list[_Row]] = {}
    for msg in messages:
        if msg.WhichOneof("content") != "detection_report":
            continue
        try:
            row = _report_row(msg, site, (sigma_m, sigma_vertical_m, sigma_angle_rad))
        except DecodeError as exc:
            counts[exc.reason] += 1
            continue
        groups.setdefault((row.node, row.kind, len(row.z)), []).append(row)
    out: list[Detections] = []
    for (node, kind, _m), rows in groups.items():
        cols = list(zip(*(r.attrs for r in rows)))
        liks = [r.lik for r in rows]
        lik = None
        if any(x is not None for x in liks):
            lik = np.array([x if x is not None else (1.0 / N_CLASSES,) * N_CLASSES for x in liks])
            lik = lik / lik.sum(axis=1, keepdims=True)
        sig = np.array([r.sig for r in rows])
        det = Detections(
            node,
            kind,  # type: ignore[arg-type]
            np.array([r.t for r in rows]),
            np.array([r.z for r in rows]),
            sig[:, :, None] * np.eye(sig.shape[1])[None] * sig[:, None, :],
            lik,
            {name: np.asarray(col) for name, col in zip(_ROW_ATTRS, cols)},
        )
        out.append(det.sorted())
    return out


# --------------------------------------------------------------------- Tracks/Alerts -> SAPIENT
_ALERT_TYPE = {
    ThreatLevel.LOW: _AL.ALERT_TYPE_INFORMATION,
    ThreatLevel.MEDIUM: _AL.ALERT_TYPE_WARNING,
    ThreatLevel.HIGH: _AL.ALERT_TYPE_CRITICAL,
    ThreatLevel.CRITICAL: _AL.ALERT_TYPE_CRITICAL,
}
_ALERT_PRIORITY = {
    ThreatLevel.LOW: _AL.DISCRETE_PRIORITY_LOW,
    ThreatLevel.MEDIUM: _AL.DISCRETE_PRIORITY_MEDIUM,
    ThreatLevel.HIGH: _AL.DISCRETE_PRIORITY_HIGH,
    ThreatLevel.CRITICAL: _AL.DISCRETE_PRIORITY_HIGH,
}
_ALERT_STATUS = {
    AlertState.NEW: _AL.ALERT_STATUS_ACTIVE,
    AlertState.ESCALATED: _AL.ALERT_STATUS_ACTIVE,
    AlertState.ACKNOWLEDGED: _AL.ALERT_STATUS_ACKNOWLEDGE,
    AlertState.RESOLVED: _AL.ALERT_STATUS_CLEAR,
}


@dataclass(slots=True)
class SapientTranslator:
    """skyfence's picture as SAPIENT messages from one node: stable ULIDs per track and per
    alert, and the last known position of each track for alerts. ``rng`` makes ids
    reproducible in tests."""

    node_id: str
    site: Site
    rng: random.Random = field(default_factory=random.Random)
    object_ids: dict[int, str] = field(default_factory=dict)
    alert_ids: dict[str, str] = field(default_factory=dict)
    last_position: dict[int, tuple[float, float, float]] = field(default_factory=dict)

    def object_id(self, track_id: int, t: float) -> str:
        oid = self.object_ids.get(track_id)
        if oid is None:
            oid = self.object_ids[track_id] = ulid(t, self.rng)
        return oid

    def detection_reports(self, tracks: Tracks) -> list[Any]:
        """One detection report per track (deleted tracks are reported with state "lost")."""
        if not len(tracks):
            return []
        geo = self.site.to_wgs84(tracks.x[:, :3])
        out: list[Any] = []
        for i in range(len(tracks)):
            tid = int(tracks.id[i])
            lat, lon, alt = (float(v) for v in geo[i])
            self.last_position[tid] = (lat, lon, alt)
            msg = _envelope(self.node_id, tracks.t)
            dr = msg.detection_report
            dr.report_id = ulid(tracks.t, self.rng)
            dr.object_id = self.object_id(tid, tracks.t)
            status = int(tracks.status[i])
            if status == TrackStatus.COASTING:
                dr.state = "coasting"
            elif status == TrackStatus.DELETED:
                dr.state = "lost"
            elif status == TrackStatus.TENTATIVE:
                dr.state = "tentative"
            P = tracks.P[i]
            m_per_deg = _R_EARTH * math.pi / 180.0
            sx = math.sqrt(max(P[0, 0], 0.0)) / (m_per_deg * max(math.cos(math.radians(lat)), 1e-6))
            sy = math.sqrt(max(P[1, 1], 0.0)) / m_per_deg
            sz = math.sqrt(max(P[2, 2], 0.0))
            _set_location(dr.location, lat, lon, alt, (sx, sy, sz))
            v = tracks.x[i, 3:6]
            dr.enu_velocity.east_rate, dr.enu_velocity.north_rate, dr.enu_velocity.up_rate = (
                float(c) for c in v
            )
            dr.enu_velocity.east_rate_error = math.sqrt(max(P[3, 3], 0.0))
            dr.enu_velocity.north_rate_error = math.sqrt(max(P[4, 4], 0.0))
            dr.enu_velocity.up_rate_error = math.sqrt(max(P[5, 5], 0.0))
            for k, name in enumerate(CLASSES):
                c = dr.classification.add()
                c.type = _SAPIENT_CLASS[name]
                c.confidence = float(tracks.cls_prob[i, k])
            ident = str(tracks.identity[i])
            if ident:
                dr.id = ident
            for key, value in (
                ("track_id", str(tid)),
                ("sensors", ",".join(tracks.sensors_of(i))),
                ("rf_silent", f"{float(tracks.rf_silent[i]):.3f}"),
                ("spoofed", str(bool(tracks.spoofed[i])).lower()),
            ):
                info = dr.track_info.add()
                info.type, info.value = key, value
            out.append(msg)
        return out

    def alert(self, alert: Alert) -> Any:
        """One SAPIENT alert for one skyfence alert transition."""
        msg = _envelope(self.node_id, alert.t)
        al = msg.alert
        aid = self.alert_ids.get(alert.id)
        if aid is None:
            aid = self.alert_ids[alert.id] = ulid(alert.t, self.rng)
        al.alert_id = aid
        al.alert_type = _ALERT_TYPE[ThreatLevel(alert.level)]
        al.status = _ALERT_STATUS[AlertState(alert.state)]
        al.priority = _ALERT_PRIORITY[ThreatLevel(alert.level)]
        al.description = alert.reason or f"track {alert.track_id} threatens zone {alert.zone_id}"
        al.ranking = float(min(max(alert.score, 0.0), 1.0))
        al.confidence = float(min(max(alert.p_enter, 0.0), 1.0))
        pos = self.last_position.get(alert.track_id)
        if pos is not None:
            _set_location(al.location, *pos)
        if alert.track_id in self.object_ids:
            ad = al.associated_detection.add()
            ad.node_id = self.node_id
            ad.object_id = self.object_ids[alert.track_id]
        ttz = "inf" if not math.isfinite(alert.time_to_zone) else f"{alert.time_to_zone:.1f}"
        al.additional_information = (
            f"skyfence alert {alert.id}; zone {alert.zone_id}; level {alert.level}; time_to_zone_s {ttz}"
        )
        return msg


def alert_message(translator: SapientTranslator, alert: Alert) -> Any:
    """Shorthand for :meth:`SapientTranslator.alert`."""
    return translator.alert(alert)


# ------------------------------------------------------------------------------ transport
Handler = Callable[[Any, str], Awaitable[None] | None]


class SapientServer:
    """A fusion node on TCP: acknowledges every registration, hands every other valid message
    to ``on_message(msg, peer)``, and counts undecodable frames in ``errors`` by reason (the
    connection goes on; only an oversized length prefix closes it)."""

    def __init__(
        self,
        on_message: Handler,
        node_id: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.on_message = on_message
        self.node_id = node_id or node_uuid(random.Random(os.urandom(16)))
        self.host = host
        self.port = port
        self.clock = clock
        self.errors: Counter[str] = Counter()
        self.registered: dict[str, Any] = {}
        self._writers: dict[str, asyncio.StreamWriter] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; returns the bound port (useful with ``port=0``)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        return self.port

    async def send_to(self, node_id: str, msgs: Any | Sequence[Any]) -> None:
        """Send to a registered node (a task, an alert acknowledgement ...)."""
        writer = self._writers.get(node_id)
        if writer is None:
            raise KeyError(f"SAPIENT node {node_id!r} is not registered here")
        batch = msgs if isinstance(msgs, list | tuple) else [msgs]
        writer.write(b"".join(encode_frame(m) for m in batch))
        await writer.drain()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        frames = FrameReader()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    payloads = frames.feed(data)
                except DecodeError as exc:
                    self.errors[exc.reason] += 1
                    break
                for payload in payloads:
                    try:
                        msg = parse_message(payload)
                    except DecodeError as exc:
                        self.errors[exc.reason] += 1
                        continue
                    if msg.WhichOneof("content") == "registration":
                        self.registered[msg.node_id] = msg.registration
                        self._writers[msg.node_id] = writer
                        ack = registration_ack(self.node_id, self.clock(), msg.node_id)
                        writer.write(encode_frame(ack))
                        await writer.drain()
                    result = self.on_message(msg, peer)
                    if result is not None:
                        await result
        except (ConnectionError, asyncio.IncompleteReadError):
            self.errors["connection_lost"] += 1
        finally:
            for node in [n for n, w in self._writers.items() if w is writer]:
                del self._writers[node]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class SapientClient:
    """An edge node (or a skyfence sending its tracks) connected to a SAPIENT fusion node."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.errors: Counter[str] = Counter()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._frames = FrameReader()
        self._inbox: list[Any] = []

    async def connect(self, timeout: float = 5.0) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise FormatError(f"cannot connect to SAPIENT node {self.host}:{self.port}: {exc}") from None

    async def send(self, msgs: Any | Sequence[Any]) -> None:
        if self._writer is None:
            raise RuntimeError("not connected")
        batch = msgs if isinstance(msgs, list | tuple) else [msgs]
        self._writer.write(b"".join(encode_frame(m) for m in batch))
        await self._writer.drain()

    async def receive(self, timeout: float = 5.0) -> Any:
        """The next valid message from the peer (undecodable ones are counted and skipped)."""
        if self._reader is None:
            raise RuntimeError("not connected")
        while not self._inbox:
            data = await asyncio.wait_for(self._reader.read(65536), timeout)
            if not data:
                raise ConnectionError("SAPIENT peer closed the connection")
            for payload in self._frames.feed(data):
                try:
                    self._inbox.append(parse_message(payload))
                except DecodeError as exc:
                    self.errors[exc.reason] += 1
        return self._inbox.pop(0)

    async def register(self, registration: Any, timeout: float = 5.0) -> Any:
        """Send a registration and wait for the fusion node's acknowledgement."""
        await self.send(registration)
        while True:
            msg = await self.receive(timeout)
            if msg.WhichOneof("content") == "registration_ack":
                if not msg.registration_ack.acceptance:
                    reasons = "; ".join(msg.registration_ack.ack_response_reason)
                    raise FormatError(f"SAPIENT registration rejected: {reasons or 'no reason given'}")
                return msg.registration_ack

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
            self._writer = None


def node_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID, SAPIENT's node identifier, drawn from ``rng``."""
    b = bytearray(rng.getrandbits(128).to_bytes(16, "big"))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
