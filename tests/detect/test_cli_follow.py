"""`skyfence detect rf|audio` end to end, bad files through the CLI, and the live --follow
latency from samples written to a growing SigMF file to the emission coming out."""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from skyfence.cli import main
from skyfence.detect.rf import RfDetectorConfig
from skyfence.detect.rf.stream import detect_recording, detector_for
from skyfence.model.records import read_detections
from skyfence.simulate.audio import array_audio, drone_audio
from skyfence.simulate.iq import Emitter, synthesize
from skyfence.sources.sigmf import encode_samples, open_sigmf, parse_datatype, write_sigmf
from skyfence.sources.wav import write_wav

FS = 20e6


def test_detect_rf_with_an_array_feeds_track_records(
    tmp_path: Path, square_array: tuple[Path, np.ndarray]
) -> None:
    path, _ = square_array
    el = np.array(json.loads(path.read_text())["elements"]) * 0.04  # 2 cm square at 5.8 GHz
    path.write_text(json.dumps({"sensor_id": "df-1", "elements": el.tolist()}))
    cfg = RfDetectorConfig()
    scene = synthesize(
        [Emitter("analog_video", -3e6, 15.0, az=math.radians(250.0))],
        sample_rate=FS,
        n=3 * cfg.block_len,
        rng=np.random.default_rng(2),
        frequency=5.8e9,
        positions=el,
    )
    meta = tmp_path / "cap.sigmf-meta"
    # Scaled for ADC headroom: ci16 clips at full scale.
    write_sigmf(
        meta,
        0.1 * scene.samples,
        FS,
        frequency=5.8e9,
        datatype="ci16_le",
        datetime_utc="2026-11-25T12:00:00Z",
    )
    out = tmp_path / "dets.jsonl"
    assert main(["detect", "rf", str(meta), "--out", str(out), "--array", str(path), "--json"]) == 0
    batches = read_detections(out)
    assert len(batches) == 1
    d = batches[0]
    assert d.sensor_id == "df-1" and d.kind == "bearing"
    video = d.attrs["protocol"] == "analog_video"
    # One emission per block, three blocks inside one 0.2 s report interval: one report
    # (FM skirts may show as weaker emissions beside it).
    assert video.sum() == 1
    assert d.attrs["n_emissions"][video][0] == 3
    assert np.all(np.abs(d.z[video, 0] - math.radians(250.0)) < math.radians(3.0))
    assert np.all(np.abs(d.z[:, 0] - math.radians(250.0)) < math.radians(10.0))
    epoch = datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp()
    assert d.t[video][0] == pytest.approx(epoch + 3 * cfg.block_len / FS / 2, abs=0.01)
    events = [json.loads(line) for line in (tmp_path / "dets.events.jsonl").read_text().splitlines()]
    assert sum(e["protocol"] == "analog_video" for e in events) == 3
    assert int(d.attrs["n_emissions"].sum()) == len(events)
    assert all(abs(e["f_center"] - (5.8e9 - 3e6)) < 0.3e6 for e in events if e["protocol"] == "analog_video")


def test_detect_rf_without_array_writes_only_the_event_log(tmp_path: Path) -> None:
    cfg = RfDetectorConfig()
    scene = synthesize(
        [Emitter("narrowband", 2e6, 12.0)], sample_rate=FS, n=2 * cfg.block_len, rng=np.random.default_rng(3)
    )
    meta = tmp_path / "one.sigmf-meta"
    write_sigmf(meta, scene.samples, FS, frequency=915e6)
    out = tmp_path / "d.jsonl"
    assert main(["detect", "rf", str(meta), "--out", str(out), "--events", str(tmp_path / "e.jsonl")]) == 0
    assert out.read_text() == ""
    ev = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert len(ev) == 2 and all(e["protocol"] == "narrowband" and "az" not in e for e in ev)


@pytest.mark.parametrize("what", ["missing-data", "bad-json", "wrong-size"])
def test_bad_recordings_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    meta = tmp_path / "x.sigmf-meta"
    write_sigmf(meta, np.zeros(64, np.complex64), 1e6)
    if what == "missing-data":
        (tmp_path / "x.sigmf-data").unlink()
    elif what == "bad-json":
        meta.write_text("{")
    else:
        (tmp_path / "x.sigmf-data").write_bytes(b"\0" * 13)
    assert main(["detect", "rf", str(meta), "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skyfence: error:") and "x.sigmf" in err[0]


def test_detect_audio_with_a_microphone_array(tmp_path: Path, square_array: tuple[Path, np.ndarray]) -> None:
    path, el = square_array
    fs = 48000
    x = array_audio(
        drone_audio(3.0, fs, np.random.default_rng(8), bpf=200.0, snr_db=20.0), fs, el, math.radians(40.0)
    )
    wav = tmp_path / "mics.wav"
    write_wav(wav, 0.5 * x / np.abs(x).max(), fs, bits=24)
    out = tmp_path / "a.jsonl"
    assert (
        main(["detect", "audio", str(wav), "--array", str(path), "--out", str(out), "--t0", "100", "--json"])
        == 0
    )
    d = read_detections(out)[0]
    assert d.sensor_id == "arr-1" and len(d) >= 3
    assert np.all(np.abs(d.z[:, 0] - math.radians(40.0)) < math.radians(6.0))


def test_detect_audio_rejects_a_channel_mismatch(
    tmp_path: Path, square_array: tuple[Path, np.ndarray]
) -> None:
    path, _ = square_array
    wav = tmp_path / "mono.wav"
    write_wav(wav, np.zeros(16000), 16000)
    assert main(["detect", "audio", str(wav), "--array", str(path), "--out", str(tmp_path / "o.jsonl")]) == 2


def test_follow_latency_from_samples_to_emission(tmp_path: Path) -> None:
    """A writer thread appends one block every 40 ms (faster than real time would need: the
    latency measured is the detector's); each block's emission must come out within 200 ms."""
    cfg = RfDetectorConfig()
    blocks = 6
    scene = synthesize(
        [Emitter("narrowband", 1e6, 15.0)],
        sample_rate=FS,
        n=blocks * cfg.block_len,
        rng=np.random.default_rng(4),
    )
    meta = tmp_path / "live.sigmf-meta"
    write_sigmf(meta, scene.samples[:, :0], FS, frequency=2.4e9, datatype="ci16_le")
    rec = open_sigmf(meta)
    dt = parse_datatype("ci16_le")
    written: list[float] = []

    def writer() -> None:
        with rec.data_path.open("ab") as fh:
            for b in range(blocks):
                time.sleep(0.04)
                fh.write(
                    encode_samples(0.1 * scene.samples[:, b * cfg.block_len : (b + 1) * cfg.block_len], dt)
                )
                fh.flush()
                written.append(time.monotonic())

    det = detector_for(rec)
    th = threading.Thread(target=writer)
    th.start()
    seen: list[float] = []
    try:
        for em in detect_recording(rec, det, follow=True, idle_timeout=0.5):
            assert len(em) >= 1
            seen.append(time.monotonic())
    finally:
        th.join()
    assert len(seen) == blocks
    latency = np.array(seen) - np.array(written)
    assert np.all(latency < 0.2), latency


def test_two_direction_finders_feed_track_run(tmp_path: Path) -> None:
    """Bearings from two 4-element arrays cross at the emitter: `skyfence track run` puts a
    track there from the detect output alone."""
    el = np.array([[0, 0, 0], [0.02, 0, 0], [0.02, 0.02, 0], [0, 0.02, 0]], dtype=float)
    cfg = RfDetectorConfig()
    sensors = []
    parts = []
    for name, pos in (("df-a", (0.0, 0.0)), ("df-b", (600.0, 0.0))):
        (tmp_path / f"{name}.json").write_text(json.dumps({"sensor_id": name, "elements": el.tolist()}))
        az = math.atan2(300.0 - pos[0], 400.0 - pos[1])
        scene = synthesize(
            [Emitter("analog_video", 1e6, 15.0, az=az)],
            sample_rate=FS,
            n=4 * cfg.block_len,
            rng=np.random.default_rng(len(name) + int(pos[0])),
            frequency=5.8e9,
            positions=el,
        )
        meta = tmp_path / f"{name}.sigmf-meta"
        write_sigmf(
            meta,
            0.1 * scene.samples,
            FS,
            frequency=5.8e9,
            datatype="ci16_le",
            datetime_utc="2026-11-25T12:00:00Z",
        )
        out = tmp_path / f"{name}.jsonl"
        assert (
            main(
                [
                    "detect",
                    "rf",
                    str(meta),
                    "--array",
                    str(tmp_path / f"{name}.json"),
                    "--out",
                    str(out),
                    "--json",
                ]
            )
            == 0
        )
        parts += out.read_text().splitlines()
        sensors.append(
            {"id": name, "type": "rf", "kind": "bearing", "position": [pos[0], pos[1], 2.0], "rate_hz": 50}
        )
    parts.sort(key=lambda line: json.loads(line)["t"])
    (tmp_path / "all.jsonl").write_text("\n".join(parts) + "\n")
    (tmp_path / "sensors.json").write_text(
        json.dumps({"site": {"lat": 48.0, "lon": 16.0, "alt": 0.0}, "sensors": sensors})
    )
    tracks = tmp_path / "tracks.jsonl"
    assert (
        main(
            [
                "track",
                "run",
                str(tmp_path / "all.jsonl"),
                "--sensors",
                str(tmp_path / "sensors.json"),
                "--out",
                str(tracks),
                "--json",
            ]
        )
        == 0
    )
    last = [json.loads(line) for line in tracks.read_text().splitlines()]
    final_t = last[-1]["t"]
    xy = np.array([r["x"][:2] for r in last if r["t"] == final_t])
    assert np.min(np.hypot(xy[:, 0] - 300.0, xy[:, 1] - 400.0)) < 15.0


def test_detect_rf_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    cfg = RfDetectorConfig()
    scene = synthesize(
        [Emitter("digital_ofdm", 0.0, 10.0)],
        sample_rate=FS,
        n=2 * cfg.block_len,
        rng=np.random.default_rng(6),
    )
    meta = tmp_path / "pipe.sigmf-meta"
    write_sigmf(meta, scene.samples[:, :0], FS, frequency=5.8e9, datatype="cf32_le")
    raw = encode_samples(scene.samples, parse_datatype("cf32_le"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = tmp_path / "p.jsonl"
    assert main(["detect", "rf", str(meta), "--stdin", "--out", str(out), "--json"]) == 0
    ev = [json.loads(line) for line in (tmp_path / "p.events.jsonl").read_text().splitlines()]
    assert [e["protocol"] for e in ev] == ["digital_ofdm", "digital_ofdm"]


def test_stdin_stream_flushes_its_last_report_interval(
    tmp_path: Path, square_array: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live stream that ends mid-interval still reports that interval's bearings, the same
    as reading the finished file does."""
    import io
    import sys

    path, _ = square_array
    el = np.array(json.loads(path.read_text())["elements"]) * 0.04
    path.write_text(json.dumps({"sensor_id": "df-2", "elements": el.tolist()}))
    cfg = RfDetectorConfig()
    scene = synthesize(
        [Emitter("analog_video", -3e6, 15.0, az=math.radians(120.0))],
        sample_rate=FS,
        n=3 * cfg.block_len,
        rng=np.random.default_rng(5),
        frequency=5.8e9,
        positions=el,
    )
    meta = tmp_path / "live.sigmf-meta"
    write_sigmf(meta, 0.1 * scene.samples, FS, frequency=5.8e9, datatype="ci16_le")
    data = meta.with_suffix(".sigmf-data").read_bytes()
    from_file = tmp_path / "file.jsonl"
    assert main(["detect", "rf", str(meta), "--out", str(from_file), "--array", str(path), "--json"]) == 0
    live = tmp_path / "live.jsonl"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    args = ["detect", "rf", str(meta), "--out", str(live), "--array", str(path), "--stdin", "--json"]
    assert main([*args, "--idle-timeout", "0.2"]) == 0
    (want,) = read_detections(from_file)
    (got,) = read_detections(live)
    assert len(got) == len(want) >= 1
    np.testing.assert_allclose(got.z, want.z)
