"""Capture session and erasure endpoints.

Sessions are loaded through ``capture_session_get_visible_to``: a foreign session answers
404. Images are described, never returned: no endpoint here (or anywhere) sends a capture's
bytes, plain or encrypted, and the serializers have no field for them.

An upload is held in memory only (``CaptureUploadHandler``), never spooled to a temporary
file: the plaintext of a capture must not touch the disk. Past RIGHTSDESK_MAX_CAPTURE_BYTES
the handler stops reading and the request fails with ``image_too_large``.
"""

import io
import json

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.agreements.selectors import agreement_get_visible_to
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.talent.apis import _PAGE_PARAMETERS, _page, _paginated
from rightsdesk.talent.capture import (
    capture_image_upload,
    capture_notice_ends_at,
    capture_notice_waive,
    capture_session_close,
    capture_session_schedule,
)
from rightsdesk.talent.datakeys import talent_request_erasure
from rightsdesk.talent.errors import ImageTooLarge
from rightsdesk.talent.models import CaptureSession
from rightsdesk.talent.selectors import (
    capture_images_of,
    capture_session_get_visible_to,
    capture_session_list_visible_to,
    talent_get_visible_to,
)


class CaptureUploadHandler(FileUploadHandler):
    """Keeps each uploaded file in memory, refusing it past the capture size limit."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.max_bytes = settings.RIGHTSDESK_MAX_CAPTURE_BYTES

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.buffer.tell() + len(raw_data) > self.max_bytes:
            raise ImageTooLarge(max_bytes=self.max_bytes)
        self.buffer.write(raw_data)
        return None  # consumed: no later handler sees it

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


class _CaptureSessionSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    talent = serializers.UUIDField(source="talent.public_id")
    talent_stage_name = serializers.CharField(source="talent.stage_name")
    studio_name = serializers.CharField()
    photographer_name = serializers.CharField()
    photographer_training_licence = serializers.CharField()
    scheduled_at = serializers.DateTimeField()
    notice_sent_at = serializers.DateTimeField()
    notice_ends_at = serializers.SerializerMethodField()
    notice_waived_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices)
    closed_at = serializers.DateTimeField(allow_null=True)
    image_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    agreement = serializers.UUIDField(source="agreement.public_id", allow_null=True)
    capture_fee_minor = serializers.IntegerField()
    training_fee_minor = serializers.IntegerField()
    fee_currency = serializers.CharField()

    class Meta:
        ref_name = "CaptureSession"

    def get_notice_ends_at(self, session: CaptureSession) -> str:
        return serializers.DateTimeField().to_representation(capture_notice_ends_at(session))


class _CaptureImageSerializer(serializers.Serializer):
    """Metadata only. There is deliberately no field for the bytes or their key."""

    public_id = serializers.UUIDField()
    session = serializers.UUIDField(source="session.public_id")
    sha256 = serializers.CharField()
    format = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    byte_size = serializers.IntegerField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "CaptureImage"


def _session_out(request: Request, session: CaptureSession) -> dict:
    # Reloaded through the selector for its image count (and the caller's scope).
    session = capture_session_get_visible_to(user=request.user, public_id=session.public_id)
    return _CaptureSessionSerializer(session).data


_ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409)}


class CaptureSessionListCreateApi(APIView):
    """GET: the capture sessions the caller may see. POST: staff, the talent's principal or
    an agent of the representing agency schedules one; the principals get the notice."""

    class FilterSerializer(serializers.Serializer):
        talent = serializers.UUIDField(required=False)

        class Meta:
            ref_name = "CaptureSessionListFilter"

    class InputSerializer(serializers.Serializer):
        talent = serializers.UUIDField()
        studio_name = serializers.CharField(max_length=200)
        photographer_name = serializers.CharField(max_length=200)
        photographer_training_licence = serializers.CharField(
            help_text="The licence the photographer gave for training, in their words."
        )
        scheduled_at = serializers.DateTimeField()
        agreement = serializers.UUIDField(
            required=False,
            allow_null=True,
            default=None,
            help_text="The active agreement a brand commissions the capture under.",
        )
        capture_fee_minor = serializers.IntegerField(min_value=0, required=False, default=0)
        training_fee_minor = serializers.IntegerField(min_value=0, required=False, default=0)
        fee_currency = serializers.CharField(max_length=3, required=False, default="EUR")

        class Meta:
            ref_name = "CaptureSessionCreateInput"

    @extend_schema(
        operation_id="capture_sessions_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={
            200: _page(name="CaptureSessionListPage", item=_CaptureSessionSerializer(many=True)),
            400: ErrorSerializer,
            401: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        sessions = capture_session_list_visible_to(user=request.user)
        if "talent" in filters.validated_data:
            sessions = sessions.filter(talent__public_id=filters.validated_data["talent"])
        return _paginated(self, request, sessions, _CaptureSessionSerializer)

    @extend_schema(request=InputSerializer, responses={201: _CaptureSessionSerializer, **_ERRORS})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        talent = talent_get_visible_to(user=request.user, public_id=values["talent"])
        agreement = None
        if values["agreement"] is not None:
            agreement = agreement_get_visible_to(user=request.user, public_id=values["agreement"])
        session = capture_session_schedule(
            talent=talent,
            studio_name=values["studio_name"],
            photographer_name=values["photographer_name"],
            photographer_training_licence=values["photographer_training_licence"],
            scheduled_at=values["scheduled_at"],
            actor=request.user,
            agreement=agreement,
            capture_fee_minor=values["capture_fee_minor"],
            training_fee_minor=values["training_fee_minor"],
            fee_currency=values["fee_currency"],
        )
        return Response(_session_out(request, session), status=201)


class CaptureSessionDetailApi(APIView):
    @extend_schema(
        responses={200: _CaptureSessionSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
    )
    def get(self, request: Request, public_id: str) -> Response:
        session = capture_session_get_visible_to(user=request.user, public_id=public_id)
        return Response(_CaptureSessionSerializer(session).data)


class CaptureSessionWaiveNoticeApi(APIView):
    """The talent's principal waives the 48-hour notice."""

    @extend_schema(request=None, responses={200: _CaptureSessionSerializer, **_ERRORS})
    def post(self, request: Request, public_id: str) -> Response:
        session = capture_session_get_visible_to(user=request.user, public_id=public_id)
        session = capture_notice_waive(session=session, actor=request.user)
        return Response(_session_out(request, session))


class CaptureSessionCloseApi(APIView):
    """No more images for this session."""

    @extend_schema(request=None, responses={200: _CaptureSessionSerializer, **_ERRORS})
    def post(self, request: Request, public_id: str) -> Response:
        session = capture_session_get_visible_to(user=request.user, public_id=public_id)
        session = capture_session_close(session=session, actor=request.user)
        return Response(_session_out(request, session))


class CaptureImageListUploadApi(APIView):
    """GET: the session's images' metadata. POST (multipart, field ``file``): upload one
    PNG, JPEG or WebP image; refused with a code, storing nothing, unless every rule holds."""

    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()

        class Meta:
            ref_name = "CaptureImageUploadInput"

    def initialize_request(self, request: HttpRequest, *args, **kwargs) -> Request:
        # Before anything reads the body: keep the upload in memory, never in a temp file.
        request.upload_handlers = [CaptureUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="capture_session_images_list",
        parameters=[*_PAGE_PARAMETERS],
        responses={
            200: _page(name="CaptureImageListPage", item=_CaptureImageSerializer(many=True)),
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, public_id: str) -> Response:
        session = capture_session_get_visible_to(user=request.user, public_id=public_id)
        images = capture_images_of(session=session).select_related("session")
        return _paginated(self, request, images, _CaptureImageSerializer)

    @extend_schema(
        operation_id="capture_session_images_upload",
        request={"multipart/form-data": InputSerializer},
        responses={201: _CaptureImageSerializer, **_ERRORS, 410: ErrorSerializer},
    )
    def post(self, request: Request, public_id: str) -> Response:
        session = capture_session_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        image = capture_image_upload(
            session=session, file=data.validated_data["file"], actor=request.user
        )
        return Response(_CaptureImageSerializer(image).data, status=201)


class _DestructionCertificateSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    sha256 = serializers.CharField()
    audit_sequence = serializers.IntegerField()
    payload = serializers.SerializerMethodField()

    class Meta:
        ref_name = "DestructionCertificate"

    def get_payload(self, certificate) -> dict:
        return json.loads(certificate.payload_json)


class TalentErasureApi(APIView):
    """The principal asks for the talent's captures and adapters to be destroyed once no
    agreement is in force: the data key is crypto-shredded and a certificate written."""

    class OutputSerializer(serializers.Serializer):
        destroyed = serializers.BooleanField()
        certificate = _DestructionCertificateSerializer(allow_null=True)

        class Meta:
            ref_name = "TalentErasureOutput"

    @extend_schema(
        request=None,
        responses={200: OutputSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        talent = talent_get_visible_to(user=request.user, public_id=public_id)
        certificate = talent_request_erasure(talent=talent, actor=request.user)
        return Response(
            self.OutputSerializer(
                {"destroyed": certificate is not None, "certificate": certificate}
            ).data
        )
