"""`skyfence exercise raw`: a simulated exercise written as raw IQ and microphone audio, read
back by the detectors. The links the detectors name must be those of the emitting targets,
bearings must agree with the truth, and a fibre FPV must stay silent on RF."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skyfence.cli import main
from skyfence.model.records import read_sensors

#: Four FPVs (analog and digital OFDM video, ELRS 2.4 GHz, fibre) and a relay carrying an ELRS 900 MHz FPV; a
#: two-band direction finder, a 900 MHz one and a microphone array. The fibre FPV starts
#: next to the microphones and the radio FPVs a kilometre out.
SCENARIO = """
name: raw-small
site: {lat: 47.80, lon: 22.60, alt: 150}
duration_s: 30
seed: 5
extent_m: 4000
wind: {speed_mps: 2, direction_deg: 270}
sensors:
  - {id: rf-a, type: rf, position: [0, 0], height_agl_m: 8, max_range_m: 5000, bands: ["2g4", "5g8"]}
  - {id: rf-b, type: rf, position: [300, -200], height_agl_m: 8, max_range_m: 5000, bands: ["900"]}
  - {id: mic-a, type: acoustic, position: [0, 0], height_agl_m: 3, max_range_m: 600}
targets:
  - {name: analog-1, behaviour: fpv, launch: [800, 900], aim: [0, 0], cruise_speed: 20,
     altitude_agl_m: 30, link: analog_5g8}
  - {name: elrs-1, behaviour: fpv, launch: [-900, 700], aim: [0, 0], cruise_speed: 20,
     altitude_agl_m: 30, link: elrs_2g4}
  - {name: ofdm-1, behaviour: fpv, launch: [1200, -500], aim: [0, 0], cruise_speed: 20,
     altitude_agl_m: 40, link: digital_ofdm}
  - {name: fiber-1, behaviour: fpv, launch: [60, -60], waypoints: [[3000, -3000]], cruise_speed: 5,
     altitude_agl_m: 15, link: fiber}
  - {name: relay-1, behaviour: relay, launch: [-1500, 1500], station: [-1400, 1400], altitude_agl_m: 80,
     cruise_speed: 10, link: elrs_900}
  - {name: client-1, behaviour: fpv, launch: [-1500, 1600], aim: [0, 0], cruise_speed: 20,
     altitude_agl_m: 20, link: elrs_900, relay: relay-1}
"""

#: Bearing tolerances: MUSIC on a 4-element half-wavelength square at tens of dB in-band
#: SNR is far better than a degree; SRP-PHAT on a 0.5 m microphone square at a few dB
#: per microphone is within ten.
RF_TOL_DEG = 2.0
AUDIO_TOL_DEG = 10.0


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("raw") / "small.yaml"
    path.write_text(SCENARIO)
    return path


def test_rf_recordings_detect_the_emitting_links(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw"
    args = ["exercise", "raw", str(scenario), "--out", str(out), "--start", "5", "--duration", "0.15"]
    assert main([*args, "--sensor", "rf-a", "--sensor", "rf-b", "--json"]) == 0
    truth = _lines(out / "raw_truth.jsonl")
    assert {s.id for s in read_sensors(out / "sensors.json").sensors} == {"rf-a", "rf-b", "mic-a"}
    # Fibre FPVs radiate nothing: no recording lists them.
    assert "fiber-1" not in {r["name"] for r in truth}
    rec = {(r["sensor"], r["band"]) for r in truth}
    assert rec == {("rf-a", "2g4"), ("rf-a", "5g8"), ("rf-b", "900")}
    relay_rows = [r for r in truth if r["band"] == "900" and r["relay"]]
    assert [r["name"] for r in relay_rows] == ["relay-1"]  # it re-transmits its client's link
    expected = {
        ("rf-a", "2g4"): {"elrs"},
        ("rf-a", "5g8"): {"analog_video", "digital_ofdm"},
        ("rf-b", "900"): {"elrs"},
    }
    for (sensor, band), protos in expected.items():
        meta = out / f"{sensor}_{band}.sigmf-meta"
        doc = json.loads(meta.read_text())
        labels = {a["core:label"].split()[0] for a in doc["annotations"]}
        assert labels == protos
        for a in doc["annotations"]:
            assert a["core:freq_lower_edge"] < a["core:freq_upper_edge"]
            assert a["core:sample_count"] > 0
        dets = tmp_path / f"{sensor}_{band}.jsonl"
        assert main(["detect", "rf", str(meta), "--array", str(meta.with_name(f"{sensor}_{band}.array.json")),
                     "--out", str(dets), "--json"]) == 0  # fmt: skip
        events = _lines(dets.with_name(dets.name.removesuffix(".jsonl") + ".events.jsonl"))
        named = [e for e in events if e["protocol"] != "unknown"]
        assert len(named) >= 0.8 * len(events) and named
        assert {e["protocol"] for e in named} == protos
        live = [r for r in truth if r["sensor"] == sensor and r["band"] == band and r["contributes"]]
        for e in named:
            err = min(_angle_diff(math.degrees(e["az"]), r["az_deg"]) for r in live)
            assert err < RF_TOL_DEG, (band, e, live)
        # Every contributing emitter is heard at its own bearing.
        for r in live:
            assert min(_angle_diff(math.degrees(e["az"]), r["az_deg"]) for e in named) < RF_TOL_DEG
        # The tracker's input: one bearing per emitter per 0.2 s report interval, every
        # emission pooled into exactly one report.
        reports = _lines(dets)
        assert sum(r["n_emissions"] for r in reports) == len(events)
        assert 1 <= len(reports) <= len(events) // 4
        for rep in reports:
            if rep["protocol"] in protos:
                err = min(_angle_diff(math.degrees(rep["z"][0]), r["az_deg"]) for r in live)
                assert err < RF_TOL_DEG


def test_acoustic_recording_hears_the_fibre_fpv(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw"
    args = ["exercise", "raw", str(scenario), "--out", str(out), "--start", "4", "--duration", "3"]
    assert main([*args, "--sensor", "mic-a", "--json"]) == 0
    truth = _lines(out / "raw_truth.jsonl")
    assert [r["name"] for r in truth] == ["fiber-1"]  # the radio FPVs are beyond 600 m
    dets = tmp_path / "a.jsonl"
    wav, arr = out / "mic-a.wav", out / "mic-a.array.json"
    assert main(["detect", "audio", str(wav), "--array", str(arr), "--out", str(dets), "--json"]) == 0
    got = _lines(dets)
    assert len(got) >= 3  # 1 s windows every 0.5 s over 3 s: most judged drone
    az = np.degrees([d["z"][0] for d in got])
    assert all(_angle_diff(a, truth[0]["az_deg"]) < AUDIO_TOL_DEG for a in az), (az, truth[0])


def test_too_large_a_window_is_refused(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "big"
    cmd = [sys.executable, "-m", "skyfence", "exercise", "raw", str(scenario), "--out", str(out)]
    res = subprocess.run([*cmd, "--duration", "20"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "over the limit" in res.stderr and "--duration" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()
    res = subprocess.run(
        [*cmd, "--start", "29", "--duration", "2"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 2 and "ends after the exercise" in res.stderr
    res = subprocess.run([*cmd, "--sensor", "nope"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "nope" in res.stderr
    assert main(["exercise", "raw", str(scenario), "--out", str(out), "--elements", "0"]) == 2
    assert not out.exists()


def test_wifi_background_is_in_the_truth_and_annotations(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "w"
    args = ["exercise", "raw", str(scenario), "--out", str(out), "--start", "5", "--duration", "0.05"]
    assert main([*args, "--sensor", "rf-a", "--wifi", "--sample-rate", "10e6"]) == 2  # 20 MHz channels
    assert main([*args, "--sensor", "rf-a", "--wifi", "--json"]) == 0
    truth = _lines(out / "raw_truth.jsonl")
    wifi = [r for r in truth if r["protocol"] == "wifi"]
    assert {r["band"] for r in wifi} == {"2g4", "5g8"} and all(r["target"] == -1 for r in wifi)
    for band in ("2g4", "5g8"):
        doc = json.loads((out / f"rf-a_{band}.sigmf-meta").read_text())
        assert "wifi wifi-background" in {a["core:label"] for a in doc["annotations"]}
        assert doc["global"]["core:num_channels"] == 4
