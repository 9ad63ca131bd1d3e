"""requestState: sealed with the first key, opened with any key of the ring, bound to its request."""

from __future__ import annotations

import pytest

from gateway.core.errors import InvalidParams
from gateway.core.input_state import RequestStates, digest, input_responses
from tests.gateway.core.memory import Clock

OLD, NEW = b"old-key-0123456789abcdef", b"new-key-0123456789abcdef"


def seal(states: RequestStates, **overrides: object) -> str:
    fields: dict[str, object] = {
        "identity": "alice",
        "method": "tools/call",
        "name": "t",
        "arguments": {"a": 1, "b": [2]},
        "call_id": "c1",
        "round": 0,
        "continuation": {"step": 1},
    }
    fields.update(overrides)
    return states.seal(**fields)  # type: ignore[arg-type]


def test_a_sealed_state_opens_for_the_same_request_with_its_call_round_and_continuation() -> None:
    """The payload comes back; argument order does not matter."""
    states = RequestStates([NEW], 600, 65536, Clock())
    payload = states.open(
        seal(states), identity="alice", method="tools/call", name="t", arguments={"b": [2], "a": 1}
    )
    assert (payload["c"], payload["r"], payload["k"]) == ("c1", 0, {"step": 1})


def test_keys_rotate_the_first_seals_and_every_one_verifies() -> None:
    """A state sealed with the old key still opens after a new key is put first."""
    clock = Clock()
    old = seal(RequestStates([OLD], 600, 65536, clock))
    rotated = RequestStates([NEW, OLD], 600, 65536, clock)
    assert rotated.open(old, identity="alice", method="tools/call", name="t", arguments={"a": 1, "b": [2]})
    with pytest.raises(InvalidParams):
        RequestStates([NEW], 600, 65536, clock).open(
            old, identity="alice", method="tools/call", name="t", arguments={"a": 1, "b": [2]}
        )


@pytest.mark.parametrize("token", ["", "s1.", "s1..", "x1.abc.def", 5, None, "s1.e30." + "A" * 43])
def test_anything_not_sealed_here_is_refused_without_saying_why(token: object) -> None:
    """Garbage, a wrong version or a forged tag: one message."""
    states = RequestStates([NEW], 600, 65536, Clock())
    with pytest.raises(InvalidParams, match="not one this server issued"):
        states.open(token, identity="alice", method="tools/call", name="t", arguments={})


def test_a_state_too_large_is_not_sealed() -> None:
    """EXAI_REQUEST_STATE_MAX_BYTES bounds a state: a ValueError naming the setting."""
    states = RequestStates([NEW], 600, 1024, Clock())
    with pytest.raises(ValueError, match="EXAI_REQUEST_STATE_MAX_BYTES"):
        seal(states, continuation={"big": "x" * 2000})


def test_the_arguments_digest_ignores_key_order_and_tells_values_apart() -> None:
    """Same arguments, same digest; another value, another digest."""
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1}) != digest({"a": 1, "b": 3})


def test_input_responses_must_be_a_map_of_objects() -> None:
    """Absent: None; an object of objects is kept as sent; anything else is -32602 naming the key."""
    assert input_responses({}) is None
    assert input_responses({"inputResponses": {"k": {"action": "accept"}}}) == {"k": {"action": "accept"}}
    for bad in ({"inputResponses": None}, {"inputResponses": {"k": 1}}, {"inputResponses": []}):
        with pytest.raises(InvalidParams):
            input_responses(bad)
