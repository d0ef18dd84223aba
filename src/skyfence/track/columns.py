"""The tracker's state: one preallocated array per column, rows ``[0, n)`` live.

Every per-track quantity is a column (struct of arrays). The arrays have spare rows
beyond ``n`` that already hold a new track's starting values, so starting tracks writes
only what differs (state, identity, times) and deleting tracks compacts the live rows in
place with one compiled pass over every column. Before this store, starting and deleting
tracks concatenated or indexed all eighteen columns every scan, which was most of a
small scan's cost.

Hard identities (Remote ID serials, ADS-B ICAO addresses) are stored as integer codes
into :attr:`TrackColumns.names`, so every column is numeric and compiled code can move
whole rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from skyfence._jit import kernel
from skyfence.model.classes import N_CLASSES

__all__ = ["COLUMNS", "TrackColumns", "manage_rows"]

#: Column names, in the order the compiled passes take them.
COLUMNS = (
    "id",
    "xm",
    "Pm",
    "mu",
    "status",
    "born",
    "last",
    "seen",
    "hist",
    "nopp",
    "misses",
    "ident",
    "cls_lik",
    "mask",
    "hobs",
    "rid",
    "op",
    "spoof",
)

_F = NDArray[np.float64]
_I = NDArray[np.int64]
_B = NDArray[np.bool_]
_U = NDArray[np.uint64]
#: The buffers of :data:`COLUMNS`, typed, in that order.
ColumnArrays = tuple[_I, _F, _F, _F, NDArray[np.int8], _F, _F, _F, _U, _I, _I, _I, _F, _U, _B, _F, _F, _B]


class TrackColumns:
    """Capacity-managed columns. ``view()`` gives the live rows as views (writes go to
    the store); ``store(name, value)`` replaces a column's live rows."""

    def __init__(self, modes: int, sensors: int, mu0: NDArray[np.float64], status0: int) -> None:
        self.modes = modes
        self.sensors = sensors
        self.mu0 = np.asarray(mu0, dtype=np.float64)
        self.status0 = np.int8(status0)
        self.n = 0
        self.names: list[str] = [""]
        self.codes: dict[str, int] = {"": 0}
        self._names_arr: NDArray[np.str_] = np.array([""], dtype="<U32")
        self.buf = self._blank(64)

    # -- storage ----------------------------------------------------------------------

    def _blank(self, cap: int) -> dict[str, NDArray[Any]]:
        M, S = self.modes, self.sensors
        mu = np.empty((cap, M))
        mu[:] = self.mu0
        return {
            "id": np.zeros(cap, np.int64),
            "xm": np.zeros((cap, M, 6)),
            "Pm": np.zeros((cap, M, 6, 6)),
            "mu": mu,
            "status": np.full(cap, self.status0, np.int8),
            "born": np.zeros(cap),
            "last": np.zeros(cap),
            "seen": np.full((cap, S), -np.inf),
            "hist": np.ones(cap, np.uint64),
            "nopp": np.ones(cap, np.int64),
            "misses": np.zeros(cap, np.int64),
            "ident": np.zeros(cap, np.int64),
            "cls_lik": np.ones((cap, N_CLASSES)),
            "mask": np.ones(cap, np.uint64),
            "hobs": np.zeros(cap, dtype=bool),
            "rid": np.full((cap, 3), np.nan),
            "op": np.full((cap, 3), np.nan),
            "spoof": np.zeros(cap, dtype=bool),
        }

    @property
    def capacity(self) -> int:
        return int(self.buf["id"].shape[0])

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows (doubling, so appends cost O(1) amortised)."""
        need = self.n + extra
        if need <= self.capacity:
            return
        new = self._blank(max(need, 2 * self.capacity))
        n = self.n
        for key, v in self.buf.items():
            new[key][:n] = v[:n]
        self.buf = new

    def add_sensor(self) -> None:
        """One more ``seen`` column (a sensor registered after tracks exist)."""
        self.sensors += 1
        seen = self.buf["seen"]
        self.buf["seen"] = np.concatenate([seen, np.full((seen.shape[0], 1), -np.inf)], axis=1)

    def arrays(self) -> ColumnArrays:
        """Every column's whole buffer, in :data:`COLUMNS` order (as the kernels take them)."""
        b = self.buf
        return (
            b["id"], b["xm"], b["Pm"], b["mu"], b["status"], b["born"], b["last"], b["seen"],
            b["hist"], b["nopp"], b["misses"], b["ident"], b["cls_lik"], b["mask"], b["hobs"],
            b["rid"], b["op"], b["spoof"],
        )  # fmt: skip

    def view(self) -> dict[str, NDArray[Any]]:
        n = self.n
        return {key: v[:n] for key, v in self.buf.items()}

    def store(self, name: str, value: NDArray[Any]) -> None:
        dst = self.buf[name][: self.n]
        if value is not dst:
            dst[...] = value

    # -- identities ---------------------------------------------------------------------

    def code(self, identity: str) -> int:
        """Integer code of an identity string (0 for none), assigning a new one."""
        c = self.codes.get(identity)
        if c is None:
            c = self.codes[identity] = len(self.names)
            self.names.append(identity)
            self._names_arr = np.array(self.names, dtype="<U32")
        return c

    def identity_strings(self, codes: NDArray[np.int64]) -> NDArray[np.str_]:
        out: NDArray[np.str_] = self._names_arr[codes]
        return out

    # -- deletion -----------------------------------------------------------------------

    def compact(self, keep: NDArray[np.bool_]) -> int:
        """Keep the live rows where ``keep``, in order; returns how many were dropped."""
        m = _compact(keep, self.n, *self.arrays(), self.mu0, self.status0)
        dropped = self.n - m
        self.n = m
        return dropped


@kernel
def _compact(
    keep: NDArray[np.bool_],
    n: int,
    id_: NDArray[np.int64],
    xm: NDArray[np.float64],
    Pm: NDArray[np.float64],
    mu: NDArray[np.float64],
    status: NDArray[np.int8],
    born: NDArray[np.float64],
    last: NDArray[np.float64],
    seen: NDArray[np.float64],
    hist: NDArray[np.uint64],
    nopp: NDArray[np.int64],
    misses: NDArray[np.int64],
    ident: NDArray[np.int64],
    cls_lik: NDArray[np.float64],
    mask: NDArray[np.uint64],
    hobs: NDArray[np.bool_],
    rid: NDArray[np.float64],
    op: NDArray[np.float64],
    spoof: NDArray[np.bool_],
    mu0: NDArray[np.float64],
    status0: np.int8,
) -> int:
    m = 0
    for i in range(n):
        if not keep[i]:
            continue
        if m != i:
            id_[m] = id_[i]
            xm[m] = xm[i]
            Pm[m] = Pm[i]
            mu[m] = mu[i]
            status[m] = status[i]
            born[m] = born[i]
            last[m] = last[i]
            seen[m] = seen[i]
            hist[m] = hist[i]
            nopp[m] = nopp[i]
            misses[m] = misses[i]
            ident[m] = ident[i]
            cls_lik[m] = cls_lik[i]
            mask[m] = mask[i]
            hobs[m] = hobs[i]
            rid[m] = rid[i]
            op[m] = op[i]
            spoof[m] = spoof[i]
        m += 1
    # Vacated rows go back to a new track's starting values.
    for i in range(m, n):
        id_[i] = 0
        xm[i] = 0.0
        Pm[i] = 0.0
        mu[i] = mu0
        status[i] = status0
        born[i] = 0.0
        last[i] = 0.0
        seen[i] = -np.inf
        hist[i] = np.uint64(1)
        nopp[i] = 1
        misses[i] = 0
        ident[i] = 0
        cls_lik[i] = 1.0
        mask[i] = np.uint64(1)
        hobs[i] = False
        rid[i] = np.nan
        op[i] = np.nan
        spoof[i] = False
    return m


@kernel
def manage_rows(
    n: int,
    t: float,
    status: NDArray[np.int8],
    last: NDArray[np.float64],
    hist: NDArray[np.uint64],
    nopp: NDArray[np.int64],
    misses: NDArray[np.int64],
    xm: NDArray[np.float64],
    Pm: NDArray[np.float64],
    ident: NDArray[np.int64],
    confirm_m: int,
    confirm_n: int,
    delete_misses: int,
    min_coast_s: float,
    max_coast_s: float,
    max_var_h: float,
    floor_m: float,
    ceiling_m: float,
    keep: NDArray[np.bool_],
) -> int:
    """M-of-N confirmation, coasting and deletion over rows ``[0, n)``: sets ``status``
    and ``keep``; returns how many rows are to be dropped."""
    window = (np.uint64(1) << np.uint64(confirm_n)) - np.uint64(1)
    n_modes = xm.shape[1]
    dropped = 0
    for i in range(n):
        v = hist[i] & window
        hits = 0
        while v:
            v &= v - np.uint64(1)
            hits += 1
        age = t - last[i]
        pending = status[i] == 0 and hits < confirm_m
        drop = False
        if pending:
            seen_n = min(nopp[i], confirm_n)
            if seen_n - hits > confirm_n - confirm_m or age > max_coast_s / 2.0:
                drop = True
        elif misses[i] >= delete_misses and age >= min_coast_s:
            drop = True
        if age > max_coast_s:
            drop = True
        var_h = -np.inf
        height = -np.inf
        var_u = -np.inf
        for k in range(n_modes):
            var_h = max(var_h, Pm[i, k, 0, 0] + Pm[i, k, 1, 1])
            height = max(height, xm[i, k, 2])
            var_u = max(var_u, Pm[i, k, 2, 2])
        if var_h > max_var_h:
            drop = True
        if ident[i] == 0:
            sd3 = 3.0 * np.sqrt(var_u)
            if height - sd3 > ceiling_m or height + sd3 < floor_m:
                drop = True
        if pending:
            status[i] = 0
        elif misses[i] > 0:
            status[i] = 2
        else:
            status[i] = 1
        keep[i] = not drop
        if drop:
            dropped += 1
    return dropped
