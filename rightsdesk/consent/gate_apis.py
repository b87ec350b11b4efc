"""The gate's dry run: the decision a draft brief would get, with nothing stored.

Only a campaign manager of the brand that holds every licence named may ask; a licence of
another brand answers 404 like any foreign object, so the dry run cannot be used to probe
another brand's deals.
"""

from uuid import UUID

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import ALLOW, DENY, NEEDS_APPROVAL, RENDER, GateQuery
from rightsdesk.core.errors import NotFound, PermissionDenied, ValidationFailed
from rightsdesk.core.vocab import MEDIA, UnknownTerritory, expand_territory
from rightsdesk.licensing.models import Licence

MAX_LICENCES = 16  # a group shot; renders.MAX_DRAFTS-sized requests are far below this


def _campaign_brand_id(user: User) -> int:
    if not (
        user.is_active
        and user.role == Role.CAMPAIGN_MANAGER
        and user.organization is not None
        and user.organization.kind == Organization.Kind.BRAND
    ):
        raise PermissionDenied("Only a brand's campaign manager may ask for a render decision.")
    return user.organization_id


def _brand_licences(*, brand_id: int, public_ids: list[UUID]) -> list[Licence]:
    licences = list(Licence.objects.filter(public_id__in=public_ids, brand_id=brand_id))
    if len(licences) != len(set(public_ids)):
        raise NotFound("No such licence.")
    by_id = {licence.public_id: licence for licence in licences}
    return [by_id[public_id] for public_id in dict.fromkeys(public_ids)]


class _ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    talent = serializers.UUIDField(allow_null=True)
    fix = serializers.CharField()
    severity = serializers.ChoiceField(choices=[DENY, NEEDS_APPROVAL])
    approval = serializers.CharField(help_text="The approval kind that would lift it, if any.")

    class Meta:
        ref_name = "GateReason"


class _ObligationSerializer(serializers.Serializer):
    code = serializers.CharField()
    params = serializers.DictField()

    class Meta:
        ref_name = "GateObligation"


class _LicencePriceSerializer(serializers.Serializer):
    licence = serializers.UUIDField()
    usage_fee_minor = serializers.IntegerField(help_text="Per released asset, in minor units.")
    currency = serializers.CharField()
    drafts_remaining = serializers.IntegerField()

    class Meta:
        ref_name = "GateDryRunLicence"


class RenderRequestDryRunApi(APIView):
    """What the gate would decide for a draft brief now; stores nothing."""

    class InputSerializer(serializers.Serializer):
        licences = serializers.ListField(
            child=serializers.UUIDField(), min_length=1, max_length=MAX_LICENCES
        )
        brief = serializers.CharField(max_length=4000)
        negative_prompt = serializers.CharField(max_length=4000, required=False, allow_blank=True)
        territory = serializers.CharField(max_length=32, required=False, allow_blank=True)
        medium = serializers.ChoiceField(choices=sorted(MEDIA), required=False)

        class Meta:
            ref_name = "GateDryRunInput"

        def validate_territory(self, value: str) -> str:
            if value:
                try:
                    expand_territory(value)
                except UnknownTerritory:
                    raise serializers.ValidationError("Unknown territory.")
            return value.strip().upper()

    class OutputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=[ALLOW, NEEDS_APPROVAL, DENY])
        reasons = _ReasonSerializer(many=True)
        obligations = _ObligationSerializer(many=True)
        licences = _LicencePriceSerializer(many=True)

        class Meta:
            ref_name = "GateDryRunOutput"

    @extend_schema(
        operation_id="render_requests_dry_run",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        brand_id = _campaign_brand_id(request.user)
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            raise ValidationFailed(fields=serializer.errors)
        data = serializer.validated_data
        licences = _brand_licences(brand_id=brand_id, public_ids=data["licences"])
        decision = evaluate(
            GateQuery(
                action=RENDER,
                at=timezone.now(),
                licences=tuple(licence.public_id for licence in licences),
                brand=brand_id,
                brief=data["brief"],
                negative_prompt=data.get("negative_prompt", ""),
                territory=data.get("territory") or None,
                medium=data.get("medium") or None,
                dry_run=True,
            )
        )
        body = {
            **decision.to_json(),
            "licences": [
                {
                    "licence": licence.public_id,
                    "usage_fee_minor": licence.usage_fee_minor,
                    "currency": licence.currency,
                    "drafts_remaining": max(licence.draft_allowance - licence.drafts_used, 0),
                }
                for licence in licences
            ],
        }
        return Response(self.OutputSerializer(body).data)
