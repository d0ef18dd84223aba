"""`skyfence track run` and `summary` end to end on small files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from skyfence.cli import main
from skyfence.cli.track import summarize_tracks
from skyfence.model import Detections
from skyfence.model.records import detection_records, read_tracks, write_jsonl, write_sensors

from .conftest import polar_of, registry


@pytest.fixture
def exercise(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    sp = np.array([0.0, 0.0, 10.0])
    reg = registry(("radar", "radar", "polar", sp), ("rid", "remote_id", "remote_id", [0, 0, 0]))
    sensors = tmp_path / "sensors.json"
    write_sensors(sensors, reg)
    R = np.diag([5.0**2, np.radians(0.5) ** 2, np.radians(0.5) ** 2])
    with (tmp_path / "detections.jsonl").open("w") as fh:
        for k in range(12):
            t = 1767225600.0 + k
            a = np.array([1000.0 + 20 * k, 500.0, 80.0])
            b = np.array([-800.0, 1200.0 - 15 * k, 120.0])
            z = polar_of(sp, np.stack([a, b])) + rng.multivariate_normal(np.zeros(3), R, 2)
            write_jsonl(fh, detection_records(Detections("radar", "polar", [t, t], z, np.stack([R, R]))))
            rid = Detections("rid", "remote_id", [t + 0.5], [b + [0, -7.5, 0]], np.eye(3)[None] * 100.0)
            recs = list(detection_records(rid))
            recs[0]["serial"] = "1581F5FKD229400000"
            write_jsonl(fh, recs)
    return tmp_path / "detections.jsonl", sensors


def test_track_run_writes_snapshots_and_summary(
    exercise: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dets, sensors = exercise
    out = tmp_path / "tracks.jsonl"
    zones = tmp_path / "zones.geojson"
    zones.write_text('{"type": "FeatureCollection", "features": []}')
    argv = ["track", "run", str(dets), "--sensors", str(sensors), "--out", str(out), "--zones", str(zones)]
    assert main([*argv, "--json"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts["detections"] == 36 and counts["tracks"] == 2
    snaps = read_tracks(out)
    assert len(snaps) >= 20  # radar and Remote ID times
    last = snaps[-1]
    assert len(last) == 2 and set(last.identity.tolist()) == {"", "1581F5FKD229400000"}
    first = json.loads(out.read_text().splitlines()[0])
    assert {"lat", "lon", "alt", "cls", "status"} <= set(first)
    console = Console(record=True, width=160)
    console.print(summarize_tracks(out))
    text = console.export_text()
    assert "Tracks by class (2 confirmed)" in text and "id 1581F5FKD229400000" in text


def test_track_run_bad_input_is_one_line_exit_2(
    exercise: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dets, sensors = exercise
    bad = tmp_path / "bad.jsonl"
    lines = dets.read_text().splitlines()
    rec = json.loads(lines[0])
    rec["R"][0][0] = -1.0
    bad.write_text("\n".join([*lines[:2], json.dumps(rec)]) + "\n")
    code = main(["track", "run", str(bad), "--sensors", str(sensors), "--out", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "sensor 'radar'" in err and "positive definite" in err
    assert len(err.strip().splitlines()) == 1
    cfg = tmp_path / "track.yaml"
    cfg.write_text("association:\n  method: nearest\n")
    code = main(
        [
            "track",
            "run",
            str(dets),
            "--sensors",
            str(sensors),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--config",
            str(cfg),
        ]
    )
    assert code == 2 and "association.method" in capsys.readouterr().err
