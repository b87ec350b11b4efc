"""The worker fixture hands the worker the test database, never the development one."""

import dj_database_url
import pytest
from django.db import connection

from tests.celery_worker import worker_database_url


@pytest.mark.django_db
def test_worker_database_url_names_the_test_database():
    url = worker_database_url()

    parsed = dj_database_url.parse(url)
    assert parsed["ENGINE"] == connection.settings_dict["ENGINE"]
    assert str(parsed["NAME"]) == str(connection.settings_dict["NAME"])
    assert "test" in str(parsed["NAME"])
