"""CoT through a real TAK server: FreeTAKServer 2.2.1 from PyPI, in its own namespaces.

FreeTAKServer cannot share the project's venv (it pins old libraries), binds its HTTP API
on 0.0.0.0 and writes under /opt. So the test session

* builds a separate venv, ``.venv-fts/`` in the repository root, from the pinned
  ``fts-requirements.txt`` on first use (under a file lock, so xdist workers don't race;
  rebuilt when that file changes);
* starts FTS with ``unshare --net --mount``: a private network namespace with only its own
  loopback (its 0.0.0.0 binds are invisible outside) and a private mount namespace where
  /opt, /var/log and the FTS venv are overlays whose writes land in the test's temp dir and
  /opt/fts is that temp dir (so it writes nothing outside it, and every run starts from
  the same clean state);
* runs the TAK client, ``fts_client.py``, with the project's python in that network
  namespace (``nsenter --net``): a client announces itself, ``CotSink`` sends a track, a
  critical alert and a launch area, and every event FTS routes to the client is parsed
  with takproto and printed as JSON for the assertions here.

Everything FTS started dies with the test (its process group, then anything left in its
network namespace), also on failure. It skips only where it cannot run: no package index
to build the venv from, no Python 3.11 for the lock, or no namespaces (neither root nor
user namespaces; without root, only the user-namespace path is untested).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyfence.geo import Site

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fts")]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = ROOT / ".venv-fts"
REQUIREMENTS = HERE / "fts-requirements.txt"
CLIENT = HERE / "fts_client.py"
COT_PORT = 8087  # FTS's default; the namespace is private, so nothing else can hold it
SITE = Site(47.8, 22.6, 150.0)  # as in fts_client.py
INSTALL_TIMEOUT_S = 900.0

# In the private mount namespace: loopback up; /opt, /var/log and FTS's venv become
# overlays whose writes land in $1 (FTS writes /opt/user_persistence.txt, /var/log/FTS_*.log
# and logs/persistence files inside its own package); where overlayfs is missing /opt and
# /var/log become empty tmpfs and the venv stays writable. /opt/fts is $1/fts. Then the
# pid for nsenter, then FTS itself.
_NAMESPACE_SH = r"""
set -eu
T="$1"; V="$2"; shift 2
ip link set lo up
overlay() {
    mkdir -p "$T/$2/upper" "$T/$2/work"
    mount -t overlay overlay -o "lowerdir=$1,upperdir=$T/$2/upper,workdir=$T/$2/work" "$1"
}
overlay /opt opt || mount -t tmpfs tmpfs /opt
overlay /var/log var-log || mount -t tmpfs tmpfs /var/log
overlay "$V" venv || true
mkdir -p /opt/fts "$T/fts"
mount --bind "$T/fts" /opt/fts
echo $$ > "$T/pid"
cd "$T"
exec "$@"
"""


def _pypi_reachable() -> str | None:
    """None if the package index answers, else why not."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/freetakserver/", timeout=15) as r:
            r.read(1)
        return None
    except OSError as exc:
        return f"{index}: {exc}"


def _base_python() -> str:
    """A Python 3.11 to make the venv with: the lock was resolved (and FTS 2.2.1's old
    pins have wheels) for 3.11."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        pytest.skip("fts-requirements.txt is a lock for Python 3.11 and no python3.11 is on PATH")
    return found


def _fts_python(log_dir: Path) -> Path:
    """The venv's python, building the venv first if missing or out of date."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    python = VENV / "bin" / "python"
    with (ROOT / ".venv-fts.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if stamp.exists():
            return python
        shutil.rmtree(VENV, ignore_errors=True)
        log = log_dir / "fts-pip.log"
        t0 = time.monotonic()
        with log.open("w") as out:
            subprocess.run([_base_python(), "-m", "venv", str(VENV)], check=True, stdout=out, stderr=out)
            pip = subprocess.run(
                [str(python), "-m", "pip", "install", "--no-input", "-r", str(REQUIREMENTS)],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=INSTALL_TIMEOUT_S,
                env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
            )
        if pip.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            offline = _pypi_reachable()
            if offline is not None:
                pytest.skip(f"cannot build the FreeTAKServer venv: no package index ({offline})")
            pytest.fail(f"pip install -r {REQUIREMENTS.name} failed:\n{log.read_text()[-3000:]}")
        stamp.write_text(f"built in {time.monotonic() - t0:.0f} s\n")
        return python


def _namespace_prefix(scratch: Path) -> list[str]:
    """``unshare`` arguments for private network and mount namespaces, or skip."""
    args = ["unshare", "--net", "--mount", "--fork"]
    if os.geteuid() != 0:
        args[1:1] = ["--user", "--map-root-user"]
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found (util-linux/iproute2; scripts/system-deps.sh installs them)")
    probe = subprocess.run(
        [*args, "sh", "-c", 'ip link set lo up && mount -t tmpfs tmpfs "$1"', "probe", str(scratch)],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make private network/mount namespaces: {probe.stderr.strip()}")
    return args


def _enter(pid: int) -> list[str]:
    """``nsenter`` arguments into the network namespace of ``pid`` (and, without root, into
    the user namespace that owns it, keeping our own uid)."""
    if os.geteuid() == 0:
        return ["nsenter", "-t", str(pid), "--net"]
    return ["nsenter", "-t", str(pid), "--user", "--net", "--preserve-credentials"]


def _net_ns(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def _kill_namespace(proc: subprocess.Popen[bytes], ns: int | None) -> None:
    """Stop FTS's process group, then anything still in its network namespace."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            pass
    proc.wait(timeout=30)
    if ns is None:
        return
    # FTS's services are multiprocessing children; one that left the group would keep
    # the namespace alive. Only our processes live in that namespace.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if _net_ns(int(entry.name)) == ns:
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


@pytest.fixture(scope="module")
def fts_namespace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """FreeTAKServer running in private namespaces: (pid inside them, its temp dir)."""
    tmp = tmp_path_factory.mktemp("fts")
    prefix = _namespace_prefix(tmp)
    python = _fts_python(tmp)
    log = (tmp / "fts.log").open("w")
    fts = [
        str(python),
        "-m",
        "FreeTAKServer.controllers.services.FTS",
        "-CoTPort",
        str(COT_PORT),
        "-CoTIP",
        "127.0.0.1",
        "-SSLCoTPort",
        "8089",
        "-SSLCoTIP",
        "127.0.0.1",
        "-DataPackageIP",
        "127.0.0.1",
        "-RestAPIIP",
        "127.0.0.1",
        "-AutoStart",
        "True",
    ]
    proc = subprocess.Popen(
        [*prefix, "sh", "-c", _NAMESPACE_SH, "fts-namespace", str(tmp), str(VENV), *fts],
        env=dict(os.environ, FTS_FIRST_START="false"),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # FTS forks a dozen services: stop them as one group
    )
    inner: int | None = None
    ns: int | None = None
    try:
        deadline = time.monotonic() + 30
        while inner is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"FTS namespace exited with {proc.returncode}: {(tmp / 'fts.log').read_text()[-3000:]}"
                )
            try:
                inner = int((tmp / "pid").read_text())
            except (OSError, ValueError):
                time.sleep(0.1)
        if inner is None:
            pytest.fail("the FTS namespace did not start within 30 s")
        ns = _net_ns(inner)
        assert ns != _net_ns(os.getpid()), "FTS must not share the test's network namespace"
        yield inner, tmp
    finally:
        _kill_namespace(proc, ns)
        log.close()


def _attrs(xml: str, path: str) -> dict[str, str]:
    """The attributes of the element at ``path`` in a routed event, as FTS wrote them."""
    el = ET.fromstring(xml).find(path)
    assert el is not None, f"no {path} in {xml}"
    return dict(el.attrib)


def test_tak_server_routes_tracks_alerts_and_areas(fts_namespace: tuple[int, Path]) -> None:
    inner, tmp = fts_namespace
    run = subprocess.run(
        [*_enter(inner), sys.executable, str(CLIENT), str(COT_PORT)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    lines: list[dict[str, Any]] = [json.loads(s) for s in run.stdout.splitlines() if s.startswith("{")]
    context = (
        f"client rc={run.returncode}\n{run.stderr[-3000:]}\nFTS log:\n{(tmp / 'fts.log').read_text()[-3000:]}"
    )
    assert lines and lines[-1] == {"done": True}, context
    assert lines[0] == {"sent": [1, 1, 1, 1]}, context
    routed: dict[str, dict[str, Any]] = {}
    for ev in lines[1:-1]:
        routed.setdefault(ev["uid"], ev)
        if ev["type"] == "a-h-A-M-H-Q":
            routed[ev["uid"]] = ev  # the track after the critical alert
    track = routed["skyfence-test.track.7"]
    assert track["type"] == "a-h-A-M-H-Q"
    lat, lon, _ = SITE.to_wgs84([100.0, 50.0, 60.0])
    assert math.isclose(track["lat"], lat, abs_tol=1e-6) and math.isclose(track["lon"], lon, abs_tol=1e-6)
    assert track["stale_s"] > 0
    assert _attrs(track["xml"], "detail/track") == {"course": "90", "speed": "20"}
    marker = routed["skyfence-test.alert.A00001"]
    assert marker["type"] == "b-m-p-s-p-i"
    assert marker["callsign"] == "CRITICAL T7 → site-b 41s"
    # FreeTAKServer 2.2.1 re-serialises events from its own model: the <remarks> element
    # comes out as an attribute of <detail>, so the reason reaches clients, though not where
    # CoT readers look for it; the link to the track stays.
    assert _attrs(marker["xml"], "detail").get("remarks") == "[new] FPV 0.92, 41 s to zone"
    assert _attrs(marker["xml"], "detail/link") == {"uid": "skyfence-test.track.7", "relation": "p-p"}
    area = routed["skyfence-test.launch.7"]
    assert area["type"] == "u-d-c-e"
    ellipse = _attrs(area["xml"], "detail/shape/ellipse")
    assert (ellipse["major"], ellipse["minor"]) == ("250", "80")
    # What FTS wrote stayed in the test's temp dir: its /opt/fts and /opt overlay.
    assert any((tmp / "fts").iterdir()), "FTS wrote nothing to /opt/fts: was the bind mount used?"
