"""Report thinning: a continuous emitter measured every block gives one bearing detection
per track per report interval, with the mean bearing and the largest SNR."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from skyfence.cli import main
from skyfence.detect.rf import Emissions
from skyfence.detect.rf.report import ReportThinner
from skyfence.model.records import read_detections
from skyfence.simulate.iq import Emitter, synthesize
from skyfence.sources.sigmf import write_sigmf

BLOCK_S = 0.0131072  # 256 x 1024 samples at 20 MS/s


def _block(t0: float, rows: list[tuple[str, int, float, float, float]]) -> Emissions:
    """One block's emissions: (protocol, link, f_center, az, snr_db) each."""
    n = len(rows)
    col = list(zip(*rows, strict=True)) if rows else [()] * 5
    return Emissions(
        "df-1",
        t_start=np.full(n, t0),
        t_end=np.full(n, t0 + BLOCK_S),
        f_center=np.array(col[2], dtype=np.float64),
        f_offset=np.zeros(n),
        bandwidth=np.full(n, 5e6),
        protocol=np.array(col[0], dtype=np.str_),
        snr_db=np.array(col[4], dtype=np.float64),
        duty=np.ones(n),
        sf=np.full(n, -1, dtype=np.int64),
        symbol_time=np.full(n, np.nan),
        line_rate=np.full(n, np.nan),
        link=np.array(col[1], dtype=np.int64),
        az=np.array(col[3], dtype=np.float64),
        az_sigma=np.full(n, math.radians(1.0)),
        az_alt=np.full(n, np.nan),
        block=np.zeros(n, dtype=np.int64),
    )


def _run(
    thin: ReportThinner, blocks: list[Emissions]
) -> tuple[list[float], list[float], list[str], list[int]]:
    t, az, proto, count = [], [], [], []
    outs = [thin.add(b, float(b.t_end.max()) if len(b) else 0.0) for b in blocks] + [thin.flush()]
    for d in outs:
        t += d.t.tolist()
        az += np.degrees(d.z[:, 0]).tolist()
        proto += [str(p) for p in d.attrs["protocol"]]
        count += d.attrs["n_emissions"].tolist()
    return t, az, proto, count


def test_one_report_per_track_per_interval() -> None:
    rng = np.random.default_rng(3)
    blocks = []
    for k in range(77):  # one second of blocks
        t0 = 1000.0 + k * BLOCK_S
        blocks.append(
            _block(
                t0,
                [
                    # Video at 5.8 GHz from 40 deg, its centre wobbling by tens of kHz.
                    (
                        "analog_video",
                        -1,
                        5.8e9 + rng.normal(0, 30e3),
                        math.radians(40 + rng.normal(0, 1)),
                        20 + k % 5,
                    ),
                    # Two ELRS links with the same id (same SF and bandwidth) from 100 and 300 deg.
                    ("elrs", 0, 2.43e9 + 1e6 * (k % 4), math.radians(100 + rng.normal(0, 1)), 15.0),
                    ("elrs", 0, 2.44e9, math.radians(300 + rng.normal(0, 1)), 12.0),
                ],
            )
        )
    _, az, proto, count = _run(ReportThinner("df-1", 0.2), blocks)
    assert sum(count) == 3 * 77  # every emission is in exactly one report
    # A bearing beyond three sigmas of the rest (a rare noise tail) is reported on its own;
    # the flushed tail may hold a single block: look at reports of five emissions or more.
    video = [a for a, p, c in zip(az, proto, count, strict=True) if p == "analog_video" and c >= 5]
    elrs = sorted(a for a, p, c in zip(az, proto, count, strict=True) if p == "elrs" and c >= 5)
    assert len(video) == 5  # 1 s / 0.2 s
    assert sum(p == "analog_video" for p in proto) <= 8
    assert all(abs(a - 40) < 1.0 for a in video)  # averaged: better than one block's 1 deg
    assert len(elrs) == 10  # the two emitters of one link id stay apart
    assert all(abs(a - 100) < 1.0 for a in elrs[:5])
    assert all(abs(a - 300) < 1.0 for a in elrs[5:])


def test_max_snr_and_time_span_kept() -> None:
    blocks = [_block(10.0 + k * BLOCK_S, [("narrowband", -1, 915e6, 0.5, float(k))]) for k in range(10)]
    thin = ReportThinner("df-1", 0.5)
    outs = [thin.add(b, float(b.t_end.max())) for b in blocks]
    assert all(len(d) == 0 for d in outs)  # 0.13 s of data: the interval is not over yet
    d = thin.flush()
    assert len(d) == 1
    assert d.attrs["snr"][0] == 9.0 and d.attrs["n_emissions"][0] == 10
    assert d.t[0] == (10.0 + 10.0 + 10 * BLOCK_S) / 2
    assert d.attrs["t_end"][0] == 10.0 + 10 * BLOCK_S


def test_interval_zero_keeps_every_emission() -> None:
    blocks = [_block(10.0 + k * BLOCK_S, [("narrowband", -1, 915e6, 0.5, 3.0)]) for k in range(5)]
    thin = ReportThinner("df-1", 0.0)
    assert sum(len(thin.add(b, 0.0)) for b in blocks) == 5


def test_detect_rf_cli_reports_every_interval(tmp_path: Path) -> None:
    fs = 20e6
    el = np.array([[0.0, 0.0, 0.0], [0.02, 0.0, 0.0], [0.02, 0.02, 0.0], [0.0, 0.02, 0.0]])
    n = 24 * 262144  # 0.31 s
    scene = synthesize(
        [Emitter("analog_video", -3e6, 20.0, az=math.radians(250.0))],
        sample_rate=fs,
        n=n,
        rng=np.random.default_rng(2),
        frequency=5.8e9,
        positions=el,
    )
    meta = tmp_path / "cap.sigmf-meta"
    write_sigmf(meta, 0.1 * scene.samples, fs, frequency=5.8e9, datatype="ci16_le")
    arr = tmp_path / "ARRAY.json"
    arr.write_text('{"sensor_id": "df-1", "elements": ' + str(el.tolist()) + "}")
    out = tmp_path / "d.jsonl"
    assert main(["detect", "rf", str(meta), "--out", str(out), "--array", str(arr), "--json"]) == 0
    d = read_detections(out)[0]
    video = d.attrs["protocol"] == "analog_video"
    # 24 blocks of 13 ms = 0.31 s: a report at 0.2 s and the flush, not 24.
    assert 2 <= int(video.sum()) <= 3
    assert int(d.attrs["n_emissions"][video].sum()) >= 22
    assert np.all(np.abs(np.degrees(d.z[video, 0]) - 250.0) < 2.0)
    assert np.all(np.diff(d.t) >= 0)


def test_collision_bearings_do_not_join_two_emitters() -> None:
    """Two ELRS links of one id at 42 and 58 deg; packet collisions give single-source
    bearings in between. The reports stay at the two emitters, not at their average."""
    az = [42.2] * 9 + [58.0] * 20 + [46.3, 49.1, 49.4, 50.8, 51.2, 52.3, 55.6, 56.0]
    blocks = [
        _block(5.0 + k * BLOCK_S, [("elrs", 0, 915e6, math.radians(a), 25.0)]) for k, a in enumerate(az)
    ]
    thin = ReportThinner("df-1", 1.0)
    for b in blocks:
        assert len(thin.add(b, float(b.t_end.max()))) == 0
    d = thin.flush()
    got = np.degrees(d.z[:, 0])
    big = got[d.attrs["n_emissions"] >= 9]
    assert len(big) == 2
    assert abs(min(big) - 42.2) < 0.5 and abs(max(big) - 58.0) < 0.5  # not the 52 deg average
    assert int(d.attrs["n_emissions"].sum()) == len(az)
