"""Golden tests of the JSONL formats: fixed objects must write exactly the checked-in
lines, and every record must validate against its shipped JSON Schema."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from skyfence.geo import Site
from skyfence.model import (
    Alert,
    AlertState,
    Detections,
    Sensor,
    SensorRegistry,
    TargetInfo,
    ThreatLevel,
    Tracks,
    Truth,
)
from skyfence.model import records as rec
from skyfence.model.schemas import SCHEMA_NAMES, load_schema

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
SITE = Site(32.55, -116.95, 150.0)


def _lines(records: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    rec.write_jsonl(buf, records)
    return buf.getvalue()


def _detections() -> list[Detections]:
    return [
        Detections(
            "radar-n",
            "polar",
            [1800000000.0, 1800000000.0],
            [[1250.5, 0.25, 0.02], [3000.0, -1.5, 0.01]],
            np.tile(np.diag([25.0, 1e-4, 1e-4]), (2, 1, 1)),
            attrs={"snr": [14.5, 9.25]},
        ),
        Detections(
            "rf-df-1",
            "bearing",
            [1800000000.5],
            [[0.75]],
            [[[0.0025]]],
            attrs={"protocol": ["elrs"], "band": ["2g4"], "snr": [11.0]},
        ),
        Detections(
            "eo-1",
            "bearing",
            [1800000001.0],
            [[0.5, 0.05]],
            [np.diag([1e-5, 1e-5])],
            cls_lik=[[0.6, 0.2, 0.05, 0.1, 0.0, 0.05]],
        ),
        Detections(
            "rid-1",
            "remote_id",
            [1800000001.0],
            [[100.0, -250.0, 60.0]],
            [np.diag([9.0, 9.0, 16.0])],
            attrs={"serial": ["1596F350457AB2C"], "operator": [[120.0, -300.0, 0.0]]},
        ),
        Detections(
            "adsb",
            "position",
            [1800000002.0],
            [[5000.0, 8000.0, 3500.0]],
            [np.eye(3) * 100.0],
            attrs={"icao": ["a1b2c3"]},
        ),
    ]


def _tracks() -> Tracks:
    P = np.tile(np.diag([25.0, 25.0, 100.0, 4.0, 4.0, 9.0]), (2, 1, 1))
    return Tracks(
        1800000002.0,
        [1, 2],
        [[100.0, 200.0, 30.0, -20.0, 5.0, 0.0], [-500.0, 800.0, 120.0, 0.0, 0.0, 0.0]],
        P,
        [[0.8, 0.1, 0.02, 0.05, 0.0, 0.03], [0.1, 0.7, 0.1, 0.05, 0.0, 0.05]],
        status=[1, 2],
        sensors=np.array([0b011, 0b100], dtype=np.uint64),
        sensor_names=("radar-n", "eo-1", "rf-df-1"),
        rf_silent=[0.85, 0.0],
        relay=[False, True],
        identity=["", ""],
        group_id=[-1, -1],
        relay_id=[2, -1],
    )


def _truth() -> Truth:
    infos = [
        TargetInfo(0, "fpv-fiber", "fpv", "fpv", "threat", link="fiber", flags=("rf_silent",), zone="depot"),
        TargetInfo(
            1,
            "survey",
            "compliant",
            "multirotor",
            "benign",
            link=None,
            flags=("remote_id",),
            serial="1596F350457AB2C",
        ),
    ]
    return Truth(
        [1800000000.0, 1800000000.0],
        [0, 1],
        [[-3000.0, 2000.0, 25.0, 30.0, -10.0, 0.0], [100.0, -250.0, 60.0, 5.0, 0.0, 0.0]],
        [False, True],
        infos,
    )


def _alerts() -> list[Alert]:
    return [
        Alert(
            "A-1-depot",
            1800000002.0,
            1,
            "depot",
            ThreatLevel.HIGH,
            AlertState.NEW,
            41.5,
            "FPV 0.80, RF-silent, 21 m/s toward Depot",
            0.82,
            0.9,
        ),
        Alert(
            "A-1-depot",
            1800000060.0,
            1,
            "depot",
            ThreatLevel.LOW,
            AlertState.RESOLVED,
            math.inf,
            "track lost",
            0.1,
            0.0,
        ),
    ]


def _sensors() -> SensorRegistry:
    return SensorRegistry(
        SITE,
        [
            Sensor(
                "radar-n",
                "radar",
                "polar",
                np.array([0.0, 1000.0, 12.0]),
                1.0,
                5000.0,
                {"sigma_range_m": 5.0},
            ),
            Sensor(
                "rf-df-1", "rf", "bearing", np.array([-2000.0, 0.0, 8.0]), 2.0, 4000.0, {"sigma_az_deg": 3.0}
            ),
        ],
    )


def _documents() -> dict[str, list[dict[str, Any]]]:
    return {
        "detection": [r for d in _detections() for r in rec.detection_records(d)],
        "track": list(rec.track_records(_tracks(), SITE)),
        "truth": list(rec.truth_records(_truth())),
        "alert": [rec.alert_record(a) for a in _alerts()],
        "sensors": [_sensors().as_dict()],
    }


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_golden_lines(name: str) -> None:
    text = _lines(json.loads(json.dumps(r)) for r in _documents()[name])
    path = GOLDEN / f"{name}.jsonl"
    if os.environ.get("SKYFENCE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), (
        f"{name} records changed; if on purpose, rerun with SKYFENCE_UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_records_validate_against_schema(name: str) -> None:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for doc in _documents()[name]:
        errors = sorted(validator.iter_errors(json.loads(json.dumps(doc))), key=str)
        assert not errors, errors[0].message


def test_schema_rejects_what_the_reader_rejects() -> None:
    validator = jsonschema.Draft202012Validator(load_schema("detection"))
    bad = {"t": 0, "sensor": "a", "kind": "bearing", "z": [1, 2, 3], "R": [[1]]}
    assert not validator.is_valid(bad)
    assert not validator.is_valid({"t": 0, "sensor": "a", "kind": "laser", "z": [1], "R": [[1]]})
