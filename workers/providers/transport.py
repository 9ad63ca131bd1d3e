"""The httpx transport of the provider clients: kept-alive connection pools whose calls can be cut.

* **Keep-alive.** A warm call reuses an idle connection: no TCP or TLS handshake on the way to
  the first token, which over a WAN is two round trips and a TLS handshake's CPU saved per call.
  Idle connections live ``keepalive_s`` (below the idle timeouts providers' front ends apply, so
  a connection is rarely closed under a request) and at most ``keepalive_max`` stay open.
* **Cutting a call.** Every connection comes from :class:`~workers.providers.network.GuardedBackend`,
  which attaches it to the guard of the call using it; the guard lets go of it before the response
  is closed, which is when httpcore returns the connection to the pool.
* **HTTP/1.1 only.** HTTP/2 would carry many calls on one socket, so shutting a socket to end one
  blocked call would end all of them, and httpcore offers no public way to reset a single stream
  from another thread. Keep-alive already saves the handshakes; HTTP/2 would add only fewer
  sockets, which at a worker's scale (hundreds of calls, one per socket) is no limit.
* **Shards.** httpcore scans every connection of a pool for each request; with 1,000 calls in
  flight on one pool that was a tenth of a worker's CPU. Calls go to the first of ``POOL_SHARDS``
  pools with fewer than ``CALLS_PER_SHARD`` calls in flight: few calls share one pool (so a lone
  call finds the connection the previous one left), many spread over all.
* **Trust.** certifi's CA bundle, plus ``EXAI_PROVIDER_CA_FILE`` when set (a private CA, a
  TLS-inspecting proxy, the emulator's CA). Verification is never turned off.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import threading
import urllib.request
from collections.abc import Iterator

import certifi
import httpcore
import httpx

from contracts.errors import ConfigError
from workers.providers.guard import CallGuard, current_guard
from workers.providers.network import GuardedBackend

POOL_SHARDS = 32
CALLS_PER_SHARD = 32
CA_FILE_SETTING = "EXAI_PROVIDER_CA_FILE"

# httpcore's errors as httpx's, most specific first (the first match wins).
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        mapped = next((to for source, to in _ERRORS if isinstance(exc, source)), None)
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


def trust_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify provider certificates against certifi's bundle plus the PEM bundle ``ca_file``."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{CA_FILE_SETTING}={ca_file!r} cannot be used as a CA bundle ({exc}): "
                "point it at a readable file of PEM certificates"
            ) from None
    return context


def environment_proxy(url: str) -> str | None:
    """The proxy the environment (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` …) sets for ``url``."""
    target = httpx.URL(url)
    if urllib.request.proxy_bypass(target.host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(target.scheme) or proxies.get("all")
    if proxy and not proxy.startswith(("http://", "https://")):
        raise ConfigError(f"the proxy {proxy!r} for {url} is not supported: use an http:// or https:// proxy")
    return proxy or None


class _Body(httpx.SyncByteStream):
    """A response body; closing it lets the call's guard go of the connection first."""

    def __init__(self, inner: httpcore.Response, guard: CallGuard | None, done: ShardedTransport, shard: int):
        self._inner = inner
        self._guard = guard
        self._transport = done
        self._shard: int | None = shard

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._inner.iter_stream()

    def close(self) -> None:
        if self._guard is not None:
            self._guard.release()  # before the connection can go back to the pool
        try:
            with _as_httpx_errors():
                self._inner.close()
        finally:
            if self._shard is not None:
                self._transport.free(self._shard)
                self._shard = None


class ShardedTransport(httpx.BaseTransport):
    """Keep-alive HTTP/1.1 pools over guarded connections (see the module)."""

    def __init__(
        self, *, ssl_context: ssl.SSLContext, keepalive_s: float, keepalive_max: int, proxy: str | None = None
    ) -> None:
        idle_per_shard = math.ceil(keepalive_max / POOL_SHARDS) if keepalive_s > 0 else 0
        self._shards = [
            self._pool(ssl_context, keepalive_s, idle_per_shard, proxy) for _ in range(POOL_SHARDS)
        ]
        self._busy = [0] * POOL_SHARDS
        self._lock = threading.Lock()

    @staticmethod
    def _pool(
        ssl_context: ssl.SSLContext, keepalive_s: float, idle: int, proxy: str | None
    ) -> httpcore.ConnectionPool:
        # No connection cap: how many calls a provider gets at once is decided before the call
        # (leases, breakers), not by a queue hidden in here.
        options = {
            "ssl_context": ssl_context,
            "max_connections": None,
            "max_keepalive_connections": idle,
            "keepalive_expiry": keepalive_s or None,
            "http1": True,
            "http2": False,
            "network_backend": GuardedBackend(),
        }
        if proxy is not None:
            return httpcore.HTTPProxy(proxy_url=proxy, **options)  # type: ignore[arg-type]
        return httpcore.ConnectionPool(**options)  # type: ignore[arg-type]

    def take(self) -> int:
        """The pool for a new call (see the module); :meth:`free` it when the call is done."""
        with self._lock:
            shard = next((i for i, n in enumerate(self._busy) if n < CALLS_PER_SHARD), None)
            if shard is None:
                shard = min(range(POOL_SHARDS), key=self._busy.__getitem__)
            self._busy[shard] += 1
            return shard

    def free(self, shard: int) -> None:
        with self._lock:
            self._busy[shard] -= 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        guard = current_guard()
        shard = self.take()
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            with _as_httpx_errors():
                response = self._shards[shard].handle_request(core_request)
        except BaseException:
            self.free(shard)
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, guard, self, shard),
            extensions=response.extensions,
        )

    def close(self) -> None:
        for pool in self._shards:
            pool.close()
