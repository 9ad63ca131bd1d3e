"""The monitor refuses to expose an unprotected dashboard."""

from __future__ import annotations

import pytest

from contracts.errors import ConfigError
from contracts.settings import load_settings
from monitoring.server import Monitor


def test_listening_beyond_localhost_needs_a_dashboard_token() -> None:
    """EXAI_MONITOR_HOST=0.0.0.0 without EXAI_DASHBOARD_TOKEN stops at start-up, naming both."""
    with pytest.raises(ConfigError) as raised:
        Monitor(load_settings(exai_monitor_host="0.0.0.0"))
    assert "EXAI_DASHBOARD_TOKEN" in raised.value.message


def test_a_short_dashboard_token_is_refused_without_being_shown() -> None:
    """The token has the same 16-character minimum as the gateway's, and is never echoed."""
    with pytest.raises(ConfigError) as raised:
        load_settings(exai_dashboard_token="short-secret")
    assert "EXAI_DASHBOARD_TOKEN" in raised.value.message
    assert "short-secret" not in raised.value.message
