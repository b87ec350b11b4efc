"""Settings helpers that read the environment and, outside production, make missing keys.

This module is imported by settings.py, so it must not import Django models or apps.
"""

import base64
import logging
import os
import secrets
from pathlib import Path

from filelock import FileLock

logger = logging.getLogger("rightsdesk.settings")


class MissingSetting(RuntimeError):
    """A setting that production requires is absent; the message names the variable."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise MissingSetting(f"{name} must be an integer, got {raw!r}")


def key_from_env_or_file(*, name: str, key_dir: Path, production: bool, make: callable) -> str:
    """Return the key in ``name``; outside production generate it once under ``key_dir``.

    The file is written under a lock with mode 0600 so that the web process and a worker
    started at the same moment end up with the same key.
    """
    value = os.environ.get(name)
    if value:
        return value
    if production:
        raise MissingSetting(f"{name} is required when RIGHTSDESK_ENV=production")
    key_dir.mkdir(parents=True, exist_ok=True)
    path = key_dir / name.lower()
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(make())
            logger.warning("%s was not set: generated one in %s (development only)", name, path)
        return path.read_text().strip()


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_data_key() -> str:
    """A 256-bit AES key, base64 encoded, used to wrap the per-talent data keys."""
    return base64.b64encode(secrets.token_bytes(32)).decode()
