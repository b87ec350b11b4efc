"""The ledger imports nothing from the domain (DESIGN.md, "Ledger"): it knows parties and
what earned an entry only by opaque references. Only the API view, the edge where a user
meets a talent's statement, asks the talent app who the user is to the talent."""

import ast
from pathlib import Path

from django.conf import settings

DOMAIN = ("talent", "agreements", "licensing", "consent", "renders", "provenance")
EDGE = {"apis.py"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_ledger_imports_no_domain_app():
    root = Path(settings.BASE_DIR) / "rightsdesk" / "ledger"
    offenders = {}
    for path in sorted(root.rglob("*.py")):
        if path.name in EDGE and path.parent == root:
            continue
        domain = {
            name
            for name in _imports(path)
            if any(name.startswith(f"rightsdesk.{app}") for app in DOMAIN)
        }
        if domain:
            offenders[str(path.relative_to(root))] = sorted(domain)

    assert offenders == {}
    # The scan is real: the edge module does import the talent app.
    assert any(n.startswith("rightsdesk.talent") for n in _imports(root / "apis.py"))
