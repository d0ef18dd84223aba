"""Where Remote ID sits inside a captured frame: Wi-Fi beacon vendor elements (ASTM and DJI
DroneID), Wi-Fi NAN service discovery frames and Bluetooth LE advertising (legacy and
extended). Returns the Remote ID payloads of a frame; never decodes the messages themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from skyfence.errors import DecodeError
from skyfence.sources.pcap import (
    LINKTYPE_BLUETOOTH_HCI_H4,
    LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR,
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_NORDIC_BLE,
    BleAdvertisement,
    Packet,
    ad_structures,
    ble_advertisement,
    dot11_management,
    hci_advertising_reports,
    information_elements,
    nan_service_descriptors,
    strip_radiotap,
)

__all__ = [
    "ASTM_OUI",
    "DJI_OUIS",
    "NAN_SERVICE_ID",
    "ODID_APP_CODE",
    "ODID_UUID16",
    "Payload",
    "Transport",
    "remote_id_payloads",
]

#: ASD-STAN / ASTM vendor element: OUI FA-0B-BC, vendor type 0x0D.
ASTM_OUI = b"\xfa\x0b\xbc"
ASTM_VENDOR_TYPE = 0x0D
#: DJI's own DroneID beacon element; 26:37:12 is what DJI and known spoofers use.
DJI_OUIS = (b"\x26\x37\x12", b"\x60\x60\x1f", b"\x48\x1c\xb9", b"\x34\xd2\x62")
#: First 6 bytes of SHA-256("org.opendroneid.remoteid"): the NAN service id of Remote ID.
NAN_SERVICE_ID = bytes.fromhex("8869199d9209")
#: Bluetooth service data: ASTM's 16-bit UUID 0xFFFA and application code 0x0D.
ODID_UUID16 = 0xFFFA
ODID_APP_CODE = 0x0D

Transport = Literal["wifi_beacon", "wifi_nan", "bt_legacy", "bt_extended"]
RemoteIdProtocol = Literal["astm", "dji"]


@dataclass(frozen=True, slots=True)
class Payload:
    """One Remote ID payload found in a frame.

    ``data`` is the ODID message or pack after the message counter (``protocol == 'astm'``),
    or the DJI vendor element body from its OUI on (``'dji'``). ``address`` is the transmitter
    (802.11 TA or BLE advertiser address), used to tie single Bluetooth messages to a drone.
    ``crc_ok`` is the capture's frame-check verdict (``None`` when it does not record one)."""

    index: int
    t: float
    transport: Transport
    protocol: RemoteIdProtocol
    address: str
    counter: int
    data: bytes
    crc_ok: bool | None = None


_WIFI = (LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP)
_BLE = (LINKTYPE_BLUETOOTH_LE_LL, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, LINKTYPE_NORDIC_BLE)
_HCI = (LINKTYPE_BLUETOOTH_HCI_H4, LINKTYPE_BLUETOOTH_HCI_H4_WITH_PHDR)


def remote_id_payloads(packet: Packet) -> list[Payload]:
    """Every Remote ID payload in one captured frame (usually none or one).

    Raises :class:`DecodeError` when the frame is damaged where Remote ID would be, or when
    its link type is not one of 802.11 (with or without radiotap), BLE link layer or HCI H4."""
    if packet.linktype in _WIFI:
        if packet.linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            frame, fcs_ok = strip_radiotap(packet.data)
        else:
            frame, fcs_ok = packet.data, None
        return _wifi_payloads(packet, frame, fcs_ok)
    if packet.linktype in _BLE:
        adv = ble_advertisement(packet.data, packet.linktype)
        return [] if adv is None else _ble_payloads(packet, adv)
    if packet.linktype in _HCI:
        return [
            pl
            for adv in hci_advertising_reports(packet.data, packet.linktype)
            for pl in _ble_payloads(packet, adv)
        ]
    raise DecodeError("linktype_unsupported", f"link type {packet.linktype}")


def _wifi_payloads(packet: Packet, frame: bytes, fcs_ok: bool | None) -> list[Payload]:
    mgmt = dot11_management(frame)
    if mgmt is None:
        return []
    out: list[Payload] = []
    if mgmt.subtype in (8, 5):  # beacon, probe response: 12 fixed bytes then elements
        if len(mgmt.body) < 12:
            raise DecodeError("dot11_truncated", "beacon body")
        for eid, body in information_elements(mgmt.body[12:]):
            if eid != 221 or len(body) < 4:
                continue
            oui = body[:3]
            if oui == ASTM_OUI and body[3] == ASTM_VENDOR_TYPE:
                if len(body) < 5:
                    raise DecodeError("ie_truncated", "ASTM element without message counter")
                out.append(
                    Payload(
                        packet.index,
                        packet.t,
                        "wifi_beacon",
                        "astm",
                        mgmt.transmitter,
                        body[4],
                        body[5:],
                        fcs_ok,
                    )
                )
            elif oui in DJI_OUIS:
                out.append(
                    Payload(packet.index, packet.t, "wifi_beacon", "dji", mgmt.transmitter, -1, body, fcs_ok)
                )
    elif mgmt.subtype in (13, 14):  # action, action no-ack
        for service_id, info in nan_service_descriptors(mgmt.body):
            if service_id != NAN_SERVICE_ID:
                continue
            if len(info) < 2:
                raise DecodeError("nan_truncated", "service info without message counter")
            out.append(
                Payload(
                    packet.index, packet.t, "wifi_nan", "astm", mgmt.transmitter, info[0], info[1:], fcs_ok
                )
            )
    return out


def _ble_payloads(packet: Packet, adv: BleAdvertisement) -> list[Payload]:
    out: list[Payload] = []
    transport: Transport = "bt_extended" if adv.extended else "bt_legacy"
    for ad_type, data in ad_structures(adv.adv_data):
        if ad_type != 0x16 or len(data) < 3:
            continue
        if data[0] | (data[1] << 8) != ODID_UUID16 or data[2] != ODID_APP_CODE:
            continue
        if len(data) < 4:
            raise DecodeError("ad_truncated", "ODID service data without message counter")
        out.append(
            Payload(packet.index, packet.t, transport, "astm", adv.address, data[3], data[4:], adv.crc_ok)
        )
    return out
