"""Scripts the end-to-end tests run with ``.venv-mcp2/bin/python``: the official ``mcp`` 2.3 client.

Nothing here is imported by the main venv (it holds ``mcp`` 1.x under the same name); the tests
start ``python -m tests.support.mcp2_client.scenario …`` as a subprocess and read its JSON report.
"""
