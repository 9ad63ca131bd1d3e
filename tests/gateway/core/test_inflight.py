"""The in-flight registry: calls hold their slots until their outcome, routes get it once."""

from __future__ import annotations

from contracts.job import Job, Outcome, ProgressEvent
from gateway.core.inflight import Call, InFlight, Route
from gateway.limits import ClientLimits
from tests.gateway.core.memory import Clock


class Recorder(Route):
    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, object]] = []

    def progress(self, call: Call, value: float, event: ProgressEvent) -> None:
        self.seen.append(("progress", value))

    def heartbeat(self, call: Call, value: float, message: str) -> None:
        self.seen.append(("heartbeat", message))

    def outcome(self, call_id: str, outcome: Outcome) -> None:
        self.seen.append(("outcome", outcome.text))


def job(call_id: str = "c", deadline: float = 2_000_000_000.0) -> Job:
    return Job(call_id=call_id, tool="t", deadline=deadline, correlation_id=call_id)


def test_every_route_of_a_call_and_every_watch_gets_its_outcome_once_and_the_slot_is_freed() -> None:
    """Two routes and a watch; the call's slot released and its end reported once."""
    limits = ClientLimits(max_in_flight=5, calls_per_minute=60)
    inflight = InFlight(Clock())
    ended: list[str] = []
    inflight.start(job(), limits.acquire("a"), lambda call, outcome: ended.append(outcome.text))
    first, second, watch = Recorder(), Recorder(), Recorder()
    inflight.attach("c", first)
    inflight.attach("c", second)
    inflight.attach("elsewhere", watch)
    inflight.complete("c", Outcome(call_id="c", text="done"))
    inflight.complete("c", Outcome(call_id="c", text="again"))
    inflight.complete("elsewhere", Outcome(call_id="elsewhere", text="there"))
    assert first.seen == second.seen == [("outcome", "done")] and watch.seen == [("outcome", "there")]
    assert ended == ["done"] and limits.in_flight == {} and inflight.watches == {}


def test_progress_keeps_growing_when_a_retried_worker_starts_its_count_again() -> None:
    """5 then 1 becomes 5 then 6; a log event repeats the last value."""
    inflight = InFlight(Clock())
    inflight.start(job(), ClientLimits(max_in_flight=5, calls_per_minute=60).acquire("a"))
    route = Recorder()
    inflight.attach("c", route)
    for value in (5, 1):
        inflight.progress(ProgressEvent(call_id="c", progress=value))
    inflight.progress(ProgressEvent(call_id="c", progress=0, log={"level": "info", "data": "x"}))
    assert route.seen == [("progress", 5), ("progress", 6), ("progress", 6)]


def test_a_detached_route_hears_nothing_and_the_call_keeps_its_slot() -> None:
    """Its client left: no outcome for it; the slot is freed only when the call ends."""
    limits = ClientLimits(max_in_flight=5, calls_per_minute=60)
    inflight = InFlight(Clock())
    inflight.start(job(), limits.acquire("a"))
    route = Recorder()
    inflight.attach("c", route)
    inflight.detach("c", route)
    assert limits.in_flight == {"a": 1}
    inflight.complete("c", Outcome(call_id="c", text="done"))
    assert route.seen == [] and limits.in_flight == {}


def test_silent_calls_get_heartbeats_and_overdue_ones_are_found() -> None:
    """After the interval a heartbeat naming the state; past deadline + grace the call is overdue."""
    clock = Clock()
    inflight = InFlight(clock)
    inflight.start(
        job(deadline=clock() + 10), ClientLimits(max_in_flight=5, calls_per_minute=60).acquire("a")
    )
    route = Recorder()
    inflight.attach("c", route)
    inflight.heartbeat(5)
    clock.advance(6)
    inflight.heartbeat(5)
    assert route.seen == [("heartbeat", "waiting for a worker, 6 s elapsed")]
    assert inflight.overdue(clock() + 5, 10) == []
    assert [call.job.call_id for call in inflight.overdue(clock() + 20, 10)] == ["c"]
    assert list(inflight.stale(5)) == ["c"]
