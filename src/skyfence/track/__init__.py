"""Multi-sensor multi-target tracking: fuse every sensor's detections into tracks.

Roles live one per module (Stone Soup's map, batched numpy inside): ``motion`` and
``measure`` (models), ``filters`` (KF/EKF/UKF/IMM predict and update over all tracks),
``gate`` and ``assign`` (chi-square gating, GNN, JPDA), ``initiate`` (new tracks,
bearing triangulation), ``tracker`` (management: confirmation, coasting, deletion,
out-of-sequence buffer) and ``view`` (the boundary to ``track.infer``).

Five lines::

    from skyfence.track import Tracker
    tracker = Tracker(sensors=registry)
    for batch in batches:
        tracks = tracker.update(batch)
    print(tracks.id, tracks.x[:, :3])
"""

from skyfence.track.config import (
    AssociationConfig,
    InvalidDetectionError,
    ManagementConfig,
    MotionConfig,
    TrackerConfig,
    UnknownSensorError,
)
from skyfence.track.tracker import MISS_SENSOR_TYPES, Tracker, TrackerStats
from skyfence.track.view import AssocBatch, Inference, InferResult, TrackView, uniform_result

__all__ = [
    "MISS_SENSOR_TYPES",
    "AssocBatch",
    "AssociationConfig",
    "InferResult",
    "Inference",
    "InvalidDetectionError",
    "ManagementConfig",
    "MotionConfig",
    "TrackView",
    "Tracker",
    "TrackerConfig",
    "TrackerStats",
    "UnknownSensorError",
    "uniform_result",
]
