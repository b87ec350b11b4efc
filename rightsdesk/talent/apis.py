"""Talent and representation endpoints.

Every talent or representation a view touches is loaded through a ``*_visible_to``
selector, so a foreign object answers 404 and lists hold only what the user may see.
Lists carry no personal data; a detail carries it only for the readers
``talent_personal_data_get`` allows (a staff read is audited there).
"""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.accounts.models import Organization, Role
from rightsdesk.accounts.selectors import organization_get, user_is_staff
from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.api.pagination import DefaultPagination
from rightsdesk.core.errors import PermissionDenied, ValidationFailed
from rightsdesk.talent.models import Representation, Talent
from rightsdesk.talent.selectors import (
    POWER_FIELDS,
    agent_has_power,
    current_q,
    representation_get_visible_to,
    representation_list_visible_to,
    talent_get_visible_to,
    talent_list_visible_to,
    talent_personal_data_get,
    talent_principal_users,
)
from rightsdesk.talent.services import (
    IDENTITY_METHODS,
    representation_create,
    representation_end,
    talent_verify_identity,
)

_PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter("page_size", OpenApiTypes.INT),
]


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


class TalentListApi(APIView):
    """The talents the caller may see, newest first (profile only, never personal data)."""

    class OutputSerializer(serializers.Serializer):
        public_id = serializers.UUIDField()
        stage_name = serializers.CharField()
        identity_verified = serializers.BooleanField()
        created_at = serializers.DateTimeField()

        class Meta:
            ref_name = "TalentListOutput"

    @extend_schema(
        operation_id="talents_list",
        parameters=_PAGE_PARAMETERS,
        responses={
            200: _page(name="TalentListPage", item=OutputSerializer(many=True)),
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        talents = talent_list_visible_to(user=request.user)
        return _paginated(self, request, talents, self.OutputSerializer)


class _TalentPersonalDataSerializer(serializers.Serializer):
    legal_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    jurisdiction = serializers.CharField()
    age_of_majority = serializers.IntegerField()
    preferred_language = serializers.CharField()

    class Meta:
        ref_name = "TalentPersonalData"


class _TalentViewerSerializer(serializers.Serializer):
    is_principal = serializers.BooleanField(help_text="The caller may consent for the talent.")
    powers = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(POWER_FIELDS)),
        help_text="The powers the caller's agency holds for the talent now.",
    )

    class Meta:
        ref_name = "TalentViewer"


class _TalentDetailSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    stage_name = serializers.CharField()
    stage_name_public = serializers.BooleanField()
    is_minor = serializers.BooleanField()
    deceased = serializers.BooleanField()
    identity_verified = serializers.BooleanField()
    identity_verified_at = serializers.DateTimeField(allow_null=True)
    identity_verification_method = serializers.CharField()
    personal_data = _TalentPersonalDataSerializer(allow_null=True)
    viewer = _TalentViewerSerializer()

    class Meta:
        ref_name = "TalentDetail"


def _talent_detail(*, talent: Talent, request: Request) -> dict:
    user = request.user
    personal = talent_personal_data_get(user=user, talent=talent)
    return _TalentDetailSerializer(
        {
            "public_id": talent.public_id,
            "stage_name": talent.stage_name,
            "stage_name_public": talent.stage_name_public,
            "is_minor": talent.is_minor(),
            "deceased": talent.deceased,
            "identity_verified": talent.identity_verified,
            "identity_verified_at": talent.identity_verified_at,
            "identity_verification_method": talent.identity_verification_method,
            "personal_data": personal,
            "viewer": {
                "is_principal": any(p.pk == user.pk for p in talent_principal_users(talent=talent)),
                "powers": [
                    power
                    for power in sorted(POWER_FIELDS)
                    if agent_has_power(user=user, talent=talent, power=power)
                ],
            },
        }
    ).data


class TalentDetailApi(APIView):
    """One talent. ``personal_data`` is null unless the caller is the talent, a principal
    for them, a member of the agency representing them directly, or staff (audited)."""

    OutputSerializer = _TalentDetailSerializer

    @extend_schema(
        responses={200: _TalentDetailSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        talent = talent_get_visible_to(user=request.user, public_id=public_id)
        return Response(_talent_detail(talent=talent, request=request))


class TalentIdentityVerifyApi(APIView):
    """Attest the talent's identity: staff, or an agent of the agency representing them."""

    class InputSerializer(serializers.Serializer):
        method = serializers.ChoiceField(choices=IDENTITY_METHODS)

        class Meta:
            ref_name = "TalentIdentityVerifyInput"

    class OutputSerializer(serializers.Serializer):
        public_id = serializers.UUIDField()
        identity_verified_at = serializers.DateTimeField()
        identity_verification_method = serializers.CharField()
        attested_by_role = serializers.CharField(source="identity_verified_by.role")

        class Meta:
            ref_name = "TalentIdentityVerifyOutput"

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, public_id: str) -> Response:
        talent = talent_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        talent = talent_verify_identity(
            talent=talent, method=data.validated_data["method"], actor=request.user
        )
        return Response(self.OutputSerializer(talent).data)


class _OrganizationRefSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    name = serializers.CharField()

    class Meta:
        ref_name = "OrganizationRef"


class _RepresentationSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    talent = serializers.UUIDField(source="talent.public_id")
    talent_stage_name = serializers.CharField(source="talent.stage_name")
    agency = _OrganizationRefSerializer()
    commission_bps = serializers.IntegerField()
    powers = serializers.SerializerMethodField()
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True)
    is_current = serializers.SerializerMethodField()
    mother_agency = _OrganizationRefSerializer(allow_null=True)
    mother_agency_share_bps = serializers.IntegerField()

    class Meta:
        ref_name = "Representation"

    def get_powers(self, representation: Representation) -> list[str]:
        return [p for p, field in sorted(POWER_FIELDS.items()) if getattr(representation, field)]

    def get_is_current(self, representation: Representation) -> bool:
        return representation.is_current()


class RepresentationListCreateApi(APIView):
    """GET: the representations visible to the caller (the talent's side, the agencies
    party to them, staff). POST: staff or an agent of the agency records a mandate."""

    class FilterSerializer(serializers.Serializer):
        talent = serializers.UUIDField(required=False)
        current = serializers.BooleanField(required=False, allow_null=True, default=None)

        class Meta:
            ref_name = "RepresentationListFilter"

    class InputSerializer(serializers.Serializer):
        talent = serializers.UUIDField()
        agency = serializers.UUIDField(
            required=False, help_text="Defaults to the calling agent's agency."
        )
        commission_bps = serializers.IntegerField(min_value=0, max_value=10000)
        powers = serializers.ListField(
            child=serializers.ChoiceField(choices=sorted(POWER_FIELDS)), default=list
        )
        valid_from = serializers.DateTimeField(required=False)
        valid_to = serializers.DateTimeField(required=False, allow_null=True)
        mother_agency = serializers.UUIDField(required=False, allow_null=True)
        mother_agency_share_bps = serializers.IntegerField(min_value=0, max_value=10000, default=0)

        class Meta:
            ref_name = "RepresentationCreateInput"

    @extend_schema(
        operation_id="representations_list",
        parameters=[FilterSerializer, *_PAGE_PARAMETERS],
        responses={
            200: _page(name="RepresentationListPage", item=_RepresentationSerializer(many=True)),
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        representations = representation_list_visible_to(user=request.user)
        if "talent" in filters.validated_data:
            representations = representations.filter(
                talent__public_id=filters.validated_data["talent"]
            )
        current = filters.validated_data.get("current")
        if current is True:
            representations = representations.filter(current_q(timezone.now()))
        elif current is False:
            representations = representations.exclude(current_q(timezone.now()))
        return _paginated(self, request, representations, _RepresentationSerializer)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: _RepresentationSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        user = request.user
        if not (user_is_staff(user=user) or user.role == Role.AGENT):
            raise PermissionDenied("Only staff or an agent may record a representation.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        talent = talent_get_visible_to(user=user, public_id=values["talent"])
        if "agency" in values:
            agency = organization_get(public_id=values["agency"], kind=Organization.Kind.AGENCY)
        elif user.role == Role.AGENT:
            agency = user.organization
        else:
            raise ValidationFailed(fields={"agency": ["Staff must name the agency."]})
        mother = None
        if values.get("mother_agency"):
            mother = organization_get(
                public_id=values["mother_agency"], kind=Organization.Kind.AGENCY
            )
        representation = representation_create(
            talent=talent,
            agency=agency,
            commission_bps=values["commission_bps"],
            powers=frozenset(values["powers"]),
            valid_from=values.get("valid_from"),
            valid_to=values.get("valid_to"),
            mother_agency=mother,
            mother_agency_share_bps=values["mother_agency_share_bps"],
            actor=user,
        )
        return Response(_RepresentationSerializer(representation).data, status=201)


class RepresentationDetailApi(APIView):
    @extend_schema(
        responses={200: _RepresentationSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
    )
    def get(self, request: Request, public_id: str) -> Response:
        representation = representation_get_visible_to(user=request.user, public_id=public_id)
        return Response(_RepresentationSerializer(representation).data)


class RepresentationEndApi(APIView):
    """End a mandate now or at a given time: the agency, staff or the talent's principal."""

    class InputSerializer(serializers.Serializer):
        ended_at = serializers.DateTimeField(required=False)

        class Meta:
            ref_name = "RepresentationEndInput"

    @extend_schema(
        request=InputSerializer,
        responses={
            200: _RepresentationSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, public_id: str) -> Response:
        representation = representation_get_visible_to(user=request.user, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        representation = representation_end(
            representation=representation,
            ended_at=data.validated_data.get("ended_at"),
            actor=request.user,
        )
        return Response(_RepresentationSerializer(representation).data)
