"""Acoustic drone detection: blade-pass harmonic tracking plus a small shipped classifier, and
bearings from a microphone array (GCC-PHAT / SRP-PHAT)."""

from skyfence.detect.acoustic.bearing import AcousticBearing, gcc_phat, srp_phat
from skyfence.detect.acoustic.detector import (
    AcousticDetector,
    AcousticDetectorConfig,
    AcousticEvents,
    acoustic_records,
    clip_probability,
)
from skyfence.detect.acoustic.features import FEATURE_NAMES, blade_pass, features
from skyfence.detect.acoustic.model import AcousticModel

__all__ = [
    "FEATURE_NAMES",
    "AcousticBearing",
    "AcousticDetector",
    "AcousticDetectorConfig",
    "AcousticEvents",
    "AcousticModel",
    "acoustic_records",
    "blade_pass",
    "clip_probability",
    "features",
    "gcc_phat",
    "srp_phat",
]
