"""Each sensor model checked statistically against the model it documents: Pd at range
inside a binomial confidence interval, noise covariance equal to the declared R (sample
covariance and NEES), false alarms Poisson with the declared mean; plus the hard rules
(fibre FPVs are RF-silent, only broadcasters give Remote ID, terrain hides targets)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats
from simkit import make_scene, make_table, ring

from skyfence.model.scenario import (
    AcousticSensor,
    AdsbSensor,
    CameraSensor,
    IrSensor,
    RadarSensor,
    RemoteIdSensor,
    RfSensor,
)
from skyfence.model.sensors import SENSOR_TYPES, Sensor
from skyfence.model.terrain import Ridge, Terrain
from skyfence.simulate.sensors import (
    LINK_BUDGET,
    AcousticModel,
    AdsbModel,
    CameraModel,
    Environment,
    RadarModel,
    RemoteIdModel,
    RfModel,
    wind_noise_db,
)
from skyfence.simulate.world import LINK_CODES

ORIGIN = np.array([0.0, 0.0, 10.0])
Z_SIGMA = 4.5  # tolerance in standard deviations: these tests must not flake


def _model(
    cls: Any,
    spec_cls: Any,
    *,
    env: Environment | None = None,
    terrain: Terrain | None = None,
    seed: int = 1,
    **kw: Any,
) -> Any:
    kw.setdefault("max_range_m", 10_000)
    spec = spec_cls(id="s", position=[0.0, 0.0, float(ORIGIN[2])], **kw)
    sensor = Sensor("s", spec.type, SENSOR_TYPES[spec.type], ORIGIN, spec.rate_hz, spec.max_range_m)
    return cls(spec, sensor, terrain or Terrain.flat(), env or Environment(), np.random.default_rng(seed))


def _binomial_ok(k: int, n: int, p: float) -> bool:
    sd = math.sqrt(max(n * p * (1 - p), 1e-12))
    return abs(k - n * p) <= Z_SIGMA * sd + 1


def _polar(pos: np.ndarray) -> np.ndarray:
    d = pos - ORIGIN
    rh = np.hypot(d[:, 0], d[:, 1])
    return np.column_stack(
        [np.hypot(rh, d[:, 2]), np.mod(np.arctan2(d[:, 0], d[:, 1]), 2 * np.pi), np.arctan2(d[:, 2], rh)]
    )


def _check_noise(residual: np.ndarray, R: np.ndarray) -> None:
    """Sample covariance matches R entry by entry, and the mean NEES is chi-square's mean."""
    n, m = residual.shape
    assert n > 500
    cov = np.cov(residual.T).reshape(m, m)
    for i in range(m):
        rel = cov[i, i] / R[i, i]
        assert abs(rel - 1.0) <= Z_SIGMA * math.sqrt(2.0 / (n - 1)), (i, rel)
        for j in range(i):
            corr = cov[i, j] / math.sqrt(cov[i, i] * cov[j, j])
            assert abs(corr) <= Z_SIGMA / math.sqrt(n), (i, j, corr)
    nees = np.einsum("ni,ij,nj->n", residual, np.linalg.inv(R), residual)
    assert abs(nees.mean() - m) <= Z_SIGMA * math.sqrt(2.0 * m / n)
    assert residual.mean(axis=0) == pytest.approx(
        np.zeros(m), abs=Z_SIGMA * float(np.sqrt(np.diag(R)).max()) / math.sqrt(n)
    )


def _wrap(a: np.ndarray) -> np.ndarray:
    return np.mod(a + np.pi, 2 * np.pi) - np.pi


# -- radar ------------------------------------------------------------------------------


@pytest.mark.parametrize("rng_m", [2000.0, 4000.0, 5500.0, 7000.0])
def test_radar_pd_at_range_matches_swerling_model(rng_m: float) -> None:
    model = _model(
        RadarModel, RadarSensor, type="radar", snr_ref_db=13, ref_range_m=3000, ref_rcs_m2=0.01, pfa=1e-6
    )
    n = 6000
    el = math.radians(8.0)
    pos = ring(n, rng_m * math.cos(el), ORIGIN[2] + rng_m * math.sin(el))
    vel = (pos - ORIGIN) / rng_m * 20.0  # outbound at 20 m/s: Doppler clears the clutter
    _det, src = model.scan(make_scene(pos, make_table(["fpv"] * n, rcs=0.02), vel))
    k = int((src >= 0).sum())
    # The documented model, computed here independently.
    snr = 10**1.3 * (0.02 / 0.01) * (3000 / rng_m) ** 4
    cnr = 10**3.0 * math.exp(-8.0 / 1.5) / 10**2.5
    p = math.exp(math.log(1e-6) / (1 + snr / (1 + cnr)))
    assert p == pytest.approx(
        float(model.pd(np.array([rng_m]), np.array([0.02]), np.array([el]), np.array([20.0]))[0])
    )
    assert _binomial_ok(k, n, p), (k, n * p)


def test_radar_ground_clutter_hides_hovering_low_targets() -> None:
    model = _model(RadarModel, RadarSensor, type="radar")
    n = 3000
    low = ring(n, 2000.0, ORIGIN[2])  # on the radar horizon, hovering: no Doppler help
    _, src_low = model.scan(make_scene(low, make_table(["multirotor"] * n, rcs=0.05)))
    moving = (low - ORIGIN) / 2000.0 * 15.0
    _, src_mov = model.scan(make_scene(low, make_table(["multirotor"] * n, rcs=0.05), moving))
    high = ring(n, 2000.0, ORIGIN[2] + 400.0)
    _, src_high = model.scan(make_scene(high, make_table(["multirotor"] * n, rcs=0.05)))
    low_n, mov_n, high_n = ((s >= 0).sum() for s in (src_low, src_mov, src_high))
    assert low_n < mov_n <= high_n
    assert low_n < 0.2 * n
    assert high_n > 0.8 * n


def test_radar_noise_covariance_matches_declared_R() -> None:
    model = _model(
        RadarModel, RadarSensor, type="radar", noise={"range_m": 7.0, "az_deg": 0.8, "el_deg": 1.5}
    )
    n = 4000
    pos = ring(n, 800.0, 200.0)
    det, src = model.scan(make_scene(pos, make_table(["aircraft"] * n, rcs=50.0)))
    hit = src >= 0
    assert hit.sum() > 0.99 * n
    truth = _polar(pos[src[hit]])
    res = det.z[hit] - truth
    res[:, 1] = _wrap(res[:, 1])
    R = det.R[hit][0]
    assert np.allclose(det.R[hit], R)
    assert np.allclose(np.diag(R), [49.0, math.radians(0.8) ** 2, math.radians(1.5) ** 2])
    _check_noise(res, R)


def test_radar_false_alarms_are_poisson_with_the_declared_mean() -> None:
    lam = 3.0
    model = _model(RadarModel, RadarSensor, type="radar", clutter_rate=lam, max_range_m=6000)
    empty = make_scene(np.zeros((0, 3)), make_table([]))
    scans = 3000
    counts = np.empty(scans)
    ranges = []
    for i in range(scans):
        det, src = model.scan(empty)
        assert (src == -1).all()
        counts[i] = len(det)
        ranges.append(det.z[:, 0])
    assert abs(counts.mean() - lam) <= Z_SIGMA * math.sqrt(lam / scans)
    assert abs(counts.var(ddof=1) / counts.mean() - 1.0) <= Z_SIGMA * math.sqrt(2.0 / scans)
    # Uniform in the coverage volume: (r / R_max)³ is uniform on [0, 1].
    u = (np.concatenate(ranges) / 6000.0) ** 3
    assert stats.kstest(u, "uniform").pvalue > 1e-4


def test_radar_terrain_mask() -> None:
    ridge = Terrain.from_ridges([Ridge((-3000.0, 1000.0), (3000.0, 1000.0), 150.0, 100.0)], 5000.0, 25.0)
    model = _model(RadarModel, RadarSensor, type="radar", terrain=ridge)
    n = 500
    behind_low = np.column_stack([np.linspace(-1000, 1000, n), np.full(n, 2000.0), np.full(n, 20.0)])
    behind_high = behind_low + [0.0, 0.0, 600.0]
    vel = np.tile([0.0, 20.0, 0.0], (n, 1))
    _, src = model.scan(make_scene(behind_low, make_table(["aircraft"] * n, rcs=50.0), vel))
    assert (src >= 0).sum() == 0
    _, src = model.scan(make_scene(behind_high, make_table(["aircraft"] * n, rcs=50.0), vel))
    assert (src >= 0).sum() > 0.95 * n


# -- RF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["analog_5g8", "elrs_900", "elrs_2g4", "digital_ofdm"])
def test_rf_pd_follows_the_link_budget(link: str) -> None:
    model = _model(RfModel, RfSensor, type="rf", sensitivity_dbm=-100, gain_db=6)
    b = LINK_BUDGET[link]
    # The range where the mean received power is 3 dB over sensitivity: Pd = exp(-1/2).
    fspl = b.eirp_dbm + 6 + 100 - 3
    r = 10 ** ((fspl - 20 * math.log10(b.freq_hz) + 147.55) / 20)
    r = min(r, 9500.0)
    n = 5000
    pos = ring(n, r, ORIGIN[2])
    det, src = model.scan(make_scene(pos, make_table(["fpv"] * n, link=link)))
    p = float(model.pd(np.array([r]), np.array([LINK_CODES.index(link)]))[0])
    if r < 9500.0:
        assert p == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert _binomial_ok(int((src >= 0).sum()), n, p)
    assert set(det.attrs["band"].tolist()) <= {b.band}
    assert set(det.attrs["protocol"].tolist()) <= {b.protocol}


def test_rf_never_sees_fibre_or_silent_emitters() -> None:
    model = _model(RfModel, RfSensor, type="rf", clutter_rate=0.0)
    n = 500
    pos = ring(n, 300.0, 50.0)
    det, src = model.scan(make_scene(pos, make_table(["fpv"] * n, link="fiber")))
    assert len(det) == 0
    det, src = model.scan(make_scene(pos, make_table(["fpv"] * n, link="analog_5g8"), emitting=False))
    assert len(det) == 0
    det, src = model.scan(make_scene(pos, make_table(["fpv"] * n, link="analog_5g8")))
    assert (src >= 0).sum() > 0.99 * n


def test_rf_hears_a_relay_retransmitting_its_clients() -> None:
    model = _model(RfModel, RfSensor, type="rf", sensitivity_dbm=-100, bands=["900", "5g8"])
    # Target 0: the relay (own link elrs_900), high up 3 km away; targets 1-2: its clients,
    # 5.8 GHz FPVs far beyond the sensor's reach; target 3: an FPV with no relay, as far.
    table = make_table(["multirotor", "fpv", "fpv", "fpv"], link="analog_5g8")
    object.__setattr__(table, "link", np.array([LINK_CODES.index("elrs_900"), 0, 0, 0], dtype=np.int64))
    object.__setattr__(table, "relay_of", np.array([-1, 0, 0, -1], dtype=np.int64))
    pos = np.array(
        [[0.0, 3000.0, 150.0], [0.0, 60_000.0, 20.0], [500.0, 60_000.0, 20.0], [0.0, -60_000.0, 20.0]]
    )
    heard: dict[tuple[int, str], int] = {}
    for _ in range(200):
        det, src = model.scan(make_scene(pos, table))
        for tid, band in zip(src.tolist(), det.attrs["band"].tolist(), strict=True):
            heard[(tid, band)] = heard.get((tid, band), 0) + 1
    # The relay is heard on its own band and, once per client link, on the clients' band.
    assert heard.get((0, "900"), 0) > 150
    assert heard.get((0, "5g8"), 0) > 150
    assert all(tid == 0 for tid, _ in heard)
    # With its clients silent the relay is heard on its own link only.
    det, src = model.scan(make_scene(pos[:1], make_table(["multirotor"], link="elrs_900")))
    assert set(det.attrs["band"].tolist()) <= {"900"}


def test_rf_bearing_noise_and_band_filter() -> None:
    model = _model(RfModel, RfSensor, type="rf", noise={"az_deg": 2.0, "el_deg": 4.0}, measure_el=True)
    n = 4000
    pos = ring(n, 500.0, 120.0)
    det, src = model.scan(make_scene(pos, make_table(["fpv"] * n, link="analog_5g8")))
    truth = _polar(pos[src])[:, 1:]
    res = det.z - truth
    res[:, 0] = _wrap(res[:, 0])
    _check_noise(res, det.R[0])
    only_900 = _model(RfModel, RfSensor, type="rf", bands=["900"])
    det, _ = only_900.scan(make_scene(pos, make_table(["fpv"] * n, link="analog_5g8")))
    assert len(det) == 0


def test_rf_false_alarms_poisson() -> None:
    lam = 0.7
    model = _model(RfModel, RfSensor, type="rf", clutter_rate=lam)
    empty = make_scene(np.zeros((0, 3)), make_table([]))
    counts = np.array([len(model.scan(empty)[0]) for _ in range(4000)], dtype=float)
    assert abs(counts.mean() - lam) <= Z_SIGMA * math.sqrt(lam / len(counts))
    assert abs(counts.var(ddof=1) / counts.mean() - 1.0) <= Z_SIGMA * math.sqrt(2.0 / len(counts))


# -- acoustic -----------------------------------------------------------------------------


@pytest.mark.parametrize(("rng_m", "wind"), [(150.0, 0.0), (300.0, 0.0), (300.0, 8.0), (500.0, 2.0)])
def test_acoustic_pd_matches_snr_model(rng_m: float, wind: float) -> None:
    model = _model(
        AcousticModel, AcousticSensor, type="acoustic", env=Environment(wind_speed=wind), max_range_m=800
    )
    n = 5000
    pos = ring(n, rng_m, ORIGIN[2])
    _, src = model.scan(make_scene(pos, make_table(["fpv"] * n, source_db=86.0)))
    nl = 10 * math.log10(10**3.5 + 10 ** (wind_noise_db(wind) / 10))
    snr = 86.0 - 20 * math.log10(rng_m) - 5.0 * rng_m / 1000 - nl + 15.0
    p = math.exp(-1.0 / 10 ** ((snr - 10.0) / 10))
    assert p == pytest.approx(float(model.pd(np.array([rng_m]), np.array([86.0]))[0]))
    assert _binomial_ok(int((src >= 0).sum()), n, p)


def test_acoustic_wind_shortens_range_and_noise_matches_R() -> None:
    calm = _model(AcousticModel, AcousticSensor, type="acoustic", max_range_m=800)
    windy = _model(
        AcousticModel, AcousticSensor, type="acoustic", env=Environment(wind_speed=10.0), max_range_m=800
    )
    r, s = np.array([300.0]), np.array([86.0])
    assert windy.pd(r, s)[0] < calm.pd(r, s)[0]
    n = 4000
    pos = ring(n, 60.0, 30.0)
    det, src = calm.scan(make_scene(pos, make_table(["fpv"] * n)))
    res = det.z - _polar(pos[src])[:, 1:]
    res[:, 0] = _wrap(res[:, 0])
    _check_noise(res, det.R[0])


# -- cameras ------------------------------------------------------------------------------


def test_camera_pd_pixels_light_and_class_likelihoods() -> None:
    kw: dict[str, Any] = {
        "hfov_deg": 20.0,
        "vfov_deg": 20.0,
        "pixels_h": 1920,
        "pan_deg": 0.0,
        "tilt_deg": 0.0,
        "max_range_m": 5000,
    }
    eo_day = _model(CameraModel, CameraSensor, type="eo", env=Environment(light=1.0), **kw)
    eo_night = _model(CameraModel, CameraSensor, type="eo", env=Environment(light=0.0), **kw)
    ir_night = _model(CameraModel, IrSensor, type="ir", env=Environment(light=0.0), **kw)
    n = 5000
    r = 1200.0
    a = np.linspace(-0.12, 0.12, n)
    pos = np.column_stack([r * np.sin(a), r * np.cos(a), np.full(n, ORIGIN[2])])
    table = make_table(["fpv"] * n, size=0.25)
    rates = {}
    for name, model in (("eo_day", eo_day), ("eo_night", eo_night), ("ir_night", ir_night)):
        det, src = model.scan(make_scene(pos, table))
        px = 0.25 / (r * math.radians(20.0) / 1920)
        light = {"eo_day": 1.0, "eo_night": 0.03, "ir_night": 0.8}[name]
        p = 0.95 * light * px**2 / (px**2 + 1.5**2)
        assert p == pytest.approx(float(model.pd(np.array([r]), np.array([0.25]))[0]))
        assert _binomial_ok(int((src >= 0).sum()), n, p), name
        rates[name] = (src >= 0).sum() / n
        assert det.cls_lik is not None and det.cls_lik.shape == (len(det), 6)
        assert np.allclose(det.cls_lik.sum(axis=1), 1.0)
    assert rates["eo_night"] < 0.1 * rates["eo_day"]
    assert rates["ir_night"] > 0.6 * rates["eo_day"]


def test_camera_sees_nothing_outside_its_field_of_view_and_noise_matches_R() -> None:
    model = _model(
        CameraModel,
        CameraSensor,
        type="eo",
        hfov_deg=30.0,
        vfov_deg=20.0,
        pan_deg=90.0,
        tilt_deg=0.0,
        max_range_m=3000,
    )
    n = 3000
    north = np.column_stack([np.linspace(-50, 50, n), np.full(n, 300.0), np.full(n, ORIGIN[2])])
    det, _ = model.scan(make_scene(north, make_table(["fpv"] * n)))
    assert len(det) == 0
    east = north[:, [1, 0, 2]]
    det, src = model.scan(make_scene(east, make_table(["fpv"] * n, size=2.0)))
    assert (src >= 0).sum() > 0.9 * n
    res = det.z - _polar(east[src])[:, 1:]
    res[:, 0] = _wrap(res[:, 0])
    _check_noise(res, det.R[0])


def test_camera_confuses_birds_and_drones_but_is_informative() -> None:
    model = _model(CameraModel, CameraSensor, type="eo", hfov_deg=10.0, vfov_deg=10.0, tilt_deg=0.0)
    n = 4000
    a = np.linspace(-0.05, 0.05, n)
    pos = np.column_stack([150 * np.sin(a), 150 * np.cos(a), np.full(n, ORIGIN[2])])
    for true_cls, idx in (("fpv", 0), ("bird", 3)):
        det, _src = model.scan(make_scene(pos, make_table([true_cls] * n, size=0.4)))
        assert det.cls_lik is not None
        best = det.cls_lik.argmax(axis=1)
        share = (best == idx).mean()
        assert 0.5 < share < 0.95, (true_cls, share)


# -- cooperative broadcasts ---------------------------------------------------------------


def test_remote_id_only_from_broadcasters_with_loss_and_spoofing() -> None:
    model = _model(RemoteIdModel, RemoteIdSensor, type="remote_id", msg_loss=0.2, max_range_m=4000)
    n = 4000
    pos = ring(n, 500.0, 60.0)
    det, _ = model.scan(make_scene(pos, make_table(["multirotor"] * n, remote_id=False)))
    assert len(det) == 0
    table = make_table(["multirotor"] * n, remote_id=True)
    det, src = model.scan(make_scene(pos, table))
    p = float(model.pd(np.array([500.0]))[0])
    assert p == pytest.approx(0.8, abs=0.01)
    assert _binomial_ok(len(det), n, p)
    assert det.kind == "remote_id"
    assert det.attrs["serial"].tolist() == [f"SN{i:04d}" for i in src]
    assert det.attrs["operator"].shape == (len(det), 3)
    _check_noise(det.z - pos[src], det.R[0])
    spoofed = make_table(["multirotor"] * n, remote_id=True)
    object.__setattr__(spoofed, "spoof_offset", np.tile([800.0, -500.0, 0.0], (n, 1)))
    det, src = model.scan(make_scene(pos, spoofed))
    assert (det.z - pos[src]).mean(axis=0) == pytest.approx([800.0, -500.0, 0.0], abs=1.0)


def test_adsb_only_transponding_aircraft() -> None:
    model = _model(AdsbModel, AdsbSensor, type="adsb", max_range_m=100_000, msg_loss=0.05)
    n = 3000
    pos = ring(n, 20_000.0, 9000.0)
    det, _ = model.scan(make_scene(pos, make_table(["aircraft"] * n, adsb=False)))
    assert len(det) == 0
    det, src = model.scan(make_scene(pos, make_table(["aircraft"] * n, adsb=True)))
    assert _binomial_ok(len(det), n, 0.95)
    assert det.kind == "position" and det.dim == 3
    assert set(det.attrs["icao"].tolist()) == {"ABC123"}
    _check_noise(det.z - pos[src], det.R[0])
