"""Likeness endpoints: the base model, training, sample images and the talent's sign-off.

Likenesses are loaded through ``likeness_get_visible_to``: a foreign one answers 404. No
endpoint returns an adapter's or a capture's bytes; the serializers have no field for them.
Sample images are renders, not captures: the principal and the representing agency's
agents get them (decrypted in memory, sent with ``Cache-Control: no-store``), others 404.
"""

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from generation.model_id import base_model_kind
from generation.spec import MAX_TRAIN_RESOLUTION
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.talent.apis import _PAGE_PARAMETERS, _page, _paginated
from rightsdesk.talent.models import LikenessVersion
from rightsdesk.talent.selectors import capture_session_get_visible_to
from rightsdesk.talent.training import (
    APPEARANCE_LIMITS,
    DEFAULT_RANK,
    MAX_TRAINING_STEPS,
    current_base_model,
    likeness_get_visible_to,
    likeness_list_visible_to,
    likeness_reject,
    likeness_sample_png,
    likeness_samples_of,
    likeness_sign_off,
    likeness_training_start,
    may_view_samples,
)

SAMPLE_STATUSES = frozenset(
    {
        LikenessVersion.Status.AWAITING_SIGNOFF,
        LikenessVersion.Status.SIGNED_OFF,
        LikenessVersion.Status.REJECTED,
    }
)
_ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409)}


class BaseModelApi(APIView):
    """The base model the workers train and render on: the id a ``train`` consent names."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.CharField()
        kind = serializers.ChoiceField(
            choices=["tiny", "folder"],
            help_text="tiny: the built-in test pipeline; folder: RIGHTSDESK_BASE_MODEL.",
        )

        class Meta:
            ref_name = "BaseModel"

    @extend_schema(
        operation_id="base_model_get",
        responses={200: OutputSerializer, 401: ErrorSerializer, 503: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        path = settings.RIGHTSDESK_BASE_MODEL or None
        identity = {"id": current_base_model(), "kind": base_model_kind(path)}
        return Response(self.OutputSerializer(identity).data)


class _LikenessSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    talent = serializers.UUIDField(source="talent.public_id")
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=LikenessVersion.Status.choices)
    progress = serializers.IntegerField(help_text="Training progress, 0-100.")
    base_model = serializers.CharField()
    trigger_token = serializers.CharField()
    capture_session = serializers.UUIDField(source="capture_session.public_id", allow_null=True)
    adapter_sha256 = serializers.CharField()
    failure_reasons = serializers.ListField(child=serializers.CharField())
    appearance_limits = serializers.ListField(child=serializers.CharField())
    trained_at = serializers.DateTimeField(allow_null=True)
    signed_off_at = serializers.DateTimeField(allow_null=True)
    rejected_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    samples = serializers.SerializerMethodField(
        help_text="Sample image URLs, for the principal and the representing agency only."
    )

    class Meta:
        ref_name = "Likeness"

    def get_samples(self, likeness: LikenessVersion) -> list[str]:
        request = self.context["request"]
        if likeness.status not in SAMPLE_STATUSES or not may_view_samples(
            user=request.user, talent=likeness.talent
        ):
            return []
        return [
            request.build_absolute_uri(
                reverse("likeness-sample", args=[likeness.public_id, sample.index])
            )
            for sample in likeness_samples_of(likeness=likeness)
        ]


def _out(request: Request, likeness: LikenessVersion) -> dict:
    likeness = likeness_get_visible_to(user=request.user, public_id=likeness.public_id)
    return _LikenessSerializer(likeness, context={"request": request}).data


class LikenessListCreateApi(APIView):
    """GET: the likenesses the caller may see. POST: start training one from a capture
    session (staff, the principal or the representing agency), under a live ``train``
    consent for the current base model."""

    class FilterSerializer(serializers.Serializer):
        talent = serializers.UUIDField(required=False)

        class Meta:
            ref_name = "LikenessListFilter"

    class InputSerializer(serializers.Serializer):
        capture_session = serializers.UUIDField()
        rank = serializers.IntegerField(min_value=1, max_value=128, default=DEFAULT_RANK)
        steps = serializers.IntegerField(min_value=1, max_value=MAX_TRAINING_STEPS, required=False)
        resolution = serializers.IntegerField(
            min_value=16, max_value=MAX_TRAIN_RESOLUTION, default=MAX_TRAIN_RESOLUTION
        )
        trigger_token = serializers.RegexField(r"^[a-z0-9_]{2,32}$", required=False)

        class Meta:
            ref_name = "LikenessTrainInput"

    @extend_schema(
        operation_id="likenesses_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={
            200: _page(name="LikenessListPage", item=_LikenessSerializer(many=True)),
            400: ErrorSerializer,
            401: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        likenesses = likeness_list_visible_to(user=request.user)
        if "talent" in filters.validated_data:
            likenesses = likenesses.filter(talent__public_id=filters.validated_data["talent"])
        return _paginated_with_request(self, request, likenesses)

    @extend_schema(
        operation_id="likenesses_train",
        request=InputSerializer,
        responses={201: _LikenessSerializer, **_ERRORS, 503: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        session = capture_session_get_visible_to(
            user=request.user, public_id=values["capture_session"]
        )
        likeness = likeness_training_start(
            session=session,
            actor=request.user,
            rank=values["rank"],
            steps=values.get("steps"),
            resolution=values["resolution"],
            trigger_token=values.get("trigger_token"),
        )
        return Response(_out(request, likeness), status=201)


def _paginated_with_request(view: APIView, request: Request, queryset) -> Response:
    def serializer(items, many: bool):
        return _LikenessSerializer(items, many=many, context={"request": request})

    return _paginated(view, request, queryset, serializer)


class LikenessDetailApi(APIView):
    @extend_schema(
        operation_id="likenesses_get",
        responses={200: _LikenessSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        likeness = likeness_get_visible_to(user=request.user, public_id=public_id)
        return Response(_LikenessSerializer(likeness, context={"request": request}).data)


class LikenessSampleApi(APIView):
    """One sample render as PNG, for the principal and the representing agency's agents."""

    @extend_schema(
        operation_id="likenesses_sample",
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            401: ErrorSerializer,
            404: ErrorSerializer,
            410: ErrorSerializer,
        },
    )
    def get(self, request: Request, public_id: str, index: int) -> HttpResponse:
        likeness = likeness_get_visible_to(user=request.user, public_id=public_id)
        png = likeness_sample_png(likeness=likeness, index=index, user=request.user)
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, no-store"
        return response


class LikenessSignOffApi(APIView):
    """The principal (never an agent) signs the likeness off, with appearance limits."""

    class InputSerializer(serializers.Serializer):
        appearance_limits = serializers.ListField(
            child=serializers.ChoiceField(choices=APPEARANCE_LIMITS),
            default=list,
            help_text="Changes to the talent's appearance the gate will refuse in briefs.",
        )

        class Meta:
            ref_name = "LikenessSignOffInput"

    @extend_schema(
        operation_id="likenesses_sign_off",
        request=InputSerializer,
        responses={200: _LikenessSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        likeness = likeness_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        likeness = likeness_sign_off(
            likeness=likeness,
            actor=request.user,
            appearance_limits=data.validated_data["appearance_limits"],
        )
        return Response(_out(request, likeness))


class LikenessRejectApi(APIView):
    """The principal (never an agent) rejects the likeness, saying why."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

        class Meta:
            ref_name = "LikenessRejectInput"

    @extend_schema(
        operation_id="likenesses_reject",
        request=InputSerializer,
        responses={200: _LikenessSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        likeness = likeness_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        likeness = likeness_reject(
            likeness=likeness, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(_out(request, likeness))
