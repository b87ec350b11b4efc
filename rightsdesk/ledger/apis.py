"""Ledger endpoints: a talent's statement, for the talent's side.

This is the edge where a user meets the ledger, so it is the one ledger module that asks
the talent app who the user is to the talent; the ledger below it knows only the opaque
owner "talent:<public id>". A talent the user cannot see answers 404; one the user sees
but may not read the earnings of (an agent whose representation does not grant
``view_earnings``, the mother agency, staff) answers 403.
"""

import csv
import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.core.errors import PermissionDenied
from rightsdesk.ledger.selectors import ledger_statement
from rightsdesk.ledger.types import owner_ref
from rightsdesk.talent.selectors import (
    may_read_earnings,
    talent_get_visible_to,
)

_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class StatementCSVRenderer(renderers.BaseRenderer):
    """``text/csv`` (``?format=csv`` or ``Accept: text/csv``): the statement's bytes as
    they are hashed; an error as a two-column CSV."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, bytes):
            return data
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["code", "message"])
        writer.writerow([data.get("code", ""), data.get("message", "")])
        return out.getvalue().encode("utf-8")


class _RowSerializer(serializers.Serializer):
    date = serializers.CharField()
    entry = serializers.UUIDField()
    kind = serializers.CharField()
    reference = serializers.CharField(help_text='What earned it: "asset:<id>", "licence:<id>".')
    description = serializers.CharField()
    gross_minor = serializers.IntegerField()
    commission_minor = serializers.IntegerField()
    net_minor = serializers.IntegerField()
    paid_out_minor = serializers.IntegerField()

    class Meta:
        ref_name = "LedgerStatementRow"


class _AccountSerializer(serializers.Serializer):
    currency = serializers.CharField()
    opening_balance_minor = serializers.IntegerField()
    gross_minor = serializers.IntegerField()
    commission_minor = serializers.IntegerField()
    net_minor = serializers.IntegerField()
    paid_out_minor = serializers.IntegerField()
    closing_balance_minor = serializers.IntegerField()
    rows = _RowSerializer(many=True)

    class Meta:
        ref_name = "LedgerStatementAccount"


class _DocumentSerializer(serializers.Serializer):
    owner = serializers.CharField()
    period = serializers.CharField()
    period_start = serializers.CharField()
    period_end = serializers.CharField()
    accounts = _AccountSerializer(many=True)

    class Meta:
        ref_name = "LedgerStatementDocument"


class LedgerStatementApi(APIView):
    """A talent's earnings for one UTC month: gross fee, commission and net line by line,
    payouts and balances, in minor units. ``?format=csv`` (or ``Accept: text/csv``) gives
    the CSV. ``sha256`` hashes the canonical JSON of ``statement``; for a closed month
    ``closed_sha256`` is the hash stored when it closed, and the two are equal."""

    renderer_classes = [renderers.JSONRenderer, StatementCSVRenderer]

    class FilterSerializer(serializers.Serializer):
        talent = serializers.UUIDField()
        period = serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", help_text="YYYY-MM (UTC)")

        class Meta:
            ref_name = "LedgerStatementFilter"

    class OutputSerializer(serializers.Serializer):
        talent = serializers.UUIDField()
        period = serializers.CharField()
        closed = serializers.BooleanField()
        sha256 = serializers.CharField()
        closed_sha256 = serializers.CharField(allow_null=True)
        statement = _DocumentSerializer()

        class Meta:
            ref_name = "LedgerStatement"

    @extend_schema(
        operation_id="ledger_statement",
        parameters=[FilterSerializer],
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV"),
            **_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        talent = talent_get_visible_to(
            user=request.user, public_id=filters.validated_data["talent"]
        )
        if not may_read_earnings(user=request.user, talent=talent):
            raise PermissionDenied("You may not read this talent's earnings.")
        period = filters.validated_data["period"]
        view = ledger_statement(owner=owner_ref("talent", talent.public_id), period=period)
        if request.accepted_renderer.format == "csv":
            filename = f"statement-{talent.public_id}-{period}.csv"
            return Response(
                view.statement.csv_bytes(),
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        output = {
            "talent": talent.public_id,
            "period": period,
            "closed": view.closed,
            "sha256": view.statement.json_sha256,
            "closed_sha256": view.stored_json_sha256,
            "statement": view.statement.document(),
        }
        return Response(self.OutputSerializer(output).data)
