"""The Celery application. Queues: ``default`` (bookkeeping), ``gpu`` (rendering, one
worker process per GPU) and ``training`` (likeness training, its own visibility timeout)."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightsdesk.settings")

app = Celery("rightsdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("gpu"), Queue("training"))
app.autodiscover_tasks()
