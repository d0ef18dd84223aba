"""Golden tests: every Remote ID / DJI DroneID frame of every shared capture, every field, against
the reference decodings (opendroneid-core-c for ODID, the DroneSecurity layout for DJI).

Tolerances: the reference prints quantised values to fixed decimals (positions to 7, speeds
and direction to 2, altitudes and time to 1), so floats are compared to 1e-7 deg for
positions and 1e-6 otherwise; everything else is exact. Where our decoder says "unknown"
(``None``) the reference prints the wire's sentinel instead: direction > 360, horizontal speed
255, vertical speed 63, altitude -1000, latitude/longitude 0/0 or out of range; authentication pages after the
first print 0 for the fields only page 0 carries. A text field filled to its full width
has no terminating NUL, and the reference prints on past its end (one corrupted Bluetooth
frame): there only the field's width is compared.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from skyfence.detect.remoteid import (
    Authentication,
    BasicID,
    DjiFlightInfo,
    Location,
    OperatorID,
    SelfID,
    System,
    decode_capture,
    decode_message,
    encode_message,
)
from skyfence.detect.remoteid.encode import encode_location, encode_system
from skyfence.detect.remoteid.messages import MessagePack

from ._data import DJI_CAPTURES, ODID_CAPTURES, need, read_jsonl

_SENTINEL = {
    "Direction": lambda v: v > 360,
    "SpeedHorizontal": lambda v: v == 255.0,
    "SpeedVertical": lambda v: v == 63.0,
    "AltitudeBaro": lambda v: v == -1000.0,
    "AltitudeGeo": lambda v: v == -1000.0,
    "Height": lambda v: v == -1000.0,
    "AreaCeiling": lambda v: v == -1000.0,
    "AreaFloor": lambda v: v == -1000.0,
    "OperatorAltitudeGeo": lambda v: v == -1000.0,
}

_FIELDS: dict[type, dict[str, str]] = {
    BasicID: {"IDType": "id_type", "UAType": "ua_type", "UASID": "uas_id"},
    Location: {
        "Status": "status",
        "Direction": "direction",
        "SpeedHorizontal": "speed_horizontal",
        "SpeedVertical": "speed_vertical",
        "Latitude": "latitude",
        "Longitude": "longitude",
        "AltitudeBaro": "altitude_baro",
        "AltitudeGeo": "altitude_geo",
        "HeightType": "height_type",
        "Height": "height",
        "HorizAccuracy": "horizontal_accuracy",
        "VertAccuracy": "vertical_accuracy",
        "BaroAccuracy": "baro_accuracy",
        "SpeedAccuracy": "speed_accuracy",
        "TSAccuracy": "timestamp_accuracy",
        "TimeStamp": "timestamp",
    },
    Authentication: {
        "AuthType": "auth_type",
        "DataPage": "page_number",
        "LastPageIndex": "last_page_index",
        "Length": "length",
        "Timestamp": "timestamp",
    },
    SelfID: {"DescType": "description_type", "Desc": "description"},
    System: {
        "OperatorLocationType": "operator_location_type",
        "ClassificationType": "classification_type",
        "OperatorLatitude": "operator_latitude",
        "OperatorLongitude": "operator_longitude",
        "AreaCount": "area_count",
        "AreaRadius": "area_radius",
        "AreaCeiling": "area_ceiling",
        "AreaFloor": "area_floor",
        "CategoryEU": "category_eu",
        "ClassEU": "class_eu",
        "OperatorAltitudeGeo": "operator_altitude_geo",
        "Timestamp": "timestamp",
    },
    OperatorID: {"OperatorIdType": "operator_id_type", "OperatorId": "operator_id"},
}
_WIDTH = {"UASID": 20, "OperatorId": 20, "Desc": 23}
_KINDS = {
    "BasicID": BasicID,
    "Location": Location,
    "Auth": Authentication,
    "SelfID": SelfID,
    "System": System,
    "OperatorID": OperatorID,
}


def compare_message(got: object, want: dict[str, Any], where: str) -> None:
    """Every field of one reference message against ours (see the module docstring)."""
    cls = _KINDS[want["kind"]]
    assert isinstance(got, cls), f"{where}: expected {cls.__name__}, got {type(got).__name__}"
    assert got.protocol_version == want["proto_version"], where
    latlon_unknown = {}
    for a, b in (("Latitude", "Longitude"), ("OperatorLatitude", "OperatorLongitude")):
        if a in want:
            la, lo = want[a], want[b]
            latlon_unknown[a] = latlon_unknown[b] = (la == 0 and lo == 0) or abs(la) > 90 or abs(lo) > 180
    for key, attr in _FIELDS[cls].items():
        exp = want[key]
        val = getattr(got, attr)
        msg = f"{where}: {key}={exp!r}, got {attr}={val!r}"
        if val is None:
            unknown = (
                _SENTINEL.get(key, lambda v: False)(exp)
                or latlon_unknown.get(key, False)
                or (cls is Authentication and want["DataPage"] > 0 and exp == 0)
            )
            assert unknown, msg
        elif isinstance(exp, float) or isinstance(val, float):
            tol = 1e-7 if "itude" in key and "Alt" not in key else 1e-6
            assert math.isclose(val, exp, abs_tol=tol), msg
        else:
            if key in _WIDTH and len(exp) > _WIDTH[key]:
                # A full-width field has no NUL; the reference then prints on past its end.
                exp = exp[: _WIDTH[key]]
            assert val == exp, msg
    if cls is Authentication:
        assert isinstance(got, Authentication)
        assert got.data.hex() == want["AuthData_hex"], where


def _expected_frames(shared: Path, capture: str, expected: str) -> dict[int, dict[str, Any]]:
    name = Path(capture).name
    out = {}
    for rec in read_jsonl(need(shared, expected)):
        file, rest = rec["frame"].split("#")
        if file == name:
            out[int(rest.split("@")[0])] = rec
    return out


@pytest.mark.parametrize("capture", sorted(ODID_CAPTURES))
def test_odid_capture_matches_reference(shared_data: Path, capture: str) -> None:
    expected = _expected_frames(shared_data, capture, ODID_CAPTURES[capture])
    # The reference read every frame, CRC-failed Bluetooth ones included.
    result = decode_capture(need(shared_data, capture), keep_bad_crc=True)
    got: dict[int, tuple[float, list[object], bytes]] = {}
    for dp in result.decoded:
        msgs = list(dp.messages())
        if msgs and not isinstance(dp.message, DjiFlightInfo):
            got[dp.payload.index] = (dp.payload.t, msgs, dp.payload.data)
    assert sorted(got) == sorted(expected)
    n_msgs = 0
    for index, rec in expected.items():
        t, msgs, data = got[index]
        where = f"{capture}#{index}"
        assert math.isclose(t, float(rec["frame"].split("@")[1]), abs_tol=2e-6), where
        assert len(msgs) == len(rec["messages"]), where
        packed = isinstance(decode_message(data), MessagePack)
        for k, (m, want) in enumerate(zip(msgs, rec["messages"], strict=True)):
            compare_message(m, want, f"{where} message {k}")
            raw = data[3 + 25 * k : 3 + 25 * (k + 1)] if packed else data[:25]
            assert raw.ljust(25, b"\x00").hex() == want["raw_hex"], where
            # Re-encoding what we decoded gives back the same message.
            assert decode_message(encode_message(m)) == m, where  # type: ignore[arg-type]
            n_msgs += 1
    assert n_msgs >= len(expected)


def test_odid_reference_vectors_decode_and_encode_exactly(shared_data: Path) -> None:
    recs = read_jsonl(need(shared_data, "odid-core-c-testvectors/expected_decoded.jsonl"))
    assert len(recs) == 7
    for rec in recs:
        (want,) = rec["messages"]
        raw = bytes.fromhex(want["raw_hex"])
        msg = decode_message(raw)
        compare_message(msg, want, rec["frame"])
        assert encode_message(msg).hex() == want["raw_hex"], rec["frame"]  # type: ignore[arg-type]


def test_encoder_quantises_the_reference_inputs_like_the_reference(shared_data: Path) -> None:
    """The library's *inputs* (before quantisation) encode to the library's bytes."""
    recs = {
        r["frame"]: r["messages"][0]
        for r in read_jsonl(need(shared_data, "odid-core-c-testvectors/expected_decoded.jsonl"))
    }
    loc = Location(
        status=2, height_type=1, direction=215.7, speed_horizontal=5.4, speed_vertical=5.25,
        latitude=45.539309, longitude=-122.966389, altitude_baro=100.0, altitude_geo=110.0, height=80.0,
        horizontal_accuracy=11, vertical_accuracy=6, baro_accuracy=5, speed_accuracy=3, timestamp_accuracy=2,
        timestamp=360.52,
    )  # fmt: skip
    assert encode_location(loc).hex() == recs["test_inout:Location"]["raw_hex"]
    sys = System(
        operator_location_type=0, classification_type=1, operator_latitude=45.539319,
        operator_longitude=-122.966379, area_count=35, area_radius=75.0, area_ceiling=176.9, area_floor=41.7,
        category_eu=2, class_eu=4, operator_altitude_geo=20.5, timestamp=28000000,
    )  # fmt: skip
    assert encode_system(sys).hex() == recs["test_inout:System"]["raw_hex"]


def _dji_expected(shared: Path) -> dict[tuple[str, int], dict[str, Any]]:
    out = {}
    for rec in read_jsonl(need(shared, "remoteidreceiver-wifi-pcaps/expected_decoded_dji_wifi.jsonl")):
        file, index = rec["frame"].split("#")
        out[(file, int(index))] = rec
    return out


def test_dji_droneid_matches_reference(shared_data: Path) -> None:
    expected = _dji_expected(shared_data)
    assert len(expected) == 87
    seen = 0
    for capture in DJI_CAPTURES:
        name = Path(capture).name
        result = decode_capture(need(shared_data, capture))
        for dp in result.decoded:
            m = dp.message
            assert isinstance(m, DjiFlightInfo)
            want = expected[(name, dp.payload.index)]
            where = want["frame"]
            assert dp.payload.data.hex() == want["ie_hex"], where
            exact = {
                "oui": m.oui,
                "version": m.version,
                "sequence_number": m.sequence_number,
                "state_info": m.state_info,
                "serial_number": m.serial_number,
                "altitude_m": m.altitude,
                "height_raw": round(m.height * 10),
                "v_north": round(m.v_north * 100),
                "v_east": round(m.v_east * 100),
                "v_up": round(m.v_up * 100),
                "yaw_raw": round(m.yaw * 100),
                "gps_time_ms": m.gps_time,
                "product_type": m.product_type,
                "uuid_as_decoded": m.uuid,
            }
            for key, val in exact.items():
                assert val == want[key], f"{where}: {key}={want[key]!r}, got {val!r}"
            assert math.isclose(m.height, want["height_m"], abs_tol=1e-9), where
            for key in (
                "latitude",
                "longitude",
                "pilot_latitude",
                "pilot_longitude",
                "home_latitude",
                "home_longitude",
            ):
                val = getattr(m, key)
                assert val is not None and math.isclose(val, want[key], abs_tol=1e-7), f"{where}: {key}"
            seen += 1
        assert not result.errors, result.errors
    assert seen == len(expected)


def test_authentication_pages_assemble(shared_data: Path) -> None:
    from skyfence.detect.remoteid.messages import assemble_authentication, odid_time

    result = decode_capture(
        need(shared_data, "bkerler-droneid-pcaps/wireless_RID_test_linux_transmitter.pcapng")
    )
    pages = [m for dp in result.decoded for m in dp.messages() if isinstance(m, Authentication)]
    assert sorted({p.page_number for p in pages}) == [0, 1, 2]
    data = assemble_authentication(pages)
    assert data == b"12345678901234567" + b"12345678901234567890123" * 2
    assert len(data) == 63
    assert assemble_authentication([p for p in pages if p.page_number != 1]) is None
    # 28,000,000 s after 2019-01-01 is 2019-11-16.
    assert odid_time(pages[0].timestamp or 0) == 1546300800 + 28_000_000
