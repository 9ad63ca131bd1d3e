"""Provider clients behind their circuit breakers and the shared in-flight limits.

Every chat call asks the breakers of its model and its provider (an open one fails the call at once
with a ``circuit_open`` error naming when to retry) and takes a capacity lease in the ``global`` and
the provider's scope in the same round trip, waiting for a free slot up to the call's deadline
(never longer); afterwards the lease goes back and the breakers hear how the call went, again in one
round trip. GLM's search API (``web_search``) goes through the same guard, under the model scope
``<provider>:web_search``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from contracts.errors import KIND_OVERLOADED, DeadlineExceeded, ProviderError
from contracts.settings import Settings
from workers.breaker import KIND_CIRCUIT_OPEN, Breaker, Decision
from workers.cancellation import CancelToken
from workers.leases import GLOBAL_SCOPE, Lease, LeaseFull, Leases
from workers.metered import SEARCH_MODEL
from workers.providers.base import ChatRequest, ChatResponse, OnDelta, ProviderClient, SearchClient
from workers.providers.classify import display_name
from workers.write_behind import WriteBehind

log = logging.getLogger(__name__)
T = TypeVar("T")

# Failures that concern one model (GLM "model busy", Kimi "engine overloaded"), not its provider.
MODEL_KINDS = frozenset({KIND_OVERLOADED})


def model_breaker_scope(provider: str, model: str) -> str:
    """The breaker of one model: ``exai:breaker:<provider>:<model>``, same hash shape."""
    return f"{provider}:{model}"


# How long a call waiting for capacity sleeps between two tries, at first and at most.
LEASE_POLL_MIN_S = 0.05
LEASE_POLL_MAX_S = 1.0


class ProtectedClient:
    def __init__(self, inner: ProviderClient, breaker: Breaker, leases: Leases, settings: Settings) -> None:
        self._inner = inner
        self._breaker = breaker
        self._leases = leases
        self._settings = settings
        self.name = inner.name
        self._after: WriteBehind | None = None

    def chat(
        self,
        request: ChatRequest,
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
        on_delta: OnDelta | None = None,
    ) -> ChatResponse:
        return self._guarded(
            request.model,
            deadline,
            cancel,
            lambda: self._inner.chat(
                request, request_id=request_id, deadline=deadline, cancel=cancel, on_delta=on_delta
            ),
        )

    def web_search(
        self,
        query: dict[str, Any],
        *,
        request_id: str,
        deadline: float,
        cancel: CancelToken | None = None,
    ) -> dict[str, Any]:
        """The provider's search API behind the same breakers and leases as chat (its own
        breaker scope ``<provider>:web_search`` for what concerns the search alone)."""
        inner = self._inner
        if not isinstance(inner, SearchClient):
            raise TypeError(f"the {self.name} provider client has no search API")
        return self._guarded(
            SEARCH_MODEL,
            deadline,
            cancel,
            lambda: inner.web_search(query, request_id=request_id, deadline=deadline, cancel=cancel),
        )

    def _guarded(self, model: str, deadline: float, cancel: CancelToken | None, run: Callable[[], T]) -> T:
        """``run`` one provider call once the breakers allow it and a lease is held; then tell them."""
        model_scope = model_breaker_scope(self.name, model)
        lease = self._admit(model_scope, model, deadline, cancel)
        try:
            response = run()
        except BaseException as exc:
            if isinstance(exc, ProviderError):
                # A busy model says nothing about the provider's other models: it opens that
                # model's breaker only. Anything else transient, or a bad key, counts against the
                # provider.
                scope = model_scope if exc.kind in MODEL_KINDS else self.name
                with contextlib.suppress(redis.RedisError):
                    self._breaker.record_failure(scope, exc.kind, exc.message)
            with contextlib.suppress(redis.RedisError):  # an unreleased lease lapses by itself
                self._leases.release(lease)
            raise

        def settle(pipe: redis.client.Pipeline) -> None:
            self._leases.queue_release(pipe, lease)
            self._breaker.queue_success(pipe, self.name, model_scope)

        if self._after is not None:
            self._after.add(settle)  # sent with the call's next round trip (see write_behind)
            return response
        # The lease back and the breakers told, in one round trip.
        with contextlib.suppress(redis.RedisError), self._breaker.client.pipeline(transaction=False) as pipe:
            settle(pipe)
            pipe.execute()
        return response

    def deferring(self, after: WriteBehind) -> ProtectedClient:
        """This client for one call, whose closing writes wait in ``after`` for a later round trip."""
        view = copy.copy(self)
        view._after = after
        return view

    def _admit(self, model_scope: str, model: str, deadline: float, cancel: CancelToken | None) -> Lease:
        """Ask the model's breaker, then the provider's, and take a capacity lease, in one round
        trip; when the lease is full, wait for one as :meth:`_lease` does."""
        # The model's own breaker first: refusing there must not use up the provider's probe.
        scopes = (
            (model_scope, f"{display_name(self.name)} model {model}", "another model"),
            (self.name, display_name(self.name), "a model of another provider"),
        )
        try:
            with self._breaker.client.pipeline(transaction=False) as pipe:
                # An earlier provider call's closing writes go first: its lease is back before ours.
                earlier = self._after.queue_on(pipe) if self._after is not None else 0
                skip = len(pipe.command_stack)  # the replies to those writes
                refusal = self._breaker.queue_first_refusal(pipe, [scope for scope, _, _ in scopes])
                taken = self._leases.queue_acquire(pipe, self._limits())
                replies = [*pipe.execute(raise_on_error=False), 0][skip:]  # 0: no lease asked for
            if self._after is not None:
                self._after.sent(earlier)
        except redis.RedisError as exc:
            # Breakers and leases protect the provider; they must not fail calls while Redis
            # restarts, so both fail open until it is back.
            log.warning(
                "breakers and leases of %s unavailable (%s); letting the call through", self.name, exc
            )
            return Lease("", ())
        lease: Lease | None = None
        try:
            if isinstance(replies[1], Exception):
                raise replies[1]
            lease = taken(replies[1])
        except LeaseFull:
            lease = None  # waited for below, once the breakers have allowed the call
        except redis.RedisError as exc:
            log.warning("capacity leases unavailable (%s); letting the call through", exc)
            lease = Lease("", ())
        if not isinstance(replies[0], Exception):
            refused, decision = refusal(replies[0])
            if refused is not None:
                if lease is not None:
                    with contextlib.suppress(redis.RedisError):
                        self._leases.release(lease)
                self._refuse(scopes, refused, decision)
        else:
            log.warning(
                "circuit breakers of %s unavailable (%s); letting the call through", self.name, replies[0]
            )
        return lease if lease is not None else self._lease(deadline, cancel)

    def _refuse(self, scopes: tuple[tuple[str, str, str], ...], refused: str, decision: Decision) -> None:
        """Raise the ``circuit_open`` provider error for the breaker ``refused``."""
        _, what, alternative = next(s for s in scopes if s[0] == refused)
        state = self._breaker.state(refused)
        raise ProviderError(
            f"{what} is failing and its circuit breaker is open "
            f"(last error: {state.get('last_error') or 'unknown'}); calls to it fail fast for "
            f"{decision.retry_after_s:.0f} s more: retry then, or use model 'auto' or {alternative}",
            provider=self.name,
            kind=KIND_CIRCUIT_OPEN,
            retry_after=decision.retry_after_s,
        )

    def _limits(self) -> dict[str, int]:
        return {
            GLOBAL_SCOPE: self._settings.exai_max_in_flight,
            self.name: self._settings.exai_provider_max_in_flight,
        }

    def _lease(self, deadline: float, cancel: CancelToken | None) -> Lease:
        limits = self._limits()
        pause = LEASE_POLL_MIN_S
        waited_from = time.monotonic()
        while True:
            try:
                return self._leases.try_acquire(limits)
            except redis.RedisError as exc:
                log.warning("capacity leases unavailable (%s); letting the call through", exc)
                return Lease("", ())
            except LeaseFull as full:
                if cancel is not None:
                    cancel.raise_if_set()
                if time.time() + pause >= deadline:
                    raise DeadlineExceeded(
                        f"waited {time.monotonic() - waited_from:.0f} s for a free slot ({full}; "
                        "EXAI_MAX_IN_FLIGHT / EXAI_PROVIDER_MAX_IN_FLIGHT) until the call's deadline "
                        f"(EXAI_CALL_TIMEOUT_S={self._settings.exai_call_timeout_s:.0f}); retry later"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, LEASE_POLL_MAX_S)

    def list_models(self, *, deadline: float) -> list[str]:
        return self._inner.list_models(deadline=deadline)

    def close(self) -> None:
        self._inner.close()
