"""Multi-sensor multi-target tracking: fuse every sensor's detections into tracks.

Roles live one per module (Stone Soup's map, batched numpy inside): ``motion`` and
``measure`` (models), ``filters`` (KF/EKF/UKF/IMM predict and update over all tracks),
``gate`` and ``assign`` (chi-square gating, GNN, JPDA), ``initiate`` (new tracks,
bearing triangulation), ``tracker`` (management: confirmation, coasting, deletion,
out-of-sequence buffer) and ``view`` (the boundary to ``track.infer``).
"""

from skyfence.track.view import AssocBatch, Inference, InferResult, TrackView, uniform_result

__all__ = ["AssocBatch", "InferResult", "Inference", "TrackView", "uniform_result"]
