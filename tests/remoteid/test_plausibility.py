"""Spoofing flags: the spoofed captures are flagged, the genuine ones are not, and each check
fires on a synthetic flight built with the encoder that breaks exactly its rule."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from skyfence.detect.remoteid import (
    BasicID,
    Location,
    MessagePack,
    PlausibilityConfig,
    System,
    beacon_frame,
    check_plausibility,
    decode_capture,
    default_site,
    position_reports,
    remote_id_detections,
)
from skyfence.sources.pcap import LINKTYPE_IEEE802_11, write_pcap

from ._data import need

GENUINE = (
    "remoteidreceiver-wifi-pcaps/parrot_anafi4_real.pcapng",
    "bkerler-droneid-pcaps/dji_air3.pcapng",
    "odid-wireshark-samples/odid_bt5_lr_sample.pcapng",
)
SPOOFED = (
    "remoteidreceiver-wifi-pcaps/parrot_anafi4_spoofed.pcapng",
    "remoteidreceiver-wifi-pcaps/mavic_alessa_spoofed.pcapng",
    "remoteidreceiver-wifi-pcaps/mavic_multiple_spoofed.pcapng",
)


def _verdicts(path: Path) -> dict[str, tuple[bool, dict[str, int]]]:
    reports = position_reports(decode_capture(path).decoded)
    plaus = check_plausibility(reports)
    return {v.serial: (v.spoofed, v.reasons) for v in plaus.verdicts(reports)}


@pytest.mark.parametrize("capture", GENUINE)
def test_genuine_drones_are_not_flagged(shared_data: Path, capture: str) -> None:
    verdicts = _verdicts(need(shared_data, capture))
    assert verdicts
    for serial, (spoofed, reasons) in verdicts.items():
        assert not spoofed, f"{capture}: {serial} flagged for {reasons}"


@pytest.mark.parametrize("capture", SPOOFED)
def test_spoofed_drones_are_flagged(shared_data: Path, capture: str) -> None:
    verdicts = _verdicts(need(shared_data, capture))
    assert verdicts
    for serial, (spoofed, reasons) in verdicts.items():
        assert spoofed, f"{capture}: {serial} not flagged"
        # Every spoofer here left the operator (pilot) at a place no radio link reaches.
        assert "operator_far" in reasons


def test_spoofed_anafi_replay_shows_its_tells(shared_data: Path) -> None:
    verdicts = _verdicts(need(shared_data, "remoteidreceiver-wifi-pcaps/parrot_anafi4_spoofed.pcapng"))
    _, reasons = verdicts["1588E040445AC004418"]
    # Moves hundreds of metres every 4 s while reporting 0 m/s, with a frozen clock, in packs cut short.
    assert {"position_jump", "timestamp_not_advancing", "malformed_frame", "operator_far"} <= set(reasons)


def test_dji_spoofer_reports_speed_it_never_flies(shared_data: Path) -> None:
    _, reasons = _verdicts(need(shared_data, "remoteidreceiver-wifi-pcaps/mavic_alessa_spoofed.pcapng"))[
        "K6RE0WENAH9P8QAL"
    ]
    assert "position_static_vs_velocity" in reasons


def test_bad_crc_bluetooth_frames_are_counted_not_decoded(shared_data: Path) -> None:
    path = need(shared_data, "odid-wireshark-samples/odid_bt5_lr_sample.pcapng")
    strict = decode_capture(path)
    loose = decode_capture(path, keep_bad_crc=True)
    assert strict.errors["crc_error"] == 28
    assert all(dp.payload.crc_ok is True for dp in strict.decoded)
    assert sum(dp.payload.crc_ok is False for dp in loose.decoded) > 0
    serials = set(position_reports(strict.decoded).serial)
    assert serials == {"SSEVTFG93700070"}


# --- synthetic flights through the encoder, a pcap file and the whole decoder -----------------

SITE = (47.0, 8.0)
MAC = "02:00:00:00:00:01"


def _flight(
    tmp_path: Path,
    n: int = 40,
    speed: float = 15.0,
    jump_at: int | None = None,
    clock_back_at: int | None = None,
    frozen_clock: bool = False,
    operator_km: float = 0.2,
    reported_speed: float | None = None,
) -> Path:
    """A drone flying north at ``speed`` m/s, one beacon per second, with one fault injected."""
    t0 = 1_700_000_000.0
    frames = []
    for k in range(n):
        t = t0 + k
        north = speed * k + (500.0 if jump_at is not None and k >= jump_at else 0.0)
        lat = SITE[0] + north / 111_195.0
        ts = (t % 3600.0) if not frozen_clock else (t0 % 3600.0)
        if clock_back_at is not None and k == clock_back_at:
            ts -= 20.0
        loc = Location(
            status=2, height_type=0, direction=0.0,
            speed_horizontal=speed if reported_speed is None else reported_speed, speed_vertical=0.0,
            latitude=lat, longitude=SITE[1], altitude_baro=None, altitude_geo=520.0, height=80.0,
            horizontal_accuracy=10, vertical_accuracy=4, baro_accuracy=0, speed_accuracy=3,
            timestamp_accuracy=2, timestamp=round(ts % 3600.0, 1),
        )  # fmt: skip
        system = System(
            operator_location_type=1, classification_type=1,
            operator_latitude=SITE[0] - operator_km / 111.195,
            operator_longitude=SITE[1], area_count=1, area_radius=0.0, area_ceiling=None, area_floor=None,
            category_eu=1, class_eu=2, operator_altitude_geo=500.0, timestamp=int(t - 1546300800),
        )  # fmt: skip
        pack = MessagePack((BasicID(1, 2, "SYNTH0001"), loc, system))
        frames.append((t, beacon_frame(pack, k, MAC, ssid="RID-SYNTH0001")))
    path = tmp_path / "flight.pcap"
    write_pcap(path, frames, LINKTYPE_IEEE802_11)
    return path


def _reasons(path: Path, config: PlausibilityConfig | None = None) -> dict[str, int]:
    reports = position_reports(decode_capture(path).decoded)
    (verdict,) = check_plausibility(reports, config).verdicts(reports)
    assert verdict.serial == "SYNTH0001"
    return verdict.reasons


def test_a_compliant_synthetic_flight_is_plausible(tmp_path: Path) -> None:
    assert _reasons(_flight(tmp_path)) == {}


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"jump_at": 20}, "position_jump"),
        ({"clock_back_at": 20}, "timestamp_out_of_order"),
        ({"frozen_clock": True}, "timestamp_not_advancing"),
        ({"operator_km": 40.0}, "operator_far"),
        ({"speed": 120.0}, "impossible_speed"),
        ({"speed": 0.0, "reported_speed": 30.0}, "position_static_vs_velocity"),
    ],
)
def test_each_check_fires_on_its_fault(tmp_path: Path, fault: dict[str, float], reason: str) -> None:
    reasons = _reasons(_flight(tmp_path, **fault))  # type: ignore[arg-type]
    assert reason in reasons, reasons


def test_thresholds_come_from_the_config(tmp_path: Path) -> None:
    path = _flight(tmp_path, operator_km=40.0)
    assert "operator_far" not in _reasons(path, PlausibilityConfig(max_operator_distance=50_000.0))


def test_flag_is_causal(tmp_path: Path) -> None:
    reports = position_reports(decode_capture(_flight(tmp_path, jump_at=25)).decoded)
    plaus = check_plausibility(reports)
    first = int(np.argmax(plaus.spoofed))
    assert not plaus.spoofed[:first].any() and plaus.spoofed[first:].all()
    assert reports.t[first] == reports.t.min() + 25
    reasons = plaus.reasons()
    assert reasons[first] == "position_jump" and set(reasons[:first]) == {""}


def test_detections_in_the_site_frame(tmp_path: Path) -> None:
    reports = position_reports(decode_capture(_flight(tmp_path, n=10)).decoded)
    site = default_site(reports)
    assert site is not None
    dets = remote_id_detections(reports, check_plausibility(reports), site)
    assert dets.kind == "remote_id" and len(dets) == 10
    # Flying north at 15 m/s from the origin, one report per second.
    np.testing.assert_allclose(dets.z[:, 1], 15.0 * np.arange(10), atol=0.05)
    np.testing.assert_allclose(dets.z[:, 0], 0.0, atol=0.05)
    assert np.all(dets.attrs["serial"] == "SYNTH0001")
    assert not dets.attrs["spoofed"].any()
    np.testing.assert_allclose(dets.attrs["speed"], 15.0)
    assert math.isclose(float(dets.attrs["course"][0]), 0.0)
    # Accuracy category 10 (< 30 m, 95 %) -> sigma 15 m.
    np.testing.assert_allclose(dets.R[:, 0, 0], 15.0**2)
    np.testing.assert_allclose(dets.attrs["drone_time"], dets.t, atol=0.11)


def _ble_legacy_frame(adv_data: bytes, address: str) -> bytes:
    """A BLE link-layer ADV_NONCONN_IND: access address, header, AdvA (little-endian), AdvData, CRC."""
    adv_a = bytes.fromhex(address.replace(":", ""))[::-1]
    pdu = adv_a + adv_data
    return bytes.fromhex("d6be898e") + bytes([0x02, len(pdu)]) + pdu + b"\x00\x00\x00"


def test_bluetooth_legacy_single_messages_are_tied_to_their_serial(tmp_path: Path) -> None:
    """Bluetooth 4 sends one message per advertisement; Location messages heard before the
    Basic ID still get the drone's serial through the advertiser address."""
    from skyfence.detect.remoteid import ble_legacy_advertising_data
    from skyfence.sources.pcap import LINKTYPE_BLUETOOTH_LE_LL

    addr = "c0:ff:ee:00:00:01"
    t0 = 1_700_000_000.0
    packets = []
    for k in range(12):
        if k % 4 == 3:
            msg: object = BasicID(1, 2, "BT4SERIAL")
        else:
            msg = Location(2, 0, 0.0, 5.0, 0.0, SITE[0] + 5.0 * k / 111_195.0, SITE[1], None, 500.0, 50.0,
                           10, 4, 0, 3, 2, round((t0 + k) % 3600.0, 1))  # fmt: skip
        adv = ble_legacy_advertising_data(msg, k)  # type: ignore[arg-type]
        packets.append((t0 + k, _ble_legacy_frame(adv, addr)))
    path = tmp_path / "bt4.pcap"
    write_pcap(path, packets, LINKTYPE_BLUETOOTH_LE_LL)
    result = decode_capture(path)
    assert not result.errors
    assert {dp.payload.transport for dp in result.decoded} == {"bt_legacy"}
    assert {dp.payload.address for dp in result.decoded} == {addr}
    reports = position_reports(result.decoded)
    assert len(reports) == 9 and set(reports.serial) == {"BT4SERIAL"}
    assert not check_plausibility(reports).spoofed.any()
