"""SAPIENT (BSI Flex 335 v2.0): generated code in sync, framing, reports <-> Detections,
tracks/alerts out, a sensor node and a fusion node over loopback TCP, and fuzzing."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyfence.errors import DecodeError
from skyfence.geo import Site
from skyfence.model.alert import Alert, AlertState, ThreatLevel
from skyfence.model.tracks import Tracks, TrackStatus
from skyfence.share import sapient_proto
from skyfence.share.sapient import (
    ICD_VERSION,
    FrameReader,
    SapientClient,
    SapientMessage,
    SapientServer,
    SapientTranslator,
    detection_reports_to_detections,
    encode_frame,
    parse_message,
    registration_message,
    status_report,
    task_ack_message,
    task_message,
    ulid,
)
from skyfence.share.sapient_proto import location_pb2, range_bearing_pb2

SITE = Site(51.5, -1.2, 80.0)
NODE = "3f2b6a1e-7c44-4e0f-9d1a-2b5c8e9f0a11"


def _report(t: float, rng: random.Random, **kw: Any) -> Any:
    msg = SapientMessage()
    msg.timestamp.seconds = int(t)
    msg.timestamp.nanos = round((t - int(t)) * 1e9)
    msg.node_id = kw.get("node", NODE)
    dr = msg.detection_report
    dr.report_id = ulid(t, rng)
    dr.object_id = kw.get("object_id", ulid(t, rng))
    if "latlon" in kw:
        lat, lon, alt = kw["latlon"]
        dr.location.x, dr.location.y = lon, lat
        if alt is not None:
            dr.location.z = alt
        dr.location.coordinate_system = kw.get("cs", location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M)
        dr.location.datum = location_pb2.LOCATION_DATUM_WGS84_E
    else:
        rng_m, az, el = kw["rb"]
        rb = dr.range_bearing
        if rng_m is not None:
            rb.range = rng_m
        rb.azimuth = az
        if el is not None:
            rb.elevation = el
        rb.coordinate_system = kw.get("cs", range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M)
        rb.datum = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
    for cls, conf in kw.get("classes", []):
        c = dr.classification.add()
        c.type, c.confidence = cls, conf
    if "ident" in kw:
        dr.id = kw["ident"]
    return msg


def test_generated_code_matches_a_fresh_protoc_run(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    fresh = sapient_proto.generate(tmp_path)
    committed = sorted(sapient_proto.PROTO_DIR.glob("*_pb2.py*"))
    assert len(fresh) == len(committed) == 2 * len(list(sapient_proto.PROTO_DIR.glob("*.proto"))) == 32
    for new in fresh:
        old = sapient_proto.PROTO_DIR / new.name
        assert new.read_bytes() == old.read_bytes(), (
            f"{new.name} is stale: run python -m skyfence.share.sapient_proto"
        )


def test_wire_format_is_the_standards() -> None:
    # Field numbers fix the bytes: node_id is field 2, detection_report field 7, its location
    # field 6 with x as field 1 (a double). A hand-built frame must read back the same.
    msg = SapientMessage()
    msg.node_id = "n"
    msg.detection_report.location.x = 1.5
    body = msg.SerializeToString()
    assert body.hex() == "12016e" + "3a0b" + "3209" + "09" + "000000000000f83f"
    frame = encode_frame(msg)
    assert frame[:4] == len(body).to_bytes(4, "little") and frame[4:] == body
    assert SapientMessage.DESCRIPTOR.full_name == "sapient_msg.bsi_flex_335_v2_0.SapientMessage"


def test_frame_reader_reassembles_and_rejects_oversized() -> None:
    rng = random.Random(1)
    msgs = [_report(100.0 + i, rng, latlon=(51.5, -1.2, 100.0)) for i in range(5)]
    stream = b"".join(encode_frame(m) for m in msgs)
    reader = FrameReader()
    got = [p for i in range(len(stream)) for p in reader.feed(stream[i : i + 1])]
    assert [parse_message(p) for p in got] == msgs and reader.pending == 0
    with pytest.raises(DecodeError, match="frame_too_large"):
        FrameReader(max_frame=1000).feed(b"\xff\xff\xff\x7f")


def test_parse_message_checks_mandatory_fields() -> None:
    rng = random.Random(2)
    good = _report(5.0, rng, latlon=(51.5, -1.2, None))
    assert parse_message(good.SerializeToString()) == good
    for mutate, field in (
        (lambda m: m.ClearField("node_id"), "node_id"),
        (lambda m: m.ClearField("timestamp"), "timestamp"),
        (lambda m: m.detection_report.ClearField("object_id"), "object_id"),
        (lambda m: m.detection_report.ClearField("location"), "location"),
        (lambda m: m.ClearField("detection_report"), "content"),
    ):
        m = SapientMessage()
        m.CopyFrom(good)
        mutate(m)
        with pytest.raises(DecodeError, match=field) as exc:
            parse_message(m.SerializeToString())
        assert exc.value.reason == "missing_field"
    with pytest.raises(DecodeError, match="bad_protobuf"):
        parse_message(b"\x0a\xff\xff\xff")


def test_detection_reports_into_detections() -> None:
    rng = random.Random(3)
    msgs = [
        _report(
            10.0,
            rng,
            latlon=(51.5, -1.2, 180.0),
            classes=[("UAV Rotary Wing", 0.8), ("Bird", 0.2)],
            ident="SN1",
        ),
        _report(11.0, rng, latlon=(51.501, -1.2, 180.0)),
        _report(
            12.0,
            rng,
            latlon=(math.radians(51.5), math.radians(-1.199), 80.0),
            cs=location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M,
        ),
        _report(13.0, rng, latlon=(51.5, -1.2, None)),
        _report(
            14.0, rng, rb=(1.5, 90.0, 3.0), cs=range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM
        ),
        _report(
            15.0,
            rng,
            rb=(None, math.pi, None),
            cs=range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_M,
        ),
        _report(16.0, rng, latlon=(51.5, -1.2, 1.0), cs=location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M),
        _report(17.0, rng, latlon=(95.0, -1.2, 1.0)),
    ]
    huge = _report(18.0, rng, latlon=(51.5, -1.2, 10.0))
    huge.detection_report.location.z_error = 1e200  # its square overflows: found by fuzzing
    msgs.append(huge)
    errors: Counter[str] = Counter()
    dets = {(d.kind, d.dim): d for d in detection_reports_to_detections(msgs, SITE, errors)}
    assert errors == Counter({"unsupported_coordinates": 1, "invalid_location": 1, "invalid_error": 1})
    pos3 = dets[("position", 3)]
    assert len(pos3) == 3 and pos3.sensor_id == NODE
    np.testing.assert_allclose(pos3.z[0], [0.0, 0.0, 100.0], atol=0.01)
    assert pos3.z[1, 1] == pytest.approx(111.25, abs=0.5)  # 0.001 deg of latitude north
    assert pos3.z[2, 0] == pytest.approx(69.4, abs=0.5)  # 0.001 deg of longitude east (radians in)
    assert pos3.attrs["identity"][0] == "SN1" and pos3.attrs["sapient_class"][0] == "UAV Rotary Wing"
    assert pos3.cls_lik is not None and np.argmax(pos3.cls_lik[0]) == 1  # multirotor
    assert dets[("position", 2)].z.shape == (1, 2)
    polar = dets[("polar", 3)]
    np.testing.assert_allclose(polar.z[0], [1500.0, math.pi / 2, math.radians(3.0)])
    bearing = dets[("bearing", 1)]
    assert bearing.z[0, 0] == pytest.approx(math.pi)
    assert all(np.all(np.linalg.eigvalsh(d.R) > 0) for d in dets.values())


def _tracks(t: float) -> Tracks:
    x = np.array([[100.0, -50.0, 60.0, 5.0, 1.0, 0.0], [-300.0, 800.0, 120.0, -2.0, 0.0, 0.5]])
    P = np.stack([np.diag([25.0, 25.0, 100.0, 1.0, 1.0, 1.0])] * 2)
    cls = np.array([[0.7, 0.2, 0.05, 0.03, 0.01, 0.01], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    return Tracks(
        t,
        [7, 9],
        x,
        P,
        cls,
        status=[TrackStatus.CONFIRMED, TrackStatus.COASTING],
        sensors=[1, 3],
        sensor_names=("radar-1", "rf-2"),
        identity=["", "4ca7a8"],
    )


def test_tracks_out_and_back_in() -> None:
    tr = SapientTranslator(NODE, SITE, random.Random(4))
    first = tr.detection_reports(_tracks(1000.0))
    again = tr.detection_reports(_tracks(1001.0))
    assert [m.detection_report.object_id for m in first] == [m.detection_report.object_id for m in again]
    assert first[0].detection_report.report_id != again[0].detection_report.report_id
    assert first[1].detection_report.state == "coasting" and first[1].detection_report.id == "4ca7a8"
    msgs = [parse_message(encode_frame(m)[4:]) for m in first]
    (det,) = detection_reports_to_detections(msgs, SITE)
    np.testing.assert_allclose(det.z, _tracks(0).x[:, :3], atol=1e-3)
    # The reported location errors (degrees) come back as the track's 5 m horizontal sigma.
    np.testing.assert_allclose(np.sqrt(det.R[:, 0, 0]), 5.0, rtol=1e-3)
    np.testing.assert_allclose(det.attrs["ve_mps"], [5.0, -2.0])
    assert det.cls_lik is not None and list(np.argmax(det.cls_lik, axis=1)) == [0, 4]


def test_alert_out() -> None:
    tr = SapientTranslator(NODE, SITE, random.Random(5))
    tr.detection_reports(_tracks(1000.0))
    alert = Alert("a-1", 1000.5, 7, "base", ThreatLevel.HIGH, AlertState.NEW, 42.0, "FPV inbound", 0.9, 0.8)
    msg = tr.alert(alert)
    al = msg.alert
    assert al.alert_type == al.ALERT_TYPE_CRITICAL and al.status == al.ALERT_STATUS_ACTIVE
    assert al.priority == al.DISCRETE_PRIORITY_HIGH and al.description == "FPV inbound"
    assert al.associated_detection[0].object_id == tr.object_ids[7]
    assert al.location.y == pytest.approx(SITE.to_wgs84([100.0, -50.0, 60.0])[0])
    assert "time_to_zone_s 42.0" in al.additional_information
    resolved = tr.alert(alert.with_state(AlertState.RESOLVED, 1010.0))
    assert resolved.alert.alert_id == al.alert_id and resolved.alert.status == al.ALERT_STATUS_CLEAR
    assert parse_message(encode_frame(resolved)[4:]) == resolved


def test_sensor_node_and_fusion_node_over_loopback() -> None:
    async def run() -> tuple[list[Any], Counter[str], Any]:
        received: list[Any] = []
        server = SapientServer(
            lambda msg, peer: received.append(msg), node_id="fusion-node", clock=lambda: 50.0
        )
        port = await server.start()
        rng = random.Random(6)
        client = SapientClient("127.0.0.1", port)
        await client.connect()
        ack = await client.register(registration_message(NODE, 100.0, "sim-radar", "NODE_TYPE_RADAR"))
        await client.send(status_report(NODE, 100.5, rng, SITE))
        # Garbage in a well-formed frame: counted, and the connection carries on.
        assert client._writer is not None
        client._writer.write(b"\x05\x00\x00\x00hello")
        reports = [_report(101.0 + i, rng, latlon=(51.5 + i * 1e-4, -1.2, 150.0)) for i in range(10)]
        await client.send(reports)
        for _ in range(200):
            if len(received) >= 12:
                break
            await asyncio.sleep(0.01)
        # The fusion node cues the sensor; the sensor accepts the task.
        task = task_message("fusion-node", 120.0, NODE, rng, look_at=(51.5, -1.2, 150.0))
        await server.send_to(NODE, task)
        got_task = await client.receive()
        assert got_task.WhichOneof("content") == "task" and got_task.destination_id == NODE
        assert got_task.task.command.look_at.location_list.locations[0].y == 51.5
        await client.send(task_ack_message(NODE, 120.5, "fusion-node", got_task.task.task_id, True))
        for _ in range(200):
            if len(received) >= 13:
                break
            await asyncio.sleep(0.01)
        await client.close()
        await server.close()
        assert server.registered[NODE].icd_version == ICD_VERSION
        return received, server.errors, ack

    received, errors, ack = asyncio.run(run())
    assert ack.acceptance
    kinds = [m.WhichOneof("content") for m in received]
    assert kinds == ["registration", "status_report"] + ["detection_report"] * 10 + ["task_ack"]
    assert received[-1].task_ack.task_status == received[-1].task_ack.TASK_STATUS_ACCEPTED
    assert errors["bad_protobuf"] + errors["missing_field"] == 1
    (det,) = detection_reports_to_detections(received, SITE)
    assert len(det) == 10 and det.sensor_id == NODE
    assert np.all(np.diff(det.z[:, 1]) == pytest.approx(11.125, abs=0.1))


# ------------------------------------------------------------------------------ fuzzing
def _seed_payloads() -> list[bytes]:
    rng = random.Random(7)
    tr = SapientTranslator(NODE, SITE, rng)
    msgs = [
        _report(1.0, rng, latlon=(51.5, -1.2, 100.0), classes=[("Bird", 0.5)]),
        _report(2.0, rng, rb=(100.0, 45.0, 2.0)),
        registration_message(NODE, 3.0),
        status_report(NODE, 4.0, rng, SITE),
        task_message("fusion", 4.5, NODE, rng, look_at=(51.5, -1.2, 100.0)),
        task_ack_message(NODE, 4.6, "fusion", "01ARZ3NDEKTSV4RRFFQ69G5FAV", False, "busy"),
        *tr.detection_reports(_tracks(5.0)),
        tr.alert(Alert("a", 5.0, 7, "z", ThreatLevel.LOW, AlertState.NEW, math.inf, "r")),
    ]
    return [m.SerializeToString() for m in msgs]


_SEEDS = _seed_payloads()


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, bit in flips:
        if b:
            b[pos % len(b)] ^= 1 << bit
    return bytes(b)


_payloads = st.one_of(
    st.tuples(st.sampled_from(_SEEDS), st.integers(0, 2000)).map(lambda p: p[0][: p[1] % (len(p[0]) + 1)]),
    st.tuples(st.sampled_from(_SEEDS), st.binary(max_size=64)).map(lambda p: p[0] + p[1]),
    st.tuples(
        st.sampled_from(_SEEDS), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 7)), max_size=6)
    ).map(lambda p: _flip(p[0], p[1])),
    st.binary(max_size=200),
)


@pytest.mark.fuzz
@given(_payloads)
def test_fuzz_sapient_messages(payload: bytes) -> None:
    try:
        msg = parse_message(payload)
    except DecodeError as exc:
        assert exc.reason in ("bad_protobuf", "missing_field")
        return
    errors: Counter[str] = Counter()
    for det in detection_reports_to_detections([msg], SITE, errors):
        assert np.isfinite(det.z).all() and np.isfinite(det.R).all()


@pytest.mark.fuzz
@given(
    st.lists(
        st.one_of(_payloads.map(lambda p: len(p).to_bytes(4, "little") + p), st.binary(max_size=12)),
        max_size=6,
    )
)
def test_fuzz_frame_stream(chunks: list[bytes]) -> None:
    reader = FrameReader(max_frame=1 << 16)
    errors: Counter[str] = Counter()
    try:
        for chunk in chunks:
            for payload in reader.feed(chunk):
                try:
                    parse_message(payload)
                except DecodeError as exc:
                    errors[exc.reason] += 1
    except DecodeError as exc:
        assert exc.reason == "frame_too_large"
