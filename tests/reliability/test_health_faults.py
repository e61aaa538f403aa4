"""Health endpoint faults that tests/unit/test_health.py does not already cover.

Covered there (see docs/what-we-test.md): connection refused, DNS failure, TLS to a plain HTTP
port, slow headers, slow and trickling bodies, 500, 503 with Retry-After, HTML instead of JSON,
JSON missing fields, flapping. Here: a certificate the client does not trust, a connection reset
by the server, and a server that hangs up without answering.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploytool.health import HealthSettings, Verdict, check_http

HEALTHY = {"status": "healthy", "components": {"database": {"status": "healthy"}}}


class Healthy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps(HEALTHY).encode() if self.path == "/health/detailed" else b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if self.path == "/health/detailed" else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key (what a misconfigured endpoint serves)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture()
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A healthy service over HTTPS with a self-signed certificate: (base URL, the certificate)."""
    cert, key = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def raw_server(on_connection: Callable[[socket.socket], None]) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            on_connection(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    listener.close()


def quick(base_url: str, **overrides: Any) -> HealthSettings:
    values: dict[str, Any] = {"base_url": base_url, "request_timeout_s": 1.0, "budget_s": 1.0, "interval_s": 0.1}
    values.update(overrides)
    return HealthSettings(**values)


def only_failure(verdict: Verdict) -> str:
    assert not verdict.ok
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.basic", verdict.summary()
    assert "\n" not in failure.detail
    return failure.detail


def test_untrusted_certificate_fails_and_says_why(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    detail = only_failure(check_http(quick(url)))
    assert detail.startswith(f"TLS certificate verification failed for {url.removeprefix('https://')}: ")
    assert "self-signed" in detail or "self signed" in detail
    # The same server passes once its certificate is trusted: the failure was the trust, nothing else.
    trusted = check_http(quick(url, verify_tls=str(cert), consecutive_passes=1))
    assert trusted.ok, trusted.summary()


@pytest.fixture()
def resetting_server() -> Iterator[str]:
    def reset(conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.recv(65536)
        conn.close()

    yield from raw_server(reset)


@pytest.fixture()
def hanging_up_server() -> Iterator[str]:
    def hang_up(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.close()

    yield from raw_server(hang_up)


def test_connection_reset_by_the_server_fails(resetting_server: str) -> None:
    detail = only_failure(check_http(quick(resetting_server)))
    assert detail == f"connection reset by {resetting_server.removeprefix('http://')}"


def test_server_hanging_up_without_an_answer_fails(hanging_up_server: str) -> None:
    detail = only_failure(check_http(quick(hanging_up_server)))
    assert detail.startswith(f"{hanging_up_server.removeprefix('http://')} sent no valid HTTP response")
