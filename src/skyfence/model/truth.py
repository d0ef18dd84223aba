"""`Truth`: where every simulated target really was. Only the simulator and the
evaluator see it; live stages never import it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skyfence.model._arrays import frozen_array

__all__ = ["TargetInfo", "Truth"]


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """Static facts about one simulated target.

    ``link`` is the FPV control/video link (``analog_5g8``, ``elrs_900``, ``elrs_2g4``,
    ``digital_ofdm``, ``fiber``) or ``None``; ``group`` is the swarm id (``None`` outside
    a swarm); ``relay`` is the id of the relay target that carries this target's link;
    ``zone`` is the protected zone a threat is heading for.
    """

    id: int
    name: str
    behaviour: str
    cls: str
    role: str
    link: str | None = None
    flags: tuple[str, ...] = ()
    group: int | None = None
    relay: int | None = None
    zone: str | None = None
    serial: str | None = None
    icao: str | None = None


@dataclass(frozen=True, slots=True, init=False, eq=False)
class Truth:
    """Truth points: ``target[i]`` was at state ``x[i]`` (E,N,U,vE,vN,vU) at ``t[i]``;
    ``emitting[i]`` says whether it radiated RF at that moment."""

    t: NDArray[np.float64]
    target: NDArray[np.int64]
    x: NDArray[np.float64]
    emitting: NDArray[np.bool_]
    targets: tuple[TargetInfo, ...] = field(default=())

    def __init__(
        self,
        t: ArrayLike,
        target: ArrayLike,
        x: ArrayLike,
        emitting: ArrayLike | None = None,
        targets: Sequence[TargetInfo] = (),
    ) -> None:
        t_arr = frozen_array(t, np.float64, "t", (None,))
        n = t_arr.shape[0]
        x_in = np.asarray(x, dtype=np.float64)
        if n == 0:
            x_in = x_in.reshape(0, 6)
        object.__setattr__(self, "t", t_arr)
        object.__setattr__(self, "target", frozen_array(target, np.int64, "target", (n,)))
        object.__setattr__(self, "x", frozen_array(x_in, np.float64, "x", (n, 6)))
        object.__setattr__(
            self,
            "emitting",
            frozen_array(np.zeros(n, bool) if emitting is None else emitting, np.bool_, "emitting", (n,)),
        )
        object.__setattr__(self, "targets", tuple(targets))

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def info(self, target_id: int) -> TargetInfo:
        for info in self.targets:
            if info.id == target_id:
                return info
        raise KeyError(f"no target with id {target_id}")

    def at(self, t: float) -> Truth:
        """Truth points at time ``t`` exactly."""
        sel = self.t == t
        return Truth(self.t[sel], self.target[sel], self.x[sel], self.emitting[sel], self.targets)
