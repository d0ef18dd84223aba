"""CoT out: golden XML, TAK protobuf, and the sink over TCP, TLS, UDP and file against a
receiver that parses every event with takproto."""

from __future__ import annotations

import math
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import takproto
from hypothesis import given
from hypothesis import strategies as st

from skyfence.assess import LaunchArea
from skyfence.errors import ConfigError
from skyfence.geo import Site
from skyfence.model import Alert, AlertState, ThreatLevel, Tracks, TrackStatus
from skyfence.share.cot import (
    CotSink,
    alert_cot,
    area_cot,
    cot_time,
    cot_type,
    decode_stream,
    to_proto,
    to_xml,
    track_cot,
)

from .conftest import CotReceiver

DATA = Path(__file__).parent / "data"
SITE = Site(49.0, 8.0, 120.0)
T0 = 1764084000.0  # 2025-11-25T15:20:00Z


def _tracks() -> Tracks:
    return Tracks(
        T0,
        [7, 8],
        [[1000.0, -500.0, 80.0, -20.0, 5.0, 0.0], [-300.0, 200.0, 0.0, 0.0, 0.0, 0.0]],
        [np.diag([16.0, 16.0, 25.0, 1, 1, 1]), np.diag([100.0, 100.0, 1e8, 1, 1, 1e4])],
        [[0.92, 0.04, 0.01, 0.01, 0.01, 0.01], [0.01, 0.01, 0.01, 0.01, 0.95, 0.01]],
        rf_silent=[0.9, 0.0],
        identity=["", "3C6444"],
    )


def _alert(state: AlertState = AlertState.NEW) -> Alert:
    return Alert(
        "A00001",
        T0,
        7,
        "site-b",
        ThreatLevel.CRITICAL,
        state,
        41.0,
        "FPV 0.92, RF-silent, 21 m/s toward Site B, 41 s to zone",
        0.81,
        0.97,
    )


def test_track_golden_xml() -> None:
    ev = track_cot(_tracks(), SITE, levels={7: 3}, remarks={7: "FPV 0.92, RF-silent"})[0]
    got = to_xml(ev).decode()
    want = (DATA / "track_7.xml").read_text(encoding="utf-8").strip()
    assert got == want


def test_track_fields() -> None:
    evs = track_cot(_tracks(), SITE, levels={7: 3})
    a, b = evs
    assert a.type == "a-h-A-M-H-Q"
    assert b.type == "a-n-A-C-F"
    assert a.course == pytest.approx(math.degrees(math.atan2(-20.0, 5.0)) % 360)
    assert a.speed == pytest.approx(math.hypot(20, 5))
    assert a.stale == T0 + 10.0
    lat, lon, hae = SITE.to_wgs84([1000.0, -500.0, 80.0])
    assert (a.lat, a.lon, a.hae) == pytest.approx((lat, lon, hae))
    # A 2-D track has no height: CoT's "unknown" marker, not a made-up altitude.
    assert b.hae == 9999999.0 and b.le == 9999999.0
    assert b.callsign == "T8 3C6444"


def test_deleted_track_is_sent_stale() -> None:
    tr = _tracks()
    dead = Tracks(tr.t, tr.id, tr.x, tr.P, tr.cls_prob, status=[TrackStatus.DELETED, TrackStatus.CONFIRMED])
    evs = track_cot(dead, SITE)
    assert evs[0].stale == evs[0].time and evs[1].stale > evs[1].time


@pytest.mark.parametrize(
    ("cls", "level", "spoofed", "compliant", "want"),
    [
        (0, 3, False, False, "a-h-A-M-H-Q"),
        (0, 2, False, False, "a-h-A-M-H-Q"),
        (1, 1, False, False, "a-s-A-M-H-Q"),
        (1, 0, False, False, "a-u-A-M-H-Q"),
        (1, 0, False, True, "a-n-A-M-H-Q"),
        (1, 0, True, True, "a-h-A-M-H-Q"),
        (2, 0, False, False, "a-u-A-M-F-Q"),
        (2, 3, False, False, "a-h-A-M-F-Q"),
        (3, 0, False, False, "a-u-A"),
        (4, 0, False, False, "a-n-A-C-F"),
        (5, 2, False, False, "a-h-A"),
    ],
)
def test_cot_type_table(cls: int, level: int, spoofed: bool, compliant: bool, want: str) -> None:
    assert cot_type(cls, level, spoofed, compliant) == want


def test_cot_time_milliseconds() -> None:
    assert cot_time(T0) == "2025-11-25T15:20:00.000Z"
    assert cot_time(T0 + 1.2345) == "2025-11-25T15:20:01.234Z"


def test_xml_and_protobuf_agree_through_takproto() -> None:
    ev = track_cot(_tracks(), SITE, levels={7: 3}, remarks={7: "FPV <0.92> & co"})[0]
    from_xml = takproto.parse_proto(bytearray(to_xml(ev)))
    from_stream = takproto.parse_proto(bytearray(to_proto(ev)))
    from_mesh = takproto.parse_proto(bytearray(to_proto(ev, mesh=True)))
    for m in (from_xml, from_stream, from_mesh):
        e = m.cotEvent
        assert e.type == "a-h-A-M-H-Q"
        assert e.uid == "skyfence.track.7"
        assert e.lat == pytest.approx(ev.lat, abs=1e-7)
        assert e.lon == pytest.approx(ev.lon, abs=1e-7)
        assert e.detail.track.course == pytest.approx(ev.course, abs=0.06)
        assert e.detail.track.speed == pytest.approx(ev.speed, abs=0.006)
        assert e.detail.contact.callsign == "T7"
        assert e.staleTime - e.sendTime == 10_000
        assert "FPV &lt;0.92&gt; &amp; co" in e.detail.xmlDetail


def test_alert_and_area_markers() -> None:
    lat, lon, hae = (float(v) for v in SITE.to_wgs84([1000.0, -500.0, 80.0]))
    [ev] = alert_cot([_alert()], {"A00001": (lat, lon, hae)})
    root = ET.fromstring(to_xml(ev))
    assert root.get("type") == "b-m-p-s-p-i"
    assert root.findtext("detail/remarks") == "[new] FPV 0.92, RF-silent, 21 m/s toward Site B, 41 s to zone"
    assert "CRITICAL" in (root.find("detail/contact").get("callsign") or "")  # type: ignore[union-attr]
    [gone] = alert_cot([_alert(AlertState.RESOLVED)], {"A00001": (lat, lon, hae)})
    assert gone.stale == gone.time
    areas = [
        LaunchArea(7, "launch", T0, (-1500.0, 300.0, 0.0), 250.0, 80.0, math.radians(100.0)),
        LaunchArea(7, "operator", T0, (-1400.0, 310.0, 0.0), 37.0, 37.0, 0.0),
        LaunchArea(9, "link_bearing", T0, (10.0, 20.0, 50.0), 0.0, 0.0, 0.0, math.radians(225.0)),
    ]
    launch, operator, bearing = (ET.fromstring(to_xml(e)) for e in area_cot(areas, SITE))
    assert launch.get("type") == "u-d-c-e"
    ell = launch.find("detail/shape/ellipse")
    assert ell is not None and (ell.get("major"), ell.get("minor"), ell.get("angle")) == ("250", "80", "100")
    assert operator.get("type") == "a-u-G"
    assert bearing.get("type") == "u-rb-a"
    assert bearing.find("detail/bearing").get("value") == "225"  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["xml", "protobuf"])
def test_tcp_sink_reaches_receiver(cot_receiver: CotReceiver, fmt: str) -> None:
    url = f"tcp://127.0.0.1:{cot_receiver.port}?format={fmt}"
    with CotSink(url, SITE) as sink:
        assert sink.send_tracks(_tracks()) == 2
        assert sink.send_alerts([_alert()]) == 1
        # The alert raised track 7 to critical: its symbol turns hostile.
        assert sink.send_tracks(_tracks()) == 2
        sink.send_areas([LaunchArea(7, "launch", T0, (-1500.0, 300.0, 0.0), 250.0, 80.0, 1.0)])
    cot_receiver.wait_for(6)
    assert not cot_receiver.errors
    types = [m.cotEvent.type for m in cot_receiver.parsed]
    assert types == ["a-u-A-M-H-Q", "a-n-A-C-F", "b-m-p-s-p-i", "a-h-A-M-H-Q", "a-n-A-C-F", "u-d-c-e"]
    if fmt == "protobuf":
        assert all(m[0] == 0xBF for m in cot_receiver.messages)
    else:
        assert all(m.startswith(b"<?xml") for m in cot_receiver.messages)
    assert "41 s to zone" in cot_receiver.parsed[2].cotEvent.detail.xmlDetail


def test_tls_sink_with_self_signed_certificate(
    tls_cot_receiver: CotReceiver, tls_cert: tuple[Path, Path]
) -> None:
    url = f"tls://127.0.0.1:{tls_cot_receiver.port}?ca={tls_cert[0]}&format=protobuf"
    with CotSink(url, SITE) as sink:
        assert sink.send_tracks(_tracks()) == 2
    tls_cot_receiver.wait_for(2)
    assert [m.cotEvent.uid for m in tls_cot_receiver.parsed] == ["skyfence.track.7", "skyfence.track.8"]
    assert not tls_cot_receiver.errors


def test_tls_sink_refuses_an_unknown_certificate(tls_cot_receiver: CotReceiver) -> None:
    ctx = ssl.create_default_context()  # system CAs only: the self-signed server is refused
    sink = CotSink(f"tls://127.0.0.1:{tls_cot_receiver.port}", SITE, ssl_context=ctx)
    try:
        assert sink.send_tracks(_tracks()) == 2  # accepted; the sender thread drops them
        assert sink.flush(10.0)
        assert (sink.sent, sink.dropped) == (0, 2)
    finally:
        sink.close()
    assert not tls_cot_receiver.parsed


def test_alert_without_position_is_not_placed(tmp_path: Path) -> None:
    with CotSink(f"file://{tmp_path / 'c.xml'}", SITE) as sink:
        assert sink.send_alerts([_alert()]) == 0  # no position known for track 7 yet
        # ... but its level is remembered for the track symbol.
        sink.send_tracks(_tracks())
    assert 'type="a-h-A-M-H-Q"' in (tmp_path / "c.xml").read_text().splitlines()[0]


def test_sink_survives_a_missing_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = CotSink(f"tcp://127.0.0.1:{port}", SITE, timeout_s=0.5)
    try:
        assert sink.send_tracks(_tracks()) == 2
        assert sink.flush(10.0)
        assert (sink.sent, sink.dropped) == (0, 2)
    finally:
        sink.close()


def test_a_stalled_server_never_stalls_the_pipeline() -> None:
    # A server whose kernel accepts the connection but which never reads: the socket
    # buffers fill and sendall blocks, in the sender thread only.
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        many = Tracks(T0, np.arange(500), np.zeros((500, 6)), np.tile(np.eye(6), (500, 1, 1)))
        sink = CotSink(f"tcp://127.0.0.1:{srv.getsockname()[1]}", SITE, timeout_s=1.0, queue_size=4)
        try:
            start = time.monotonic()
            accepted = sum(sink.send_tracks(many) for _ in range(200))
            elapsed = time.monotonic() - start
        finally:
            sink.close()
    # 100k events offered; the queue took a few batches, the rest were dropped at once.
    assert elapsed < 20.0
    assert accepted < 200 * 500
    assert sink.dropped >= 200 * 500 - accepted


def test_udp_sink_uses_mesh_framing() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        port = rx.getsockname()[1]
        with CotSink(f"udp://127.0.0.1:{port}?format=protobuf", SITE) as sink:
            sink.send_tracks(_tracks())
        got = [rx.recv(65536) for _ in range(2)]
    assert all(g[:3] == b"\xbf\x01\xbf" for g in got)
    assert [takproto.parse_proto(bytearray(g)).cotEvent.uid for g in got] == [
        "skyfence.track.7",
        "skyfence.track.8",
    ]


def test_file_sink_one_event_per_line(tmp_path: Path) -> None:
    path = tmp_path / "out" / "cot.xml"
    with CotSink(f"file://{path}", SITE) as sink:
        sink.send_tracks(_tracks())
        sink.send_tracks(_tracks())
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    assert [ET.fromstring(line).get("uid") for line in lines] == ["skyfence.track.7", "skyfence.track.8"] * 2


def test_bad_urls() -> None:
    with pytest.raises(ConfigError, match="unsupported CoT URL"):
        CotSink("http://127.0.0.1:1", SITE)
    with pytest.raises(ConfigError, match="format"):
        CotSink("tcp://127.0.0.1:1?format=json", SITE)
    with pytest.raises(ConfigError, match="host:port"):
        CotSink("tcp://127.0.0.1", SITE)


@pytest.mark.fuzz
@given(st.lists(st.integers(min_value=0, max_value=2000), max_size=8), st.integers(0, 5))
def test_decode_stream_any_split(cuts: list[int], n: int) -> None:
    evs = track_cot(_tracks(), SITE)
    msgs = [to_proto(evs[k % 2]) if k % 3 else to_xml(evs[k % 2]) for k in range(n)]
    data = b"".join(msgs)
    got: list[bytes] = []
    rest = b""
    last = 0
    for c in sorted(min(c, len(data)) for c in cuts) + [len(data)]:
        out, rest = decode_stream(rest + data[last:c])
        got.extend(out)
        last = c
    assert got == msgs
    assert rest == b""


@pytest.mark.fuzz
@given(st.text(max_size=60), st.text(max_size=60))
def test_any_text_makes_well_formed_cot(callsign: str, remarks: str) -> None:
    """Callsigns and remarks carry decoded identities: any text must give valid XML that
    takproto and ElementTree read back (characters XML cannot hold become U+FFFD)."""
    ev = track_cot(_tracks(), SITE)[0]
    from dataclasses import replace

    ev = replace(ev, callsign=callsign, remarks=remarks)
    root = ET.fromstring(to_xml(ev))
    if callsign:
        got = root.find("detail/contact")
        assert got is not None and len(got.get("callsign") or "") == len(callsign)
    if remarks:
        assert len(root.findtext("detail/remarks") or "") == len(
            remarks.replace("\r\n", "\n").replace("\r", "\n")
        )
    assert takproto.parse_proto(bytearray(to_xml(ev))) is not None
    assert takproto.parse_proto(bytearray(to_proto(ev))).cotEvent.uid == ev.uid
