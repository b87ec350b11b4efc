"""The public pages, mounted at /verify/ (rightsdesk/urls.py)."""

from django.urls import path

from rightsdesk.provenance import views

urlpatterns = [
    path("", views.verify_page, name="verify-page"),
    # The status URL inside every manifest we sign: /verify/a/<asset uuid>, no slash.
    path("a/<uuid:asset_id>", views.asset_status_page, name="verify-asset"),
]
