"""ASTERIX CAT048/CAT062: golden tests on every record of the Croatia Control samples, the
conversion to Detections, and fuzzing (nothing but DecodeError, counted, stream goes on)."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import DecodeError
from skyfence.geo import Site
from skyfence.sources.asterix import (
    NM,
    AsterixConfig,
    AsterixRecord,
    cat048_detections,
    cat062_detections,
    decode_block,
    iter_records,
    read_asterix_file,
    records_to_detections,
    tod_to_epoch,
    udp_payload,
)

# The reference decoder prints values rounded to 7 decimals.
TOL = 2e-7


def _parse_text_output(path: Path) -> list[dict[str, Any]]:
    """Records of the reference decoder's text output (``asterix -P``): category, hex data and
    ``{(item, field name): value}``; a value in parentheses (the scaled one) wins over the raw."""
    records: list[dict[str, Any]] = []
    cat = 0
    cur: dict[str, Any] | None = None
    item = ""
    for line in path.read_text().splitlines():
        if line.startswith("Data Block"):
            cur = None
        elif line.startswith("Category:"):
            cat = int(line.split(":")[1])
        elif line.startswith("Data Record"):
            cur = {"cat": cat, "fields": {}}
            records.append(cur)
        elif cur is not None and line.startswith("HexData:"):
            cur["hex"] = line.split(":")[1].strip().lower()
        elif line.startswith("Item "):
            item = line[5:8]
        elif cur is not None and line.startswith("\t") and ":" in line:
            name, _, value = line[1:].rpartition(": ")
            m = re.match(r"^(-?[0-9A-Fa-f]+) \((-?[0-9.]+) ", value)
            cur["fields"][(item, name)] = m.group(2) if m else value
    return records


def _golden048(asterix_dir: Path) -> list[dict[str, Any]]:
    recs = _parse_text_output(asterix_dir / "sample_output" / "cat_034_048.txt")
    return [r for r in recs if r["cat"] == 48]


def test_cat048_every_record_matches_reference_text(asterix_dir: Path) -> None:
    golden = _golden048(asterix_dir)
    errors: Counter[str] = Counter()
    every = read_asterix_file(asterix_dir / "sample_data" / "cat_034_048.pcap", errors)
    mine = [r for _, r in every if r.cat == 48]
    assert len(golden) == 128
    assert len(mine) == len(golden)
    # Nothing is skipped: the 34 CAT034 service messages decode too (test_asterix_more.py).
    assert not errors and len(every) == 162
    checked = Counter[str]()
    for g, r in zip(golden, mine, strict=True):
        assert r.data.hex() == g["hex"], "record split differs"
        f, gf = r.fields, g["fields"]

        def num(key: tuple[str, str], gf: dict[tuple[str, str], str] = gf) -> float:
            return float(gf[key])

        assert (f["sac"], f["sic"]) == (
            int(gf[("010", "System Area Code")]),
            int(gf[("010", "System Identification Code")]),
        )
        assert f["tod_s"] == pytest.approx(num(("140", "Time Of Day")), abs=TOL)
        checked["010/140"] += 1
        if ("040", "RHO") in gf:
            assert f["rho_nm"] == pytest.approx(num(("040", "RHO")), abs=TOL)
            assert f["theta_deg"] == pytest.approx(num(("040", "THETA")), abs=TOL)
            checked["040"] += 1
        if ("070", "Mode-3/A reply code") in gf:
            assert f["mode3a"] == gf[("070", "Mode-3/A reply code")]
            checked["070"] += 1
        if ("090", "FlightLevel") in gf:
            assert f["flight_level"] == pytest.approx(num(("090", "FlightLevel")), abs=TOL)
            checked["090"] += 1
        if ("220", "AircraftAddress") in gf:
            assert f["icao"] == gf[("220", "AircraftAddress")].lower()
            checked["220"] += 1
        key240 = ("240", "Characters 1-8 (coded on 6 bits each) defining target identification")
        if key240 in gf:
            assert f["callsign"].rstrip() == gf[key240].rstrip()
            checked["240"] += 1
        if ("161", "Track Number") in gf:
            assert f["track_number"] == int(gf[("161", "Track Number")])
            checked["161"] += 1
        if ("042", "X component") in gf:
            assert f["x_nm"] == pytest.approx(num(("042", "X component")), abs=TOL)
            assert f["y_nm"] == pytest.approx(num(("042", "Y component")), abs=TOL)
            checked["042"] += 1
        if ("200", "Calculated groundspeed") in gf:
            assert f["ground_speed_kt"] == pytest.approx(num(("200", "Calculated groundspeed")), abs=1e-6)
            assert f["heading_deg"] == pytest.approx(num(("200", "Calculated heading")), abs=TOL)
            checked["200"] += 1
        if ("110", "3D_Height") in gf:
            assert f["height_3d_ft"] == pytest.approx(num(("110", "3D_Height")), abs=TOL)
            checked["110"] += 1
        if ("170", "CNF") in gf:
            assert f["cnf"] == int(gf[("170", "CNF")].split()[0])
            assert f["rad"] == int(gf[("170", "RAD")].split()[0])
            checked["170"] += 1
    # Every item counted in the reference output was compared.
    assert checked == Counter(
        {"010/140": 128, "040": 126, "070": 126, "090": 126, "220": 126, "240": 124, "161": 128}
        | {"042": 64, "200": 126, "110": 48, "170": 128}
    )


def _check062(f: dict[str, Any] | Any, items: dict[str, Any], verbose: bool) -> None:
    def v(item: str, name: str) -> Any:
        x = items[item][name]
        return x["val"] if verbose else x

    assert (f["sac"], f["sic"]) == (v("I010", "SAC"), v("I010", "SIC"))
    assert f["service_id"] == v("I015", "SID")
    assert f["tot_s"] == pytest.approx(v("I070", "ToT"), abs=TOL)
    assert f["lat_deg"] == pytest.approx(v("I105", "Lat"), abs=TOL)
    assert f["lon_deg"] == pytest.approx(v("I105", "Lon"), abs=TOL)
    assert f["x_m"] == v("I100", "X") and f["y_m"] == v("I100", "Y")
    assert (f["vx_mps"], f["vy_mps"]) == (v("I185", "Vx"), v("I185", "Vy"))
    assert (f["ax_mps2"], f["ay_mps2"]) == (v("I210", "Ax"), v("I210", "Ay"))
    assert f["mode3a"] == v("I060", "Mode3A")
    assert f["track_number"] == v("I040", "TrkN")
    assert f["cnf"] == v("I080", "CNF") and f["src"] == v("I080", "SRC")
    # Flight levels: the reference prints feet.
    assert f["measured_fl"] * 100 == pytest.approx(v("I136", "MFL"))
    assert f["barometric_fl"] * 100 == pytest.approx(v("I135", "CTBA"))
    assert f["geometric_alt_ft"] == pytest.approx(v("I130", "Alt"))
    assert f["roc_ftpm"] == pytest.approx(v("I220", "RoC"))


def test_cat062_pcap_matches_reference_json(asterix_dir: Path) -> None:
    lines = (asterix_dir / "sample_output" / "cat_062_065_json.txt").read_text().splitlines()
    # The reference JSON repeats "FX" keys (last wins); the fields we compare are unique.
    golden = [json.loads(line) for line in lines]
    golden = [g for g in golden if g["cat"] == 62]
    mine = [r for _, r in read_asterix_file(asterix_dir / "sample_data" / "cat_062_065.pcap") if r.cat == 62]
    assert len(mine) == len(golden) == 2
    for r, g in zip(mine, golden, strict=True):
        assert r.data.hex() == g["hexdata"].lower()
        items = g["CAT062"]
        _check062(r.fields, items, verbose=False)
        assert r.fields["icao"] == items["I380"]["ADR"]["ADR"].lower()
        assert r.fields["callsign"] == items["I380"]["ID"]["ACID"]


def test_raw_files_match_expected_decoded_json(asterix_dir: Path) -> None:
    expected = json.loads((asterix_dir / "expected_decoded_raw_files.json").read_text())
    raw48 = (asterix_dir / "sample_data" / "cat048.raw").read_bytes()
    (rec,) = decode_block(raw48)
    (g,) = expected["cat048.raw"]
    assert rec.data.hex() == g["hexdata"].lower() and len(rec.data) == g["len"] == 45
    f = rec.fields
    assert (f["sac"], f["sic"]) == (25, 201)
    assert f["icao"] == g["I220"]["ACAddr"]["val"].lower() == "3c660c"
    assert f["rad"] == 2 and f["cnf"] == 0
    assert f["rho_nm"] == g["I040"]["RHO"]["val"] and f["theta_deg"] == g["I040"]["THETA"]["val"]
    assert f["flight_level"] == g["I090"]["FL"]["val"] and f["tod_s"] == g["I140"]["ToD"]["val"]
    assert f["callsign"] == g["I240"]["TId"]["val"] and f["mode3a"] == g["I070"]["Mode3A"]["val"]

    raw62 = (asterix_dir / "sample_data" / "cat062cat065.raw").read_bytes()
    errors: Counter[str] = Counter()
    recs = [r for _, r in iter_records([(None, raw62)], errors) if r.cat == 62]
    golden = [g for g in expected["cat062cat065.raw"] if g["category"] == 62]
    assert len(recs) == len(golden) == 2
    assert not errors  # the CAT065 block decodes too (test_asterix_more.py)
    for r, g in zip(recs, golden, strict=True):
        assert r.data.hex() == g["hexdata"].lower()
        _check062(r.fields, g, verbose=True)
        assert len(r.data) == g["len"]


def test_cat021_matches_expected_decoded_json(asterix_dir: Path) -> None:
    expected = json.loads((asterix_dir / "expected_decoded_raw_files.json").read_text())["cat21_re.ast"]
    errors: Counter[str] = Counter()
    recs = read_asterix_file(asterix_dir / "sample_data" / "cat21_re.ast", errors)
    assert not errors and len(recs) == len(expected) == 2
    for (_t, r), g in zip(recs, expected, strict=True):
        assert r.cat == 21 and r.data.hex() == g["hexdata"].lower() and len(r.data) == g["len"]
        f = r.fields
        assert (f["sac"], f["sic"]) == (g["I010"]["SAC"]["val"], g["I010"]["SIC"]["val"])
        assert f["lat_deg"] == pytest.approx(g["I130"]["Lat"]["val"], abs=1e-12)
        assert f["lon_deg"] == pytest.approx(g["I130"]["Lon"]["val"], abs=1e-12)
        assert f["icao"] == g["I080"]["TAddr"]["val"].lower()
        assert f["tod_s"] == g["I073"]["time_reception_position"]["val"]
        assert f["ecat"] == g["I020"]["ECAT"]["val"]
        assert f["ground_bit"] == bool(g["I040"]["GBS"]["val"])
    # SOURCE.md: target 000001 at 61.47532940, -7.87869930 (ToR 28802.921875 s).
    site = Site(61.47532940, -7.87869930, 0.0)
    (det,) = records_to_detections(recs, site)
    assert det.kind == "position" and det.dim == 2 and list(det.attrs["icao"]) == ["000001", "000002"]
    assert abs(det.z[0, 0]) < 0.01 and abs(det.z[0, 1]) < 0.01
    assert det.t[0] == pytest.approx(28802.921875)
    # Emitter category 21 is a surface service vehicle: no aircraft prior for it.
    assert det.cls_lik is not None and np.argmax(det.cls_lik[0]) == 4 and np.ptp(det.cls_lik[1]) == 0


def test_cat048_detections_are_polar_in_si_units(asterix_dir: Path) -> None:
    recs = read_asterix_file(asterix_dir / "sample_data" / "cat048.raw", t_ref=1_699_920_000.0 + 43200.0)
    (det,) = cat048_detections(recs)
    assert det.kind == "polar" and det.sensor_id == "asterix-25-201" and det.dim == 2
    assert det.z[0, 0] == pytest.approx(197.68359375 * NM)
    assert det.z[0, 1] == pytest.approx(math.radians(340.13671875))
    assert det.attrs["icao"][0] == "3c660c" and det.attrs["callsign"][0] == "DLH65A"
    assert det.attrs["track_number"][0] == 3563 and det.attrs["mode3a"][0] == "1000"
    # Time of day 27354.6 s lands on the reference's UTC day.
    assert det.t[0] == pytest.approx(1_699_920_000.0 + 27354.6015625)
    assert det.attrs["ground_speed_mps"][0] == pytest.approx(434.3994140625 * NM / 3600)
    # A Mode S roll-call reply: a transponder, so a manned aircraft.
    assert det.cls_lik is not None and np.argmax(det.cls_lik[0]) == 4

    # With the radar's position known, a report with a flight level becomes 3-D polar.
    cfg = AsterixConfig(radars={"asterix-25-201": (45.0, 16.0, 500.0)})
    (det3,) = cat048_detections(recs, cfg)
    assert det3.dim == 3
    el = det3.z[0, 2]
    # FL330 at 366 km: above the geometric horizon line, below the flat-earth angle.
    flat = math.asin((330 * 100 * 0.3048 - 500.0) / det3.z[0, 0])
    assert 0 < el < flat


def test_cat062_detections_in_site_frame(asterix_dir: Path) -> None:
    recs = read_asterix_file(asterix_dir / "sample_data" / "cat_062_065.pcap")
    site = Site(41.1671233, 15.7088667, 0.0)
    (det,) = cat062_detections(recs, site)
    assert det.kind == "position" and det.dim == 3 and len(det) == 2
    # The first track sits on the site: the ENU east/north are ~0, up ~ its geometric altitude.
    assert abs(det.z[0, 0]) < 1.0 and abs(det.z[0, 1]) < 1.0
    assert det.z[0, 2] == pytest.approx(36481.25 * 0.3048, abs=1.0)
    assert list(det.attrs["icao"]) == ["4ca7a8", "4cac7f"]
    assert list(det.attrs["callsign"]) == ["RYR174C", "ISS2007"]
    assert det.attrs["vx_mps"][0] == 228.75
    assert det.cls_lik is not None and np.all(np.argmax(det.cls_lik, axis=1) == 4)
    # The capture's packet time fixes the day of the time of track.
    assert det.t[0] % 86400 == pytest.approx(45827.3984375)


def test_records_to_detections_and_time_of_day() -> None:
    assert tod_to_epoch(10.0, 86400.0 * 3 + 86390.0) == 86400.0 * 4 + 10.0  # just after midnight
    assert tod_to_epoch(86390.0, 86400.0 * 4 + 5.0) == 86400.0 * 3 + 86390.0  # just before
    assert records_to_detections([], Site(0, 0)) == []


def test_bad_blocks_are_counted_and_the_stream_goes_on(asterix_dir: Path) -> None:
    good = (asterix_dir / "sample_data" / "cat048.raw").read_bytes()
    bad_len = bytes([48, 0, 2])
    truncated = good[:20]
    undefined = bytes([48, 0, 5, 0x02, 0x80])  # FSPEC selects FRN 14 ... then runs out
    errors: Counter[str] = Counter()
    chunks = [(None, good), (None, bad_len + good), (None, truncated), (None, undefined), (None, good)]
    got = list(iter_records(chunks, errors))
    assert len(got) == 2
    assert errors["bad_length"] == 1 and errors["truncated"] >= 1
    assert sum(errors.values()) == 3
    with pytest.raises(DecodeError) as exc:
        decode_block(truncated)
    assert exc.value.reason == "truncated"


def test_udp_payload_rejects_non_udp() -> None:
    frame = bytes(12) + b"\x08\x06" + bytes(28)  # ARP
    with pytest.raises(DecodeError, match="not_ip"):
        udp_payload(frame, 1)
    with pytest.raises(DecodeError, match="unsupported_link"):
        udp_payload(frame, 9999)


# ------------------------------------------------------------------------------ fuzzing
def _mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    seed = st.sampled_from(seeds)
    truncated = st.tuples(seed, st.integers(0, 400)).map(lambda p: p[0][: p[1] % (len(p[0]) + 1)])
    oversized = st.tuples(seed, st.binary(min_size=1, max_size=300)).map(lambda p: p[0] + p[1])
    flipped = st.tuples(
        seed, st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 7)), max_size=8)
    ).map(lambda p: _flip(p[0], p[1]))
    random_block = st.tuples(st.sampled_from([21, 48, 62]), st.binary(max_size=300)).map(
        lambda p: bytes([p[0], (len(p[1]) + 3) >> 8, (len(p[1]) + 3) & 0xFF]) + p[1]
    )
    return st.one_of(truncated, oversized, flipped, random_block, st.binary(max_size=300))


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, bit in flips:
        if b:
            b[pos % len(b)] ^= 1 << bit
    return bytes(b)


_SEEDS: list[bytes] = []


def _load_seeds() -> list[bytes]:
    if not _SEEDS:
        env = os.environ.get("SKYFENCE_SHARED_DATA")
        root = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
        d = root / "asterix-croatiacontrol" / "sample_data"
        if (d / "cat048.raw").is_file():
            _SEEDS.append((d / "cat048.raw").read_bytes())
            raw62 = (d / "cat062cat065.raw").read_bytes()
            _SEEDS.append(raw62[: (raw62[1] << 8) | raw62[2]])
            for _t, rec in read_asterix_file(d / "cat_034_048.pcap")[:40:7]:
                _SEEDS.append(bytes([48, 0, len(rec.data) + 3]) + rec.data)
            raw21 = (d / "cat21_re.ast").read_bytes()
            _SEEDS.append(raw21[: (raw21[1] << 8) | raw21[2]])
        else:  # a hand-made CAT048 record keeps the fuzzers meaningful without the data
            _SEEDS.append(
                bytes.fromhex(
                    "300030fdf70219c9356d4da0c5aff1e0020005283c660c10c236d4182001c0780031bc0000400deb07b9582e410020f5"
                )
            )
    return _SEEDS


_FUZZ_SEEDS = _load_seeds()


def _check_stream(data: bytes) -> None:
    try:
        recs = decode_block(data)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert all(isinstance(r, AsterixRecord) for r in recs)
    errors: Counter[str] = Counter()
    good = _FUZZ_SEEDS[0]
    out = list(iter_records([(0.0, data), (0.0, good)], errors))
    # The good chunk after the damaged one always decodes.
    assert out and out[-1][1].data == decode_block(good)[-1].data
    dets = records_to_detections(
        out, Site(45.0, 16.0, 0.0), AsterixConfig(radars={"asterix-25-201": (45, 16, 0)}), errors
    )
    for d in dets:
        assert np.isfinite(d.z).all()


@pytest.mark.fuzz
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(_FUZZ_SEEDS))
def test_fuzz_asterix_never_raises_anything_but_decode_error(data: bytes) -> None:
    _check_stream(data)


_ETH_UDP = (
    bytes.fromhex("01005e0100010009000000000800450000330000400040110000c0a80001ef0100010fa00fa0001f0000")
    + bytes.fromhex(
        "300030fdf70219c9356d4da0c5aff1e0020005283c660c10c236d4182001c0780031bc0000400deb07b9582e410020f5"
    )[:11]
)


@pytest.mark.fuzz
@given(
    st.one_of(
        st.binary(max_size=120),
        st.tuples(st.integers(0, 80), st.binary(max_size=20)).map(lambda p: _ETH_UDP[: p[0]] + p[1]),
        st.lists(st.tuples(st.integers(0, 200), st.integers(0, 7)), max_size=6).map(
            lambda f: _flip(_ETH_UDP, f)
        ),
    ),
    st.sampled_from([0, 1, 12, 14, 101, 113, 127]),
)
def test_fuzz_udp_payload(frame: bytes, linktype: int) -> None:
    try:
        payload = udp_payload(frame, linktype)
    except DecodeError as exc:
        assert exc.reason
    else:
        assert len(payload) <= len(frame)
