"""The stdio bridge: MCP clients that launch a local process reach the gateway through it."""
