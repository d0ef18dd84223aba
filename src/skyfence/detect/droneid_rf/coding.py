"""Channel coding of the DroneID burst: LTE rate (de)matching, turbo code and CRC-24A.

TS 36.212 5.1.3 / 5.1.4 with one code block of K = 1408 bits (payload plus CRC-24A), rate 1/3
mother code, rate matched to E = 7200 bits at redundancy version 0. The decoder is an iterative
max-log-MAP (BCJR) turbo decoder; the trellis has 8 states, so each time step is a handful of
operations on length-8 arrays and the forward/backward loops run over time only.

The encoder and rate matcher exist so tests can produce codewords with known content; nothing in
skyfence transmits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BLOCK_BITS",
    "CODED_BITS",
    "TurboResult",
    "crc24a",
    "rate_dematch",
    "rate_match",
    "turbo_decode",
    "turbo_encode",
]

BLOCK_BITS: Final = 1408  # K: transport block with CRC-24A
CODED_BITS: Final = 7200  # E: six OFDM symbols of 600 QPSK subcarriers
_F1: Final = 43  # QPP interleaver coefficients for K = 1408 (TS 36.212 table 5.1.3-3)
_F2: Final = 88
_COLS: Final = 32
_PERM: Final = np.array(
    [0, 16, 8, 24, 4, 20, 12, 28, 2, 18, 10, 26, 6, 22, 14, 30,
     1, 17, 9, 25, 5, 21, 13, 29, 3, 19, 11, 27, 7, 23, 15, 31]
)  # fmt: skip
_CRC24A: Final = 0x864CFB
_NEG: Final = -1e30


def qpp(k: int = BLOCK_BITS) -> NDArray[np.int64]:
    i = np.arange(k, dtype=np.int64)
    return (_F1 * i + _F2 * i * i) % k


_PI: Final = qpp()
_PI_INV: Final = np.argsort(_PI)


def crc24a(bits: NDArray[np.uint8]) -> int:
    """CRC-24A remainder of a bit array (MSB first); zero over payload+CRC means intact."""
    reg = 0
    for b in bits.tolist():
        top = ((reg >> 23) & 1) ^ b
        reg = (reg << 1) & 0xFFFFFF
        if top:
            reg ^= _CRC24A
    return reg


# --- trellis -------------------------------------------------------------------------------
# State = (s1, s2, s3) as s1*4 + s2*2 + s3, s1 the most recent register. Feedback 1 + D^2 + D^3,
# parity 1 + D + D^3 (TS 36.212 5.1.3.2.1).
def _trellis() -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    nxt = np.zeros((8, 2), np.int64)
    par = np.zeros((8, 2), np.int64)
    tail_u = np.zeros(8, np.int64)  # the input that feeds a zero into the register
    for s in range(8):
        s1, s2, s3 = (s >> 2) & 1, (s >> 1) & 1, s & 1
        fb = s2 ^ s3
        tail_u[s] = fb
        for u in (0, 1):
            a = u ^ fb
            par[s, u] = a ^ s1 ^ s3
            nxt[s, u] = (a << 2) | (s1 << 1) | s2
    prev = np.zeros((8, 2, 2), np.int64)  # [next state, j] -> (state, input)
    fill = np.zeros(8, np.int64)
    for s in range(8):
        for u in (0, 1):
            ns = nxt[s, u]
            prev[ns, fill[ns]] = (s, u)
            fill[ns] += 1
    return nxt, par, tail_u, prev


_NEXT, _PAR, _TAIL_U, _PREV = _trellis()


def _rsc(bits: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]:
    """Parity of one constituent encoder plus its three tail (systematic, parity) pairs."""
    s = 0
    parity = np.empty(bits.size, np.uint8)
    for k, u in enumerate(bits.tolist()):
        parity[k] = _PAR[s, u]
        s = int(_NEXT[s, u])
    tx = np.empty(3, np.uint8)
    tz = np.empty(3, np.uint8)
    for k in range(3):
        u = int(_TAIL_U[s])
        tx[k], tz[k] = u, _PAR[s, u]
        s = int(_NEXT[s, u])
    return parity, tx, tz


def turbo_encode(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """(3, K + 4) streams d0, d1, d2 with LTE trellis termination."""
    k = bits.size
    z1, x1t, z1t = _rsc(bits)
    z2, x2t, z2t = _rsc(bits[qpp(k)])
    d = np.empty((3, k + 4), np.uint8)
    d[0, :k], d[1, :k], d[2, :k] = bits, z1, z2
    d[0, k:] = [x1t[0], z1t[1], x2t[0], z2t[1]]
    d[1, k:] = [z1t[0], x1t[2], z2t[0], x2t[2]]
    d[2, k:] = [x1t[1], z1t[2], x2t[1], z2t[2]]
    return d


# --- rate matching ---------------------------------------------------------------------------
def _buffer_order(d_len: int) -> NDArray[np.int64]:
    """Index into the flattened (3, D) streams of each circular-buffer position, -1 for <NULL>."""
    rows = -(-d_len // _COLS)
    kpi = rows * _COLS
    nd = kpi - d_len
    idx = np.arange(d_len, dtype=np.int64)

    def block(stream: NDArray[np.int64]) -> NDArray[np.int64]:
        y = np.concatenate((np.full(nd, -1, np.int64), stream)).reshape(rows, _COLS)
        out: NDArray[np.int64] = y[:, _PERM].T.ravel()
        return out

    v0 = block(idx)
    v1 = block(idx + d_len)
    y2 = np.concatenate((np.full(nd, -1, np.int64), idx + 2 * d_len))
    k = np.arange(kpi)
    v2 = y2[(_PERM[k // rows] + _COLS * (k % rows) + 1) % kpi]
    w = np.concatenate((v0, np.stack((v1, v2), axis=1).ravel()))
    k0 = rows * 2  # rv 0: k0 = R * (2 * ceil(Ncb / 8R) * 0 + 2)
    order = np.roll(w, -k0)
    kept: NDArray[np.int64] = order[order >= 0]
    return kept


_ORDER: Final = _buffer_order(BLOCK_BITS + 4)


def _positions(e: int) -> NDArray[np.int64]:
    return np.resize(_ORDER, e)


def rate_match(d: NDArray[np.uint8], e: int = CODED_BITS) -> NDArray[np.uint8]:
    out: NDArray[np.uint8] = d.ravel()[_positions(e)]
    return out


def rate_dematch(llr: NDArray[np.float64]) -> NDArray[np.float64]:
    """Soft (3, K + 4) stream LLRs; repeated bits add, punctured ones stay zero."""
    acc = np.zeros(3 * (BLOCK_BITS + 4))
    np.add.at(acc, _positions(llr.size), llr)
    return acc.reshape(3, BLOCK_BITS + 4)


# --- decoding --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TurboResult:
    bits: NDArray[np.uint8]  # K decoded bits
    crc_ok: bool
    iterations: int  # 0 = systematic bits alone already passed the CRC


def _sign(b: NDArray[np.int64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = (1.0 - 2.0 * b).astype(np.float64)
    return out


def _bcjr(ls: NDArray[np.float64], la: NDArray[np.float64], lp: NDArray[np.float64]) -> NDArray[np.float64]:
    """Max-log-MAP over K + 3 steps (last three are the forced tail); returns the a-posteriori
    LLRs of the K information bits. LLR > 0 means bit 0."""
    n = ls.size
    su = _sign(np.array([0, 1]))[None, None, :]  # (1, 1, 2)
    sp = _sign(_PAR)[None, :, :]  # (1, 8, 2)
    gamma = 0.5 * ((ls + la)[:, None, None] * su + lp[:, None, None] * sp)  # (n, 8, 2)
    k_info = n - 3
    forbid = np.arange(2)[None, :] != _TAIL_U[:, None]  # (8, 2): tail steps allow only u = fb
    gamma[k_info:, forbid] = _NEG
    ps, pu = _PREV[:, :, 0], _PREV[:, :, 1]
    alpha = np.empty((n + 1, 8))
    alpha[0] = _NEG
    alpha[0, 0] = 0.0
    for k in range(n):
        a = alpha[k][ps] + gamma[k][ps, pu]
        m = a.max(axis=1)
        alpha[k + 1] = m - m.max()
    beta = np.empty((n + 1, 8))
    beta[n] = _NEG
    beta[n, 0] = 0.0
    for k in range(n - 1, -1, -1):
        b = gamma[k] + beta[k + 1][_NEXT]
        m = b.max(axis=1)
        beta[k] = m - m.max()
    metric = alpha[:k_info, :, None] + gamma[:k_info] + beta[1 : k_info + 1][:, _NEXT]  # (K, 8, 2)
    out: NDArray[np.float64] = metric[:, :, 0].max(axis=1) - metric[:, :, 1].max(axis=1)
    return out


def turbo_decode(streams: NDArray[np.float64], max_iterations: int = 8) -> TurboResult:
    """Iterative decoding of (3, K + 4) stream LLRs, stopping as soon as CRC-24A passes."""
    k = BLOCK_BITS
    d0, d1, d2 = streams
    hard = (d0[:k] < 0).astype(np.uint8)
    if crc24a(hard) == 0:
        return TurboResult(hard, True, 0)
    # Tail LLRs per TS 36.212 5.1.3.2.2 (x, z of encoder 1 at K..K+2, x', z' of encoder 2).
    xs1 = np.concatenate((d0[:k], [d0[k], d2[k], d1[k + 1]]))
    zp1 = np.concatenate((d1[:k], [d1[k], d0[k + 1], d2[k + 1]]))
    xs2 = np.concatenate((d0[:k][_PI], [d0[k + 2], d2[k + 2], d1[k + 3]]))
    zp2 = np.concatenate((d2[:k], [d1[k + 2], d0[k + 3], d2[k + 3]]))
    la = np.zeros(k + 3)
    for it in range(1, max_iterations + 1):
        app1 = _bcjr(xs1, la, zp1)
        le1 = app1 - xs1[:k] - la[:k]
        la2 = np.concatenate((le1[_PI], np.zeros(3)))
        app2 = _bcjr(xs2, la2, zp2)
        le2 = app2 - xs2[:k] - la2[:k]
        la = np.concatenate((le2[_PI_INV], np.zeros(3)))
        hard = (app2[_PI_INV] < 0).astype(np.uint8)
        if crc24a(hard) == 0:
            return TurboResult(hard, True, it)
    return TurboResult(hard, False, max_iterations)
