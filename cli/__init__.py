"""The ``exai`` command line: run the stack, its parts, and call tools from a terminal."""
