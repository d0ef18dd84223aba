"""Helpers for the simulator tests: synthetic scenes for checking one sensor model at a time."""

from __future__ import annotations

import numpy as np

from skyfence.model.classes import class_index
from skyfence.model.truth import TargetInfo
from skyfence.simulate.world import LINK_CODES, Scene, TargetTable

__all__ = ["make_scene", "make_table", "ring"]


def make_table(
    cls: list[str],
    *,
    rcs: float | list[float] = 0.02,
    size: float = 0.25,
    source_db: float = 86.0,
    link: str | None = None,
    remote_id: bool = False,
    adsb: bool = False,
) -> TargetTable:
    n = len(cls)
    code = -1 if link is None else LINK_CODES.index(link)
    return TargetTable(
        infos=tuple(TargetInfo(i, f"t{i}", "fpv", c, "threat") for i, c in enumerate(cls)),
        cls_idx=np.array([class_index(c) for c in cls], dtype=np.int64),
        rcs_m2=np.broadcast_to(np.asarray(rcs, dtype=np.float64), (n,)).copy(),
        size_m=np.full(n, size),
        source_db=np.full(n, source_db),
        link=np.full(n, code, dtype=np.int64),
        remote_id=np.full(n, remote_id),
        serial=np.array([f"SN{i:04d}" if remote_id else "" for i in range(n)], dtype=str),
        operator=np.zeros((n, 3)),
        spoof_offset=np.zeros((n, 3)),
        adsb=np.full(n, adsb),
        icao=np.array(["ABC123" if adsb else "" for _ in range(n)], dtype=str),
        callsign=np.array(["" for _ in range(n)], dtype=str),
        relay_of=np.full(n, -1, dtype=np.int64),
        extra=tuple({} for _ in range(n)),
    )


def ring(n: int, r: float, height: float, origin: np.ndarray | None = None) -> np.ndarray:
    """``n`` points on a horizontal circle of radius ``r`` round ``origin`` at ``height``."""
    o = np.zeros(3) if origin is None else origin
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([o[0] + r * np.sin(a), o[1] + r * np.cos(a), np.full(n, height)])


def make_scene(
    pos: np.ndarray, table: TargetTable, vel: np.ndarray | None = None, emitting: bool = True
) -> Scene:
    n = pos.shape[0]
    return Scene(
        t=1000.0,
        ids=np.arange(n, dtype=np.int64),
        pos=pos,
        vel=np.zeros((n, 3)) if vel is None else vel,
        emitting=np.full(n, emitting),
        table=table,
    )
