"""The tool specs, by family: simple tools, workflow tools, provider-specific tools.

Importing ``contracts.tools`` first lets any of these modules be imported on its own: they take
``ToolSpec`` and ``envelope_schema`` from it, and it collects their specs into ``SPECS``.
"""

from __future__ import annotations

import contracts.tools as _tools  # noqa: F401  (see the docstring: fixes the import order)
