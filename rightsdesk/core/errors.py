"""The registry of error codes.

Every refusal the system gives has a stable ``code`` that clients and tests can rely on.
Each code is a subclass of ApplicationError declared here or in an app's ``errors.py``;
``ApplicationError.registry`` maps code to class and README.md lists them all.
"""

import importlib
import importlib.util
import pkgutil
from typing import Any, ClassVar


class ApplicationError(Exception):
    code: ClassVar[str] = "application_error"
    status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The request could not be carried out."
    registry: ClassVar[dict[str, type["ApplicationError"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        existing = ApplicationError.registry.get(cls.code)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise TypeError(f"error code {cls.code!r} is declared twice")
        ApplicationError.registry[cls.code] = cls

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "extra": self.extra}


class ValidationFailed(ApplicationError):
    code = "validation_error"
    default_message = "Some fields are invalid."


class NotFound(ApplicationError):
    # Foreign objects answer 404 rather than 403 so that ids do not leak (DESIGN.md).
    code = "not_found"
    status = 404
    default_message = "Not found."


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403
    default_message = "You may not do this."


class NotAuthenticated(ApplicationError):
    code = "not_authenticated"
    status = 401
    default_message = "Authentication credentials were not provided."


class AuthenticationFailed(ApplicationError):
    code = "authentication_failed"
    status = 401
    default_message = "Incorrect e-mail or password."


class InvalidTransition(ApplicationError):
    code = "invalid_transition"
    status = 409
    default_message = "This change of state is not allowed."


class IdempotencyConflict(ApplicationError):
    code = "idempotency_conflict"
    status = 409
    default_message = "The idempotency key was already used with a different payload."


class MinorNotAllowed(ApplicationError):
    code = "minor_not_allowed"
    default_message = "This talent is a minor and this instance does not allow minors."


class GuardianRequired(ApplicationError):
    code = "guardian_required"
    default_message = "A minor can only act through a guardian."


class CommissionAboveCap(ApplicationError):
    code = "commission_above_cap"
    default_message = "The commission is above the cap allowed by this instance."


class IdentityNotVerified(ApplicationError):
    code = "identity_not_verified"
    default_message = "The talent's identity has not been verified."


class NotPrincipal(ApplicationError):
    # Only the talent, a guardian or an estate may consent to capture or training
    # (NY Fashion Workers Act §1035; SAG-AFTRA digital replica terms).
    code = "not_principal"
    status = 403
    default_message = "Only the talent, a guardian or the estate may do this."


class MethodNotAllowed(ApplicationError):
    code = "method_not_allowed"
    status = 405
    default_message = "Method not allowed."


class UnsupportedMediaType(ApplicationError):
    code = "unsupported_media_type"
    status = 415
    default_message = "Unsupported media type."


class ParseError(ApplicationError):
    code = "parse_error"
    default_message = "Malformed request."


class Throttled(ApplicationError):
    code = "throttled"
    status = 429
    default_message = "Too many requests."


class PayloadTooLarge(ApplicationError):
    code = "payload_too_large"
    status = 413
    default_message = "The upload is too large."


class ServerError(ApplicationError):
    code = "server_error"
    status = 500
    default_message = "Something went wrong on our side; it has been logged."


class ServiceUnavailable(ApplicationError):
    code = "service_unavailable"
    status = 503
    default_message = "A service this needs is unavailable."


class EncryptedDataInvalid(ApplicationError):
    # AES-GCM refused the blob: altered, moved from another row or purpose (other associated
    # data), or sealed under another key. Never a client's fault; nothing is returned.
    code = "encrypted_data_invalid"
    status = 500
    default_message = "Stored encrypted data failed its integrity check."


class KeyEncryptionKeyUnknown(ApplicationError):
    # A wrapped key names a key-encryption key that is neither RIGHTSDESK_DATA_KEY nor in
    # RIGHTSDESK_DATA_KEYS_OLD: an old key was dropped before `rotate_data_keys` ran.
    code = "kek_unknown"
    status = 500
    default_message = "A data key is wrapped by a key-encryption key this instance lacks."


class GateDenied(ApplicationError):
    # The gate (consent.gate.evaluate) answered anything but allow; extra.reasons holds its
    # reason codes and extra.gate_decision the stored decision's id.
    code = "gate_denied"
    status = 409
    default_message = "The gate refused this; extra.reasons says why."


class BaseModelUnavailable(ApplicationError):
    # RIGHTSDESK_BASE_MODEL names a folder this process cannot read, so it cannot name the
    # base model a training consent must cover.
    code = "base_model_unavailable"
    status = 503
    default_message = "The configured base model cannot be identified."


def load_all_error_modules() -> dict[str, type[ApplicationError]]:
    """Import ``rightsdesk.<app>.errors`` for every app that has one; return the registry.

    Codes register themselves when their module is imported, so a list of every code (the
    README's table, its test) needs every errors module imported first.
    """
    import rightsdesk

    for package in pkgutil.iter_modules(rightsdesk.__path__):
        name = f"rightsdesk.{package.name}.errors"
        if package.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    return dict(ApplicationError.registry)
