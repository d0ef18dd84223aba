"""`skyfence remoteid decode`: detections, message dump, JSON summary, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyfence.cli import main
from skyfence.model.records import read_detections

from ._data import need


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_decode_writes_detections_and_messages(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = need(shared_data, "remoteidreceiver-wifi-pcaps/parrot_anafi4_spoofed.pcapng")
    dets_path = tmp_path / "dets.jsonl"
    msgs_path = tmp_path / "msgs.jsonl"
    rc = main(
        ["remoteid", "decode", str(capture), "--out", str(dets_path), "--messages", str(msgs_path),
         "--site", "47.19871,8.73024,500", "--json"]
    )  # fmt: skip
    assert rc == 0
    out = _json_lines(capsys.readouterr().out)
    drones = [r for r in out if r["type"] == "drone"]
    (totals,) = [r for r in out if r["type"] == "capture"]
    assert len(drones) == 1 and drones[0]["serial"] == "1588E040445AC004418" and drones[0]["spoofed"] is True
    assert totals["detections"] == 26 and totals["site"] == {"lat": 47.19871, "lon": 8.73024, "alt": 500.0}
    dets = list(read_detections(dets_path))
    assert sum(len(d) for d in dets) == 26
    assert all(d.kind == "remote_id" and d.sensor_id == "remoteid" for d in dets)
    # Zurich is ~25 km north-west of the given site.
    first = dets[0]
    assert -20_000 < first.z[0, 0] < -10_000 and 15_000 < first.z[0, 1] < 25_000
    msgs = _json_lines(msgs_path.read_text())
    assert len(msgs) == 26 * 4
    assert {m["type"] for m in msgs} == {"basic_id", "location", "system", "operator_id"}
    assert all(m["pack_missing_bytes"] == 3 for m in msgs)


def test_dji_capture_summary(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = need(shared_data, "remoteidreceiver-wifi-pcaps/mavic_multiple_spoofed.pcapng")
    assert main(["remoteid", "decode", str(capture), "--summary"]) == 0
    text = capsys.readouterr().out
    assert "EPUGT0787GWS5II6" in text and "SPOOFED" in text and "15 drones (15 flagged" in text


def test_damaged_capture_keeps_what_came_before(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = need(shared_data, "remoteidreceiver-wifi-pcaps/parrot_anafi4_real.pcapng").read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) // 2])
    assert main(["remoteid", "decode", str(cut), "--json"]) == 0
    totals = _json_lines(capsys.readouterr().out)[-1]
    assert totals["errors"] == {"capture_damaged": 1}
    assert 0 < int(totals["positions"]) < 1140  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--site", "47,8,abc"], "--site"),
        (["--site", "95,8"], "latitude"),
    ],
)
def test_bad_options_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    cap = tmp_path / "x.pcap"
    cap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000069000000"))
    assert main(["remoteid", "decode", str(cap), *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_not_a_capture_fails_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture")
    assert main(["remoteid", "decode", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.pcap" in err and "not a pcap" in err and err.count("\n") == 1
