"""The application's settings, with bench/floor/urls.py as the URLconf: every route of the
application, and one more for bench/api_load.py's floor run."""

from rightsdesk.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor.urls"
