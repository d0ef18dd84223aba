"""Threat assessment: zones, threat scores with reasons, Remote ID checks, launch areas and
the alert lifecycle. ``Assessor(zones, config, site).update(tracks) -> list[Alert]``."""

from skyfence.assess.assessor import AlertKey, Assessor, UnknownAlertError
from skyfence.assess.config import AssessConfig
from skyfence.assess.geometry import ZoneGeometry, ZoneSet, closest_approach, enter_probability, time_to_zone
from skyfence.assess.launch import FlatGround, Ground, LaunchArea
from skyfence.assess.remoteid import AllowList, AllowListEntry
from skyfence.assess.threat import ThreatPicture, score_tracks
from skyfence.assess.timeline import alerts_table, alerts_timeline

__all__ = [
    "AlertKey",
    "AllowList",
    "AllowListEntry",
    "AssessConfig",
    "Assessor",
    "FlatGround",
    "Ground",
    "LaunchArea",
    "ThreatPicture",
    "UnknownAlertError",
    "ZoneGeometry",
    "ZoneSet",
    "alerts_table",
    "alerts_timeline",
    "closest_approach",
    "enter_probability",
    "score_tracks",
    "time_to_zone",
]
