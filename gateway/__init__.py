"""The MCP gateway: WebSocket in front, Celery tasks behind."""
