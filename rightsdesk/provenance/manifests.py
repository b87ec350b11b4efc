"""Talking to the c2pa library: the manifest we sign, signers, and the two Contexts.

Every Reader and Builder gets an explicit Context (PITFALLS.md): without one the library
may go to the network. Reading never fetches a remote manifest nor asks OCSP, and trusts
only the roots of our own credentials (all of them, ever: rotation keeps earlier assets
trusted) plus the PEM bundle named by RIGHTSDESK_C2PA_TRUST_ANCHORS. Signing skips the
library's own thumbnail (66-170 ms a 1024 px image; ours costs about 1 ms) and its
re-verification of what it just signed.

The reading Context is built once per set of anchors and shared. A credential made in
another process is picked up when a file that carries our disclosure reads as merely
"Valid": verification then reloads the anchors once (``reading_context(reload=True)``).

With RIGHTSDESK_TSA_URL set, the library POSTs an RFC 3161 request to it during
``Builder.sign`` and embeds the token in the signature (its time becomes the signature's
``time``). The token keeps an asset trusted after its signer expires only if the TSA's
certificate chains to a trust anchor (measured with c2pa 0.38.1: an expired signer with an
untrusted timestamp reads Invalid, ``signingCredential.expired``). c2pa has one trust list
for both, so the TSA's root goes into RIGHTSDESK_C2PA_TRUST_ANCHORS;
``timestamp_trusted`` lets signing warn, once per signer, when it is missing.
"""

import hashlib
import io
import json
import threading
from typing import Any
from uuid import UUID

import c2pa
from django.conf import settings

from rightsdesk.core import crypto
from rightsdesk.provenance import credentials
from rightsdesk.provenance.marks import IPTC_TRAINED_ALGORITHMIC_MEDIA
from rightsdesk.provenance.types import Disclosure

SOFTWARE_NAME = "Rightsdesk"
SOFTWARE_VERSION = "1.0.0"
DISCLOSURE_LABEL = "com.rightsdesk.disclosure"
THUMBNAIL_ID = "thumbnail.jpg"

_lock = threading.Lock()
_reading: dict[str, Any] = {"key": None, "context": None}
_signing: dict[str, Any] = {"context": None}
_signers: dict[tuple[str, str], c2pa.Signer] = {}
_timestamps_checked: set[tuple[str, str]] = set()


def manifest_definition(
    *,
    asset_id: UUID,
    manifest_label: str,
    disclosure: Disclosure,
    commitment: str,
    mime_type: str,
) -> dict[str, Any]:
    training = {"use": "notAllowed"}
    inference = {"use": "allowed" if disclosure.inference_allowed else "notAllowed"}
    return {
        "label": manifest_label,
        "claim_generator_info": [{"name": SOFTWARE_NAME, "version": SOFTWARE_VERSION}],
        "title": f"{asset_id}.{mime_type.rsplit('/', 1)[-1]}",
        "format": mime_type,
        "thumbnail": {"format": "image/jpeg", "identifier": THUMBNAIL_ID},
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC_TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": SOFTWARE_NAME, "version": SOFTWARE_VERSION},
                        }
                    ]
                },
            },
            {
                "label": "cawg.training-mining",
                "data": {
                    "entries": {
                        "cawg.ai_generative_training": training,
                        "cawg.ai_training": training,
                        "cawg.data_mining": training,
                        "cawg.ai_inference": inference,
                    }
                },
            },
            {
                "label": DISCLOSURE_LABEL,
                "data": {
                    "version": 1,
                    "asset": str(asset_id),
                    "status_url": status_url(asset_id),
                    "approved_exact_image": disclosure.approved_exact_image,
                    "commitment": commitment,
                },
            },
        ],
    }


def status_url(asset_id: UUID) -> str:
    return f"{settings.RIGHTSDESK_BASE_URL.rstrip('/')}/verify/a/{asset_id}"


def signing_context() -> c2pa.Context:
    with _lock:
        if _signing["context"] is None:
            _signing["context"] = c2pa.Context.from_dict(
                {
                    "builder": {"thumbnail": {"enabled": False}},
                    "verify": {
                        "verify_after_sign": False,
                        "remote_manifest_fetch": False,
                        "ocsp_fetch": False,
                    },
                }
            )
        return _signing["context"]


def signer_for(credential) -> c2pa.Signer:
    """The library's signer for ``credential`` (a SigningCredential), made once per process;
    the private key is opened only here."""
    tsa_url = settings.RIGHTSDESK_TSA_URL
    with _lock:
        signer = _signers.get((credential.certificate_sha256, tsa_url))
        if signer is None:
            key_pem = open_private_key(credential)
            info = c2pa.C2paSignerInfo(
                c2pa.C2paSigningAlg.ES256,
                credential.certificate_chain_pem.encode(),
                key_pem.encode(),
                tsa_url or None,
            )
            signer = c2pa.Signer.from_info(info)
            _signers[(credential.certificate_sha256, tsa_url)] = signer
        return signer


def key_associated_data(public_id: UUID) -> tuple[bytes, bytes]:
    base = f"rightsdesk:c2pa-credential:{public_id}"
    return f"{base}:data-key".encode(), f"{base}:private-key".encode()


def seal_private_key(*, public_id: UUID, key_pem: str) -> tuple[bytes, bytes, str]:
    """``(sealed key, wrapped data key, kek id)``: envelope encryption, bound to the row."""
    key_ad, blob_ad = key_associated_data(public_id)
    data_key = crypto.new_data_key()
    wrapped, kek_id = crypto.wrap_key(data_key=data_key, associated_data=key_ad)
    sealed = crypto.seal(key=data_key, plaintext=key_pem.encode(), associated_data=blob_ad)
    return sealed, wrapped, kek_id


def open_private_key(credential) -> str:
    key_ad, blob_ad = key_associated_data(credential.public_id)
    data_key = crypto.unwrap_key(
        wrapped=bytes(credential.data_key_wrapped),
        kek_id=credential.kek_id,
        associated_data=key_ad,
    )
    sealed = bytes(credential.private_key_sealed)
    return crypto.open_sealed(key=data_key, blob=sealed, associated_data=blob_ad).decode()


def sign(
    *,
    definition: dict[str, Any],
    data: bytes,
    mime_type: str,
    signer: c2pa.Signer,
    thumbnail: bytes,
) -> bytes:
    """The signed file: ``data`` with ``definition`` embedded, our thumbnail attached."""
    builder = c2pa.Builder(definition, context=signing_context())
    builder.add_resource(THUMBNAIL_ID, io.BytesIO(thumbnail))
    out = io.BytesIO()
    builder.sign(signer, mime_type, io.BytesIO(data), out)
    return out.getvalue()


def reading_context(*, reload: bool = False) -> c2pa.Context:
    """The shared Context for reading, trusting our credentials' roots and the external
    anchors. ``reload`` re-reads them from the database (one query)."""
    with _lock:
        if _reading["context"] is not None and not reload:
            return _reading["context"]
    anchors = _anchor_bundle()
    key = hashlib.sha256(anchors.encode()).hexdigest()
    with _lock:
        if _reading["key"] != key or _reading["context"] is None:
            config: dict[str, Any] = {
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            }
            if anchors:
                config["trust"] = {"trust_anchors": anchors}
            _reading["context"] = c2pa.Context.from_dict(config)
            _reading["key"] = key
        return _reading["context"]


def forget_reading_context() -> None:
    """Drop the cached anchors (a credential was installed in this process)."""
    with _lock:
        _reading["context"] = None
        _reading["key"] = None
        _timestamps_checked.clear()


def timestamp_check_due(*, certificate_sha256: str, tsa_url: str) -> bool:
    """True the first time it is asked for this signer and TSA (since the anchors loaded)."""
    key = (certificate_sha256, tsa_url)
    with _lock:
        if key in _timestamps_checked:
            return False
        _timestamps_checked.add(key)
        return True


def timestamp_trusted(*, data: bytes, mime_type: str) -> bool:
    """Whether the signature of ``data`` carries a timestamp that verification trusts."""
    with c2pa.Reader(mime_type, io.BytesIO(data), context=reading_context()) as reader:
        store = json.loads(reader.json())
    active = (store.get("validation_results") or {}).get("activeManifest") or {}
    return any(entry.get("code") == "timeStamp.trusted" for entry in active.get("success", []))


def _anchor_bundle() -> str:
    from rightsdesk.provenance.selectors import trust_anchor_pems

    pems = [pem.strip() + "\n" for pem in trust_anchor_pems()]
    external = credentials.external_trust_anchors().strip()
    if external:
        pems.append(external + "\n")
    return "".join(pems)
