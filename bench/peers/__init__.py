"""The peer benchmark (``make bench-peers``): this project beside FastMCP 4 (stdio, HTTP, with
Docket tasks) and pal-mcp-server, serving the same chat tool against the same emulator, driven by
one lean client; and this project against a distant HTTPS provider. See ``__main__``."""
