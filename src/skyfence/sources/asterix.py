"""ASTERIX into `Detections`: CAT048/CAT001 (monoradar target reports), CAT062 (SDPS system
tracks) and CAT021 (ADS-B reports); the service messages CAT002/CAT034 (radar north/sector
markers and status) and CAT065 (SDPS service status) are decoded and carry no target.

Decoders are plain functions of bytes: :func:`decode_block` splits one ASTERIX data block into
records and decodes their items; :func:`iter_records` walks a byte stream (a raw ``.ast`` file
or the UDP payloads of a capture) and counts each undecodable block by reason instead of
stopping; :func:`oradis_blocks` and :func:`gps_blocks` strip the ORADIS (per-block header in a
UDP payload) and "GPS" recording (file header, per-block time trailer) framings;
:func:`cat048_detections` / :func:`cat062_detections` / :func:`cat021_detections` turn records
into columnar batches in the site frame.

Why not the ``asterix_decoder`` package (0.7.11): its C extension crashes the interpreter with a
segmentation fault on some malformed blocks (a 56-byte random CAT062 block found by fuzzing,
``3e0f6f4e...``), so a hostile or damaged feed could take the whole sensor node down. The item
layouts below follow the EUROCONTROL specifications (CAT001 ed. 1.1, CAT002 ed. 1.0, CAT021
ed. 2.6, CAT034 ed. 1.27, CAT048 ed. 1.21, CAT062 ed. 1.18, CAT065 ed. 1.4); every item of each
UAP is length-walked so records are split exactly (CAT001's random field sequencing aside), and
items are decoded field by field. Golden tests compare against the reference decoder's outputs.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from skyfence.errors import DecodeError, FormatError
from skyfence.geo import Site
from skyfence.model.detections import Detections

__all__ = [
    "FT",
    "GPS_FILE_HEADER",
    "GPS_TRAILER",
    "NM",
    "ORADIS_HEADER",
    "SUPPORTED_CATEGORIES",
    "AsterixConfig",
    "AsterixRecord",
    "cat021_detections",
    "cat048_detections",
    "cat062_detections",
    "decode_block",
    "decode_record",
    "gps_blocks",
    "iter_records",
    "oradis_blocks",
    "radar_positions",
    "read_asterix_file",
    "records_to_detections",
    "tod_to_epoch",
    "truncated_tod_to_epoch",
    "udp_payload",
]

NM = 1852.0
FT = 0.3048
_KT = NM / 3600.0
_DAY = 86400.0
#: Earth radius times 4/3: the standard-refraction radar horizon model for elevation.
_RE_EFF = 6371000.0 * 4.0 / 3.0

# ---------------------------------------------------------------------------------------------
# Item layouts. ("fixed", n) | ("var",) FX-extended octets | ("var3",) FX-extended 3-octet parts
# | ("rep", n) one count octet then count*n | ("explicit",) first octet is the total length |
# ("compound", subfields) FX-extended presence octets, then one subfield per set bit.
# ---------------------------------------------------------------------------------------------
_Layout = tuple[Any, ...]
_F1: _Layout = ("fixed", 1)
_F2: _Layout = ("fixed", 2)
_F3: _Layout = ("fixed", 3)
_F4: _Layout = ("fixed", 4)
_F6: _Layout = ("fixed", 6)
_F7: _Layout = ("fixed", 7)
_F8: _Layout = ("fixed", 8)
_VAR: _Layout = ("var",)
_EXPLICIT: _Layout = ("explicit",)

_UAP048: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    ("140", _F3),
    ("020", _VAR),
    ("040", _F4),
    ("070", _F2),
    ("090", _F2),
    ("130", ("compound", (_F1,) * 7)),
    ("220", _F3),
    ("240", _F6),
    ("250", ("rep", 8)),
    ("161", _F2),
    ("042", _F4),
    ("200", _F4),
    ("170", _VAR),
    ("210", _F4),
    ("030", _VAR),
    ("080", _F2),
    ("100", _F4),
    ("110", _F2),
    ("120", ("compound", (_F2, ("rep", 6)))),
    ("230", _F2),
    ("260", _F7),
    ("055", _F1),
    ("050", _F2),
    ("065", _F1),
    ("060", _F2),
    ("SP", _EXPLICIT),
    ("RE", _EXPLICIT),
)

_UAP062: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    None,
    ("015", _F1),
    ("070", _F3),
    ("105", _F8),
    ("100", _F6),
    ("185", _F4),
    ("210", _F2),
    ("060", _F2),
    ("245", _F7),
    (
        "380",
        (
            "compound",
            # ADR ID MHG IAS TAS SAL FSS | TIS TID COM SAB ACS BVR GVR
            (_F3, _F6, _F2, _F2, _F2, _F2, _F2, _VAR, ("rep", 15), _F2, _F2, _F7, _F2, _F2)
            # RAN TAR TAN GSP VUN MET EMC | POS GAL PUN MB IAR MAC BPS
            + (_F2, _F2, _F2, _F2, _F1, _F8, _F1, _F6, _F2, _F1, ("rep", 8), _F2, _F2, _F2),
        ),
    ),
    ("040", _F2),
    ("080", _VAR),
    ("290", ("compound", (_F1, _F1, _F1, _F1, _F2, _F1, _F1, _F1, _F1, _F1))),
    ("200", _F1),
    ("295", ("compound", (_F1,) * 31)),
    ("136", _F2),
    ("130", _F2),
    ("135", _F2),
    ("220", _F2),
    (
        "390",
        (
            "compound",
            # TAG CSN IFI FCT TAC WTC DEP | DST RDS CFL CTL TOD AST STS | STD STA PEM PEC
            (_F2, _F7, _F4, _F1, _F4, _F1, _F4, _F4, _F3, _F2, _F2, ("rep", 4), _F6, _F1)
            + (_F7, _F7, _F2, _F7),
        ),
    ),
    ("270", _VAR),
    ("300", _F1),
    ("110", ("compound", (_F1, _F4, _F6, _F2, _F2, _F1, _F1))),
    ("120", _F2),
    ("510", ("var3",)),
    ("500", ("compound", (_F4, _F2, _F4, _F1, _F1, _F2, _F2, _F1))),
    ("340", ("compound", (_F2, _F4, _F2, _F2, _F2, _F1))),
    None,
    None,
    None,
    None,
    None,
    ("RE", _EXPLICIT),
    ("SP", _EXPLICIT),
)

_UAP021: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    ("040", _VAR),
    ("161", _F2),
    ("015", _F1),
    ("071", _F3),
    ("130", _F6),
    ("131", _F8),
    ("072", _F3),
    ("150", _F2),
    ("151", _F2),
    ("080", _F3),
    ("073", _F3),
    ("074", _F4),
    ("075", _F3),
    ("076", _F4),
    ("140", _F2),
    ("090", _VAR),
    ("210", _F1),
    ("070", _F2),
    ("230", _F2),
    ("145", _F2),
    ("152", _F2),
    ("200", _F1),
    ("155", _F2),
    ("157", _F2),
    ("160", _F4),
    ("165", _F2),
    ("077", _F3),
    ("170", _F6),
    ("020", _F1),
    ("220", ("compound", (_F2, _F2, _F2, _F1))),
    ("146", _F2),
    ("148", _F2),
    ("110", ("compound", (_VAR, ("rep", 15)))),
    ("016", _F1),
    ("008", _F1),
    ("271", _VAR),
    ("132", _F1),
    ("250", ("rep", 8)),
    ("260", _F7),
    ("400", _F1),
    ("295", ("compound", (_F1,) * 23)),
    None,
    None,
    None,
    None,
    None,
    ("RE", _EXPLICIT),
    ("SP", _EXPLICIT),
)

#: CAT001 (monoradar target reports, ed. 1.1) has two UAPs: I001/020's TYP bit says whether the
#: record is a plot or a track, and selects one after the first two items (common to both).
#: The random field sequencing item (RFS) is not walked: it is refused as ``unsupported_item``.
_UAP001_PLOT: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    ("020", _VAR),
    ("040", _F4),
    ("070", _F2),
    ("090", _F2),
    ("130", _VAR),
    ("141", _F2),
    ("050", _F2),
    ("120", _F1),
    ("131", _F1),
    ("080", _F2),
    ("100", _F4),
    ("060", _F2),
    ("030", _VAR),
    ("150", _F1),
    None,
    None,
    None,
    None,
    ("SP", _EXPLICIT),
    ("RFS", ("unsupported",)),
)

_UAP001_TRACK: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    ("020", _VAR),
    ("161", _F2),
    ("040", _F4),
    ("042", _F4),
    ("200", _F4),
    ("070", _F2),
    ("090", _F2),
    ("141", _F2),
    ("130", _VAR),
    ("131", _F1),
    ("120", _F1),
    ("170", _VAR),
    ("210", _VAR),
    ("050", _F2),
    ("080", _F2),
    ("100", _F4),
    ("060", _F2),
    ("030", _VAR),
    ("SP", _EXPLICIT),
    ("RFS", ("unsupported",)),
    ("150", _F1),
)

#: CAT002 (monoradar service messages, ed. 1.0).
_UAP002: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    ("000", _F1),
    ("020", _F1),
    ("030", _F3),
    ("041", _F2),
    ("050", _VAR),
    ("060", _VAR),
    ("070", ("rep", 2)),
    ("100", _F8),
    ("090", _F2),
    ("080", _VAR),
    None,
    ("SP", _EXPLICIT),
    ("RFS", ("unsupported",)),
)

#: CAT034 (monoradar service messages, ed. 1.27).
_UAP034: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    ("000", _F1),
    ("030", _F3),
    ("020", _F1),
    ("041", _F2),
    # COM, -, -, PSR, SSR, MDS
    ("050", ("compound", (_F1, None, None, _F1, _F1, _F2))),
    ("060", ("compound", (_F1, None, None, _F1, _F1, _F1))),
    ("070", ("rep", 2)),
    ("100", _F8),
    ("110", _F1),
    ("120", _F8),
    ("090", _F2),
    ("RE", _EXPLICIT),
    ("SP", _EXPLICIT),
)

#: CAT065 (SDPS service status messages, ed. 1.4).
_UAP065: tuple[tuple[str, _Layout] | None, ...] = (
    ("010", _F2),
    ("000", _F1),
    ("015", _F1),
    ("030", _F3),
    ("020", _F1),
    ("040", _F1),
    ("050", _F1),
    None,
    None,
    None,
    None,
    None,
    ("RE", _EXPLICIT),
    ("SP", _EXPLICIT),
)

_UAPS: dict[int, tuple[tuple[str, _Layout] | None, ...]] = {
    1: _UAP001_TRACK,  # the longer of the two, for the FSPEC limit; the record picks its own
    2: _UAP002,
    21: _UAP021,
    34: _UAP034,
    48: _UAP048,
    62: _UAP062,
    65: _UAP065,
}
#: Categories whose records we split and decode; other categories' blocks are skipped whole
#: (they are length-delimited, so the stream goes on).
SUPPORTED_CATEGORIES = frozenset(_UAPS)


@dataclass(frozen=True, slots=True)
class AsterixRecord:
    """One decoded record: category, its raw bytes (FSPEC onwards), the item ids present in
    UAP order, and the decoded fields of the items skyfence uses (flat, snake_case, SI-free:
    the units of the standard, named in each key)."""

    cat: int
    data: bytes
    items: tuple[str, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)


def _item_length(buf: bytes, off: int, layout: _Layout, where: str) -> int:
    """Length of the item starting at ``off``; DecodeError if it runs past ``len(buf)``."""
    kind = layout[0]
    end = len(buf)
    if kind == "fixed":
        n = int(layout[1])
    elif kind == "var" or kind == "var3":
        step = 1 if kind == "var" else 3
        n = step
        while True:
            if off + n > end:
                raise DecodeError("truncated", f"{where}: extended item runs past the record")
            if not buf[off + n - 1] & 1:
                break
            n += step
    elif kind == "rep":
        if off >= end:
            raise DecodeError("truncated", f"{where}: missing repetition count")
        n = 1 + buf[off] * int(layout[1])
    elif kind == "unsupported":
        raise DecodeError("unsupported_item", f"{where}: random field sequencing is not decoded")
    elif kind == "explicit":
        if off >= end:
            raise DecodeError("truncated", f"{where}: missing explicit length")
        n = buf[off]
        if n < 1:
            raise DecodeError("bad_length", f"{where}: explicit length 0")
    else:  # compound
        subs: tuple[_Layout, ...] = layout[1]
        present: list[int] = []
        n = 0
        while True:
            if off + n >= end:
                raise DecodeError("truncated", f"{where}: compound presence octets run past the record")
            octet = buf[off + n]
            for bit in range(7):
                if octet & (0x80 >> bit):
                    present.append(7 * n + bit)
            n += 1
            if not octet & 1:
                break
        for idx in present:
            if idx >= len(subs) or subs[idx] is None:
                raise DecodeError("undefined_subfield", f"{where}: subfield {idx + 1} is not defined")
            n += _item_length(buf, off + n, subs[idx], f"{where}/{idx + 1}")
    if off + n > end:
        raise DecodeError("truncated", f"{where}: item needs {n} octets, {end - off} left")
    return n


def _fspec(buf: bytes, off: int, max_octets: int, cat: int) -> tuple[list[int], int]:
    """Field reference numbers (0-based) present, and the FSPEC length."""
    frns: list[int] = []
    n = 0
    while True:
        if off + n >= len(buf):
            raise DecodeError("truncated", f"CAT{cat:03d}: FSPEC runs past the block")
        if n >= max_octets:
            raise DecodeError("fspec_overrun", f"CAT{cat:03d}: FSPEC longer than {max_octets} octets")
        octet = buf[off + n]
        for bit in range(7):
            if octet & (0x80 >> bit):
                frns.append(7 * n + bit)
        n += 1
        if not octet & 1:
            return frns, n


def decode_record(buf: bytes, off: int, cat: int) -> tuple[AsterixRecord, int]:
    """Decode the record of category ``cat`` at ``buf[off:]``; returns it and its length.

    ``buf`` must end where the data block ends (items never cross a block boundary).
    """
    uap = _UAPS.get(cat)
    if uap is None:
        raise DecodeError("unsupported_category", f"CAT{cat:03d}")
    frns, n = _fspec(buf, off, (len(uap) + 6) // 7, cat)
    if not frns:
        raise DecodeError("empty_record", f"CAT{cat:03d}: FSPEC selects no item")
    if cat == 1:
        uap = _uap001(buf, off + n, frns)
    raw: dict[str, bytes] = {}
    end = len(buf)
    for frn in frns:
        entry = uap[frn] if frn < len(uap) else None
        if entry is None:
            raise DecodeError("undefined_item", f"CAT{cat:03d}: FRN {frn + 1} is not defined")
        name, layout = entry
        start = off + n
        if layout[0] == "fixed":  # the common case, kept inline: no error text built per item
            length = layout[1]
            if start + length > end:
                raise DecodeError(
                    "truncated", f"CAT{cat:03d}/I{name}: item needs {length} octets, {end - start} left"
                )
        else:
            length = _item_length(buf, start, layout, f"CAT{cat:03d}/I{name}")
        raw[name] = buf[start : start + length]
        n += length
    return AsterixRecord(cat, bytes(buf[off : off + n]), tuple(raw), _FIELDS[cat](raw)), n


def _uap001(buf: bytes, off: int, frns: list[int]) -> tuple[tuple[str, _Layout] | None, ...]:
    """The CAT001 UAP of the record whose items start at ``off``: I001/020 (FRN 2, after the
    2-octet I001/010 when present) has TYP in its top bit, 1 for a track. A record without
    I001/020 cannot say, and is read as a plot."""
    if 1 not in frns:
        return _UAP001_PLOT
    at = off + (2 if 0 in frns else 0)
    if at >= len(buf):
        raise DecodeError("truncated", "CAT001/I020: item needs 1 octet, 0 left")
    return _UAP001_TRACK if buf[at] & 0x80 else _UAP001_PLOT


def decode_block(block: bytes) -> list[AsterixRecord]:
    """All records of one data block (``CAT``, 2-octet ``LEN``, records).

    Raises :class:`DecodeError` if the block is malformed or of a category we do not decode.
    """
    if len(block) < 3:
        raise DecodeError("truncated", f"data block of {len(block)} octets has no header")
    cat = block[0]
    length = (block[1] << 8) | block[2]
    if length < 3:
        raise DecodeError("bad_length", f"CAT{cat:03d}: block length {length}")
    if length > len(block):
        raise DecodeError("truncated", f"CAT{cat:03d}: block length {length}, {len(block)} octets left")
    body = block[:length]
    if cat not in _UAPS:
        raise DecodeError("unsupported_category", f"CAT{cat:03d}")
    out: list[AsterixRecord] = []
    off = 3
    while off < length:
        rec, n = decode_record(body, off, cat)
        out.append(rec)
        off += n
    if not out:
        raise DecodeError("empty_block", f"CAT{cat:03d}: block holds no record")
    return out


def iter_records(
    chunks: Iterable[tuple[float | None, bytes]], errors: Counter[str] | None = None
) -> Iterator[tuple[float | None, AsterixRecord]]:
    """``(reference time, record)`` for every decodable record of a stream of chunks.

    Each chunk (a UDP payload, or a whole raw file) holds consecutive data blocks; a bad block
    is counted in ``errors`` by reason and skipped using its length field; a bad length ends
    the chunk (nothing after it can be framed) and the stream goes on with the next chunk.
    """
    counts = errors if errors is not None else Counter()
    for t_ref, chunk in chunks:
        off = 0
        while off < len(chunk):
            if len(chunk) - off < 3:
                counts["truncated"] += 1
                break
            length = (chunk[off + 1] << 8) | chunk[off + 2]
            try:
                records = decode_block(chunk[off : off + max(length, 3)])
            except DecodeError as exc:
                counts[exc.reason] += 1
                if exc.reason in ("bad_length",) or length < 3 or off + length > len(chunk):
                    break
                off += length
                continue
            for rec in records:
                yield t_ref, rec
            off += length


# ---------------------------------------------------------------------------------------------
# Field decoders (only the fields a tracker and an operator use).
# ---------------------------------------------------------------------------------------------
_ICAO_CHARS = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


def _u(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _s(b: bytes) -> int:
    return int.from_bytes(b, "big", signed=True)


def _sbits(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _callsign(b: bytes) -> str:
    v = _u(b)
    # Codes outside the ICAO character set (0 is "no character") are dropped, as the reference
    # decoder does, so an all-zero identification reads as "".
    return "".join(_ICAO_CHARS[(v >> (42 - 6 * i)) & 0x3F] for i in range(8)).replace("#", "")


def _tod(b: bytes) -> float:
    """A 3-octet time of day (1/128 s). A value of 24 h or more is not a time of day: the record
    was framed with the wrong layout (an older edition, a damaged FSPEC), so it is refused
    rather than passed on with garbage fields."""
    t = _u(b) / 128.0
    if t >= _DAY:
        raise DecodeError("invalid_time", f"time of day {t:.3f} s is 24 h or more")
    return t


def _mode3a(b: bytes) -> str:
    return f"{_u(b) & 0x0FFF:04o}"


def _fields048(raw: Mapping[str, bytes]) -> dict[str, Any]:
    f: dict[str, Any] = {}
    if (b := raw.get("010")) is not None:
        f["sac"], f["sic"] = b[0], b[1]
    if (b := raw.get("140")) is not None:
        f["tod_s"] = _tod(b)
    if (b := raw.get("020")) is not None:
        f["typ"] = b[0] >> 5
        f["sim"] = bool(b[0] & 0x10)
    if (b := raw.get("040")) is not None:
        f["rho_nm"] = _u(b[0:2]) / 256.0
        f["theta_deg"] = _u(b[2:4]) * 360.0 / 65536.0
    if (b := raw.get("070")) is not None:
        f["mode3a"] = _mode3a(b)
        f["mode3a_valid"] = not b[0] & 0x80
    if (b := raw.get("090")) is not None:
        f["flight_level"] = _sbits(_u(b) & 0x3FFF, 14) / 4.0
        f["flight_level_valid"] = not b[0] & 0x80
    if (b := raw.get("220")) is not None:
        f["icao"] = b.hex()
    if (b := raw.get("240")) is not None:
        f["callsign"] = _callsign(b)
    if (b := raw.get("161")) is not None:
        f["track_number"] = _u(b) & 0x0FFF
    if (b := raw.get("042")) is not None:
        f["x_nm"] = _s(b[0:2]) / 128.0
        f["y_nm"] = _s(b[2:4]) / 128.0
    if (b := raw.get("200")) is not None:
        f["ground_speed_kt"] = _u(b[0:2]) / 16384.0 * 3600.0
        f["heading_deg"] = _u(b[2:4]) * 360.0 / 65536.0
    if (b := raw.get("170")) is not None:
        f["cnf"] = (b[0] >> 7) & 1
        f["rad"] = (b[0] >> 5) & 3
    if (b := raw.get("110")) is not None:
        f["height_3d_ft"] = _sbits(_u(b) & 0x3FFF, 14) * 25.0
    return f


def _fields062(raw: Mapping[str, bytes]) -> dict[str, Any]:
    f: dict[str, Any] = {}
    if (b := raw.get("010")) is not None:
        f["sac"], f["sic"] = b[0], b[1]
    if (b := raw.get("015")) is not None:
        f["service_id"] = b[0]
    if (b := raw.get("070")) is not None:
        f["tot_s"] = _tod(b)
    if (b := raw.get("105")) is not None:
        f["lat_deg"] = _s(b[0:4]) * 180.0 / (1 << 25)
        f["lon_deg"] = _s(b[4:8]) * 180.0 / (1 << 25)
    if (b := raw.get("100")) is not None:
        f["x_m"] = _s(b[0:3]) * 0.5
        f["y_m"] = _s(b[3:6]) * 0.5
    if (b := raw.get("185")) is not None:
        f["vx_mps"] = _s(b[0:2]) * 0.25
        f["vy_mps"] = _s(b[2:4]) * 0.25
    if (b := raw.get("210")) is not None:
        f["ax_mps2"] = _s(b[0:1]) * 0.25
        f["ay_mps2"] = _s(b[1:2]) * 0.25
    if (b := raw.get("060")) is not None:
        f["mode3a"] = _mode3a(b)
    if (b := raw.get("245")) is not None:
        f["callsign"] = _callsign(b[1:7])
    if (b := raw.get("040")) is not None:
        f["track_number"] = _u(b)
    if (b := raw.get("080")) is not None:
        f["cnf"] = (b[0] >> 1) & 1
        f["src"] = (b[0] >> 2) & 7
    if (b := raw.get("136")) is not None:
        f["measured_fl"] = _s(b) / 4.0
    if (b := raw.get("130")) is not None:
        f["geometric_alt_ft"] = _s(b) * 6.25
    if (b := raw.get("135")) is not None:
        f["barometric_fl"] = _sbits(_u(b) & 0x7FFF, 15) / 4.0
    if (b := raw.get("220")) is not None:
        f["roc_ftpm"] = _s(b) * 6.25
    if (b := raw.get("380")) is not None:
        _fields062_380(b, f)
    if (b := raw.get("500")) is not None and b[0] & 0x80:
        # APC is the first subfield whenever its bit is set: skip the presence octets.
        k = 1
        while b[k - 1] & 1:
            k += 1
        f["sigma_x_m"] = b[k] * 0.5
        f["sigma_y_m"] = b[k + 1] * 0.5
    return f


def _fields021(raw: Mapping[str, bytes]) -> dict[str, Any]:
    """CAT021 (ADS-B target reports, ed. 2.x): identity, position, height, time, velocity."""
    f: dict[str, Any] = {}
    if (b := raw.get("010")) is not None:
        f["sac"], f["sic"] = b[0], b[1]
    if (b := raw.get("040")) is not None:
        f["ground_bit"] = bool(len(b) > 1 and b[1] & 0x40)
    if (b := raw.get("161")) is not None:
        f["track_number"] = _u(b) & 0x0FFF
    if (b := raw.get("131")) is not None:
        f["lat_deg"] = _s(b[0:4]) * 180.0 / (1 << 30)
        f["lon_deg"] = _s(b[4:8]) * 180.0 / (1 << 30)
    elif (b := raw.get("130")) is not None:
        f["lat_deg"] = _s(b[0:3]) * 180.0 / (1 << 23)
        f["lon_deg"] = _s(b[3:6]) * 180.0 / (1 << 23)
    # Time of the position: reception time, else applicability, else report transmission.
    for item in ("073", "071", "077"):
        if (b := raw.get(item)) is not None:
            f["tod_s"] = _tod(b)
            break
    if (b := raw.get("080")) is not None:
        f["icao"] = b.hex()
    if (b := raw.get("140")) is not None:
        f["geometric_height_ft"] = _s(b) * 6.25
    if (b := raw.get("145")) is not None:
        f["flight_level"] = _s(b) / 4.0
    if (b := raw.get("070")) is not None:
        f["mode3a"] = _mode3a(b)
    if (b := raw.get("160")) is not None and not b[0] & 0x80:
        f["ground_speed_kt"] = (_u(b[0:2]) & 0x7FFF) / 16384.0 * 3600.0
        f["track_deg"] = _u(b[2:4]) * 360.0 / 65536.0
    if (b := raw.get("157")) is not None and not b[0] & 0x80:
        f["vertical_rate_ftpm"] = _sbits(_u(b) & 0x7FFF, 15) * 6.25
    if (b := raw.get("170")) is not None:
        f["callsign"] = _callsign(b)
    if (b := raw.get("020")) is not None:
        f["ecat"] = b[0]
    return f


def _fields062_380(b: bytes, f: dict[str, Any]) -> None:
    """ADR (target address) and ID (callsign) are subfields 1 and 2 of I062/380."""
    k = 1
    while b[k - 1] & 1:
        k += 1
    if b[0] & 0x80:
        f["icao"] = b[k : k + 3].hex()
        k += 3
    if b[0] & 0x40:
        f["callsign"] = _callsign(b[k : k + 6])


def _bits(octets: bytes) -> list[int]:
    """The 7-bit values of an FX-extended item, one per octet (FX dropped)."""
    return [o >> 1 for o in octets]


def _dsi(raw: Mapping[str, bytes], f: dict[str, Any]) -> None:
    if (b := raw.get("010")) is not None:
        f["sac"], f["sic"] = b[0], b[1]


def _fields001(raw: Mapping[str, bytes]) -> dict[str, Any]:
    """CAT001 (ed. 1.1) plots and tracks: every item of both UAPs but SP/RFS."""
    f: dict[str, Any] = {}
    _dsi(raw, f)
    if (b := raw.get("020")) is not None:
        f["is_track"] = bool(b[0] & 0x80)
        f["sim"] = bool(b[0] & 0x40)
        f["ssr_psr"] = (b[0] >> 4) & 3
        f["ant"] = (b[0] >> 3) & 1
        f["spi"] = bool(b[0] & 0x04)
        f["rab"] = bool(b[0] & 0x02)
        if len(b) > 1:
            f["tst"] = bool(b[1] & 0x80)
            f["ds1ds2"] = (b[1] >> 5) & 3
            f["me"] = bool(b[1] & 0x10)
            f["mi"] = bool(b[1] & 0x08)
    if (b := raw.get("161")) is not None:
        f["track_number"] = _u(b)
    if (b := raw.get("040")) is not None:
        f["rho_nm"] = _u(b[0:2]) / 128.0
        f["theta_deg"] = _u(b[2:4]) * 360.0 / 65536.0
    if (b := raw.get("042")) is not None:
        f["x_nm"] = _s(b[0:2]) / 64.0
        f["y_nm"] = _s(b[2:4]) / 64.0
    if (b := raw.get("200")) is not None:
        f["ground_speed_kt"] = _u(b[0:2]) / 16384.0 * 3600.0
        f["heading_deg"] = _u(b[2:4]) * 360.0 / 65536.0
    if (b := raw.get("070")) is not None:
        f["mode3a"] = _mode3a(b)
        f["mode3a_valid"] = not b[0] & 0x80
        f["mode3a_garbled"] = bool(b[0] & 0x40)
        f["mode3a_smoothed"] = bool(b[0] & 0x20)
    if (b := raw.get("090")) is not None:
        f["flight_level"] = _sbits(_u(b) & 0x3FFF, 14) / 4.0
        f["flight_level_valid"] = not b[0] & 0x80
        f["flight_level_garbled"] = bool(b[0] & 0x40)
    if (b := raw.get("141")) is not None:
        f["truncated_tod_s"] = _u(b) / 128.0
    if (b := raw.get("130")) is not None:
        f["plot_characteristics"] = _bits(b)
    if (b := raw.get("131")) is not None:
        f["received_power_dbm"] = _s(b)
    if (b := raw.get("120")) is not None:
        f["doppler_speed_kt"] = _s(b) / 16384.0 * 3600.0
    if (b := raw.get("170")) is not None:
        f["con"] = (b[0] >> 7) & 1
        f["rad"] = (b[0] >> 6) & 1
        f["man"] = bool(b[0] & 0x20)
        f["dou"] = bool(b[0] & 0x10)
        f["rdpc"] = (b[0] >> 3) & 1
        f["gho"] = bool(b[0] & 0x02)
        if len(b) > 1:
            f["tre"] = bool(b[1] & 0x80)
    if (b := raw.get("210")) is not None:
        f["track_quality"] = _bits(b)
    if (b := raw.get("050")) is not None:
        f["mode2"] = _mode3a(b)
        f["mode2_valid"] = not b[0] & 0x80
        f["mode2_garbled"] = bool(b[0] & 0x40)
    if (b := raw.get("080")) is not None:
        f["mode3a_confidence"] = _u(b) & 0x0FFF
    if (b := raw.get("100")) is not None:
        f["modec_valid"] = not b[0] & 0x80
        f["modec_garbled"] = bool(b[0] & 0x40)
        f["modec_gray"] = _u(b[0:2]) & 0x0FFF
        f["modec_confidence"] = _u(b[2:4]) & 0x0FFF
    if (b := raw.get("060")) is not None:
        f["mode2_confidence"] = _u(b) & 0x0FFF
    if (b := raw.get("030")) is not None:
        f["warnings"] = _bits(b)
    if (b := raw.get("150")) is not None:
        f["x_pulse_mode3a"] = bool(b[0] & 0x80)
        f["x_pulse_modec"] = bool(b[0] & 0x20)
        f["x_pulse_mode2"] = bool(b[0] & 0x04)
    return f


def _fields002(raw: Mapping[str, bytes]) -> dict[str, Any]:
    """CAT002 (ed. 1.0) service messages: north/sector/south markers and station status."""
    f: dict[str, Any] = {}
    _dsi(raw, f)
    if (b := raw.get("000")) is not None:
        f["message_type"] = b[0]
    if (b := raw.get("020")) is not None:
        f["sector_deg"] = b[0] * 360.0 / 256.0
    if (b := raw.get("030")) is not None:
        f["tod_s"] = _tod(b)
    if (b := raw.get("041")) is not None:
        f["antenna_rotation_s"] = _u(b) / 128.0
    if (b := raw.get("050")) is not None:
        f["station_configuration"] = _bits(b)
    if (b := raw.get("060")) is not None:
        f["station_processing_mode"] = _bits(b)
    if (b := raw.get("070")) is not None:
        f["plot_counts"] = [
            ((b[i] >> 7) & 1, (b[i] >> 2) & 0x1F, _u(b[i : i + 2]) & 0x3FF) for i in range(1, len(b), 2)
        ]
    if (b := raw.get("100")) is not None:
        f["window_rho_start_nm"] = _u(b[0:2]) / 128.0
        f["window_rho_end_nm"] = _u(b[2:4]) / 128.0
        f["window_theta_start_deg"] = _u(b[4:6]) * 360.0 / 65536.0
        f["window_theta_end_deg"] = _u(b[6:8]) * 360.0 / 65536.0
    if (b := raw.get("090")) is not None:
        f["range_error_nm"] = _s(b[0:1]) / 128.0
        f["azimuth_error_deg"] = _s(b[1:2]) * 360.0 / 16384.0
    if (b := raw.get("080")) is not None:
        f["warnings"] = _bits(b)
    return f


#: I034/050 and I034/060 subfield sizes by index (COM, -, -, PSR, SSR, MDS).
_SIZES034_050 = (1, 0, 0, 1, 1, 2)
_SIZES034_060 = (1, 0, 0, 1, 1, 1)


def _parts(b: bytes, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """Subfields of a compound item of fixed-size subfields, by 0-based index (lengths were
    checked when the record was split, so this only slices)."""
    present: list[int] = []
    k = 0
    while True:
        octet = b[k]
        present += [7 * k + bit for bit in range(7) if octet & (0x80 >> bit)]
        k += 1
        if not octet & 1:
            break
    out: dict[int, bytes] = {}
    for i in present:
        out[i] = b[k : k + sizes[i]]
        k += sizes[i]
    return out


def _fields034(raw: Mapping[str, bytes]) -> dict[str, Any]:
    """CAT034 (ed. 1.27) service messages: every item but RE/SP, subfields flattened with the
    subsystem as prefix (``com_``, ``psr_``, ``ssr_``, ``mds_``)."""
    f: dict[str, Any] = {}
    _dsi(raw, f)
    if (b := raw.get("000")) is not None:
        f["message_type"] = b[0]
    if (b := raw.get("030")) is not None:
        f["tod_s"] = _tod(b)
    if (b := raw.get("020")) is not None:
        f["sector_deg"] = b[0] * 360.0 / 256.0
    if (b := raw.get("041")) is not None:
        f["antenna_rotation_s"] = _u(b) / 128.0
    if (b := raw.get("050")) is not None:
        p = _parts(b, _SIZES034_050)
        if (c := p.get(0)) is not None:
            o = c[0]
            f |= {"com_nogo": o >> 7, "com_rdpc": (o >> 6) & 1, "com_rdpr": (o >> 5) & 1}
            f |= {"com_ovl_rdp": (o >> 4) & 1, "com_ovl_xmt": (o >> 3) & 1, "com_msc": (o >> 2) & 1}
            f["com_tsv"] = (o >> 1) & 1
        for idx, name in ((3, "psr"), (4, "ssr")):
            if (c := p.get(idx)) is not None:
                o = c[0]
                f |= {f"{name}_ant": o >> 7, f"{name}_ch_ab": (o >> 5) & 3}
                f |= {f"{name}_ovl": (o >> 4) & 1, f"{name}_msc": (o >> 3) & 1}
        if (c := p.get(5)) is not None:
            v = _u(c)
            f |= {"mds_ant": v >> 15, "mds_ch_ab": (v >> 13) & 3, "mds_ovl_sur": (v >> 12) & 1}
            f |= {"mds_msc": (v >> 11) & 1, "mds_scf": (v >> 10) & 1, "mds_dlf": (v >> 9) & 1}
            f |= {"mds_ovl_scf": (v >> 8) & 1, "mds_ovl_dlf": (v >> 7) & 1}
    if (b := raw.get("060")) is not None:
        p = _parts(b, _SIZES034_060)
        if (c := p.get(0)) is not None:
            f |= {"com_red_rdp": (c[0] >> 4) & 7, "com_red_xmt": (c[0] >> 1) & 7}
        if (c := p.get(3)) is not None:
            f |= {"psr_pol": c[0] >> 7, "psr_red_rad": (c[0] >> 4) & 7, "psr_stc": (c[0] >> 2) & 3}
        if (c := p.get(4)) is not None:
            f["ssr_red_rad"] = c[0] >> 5
        if (c := p.get(5)) is not None:
            f |= {"mds_red_rad": c[0] >> 5, "mds_clu": (c[0] >> 4) & 1}
    if (b := raw.get("070")) is not None:
        f["message_counts"] = [(b[i] >> 3, _u(b[i : i + 2]) & 0x7FF) for i in range(1, len(b), 2)]
    if (b := raw.get("100")) is not None:
        f["window_rho_start_nm"] = _u(b[0:2]) / 256.0
        f["window_rho_end_nm"] = _u(b[2:4]) / 256.0
        f["window_theta_start_deg"] = _u(b[4:6]) * 360.0 / 65536.0
        f["window_theta_end_deg"] = _u(b[6:8]) * 360.0 / 65536.0
    if (b := raw.get("110")) is not None:
        f["data_filter"] = b[0]
    if (b := raw.get("120")) is not None:
        f["height_m"] = _s(b[0:2])
        f["lat_deg"] = _s(b[2:5]) * 180.0 / (1 << 23)
        f["lon_deg"] = _s(b[5:8]) * 180.0 / (1 << 23)
    if (b := raw.get("090")) is not None:
        f["range_error_nm"] = _s(b[0:1]) / 128.0
        f["azimuth_error_deg"] = _s(b[1:2]) * 360.0 / 16384.0
    return f


def _fields065(raw: Mapping[str, bytes]) -> dict[str, Any]:
    """CAT065 (ed. 1.4) SDPS service status: message type, service, time, batch and status."""
    f: dict[str, Any] = {}
    _dsi(raw, f)
    if (b := raw.get("000")) is not None:
        f["message_type"] = b[0]
    if (b := raw.get("015")) is not None:
        f["service_id"] = b[0]
    if (b := raw.get("030")) is not None:
        f["tod_s"] = _tod(b)
    if (b := raw.get("020")) is not None:
        f["batch_number"] = b[0]
    if (b := raw.get("040")) is not None:
        o = b[0]
        f |= {"nogo": o >> 6, "ovl": (o >> 5) & 1, "tsv": (o >> 4) & 1, "pss": (o >> 2) & 3}
        f["sttn"] = (o >> 1) & 1
    if (b := raw.get("050")) is not None:
        f["service_status"] = b[0]
    return f


_FIELDS: dict[int, Any] = {
    1: _fields001,
    2: _fields002,
    21: _fields021,
    34: _fields034,
    48: _fields048,
    62: _fields062,
    65: _fields065,
}


# ---------------------------------------------------------------------------------------------
# Capture framing and records -> Detections.
# ---------------------------------------------------------------------------------------------


def udp_payload(frame: bytes, linktype: int) -> bytes:
    """The UDP payload of a captured frame (Ethernet with VLAN tags, Linux cooked, raw IP or
    BSD loopback; IPv4 or IPv6). Raises DecodeError when the frame carries no UDP datagram."""
    off = 0
    if linktype == 1:  # Ethernet
        off = 12
        if len(frame) < 14:
            raise DecodeError("truncated", "Ethernet header")
        etype = struct.unpack_from(">H", frame, off)[0]
        while etype in (0x8100, 0x88A8) and off + 6 <= len(frame):
            off += 4
            etype = struct.unpack_from(">H", frame, off)[0]
        off += 2
    elif linktype == 113:  # Linux cooked capture
        if len(frame) < 16:
            raise DecodeError("truncated", "SLL header")
        etype = struct.unpack_from(">H", frame, 14)[0]
        off = 16
    elif linktype in (101, 12, 14):  # raw IP
        etype = 0x86DD if frame[:1] and frame[0] >> 4 == 6 else 0x0800
    elif linktype == 0:  # BSD loopback: host-order address family
        if len(frame) < 4:
            raise DecodeError("truncated", "loopback header")
        off = 4
        etype = 0x86DD if frame[4:5] and frame[4] >> 4 == 6 else 0x0800
    else:
        raise DecodeError("unsupported_link", f"link type {linktype}")
    if etype == 0x0800:
        if len(frame) < off + 20:
            raise DecodeError("truncated", "IPv4 header")
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9]
        total = struct.unpack_from(">H", frame, off + 2)[0]
        frag = struct.unpack_from(">H", frame, off + 6)[0]
        if frag & 0x1FFF:
            raise DecodeError("ip_fragment", "non-first IPv4 fragment")
        end = min(len(frame), off + total) if total >= ihl else len(frame)
        off += ihl
    elif etype == 0x86DD:
        if len(frame) < off + 40:
            raise DecodeError("truncated", "IPv6 header")
        proto = frame[off + 6]
        end = min(len(frame), off + 40 + struct.unpack_from(">H", frame, off + 4)[0])
        off += 40
    else:
        raise DecodeError("not_ip", f"ethertype 0x{etype:04x}")
    if proto != 17:
        raise DecodeError("not_udp", f"IP protocol {proto}")
    if end < off + 8:
        raise DecodeError("truncated", "UDP header")
    return bytes(frame[off + 8 : end])


#: Octets before the first data block of a ``-G`` ("GPS") recording, and after each block: the
#: 10-octet trailer ends with the block's time as a 3-octet count of 1/128 s (octets 6-8).
GPS_FILE_HEADER = 2200
GPS_TRAILER = 10
#: The ORADIS header before each data block: total length (2 octets, header included) and a
#: 4-octet time stamp in milliseconds of the day.
ORADIS_HEADER = 6


def _chains(data: bytes, start: int, before: int, after: int) -> bool:
    """Whether ``data[start:]`` is exactly a sequence of data blocks, each with ``before``
    framing octets in front (the first two of them the framed length when ``before``) and
    ``after`` octets behind."""
    off = start
    n = 0
    while off < len(data):
        if len(data) - off < before + 3:
            return False
        length = (data[off + before + 1] << 8) | data[off + before + 2]
        if length < 3 or (before and ((data[off] << 8) | data[off + 1]) != length + before):
            return False
        off += before + length + after
        n += 1
    return off == len(data) and n > 0


def oradis_blocks(payload: bytes, errors: Counter[str] | None = None) -> list[tuple[float, bytes]]:
    """``(ORADIS time stamp in seconds of the day, data block)`` for each ORADIS-framed block of
    a UDP payload (the reference decoder's ``-R`` input). A bad frame length is counted in
    ``errors`` and ends the payload, as nothing after it can be framed."""
    counts = errors if errors is not None else Counter()
    out: list[tuple[float, bytes]] = []
    off = 0
    while off < len(payload):
        if len(payload) - off < ORADIS_HEADER:
            counts["truncated"] += 1
            break
        total = (payload[off] << 8) | payload[off + 1]
        if total <= ORADIS_HEADER or off + total > len(payload):
            counts["bad_length" if total <= ORADIS_HEADER else "truncated"] += 1
            break
        stamp = int.from_bytes(payload[off + 2 : off + 6], "big") / 1000.0
        out.append((stamp, bytes(payload[off + ORADIS_HEADER : off + total])))
        off += total
    return out


def gps_blocks(data: bytes, errors: Counter[str] | None = None) -> list[tuple[float, bytes]]:
    """``(time stamp in seconds, data block)`` for each block of a "GPS" recording (the reference
    decoder's ``-G`` input): a 2200-octet file header, then each block followed by a 10-octet
    trailer carrying its time. A block that runs past the file is counted and ends it."""
    counts = errors if errors is not None else Counter()
    out: list[tuple[float, bytes]] = []
    off = GPS_FILE_HEADER
    if len(data) < off:
        counts["truncated"] += 1
        return out
    while off < len(data):
        if len(data) - off < 3:
            counts["truncated"] += 1
            break
        length = (data[off + 1] << 8) | data[off + 2]
        if length < 3:
            counts["bad_length"] += 1
            break
        end = off + length + GPS_TRAILER
        if end > len(data):
            counts["truncated"] += 1
            break
        stamp = int.from_bytes(data[end - 4 : end - 1], "big") / 128.0
        out.append((stamp, bytes(data[off : off + length])))
        off = end
    return out


def truncated_tod_to_epoch(tod: Any, t_ref: Any, period: float = 512.0) -> Any:
    """A time of day truncated to ``period`` seconds (CAT001 I141: 16 bits of 1/128 s) to UTC
    epoch seconds: the instant nearest ``t_ref`` whose time of day has that remainder (the day
    is not a whole number of periods, so the remainder is taken of the time of day)."""
    tod_a = np.asarray(tod, dtype=np.float64)
    ref = np.asarray(t_ref, dtype=np.float64)
    ref_tod = ref % _DAY
    return ref + ((tod_a - ref_tod) + period / 2.0) % period - period / 2.0


def tod_to_epoch(tod: Any, t_ref: Any) -> Any:
    """ASTERIX time of day (seconds after UTC midnight) to UTC epoch seconds, on the day that
    puts it nearest ``t_ref`` (so a capture spanning midnight stays monotonic)."""
    tod_a = np.asarray(tod, dtype=np.float64)
    ref = np.asarray(t_ref, dtype=np.float64)
    day = np.round((ref - tod_a) / _DAY)
    return day * _DAY + tod_a


class AsterixConfig(BaseModel):
    """How records become measurements: noise figures for ``R`` when the record carries no
    accuracy, where the radars are (for elevation), and the SDPS reference point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sigma_range_m: float = Field(70.0, gt=0)
    sigma_azimuth_deg: float = Field(0.08, gt=0)
    sigma_elevation_deg: float = Field(0.5, gt=0)
    sigma_horizontal_m: float = Field(150.0, gt=0, description="CAT062 position sigma without I500")
    sigma_vertical_m: float = Field(60.0, gt=0)
    #: radar positions (lat, lon, alt in metres above the ellipsoid) by sensor id "asterix-SAC-SIC";
    #: with one, CAT048 reports with a height become 3-D polar measurements.
    radars: dict[str, tuple[float, float, float]] = Field(default_factory=dict)
    #: the system reference point of a CAT062 feed's Cartesian plane (lat, lon, alt), used only
    #: for tracks that carry I100 without I105.
    sdps_origin: tuple[float, float, float] | None = None


def radar_positions(
    records: Iterable[tuple[float | None, AsterixRecord]],
) -> dict[str, tuple[float, float, float]]:
    """Where each radar says it is: the latest CAT034 I120 (3-D position of the data source) by
    sensor id ``asterix-SAC-SIC``, as ``(lat, lon, height m above the ellipsoid)``, ready for
    ``AsterixConfig(radars=...)`` so that its CAT048 reports can become 3-D polar."""
    out: dict[str, tuple[float, float, float]] = {}
    for _t, rec in records:
        f = rec.fields
        if rec.cat == 34 and "lat_deg" in f:
            out[f"asterix-{f.get('sac', 0)}-{f.get('sic', 0)}"] = (
                float(f["lat_deg"]),
                float(f["lon_deg"]),
                float(f["height_m"]),
            )
    return out


def _pressure_alt_m(fl: float) -> float:
    """Flight level to metres: pressure altitude stands in for geometric height (ISA), the usual
    approximation for a tracker with a generous vertical variance."""
    return fl * 100.0 * FT


def _elevation(slant: float, h_target: float, h_radar: float) -> float:
    """Elevation angle on a 4/3-earth sphere: exact geometry of the triangle formed with the
    centre of the effective earth, so long-range plots do not read as climbing."""
    a = _RE_EFF + h_radar
    b = _RE_EFF + h_target
    s = (b * b - a * a - slant * slant) / (2.0 * slant * a)
    return math.asin(max(-1.0, min(1.0, s)))


def cat048_detections(
    records: Iterable[tuple[float | None, AsterixRecord]],
    config: AsterixConfig | None = None,
    errors: Counter[str] | None = None,
) -> list[Detections]:
    """CAT048 target reports and CAT001 plots/tracks with a measured polar position (I040) as
    ``polar`` detections, one batch per (radar, dimension). ``t_ref`` (epoch) fixes the day of
    the time of day; records without time of day use it directly. CAT001 carries only a time of
    day truncated to 512 s (I001/141): it is put on the 512 s period nearest ``t_ref``, and a
    record without ``t_ref`` is counted as ``no_time``. Azimuth in radians clockwise from north;
    slant range in metres. Attributes: ``sac``, ``sic``, ``track_number`` (-1 none), ``mode3a``,
    ``icao``, ``callsign`` ("" none), ``tod_s``, ``flight_level``, ``height_m``,
    ``ground_speed_mps``, ``heading_rad`` (NaN none)."""
    cfg = config or AsterixConfig()
    counts = errors if errors is not None else Counter()
    rows: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    sr, sa, se = cfg.sigma_range_m, math.radians(cfg.sigma_azimuth_deg), math.radians(cfg.sigma_elevation_deg)
    for t_ref, rec in records:
        if rec.cat != 48 and rec.cat != 1:
            continue
        f = rec.fields
        if "rho_nm" not in f:
            counts["no_position"] += 1
            continue
        tod = f.get("tod_s")
        if rec.cat == 1 and "truncated_tod_s" in f:
            if t_ref is None:
                counts["no_time"] += 1
                continue
            tod = float(truncated_tod_to_epoch(f["truncated_tod_s"], t_ref)) % _DAY
        if tod is None and t_ref is None:
            counts["no_time"] += 1
            continue
        t = float(tod_to_epoch(tod, t_ref if t_ref is not None else 43200.0)) if tod is not None else t_ref
        sensor = f"asterix-{f.get('sac', 0)}-{f.get('sic', 0)}"
        rng = float(f["rho_nm"]) * NM
        az = math.radians(float(f["theta_deg"]))
        height = math.nan
        if "height_3d_ft" in f:
            height = float(f["height_3d_ft"]) * FT
        elif "flight_level" in f and f.get("flight_level_valid", True):
            height = _pressure_alt_m(float(f["flight_level"]))
        radar = cfg.radars.get(sensor)
        if radar is not None and math.isfinite(height) and rng > 0:
            z: tuple[float, ...] = (rng, az, _elevation(rng, height, radar[2]))
            R = np.diag([sr * sr, sa * sa, se * se])
        else:
            z = (rng, az)
            R = np.diag([sr * sr, sa * sa])
        gs = f.get("ground_speed_kt")
        hd = f.get("heading_deg")
        attrs = (
            int(f.get("sac", -1)),
            int(f.get("sic", -1)),
            int(f.get("track_number", -1)),
            str(f.get("mode3a", "")),
            str(f.get("icao", "")),
            str(f.get("callsign", "")).strip(),
            math.nan if tod is None else float(tod),
            float(f.get("flight_level", math.nan)),
            height,
            math.nan if gs is None else float(gs) * _KT,
            math.nan if hd is None else math.radians(float(hd)),
        )
        rows.setdefault((sensor, len(z)), []).append((t, z, R, attrs, _cooperative(f)))
    names = (
        "sac",
        "sic",
        "track_number",
        "mode3a",
        "icao",
        "callsign",
        "tod_s",
        "flight_level",
        "height_m",
        "ground_speed_mps",
        "heading_rad",
    )
    return [_batch(sensor, "polar", group, names) for (sensor, _m), group in rows.items()]


def cat062_detections(
    records: Iterable[tuple[float | None, AsterixRecord]],
    site: Site,
    config: AsterixConfig | None = None,
    errors: Counter[str] | None = None,
) -> list[Detections]:
    """CAT062 system tracks as ``position`` detections in the site ENU frame, one batch per
    (SDPS, dimension): 3-D when the track carries a geometric altitude (I130) or a flight level
    (I136, else I135), 2-D otherwise. Attributes: ``sac``, ``sic``, ``track_number``, ``mode3a``,
    ``icao``, ``callsign``, ``tot_s``, ``vx_mps``/``vy_mps`` (I185, the SDPS plane's x/y),
    ``roc_mps``."""
    cfg = config or AsterixConfig()
    counts = errors if errors is not None else Counter()
    origin = None if cfg.sdps_origin is None else Site(*cfg.sdps_origin)
    rows: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    sh, sv = cfg.sigma_horizontal_m, cfg.sigma_vertical_m
    for t_ref, rec in records:
        if rec.cat != 62:
            continue
        f = rec.fields
        tot = f.get("tot_s")
        if tot is None and t_ref is None:
            counts["no_time"] += 1
            continue
        t = float(tod_to_epoch(tot, t_ref if t_ref is not None else 43200.0)) if tot is not None else t_ref
        alt = math.nan
        if "geometric_alt_ft" in f:
            alt = float(f["geometric_alt_ft"]) * FT
        elif "measured_fl" in f:
            alt = _pressure_alt_m(float(f["measured_fl"]))
        elif "barometric_fl" in f:
            alt = _pressure_alt_m(float(f["barometric_fl"]))
        if "lat_deg" in f:
            lat, lon = float(f["lat_deg"]), float(f["lon_deg"])
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                counts["invalid_position"] += 1
                continue
            enu = site.to_enu(lat, lon, 0.0 if math.isnan(alt) else alt)
        elif "x_m" in f and origin is not None:
            geo = origin.to_wgs84([float(f["x_m"]), float(f["y_m"])])
            enu = site.to_enu(geo[0], geo[1], 0.0 if math.isnan(alt) else alt)
        else:
            counts["no_position"] += 1
            continue
        sx = float(f.get("sigma_x_m", sh)) or sh
        sy = float(f.get("sigma_y_m", sh)) or sh
        if math.isnan(alt):
            z: tuple[float, ...] = (float(enu[0]), float(enu[1]))
            R = np.diag([sx * sx, sy * sy])
        else:
            z = (float(enu[0]), float(enu[1]), float(enu[2]))
            R = np.diag([sx * sx, sy * sy, sv * sv])
        sensor = f"asterix-{f.get('sac', 0)}-{f.get('sic', 0)}"
        roc = f.get("roc_ftpm")
        attrs = (
            int(f.get("sac", -1)),
            int(f.get("sic", -1)),
            int(f.get("track_number", -1)),
            str(f.get("mode3a", "")),
            str(f.get("icao", "")),
            str(f.get("callsign", "")).strip(),
            math.nan if tot is None else float(tot),
            float(f.get("vx_mps", math.nan)),
            float(f.get("vy_mps", math.nan)),
            math.nan if roc is None else float(roc) * FT / 60.0,
        )
        rows.setdefault((sensor, len(z)), []).append((t, z, R, attrs, bool(f.get("icao") or f.get("mode3a"))))
    names = (
        "sac",
        "sic",
        "track_number",
        "mode3a",
        "icao",
        "callsign",
        "tot_s",
        "vx_mps",
        "vy_mps",
        "roc_mps",
    )
    return [_batch(sensor, "position", group, names) for (sensor, _m), group in rows.items()]


#: Class likelihoods (fpv, multirotor, fixed_wing, bird, aircraft, unknown) of a target that
#: answers with a transponder (Mode 3/A, Mode S address): a manned aircraft, but never certain
#: so other sensors can overrule; primary-only plots say nothing about the class.
_LIK_TRANSPONDER = (0.01, 0.01, 0.02, 0.01, 0.9, 0.05)
_LIK_NONE = (1 / 6,) * 6


def _cooperative(f: Mapping[str, Any]) -> bool:
    # CAT048 TYP >= 2 and CAT001 SSR/PSR >= 2 both mean a secondary (transponder) detection.
    return bool(f.get("icao") or f.get("mode3a") or f.get("typ", 1) >= 2 or f.get("ssr_psr", 0) >= 2)


#: CAT021 emitter categories (I021/020) of things that are not manned aircraft in the air:
#: 13 unmanned aerial vehicle; 20-24 surface vehicles and obstacles.
_ECAT_UAV = 13
_ECAT_SURFACE = frozenset({20, 21, 22, 23, 24})
_LIK_UAV = (0.05, 0.4, 0.45, 0.01, 0.04, 0.05)


def cat021_detections(
    records: Iterable[tuple[float | None, AsterixRecord]],
    site: Site,
    config: AsterixConfig | None = None,
    errors: Counter[str] | None = None,
) -> list[Detections]:
    """CAT021 ADS-B target reports as ``position`` detections in the site frame, one batch
    per (ground station, dimension): 3-D with the geometric height (I140), else the flight
    level (I145, pressure altitude). Attributes: ``sac``, ``sic``, ``icao``, ``callsign``,
    ``mode3a``, ``tod_s``, ``ecat``, ``ground_bit``, ``ground_speed_mps``, ``track_rad``,
    ``vertical_rate_mps``; ``cls_lik`` favours aircraft, or UAV classes for emitter category 13."""
    cfg = config or AsterixConfig()
    counts = errors if errors is not None else Counter()
    rows: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    sh, sv = cfg.sigma_horizontal_m, cfg.sigma_vertical_m
    for t_ref, rec in records:
        if rec.cat != 21:
            continue
        f = rec.fields
        tod = f.get("tod_s")
        if tod is None and t_ref is None:
            counts["no_time"] += 1
            continue
        if "lat_deg" not in f:
            counts["no_position"] += 1
            continue
        lat, lon = float(f["lat_deg"]), float(f["lon_deg"])
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            counts["invalid_position"] += 1
            continue
        t = float(tod_to_epoch(tod, t_ref if t_ref is not None else 43200.0)) if tod is not None else t_ref
        alt = math.nan
        if "geometric_height_ft" in f:
            alt = float(f["geometric_height_ft"]) * FT
        elif "flight_level" in f:
            alt = _pressure_alt_m(float(f["flight_level"]))
        enu = site.to_enu(lat, lon, 0.0 if math.isnan(alt) else alt)
        if math.isnan(alt):
            z: tuple[float, ...] = (float(enu[0]), float(enu[1]))
            R = np.diag([sh * sh, sh * sh])
        else:
            z = (float(enu[0]), float(enu[1]), float(enu[2]))
            R = np.diag([sh * sh, sh * sh, sv * sv])
        gs, trk, vr = f.get("ground_speed_kt"), f.get("track_deg"), f.get("vertical_rate_ftpm")
        ecat = int(f.get("ecat", 0))
        attrs = (
            int(f.get("sac", -1)),
            int(f.get("sic", -1)),
            str(f.get("icao", "")),
            str(f.get("callsign", "")).strip(),
            str(f.get("mode3a", "")),
            math.nan if tod is None else float(tod),
            ecat,
            bool(f.get("ground_bit", False)),
            math.nan if gs is None else float(gs) * _KT,
            math.nan if trk is None else math.radians(float(trk)),
            math.nan if vr is None else float(vr) * FT / 60.0,
        )
        lik = _LIK_UAV if ecat == _ECAT_UAV else _LIK_NONE if ecat in _ECAT_SURFACE else _LIK_TRANSPONDER
        sensor = f"asterix-{f.get('sac', 0)}-{f.get('sic', 0)}"
        rows.setdefault((sensor, len(z)), []).append((t, z, R, attrs, lik))
    names = (
        "sac",
        "sic",
        "icao",
        "callsign",
        "mode3a",
        "tod_s",
        "ecat",
        "ground_bit",
        "ground_speed_mps",
        "track_rad",
        "vertical_rate_mps",
    )
    return [_batch(sensor, "position", group, names) for (sensor, _m), group in rows.items()]


def _batch(sensor: str, kind: Any, group: list[tuple[Any, ...]], names: tuple[str, ...]) -> Detections:
    cols = list(zip(*(row[3] for row in group)))
    attrs = {name: np.asarray(col) for name, col in zip(names, cols)}
    return Detections(
        sensor,
        kind,
        np.array([row[0] for row in group]),
        np.array([row[1] for row in group]),
        np.stack([row[2] for row in group]),
        np.array(
            [
                row[4] if isinstance(row[4], tuple) else _LIK_TRANSPONDER if row[4] else _LIK_NONE
                for row in group
            ]
        ),
        attrs,
    )


def records_to_detections(
    records: Iterable[tuple[float | None, AsterixRecord]],
    site: Site,
    config: AsterixConfig | None = None,
    errors: Counter[str] | None = None,
) -> list[Detections]:
    """CAT048/CAT001, CAT062 and CAT021 records of one stream into their batches, each
    time-sorted (service messages, CAT002/034/065, carry no target)."""
    recs = list(records)
    out = (
        cat048_detections(recs, config, errors)
        + cat062_detections(recs, site, config, errors)
        + cat021_detections(recs, site, config, errors)
    )
    return [d.sorted() for d in out]


def _is_capture(head: bytes) -> bool:
    return head[:4] in (
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
        b"\x0a\x0d\x0d\x0a",
    )


def read_asterix_file(
    path: str | Path,
    errors: Counter[str] | None = None,
    t_ref: float | None = None,
    framing: Literal["auto", "plain", "oradis", "gps"] = "auto",
) -> list[tuple[float | None, AsterixRecord]]:
    """Every decodable record of a raw ASTERIX file, a "GPS" recording, or a pcap/pcapng capture
    of UDP ASTERIX (plain, or ORADIS-framed).

    A capture's packet times fix each record's day; for a raw file ``t_ref`` does (``None``:
    times stay seconds of day 0, i.e. 1970-01-01); a GPS recording's block times are seconds
    of the day, put on ``t_ref``'s day. ``framing="auto"`` takes plain blocks when a payload
    (file) is exactly a chain of them, else ORADIS (GPS) framing when that chains exactly.
    Bad frames and blocks are counted in ``errors``; an unreadable or damaged capture file
    raises :class:`FormatError`.
    """
    from skyfence.sources.pcap import read_packets

    counts = errors if errors is not None else Counter()
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror or exc}", path=p) from None

    def chunks() -> Iterator[tuple[float | None, bytes]]:
        if _is_capture(head):
            for pkt in read_packets(p):
                try:
                    payload = udp_payload(pkt.data, pkt.linktype)
                except DecodeError as exc:
                    counts[exc.reason] += 1
                    continue
                if framing == "oradis" or (
                    framing == "auto"
                    and not _chains(payload, 0, 0, 0)
                    and _chains(payload, 0, ORADIS_HEADER, 0)
                ):
                    for _stamp, block in oradis_blocks(payload, counts):
                        yield pkt.t, block
                else:
                    yield pkt.t, payload
            return
        data = p.read_bytes()
        if framing == "gps" or (
            framing == "auto"
            and not _chains(data, 0, 0, 0)
            and _chains(data, GPS_FILE_HEADER, 0, GPS_TRAILER)
        ):
            for stamp, block in gps_blocks(data, counts):
                yield (stamp if t_ref is None else float(tod_to_epoch(stamp, t_ref))), block
        else:
            yield t_ref, data

    return list(iter_records(chunks(), counts))
