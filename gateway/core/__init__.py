"""The sans-I/O protocol core: text in, answers out, for both MCP eras (docs/architecture.md)."""
