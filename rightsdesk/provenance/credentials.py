"""Certificates for C2PA signing: the development CA, reading a chain, checking a signer.

The c2pa library refuses a signer certificate unless it is an end-entity certificate
(CA:false) with the digitalSignature key usage, the emailProtection extended key usage
(one the default C2PA trust configuration accepts) and subject and authority key
identifiers. Without a timestamp authority, validity is checked against the time of
verification: once the signer expires, every asset it signed turns invalid. So the
development signer lives 20 years and its CA 30.

The development CA and signer are made once, under a file lock, in
``<RIGHTSDESK_VAR_DIR>/keys/c2pa/``: the web process and a worker started together must
not each make a different one. Production reads the chain and key from the files named by
``RIGHTSDESK_C2PA_CERT_CHAIN`` and ``RIGHTSDESK_C2PA_PRIVATE_KEY``.
"""

import datetime
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from filelock import FileLock

from rightsdesk.provenance.errors import SigningUnavailable

SIGNER_YEARS = 20
CA_YEARS = 30
DEV_ORGANISATION = "Rightsdesk (development)"


@dataclass(frozen=True)
class ChainFacts:
    chain_pem: str  # leaf first
    trust_anchor_pem: str
    certificate_sha256: str
    certificate_serial: str
    subject_common_name: str
    issuer_name: str
    not_before: datetime.datetime
    not_after: datetime.datetime


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _name_part(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    parts = name.get_attributes_for_oid(oid)
    return str(parts[0].value) if parts else ""


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def make_chain(*, organisation: str, now: datetime.datetime | None = None) -> tuple[str, str]:
    """A new root CA and an ES256 signer under it: ``(chain PEM leaf first, key PEM)``."""
    now = now or datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} Root CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signer=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} Signer"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signer=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return _pem(leaf) + _pem(ca), key_pem


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def development_chain() -> tuple[str, str]:
    """The development chain and key, made on first use under a file lock."""
    folder = Path(settings.VAR_DIR) / "keys" / "c2pa"
    folder.mkdir(parents=True, exist_ok=True)
    chain_path, key_path = folder / "signer-chain.pem", folder / "signer-key.pem"
    with FileLock(str(folder / "make.lock")):
        if not (chain_path.exists() and key_path.exists()):
            chain_pem, key_pem = make_chain(organisation=DEV_ORGANISATION)
            for path in (chain_path, key_path):
                path.unlink(missing_ok=True)
            _write_private(key_path, key_pem)
            _write_private(chain_path, chain_pem)
        return chain_path.read_text(), key_path.read_text()


def configured_chain() -> tuple[str, str] | None:
    """The production chain and key from the files the settings name, or None if unset."""
    chain_file = settings.RIGHTSDESK_C2PA_CERT_CHAIN
    key_file = settings.RIGHTSDESK_C2PA_PRIVATE_KEY
    if not chain_file and not key_file:
        return None
    if not (chain_file and key_file):
        raise SigningUnavailable(
            "RIGHTSDESK_C2PA_CERT_CHAIN and RIGHTSDESK_C2PA_PRIVATE_KEY must be set together."
        )
    try:
        stamps = (os.stat(chain_file).st_mtime_ns, os.stat(key_file).st_mtime_ns)
        return _read_pair(chain_file, key_file, stamps)
    except OSError as exc:
        raise SigningUnavailable(f"Cannot read the signing files: {exc.strerror}.")


@lru_cache(maxsize=4)
def _read_pair(chain_file: str, key_file: str, stamps: tuple[int, int]) -> tuple[str, str]:
    # Read again only when a file changes (stamps): every signing asks.
    return Path(chain_file).read_text(), Path(key_file).read_text()


def external_trust_anchors() -> str:
    """The PEM bundle named by RIGHTSDESK_C2PA_TRUST_ANCHORS (extra roots to trust)."""
    path = settings.RIGHTSDESK_C2PA_TRUST_ANCHORS
    if not path:
        return ""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def chain_facts(*, chain_pem: str, key_pem: str) -> ChainFacts:
    """Check that ``chain_pem`` (leaf first) and ``key_pem`` make a signer the library
    accepts, and return what the credential row keeps. SigningUnavailable otherwise."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except ValueError as exc:
        raise SigningUnavailable(f"The certificate chain or key cannot be read: {exc}.")
    leaf = certs[0]
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SigningUnavailable("The signing key must be an ES256 (P-256) key.")
    if key.public_key().public_numbers() != leaf.public_key().public_numbers():
        raise SigningUnavailable("The private key does not belong to the first certificate.")
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound as exc:
        raise SigningUnavailable(f"The signer certificate lacks an extension: {exc.oid}.")
    if constraints.ca or not usage.digital_signature:
        raise SigningUnavailable("The signer must be CA:false with digitalSignature.")
    top = certs[-1]
    return ChainFacts(
        chain_pem="".join(_pem(cert) for cert in certs),
        trust_anchor_pem=_pem(top),
        certificate_sha256=hashlib.sha256(
            leaf.public_bytes(serialization.Encoding.DER)
        ).hexdigest(),
        certificate_serial=str(leaf.serial_number),
        subject_common_name=_name_part(leaf.subject, NameOID.COMMON_NAME)[:200],
        issuer_name=(
            _name_part(leaf.subject, NameOID.ORGANIZATION_NAME)
            or _name_part(leaf.issuer, NameOID.COMMON_NAME)
        )[:200],
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


@lru_cache(maxsize=8)
def leaf_sha256(chain_pem: str) -> str:
    leaf = x509.load_pem_x509_certificates(chain_pem.encode())[0]
    return hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
