"""`skyfence assess run` and `skyfence store events|replay` end to end on files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from skyfence.assess.timeline import alerts_timeline
from skyfence.cli import main
from skyfence.geo import Site
from skyfence.model import Sensor, SensorRegistry, Tracks, Zone
from skyfence.model.geojson import zones_to_geojson
from skyfence.model.records import read_alerts, track_records, write_jsonl, write_sensors

SITE = Site(47.8, 22.6, 150.0)


@pytest.fixture
def exercise(tmp_path: Path) -> dict[str, Path]:
    zones = [Zone("site-b", [[0, 0], [200, 0], [200, 200], [0, 200]], name="Site B", priority=3)]
    (tmp_path / "zones.geojson").write_text(json.dumps(zones_to_geojson(zones, SITE)))
    reg = SensorRegistry(SITE, [Sensor("radar-1", "radar", "polar", np.zeros(3), 1.0, 8000.0)])
    write_sensors(tmp_path / "sensors.json", reg)
    P = np.diag([25.0, 25.0, 25.0, 1.0, 1.0, 1.0])
    with (tmp_path / "tracks.jsonl").open("w") as fh:
        for k in range(90):
            tr = Tracks(
                1000.0 + k,
                [7],
                [[-1500.0 + 30 * k, 100, 60, 30, 0, 0]],
                P[None],
                [[0.92, 0.04, 0.01, 0.01, 0.01, 0.01]],
                rf_silent=[0.9],
            )
            write_jsonl(fh, track_records(tr, SITE))
    return {
        "zones": tmp_path / "zones.geojson",
        "sensors": tmp_path / "sensors.json",
        "tracks": tmp_path / "tracks.jsonl",
        "dir": tmp_path,
    }


def test_assess_run_writes_alerts_cot_and_events(
    exercise: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d = exercise["dir"]
    alerts = d / "alerts.jsonl"
    db = d / "events.db"
    cot = d / "cot.xml"
    rc = main(
        [
            "assess",
            "run",
            str(exercise["tracks"]),
            "--zones",
            str(exercise["zones"]),
            "--sensors",
            str(exercise["sensors"]),
            "--out",
            str(alerts),
            "--cot",
            f"file://{cot}",
            "--db",
            str(db),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "90 snapshots" in out and "Alerts timeline" in out
    recs = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert recs[0]["state"] == "new" and recs[-1]["state"] == "resolved"
    assert recs[0]["details"]["zone_name"] == "Site B"
    assert recs[0]["details"]["areas"][0]["kind"] == "launch"
    assert [a.id for a in read_alerts(alerts)] == [r["id"] for r in recs]
    types = [ET.fromstring(line).get("type") for line in cot.read_text().splitlines()]
    assert types.count("a-u-A-M-H-Q") + types.count("a-h-A-M-H-Q") == 90
    assert "b-m-p-s-p-i" in types and "u-d-c-e" in types

    assert main(["store", "events", "--db", str(db), "--kind", "alert", "--json"]) == 0
    evs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["payload"]["state"] for e in evs] == [r["state"] for r in recs]
    assert main(["store", "replay", "--db", str(db), "--all", "--json"]) == 0
    replayed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["state"]) for r in replayed] == [(recs[-1]["id"], "resolved")]
    assert main(["store", "replay", "--db", str(db)]) == 0
    assert "0 active" in capsys.readouterr().out
    assert main(["store", "events", "--db", str(db), "--limit", "3"]) == 0
    assert "tracks" in capsys.readouterr().out


def test_assess_run_json_lines(exercise: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "assess",
            "run",
            str(exercise["tracks"]),
            "--zones",
            str(exercise["zones"]),
            "--site",
            "47.8,22.6,150",
            "--json",
        ]
    )
    assert rc == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(json.loads(line)["zone_id"] == "site-b" for line in lines)


def test_assess_run_bad_input_is_one_line_exit_2(
    exercise: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d = exercise["dir"]
    bad = d / "bad.jsonl"
    bad.write_text('{"t": 1, "id": 3, "x": [1, 2]}\n')
    rc = main(
        ["assess", "run", str(bad), "--zones", str(exercise["zones"]), "--sensors", str(exercise["sensors"])]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert "bad.jsonl:1" in err and "'x'" in err and "Traceback" not in err
    rc = main(["assess", "run", str(exercise["tracks"]), "--zones", str(exercise["zones"])])
    assert rc == 2 and "--sensors" in capsys.readouterr().err
    rc = main(["store", "events", "--db", str(d / "e.db"), "--kind", "nope"])
    assert rc == 2 and "--kind" in capsys.readouterr().err


def test_alerts_timeline_renders(exercise: dict[str, Path]) -> None:
    alerts = exercise["dir"] / "a.jsonl"
    assert (
        main(
            [
                "assess",
                "run",
                str(exercise["tracks"]),
                "--zones",
                str(exercise["zones"]),
                "--sensors",
                str(exercise["sensors"]),
                "--out",
                str(alerts),
            ]
        )
        == 0
    )
    console = Console(record=True, width=200)
    console.print(alerts_timeline(alerts))
    text = console.export_text()
    assert "A00001" in text and "resolved" in text and "1 alert (peak: 1 critical)" in text


def test_store_ack_is_replayed(exercise: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    d = exercise["dir"]
    short = d / "short.jsonl"
    short.write_text("".join(exercise["tracks"].read_text().splitlines(keepends=True)[:30]))
    db = str(d / "ack.db")
    args = [
        "assess",
        "run",
        str(short),
        "--zones",
        str(exercise["zones"]),
        "--sensors",
        str(exercise["sensors"]),
    ]
    assert main([*args, "--db", db, "--json"]) == 0
    [first, *_] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (
        main(["store", "ack", first["id"], "--operator", "kim", "--db", db, "--note", "team 2 en route"]) == 0
    )
    assert "acknowledged by kim" in capsys.readouterr().out
    assert main(["store", "replay", "--db", db, "--json"]) == 0
    [state] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (state["id"], state["state"]) == (first["id"], "acknowledged")
    assert main(["store", "ack", "A99999", "--operator", "kim", "--db", db]) == 2
    assert "no active alert" in capsys.readouterr().err


def test_alerts_timeline_reads_at_80_columns() -> None:
    from skyfence.assess.timeline import alerts_list
    from skyfence.model import Alert, AlertState, ThreatLevel

    reason = "FPV 0.92, RF-silent, 30 m/s toward Site B, 44 s to zone, P(enter) 0.97, launch ~2.2 km W"
    alerts = [
        Alert(
            id=f"A{k:05d}",
            t=100.0 + k,
            track_id=k,
            zone_id="site-b",
            level=ThreatLevel.CRITICAL if k % 10 == 0 else ThreatLevel.MEDIUM,
            state=AlertState.NEW,
            time_to_zone=44.0,
            reason=reason,
        )
        for k in range(50)
    ]
    for width in (80, 120):
        console = Console(record=True, width=width)
        console.print(alerts_list(alerts, limit=8))
        text = console.export_text()
        lines = text.splitlines()
        assert all(len(line.rstrip()) <= width for line in lines)
        # The reason reads as words on its own indented line(s), not a narrow column.
        assert any(line.startswith(" " * 9 + "FPV 0.92, RF-silent, 30 m/s") for line in lines)
        # The five critical alerts are kept first; the rest is counted.
        assert sum("critical" in line for line in lines) == 5
        assert "42 more transitions not shown" in text
