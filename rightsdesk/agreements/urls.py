from django.urls import path

from rightsdesk.agreements import apis

urlpatterns: list = [
    path("agreements/", apis.AgreementListCreateApi.as_view(), name="agreement-list"),
    path(
        "agreements/<uuid:public_id>/", apis.AgreementDetailApi.as_view(), name="agreement-detail"
    ),
    path(
        "agreements/<uuid:public_id>/amend/",
        apis.AgreementAmendApi.as_view(),
        name="agreement-amend",
    ),
    path(
        "agreements/<uuid:public_id>/terminate/",
        apis.AgreementTerminateApi.as_view(),
        name="agreement-terminate",
    ),
    path(
        "agreements/<uuid:public_id>/versions/<int:number>/sign/",
        apis.AgreementVersionSignApi.as_view(),
        name="agreement-version-sign",
    ),
    path(
        "agreements/<uuid:public_id>/versions/<int:number>/document/",
        apis.AgreementVersionDocumentApi.as_view(),
        name="agreement-version-document",
    ),
    path(
        "agreements/<uuid:public_id>/versions/<int:number>/diff/",
        apis.AgreementVersionDiffApi.as_view(),
        name="agreement-version-diff",
    ),
    path("categories/", apis.CategoryListApi.as_view(), name="category-list"),
]
