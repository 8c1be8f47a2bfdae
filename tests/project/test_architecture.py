"""The shape of the code: apps import downward only (lint-imports checks the
module-level graph against pyproject's layers contract), and no import of
another app hides inside a function, where the contract cannot see a cycle."""

import ast
import re
from pathlib import Path

from audit.models import AuditAction

ROOT = Path(__file__).resolve().parents[2]
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


# Every audit row is written by an action: a function in a services module
# (integrations.sync_services: the actions that enqueue tasks). The writers
# themselves (audit.log, and accounts.audit_hook for the layer below audit)
# are the only other places that name them.
AUDIT_WRITERS = {"audit_log", "audit_log_many", "account_audit"}
WRITER_MODULES = {"audit/log.py", "accounts/audit_hook.py"}


def _is_action_module(path):
    return path.stem in ("services", "actions") or path.stem.endswith("_services")


def _audit_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in AUDIT_WRITERS:
                yield name, node.lineno


def test_audit_rows_are_written_only_by_actions():
    found = []
    for _, path in _app_modules():
        relative = path.relative_to(ROOT).as_posix()
        if _is_action_module(path) or relative in WRITER_MODULES:
            continue
        found += [f"{relative}:{line} calls {name}" for name, line in _audit_calls(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []


def test_the_check_finds_an_audit_call_in_a_view():
    source = "def view(request):\n    audit_log(actor=request.user, action='x')\n"
    assert list(_audit_calls(ast.parse(source))) == [("audit_log", 2)]
    assert _is_action_module(ROOT / "customers" / "services.py") and not _is_action_module(ROOT / "customers" / "views.py")


def test_every_audit_action_written_is_a_named_one():
    """accounts (below audit) passes action values as strings: each must be an AuditAction."""
    written = set()
    for _, path in _app_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "action" and isinstance(node.value, ast.Constant):
                written.add(node.value.value)
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["action"] \
                    and isinstance(node.value, ast.Constant):
                written.add(node.value.value)
    written -= {"store_true", "append"}  # argparse's action=, in management commands
    assert written and written <= set(AuditAction.values), written - set(AuditAction.values)


# customers sits below security, integrations and compliance: its templates
# neither include theirs nor link to their URLs (the hub loops over the
# sections the apps register, each with a template of its own app).
UPPER_APPS_OF_CUSTOMERS = ("security", "integrations", "compliance")


def _upward_references(text):
    includes = re.findall(r"""{%\s*include\s+["'](\w+)/""", text)
    urls = re.findall(r"""{%\s*url\s+["'](\w+):""", text)
    return [name for name in includes + urls if name in UPPER_APPS_OF_CUSTOMERS]


def test_customers_templates_name_no_template_or_url_of_an_app_above():
    found = {path.name: _upward_references(path.read_text(encoding="utf-8"))
             for path in sorted((ROOT / "templates" / "customers").glob("*.html"))}
    assert {name: refs for name, refs in found.items() if refs} == {}


def test_the_check_finds_an_upward_include_and_url():
    text = """{% include "security/_rules.html" %} <a href="{% url 'integrations:index' %}"> {% url 'customers:hub' 1 %}"""
    assert _upward_references(text) == ["security", "integrations"]
