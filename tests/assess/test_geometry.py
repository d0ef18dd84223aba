"""Track × zone geometry: exact straight-line time to zone, closest approach, P(enter)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import example, given
from hypothesis import strategies as st

from skyfence.assess.geometry import (
    ZoneSet,
    closest_approach,
    enter_probability,
    time_to_zone,
    zone_geometry,
)
from skyfence.errors import FormatError
from skyfence.model import Zone

SQUARE = Zone("sq", [[0, 0], [100, 0], [100, 100], [0, 100]])
SQUARE_CW = Zone("cw", [[0, 0], [0, 100], [100, 100], [100, 0]])
BAND = Zone("band", [[0, 0], [100, 0], [100, 100], [0, 100]], floor_m=50, ceiling_m=120)
# A U shape: two prongs (x 0–40 and 60–100, y 0–100) joined below (y 0–30).
U_SHAPE = Zone("u", [[0, 0], [100, 0], [100, 100], [60, 100], [60, 30], [40, 30], [40, 100], [0, 100]])
BORDER = Zone("border", [[-1000, 500], [1000, 500]], geometry="line", buffer_m=20)


def _ttz(zone: Zone, p: list[float], v: list[float]) -> float:
    zs = ZoneSet.from_zones([zone])
    return float(time_to_zone(np.array([p], float), np.array([v], float), zs)[0, 0])


@pytest.mark.parametrize(
    ("zone", "p", "v", "want"),
    [
        (SQUARE, [-200, 50, 0], [10, 0, 0], 20.0),  # head-on through the west edge
        (SQUARE_CW, [-200, 50, 0], [10, 0, 0], 20.0),  # ring orientation does not matter
        (SQUARE, [50, -300, 0], [0, 25, 0], 12.0),
        (SQUARE, [-100, -100, 0], [5, 5, 0], 20.0),  # exactly through the corner (0, 0)
        (SQUARE, [-100, -50, 0], [4, 2, 0], 25.0),  # slanted: enters at (0, 0)... y = -50 + 2t = 0
        (SQUARE, [50, 50, 0], [10, 0, 0], 0.0),  # already inside
        (SQUARE, [100, 50, 0], [10, 0, 0], 0.0),  # on the boundary counts as inside
        (SQUARE, [-200, 50, 0], [-10, 0, 0], math.inf),  # flying away
        (SQUARE, [-200, 150, 0], [10, 0, 0], math.inf),  # passes north of it
        (SQUARE, [-200, 50, 0], [0, 0, 0], math.inf),  # hovering outside
        (BAND, [-200, 50, 200], [10, 0, 0], math.inf),  # above the ceiling all the way
        (BAND, [-200, 50, 200], [10, 0, -5], 20.0),  # descends below the ceiling at 16 s, edge at 20 s
        (BAND, [-200, 50, 200], [10, 0, -3], 80.0 / 3.0),  # over it from 20 s, below the ceiling at 26.7 s
        (BAND, [-200, 50, 200], [10, 0, -2], math.inf),  # below the ceiling only at 40 s, past it by then
        (BAND, [-200, 50, 200], [10, 0, -1], math.inf),  # ceiling at 80 s, already out the far side
        (BAND, [50, 50, 10], [0, 0, 4], 10.0),  # climbing through the floor inside
        (BAND, [50, 50, 10], [0, 0, 0], math.inf),  # below the floor, level
        (U_SHAPE, [-50, 80, 0], [10, 0, 0], 5.0),  # enters the west prong
        (U_SHAPE, [50, 200, 0], [0, -10, 0], 17.0),  # down the notch: enters the base at y=30
        (U_SHAPE, [45, 80, 0], [10, 0, 0], 1.5),  # inside the notch, enters the east prong at x=60
        (BORDER, [0, 0, 0], [0, 20, 0], 24.0),  # border band: 480 m at 20 m/s
        (BORDER, [0, 1000, 0], [0, -20, 0], 24.0),  # from the other side
    ],
)
def test_exact_time_to_zone(zone: Zone, p: list[float], v: list[float], want: float) -> None:
    got = _ttz(zone, p, v)
    if math.isinf(want):
        assert math.isinf(got)
    else:
        assert got == pytest.approx(want, abs=1e-9)


def test_time_to_zone_all_pairs_at_once() -> None:
    zs = ZoneSet.from_zones([SQUARE, BAND, U_SHAPE, BORDER])
    pos = np.array([[-200, 50, 100], [50, -300, 0], [45, 80, 0]], float)
    vel = np.array([[10, 0, 0], [0, 25, 0], [10, 0, 0]], float)
    got = time_to_zone(pos, vel, zs)
    assert got.shape == (3, 4)
    for i in range(3):
        for z, zone in enumerate(zs.zones):
            assert got[i, z] == pytest.approx(_ttz(zone, list(pos[i]), list(vel[i])))


def test_unknown_height_ignores_floor_and_ceiling() -> None:
    zs = ZoneSet.from_zones([BAND])
    got = time_to_zone(np.array([[-200.0, 50, 0]]), np.array([[10.0, 0, 0]]), zs, np.array([False]))
    assert got[0, 0] == pytest.approx(20.0)


@given(
    st.floats(-500, 500),
    st.floats(-500, 500),
    st.floats(0, 2 * math.pi),
    st.floats(1, 50),
)
# Grazing the west edge from a denormal distance: entry after ~1e-275 s, not never.
@example(x=-2.2250738585e-313, y=1.0, heading=1.1754943508222875e-38, speed=1.0)
def test_time_to_zone_is_the_first_contact(x: float, y: float, heading: float, speed: float) -> None:
    """At the reported time the track touches the zone; a moment before it did not."""
    zs = ZoneSet.from_zones([U_SHAPE])
    p = np.array([[x, y, 0.0]])
    v = np.array([[speed * math.sin(heading), speed * math.cos(heading), 0.0]])
    t = float(time_to_zone(p, v, zs)[0, 0])
    poly = zs.polygons[0]
    if math.isinf(t):
        # Never: sample the ray densely to 2 km and find no contact.
        ts = np.linspace(0, 2000 / speed, 4001)
        pts = p[0, :2] + v[0, :2] * ts[:, None]
        assert not shapely.intersects_xy(poly, pts[:, 0], pts[:, 1]).any()
        return
    at = p[0, :2] + v[0, :2] * t
    assert shapely.distance(poly, shapely.points(at)) < 1e-6
    if t > 1e-6:
        before = p[0, :2] + v[0, :2] * (t * (1 - 1e-6) - 1e-6)
        assert not shapely.intersects_xy(poly, before[0], before[1])


def test_closest_approach() -> None:
    zs = ZoneSet.from_zones([SQUARE])
    pos = np.array([[-200.0, 150, 0], [300.0, 50, 0]])
    vel = np.array([[10.0, 0, 0], [10.0, 0, 0]])
    dist, cpa, t_cpa = closest_approach(pos, vel, zs, 120.0)
    assert dist[0, 0] == pytest.approx(math.hypot(200, 50))
    assert cpa[0, 0] == pytest.approx(50.0)
    assert 20.0 <= t_cpa[0, 0] <= 30.0  # anywhere along the edge x in [0, 100]
    assert cpa[1, 0] == pytest.approx(200.0) and t_cpa[1, 0] == pytest.approx(0.0)


def test_enter_probability_follows_the_geometry() -> None:
    zs = ZoneSet.from_zones([SQUARE])
    P = np.tile(np.diag([100.0, 100.0, 1e8, 0.1, 0.1, 1e4]), (4, 1, 1))
    x = np.array(
        [
            [-500, 50, 0, 20, 0, 0],  # straight at the middle
            [-500, 50, 0, -20, 0, 0],  # away
            [-500, 100, 0, 20, 0, 0],  # along the north edge: a coin toss
            [-5000, 50, 0, 20, 0, 0],  # right line but 250 s out, beyond the horizon
        ],
        float,
    )
    p = enter_probability(x, P, zs, 120.0, samples=256)
    assert p[0, 0] > 0.95
    assert p[1, 0] == 0.0
    assert 0.3 < p[2, 0] < 0.7
    assert p[3, 0] == 0.0


def test_zone_geometry_shapes_and_inside() -> None:
    zs = ZoneSet.from_zones([SQUARE, BORDER])
    x = np.array([[50, 50, 0, 0, 0, 0], [-300, 50, 0, 10, 0, 0]], float)
    P = np.tile(np.eye(6), (2, 1, 1))
    g = zone_geometry(x, P, zs, 120.0)
    assert g.inside.tolist() == [[True, False], [False, False]]
    assert g.p_enter[0, 0] == 1.0
    assert g.closing_speed[1, 0] == pytest.approx(10.0)
    assert g.time_to_zone[1, 0] == pytest.approx(30.0)
    empty = zone_geometry(np.zeros((0, 6)), np.zeros((0, 6, 6)), zs, 120.0)
    assert empty.time_to_zone.shape == (0, 2)


def test_invalid_zone_geometry_names_the_zone() -> None:
    bow = Zone("bowtie", [[0, 0], [100, 100], [100, 0], [0, 100]])
    with pytest.raises(FormatError, match="bowtie"):
        ZoneSet.from_zones([bow])
