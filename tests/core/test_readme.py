"""README.md cannot drift silently: every error code and every environment variable the
settings read must be in its tables, and nothing stale may stay there."""

import re

from django.conf import settings

from rightsdesk.core.errors import load_all_error_modules

README = settings.BASE_DIR / "README.md"
SETTINGS_SOURCES = [
    settings.BASE_DIR / "rightsdesk" / "settings.py",
    settings.BASE_DIR / "rightsdesk" / "envkeys.py",
]
# env_str("NAME", ...), env_bool(...), env_int(...), os.environ.get("NAME"),
# os.environ["NAME"], os.getenv("NAME") and key_from_env_or_file(name="NAME", ...).
ENV_READ = re.compile(
    r"""(?:env_str|env_bool|env_int|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
    r"""|key_from_env_or_file\(\s*name=["']([A-Z][A-Z0-9_]*)["']"""
)
SETTING_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", re.MULTILINE)
ERROR_ROW = re.compile(r"^\|\s*`([a-z][a-z0-9_]*)`\s*\|\s*(\d{3})\s*\|", re.MULTILINE)


def readme_section(title: str) -> str:
    text = README.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def variables_read_by_settings() -> set[str]:
    found: set[str] = set()
    for source in SETTINGS_SOURCES:
        for groups in ENV_READ.findall(source.read_text()):
            found.update(name for name in groups if name)
    return found


def test_settings_table_lists_every_variable_the_settings_read():
    read = variables_read_by_settings()
    documented = set(SETTING_ROW.findall(readme_section("Settings")))

    assert {"SECRET_KEY", "RIGHTSDESK_DATA_KEY", "DATABASE_URL"} <= read  # the regex works
    assert read - documented == set(), "add these to README.md's Settings table"
    assert documented - read == set(), "README.md documents variables the settings never read"


def test_error_table_lists_every_registered_code_with_its_status():
    registry = load_all_error_modules()
    documented = dict(ERROR_ROW.findall(readme_section("Error codes")))

    missing = sorted(set(registry) - set(documented))
    assert missing == [], "add these codes to README.md's Error codes table"
    stale = sorted(set(documented) - set(registry))
    assert stale == [], "README.md lists codes that no longer exist"
    wrong_status = {
        code: (documented[code], cls.status)
        for code, cls in registry.items()
        if int(documented[code]) != cls.status
    }
    assert wrong_status == {}, "README.md status differs from the code's (README, code)"


def test_loading_every_errors_module_registers_the_codes_apps_declare():
    registry = load_all_error_modules()

    assert registry["not_found"].status == 404
    assert registry["email_taken"].__module__ == "rightsdesk.accounts.errors"
    assert registry["identity_already_verified"].__module__ == "rightsdesk.talent.errors"
