"""The web process never imports torch, diffusers, transformers or peft (DESIGN.md,
"Boundaries"): importing the whole web application in a fresh interpreter leaves them out
of sys.modules. A second run that imports torch on purpose proves the check can fail."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

HEAVY = ("torch", "diffusers", "transformers", "peft")
WEB_MODULE_ROLES = {"apis", "services", "selectors", "tasks"}

# Runs in a fresh interpreter; prints what it imported and which heavy modules got loaded.
IMPORT_WEB_APP = """
import importlib, json, pkgutil, sys
{preamble}
import django
django.setup()
import rightsdesk, rightsdesk.urls, rightsdesk.wsgi
from django.urls import resolve, reverse
from rightsdesk.celery import app

def fail(name):
    raise ImportError(f"cannot import {{name}}")

imported = []
for module in pkgutil.walk_packages(rightsdesk.__path__, "rightsdesk.", onerror=fail):
    if module.name.rsplit(".", 1)[-1] in {roles!r}:
        importlib.import_module(module.name)
        imported.append(module.name)
app.loader.import_default_modules()  # what Celery's autodiscovery imports in this process
for path in ("/", "/healthz", "/login/", "/admin/", "/api/schema/", "/api/docs/"):
    resolve(path)
reverse("schema")
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print(json.dumps({{"imported": imported, "heavy": heavy}}))
"""


def _import_web_app(preamble: str = "") -> dict:
    script = IMPORT_WEB_APP.format(preamble=preamble, roles=WEB_MODULE_ROLES, heavy=HEAVY)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rightsdesk.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_web_application_imports_no_machine_learning_library():
    report = _import_web_app()

    assert "rightsdesk.renders.services" in report["imported"]
    assert "rightsdesk.renders.tasks" in report["imported"]
    assert report["heavy"] == [], f"the web process imported {report['heavy']}"

    # The detection is real: the same run with torch imported reports it.
    control = _import_web_app(preamble="import torch")
    assert "torch" in control["heavy"]


def test_generation_package_init_imports_nothing():
    init = Path(settings.BASE_DIR) / "generation" / "__init__.py"
    tree = ast.parse(init.read_text())

    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert imports == [], "generation/__init__.py must stay empty of imports"
