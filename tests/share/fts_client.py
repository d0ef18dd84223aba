"""TAK client side of ``test_tak_server.py``, run inside FreeTAKServer's private network
namespace (``nsenter --net=…``) with the project's python, because the server's ports exist
only there.

It waits for the CoT port, connects a TAK client (a plain socket announcing itself with a
position report), makes ``CotSink`` send a track, a critical alert, a launch area and the
track again, and prints one JSON line per event the server routed to the client, each
parsed with takproto; a last line ``{"done": …}`` says whether everything expected came.

    python tests/share/fts_client.py PORT
"""

from __future__ import annotations

import json
import socket
import sys
import time

import numpy as np
from takproto.functions import xml2message

from skyfence.assess import LaunchArea
from skyfence.geo import Site
from skyfence.model import Alert, AlertState, ThreatLevel, Tracks
from skyfence.share.cot import CotEvent, CotSink, decode_stream, to_xml

__all__ = ["SITE", "TRACK_ENU", "UID_PREFIX", "main"]

SITE = Site(47.8, 22.6, 150.0)
TRACK_ENU = (100.0, 50.0, 60.0)
UID_PREFIX = "skyfence-test"
WANT = {f"{UID_PREFIX}.track.7", f"{UID_PREFIX}.alert.A00001", f"{UID_PREFIX}.launch.7"}
HOSTILE_FPV = "a-h-A-M-H-Q"


def _position_report(uid: str, callsign: str, t: float) -> CotEvent:
    return CotEvent(
        uid=uid,
        type="a-f-G-U-C",
        how="h-e",
        time=t,
        start=t,
        stale=t + 300,
        lat=SITE.lat,
        lon=SITE.lon,
        hae=SITE.alt,
        callsign=callsign,
        extra=(("__group", (("name", "Cyan"), ("role", "Team Member"))),),
    )


def _connect(port: int, timeout_s: float) -> socket.socket:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(port: int) -> int:
    client = _connect(port, 180.0)
    time.sleep(5)  # FTS's routing services come up after its listener
    client.sendall(to_xml(_position_report(f"{UID_PREFIX}-eud", "EUD-1", time.time())))
    time.sleep(2)
    now = time.time()
    tracks = Tracks(
        now, [7], [[*TRACK_ENU, 20.0, 0.0, 0.0]], np.eye(6)[None], [[0.92, 0.04, 0.01, 0.01, 0.01, 0.01]]
    )
    alert = Alert(
        "A00001", now, 7, "site-b", ThreatLevel.CRITICAL, AlertState.NEW, 41.0, "FPV 0.92, 41 s to zone"
    )
    routed: dict[str, str] = {}
    with CotSink(f"tcp://127.0.0.1:{port}", SITE, uid_prefix=UID_PREFIX) as sink:
        # The sink announces itself like any TAK client before it reports.
        sink.send_events([_position_report(f"{UID_PREFIX}-sink", "SKYFENCE", now)])
        time.sleep(2)
        sent = [sink.send_tracks(tracks), sink.send_alerts([alert])]
        sent.append(sink.send_areas([LaunchArea(7, "launch", now, (-1500.0, 300.0, 0.0), 250.0, 80.0, 1.0)]))
        # Sent again after the critical alert: the track's symbol turns hostile.
        sent.append(sink.send_tracks(tracks))
        print(json.dumps({"sent": sent}), flush=True)
        client.settimeout(1.0)
        buf = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (set(routed) >= WANT and HOSTILE_FPV in routed.values()):
            try:
                chunk = client.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            msgs, buf = decode_stream(buf + chunk)
            for m in msgs:
                # FTS re-serialises events without the XML declaration; takproto's XML
                # reader takes the element itself.
                ev = xml2message(m[m.index(b"<event") :]).cotEvent
                routed[ev.uid] = ev.type
                print(
                    json.dumps(
                        {
                            "uid": ev.uid,
                            "type": ev.type,
                            "how": ev.how,
                            "lat": ev.lat,
                            "lon": ev.lon,
                            "hae": ev.hae,
                            "stale_s": (ev.staleTime - ev.sendTime) / 1000.0,
                            "callsign": ev.detail.contact.callsign,
                            "xml": m.decode("utf-8", "replace"),
                        }
                    ),
                    flush=True,
                )
    client.close()
    done = set(routed) >= WANT and HOSTILE_FPV in routed.values()
    print(json.dumps({"done": done}), flush=True)
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
