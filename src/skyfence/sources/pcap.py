"""pcap / pcapng reader and the link-layer parsers Remote ID needs (radiotap, 802.11
management frames and their elements, Wi-Fi NAN service discovery, Bluetooth LE advertising).

Written with :mod:`struct` only, so a capture from a field receiver is read without scapy or
libpcap. The file reader raises :class:`~skyfence.errors.FormatError` (naming the file and frame)
when the capture itself is damaged; the frame parsers raise
:class:`~skyfence.errors.DecodeError` with a short stable ``reason`` so a caller can count bad
frames and go on with the next one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from skyfence.errors import DecodeError, FormatError

__all__ = [
    "LINKTYPE_BLUETOOTH_HCI_H4",
    "LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR",
    "LINKTYPE_BLUETOOTH_LE_LL",
    "LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR",
    "LINKTYPE_IEEE802_11",
    "LINKTYPE_IEEE802_11_RADIOTAP",
    "LINKTYPE_NORDIC_BLE",
    "BleAdvertisement",
    "Dot11Management",
    "Packet",
    "ad_structures",
    "ble_advertisement",
    "dot11_management",
    "hci_advertising_reports",
    "information_elements",
    "nan_service_descriptors",
    "parse_capture",
    "read_packets",
    "strip_radiotap",
    "write_pcap",
]

LINKTYPE_BLUETOOTH_HCI_H4 = 187
LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR = 201
LINKTYPE_IEEE802_11 = 105
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_BLUETOOTH_LE_LL = 251
LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR = 256
LINKTYPE_NORDIC_BLE = 272

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = 0x0A0D0D0A
# A record longer than this is a damaged length field, not a frame (largest real frames are
# 802.11 A-MSDUs of ~11 kB; pcapng blocks add options).
_MAX_RECORD = 1 << 18


@dataclass(frozen=True, slots=True)
class Packet:
    """One captured frame: 1-based frame number in the file, UTC epoch seconds, link type."""

    index: int
    t: float
    linktype: int
    data: bytes


def read_packets(path: str | Path) -> Iterator[Packet]:
    """Every frame of a pcap or pcapng file, in file order.

    Raises :class:`FormatError` (with the file and the frame number) on a damaged or
    unrecognised file; frames read before the damage have already been yielded.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read capture: {exc.strerror or exc}", path=p) from None
    return parse_capture(data, p)


def parse_capture(data: bytes, path: str | Path = "<bytes>") -> Iterator[Packet]:
    """Every frame of a pcap or pcapng file already in memory (``path`` names it in errors)."""
    p = Path(path)
    if len(data) < 4:
        raise FormatError("file too short for a pcap or pcapng header", path=p)
    magic = data[:4]
    if data[:8] == _BTSNOOP_MAGIC:
        yield from _read_btsnoop(data, p)
    elif magic in _PCAP_MAGICS:
        yield from _read_pcap(data, p)
    elif struct.unpack("<I", magic)[0] == _PCAPNG_SHB:
        yield from _read_pcapng(data, p)
    else:
        raise FormatError(f"not a pcap, pcapng or btsnoop file (magic {magic.hex()})", path=p)


def _read_pcap(data: bytes, path: Path) -> Iterator[Packet]:
    endian, unit = _PCAP_MAGICS[data[:4]]
    if len(data) < 24:
        raise FormatError("truncated pcap file header", path=path)
    # Upper bits of the link-type word carry FCS information, not the link type.
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x03FFFFFF
    rec = struct.Struct(endian + "IIII")
    off = 24
    index = 0
    while off < len(data):
        index += 1
        if off + 16 > len(data):
            raise FormatError(f"frame {index}: truncated record header", path=path)
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        if incl > _MAX_RECORD or off + 16 + incl > len(data):
            raise FormatError(f"frame {index}: record length {incl} runs past the end", path=path)
        yield Packet(index, sec + frac * unit, linktype, data[off + 16 : off + 16 + incl])
        off += 16 + incl


def write_pcap(path: str | Path, packets: Iterable[tuple[float, bytes]], linktype: int) -> int:
    """Write ``(UTC epoch seconds, frame bytes)`` pairs as a classic microsecond pcap file of one
    link type (how simulated Remote ID frames reach the same reader as real captures).
    Returns the number of frames written."""
    n = 0
    with Path(path).open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for t, frame in packets:
            sec = int(t // 1)
            usec = round((t - sec) * 1e6)
            if usec >= 1_000_000:
                sec, usec = sec + 1, usec - 1_000_000
            fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            fh.write(frame)
            n += 1
    return n


_BTSNOOP_MAGIC = b"btsnoop\x00"
# btsnoop timestamps count microseconds from 0000-01-01; this is 1970-01-01 on that scale.
_BTSNOOP_EPOCH_US = 0x00DCDDB30F2F8000


def _read_btsnoop(data: bytes, path: Path) -> Iterator[Packet]:
    """Android / BlueZ btsnoop HCI logs, as H4 frames (type byte first)."""
    if len(data) < 16:
        raise FormatError("truncated btsnoop header", path=path)
    version, datalink = struct.unpack_from(">II", data, 8)
    if version != 1 or datalink not in (1001, 1002):
        raise FormatError(f"unsupported btsnoop version {version} / datalink {datalink}", path=path)
    off = 16
    index = 0
    while off < len(data):
        index += 1
        if off + 24 > len(data):
            raise FormatError(f"frame {index}: truncated record header", path=path)
        _orig, incl, flags, _drops, ts = struct.unpack_from(">IIIIq", data, off)
        if incl > _MAX_RECORD or off + 24 + incl > len(data):
            raise FormatError(f"frame {index}: record length {incl} runs past the end", path=path)
        frame = data[off + 24 : off + 24 + incl]
        if datalink == 1001:  # unencapsulated HCI: the flags say command/event vs data
            frame = (b"\x04" if flags & 0x02 else b"\x02") + frame
        yield Packet(index, (ts - _BTSNOOP_EPOCH_US) * 1e-6, LINKTYPE_BLUETOOTH_HCI_H4, frame)
        off += 24 + incl


@dataclass(slots=True)
class _Interface:
    linktype: int
    unit: float
    offset: float
    snaplen: int


def _read_pcapng(data: bytes, path: Path) -> Iterator[Packet]:
    off = 0
    endian = "<"
    interfaces: list[_Interface] = []
    index = 0
    while off < len(data):
        if off + 12 > len(data):
            raise FormatError(f"truncated block header at byte {off}", path=path)
        btype = struct.unpack_from(endian + "I", data, off)[0]
        if btype == _PCAPNG_SHB:
            bom = data[off + 8 : off + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise FormatError(f"bad byte-order magic {bom.hex()} at byte {off}", path=path)
            interfaces = []
        blen = struct.unpack_from(endian + "I", data, off + 4)[0]
        if blen < 12 or blen % 4 or blen > _MAX_RECORD or off + blen > len(data):
            raise FormatError(f"block at byte {off} (after frame {index}) has bad length {blen}", path=path)
        body = data[off + 8 : off + blen - 4]
        if btype == 1:  # interface description
            if len(body) < 8:
                raise FormatError(f"interface block at byte {off} too short", path=path)
            linktype, _res, snaplen = struct.unpack_from(endian + "HHI", body, 0)
            unit, tsoff = _if_options(body[8:], endian)
            interfaces.append(_Interface(linktype, unit, tsoff, snaplen))
        elif btype in (6, 2):  # enhanced / obsolete packet block
            index += 1
            if btype == 6:
                if len(body) < 20:
                    raise FormatError(f"frame {index}: packet block too short", path=path)
                iface, hi, lo, caplen, _orig = struct.unpack_from(endian + "IIIII", body, 0)
                start = 20
            else:
                if len(body) < 20:
                    raise FormatError(f"frame {index}: packet block too short", path=path)
                iface, _drops, hi, lo, caplen, _orig = struct.unpack_from(endian + "HHIIII", body, 0)
                start = 20
            if iface >= len(interfaces):
                raise FormatError(f"frame {index}: unknown interface {iface}", path=path)
            if start + caplen > len(body):
                raise FormatError(f"frame {index}: captured length {caplen} runs past its block", path=path)
            itf = interfaces[iface]
            ts = ((hi << 32) | lo) * itf.unit + itf.offset
            yield Packet(index, ts, itf.linktype, body[start : start + caplen])
        elif btype == 3:  # simple packet block: interface 0, no timestamp
            index += 1
            if not interfaces or len(body) < 4:
                raise FormatError(f"frame {index}: simple packet block without interface", path=path)
            orig = struct.unpack_from(endian + "I", body, 0)[0]
            caplen = min(orig, interfaces[0].snaplen or orig, len(body) - 4)
            yield Packet(index, float("nan"), interfaces[0].linktype, body[4 : 4 + caplen])
        off += blen


def _if_options(opts: bytes, endian: str) -> tuple[float, float]:
    """Timestamp unit (if_tsresol) and offset (if_tsoffset) of an interface block."""
    unit, tsoff = 1e-6, 0.0
    off = 0
    while off + 4 <= len(opts):
        code, length = struct.unpack_from(endian + "HH", opts, off)
        val = opts[off + 4 : off + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:
            r = val[0]
            unit = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0 ** -(r & 0x7F)
        elif code == 14 and length >= 8:
            tsoff = float(struct.unpack_from(endian + "q", val, 0)[0])
        off += 4 + length + (-length % 4)
    return unit, tsoff


# --- 802.11 -----------------------------------------------------------------------------


def strip_radiotap(data: bytes) -> tuple[bytes, bool | None]:
    """The 802.11 frame inside a radiotap header, without its FCS when radiotap says one is
    appended (otherwise the 4 FCS bytes would be read as a bogus trailing element), and
    whether the frame check passed (``None`` when the capture does not say)."""
    if len(data) < 8:
        raise DecodeError("radiotap_truncated", f"{len(data)} bytes")
    version, _pad, length = struct.unpack_from("<BBH", data, 0)
    if version != 0 or length < 8 or length > len(data):
        raise DecodeError("radiotap_bad_header", f"version {version}, length {length}")
    # Walk the chain of present words (bit 31 = another word follows).
    off = 4
    present0 = struct.unpack_from("<I", data, 4)[0]
    word = present0
    while word & 0x80000000:
        off += 4
        if off + 4 > length:
            raise DecodeError("radiotap_bad_header", "present bitmap runs past the header")
        word = struct.unpack_from("<I", data, off)[0]
    off += 4
    flags = 0
    if present0 & 0x1:  # TSFT, 8-byte aligned
        off = (off + 7) & ~7
        off += 8
    if present0 & 0x2 and off < length:
        flags = data[off]
    frame = data[length:]
    if flags & 0x10:
        frame = frame[:-4]
    fcs_ok = None if not present0 & 0x2 else not flags & 0x40
    return frame, fcs_ok


@dataclass(frozen=True, slots=True)
class Dot11Management:
    """An 802.11 management frame: subtype (8 beacon, 5 probe response, 13 action, ...),
    transmitter address and the frame body after the 24-byte header."""

    subtype: int
    transmitter: str
    body: bytes


def dot11_management(frame: bytes) -> Dot11Management | None:
    """The management frame in ``frame``, or ``None`` for control and data frames."""
    if len(frame) < 2:
        raise DecodeError("dot11_truncated", f"{len(frame)} bytes")
    fc = frame[0] | (frame[1] << 8)
    if (fc >> 2) & 0x3 != 0 or fc & 0x3:
        return None
    if len(frame) < 24:
        raise DecodeError("dot11_truncated", f"management frame of {len(frame)} bytes")
    subtype = (fc >> 4) & 0xF
    hdr = 24
    if fc & 0x8000:  # +HTC: 4 more header bytes
        hdr += 4
    ta = ":".join(f"{b:02x}" for b in frame[10:16])
    return Dot11Management(subtype, ta, frame[hdr:])


def information_elements(elements: bytes) -> Iterator[tuple[int, bytes]]:
    """``(element id, body)`` pairs; a truncated last element raises ``DecodeError``."""
    off = 0
    n = len(elements)
    while off + 2 <= n:
        eid = elements[off]
        length = elements[off + 1]
        if off + 2 + length > n:
            raise DecodeError("ie_truncated", f"element {eid} of {length} bytes at offset {off}")
        yield eid, elements[off + 2 : off + 2 + length]
        off += 2 + length


_WFA_OUI = b"\x50\x6f\x9a"
_NAN_OUI_TYPE = 0x13


def nan_service_descriptors(action_body: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(service id, service info)`` of each NAN Service Descriptor attribute in a public
    action frame body (category 4, vendor specific 9, Wi-Fi Alliance OUI, type 0x13)."""
    if len(action_body) < 6 or action_body[0] != 4 or action_body[1] != 9:
        return
    if action_body[2:5] != _WFA_OUI or action_body[5] != _NAN_OUI_TYPE:
        return
    off = 6
    n = len(action_body)
    while off + 3 <= n:
        aid = action_body[off]
        alen = action_body[off + 1] | (action_body[off + 2] << 8)
        attr = action_body[off + 3 : off + 3 + alen]
        if len(attr) < alen:
            raise DecodeError("nan_truncated", f"attribute {aid} of {alen} bytes")
        off += 3 + alen
        if aid != 0x03:
            continue
        if alen < 9:
            raise DecodeError("nan_truncated", f"service descriptor of {alen} bytes")
        service_id = attr[:6]
        control = attr[8]
        p = 9
        if control & 0x40:  # binding bitmap
            p += 2
        # matching filter, service response filter, then service info: each length-prefixed
        for bit in (0x04, 0x08, 0x10):
            if not control & bit:
                continue
            if p >= alen:
                raise DecodeError("nan_truncated", "service descriptor field past its end")
            flen = attr[p]
            if p + 1 + flen > alen:
                raise DecodeError("nan_truncated", "service descriptor field past its end")
            if bit == 0x10:
                yield service_id, attr[p + 1 : p + 1 + flen]
            p += 1 + flen


# --- Bluetooth LE ---------------------------------------------------------------------------

_ADV_ACCESS_ADDRESS = 0x8E89BED6


@dataclass(frozen=True, slots=True)
class BleAdvertisement:
    """A Bluetooth LE advertising PDU: PDU type (2 ADV_NONCONN_IND, 7 extended, ...), PHY
    (``1M``, ``2M``, ``coded``), advertiser address, AdvData (AD structures) and whether the
    sniffer found the CRC good (``None`` when the capture does not say)."""

    pdu_type: int
    phy: str
    extended: bool
    address: str
    adv_data: bytes
    crc_ok: bool | None = None


_PHYS = ("1M", "2M", "coded")


def ble_advertisement(data: bytes, linktype: int) -> BleAdvertisement | None:
    """The advertising PDU of a BLE link-layer frame, or ``None`` for data-channel PDUs."""
    phy = "1M"
    crc_ok: bool | None = None
    if linktype == LINKTYPE_NORDIC_BLE:
        # nRF Sniffer: board id, 6-byte header (payload length, protocol version, counter,
        # packet id), then a packet header whose first byte is its own length.
        if len(data) < 8:
            raise DecodeError("ble_truncated", "nordic header")
        version = data[3]
        if version < 2:  # legacy header has a header-length byte first
            start = 1 + data[1] if data[1] else 7
        else:
            start = 7
        if start >= len(data):
            raise DecodeError("ble_truncated", "nordic packet header")
        if data[start - 1] not in (0x02, 0x06) and version >= 2:  # not an advertising/data PDU event
            return None
        hlen = data[start]
        if hlen < 4 or start + hlen > len(data):
            raise DecodeError("ble_truncated", "nordic packet header")
        flags = data[start + 1]
        crc_ok = bool(flags & 0x01)
        phy_code = (flags >> 4) & 0x7
        phy = _PHYS[phy_code] if phy_code < 3 else "1M"
        ll = data[start + hlen :]
    elif linktype == LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR:
        if len(data) < 10:
            raise DecodeError("ble_truncated", "pseudo-header")
        flags = data[8] | (data[9] << 8)
        if flags & 0x0400:
            crc_ok = bool(flags & 0x0800)
        phy_code = (flags >> 14) & 0x3
        phy = _PHYS[phy_code] if phy_code < 3 else "1M"
        ll = data[10:]
    elif linktype == LINKTYPE_BLUETOOTH_LE_LL:
        ll = data
    else:
        raise DecodeError("linktype_unsupported", str(linktype))
    if len(ll) < 6:
        raise DecodeError("ble_truncated", "link-layer packet")
    aa = struct.unpack_from("<I", ll, 0)[0]
    if aa != _ADV_ACCESS_ADDRESS:
        return None
    p = 4
    if phy == "coded" and linktype == LINKTYPE_NORDIC_BLE:
        p += 1  # coding indicator byte
    if p + 2 > len(ll):
        raise DecodeError("ble_truncated", "PDU header")
    pdu_type = ll[p] & 0x0F
    length = ll[p + 1]
    pdu = ll[p + 2 : p + 2 + length]
    if len(pdu) < length:
        raise DecodeError("ble_truncated", f"PDU of {length} bytes, {len(pdu)} captured")
    if pdu_type in (0, 2, 4, 6):  # ADV_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND
        if length < 6:
            raise DecodeError("ble_truncated", "legacy PDU without address")
        addr = ":".join(f"{b:02x}" for b in reversed(pdu[:6]))
        return BleAdvertisement(pdu_type, phy, False, addr, pdu[6:], crc_ok)
    if pdu_type == 7:  # common extended advertising payload
        if length < 1:
            raise DecodeError("ble_truncated", "extended header")
        ehl = pdu[0] & 0x3F
        if 1 + ehl > length:
            raise DecodeError("ble_bad_ext_header", f"extended header of {ehl} bytes in {length}")
        addr = ""
        if ehl >= 1:
            eflags = pdu[1]
            if eflags & 0x01 and ehl >= 7:
                addr = ":".join(f"{b:02x}" for b in reversed(pdu[2:8]))
        return BleAdvertisement(pdu_type, phy, True, addr, pdu[1 + ehl :], crc_ok)
    return None


def ad_structures(adv_data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(AD type, data)`` of each AD structure; zero length ends the list (padding)."""
    off = 0
    n = len(adv_data)
    while off < n:
        length = adv_data[off]
        if length == 0:
            return
        if off + 1 + length > n:
            raise DecodeError("ad_truncated", f"AD structure of {length} bytes at offset {off}")
        yield adv_data[off + 1], adv_data[off + 2 : off + 1 + length]
        off += 1 + length


def _addr(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in reversed(raw))


def hci_advertising_reports(data: bytes, linktype: int) -> list[BleAdvertisement]:
    """Advertisements in an HCI LE Meta event (a scanning host's view, e.g. a phone's btsnoop
    log): legacy (subevent 0x02) and extended (0x0D) advertising reports. Other HCI packets
    give an empty list. An extended report the controller split over several events (data
    status "incomplete") raises ``DecodeError('hci_fragmented')``: its pack is not whole."""
    if linktype == LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR:
        data = data[4:]
    elif linktype != LINKTYPE_BLUETOOTH_HCI_H4:
        raise DecodeError("linktype_unsupported", str(linktype))
    if len(data) < 4 or data[0] != 0x04 or data[1] != 0x3E:
        return []
    plen = data[2]
    params = data[3 : 3 + plen]
    if len(params) < plen or plen < 2:
        raise DecodeError("hci_truncated", f"event of {plen} bytes")
    sub, count = params[0], params[1]
    off = 2
    out: list[BleAdvertisement] = []
    for _ in range(count):
        if sub == 0x02:  # legacy: type, addr type, addr, len, data, rssi
            if off + 9 > len(params):
                raise DecodeError("hci_truncated", "advertising report")
            etype, addr, dlen = params[off], params[off + 2 : off + 8], params[off + 8]
            adv = params[off + 9 : off + 9 + dlen]
            if len(adv) < dlen:
                raise DecodeError("hci_truncated", "advertising data")
            out.append(BleAdvertisement(etype, "1M", False, _addr(addr), bytes(adv), True))
            off += 9 + dlen + 1
        elif sub == 0x0D:  # extended: 24 fixed bytes, then the data
            if off + 24 > len(params):
                raise DecodeError("hci_truncated", "extended advertising report")
            etype = params[off] | (params[off + 1] << 8)
            addr = params[off + 3 : off + 9]
            phy = params[off + 10] or params[off + 9]
            dlen = params[off + 23]
            adv = params[off + 24 : off + 24 + dlen]
            if len(adv) < dlen:
                raise DecodeError("hci_truncated", "extended advertising data")
            if (etype >> 5) & 0x3 == 1:
                raise DecodeError("hci_fragmented", "extended report continues in another event")
            legacy = bool(etype & 0x10)
            phy_name = {1: "1M", 2: "2M", 3: "coded"}.get(phy, "1M")
            out.append(
                BleAdvertisement(7 if not legacy else 2, phy_name, not legacy, _addr(addr), bytes(adv), True)
            )
            off += 24 + dlen
        else:
            return []
    return out
