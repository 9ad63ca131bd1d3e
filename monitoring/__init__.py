"""Health, metrics and the live dashboard for the whole service (``exai monitor``).

Gateways and workers report metric events and heartbeats to Redis (``contracts.events``); this
package reads them, with the queue and breaker state, and serves health on ``HEALTH_PORT``,
Prometheus metrics on ``METRICS_PORT`` and the dashboard on ``DASHBOARD_PORT``.
"""
