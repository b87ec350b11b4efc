"""Render request endpoints: submit, read (status, progress, decision, drafts), cancel.

A request another organisation made (and the talent's side cannot see) answers 404. A
denial is still a created request: 201 with ``status: denied`` and the gate's reasons.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.plain_input import validated
from rightsdesk.core.vocab import MEDIA
from rightsdesk.renders.models import (
    MAX_DRAFTS,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_SIDE,
    RenderRequest,
)
from rightsdesk.renders.selectors import (
    render_request_get_visible_to,
    render_request_licences_and_drafts,
)
from rightsdesk.renders.services import render_request_cancel, render_request_submit

_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class _DecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = serializers.CharField()
    reasons = serializers.JSONField()
    obligations = serializers.JSONField()

    class Meta:
        ref_name = "RenderRequestDecision"


class _AssetSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    index = serializers.IntegerField()
    status = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    seed = serializers.IntegerField(allow_null=True)
    image_sha256 = serializers.CharField()

    class Meta:
        ref_name = "RenderRequestAsset"
        output_fields = ("public_id", "index", "status", "width", "height", "seed", "image_sha256")


class RenderRequestOutputSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.IntegerField(help_text="0-100")
    brief = serializers.CharField()
    negative_prompt = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    steps = serializers.IntegerField()
    guidance_scale = serializers.FloatField()
    seed = serializers.IntegerField(allow_null=True)
    num_drafts = serializers.IntegerField()
    licences = serializers.SerializerMethodField()
    decision = _DecisionSerializer(allow_null=True)
    denial_reasons = serializers.ListField(child=serializers.CharField())
    cancel_reason = serializers.CharField()
    failure_reason = serializers.CharField()
    assets = _AssetSerializer(many=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "RenderRequestOutput"

    def get_licences(self, obj) -> list[str]:
        return [str(link.licence.public_id) for link in obj.licence_links.select_related("licence")]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["assets"] = _AssetSerializer(instance.assets.order_by("index"), many=True).data
        return data


class RenderRequestCreateApi(APIView):
    """A campaign manager asks for drafts under one of the brand's licences."""

    class InputSerializer(serializers.Serializer):
        licences = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=16)
        brief = serializers.CharField(max_length=4000)
        negative_prompt = serializers.CharField(max_length=4000, required=False, allow_blank=True)
        width = serializers.IntegerField(min_value=MIN_SIDE, max_value=MAX_SIDE, default=512)
        height = serializers.IntegerField(min_value=MIN_SIDE, max_value=MAX_SIDE, default=512)
        steps = serializers.IntegerField(min_value=1, max_value=MAX_STEPS, default=25)
        guidance_scale = serializers.FloatField(min_value=0, max_value=30, default=5.0)
        seed = serializers.IntegerField(
            min_value=0, max_value=MAX_SEED, required=False, allow_null=True
        )
        num_drafts = serializers.IntegerField(min_value=1, max_value=MAX_DRAFTS, default=1)
        territory = serializers.CharField(max_length=32, required=False, allow_blank=True)
        medium = serializers.ChoiceField(choices=sorted(MEDIA), required=False)
        idempotency_key = serializers.CharField(max_length=128, required=False)

        class Meta:
            ref_name = "RenderRequestCreateInput"

    @extend_schema(
        operation_id="render_requests_create",
        request=InputSerializer,
        responses={201: RenderRequestOutputSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request.data)
        render_request = render_request_submit(
            requester=request.user,
            licences=data["licences"],
            brief=data["brief"],
            negative_prompt=data.get("negative_prompt", ""),
            width=data["width"],
            height=data["height"],
            steps=data["steps"],
            seed=data.get("seed"),
            num_drafts=data["num_drafts"],
            guidance_scale=data["guidance_scale"],
            territory=data.get("territory", ""),
            medium=data.get("medium", ""),
            idempotency_key=data.get("idempotency_key"),
        )
        return Response(_output(render_request, reload=False), status=201)


class RenderRequestDetailApi(APIView):
    """Status, progress 0-100, the gate's decision and the drafts."""

    @extend_schema(
        operation_id="render_requests_retrieve",
        responses={200: RenderRequestOutputSerializer, **_ERRORS},
    )
    def get(self, request: Request, public_id) -> Response:
        render_request = render_request_get_visible_to(user=request.user, public_id=public_id)
        return Response(_output(render_request, reload=False))


class RenderRequestCancelApi(APIView):
    """The requester cancels; the drafts go back to the licence's allowance."""

    @extend_schema(
        operation_id="render_requests_cancel",
        request=None,
        responses={200: RenderRequestOutputSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id) -> Response:
        render_request = render_request_get_visible_to(user=request.user, public_id=public_id)
        render_request = render_request_cancel(render_request=render_request, actor=request.user)
        return Response(_output(render_request))


# The same instance DRF's output uses, so dates read exactly as the serializer writes them.
_DATETIME = serializers.DateTimeField()


def _output(render_request: RenderRequest, *, reload: bool = True) -> dict:
    """The request as ``RenderRequestOutputSerializer`` describes it, written out by hand:
    through the serializer's fields it took five statements and 3-4 ms of CPU, a sixth of
    a submission's (bench/api_load.py). ``reload=False`` when the caller's instance is
    what the database holds (just read, or just written by the service); the decision,
    the licences and the drafts are read here, except for a request the submission
    service has just written (``as_written``: nothing to read back). tests/renders/
    test_render_output.py holds this and the serializer to the same bytes."""
    row = render_request
    if reload:
        row = RenderRequest.objects.select_related("decision").get(pk=render_request.pk)
    # A request just submitted carries its licences and (no) drafts; others are read.
    known = getattr(row, "as_written", None)
    if known is not None:
        licences, assets, decision = known["licences"], known["assets"], known["decision"]
    else:
        decision = row.decision
        if decision is not None:
            decision = {
                "id": decision.pk,
                "outcome": decision.outcome,
                "reasons": decision.reasons,
                "obligations": decision.obligations,
            }
        licences, assets = render_request_licences_and_drafts(
            row.pk, asset_fields=_AssetSerializer.Meta.output_fields
        )
    return {
        "public_id": str(row.public_id),
        "status": row.status,
        "progress": row.progress,
        "brief": row.brief,
        "negative_prompt": row.negative_prompt,
        "width": row.width,
        "height": row.height,
        "steps": row.steps,
        "guidance_scale": float(row.guidance_scale),
        "seed": row.seed,
        "num_drafts": row.num_drafts,
        "licences": licences,
        "decision": decision,
        "denial_reasons": [str(code) for code in row.denial_reasons],
        "cancel_reason": row.cancel_reason,
        "failure_reason": row.failure_reason,
        "assets": [{**asset, "public_id": str(asset["public_id"])} for asset in assets],
        "created_at": _DATETIME.to_representation(row.created_at),
    }
