"""Langfuse trace exports (`{trace, observations}`, one or a list) → native sessions.

Messages are normalized the way Langfuse's own ChatML view reads them (tests compare with the ChatML
Langfuse derived from the same real exports): OpenAI chat messages, OpenAI Responses items
(`function_call`, `function_call_output`, `message` with `output_text` parts), LangChain message dumps
(`type: human|ai|tool|system`, `additional_kwargs.tool_calls`), LangGraph state (`{"messages": [...]}`);
tool definitions passed as `role: tool` messages are not turns. The conversation is the latest
generation's input plus its output, so a history resent by consecutive generations is not
duplicated. TOOL observations become tool spans (status from `level`/`statusMessage`); trace scores are
kept and stored as imported evaluator results `langfuse:<name>`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

import orjson

from cstui.ingest.openai_chat import ROLE_MAP
from cstui.ingest.records import embedded_json
from cstui.models import SESSION_SCHEMA

LANGCHAIN_ROLES = {"human": "user", "ai": "assistant", "tool": "tool", "system": "system", "function": "tool",
                   "AIMessageChunk": "assistant", "HumanMessage": "user", "AIMessage": "assistant"}
KIND = {"GENERATION": "llm", "TOOL": "tool", "RETRIEVER": "retrieval", "GUARDRAIL": "guardrail", "EMBEDDING": "other",
        "SPAN": "other", "AGENT": "other", "CHAIN": "other", "EVENT": "other", "EVALUATOR": "other"}


class ConvertError(ValueError):
    pass


def looks_like(record: Any) -> bool:
    if isinstance(record, list):
        return bool(record) and all(looks_like(r) for r in record)
    return isinstance(record, dict) and isinstance(record.get("trace"), dict) and isinstance(
        record.get("observations"), list)


def _parse(value: Any) -> Any:
    parsed = embedded_json(value)
    if parsed is value and isinstance(value, str) and value.strip()[:1] in "[{":
        try:  # Python reprs ("{'query': 'example'}") as some SDKs log them
            return ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return value
    return parsed


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and ("text" in p or p.get("type") in (
            "text", "output_text", "input_text")) for p in content):
        return "\n".join(str(p.get("text", "")) for p in content)
    return orjson.dumps(content).decode() if not isinstance(content, list | dict) else _json_dump(content)


def _json_dump(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    # LangChain dumps carry both; Langfuse reads the provider's own form in additional_kwargs first.
    raw = (message.get("additional_kwargs") or {}).get("tool_calls") or message.get("tool_calls") or []
    calls = []
    for call in raw if isinstance(raw, list) else []:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else call
        args = fn.get("arguments", call.get("args"))
        calls.append({"id": call.get("id"), "name": fn.get("name"),
                      "arguments": args if isinstance(args, str) else _json_dump(args) if args is not None else None})
    return calls


def _message(item: dict[str, Any]) -> dict[str, Any] | None:
    """One message in Langfuse's reading, or None when the item is not a message."""
    kind = item.get("type")
    if kind == "function_call":
        return {"role": "assistant", "text": "", "tool_calls": [
            {"id": item.get("call_id"), "name": item.get("name"), "arguments": item.get("arguments")}]}
    if kind == "function_call_output" or ("call_id" in item and "output" in item and "role" not in item):
        return {"role": "tool", "text": _text(_parse(item.get("output"))), "tool_calls": [],
                "tool_call_id": item.get("call_id")}
    role = item.get("role") or LANGCHAIN_ROLES.get(str(kind))
    if role is None:
        return None
    content = item.get("content")
    if role == "tool" and isinstance(content, dict) and content.get("type") == "function":
        return {"role": "tool_definition", "text": "", "tool_calls": []}  # a tool schema, not a turn
    return {"role": role, "text": _text(_parse(content) if role == "tool" else content), "tool_calls": _calls(item),
            "tool_call_id": item.get("tool_call_id")}


def chatml(value: Any) -> list[dict[str, Any]] | None:
    """Messages as Langfuse's ChatML view derives them; None where that view finds no messages."""
    value = _parse(value)
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            value = value["messages"]
        elif value.get("object") == "response" and isinstance(value.get("output"), list):
            value = value["output"]
        elif "role" in value or value.get("type") in LANGCHAIN_ROLES:
            value = [value]
        else:
            return None
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        return None
    out: list[dict[str, Any]] = []
    for item in value:
        msg = _message(item)
        if msg is None:
            return None
        if msg["role"] == "tool_definition":
            continue
        if out and msg["role"] == "assistant" and not msg["text"] and msg["tool_calls"] and out[-1]["role"] == "assistant" \
                and not out[-1]["text"] and out[-1]["tool_calls"]:
            out[-1]["tool_calls"].extend(msg["tool_calls"])  # parallel function calls: one assistant turn
            continue
        out.append(msg)
    return out


# ---------------------------------------------------------------------------------------------- sessions
def iter_traces(record: Any) -> Iterator[dict[str, Any]]:
    yield from record if isinstance(record, list) else [record]


def to_native_sessions(records: list[tuple[int, Any]], stem: str) -> Iterator[tuple[int, dict[str, Any]]]:
    sessions: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for line, record in records:
        for export in iter_traces(record):
            trace = export["trace"]
            key = trace.get("sessionId") or trace.get("id") or f"{stem}-{line}"
            sessions.setdefault(str(key), []).append((line, export))
    for key, exports in sessions.items():
        yield exports[0][0], _session(key, exports)


def _session(key: str, exports: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    observations: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    first = exports[0][1]["trace"]
    for _, export in exports:
        observations.extend(o for o in export["observations"] if isinstance(o, dict))
        scores.extend(s for s in export["trace"].get("scores") or [] if isinstance(s, dict))
    observations.sort(key=lambda o: (str(o.get("startTime") or ""), str(o.get("id"))))
    generations = [o for o in observations if o.get("type") == "GENERATION"]
    history, source = None, None
    for gen in reversed(generations):  # the latest generation that read a conversation carries it
        inputs, outputs = chatml(gen.get("input")), chatml(gen.get("output"))
        if inputs is not None:
            history, source = inputs + (outputs or []), gen
            break
    if history is None:
        for obs in reversed(observations):
            inputs, outputs = chatml(obs.get("input")), chatml(obs.get("output"))
            if inputs is not None or outputs is not None:
                history, source = (inputs or []) + (outputs or []), obs
                break
    if not history:
        raise ConvertError(f"trace {first.get('id')}: no conversation in any observation")
    turns, call_turn = [], {}
    for msg in history:
        index = len(turns)
        turns.append({"role": ROLE_MAP.get(msg["role"], "system"), "text": msg["text"]})
        for call in msg["tool_calls"]:
            call_turn[str(call.get("id"))] = (index, call)
    results = {str(m.get("tool_call_id")): m["text"] for m in history if m["role"] == "tool"}
    last_assistant = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=len(turns) - 1)
    spans, traced_calls = [], set()
    for obs in observations:
        kind = KIND.get(str(obs.get("type")), "other")
        output = _parse(obs.get("output"))
        produced = chatml(output) if kind == "other" and isinstance(output, dict) and "messages" not in output else None
        if produced and len(produced) == 1 and produced[0]["role"] == "tool" and produced[0].get("tool_call_id"):
            kind = "tool"  # a framework span that ran a tool (LangGraph names it after the tool)
        level = str(obs.get("level") or "DEFAULT").upper()
        span: dict[str, Any] = {"span_id": str(obs["id"]), "parent_id": obs.get("parentObservationId"), "kind": kind,
                                "name": obs.get("name"), "status": "error" if level == "ERROR" else "ok",
                                "start": obs.get("startTime"), "end": obs.get("endTime"), "attributes": {}}
        if obs.get("statusMessage"):
            span["attributes"]["status_message"] = obs["statusMessage"]
        if kind == "llm":
            if obs is source:
                span["turn_index"] = last_assistant
            span["attributes"].update({k: obs[k] for k in ("model", "usageDetails", "totalCost") if obs.get(k)})
        elif kind == "tool":
            output = _parse(obs.get("output"))
            call_id = output.get("tool_call_id") if isinstance(output, dict) else None
            call_id = call_id or next((cid for cid, (_, call) in call_turn.items()
                                       if call.get("name") == obs.get("name") and cid not in traced_calls), None)
            if call_id is not None:
                traced_calls.add(str(call_id))
                span["turn_index"] = call_turn.get(str(call_id), (None,))[0]
            span["attributes"].update({"arguments": _parse(obs.get("input")), "result": output})
        spans.append(span)
    for call_id, (index, call) in call_turn.items():
        if call_id in traced_calls:
            continue
        result = results.get(call_id)
        spans.append({"span_id": f"call-{call_id}", "parent_id": source["id"] if source else None, "kind": "tool",
                      "name": call.get("name"), "turn_index": index, "status": "ok",
                      "attributes": {"arguments": _parse(call.get("arguments")), "result": result}})
    known = {s["span_id"] for s in spans}
    for s in spans:
        if s["parent_id"] not in known:
            s["parent_id"] = None
        for field in ("start", "end", "turn_index"):
            if s.get(field) is None:
                s.pop(field, None)
    return {"schema": SESSION_SCHEMA, "session_id": key, "started_at": first.get("timestamp"), "turns": turns,
            "spans": spans, "source": {"format": "langfuse", "trace_ids": [e["trace"].get("id") for _, e in exports]},
            "imported_scores": [{k: s.get(k) for k in ("name", "value", "stringValue", "dataType", "source", "comment",
                                                        "observationId", "timestamp")} for s in scores]}
