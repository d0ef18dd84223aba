"""The Monte Carlo runner end to end on a 60 s scenario: the real simulator, tracker and
assessor, worker-count independence, kept run files, the CLI and the layout comparison."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from skyfence.cli import main
from skyfence.errors import ConfigError
from skyfence.evaluate.compare import compare_layouts, frontier
from skyfence.evaluate.montecarlo import run_exercise
from skyfence.evaluate.scorecard import scorecard_schema
from skyfence.model.records import read_alerts, read_tracks, read_truth

SHORT = Path(__file__).parent / "data" / "short.yaml"

# Real pipeline runs: one xdist worker runs them one after another (they start process pools).
pytestmark = [pytest.mark.xdist_group("evaluate-runner"), pytest.mark.slow]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a = tmp_path_factory.mktemp("w1")
    b = tmp_path_factory.mktemp("w2")
    run_exercise(SHORT, 2, workers=1, out_dir=a, keep=True)
    run_exercise(SHORT, 2, workers=2, out_dir=b)
    return a, b


def test_same_seeds_same_scorecard_whatever_the_worker_count(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    assert (a / "scorecard.json").read_bytes() == (b / "scorecard.json").read_bytes()
    doc = json.loads((a / "scorecard.json").read_text())
    jsonschema.validate(doc, scorecard_schema())
    assert doc["runs"] == 2 and len(set(doc["seeds"])) == 2
    assert doc["warning_source"] == "alerts"
    assert doc["metrics"]["pd"]["n"] == 2
    # The FPV flies straight into a covered zone: it is tracked and warned in every run.
    assert doc["metrics"]["threats_entered"]["mean"] == 1
    assert doc["metrics"]["warning_time_s"]["mean"] > 0
    assert doc["cost"] == 450000
    assert (a / "report.html").stat().st_size > 50_000


def test_keep_writes_replayable_run_files(two_runs: tuple[Path, Path]) -> None:
    a, _ = two_runs
    for k in range(2):
        run = a / "runs" / f"{k:03d}"
        assert {p.name for p in run.iterdir()} == {
            "truth.jsonl",
            "detections.jsonl",
            "tracks.jsonl",
            "alerts.jsonl",
        }
    run0 = a / "runs" / "000"
    truth = read_truth(run0 / "truth.jsonl")
    assert {ti.name for ti in truth.targets} >= {"fpv-1"}
    assert len(read_tracks(run0 / "tracks.jsonl")) > 10
    alerts = read_alerts(run0 / "alerts.jsonl")
    assert all(al.zone_id for al in alerts)


def test_cli_run_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        ["exercise", "run", str(SHORT), "--runs", "2", "--workers", "0", "--out", str(tmp_path), "--json"]
    )
    assert rc == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [rec["type"] for rec in lines] == ["run", "run", "scorecard"]
    assert lines[-1]["report"] == str(tmp_path / "report.html")
    assert "warning_time_s" in lines[-1]["metrics"]
    assert (tmp_path / "scorecard.json").exists()


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exercise", "run", str(tmp_path / "missing.yaml"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.yaml" in err
    bad = tmp_path / "score.yaml"
    bad.write_text("gospa_c: -1\n")
    assert main(["exercise", "run", str(SHORT), "--out", str(tmp_path), "--score-config", str(bad)]) == 2
    assert "gospa_c" in capsys.readouterr().err
    track = tmp_path / "track.yaml"
    track.write_text("management: {confirm_m: 0}\n")
    assert main(["exercise", "run", str(SHORT), "--out", str(tmp_path), "--track-config", str(track)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "confirm_m" in err


def test_frontier() -> None:
    assert frontier([1, 2, 3, 4], [10, 5, 20, 15], higher_is_better=True) == [0, 2]
    assert frontier([1, 2, 3], [5, 3, 4], higher_is_better=False) == [0, 1]


def test_compare_layouts(tmp_path: Path) -> None:
    doc = yaml.safe_load(SHORT.read_text())
    cheap = dict(doc, sensors=[s for s in doc["sensors"] if s["id"] == "rf-1"])
    (tmp_path / "full.yaml").write_text(yaml.safe_dump(doc))
    (tmp_path / "rf-only.yaml").write_text(yaml.safe_dump(cheap))
    out = tmp_path / "cmp"
    ranked = compare_layouts([tmp_path / "full.yaml", tmp_path / "rf-only.yaml"], 1, out, workers=2)
    assert {r.name for r in ranked} == {"full", "rf-only"}
    assert {r.name: r.cost for r in ranked} == {"full": 450000, "rf-only": 50000}
    # Same seeds for both layouts.
    assert ranked[0].scorecard.seeds == ranked[1].scorecard.seeds
    summary = json.loads((out / "compare.json").read_text())
    assert [r["name"] for r in summary["ranking"]] == [r.name for r in ranked]
    page = (out / "compare.html").read_text()
    assert 'id="fig-frontier"' in page and "data:image/png;base64," in page
    for r in ranked:
        assert (out / r.name / "scorecard.json").exists() and (out / r.name / "report.html").exists()
    other = dict(doc, targets=doc["targets"][:1])
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    with pytest.raises(ConfigError, match="same threats"):
        compare_layouts([tmp_path / "full.yaml", tmp_path / "other.yaml"], 1, out, workers=0)


def test_ray_local_gives_the_same_scorecard(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'skyfence[ray]')")
    run_exercise(SHORT, 2, out_dir=tmp_path, ray_address="local")
    a, _ = two_runs
    assert (tmp_path / "scorecard.json").read_bytes() == (a / "scorecard.json").read_bytes()


def test_cot_streams_run_zero_to_a_tak_listener(tmp_path: Path) -> None:
    import socket
    import threading

    pytest.importorskip("skyfence.share.cot")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = bytearray()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        run_exercise(SHORT, 2, workers=1, out_dir=tmp_path, cot_url=f"tcp://127.0.0.1:{port}", report=False)
        thread.join(timeout=30)
    finally:
        server.close()
    text = received.decode("utf-8", "replace")
    # Run 0 only: one connection, track events every step and the FPV's alert marker.
    assert text.count("<event") > 20
    assert 'type="a-' in text


def test_stage_configs_reach_the_tracker(tmp_path: Path) -> None:
    base = run_exercise(SHORT, 1, workers=0, report=False)
    # Confirming on the first hit makes tracks confirmed sooner.
    eager = run_exercise(
        SHORT, 1, workers=0, report=False, tracker_config={"management": {"confirm_m": 1, "confirm_n": 1}}
    )
    assert eager.mean("time_to_confirmed_track_s") < base.mean("time_to_confirmed_track_s")


def test_cli_compare_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(SHORT.read_text())
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(doc))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(dict(doc, sensors=doc["sensors"][:1])))
    out = tmp_path / "out"
    argv = ["exercise", "compare", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    assert main([*argv, "--runs", "1", "--workers", "0", "--out", str(out), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [rec["type"] for rec in lines] == ["layout", "layout", "compare"]
    assert [rec["rank"] for rec in lines[:2]] == [1, 2]
    assert {rec["name"] for rec in lines[:2]} == {"a", "b"}
    assert (out / "compare.html").exists()
