from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pymap3d
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyfence.errors import FormatError
from skyfence.geo import Site
from skyfence.model import (
    CLASSES,
    Alert,
    AlertState,
    Detections,
    Sensor,
    SensorRegistry,
    TargetInfo,
    ThreatLevel,
    Tracks,
    Truth,
    Zone,
    invalid_rows,
)
from skyfence.model import records as rec


def test_class_order_is_the_contract() -> None:
    assert CLASSES == ("fpv", "multirotor", "fixed_wing", "bird", "aircraft", "unknown")


@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-179, 179),
    e=st.floats(-20000, 20000),
    n=st.floats(-20000, 20000),
    u=st.floats(-500, 3000),
)
def test_enu_matches_pymap3d_and_round_trips(lat: float, lon: float, e: float, n: float, u: float) -> None:
    site = Site(lat, lon, 100.0)
    geo = site.to_wgs84([e, n, u])
    ref = pymap3d.enu2geodetic(e, n, u, lat, lon, 100.0)
    assert geo[0] == pytest.approx(ref[0], abs=1e-9)
    assert geo[1] == pytest.approx(ref[1], abs=1e-9)
    assert geo[2] == pytest.approx(ref[2], abs=1e-4)
    back = site.to_enu(geo[0], geo[1], geo[2])
    np.testing.assert_allclose(back, [e, n, u], atol=1e-4)


def test_site_rejects_bad_latitude() -> None:
    with pytest.raises(ValueError, match="latitude"):
        Site(91.0, 0.0)


def _dets(n: int = 4) -> Detections:
    rng = np.random.default_rng(1)
    return Detections(
        "radar-1",
        "polar",
        np.arange(n, dtype=float),
        rng.normal(size=(n, 3)) + [1000, 0, 0],
        np.tile(np.diag([25.0, 1e-4, 1e-4]), (n, 1, 1)),
        attrs={"snr": rng.uniform(5, 20, n), "protocol": np.array(["x"] * n)},
    )


def test_detections_are_frozen_and_checked() -> None:
    d = _dets()
    assert len(d) == 4 and d.dim == 3
    with pytest.raises(ValueError):
        d.z[0, 0] = 1.0
    with pytest.raises(ValueError, match="R must have shape"):
        Detections("s", "position", [0.0], [[1.0, 2.0]], np.eye(3)[None])
    with pytest.raises(ValueError, match="bearing measurements have 1 or 2"):
        Detections("s", "bearing", [0.0], [[1.0, 2.0, 3.0]], np.eye(3)[None])
    empty = Detections.empty("s", "bearing")
    assert len(empty) == 0 and empty.dim == 1


def test_concat_take_sorted() -> None:
    d = _dets()
    both = Detections.concat([d.take([2, 3]), d.take([0, 1])]).sorted()
    np.testing.assert_array_equal(both.t, d.t)
    np.testing.assert_array_equal(both.attrs["snr"], d.attrs["snr"])


def test_invalid_rows_names_sensor_and_time() -> None:
    R = np.tile(np.eye(2), (3, 1, 1))
    R[1] = [[1.0, 2.0], [2.0, 1.0]]  # symmetric, indefinite
    z = np.zeros((3, 2))
    z[2, 0] = np.nan
    bad, reasons = invalid_rows(Detections("cam-3", "bearing", [1.0, 2.0, 3.0], z, R))
    assert bad.tolist() == [False, True, True]
    assert "cam-3" in reasons[0] and "t=2.0" in reasons[0] and "positive definite" in reasons[0]
    assert "NaN" in reasons[1]


def test_detection_records_round_trip(tmp_path: Path) -> None:
    d = _dets()
    path = tmp_path / "d.jsonl"
    with path.open("w") as fh:
        rec.write_jsonl(fh, rec.detection_records(d))
    (back,) = rec.read_detections(path)
    np.testing.assert_array_equal(back.z, d.z)
    np.testing.assert_array_equal(back.R, d.R)
    np.testing.assert_array_equal(back.attrs["snr"], d.attrs["snr"])
    assert back.attrs["protocol"].tolist() == ["x"] * 4


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            '{"t": 0, "sensor": "a", "kind": "polar", "z": [1, 2], "R": [[1, 0], [0, 1]]}\n{',
            None,
            "invalid JSON",
        ),
        ('{"t": "x", "sensor": "a", "kind": "position", "z": [1, 2], "R": [[1, 0], [0, 1]]}', "t", "number"),
        ('{"t": 0, "sensor": "a", "kind": "laser", "z": [1, 2], "R": [[1, 0], [0, 1]]}', "kind", "laser"),
        ('{"t": 0, "sensor": "a", "kind": "position", "z": [1], "R": [[1]]}', "z", "2 or 3"),
        ('{"t": 0, "sensor": "a", "kind": "position", "z": [1, 2], "R": [[1, 0]]}', "R", "shape 2x2"),
        ('{"t": 0, "kind": "position", "z": [1, 2], "R": [[1, 0], [0, 1]]}', "sensor", "missing"),
    ],
)
def test_bad_detection_lines_name_file_line_field(
    tmp_path: Path, line: str, field: str | None, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(FormatError) as info:
        rec.read_detections(path)
    text = str(info.value)
    assert str(path) in text and message in text
    if field:
        assert f"field '{field}'" in text


def test_tracks_round_trip_with_site(tmp_path: Path) -> None:
    tr = Tracks(
        5.0,
        [3, 7],
        np.arange(12.0).reshape(2, 6),
        np.tile(np.eye(6), (2, 1, 1)),
        np.tile(np.eye(6)[0], (2, 1)),
        sensors=np.array([0b01, 0b11], dtype=np.uint64),
        sensor_names=("radar-1", "rf-1"),
        rf_silent=[0.9, 0.0],
        identity=["", "1581F5FJD2"],
        group_id=[2, -1],
    )
    assert tr.sensors_of(1) == ["radar-1", "rf-1"]
    path = tmp_path / "t.jsonl"
    with path.open("w") as fh:
        rec.write_jsonl(fh, rec.track_records(tr, Site(32.5, -117.0, 10.0)))
    first = json.loads(path.read_text().splitlines()[0])
    assert first["cls"] == "fpv" and "lat" in first
    (back,) = rec.read_tracks(path)
    np.testing.assert_array_equal(back.x, tr.x)
    assert back.identity.tolist() == ["", "1581F5FJD2"]
    assert back.sensors_of(1) == ["radar-1", "rf-1"]


def test_truth_and_alert_round_trip(tmp_path: Path) -> None:
    info = TargetInfo(0, "fpv-1", "fpv", "fpv", "threat", link="fiber", flags=("rf_silent",), zone="site-a")
    tr = Truth([0.0, 1.0], [0, 0], np.ones((2, 6)), [False, False], [info])
    path = tmp_path / "truth.jsonl"
    with path.open("w") as fh:
        rec.write_jsonl(fh, rec.truth_records(tr))
    back = rec.read_truth(path)
    assert back.targets == (info,)
    alert = Alert("a1", 3.0, 7, "site-a", ThreatLevel.HIGH, AlertState.NEW, math.inf, "FPV 40 m/s inbound")
    assert rec.alert_from_record(json.loads(json.dumps(rec.alert_record(alert)))) == alert


def test_sensor_registry_file(tmp_path: Path) -> None:
    reg = SensorRegistry(
        Site(32.5, -117.0),
        [Sensor("r1", "radar", "polar", np.array([0.0, 0, 5]), 1.0, 5000.0, {"sigma_range_m": 5})],
    )
    path = tmp_path / "sensors.json"
    rec.write_sensors(path, reg)
    back = rec.read_sensors(path)
    assert back.get("r1").params["sigma_range_m"] == 5
    doc = json.loads(path.read_text())
    doc["sensors"][0]["rate_hz"] = -1
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"sensors\[0\].rate_hz"):
        rec.read_sensors(path)
    with pytest.raises(ValueError, match="duplicate"):
        SensorRegistry(reg.site, [reg.sensors[0], reg.sensors[0]])


def test_zone_line_buffer_polygon() -> None:
    z = Zone("border", [[-5000.0, 0.0], [5000.0, 0.0]], kind="border", geometry="line", buffer_m=100.0)
    ring = z.area_polygon()
    assert ring[:, 1].max() == pytest.approx(100.0) and ring[:, 1].min() == pytest.approx(-100.0)
    with pytest.raises(ValueError, match="positive buffer"):
        Zone("b", [[0.0, 0.0], [1.0, 0.0]], geometry="line")
