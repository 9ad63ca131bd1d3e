"""The Celery app Flower loads (``monitoring.flower_app``, ``exai flower``): the broker, no tasks.

Flower learns task names from the workers' events, so it does not need the worker's modules (nor
gevent's patching, nor the provider clients).
"""

from __future__ import annotations

from contracts.queue import make_celery
from contracts.settings import load_settings

app = make_celery(load_settings())
