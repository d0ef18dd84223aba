"""Property tests: encode -> decode round trips within the wire's quantisation for every message
type (and DJI flight info), and the batched Location decoder agrees with the per-message one."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from skyfence.detect.remoteid import (
    Authentication,
    BasicID,
    DjiFlightInfo,
    Location,
    MessagePack,
    OperatorID,
    SelfID,
    System,
    decode_dji_flight_info,
    decode_locations,
    decode_message,
    encode_dji_flight_info,
    encode_message,
)
from skyfence.detect.remoteid.messages import decode_location

ascii_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
version = st.integers(0, 2)
nib = st.integers(0, 15)
lat = st.floats(-90, 90, allow_nan=False)
lon = st.floats(-180, 180, allow_nan=False)
alt = st.none() | st.floats(-999.0, 31000.0)


@st.composite
def locations(draw: st.DrawFn) -> Location:
    return Location(
        status=draw(nib),
        height_type=draw(st.integers(0, 1)),
        direction=draw(st.none() | st.floats(0, 360)),
        speed_horizontal=draw(st.none() | st.floats(0, 254.25)),
        speed_vertical=draw(st.none() | st.floats(-62, 62)),
        latitude=draw(lat),
        longitude=draw(lon),
        altitude_baro=draw(alt),
        altitude_geo=draw(alt),
        height=draw(alt),
        horizontal_accuracy=draw(nib),
        vertical_accuracy=draw(nib),
        baro_accuracy=draw(nib),
        speed_accuracy=draw(nib),
        timestamp_accuracy=draw(nib),
        timestamp=draw(st.none() | st.floats(0, 3600)),
        protocol_version=draw(version),
    )


@st.composite
def systems(draw: st.DrawFn) -> System:
    return System(
        operator_location_type=draw(st.integers(0, 3)),
        classification_type=draw(st.integers(0, 7)),
        operator_latitude=draw(lat),
        operator_longitude=draw(lon),
        area_count=draw(st.integers(0, 0xFFFF)),
        area_radius=draw(st.floats(0, 2550)),
        area_ceiling=draw(alt),
        area_floor=draw(alt),
        category_eu=draw(nib),
        class_eu=draw(nib),
        operator_altitude_geo=draw(alt),
        timestamp=draw(st.integers(0, 2**32 - 1)),
        protocol_version=draw(version),
    )


@st.composite
def auths(draw: st.DrawFn) -> Authentication:
    page = draw(st.integers(0, 15))
    if page == 0:
        return Authentication(
            draw(nib), 0, draw(st.integers(0, 255)), draw(st.integers(0, 255)),
            draw(st.integers(0, 2**32 - 1)), draw(st.binary(min_size=17, max_size=17)), draw(version),
        )  # fmt: skip
    return Authentication(
        draw(nib), page, None, None, None, draw(st.binary(min_size=23, max_size=23)), draw(version)
    )


basic_ids = st.builds(BasicID, nib, nib, ascii_text, version)
self_ids = st.builds(
    SelfID,
    st.integers(0, 255),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=23),
    version,
)
operator_ids = st.builds(OperatorID, st.integers(0, 255), ascii_text, version)
singles = basic_ids | locations() | auths() | self_ids | systems() | operator_ids


def _near(got: float | None, want: float | None, tol: float) -> bool:
    if want is None:
        return got is None
    return got is not None and abs(got - want) <= tol + 1e-9


def _latlon_ok(glat: float | None, glon: float | None, wlat: float, wlon: float) -> bool:
    if round(wlat * 1e7) == 0 and round(wlon * 1e7) == 0:
        return glat is None and glon is None
    return _near(glat, wlat, 0.5e-7) and _near(glon, wlon, 0.5e-7)


def _alt_ok(got: float | None, want: float | None) -> bool:
    # Truncated to 0.5 m steps toward -1000 m.
    if want is None:
        return got is None
    return got is not None and -1e-6 <= want - got < 0.5 + 1e-6


@given(locations())
def test_location_round_trip(msg: Location) -> None:
    got = decode_message(encode_message(msg))
    assert isinstance(got, Location)
    assert (got.status, got.height_type, got.protocol_version) == (
        msg.status,
        msg.height_type,
        msg.protocol_version,
    )
    if msg.direction is None:
        assert got.direction is None
    else:
        assert got.direction is not None
        diff = abs((got.direction - msg.direction + 180.0) % 360.0 - 180.0)
        assert diff <= 0.5 + 1e-9
    if msg.speed_horizontal is None:
        assert got.speed_horizontal is None
    else:
        step = 0.25 if msg.speed_horizontal <= 63.75 else 0.75
        assert _near(got.speed_horizontal, msg.speed_horizontal, step / 2)
    if msg.speed_vertical is None:
        assert got.speed_vertical is None
    else:
        assert got.speed_vertical is not None and abs(got.speed_vertical) <= abs(msg.speed_vertical)
        assert abs(msg.speed_vertical - got.speed_vertical) < 0.5
    assert msg.latitude is not None and msg.longitude is not None
    assert _latlon_ok(got.latitude, got.longitude, msg.latitude, msg.longitude)
    for name in ("altitude_baro", "altitude_geo", "height"):
        assert _alt_ok(getattr(got, name), getattr(msg, name)), name
    for name in (
        "horizontal_accuracy",
        "vertical_accuracy",
        "baro_accuracy",
        "speed_accuracy",
        "timestamp_accuracy",
    ):
        assert getattr(got, name) == getattr(msg, name)
    if msg.timestamp is None:
        assert got.timestamp is None
    else:
        assert got.timestamp is not None and -1e-6 <= msg.timestamp - got.timestamp < 0.1 + 1e-6


@given(systems())
def test_system_round_trip(msg: System) -> None:
    got = decode_message(encode_message(msg))
    assert isinstance(got, System)
    for name in ("operator_location_type", "classification_type", "area_count", "category_eu", "class_eu",
                 "timestamp", "protocol_version"):  # fmt: skip
        assert getattr(got, name) == getattr(msg, name), name
    assert msg.operator_latitude is not None and msg.operator_longitude is not None
    assert _latlon_ok(
        got.operator_latitude, got.operator_longitude, msg.operator_latitude, msg.operator_longitude
    )
    assert 0.0 <= msg.area_radius - got.area_radius < 10.0
    for name in ("area_ceiling", "area_floor", "operator_altitude_geo"):
        assert _alt_ok(getattr(got, name), getattr(msg, name)), name


@given(basic_ids | auths() | self_ids | operator_ids)
def test_exact_round_trip(msg: BasicID | Authentication | SelfID | OperatorID) -> None:
    assert decode_message(encode_message(msg)) == msg


@given(st.lists(singles, max_size=9), version)
def test_pack_round_trip(msgs: list[BasicID], v: int) -> None:
    pack = MessagePack(tuple(msgs), v)
    got = decode_message(encode_message(pack))
    assert isinstance(got, MessagePack)
    assert len(got.messages) == len(msgs) and got.protocol_version == v and got.missing_bytes == 0
    for a, b in zip(got.messages, msgs, strict=True):
        assert type(a) is type(b)
        # Each message decodes to what it decodes to alone (quantised once, then stable).
        assert a == decode_message(encode_message(b))
        assert decode_message(encode_message(a)) == a


@given(
    st.builds(
        DjiFlightInfo,
        oui=st.just("26:37:12"),
        version=st.just(2),
        sequence_number=st.integers(0, 0xFFFF),
        state_info=st.integers(0, 0xFFFF),
        serial_number=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16),
        latitude=st.floats(-89, 89),
        longitude=st.floats(-179, 179),
        altitude=st.integers(-1000, 10000).map(float),
        height=st.integers(-3000, 30000).map(lambda v: v / 10),
        v_north=st.integers(-30000, 30000).map(lambda v: v / 100),
        v_east=st.integers(-30000, 30000).map(lambda v: v / 100),
        v_up=st.integers(-30000, 30000).map(lambda v: v / 100),
        yaw=st.integers(-18000, 18000).map(lambda v: v / 100),
        gps_time=st.integers(0, 2**63),
        pilot_latitude=st.floats(-89, 89),
        pilot_longitude=st.floats(-179, 179),
        home_latitude=st.floats(-89, 89),
        home_longitude=st.floats(-179, 179),
        product_type=st.integers(0, 255),
        uuid=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
    )
)
def test_dji_round_trip(info: DjiFlightInfo) -> None:
    got = decode_dji_flight_info(encode_dji_flight_info(info))
    # Half a wire step (1e-7 rad) plus the rounding to 7 decimals of the degrees.
    tol = math.degrees(0.5e-7) + 0.5e-7 + 1e-9
    for name in (
        "latitude",
        "longitude",
        "pilot_latitude",
        "pilot_longitude",
        "home_latitude",
        "home_longitude",
    ):
        want = getattr(info, name)
        val = getattr(got, name)
        if round(math.radians(want) * 1e7) == 0:
            continue
        assert val is not None and abs(val - want) <= tol, name
    for name in (
        "sequence_number",
        "state_info",
        "serial_number",
        "altitude",
        "gps_time",
        "product_type",
        "uuid",
    ):
        assert getattr(got, name) == getattr(info, name), name
    for name in ("height", "v_north", "v_east", "v_up", "yaw"):
        assert math.isclose(getattr(got, name), getattr(info, name), abs_tol=1e-9), name


_COLUMNS = (
    "status", "height_type", "direction", "speed_horizontal", "speed_vertical", "latitude", "longitude",
    "altitude_baro", "altitude_geo", "height", "horizontal_accuracy", "vertical_accuracy", "baro_accuracy",
    "speed_accuracy", "timestamp_accuracy", "timestamp", "protocol_version",
)  # fmt: skip


@given(st.lists(st.binary(min_size=24, max_size=24), min_size=1, max_size=50), st.lists(st.integers(0, 15)))
def test_batch_decoder_agrees_with_per_message(bodies: list[bytes], versions: list[int]) -> None:
    rows = [
        bytes([0x10 | (versions[i % len(versions)] if versions else 0)]) + b for i, b in enumerate(bodies)
    ]
    batch = decode_locations(np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, 25))
    for i, row in enumerate(rows):
        if row[0] & 0x0F > 2:
            assert not batch.valid[i]
            continue
        assert batch.valid[i]
        one = decode_location(row)
        for name in _COLUMNS:
            want = getattr(one, name)
            got = getattr(batch, name)[i]
            if want is None:
                assert np.isnan(got), name
            else:
                assert got == want, (name, got, want)
