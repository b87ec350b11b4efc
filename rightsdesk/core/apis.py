"""The caller's own in-app notifications (core.notifications)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.pagination import DefaultPagination
from rightsdesk.core.notifications import (
    notification_get_for,
    notification_mark_read,
    notifications_for,
)


class _NotificationSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    kind = serializers.CharField()
    subject = serializers.CharField()
    body = serializers.CharField()
    target_reference = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    emailed_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Notification"


class NotificationListApi(APIView):
    """The caller's notifications, newest first; ``?unread=1`` keeps the unread ones."""

    @extend_schema(
        operation_id="notifications_list",
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={
            200: inline_serializer(
                name="NotificationPage",
                fields={
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": _NotificationSerializer(many=True),
                },
            ),
            401: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        unread = request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        notices = notifications_for(user=request.user, unread_only=unread)
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(notices, request, view=self)
        return paginator.get_paginated_response(_NotificationSerializer(page, many=True).data)


class NotificationReadApi(APIView):
    """Mark one of the caller's notifications read (idempotent)."""

    @extend_schema(
        operation_id="notifications_read",
        request=None,
        responses={200: _NotificationSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request: Request, public_id: str) -> Response:
        notice = notification_get_for(user=request.user, public_id=public_id)
        notice = notification_mark_read(notification=notice, actor=request.user)
        return Response(_NotificationSerializer(notice).data)
