"""Simulated remote_id detections -> the beacons those drones broadcast -> the real decoder."""

from __future__ import annotations

import numpy as np

from skyfence.detect.remoteid.broadcast import beacons_from_detections, detections_from_beacons
from skyfence.geo import Site
from skyfence.model.detections import Detections

SITE = Site(51.0, 4.0, 20.0)


def _sim(rng: np.random.Generator, n: int = 30) -> Detections:
    t = 1_750_000_000.0 + np.arange(n) * 1.0
    serial = np.where(np.arange(n) % 2 == 0, "1581F00000001", "1581F00000002")
    z = np.column_stack([rng.uniform(-3000, 3000, n), rng.uniform(-3000, 3000, n), rng.uniform(20, 120, n)])
    operator = z + np.array([150.0, -80.0, -60.0])
    R = np.tile(np.diag([25.0, 25.0, 100.0]), (n, 1, 1))
    return Detections("sim_rid", "remote_id", t, z, R, attrs={"serial": serial, "operator": operator})


def test_round_trip_through_real_frames(rng: np.random.Generator) -> None:
    sim = _sim(rng)
    frames = beacons_from_detections(sim, SITE)
    assert len(frames) == len(sim) and all(f[1][0] == 0x80 for f in frames)
    got = detections_from_beacons(frames, SITE)
    assert len(got) == len(sim) and got.kind == "remote_id"
    np.testing.assert_array_equal(got.t, sim.t)
    np.testing.assert_array_equal(got.attrs["serial"], sim.attrs["serial"])
    # 1e-7 deg is about 1 cm; altitude is truncated to 0.5 m steps.
    np.testing.assert_allclose(got.z[:, :2], sim.z[:, :2], atol=0.02)
    assert np.all((sim.z[:, 2] - got.z[:, 2] > -0.02) & (sim.z[:, 2] - got.z[:, 2] < 0.52))
    np.testing.assert_allclose(got.attrs["operator"][:, :2], sim.attrs["operator"][:, :2], atol=0.02)
    # Positions jump kilometres between one-second reports at unknown speed: 2 serials flagged.
    assert got.attrs["spoofed"].any()


def test_a_steady_simulated_drone_is_plausible() -> None:
    n = 20
    t = 1_750_000_000.0 + np.arange(n)
    z = np.column_stack([12.0 * np.arange(n), np.zeros(n), np.full(n, 80.0)])
    sim = Detections(
        "sim_rid", "remote_id", t, z, np.tile(np.eye(3), (n, 1, 1)),
        attrs={"serial": np.full(n, "SIMSTEADY"), "operator": np.tile([0.0, -100.0, 0.0], (n, 1)),
               "speed": np.full(n, 12.0), "course": np.full(n, np.pi / 2)},
    )  # fmt: skip
    got = detections_from_beacons(beacons_from_detections(sim, SITE), SITE)
    assert not got.attrs["spoofed"].any()
    np.testing.assert_allclose(got.attrs["speed"], 12.0)
    np.testing.assert_allclose(got.attrs["course"], np.pi / 2, atol=np.radians(0.5))
