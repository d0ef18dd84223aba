"""Cursor on Target out to TAK: tracks, alert markers and launch/operator areas, as CoT
XML or TAK protobuf, over TCP, TLS, UDP or into a file.

Types follow MIL-STD-2525 as TAK uses them: drones ``a-<aff>-A-M-H-Q`` (rotary UAV) or
``a-<aff>-A-M-F-Q`` (fixed-wing UAV), civil aircraft ``a-n-A-C-F``, unclassified air
``a-<aff>-A``; the affiliation is hostile (``h``) at a high/critical threat or a spoofed
Remote ID, suspect (``s``) at medium, neutral (``n``) for an allow-listed drone, else
unknown (``u``). Alerts are point-of-interest markers (``b-m-p-s-p-i``) with the reason
in ``<remarks>``; launch areas are ellipses (``u-d-c-e``), operator positions ground
points (``a-u-G``), relay ground links range-and-bearing lines (``u-rb-a``).

TAK protobuf: "stream" framing on TCP/TLS/file (``0xBF``, varint length, ``TakMessage``),
"mesh" framing on UDP (``0xBF 0x01 0xBF``, ``TakMessage``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import queue
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

import numpy as np

from skyfence.errors import ConfigError
from skyfence.geo import Site
from skyfence.model.alert import LEVELS, Alert, AlertState, ThreatLevel
from skyfence.model.classes import TargetClass
from skyfence.model.tracks import Tracks, TrackStatus

__all__ = [
    "CotEvent",
    "CotFormat",
    "CotSink",
    "alert_cot",
    "area_cot",
    "cot_time",
    "cot_type",
    "decode_stream",
    "to_proto",
    "to_xml",
    "track_cot",
]

CotFormat = Literal["xml", "protobuf"]
UNKNOWN_HEIGHT = 9999999.0
_PROTO_MAGIC = 0xBF


@dataclass(frozen=True, slots=True)
class CotEvent:
    """One CoT event; times are UTC epoch seconds, ``extra`` are further ``<detail>``
    children as ``(tag, attributes)`` (a ``shape`` child nests ``ellipse``)."""

    uid: str
    type: str
    how: str
    time: float
    start: float
    stale: float
    lat: float
    lon: float
    hae: float = UNKNOWN_HEIGHT
    ce: float = UNKNOWN_HEIGHT
    le: float = UNKNOWN_HEIGHT
    callsign: str = ""
    course: float | None = None
    speed: float | None = None
    remarks: str = ""
    extra: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = field(default=())


@functools.lru_cache(maxsize=256)
def cot_time(t: float) -> str:
    """``2026-11-25T15:21:48.123Z`` (millisecond precision, as TAK writes)."""
    dt = datetime.fromtimestamp(round(t, 3), UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _num(v: float, nd: int) -> str:
    s = f"{v:.{nd}f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


#: Characters XML 1.0 cannot carry at all (a decoded Remote ID serial may hold them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value))


def _attr(value: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", value), {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"})


def _element(tag: str, attrs: Iterable[tuple[str, str]]) -> str:
    return "<" + tag + "".join(f' {k}="{_attr(v)}"' for k, v in attrs) + " />"


def _detail_children(ev: CotEvent) -> tuple[list[str], list[str]]:
    """``<detail>`` children as XML text: ``(typed, other)`` — the typed ones (contact,
    track) have protobuf fields, the others travel as ``xmlDetail``."""
    typed: list[str] = []
    if ev.callsign:
        typed.append(_element("contact", [("callsign", ev.callsign)]))
    if ev.course is not None and ev.speed is not None:
        typed.append(_element("track", [("course", _num(ev.course, 1)), ("speed", _num(ev.speed, 2))]))
    other: list[str] = []
    for tag, attrs in ev.extra:
        if tag == "shape":
            other.append("<shape>" + _element("ellipse", attrs) + "</shape>")
        else:
            other.append(_element(tag, attrs))
    if ev.remarks:
        other.append(f"<remarks>{_text(ev.remarks)}</remarks>")
    return typed, other


def to_xml(ev: CotEvent) -> bytes:
    """CoT XML 2.0 (written directly: an ElementTree per event is ten times slower)."""
    head = _element(
        "event",
        [
            ("version", "2.0"),
            ("uid", ev.uid),
            ("type", ev.type),
            ("how", ev.how),
            ("time", cot_time(ev.time)),
            ("start", cot_time(ev.start)),
            ("stale", cot_time(ev.stale)),
        ],
    )[:-3]
    point = _element(
        "point",
        [
            ("lat", _num(ev.lat, 7)),
            ("lon", _num(ev.lon, 7)),
            ("hae", _num(ev.hae, 1)),
            ("ce", _num(ev.ce, 1)),
            ("le", _num(ev.le, 1)),
        ],
    )
    typed, other = _detail_children(ev)
    body = f"{head}>{point}<detail>{''.join(typed)}{''.join(other)}</detail></event>"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body.encode("utf-8")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def to_proto(ev: CotEvent, mesh: bool = False) -> bytes:
    """TAK protobuf (protocol version 1) with stream or mesh framing."""
    from takproto.proto import TakMessage

    msg = TakMessage()
    e = msg.cotEvent
    e.type = ev.type
    e.uid = ev.uid
    e.how = ev.how
    e.sendTime = round(ev.time * 1000)
    e.startTime = round(ev.start * 1000)
    e.staleTime = round(ev.stale * 1000)
    e.lat = ev.lat
    e.lon = ev.lon
    e.hae = ev.hae
    e.ce = ev.ce
    e.le = ev.le
    if ev.callsign:
        e.detail.contact.callsign = ev.callsign
    if ev.course is not None and ev.speed is not None:
        e.detail.track.course = ev.course
        e.detail.track.speed = ev.speed
    # Whatever has no typed protobuf field travels as XML in xmlDetail, as TAK expects.
    e.detail.xmlDetail = "".join(_detail_children(ev)[1])
    body: bytes = msg.SerializeToString()
    if mesh:
        return bytes([_PROTO_MAGIC, 1, _PROTO_MAGIC]) + body
    return bytes([_PROTO_MAGIC]) + _varint(len(body)) + body


def decode_stream(buf: bytes) -> tuple[list[bytes], bytes]:
    """Split a TCP byte stream into complete messages (CoT XML documents or stream-framed
    protobuf); returns ``(messages, rest)``."""
    out: list[bytes] = []
    i = 0
    n = len(buf)
    while i < n:
        if buf[i] in b" \r\n\t":
            i += 1
            continue
        if buf[i] == _PROTO_MAGIC:
            j = i + 1
            size = shift = 0
            while j < n:
                b = buf[j]
                size |= (b & 0x7F) << shift
                shift += 7
                j += 1
                if not b & 0x80:
                    break
            else:
                break
            if j + size > n:
                break
            out.append(buf[i : j + size])
            i = j + size
            continue
        end = buf.find(b"</event>", i)
        if end < 0:
            break
        out.append(buf[i : end + len(b"</event>")])
        i = end + len(b"</event>")
    return out, buf[i:]


# ----------------------------------------------------------------- CoT types


def cot_type(cls: int, level: int, spoofed: bool = False, compliant: bool = False) -> str:
    """CoT type of a track from its most probable class and threat level (0 low … 3 critical)."""
    if cls == TargetClass.AIRCRAFT and not spoofed:
        return "a-n-A-C-F"
    if spoofed or level >= 2:
        aff = "h"
    elif compliant:
        aff = "n"
    elif level == 1:
        aff = "s"
    else:
        aff = "u"
    if cls in (TargetClass.FPV, TargetClass.MULTIROTOR):
        return f"a-{aff}-A-M-H-Q"
    if cls == TargetClass.FIXED_WING:
        return f"a-{aff}-A-M-F-Q"
    return f"a-{aff}-A"


def _errors(P: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """CE90 and LE90 (metres) from position covariances ``[N, 6, 6]``."""
    ce = 2.146 * np.sqrt(np.maximum(0.5 * (P[:, 0, 0] + P[:, 1, 1]), 0.0))
    le = 1.645 * np.sqrt(np.maximum(P[:, 2, 2], 0.0))
    return ce, le


def track_cot(
    tracks: Tracks,
    site: Site,
    *,
    levels: Mapping[int, int] | None = None,
    spoofed: Sequence[bool] | None = None,
    compliant: Sequence[bool] | None = None,
    remarks: Mapping[int, str] | None = None,
    stale_s: float = 10.0,
    uid_prefix: str = "skyfence",
) -> list[CotEvent]:
    """One CoT event per live track (deleted tracks are sent already stale)."""
    n = len(tracks)
    if n == 0:
        return []
    geo = site.to_wgs84(tracks.x[:, :3])
    ce, le = _errors(tracks.P)
    known = tracks.P[:, 2, 2] < 300.0**2
    course = np.degrees(np.arctan2(tracks.x[:, 3], tracks.x[:, 4])) % 360.0
    speed = np.hypot(tracks.x[:, 3], tracks.x[:, 4])
    cls = tracks.cls
    lv = levels or {}
    spf = tracks.spoofed if spoofed is None else np.asarray(spoofed, bool)
    cmp_ = np.zeros(n, bool) if compliant is None else np.asarray(compliant, bool)
    rem = remarks or {}
    t = float(tracks.t)
    out = []
    for i in range(n):
        tid = int(tracks.id[i])
        level = int(lv.get(tid, 0))
        c = int(cls[i])
        dead = int(tracks.status[i]) == TrackStatus.DELETED
        ident = str(tracks.identity[i])
        callsign = f"T{tid}" + (f" {ident}" if ident else "")
        out.append(
            CotEvent(
                uid=f"{uid_prefix}.track.{tid}",
                type=cot_type(c, level, bool(spf[i]), bool(cmp_[i])),
                how="m-f",
                time=t,
                start=t,
                stale=t if dead else t + stale_s,
                lat=float(geo[i, 0]),
                lon=float(geo[i, 1]),
                hae=float(geo[i, 2]) if known[i] else UNKNOWN_HEIGHT,
                ce=float(ce[i]),
                le=float(le[i]) if known[i] else UNKNOWN_HEIGHT,
                callsign=callsign,
                course=float(course[i]),
                speed=float(speed[i]),
                remarks=rem.get(tid, ""),
            )
        )
    return out


def alert_cot(
    alerts: Iterable[Alert],
    positions: Mapping[str, tuple[float, float, float]],
    *,
    stale_s: float = 300.0,
    uid_prefix: str = "skyfence",
) -> list[CotEvent]:
    """Alert markers at the track's position (``positions[alert.id]`` = lat, lon, hae);
    a resolved alert is sent already stale so TAK clients drop it."""
    out = []
    for a in alerts:
        lat, lon, hae = positions.get(a.id, (math.nan, math.nan, UNKNOWN_HEIGHT))
        if not (math.isfinite(lat) and math.isfinite(lon)):
            continue
        who = f"swarm {a.group_id}" if a.group_id >= 0 else f"T{a.track_id}"
        ttz = f" {a.time_to_zone:.0f}s" if math.isfinite(a.time_to_zone) and a.time_to_zone > 0 else ""
        out.append(
            CotEvent(
                uid=f"{uid_prefix}.alert.{a.id}",
                type="b-m-p-s-p-i",
                how="m-f",
                time=a.t,
                start=a.t,
                stale=a.t if a.state == AlertState.RESOLVED else a.t + stale_s,
                lat=lat,
                lon=lon,
                hae=hae,
                callsign=f"{a.level.value.upper()} {who} → {a.zone_id}{ttz}",
                remarks=f"[{a.state.value}] {a.reason}",
                extra=(("link", (("uid", f"{uid_prefix}.track.{a.track_id}"), ("relation", "p-p"))),),
            )
        )
    return out


def area_cot(
    areas: Iterable[Any],
    site: Site,
    *,
    stale_s: float = 600.0,
    uid_prefix: str = "skyfence",
    t: float | None = None,
) -> list[CotEvent]:
    """Launch ellipses, operator points and ground-link bearing lines
    (:class:`skyfence.assess.LaunchArea`) as their own markers."""
    out = []
    for a in areas:
        when = a.t if t is None else t
        lat, lon, hae = (float(v) for v in site.to_wgs84(np.array(a.center)))
        uid = f"{uid_prefix}.{a.kind}.{a.track_id}"
        if a.kind == "launch":
            out.append(
                CotEvent(
                    uid=uid,
                    type="u-d-c-e",
                    how="m-f",
                    time=when,
                    start=when,
                    stale=when + stale_s,
                    lat=lat,
                    lon=lon,
                    hae=hae,
                    ce=a.semi_major_m,
                    callsign=f"Launch area T{a.track_id}",
                    remarks=f"95% launch area of track {a.track_id} (back-propagated to ground)",
                    extra=(
                        (
                            "shape",
                            (
                                ("major", _num(a.semi_major_m, 1)),
                                ("minor", _num(a.semi_minor_m, 1)),
                                ("angle", _num(math.degrees(a.orientation_rad) % 360.0, 1)),
                            ),
                        ),
                    ),
                )
            )
        elif a.kind == "operator":
            out.append(
                CotEvent(
                    uid=uid,
                    type="a-u-G",
                    how="m-f",
                    time=when,
                    start=when,
                    stale=when + stale_s,
                    lat=lat,
                    lon=lon,
                    hae=hae,
                    ce=a.semi_major_m,
                    callsign=f"Operator T{a.track_id}",
                    remarks=f"operator position reported by Remote ID of track {a.track_id}",
                )
            )
        else:
            out.append(
                CotEvent(
                    uid=uid,
                    type="u-rb-a",
                    how="m-f",
                    time=when,
                    start=when,
                    stale=when + stale_s,
                    lat=lat,
                    lon=lon,
                    hae=hae,
                    callsign=f"Ground link T{a.track_id}",
                    remarks=f"bearing of the ground control link received by relay track {a.track_id}",
                    extra=(
                        ("range", (("value", "5000"),)),
                        ("bearing", (("value", _num(math.degrees(a.bearing_rad) % 360.0, 1)),)),
                    ),
                )
            )
    return out


# ----------------------------------------------------------------- transport


class CotSink:
    """Send tracks, alerts and areas to a TAK server or file.

    ``url``: ``tcp://host:port``, ``tls://host:port`` (query ``ca=``, ``cert=``, ``key=``,
    ``insecure=1``), ``udp://host:port`` or ``file:///path``; query ``format=protobuf``
    switches from XML.

    Network sends go through a bounded queue to a sender thread, so the pipeline never
    waits on TAK: ``send_*`` return how many events were accepted; a full queue, a
    refused connection or a broken socket drops them (counted in ``dropped``, delivered
    ones in ``sent``) and the thread reconnects at most every ``retry_s``. ``flush()``
    waits for the queue to drain; ``close()`` flushes first. Files are written at once.
    """

    def __init__(
        self,
        url: str,
        site: Site,
        *,
        fmt: CotFormat | None = None,
        stale_s: float = 10.0,
        uid_prefix: str = "skyfence",
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 5.0,
        retry_s: float = 5.0,
        queue_size: int = 256,
    ) -> None:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.url = url
        self.site = site
        self.scheme = parts.scheme
        if self.scheme not in ("tcp", "tls", "udp", "file"):
            raise ConfigError(f"unsupported CoT URL {url!r}: expected tcp://, tls://, udp:// or file://")
        want = fmt or query.get("format", "xml")
        if want not in ("xml", "protobuf"):
            raise ConfigError(f"unsupported CoT format {want!r}: expected xml or protobuf", field="format")
        self.format: CotFormat = "protobuf" if want == "protobuf" else "xml"
        self.stale_s = stale_s
        self.uid_prefix = uid_prefix
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.sent = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._file: IO[bytes] | None = None
        self._last_try = -math.inf
        self._track_pos: dict[int, tuple[float, float, float]] = {}
        self._levels: dict[int, int] = {}
        self._alert_level: dict[str, tuple[int, int]] = {}
        if self.scheme == "file":
            path = Path(unquote(parts.path if not parts.netloc else parts.netloc + parts.path))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("ab")
            return
        if not parts.hostname or parts.port is None:
            raise ConfigError(f"CoT URL {url!r} needs host:port")
        self.host: str = parts.hostname
        self.port: int = parts.port
        self._ssl = ssl_context
        if self.scheme == "tls" and self._ssl is None:
            ctx = ssl.create_default_context(cafile=query.get("ca"))
            if query.get("cert"):
                ctx.load_cert_chain(query["cert"], query.get("key"))
            if query.get("insecure") in ("1", "true", "yes"):
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(
            target=self._sender, name=f"cot-sink {self.host}:{self.port}", daemon=True
        )
        self._thread.start()

    # -- public
    def send_tracks(self, tracks: Tracks, remarks: Mapping[int, str] | None = None) -> int:
        """Tracks as CoT (the threat level of each comes from the alerts sent so far)."""
        evs = track_cot(
            tracks,
            self.site,
            levels=self._levels,
            remarks=remarks,
            stale_s=self.stale_s,
            uid_prefix=self.uid_prefix,
        )
        if len(tracks):
            geo = self.site.to_wgs84(tracks.x[:, :3])
            for i, tid in enumerate(tracks.id.tolist()):
                self._track_pos[int(tid)] = (float(geo[i, 0]), float(geo[i, 1]), float(geo[i, 2]))
        return self.send_events(evs)

    def send_alerts(
        self, alerts: Sequence[Alert], details: Mapping[str, Mapping[str, Any]] | None = None
    ) -> int:
        """Alert markers (placed by ``details[id]['lat'/'lon'/'alt']``, else at the last
        position sent for the alert's track)."""
        positions: dict[str, tuple[float, float, float]] = {}
        det = details or {}
        for a in alerts:
            d = det.get(a.id, {})
            if "lat" in d and "lon" in d:
                positions[a.id] = (float(d["lat"]), float(d["lon"]), float(d.get("alt", UNKNOWN_HEIGHT)))
            elif a.track_id in self._track_pos:
                positions[a.id] = self._track_pos[a.track_id]
            # Remember each track's highest open alert level for the track symbols.
            if a.state == AlertState.RESOLVED:
                self._alert_level.pop(a.id, None)
            else:
                self._alert_level[a.id] = (a.track_id, LEVELS.index(ThreatLevel(a.level).value))
        self._levels = {}
        for tid, lv in self._alert_level.values():
            self._levels[tid] = max(lv, self._levels.get(tid, 0))
        return self.send_events(alert_cot(alerts, positions, uid_prefix=self.uid_prefix))

    def send_areas(self, areas: Iterable[Any], t: float | None = None) -> int:
        """Launch/operator/ground-link areas (``skyfence.assess.LaunchArea``)."""
        return self.send_events(area_cot(areas, self.site, uid_prefix=self.uid_prefix, t=t))

    def send_events(self, events: Sequence[CotEvent]) -> int:
        if not events:
            return 0
        mesh = self.scheme == "udp"
        if self.format == "protobuf":
            msgs = [to_proto(e, mesh=mesh) for e in events]
        elif self.scheme == "file":
            # One event per line in files: easy to grep and to replay.
            msgs = [to_xml(e).replace(b"\n", b"") + b"\n" for e in events]
        else:
            msgs = [to_xml(e) for e in events]
        if self._file is not None:
            with self._lock:
                for m in msgs:
                    self._file.write(m)
                self._file.flush()
                self.sent += len(msgs)
            return len(msgs)
        try:
            self._queue.put_nowait(msgs)
        except queue.Full:
            with self._lock:
                self.dropped += len(msgs)
            return 0
        return len(msgs)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every accepted event has been sent or dropped; ``False`` on timeout."""
        if self._file is not None:
            return True
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    def close(self) -> None:
        if self._file is not None:
            with self._lock:
                self._file.close()
                self._file = None
            return
        if self._thread.is_alive():
            self.flush(2 * self.timeout_s)
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=self.timeout_s)
            self._thread.join(timeout=2 * self.timeout_s)
        with self._lock:
            if self._sock is not None:
                try:
                    if self.scheme != "udp":
                        self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._sock.close()
                self._sock = None

    def __enter__(self) -> CotSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals
    def _connect(self) -> None:
        self._last_try = time.monotonic()
        try:
            if self.scheme == "udp":
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.connect((self.host, self.port))
                return
            raw = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "tls":
                assert self._ssl is not None
                self._sock = self._ssl.wrap_socket(raw, server_hostname=self.host)
            else:
                self._sock = raw
        except (OSError, ssl.SSLError):
            self._sock = None

    def _sender(self) -> None:
        while True:
            msgs = self._queue.get()
            try:
                if msgs is None:
                    return
                ok = self._deliver(msgs)
                with self._lock:
                    if ok:
                        self.sent += len(msgs)
                    else:
                        self.dropped += len(msgs)
            finally:
                self._queue.task_done()

    def _deliver(self, msgs: list[bytes]) -> bool:
        if self._sock is None and time.monotonic() - self._last_try >= self.retry_s:
            self._connect()
        if self._sock is None:
            return False
        try:
            if self.scheme == "udp":
                for m in msgs:
                    self._sock.send(m)
            else:
                self._sock.sendall(b"".join(msgs))
        except (OSError, ssl.SSLError):
            self._sock.close()
            self._sock = None
            return False
        return True
