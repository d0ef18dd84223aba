"""`skyfence interop ...` end to end: files in, JSONL detections out; SAPIENT send/listen over
loopback between two CLI invocations."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from skyfence.cli import main
from skyfence.model.records import read_detections, track_records, write_jsonl
from skyfence.model.tracks import Tracks


def _json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_asterix_verb(asterix_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dets.jsonl"
    pcap = asterix_dir / "sample_data" / "cat_034_048.pcap"
    assert (
        main(["interop", "asterix", str(pcap), "--site", "45.8,16.0,100", "--out", str(out), "--json"]) == 0
    )
    (summary,) = _json_lines(capsys.readouterr().out)
    # The 34 CAT034 service messages decode (no detections from them); 2 CAT048 lack I040.
    assert summary["detections"] == 126 and summary["errors"] == {"no_position": 2}
    dets = read_detections(out)
    assert sum(len(d) for d in dets) == 126 and {d.kind for d in dets} == {"polar"}
    assert "3c660c" in set(np.concatenate([d.attrs["icao"] for d in dets]).tolist())


def test_asterix_verb_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.ast"
    junk.write_bytes(b"\x30\x00\x02" + bytes(50))
    out = tmp_path / "d.jsonl"
    assert main(["interop", "asterix", str(junk), "--site", "45,16", "--out", str(out), "--json"]) == 0
    (summary,) = _json_lines(capsys.readouterr().out)
    assert summary["errors"] == {"bad_length": 1} and out.read_text() == ""
    assert main(["interop", "asterix", str(junk), "--site", "45", "--out", str(out)]) == 2
    assert "--site" in capsys.readouterr().err
    assert main(["interop", "asterix", str(junk), "--site", "45,16", "--out", str(out), "--date", "x"]) == 2


def test_adsb_verbs(dump1090_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    msgs = [
        bytes.fromhex(ln.strip().strip("*;"))
        for ln in (dump1090_dir / "expected_dump1090_raw.txt").read_text().splitlines()
    ]
    beast = b"".join(
        b"\x1a"
        + (b"3" if len(m) == 14 else b"2")
        + ((i * 120000).to_bytes(6, "big") + b"\x80" + m).replace(b"\x1a", b"\x1a\x1a")
        for i, m in enumerate(msgs)
    )
    path = tmp_path / "cap.beast"
    path.write_bytes(beast)
    out = tmp_path / "adsb.jsonl"
    args = ["interop", "adsb", str(path), "--beast", "--site", "37.05,13.8,0", "--out", str(out), "--json"]
    assert main([*args, "--t0", "1700000000"]) == 0
    (summary,) = _json_lines(capsys.readouterr().out)
    assert summary["aircraft"] == 1 and summary["detections"] >= 50
    (det,) = read_detections(out)
    assert det.kind == "position" and det.dim == 3 and set(det.attrs["icao"].tolist()) == {"4d2023"}
    assert det.t.min() >= 1_700_000_000
    assert main(["interop", "adsb", str(path), "--sbs", "--beast", "--site", "0,0", "--out", str(out)]) == 2
    capsys.readouterr()
    # The same aircraft straight from the raw IQ recording.
    iq_args = ["interop", "adsb", str(dump1090_dir / "modes1.bin"), "--iq", "--site", "37.05,13.8,0"]
    assert main([*iq_args, "--out", str(out), "--json"]) == 0
    (summary,) = _json_lines(capsys.readouterr().out)
    assert summary["aircraft"] == 1 and summary["detections"] >= 70


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sapient_send_to_sapient_listen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tracks_path = tmp_path / "tracks.jsonl"
    snaps = [
        Tracks(
            100.0 + k,
            [1, 2],
            np.array([[10.0 * k, 0.0, 50.0, 10.0, 0.0, 0.0], [0.0, 500.0 - 5 * k, 80.0, 0.0, -5.0, 0.0]]),
            np.stack([np.diag([4.0, 4.0, 9.0, 1.0, 1.0, 1.0])] * 2),
            identity=["", "4ca7a8"],
        )
        for k in range(3)
    ]
    with tracks_path.open("w") as fh:
        for s in snaps:
            write_jsonl(fh, track_records(s))
    out = tmp_path / "received.jsonl"
    port = _free_port()
    rc: list[int] = []
    listener = threading.Thread(
        target=lambda: rc.append(
            main(
                [
                    "interop",
                    "sapient-listen",
                    "--port",
                    str(port),
                    "--out",
                    str(out),
                    "--site",
                    "51.5,-1.2,80",
                    "--max-messages",
                    "7",
                    "--duration",
                    "20",
                    "--json",
                ]
            )
        )
    )
    listener.start()
    for _ in range(100):  # wait until it listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    send = [
        "interop",
        "sapient-send",
        str(tracks_path),
        "--to",
        f"127.0.0.1:{port}",
        "--site",
        "51.5,-1.2,80",
    ]
    assert main([*send, "--json"]) == 0
    listener.join(30)
    assert rc == [0]
    lines = _json_lines(capsys.readouterr().out)
    sent = next(rec for rec in lines if "detection_reports" in rec)
    got = next(rec for rec in lines if rec.get("format") == "sapient")
    assert sent["detection_reports"] == 6
    assert got["messages"] == {"registration": 1, "detection_report": 6}
    (det,) = read_detections(out)
    assert len(det) == 6
    # Positions survive the round trip through WGS84 degrees to the millimetre.
    np.testing.assert_allclose(
        det.z[det.attrs["identity"] == "4ca7a8"][:, 1], [500.0, 495.0, 490.0], atol=1e-3
    )
    assert len(set(det.attrs["object_id"].tolist())) == 2
    assert main(["interop", "sapient-send", str(tracks_path), "--to", "nohostport", "--site", "0,0"]) == 2
