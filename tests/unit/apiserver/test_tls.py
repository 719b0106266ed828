"""The API server's self-signed CA and serving certificate: made once, reused, re-issued for new hosts."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

from cryptography import x509

from services.apiserver import tls


def _sans(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))


def test_generated_once_and_reused(tmp_path: Path) -> None:
    hosts = tls.serving_hosts("127.0.0.1", "127.96.0.1")
    ca, cert, key = tls.ensure_serving_cert(tmp_path, hosts)
    assert {"127.0.0.1", "localhost", "127.96.0.1", "kubernetes.default.svc"} <= _sans(cert)
    first = (ca.read_bytes(), cert.read_bytes(), key.read_bytes())
    tls.ensure_serving_cert(tmp_path, hosts)
    assert (ca.read_bytes(), cert.read_bytes(), key.read_bytes()) == first
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_new_host_reissues_from_the_same_ca(tmp_path: Path) -> None:
    ca, cert, _ = tls.ensure_serving_cert(tmp_path, tls.serving_hosts("127.0.0.1", "127.96.0.1"))
    ca_before, cert_before = ca.read_bytes(), cert.read_bytes()
    tls.ensure_serving_cert(tmp_path, tls.serving_hosts("127.0.1.7", "127.96.0.1"))
    assert ca.read_bytes() == ca_before and cert.read_bytes() != cert_before
    assert "127.0.1.7" in _sans(cert)
    issued = x509.load_pem_x509_certificate(cert.read_bytes())
    authority = x509.load_pem_x509_certificate(ca.read_bytes())
    issued.verify_directly_issued_by(authority)
    assert ipaddress.ip_address("127.0.1.7")


def test_server_context_loads(tmp_path: Path) -> None:
    _, cert, key = tls.ensure_serving_cert(tmp_path, ["127.0.0.1"])
    assert isinstance(tls.server_ssl_context(cert, key), ssl.SSLContext)
