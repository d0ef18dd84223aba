"""The shared types every stage speaks: detections, tracks, truth, alerts, zones, sensors."""

from skyfence.model.alert import LEVELS, Alert, AlertState, ThreatLevel
from skyfence.model.classes import (
    CLASSES,
    FLAGS,
    MEASUREMENT_KINDS,
    N_CLASSES,
    MeasurementKind,
    Role,
    TargetClass,
    class_index,
)
from skyfence.model.detections import MEASUREMENT_DIMS, Detections, invalid_rows
from skyfence.model.sensors import SENSOR_TYPES, Sensor, SensorRegistry
from skyfence.model.tracks import STATUS_NAMES, Tracks, TrackStatus
from skyfence.model.truth import TargetInfo, Truth
from skyfence.model.zone import GeometryType, Zone, ZoneKind

__all__ = [
    "CLASSES",
    "FLAGS",
    "LEVELS",
    "MEASUREMENT_DIMS",
    "MEASUREMENT_KINDS",
    "N_CLASSES",
    "SENSOR_TYPES",
    "STATUS_NAMES",
    "Alert",
    "AlertState",
    "Detections",
    "GeometryType",
    "MeasurementKind",
    "Role",
    "Sensor",
    "SensorRegistry",
    "TargetClass",
    "TargetInfo",
    "ThreatLevel",
    "TrackStatus",
    "Tracks",
    "Truth",
    "Zone",
    "ZoneKind",
    "class_index",
    "invalid_rows",
]
