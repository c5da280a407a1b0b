"""A throwaway local certificate authority for loopback TLS (the secured local Kafka, tests).

Certificates carry what Python 3.13's strict verification (VERIFY_X509_STRICT) requires: the
CA's key usage and key identifier, and each leaf's authority and subject key identifiers.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PEM = serialization.Encoding.PEM


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass(frozen=True)
class Leaf:
    """A certificate and its key, in PEM."""

    cert_pem: bytes
    key_pem: bytes  # PKCS#8, unencrypted


@dataclass(frozen=True)
class LocalCa:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    lifetime: dt.timedelta

    @classmethod
    def create(cls, common_name: str, lifetime: dt.timedelta) -> LocalCa:
        key = ec.generate_private_key(ec.SECP256R1())
        usage = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        cert = (
            _validity(x509.CertificateBuilder(), lifetime)
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert, lifetime)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(_PEM)

    def issue(self, names: Sequence[str], *, client_auth: bool = False) -> Leaf:
        """A server certificate for `names` (DNS names or IP addresses; the first is the
        subject), also good for client authentication when asked."""
        key = ec.generate_private_key(ec.SECP256R1())
        purposes = [ExtendedKeyUsageOID.SERVER_AUTH]
        if client_auth:
            purposes.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        ca_public = self.key.public_key()
        cert = (
            _validity(x509.CertificateBuilder(), self.lifetime)
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .add_extension(
                x509.SubjectAlternativeName([_alt_name(n) for n in names]), critical=False
            )
            .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            _PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return Leaf(cert.public_bytes(_PEM), key_pem)


def _validity(builder: x509.CertificateBuilder, lifetime: dt.timedelta) -> x509.CertificateBuilder:
    # Valid from a few minutes ago: a peer whose clock is slightly behind still accepts it.
    now = dt.datetime.now(dt.UTC)
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
    )
