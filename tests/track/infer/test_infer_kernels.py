"""The compiled parts of track inference against plain numpy references: row matching
by id, the kinematic log-likelihood against ``band_loglik``, and the swarm and relay
cadence (decisions at most once per ``interval_s`` of track time, carried by id)."""

from __future__ import annotations

import numpy as np
import pytest
from infer_synth import registry, rf_batch, view
from test_infer_flags import _border_world

from skyfence.model import TrackStatus
from skyfence.track.infer import ClassifyConfig, InferConfig, SwarmConfig, TrackInference, band_loglik
from skyfence.track.infer._state import TrackState, align_rows
from skyfence.track.infer.classify import FEATURES, Kinematics, _band_arrays


def _reference_rows(prev: np.ndarray, ids: np.ndarray) -> np.ndarray:
    where = {int(v): k for k, v in reversed(list(enumerate(prev)))}
    return np.array([where.get(int(v), -1) for v in ids], dtype=np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_align_rows_matches_a_dictionary(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        prev = rng.choice(200, int(rng.integers(0, 60)), replace=False).astype(np.int64)
        ids = rng.choice(200, int(rng.integers(0, 60)), replace=False).astype(np.int64)
        if rng.random() < 0.5:  # the tracker's case: increasing ids
            prev, ids = np.sort(prev), np.sort(ids)
        np.testing.assert_array_equal(align_rows(prev, ids), _reference_rows(prev, ids))


def test_track_state_carries_values_by_id() -> None:
    st = TrackState({"a": np.nan, "b": (2, -1.0)})
    st.align(np.array([5, 7], dtype=np.int64))
    st["a"] = np.array([0.5, 0.7])
    st["b"] = np.array([[1.0, 2.0], [3.0, 4.0]])
    new = st.align(np.array([9, 7], dtype=np.int64))
    assert new.tolist() == [True, False]
    np.testing.assert_array_equal(st["a"], [np.nan, 0.7])
    np.testing.assert_array_equal(st["b"], [[-1.0, 2.0], [-1.0, 4.0]])


def _reference_loglik(kin: Kinematics, pd: np.ndarray, c: ClassifyConfig) -> np.ndarray:
    """The weighted kinematic log-likelihood as numpy computed it before the kernel."""
    s = kin.state
    var_v = 0.5 * (pd[:, 3] + pd[:, 4])
    var_u, var_vu = pd[:, 2], pd[:, 5]
    mature = 0.3 + 0.7 * s["maturity"]
    ref = c.speed_sigma_ref_mps**2
    w_v = mature * ref / (ref + np.nan_to_num(var_v, nan=1e12))
    w_u = c.alt_sigma_ref_m**2 / (c.alt_sigma_ref_m**2 + np.nan_to_num(var_u, nan=1e12))
    w_vu = mature * ref / (ref + np.nan_to_num(var_vu, nan=1e12))
    out = np.zeros((s.ids.shape[0], 6))
    feats = {
        "speed": (s["speed"], w_v, var_v),
        "height": (kin.height, w_u, var_u),
        "climb": (s["climb"], w_vu, var_vu),
        "dive": (s["dive"], w_vu, var_vu),
        "turn": (s["turn"], np.where(s["speed"] > c.turn_min_speed_mps, w_v, 0.0), None),
        "hover": (s["hover"], w_v, None),
    }
    for name in FEATURES:
        value, w, var = feats[name]
        ok = np.isfinite(value)
        v = None if var is None else np.nan_to_num(var, nan=1e12, posinf=1e12)
        ll = band_loglik(np.where(ok, value, 0.0), _band_arrays(getattr(c, name)), name not in c.envelopes, v)
        ll -= ll.max(axis=1, keepdims=True)
        ll = np.maximum(ll, -c.max_feature_penalty)
        out += c.feature_weight.get(name, 1.0) * np.where(ok, w, 0.0)[:, None] * ll
    return out


@pytest.mark.parametrize("seed", range(4))
def test_kinematic_loglik_equals_the_band_loglik_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = ClassifyConfig()
    kin = Kinematics(c)
    n = 40
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform([-5000, -5000, 0], [5000, 5000, 2000], (n, 3))
    v = rng.uniform(-60, 60, (n, 3)) * rng.choice([0.02, 0.3, 1.0, 3.0], (n, 1))
    for k in range(12):
        x[:, 3:] = v + rng.normal(0, 1.0, (n, 3))
        x[:, :3] += v
        pd = 10 ** rng.uniform(-1, 4, (n, 6))
        ids = np.arange(n, dtype=np.int64)
        src = align_rows(kin.state.ids, ids)
        kin.state.align(ids, src)
        _, ll = kin.update(float(k), src, x, pd, None)
        np.testing.assert_allclose(ll.T, _reference_loglik(kin, pd, c), rtol=0, atol=1e-10)


def _swarm_steps(inf: TrackInference, times: np.ndarray, extra_from: float) -> list[np.ndarray]:
    reg = registry()
    offsets = np.array([[0, 0], [60, 0], [120, 0], [0, 60], [60, 60], [120, 60]], dtype=float)
    groups = []
    for t in times:
        x = np.zeros((6, 6))
        x[:, :2] = [-3000.0 + 28.0 * t, 2000.0] + offsets
        x[:, 2] = 25.0
        x[:, 3:5] = [28.0, 0.0]
        ids = [1, 2, 3, 4, 5, 6]
        if t >= extra_from:  # a seventh member joins mid-run
            x = np.vstack([x, x[-1:] + [30.0, 30.0, 0, 0, 0, 0]])
            ids.append(7)
        status = np.full(len(ids), TrackStatus.CONFIRMED, np.int8)
        groups.append(inf.update(view(float(t), ids, x, reg, status=status)).group_id)
    return groups


def test_swarm_groups_are_formed_once_per_interval_and_carried_by_id() -> None:
    times = np.arange(0.0, 40.0, 0.25)
    joins = 30.1
    every = _swarm_steps(TrackInference(InferConfig(swarm=SwarmConfig(interval_s=0.0))), times, joins)
    paced = _swarm_steps(TrackInference(InferConfig()), times, joins)
    decided = [k for k in range(len(times)) if k % 4 == 0]  # every 1 s of track time from t = 0
    for k in decided:
        np.testing.assert_array_equal(paced[k], every[k])
    for k in range(len(times)):
        last = max(d for d in decided if d <= k)
        # Between decisions each track keeps its group; a track new since has none.
        np.testing.assert_array_equal(paced[k][:6], paced[last][:6])
        if paced[k].shape[0] > paced[last].shape[0]:
            assert paced[k][6] == -1
    assert paced[-1][0] >= 0 and (paced[-1] == paced[-1][0]).all()


def test_relay_decided_at_rf_steps_and_carried_between() -> None:
    reg, zones = _border_world()
    results = []
    for interval in (0.0, 1.0):
        cfg = InferConfig.model_validate({"relay": {"interval_s": interval}})
        inf = TrackInference(cfg, reg, zones=zones)
        out = []
        for k in range(150):
            t = 0.4 * k
            x = np.zeros((2, 6))
            x[0, :3] = [0.0, 600.0, 150.0]
            x[1, :3] = [0.0, 5000.0 + 10 * k, 20.0]
            x[1, 4] = 25.0
            # RF bearings every third update (1.2 s apart); radar alone in between.
            assoc = [rf_batch(reg, "rf0", [0, 1], t, "elrs_2g4", x)] if k % 3 == 0 else []
            res = inf.update(view(t, [1, 2], x, reg, assoc=assoc))
            out.append((res.relay.copy(), res.relay_id.copy(), res.attrs["chain_id"].copy()))
        results.append(out)
    every, paced = results
    assert paced[-1][0].tolist() == [True, False] and paced[-1][1].tolist() == [-1, 1]
    for k in range(0, 150, 3):  # every update with bearings decides: same as every update
        for a, b in zip(paced[k], every[k], strict=True):
            np.testing.assert_array_equal(a, b)
    for k in range(150):  # in between (0.4 and 0.8 s later), the last decision is carried
        last = k - k % 3
        for a, b in zip(paced[k], paced[last], strict=True):
            np.testing.assert_array_equal(a, b)
