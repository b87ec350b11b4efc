from django.http import FileResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import renderers, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.accounts.models import Role
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.pagination import DefaultPagination
from rightsdesk.audit.evidence import evidence_pack_download
from rightsdesk.audit.evidence_selectors import evidence_subject_get_visible_to
from rightsdesk.audit.selectors import audit_events_list


class IsStaffRole(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.STAFF)


class AuditEventListApi(APIView):
    """Staff only: audit events, oldest first, optionally for one target."""

    permission_classes = [IsStaffRole]

    class FilterSerializer(serializers.Serializer):
        target_type = serializers.CharField(required=False, help_text='"app_label.model"')
        target_id = serializers.CharField(required=False, help_text="public_id, else pk")

        class Meta:
            ref_name = "AuditEventListFilter"

    class OutputSerializer(serializers.Serializer):
        sequence = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        actor_id = serializers.IntegerField(allow_null=True)
        actor_label = serializers.CharField()
        action = serializers.CharField()
        target_type = serializers.CharField()
        target_id = serializers.CharField()
        payload = serializers.JSONField()
        payload_json = serializers.CharField(help_text="The exact text that was hashed.")
        prev_hash = serializers.CharField()
        hash = serializers.CharField()

        class Meta:
            ref_name = "AuditEventListOutput"

    PageSerializer = inline_serializer(
        name="AuditEventListPage",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": OutputSerializer(many=True),
        },
    )

    @extend_schema(
        parameters=[
            FilterSerializer,
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={
            200: PageSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = audit_events_list(**filters.validated_data)
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class ZipRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``application/zip``; the pack itself is a FileResponse."""

    media_type = "application/zip"
    format = "zip"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data if isinstance(data, bytes) else b""


class EvidencePackApi(APIView):
    """The evidence pack of an asset or a licence, as a zip to check offline with
    ``manage.py evidence_verify``. For brand or agency legal, the talent's principal and
    staff; a campaign manager or agent who can see the object gets 403, anyone else 404.
    Others' IP addresses and user agents are withheld except for staff. Every export is
    audited (``evidence.exported``); ``X-Evidence-Manifest-SHA256`` is the hash recorded."""

    renderer_classes = [renderers.JSONRenderer, ZipRenderer]

    class FilterSerializer(serializers.Serializer):
        asset = serializers.UUIDField(required=False, help_text="An asset's public id")
        licence = serializers.UUIDField(required=False, help_text="A licence's public id")

        class Meta:
            ref_name = "EvidencePackFilter"

        def validate(self, data: dict) -> dict:
            if len(data) != 1:
                raise serializers.ValidationError("Give exactly one of asset and licence.")
            return data

    @extend_schema(
        operation_id="evidence_pack",
        parameters=[FilterSerializer],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> FileResponse:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        subject = evidence_subject_get_visible_to(user=request.user, **filters.validated_data)
        return evidence_pack_download(subject=subject, viewer=request.user)

    def finalize_response(self, request: Request, response: HttpResponseBase, *args, **kwargs):
        # An error is JSON even when the client asked for a zip.
        if isinstance(response, Response):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)
