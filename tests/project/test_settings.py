"""Settings parse the environment strictly; production settings pass check --deploy."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7!kq2-production-like-secret-key-with-enough-entropy-9f3a1c5e7b",
    "ALLOWED_HOSTS": "vectis.msp.example",
    "VECTIS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "sqlite:////tmp/vectis-deploy-check.sqlite3",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run(args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "VECTIS_ENCRYPTION_KEYS", "ALLOWED_HOSTS"}}
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("variable,value,message", [
    ("DEBUG", "ture", "DEBUG='ture' is not a boolean"),
    ("DATABASE_URL", "mysql://db/vectis", "DATABASE_URL must start with postgres://"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL must start with redis://"),
    ("TIME_ZONE", "Mars/Olympus", "TIME_ZONE='Mars/Olympus' is not a known time zone"),
    ("VECTIS_MAIL_SYNC_MINUTES", "ten", "VECTIS_MAIL_SYNC_MINUTES='ten' is not a whole number"),
    ("VECTIS_GRAPH_CA_BUNDLE", "/nonexistent.pem", "VECTIS_GRAPH_CA_BUNDLE"),
    ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' is not a log level"),
    ("VECTIS_ENCRYPTION_KEYS", "not-a-fernet-key", "VECTIS_ENCRYPTION_KEYS: key 1 of 1 is not a Fernet key"),
    ("VECTIS_ENCRYPTION_KEYS", Fernet.generate_key().decode() + ",c2hvcnQ=", "VECTIS_ENCRYPTION_KEYS: key 2 of 2"),
])
def test_bad_values_stop_start_up_naming_the_variable(variable, value, message):
    result = run(["check"], **{**PRODUCTION, variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_needs_secret_key_and_encryption_keys():
    env = dict(PRODUCTION)
    del env["SECRET_KEY"]
    assert "SECRET_KEY must be set" in run(["check"], **env).stderr
    env = dict(PRODUCTION)
    del env["VECTIS_ENCRYPTION_KEYS"]
    assert "VECTIS_ENCRYPTION_KEYS" in run(["check"], **env).stderr


def test_production_needs_its_broker():
    env = dict(PRODUCTION)
    del env["REDIS_URL"]
    result = run(["check"], **env)
    assert result.returncode != 0
    assert "REDIS_URL must be set when DEBUG is off" in result.stderr
    # The embedded default stays for development.
    assert run(["check"], **{**env, "DEBUG": "true"}).returncode == 0


def test_a_bad_encryption_key_never_appears_in_the_message():
    result = run(["check"], **{**PRODUCTION, "VECTIS_ENCRYPTION_KEYS": "s3cret-looking-but-broken"})
    assert result.returncode != 0 and "VECTIS_ENCRYPTION_KEYS" in result.stderr
    assert "s3cret-looking-but-broken" not in result.stderr


def test_check_deploy_reports_nothing():
    result = run(["check", "--deploy", "--fail-level", "DEBUG"], **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_database_url_parsing():
    from vectis.settings import database_from_url

    pg = database_from_url("DATABASE_URL", "postgres://vectis:p%40ss@db.internal:5433/vectis?sslmode=require")
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == ("vectis", "p@ss", "db.internal", "5433", "vectis")
    assert pg["OPTIONS"] == {"sslmode": "require"}
    assert database_from_url("X", "sqlite:////var/lib/vectis.db")["NAME"] == "/var/lib/vectis.db"


# ------------------------------------------------------------------ the README's environment table

ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_list"}


def variables_settings_read():
    """Every environment variable vectis/settings.py reads, found in its source:
    the strict env_* helpers and any direct os.environ / os.getenv read. A read
    whose name is not a literal fails here, so nothing escapes the scan."""
    tree = ast.parse((ROOT / "vectis" / "settings.py").read_text(encoding="utf-8"))
    helpers_defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ENV_HELPERS:
                read = node.args[0] if node.args else None
            elif isinstance(func, ast.Attribute) and ast.unparse(func) in ("os.environ.get", "os.getenv"):
                read = node.args[0] if node.args else None
            else:
                continue
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            read = node.slice
        else:
            continue
        if isinstance(read, ast.Name) and read.id == "name" and _inside_helper(tree, node, helpers_defined):
            continue  # the helpers' own os.environ.get(name)
        assert isinstance(read, ast.Constant) and isinstance(read.value, str), (
            f"settings.py line {node.lineno} reads an environment variable whose name is not a literal")
        names.add(read.value)
    return names


def _inside_helper(tree, target, helpers):
    return any(
        isinstance(fn, ast.FunctionDef) and fn.name in helpers | ENV_HELPERS and target in ast.walk(fn)
        for fn in tree.body
    )


def readme_environment_table():
    """The variables named in the first column of the README's environment table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Environment variables", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_the_readme_table_lists_exactly_the_variables_settings_read():
    read = variables_settings_read()
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "VECTIS_BEHIND_TLS_PROXY", "LOG_LEVEL"} <= read  # the scan works
    listed = readme_environment_table()
    assert read - listed == set(), "settings read these, the README table does not list them"
    assert listed - read == set(), "the README table lists these, settings never read them"


def test_the_production_env_block_is_fenced_as_dotenv():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(\w*)\n(SECRET_KEY=.*?)```", readme, re.S)
    assert block and block.group(1) == "dotenv", "a shell reader would take SECRET_KEY=<…> for a command"
    compose_only = {"POSTGRES_PASSWORD", "APP_DB_PASSWORD"}  # read by docker-compose, not by settings
    assert set(re.findall(r"^([A-Z][A-Z0-9_]*)=", block.group(2), re.M)) - compose_only <= readme_environment_table()
