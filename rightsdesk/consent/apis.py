"""Creation consent and withdrawal endpoints (the gate's are in gate_apis.py).

Every talent, consent, licence or agreement a view touches is loaded through a
``*_visible_to`` selector, so a foreign object answers 404. Seeing a talent is not the
right to consent for it: the services refuse anyone but the principal
(``consent_requires_principal``), agents included.
"""

from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.pagination import DefaultPagination
from rightsdesk.consent.errors import NoticeMismatch
from rightsdesk.consent.models import ConsentKind, CreationConsent, Withdrawal
from rightsdesk.consent.notices import DEFAULT_LANGUAGE, consent_notice_current
from rightsdesk.consent.selectors import (
    TARGET_AGREEMENT,
    TARGET_CREATION_CONSENT,
    TARGET_LICENCE,
    TARGET_TYPES,
    creation_consent_get_visible_to,
    creation_consent_list_visible_to,
    withdrawal_get_visible_to,
    withdrawal_list_visible_to,
    withdrawal_target_get_visible_to,
)
from rightsdesk.consent.services import CONSENT_METHODS, creation_consent_give, withdrawal_create
from rightsdesk.talent.selectors import talent_get_visible_to

_PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter("page_size", OpenApiTypes.INT),
]
_ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
}


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


def _paginated(view: APIView, request: Request, queryset, serializer_class) -> Response:
    paginator = DefaultPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _client_ip(request: Request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy
    # rewrites it, and this is evidence.
    return request.META.get("REMOTE_ADDR") or None


# Notices


class _NoticeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    version = serializers.IntegerField()
    language = serializers.CharField()
    text = serializers.CharField()
    sha256 = serializers.CharField()

    class Meta:
        ref_name = "ConsentNotice"


class ConsentNoticeCurrentApi(APIView):
    """The current stand-alone notice for a kind of consent, to show to the principal and
    answer with its SHA-256. A language without a translation gets English (``language``
    says which was served). ``served_at`` is the server's time, to echo when answering."""

    class FilterSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=ConsentKind.values)
        language = serializers.CharField(required=False, max_length=8)

        class Meta:
            ref_name = "ConsentNoticeFilter"

    class OutputSerializer(_NoticeSerializer):
        served_at = serializers.DateTimeField()

        class Meta:
            ref_name = "ConsentNoticeServed"

    @extend_schema(
        operation_id="consent_notices_current",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer, **_ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        language = filters.validated_data.get("language") or getattr(
            request, "LANGUAGE_CODE", DEFAULT_LANGUAGE
        )
        notice = consent_notice_current(kind=filters.validated_data["kind"], language=language)
        data = {
            **{f: getattr(notice, f) for f in ("kind", "version", "language", "text", "sha256")},
            "served_at": timezone.now(),
        }
        return Response(self.OutputSerializer(data).data)


# Creation consents


class _NoticeRefSerializer(serializers.Serializer):
    kind = serializers.CharField()
    version = serializers.IntegerField()
    language = serializers.CharField()
    sha256 = serializers.CharField()

    class Meta:
        ref_name = "ConsentNoticeRef"


class _CreationConsentSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    talent = serializers.UUIDField(source="talent.public_id")
    kind = serializers.CharField()
    notice = _NoticeRefSerializer()
    scope_reference = serializers.CharField()
    base_model = serializers.CharField()
    given_role = serializers.CharField()
    served_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField()
    method = serializers.CharField()
    withdrawn_at = serializers.DateTimeField(
        allow_null=True, help_text="When its withdrawal takes effect (at once, for a consent)."
    )
    in_force = serializers.SerializerMethodField()

    class Meta:
        ref_name = "CreationConsent"

    def get_in_force(self, consent: CreationConsent) -> bool:
        return consent.withdrawn_at is None or consent.withdrawn_at > timezone.now()


class CreationConsentListCreateApi(APIView):
    """GET: the consents the caller may read, in the order given (the talent's side read
    only for agents; staff). POST: the principal consents to capture or training."""

    class FilterSerializer(serializers.Serializer):
        talent = serializers.UUIDField(required=False)
        kind = serializers.ChoiceField(choices=ConsentKind.values, required=False)

        class Meta:
            ref_name = "CreationConsentListFilter"

    class InputSerializer(serializers.Serializer):
        talent = serializers.UUIDField()
        kind = serializers.ChoiceField(choices=ConsentKind.values)
        notice_version = serializers.IntegerField(min_value=1)
        notice_language = serializers.CharField(max_length=8, default=DEFAULT_LANGUAGE)
        notice_sha256 = serializers.CharField(max_length=64)
        served_at = serializers.DateTimeField()
        scope_reference = serializers.CharField(max_length=200, required=False, default="")
        base_model = serializers.CharField(
            max_length=200,
            required=False,
            default="",
            allow_blank=True,
            help_text="Required for `train`: the base model the consent covers.",
        )
        method = serializers.ChoiceField(choices=CONSENT_METHODS, default="api")

        class Meta:
            ref_name = "CreationConsentGiveInput"

    @extend_schema(
        operation_id="creation_consents_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={
            200: _page(name="CreationConsentListPage", item=_CreationConsentSerializer(many=True)),
            **_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        consents = creation_consent_list_visible_to(user=request.user)
        if "talent" in filters.validated_data:
            consents = consents.filter(talent__public_id=filters.validated_data["talent"])
        if "kind" in filters.validated_data:
            consents = consents.filter(kind=filters.validated_data["kind"])
        return _paginated(self, request, consents, _CreationConsentSerializer)

    @extend_schema(
        request=InputSerializer,
        responses={201: _CreationConsentSerializer, **_ERRORS, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        talent = talent_get_visible_to(user=request.user, public_id=values["talent"])
        notice = consent_notice_current(kind=values["kind"], language=values["notice_language"])
        if notice.version != values["notice_version"]:
            raise NoticeMismatch(
                "This notice has a newer version; show it and answer that one.",
                kind=notice.kind,
                version=notice.version,
                language=notice.language,
            )
        consent = creation_consent_give(
            talent=talent,
            kind=values["kind"],
            notice=notice,
            notice_sha256=values["notice_sha256"],
            served_at=values["served_at"],
            scope_reference=values["scope_reference"],
            base_model=values["base_model"],
            actor=request.user,
            method=values["method"],
            ip=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        consent.withdrawn_at = None  # just given
        return Response(_CreationConsentSerializer(consent).data, status=201)


class CreationConsentDetailApi(APIView):
    @extend_schema(
        responses={200: _CreationConsentSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
    )
    def get(self, request: Request, public_id: str) -> Response:
        consent = creation_consent_get_visible_to(user=request.user, public_id=public_id)
        return Response(_CreationConsentSerializer(consent).data)


# Withdrawals


def _target(withdrawal: Withdrawal) -> tuple[str, object]:
    if withdrawal.licence_id is not None:
        return TARGET_LICENCE, withdrawal.licence.public_id
    if withdrawal.agreement_id is not None:
        return TARGET_AGREEMENT, withdrawal.agreement.public_id
    return TARGET_CREATION_CONSENT, withdrawal.creation_consent.public_id


class _WithdrawalSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    kind = serializers.CharField()
    target_type = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()
    talent = serializers.UUIDField(source="talent.public_id")
    reason = serializers.CharField()
    requested_role = serializers.CharField(source="requested_by.role")
    requested_at = serializers.DateTimeField()
    effective_at = serializers.DateTimeField()
    run_off_until = serializers.DateTimeField(
        help_text="Assets released before effective_at may stay in market until then."
    )
    applied_at = serializers.SerializerMethodField()

    class Meta:
        ref_name = "Withdrawal"

    def get_target_type(self, withdrawal: Withdrawal) -> str:
        return _target(withdrawal)[0]

    def get_target(self, withdrawal: Withdrawal) -> str:
        return str(_target(withdrawal)[1])

    def get_applied_at(self, withdrawal: Withdrawal) -> str | None:
        applied = getattr(withdrawal, "withdrawalapplied", None)
        return (
            serializers.DateTimeField().to_representation(applied.applied_at) if applied else None
        )


class WithdrawalListCreateApi(APIView):
    """GET: the withdrawals the caller may read, in the order requested (the talent's side;
    the brand, for its own licences and agreements; staff). POST: withdraw from a licence
    or an agreement (the principal, or an agent with the power to negotiate uses) or from a
    creation consent (the principal only)."""

    class FilterSerializer(serializers.Serializer):
        talent = serializers.UUIDField(required=False)
        target_type = serializers.ChoiceField(choices=TARGET_TYPES, required=False)
        target = serializers.UUIDField(required=False)

        class Meta:
            ref_name = "WithdrawalListFilter"

    class InputSerializer(serializers.Serializer):
        target_type = serializers.ChoiceField(choices=TARGET_TYPES)
        target = serializers.UUIDField()
        kind = serializers.ChoiceField(choices=Withdrawal.Kind.choices)
        reason = serializers.CharField()

        class Meta:
            ref_name = "WithdrawalCreateInput"

    @extend_schema(
        operation_id="withdrawals_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={
            200: _page(name="WithdrawalListPage", item=_WithdrawalSerializer(many=True)),
            **_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        withdrawals = withdrawal_list_visible_to(user=request.user)
        if "talent" in values:
            withdrawals = withdrawals.filter(talent__public_id=values["talent"])
        if "target_type" in values:
            withdrawals = withdrawals.filter(**{f"{values['target_type']}__isnull": False})
        if "target" in values:
            target = values["target"]
            withdrawals = withdrawals.filter(
                Q(licence__public_id=target)
                | Q(agreement__public_id=target)
                | Q(creation_consent__public_id=target)
            )
        return _paginated(self, request, withdrawals, _WithdrawalSerializer)

    @extend_schema(
        request=InputSerializer,
        responses={201: _WithdrawalSerializer, **_ERRORS, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        target = withdrawal_target_get_visible_to(
            user=request.user, target_type=values["target_type"], public_id=values["target"]
        )
        withdrawal = withdrawal_create(
            target=target, kind=values["kind"], reason=values["reason"], actor=request.user
        )
        withdrawal = withdrawal_get_visible_to(user=request.user, public_id=withdrawal.public_id)
        return Response(_WithdrawalSerializer(withdrawal).data, status=201)


class WithdrawalDetailApi(APIView):
    @extend_schema(
        responses={200: _WithdrawalSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
    )
    def get(self, request: Request, public_id: str) -> Response:
        withdrawal = withdrawal_get_visible_to(user=request.user, public_id=public_id)
        return Response(_WithdrawalSerializer(withdrawal).data)
