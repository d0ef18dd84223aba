"""`skyfence exercise simulate` in a subprocess: good runs, and bad input as exit code 2 with
one line on stderr and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from simkit import ROOT

WriteDoc = Callable[[dict[str, Any] | str, str], Path]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyfence", "exercise", "simulate", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_simulate_writes_files_and_json_summary(
    small_doc: dict[str, Any], write_doc: WriteDoc, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = _run(str(write_doc(small_doc)), "--out", str(out), "--seed", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no progress bar without a terminal; stderr is for errors"
    recs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert recs[-1]["type"] == "exercise" and recs[-1]["seed"] == 4
    assert {r["sensor"] for r in recs if r["type"] == "sensor"} == {"radar-1", "rf-1", "rid-1"}
    for name in ("truth.jsonl", "detections.jsonl", "associations.jsonl", "sensors.json", "scenario.yaml"):
        assert (out / name).is_file()
    human = _run(str(write_doc(small_doc)), "--out", str(tmp_path / "h"))
    assert human.returncode == 0
    assert "Detections per sensor" in human.stdout


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: d["targets"][0].update(behaviour="blimp"), "targets[0].behaviour"),
        (lambda d: d["sensors"][0].update(rate_hz=-1), "sensors[0].rate_hz"),
        (lambda d: d["targets"][0].update(launch=[0, 90000]), "targets[0].launch"),
        (lambda d: d["zones"]["features"][0]["geometry"].update(type="MultiPoint"), "zones.features[0]"),
    ],
)
def test_bad_scenario_exits_2_with_one_line(
    small_doc: dict[str, Any], write_doc: WriteDoc, tmp_path: Path, mutate: Any, expect: str
) -> None:
    mutate(small_doc)
    path = write_doc(small_doc)
    proc = _run(str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(path) in lines[0] and expect in lines[0]


def test_unreadable_scenario_exits_2(tmp_path: Path) -> None:
    proc = _run(str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "missing.yaml" in proc.stderr
