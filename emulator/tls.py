"""HTTPS for the emulator: a CA made at start, and a server certificate for 127.0.0.1 and localhost.

Real providers are HTTPS endpoints, so the provider clients' TLS path (handshakes, certificate
checks, the trust setting ``EXAI_PROVIDER_CA_FILE``) is exercised against a server whose CA the
clients do not trust by default, as with a private CA in front of a real API. Both keys live only
in memory; only the CA certificate (public) is written, for the clients to trust.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = datetime.timedelta(days=2)
CLOCK_SKEW = datetime.timedelta(minutes=5)  # not-before in the past, for clients whose clock is behind
SERVER_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsIdentity:
    ca_pem: bytes  # the CA certificate clients are to trust
    cert_pem: bytes  # the server certificate, signed by that CA
    key_pem: bytes  # the server's private key

    def server_context(self) -> ssl.SSLContext:
        """A server-side context serving the certificate (TLS 1.2 and 1.3, the ssl module's defaults)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # load_cert_chain reads files only; a private temporary directory holds the key for a moment.
        with tempfile.TemporaryDirectory(prefix="emulator-tls-") as tmp:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert.write_bytes(self.cert_pem)
            key.touch(mode=0o600)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_identity(now: datetime.datetime | None = None) -> TlsIdentity:
    """A fresh CA and a server certificate it signed for ``SERVER_NAMES``."""
    now = now or datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("exai-mcp emulator CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(SERVER_NAMES[0]))]
    names += [x509.DNSName(n) for n in SERVER_NAMES[1:]]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(SERVER_NAMES[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return TlsIdentity(
        ca_pem=ca.public_bytes(pem),
        cert_pem=cert.public_bytes(pem),
        key_pem=key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def write_ca(identity: TlsIdentity, path: Path | None) -> Path:
    """Write the CA certificate to ``path`` (a new temporary file when None) and return where."""
    if path is None:
        with tempfile.NamedTemporaryFile(prefix="emulator-ca-", suffix=".pem", delete=False) as file:
            path = Path(file.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(identity.ca_pem)
    return path
