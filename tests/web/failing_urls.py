"""The site's URLs and error handlers, plus one page that fails, to see the 500 page."""

from django.urls import path

from rightsdesk.urls import handler403, handler404, handler500
from rightsdesk.urls import urlpatterns as site_urls

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def failing_page(request):
    raise RuntimeError("a bug in a page")


urlpatterns = [path("failing-page/", failing_page), *site_urls]
