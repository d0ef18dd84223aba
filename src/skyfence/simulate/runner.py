"""The scenario runner: steps the world and scans every sensor at its own rate, yielding
one :class:`SimStep` per time step (truth + detections + their sources)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skyfence.model.detections import Detections
from skyfence.model.scenario import Scenario, SensorSpec
from skyfence.model.sensors import SENSOR_TYPES, Sensor, SensorRegistry
from skyfence.model.terrain import Terrain
from skyfence.model.truth import Truth
from skyfence.simulate.loader import position_enu, scenario_terrain
from skyfence.simulate.sensors import Environment, SensorModel, make_sensor_model
from skyfence.simulate.world import World, stream_seed

__all__ = ["SimStep", "sensor_registry", "simulate"]

#: Fields of a sensor spec that are columns of the registry rather than ``params``.
_COMMON = {"id", "type", "position", "rate_hz", "max_range_m"}


@dataclass(frozen=True, slots=True)
class SimStep:
    """The world at time ``t`` (epoch seconds): truth points, the detection batches of the
    scans that fell in ``(t - step_s, t]`` in time order (one batch per sensor scan, empty
    batches included so a consumer knows the sensor looked), and ``sources[k][i]``: the
    truth target id behind detection ``i`` of batch ``k``, -1 for clutter."""

    t: float
    truth: Truth
    detections: list[Detections]
    sources: list[NDArray[np.int64]]


def _sensor(spec: SensorSpec, scenario: Scenario, terrain: Terrain) -> Sensor:
    e, n, u = position_enu(spec.position, scenario.site_frame())
    if u is None:
        u = float(terrain.height(np.array([e]), np.array([n]))[0]) + spec.height_agl_m
    params = spec.model_dump(mode="json", exclude=_COMMON)
    return Sensor(
        id=spec.id,
        type=spec.type,
        kind=SENSOR_TYPES[spec.type],
        position=np.array([e, n, u]),
        rate_hz=float(spec.rate_hz),
        max_range_m=float(spec.max_range_m),
        params=params,
    )


def sensor_registry(scenario: Scenario, terrain: Terrain | None = None) -> SensorRegistry:
    """Where each sensor of the scenario is (ENU) and what it measures."""
    ter = terrain if terrain is not None else scenario_terrain(scenario)
    return SensorRegistry(scenario.site_frame(), [_sensor(s, scenario, ter) for s in scenario.sensors])


def simulate(scenario: Scenario, seed: int | None = None) -> Iterator[SimStep]:
    """Run the scenario, one :class:`SimStep` per ``step_s`` from 0 to ``duration_s``.

    ``seed`` (default the scenario's) makes the run reproducible: motion draws one stream,
    each sensor its own stream keyed by its id, so adding a sensor leaves the others'
    draws unchanged.
    """
    run_seed = scenario.seed if seed is None else int(seed)
    terrain = scenario_terrain(scenario)
    world = World(scenario, terrain, run_seed)
    registry = sensor_registry(scenario, terrain)
    env = Environment(
        light=scenario.light_level(), wind_speed=scenario.wind.speed_mps, epoch=scenario.start_time
    )
    models: list[SensorModel] = [
        make_sensor_model(spec, sensor, terrain, env, stream_seed(run_seed, "sensor", spec.id))
        for spec, sensor in zip(scenario.sensors, registry.sensors, strict=True)
    ]
    rates = [s.rate_hz for s in registry.sensors]
    next_scan = [0] * len(models)
    epoch = scenario.start_time
    step = scenario.step_s
    for i in range(scenario.n_steps + 1):
        elapsed = i * step
        world.advance(elapsed)
        t = epoch + elapsed
        truth = world.truth(t)
        scans: list[tuple[float, int, Detections, NDArray[np.int64]]] = []
        here = None
        for m, model in enumerate(models):
            rate = rates[m]
            while next_scan[m] / rate <= elapsed + 1e-9:
                ts = next_scan[m] / rate
                next_scan[m] += 1
                back = elapsed - ts
                if back <= 1e-9:
                    if here is None:
                        here = world.scene(t)
                    scene = here
                else:
                    scene = world.scene(epoch + ts, back)
                det, src = model.scan(scene)
                scans.append((ts, m, det, src))
        scans.sort(key=lambda s: (s[0], s[1]))
        yield SimStep(t, truth, [s[2] for s in scans], [s[3] for s in scans])
