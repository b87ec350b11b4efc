"""The public pages: /verify/ (upload an image, read its report) and /verify/a/<uuid> (the
status of one of our assets, the address every manifest we sign carries).

No login. The upload is held in memory for the request only and never kept. The form is
exempt from CSRF on purpose: it changes nothing and belongs to no session, and reading the
token would make Django parse the body before our in-memory upload handler is installed.
"""

from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from rightsdesk.core.errors import ApplicationError, NotFound
from rightsdesk.provenance import wording
from rightsdesk.provenance.apis import VerifyRateThrottle, VerifyUploadHandler
from rightsdesk.provenance.verification import FINDING_REMOTE, asset_card, verify_image

TEMPLATE = "provenance/verify.html"


def _page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    max_mb = settings.RIGHTSDESK_VERIFY_MAX_BYTES // (1024 * 1024)
    return render(request, TEMPLATE, {"max_mb": max_mb, **context}, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, {})
    if not VerifyRateThrottle().allow_request(request, None):
        message = _("Too many verifications from your connection. Please wait a minute.")
        return _page(request, {"error": message}, status=429)
    request.upload_handlers = [VerifyUploadHandler(request)]
    try:
        upload = request.FILES.get("file")
        if upload is None:
            return _page(request, {"error": _("Choose an image file.")}, status=400)
        report = verify_image(upload.read(), filename=upload.name)
    except ApplicationError as exc:
        error = wording.error_text(exc.code, exc.message)
        return _page(request, {"error": error, "code": exc.code}, status=400)
    context = {
        "report": report,
        "remote_note": (
            wording.remote_manifest_finding(report.remote_manifest_url)
            if FINDING_REMOTE in report.findings
            else None
        ),
        "report_prompt": wording.report_prompt(),
    }
    return _page(request, context)


@require_http_methods(["GET"])
def asset_status_page(request: HttpRequest, asset_id: UUID) -> HttpResponse:
    try:
        card = asset_card(asset_id=asset_id)
    except NotFound:
        return render(request, "provenance/asset_status.html", {"card": None}, status=404)
    context = {"card": card, "report_prompt": wording.report_prompt()}
    return render(request, "provenance/asset_status.html", context)
