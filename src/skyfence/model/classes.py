"""The fixed class list and flags every stage agrees on (arrays of probabilities use this order)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Literal, get_args

__all__ = [
    "CLASSES",
    "FLAGS",
    "MEASUREMENT_KINDS",
    "N_CLASSES",
    "MeasurementKind",
    "Role",
    "TargetClass",
    "class_index",
]

CLASSES: tuple[str, ...] = ("fpv", "multirotor", "fixed_wing", "bird", "aircraft", "unknown")
N_CLASSES = len(CLASSES)

#: Flags carried beside the class of a track or a truth target.
FLAGS: tuple[str, ...] = ("rf_silent", "remote_id", "relay", "swarm_id", "spoofed")


class TargetClass(IntEnum):
    FPV = 0
    MULTIROTOR = 1
    FIXED_WING = 2
    BIRD = 3
    AIRCRAFT = 4
    UNKNOWN = 5


MeasurementKind = Literal["position", "polar", "bearing", "remote_id"]
MEASUREMENT_KINDS: tuple[str, ...] = get_args(MeasurementKind)


class Role(StrEnum):
    THREAT = "threat"
    BENIGN = "benign"


def class_index(name: str) -> int:
    """Index of a class name in :data:`CLASSES`; ``ValueError`` names the choices."""
    try:
        return CLASSES.index(name)
    except ValueError:
        raise ValueError(f"unknown class {name!r}; expected one of {', '.join(CLASSES)}") from None
