"""One exception handler: every error leaves the API as ``{"code", "message", "extra"}``."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response

from rightsdesk.core import errors

logger = logging.getLogger(__name__)

_DRF_TO_APP: dict[type[drf.APIException], type[errors.ApplicationError]] = {
    drf.NotAuthenticated: errors.NotAuthenticated,
    drf.AuthenticationFailed: errors.AuthenticationFailed,
    drf.PermissionDenied: errors.PermissionDenied,
    drf.NotFound: errors.NotFound,
    drf.MethodNotAllowed: errors.MethodNotAllowed,
    drf.UnsupportedMediaType: errors.UnsupportedMediaType,
    drf.ParseError: errors.ParseError,
    drf.Throttled: errors.Throttled,
}


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (for the OpenAPI schema)."""

    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()

    class Meta:
        ref_name = "Error"


def _to_application_error(exc: Exception) -> errors.ApplicationError | None:
    if isinstance(exc, errors.ApplicationError):
        return exc
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return errors.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return errors.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return errors.ValidationFailed(fields=fields)
    if isinstance(exc, drf.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return errors.ValidationFailed(fields=detail)
    for drf_class, app_class in _DRF_TO_APP.items():
        if isinstance(exc, drf_class):
            return app_class(str(exc.detail))
    return None


def exception_handler(exc: Exception, context: dict) -> Response | None:
    error = _to_application_error(exc)
    if error is None:
        return None  # Django's 500 handler logs it; the client sees the 500 page.
    response = Response(error.as_dict(), status=error.status)
    if isinstance(exc, drf.APIException):
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            response["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait:
            response["Retry-After"] = str(int(wait))
    return response
