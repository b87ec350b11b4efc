from rightsdesk.core.errors import ApplicationError


class IdentityAlreadyVerified(ApplicationError):
    # The first attestation is evidence; it is not overwritten.
    code = "identity_already_verified"
    status = 409
    default_message = "This talent's identity has already been verified."


class RepresentationOverlaps(ApplicationError):
    code = "representation_overlaps"
    status = 409
    default_message = "This agency already represents this talent during that period."


class ProxyExists(ApplicationError):
    code = "proxy_exists"
    status = 409
    default_message = "This user already acts for this talent in that capacity."


class TalentAlreadyDeceased(ApplicationError):
    code = "talent_already_deceased"
    status = 409
    default_message = "This talent is already recorded as deceased."


# Data keys and erasure


class DataKeyDestroyed(ApplicationError):
    # Crypto-shredded: what was sealed under the key can never be read again. A new key is
    # made only for a capture consent given after the destruction.
    code = "data_key_destroyed"
    status = 410
    default_message = "The talent's data key was destroyed; this data can no longer be read."


class AgreementStillActive(ApplicationError):
    code = "agreement_still_active"
    status = 409
    default_message = (
        "The talent still has an agreement in force; erasure can be asked for once the last "
        "one has ended or been withdrawn from."
    )


# Capture


class CaptureNoticePeriod(ApplicationError):
    # DESIGN.md: the talent is told 48 hours ahead of a capture, unless they waive it.
    code = "capture_notice_period"
    status = 409
    default_message = (
        "The 48-hour notice to the talent has not run out and was not waived; images can be "
        "uploaded from extra.notice_ends_at."
    )


class NoCaptureConsent(ApplicationError):
    code = "no_capture_consent"
    status = 409
    default_message = (
        "No live capture consent from the talent's principal covers this session (none given, "
        "withdrawn, or given for another session)."
    )


class CaptureNotAllowed(ApplicationError):
    code = "capture_not_allowed"
    status = 409
    default_message = "The gate refused this capture; extra.reasons says why."


class CaptureSessionClosed(ApplicationError):
    code = "capture_session_closed"
    status = 409
    default_message = "This capture session is closed; no more images can be added."


class UnsupportedImageFormat(ApplicationError):
    code = "unsupported_image_format"
    default_message = "Only still PNG, JPEG and WebP images are accepted."


class ImageTooLarge(ApplicationError):
    code = "image_too_large"
    default_message = "The image file is larger than this instance accepts."


class ImageTooManyPixels(ApplicationError):
    # Checked from the header before decoding: a small file can claim billions of pixels.
    code = "image_too_many_pixels"
    default_message = "The image has more pixels than this instance accepts."


class ImageCorrupt(ApplicationError):
    code = "image_corrupt"
    default_message = "The image is corrupt or truncated."


class DuplicateImage(ApplicationError):
    code = "duplicate_image"
    status = 409
    default_message = "This exact image (same SHA-256) is already in this session."


# Likeness training


class CaptureSessionEmpty(ApplicationError):
    code = "capture_session_empty"
    status = 409
    default_message = "This capture session has no images to train a likeness from."
