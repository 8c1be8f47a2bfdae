"""The Celery app. Tasks are thin shells in each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vectis.settings")

app = Celery("vectis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
