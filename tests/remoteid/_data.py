"""Shared captures and their expected decodings for the Remote ID tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

#: capture file -> expected file (relative to the shared data directory)
ODID_CAPTURES = {
    "odid-wireshark-samples/odid_wifi_bcn_sample.pcap": "odid-wireshark-samples/expected_decoded.jsonl",
    "odid-wireshark-samples/odid_wifi_sample.pcap": "odid-wireshark-samples/expected_decoded.jsonl",
    "odid-wireshark-samples/odid_bt5_lr_sample.pcapng": "odid-wireshark-samples/expected_decoded.jsonl",
    "remoteidreceiver-wifi-pcaps/parrot_anafi4_real.pcapng": (
        "remoteidreceiver-wifi-pcaps/expected_decoded_odid.jsonl"
    ),
    "remoteidreceiver-wifi-pcaps/parrot_anafi4_spoofed.pcapng": (
        "remoteidreceiver-wifi-pcaps/expected_decoded_odid.jsonl"
    ),
    "bkerler-droneid-pcaps/dji_air3.pcapng": "bkerler-droneid-pcaps/expected_decoded.jsonl",
    "bkerler-droneid-pcaps/wireless_RID_test_linux_transmitter.pcapng": (
        "bkerler-droneid-pcaps/expected_decoded.jsonl"
    ),
}
DJI_CAPTURES = (
    "remoteidreceiver-wifi-pcaps/mavic_alessa_spoofed.pcapng",
    "remoteidreceiver-wifi-pcaps/mavic_multiple_spoofed.pcapng",
)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def need(shared_data: Path, rel: str) -> Path:
    p = shared_data / rel
    if not p.exists():
        pytest.skip(f"{rel} not in the shared data at {shared_data}")
    return p


def shared_data_root() -> Path:
    """Where the shared captures live (the same rule as the ``shared_data`` fixture), for
    hypothesis strategies that cannot take fixtures; may not exist."""
    env = os.environ.get("SKYFENCE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
