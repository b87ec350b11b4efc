"""Keys from the environment: generated once outside production, required in production."""

import logging
import os
import stat
import subprocess
import sys

import pytest
from django.conf import settings

from rightsdesk.envkeys import MissingSetting, key_from_env_or_file, new_secret_key

KEY_NAME = "RIGHTSDESK_TEST_ONLY_KEY"


def test_missing_key_is_generated_once_with_mode_0600(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(KEY_NAME, raising=False)
    key_dir = tmp_path / "keys"

    with caplog.at_level(logging.WARNING, logger="rightsdesk.settings"):
        first = key_from_env_or_file(
            name=KEY_NAME, key_dir=key_dir, production=False, make=new_secret_key
        )

    key_file = key_dir / KEY_NAME.lower()
    assert first
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert KEY_NAME in caplog.text


def test_generated_key_is_read_back_not_made_again(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_NAME, raising=False)
    key_dir = tmp_path / "keys"
    first = key_from_env_or_file(
        name=KEY_NAME, key_dir=key_dir, production=False, make=new_secret_key
    )

    def make_again() -> str:
        pytest.fail("the key was made a second time")

    again = key_from_env_or_file(name=KEY_NAME, key_dir=key_dir, production=False, make=make_again)

    assert again == first


def test_key_in_the_environment_wins_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_NAME, "from-the-environment")

    value = key_from_env_or_file(
        name=KEY_NAME, key_dir=tmp_path / "keys", production=True, make=new_secret_key
    )

    assert value == "from-the-environment"
    assert not (tmp_path / "keys").exists()


def test_production_refuses_a_missing_key_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_NAME, raising=False)

    with pytest.raises(MissingSetting, match=KEY_NAME):
        key_from_env_or_file(
            name=KEY_NAME, key_dir=tmp_path / "keys", production=True, make=new_secret_key
        )

    assert not (tmp_path / "keys").exists()


def _manage_check(tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "RIGHTSDESK_DATA_KEY", "DATABASE_URL", "CELERY_BROKER_URL"}
    }
    env.update(RIGHTSDESK_ENV="production", RIGHTSDESK_VAR_DIR=str(tmp_path / "var"), **overrides)
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "check"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_secret_key_fails_cleanly_naming_it(tmp_path):
    result = _manage_check(tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "keys").exists()


def test_production_without_data_key_fails_cleanly_naming_it(tmp_path):
    result = _manage_check(tmp_path, SECRET_KEY="a-production-secret")

    assert result.returncode != 0
    assert "RIGHTSDESK_DATA_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_both_keys_passes_the_check(tmp_path):
    result = _manage_check(
        tmp_path, SECRET_KEY="a-production-secret", RIGHTSDESK_DATA_KEY="a-production-data-key"
    )

    assert result.returncode == 0, result.stderr
