"""The render workflow after submission: brief approval, draft selection, the talent's
output approval (in batches), release, first publication, the signed image, and the
talent's "my twin in market" view.

Foreign objects answer 404 (a batch naming one foreign asset is 404 as a whole, never
which one). The brand downloads the signed file of a released image; before release it
sees a small preview, so that a draft cannot be taken into use without the talent's
approval. The talent's side and staff may download any of them.
"""

import io

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from PIL import Image
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.core.errors import NotFound, ValidationFailed
from rightsdesk.licensing.selectors import is_talent_side_viewer
from rightsdesk.renders.apis import RenderRequestOutputSerializer, _output
from rightsdesk.renders.market import twin_in_market
from rightsdesk.renders.outputs import (
    asset_release,
    asset_report_publication,
    assets_approve,
    assets_reject,
    assets_select,
)
from rightsdesk.renders.selectors import (
    asset_get_visible_to,
    asset_link,
    assets_get_visible_to,
    render_request_get_visible_to,
)
from rightsdesk.renders.services import render_request_approve_brief, render_request_reject_brief
from rightsdesk.renders.states import AssetStatus
from rightsdesk.talent.selectors import may_read_earnings, talent_get_visible_to

_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
PREVIEW_SIDE = 256  # the brand's preview of an unreleased draft, at most this many pixels


class AssetOutputSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    reference = serializers.CharField()
    render_request = serializers.UUIDField(source="render_request.public_id")
    index = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    image_sha256 = serializers.CharField()
    approval_due_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    released_at = serializers.DateTimeField(allow_null=True)
    first_published_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "Asset"


class _BatchInput(serializers.Serializer):
    assets = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=100)

    class Meta:
        ref_name = "AssetBatchInput"


class _ApproveInput(_BatchInput):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    class Meta:
        ref_name = "AssetApproveInput"


class _RejectInput(_BatchInput):
    reason = serializers.CharField(max_length=500)

    class Meta:
        ref_name = "AssetRejectInput"


class _BriefRejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)

    class Meta:
        ref_name = "BriefRejectInput"


class _PublicationInput(serializers.Serializer):
    published_at = serializers.DateTimeField()

    class Meta:
        ref_name = "AssetPublicationInput"


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(fields=serializer.errors)
    return serializer.validated_data


def _assets(request: Request, data: dict) -> list:
    return assets_get_visible_to(user=request.user, public_ids=data["assets"])


def _many(assets) -> list[dict]:
    return AssetOutputSerializer(assets, many=True).data


class RenderRequestApproveBriefApi(APIView):
    """The talent's side approves a brief the gate held for approval; it is queued."""

    @extend_schema(
        operation_id="render_requests_approve",
        request=None,
        responses={200: RenderRequestOutputSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id) -> Response:
        render_request = render_request_get_visible_to(user=request.user, public_id=public_id)
        render_request = render_request_approve_brief(
            render_request=render_request, actor=request.user
        )
        return Response(_output(render_request))


class RenderRequestRejectBriefApi(APIView):
    """The talent's side rejects a brief, saying why."""

    @extend_schema(
        operation_id="render_requests_reject",
        request=_BriefRejectInput,
        responses={200: RenderRequestOutputSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id) -> Response:
        data = _valid(_BriefRejectInput, request.data)
        render_request = render_request_get_visible_to(user=request.user, public_id=public_id)
        render_request = render_request_reject_brief(
            render_request=render_request, actor=request.user, reason=data["reason"]
        )
        return Response(_output(render_request))


class AssetSelectApi(APIView):
    """The campaign manager selects drafts for the talent's approval."""

    @extend_schema(
        operation_id="assets_select",
        request=_BatchInput,
        responses={200: AssetOutputSerializer(many=True), 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = _valid(_BatchInput, request.data)
        return Response(_many(assets_select(assets=_assets(request, data), actor=request.user)))


class AssetApproveApi(APIView):
    """The talent's side approves selected images in one batch."""

    @extend_schema(
        operation_id="assets_approve",
        request=_ApproveInput,
        responses={200: AssetOutputSerializer(many=True), 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = _valid(_ApproveInput, request.data)
        assets = assets_approve(
            assets=_assets(request, data), actor=request.user, note=data["note"]
        )
        return Response(_many(assets))


class AssetRejectApi(APIView):
    """The talent's side rejects selected images in one batch, saying why."""

    @extend_schema(
        operation_id="assets_reject",
        request=_RejectInput,
        responses={200: AssetOutputSerializer(many=True), 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = _valid(_RejectInput, request.data)
        assets = assets_reject(
            assets=_assets(request, data), actor=request.user, reason=data["reason"]
        )
        return Response(_many(assets))


class AssetDetailApi(APIView):
    @extend_schema(
        operation_id="assets_retrieve", responses={200: AssetOutputSerializer, **_ERRORS}
    )
    def get(self, request: Request, public_id) -> Response:
        asset = asset_get_visible_to(user=request.user, public_id=public_id)
        return Response(AssetOutputSerializer(asset).data)


class AssetReleaseApi(APIView):
    """Release an approved image: the gate again, the usage row, the fee posted."""

    @extend_schema(
        operation_id="assets_release",
        request=None,
        responses={200: AssetOutputSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id) -> Response:
        asset = asset_get_visible_to(user=request.user, public_id=public_id)
        return Response(AssetOutputSerializer(asset_release(asset=asset, actor=request.user)).data)


class AssetPublicationApi(APIView):
    """The brand reports the image's first publication (licence durations run from it)."""

    @extend_schema(
        operation_id="assets_publication",
        request=_PublicationInput,
        responses={200: AssetOutputSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id) -> Response:
        data = _valid(_PublicationInput, request.data)
        asset = asset_get_visible_to(user=request.user, public_id=public_id)
        asset = asset_report_publication(
            asset=asset, actor=request.user, published_at=data["published_at"]
        )
        return Response(AssetOutputSerializer(asset).data)


def _talent_side_or_staff(request: Request, asset) -> bool:
    if request.user.is_staff:
        return True
    return is_talent_side_viewer(user=request.user, talent=asset_link(asset).talent)


_IMAGE = OpenApiResponse(OpenApiTypes.BINARY, description="image/png")


class AssetDownloadApi(APIView):
    """The signed image: for the brand once released; for the talent's side and staff,
    any of the talent's images."""

    @extend_schema(operation_id="assets_download", responses={200: _IMAGE, **_ERRORS})
    def get(self, request: Request, public_id):
        asset = asset_get_visible_to(user=request.user, public_id=public_id)
        allowed = asset.status == AssetStatus.RELEASED or _talent_side_or_staff(request, asset)
        if not allowed or not asset.image:
            raise NotFound("No downloadable image: it is not released.")
        handle = default_storage.open(asset.image.name, "rb")
        return FileResponse(
            handle,
            content_type="image/png",
            as_attachment=True,
            filename=f"{asset.public_id}.png",
        )


class AssetPreviewApi(APIView):
    """A small preview of a draft (labelled and watermarked like the image), for choosing."""

    @extend_schema(operation_id="assets_preview", responses={200: _IMAGE, **_ERRORS})
    def get(self, request: Request, public_id):
        asset = asset_get_visible_to(user=request.user, public_id=public_id)
        if not asset.image:
            raise NotFound("This asset has no image.")
        with default_storage.open(asset.image.name, "rb") as handle, Image.open(handle) as image:
            image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="PNG")
        return HttpResponse(out.getvalue(), content_type="image/png")


class _MarketRowSerializer(serializers.Serializer):
    asset = serializers.UUIDField()
    brand = serializers.CharField()
    campaign = serializers.CharField()
    medium = serializers.CharField()
    territory = serializers.CharField()
    released_at = serializers.DateTimeField()
    first_published_at = serializers.DateTimeField(allow_null=True)
    permission = serializers.CharField(help_text="current, ending or ended")
    permission_ends_at = serializers.DateTimeField(allow_null=True)
    run_off_until = serializers.DateTimeField(allow_null=True)
    approved_exact_image = serializers.BooleanField()
    currency = serializers.CharField()
    earned_gross_minor = serializers.IntegerField(
        allow_null=True, help_text="null for a reader who may not see the talent's earnings"
    )
    earned_net_minor = serializers.IntegerField(allow_null=True)

    class Meta:
        ref_name = "TwinInMarketRow"


class TwinInMarketApi(APIView):
    """Every released image of the talent's twin: where, until when, and what it earned.
    For the talent's principal, agents of the representing agency, and staff."""

    @extend_schema(
        operation_id="talents_market",
        responses={200: _MarketRowSerializer(many=True), **_ERRORS},
    )
    def get(self, request: Request, public_id) -> Response:
        talent = talent_get_visible_to(user=request.user, public_id=public_id)
        if not (request.user.is_staff or is_talent_side_viewer(user=request.user, talent=talent)):
            raise NotFound("No such talent.")
        rows = twin_in_market(
            talent=talent, earnings=may_read_earnings(user=request.user, talent=talent)
        )
        return Response(_MarketRowSerializer(rows, many=True).data)
