from django.urls import path

from rightsdesk.web import views

app_name = "web"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/briefs/<uuid:public_id>/", views.brief_decide, name="brief-decide"),
    path("inbox/outputs/", views.outputs_decide, name="outputs-decide"),
    path("licences/", views.licence_list, name="licence-list"),
    path("licences/<uuid:public_id>/", views.licence_detail, name="licence-detail"),
    path("licences/<uuid:public_id>/accept/", views.licence_accept_view, name="licence-accept"),
    path("licences/<uuid:public_id>/counter/", views.licence_counter_view, name="licence-counter"),
    path("licences/<uuid:public_id>/decline/", views.licence_decline_view, name="licence-decline"),
    path(
        "licences/<uuid:public_id>/withdraw/", views.licence_withdraw_view, name="licence-withdraw"
    ),
    path("market/", views.market, name="market"),
    path("agreements/", views.agreement_list, name="agreement-list"),
    path("agreements/<uuid:public_id>/", views.agreement_detail, name="agreement-detail"),
    path(
        "agreements/<uuid:public_id>/versions/<int:number>/sign/",
        views.agreement_sign_view,
        name="agreement-sign",
    ),
    path("agreements/<uuid:public_id>/amend/", views.agreement_amend_view, name="agreement-amend"),
    path(
        "agreements/<uuid:public_id>/licences/new/",
        views.licence_propose_view,
        name="licence-propose",
    ),
    path(
        "agreements/<uuid:public_id>/evidence/", views.agreement_evidence, name="agreement-evidence"
    ),
    path("capture-sessions/", views.capture_sessions, name="capture-sessions"),
    path("notices/", views.notices, name="notices"),
    path("consents/", views.consents, name="consents"),
    path("twin/", views.twin, name="twin"),
    path("twin/<uuid:public_id>/", views.twin_decide, name="twin-decide"),
    path("consents/<uuid:public_id>/withdraw/", views.consent_withdraw, name="consent-withdraw"),
    path("requests/", views.request_list, name="request-list"),
    path("requests/new/", views.request_new, name="request-new"),
    path("requests/check/", views.request_check, name="request-check"),
    path("requests/<uuid:public_id>/", views.request_detail, name="request-detail"),
    path("requests/<uuid:public_id>/select/", views.request_select, name="request-select"),
    path("assets/<uuid:public_id>/release/", views.asset_release_view, name="asset-release"),
    path(
        "assets/<uuid:public_id>/publication/",
        views.asset_publication_view,
        name="asset-publication",
    ),
]
