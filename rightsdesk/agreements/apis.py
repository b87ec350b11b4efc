"""Agreement endpoints: draft, read, amend, sign, terminate; and the category taxonomy.

Every agreement a view touches is loaded through ``agreement_get_visible_to``, so a
foreign one answers 404. Drafting and amending are multipart: the document file plus the
terms as a JSON object (a JSON string in the multipart field ``terms``).

A version's ``terms_json`` is returned verbatim: a signer (or their software) can check
``content_sha256 = sha256(document_sha256 + "\\n" + terms_json)`` before signing it.
"""

import json
from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.accounts.models import Organization
from rightsdesk.accounts.selectors import organization_get
from rightsdesk.agreements.models import Agreement, AgreementVersion, Signature
from rightsdesk.agreements.selectors import (
    agreement_get_visible_to,
    agreement_list_visible_to,
    agreement_terms_diff,
    agreement_version_get,
    agreement_viewer,
    signature_evidence_visible,
)
from rightsdesk.agreements.services import (
    agreement_amend,
    agreement_create,
    agreement_sign,
    agreement_signatory,
    agreement_terminate,
)
from rightsdesk.agreements.taxonomy import category_list
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.pagination import DefaultPagination
from rightsdesk.core.errors import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from rightsdesk.talent.models import Talent

_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


@extend_schema_field(OpenApiTypes.STR)  # a JSON text in the multipart form
class _TermsField(serializers.Field):
    """The terms object: a JSON object, or a JSON string (a multipart form's field)."""

    def to_internal_value(self, data: Any) -> AgreementTerms:
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except ValueError:
                raise serializers.ValidationError("Not valid JSON.")
        try:
            return AgreementTerms.from_json(data)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.extra.get("fields", exc.message))

    def to_representation(self, value: AgreementTerms) -> dict:
        return value.to_json()


# Signature, version and agreement outputs (built by hand: what each caller sees differs).


class _SignatureSerializer(serializers.Serializer):
    party = serializers.CharField()
    signer_role = serializers.CharField()
    signed_at = serializers.DateTimeField()
    signed_sha256 = serializers.CharField()
    evidence = inline_serializer(
        name="AgreementSignatureEvidence",
        fields={
            "signer_email": serializers.EmailField(),
            "authentication_method": serializers.CharField(),
            "ip_address": serializers.IPAddressField(allow_null=True),
            "user_agent": serializers.CharField(),
        },
        allow_null=True,
        help_text="Shown to staff and to the signer only.",
    )

    class Meta:
        ref_name = "AgreementSignature"


class _VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.ChoiceField(choices=AgreementVersion.Status.choices)
    document_sha256 = serializers.CharField()
    document_url = serializers.CharField(allow_null=True)
    terms_json = serializers.CharField(help_text="The exact canonical text that was hashed.")
    terms = serializers.DictField()
    content_sha256 = serializers.CharField(help_text="The hash each party signs.")
    activated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    signatures = _SignatureSerializer(many=True)

    class Meta:
        ref_name = "AgreementVersion"


class _AgreementSummarySerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Agreement.Status.choices)
    talent = serializers.UUIDField(source="talent.public_id")
    talent_stage_name = serializers.CharField(source="talent.stage_name")
    brand = serializers.UUIDField(source="brand.public_id")
    brand_name = serializers.CharField(source="brand.name")
    agency = serializers.UUIDField(source="agency.public_id", allow_null=True)
    terminated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "AgreementSummary"


class _AgreementDetailSerializer(_AgreementSummarySerializer):
    termination_reason = serializers.CharField()
    versions = _VersionSerializer(many=True)
    may_sign_as = serializers.CharField(
        allow_null=True, help_text="The party the caller signs as, if any."
    )

    class Meta:
        ref_name = "AgreementDetail"


def _signature_data(*, request: Request, signature: Signature) -> dict:
    evidence = None
    if signature_evidence_visible(user=request.user, signature=signature):
        evidence = {
            "signer_email": signature.signer.email,
            "authentication_method": signature.authentication_method,
            "ip_address": signature.ip_address,
            "user_agent": signature.user_agent,
        }
    return {
        "party": signature.party,
        "signer_role": signature.signer_role,
        "signed_at": signature.signed_at,
        "signed_sha256": signature.signed_sha256,
        "evidence": evidence,
    }


def _version_data(*, request: Request, version: AgreementVersion, summary_only: bool) -> dict:
    url = None
    if not summary_only:
        url = reverse(
            "agreement-version-document",
            kwargs={"public_id": version.agreement.public_id, "number": version.number},
        )
    signatures = version.signatures.select_related("signer").order_by("signed_at", "pk")
    return {
        "number": version.number,
        "status": version.status,
        "document_sha256": version.document_sha256,
        "document_url": url,
        "terms_json": version.terms_json,
        "terms": json.loads(version.terms_json),
        "content_sha256": version.content_sha256,
        "activated_at": version.activated_at,
        "created_at": version.created_at,
        "signatures": [_signature_data(request=request, signature=s) for s in signatures],
    }


def _may_sign_as(*, request: Request, agreement: Agreement) -> str | None:
    try:
        party, _ = agreement_signatory(agreement=agreement, user=request.user)
    except ApplicationError:
        return None
    return party


def _agreement_detail(*, request: Request, agreement: Agreement) -> dict:
    viewer = agreement_viewer(user=request.user, agreement=agreement)
    versions = agreement.versions.select_related("agreement").order_by("-number")
    data = _AgreementSummarySerializer(agreement).data
    data.update(
        termination_reason=agreement.termination_reason,
        versions=[
            _version_data(request=request, version=v, summary_only=viewer.summary_only)
            for v in versions
        ],
        may_sign_as=_may_sign_as(request=request, agreement=agreement),
    )
    return data


def _authentication_method(request: Request) -> str:
    authenticator = getattr(request, "successful_authenticator", None)
    if isinstance(authenticator, TokenAuthentication):
        return "token"
    if isinstance(authenticator, SessionAuthentication):
        return "session"
    return "other"


def _client_ip(request: Request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wrote unless a trusted
    # proxy sets it, and evidence must not be client-chosen.
    return request.META.get("REMOTE_ADDR") or None


# Views.


class AgreementListCreateApi(APIView):
    """The agreements the caller may see; brand legal (or staff) drafts a new one."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer):
        talent = serializers.UUIDField()
        brand = serializers.UUIDField(
            required=False, help_text="Required for staff; brand legal drafts for its brand."
        )
        title = serializers.CharField(max_length=200)
        document = serializers.FileField()
        terms = _TermsField(help_text="The terms as a JSON object (a JSON string in multipart).")

        class Meta:
            ref_name = "AgreementCreateInput"

    @extend_schema(
        operation_id="agreements_list",
        parameters=[
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={
            200: inline_serializer(
                name="AgreementPage",
                fields={
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": _AgreementSummarySerializer(many=True),
                },
            ),
            401: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        agreements = agreement_list_visible_to(user=request.user)
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(agreements, request, view=self)
        return paginator.get_paginated_response(_AgreementSummarySerializer(page, many=True).data)

    @extend_schema(
        operation_id="agreements_create",
        request={"multipart/form-data": InputSerializer},
        responses={201: _AgreementDetailSerializer, **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # The talent's public id is shared with the brand by the talent's side; brands see
        # no talent list, so it is looked up unscoped (an unguessable UUID).
        talent = Talent.objects.filter(public_id=values["talent"]).first()
        if talent is None:
            raise NotFound("No such talent.")
        agreement = agreement_create(
            talent=talent,
            brand=_brand_for(request=request, public_id=values.get("brand")),
            title=values["title"],
            document=values["document"],
            terms=values["terms"],
            actor=request.user,
        )
        return Response(_agreement_detail(request=request, agreement=agreement), status=201)


def _brand_for(*, request: Request, public_id: Any) -> Organization:
    user = request.user
    if user.organization_id is not None and user.organization.kind == Organization.Kind.BRAND:
        brand = user.organization  # brand users draft for their own brand (if they may)
        if public_id is not None and brand.public_id != public_id:
            raise ValidationFailed(fields={"brand": ["You draft for your own brand only."]})
        return brand
    if public_id is None:
        raise ValidationFailed(fields={"brand": ["This field is required."]})
    return organization_get(public_id=public_id, kind=Organization.Kind.BRAND)


class AgreementDetailApi(APIView):
    """An agreement with its versions (newest first) and their signatures."""

    @extend_schema(
        operation_id="agreements_retrieve",
        responses={200: _AgreementDetailSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        agreement = agreement_get_visible_to(user=request.user, public_id=public_id)
        return Response(_agreement_detail(request=request, agreement=agreement))


class AgreementAmendApi(APIView):
    """Propose an amendment (or a renewal): a new version, signed again by every party."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    class InputSerializer(serializers.Serializer):
        document = serializers.FileField()
        terms = _TermsField()

        class Meta:
            ref_name = "AgreementAmendInput"

    @extend_schema(
        operation_id="agreements_amend",
        request={"multipart/form-data": InputSerializer},
        responses={201: _AgreementDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        agreement = agreement_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agreement_amend(
            agreement=agreement,
            document=data.validated_data["document"],
            terms=data.validated_data["terms"],
            actor=request.user,
        )
        agreement.refresh_from_db()
        return Response(_agreement_detail(request=request, agreement=agreement), status=201)


class AgreementVersionSignApi(APIView):
    """Sign one version: send back its ``content_sha256``. The request's IP address, user
    agent and authentication method are kept as evidence."""

    class InputSerializer(serializers.Serializer):
        signed_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$")

        class Meta:
            ref_name = "AgreementSignInput"

    @extend_schema(
        operation_id="agreements_versions_sign",
        request=InputSerializer,
        responses={201: _AgreementDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str, number: int) -> Response:
        agreement = agreement_get_visible_to(user=request.user, public_id=public_id)
        version = agreement_version_get(agreement=agreement, number=number)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agreement_sign(
            version=version,
            actor=request.user,
            signed_sha256=data.validated_data["signed_sha256"],
            authentication_method=_authentication_method(request),
            ip=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        agreement.refresh_from_db()
        return Response(_agreement_detail(request=request, agreement=agreement), status=201)


class AgreementVersionDocumentApi(APIView):
    """The version's document file (not for campaign managers, who get the summary)."""

    @extend_schema(
        operation_id="agreements_versions_document",
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, public_id: str, number: int) -> FileResponse:
        agreement = agreement_get_visible_to(user=request.user, public_id=public_id)
        version = agreement_version_get(agreement=agreement, number=number)
        if agreement_viewer(user=request.user, agreement=agreement).summary_only:
            raise PermissionDenied("Campaign managers see the agreement's summary only.")
        return FileResponse(
            version.document.open("rb"),
            as_attachment=True,
            filename=f"agreement-{agreement.public_id}-v{version.number}",
        )


class AgreementVersionDiffApi(APIView):
    """What changed in a version's terms against another (default: the one before it)."""

    @extend_schema(
        operation_id="agreements_versions_diff",
        parameters=[OpenApiParameter("against", OpenApiTypes.INT)],
        responses={
            200: inline_serializer(
                name="AgreementTermsDiff",
                fields={
                    "from_version": serializers.IntegerField(),
                    "to_version": serializers.IntegerField(),
                    "changes": inline_serializer(
                        name="AgreementTermsChange",
                        fields={
                            "field": serializers.CharField(),
                            "old": serializers.JSONField(allow_null=True),
                            "new": serializers.JSONField(allow_null=True),
                        },
                        many=True,
                    ),
                },
            ),
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, public_id: str, number: int) -> Response:
        agreement = agreement_get_visible_to(user=request.user, public_id=public_id)
        new = agreement_version_get(agreement=agreement, number=number)
        try:
            against = int(request.query_params.get("against", number - 1))
        except ValueError:
            raise ValidationFailed(fields={"against": ["A version number."]})
        old = agreement_version_get(agreement=agreement, number=against)
        changes = agreement_terms_diff(old, new)
        return Response(
            {
                "from_version": old.number,
                "to_version": new.number,
                "changes": [{"field": f, "old": o, "new": n} for f, o, n in changes],
            }
        )


class AgreementTerminateApi(APIView):
    """Terminate an agreement now (brand legal, or the talent's side)."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

        class Meta:
            ref_name = "AgreementTerminateInput"

    @extend_schema(
        operation_id="agreements_terminate",
        request=InputSerializer,
        responses={200: _AgreementDetailSerializer, 409: ErrorSerializer, **_ERRORS},
    )
    def post(self, request: Request, public_id: str) -> Response:
        agreement = agreement_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = agreement_terminate(
            agreement=agreement, reason=data.validated_data["reason"], actor=request.user
        )
        return Response(_agreement_detail(request=request, agreement=agreement))


class CategoryListApi(APIView):
    """The use-category taxonomy, parents before children."""

    class OutputSerializer(serializers.Serializer):
        slug = serializers.SlugField()
        name = serializers.CharField()
        parent = serializers.SlugField(source="parent.slug", allow_null=True, default=None)
        global_policy = serializers.CharField()
        keywords = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "CategoryOutput"

    @extend_schema(
        operation_id="categories_list",
        responses={200: OutputSerializer(many=True), 401: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        categories = category_list()
        by_id = {c.pk: c for c in categories}
        for category in categories:
            category.parent = by_id.get(category.parent_id)  # no query per row
        return Response(self.OutputSerializer(categories, many=True).data)
