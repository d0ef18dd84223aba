"""Every sensor model passes the one conformance suite (skyfence.simulate.conformance)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from simkit import make_scene, make_table

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
from skyfence.simulate.conformance import ConformanceError, check_sensor_model
from skyfence.simulate.sensors import Environment, RadarModel, make_sensor_model
from skyfence.simulate.world import LINK_CODES, Scene

SPECS: list[Any] = [
    RadarSensor(type="radar", id="radar", position=[0, 0, 10], max_range_m=6000, clutter_rate=2),
    RfSensor(type="rf", id="rf", position=[0, 0, 10], max_range_m=6000, clutter_rate=0.5, measure_el=True),
    AcousticSensor(type="acoustic", id="mic", position=[0, 0, 3], max_range_m=800, clutter_rate=0.5),
    CameraSensor(
        type="eo", id="eo", position=[0, 0, 10], max_range_m=4000, hfov_deg=360, vfov_deg=120, clutter_rate=1
    ),
    IrSensor(
        type="ir", id="ir", position=[0, 0, 10], max_range_m=4000, hfov_deg=90, vfov_deg=60, clutter_rate=1
    ),
    RemoteIdSensor(type="remote_id", id="rid", position=[0, 0, 10], max_range_m=4000, clutter_rate=0.5),
    AdsbSensor(type="adsb", id="adsb", position=[0, 0, 10], max_range_m=100_000),
]


def _scene() -> Scene:
    rng = np.random.default_rng(3)
    n = 300
    pos = np.column_stack([rng.uniform(-3000, 3000, n), rng.uniform(-3000, 3000, n), rng.uniform(2, 3000, n)])
    pos[:20] = np.column_stack(
        [rng.uniform(-300, 300, 20), rng.uniform(-300, 300, 20), rng.uniform(5, 80, 20)]
    )
    vel = rng.normal(0, 15, (n, 3))
    cls = [["fpv", "multirotor", "fixed_wing", "bird", "aircraft"][i % 5] for i in range(n)]
    table = make_table(cls, remote_id=True, adsb=True, link="analog_5g8")
    object.__setattr__(table, "link", np.array([i % len(LINK_CODES) for i in range(n)], dtype=np.int64))
    return make_scene(pos, table, vel)


@pytest.mark.parametrize("terrain", ["flat", "ridge"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.type)
def test_sensor_model_conforms(spec: Any, terrain: str) -> None:
    ground = (
        Terrain.flat()
        if terrain == "flat"
        else Terrain.from_ridges([Ridge((-3000.0, 500.0), (3000.0, 500.0), 120.0, 200.0)], 4000.0, 50.0)
    )
    sensor = Sensor(
        spec.id, spec.type, SENSOR_TYPES[spec.type], np.array(spec.position), spec.rate_hz, spec.max_range_m
    )
    env = Environment(light=0.5, wind_speed=3.0)
    check_sensor_model(lambda rng: make_sensor_model(spec, sensor, ground, env, rng), _scene())


def test_the_suite_catches_a_broken_model() -> None:
    spec = SPECS[0]
    sensor = Sensor(spec.id, "radar", "polar", np.array(spec.position), 1.0, spec.max_range_m)

    class Leaky(RadarModel):
        def scan(self, scene: Scene) -> Any:
            det, src = super().scan(scene)
            from skyfence.model.detections import Detections

            return Detections(det.sensor_id, det.kind, det.t, det.z, det.R, None, {"target": src}), src

    with pytest.raises(ConformanceError, match="looks like truth"):
        check_sensor_model(lambda rng: Leaky(spec, sensor, Terrain.flat(), Environment(), rng), _scene())

    class Forgetful(RadarModel):
        def scan(self, scene: Scene) -> Any:
            det, src = super().scan(scene)
            return det, src[:-1] if len(src) else src

    with pytest.raises(ConformanceError, match="sources"):
        check_sensor_model(lambda rng: Forgetful(spec, sensor, Terrain.flat(), Environment(), rng), _scene())
