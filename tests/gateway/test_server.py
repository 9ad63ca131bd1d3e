"""The WebSocket server's options, as the settings choose them."""

from __future__ import annotations

import pytest

from contracts.settings import ConfigError, load_settings
from gateway.server import compression


def test_compression_settings_pick_the_window_or_turn_it_off() -> None:
    """0 turns permessage-deflate off; otherwise both window sizes and the memory level are set."""
    assert compression(load_settings(exai_ws_deflate_window_bits=0)) == {"compression": None}
    chosen = compression(load_settings(exai_ws_deflate_window_bits=11, exai_ws_deflate_mem_level=2))
    (factory,) = chosen["extensions"]
    assert (factory.server_max_window_bits, factory.client_max_window_bits) == (11, 11)
    assert factory.compress_settings == {"memLevel": 2}
    with pytest.raises(ConfigError, match="EXAI_WS_DEFLATE_WINDOW_BITS"):
        load_settings(exai_ws_deflate_window_bits=8)
