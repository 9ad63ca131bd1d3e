"""What a tool (or a pack prompt) may answer besides the JSON envelope: rich content, a request for
input, a protocol error — the vocabulary shared by pack authors, workers and gateways.

* :class:`Reply`: MCP content blocks (text, image, audio, embedded resource, resource link), with an
  optional structured result; ``is_error`` makes it a tool error (``isError: true``).
* :class:`NeedInput`: raised (or returned) to ask the client something before going on. Its
  requests are ``elicitation/create``, ``sampling/createMessage`` or ``roots/list`` params, by a key
  the answers come back under (``ctx.input_responses`` on the next round, with ``continuation``).
  Ask only for what the client declared (:func:`declares`): asking for more is answered with
  ``-32021`` naming the missing capability.
* :class:`ProtocolFailure`: raised when the call must be answered with a JSON-RPC error rather
  than a result (a 2026 task then ends ``failed`` with that error).

Nothing here does I/O or imports a process's code, so gateways and pack modules can import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# notifications/message levels (RFC 5424 order), lowest first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

ELICITATION = "elicitation/create"
SAMPLING = "sampling/createMessage"
ROOTS = "roots/list"
# The client capability each input request needs.
CAPABILITY_OF = {ELICITATION: "elicitation", SAMPLING: "sampling", ROOTS: "roots"}

BLOCK_TYPES = ("text", "image", "audio", "resource", "resource_link")
MISSING_CAPABILITY = -32021  # MCP MissingRequiredClientCapabilityError


class NeedInput(Exception):
    """Raised (or returned) by a tool that needs the client's input before it can go on."""

    def __init__(self, requests: Mapping[str, dict[str, Any]], continuation: dict[str, Any] | None = None):
        checked = {key: _checked_request(key, request) for key, request in requests.items()}
        if not checked:
            raise ValueError("NeedInput needs at least one input request")
        super().__init__(f"input required: {', '.join(checked)}")
        self.requests = checked
        self.continuation = continuation

    def summary(self) -> str:
        """One line a person reads where the client cannot show the requests themselves."""
        asked = ", ".join(f"{key} ({request['method']})" for key, request in self.requests.items())
        return f"The call needs the client's input before it can go on: {asked}"

    def missing_capabilities(self, declared: Mapping[str, Any]) -> dict[str, Any]:
        """The client capabilities these requests need and ``declared`` lacks, as MCP names them."""
        needed = {CAPABILITY_OF[request["method"]] for request in self.requests.values()}
        return {name: {} for name in sorted(needed) if not declares(declared, name)}


class ProtocolFailure(Exception):
    """Raised when a call is answered with a JSON-RPC error (``code``, ``message``, ``data``)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"code must be an integer JSON-RPC error code, got {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def error(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def missing_capability(capabilities: dict[str, Any], what: str) -> ProtocolFailure:
    """The -32021 error for a call that needs client ``capabilities`` (e.g. ``{"sampling": {}}``)."""
    names = ", ".join(sorted(capabilities))
    return ProtocolFailure(
        MISSING_CAPABILITY,
        f"{what} needs the client capability {names}, which this request did not declare",
        {"requiredCapabilities": capabilities},
    )


@dataclass(frozen=True)
class Reply:
    """A tool result made of MCP content blocks (build them with the functions below)."""

    content: tuple[dict[str, Any], ...]
    structured: dict[str, Any] | None = None
    is_error: bool = False
    text: str | None = field(default=None)  # a plain-text rendering; default: the text blocks

    def __post_init__(self) -> None:
        if not self.content:
            raise ValueError("a Reply needs at least one content block")
        for index, block in enumerate(self.content):
            check_block(block, f"content[{index}]")

    def plain_text(self) -> str:
        if self.text is not None:
            return self.text
        texts = [block["text"] for block in self.content if block["type"] == "text"]
        if texts:
            return "\n".join(texts)
        kinds = ", ".join(block["type"] for block in self.content)
        return f"(content: {kinds})"


def reply(*blocks: dict[str, Any], is_error: bool = False, structured: dict[str, Any] | None = None) -> Reply:
    return Reply(content=tuple(blocks), is_error=is_error, structured=structured)


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_block(data_base64: str, mime_type: str) -> dict[str, Any]:
    return {"type": "image", "data": data_base64, "mimeType": mime_type}


def audio_block(data_base64: str, mime_type: str) -> dict[str, Any]:
    return {"type": "audio", "data": data_base64, "mimeType": mime_type}


def resource_block(
    uri: str, mime_type: str, *, text: str | None = None, blob: str | None = None
) -> dict[str, Any]:
    """An embedded resource: its ``text``, or its ``blob`` (base64)."""
    if (text is None) == (blob is None):
        raise ValueError("an embedded resource has either text or blob")
    body: dict[str, Any] = {"uri": uri, "mimeType": mime_type}
    body.update({"text": text} if text is not None else {"blob": blob})
    return {"type": "resource", "resource": body}


def resource_link(
    uri: str, name: str, *, mime_type: str | None = None, description: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "resource_link", "uri": uri, "name": name}
    if mime_type:
        block["mimeType"] = mime_type
    if description:
        block["description"] = description
    return block


# --- input requests, and reading their answers -------------------------------------------------
def elicitation(
    message: str, properties: dict[str, Any], required: list[str] | None = None
) -> dict[str, Any]:
    """A form: ``properties`` are flat primitive fields (string, number, integer, boolean, enums)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    schema["required"] = list(required or [])
    return {"method": ELICITATION, "params": {"message": message, "requestedSchema": schema}}


def sampling(prompt: str, max_tokens: int, *, system_prompt: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": max_tokens,
    }
    if system_prompt:
        params["systemPrompt"] = system_prompt
    return {"method": SAMPLING, "params": params}


def list_roots() -> dict[str, Any]:
    return {"method": ROOTS, "params": {}}


def declares(capabilities: Mapping[str, Any] | None, name: str) -> bool:
    """Whether the client declared capability ``name`` (declared means present as an object)."""
    return isinstance(capabilities, Mapping) and isinstance(capabilities.get(name), Mapping)


def answer(responses: Mapping[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The client's answer under ``key``, if it is a JSON object (anything else counts as missing)."""
    if not isinstance(responses, Mapping):
        return None
    value = responses.get(key)
    return value if isinstance(value, dict) else None


def accepted(responses: Mapping[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The form content of an elicitation the user accepted; None if missing, declined or malformed."""
    response = answer(responses, key)
    if response is None or response.get("action") != "accept":
        return None
    content = response.get("content")
    return content if isinstance(content, dict) else None


def elicitation_action(responses: Mapping[str, Any] | None, key: str) -> str | None:
    """``accept``, ``decline`` or ``cancel`` when the answer under ``key`` is a well-formed one."""
    response = answer(responses, key)
    action = response.get("action") if response is not None else None
    return action if action in ("accept", "decline", "cancel") else None


def sampled_text(responses: Mapping[str, Any] | None, key: str) -> str | None:
    """The text of a sampling answer (CreateMessageResult) under ``key``."""
    response = answer(responses, key)
    content = response.get("content") if response is not None else None
    if isinstance(content, list):  # a 2026 result may carry a list of blocks
        content = next((c for c in content if isinstance(c, dict) and c.get("type") == "text"), None)
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        text: str = content["text"]
        return text
    return None


def roots_of(responses: Mapping[str, Any] | None, key: str) -> list[dict[str, Any]] | None:
    """The roots of a roots/list answer under ``key``."""
    response = answer(responses, key)
    roots = response.get("roots") if response is not None else None
    if not isinstance(roots, list):
        return None
    return [root for root in roots if isinstance(root, dict) and isinstance(root.get("uri"), str)]


def _checked_request(key: str, request: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(key, str) or not key:
        raise ValueError(f"input request keys must be non-empty strings, got {key!r}")
    if not isinstance(request, dict) or request.get("method") not in CAPABILITY_OF:
        raise ValueError(
            f"input request {key!r} must be {{'method': one of {sorted(CAPABILITY_OF)}, 'params': {{...}}}}"
        )
    params = request.get("params", {})
    if not isinstance(params, dict):
        raise ValueError(f"input request {key!r}: params must be an object")
    json.dumps(params)  # must travel as JSON: fail here, in the tool, rather than in a queue
    return {"method": request["method"], "params": params}


def check_block(block: Any, where: str) -> None:
    """Refuse a content block that is not one MCP defines, naming ``where`` it is and what is wrong."""
    kind = block.get("type") if isinstance(block, dict) else None
    if kind not in BLOCK_TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(BLOCK_TYPES)}, got {kind!r}")
    needs = {
        "text": ("text",),
        "image": ("data", "mimeType"),
        "audio": ("data", "mimeType"),
        "resource": ("resource",),
        "resource_link": ("uri", "name"),
    }[kind]
    missing = [name for name in needs if name not in block]
    if missing:
        raise ValueError(f"{where}: the {kind} block needs {', '.join(missing)}")
    if kind == "resource":
        body = block["resource"]
        if not isinstance(body, dict) or "uri" not in body or ("text" not in body and "blob" not in body):
            raise ValueError(f"{where}: an embedded resource needs uri and text or blob")
