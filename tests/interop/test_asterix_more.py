"""ASTERIX CAT001/002 (legacy radar), CAT034/065 (service messages), ORADIS and GPS framing:
golden tests on every record of the Croatia Control samples against the reference decoder's
text and JSON outputs, the old-layout CAT062 capture without expected output, and fuzzing."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import DecodeError
from skyfence.geo import Site
from skyfence.sources.asterix import (
    GPS_FILE_HEADER,
    NM,
    AsterixConfig,
    AsterixRecord,
    cat048_detections,
    decode_block,
    gps_blocks,
    iter_records,
    oradis_blocks,
    radar_positions,
    read_asterix_file,
    records_to_detections,
    truncated_tod_to_epoch,
)

# The reference decoder prints values rounded to 7 decimals.
TOL = 2e-7

_Field = tuple[str, str]


def _text_records(path: Path) -> list[dict[str, Any]]:
    """Records of the reference decoder's text output: category, hex data, the block's time
    stamp and ``{(item, field description): (raw value text, scaled value or None)}``."""
    records: list[dict[str, Any]] = []
    cat, stamp = 0, math.nan
    cur: dict[str, Any] | None = None
    item = ""
    for line in path.read_text().splitlines():
        if line.startswith("Data Block"):
            cur = None
        elif line.startswith("Category:"):
            cat = int(line.split(":")[1])
        elif line.startswith("Timestamp:"):
            stamp = float(line.split(":")[1])
        elif line.startswith("Data Record"):
            cur = {"cat": cat, "stamp": stamp, "fields": {}}
            records.append(cur)
        elif cur is not None and line.startswith("HexData:"):
            cur["hex"] = line.split(":")[1].strip().lower()
        elif line.startswith("Item "):
            item = line[5:8]
        elif cur is not None and line.startswith("\t") and ":" in line:
            name, _, value = line[1:].rpartition(": ")
            m = re.match(r"^(-?[0-9A-Fa-f]+) \((-?[0-9.]+) ", value)
            cur["fields"][(item, name)] = (
                (m.group(1), float(m.group(2))) if m else (value.split(" ")[0], None)
            )
    return records


def _flatten_json(items: dict[str, Any]) -> dict[_Field, Any]:
    """``{(item, dotted field name): value}`` of one reference JSON record's items (plain or
    with ``{"val": ...}`` leaves); repetitive items give lists of values; FX/spare dropped."""
    out: dict[_Field, Any] = {}

    def walk(item: str, prefix: str, node: Any) -> None:
        if isinstance(node, dict) and "val" not in node:
            for k, v in node.items():
                walk(item, f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(node, list):
            for element in node:
                for (_i, k), v in _flatten_json({item: element}).items():
                    out.setdefault((item, k), []).append(v)
        elif prefix.split(".")[-1] not in ("FX", "spare"):
            out[(item, prefix)] = node["val"] if isinstance(node, dict) else node

    for item, node in items.items():
        if re.fullmatch(r"I\d{3}", item):
            walk(item, "", node)
    return out


def _same(mine: Any, ref: Any, key: str) -> None:
    if isinstance(ref, float) and not isinstance(mine, str):
        assert float(mine) == pytest.approx(ref, abs=TOL), key
    elif isinstance(ref, list):
        assert list(mine) == ref, key
    else:
        assert mine == ref, key


def _compare(
    fields: dict[str, Any] | Any,
    ref: dict[_Field, Any],
    mapping: dict[_Field, tuple[str, Callable[[Any], Any]]],
) -> set[str]:
    """Every reference field (FX/spare aside) must be mapped and equal; returns our keys used,
    which the caller checks against the record's own keys so nothing is decoded unseen."""
    used: set[str] = set()
    for key, ref_value in ref.items():
        assert key in mapping, f"reference field {key} has no counterpart"
        name, conv = mapping[key]
        assert name in fields, f"{key}: {name} not decoded"
        _same(conv(fields[name]), ref_value, f"{key} -> {name}")
        used.add(name)
    return used


def _ident(v: Any) -> Any:
    return v


def _int(v: Any) -> Any:
    return int(v)


def _not(v: Any) -> Any:
    return int(not v)


# --------------------------------------------------------------------- field maps (reference -> ours)
_DSI_TEXT = {
    ("010", "System Area Code"): ("sac", _ident),
    ("010", "System Identification Code"): ("sic", _ident),
}
_TEXT034: dict[_Field, tuple[str, Callable[[Any], Any]]] = _DSI_TEXT | {
    ("000", "Message Type"): ("message_type", _ident),
    ("020", "Antenna azimuth"): ("sector_deg", _ident),
    ("030", "Time of day"): ("tod_s", _ident),
    ("041", "Antenna rotation speed"): ("antenna_rotation_s", _ident),
    ("050", "Operational Release Status of the System"): ("com_nogo", _ident),
    ("050", "Radar Data Processor Chain Selection Status"): ("com_rdpc", _ident),
    ("050", "Event to signal a reset/restart of the selected Radar Data Processor Chain"): (
        "com_rdpr",
        _ident,
    ),
    ("050", "Radar Data Processor Overload Indicator"): ("com_ovl_rdp", _ident),
    ("050", "Transmission Subsystem Overload Status"): ("com_ovl_xmt", _ident),
    ("050", "Monitoring System Connected Status"): ("com_msc", _ident),
    ("050", "Time Source Validity"): ("com_tsv", _ident),
    ("050", "Selected PSR antenna"): ("psr_ant", _ident),
    ("050", "PSR Channel A/B selection status"): ("psr_ch_ab", _ident),
    ("050", "PSSR Overload condition"): ("psr_ovl", _ident),
    ("050", "PSSR Monitoring System Connected Status"): ("psr_msc", _ident),
    ("050", "Selected SSR antenna"): ("ssr_ant", _ident),
    ("050", "SSR Channel A/B selection status"): ("ssr_ch_ab", _ident),
    ("050", "SSR Overload condition"): ("ssr_ovl", _ident),
    ("050", "SSR Monitoring System Connected Status"): ("ssr_msc", _ident),
    ("050", "Mode S Selected antenna"): ("mds_ant", _ident),
    ("050", "Mode S Channel A/B selection status for surveillance"): ("mds_ch_ab", _ident),
    ("050", "Mode S Overload condition"): ("mds_ovl_sur", _ident),
    ("050", "Mode S Monitoring System Connected Status"): ("mds_msc", _ident),
    ("050", "Mode S Channel A/B sellection for Surveillance Co-ordination Function"): ("mds_scf", _ident),
    ("050", "Mode S Channel A/B sellection for Data Link Function"): ("mds_dlf", _ident),
    ("050", "Mode S Overload in Surveillance Co-ordination Function"): ("mds_ovl_scf", _ident),
    ("050", "Mode S Overload in Data Link Function"): ("mds_ovl_dlf", _ident),
    ("060", "Reduction Steps in use for an overload of the RDP"): ("com_red_rdp", _ident),
    ("060", "Reduction Steps in use for an overload of the Transmission subsystem"): ("com_red_xmt", _ident),
    ("060", "Polarization in use by PSR"): ("psr_pol", _ident),
    ("060", "Reduction Steps in use as result of an overload within the PSR subsystem"): (
        "psr_red_rad",
        _ident,
    ),
    ("060", "Sensitivity Time Control Map in use"): ("psr_stc", _ident),
    ("060", "Reduction Steps in use as result of an overload within the SSR subsystem"): (
        "ssr_red_rad",
        _ident,
    ),
    ("060", "Reduction Steps in use as result of an overload within the Mode S subsystem"): (
        "mds_red_rad",
        _ident,
    ),
    ("060", "Cluster State"): ("mds_clu", _ident),
    ("120", "Signed Height of the Data Source, expressed in meters above WGS 84 reference ellipsoid."): (
        "height_m",
        _ident,
    ),
    ("120", "Latitude in WGS-84"): ("lat_deg", _ident),
    ("120", "Longitude in WGS-84"): ("lon_deg", _ident),
}

_JSON034: dict[_Field, tuple[str, Callable[[Any], Any]]] = {
    ("I010", "SAC"): ("sac", _ident),
    ("I010", "SIC"): ("sic", _ident),
    ("I000", "MsgTyp"): ("message_type", _ident),
    ("I030", "ToD"): ("tod_s", _ident),
    ("I020", "Azi"): ("sector_deg", _ident),
    ("I050", "COM.NOGO"): ("com_nogo", _ident),
    ("I050", "COM.RDPC"): ("com_rdpc", _ident),
    ("I050", "COM.RDPR"): ("com_rdpr", _ident),
    ("I050", "COM.OVLRDP"): ("com_ovl_rdp", _ident),
    ("I050", "COM.OVLXMT"): ("com_ovl_xmt", _ident),
    ("I050", "COM.MSC"): ("com_msc", _ident),
    ("I050", "COM.TSV"): ("com_tsv", _ident),
    ("I050", "SSR.SSRANT"): ("ssr_ant", _ident),
    ("I050", "SSR.SSRCHAB"): ("ssr_ch_ab", _ident),
    ("I050", "SSR.SSROVL"): ("ssr_ovl", _ident),
    ("I050", "SSR.SSRMSC"): ("ssr_msc", _ident),
    ("I060", "COM.REDRDP"): ("com_red_rdp", _ident),
    ("I060", "COM.REDXMT"): ("com_red_xmt", _ident),
}

_JSON065: dict[_Field, tuple[str, Callable[[Any], Any]]] = {
    ("I010", "SAC"): ("sac", _ident),
    ("I010", "SIC"): ("sic", _ident),
    ("I000", "Typ"): ("message_type", _ident),
    ("I015", "SID"): ("service_id", _ident),
    ("I030", "ToD"): ("tod_s", _ident),
    ("I020", "BTN"): ("batch_number", _ident),
}


def _gs_raw(kt: Any) -> Any:
    # The reference scales I001/200 ground speed by 0.22 kt; the standard's LSB is 2^-14 NM/s
    # (0.2197 kt), which we use: compared on the raw count.
    return round(float(kt) / 3600.0 * 16384.0)


_JSON001: dict[_Field, tuple[str, Callable[[Any], Any]]] = {
    ("I010", "SAC"): ("sac", _ident),
    ("I010", "SIC"): ("sic", _ident),
    ("I020", "TYP"): ("is_track", _int),
    ("I020", "SIM"): ("sim", _int),
    ("I020", "SSRPSR"): ("ssr_psr", _ident),
    ("I020", "ANT"): ("ant", _ident),
    ("I020", "SPI"): ("spi", _int),
    ("I020", "RAB"): ("rab", _int),
    ("I161", "tpn"): ("track_number", _ident),
    ("I040", "RHO"): ("rho_nm", _ident),
    ("I040", "THETA"): ("theta_deg", _ident),
    ("I200", "CalcGS"): ("ground_speed_kt", lambda v: round(_gs_raw(v) * 0.22, 7)),
    ("I200", "CalcHdg"): ("heading_deg", _ident),
    ("I070", "V"): ("mode3a_valid", _not),
    ("I070", "G"): ("mode3a_garbled", _int),
    ("I070", "L"): ("mode3a_smoothed", _int),
    ("I070", "Mode3A"): ("mode3a", _ident),
    ("I090", "V"): ("flight_level_valid", _not),
    ("I090", "G"): ("flight_level_garbled", _int),
    ("I090", "ModeC"): ("flight_level", _ident),
    ("I141", "Time"): ("truncated_tod_s", _ident),
    ("I170", "CON"): ("con", _ident),
    ("I170", "RAD"): ("rad", _ident),
    ("I170", "MAN"): ("man", _int),
    ("I170", "DOU"): ("dou", _int),
    ("I170", "RDPC"): ("rdpc", _ident),
    ("I170", "GHO"): ("gho", _int),
    ("I210", "Qty"): ("track_quality", _ident),
}
_JSON002: dict[_Field, tuple[str, Callable[[Any], Any]]] = {
    ("I010", "SAC"): ("sac", _ident),
    ("I010", "SIC"): ("sic", _ident),
    ("I000", "type"): ("message_type", _ident),
    ("I020", "Azi"): ("sector_deg", _ident),
    ("I030", "ToD"): ("tod_s", _ident),
}


def _raw_int(text: str, base: int = 10) -> int:
    return int(text, base)


#: Text output of CAT001/002 compared on the raw counts it prints (and the scaled value where
#: it uses the standard's scale).
_TEXT001: dict[_Field, tuple[str, Callable[[Any], Any]]] = _DSI_TEXT | {
    ("020", "TYP"): ("is_track", _int),
    ("020", "SIM"): ("sim", _int),
    ("020", "SSRPSR"): ("ssr_psr", _ident),
    ("020", "ANT"): ("ant", _ident),
    ("020", "SPI"): ("spi", _int),
    ("020", "RAB"): ("rab", _int),
    ("161", "Track Plot Number"): ("track_number", _ident),
    ("040", "RHO"): ("rho_nm", lambda v: (round(v * 128), v)),
    ("040", "THETA"): ("theta_deg", lambda v: (round(v * 65536 / 360), v)),
    ("200", "Calculated groundspeed"): ("ground_speed_kt", lambda v: (_gs_raw(v), None)),
    ("200", "Calculated heading"): ("heading_deg", lambda v: (round(v * 65536 / 360), v)),
    ("070", "V"): ("mode3a_valid", _not),
    ("070", "G"): ("mode3a_garbled", _int),
    ("070", "L"): ("mode3a_smoothed", _int),
    ("070", "Mode-3/A reply code"): ("mode3a", _ident),
    ("090", "V"): ("flight_level_valid", _not),
    ("090", "G"): ("flight_level_garbled", _int),
    ("090", "Mode-C reply code"): ("flight_level", lambda v: (round(v * 4), v)),
    ("141", "Time"): ("truncated_tod_s", lambda v: (round(v * 128), v)),
    ("170", "CON"): ("con", _ident),
    ("170", "RAD"): ("rad", _ident),
    ("170", "MAN"): ("man", _int),
    ("170", "DOU"): ("dou", _int),
    ("170", "RDPC"): ("rdpc", _ident),
    ("170", "GHO"): ("gho", _int),
    ("210", "Quality indicator"): ("track_quality", lambda v: v[0]),
    ("000", "Message Type"): ("message_type", _ident),
    ("020", "Antenna azimuth"): ("sector_deg", lambda v: (round(v * 256 / 360), v)),
    ("030", "Time of day"): ("tod_s", lambda v: (round(v * 128), v)),
}


def _text_values(ref: dict[_Field, tuple[str, float | None]], cat: int) -> dict[_Field, Any]:
    """Reference text fields as comparable values: ``(raw count, scaled)`` where the reference
    printed a scaled value, else the raw integer (the Mode 3/A code stays octal text)."""
    out: dict[_Field, Any] = {}
    for key, (raw, scaled) in ref.items():
        if key[1].startswith("spare") or key[1] == "FX":
            continue
        if "Mode-3/A" in key[1]:
            out[key] = raw
        elif scaled is not None:
            out[key] = (int(raw), scaled)
        else:
            out[key] = int(raw) if re.fullmatch(r"-?\d+", raw) else raw
    return out


def _same_pair(mine: Any, ref: Any, key: str) -> None:
    if isinstance(ref, tuple):
        assert mine[0] == ref[0], f"{key}: raw count"
        if mine[1] is not None:
            assert mine[1] == pytest.approx(ref[1], abs=TOL), f"{key}: scaled"
    else:
        _same(mine, ref, key)


def _compare_text(
    fields: dict[str, Any] | Any,
    ref: dict[_Field, Any],
    mapping: dict[_Field, tuple[str, Callable[[Any], Any]]],
) -> set[str]:
    used: set[str] = set()
    for key, ref_value in ref.items():
        assert key in mapping, f"reference field {key} has no counterpart"
        name, conv = mapping[key]
        assert name in fields, f"{key}: {name} not decoded"
        _same_pair(conv(fields[name]), ref_value, f"{key} -> {name}")
        used.add(name)
    return used


# ------------------------------------------------------------------------------ CAT034
def _check034_text(rec: AsterixRecord, g: dict[str, Any]) -> None:
    assert rec.cat == 34 and rec.data.hex() == g["hex"]
    # WGS-84 positions are compared on the raw count: the reference's LSB is rounded (it prints
    # 43.5710220 for 2030557 * 180 / 2^23 = 43.5710263).
    ref = {
        k: ((v[0] if k[1].startswith(("Latitude", "Longitude")) else v[1]) if isinstance(v, tuple) else v)
        for k, v in _text_values(g["fields"], 34).items()
    }
    mapping = _TEXT034 | {
        k: (name, lambda v: round(v * (1 << 23) / 180.0))
        for k, (name, _c) in _TEXT034.items()
        if k[1].startswith(("Latitude", "Longitude"))
    }
    used = _compare(rec.fields, ref, mapping)
    assert used == set(rec.fields), f"decoded but not in the reference: {set(rec.fields) - used}"


def test_cat034_every_record_of_the_radar_capture_matches_reference_text(asterix_dir: Path) -> None:
    golden = [g for g in _text_records(asterix_dir / "sample_output" / "cat_034_048.txt") if g["cat"] == 34]
    errors: Counter[str] = Counter()
    mine = [
        r
        for _, r in read_asterix_file(asterix_dir / "sample_data" / "cat_034_048.pcap", errors)
        if r.cat == 34
    ]
    assert not errors and len(mine) == len(golden) == 34
    for r, g in zip(mine, golden, strict=True):
        _check034_text(r, g)
    # The items the capture carries: markers, rotation period, status, processing mode, position.
    kinds = Counter(k for r in mine for k in r.items)
    assert kinds == Counter(
        {"010": 34, "000": 34, "030": 34, "020": 32, "050": 10, "060": 6, "041": 2, "120": 2}
    )
    north = [r for r in mine if r.fields["message_type"] == 1]
    assert north and all(r.fields["antenna_rotation_s"] == pytest.approx(4.9453125) for r in north[:1])


def test_radar_positions_from_cat034_make_cat048_three_dimensional(asterix_dir: Path) -> None:
    recs = read_asterix_file(asterix_dir / "sample_data" / "cat_034_048.pcap")
    radars = radar_positions(recs)
    assert list(radars) == ["asterix-25-12"]
    lat, lon, height = radars["asterix-25-12"]
    assert (round(lat * (1 << 23) / 180), round(lon * (1 << 23) / 180), height) == (2030557, 764578, 780.0)
    plain = cat048_detections(recs)
    with_radar = cat048_detections(recs, AsterixConfig(radars=radars))
    assert sum(len(d) for d in plain) == sum(len(d) for d in with_radar) == 126
    # Only that radar's reports gain an elevation; every other radar's stay 2-D.
    dims = {(d.sensor_id, d.dim) for d in with_radar}
    assert ("asterix-25-12", 3) in dims and all(s == "asterix-25-12" for s, m in dims if m == 3)


def test_cat034_raw_matches_expected_decoded_json(asterix_dir: Path) -> None:
    (g,) = json.loads((asterix_dir / "expected_decoded_raw_files.json").read_text())["cat034.raw"]
    (rec,) = decode_block((asterix_dir / "sample_data" / "cat034.raw").read_bytes())
    assert rec.data.hex() == g["hexdata"].lower() and len(rec.data) == g["len"] == 13
    used = _compare(rec.fields, _flatten_json(g), _JSON034)
    assert used == set(rec.fields)


# ------------------------------------------------------------------------------ CAT065
def test_cat065_matches_reference_json_and_expected_decoded(asterix_dir: Path) -> None:
    lines = (asterix_dir / "sample_output" / "cat_062_065_json.txt").read_text().splitlines()
    golden = [g for g in map(json.loads, lines) if g["cat"] == 65]
    mine = [r for _, r in read_asterix_file(asterix_dir / "sample_data" / "cat_062_065.pcap") if r.cat == 65]
    assert len(mine) == len(golden) == 1
    raw_golden = [
        g
        for g in json.loads((asterix_dir / "expected_decoded_raw_files.json").read_text())["cat062cat065.raw"]
    ]
    raw_mine = [
        r for _, r in iter_records([(None, (asterix_dir / "sample_data" / "cat062cat065.raw").read_bytes())])
    ]
    assert [r.cat for r in raw_mine] == [g["category"] for g in raw_golden] == [62, 62, 65]
    pairs = [
        (mine[0], golden[0]["hexdata"], golden[0]["CAT065"]),
        (raw_mine[2], raw_golden[2]["hexdata"], raw_golden[2]),
    ]
    for rec, hexdata, items in pairs:
        assert rec.data.hex() == hexdata.lower()
        used = _compare(rec.fields, _flatten_json(items), _JSON065)
        assert used == set(rec.fields)
    assert raw_mine[2].fields["message_type"] == 2 and raw_mine[2].fields["batch_number"] == 24


# ------------------------------------------------------------------------------ CAT001 / CAT002
def _cat001_records(asterix_dir: Path) -> list[tuple[float | None, AsterixRecord]]:
    errors: Counter[str] = Counter()
    recs = read_asterix_file(asterix_dir / "sample_data" / "cat_001_002.pcap", errors)
    assert not errors
    return recs


def test_cat001_002_every_record_matches_reference_text(asterix_dir: Path) -> None:
    golden = _text_records(asterix_dir / "sample_output" / "cat_001_002.txt")
    mine = _cat001_records(asterix_dir)
    assert len(mine) == len(golden) == 8
    assert [r.cat for _, r in mine] == [g["cat"] for g in golden] == [1, 1, 1, 1, 2, 1, 1, 1]
    for (t, r), g in zip(mine, golden, strict=True):
        assert r.data.hex() == g["hex"]
        used = _compare_text(r.fields, _text_values(g["fields"], r.cat), _TEXT001)
        assert used == set(r.fields), set(r.fields) - used
        # The reference's block time stamp is the packet's capture time in ms of the day.
        assert t is not None and math.floor(t % 86400 * 1000) == g["stamp"]


@pytest.mark.parametrize("name", ["cat_001_002_json.txt", "cat_001_002_jsonh.txt"])
def test_cat001_002_every_record_matches_reference_json(asterix_dir: Path, name: str) -> None:
    text = (asterix_dir / "sample_output" / name).read_text().strip()
    # One record per line (-j), or records spread over lines with ",\n" between them (-jh).
    golden = (
        [json.loads(line) for line in text.splitlines()]
        if "_json." in name
        else json.loads(f"[{text.rstrip(',')}]")
    )
    mine = _cat001_records(asterix_dir)
    assert len(golden) == len(mine) == 8
    for (_t, r), g in zip(mine, golden, strict=True):
        assert r.cat == g["cat"] and r.data.hex() == g["hexdata"].lower() and len(r.data) == g["length"]
        mapping = _JSON001 if r.cat == 1 else _JSON002
        used = _compare(r.fields, _flatten_json(g[f"CAT{r.cat:03d}"]), mapping)
        assert used == set(r.fields)


def test_oradis_framing_of_the_legacy_capture(asterix_dir: Path) -> None:
    from skyfence.sources.asterix import udp_payload
    from skyfence.sources.pcap import read_packets

    (pkt,) = list(read_packets(asterix_dir / "sample_data" / "cat_001_002.pcap"))
    payload = udp_payload(pkt.data, pkt.linktype)
    # Plain framing fails on it: "category 0, length 0x4e02".
    errors: Counter[str] = Counter()
    assert not list(iter_records([(pkt.t, payload)], errors)) and errors["truncated"] == 1
    blocks = oradis_blocks(payload)
    assert [b[0] for _s, b in blocks] == [1, 1, 2, 1, 1, 1] and sum(len(b) + 6 for _s, b in blocks) == len(
        payload
    )
    # The ORADIS stamps are ms of the day, 0.3 s before the capture time, in order.
    stamps = [s for s, _b in blocks]
    assert stamps == sorted(stamps) and 0 < pkt.t % 86400 - stamps[0] < 1.0
    # Forced plain framing counts the payload instead of decoding it.
    errors = Counter()
    assert read_asterix_file(asterix_dir / "sample_data" / "cat_001_002.pcap", errors, framing="plain") == []
    assert errors == Counter({"truncated": 1})


def test_cat001_tracks_become_polar_detections(asterix_dir: Path) -> None:
    recs = _cat001_records(asterix_dir)
    (det,) = cat048_detections(recs)
    assert det.kind == "polar" and det.sensor_id == "asterix-25-201" and len(det) == 7 and det.dim == 2
    assert det.z[0, 0] == pytest.approx(236.9921875 * NM) and det.z[0, 1] == pytest.approx(
        math.radians(34.5629883)
    )
    assert list(det.attrs["track_number"][:2]) == [3762, 3957] and det.attrs["mode3a"][0] == "1464"
    assert det.attrs["flight_level"][0] == 370.0
    # Truncated time 256.1015625 s lands on the 512 s period nearest the capture time.
    t0 = recs[0][0]
    assert t0 is not None and det.t[0] % 86400 == pytest.approx(45824.1015625) and abs(det.t[0] - t0) < 256
    assert np.all(np.diff(det.t) >= 0)
    assert det.cls_lik is not None and np.all(np.argmax(det.cls_lik, axis=1) == 4)  # SSR: transponder
    # Without a reference time the truncated time cannot be placed.
    errors: Counter[str] = Counter()
    assert cat048_detections([(None, r) for _t, r in recs], errors=errors) == []
    assert errors["no_time"] == 7
    assert records_to_detections(recs, Site(43.57, 16.4, 0.0))[0].sensor_id == "asterix-25-201"


def test_truncated_time_of_day() -> None:
    day = 86400.0 * 100
    assert truncated_tod_to_epoch(10.0, day + 1024.0 + 5.0) == day + 1024.0 + 10.0
    assert truncated_tod_to_epoch(510.0, day + 1024.0 + 5.0) == day + 1024.0 - 2.0  # previous period
    assert truncated_tod_to_epoch(2.0, day + 1535.0) == day + 1538.0  # next period


# ------------------------------------------------------------------------------ GPS recording
_TEXT048: dict[_Field, tuple[str, Callable[[Any], Any]]] = {
    ("010", "System Area Code"): ("sac", _ident),
    ("010", "System Identification Code"): ("sic", _ident),
    ("140", "Time Of Day"): ("tod_s", _ident),
    ("040", "RHO"): ("rho_nm", _ident),
    ("040", "THETA"): ("theta_deg", _ident),
    ("070", "Mode-3/A reply code"): ("mode3a", _ident),
    ("090", "FlightLevel"): ("flight_level", _ident),
    ("220", "AircraftAddress"): ("icao", str.upper),
    ("161", "Track Number"): ("track_number", _ident),
    ("042", "X component"): ("x_nm", _ident),
    ("042", "Y component"): ("y_nm", _ident),
    ("200", "Calculated groundspeed"): ("ground_speed_kt", _ident),
    ("200", "Calculated heading"): ("heading_deg", _ident),
    ("110", "3D_Height"): ("height_3d_ft", _ident),
    ("170", "CNF"): ("cnf", _ident),
    ("170", "RAD"): ("rad", _ident),
    ("020", "TYP"): ("typ", _ident),
    ("020", "SIM"): ("sim", _int),
}


def test_gps_recording_every_record_matches_reference_text(asterix_dir: Path) -> None:
    data = (asterix_dir / "sample_data" / "parsegps.gps").read_bytes()
    golden = _text_records(asterix_dir / "sample_output" / "parsegps.txt")
    errors: Counter[str] = Counter()
    recs = read_asterix_file(asterix_dir / "sample_data" / "parsegps.gps", errors)
    assert not errors and len(recs) == len(golden) == 18
    assert Counter(r.cat for _t, r in recs) == Counter({48: 15, 34: 3})
    blocks = gps_blocks(data)
    assert sum(len(b) + 10 for _s, b in blocks) == len(data) - GPS_FILE_HEADER
    compared = Counter[str]()
    for (t, r), g in zip(recs, golden, strict=True):
        assert r.data.hex() == g["hex"]
        # The block's GPS time stamp is the reference's "Timestamp" (printed to 6 decimals).
        assert t == pytest.approx(g["stamp"], abs=1e-6)
        if r.cat == 34:
            _check034_text(r, g)
            compared["034"] += 1
            continue
        ref = _text_values(g["fields"], 48)
        for key, (name, conv) in _TEXT048.items():
            if key not in ref:
                continue
            value = ref[key]
            expected = value[1] if isinstance(value, tuple) else value
            if key == ("220", "AircraftAddress"):
                expected = g["fields"][key][0]
            if key == ("200", "Calculated groundspeed"):
                assert r.fields[name] == pytest.approx(expected, abs=1e-6), key
            else:
                _same(conv(r.fields[name]), expected, f"{key} -> {name}")
            compared[key[0]] += 1
    assert compared["034"] == 3 and compared["010"] == 30 and compared["040"] == 28 and compared["220"] == 9
    # On a given day the block times become epoch seconds of that day.
    dated = read_asterix_file(asterix_dir / "sample_data" / "parsegps.gps", t_ref=1_699_920_000.0 + 43200.0)
    assert dated[0][0] == pytest.approx(1_699_920_000.0 + 2.1796875)


# ------------------------------------------------------------------------------ asterix.pcap
def test_old_cat062_capture_is_counted_not_misdecoded(asterix_dir: Path) -> None:
    """``asterix.pcap`` (2008, no expected output) is CAT062 in a pre-1.0 layout: every record
    has FSPEC ``bb 3d 42`` and I062/010 is followed directly by a 3-octet time of track (where
    ed. 1.18 has the 1-octet I015), then a 2-octet track number, a WGS-84 position in 3+3
    octets (180/2^23 degrees), a flight level in 1/4 FL and 8-bit ASCII callsign and
    departure/destination aerodromes. The ed. 1.18 UAP cannot frame it: every block must be
    counted (never turned into records with garbage fields), deterministically."""
    from skyfence.sources.asterix import udp_payload
    from skyfence.sources.pcap import read_packets

    path = asterix_dir / "sample_data" / "asterix.pcap"
    errors: Counter[str] = Counter()
    assert read_asterix_file(path, errors) == []
    assert sum(errors.values()) == 100 and set(errors) <= {"truncated", "invalid_time"}
    again: Counter[str] = Counter()
    assert read_asterix_file(path, again) == [] and again == errors
    # The old layout, as observed: time of track right after I010, on the capture's clock.
    for pkt in read_packets(path):
        payload = udp_payload(pkt.data, pkt.linktype)
        assert payload[0] == 62 and payload[3:6] == bytes.fromhex("bb3d42")
        tot = int.from_bytes(payload[8:11], "big") / 128.0
        assert abs(tot - pkt.t % 86400) < 2.0
        lat = int.from_bytes(payload[13:16], "big", signed=True) * 180.0 / (1 << 23)
        lon = int.from_bytes(payload[16:19], "big", signed=True) * 180.0 / (1 << 23)
        assert 40.0 < lat < 50.0 and 10.0 < lon < 25.0  # around SAC 25 (Croatia)
        assert 0 <= int.from_bytes(payload[21:23], "big") / 4.0 <= 450  # flight level


# ------------------------------------------------------------------------------ fuzzing
def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, bit in flips:
        if b:
            b[pos % len(b)] ^= 1 << bit
    return bytes(b)


_SEEDS_MORE = [
    bytes.fromhex("010048") + bytes.fromhex("f7c619c9a00eb2767f189408aa42d8033405c8800d400e" * 3),
    bytes.fromhex("02000bf019c90250598117"),
    bytes.fromhex("22001cef10190c01356e49027984444e00840000030c1efbdd0baaa2"),
    bytes.fromhex("220010f4190b02356e07709440204600"),
    bytes.fromhex("220010f6190e023a692b408840408000"),
    bytes.fromhex("41000cf8196402043c608718"),
    # A CAT001 plot (TYP 0) with every plot-only item, and a CAT002 with plot counts, dynamic
    # window, collimation error and warnings (hand-made: the samples carry neither).
    bytes.fromhex("010022ffff8019c920767f1894033405c822800d0123f0c5000005c80000000002a4"),
    bytes.fromhex("020020fff019c9010059811702794000028401080200001000000040" + "00fe0204"),
]


def _more_mutations() -> st.SearchStrategy[bytes]:
    seed = st.sampled_from(_SEEDS_MORE)
    truncated = st.tuples(seed, st.integers(0, 400)).map(lambda p: p[0][: p[1] % (len(p[0]) + 1)])
    oversized = st.tuples(seed, st.binary(min_size=1, max_size=200)).map(lambda p: p[0] + p[1])
    flipped = st.tuples(
        seed, st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 7)), max_size=8)
    ).map(lambda p: _flip(p[0], p[1]))
    random_block = st.tuples(st.sampled_from([1, 2, 34, 65]), st.binary(max_size=200)).map(
        lambda p: bytes([p[0], (len(p[1]) + 3) >> 8, (len(p[1]) + 3) & 0xFF]) + p[1]
    )
    return st.one_of(truncated, oversized, flipped, random_block)


def test_fuzz_seeds_decode() -> None:
    for seed in _SEEDS_MORE:
        assert decode_block(seed), seed.hex()


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_more_mutations())
def test_fuzz_service_and_legacy_categories(data: bytes) -> None:
    try:
        recs = decode_block(data)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert all(isinstance(r, AsterixRecord) for r in recs)
    errors: Counter[str] = Counter()
    good = _SEEDS_MORE[0]
    out = list(iter_records([(1e9, data), (1e9, good)], errors))
    assert out and out[-1][1].data == decode_block(good)[-1].data
    for d in records_to_detections(out, Site(45.0, 16.0, 0.0), errors=errors):
        assert np.isfinite(d.z).all() and np.isfinite(d.t).all()


@pytest.mark.fuzz
@given(
    st.one_of(
        st.binary(max_size=200),
        st.lists(st.sampled_from(_SEEDS_MORE), max_size=4).map(
            lambda bs: b"".join((len(b) + 6).to_bytes(2, "big") + bytes(4) + b for b in bs)
        ),
    ),
    st.lists(st.tuples(st.integers(0, 1 << 12), st.integers(0, 7)), max_size=4),
)
def test_fuzz_oradis_and_gps_framing(payload: bytes, flips: list[tuple[int, int]]) -> None:
    data = _flip(payload, flips)
    errors: Counter[str] = Counter()
    blocks = oradis_blocks(data, errors)
    assert sum(len(b) + 6 for _s, b in blocks) <= len(data)
    assert blocks or errors or not data
    gps = gps_blocks(bytes(GPS_FILE_HEADER) + data, errors)
    assert sum(len(b) + 10 for _s, b in gps) <= len(data)
    list(iter_records([(0.0, b) for _s, b in blocks + gps], errors))
