"""CoT through a real TAK server: FreeTAKServer, opt-in.

FreeTAKServer cannot be a test dependency (it pins old libraries, writes to /opt/fts and
binds its HTTP API on 0.0.0.0:8080/8443), so it lives in its own venv and this test runs
only when ``SKYFENCE_FTS_PYTHON`` names that venv's python::

    python3 -m venv /opt/fts-venv
    /opt/fts-venv/bin/pip install FreeTAKServer==2.2.1 opentelemetry-sdk==1.20.0 opentelemetry-api==1.20.0
    SKYFENCE_FTS_PYTHON=/opt/fts-venv/bin/python pytest tests/share/test_tak_server.py

(with the opentelemetry release pip picks by default, 1.45, FTS 2.2.1's services crash at
start). A TAK client (a plain socket announcing itself with a position report) listens;
the sink sends tracks, an alert and a launch area; every event the server routes to the
client is parsed with takproto.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from takproto.functions import xml2message

from skyfence.assess import LaunchArea
from skyfence.geo import Site
from skyfence.model import Alert, AlertState, ThreatLevel, Tracks
from skyfence.share.cot import CotEvent, CotSink, decode_stream, to_xml

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fts")]

SITE = Site(47.8, 22.6, 150.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fts_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    python = os.environ.get("SKYFENCE_FTS_PYTHON")
    if not python:
        pytest.skip(
            "set SKYFENCE_FTS_PYTHON to a venv python with FreeTAKServer 2.2.1 (see module docstring)"
        )
    cot, ssl_cot = _free_port(), _free_port()
    cwd = tmp_path_factory.mktemp("fts")
    log = (cwd / "fts.log").open("w")
    proc = subprocess.Popen(
        [
            python,
            "-m",
            "FreeTAKServer.controllers.services.FTS",
            "-CoTPort",
            str(cot),
            "-CoTIP",
            "127.0.0.1",
            "-SSLCoTPort",
            str(ssl_cot),
            "-SSLCoTIP",
            "127.0.0.1",
            "-DataPackageIP",
            "127.0.0.1",
            "-RestAPIIP",
            "127.0.0.1",
            "-AutoStart",
            "True",
        ],
        cwd=cwd,
        env=dict(os.environ, FTS_FIRST_START="false"),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # FTS forks a dozen services: stop them as one group
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"FreeTAKServer exited with {proc.returncode}: {Path(log.name).read_text()[-2000:]}"
                )
            try:
                socket.create_connection(("127.0.0.1", cot), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("FreeTAKServer's CoT port did not open within 120 s")
        time.sleep(5)  # the routing services start after the listener
        yield cot
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            time.sleep(2)
        proc.wait(timeout=30)
        log.close()


def _announce(sock: socket.socket, uid: str, callsign: str) -> None:
    t = time.time()
    sa = CotEvent(
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
    sock.sendall(to_xml(sa))


def test_tak_server_routes_tracks_alerts_and_areas(fts_port: int) -> None:
    client = socket.create_connection(("127.0.0.1", fts_port), timeout=5)
    _announce(client, "skyfence-test-eud", "EUD-1")
    time.sleep(2)
    now = time.time()
    tracks = Tracks(
        now,
        [7],
        [[100.0, 50.0, 60.0, 20.0, 0.0, 0.0]],
        np.eye(6)[None],
        [[0.92, 0.04, 0.01, 0.01, 0.01, 0.01]],
    )
    alert = Alert(
        "A00001", now, 7, "site-b", ThreatLevel.CRITICAL, AlertState.NEW, 41.0, "FPV 0.92, 41 s to zone"
    )
    with CotSink(f"tcp://127.0.0.1:{fts_port}", SITE, uid_prefix="skyfence-test") as sink:
        # The sink announces itself like any TAK client before it reports.
        sink.send_events(
            [
                CotEvent(
                    "skyfence-test-sink",
                    "a-f-G-U-C",
                    "m-g",
                    now,
                    now,
                    now + 300,
                    SITE.lat,
                    SITE.lon,
                    callsign="SKYFENCE",
                )
            ]
        )
        time.sleep(2)
        assert sink.send_tracks(tracks) == 1
        assert sink.send_alerts([alert]) == 1
        sink.send_areas([LaunchArea(7, "launch", now, (-1500.0, 300.0, 0.0), 250.0, 80.0, 1.0)])
        # Sent again after the critical alert: the track's symbol turns hostile.
        assert sink.send_tracks(tracks) == 1
        client.settimeout(1.0)
        buf = b""
        routed = {}
        deadline = time.monotonic() + 20
        want = {"skyfence-test.track.7", "skyfence-test.alert.A00001", "skyfence-test.launch.7"}
        hostile = False
        while time.monotonic() < deadline and not (want <= set(routed) and hostile):
            try:
                chunk = client.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            msgs, buf = decode_stream(buf + chunk)
            for m in msgs:
                # FTS re-serialises events without the XML declaration; takproto's
                # XML reader takes the element itself.
                msg = xml2message(m[m.index(b"<event") :])
                routed[msg.cotEvent.uid] = msg.cotEvent
                hostile |= msg.cotEvent.type == "a-h-A-M-H-Q"
    client.close()
    assert want <= set(routed)
    track = routed["skyfence-test.track.7"]
    assert track.type == "a-h-A-M-H-Q"
    lat, lon, _ = SITE.to_wgs84([100.0, 50.0, 60.0])
    assert math.isclose(track.lat, lat, abs_tol=1e-6) and math.isclose(track.lon, lon, abs_tol=1e-6)
    marker = routed["skyfence-test.alert.A00001"]
    assert marker.type == "b-m-p-s-p-i"
    # FreeTAKServer 2.2.1 re-serialises events from its own model and drops <remarks>;
    # the callsign (level, track, zone, time to zone) is what reaches its clients.
    assert marker.detail.contact.callsign == "CRITICAL T7 → site-b 41s"
    assert routed["skyfence-test.launch.7"].type == "u-d-c-e"
