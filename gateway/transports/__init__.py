"""The fronts around the protocol core: WebSocket (and the old daemon protocol on it), Streamable HTTP."""
