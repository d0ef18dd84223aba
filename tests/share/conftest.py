"""A CoT receiver for the TAK tests: a real TCP (or TLS) server on 127.0.0.1 that splits
the stream into CoT XML documents and TAK protobuf messages and parses every one with
takproto, as a TAK server would.

FreeTAKServer 2.2.1 cannot be a dependency of the project's venv (it pins old libraries),
so most CoT tests use this receiver; ``test_tak_server.py`` also runs a real FreeTAKServer
from its own venv inside private network and mount namespaces.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skyfence.share.cot import decode_stream


@dataclass
class CotReceiver:
    host: str
    port: int
    messages: list[bytes] = field(default_factory=list)
    parsed: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    connections: int = 0

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while len(self.parsed) + len(self.errors) < n and time.monotonic() < end:
            time.sleep(0.01)


def _serve(srv: socket.socket, rx: CotReceiver, ctx: ssl.SSLContext | None, stop: threading.Event) -> None:
    import takproto

    srv.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        rx.connections += 1
        try:
            if ctx is not None:
                conn = ctx.wrap_socket(conn, server_side=True)
            conn.settimeout(0.1)
            buf = b""
            while not stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                msgs, buf = decode_stream(buf + chunk)
                for m in msgs:
                    rx.messages.append(m)
                    try:
                        parsed = takproto.parse_proto(bytearray(m))
                    except Exception as exc:  # a parse failure is a test failure, recorded
                        rx.errors.append(f"{exc!r}: {m[:80]!r}")
                        continue
                    if parsed is None:
                        rx.errors.append(f"unparsed: {m[:80]!r}")
                    else:
                        rx.parsed.append(parsed)
        except (OSError, ssl.SSLError) as exc:
            rx.errors.append(f"connection: {exc!r}")
        finally:
            conn.close()


def _start(ctx: ssl.SSLContext | None) -> Iterator[CotReceiver]:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    rx = CotReceiver("127.0.0.1", srv.getsockname()[1])
    stop = threading.Event()
    th = threading.Thread(target=_serve, args=(srv, rx, ctx, stop), daemon=True)
    th.start()
    yield rx
    stop.set()
    srv.close()
    th.join(timeout=5)


@pytest.fixture
def cot_receiver() -> Iterator[CotReceiver]:
    yield from _start(None)


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not found")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def tls_cot_receiver(tls_cert: tuple[Path, Path]) -> Iterator[CotReceiver]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
    yield from _start(ctx)
