"""Exercise scoring: set distances (GOSPA/OSPA), track continuity, detection, warning time,
classification and engagement windows from truth, tracks and alerts; Monte Carlo runner and report."""

from skyfence.evaluate.gospa import (
    GospaResult,
    GospaSeries,
    OspaResult,
    gospa,
    gospa_series,
    ospa,
    ospa_series,
)

__all__ = ["GospaResult", "GospaSeries", "OspaResult", "gospa", "gospa_series", "ospa", "ospa_series"]
