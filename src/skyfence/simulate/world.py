"""The simulated world: targets expanded from the scenario and their motion, vectorised.

Every target lives in one set of state arrays (``pos``, ``vel``, ``active`` ...). Motion is
advanced per *model*, each a batch over all targets that share it:

- guided flight (``fpv``, ``swarm``, ``decoy``, ``relay``, ``compliant``): waypoint
  following at a commanded speed with a bounded turn rate (the lesser of the airframe's
  ``max_turn_rate_dps`` and the coordinated-turn rate ``g·tan(bank)/v``), bounded
  acceleration and climb rate, terrain following with a look-ahead, and an end
  behaviour: terminal *dive* onto the aim point (FPVs; optionally after a pop-up climb
  near the target), *hover* (relay), *loop* the route (survey lawnmower) or *orbit* the
  aim point (decoy);
- ``bird`` flocks: a flock centre wandering (heading random walk, pulled home when it
  strays beyond ``radius_m``) and drifting with the wind, members held about it by a
  mean-reverting offset;
- ``aircraft``: straight, constant-velocity passes;
- ``operator`` (only with ``operator_emits``): a pilot's ground controller, standing still
  and radiating its control link from its drones' launch until the last of them is down.

No Python loop runs per target per step; loops here are over behaviours or setup.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.geo import Site
from skyfence.model.classes import class_index
from skyfence.model.scenario import (
    AircraftTarget,
    BirdTarget,
    CompliantTarget,
    DecoyTarget,
    FpvTarget,
    GeoPoint,
    RelayTarget,
    Scenario,
    SwarmTarget,
    _Attacker,
)
from skyfence.model.terrain import Terrain
from skyfence.model.truth import TargetInfo, Truth
from skyfence.model.zone import Zone
from skyfence.simulate.loader import position_enu, scenario_zones

__all__ = [
    "ACOUSTIC_SOURCE_DB",
    "DEFAULT_RCS_M2",
    "LINK_CODES",
    "VISUAL_SIZE_M",
    "Scene",
    "TargetTable",
    "World",
    "stream_seed",
]

G = 9.80665
#: Links in code order (``TargetTable.link`` holds an index, -1 for none).
LINK_CODES: tuple[str, ...] = ("analog_5g8", "elrs_900", "elrs_2g4", "digital_ofdm", "fiber")

#: Mean radar cross-section by behaviour (m²) when a target gives no ``rcs_m2``.
DEFAULT_RCS_M2: dict[str, float] = {
    "fpv": 0.02,
    "swarm": 0.02,
    "decoy": 0.5,
    "relay": 0.1,
    "compliant": 0.05,
    "bird": 0.02,
    "aircraft": 40.0,
    "operator": 1e-4,
}
#: Visible/thermal size (largest dimension, m) by behaviour, for pixels on a camera.
VISUAL_SIZE_M: dict[str, float] = {
    "fpv": 0.25,
    "swarm": 0.25,
    "decoy": 2.0,
    "relay": 1.2,
    "compliant": 0.6,
    "bird": 0.4,
    "aircraft": 40.0,
    "operator": 0.5,
}
#: Acoustic source level (dB re 20 µPa at 1 m) by behaviour.
ACOUSTIC_SOURCE_DB: dict[str, float] = {
    "fpv": 86.0,
    "swarm": 86.0,
    "decoy": 90.0,
    "relay": 82.0,
    "compliant": 75.0,
    "bird": 45.0,
    "aircraft": 135.0,
    "operator": 0.0,
}

# Guided end behaviours.
_HOVER, _DIVE, _LOOP, _ORBIT = 0, 1, 2, 3


def stream_seed(seed: int, *key: str | int) -> np.random.Generator:
    """An independent generator for one named stream of a run: the key is hashed (CRC-32
    of names), so adding a sensor or a target does not change the others' draws."""
    spawn = tuple(zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in key)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=spawn))


@dataclass(frozen=True, slots=True)
class TargetTable:
    """Static per-target facts, indexed by target id (0..N-1)."""

    infos: tuple[TargetInfo, ...]
    cls_idx: NDArray[np.int64]
    rcs_m2: NDArray[np.float64]
    size_m: NDArray[np.float64]
    source_db: NDArray[np.float64]
    link: NDArray[np.int64]
    remote_id: NDArray[np.bool_]
    serial: NDArray[np.str_]
    operator: NDArray[np.float64]
    spoof_offset: NDArray[np.float64]
    adsb: NDArray[np.bool_]
    icao: NDArray[np.str_]
    callsign: NDArray[np.str_]
    relay_of: NDArray[np.int64]
    extra: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.infos)


@dataclass(frozen=True, slots=True)
class Scene:
    """What the sensors look at in one scan: the targets in the air at time ``t`` (site
    epoch seconds), their states and emissions; ``ids`` index the :class:`TargetTable`."""

    t: float
    ids: NDArray[np.int64]
    pos: NDArray[np.float64]
    vel: NDArray[np.float64]
    emitting: NDArray[np.bool_]
    table: TargetTable


@dataclass
class _Spec:
    """One target after expansion, before it becomes array rows."""

    name: str
    behaviour: str
    cls: str
    role: str
    start: float
    rcs: float
    link: str | None = None
    flags: tuple[str, ...] = ()
    group: int | None = None
    relay_name: str | None = None
    zone: str | None = None
    serial: str | None = None
    icao: str | None = None
    callsign: str | None = None
    operator: tuple[float, float, float] | None = None
    spoof: tuple[float, float] = (0.0, 0.0)
    adsb: bool = False
    # guided
    route: list[tuple[float, float, float]] | None = None
    launch: tuple[float, float] | None = None
    end_mode: int = _HOVER
    cruise: float = 10.0
    turn_rate: float = math.radians(120.0)
    bank: float = math.radians(60.0)
    climb: float = 5.0
    accel: float = 5.0
    dive_tan: float = 1.0
    orbit_r: float = 100.0
    autonomy_s: float = 0.0
    pop_up: float = 0.0
    pop_up_range: float = 400.0
    # bird / aircraft
    flock: int = -1
    home: tuple[float, float] | None = None
    ac_pos: tuple[float, float, float] | None = None
    ac_vel: tuple[float, float, float] | None = None
    extra: dict[str, Any] | None = None
    controls: list[str] | None = None


class World:
    """All targets of a scenario and their state; :meth:`advance` moves time on."""

    def __init__(self, scenario: Scenario, terrain: Terrain, seed: int) -> None:
        self.scenario = scenario
        self.terrain = terrain
        self.seed = int(seed)
        self.site = scenario.site_frame()
        self.wind = scenario.wind.vector()
        self.wind_speed = float(scenario.wind.speed_mps)
        zones = {z.id: z for z in scenario_zones(scenario)}
        specs = _expand(scenario, self.site, terrain, zones, seed)
        self.table = _table(specs)
        n = len(specs)
        self.n = n
        self.pos = np.zeros((n, 3))
        self.vel = np.zeros((n, 3))
        self.active = np.zeros(n, dtype=bool)
        self.done = np.zeros(n, dtype=bool)
        self.autonomy = np.zeros(n, dtype=bool)
        self.start = np.array([s.start for s in specs], dtype=np.float64)
        beh = np.array([s.behaviour for s in specs], dtype=object)
        self._rng = stream_seed(seed, "motion")
        self._setup_guided(
            specs, np.flatnonzero(np.isin(beh, ["fpv", "swarm", "decoy", "relay", "compliant"]))
        )
        self._setup_birds(specs, np.flatnonzero(beh == "bird"), seed)
        self._setup_aircraft(specs, np.flatnonzero(beh == "aircraft"))
        self._setup_operators(specs, np.flatnonzero(beh == "operator"))
        # Relays radiate while airborne like any radio-linked drone; the sensors add the
        # re-transmission of their clients' links (TargetTable.relay_of).
        self.links_rf = (self.table.link >= 0) & (self.table.link != LINK_CODES.index("fiber"))
        self.elapsed = 0.0
        self._launch(0.0)
        self._step_aircraft()
        self._update_emitting()

    # -- setup --------------------------------------------------------------------------
    def _setup_guided(self, specs: list[_Spec], idx: NDArray[np.int64]) -> None:
        self.g_idx = idx
        m = len(idx)
        w = max([len(specs[i].route or []) for i in idx], default=1)
        route = np.zeros((m, max(w, 1), 3))
        n_wp = np.zeros(m, dtype=np.int64)
        launch = np.zeros((m, 2))
        for k, i in enumerate(idx):
            r = specs[i].route or [(0.0, 0.0, 10.0)]
            route[k, : len(r)] = r
            route[k, len(r) :] = r[-1]
            n_wp[k] = len(r)
            launch[k] = specs[i].launch or r[0][:2]
        self.g_route = route
        self.g_nwp = n_wp
        self.g_wp = np.zeros(m, dtype=np.int64)
        self.g_launch = launch
        self.g_mode = np.array([specs[i].end_mode for i in idx], dtype=np.int64)
        self.g_cruise = np.array([specs[i].cruise for i in idx], dtype=np.float64)
        self.g_turn = np.array([specs[i].turn_rate for i in idx], dtype=np.float64)
        self.g_bank_acc = G * np.tan(np.array([specs[i].bank for i in idx], dtype=np.float64))
        self.g_climb = np.array([specs[i].climb for i in idx], dtype=np.float64)
        self.g_accel = np.array([specs[i].accel for i in idx], dtype=np.float64)
        self.g_dive_tan = np.array([specs[i].dive_tan for i in idx], dtype=np.float64)
        self.g_orbit = np.array([specs[i].orbit_r for i in idx], dtype=np.float64)
        self.g_autonomy = np.array([specs[i].autonomy_s for i in idx], dtype=np.float64)
        self.g_pop_up = np.array([specs[i].pop_up for i in idx], dtype=np.float64)
        self.g_pop_up_range = np.array([specs[i].pop_up_range for i in idx], dtype=np.float64)
        self.g_heading = np.zeros(m)
        self.g_speed = np.zeros(m)
        self.g_diving = np.zeros(m, dtype=bool)
        last = route[np.arange(m), np.maximum(n_wp - 1, 0)]
        self.g_aim = np.column_stack(
            [last[:, 0], last[:, 1], self.terrain.height(last[:, 0], last[:, 1]) + 0.5]
        )

    def _setup_birds(self, specs: list[_Spec], idx: NDArray[np.int64], seed: int) -> None:
        self.b_idx = idx
        flocks = np.array([specs[i].flock for i in idx], dtype=np.int64)
        n_fl = int(flocks.max()) + 1 if len(idx) else 0
        self.b_flock = flocks
        home = np.zeros((n_fl, 2))
        radius = np.zeros(n_fl)
        smin = np.zeros(n_fl)
        smax = np.zeros(n_fl)
        agl = np.zeros(n_fl)
        spread = np.zeros(n_fl)
        for i in idx:
            f = specs[i].flock
            ex = specs[i].extra or {}
            home[f] = specs[i].home or (0.0, 0.0)
            radius[f] = ex["radius_m"]
            smin[f], smax[f] = ex["speed_min"], ex["speed_max"]
            agl[f] = ex["altitude_agl_m"]
            spread[f] = ex["flock_spread_m"]
        rng = stream_seed(seed, "birds", "setup")
        self.f_home, self.f_radius, self.f_smin, self.f_smax = home, radius, smin, smax
        self.f_agl, self.f_spread = agl, spread
        ang = rng.uniform(0, 2 * math.pi, n_fl)
        rad = radius * np.sqrt(rng.uniform(0, 0.5, n_fl))
        self.f_pos = np.column_stack([home[:, 0] + rad * np.sin(ang), home[:, 1] + rad * np.cos(ang)])
        self.f_heading = rng.uniform(0, 2 * math.pi, n_fl)
        self.f_speed = rng.uniform(smin, smax) if n_fl else np.zeros(0)
        self.b_offset = (
            rng.normal(size=(len(idx), 3))
            * np.column_stack([spread[flocks], spread[flocks], 0.3 * spread[flocks]])
            if len(idx)
            else np.zeros((0, 3))
        )
        self.b_ovel = np.zeros((len(idx), 3))
        self.b_agl = agl[flocks] + rng.uniform(-0.3, 0.3, len(idx)) * agl[flocks] if len(idx) else np.zeros(0)

    def _setup_aircraft(self, specs: list[_Spec], idx: NDArray[np.int64]) -> None:
        self.a_idx = idx
        self.a_pos0 = np.array([specs[i].ac_pos for i in idx], dtype=np.float64).reshape(-1, 3)
        self.a_vel = np.array([specs[i].ac_vel for i in idx], dtype=np.float64).reshape(-1, 3)
        self.a_t0 = self.start[idx].copy()

    def _setup_operators(self, specs: list[_Spec], idx: NDArray[np.int64]) -> None:
        names = {s.name: k for k, s in enumerate(specs)}
        self.o_idx = idx
        self.o_pos = np.array([specs[i].operator for i in idx], dtype=np.float64).reshape(-1, 3)
        # The drones each operator flies, as rows of a padded index table (-1 = none).
        drones = [[names[n] for n in (specs[i].controls or [])] for i in idx]
        width = max([len(d) for d in drones], default=0)
        table = np.full((len(idx), max(width, 1)), -1, dtype=np.int64)
        for k, d in enumerate(drones):
            table[k, : len(d)] = d
        self.o_drones = table

    # -- stepping ------------------------------------------------------------------------
    def advance(self, to_elapsed: float) -> None:
        """Move every target from the current time to ``to_elapsed`` (seconds since start)."""
        total = to_elapsed - self.elapsed
        if total <= 0:
            return
        n_sub = max(1, math.ceil(total / 0.5 - 1e-9))
        dt = total / n_sub
        for _ in range(n_sub):
            self.elapsed += dt
            self._launch(self.elapsed)
            self._step_guided(dt)
            self._step_birds(dt)
            self._step_aircraft()
        self.elapsed = to_elapsed
        self._update_emitting()

    def _launch(self, t: float) -> None:
        new = ~self.active & ~self.done & (self.start <= t + 1e-9)
        if not new.any():
            return
        self.active |= new
        gsel = new[self.g_idx]
        if gsel.any():
            k = np.flatnonzero(gsel)
            i = self.g_idx[k]
            e, n = self.g_launch[k, 0], self.g_launch[k, 1]
            self.pos[i] = np.column_stack([e, n, self.terrain.height(e, n) + 1.0])
            self.vel[i] = 0.0
            first = self.g_route[k, 0]
            self.g_heading[k] = np.arctan2(first[:, 0] - e, first[:, 1] - n)
            self.g_speed[k] = 0.0
        osel = new[self.o_idx]
        if osel.any():
            self.pos[self.o_idx[osel]] = self.o_pos[osel]
            self.vel[self.o_idx[osel]] = 0.0
        bsel = new[self.b_idx]
        if bsel.any():
            i = self.b_idx[bsel]
            f = self.b_flock[bsel]
            e = self.f_pos[f, 0] + self.b_offset[bsel, 0]
            n = self.f_pos[f, 1] + self.b_offset[bsel, 1]
            self.pos[i] = np.column_stack([e, n, self.terrain.height(e, n) + self.b_agl[bsel]])

    def _step_guided(self, dt: float) -> None:
        gi = self.g_idx
        if len(gi) == 0:
            return
        live = self.active[gi] & ~self.done[gi]
        if not live.any():
            return
        k = np.flatnonzero(live)
        i = gi[k]
        pos = self.pos[i]
        speed = self.g_speed[k]
        heading = self.g_heading[k]
        wp = self.g_wp[k]
        nwp = self.g_nwp[k]
        mode = self.g_mode[k]
        cruise = self.g_cruise[k]
        tgt = self.g_route[k, wp]
        dE, dN = tgt[:, 0] - pos[:, 0], tgt[:, 1] - pos[:, 1]
        dist = np.hypot(dE, dN)
        final = wp >= nwp - 1
        capture = np.maximum(20.0, 1.5 * speed * dt)
        adv = (dist < capture) & (~final | (mode == _LOOP))
        if adv.any():
            wp = np.where(adv, np.where(final, 0, wp + 1), wp)
            self.g_wp[k] = wp
            tgt = self.g_route[k, wp]
            dE, dN = tgt[:, 0] - pos[:, 0], tgt[:, 1] - pos[:, 1]
            dist = np.hypot(dE, dN)
            final = wp >= nwp - 1
        psi_d = np.arctan2(dE, dN)
        orbit = final & (mode == _ORBIT) & (dist < 2.0 * self.g_orbit[k])
        if orbit.any():
            # Orbit: steer for a point a little ahead on the circle round the aim point.
            r = self.g_orbit[k]
            phi = np.arctan2(pos[:, 0] - tgt[:, 0], pos[:, 1] - tgt[:, 1]) + 0.6
            ahead_e = tgt[:, 0] + r * np.sin(phi) - pos[:, 0]
            ahead_n = tgt[:, 1] + r * np.cos(phi) - pos[:, 1]
            psi_d = np.where(orbit, np.arctan2(ahead_e, ahead_n), psi_d)
        hover = final & (mode == _HOVER)
        v_cmd = np.where(hover, np.minimum(cruise, 0.4 * dist), cruise)
        speed = speed + np.clip(v_cmd - speed, -self.g_accel[k] * dt, self.g_accel[k] * dt)
        rate = np.minimum(self.g_turn[k], self.g_bank_acc[k] / np.maximum(speed, 1.0))
        err = np.mod(psi_d - heading + math.pi, 2 * math.pi) - math.pi
        turn = np.where(hover & (dist < 2.0), 0.0, np.clip(err, -rate * dt, rate * dt))
        heading = np.mod(heading + turn, 2 * math.pi)
        vE = speed * np.sin(heading)
        vN = speed * np.cos(heading)
        # Terrain following: hold the commanded height over the higher of here and 3 s ahead.
        h_here = self.terrain.height(pos[:, 0], pos[:, 1])
        h_ahead = self.terrain.height(pos[:, 0] + 3.0 * vE, pos[:, 1] + 3.0 * vN)
        agl_cmd = tgt[:, 2]
        pop = final & (mode == _DIVE) & (dist < self.g_pop_up_range[k])
        if pop.any():
            agl_cmd = np.where(pop, np.maximum(agl_cmd, self.g_pop_up[k]), agl_cmd)
        u_cmd = np.maximum(h_here, h_ahead) + agl_cmd
        vU = np.clip((u_cmd - pos[:, 2]) / 1.5, -self.g_climb[k], self.g_climb[k])
        vel = np.column_stack([vE, vN, vU])
        if self.wind_speed > 0 and hover.any():
            # A hovering multirotor is pushed about by gusts it keeps correcting.
            gust = self._rng.normal(0.0, 0.08 * self.wind_speed, (len(k), 3)) * np.array([1.0, 1.0, 0.3])
            vel = np.where(hover[:, None], vel + gust, vel)

        # Terminal dive: straight at the aim point once the dive angle is reached.
        aim = self.g_aim[k]
        to_aim = aim - pos
        d3 = np.linalg.norm(to_aim, axis=1)
        height = pos[:, 2] - aim[:, 2]
        reach = np.maximum(np.maximum(height, 1.0) / self.g_dive_tan[k], 1.5 * speed * dt)
        start_dive = final & (mode == _DIVE) & (dist <= reach)
        diving = self.g_diving[k] | start_dive
        self.g_diving[k] = diving
        impact = np.zeros(len(k), dtype=bool)
        if diving.any():
            dive_speed = np.maximum(speed, cruise) * 1.15
            dvel = to_aim / np.maximum(d3, 1e-6)[:, None] * dive_speed[:, None]
            vel = np.where(diving[:, None], dvel, vel)
            speed = np.where(diving, dive_speed, speed)
            heading = np.where(
                diving & (np.hypot(to_aim[:, 0], to_aim[:, 1]) > 0.5),
                np.arctan2(to_aim[:, 0], to_aim[:, 1]),
                heading,
            )
            impact = diving & (d3 <= dive_speed * dt + 0.5)
        # Lock-on: links fall silent once the time to go drops below the autonomy window.
        ttg = d3 / np.maximum(speed, 1.0)
        self.autonomy[i] |= final & (self.g_autonomy[k] > 0) & (ttg <= self.g_autonomy[k])

        new_pos = pos + vel * dt
        new_pos = np.where(impact[:, None], aim, new_pos)
        ground = self.terrain.height(new_pos[:, 0], new_pos[:, 1])
        new_pos[:, 2] = np.where(
            diving, np.maximum(new_pos[:, 2], ground), np.maximum(new_pos[:, 2], ground + 1.0)
        )
        self.pos[i] = new_pos
        self.vel[i] = vel
        self.g_speed[k] = speed
        self.g_heading[k] = heading
        if impact.any():
            hit = i[impact]
            self.done[hit] = True
            self.active[hit] = False

    def _step_birds(self, dt: float) -> None:
        bi = self.b_idx
        if len(bi) == 0:
            return
        rng = self._rng
        n_fl = len(self.f_home)
        # Flock centre: heading random walk, turned for home when beyond the radius.
        to_home = self.f_home - self.f_pos
        far = np.hypot(to_home[:, 0], to_home[:, 1]) > self.f_radius
        home_psi = np.arctan2(to_home[:, 0], to_home[:, 1])
        err = np.mod(home_psi - self.f_heading + math.pi, 2 * math.pi) - math.pi
        self.f_heading += np.where(far, np.clip(err, -0.5 * dt, 0.5 * dt), 0.0)
        self.f_heading += rng.normal(0.0, 0.25 * math.sqrt(dt), n_fl)
        self.f_speed = np.clip(
            self.f_speed + rng.normal(0.0, 1.0 * math.sqrt(dt), n_fl), self.f_smin, self.f_smax
        )
        f_vel = np.column_stack(
            [self.f_speed * np.sin(self.f_heading), self.f_speed * np.cos(self.f_heading)]
        )
        f_vel = f_vel + 0.3 * self.wind[None, :]
        self.f_pos = self.f_pos + f_vel * dt
        # Members: each holds an offset from the flock centre that drifts smoothly (its own
        # velocity is an Ornstein-Uhlenbeck process) and is pulled back over ~30 s.
        f = self.b_flock
        sig_v = np.minimum(2.0, 0.1 * self.f_spread[f] + 0.2)[:, None] * np.array([1.0, 1.0, 0.3])
        tau_v, tau_p = 5.0, 30.0
        self.b_ovel += -self.b_ovel * (dt / tau_v) + rng.normal(size=self.b_ovel.shape) * sig_v * math.sqrt(
            2.0 * dt / tau_v
        )
        self.b_offset = self.b_offset + (self.b_ovel - self.b_offset / tau_p) * dt
        live = self.active[bi]
        e = self.f_pos[f, 0] + self.b_offset[:, 0]
        n = self.f_pos[f, 1] + self.b_offset[:, 1]
        u_cmd = self.terrain.height(e, n) + np.maximum(self.b_agl + self.b_offset[:, 2], 2.0)
        old_pos = self.pos[bi]
        vU = np.clip((u_cmd - old_pos[:, 2]) / 2.0, -3.0, 3.0)
        new = np.column_stack([e, n, old_pos[:, 2] + vU * dt])
        vel = (new - old_pos) / dt
        vel[:, 2] = vU
        self.pos[bi] = np.where(live[:, None], new, old_pos)
        self.vel[bi] = np.where(live[:, None], vel, 0.0)

    def _step_aircraft(self) -> None:
        ai = self.a_idx
        if len(ai) == 0:
            return
        tt = self.elapsed - self.a_t0
        self.pos[ai] = self.a_pos0 + self.a_vel * tt[:, None]
        self.vel[ai] = self.a_vel

    def _update_emitting(self) -> None:
        em = self.active & self.links_rf & ~self.autonomy
        if len(self.o_idx):
            # A controller radiates until the last of its drones is down.
            flying = np.where(self.o_drones >= 0, ~self.done[np.maximum(self.o_drones, 0)], False).any(axis=1)
            em[self.o_idx] &= flying
        self.emitting = em

    # -- views ---------------------------------------------------------------------------
    def truth(self, t: float) -> Truth:
        ids = np.flatnonzero(self.active)
        x = np.concatenate([self.pos[ids], self.vel[ids]], axis=1)
        return Truth(np.full(len(ids), t), ids, x, self.emitting[ids], self.table.infos)

    def scene(self, t: float, back_s: float = 0.0) -> Scene:
        """Targets in the air, extrapolated ``back_s`` seconds before the current time."""
        ids = np.flatnonzero(self.active)
        pos = self.pos[ids]
        vel = self.vel[ids]
        if back_s:
            pos = pos - vel * back_s
        return Scene(t, ids, pos, vel, self.emitting[ids], self.table)


# -- expansion of scenario targets into rows ---------------------------------------------


def _xy(pos: list[float] | GeoPoint, site: Site) -> tuple[float, float, float | None]:
    return position_enu(pos, site)


def _aim_of(t: _Attacker, site: Site, zones: dict[str, Zone]) -> tuple[float, float]:
    if t.aim is not None:
        e, n, _ = _xy(t.aim, site)
        return e, n
    if t.target_zone is not None and t.target_zone in zones:
        import shapely

        z = zones[t.target_zone]
        geom = shapely.polygons(z.area_polygon())
        c = shapely.centroid(geom)
        if not shapely.contains(geom, c):
            c = shapely.point_on_surface(geom)
        return float(shapely.get_x(c)), float(shapely.get_y(c))
    e, n, _ = _xy(t.waypoints[-1], site)
    return e, n


def _attack_route(
    t: _Attacker,
    site: Site,
    zones: dict[str, Zone],
    lateral: float = 0.0,
    aim_shift: tuple[float, float] = (0, 0),
) -> tuple[tuple[float, float], list[tuple[float, float, float]]]:
    le, ln, _ = _xy(t.launch, site)
    pts: list[tuple[float, float, float]] = []
    for w in t.waypoints:
        e, n, u = _xy(w, site)
        pts.append((e, n, t.altitude_agl_m if u is None else u))
    ae, an = _aim_of(t, site, zones)
    if t.aim is not None or t.target_zone is not None or not pts:
        pts.append((ae + aim_shift[0], an + aim_shift[1], t.altitude_agl_m))
    else:
        e, n, u = pts[-1]
        pts[-1] = (e + aim_shift[0], n + aim_shift[1], u)
    if lateral:
        # Formation: shift launch and route sideways, across the first leg's direction.
        psi = math.atan2(pts[0][0] - le, pts[0][1] - ln)
        ox, oy = lateral * math.cos(psi), -lateral * math.sin(psi)
        le, ln = le + ox, ln + oy
        pts = [(e + ox, n + oy, u) for e, n, u in pts[:-1]] + [pts[-1]]
    return (le, ln), pts


def _ground(terrain: Terrain, e: float, n: float) -> float:
    return float(terrain.height(np.array([e]), np.array([n]))[0])


def _operator(
    pos: list[float] | GeoPoint | None, fallback: tuple[float, float], site: Site, terrain: Terrain
) -> tuple[float, float, float]:
    if pos is None:
        e, n = fallback
        return e, n, _ground(terrain, e, n) + 1.5
    e, n, u = _xy(pos, site)
    return e, n, _ground(terrain, e, n) + 1.5 if u is None else u


def _expand(
    scenario: Scenario, site: Site, terrain: Terrain, zones: dict[str, Zone], seed: int
) -> list[_Spec]:
    specs: list[_Spec] = []
    swarm_no = 0
    flock_no = 0
    duration = scenario.duration_s
    for t in scenario.targets:
        rcs = t.rcs_m2 if t.rcs_m2 is not None else DEFAULT_RCS_M2[t.behaviour]
        rng = stream_seed(seed, "setup", t.name)
        if isinstance(t, FpvTarget | SwarmTarget | DecoyTarget):
            count = t.count if isinstance(t, SwarmTarget | DecoyTarget) else 1
            waves = t.waves if isinstance(t, SwarmTarget) else 1
            per_wave = math.ceil(count / waves)
            group = None
            if isinstance(t, SwarmTarget):
                group = swarm_no
                swarm_no += 1
            members: list[str] = []
            for j in range(count):
                wave, slot = divmod(j, per_wave)
                in_wave = min(per_wave, count - wave * per_wave)
                spacing = t.spacing_m if isinstance(t, SwarmTarget | DecoyTarget) else 0.0
                lateral = (slot - (in_wave - 1) / 2.0) * spacing
                spread = t.aim_spread_m if isinstance(t, SwarmTarget) else 0.0
                shift = (0.0, 0.0)
                if spread > 0:
                    a, r = rng.uniform(0, 2 * math.pi), spread * math.sqrt(rng.uniform())
                    shift = (r * math.sin(a), r * math.cos(a))
                launch, route = _attack_route(t, site, zones, lateral, shift)
                name = t.name if count == 1 else f"{t.name}-{j + 1:02d}"
                members.append(name)
                flags: list[str] = []
                if t.link == "fiber":
                    flags.append("rf_silent")
                if t.terminal_autonomy_s > 0:
                    flags.append("terminal_autonomy")
                if group is not None:
                    flags.append("swarm_id")
                decoy = isinstance(t, DecoyTarget)
                start = t.start_s + (wave * t.wave_interval_s if isinstance(t, SwarmTarget) else 0.0)
                specs.append(
                    _Spec(
                        name=name,
                        behaviour=t.behaviour,
                        cls=t.cls if isinstance(t, DecoyTarget) else "fpv",
                        role=t.role,
                        start=start,
                        rcs=rcs,
                        link=t.link,
                        flags=tuple(flags),
                        group=group,
                        relay_name=t.relay,
                        zone=t.target_zone,
                        operator=_operator(t.operator, _xy(t.launch, site)[:2], site, terrain),
                        route=route,
                        launch=launch,
                        end_mode=_ORBIT if decoy else _DIVE,
                        cruise=t.cruise_speed,
                        turn_rate=math.radians(t.max_turn_rate_dps),
                        bank=math.radians(t.max_bank_deg),
                        climb=t.climb_rate_mps,
                        accel=8.0 if decoy else 15.0,
                        dive_tan=math.tan(math.radians(t.dive_angle_deg)),
                        orbit_r=t.loiter_radius_m if isinstance(t, DecoyTarget) else 100.0,
                        autonomy_s=t.terminal_autonomy_s,
                        pop_up=t.pop_up_m,
                        pop_up_range=t.pop_up_range_m,
                    )
                )
            if t.operator_emits:
                specs.append(
                    _operator_spec(t.name, t.role, t.start_s, t.operator_link, specs[-1].operator, members)
                )
        elif isinstance(t, RelayTarget):
            le, ln, _ = _xy(t.launch, site)
            se, sn, _ = _xy(t.station, site)
            specs.append(
                _Spec(
                    name=t.name,
                    behaviour="relay",
                    cls="multirotor",
                    role=t.role,
                    start=t.start_s,
                    rcs=rcs,
                    link=t.link,
                    flags=("relay",),
                    operator=_operator(t.operator, (le, ln), site, terrain),
                    route=[(se, sn, t.altitude_agl_m)],
                    launch=(le, ln),
                    end_mode=_HOVER,
                    cruise=t.cruise_speed,
                    turn_rate=math.radians(90.0),
                    bank=math.radians(35.0),
                    climb=t.climb_rate_mps,
                    accel=3.0,
                )
            )
            if t.operator_emits:
                specs.append(
                    _operator_spec(t.name, t.role, t.start_s, t.operator_link, specs[-1].operator, [t.name])
                )
        elif isinstance(t, CompliantTarget):
            route = _lawnmower(t, site)
            launch = route[0][:2] if t.launch is None else _xy(t.launch, site)[:2]
            flags2 = ["remote_id"] + (["spoofed"] if t.spoofed_remote_id else [])
            serial = t.serial or f"1581F{zlib.crc32(t.name.encode()):08X}"
            specs.append(
                _Spec(
                    name=t.name,
                    behaviour="compliant",
                    cls="multirotor",
                    role="benign",
                    start=t.start_s,
                    rcs=rcs,
                    link=t.link,
                    flags=tuple(flags2),
                    serial=serial,
                    operator=_operator(t.operator, launch, site, terrain),
                    spoof=(t.spoof_offset_m[0], t.spoof_offset_m[1]) if t.spoofed_remote_id else (0.0, 0.0),
                    route=route,
                    launch=launch,
                    end_mode=_LOOP,
                    cruise=t.cruise_speed,
                    turn_rate=math.radians(60.0),
                    bank=math.radians(30.0),
                    climb=3.0,
                    accel=3.0,
                )
            )
        elif isinstance(t, BirdTarget):
            he, hn, _ = _xy(t.center, site)
            for j in range(t.count):
                specs.append(
                    _Spec(
                        name=t.name if t.count == 1 else f"{t.name}-{j + 1:02d}",
                        behaviour="bird",
                        cls="bird",
                        role="benign",
                        start=t.start_s,
                        rcs=rcs,
                        flock=flock_no,
                        home=(he, hn),
                        extra={
                            "radius_m": t.radius_m,
                            "speed_min": t.speed_min,
                            "speed_max": t.speed_max,
                            "altitude_agl_m": t.altitude_agl_m,
                            "flock_spread_m": t.flock_spread_m,
                        },
                    )
                )
            flock_no += 1
        elif isinstance(t, AircraftTarget):
            ce, cn, _ = _xy(t.closest_point, site)
            psi = math.radians(t.heading_deg)
            vel = (t.speed_mps * math.sin(psi), t.speed_mps * math.cos(psi), 0.0)
            t_pass = t.pass_time_s if t.pass_time_s is not None else duration / 2.0
            # Reference the pass to the aircraft's start time (the line is the same).
            t0 = t.start_s
            p0 = (ce + vel[0] * (t0 - t_pass), cn + vel[1] * (t0 - t_pass), t.altitude_m)
            specs.append(
                _Spec(
                    name=t.name,
                    behaviour="aircraft",
                    cls="aircraft",
                    role="benign",
                    start=t0,
                    rcs=rcs,
                    icao=t.icao.upper(),
                    callsign=t.callsign,
                    adsb=t.adsb,
                    ac_pos=p0,
                    ac_vel=vel,
                )
            )
    return specs


def _operator_spec(
    name: str, role: str, start: float, link: str, at: tuple[float, float, float] | None, drones: list[str]
) -> _Spec:
    """The ground controller of ``drones``, standing at ``at`` (ENU)."""
    return _Spec(
        name=f"{name}-operator",
        behaviour="operator",
        cls="unknown",
        role=role,
        start=start,
        rcs=DEFAULT_RCS_M2["operator"],
        link=link,
        flags=("operator",),
        operator=at,
        controls=drones,
    )


def _lawnmower(t: CompliantTarget, site: Site) -> list[tuple[float, float, float]]:
    ce, cn, _ = _xy(t.area_center, site)
    psi = math.radians(t.heading_deg)
    along = (math.sin(psi), math.cos(psi))
    across = (math.cos(psi), -math.sin(psi))
    n_lines = max(1, int(t.area_width_m // t.line_spacing_m) + 1)
    pts: list[tuple[float, float, float]] = []
    for j in range(n_lines):
        x = -t.area_width_m / 2.0 + j * t.line_spacing_m
        ys = (-t.area_height_m / 2.0, t.area_height_m / 2.0)
        if j % 2:
            ys = ys[::-1]
        for y in ys:
            pts.append(
                (ce + x * across[0] + y * along[0], cn + x * across[1] + y * along[1], t.altitude_agl_m)
            )
    return pts


def _table(specs: list[_Spec]) -> TargetTable:
    names = {s.name: k for k, s in enumerate(specs)}
    infos = []
    for k, s in enumerate(specs):
        infos.append(
            TargetInfo(
                id=k,
                name=s.name,
                behaviour=s.behaviour,
                cls=s.cls,
                role=s.role,
                link=s.link,
                flags=s.flags,
                group=s.group,
                relay=None if s.relay_name is None else names.get(s.relay_name),
                zone=s.zone,
                serial=s.serial,
                icao=s.icao,
            )
        )
    n = len(specs)
    op = np.full((n, 3), np.nan)
    for k, s in enumerate(specs):
        if s.operator is not None:
            op[k] = s.operator
    return TargetTable(
        infos=tuple(infos),
        cls_idx=np.array([class_index(s.cls) for s in specs], dtype=np.int64).reshape(n),
        rcs_m2=np.array([s.rcs for s in specs], dtype=np.float64).reshape(n),
        size_m=np.array([VISUAL_SIZE_M[s.behaviour] for s in specs], dtype=np.float64).reshape(n),
        source_db=np.array([ACOUSTIC_SOURCE_DB[s.behaviour] for s in specs], dtype=np.float64).reshape(n),
        link=np.array(
            [-1 if s.link is None else LINK_CODES.index(s.link) for s in specs], dtype=np.int64
        ).reshape(n),
        remote_id=np.array(["remote_id" in s.flags for s in specs], dtype=bool).reshape(n),
        serial=np.array([s.serial or "" for s in specs], dtype=str).reshape(n),
        operator=op,
        spoof_offset=np.array([[s.spoof[0], s.spoof[1], 0.0] for s in specs], dtype=np.float64).reshape(n, 3),
        adsb=np.array([s.adsb for s in specs], dtype=bool).reshape(n),
        icao=np.array([s.icao or "" for s in specs], dtype=str).reshape(n),
        callsign=np.array([s.callsign or "" for s in specs], dtype=str).reshape(n),
        relay_of=np.array(
            [-1 if s.relay_name is None else names.get(s.relay_name, -1) for s in specs], dtype=np.int64
        ).reshape(n),
        extra=tuple(
            {
                "launch": None if s.launch is None else list(s.launch),
                "operator": None if s.operator is None else list(s.operator),
                "start_s": s.start,
                "rcs_m2": s.rcs,
            }
            for s in specs
        ),
    )
