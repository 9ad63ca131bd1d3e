"""Retry delays: exponential, fully jittered, capped, and never before Retry-After."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.backoff import compute_backoff


def test_the_ceiling_doubles_per_attempt_until_the_maximum() -> None:
    """With the largest draw the delay is base * 2**attempt, capped at maximum."""
    delays = [compute_backoff(a, base=1.0, maximum=30.0, rand=lambda: 1.0) for a in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_the_jitter_scales_the_ceiling() -> None:
    """The delay is the random draw times the ceiling (full jitter)."""
    assert compute_backoff(3, base=0.5, maximum=30.0, rand=lambda: 0.25) == 1.0


def test_retry_after_is_a_lower_bound() -> None:
    """A Retry-After longer than the jittered delay wins."""
    assert compute_backoff(0, base=1.0, maximum=30.0, retry_after=5.0, rand=lambda: 0.5) == 5.0
    assert compute_backoff(4, base=1.0, maximum=30.0, retry_after=2.0, rand=lambda: 0.5) == 8.0


def test_retry_after_is_honoured_beyond_the_maximum() -> None:
    """The provider's Retry-After is not cut to maximum: retrying earlier would be refused again."""
    assert compute_backoff(0, base=1.0, maximum=30.0, retry_after=90.0, rand=lambda: 0.0) == 90.0


def test_huge_attempt_numbers_do_not_overflow() -> None:
    """Attempt 10 000 still gives the capped delay."""
    assert compute_backoff(10_000, base=1.0, maximum=30.0, rand=lambda: 1.0) == 30.0


def test_negative_attempts_are_refused() -> None:
    """attempt counts from 0."""
    with pytest.raises(ValueError, match="attempt"):
        compute_backoff(-1, base=1.0, maximum=30.0)


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=0.001, max_value=60),
    maximum=st.floats(min_value=0.001, max_value=600),
    retry_after=st.none() | st.floats(min_value=0, max_value=3600),
)
def test_the_delay_stays_within_its_bounds(
    attempt: int, base: float, maximum: float, retry_after: float | None
) -> None:
    """Never negative, never above maximum unless Retry-After asks for more, never below Retry-After."""
    delay = compute_backoff(attempt, base=base, maximum=maximum, retry_after=retry_after)
    assert 0 <= delay <= max(maximum, retry_after or 0)
    assert delay >= (retry_after or 0)
