"""`skyfence remoteid droneid-iq` on the real Mavic Air 2 recording and on a bad file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyfence", "remoteid", "droneid-iq", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_decodes_the_real_recording(shared_data: Path) -> None:
    rec = shared_data / "dji-droneid-iq-dronesecurity" / "mavic_air_2"
    if not rec.exists():
        pytest.skip(f"{rec} is absent")
    proc = _run(str(rec), "--sample-rate", "50e6", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    infos = [line["flight_info"] for line in lines if line["flight_info"]]
    assert any(i["serial_number"] == "1WNBH3900201N1" and i["sequence_number"] == 591 for i in infos)
    assert all(line["crc_ok"] for line in lines)


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "odd.iq"
    bad.write_bytes(b"abc")
    proc = _run(str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and "complex64" in proc.stderr
