"""A local emulator of the Kimi and GLM chat APIs: a real HTTP server the clients and tests talk to.

Start it with ``python -m emulator --host 127.0.0.1 --port 0 --latency-ms 0 --tokens-per-second 0``
(or ``exai emulator`` with those flags). It prints ``emulator listening on http://HOST:PORT`` on
stderr once it accepts connections; with ``--port 0`` that line carries the port it picked.

A realistic provider, far away and over HTTPS (``python -m emulator`` only):

* ``--tls`` serves HTTPS with a certificate for 127.0.0.1 and localhost, signed by a CA generated
  at start (``emulator/tls.py``; needs the ``cryptography`` package, in the test and bench extras).
  The CA certificate is written to ``--ca-file PATH`` (or a temporary file) and the line
  ``emulator CA certificate in PATH`` says where. Clients trust it through that file: the
  provider clients through ``EXAI_PROVIDER_CA_FILE``, never by turning verification off.
* ``--rtt-ms X`` puts a TCP relay in front (``emulator/relay.py``) that simulates X ms of round
  trip: every chunk is delayed X/2 ms in each direction, and a new connection's first bytes one
  more X (the TCP handshake, which loopback completes at once). A new TLS connection then costs
  3 round trips to the first byte of an answer, a new plain one 2, a reused one 1.

Provider endpoints (Kimi under ``/v1``, GLM under ``/api/paas/v4``, both on the one port):

* ``GET  {base}/models`` - OpenAI-style list of the models in ``contracts.models.DEFAULT_MODELS``.
* ``POST {base}/chat/completions`` - plain, or streamed as server-sent events with ``"stream": true``
  (one chunk per token, then a chunk with ``finish_reason`` and usage, then ``data: [DONE]``; GLM puts
  that usage at the top level, Kimi inside ``choices[0]``). Any model name is accepted.

Both need ``Authorization: Bearer <anything non-empty>`` and answer 401 with the provider's own
authentication error otherwise.

Replies are deterministic. A token is one whitespace-separated word. The reply text is
``"[emulated <provider> <model>] "`` followed by the last user message, word for word. Prompt tokens
are the words of all messages, and completion tokens are the chunks streamed. ``max_tokens`` cuts the
text (``finish_reason: "length"``). Directives in the last user message change one reply:

* ``emulate:tokens=N`` - exactly N content tokens: the text above, cut or padded with filler words.
* ``emulate:latency_ms=X`` - wait X ms before the first byte (overrides ``--latency-ms``).
* ``emulate:tokens_per_second=X`` - pace tokens at X per second (overrides ``--tokens-per-second``;
  a plain call waits as long as the stream would take).
* ``emulate:reasoning=N`` - N tokens of ``reasoning_content`` before the answer.
* ``emulate:stall_after=N`` - stream N chunks, then go silent like ``hang`` (streams only).
* ``emulate:tool=NAME`` - answer with one call of tool NAME, arguments ``{"echo": <last user message>}``,
  streamed in pieces; ``finish_reason: "tool_calls"``.

A malformed directive is answered with the provider's 400 invalid-request error.

Thinking and web search:

* ``"thinking": {"type": "enabled"}`` in the body adds 8 tokens of ``reasoning_content`` (unless
  ``emulate:reasoning=N`` sets the number).
* Kimi, ``tools`` holding ``{"type": "builtin_function", "function": {"name": "$web_search"}}``: the
  first answer is a call of ``$web_search`` (``finish_reason: "tool_calls"``); once the client has
  echoed it back as a ``{"role": "tool", "name": "$web_search"}`` message after the last user
  message, the answer is the usual text with ``[web search: 3 results]`` after the header. With
  thinking enabled as well, it answers 400, as Kimi does.
* GLM, ``tools`` holding ``{"type": "web_search", ...}``: the text carries the same mark, and the
  body (or the first stream chunk) carries ``web_search``: the results.
* ``POST /api/paas/v4/web_search`` ``{"search_query", "count"?}`` - GLM's search API:
  ``search_result`` with ``count`` (default 10) deterministic results.

Control endpoints:

* ``POST /_emulator/faults`` with ``{"provider": "kimi"|"glm"|"*", "kind": K, "count": N,
  "retry_after": S}`` - the next N chat calls to that provider are answered with fault K.
  ``count: -1`` keeps the fault until reset (an outage). ``retry_after`` (only for error bodies) sends
  ``Retry-After``. K is one of ``rate_limit``, ``overloaded``, ``quota``, ``auth`` or ``server_error``
  (the provider's real error body and status), ``hang`` (never answer until the client gives up or
  the emulator is reset) or ``disconnect`` (drop the TCP connection without any answer). Faults apply
  in the order they were queued. Calls without a valid key are refused before any fault is taken.
* ``GET /_emulator/stats`` - ``{"calls": {"kimi": n, "glm": n}, "by_request_id": {id: n},
  "faults_pending": [...], "in_flight": {...}, "max_in_flight": {...}, "last_body": {provider: body}}``.
  The request id comes from the ``X-Request-ID`` header, or from GLM's ``request_id`` body field.
  ``in_flight`` counts calls being answered, or hanging, right now. ``max_in_flight`` is the highest
  that count has reached. ``connections`` counts the TCP connections accepted (behind ``--rtt-ms``,
  one per client connection): kept-alive clients open far fewer than they make calls.
* ``GET /_emulator/stream_times?request_id=ID`` - ``{"times": [...]}``: when each streamed chunk of
  that request left the emulator (Unix time; the latest 100 streams are kept), for measuring how
  far progress trails the provider.
* ``POST /_emulator/reset`` - clear faults and stats; hung calls are released by dropping their
  connections.
* ``GET /_emulator/health`` - 200 ``{"status": "ok"}``.
"""
