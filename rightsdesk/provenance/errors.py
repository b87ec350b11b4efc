"""Refusals of provenance. A file that cannot be verified at all is refused with one of
these codes (400); a file that can be read always gets a report, whatever its state.

``image_too_large`` is talent's code (``rightsdesk.talent.errors.ImageTooLarge``), raised
here too with the verification limits in ``extra``: one code, one meaning for clients.
"""

from rightsdesk.core.errors import ApplicationError


class EmptyFile(ApplicationError):
    code = "empty_file"
    default_message = "The file is empty."


class UnsupportedFormat(ApplicationError):
    code = "unsupported_format"
    default_message = (
        "This is not an image format that can be verified (JPEG, PNG, WebP, TIFF, AVIF)."
    )


class CorruptImage(ApplicationError):
    code = "corrupt_image"
    default_message = "The image is corrupt or truncated."


class SigningUnavailable(ApplicationError):
    # No credential can sign: production without RIGHTSDESK_C2PA_CERT_CHAIN and
    # RIGHTSDESK_C2PA_PRIVATE_KEY, or the configured files do not hold a usable ES256 signer;
    # or RIGHTSDESK_TSA_URL gave no usable timestamp (transient: the caller may retry).
    code = "signing_unavailable"
    status = 503
    default_message = "No signing credential is configured on this instance."
