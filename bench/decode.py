"""Decoder throughput on one core; prints one JSON line.

Remote ID: Location messages decoded per second by the batched numpy decoder (the goal is at
least one million per second) against the per-message pure-Python decoder (its peer, the
ratio is printed), plus whole-capture frames per second when the shared captures are present.

Each decoder family adds a ``<name>_figures() -> dict`` function and one entry in ``FIGURES``;
``main`` calls them all and prints a single line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# One core: keep numpy's helper threads from spreading over the machine.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SKYFENCE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})


def _best_rate(fn: Callable[[], int], repeats: int) -> float:
    """Items per second of the fastest of ``repeats`` runs (the least disturbed by others)."""
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        dt = time.perf_counter() - t0
        best = max(best, n / dt)
    return best


def remoteid_figures(n_batch: int = 1_000_000, n_single: int = 50_000) -> dict[str, Any]:
    from skyfence.detect.remoteid import decode_capture
    from skyfence.detect.remoteid.batch import decode_locations
    from skyfence.detect.remoteid.messages import decode_location

    rng = np.random.default_rng(7)
    # Random field bytes behind a Location header: every value path (unknowns included) is hit,
    # and the work per message is the same as for real traffic.
    msgs = rng.integers(0, 256, size=(n_batch, 25), dtype=np.uint8)
    msgs[:, 0] = 0x12
    batched = _best_rate(lambda: len(decode_locations(msgs)), 5)
    rows = [bytes(r) for r in msgs[:n_single]]

    def one_by_one() -> int:
        for r in rows:
            decode_location(r)
        return len(rows)

    per_message = _best_rate(one_by_one, 3)
    out: dict[str, Any] = {
        "location_batched_msgs_per_s": round(batched),
        "location_per_message_msgs_per_s": round(per_message),
        "batched_over_per_message": round(batched / per_message, 1),
        "batched_goal_met": batched >= 1e6,
    }
    capture = SHARED / "remoteidreceiver-wifi-pcaps" / "parrot_anafi4_real.pcapng"
    if capture.exists():
        frames = _best_rate(lambda: decode_capture(capture).packets, 3)
        out["capture_frames_per_s"] = round(frames)
    return out


def _asterix_blocks() -> list[bytes]:
    """The CAT048/CAT062 data blocks of the shared samples (or one built-in CAT048 record)."""
    from skyfence.sources.asterix import udp_payload
    from skyfence.sources.pcap import read_packets

    blocks: list[bytes] = []
    for name in ("cat_034_048.pcap", "cat_062_065.pcap"):
        path = SHARED / "asterix-croatiacontrol" / "sample_data" / name
        if not path.exists():
            continue
        for pkt in read_packets(path):
            payload = udp_payload(pkt.data, pkt.linktype)
            off = 0
            while off + 3 <= len(payload):
                n = int.from_bytes(payload[off + 1 : off + 3], "big")
                if payload[off] in (48, 62) and n >= 3:
                    blocks.append(payload[off : off + n])
                off += max(n, 3)
    if not blocks:
        blocks.append(
            bytes.fromhex(
                "300030fdf70219c9356d4da0c5aff1e0020005283c660c10c236d4182001c0780031bc0000400deb07b9582e410020f5"
            )
        )
    return blocks


def asterix_figures(min_records: int = 200_000) -> dict[str, Any]:
    """ASTERIX CAT048/CAT062 records decoded per second (field decode included), the
    conversion of those records to Detections, and the asterix_decoder C extension (peer,
    valid input only: it crashes on some malformed blocks) on the same blocks."""
    from collections import Counter

    from skyfence.geo import Site
    from skyfence.sources.asterix import decode_block, records_to_detections

    blocks = _asterix_blocks()
    per_pass = sum(len(decode_block(b)) for b in blocks)
    passes = max(1, min_records // per_pass)
    stream = blocks * passes

    def ours() -> int:
        return sum(len(decode_block(b)) for b in stream)

    rate = _best_rate(ours, 3)
    recs = [(1.7e9, r) for b in stream for r in decode_block(b)]
    site = Site(45.8, 16.0, 100.0)
    to_dets = _best_rate(
        lambda: sum(len(d) for d in records_to_detections(recs, site, errors=Counter())) or 1, 2
    )
    out: dict[str, Any] = {
        "asterix_records_per_s": round(rate),
        "asterix_records_to_detections_per_s": round(to_dets),
        "asterix_sample_records": per_pass,
    }
    try:
        import asterix  # asterix_decoder 0.7.11, the maintained C++ decoder

        joined = b"".join(stream)
        peer = _best_rate(lambda: len(asterix.parse(joined, verbose=False)), 3)
        out["asterix_decoder_records_per_s"] = round(peer)
        out["asterix_ours_over_asterix_decoder"] = round(rate / peer, 3)
    except ImportError:
        pass
    return out


def adsb_figures(n: int = 100_000) -> dict[str, Any]:
    """Mode S / ADS-B messages decoded per second (CRC, fields, CPR state) against pyModeS
    3.6.1's ``decode`` (peer) on the same real messages."""
    import csv

    from skyfence.geo import Site
    from skyfence.sources.adsb import AdsbDecoder, decode_message

    path = SHARED / "adsb-pymodes-testdata" / "sample_data_adsb.csv"
    if path.exists():
        with path.open() as fh:
            rows = [(float(r[0]), r[1]) for r in csv.reader(fh)]
    else:
        rows = [(0.0, "8d406b902015a678d4d220aa4bda"), (1.0, "8d406b9058b975870b738754f480")]
    rows = (rows * (n // len(rows) + 1))[:n]
    msgs = [(t, bytes.fromhex(h)) for t, h in rows]

    def fields_only() -> int:
        for _t, m in msgs:
            decode_message(m)
        return len(msgs)

    def stream() -> int:
        dec = AdsbDecoder(Site(52.0, 4.0, 0.0))
        for t, m in msgs:
            dec.feed_modes(t, m)
        return len(msgs)

    ours = _best_rate(fields_only, 3)
    out: dict[str, Any] = {
        "adsb_msgs_per_s": round(ours),
        "adsb_stream_with_cpr_msgs_per_s": round(_best_rate(stream, 2)),
    }
    iq_path = SHARED / "adsb-dump1090-iq" / "modes1.bin"
    if iq_path.exists():
        from skyfence.sources.adsb import demodulate_iq

        iq = np.fromfile(iq_path, dtype=np.uint8)
        rate = _best_rate(lambda: iq.size // 2 if demodulate_iq(iq) is not None else 0, 3)
        # 2 MS/s is real time for a 1090 MHz receiver.
        out["adsb_iq_msamples_per_s"] = round(rate / 1e6, 2)
        out["adsb_iq_times_real_time"] = round(rate / 2e6, 1)
    try:
        import pyModeS

        hexes = [h for _t, h in rows[:20_000]]

        def peer() -> int:
            for h in hexes:
                pyModeS.decode(h)
            return len(hexes)

        theirs = _best_rate(peer, 2)
        out["pymodes_msgs_per_s"] = round(theirs)
        out["adsb_ours_over_pymodes"] = round(ours / theirs, 2)
    except ImportError:
        pass
    return out


#: decoder family -> function returning its figures
FIGURES: dict[str, Callable[[], dict[str, Any]]] = {
    "remoteid": remoteid_figures,
    "asterix": asterix_figures,
    "adsb": adsb_figures,
}


def main() -> None:
    _pin_one_core()
    sys.path.insert(0, str(ROOT / "src"))
    figures = {name: fn() for name, fn in FIGURES.items()}
    print(json.dumps({"bench": "decode", "cores": 1, **figures}, separators=(",", ":")))


if __name__ == "__main__":
    main()
