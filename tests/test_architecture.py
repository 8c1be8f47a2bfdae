"""The shape of the code: apps import downward only (lint-imports checks the
module-level graph against pyproject's layers contract), and no import of
another app hides inside a function, where the contract cannot see a cycle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("vectis", "compliance", "integrations", "security", "customers", "audit", "accounts")


def _app_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield app, path


def _late_imports(tree):
    """Import statements inside a function body, with their line numbers."""
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    yield from ((alias.name, node.lineno) for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    yield node.module, node.lineno


def test_no_function_level_import_of_another_app():
    found = []
    for app, path in _app_modules():
        for module, line in _late_imports(ast.parse(path.read_text(encoding="utf-8"))):
            top = module.split(".")[0]
            if top in APPS and top != app:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert found == []


def test_the_check_finds_a_late_import():
    source = "def view(request):\n    from customers.models import Customer\n    return Customer\n"
    assert list(_late_imports(ast.parse(source))) == [("customers.models", 2)]
