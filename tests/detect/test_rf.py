"""RF detector figures on synthetic links (Pd at 0 dB, false alarms on noise, protocol accuracy at
10 dB, LoRa SF/BW estimates, bearings) and on the real recordings in ../shared/data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from rf_trials import FS, noise_alarms, run_trial

from skyfence.detect.rf import RfDetector, RfDetectorConfig, emission_records, protocol_counts
from skyfence.detect.rf.bearing import ArrayGeometry
from skyfence.detect.rf.features import dechirp
from skyfence.simulate.iq import Emitter, elrs, synthesize
from skyfence.sources.sigmf import open_sigmf

LINKS = ("elrs", "analog_video", "digital_ofdm", "wifi", "narrowband")
TRIALS = 16


def test_false_alarm_rate_per_block_on_noise() -> None:
    # Small blocks so that thousands fit in seconds; the thresholds come from the same plan for
    # every block shape (design 1e-4 per block). The measured rate must stay under 1e-3.
    cfg = RfDetectorConfig(nfft=128, block_frames=32, scales=((2, 16), (8, 8), (0, 4)))
    blocks = 6000
    alarms = noise_alarms(blocks, np.random.default_rng(11), cfg)
    assert alarms / blocks <= 1e-3


def test_false_alarms_with_the_default_blocks() -> None:
    cfg = RfDetectorConfig()
    assert noise_alarms(60, np.random.default_rng(12), cfg, chunk=20) == 0
    det = RfDetector(cfg, sample_rate=FS)
    noise = synthesize([], sample_rate=FS, n=4 * cfg.block_len, rng=np.random.default_rng(13))
    assert len(det.detect(noise.samples)) == 0


@pytest.mark.parametrize("link", LINKS)
def test_detection_probability_at_0_db(link: str) -> None:
    rng = np.random.default_rng(100 + LINKS.index(link))
    hits = [run_trial(link, 0.0, rng).detected for _ in range(TRIALS)]
    assert np.mean(hits) >= 0.9


@pytest.mark.parametrize("link", LINKS)
def test_protocol_accuracy_at_10_db(link: str) -> None:
    rng = np.random.default_rng(200 + LINKS.index(link))
    results = [run_trial(link, 10.0, rng) for _ in range(TRIALS)]
    assert np.mean([r.protocol == link for r in results]) >= 0.95 - 1e-9 or (
        # 16 trials: one miss is 93.75 %; the pooled figure over all links is the spec (below).
        sum(r.protocol != link for r in results) <= 1
    )
    # Bandwidth within a factor of two of the truth's 99 % bandwidth.
    ratios = [r.bandwidth / r.truth_bandwidth for r in results if r.detected]
    assert 0.5 < float(np.median(ratios)) < 2.0


def test_pooled_protocol_accuracy_at_10_db() -> None:
    rng = np.random.default_rng(300)
    ok = [run_trial(link, 10.0, rng).protocol == link for _ in range(8) for link in LINKS]
    assert np.mean(ok) >= 0.95


@pytest.mark.parametrize(("sf", "bw"), [(6, 500e3), (7, 500e3), (8, 500e3), (7, 250e3), (7, 125e3)])
def test_dechirp_estimates_spreading_factor_and_bandwidth(sf: int, bw: float) -> None:
    rng = np.random.default_rng(sf)
    fs = 4e6
    x, on, _ = elrs(int(0.06 * fs), fs, rng, sf=sf, bw=bw, packet_interval=0.001)
    seg = x[on][: int(0.03 * fs)]
    seg = seg + 0.3 * (rng.standard_normal(seg.size) + 1j * rng.standard_normal(seg.size))
    # The detector offers the LoRa bandwidths its measured occupied bandwidth allows, as here;
    # offering all would be ambiguous (500 kHz SF8 and 250 kHz SF6 sweep at the same rate).
    allowed = [b for b in (125e3, 250e3, 500e3) if 0.55 * b <= bw <= 1.6 * b]
    fit = dechirp(seg.astype(np.complex64), fs, 0.0, allowed, range(6, 13))
    assert (fit.sf, fit.bandwidth) == (sf, bw)


def test_hopping_link_keeps_one_link_id() -> None:
    cfg = RfDetectorConfig()
    em = Emitter(
        "elrs", 0.0, 12.0, params=dict(sf=6, bw=500e3, hop_channels=[-6e6, -1e6, 4e6], packet_interval=4e-3)
    )
    scene = synthesize([em], sample_rate=FS, n=6 * cfg.block_len, rng=np.random.default_rng(3))
    out = RfDetector(cfg, sample_rate=FS, frequency=2.44e9).detect(scene.samples)
    chirps = out.take(np.flatnonzero(out.protocol == "elrs"))
    assert len(chirps) >= 10
    assert set(chirps.link.tolist()) == {0} and set(chirps.sf.tolist()) == {6}
    # Every hop channel is seen, each at its RF frequency.
    for f in (-6e6, -1e6, 4e6):
        assert np.any(np.abs(chirps.f_center - (2.44e9 + f)) < 50e3)


@pytest.mark.parametrize(
    "elements",
    [
        np.array([[0.0, 0.0, 0.0], [0.02, 0.0, 0.0]]),
        np.array([[0.0, 0.0, 0.0], [0.025, 0.0, 0.0], [0.0125, 0.02, 0.0], [0.0125, -0.02, 0.0]]),
    ],
    ids=["interferometer", "music"],
)
def test_bearing_from_an_array(elements: np.ndarray) -> None:
    cfg = RfDetectorConfig()
    az = math.radians(57.0)
    em = Emitter("analog_video", 2e6, 15.0, az=az)
    scene = synthesize(
        [em],
        sample_rate=FS,
        n=cfg.block_len,
        rng=np.random.default_rng(5),
        frequency=5.8e9,
        positions=elements,
    )
    geom = ArrayGeometry(elements, np.zeros(3), "df-1")
    out = RfDetector(cfg, sample_rate=FS, frequency=5.8e9, sensor_id="df-1", array=geom).detect(scene.samples)
    i = int(np.argmax(out.snr_db))
    err = min(
        abs((out.az[i] - az + math.pi) % (2 * math.pi) - math.pi),
        abs((out.az_alt[i] - az + math.pi) % (2 * math.pi) - math.pi)
        if math.isfinite(out.az_alt[i])
        else 9.0,
    )
    assert err < math.radians(3.0)
    dets = out.to_detections()
    assert dets.kind == "bearing" and len(dets) == len(out)
    assert dets.attrs["protocol"][i] == "analog_video"
    assert dets.cls_lik is not None and dets.cls_lik[i, 3] == 0.0  # never a bird
    rec = next(emission_records(out.take(np.array([i]))))
    assert rec["protocol"] == "analog_video" and "az" in rec


def test_dji_ocusync_recording_is_a_wide_ofdm_emission(shared_data: Path) -> None:
    x = np.fromfile(shared_data / "dji-droneid-iq-dronesecurity" / "mavic_air_2", dtype="<c8")
    cfg = RfDetectorConfig(block_frames=64)
    out = RfDetector(cfg, sample_rate=50e6).detect(x)
    counts = protocol_counts(out)
    assert "elrs" not in counts and "analog_video" not in counts
    ofdm = out.take(np.flatnonzero(out.protocol == "digital_ofdm"))
    assert len(ofdm) >= 2
    # OcuSync/DroneID uses LTE numerology: 15 kHz subcarriers, 66.7 us useful symbols; 10 MHz class.
    assert np.any(np.abs(ofdm.symbol_time - 1 / 15e3) < 3e-6)
    assert np.all((ofdm.bandwidth > 5e6) & (ofdm.bandwidth < 20e6))


def test_sigmf_logo_real_valued_two_channels(shared_data: Path) -> None:
    rec = open_sigmf(shared_data / "sigmf-logo-example" / "sigmf_logo.sigmf-meta")
    cfg = RfDetectorConfig(nfft=256, block_frames=64)
    det = RfDetector(cfg, sample_rate=rec.sample_rate)
    found = [
        det.detect(b.samples, b.t0) for b in rec.blocks(cfg.block_len) if b.samples.shape[1] == cfg.block_len
    ]
    # The logo is drawn within +-22 kHz over the annotated span: something is found there.
    total = sum(len(e) for e in found)
    assert total > 0
    assert all(np.all(np.abs(e.f_offset) <= 24e3) for e in found)
