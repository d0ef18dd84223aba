"""Fuzzing: random, truncated, oversized and bit-flipped inputs built from real frames never make
a Remote ID decoder or the capture reader raise anything but skyfence's own errors
(``DecodeError`` for frames, ``FormatError`` for a damaged capture file)."""

from __future__ import annotations

import contextlib
import functools
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyfence.detect.remoteid import (
    BasicID,
    DjiFlightInfo,
    Location,
    MessagePack,
    OperatorID,
    SelfID,
    System,
    beacon_frame,
    decode_dji_flight_info,
    decode_locations,
    decode_message,
    decode_packets,
    decode_payload,
    encode_dji_flight_info,
    encode_message,
    remote_id_payloads,
)
from skyfence.errors import DecodeError, FormatError
from skyfence.sources.pcap import (
    LINKTYPE_BLUETOOTH_HCI_H4,
    LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR,
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_NORDIC_BLE,
    Packet,
    parse_capture,
    read_packets,
    write_pcap,
)

from ._data import shared_data_root

pytestmark = pytest.mark.fuzz

_SMALL_CAPTURES = (
    "bkerler-droneid-pcaps/dji_air3.pcapng",
    "bkerler-droneid-pcaps/wireless_RID_test_linux_transmitter.pcapng",
    "remoteidreceiver-wifi-pcaps/mavic_alessa_spoofed.pcapng",
    "odid-wireshark-samples/odid_wifi_bcn_sample.pcap",
    "odid-wireshark-samples/odid_wifi_sample.pcap",
)
_LINKTYPES = (
    LINKTYPE_BLUETOOTH_HCI_H4,
    LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
    LINKTYPE_NORDIC_BLE,
)


def _synthetic_pack() -> MessagePack:
    loc = Location(2, 0, 90.0, 12.0, 1.0, 47.0, 8.0, 500.0, 510.0, 80.0, 10, 4, 3, 3, 2, 1234.5)
    sys_ = System(1, 1, 47.001, 8.001, 1, 0.0, None, None, 1, 2, 500.0, 150_000_000)
    return MessagePack((BasicID(1, 2, "FUZZ0001"), loc, SelfID(0, "fuzz"), sys_, OperatorID(0, "OP-1")))


@functools.cache
def _corpus() -> tuple[list[bytes], list[tuple[int, bytes]], list[bytes]]:
    """(ODID payloads, (link type, frame) pairs, capture files) from the shared captures if
    present, always with synthetic ones from the encoder."""
    pack = _synthetic_pack()
    payloads = [encode_message(pack)] + [encode_message(m) for m in pack.messages]
    frames = [(LINKTYPE_IEEE802_11, beacon_frame(pack, 7, "02:00:00:00:00:01", "RID-FUZZ"))]
    dji = DjiFlightInfo("26:37:12", 2, 1, 2, "SERIAL", 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9, 1.0, 2.0,
                        1.0, 2.0, 88, "uuid")  # fmt: skip
    payloads.append(b"\x26\x37\x12" + encode_dji_flight_info(dji))
    # A phone's view: HCI LE advertising report (legacy) and a btsnoop log holding it.
    ad = b"\x1e\x16\xfa\xff\x0d\x05" + encode_message(pack.messages[1])
    params = b"\x02\x01\x03\x01" + bytes(range(6)) + bytes([len(ad)]) + ad + b"\xc4"
    hci = bytes([0x04, 0x3E, len(params)]) + params
    frames.append((LINKTYPE_BLUETOOTH_HCI_H4, hci))
    snoop = b"btsnoop\x00" + struct.pack(">II", 1, 1002)
    snoop += struct.pack(">IIIIq", len(hci), len(hci), 3, 0, 0x00DCDDB30F2F8000) + hci
    files: list[bytes] = [snoop]
    root = shared_data_root()
    for rel in _SMALL_CAPTURES:
        path = root / rel
        if not path.exists():
            continue
        data = path.read_bytes()
        files.append(data)
        for p in parse_capture(data, path):
            try:
                found = remote_id_payloads(p)
            except DecodeError:
                continue
            if found:
                frames.append((p.linktype, p.data))
                payloads.extend(pl.data for pl in found)
    bt5 = root / "odid-wireshark-samples/odid_bt5_lr_sample.pcapng"
    if bt5.exists():
        for k, p in enumerate(read_packets(bt5)):
            if k % 10 == 0:
                frames.append((p.linktype, p.data))
    return payloads, frames, files


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """Truncated, extended, bit-flipped, or spliced versions of ``seed``; sometimes random."""
    how = draw(st.sampled_from(("truncate", "extend", "flip", "flip", "random", "splice")))
    data = bytearray(seed)
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, max(0, len(data) - 1)))])
    if how == "extend":
        return bytes(data) + draw(st.binary(min_size=1, max_size=300))
    if how == "random":
        return draw(st.binary(max_size=400))
    if how == "splice" and data:
        at = draw(st.integers(0, len(data) - 1))
        return bytes(data[:at]) + draw(st.binary(max_size=40)) + bytes(data[at:])
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        data[i] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@st.composite
def payload_bytes(draw: st.DrawFn) -> bytes:
    payloads, _, _ = _corpus()
    return draw(mutated(draw(st.sampled_from(payloads))))


@st.composite
def frames(draw: st.DrawFn) -> tuple[int, bytes]:
    _, pairs, _ = _corpus()
    linktype, frame = draw(st.sampled_from(pairs))
    if draw(st.integers(0, 9)) == 0:
        linktype = draw(st.sampled_from(_LINKTYPES))
    return linktype, draw(mutated(frame))


@given(payload_bytes())
def test_odid_decoder_raises_only_decode_error(data: bytes) -> None:
    try:
        decode_message(data)
    except DecodeError as exc:
        assert exc.reason and " " not in exc.reason


@given(payload_bytes())
def test_dji_decoder_raises_only_decode_error(data: bytes) -> None:
    try:
        decode_dji_flight_info(data[3:])
    except DecodeError as exc:
        assert exc.reason


@given(frames())
def test_frame_extraction_and_decoding_raise_only_decode_error(pair: tuple[int, bytes]) -> None:
    linktype, frame = pair
    try:
        payloads = remote_id_payloads(Packet(1, 0.0, linktype, frame))
    except DecodeError:
        return
    for pl in payloads:
        with contextlib.suppress(DecodeError):
            decode_payload(pl)


@given(st.lists(frames(), max_size=20))
def test_stream_goes_on_after_bad_frames(pairs: list[tuple[int, bytes]]) -> None:
    good = beacon_frame(_synthetic_pack(), 1, "02:00:00:00:00:02")
    packets = [Packet(i + 1, float(i), lt, f) for i, (lt, f) in enumerate(pairs)]
    packets.append(Packet(len(packets) + 1, 99.0, LINKTYPE_IEEE802_11, good))
    result = decode_packets(packets)
    assert result.packets == len(packets)
    # The last, intact frame is always decoded whatever came before it.
    assert result.decoded and result.decoded[-1].payload.index == len(packets)
    assert all(isinstance(k, str) and v > 0 for k, v in result.errors.items())


@given(st.binary(max_size=25 * 40))
def test_batch_decoder_never_fails_on_bytes(data: bytes) -> None:
    n = len(data) // 25
    batch = decode_locations(np.frombuffer(data[: n * 25], dtype=np.uint8).reshape(n, 25))
    assert len(batch) == n


def test_batch_decoder_rejects_wrong_shape() -> None:
    with pytest.raises(DecodeError):
        decode_locations(np.zeros((3, 24), dtype=np.uint8))


@st.composite
def capture_files(draw: st.DrawFn) -> bytes:
    _, pairs, files = _corpus()
    path_frames = [(float(i), f) for i, (lt, f) in enumerate(pairs) if lt == LINKTYPE_IEEE802_11]
    return draw(mutated(draw(st.sampled_from([*files, _pcap_bytes(tuple(path_frames))]))))


@functools.cache
def _pcap_bytes(frames_: tuple[tuple[float, bytes], ...]) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.pcap"
        write_pcap(p, frames_, LINKTYPE_IEEE802_11)
        return p.read_bytes()


@given(capture_files())
def test_damaged_capture_raises_only_format_error(data: bytes) -> None:
    packets: list[Packet] = []
    try:
        packets.extend(parse_capture(data, "fuzz.pcapng"))
    except FormatError as exc:
        assert "fuzz.pcapng" in str(exc)
    # Whatever was read before the damage still decodes without a traceback.
    decode_packets(packets)
