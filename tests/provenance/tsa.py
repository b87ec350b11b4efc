"""A tiny RFC 3161 timestamp authority for the tests, served over HTTP on 127.0.0.1.

c2pa's signer POSTs a TimeStampReq (``application/timestamp-query``) to
RIGHTSDESK_TSA_URL and embeds the token of the TimeStampResp it gets back. This one
answers as a real TSA does: a CMS SignedData over a TSTInfo (the request's message
imprint and nonce, a serial number, the time), signed in ES256 with signed attributes
(content type, message digest, the ESS signingCertificateV2 of RFC 5816) by a certificate
whose only extended key usage is timeStamping (critical), under a root of its own.

It keeps what it received and issued so that a test can see that the library asked, and
that the token it issued is the one in the signed file. ``answer`` switches it to a broken
authority ("garbage": bytes that are no TimeStampResp).
"""

import datetime
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

POLICY = "1.3.6.1.4.1.32473.1.1"  # under the OID arc reserved for documentation (RFC 5612)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Time Stamping"),
        ]
    )


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _certificates() -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """(root, TSA certificate, TSA key)."""
    now = datetime.datetime.now(datetime.UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)
    root = (
        x509.CertificateBuilder(
            issuer_name=_name("Test TSA Root"), subject_name=_name("Test TSA Root")
        )
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder(issuer_name=root.subject, subject_name=_name("Test TSA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        # RFC 3161 2.3: the TSA's certificate has timeStamping as its only EKU, critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    return root, leaf, key


class TimestampAuthority:
    def __init__(self, *, stamped_at: datetime.datetime | None = None) -> None:
        root, leaf, self._key = _certificates()
        self.root_pem = root.public_bytes(serialization.Encoding.PEM).decode()
        self._leaf_der = leaf.public_bytes(serialization.Encoding.DER)
        self._leaf = asn1_x509.Certificate.load(self._leaf_der)
        # The time it puts in every token: whole seconds, as TSTInfo's GeneralizedTime.
        self.stamped_at = (stamped_at or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
        self.answer = "token"
        self.requests: list[tsp.TimeStampReq] = []
        self.issued: list[bytes] = []  # the DER TSTInfo of each token
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}/tsa"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "TimestampAuthority":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def respond(self, body: bytes) -> bytes:
        request = tsp.TimeStampReq.load(body)
        self.requests.append(request)
        if self.answer == "garbage":
            return b"not a TimeStampResp"
        info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": POLICY,
                "message_imprint": request["message_imprint"],
                "serial_number": len(self.requests),
                "gen_time": self.stamped_at,
                "nonce": request["nonce"].native,
            }
        )
        if request["nonce"].native is None:
            del info["nonce"]
        self.issued.append(info.dump())
        return tsp.TimeStampResp(
            {
                "status": {"status": "granted"},
                "time_stamp_token": {"content_type": "signed_data", "content": self._signed(info)},
            }
        ).dump()

    def _signed(self, info: tsp.TSTInfo) -> cms.SignedData:
        attributes = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [hashlib.sha256(info.dump()).digest()]},
                {
                    "type": "signing_certificate_v2",
                    "values": [{"certs": [{"cert_hash": hashlib.sha256(self._leaf_der).digest()}]}],
                },
            ]
        )
        signature = self._key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": {
                    "issuer_and_serial_number": {
                        "issuer": self._leaf.issuer,
                        "serial_number": self._leaf.serial_number,
                    }
                },
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": attributes,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }
        )
        return cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {"content_type": "tst_info", "content": info},
                "certificates": [self._leaf],
                "signer_infos": [signer],
            }
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415)
                    return
                answer = authority.respond(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        return Handler
