"""Shared fixtures and the service markers.

``@pytest.mark.postgres`` tests need PostgreSQL (triggers, row locks, concurrency) and
``@pytest.mark.redis`` tests a Redis broker. They are skipped when the service is not
configured, except under CI (RIGHTSDESK_REQUIRE_SERVICES=1), where a skip would hide them
and is turned into a failure.
"""

import os

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytest_plugins = ["tests.celery_worker"]


def _is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def _is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = os.environ.get("RIGHTSDESK_REQUIRE_SERVICES") == "1"
    missing = {"postgres": not _is_postgres(), "redis": not _is_redis()}
    for item in items:
        for marker, absent in missing.items():
            if absent and item.get_closest_marker(marker):
                reason = f"needs {marker} (set DATABASE_URL / CELERY_BROKER_URL)"
                if required:
                    item.add_marker(pytest.mark.xfail(reason=reason, strict=True, run=False))
                    raise pytest.UsageError(f"{item.nodeid} {reason}, but services are required")
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # Factories hash a password for every user; PBKDF2 at its production cost takes
    # ~0.3 s a user on these machines, which made the suite ten times slower.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def mail_on_the_committing_thread(settings):
    # A test that checks an e-mail reads it right after the commit; the mail thread
    # (core.notifications) has tests of its own.
    settings.RIGHTSDESK_MAIL_IN_BACKGROUND = False


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def as_user(api_client: APIClient):
    """Return a function that authenticates the API client as the given user."""

    def login(user) -> APIClient:
        api_client.force_authenticate(user=user)
        return api_client

    return login


@pytest.fixture
def staff_user(db):
    return UserFactory(role="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def one_torch_thread():
    """Renders and training in this process use one torch thread: the cores are shared
    with the worker processes and databases the tests start."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
