"""The stdio bridge's side of the 2026-07-28 era: a modern client's call kept alive across reconnects.

A modern request carries its own envelope (``_meta`` version and client capabilities), so the
bridge forwards it as it is, with nothing to replay after a reconnect. A modern ``tools/call``
would still be lost with the connection; so, unless the client handles tasks itself (it declared
the ``io.modelcontextprotocol/tasks`` extension) or may be asked for input (it declared
elicitation, sampling or roots, which a task could not forward to it), the bridge declares the
extension on the forwarded request with the private hint ``io.exai/preferTask``: the gateway answers
with a task of the call (its taskId is the call id), streams the call's progress under the client's
token and tells the bridge when the task ends (``notifications/tasks``). The client gets the plain
result it asked for under its own id. After a reconnect the bridge watches its tasks again
(``subscriptions/listen`` with their ids, then one ``tasks/get`` each for those already ended).
"""

from __future__ import annotations

from typing import Any

PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
PREFER_TASK = "io.exai/preferTask"
ASKING = ("elicitation", "sampling", "roots")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
CANCELLED_TEXT = "the call was cancelled"


def meta_of(params: dict[str, Any]) -> dict[str, Any]:
    meta = params.get("_meta")
    return meta if isinstance(meta, dict) else {}


def is_modern(params: dict[str, Any]) -> bool:
    return PROTOCOL_VERSION in meta_of(params)


def _capabilities(meta: dict[str, Any]) -> dict[str, Any]:
    capabilities = meta.get(CLIENT_CAPABILITIES)
    return capabilities if isinstance(capabilities, dict) else {}


def may_run_as_task(params: dict[str, Any]) -> bool:
    """Whether the bridge should turn this modern call into a task of its own."""
    capabilities = _capabilities(meta_of(params))
    extensions = capabilities.get("extensions")
    if isinstance(extensions, dict) and TASKS_EXTENSION in extensions:
        return False  # the client handles tasks itself
    if any(isinstance(capabilities.get(name), dict) for name in ASKING):
        return False  # its tool may ask the client something: keep it a plain call (MRTR)
    return "requestState" not in params and "inputResponses" not in params


def as_task(params: dict[str, Any]) -> dict[str, Any]:
    """The forwarded params: the extension declared and the hint set."""
    meta = meta_of(params)
    capabilities = _capabilities(meta)
    declared = capabilities.get("extensions")
    extensions: dict[str, Any] = declared if isinstance(declared, dict) else {}
    capabilities = {**capabilities, "extensions": {**extensions, TASKS_EXTENSION: {}}}
    return {**params, "_meta": {**meta, CLIENT_CAPABILITIES: capabilities, PREFER_TASK: True}}


def envelope(params: dict[str, Any]) -> dict[str, Any]:
    """The envelope of the bridge's own follow-ups of a call (tasks/get, tasks/cancel, listen)."""
    meta = as_task(params)["_meta"]
    return {key: value for key, value in meta.items() if key.startswith("io.modelcontextprotocol/")}


def created_task(result: Any) -> str | None:
    """The taskId of a CreateTaskResult, if ``result`` is one."""
    if (
        isinstance(result, dict)
        and result.get("resultType") == "task"
        and isinstance(result.get("taskId"), str)
    ):
        return str(result["taskId"])
    return None


def answer_of(task: dict[str, Any]) -> dict[str, Any] | None:
    """What the client's plain call is answered with once its task ended (``result`` or ``error``
    member of a JSON-RPC response), or None while it runs."""
    status = task.get("status")
    if status not in TERMINAL:
        return None
    if status == "failed":
        error = task.get("error")
        return {"error": error if isinstance(error, dict) else {"code": -32603, "message": "the call failed"}}
    result = task.get("result")
    if status == "completed" and isinstance(result, dict):
        return {"result": result}
    text = str(task.get("statusMessage") or CANCELLED_TEXT)
    return {
        "result": {"resultType": "complete", "content": [{"type": "text", "text": text}], "isError": True}
    }
