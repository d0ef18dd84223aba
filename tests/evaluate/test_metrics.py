"""Every exercise metric on a hand-made run whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.evaluate.gospa import gospa
from skyfence.evaluate.metrics import ScoreConfig, associate, macro_f1, score_run
from skyfence.evaluate.record import RunRecorder
from skyfence.model import Alert, AlertState, Detections, ThreatLevel, Tracks, Truth, Zone
from skyfence.model.classes import CLASSES, TargetClass
from skyfence.model.truth import TargetInfo

from .synthetic import SENSORS, build_run, one_hot


@pytest.fixture(scope="module")
def scored():  # type: ignore[no-untyped-def]
    return score_run(build_run(), ScoreConfig(engagement_ring_m=500.0))


def test_association_and_track_ownership() -> None:
    rec = build_run()
    a = associate(rec, ScoreConfig())
    assert a.track_of == {10: 1, 11: 1, 20: 2}
    # Tentative rows (t = 5, 6) are not scored: the FPV is first tracked at t = 7.
    assert float(rec.times[a.step[a.target == 1]].min()) == 7.0


def test_gospa_per_step_matches_direct_computation(scored) -> None:  # type: ignore[no-untyped-def]
    rec = build_run()
    k = 30  # FPV tracked by 10 (5 m off), bird by 20 (1 m off), false track 30
    rows = rec.track_step == k
    g = gospa(rec.truth_x[rec.truth_step == k, :2], rec.track_x[rows, :2], 100.0, 1.0)
    assert g.total == pytest.approx(5.0 + 1.0 + 50.0)
    assert scored.gospa_total[k] == pytest.approx(g.total)
    assert scored.metrics["gospa"] == pytest.approx(float(np.mean(scored.gospa_total)))


def test_continuity(scored) -> None:  # type: ignore[no-untyped-def]
    m = scored.metrics
    assert m["id_switches"] == 1
    assert m["fragmentations"] == 1
    # Both are the FPV's (a threat), going from track 10 to track 11; the bird has none.
    assert m["id_switches_threat"] == 1
    assert m["fragmentations_threat"] == 1
    assert m["track_purity"] == pytest.approx(1.0)
    assert m["track_latency_s"] == pytest.approx((4.0 + 0.0) / 2)


def test_detection(scored) -> None:  # type: ignore[no-untyped-def]
    m = scored.metrics
    assert m["pd_class.fpv"] == pytest.approx(117 / 120)
    assert m["pd_class.bird"] == pytest.approx(60 / 120)
    assert m["pd"] == pytest.approx(177 / 240)
    assert m["pd_sensor.s1"] == pytest.approx(177 / 240)
    assert m["time_to_first_detection_s"] == pytest.approx((3 + 0) / 2)
    assert m["time_to_confirmed_track_s"] == pytest.approx((7 + 0) / 2)
    assert scored.pd_range_hits["s1"].sum() == 177
    assert scored.pd_range_opportunities["s1"].sum() == 240
    assert len(scored.pd_range_edges["s1"]) == 11


def test_warning_false_alerts_and_engagement(scored) -> None:  # type: ignore[no-untyped-def]
    m = scored.metrics
    assert m["threats"] == 1 and m["threats_entered"] == 1
    (threat,) = scored.threats
    assert threat.entry_t == 100.0 and threat.first_warning_t == 40.0
    assert m["warning_time_s"] == pytest.approx(60.0)
    assert m["warning_share_min"] == 1.0
    # a2 (two transitions, one alert) is on the false track: 1 false alert in 120 s.
    assert m["false_alerts_per_hour"] == pytest.approx(30.0)
    # Within 500 m of the zone from N = 1500 (t = 75) until entry at t = 100.
    assert m["engagement_window_s"] == pytest.approx(25.0)
    assert m["engagement_after_warning_s"] == pytest.approx(25.0)
    assert math.isnan(m["swarm_saturation"])


def test_warning_without_assessor_uses_first_confirmed_fpv_track() -> None:
    m = score_run(build_run(assess_ran=False)).metrics
    assert m["warning_time_s"] == pytest.approx(93.0)
    assert math.isnan(m["false_alerts_per_hour"])


def test_warning_needs_min_share() -> None:
    m = score_run(build_run(), ScoreConfig(min_warning_s=61.0)).metrics
    assert m["warning_share_min"] == 0.0


def test_classification(scored) -> None:  # type: ignore[no-untyped-def]
    c = scored.confusion
    fpv, multi, bird = (CLASSES.index(n) for n in ("fpv", "multirotor", "bird"))
    assert c[fpv, fpv] == 1 and c[fpv, multi] == 1 and c[bird, bird] == 1 and c.sum() == 3
    assert scored.metrics["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert scored.metrics["rf_silent_recall"] == 1.0


def test_macro_f1_edges() -> None:
    assert math.isnan(macro_f1(np.zeros((6, 6), dtype=np.int64)))
    assert macro_f1(np.eye(6, dtype=np.int64) * 4) == 1.0


def test_swarm_saturation_and_grouping() -> None:
    zone = Zone("base", [[-500, 1000], [500, 1000], [500, 1500], [-500, 1500]])
    border = Zone("border", [[-2000, 500], [2000, 500]], geometry="line", buffer_m=10.0, kind="border")
    members = [TargetInfo(i, f"s{i}", "swarm", "fpv", "threat", group=7, zone="base") for i in (1, 2, 3)]
    other = TargetInfo(4, "bird", "wander", "bird", "benign")
    rec = RunRecorder(SENSORS, [zone, border])
    for k in range(80):
        t = float(k)
        # Members fly north at 20 m/s, starting 0, 100 and 200 m apart in north; the last
        # starts so far back that it is never inside together with the first.
        starts = [0.0, -100.0, -700.0]
        x = np.array([[-100.0 + 100 * i, s + 20 * t, 50, 0, 20, 0] for i, s in enumerate(starts)])
        x = np.vstack([x, [[1500.0, 0, 30, 0, 0, 0]]])
        truth = Truth(np.full(4, t), [1, 2, 3, 4], x, targets=[*members, other])
        groups = [3, 3, -1, -1]  # the tracker grouped two of three members
        tracks = Tracks(
            t,
            [11, 12, 13, 14],
            x,
            np.tile(np.eye(6), (4, 1, 1)),
            one_hot(int(TargetClass.FPV), 4),
            group_id=groups,
        )
        det = Detections.empty("s1", "position")
        alerts = (
            [Alert("g", t, -1, "base", ThreatLevel.CRITICAL, AlertState.NEW, 30.0, "swarm", group_id=3)]
            if k == 10
            else []
        )
        rec.add_step(t, truth, [det], [np.zeros(0, np.int64)], tracks, alerts)
    m = score_run(rec.finish()).metrics
    # Member 1 reaches the 10 m border band (N = 490) at t = 24.5 -> first step inside t = 25.
    assert m["swarm_first_member_s"] == pytest.approx(25.0 - 10.0)
    # Members 1 and 2 are inside the 500 m deep zone together; member 3 never with them.
    assert m["swarm_saturation"] == 2
    assert m["swarm_saturation_share"] == pytest.approx(2 / 3)
    # Pairs per step: (1,2) agree, (1,3) and (2,3) disagree; (x,4) pairs: 4 has no group,
    # truth says "not same" and tracks say "not same" -> agree. 4 of 6 relevant pairs agree.
    assert m["swarm_grouping_accuracy"] == pytest.approx(4 / 6)
    assert m["false_alerts_per_hour"] == 0.0


def test_scoring_keeps_a_valid_previous_pair_clear_mot_style() -> None:
    from skyfence.evaluate.metrics import _match

    truth = np.array([[0.0, 0.0], [10.0, 0.0]])
    # Track 7 sits nearer truth 1 now, but it followed truth 0 and is still within the cut-off.
    tracks = np.array([[8.0, 0.0], [1.0, 0.0]])
    ids = np.array([7, 8])
    kept = _match(truth, tracks, np.array([100, 101]), ids, {100: 7}, cutoff=20.0)
    assert kept.tolist() == [0, 1]
    fresh = _match(truth, tracks, np.array([100, 101]), ids, {}, cutoff=20.0)
    assert fresh.tolist() == [1, 0]
    far = _match(truth, tracks, np.array([100, 101]), ids, {100: 7}, cutoff=5.0)
    assert far.tolist() == [1, 0]


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(0, 25), n_targets=st.integers(0, 6))
def test_score_run_on_random_runs_gives_bounded_metrics(seed: int, steps: int, n_targets: int) -> None:
    """Whatever the tracker and assessor produce, every share stays in [0, 1], every count
    and time is non-negative, and GOSPA's parts add up."""
    rng = np.random.default_rng(seed)
    zone = Zone("z", [[0, 0], [300, 0], [300, 300], [0, 300]])
    infos = [
        TargetInfo(
            i,
            f"t{i}",
            "fpv",
            str(rng.choice(["fpv", "bird", "multirotor"])),
            str(rng.choice(["threat", "benign"])),
            link=str(rng.choice(["fiber", "elrs_900"])),
            group=int(rng.integers(0, 2)) if rng.random() < 0.5 else None,
            zone="z",
        )
        for i in range(n_targets)
    ]
    rec = RunRecorder(SENSORS, [zone])
    pos = rng.uniform(-500, 800, (n_targets, 6))
    pos[:, 2] = 30
    for k in range(steps):
        t = float(k)
        pos[:, :2] += rng.normal(0, 30, (n_targets, 2))
        alive = rng.random(n_targets) < 0.9
        truth = Truth(np.full(int(alive.sum()), t), np.flatnonzero(alive), pos[alive], targets=infos)
        n_tr = int(rng.integers(0, n_targets + 3))
        src = rng.integers(0, max(n_targets, 1), n_tr) if n_targets else np.zeros(n_tr, int)
        xs = pos[src] + rng.normal(0, 40, (n_tr, 6)) if n_targets else rng.uniform(-500, 800, (n_tr, 6))
        probs = rng.dirichlet(np.ones(6), n_tr)
        tracks = Tracks(
            t,
            rng.integers(0, 8, n_tr) * 100 + np.arange(n_tr),
            xs,
            np.tile(np.eye(6), (n_tr, 1, 1)),
            probs,
            rng.integers(0, 3, n_tr),
            rf_silent=rng.random(n_tr),
            group_id=rng.integers(-1, 2, n_tr),
        )
        n_det = int(rng.integers(0, 5))
        det = Detections(
            "s1",
            "position",
            np.full(n_det, t),
            rng.uniform(-500, 800, (n_det, 2)),
            np.tile(np.eye(2), (n_det, 1, 1)),
        )
        sources = rng.integers(-1, max(n_targets, 1), n_det)
        alerts = []
        if n_tr and rng.random() < 0.3:
            alerts.append(
                Alert(
                    f"a{k}",
                    t,
                    int(tracks.id[0]),
                    "z",
                    ThreatLevel.HIGH,
                    AlertState.NEW,
                    10.0,
                    "r",
                    group_id=int(rng.integers(-1, 2)),
                )
            )
        rec.add_step(t, truth, [det], [sources], tracks, alerts)
    s = score_run(rec.finish())
    m = s.metrics
    for name, v in m.items():
        assert not math.isinf(v), name
        if math.isnan(v):
            continue
        assert v >= 0, name
        if (
            name.startswith("pd")
            or name.endswith(("_share", "_share_min", "purity", "recall", "rate", "accuracy"))
            or name == "macro_f1"
        ):
            assert v <= 1.0 + 1e-12, name
    if steps:
        cfg = ScoreConfig()
        assert (
            m["gospa"] ** cfg.gospa_p <= m["gospa_localisation"] + m["gospa_missed"] + m["gospa_false"] + 1e-6
        )
    assert s.confusion.sum() <= len({int(t) for t in rec.finish().track_id})
