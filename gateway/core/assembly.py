"""One protocol core from its parts: the method table of both eras, wired to the ports.

The gateway (``gateway.server``) builds a :class:`Protocol` with Redis- and Celery-backed ports;
unit tests build one with in-memory ports. Transports use :attr:`Protocol.core`; the reply
listener and the sweep drive :attr:`Protocol.inflight` and :attr:`Protocol.listeners`; the old
daemon protocol's adapter starts calls through :attr:`Protocol.tools`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.settings import Settings
from contracts.thread import ThreadReader
from gateway.catalog import Catalog
from gateway.core.discovery import Offer
from gateway.core.dispatch import Core, Method, Replies
from gateway.core.inflight import InFlight
from gateway.core.input_state import RequestStates
from gateway.core.listeners import Listeners
from gateway.core.methods.completion import Completion
from gateway.core.methods.lifecycle import Lifecycle
from gateway.core.methods.prompts import Prompts
from gateway.core.methods.resources import Resources
from gateway.core.methods.rounds import Rounds
from gateway.core.methods.subscriptions import Subscriptions
from gateway.core.methods.task_access import TaskAccess
from gateway.core.methods.tasks_2025 import LegacyTasks
from gateway.core.methods.tasks_ext import ExtensionTasks
from gateway.core.methods.tools import Tools
from gateway.core.ports import Calls, NullTelemetry, TaskStore, Telemetry
from gateway.core.server_requests import answered
from gateway.core.task_views import TaskState, detailed_task
from gateway.limits import ClientLimits


@dataclass
class Ports:
    settings: Settings
    catalog: Catalog
    calls: Calls
    store: TaskStore
    threads: ThreadReader
    state_keys: tuple[bytes, ...]
    limits: ClientLimits
    telemetry: Telemetry = field(default_factory=NullTelemetry)
    inflight: InFlight | None = None  # the gateway makes it first: the call broker shares it
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time


@dataclass
class Protocol:
    core: Core
    replies: Replies
    inflight: InFlight
    listeners: Listeners
    tools: Tools
    access: TaskAccess
    offer: Offer


def assemble(ports: Ports) -> Protocol:
    settings = ports.settings
    offer = Offer(list_ttl_ms=settings.exai_list_ttl_ms)
    replies = Replies(offer, ports.telemetry, ports.clock)
    inflight = ports.inflight if ports.inflight is not None else InFlight(ports.clock)
    listeners = Listeners(settings.exai_listen_max_streams, settings.exai_listen_max_backlog)
    states = RequestStates(
        ports.state_keys, settings.exai_request_state_ttl_s, settings.exai_request_state_max_bytes, ports.wall
    )
    rounds = Rounds(replies, states, settings.exai_input_max_rounds, ports.wall)
    tools = Tools(
        ports.catalog,
        ports.calls,
        inflight,
        ports.limits,
        replies,
        states,
        settings,
        ports.telemetry,
        rounds.next_round,
        ports.clock,
        ports.wall,
    )
    rounds.tools = tools
    poll_ms = int(settings.exai_task_poll_interval_s * 1000)
    grace = 2 * settings.exai_result_sweep_s + 5.0
    access = TaskAccess(ports.store, settings.exai_call_timeout_s, grace, ports.wall)
    legacy_tasks = LegacyTasks(
        access, ports.calls, inflight, ports.limits, replies, rounds, settings.exai_tasks_page_size, poll_ms
    )

    def moved(state: TaskState) -> None:
        listeners.task_changed(state.record.task_id, detailed_task(state, poll_ms))

    modern_tasks = ExtensionTasks(access, ports.calls, rounds, poll_ms, moved)
    prompts = Prompts(ports.catalog)
    resources = Resources(ports.catalog, settings, ports.threads)
    completion = Completion(ports.catalog, settings, ports.threads)
    lifecycle = Lifecycle(offer, listeners)

    methods: dict[str, Method] = {}
    methods.update(lifecycle.handlers())
    methods.update(tools.handlers())
    methods.update(Subscriptions(listeners).handlers())
    legacy_table, modern_table = legacy_tasks.handlers(), modern_tasks.handlers()
    for name in set(legacy_table) | set(modern_table):
        if name in legacy_table and name in modern_table:
            methods[name] = modern_tasks.route(legacy_table[name], modern_table[name])
        else:
            methods[name] = legacy_table.get(name) or modern_table[name]
    methods["prompts/list"] = _identity_handler(prompts.list)
    methods["prompts/get"] = Method(lambda ctx, params: rounds.prompt(prompts, ctx, params))
    for name, handler in {**resources.handlers(), **completion.handlers()}.items():
        methods[name] = _identity_handler(handler)

    core = Core(
        methods,
        replies,
        ports.limits,
        on_response=answered,
        on_notification=lifecycle.notifications(),
        clock=ports.clock,
    )
    return Protocol(core, replies, inflight, listeners, tools, access, offer)


def _identity_handler(handler: Callable[[str, dict[str, Any]], Any]) -> Method:
    """A content handler of ``(identity, params)`` as a method of ``(ctx, params)``."""
    return Method(lambda ctx, params: handler(ctx.identity, params))
