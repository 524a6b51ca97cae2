"""OpenAI chat messages (and the public τ-bench results shape) → native session documents.

Each message becomes a turn (user→customer, tool→tool, developer→system). Assistant `tool_calls`
become tool spans on that assistant turn; the matching `role: tool` message fills the span's result
and status (a result starting with "Error" or carrying an `error` key is an error).
"""

from __future__ import annotations

from typing import Any

import orjson

from cstui.config import Config
from cstui.models import SESSION_SCHEMA

ROLE_MAP = {"user": "customer", "assistant": "assistant", "system": "system", "developer": "system",
            "tool": "tool", "function": "tool", "agent": "agent", "customer": "customer"}


def looks_like(record: Any) -> bool:
    if isinstance(record, list):
        return bool(record) and all(isinstance(m, dict) and "role" in m for m in record)
    return isinstance(record, dict) and (
        isinstance(record.get("messages"), list) or isinstance(record.get("traj"), list)
    )


class ConvertError(ValueError):
    pass


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return orjson.dumps(content).decode()


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


def _is_error(result: str) -> bool:
    stripped = result.lstrip()
    if stripped[:5].lower() == "error":
        return True
    if stripped.startswith("{"):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return False
        return isinstance(parsed, dict) and parsed.get("error") not in (None, False, "")
    return False


def to_native(record: Any, fallback_id: str, cfg: Config) -> dict[str, Any]:
    """Convert one record; raises ConvertError with a reason on shapes it cannot read."""
    meta: dict[str, Any] = {}
    if isinstance(record, list):
        messages = record
    else:
        messages = record.get("messages") if isinstance(record.get("messages"), list) else record.get("traj")
        meta = {k: v for k, v in record.items() if k not in ("messages", "traj")}
    if not isinstance(messages, list) or not messages:
        raise ConvertError("no messages")

    turns: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    pending: dict[str, dict[str, Any]] = {}
    for m_index, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ConvertError(f"message {m_index} is not an object")
        role = ROLE_MAP.get(str(msg.get("role", "")).lower())
        if role is None:
            raise ConvertError(f"message {m_index} has unknown role {msg.get('role')!r}")
        turn_index = len(turns)
        turn: dict[str, Any] = {"role": role, "text": _text(msg.get("content"))}
        calls = list(msg.get("tool_calls") or [])
        if isinstance(msg.get("function_call"), dict):  # legacy single function call
            calls.append({"id": None, "function": msg["function_call"]})
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not fn.get("name"):
                raise ConvertError(f"message {m_index} tool call {j} has no function name")
            span_id = str(call.get("id") or f"call-{turn_index}-{j}")
            span = {"span_id": span_id, "parent_id": None, "kind": "tool", "name": str(fn["name"]),
                    "turn_index": turn_index, "status": None,
                    "attributes": {"arguments": _arguments(fn.get("arguments"))}}
            spans.append(span)
            pending[span_id] = span
        if role == "tool":
            span = _match_result(msg, pending)
            if span is not None:
                span["attributes"]["result"] = turn["text"]
                span["status"] = "error" if _is_error(turn["text"]) else "ok"
                pending.pop(span["span_id"], None)
            if msg.get("name"):
                turn["name"] = msg["name"]
        turns.append(turn)

    outcome: dict[str, Any] = {}
    reward = meta.pop("reward", None)
    if isinstance(reward, int | float) and not isinstance(reward, bool):
        outcome["correct"] = outcome["resolved"] = reward >= 1.0 - 1e-9
        outcome["reward"] = reward
    escalation_tools = tuple(cfg.escalation_tools)
    if any(s["status"] == "ok" and any(w in s["name"].lower() for w in escalation_tools) for s in spans):
        outcome["escalated"] = True

    session_id = meta.pop("session_id", None) or meta.pop("id", None)
    task_id, trial = meta.pop("task_id", None), meta.pop("trial", None)
    if session_id is None and task_id is not None:
        session_id = f"task-{task_id}" + (f"-trial-{trial}" if trial is not None else "")
    doc: dict[str, Any] = {"schema": SESSION_SCHEMA, "session_id": str(session_id or fallback_id)}
    for key in ("tier", "intent", "channel", "segment", "category", "started_at"):
        if key in meta:
            doc[key] = meta.pop(key)
    info = meta.pop("info", None)
    reference = _reference_from_info(info)
    if "tier" not in doc and cfg.tier_for(doc.get("intent")) is None:
        expected = [a.get("name") for a in (reference or {}).get("actions") or [] if isinstance(a, dict)]
        called = [s["name"] for s in spans] + [n for n in expected if isinstance(n, str)]
        doc["tier"] = 2 if any(cfg.is_side_effect_tool(n) for n in called) else 1
        doc["tier_source"] = "inferred from tool calls"
    doc["turns"] = turns
    doc["spans"] = spans
    doc["outcome"] = outcome
    if reference:
        doc["reference"] = reference
    source = {"format": "openai"}
    if task_id is not None:
        source["task_id"] = task_id
    if trial is not None:
        source["trial"] = trial
    if info is not None:
        source["info"] = info
    source.update({k: v for k, v in meta.items()})
    doc["source"] = source
    return doc


def _match_result(msg: dict[str, Any], pending: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    call_id = msg.get("tool_call_id")
    if call_id is not None and str(call_id) in pending:
        return pending[str(call_id)]
    name = msg.get("name")
    for span in pending.values():  # oldest unanswered call of that name, else the oldest at all
        if name is None or span["name"] == name:
            return span
    return None


def _reference_from_info(info: Any) -> dict[str, Any] | None:
    """τ-bench keeps the task (instruction and expected actions) under info.task."""
    if not isinstance(info, dict) or not isinstance(info.get("task"), dict):
        return None
    task = info["task"]
    ref: dict[str, Any] = {}
    if isinstance(task.get("instruction"), str):
        ref["notes"] = task["instruction"]
    if isinstance(task.get("actions"), list):
        ref["actions"] = task["actions"]
    if isinstance(task.get("outputs"), list):
        ref["outputs"] = task["outputs"]
    return ref or None
