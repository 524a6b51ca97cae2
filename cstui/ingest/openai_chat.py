"""OpenAI chat messages (and the public τ-bench results shape) → native session documents.

Each message becomes a turn (user→customer, tool→tool, developer→system). Assistant `tool_calls`
become tool spans on that assistant turn; the `role: tool` message that answers a call (the most recent
call with its id still waiting, as ids may be reused) fills the span's result and status (a result
starting with "Error" or carrying an `error` key is an error).
"""

from __future__ import annotations

from typing import Any

import orjson

from cstui.config import Config
from cstui.ingest.messages import (
    SKIPPED_PARTS,
    Message,
    ToolCall,
    accounted,
    accounting,
    build_conversation,
    count_read,
    drop,
    omit,
    shape,
)
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
            elif isinstance(part, dict) and part.get("type") in SKIPPED_PARTS:
                omit(part["type"], part)
            else:
                drop(f"a content part that is {shape(part)}")
        return "\n".join(parts)
    return orjson.dumps(content).decode()


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

    with accounting() as ledger:
        doc = _convert(messages, meta, fallback_id, cfg)
    return accounted(doc, ledger)


def _convert(messages: list[Any], meta: dict[str, Any], fallback_id: str, cfg: Config) -> dict[str, Any]:
    parsed: list[Message] = []
    for m_index, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ConvertError(f"message {m_index} is not an object")
        raw_role = msg.get("role")
        role = ROLE_MAP.get(str(raw_role or "").lower())
        if role is None and isinstance(raw_role, str) and raw_role and msg.get("tool_call_id"):
            role = "tool"  # LangChain JS names a tool result's role after the tool: a result, under that name
            msg = {**msg, "name": msg.get("name") or raw_role}
        if role is None:
            drop(f"message {m_index}: unknown role {str(raw_role)[:40]!r} ({shape(msg)})")
            continue
        calls = list(msg.get("tool_calls") or [])
        if isinstance(msg.get("function_call"), dict):  # legacy single function call
            calls.append({"id": None, "function": msg["function_call"]})
        tool_calls = []
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not fn.get("name"):
                raise ConvertError(f"message {m_index} tool call {j} has no function name")
            tool_calls.append(ToolCall(str(fn["name"]), None if call.get("id") is None else str(call["id"]),
                                       fn.get("arguments")))
        call_id = msg.get("tool_call_id")
        parsed.append(Message(role, _text(msg.get("content")), tool_calls,
                              None if call_id is None else str(call_id),
                              str(msg["name"]) if role == "tool" and msg.get("name") else None))
    count_read(len(parsed))
    conv = build_conversation(parsed, keep_empty=True)
    spans = [call.span() for call in conv.calls] + conv.orphans
    turns = conv.turns

    outcome = reward_outcome(meta.pop("reward", None))
    escalation_tools = tuple(cfg.escalation_tools)
    if any(s.get("status") == "ok" and any(w in s["name"].lower() for w in escalation_tools) for s in spans):
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
        infer_tier(doc, [s["name"] for s in spans] + expected, cfg)
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
    doc["_warnings"] = conv.warnings
    return doc


def reward_outcome(reward: Any) -> dict[str, Any]:
    """A benchmark's reward as the outcome: 1.0 is a correct, resolved conversation (τ-bench, τ²-bench)."""
    if not isinstance(reward, int | float) or isinstance(reward, bool):
        return {}
    return {"correct": reward >= 1.0 - 1e-9, "resolved": reward >= 1.0 - 1e-9, "reward": reward}


def infer_tier(doc: dict[str, Any], tools: list[Any], cfg: Config) -> None:
    """Without a tier or a mapped intent: Tier 2 when the session calls (or should call) a side-effecting tool."""
    doc["tier"] = 2 if any(isinstance(n, str) and cfg.is_side_effect_tool(n) for n in tools) else 1
    doc["tier_source"] = "inferred from tool calls"


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
