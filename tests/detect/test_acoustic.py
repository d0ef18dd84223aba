"""Acoustic detector: synthetic drones against synthetic distractors, the held-out real clips,
blade-pass tracking, GCC-PHAT and SRP-PHAT bearings."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from skyfence.detect.acoustic import AcousticDetector, blade_pass, clip_probability, gcc_phat, srp_phat
from skyfence.detect.acoustic.features import to_rate
from skyfence.detect.acoustic.model import AcousticModel
from skyfence.detect.rf.bearing import ArrayGeometry
from skyfence.simulate.audio import NEGATIVE_KINDS, array_audio, drone_audio, negative_audio
from skyfence.sources.wav import read_wav


@pytest.fixture(scope="module")
def model() -> AcousticModel:
    return AcousticModel.load()


def test_shipped_model_is_small(model: AcousticModel) -> None:
    from skyfence.detect.acoustic.model import DEFAULT_MODEL

    assert DEFAULT_MODEL.stat().st_size < 16_000
    assert model.w1.shape[0] == model.mean.shape[0]


def test_synthetic_drones_against_every_kind_of_distractor(model: AcousticModel) -> None:
    rng = np.random.default_rng(4242)  # seeds the training script never uses
    drones = [clip_probability(model, drone_audio(1.0, 16000, rng), 16000) for _ in range(40)]
    others = [
        clip_probability(model, negative_audio(1.0, 16000, rng, k), 16000)
        for k in NEGATIVE_KINDS
        for _ in range(4)
    ]
    acc = (np.sum(np.array(drones) >= 0.5) + np.sum(np.array(others) < 0.5)) / (len(drones) + len(others))
    assert acc >= 0.8


def test_held_out_real_clips(shared_data: Path, model: AcousticModel) -> None:
    root = shared_data / "drone-audio-alemadi"
    ok = []
    with (root / "labels.csv").open() as fh:
        for row in csv.DictReader(fh):
            a = read_wav(root / row["file"])
            p = clip_probability(model, a.samples[0], a.sample_rate)
            ok.append((p >= 0.5) == (row["binary_label"] == "yes_drone"))
    assert len(ok) == 40
    assert np.mean(ok) >= 0.9


@pytest.mark.parametrize("bpf", [80.0, 150.0, 320.0])
def test_blade_pass_tracking(bpf: float) -> None:
    rng = np.random.default_rng(int(bpf))
    x = drone_audio(1.0, 22050, rng, bpf=bpf, rotors=1, snr_db=20.0)
    f0 = float(np.median(blade_pass(to_rate(x, 22050)).f0))
    # The harmonic sum may lock on the fundamental or (for strong even harmonics) its double.
    assert min(abs(f0 - bpf), abs(f0 - 2 * bpf)) / bpf < 0.08


def test_gcc_phat_delay() -> None:
    rng = np.random.default_rng(1)
    fs = 48000
    x = rng.standard_normal(fs // 2)
    delayed = np.concatenate([np.zeros(17), x[:-17]])
    assert gcc_phat(x, delayed, fs, 1e-3) == pytest.approx(17 / fs, abs=0.2 / fs)


@pytest.mark.parametrize("az_deg", [0.0, 75.0, 200.0, 301.0])
def test_srp_phat_bearing_with_a_square_array(square_array: tuple[Path, np.ndarray], az_deg: float) -> None:
    _, el = square_array
    rng = np.random.default_rng(int(az_deg))
    fs = 16000
    x = drone_audio(1.0, fs, rng, snr_db=15.0)
    mics = array_audio(x, fs, el, math.radians(az_deg))
    mics += 0.05 * rng.standard_normal(mics.shape)
    b = srp_phat(mics, fs, el)
    err = abs((b.az - math.radians(az_deg) + math.pi) % (2 * math.pi) - math.pi)
    assert err < math.radians(5.0)


def test_detector_windows_and_bearing_detections(square_array: tuple[Path, np.ndarray]) -> None:
    _, el = square_array
    rng = np.random.default_rng(9)
    fs = 16000
    quiet = rng.standard_normal(2 * fs) * 1e-6
    drone = drone_audio(3.0, fs, rng, bpf=180.0, snr_db=20.0)
    x = array_audio(np.concatenate([quiet, drone]), fs, el, math.radians(130.0))
    det = AcousticDetector(sensor_id="mic-1", array=ArrayGeometry(el, np.zeros(3), "mic-1"))
    ev = det.detect(x, fs, t0=1000.0)
    assert len(ev) == 9 and ev.t[0] == pytest.approx(1000.5)
    assert np.all(ev.p_drone[:3] == 0.0)  # silence is never a drone
    assert np.mean(ev.p_drone[5:] >= 0.5) >= 0.75
    dets = ev.to_detections()
    assert dets.kind == "bearing" and len(dets) >= 3
    err = np.abs((dets.z[:, 0] - math.radians(130.0) + math.pi) % (2 * math.pi) - math.pi)
    assert np.all(err < math.radians(6.0))
    assert dets.cls_lik is not None and np.allclose(dets.cls_lik.sum(axis=1), 1.0)
