"""Remote ID in threat assessment: the allow-list of registered serials/permits, and the
check that a broadcast position agrees with the fused radar/EO track (else: spoofed).

The tracker may set ``Tracks.spoofed`` itself; this module adds its own check from the
track attributes ``rid_pos`` (``[N, 3]`` or ``[N, 2]`` ENU metres of the latest Remote
ID position, NaN when none) or ``rid_lat``/``rid_lon`` (degrees, with the site).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from skyfence.errors import FormatError
from skyfence.geo import Site
from skyfence.model.tracks import Tracks

__all__ = ["AllowList", "AllowListEntry", "remote_id_offset", "spoofed_mask"]


@dataclass(frozen=True, slots=True)
class AllowListEntry:
    serial: str
    permit: str = ""
    valid_until: float = math.inf


@dataclass(frozen=True, slots=True)
class AllowList:
    """Registered drones by Remote ID serial (or session id / ICAO address).

    File format: one entry per line, ``SERIAL[,PERMIT[,VALID_UNTIL]]`` with
    ``VALID_UNTIL`` an ISO 8601 UTC time; ``#`` starts a comment; blank lines are ignored.
    """

    entries: dict[str, AllowListEntry]

    @classmethod
    def empty(cls) -> AllowList:
        return cls({})

    @classmethod
    def of(cls, serials: Iterable[str]) -> AllowList:
        """An allow-list of these serials (no permit, no expiry), e.g. an exercise's
        registered survey drones."""
        return cls({s: AllowListEntry(s) for s in serials if s})

    @classmethod
    def load(cls, path: str | Path) -> AllowList:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise FormatError(f"cannot read allow-list: {exc.strerror or exc}", path=p) from None
        entries: dict[str, AllowListEntry] = {}
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = [x.strip() for x in line.split(",")]
            if len(parts) > 3 or not parts[0]:
                raise FormatError("expected SERIAL[,PERMIT[,VALID_UNTIL]]", path=p, line=lineno)
            until = math.inf
            if len(parts) == 3 and parts[2]:
                try:
                    when = datetime.fromisoformat(parts[2].replace("Z", "+00:00"))
                except ValueError:
                    raise FormatError(
                        f"VALID_UNTIL {parts[2]!r} is not an ISO 8601 time",
                        path=p,
                        line=lineno,
                        field="valid_until",
                    ) from None
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                until = when.timestamp()
            entries[parts[0]] = AllowListEntry(parts[0], parts[1] if len(parts) > 1 else "", until)
        return cls(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def allowed(self, identity: NDArray[np.str_], t: float) -> NDArray[np.bool_]:
        """Which identities are registered and still valid at ``t``."""
        if not self.entries or identity.size == 0:
            return np.zeros(identity.shape, dtype=bool)
        keys = np.array(list(self.entries), dtype=str)
        valid = np.array([e.valid_until >= t for e in self.entries.values()], dtype=bool)
        ok: NDArray[np.bool_] = np.isin(identity, keys[valid]) & (identity != "")
        return ok

    def permit(self, serial: str) -> str:
        entry = self.entries.get(serial)
        return "" if entry is None else entry.permit


def remote_id_offset(tracks: Tracks, site: Site | None = None) -> NDArray[np.float64]:
    """Horizontal distance (m) between each track and its Remote ID position; NaN where
    the track carries no Remote ID position."""
    n = len(tracks)
    rid: NDArray[np.float64] | None = None
    if n == 0:
        return np.zeros(0)
    if "rid_pos" in tracks.attrs:
        rid = np.asarray(tracks.attrs["rid_pos"], dtype=np.float64).reshape(n, -1)[:, :2]
    elif "rid_lat" in tracks.attrs and "rid_lon" in tracks.attrs and site is not None:
        lat = np.asarray(tracks.attrs["rid_lat"], dtype=np.float64)
        lon = np.asarray(tracks.attrs["rid_lon"], dtype=np.float64)
        rid = site.to_enu(lat, lon, np.full(n, site.alt))[:, :2]
    if rid is None:
        return np.full(n, np.nan)
    out: NDArray[np.float64] = np.hypot(rid[:, 0] - tracks.x[:, 0], rid[:, 1] - tracks.x[:, 1])
    return out


def spoofed_mask(
    tracks: Tracks, distance_m: float, n_sigma: float, site: Site | None = None
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """``(spoofed[N], offset_m[N])``: the tracker's flag, or a Remote ID position farther
    from the fused track than ``max(distance_m, n_sigma · σ_horizontal)``."""
    offset = remote_id_offset(tracks, site)
    sigma = np.sqrt(np.maximum(tracks.P[:, 0, 0] + tracks.P[:, 1, 1], 0.0)) if len(tracks) else np.zeros(0)
    limit = np.maximum(distance_m, n_sigma * sigma)
    with np.errstate(invalid="ignore"):
        far = np.isfinite(offset) & (offset > limit)
    return tracks.spoofed | far, offset
