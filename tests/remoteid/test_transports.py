"""Transports without a shared capture: a phone's btsnoop HCI log (legacy and extended LE
advertising reports) and Wi-Fi NAN frames, built byte by byte from the standards' layouts."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from skyfence.detect.remoteid import (
    BasicID,
    Location,
    MessagePack,
    System,
    decode_capture,
    encode_message,
    position_reports,
)
from skyfence.errors import DecodeError
from skyfence.sources.pcap import LINKTYPE_BLUETOOTH_HCI_H4, Packet, hci_advertising_reports

ADDR = bytes.fromhex("665544332211")  # little-endian on the air: 11:22:33:44:55:66
T0 = 1_700_000_000.0


def _loc(k: int) -> Location:
    return Location(2, 0, 45.0, 7.0, 0.0, 50.0 + 5e-5 * k, 4.0 + 5e-5 * k, None, 300.0, 40.0,
                    10, 4, 0, 3, 2, round((T0 + k) % 3600.0, 1))  # fmt: skip


def _service_data(payload: bytes, counter: int) -> bytes:
    body = b"\x16\xfa\xff\x0d" + bytes([counter]) + payload
    return bytes([len(body)]) + body


def _legacy_report(adv: bytes) -> bytes:
    params = bytes([0x02, 1, 0x03, 0x01]) + ADDR + bytes([len(adv)]) + adv + b"\xc4"
    return bytes([0x04, 0x3E, len(params)]) + params


def _extended_report(adv: bytes, status: int = 0) -> bytes:
    etype = status << 5
    fixed = struct.pack("<HB6sBBBbbHB6sB", etype, 1, ADDR, 3, 3, 0xFF, 127, -60, 0, 0, bytes(6), len(adv))
    params = bytes([0x0D, 1]) + fixed + adv
    return bytes([0x04, 0x3E, len(params)]) + params


def _btsnoop(path: Path, frames: list[tuple[float, bytes]]) -> None:
    out = bytearray(b"btsnoop\x00" + struct.pack(">II", 1, 1002))
    for t, f in frames:
        ts = round(t * 1e6) + 0x00DCDDB30F2F8000
        out += struct.pack(">IIIIq", len(f), len(f), 0x03, 0, ts) + f
    path.write_bytes(bytes(out))


def test_btsnoop_legacy_and_extended_reports(tmp_path: Path) -> None:
    frames = []
    for k in range(6):
        msg = BasicID(1, 2, "HCISERIAL1") if k == 0 else _loc(k)
        frames.append((T0 + k, _legacy_report(_service_data(encode_message(msg), k))))
    pack = MessagePack(
        (BasicID(1, 2, "HCISERIAL1"), _loc(6), System(1, 1, 50.0, 4.0, 1, 0.0, None, None, 1, 2, 290.0, 0))
    )
    frames.append((T0 + 6, _extended_report(_service_data(encode_message(pack), 6))))
    frames.append((T0 + 7, b"\x01\x03\x0c\x00"))  # an HCI command: not advertising, ignored
    path = tmp_path / "phone_btsnoop_hci.log"
    _btsnoop(path, frames)
    result = decode_capture(path)
    assert result.packets == 8 and not result.errors
    transports = [dp.payload.transport for dp in result.decoded]
    assert transports == ["bt_legacy"] * 6 + ["bt_extended"]
    assert {dp.payload.address for dp in result.decoded} == {"11:22:33:44:55:66"}
    assert abs(result.decoded[0].payload.t - T0) < 1e-6
    reports = position_reports(result.decoded)
    assert len(reports) == 6 and set(reports.serial) == {"HCISERIAL1"}
    assert reports.operator_latitude[-1] == 50.0


def test_fragmented_extended_report_is_a_decode_error() -> None:
    frame = _extended_report(_service_data(b"\xf2\x19\x01" + bytes(25), 0), status=1)
    with pytest.raises(DecodeError) as err:
        hci_advertising_reports(frame, LINKTYPE_BLUETOOTH_HCI_H4)
    assert err.value.reason == "hci_fragmented"


def test_nan_service_discovery_frame() -> None:
    from skyfence.detect.remoteid import remote_id_payloads
    from skyfence.sources.pcap import LINKTYPE_IEEE802_11

    pack = encode_message(MessagePack((BasicID(1, 2, "NANSERIAL"), _loc(0))))
    info = bytes([9]) + pack
    sda = bytes.fromhex("8869199d9209") + bytes([1, 0, 0x10, len(info)]) + info
    body = b"\x04\x09\x50\x6f\x9a\x13" + bytes([0x03]) + struct.pack("<H", len(sda)) + sda
    hdr = (
        b"\xd0\x00\x00\x00" + bytes.fromhex("516f9a010000") + bytes.fromhex("020000000001") * 2 + b"\x00\x00"
    )
    (pl,) = remote_id_payloads(Packet(1, T0, LINKTYPE_IEEE802_11, hdr + body))
    assert pl.transport == "wifi_nan" and pl.counter == 9 and pl.data == pack
