"""generation/ is plain Python: importing all of it loads no Django and nothing of
rightsdesk, and its spec types load without torch (DESIGN.md, "Boundaries")."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, json, pkgutil, sys
import generation.spec
spec_only = sorted(m for m in ("torch", "diffusers", "transformers", "peft", "numpy")
                   if m in sys.modules)
import generation
names = [m.name for m in pkgutil.walk_packages(generation.__path__, "generation.")]
for name in names:
    importlib.import_module(name)
web = sorted(m for m in sys.modules if m.split(".")[0] in ("django", "rightsdesk"))
print(json.dumps({"modules": names, "spec_only": spec_only, "web": web}))
"""


def test_generation_imports_no_django_and_spec_imports_no_torch():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert {"generation.render", "generation.train", "generation.adapters"} <= set(
        report["modules"]
    )
    assert report["spec_only"] == []
    assert report["web"] == []
