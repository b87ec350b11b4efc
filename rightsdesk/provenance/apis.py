"""POST /api/v1/verify/: anyone may verify an image (multipart, field ``file``).

No authentication is read (so no CSRF either): the answer is the same for everyone and
nothing is stored. The upload is held in memory only and dropped with the request; past
RIGHTSDESK_VERIFY_MAX_BYTES the handler stops reading and the request fails with
``image_too_large``. Each client (IP address) gets RIGHTSDESK_VERIFY_RATE verifications.
"""

import io

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.provenance import types
from rightsdesk.provenance.verification import verify_image
from rightsdesk.talent.errors import ImageTooLarge


class VerifyRateThrottle(SimpleRateThrottle):
    """Per client address, whoever is logged in; the rate is read from the settings on
    every request (the page uses it too)."""

    scope = "verify"

    def get_rate(self) -> str:
        return settings.RIGHTSDESK_VERIFY_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_ident(self, request) -> str:
        # DRF trusts X-Forwarded-For unless NUM_PROXIES is set, so a client could name
        # itself afresh on every request; without a configured proxy count, the socket's.
        if api_settings.NUM_PROXIES is not None:
            return super().get_ident(request)
        return request.META.get("REMOTE_ADDR", "")


class VerifyUploadHandler(FileUploadHandler):
    """Keeps the uploaded file in memory, refusing it past the verification size limit."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.max_bytes = settings.RIGHTSDESK_VERIFY_MAX_BYTES

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.buffer.tell() + len(raw_data) > self.max_bytes:
            raise ImageTooLarge(max_bytes=self.max_bytes)
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


class _CardSerializer(serializers.Serializer):
    asset_id = serializers.UUIDField()
    status_url = serializers.URLField()
    brand = serializers.CharField()
    stage_name = serializers.CharField(allow_null=True)
    approved_exact_image = serializers.BooleanField()
    signed_at = serializers.DateTimeField()
    issuer = serializers.CharField()
    permission = serializers.ChoiceField(
        choices=[types.PERMISSION_CURRENT, types.PERMISSION_ENDING, types.PERMISSION_ENDED]
    )
    permission_until = serializers.DateTimeField()
    report_url = serializers.CharField(allow_null=True)
    text = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "VerificationCard"


class _PossibleMatchSerializer(serializers.Serializer):
    brand = serializers.CharField()
    method = serializers.ChoiceField(choices=["watermark", "perceptual_hash"])
    distance = serializers.IntegerField(allow_null=True)
    text = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "VerificationPossibleMatch"


class VerifyApi(APIView):
    """Verify one image: its C2PA state, what is known of its signer, and for our own
    assets the card; for a stripped copy of one, a possible match naming the brand."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [VerifyRateThrottle]
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        # Empty files are ours to refuse, with empty_file.
        file = serializers.FileField(allow_empty_file=True)

        class Meta:
            ref_name = "VerifyInput"

    class OutputSerializer(serializers.Serializer):
        filename = serializers.CharField(allow_null=True)
        state = serializers.ChoiceField(choices=list(types.STATES))
        summary = serializers.CharField()
        format = serializers.CharField()
        codes = serializers.ListField(child=serializers.CharField())
        issuer = serializers.CharField(allow_null=True)
        signer = serializers.CharField(allow_null=True)
        claim_generator = serializers.CharField(allow_null=True)
        signed_at = serializers.DateTimeField(allow_null=True)
        remote_manifest_url = serializers.CharField(allow_null=True)
        findings = serializers.ListField(child=serializers.CharField())
        card = _CardSerializer(allow_null=True)
        possible_match = _PossibleMatchSerializer(allow_null=True)

        class Meta:
            ref_name = "VerificationReport"

    def initialize_request(self, request: HttpRequest, *args, **kwargs) -> Request:
        # Before anything reads the body: keep the upload in memory, never in a temp file.
        request.upload_handlers = [VerifyUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="verify_image",
        request={"multipart/form-data": InputSerializer},
        responses={200: OutputSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        report = verify_image(upload.read(), filename=upload.name)
        return Response(report.to_json())
