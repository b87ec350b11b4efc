from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rightsdesk.api.errors import ErrorSerializer
from rightsdesk.core.errors import AuthenticationFailed


class TokenObtainApi(APIView):
    """Exchange an e-mail and password for an API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False)

        class Meta:
            ref_name = "TokenObtainInput"

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        role = serializers.CharField()

        class Meta:
            ref_name = "TokenObtainOutput"

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=data.validated_data["email"].lower(),
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise AuthenticationFailed()
        token, _ = Token.objects.get_or_create(user=user)
        return Response(self.OutputSerializer({"token": token.key, "role": user.role}).data)


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        full_name = serializers.CharField()
        role = serializers.CharField()
        organization = serializers.UUIDField(source="organization.public_id", allow_null=True)

        class Meta:
            ref_name = "MeOutput"

    @extend_schema(responses={200: OutputSerializer, 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user).data)
