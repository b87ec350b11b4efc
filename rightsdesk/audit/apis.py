from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.accounts.models import Role
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.pagination import DefaultPagination
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
