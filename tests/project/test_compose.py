"""docker-compose.yml cannot run here (no Docker engine), so check it by reading:
its services and commands must match the project's real entry points."""

import importlib
import re
import tomllib
from pathlib import Path

import yaml

from tests.project.test_settings import PRODUCTION, run

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_services_present():
    assert set(SERVICES) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_web_serves_the_wsgi_application_with_gunicorn():
    command = SERVICES["web"]["command"]
    assert command[0] == "gunicorn"
    module, attribute = command[1].split(":")
    assert callable(getattr(importlib.import_module(module), attribute))
    assert "healthz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_worker_and_beat_use_the_project_celery_app():
    from vectis import celery_app

    for name in ("worker", "beat"):
        command = SERVICES[name]["command"]
        assert command[:3] == ["celery", "-A", "vectis"]
        assert command[3] == name
    assert celery_app.main == "vectis"
    assert SERVICES["beat"]["deploy"]["replicas"] == 1


def test_beat_schedule_names_real_tasks():
    from django.conf import settings

    from vectis import celery_app

    celery_app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks, entry["task"]


def test_migrate_runs_first_and_others_wait():
    command = " ".join(SERVICES["migrate"]["command"])
    assert "python manage.py migrate --noinput && python manage.py grant_app_role vectis_app" in command
    assert (ROOT / "manage.py").is_file()
    for name in ("web", "worker", "beat"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    for name in ("postgres", "redis"):
        assert "healthcheck" in SERVICES[name]


def test_environment_variables_are_ones_settings_reads():
    settings_source = (ROOT / "vectis" / "settings.py").read_text()
    for name in SERVICES["web"]["environment"]:
        assert f'"{name}"' in settings_source, f"settings.py never reads {name}"


def test_dockerfile_copies_every_package_and_runs_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()

    # The project's own apps: every one must be in the image (bench/ and tests/ need not).
    packages = [app for app in production_apps() if (ROOT / app / "__init__.py").is_file()]
    assert {"vectis", "integrations", "customers", "security", "compliance", "audit"} <= set(packages)
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.M), package
    for folder in ("templates", "static"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert '"vectis.wsgi:application"' in dockerfile


def test_the_app_connects_as_its_restricted_role_and_migrations_as_the_owner():
    from urllib.parse import urlparse

    def user(service):
        url = re.sub(r"\$\{[^}]*\}", "secret", SERVICES[service]["environment"]["DATABASE_URL"])
        return urlparse(url).username

    owner = user("migrate")
    assert owner == SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    for name in ("web", "worker", "beat"):
        assert user(name) == "vectis_app" != owner
    assert "grant_app_role vectis_app" in " ".join(SERVICES["migrate"]["command"])
    from django.core.management import get_commands

    assert "grant_app_role" in get_commands() and "verify_audit" in get_commands()


def production_apps():
    """INSTALLED_APPS as the production settings (DEBUG off) build them."""
    result = run(["shell", "-v", "0", "-c", "from django.conf import settings; print(' '.join(settings.INSTALLED_APPS))"],
                 **PRODUCTION)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_simulator_and_the_demo_stay_out_of_production():
    from django.conf import settings

    assert "demo" in settings.INSTALLED_APPS  # tests run on the development profile
    assert "demo" not in production_apps() and "graphsim" not in production_apps()
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (\S+) ", dockerfile, re.M)
    assert "integrations" in copied and not {"demo", "graphsim"} & set(copied)
    assert not (ROOT / "integrations" / "simulator").exists()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not [name for name in packages if name.startswith(("demo", "graphsim"))]
