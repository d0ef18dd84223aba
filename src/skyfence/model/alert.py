"""`Alert`: one operator-facing alert about a track (or a swarm group) and a zone."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["LEVELS", "Alert", "AlertState", "ThreatLevel"]


class AlertState(StrEnum):
    NEW = "new"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ThreatLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


LEVELS: tuple[str, ...] = tuple(level.value for level in ThreatLevel)


@dataclass(frozen=True, slots=True)
class Alert:
    """``time_to_zone`` is in seconds (``inf`` when the track is not predicted to enter);
    ``group_id`` is set on a swarm's group alert, -1 otherwise."""

    id: str
    t: float
    track_id: int
    zone_id: str
    level: ThreatLevel
    state: AlertState
    time_to_zone: float
    reason: str
    score: float = 0.0
    p_enter: float = 0.0
    group_id: int = -1

    def with_state(self, state: AlertState, t: float) -> Alert:
        return replace(self, state=state, t=t)
