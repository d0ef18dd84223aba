"""The exercise simulator: scenario YAML -> truth and sensor detections of an FPV attack.

``load_scenario`` reads and checks a scenario, ``simulate`` yields one :class:`SimStep`
per time step, ``write_exercise`` streams a run to disk. See ``docs/simulate.md``.
"""

from skyfence.simulate.loader import load_scenario, parse_scenario, scenario_terrain, scenario_zones
from skyfence.simulate.runner import SimStep, sensor_registry, simulate
from skyfence.simulate.writer import EXERCISE_FILES, write_exercise

__all__ = [
    "EXERCISE_FILES",
    "SimStep",
    "load_scenario",
    "parse_scenario",
    "scenario_terrain",
    "scenario_zones",
    "sensor_registry",
    "simulate",
    "write_exercise",
]
