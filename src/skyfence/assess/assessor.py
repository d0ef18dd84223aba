"""`Assessor`: tracks in, alert transitions out.

One alert per (track, zone) and one group alert per swarm, each walking
``new → escalated → acknowledged → resolved`` with hysteresis: a level rises as soon as
the score reaches its threshold, falls only after the score has stayed ``hysteresis``
below it for ``down_dwell_s``; an alert opens after ``open_dwell_s`` at the opening level
and resolves after ``close_dwell_s`` below the exit threshold, or at once when its track
dies. Every transition (state or level) is returned as an :class:`Alert` event.

Scoring is vectorised over all tracks × zones (``threat.score_tracks``); only the few
pairs near or above the opening threshold reach the per-alert bookkeeping below.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence.assess.config import AssessConfig
from skyfence.assess.geometry import ZoneSet, altitude_known
from skyfence.assess.launch import (
    FlatGround,
    Ground,
    LaunchArea,
    launch_areas,
    link_bearings,
    operator_positions,
)
from skyfence.assess.remoteid import AllowList, spoofed_mask
from skyfence.assess.threat import CLASS_LABELS, ThreatPicture, score_tracks
from skyfence.errors import SkyfenceError
from skyfence.geo import Site
from skyfence.model.alert import LEVELS, Alert, AlertState, ThreatLevel
from skyfence.model.tracks import Tracks, TrackStatus
from skyfence.model.zone import Zone

__all__ = ["AlertKey", "Assessor", "UnknownAlertError"]

#: ``("T", track_id, zone_id)`` for a track alert, ``("G", group_id, "")`` for a swarm.
AlertKey = tuple[str, int, str]

_ID_RE = re.compile(r"^A(\d+)$")


class UnknownAlertError(SkyfenceError):
    """An operator action names an alert that is not active."""


@dataclass(slots=True)
class _Open:
    key: AlertKey
    alert: Alert
    level: int
    down_since: float | None = None
    quiet_since: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Early:
    t: float
    x: NDArray[np.float64]
    P: NDArray[np.float64]


class Assessor:
    """Threat assessment and the alert lifecycle for one site.

    ``ground`` is the terrain role (``height(e, n)``, e.g. ``skyfence.model.terrain.Terrain``);
    flat when omitted. ``allow_list`` holds registered Remote ID serials.
    """

    def __init__(
        self,
        zones: Sequence[Zone],
        config: AssessConfig | None = None,
        site: Site | None = None,
        *,
        allow_list: AllowList | None = None,
        ground: Ground | None = None,
    ) -> None:
        self.config = config or AssessConfig()
        self.site = site
        self.zones = ZoneSet.from_zones(zones)
        self.allow_list = allow_list or AllowList.empty()
        self.ground: Ground = ground or FlatGround()
        self._open: dict[AlertKey, _Open] = {}
        self._by_id: dict[str, AlertKey] = {}
        self._pending: dict[AlertKey, float] = {}
        self._early: dict[int, _Early] = {}
        self._launch: dict[int, LaunchArea] = {}
        self._resolved_details: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self._open_idx = LEVELS.index(ThreatLevel(self.config.open_level).value)
        self.picture: ThreatPicture | None = None

    # ------------------------------------------------------------------ queries
    def active(self) -> list[Alert]:
        """Alerts not yet resolved, oldest first, with their latest score and reason."""
        return [o.alert for o in self._open.values()]

    def details(self, alert_id: str) -> dict[str, Any]:
        """JSON-ready context of an alert: position, class, zone, launch/operator areas."""
        key = self._by_id.get(alert_id)
        if key is not None and key in self._open:
            det = self._open[key].details
        else:
            det = self._resolved_details.get(alert_id, {})
        return {k: v for k, v in det.items() if not k.startswith("_")}

    def launch_areas(self) -> list[LaunchArea]:
        """Launch, operator and ground-link areas of the tracks behind active alerts."""
        out: list[LaunchArea] = []
        for o in self._open.values():
            for a in o.details.get("_areas", ()):
                out.append(a)
        return out

    # ---------------------------------------------------------------- operator
    def acknowledge(self, alert_id: str, operator: str, t: float) -> Alert:
        """An operator has seen the alert; it stays active until resolved. Returns the event."""
        key = self._by_id.get(alert_id)
        if key is None or key not in self._open:
            raise UnknownAlertError(f"no active alert {alert_id!r} to acknowledge")
        o = self._open[key]
        o.alert = o.alert.with_state(AlertState.ACKNOWLEDGED, t)
        o.details["acknowledged_by"] = operator
        return o.alert

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Continue from a replayed event log: the latest event of each alert id, in order."""
        latest: dict[str, Alert] = {}
        for a in alerts:
            latest[a.id] = a
            m = _ID_RE.match(a.id)
            if m:
                self._seq = max(self._seq, int(m.group(1)))
        for a in latest.values():
            if a.state == AlertState.RESOLVED:
                continue
            key: AlertKey = ("G", a.group_id, "") if a.group_id >= 0 else ("T", a.track_id, a.zone_id)
            self._open[key] = _Open(key, a, LEVELS.index(a.level.value))
            self._by_id[a.id] = key

    # ------------------------------------------------------------------ update
    def update(self, tracks: Tracks) -> list[Alert]:
        """Assess a snapshot; returns the alert transitions at ``tracks.t`` in a stable order."""
        cfg = self.config
        t = float(tracks.t)
        self._resolved_details = {}
        live = tracks.status != TrackStatus.DELETED
        if not cfg.assess_tentative:
            live &= tracks.status != TrackStatus.TENTATIVE
        # The earliest state of a track, tentative or not, is the closest to its launch.
        self._remember_early(tracks)
        tr = tracks.take(np.flatnonzero(live)) if not live.all() else tracks
        spoofed, offset = spoofed_mask(tr, cfg.spoof_distance_m, cfg.spoof_sigma, self.site)
        compliant = self.allow_list.allowed(tr.identity, t)
        pic = score_tracks(tr, self.zones, cfg, spoofed, compliant, offset)
        self.picture = pic
        events: list[Alert] = []
        enter = cfg.level_enter
        exit_score = enter[self._open_idx - 1] - cfg.hysteresis if self._open_idx > 0 else 0.0
        watch = exit_score if self._open_idx > 0 else -1.0
        row_of = {int(i): k for k, i in enumerate(tr.id.tolist())}
        in_group = tr.group_id >= 0
        solo = ~in_group if not cfg.swarm_member_alerts else np.ones(len(tr), bool)

        seen: set[AlertKey] = set()
        # Track × zone alerts: pairs at or near the opening threshold, plus the open ones.
        cand = np.argwhere((pic.score >= watch) & solo[:, None]) if len(tr) else np.zeros((0, 2), int)
        pairs = {(int(i), int(z)) for i, z in cand}
        for key in self._open:
            if (
                key[0] == "T"
                and key[1] in row_of
                and (cfg.swarm_member_alerts or not in_group[row_of[key[1]]])
            ):
                z = self.zones.ids.index(key[2]) if key[2] in self.zones.ids else -1
                if z >= 0:
                    pairs.add((row_of[key[1]], z))
        for i, z in sorted(pairs, key=lambda p: (int(tr.id[p[0]]), p[1])):
            key = ("T", int(tr.id[i]), self.zones.ids[z])
            seen.add(key)
            self._step(key, pic, i, z, -1, t, events)

        # One group alert per swarm: its most threatening member and zone speak for it.
        if in_group.any():
            groups = np.unique(tr.group_id[in_group])
            for g in groups.tolist():
                rows = np.flatnonzero(tr.group_id == g)
                sub = pic.score[rows]
                flat = int(np.argmax(sub))
                i, z = int(rows[flat // sub.shape[1]]), flat % sub.shape[1]
                key = ("G", int(g), "")
                seen.add(key)
                self._step(key, pic, i, z, int(g), t, events, members=rows)

        # Alerts not seen this time: their track died, left the picture or joined a swarm.
        for key in [k for k in self._open if k not in seen]:
            o = self._open[key]
            if key[0] == "T" and key[1] in row_of:
                why = "merged into swarm alert" if in_group[row_of[key[1]]] else "zone no longer assessed"
            elif key[0] == "T":
                why = "track lost"
            else:
                why = "swarm lost"
            self._resolve(key, t, f"{o.alert.reason}; resolved: {why}", events)
        for key in [k for k in self._pending if k not in seen]:
            del self._pending[key]
        # Forget the early history of tracks that are gone (tentative ones are kept: their
        # first state is the earliest) and have no open alert.
        alive = set(tracks.id[tracks.status != TrackStatus.DELETED].tolist())
        keep = alive | {k[1] for k in self._open if k[0] == "T"}
        for tid in [k for k in self._early if k not in keep]:
            del self._early[tid]
            self._launch.pop(tid, None)
        return events

    # --------------------------------------------------------------- internals
    def _remember_early(self, tr: Tracks) -> None:
        early = self._early
        dead = int(TrackStatus.DELETED)
        for k, (tid, st) in enumerate(zip(tr.id.tolist(), tr.status.tolist(), strict=True)):
            if tid not in early and st != dead:
                early[tid] = _Early(tr.t, tr.x[k].copy(), tr.P[k].copy())

    def _launch_of(self, tid: int) -> LaunchArea | None:
        if tid in self._launch:
            return self._launch[tid]
        early = self._early.get(tid)
        if early is None:
            return None
        cfg = self.config
        areas = launch_areas(
            np.array([tid]),
            np.array([early.t]),
            early.x[None, :],
            early.P[None, :, :],
            altitude_known(early.P[None, :, :]),
            self.ground,
            cfg.climb_rate_mps,
            cfg.assumed_agl_m,
            cfg.max_back_s,
            cfg.unseen_median_s,
            cfg.unseen_sigma,
        )
        self._launch[tid] = areas[0]
        return areas[0]

    def _context(
        self, pic: ThreatPicture, i: int, z: int, members: NDArray[np.intp] | None
    ) -> tuple[str, dict[str, Any]]:
        tr = pic.tracks
        tid = int(tr.id[i])
        one = tr.take(np.array([i]))
        areas: list[LaunchArea] = []
        launch = self._launch_of(tid)
        # An ellipse tens of kilometres long sends nobody anywhere: leave it out.
        if launch is not None and launch.semi_major_m <= self.config.max_launch_axis_m:
            areas.append(launch)
        areas.extend(operator_positions(one, self.site, self.ground))
        areas.extend(link_bearings(one))
        extra: list[str] = []
        if members is not None:
            extra.insert(0, "")
        for a in areas:
            extra.append(a.describe() + (" of site" if a.kind != "link_bearing" else ""))
        reason = pic.reason(i, z, tuple(e for e in extra if e))
        if members is not None:
            toward = int(np.sum(pic.geometry.closing_speed[members, z] > 0.5))
            reason = f"swarm of {len(members)} ({toward} closing), lead " + reason
        c = int(np.argmax(tr.cls_prob[i]))
        det: dict[str, Any] = {
            "track_id": tid,
            "zone": self.zones.zones[z].id,
            "zone_name": self.zones.zones[z].name,
            "position_enu": [round(float(v), 2) for v in tr.x[i, :3]],
            "velocity_enu": [round(float(v), 2) for v in tr.x[i, 3:]],
            "class": CLASS_LABELS[c],
            "class_prob": round(float(tr.cls_prob[i, c]), 3),
            "rf_silent": round(float(tr.rf_silent[i]), 3),
            "identity": str(tr.identity[i]),
            "spoofed": bool(pic.spoofed[i]),
            "compliant": bool(pic.compliant[i]),
            "hostility": round(float(pic.hostility[i]), 3),
            "proximity": round(float(pic.proximity[i, z]), 3),
            "distance_m": round(float(pic.geometry.distance_m[i, z]), 1),
            "cpa_m": round(float(pic.geometry.cpa_m[i, z]), 1),
            "areas": [a.as_dict(self.site) for a in areas],
            "_areas": areas,
        }
        if self.site is not None:
            lat, lon, alt = (float(v) for v in self.site.to_wgs84(tr.x[i, :3]))
            det.update(lat=round(lat, 7), lon=round(lon, 7), alt=round(alt, 2))
        if members is not None:
            det["members"] = [int(v) for v in tr.id[members]]
        return reason, det

    def _step(
        self,
        key: AlertKey,
        pic: ThreatPicture,
        i: int,
        z: int,
        group: int,
        t: float,
        events: list[Alert],
        members: NDArray[np.intp] | None = None,
    ) -> None:
        cfg = self.config
        score = float(pic.score[i, z])
        up = bisect.bisect_right(cfg.level_enter, score)
        down = bisect.bisect_right([e - cfg.hysteresis for e in cfg.level_enter], score)
        ttz = float(pic.geometry.time_to_zone[i, z])
        p_enter = float(pic.geometry.p_enter[i, z])
        tid = int(pic.tracks.id[i])
        zone_id = self.zones.ids[z]
        rows = np.array([i]) if members is None else members
        age = max(
            t - self._early[int(r)].t if int(r) in self._early else 0.0 for r in pic.tracks.id[rows].tolist()
        )
        o = self._open.get(key)
        if o is None:
            if up < self._open_idx or (age < cfg.min_track_age_s and up < len(LEVELS) - 1):
                self._pending.pop(key, None)
                return
            since = self._pending.setdefault(key, t)
            if t - since < cfg.open_dwell_s:
                return
            del self._pending[key]
            self._seq += 1
            reason, det = self._context(pic, i, z, members)
            alert = Alert(
                id=f"A{self._seq:05d}",
                t=t,
                track_id=tid,
                zone_id=zone_id,
                level=ThreatLevel(LEVELS[up]),
                state=AlertState.NEW,
                time_to_zone=ttz,
                reason=reason,
                score=round(score, 4),
                p_enter=round(p_enter, 4),
                group_id=group,
            )
            self._open[key] = _Open(key, alert, up, details=det)
            self._by_id[alert.id] = key
            events.append(alert)
            return

        level = o.level
        state = o.alert.state
        changed = False
        if up > level:
            level, state, changed = up, AlertState.ESCALATED, True
            o.down_since = None
        elif down < level:
            if o.down_since is None:
                o.down_since = t
            if t - o.down_since >= cfg.down_dwell_s:
                level, changed = down, True
                o.down_since = None
        else:
            o.down_since = None
        exit_score = cfg.level_enter[self._open_idx - 1] - cfg.hysteresis if self._open_idx > 0 else -1.0
        if score < exit_score:
            if o.quiet_since is None:
                o.quiet_since = t
        else:
            o.quiet_since = None
        fresh = replace(
            o.alert,
            t=t,
            track_id=tid,
            zone_id=zone_id,
            time_to_zone=ttz,
            score=round(score, 4),
            p_enter=round(p_enter, 4),
        )
        if o.quiet_since is not None and t - o.quiet_since >= cfg.close_dwell_s:
            o.alert = fresh
            why = "left the zone" if pic.geometry.closing_speed[i, z] <= 0 else "threat fell"
            self._resolve(key, t, f"{o.alert.reason}; resolved: {why}", events)
            return
        if changed:
            reason, det = self._context(pic, i, z, members)
            det["acknowledged_by"] = o.details.get("acknowledged_by")
            o.details = det
            o.level = level
            o.alert = replace(fresh, level=ThreatLevel(LEVELS[level]), state=state, reason=reason)
            events.append(o.alert)
        else:
            o.alert = fresh

    def _resolve(self, key: AlertKey, t: float, reason: str, events: list[Alert]) -> None:
        o = self._open.pop(key)
        self._by_id.pop(o.alert.id, None)
        self._pending.pop(key, None)
        alert = replace(o.alert, state=AlertState.RESOLVED, t=t, reason=reason)
        self._resolved_details[alert.id] = o.details
        events.append(alert)
