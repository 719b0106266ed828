"""Serving certificates, as kube-apiserver makes them when none are given.

Guarantees: `ensure_serving_cert(cert_dir, hosts)` leaves `ca.crt`/`ca.key` (a self-signed CA) and
`apiserver.crt`/`apiserver.key` (a serving cert signed by that CA, valid for `hosts`: IPs and DNS
names) in `cert_dir`, generating them only when missing, so restarts reuse them and kubeconfigs
stay valid. A serving cert that does not cover every requested host is re-issued from the same CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVING_CERT, SERVING_KEY = "apiserver.crt", "apiserver.key"
VALIDITY = datetime.timedelta(days=3650)


def ensure_serving_cert(cert_dir: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """(ca_file, cert_file, key_file) in `cert_dir`, created once and reused."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ensure_ca(cert_dir)
    cert_path, key_path = cert_dir / SERVING_CERT, cert_dir / SERVING_KEY
    if not (cert_path.exists() and key_path.exists() and _covers(cert_path, hosts)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _serving_cert(ca_cert, ca_key, key, hosts)
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_dir / CA_CERT, cert_path, key_path


def server_ssl_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def _ensure_ca(cert_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = cert_dir / CA_CERT, cert_dir / CA_KEY
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        return cert, key  # type: ignore[return-value]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubemu-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _serving_cert(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                  key: ec.EllipticCurvePrivateKey, hosts: list[str]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _san_entries(hosts: list[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return entries


def _covers(cert_path: Path, hosts: list[str]) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))
    return all(str(ipaddress.ip_address(h)) in have if _is_ip(h) else h in have for h in hosts)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def serving_hosts(bind_address: str, first_service_ip: str) -> list[str]:
    hosts = ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local", first_service_ip]
    if bind_address not in ("0.0.0.0", "::", ""):
        hosts.append(bind_address)
    return hosts


def ssl_context_for(config) -> ssl.SSLContext:  # config: ApiServerConfig (kept untyped: no import cycle)
    """The server TLS context: the given cert/key pair, or the generated one in `cert_dir`."""
    if config.tls_cert_file and config.tls_private_key_file:
        return server_ssl_context(config.tls_cert_file, config.tls_private_key_file)
    import ipaddress as _ip

    first_ip = str(_ip.ip_network(config.service_cluster_ip_range, strict=False).network_address + 1)
    _, cert, key = ensure_serving_cert(config.cert_dir, serving_hosts(config.bind_address, first_ip))
    return server_ssl_context(cert, key)
