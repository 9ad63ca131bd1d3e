"""Turning one metric event into counter increments and dashboard activity."""

from __future__ import annotations

import re
import time
from typing import Any

from contracts import events
from monitoring.activity import Activity, CallRecord, SetAsideRecord
from monitoring.labels import Labels
from monitoring.metrics import Metrics

CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class Aggregator:
    def __init__(self, metrics: Metrics, activity: Activity, labels: Labels) -> None:
        self.metrics = metrics
        self.activity = activity
        self.labels = labels

    def ingest(self, event: dict[str, Any]) -> None:
        """Account for one event; malformed fields fall back to safe values, never raise."""
        self.metrics.events.inc()
        kind = event.get("k")
        at = _number(event.get("t")) or time.time()
        lb = self.labels
        m = self.metrics
        if kind == events.REQUEST:
            method = lb.method(event.get("method"))
            m.requests.labels(method, lb.request_status(event.get("status"))).inc()
            m.request_duration.labels(method).observe(_number(event.get("duration")))
        elif kind == events.CALL:
            tool = lb.tool(event.get("tool"))
            status = lb.call_status(event.get("status"))
            duration = _number(event.get("duration"))
            error = str(event.get("error") or "")
            m.tool_calls.labels(tool, status).inc()
            m.tool_duration.labels(tool).observe(duration)
            if status == "error":
                m.errors.labels("tool", lb.error_type(error)).inc()
            correlation = event.get("correlation_id")
            self.activity.add_call(
                CallRecord(
                    at=at,
                    tool=tool,
                    status=status,
                    error=lb.error_type(error) if error else "",
                    duration=duration,
                    correlation_id=correlation
                    if isinstance(correlation, str) and CORRELATION_ID.match(correlation)
                    else "-",
                )
            )
        elif kind == events.API:
            provider = lb.provider(event.get("provider"))
            model = lb.model(event.get("model"))
            status = lb.api_status(event.get("status"))
            m.api_calls.labels(provider, model, status).inc()
            m.api_latency.labels(provider, model).observe(_number(event.get("latency")))
            for kind_name in ("prompt", "completion"):
                count = _number(event.get(f"{kind_name}_tokens"))
                if count > 0:
                    m.tokens.labels(provider, model, kind_name).inc(count)
            if status not in ("ok", "cancelled"):
                self.activity.add_api_error(provider, status, at)
        elif kind == events.RETRY:
            provider = lb.provider(event.get("provider"))
            m.retries.labels(provider, lb.reason(event.get("reason"))).inc()
            self.activity.add_retry(provider, at)
        elif kind == events.SET_ASIDE:
            tool = lb.tool(event.get("tool"))
            m.calls_set_aside.labels(tool).inc()
            correlation = event.get("correlation_id")
            self.activity.add_set_aside(
                SetAsideRecord(
                    at=at,
                    tool=tool,
                    handovers=int(_number(event.get("handovers"))),
                    correlation_id=correlation
                    if isinstance(correlation, str) and CORRELATION_ID.match(correlation)
                    else "-",
                )
            )
        elif kind == events.ERROR:
            m.errors.labels(
                lb.component(event.get("component")), lb.error_type(event.get("error_type"))
            ).inc()


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(0.0, float(value))
