from django.urls import path

from rightsdesk.provenance.apis import VerifyApi

urlpatterns = [
    path("verify/", VerifyApi.as_view(), name="verify"),
]
