"""ADS-B / Mode S into `position` Detections with ICAO identity, so cooperative aircraft are
labelled (and never alerted on) by the tracker and the assessor.

Inputs: SBS/BaseStation text (``MSG,1..8`` lines, positions already decoded by the receiver)
and Beast binary streams (``0x1a`` framing with escape doubling; frame types ``'1'`` Mode A/C,
``'2'`` Mode S short, ``'3'`` Mode S long; 48-bit 12 MHz MLAT counter and a signal byte).

Mode S decoding is written here as plain functions of bytes in the style of pyModeS: CRC-24
parity (address/parity for DF0/4/5/16/20/21), 13-bit altitude codes with Gillham, identity
codes, and the extended squitter (DF17/18) identification, airborne/surface position and
velocity messages. CPR positions are resolved per aircraft with the globally unambiguous
even/odd pair first, then locally from the last resolved position. Golden tests compare with
pyModeS's golden corpus and with dump1090's decoding of a real capture.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from skyfence.errors import DecodeError, FormatError
from skyfence.geo import Site
from skyfence.model.detections import Detections

__all__ = [
    "DETECTION_ATTRS",
    "AdsbConfig",
    "AdsbDecoder",
    "BeastFrame",
    "PositionResolver",
    "SbsMessage",
    "altitude_ac13",
    "cpr_global_airborne",
    "cpr_local",
    "cpr_nl",
    "crc24",
    "decode_message",
    "demodulate_iq",
    "feed_beast",
    "iter_beast",
    "parse_sbs_line",
    "read_adsb_file",
    "squawk_id13",
]

_FT = 0.3048
_KT = 1852.0 / 3600.0
_FPM = _FT / 60.0
_CHARS = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


# --------------------------------------------------------------------------------- CRC-24
def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = ((crc << 1) ^ 0xFFF409) if crc & 0x800000 else crc << 1
        table.append(crc & 0xFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc24(msg: bytes) -> int:
    """Mode S parity remainder of a whole message (data and parity field): 0 for a clean
    DF11 (II=0) or DF17/18; the aircraft address for the address/parity formats."""
    table = _CRC_TABLE
    crc = 0
    for b in msg[:-3]:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[((crc >> 16) ^ b) & 0xFF]
    return crc ^ int.from_bytes(msg[-3:], "big")


# ------------------------------------------------------------------------ altitude, squawk
def _gillham(code13: int) -> int | None:
    """Gillham (Gray-coded, 100 ft steps) altitude of a 13-bit AC field with M=0, Q=0: feet
    or None when the code is illegal."""
    # 13 bits, MSB first: C1 A1 C2 A2 C4 A4 M B1 Q B2 D2 B4 D4.
    bit = [(code13 >> (12 - i)) & 1 for i in range(13)]
    c1, a1, c2, a2, c4, a4, _m, b1, _q, b2, d2, b4, d4 = bit
    one_hundreds = (c1 << 2) | (c2 << 1) | c4
    five_hundreds = (d2 << 7) | (d4 << 6) | (a1 << 5) | (a2 << 4) | (a4 << 3) | (b1 << 2) | (b2 << 1) | b4
    # Gray to binary.
    fh = 0
    g = five_hundreds
    while g:
        fh ^= g
        g >>= 1
    oh = 0
    g = one_hundreds
    while g:
        oh ^= g
        g >>= 1
    if oh in (0, 5, 6):
        return None
    if oh == 7:
        oh = 5
    if fh % 2:
        oh = 6 - oh
    alt = fh * 500 + oh * 100 - 1300
    return alt if alt >= -1200 else None


def altitude_ac13(code13: int) -> int | None:
    """Feet from the 13-bit altitude code of DF0/4/16/20 (None: not available or metric)."""
    if code13 == 0:
        return None
    if code13 & 0x40:  # M bit: metric units, not used by civil transponders
        return None
    if code13 & 0x10:  # Q bit: 25 ft steps
        n = ((code13 & 0x1F80) >> 2) | ((code13 & 0x20) >> 1) | (code13 & 0x0F)
        return n * 25 - 1000
    return _gillham(code13)


def _altitude_ac12(code12: int) -> int | None:
    if code12 == 0:
        return None
    if code12 & 0x10:
        n = ((code12 & 0xFE0) >> 1) | (code12 & 0x0F)
        return n * 25 - 1000
    # Insert M=0 at its position to reuse the 13-bit Gillham decoder.
    return _gillham(((code12 & 0xFC0) << 1) | (code12 & 0x3F))


def squawk_id13(code13: int) -> str:
    """Four octal digits of the 13-bit identity code of DF5/21."""
    bit = [(code13 >> (12 - i)) & 1 for i in range(13)]
    c1, a1, c2, a2, c4, a4, _x, b1, d1, b2, d2, b4, d4 = bit
    a = (a4 << 2) | (a2 << 1) | a1
    b = (b4 << 2) | (b2 << 1) | b1
    c = (c4 << 2) | (c2 << 1) | c1
    d = (d4 << 2) | (d2 << 1) | d1
    return f"{a}{b}{c}{d}"


# ------------------------------------------------------------------------------ messages
def decode_message(msg: bytes) -> dict[str, Any]:
    """Fields of one Mode S message (7 or 14 octets), pyModeS-style names.

    Always: ``df``, ``icao`` (lower-case hex; for address/parity formats the address the parity
    recovers, which is only trustworthy if the aircraft is known), ``crc_ok`` (DF11/17/18
    remainder check). DF17/18 add ``typecode`` and per type ``callsign``/``category``,
    ``altitude`` (ft; ``altitude_gnss`` metres for TC20-22), ``cpr_format``/``cpr_lat``/
    ``cpr_lon``, ``surface``; velocity ``groundspeed`` (kt), ``track`` (deg), ``v_ew``/``v_ns``
    (kt, east/north positive), ``vertical_rate`` (ft/min), or ``airspeed``/``heading``.
    Raises :class:`DecodeError` for a wrong length, an unknown format or a bad CRC.
    """
    n = len(msg)
    if n not in (7, 14):
        raise DecodeError("bad_length", f"Mode S message of {n} octets")
    df = msg[0] >> 3
    if df >= 24:
        df = 24  # DF24 (Comm-D) uses only two leading bits
    want = 14 if df >= 16 else 7
    if n != want:
        raise DecodeError("bad_length", f"DF{df} needs {want} octets, got {n}")
    rem = crc24(msg)
    out: dict[str, Any] = {"df": df}
    if df in (11, 17, 18):
        ok = rem == 0 if df != 11 else rem & ~0x7F == 0
        if not ok:
            raise DecodeError("bad_crc", f"DF{df} parity remainder {rem:06x}")
        out["icao"] = msg[1:4].hex()
        out["crc_ok"] = True
    else:
        out["icao"] = f"{rem:06x}"
        out["crc_ok"] = False
    body = int.from_bytes(msg, "big")
    if df in (0, 4, 16, 20):
        code = (body >> (n * 8 - 32)) & 0x1FFF
        alt = altitude_ac13(code)
        if alt is not None:
            out["altitude"] = alt
    elif df in (5, 21):
        out["squawk"] = squawk_id13((body >> (n * 8 - 32)) & 0x1FFF)
    if df in (20, 21) and msg[4] == 0x20:
        # Comm-B BDS 2,0 (aircraft identification) announces itself in its first octet; it
        # is taken only when all eight characters are legal, as other registers can start so.
        mb = int.from_bytes(msg[4:11], "big")
        chars = "".join(_CHARS[(mb >> (42 - 6 * i)) & 0x3F] for i in range(8))
        if "#" not in chars and chars.strip():
            out["callsign"] = chars.strip()
    if df in (17, 18):
        if df == 18 and msg[0] & 7 not in (0, 1, 6):
            return out  # non-ICAO / reserved control fields: no ADS-B ME to read
        _decode_es(int.from_bytes(msg[4:11], "big"), out)
    return out


def _me(me: int, start: int, length: int) -> int:
    """ME bits ``start``..``start+length-1`` (1-based, as in DO-260)."""
    return (me >> (56 - start - length + 1)) & ((1 << length) - 1)


def _decode_es(me: int, out: dict[str, Any]) -> None:
    tc = _me(me, 1, 5)
    out["typecode"] = tc
    if 1 <= tc <= 4:
        out["category"] = _me(me, 6, 3)
        chars = "".join(_CHARS[_me(me, 9 + 6 * i, 6)] for i in range(8))
        out["callsign"] = chars.replace("#", "").strip()
    elif 5 <= tc <= 8 or 9 <= tc <= 18 or 20 <= tc <= 22:
        out["cpr_format"] = _me(me, 22, 1)
        out["cpr_lat"] = _me(me, 23, 17)
        out["cpr_lon"] = _me(me, 40, 17)
        out["surface"] = tc <= 8
        if 5 <= tc <= 8:
            mov = _me(me, 6, 7)
            gs = _surface_speed(mov)
            if gs is not None:
                out["groundspeed"] = gs
            if _me(me, 13, 1):
                out["track"] = _me(me, 14, 7) * 360.0 / 128.0
        elif tc <= 18:
            alt = _altitude_ac12(_me(me, 9, 12))
            if alt is not None:
                out["altitude"] = alt
        else:
            code = _me(me, 9, 12)
            if code:
                out["altitude_gnss"] = float(code)
    elif tc == 19:
        _decode_velocity(me, out)


def _surface_speed(mov: int) -> float | None:
    """Knots from the surface movement code (DO-260B table, piecewise linear)."""
    if mov == 0 or mov >= 125:
        return None
    if mov == 1:
        return 0.0
    steps: tuple[tuple[int, float, float], ...] = (
        (2, 0.125, 0.125),
        (9, 1.0, 0.25),
        (13, 2.0, 0.5),
        (39, 15.0, 1.0),
        (94, 70.0, 2.0),
        (109, 100.0, 5.0),
        (124, 175.0, 0.0),
    )
    for lo, base, step in reversed(steps):
        if mov >= lo:
            return base + (mov - lo) * step
    return None


def _decode_velocity(me: int, out: dict[str, Any]) -> None:
    st = _me(me, 6, 3)
    out["velocity_subtype"] = st
    vr = _me(me, 38, 9)
    if vr:
        out["vertical_rate"] = (-1 if _me(me, 37, 1) else 1) * (vr - 1) * 64
    if st in (1, 2):
        scale = 4 if st == 2 else 1
        vew, vns = _me(me, 15, 10), _me(me, 26, 10)
        if vew == 0 or vns == 0:
            return
        vx = (vew - 1) * scale * (-1 if _me(me, 14, 1) else 1)
        vy = (vns - 1) * scale * (-1 if _me(me, 25, 1) else 1)
        out["v_ew"], out["v_ns"] = float(vx), float(vy)
        out["groundspeed"] = math.hypot(vx, vy)
        out["track"] = math.degrees(math.atan2(vx, vy)) % 360.0
    elif st in (3, 4):
        if _me(me, 14, 1):
            out["heading"] = _me(me, 15, 10) * 360.0 / 1024.0
        speed = _me(me, 26, 10)
        if speed:
            out["airspeed"] = float((speed - 1) * (4 if st == 4 else 1))
            out["airspeed_type"] = "TAS" if _me(me, 25, 1) else "IAS"


# ------------------------------------------------------------------------------------ CPR
_NZ = 15


def cpr_nl(lat: float) -> int:
    """Number of longitude zones at a latitude (closed form of the CPR table)."""
    a = abs(lat)
    if a == 0:
        return 59
    if a == 87:
        return 2
    if a > 87:
        return 1
    num = 1.0 - math.cos(math.pi / (2 * _NZ))
    den = math.cos(math.pi / 180.0 * a) ** 2
    return math.floor(2.0 * math.pi / math.acos(1.0 - num / den))


def cpr_global_airborne(
    lat_even: int, lon_even: int, lat_odd: int, lon_odd: int, odd_is_latest: bool
) -> tuple[float, float] | None:
    """Globally unambiguous position from an even/odd airborne pair (17-bit CPR values);
    the most recent frame's position is returned; None when the pair straddles a latitude
    zone boundary (the two latitudes have different NL)."""
    le, lo = lat_even / 131072.0, lat_odd / 131072.0
    ge, go = lon_even / 131072.0, lon_odd / 131072.0
    j = math.floor(59 * le - 60 * lo + 0.5)
    lat_e = 360.0 / 60 * (j % 60 + le)
    lat_o = 360.0 / 59 * (j % 59 + lo)
    if lat_e >= 270:
        lat_e -= 360
    if lat_o >= 270:
        lat_o -= 360
    if not (-90 <= lat_e <= 90 and -90 <= lat_o <= 90):
        return None
    nl = cpr_nl(lat_e)
    if nl != cpr_nl(lat_o):
        return None
    lat = lat_o if odd_is_latest else lat_e
    ni = max(nl - (1 if odd_is_latest else 0), 1)
    m = math.floor(ge * (nl - 1) - go * nl + 0.5)
    lon = 360.0 / ni * (m % ni + (go if odd_is_latest else ge))
    if lon >= 180:
        lon -= 360
    return lat, lon


def cpr_local(
    ref_lat: float, ref_lon: float, cpr_lat: int, cpr_lon: int, odd: bool, surface: bool = False
) -> tuple[float, float]:
    """Position from one frame and a reference within half a zone (180 NM airborne, 45 NM
    surface)."""
    i = 1 if odd else 0
    span = 90.0 if surface else 360.0
    yz, xz = cpr_lat / 131072.0, cpr_lon / 131072.0
    dlat = span / (60 - i)
    j = math.floor(ref_lat / dlat) + math.floor((ref_lat % dlat) / dlat - yz + 0.5)
    lat = dlat * (j + yz)
    ni = cpr_nl(lat) - i
    dlon = span / ni if ni > 0 else span
    m = math.floor(ref_lon / dlon) + math.floor((ref_lon % dlon) / dlon - xz + 0.5)
    lon = dlon * (m + xz)
    return lat, lon


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371000.0 * math.asin(min(1.0, math.sqrt(a)))


@dataclass(slots=True)
class _Aircraft:
    even: tuple[float, int, int] | None = None
    odd: tuple[float, int, int] | None = None
    pos: tuple[float, float, float] | None = None  # t, lat, lon
    callsign: str = ""
    squawk: str = ""
    v_ew: float = math.nan
    v_ns: float = math.nan
    vrate: float = math.nan
    altitude_ft: float = math.nan
    uav: bool = False


class AdsbConfig(BaseModel):
    """CPR resolution windows and the measurement noise of ADS-B positions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor_id: str = "adsb"
    #: an even/odd pair further apart than this is not combined (aircraft may have moved a zone)
    pair_window_s: float = Field(10.0, gt=0)
    #: a resolved position older than this is not used as a local-decoding reference
    local_window_s: float = Field(60.0, gt=0)
    #: positions implying a faster jump than this are rejected (CPR mis-decode or spoof)
    max_speed_mps: float = Field(800.0, gt=0)
    #: positions further than this from the receiver site are rejected (None: no check)
    max_range_m: float | None = Field(700_000.0, gt=0)
    sigma_horizontal_m: float = Field(30.0, gt=0)
    sigma_vertical_m: float = Field(45.0, gt=0)


class PositionResolver:
    """Per-aircraft CPR state: global even/odd pairs, then local from the last position."""

    def __init__(self, config: AdsbConfig | None = None, site: Site | None = None) -> None:
        self.config = config or AdsbConfig()
        self.site = site
        self.aircraft: dict[str, _Aircraft] = {}

    def state(self, icao: str) -> _Aircraft:
        ac = self.aircraft.get(icao)
        if ac is None:
            ac = self.aircraft[icao] = _Aircraft()
        return ac

    def resolve(self, t: float, icao: str, fields: dict[str, Any]) -> tuple[float, float] | None:
        """Latitude/longitude of a position message, or None (not yet resolvable / rejected)."""
        cfg = self.config
        ac = self.state(icao)
        odd = bool(fields["cpr_format"])
        lat_c, lon_c = int(fields["cpr_lat"]), int(fields["cpr_lon"])
        surface = bool(fields.get("surface", False))
        if odd:
            ac.odd = (t, lat_c, lon_c)
        else:
            ac.even = (t, lat_c, lon_c)
        pos: tuple[float, float] | None = None
        if surface:
            # Surface CPR is ambiguous by 90 deg: only local decoding against the receiver.
            if self.site is None:
                return None
            ref = (ac.pos[1], ac.pos[2]) if ac.pos is not None else (self.site.lat, self.site.lon)
            pos = cpr_local(ref[0], ref[1], lat_c, lon_c, odd, surface=True)
        elif ac.pos is not None and t - ac.pos[0] <= cfg.local_window_s:
            pos = cpr_local(ac.pos[1], ac.pos[2], lat_c, lon_c, odd)
            if not self._plausible(ac, t, pos):
                ac.pos = None
                pos = None
        paired = (
            ac.even is not None and ac.odd is not None and abs(ac.even[0] - ac.odd[0]) <= cfg.pair_window_s
        )
        if pos is None and not surface and paired and ac.even is not None and ac.odd is not None:
            pos = cpr_global_airborne(ac.even[1], ac.even[2], ac.odd[1], ac.odd[2], odd)
            if pos is not None and not self._plausible(ac, t, pos):
                pos = None
        if pos is None:
            return None
        if (
            self.site is not None
            and cfg.max_range_m is not None
            and _distance_m(self.site.lat, self.site.lon, pos[0], pos[1]) > cfg.max_range_m
        ):
            return None
        ac.pos = (t, pos[0], pos[1])
        return pos

    def _plausible(self, ac: _Aircraft, t: float, pos: tuple[float, float]) -> bool:
        if ac.pos is None:
            return True
        dt = max(abs(t - ac.pos[0]), 1.0)
        return _distance_m(ac.pos[1], ac.pos[2], pos[0], pos[1]) <= self.config.max_speed_mps * dt + 2000.0


# ------------------------------------------------------------------------ stream framing
@dataclass(frozen=True, slots=True)
class BeastFrame:
    """One Beast frame: type ``'1'``/``'2'``/``'3'``, 48-bit MLAT counter (12 MHz), signal
    level (0-255, amplitude), and the message bytes (2 for Mode A/C, 7 or 14 for Mode S)."""

    kind: str
    mlat_ticks: int
    signal: int
    msg: bytes


_BEAST_LEN = {0x31: 2, 0x32: 7, 0x33: 14}


def iter_beast(data: bytes, errors: Counter[str] | None = None) -> Iterator[BeastFrame]:
    """Beast frames of a byte stream; garbage between frames, unknown types and truncated
    frames are counted by reason and skipped (resynchronising on the next lone ``0x1a``)."""
    counts = errors if errors is not None else Counter()
    n = len(data)
    i = 0
    while i < n:
        if data[i] != 0x1A:
            j = data.find(b"\x1a", i)
            counts["beast_garbage"] += 1
            if j < 0:
                return
            i = j
            continue
        if i + 1 >= n:
            counts["truncated"] += 1
            return
        ftype = data[i + 1]
        if ftype == 0x1A:  # an escaped data byte outside a frame: resync
            counts["beast_garbage"] += 1
            i += 2
            continue
        want = _BEAST_LEN.get(ftype)
        if want is None:
            counts["beast_unknown_type"] += 1
            i += 2
            continue
        need = 7 + want
        body = bytearray()
        k = i + 2
        ok = True
        while len(body) < need:
            if k >= n:
                counts["truncated"] += 1
                return
            b = data[k]
            if b == 0x1A:
                if k + 1 < n and data[k + 1] == 0x1A:
                    k += 2
                    body.append(0x1A)
                    continue
                ok = False  # a new frame starts inside this one: it was cut short
                break
            body.append(b)
            k += 1
        if not ok:
            counts["truncated"] += 1
            i = k
            continue
        yield BeastFrame(chr(ftype), int.from_bytes(body[0:6], "big"), body[6], bytes(body[7:]))
        i = k


@dataclass(frozen=True, slots=True)
class SbsMessage:
    """The fields of one BaseStation ``MSG`` line that skyfence uses (None when empty)."""

    transmission: int
    icao: str
    t: float | None
    callsign: str | None = None
    altitude_ft: float | None = None
    groundspeed_kt: float | None = None
    track_deg: float | None = None
    lat: float | None = None
    lon: float | None = None
    vertical_rate_fpm: float | None = None
    squawk: str | None = None
    on_ground: bool | None = None


def _sbs_time(date: str, clock: str) -> float | None:
    """``YYYY/MM/DD`` and ``HH:MM:SS.sss`` (read as UTC) to epoch seconds."""
    if not date or not clock:
        return None
    try:
        y, mo, d = (int(x) for x in date.split("/"))
        hh, mm, ss = clock.split(":")
        days = _days_from_civil(y, mo, d)
        return days * 86400.0 + int(hh) * 3600.0 + int(mm) * 60.0 + float(ss)
    except ValueError:
        raise DecodeError("sbs_bad_time", f"{date} {clock}") from None


def _days_from_civil(y: int, m: int, d: int) -> int:
    if not (1 <= m <= 12 and 1 <= d <= 31):
        raise ValueError("date out of range")
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_sbs_line(line: str) -> SbsMessage | None:
    """One BaseStation line; None for non-``MSG`` lines (``SEL``, ``ID``, ``AIR``, ``STA``,
    ``CLK``, blank). Raises DecodeError when a ``MSG`` line is malformed."""
    s = line.strip()
    if not s.startswith("MSG"):
        return None
    f = s.split(",")
    if len(f) < 11:
        raise DecodeError("sbs_short_line", f"{len(f)} fields")
    try:
        tx = int(f[1])
    except ValueError:
        raise DecodeError("sbs_bad_field", f"transmission type {f[1]!r}") from None
    if not 1 <= tx <= 8:
        raise DecodeError("sbs_bad_field", f"transmission type {tx}")
    icao = f[4].strip().lower()
    if len(icao) != 6 or any(c not in "0123456789abcdef" for c in icao):
        raise DecodeError("sbs_bad_field", f"hex ident {f[4]!r}")
    f += [""] * (22 - len(f))

    def num(k: int) -> float | None:
        v = f[k].strip()
        if not v:
            return None
        try:
            x = float(v)
        except ValueError:
            raise DecodeError("sbs_bad_field", f"field {k + 1} {v!r}") from None
        if not math.isfinite(x):
            raise DecodeError("sbs_bad_field", f"field {k + 1} {v!r}")
        return x

    lat, lon = num(14), num(15)
    if (lat is None) != (lon is None) or (
        lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)
    ):
        raise DecodeError("sbs_bad_position", f"{f[14]!r},{f[15]!r}")
    ground = f[21].strip()
    return SbsMessage(
        transmission=tx,
        icao=icao,
        t=_sbs_time(f[6].strip(), f[7].strip()) or _sbs_time(f[8].strip(), f[9].strip()),
        callsign=f[10].strip() or None,
        altitude_ft=num(11),
        groundspeed_kt=num(12),
        track_deg=num(13),
        lat=lat,
        lon=lon,
        vertical_rate_fpm=num(16),
        squawk=f[17].strip() or None,
        on_ground=None if not ground else ground not in ("0", ""),
    )


# ------------------------------------------------------------------------ -> Detections
#: attribute columns of ADS-B detections
DETECTION_ATTRS = (
    "icao",
    "callsign",
    "squawk",
    "groundspeed_mps",
    "track_rad",
    "ve_mps",
    "vn_mps",
    "vertical_rate_mps",
    "altitude_source",
    "rssi_dbfs",
    "mlat_ticks",
    "uav",
)

#: Class likelihoods (CLASSES order: fpv, multirotor, fixed_wing, bird, aircraft, unknown) of an
#: ADS-B emitter: a transponder that broadcasts its position is a manned aircraft unless its
#: emitter category says unmanned (B6); never zero, so other sensors can still overrule.
_LIK_AIRCRAFT = (0.01, 0.01, 0.02, 0.01, 0.9, 0.05)
_LIK_UAV = (0.05, 0.4, 0.45, 0.01, 0.04, 0.05)


@dataclass(slots=True)
class AdsbDecoder:
    """A stream of ADS-B inputs (Mode S messages or SBS lines) into detection rows; call
    :meth:`detections` for the batch. Decode errors are counted in ``errors`` by reason."""

    site: Site
    config: AdsbConfig = field(default_factory=AdsbConfig)
    errors: Counter[str] = field(default_factory=Counter)
    resolver: PositionResolver = field(init=False)
    _rows: list[tuple[Any, ...]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.resolver = PositionResolver(self.config, self.site)

    def feed_modes(
        self, t: float, msg: bytes, rssi_dbfs: float = math.nan, mlat_ticks: int = -1
    ) -> dict[str, Any] | None:
        """Decode one Mode S message; returns its fields or None (counted) when it fails."""
        try:
            fields = decode_message(msg)
        except DecodeError as exc:
            self.errors[exc.reason] += 1
            return None
        df = fields["df"]
        if df not in (17, 18):
            return fields
        icao = fields["icao"]
        ac = self.resolver.state(icao)
        if "callsign" in fields:
            ac.callsign = fields["callsign"]
        if fields.get("typecode") == 3 and fields.get("category") == 6:
            ac.uav = True  # emitter category B6: unmanned aerial vehicle
        if "v_ew" in fields:
            ac.v_ew, ac.v_ns = fields["v_ew"] * _KT, fields["v_ns"] * _KT
        if "vertical_rate" in fields:
            ac.vrate = fields["vertical_rate"] * _FPM
        if "cpr_lat" in fields:
            pos = self.resolver.resolve(t, icao, fields)
            if pos is None:
                self.errors["cpr_unresolved"] += 1
                return fields
            if "altitude_gnss" in fields:
                alt_m, source = float(fields["altitude_gnss"]), "gnss"
            elif "altitude" in fields:
                alt_m, source = float(fields["altitude"]) * _FT, "baro"
            elif fields.get("surface"):
                alt_m, source = self.site.alt, "surface"
            else:
                self.errors["no_altitude"] += 1
                return fields
            self._add(t, icao, pos[0], pos[1], alt_m, source, rssi_dbfs, mlat_ticks)
        return fields

    def feed_sbs(self, line: str) -> SbsMessage | None:
        try:
            m = parse_sbs_line(line)
        except DecodeError as exc:
            self.errors[exc.reason] += 1
            return None
        if m is None:
            return None
        ac = self.resolver.state(m.icao)
        if m.callsign:
            ac.callsign = m.callsign
        if m.squawk:
            ac.squawk = m.squawk
        if m.groundspeed_kt is not None and m.track_deg is not None:
            trk = math.radians(m.track_deg)
            gs = m.groundspeed_kt * _KT
            ac.v_ew, ac.v_ns = gs * math.sin(trk), gs * math.cos(trk)
        if m.vertical_rate_fpm is not None:
            ac.vrate = m.vertical_rate_fpm * _FPM
        if m.altitude_ft is not None:
            ac.altitude_ft = m.altitude_ft
        if m.lat is not None and m.lon is not None:
            if m.t is None:
                self.errors["sbs_no_time"] += 1
                return m
            if math.isnan(ac.altitude_ft):
                self.errors["no_altitude"] += 1
                return m
            self._add(m.t, m.icao, m.lat, m.lon, ac.altitude_ft * _FT, "baro", math.nan, -1)
        return m

    def _add(
        self,
        t: float,
        icao: str,
        lat: float,
        lon: float,
        alt_m: float,
        source: str,
        rssi: float,
        ticks: int,
    ) -> None:
        ac = self.resolver.state(icao)
        gs = math.hypot(ac.v_ew, ac.v_ns)
        trk = math.atan2(ac.v_ew, ac.v_ns) % (2 * math.pi) if math.isfinite(gs) else math.nan
        self._rows.append(
            (
                t,
                lat,
                lon,
                alt_m,
                icao,
                ac.callsign,
                ac.squawk,
                gs,
                trk,
                ac.v_ew,
                ac.v_ns,
                ac.vrate,
                source,
                rssi,
                ticks,
                ac.uav,
            )
        )

    def detections(self) -> Detections:
        """All rows so far as one time-sorted ``position`` batch (3-D ENU in the site frame)."""
        cfg = self.config
        rows = self._rows
        if not rows:
            return Detections.empty(cfg.sensor_id, "position", 3)
        cols = list(zip(*rows))
        enu = self.site.to_enu(np.array(cols[1]), np.array(cols[2]), np.array(cols[3]))
        n = len(rows)
        R = np.zeros((n, 3, 3))
        R[:, 0, 0] = R[:, 1, 1] = cfg.sigma_horizontal_m**2
        R[:, 2, 2] = cfg.sigma_vertical_m**2
        attrs = {
            name: np.asarray(col, dtype=np.int64 if name == "mlat_ticks" else None)
            for name, col in zip(DETECTION_ATTRS, cols[4:])
        }
        lik = np.where(attrs["uav"][:, None], np.array(_LIK_UAV)[None, :], np.array(_LIK_AIRCRAFT)[None, :])
        return Detections(cfg.sensor_id, "position", np.array(cols[0]), enu, R, lik, attrs).sorted()


def read_adsb_file(
    path: str | Path,
    fmt: str,
    site: Site,
    config: AdsbConfig | None = None,
    errors: Counter[str] | None = None,
    t0: float = 0.0,
) -> Detections:
    """Decode an SBS text file (``fmt="sbs"``), a Beast binary file (``fmt="beast"``) or a raw
    1090 MHz recording (``fmt="iq"``: 2 MS/s interleaved unsigned 8-bit I/Q).

    Beast MLAT counters are relative: a frame's time is ``t0`` plus its counter (12 MHz)
    since the first frame; IQ times are ``t0`` plus the sample index over 2 MHz. Raises
    FormatError when the file cannot be read."""
    p = Path(path)
    dec = AdsbDecoder(site, config or AdsbConfig(), errors if errors is not None else Counter())
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror or exc}", path=p) from None
    if fmt == "sbs":
        for line in raw.decode("utf-8", errors="replace").splitlines():
            dec.feed_sbs(line)
    elif fmt == "beast":
        feed_beast(dec, iter_beast(raw, dec.errors), t0)
    elif fmt == "iq":
        # 2 MS/s interleaved unsigned 8-bit I/Q (RTL-SDR): sample index gives the time.
        for pos, msg in demodulate_iq(np.frombuffer(raw, dtype=np.uint8)):
            dec.feed_modes(t0 + pos / 2e6, msg)
    else:
        raise FormatError(f"unknown ADS-B format {fmt!r}; expected sbs, beast or iq", path=p)
    return dec.detections()


def feed_beast(dec: AdsbDecoder, frames: Iterable[BeastFrame], t0: float = 0.0) -> None:
    """Feed Beast frames to a decoder (Mode A/C frames carry no identity and are skipped)."""
    first: int | None = None
    for fr in frames:
        if fr.kind == "1":
            continue
        if first is None:
            first = fr.mlat_ticks
        t = t0 + ((fr.mlat_ticks - first) & ((1 << 48) - 1)) / 12e6
        rssi = 20.0 * math.log10(fr.signal / 255.0) if fr.signal else -math.inf
        dec.feed_modes(t, fr.msg, rssi if math.isfinite(rssi) else math.nan, fr.mlat_ticks)


# ------------------------------------------------------------------- 1090 MHz IQ demodulator
#: magnitude of |I-127|, |Q-127| in dump1090's fixed-point scale (x360), so thresholds and ties
#: match the reference decoder exactly
_MAGLUT = np.round(np.sqrt(np.arange(129)[:, None] ** 2 + np.arange(129)[None, :] ** 2) * 360).astype(
    np.int32
)


def _crc_matrix(nbits: int) -> NDArray[np.int64]:
    """CRC-24 contribution of each data bit (GF(2) linear map), one 24-bit value per bit."""
    out = np.zeros(nbits - 24, dtype=np.int64)
    for k in range(nbits - 24):
        msg = bytearray(nbits // 8)
        msg[k // 8] = 0x80 >> (k % 8)
        out[k] = crc24(bytes(msg))
    return out


_CRC_BITS = {112: _crc_matrix(112), 56: _crc_matrix(56)}


def _syndromes(bits: NDArray[np.uint8], nbits: int) -> NDArray[np.int64]:
    """Parity remainder of each row of ``bits`` (rows of >= ``nbits`` message bits)."""
    data = bits[:, : nbits - 24].astype(bool)
    contrib = np.where(data, _CRC_BITS[nbits][None, :], 0)
    crc = np.bitwise_xor.reduce(contrib, axis=1)
    parity = np.zeros(len(bits), dtype=np.int64)
    for k in range(24):
        parity = (parity << 1) | bits[:, nbits - 24 + k].astype(np.int64)
    out: NDArray[np.int64] = crc ^ parity
    return out


def _slice_bits(win: NDArray[np.int64]) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """PPM bit slicing of ``[K, 224]`` magnitude windows (two samples per bit): a bit is 1
    when its first half is the stronger; a bit whose halves differ by less than 256 repeats the
    previous bit (dump1090's rule). Returns bits and whether bit 0 was a tie."""
    low = win[:, 0::2]
    high = win[:, 1::2]
    delta = np.abs(low - high)
    raw = (low > high).astype(np.uint8)
    weak = delta < 256
    weak[:, 0] = False
    # Forward-fill the bits of weak positions from the last strong one.
    idx = np.where(~weak, np.arange(weak.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    bits = np.take_along_axis(raw, idx, axis=1)
    return bits, low[:, 0] == high[:, 0]


def _scale(v: NDArray[np.int64], scale: NDArray[np.int64]) -> NDArray[np.int64]:
    out: NDArray[np.int64] = np.minimum(v * scale // 16384, 65535)
    return out


def _phase_corrected(pre: NDArray[np.int64], win: NDArray[np.int64]) -> NDArray[np.int64]:
    """Phase enhancement of ``[K, 224]`` data windows from the preamble's energy leakage (the
    algorithm dump1090 uses, after Oliver Jowett): ``pre[:, k]`` is the magnitude at preamble
    sample ``k - 1``. Sampling late (energy before the pulses), samples are corrected walking
    backwards; early, forwards; each by the bit decoded next to it. Vectorised over K,
    sequential over bits as the reference."""
    w = win.copy()
    on_time = pre[:, 1] + pre[:, 3] + pre[:, 8] + pre[:, 10]
    early = (pre[:, 0] + pre[:, 7]) * 2
    late = (pre[:, 4] + pre[:, 11]) * 2
    use_early = early > late
    leak = np.where(use_early, early, late)
    up = 16384 + 16384 * leak // (leak + on_time)
    down = 16384 - 16384 * leak // (leak + on_time)
    e = np.flatnonzero(use_early)
    if e.size:
        we, ue, de = w[e], up[e], down[e]
        we[:, 223] = _scale(we[:, 223], ue)
        for k in range(222, 0, -2):
            one = we[:, k] > we[:, k + 1]
            we[:, k - 1] = _scale(we[:, k - 1], np.where(one, de, ue))
        w[e] = we
    f = np.flatnonzero(~use_early)
    if f.size:
        wf, uf, df_ = w[f], up[f], down[f]
        wf[:, 0] = _scale(wf[:, 0], uf)
        for k in range(0, 222, 2):
            one = wf[:, k] > wf[:, k + 1]
            wf[:, k + 2] = _scale(wf[:, k + 2], np.where(one, uf, df_))
        w[f] = wf
    return w


#: Downlink formats dump1090 demodulates as 112-bit messages.
_LONG_DF = frozenset({16, 17, 18, 19, 20, 21})


def demodulate_iq(iq: NDArray[np.uint8], fix_errors: bool = True) -> list[tuple[int, bytes]]:
    """Mode S messages in interleaved unsigned 8-bit I/Q sampled at 2 MS/s (an RTL-SDR
    recording at 1090 MHz): ``(sample index of the preamble, message bytes)``, in time order.

    Preamble correlation, PPM bit slicing, phase enhancement and CRC syndromes are vectorised
    over all candidate positions; the acceptance rules are dump1090's: CRC-valid DF11/17/18
    (single-bit errors repaired), DF11 with a small interrogator residual and address/parity
    formats only when the address was seen in an unrepaired DF11/17/18 before; a failed
    candidate is retried with phase enhancement.
    """
    raw = np.asarray(iq, dtype=np.int64).reshape(-1)
    if raw.size % 2:
        raw = raw[:-1]
    m: NDArray[np.int64] = _MAGLUT[np.abs(raw[0::2] - 127), np.abs(raw[1::2] - 127)].astype(np.int64)
    n = m.size - 240
    if n <= 0:
        return []
    mj = m[:n]

    def at(k: int) -> NDArray[np.int64]:
        return m[k : k + n]

    pre = (
        (mj > at(1))
        & (at(1) < at(2))
        & (at(2) > at(3))
        & (at(3) < mj)
        & (at(4) < mj)
        & (at(5) < mj)
        & (at(6) < mj)
        & (at(7) > at(8))
        & (at(8) < at(9))
        & (at(9) > at(6))
    )
    high = (mj + at(2) + at(7) + at(9)) // 6
    pre &= (at(4) < high) & (at(5) < high)
    pre &= (at(11) < high) & (at(12) < high) & (at(13) < high) & (at(14) < high)
    cand = np.flatnonzero(pre)
    if cand.size == 0:
        return []
    win = m[cand[:, None] + 16 + np.arange(224)[None, :]]
    preamble = m[np.maximum(cand - 1, 0)[:, None] + np.arange(12)[None, :]]
    corrected = _phase_corrected(preamble, win)
    corrected[cand == 0] = win[cand == 0]  # no sample before the first: no correction
    # Signal strength on the uncorrected magnitudes (the reference restores them first).
    d = np.abs(win[:, 0::2] - win[:, 1::2])
    tries = []
    for w in (win, corrected):
        bits, tie0 = _slice_bits(w)
        df = (
            (bits[:, 0].astype(np.int64) << 4)
            | (bits[:, 1] << 3)
            | (bits[:, 2] << 2)
            | (bits[:, 3] << 1)
            | bits[:, 4]
        )
        long_msg = np.isin(df, list(_LONG_DF))
        nbits = np.where(long_msg, 112, 56)
        dsum = np.where(np.arange(112)[None, :] < nbits[:, None], d, 0).sum(axis=1)
        strong = dsum // (nbits // 2) >= 10 * 255
        syn = np.where(long_msg, _syndromes(bits, 112), _syndromes(bits, 56))
        tries.append((bits, tie0, df, nbits, strong, syn))
    single = {nb: _single_bit_table(nb) for nb in (56, 112)}
    seen: set[int] = set()
    out: list[tuple[int, bytes]] = []
    next_j = 0
    for k, pos in enumerate(cand.tolist()):
        if pos < next_j:
            continue
        for attempt in (0, 1):
            bits, tie0, df, nbits, strong, syn = (a[k] for a in tries[attempt])
            if not strong:
                break  # the reference gives up on this position without a retry
            if tie0:
                continue
            nb, dfi, s = int(nbits), int(df), int(syn)
            msg_bits = bits[:nb].copy()
            ok = s == 0
            repaired = False
            if dfi in (11, 17, 18):
                if not ok and fix_errors and s in single[nb]:
                    msg_bits[single[nb][s]] ^= 1
                    ok = repaired = True
                msg = np.packbits(msg_bits).tobytes()
                addr = int.from_bytes(msg[1:4], "big")
                if ok and not repaired:
                    seen.add(addr)
                if dfi == 11 and not ok and s < 80 and addr in seen:
                    ok = True
            else:
                ok = dfi in (0, 4, 5, 16, 20, 21, 24) and s in seen
                msg = np.packbits(msg_bits).tobytes()
            if ok:
                out.append((pos, msg))
                next_j = pos + (8 + nb) * 2 + 1
                break
    return out


def _single_bit_table(nbits: int) -> dict[int, int]:
    """Syndrome -> bit position of the single-bit errors the reference repairs: any bit of a
    short message, any bit after the downlink format of a long one."""
    first = 5 if nbits == 112 else 0
    return {int(s): k for k, s in enumerate(_single_bit_syndromes(nbits)) if k >= first}


def _single_bit_syndromes(nbits: int) -> NDArray[np.int64]:
    """The parity remainder a single flipped bit at each position causes."""
    out = np.zeros(nbits, dtype=np.int64)
    for k in range(nbits):
        msg = bytearray(nbits // 8)
        msg[k // 8] = 0x80 >> (k % 8)
        out[k] = crc24(bytes(msg))
    return out
