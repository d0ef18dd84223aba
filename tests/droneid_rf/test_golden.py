"""Golden test: the DroneSecurity (NDSS'23) Mavic Air 2 baseband capture decodes to the payload
its authors published, field by field, and every stage on the way is clean.

Scalings: the reference divides coordinates by 174533 (an approximation of 1e7 * 180/pi) and
reads altitude and height as feet; skyfence uses the exact radian scaling and the Wi-Fi DroneID
units, so the test compares the raw integers the two readings come from.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from skyfence.detect.droneid_rf import DroneIdFrame, decode_droneid_iq, droneid_crc16
from skyfence.detect.remoteid.dji import DjiFlightInfo

from .conftest import SAMPLE_RATE, Decoded

_REF_RAD7 = 174533.0


def _raw_deg(deg: float | None) -> int:
    assert deg is not None
    return round(math.radians(deg) * 1e7)


def _flight(frames: list[DroneIdFrame], seq: int) -> tuple[DroneIdFrame, DjiFlightInfo]:
    hits = [f for f in frames if f.flight_info is not None and f.flight_info.sequence_number == seq]
    assert len(hits) == 1, [f.flight_info for f in frames]
    info = hits[0].flight_info
    assert info is not None
    return hits[0], info


def test_counts(mavic: Decoded) -> None:
    summary = mavic.expected["decoder_summary"]
    st = mavic.stats
    # The reference found 3 frame candidates and decoded 1 (it could not synchronise the other
    # two). skyfence demodulates all 3; its energy detector also flags a 0.2 ms fragment at the
    # end of the capture, which is counted as too short.
    assert st.demodulated == summary["frame_detection_candidates"] == 3
    assert st.candidates == 4 and st.errors == {"droneid_rf_short": 1}
    assert st.crc_ok == 3 and st.crc_errors == 0 and st.payload_crc_ok == 3
    assert [f.subcommand for f in mavic.frames] == [0x11, 0x10, 0x10]
    assert all(f.turbo_iterations == 0 for f in mavic.frames)  # clean: systematic bits suffice


def test_payload_matches_reference(mavic: Decoded) -> None:
    (exp,) = mavic.expected["payloads"]
    frame, info = _flight(mavic.frames, exp["sequence_number"])
    block = frame.block
    assert block[0] == exp["pkt_len"] and block[1] == exp["unk"]
    assert info.version == exp["version"]
    assert info.sequence_number == exp["sequence_number"]
    assert info.state_info == exp["state_info"]
    assert info.serial_number == exp["serial_number"]
    for ours, theirs in [
        (info.longitude, exp["longitude"]),
        (info.latitude, exp["latitude"]),
        (info.pilot_latitude, exp["app_lat"]),
        (info.pilot_longitude, exp["app_lon"]),
        (info.home_longitude, exp["longitude_home"]),
        (info.home_latitude, exp["latitude_home"]),
    ]:
        # ours is rounded to 1e-7 degree (0.17 raw units)
        assert abs(_raw_deg(ours) - round(theirs * _REF_RAD7)) <= 1
    assert round(info.altitude / 3.281, 2) == exp["altitude"]
    assert round(info.height * 10 / 3.281, 2) == exp["height"]
    assert round(info.v_north * 100) == exp["v_north"]
    assert round(info.v_east * 100) == exp["v_east"]
    assert round(info.v_up * 100) == exp["v_up"]
    assert round(info.yaw * 100) == exp["d_1_angle"]
    assert info.gps_time == exp["gps_time"]
    assert info.product_type == 58 and exp["device_type"] == "Mavic Air 2"
    assert len(info.uuid) == exp["uuid_len"] and info.uuid == exp["uuid"]
    stored = int.from_bytes(block[89:91], "little")
    assert f"{stored:04x}" == exp["crc-packet"] == exp["crc-calculated"]
    assert droneid_crc16(block[:89]) == stored and frame.payload_crc_ok
    lat, lon, height = mavic.expected["drone_coordinates_lat_lon_height"]
    assert (lat, lon) == (exp["latitude"], exp["longitude"]) and height == exp["height"]


def test_earlier_flight_info_frame_is_the_same_drone(mavic: Decoded) -> None:
    _, info = _flight(mavic.frames, 589)
    _, later = _flight(mavic.frames, 591)
    assert info.serial_number == later.serial_number and info.uuid == later.uuid
    assert info.gps_time == later.gps_time


def test_stages_are_clean(mavic: Decoded) -> None:
    """Sync, equalisation and descrambling: every burst's pilot symbol (the bare scrambling
    sequence) is error-free, EVM is better than -15 dB and both ZC symbols correlate."""
    for f in mavic.frames:
        assert f.pilot_bit_errors == 0
        assert f.evm_db < -15.0
        assert f.zc_quality > 0.99
        assert f.crc_ok
    starts = [f.start_s for f in mavic.frames]
    assert starts == sorted(starts) and 1.8e-3 < starts[0] < 1.9e-3
    # Two bursts on one hop, the third 14.5 MHz lower.
    cfos = [f.cfo_hz for f in mavic.frames]
    assert abs(cfos[0] - cfos[1]) < 2e3 and abs(cfos[2] - cfos[0] + 14.48e6) < 50e3


@pytest.mark.parametrize("snr_db", [-4.0, -6.0])
def test_noisy_capture_needs_and_gets_the_turbo_decoder(mavic: Decoded, snr_db: float) -> None:
    """White noise across the 50 MHz stronger than the bursts (-4 dB / -6 dB, about 3 / 1 dB
    SNR in the 9 MHz band): hard decisions on the systematic bits fail the CRC, the turbo
    decoder recovers the payload."""
    rng = np.random.default_rng(20261125)
    x = mavic.samples
    p = float(np.mean(np.abs(x[165238:197808]) ** 2))
    sigma = math.sqrt(p / 2 / 10 ** (snr_db / 10))
    noisy = (x + rng.normal(0, sigma, x.size) + 1j * rng.normal(0, sigma, x.size)).astype(np.complex64)
    frames = decode_droneid_iq(noisy, SAMPLE_RATE)
    frame, info = _flight(frames, 591)
    assert frame.crc_ok and frame.payload_crc_ok and frame.turbo_iterations >= 1
    assert frame.pilot_bit_errors > 0
    assert info.serial_number == "1WNBH3900201N1" and info.gps_time == 1650542026258


def test_other_sdr_rate(mavic: Decoded) -> None:
    """The same bursts at 30.72 MS/s (shifted 5 MHz up so both hops fit in the band) decode the
    same: nothing assumes the 50 MS/s of the reference receiver."""
    from scipy import signal

    x = mavic.samples * np.exp(2j * np.pi * 5e6 * np.arange(mavic.samples.size) / SAMPLE_RATE)
    y = signal.resample_poly(x, 384, 625).astype(np.complex64)  # 50 -> 30.72 MS/s
    frames = decode_droneid_iq(y, 30.72e6)
    assert [f.subcommand for f in frames] == [0x11, 0x10, 0x10]
    assert all(f.crc_ok and f.payload_crc_ok and f.pilot_bit_errors == 0 for f in frames)
    _, info = _flight(frames, 591)
    assert info.serial_number == "1WNBH3900201N1"
    cfos = [f.cfo_hz for f in frames]
    assert abs(cfos[0] - 7.007e6) < 50e3 and abs(cfos[2] + 7.47e6) < 50e3
