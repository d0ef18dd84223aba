"""skyfence: counter-drone detection, tracking, assessment and exercise platform.

Defensive only: nothing in this package transmits, jams, spoofs or takes over a drone.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
