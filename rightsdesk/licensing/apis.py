"""Licence and external-commitment endpoints.

Every licence a view touches is loaded through ``licence_get_visible_to``, so a foreign one
answers 404; the services then decide who may act on it (403 for a party without the
power). Money is in integer minor units and a float is refused (``StrictIntegerField``),
never rounded.
"""

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.agreements.selectors import agreement_get_visible_to, user_is_brand_legal
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.pagination import DefaultPagination
from rightsdesk.core.vocab import MEDIA, TerritorySpec
from rightsdesk.licensing.memo import deal_memo_render
from rightsdesk.licensing.models import Licence
from rightsdesk.licensing.selectors import (
    external_commitment_get_visible_to,
    external_commitment_list_visible_to,
    licence_conflicts_for,
    licence_get_visible_to,
    licence_list_visible_to,
)
from rightsdesk.licensing.services import (
    external_commitment_create,
    external_commitment_end,
    licence_accept,
    licence_counter,
    licence_decline,
    licence_propose,
    licence_revise,
    talent_side_role,
)
from rightsdesk.licensing.terms import LicenceTerms, UsageTerms
from rightsdesk.talent.selectors import talent_get_visible_to

_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
_PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter("page_size", OpenApiTypes.INT),
]


def _authentication_method(request: Request) -> str:
    authenticator = getattr(request, "successful_authenticator", None)
    if isinstance(authenticator, TokenAuthentication):
        return "token"
    if isinstance(authenticator, SessionAuthentication):
        return "session"
    return "other"


def _client_ip(request: Request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-chosen unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR") or None


def _page(*, name: str, item: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: 1.0, "1" and true are refused (money is never a float)."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


# --- terms in ------------------------------------------------------------------------------


class _TerritoriesInput(serializers.Serializer):
    include = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    exclude = serializers.ListField(child=serializers.CharField(), default=list)

    class Meta:
        ref_name = "LicenceTerritoriesInput"


class _UsageInput(serializers.Serializer):
    medium = serializers.ChoiceField(choices=sorted(MEDIA))
    territories = _TerritoriesInput(
        help_text='ISO codes and groups: {"include": ["EU", "US"], "exclude": ["FR"]}'
    )
    duration_days = StrictIntegerField(min_value=1, help_text="From first publication.")
    quantity = StrictIntegerField(min_value=1, help_text="Assets that may be released.")

    class Meta:
        ref_name = "LicenceUsageInput"


class _TermsInput(serializers.Serializer):
    campaign = serializers.CharField(max_length=200)
    use_description = serializers.CharField(help_text="The use, in plain words.")
    purpose = serializers.CharField(max_length=200)
    advertiser = serializers.CharField(max_length=200)
    product_lines = serializers.ListField(child=serializers.CharField(), default=list)
    category = serializers.SlugField(help_text="A category slug (GET /api/v1/categories/).")
    usage = serializers.ListField(child=_UsageInput(), allow_empty=False)
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217")
    buyout_minor = StrictIntegerField(min_value=0, default=0)
    usage_fee_minor = StrictIntegerField(min_value=0, default=0, help_text="Per released asset")
    draft_allowance = StrictIntegerField(min_value=1)
    brief_approval_required = serializers.BooleanField(default=False)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    offer_expires_at = serializers.DateTimeField(required=False, allow_null=True)

    class Meta:
        ref_name = "LicenceTermsInput"


def _terms(values: dict) -> LicenceTerms:
    return LicenceTerms(
        campaign=values["campaign"],
        use_description=values["use_description"],
        purpose=values["purpose"],
        advertiser=values["advertiser"],
        product_lines=tuple(values["product_lines"]),
        category=values["category"],
        usage=tuple(
            UsageTerms(
                medium=row["medium"],
                territories=TerritorySpec.from_json(
                    {
                        "include": row["territories"]["include"],
                        "exclude": row["territories"]["exclude"],
                    }
                ),
                duration_days=row["duration_days"],
                quantity=row["quantity"],
            )
            for row in values["usage"]
        ),
        currency=values["currency"],
        buyout_minor=values["buyout_minor"],
        usage_fee_minor=values["usage_fee_minor"],
        draft_allowance=values["draft_allowance"],
        brief_approval_required=values["brief_approval_required"],
        starts_at=values["starts_at"],
        ends_at=values["ends_at"],
        offer_expires_at=values.get("offer_expires_at"),
    )


# --- licences out ---------------------------------------------------------------------------


class _PartyRefSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    name = serializers.CharField()

    class Meta:
        ref_name = "LicencePartyRef"


class _TalentRefSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    stage_name = serializers.CharField()

    class Meta:
        ref_name = "LicenceTalentRef"


class _UsageRowSerializer(serializers.Serializer):
    medium = serializers.CharField()
    territories = serializers.JSONField()
    territory_codes = serializers.ListField(child=serializers.CharField())
    duration_days = serializers.IntegerField()
    quantity = serializers.IntegerField()
    quantity_used = serializers.IntegerField()

    class Meta:
        ref_name = "LicenceUsageRow"


class _OfferSerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    kind = serializers.CharField()
    actor_role = serializers.CharField()
    terms = serializers.SerializerMethodField()
    terms_sha256 = serializers.CharField()
    note = serializers.CharField()
    deal_memo_language = serializers.CharField()
    deal_memo_sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "LicenceOffer"

    def get_terms(self, offer) -> dict:
        return json.loads(offer.terms_json)


class _ConflictSerializer(serializers.Serializer):
    category = serializers.CharField()
    category_name = serializers.CharField()
    territories = serializers.ListField(child=serializers.CharField())
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=["exclusivity", "external_commitment"])
    holder = serializers.CharField(help_text="The other brand, or the commitment's counterparty.")
    reference = serializers.CharField()

    class Meta:
        ref_name = "LicenceExclusivityConflict"


class _ViewerSerializer(serializers.Serializer):
    may_answer = serializers.BooleanField(help_text="May counter, accept or decline.")
    may_revise = serializers.BooleanField(help_text="Brand legal of the licence's brand.")

    class Meta:
        ref_name = "LicenceViewer"


class _LicenceSummarySerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    status = serializers.CharField()
    agreement = serializers.UUIDField(source="agreement.public_id")
    agreement_version = serializers.IntegerField(source="agreement_version.number")
    talent = _TalentRefSerializer()
    brand = _PartyRefSerializer()
    campaign = serializers.CharField()
    category = serializers.CharField(source="category.slug")
    currency = serializers.CharField()
    buyout_minor = serializers.IntegerField()
    usage_fee_minor = serializers.IntegerField()
    draft_allowance = serializers.IntegerField()
    drafts_used = serializers.IntegerField()
    drafts_left = serializers.SerializerMethodField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    offer_expires_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        ref_name = "LicenceSummary"

    def get_drafts_left(self, licence: Licence) -> int:
        return licence.draft_allowance - licence.drafts_used


class _LicenceDetailSerializer(_LicenceSummarySerializer):
    use_description = serializers.CharField()
    purpose = serializers.CharField()
    advertiser = serializers.CharField()
    product_lines = serializers.ListField(child=serializers.CharField())
    brief_approval_required = serializers.BooleanField()
    deal_memo_sha256 = serializers.CharField()
    usage_rows = _UsageRowSerializer(many=True)
    offers = _OfferSerializer(many=True)
    viewer = _ViewerSerializer()
    exclusivity_conflicts = _ConflictSerializer(
        many=True,
        allow_null=True,
        help_text="For the talent's side only (null for anyone else): what an open licence "
        "overlaps and who holds it.",
    )

    class Meta:
        ref_name = "LicenceDetail"


def _licence_detail(*, licence: Licence, request: Request) -> dict:
    user = request.user
    conflicts = licence_conflicts_for(user=user, licence=licence)
    view = _DetailView(
        licence=licence,
        usage_rows=list(licence.usage_rows.order_by("pk")),
        offers=list(licence.offers.order_by("sequence")),
        viewer={
            "may_answer": talent_side_role(user=user, talent=licence.talent) is not None,
            "may_revise": user_is_brand_legal(user=user, brand_id=licence.brand_id),
        },
        exclusivity_conflicts=None if conflicts is None else [c.to_json() for c in conflicts],
    )
    return _LicenceDetailSerializer(view).data


class _DetailView:
    """The licence with the parts the detail adds, for the serializer."""

    def __init__(self, *, licence, usage_rows, offers, viewer, exclusivity_conflicts):
        self._licence = licence
        self.usage_rows = usage_rows
        self.offers = offers
        self.viewer = viewer
        self.exclusivity_conflicts = exclusivity_conflicts

    def __getattr__(self, name):
        return getattr(self._licence, name)


# --- licence views -------------------------------------------------------------------------


class LicenceListCreateApi(APIView):
    """GET: the licences the caller may see, newest first. POST: brand legal proposes a
    licence under an active agreement (201, ``status: proposed``)."""

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Licence.Status.choices, required=False)
        talent = serializers.UUIDField(required=False)
        agreement = serializers.UUIDField(required=False)
        campaign = serializers.CharField(required=False)

        class Meta:
            ref_name = "LicenceListFilter"

    class InputSerializer(_TermsInput):
        agreement = serializers.UUIDField()

        class Meta:
            ref_name = "LicenceProposeInput"

    @extend_schema(
        operation_id="licences_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={
            200: _page(name="LicenceListPage", item=_LicenceSummarySerializer(many=True)),
            **_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        licences = licence_list_visible_to(user=request.user)
        if "status" in values:
            licences = licences.filter(status=values["status"])
        if "talent" in values:
            licences = licences.filter(talent__public_id=values["talent"])
        if "agreement" in values:
            licences = licences.filter(agreement__public_id=values["agreement"])
        if "campaign" in values:
            licences = licences.filter(campaign=values["campaign"])
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(licences, request, view=self)
        return paginator.get_paginated_response(_LicenceSummarySerializer(page, many=True).data)

    @extend_schema(
        operation_id="licences_propose",
        request=InputSerializer,
        responses={201: _LicenceDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = agreement_get_visible_to(
            user=request.user, public_id=data.validated_data["agreement"]
        )
        licence = licence_propose(
            agreement=agreement, terms=_terms(data.validated_data), actor=request.user
        )
        licence = licence_get_visible_to(user=request.user, public_id=licence.public_id)
        return Response(_licence_detail(licence=licence, request=request), status=201)


class LicenceDetailApi(APIView):
    """One licence: its terms in force, usage rows, counters, the negotiation history and,
    for the talent's side, the exclusivities an open licence overlaps."""

    @extend_schema(
        operation_id="licences_retrieve", responses={200: _LicenceDetailSerializer, **_ERRORS}
    )
    def get(self, request: Request, public_id: str) -> Response:
        licence = licence_get_visible_to(user=request.user, public_id=public_id)
        return Response(_licence_detail(licence=licence, request=request))


def _reloaded(request: Request, licence: Licence) -> Response:
    licence = licence_get_visible_to(user=request.user, public_id=licence.public_id)
    return Response(_licence_detail(licence=licence, request=request))


class LicenceCounterApi(APIView):
    """The talent's side answers a proposal with other terms (the brand must revise)."""

    class InputSerializer(_TermsInput):
        note = serializers.CharField(required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "LicenceCounterInput"

    @extend_schema(
        operation_id="licences_counter",
        request=InputSerializer,
        responses={200: _LicenceDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        licence = licence_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        licence = licence_counter(
            licence=licence,
            terms=_terms(data.validated_data),
            note=data.validated_data["note"],
            actor=request.user,
        )
        return _reloaded(request, licence)


class LicenceReviseApi(APIView):
    """Brand legal puts new terms on the table (after a counter, or amending a proposal)."""

    class InputSerializer(_TermsInput):
        class Meta:
            ref_name = "LicenceReviseInput"

    @extend_schema(
        operation_id="licences_revise",
        request=InputSerializer,
        responses={200: _LicenceDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        licence = licence_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        licence = licence_revise(
            licence=licence, terms=_terms(data.validated_data), actor=request.user
        )
        return _reloaded(request, licence)


class LicenceAcceptApi(APIView):
    """The talent's side accepts the deal memo it read (GET .../deal-memo/), naming its
    SHA-256 and language: this is the use consent."""

    class InputSerializer(serializers.Serializer):
        deal_memo_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$")
        language = serializers.CharField(
            max_length=8,
            required=False,
            allow_blank=True,
            default="",
            help_text="The memo's language as read; defaults to the talent's language.",
        )

        class Meta:
            ref_name = "LicenceAcceptInput"

    @extend_schema(
        operation_id="licences_accept",
        request=InputSerializer,
        responses={200: _LicenceDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        licence = licence_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        licence = licence_accept(
            licence=licence,
            deal_memo_sha256=data.validated_data["deal_memo_sha256"],
            language=data.validated_data["language"],
            actor=request.user,
            authentication_method=_authentication_method(request),
            ip=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return _reloaded(request, licence)


class LicenceDeclineApi(APIView):
    """The talent's side declines; brand legal may decline the talent's counter-offer."""

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "LicenceDeclineInput"

    @extend_schema(
        operation_id="licences_decline",
        request=InputSerializer,
        responses={200: _LicenceDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        licence = licence_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        licence = licence_decline(
            licence=licence, note=data.validated_data["note"], actor=request.user
        )
        return _reloaded(request, licence)


class LicenceDealMemoApi(APIView):
    """The deal memo of the terms now on the licence, in the language asked for (default:
    the talent's) where a translation exists, else English; accept names its sha256."""

    class OutputSerializer(serializers.Serializer):
        licence = serializers.UUIDField()
        status = serializers.CharField()
        language = serializers.CharField()
        text = serializers.CharField()
        sha256 = serializers.CharField()

        class Meta:
            ref_name = "LicenceDealMemo"

    @extend_schema(
        operation_id="licences_deal_memo",
        parameters=[OpenApiParameter("language", OpenApiTypes.STR, required=False)],
        responses={200: OutputSerializer, **_ERRORS},
    )
    def get(self, request: Request, public_id: str) -> Response:
        licence = licence_get_visible_to(user=request.user, public_id=public_id)
        memo = deal_memo_render(licence=licence, language=request.query_params.get("language"))
        return Response(
            self.OutputSerializer(
                {
                    "licence": licence.public_id,
                    "status": licence.status,
                    "language": memo.language,
                    "text": memo.text,
                    "sha256": memo.sha256,
                }
            ).data
        )


# --- external commitments ------------------------------------------------------------------


class _CommitmentSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    talent = serializers.UUIDField(source="talent.public_id")
    category = serializers.CharField(source="category.slug")
    territories = serializers.JSONField()
    territory_codes = serializers.ListField(child=serializers.CharField())
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    counterparty = serializers.CharField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "ExternalCommitment"


class ExternalCommitmentListCreateApi(APIView):
    """GET: the talent's side and staff list commitments. POST: the talent's principal or
    an agent with the power to negotiate records one."""

    class FilterSerializer(serializers.Serializer):
        talent = serializers.UUIDField(required=False)

        class Meta:
            ref_name = "ExternalCommitmentListFilter"

    class InputSerializer(serializers.Serializer):
        talent = serializers.UUIDField()
        category = serializers.SlugField()
        territories = _TerritoriesInput()
        starts_at = serializers.DateTimeField()
        ends_at = serializers.DateTimeField()
        counterparty = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )

        class Meta:
            ref_name = "ExternalCommitmentCreateInput"

    @extend_schema(
        operation_id="external_commitments_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={
            200: _page(name="ExternalCommitmentPage", item=_CommitmentSerializer(many=True)),
            **_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        commitments = external_commitment_list_visible_to(user=request.user)
        if "talent" in filters.validated_data:
            commitments = commitments.filter(talent__public_id=filters.validated_data["talent"])
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(commitments, request, view=self)
        return paginator.get_paginated_response(_CommitmentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="external_commitments_create",
        request=InputSerializer,
        responses={201: _CommitmentSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        talent = talent_get_visible_to(user=request.user, public_id=values["talent"])
        commitment = external_commitment_create(
            talent=talent,
            category=values["category"],
            territories=TerritorySpec.from_json(dict(values["territories"])),
            starts_at=values["starts_at"],
            ends_at=values["ends_at"],
            counterparty=values["counterparty"],
            actor=request.user,
        )
        return Response(_CommitmentSerializer(commitment).data, status=201)


class ExternalCommitmentDetailApi(APIView):
    @extend_schema(
        operation_id="external_commitments_retrieve",
        responses={200: _CommitmentSerializer, **_ERRORS},
    )
    def get(self, request: Request, public_id: str) -> Response:
        commitment = external_commitment_get_visible_to(user=request.user, public_id=public_id)
        return Response(_CommitmentSerializer(commitment).data)


class ExternalCommitmentEndApi(APIView):
    """End a commitment early (now, or at ``ended_at``)."""

    class InputSerializer(serializers.Serializer):
        ended_at = serializers.DateTimeField(required=False)

        class Meta:
            ref_name = "ExternalCommitmentEndInput"

    @extend_schema(
        operation_id="external_commitments_end",
        request=InputSerializer,
        responses={200: _CommitmentSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        commitment = external_commitment_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        commitment = external_commitment_end(
            commitment=commitment,
            ended_at=data.validated_data.get("ended_at"),
            actor=request.user,
        )
        return Response(_CommitmentSerializer(commitment).data)
