"""Remote ID position reports as skyfence :class:`~skyfence.model.detections.Detections` of kind
``remote_id``: ``z = [E, N, U]`` in the site frame, ``R`` from the broadcast accuracy
categories, identity, operator position, motion, timestamps and the spoofing verdict in attrs.
"""

from __future__ import annotations

import math

import numpy as np

from skyfence.detect.remoteid.capture import PositionReports
from skyfence.detect.remoteid.plausibility import Plausibility
from skyfence.geo import Site
from skyfence.model.detections import Detections

__all__ = ["DEFAULT_SIGMA_H", "DEFAULT_SIGMA_V", "default_site", "remote_id_detections"]

#: 1-sigma in metres when a drone reports no accuracy category (DJI DroneID never does).
DEFAULT_SIGMA_H = 15.0
DEFAULT_SIGMA_V = 25.0
#: Without any altitude the height is unknown to within this 1-sigma (metres).
NO_ALTITUDE_SIGMA = 500.0


def default_site(reports: PositionReports) -> Site | None:
    """The first broadcast position (with its altitude, else 0 m) as a site origin."""
    ok = np.flatnonzero(np.isfinite(reports.latitude) & np.isfinite(reports.longitude))
    if ok.size == 0:
        return None
    i = int(ok[0])
    alt = float(reports.altitude[i])
    return Site(float(reports.latitude[i]), float(reports.longitude[i]), alt if math.isfinite(alt) else 0.0)


def remote_id_detections(
    reports: PositionReports, plausibility: Plausibility, site: Site, sensor_id: str = "remoteid"
) -> Detections:
    """One detection per report with a position fix (reports without one are left out).

    Accuracy categories are 95 % bounds, so sigma = bound / 2. A report without a usable
    altitude is placed at the site's height with a wide vertical sigma."""
    keep = np.flatnonzero(np.isfinite(reports.latitude) & np.isfinite(reports.longitude))
    if keep.size == 0:
        return Detections.empty(sensor_id, "remote_id")
    alt = reports.altitude[keep]
    has_alt = np.isfinite(alt)
    z = site.to_enu(reports.latitude[keep], reports.longitude[keep], np.where(has_alt, alt, site.alt))
    sig_h = np.where(
        np.isfinite(reports.horizontal_accuracy[keep]),
        reports.horizontal_accuracy[keep] / 2.0,
        DEFAULT_SIGMA_H,
    )
    sig_v = np.where(
        np.isfinite(reports.vertical_accuracy[keep]), reports.vertical_accuracy[keep] / 2.0, DEFAULT_SIGMA_V
    )
    sig_v = np.where(has_alt, sig_v, NO_ALTITUDE_SIGMA)
    n = keep.size
    R = np.zeros((n, 3, 3))
    R[:, 0, 0] = R[:, 1, 1] = sig_h**2
    R[:, 2, 2] = sig_v**2
    direction = reports.direction[keep]
    # The operator also in the site frame, as the simulator's Remote ID model reports it.
    op_lat, op_lon = reports.operator_latitude[keep], reports.operator_longitude[keep]
    op_alt = reports.operator_altitude[keep]
    operator = site.to_enu(op_lat, op_lon, np.where(np.isfinite(op_alt), op_alt, site.alt))
    attrs = {
        "serial": reports.serial[keep],
        "protocol": reports.protocol[keep],
        "transport": reports.transport[keep],
        "address": reports.address[keep],
        "frame": reports.frame[keep],
        "latitude": reports.latitude[keep],
        "longitude": reports.longitude[keep],
        "altitude": alt,
        "height": reports.height[keep],
        "speed": reports.speed[keep],
        "vertical_speed": reports.vertical_speed[keep],
        # Track over ground, radians clockwise from true north (NaN unknown).
        "course": np.radians(direction),
        "drone_time": reports.drone_time[keep],
        "status": reports.status[keep],
        "operator_latitude": reports.operator_latitude[keep],
        "operator_longitude": reports.operator_longitude[keep],
        "operator_altitude": op_alt,
        "operator": operator,
        "spoofed": plausibility.spoofed[keep],
        "plausibility": plausibility.reasons()[keep],
    }
    return Detections(sensor_id, "remote_id", reports.t[keep], z, R, attrs=attrs)
