"""Flower, with its ``/metrics`` behind the same credentials as every other Flower page.

Flower 2.2 serves ``/metrics`` to anyone, even with ``--basic-auth`` on: its Metrics handler never
asks for the current user (flower/views/monitor.py), and its application takes no list of handlers
(``Flower.__init__`` sets its own). This launcher runs Flower's own command steps (options from
``FLOWER_*`` variables and the command line, its settings, its logging, its banner) with one
difference: the application is :class:`GuardedFlower`, a subclass of Flower's that registers
:class:`GuardedMetrics` for ``/metrics`` through tornado's public ``Application.add_handlers``.
Handlers added that way are matched before the application's own, so every other path is Flower's
unchanged. ``/healthcheck`` stays open for probes: it says "OK" and nothing else.

Run with ``python -m monitoring.flower_app --address=… --port=…`` (what ``exai flower`` does).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import sys
from types import FrameType
from typing import Any

import tornado.web
from flower.app import Flower
from flower.command import apply_env_options, apply_options, extract_settings, print_banner, setup_logging
from flower.urls import settings as flower_settings
from flower.views.monitor import Metrics
from tornado.options import options

log = logging.getLogger("exai.flower")


class GuardedMetrics(Metrics):  # type: ignore[misc]  # flower is untyped
    """Flower's Prometheus metrics, answered only to a signed-in user (basic auth or OAuth)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await super().get()


class GuardedFlower(Flower):  # type: ignore[misc]
    """Flower's application, with ``/metrics`` served by :class:`GuardedMetrics`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        prefix = (self.options.url_prefix or "").strip("/")
        self.add_handlers(r".*", [(f"/{prefix}/metrics" if prefix else "/metrics", GuardedMetrics)])


def _stop(signum: int, _frame: FrameType | None) -> None:
    log.info("signal %d: Flower stops", signum)
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """What ``celery -A monitoring.celery_app flower ARGV`` does, with GuardedFlower as the app."""
    from monitoring.celery_app import app

    apply_env_options()
    apply_options(sys.argv[0], sys.argv[1:] if argv is None else argv)
    extract_settings()
    setup_logging()
    flower = GuardedFlower(capp=app, options=options, **flower_settings)
    atexit.register(flower.stop)
    signal.signal(signal.SIGTERM, _stop)
    port = flower.start_http_server()
    print_banner(app, "ssl_options" in flower_settings, port)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        flower.start()


if __name__ == "__main__":
    main()
