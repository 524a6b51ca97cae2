"""OpenInference / OpenTelemetry GenAI span exports → native sessions.

Reads Phoenix span-dataframe style records (`context.span_id`, `parent_id`, `span_kind`, `attributes`),
OTel-style records (`span_id`, `parent_span_id`, `attributes`), and bare attribute maps (one span per
record), with attributes flattened (`llm.input_messages.0.message.role`) or nested. Conventions:
`openinference.span.kind` + `llm.*` / `retrieval.documents.*` / `input.value`; and `gen_ai.*`
(`gen_ai.input.messages`, `gen_ai.output.messages`, the deprecated `gen_ai.prompt` / `gen_ai.completion`,
`execute_tool` spans). Spans are grouped into sessions by `session.id`, else trace id, else one session
per file; the conversation comes from the LLM span that saw the longest history plus its output.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from cstui.config import Config
from cstui.ingest.openai_chat import ROLE_MAP
from cstui.ingest.records import embedded_json
from cstui.models import SESSION_SCHEMA

KIND_MAP = {"LLM": "llm", "TOOL": "tool", "RETRIEVER": "retrieval", "RERANKER": "retrieval", "GUARDRAIL": "guardrail",
            "AGENT": "other", "CHAIN": "other", "EMBEDDING": "other", "EVALUATOR": "other",
            "chat": "llm", "text_completion": "llm", "generate_content": "llm", "execute_tool": "tool",
            "invoke_agent": "other", "create_agent": "other", "embeddings": "other"}


class ConvertError(ValueError):
    pass


def looks_like(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    attrs = record.get("attributes") if isinstance(record.get("attributes"), dict) else record
    return ("span_kind" in record or "context" in record
            or any(str(k).startswith(("openinference.", "gen_ai.", "llm.", "retrieval.", "session.")) for k in attrs))


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested attribute objects → dotted keys (lists by index), leaving flattened maps as they are."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}{key}."))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, inner in enumerate(value):
            out.update(flatten(inner, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = value
    return out


def _span(record: dict[str, Any], line: int, stem: str) -> dict[str, Any]:
    raw_attrs = record.get("attributes") if isinstance(record.get("attributes"), dict) else {
        k: v for k, v in record.items() if k not in ("name", "context", "parent_id", "span_kind", "start_time",
                                                      "end_time", "status_code", "status_message", "events")}
    attrs = flatten(raw_attrs)
    ctx = record.get("context") if isinstance(record.get("context"), dict) else {}
    status = record.get("status_code") or (record.get("status") or {}).get("status_code") if isinstance(
        record.get("status"), dict | type(None)) else record.get("status")
    operation = attrs.get("gen_ai.operation.name")
    kind = attrs.get("openinference.span.kind") or record.get("span_kind") or operation or ""
    return {
        "span_id": str(ctx.get("span_id") or record.get("span_id") or record.get("spanId") or f"{stem}-{line}"),
        "trace_id": ctx.get("trace_id") or record.get("trace_id") or record.get("traceId"),
        "parent_id": record.get("parent_id") or record.get("parent_span_id") or record.get("parentSpanId"),
        "name": record.get("name") or attrs.get("gen_ai.tool.name") or attrs.get("tool.name") or operation or kind,
        "kind": KIND_MAP.get(str(kind), KIND_MAP.get(str(kind).upper(), "other")),
        "status": "error" if str(status or "").upper() in ("ERROR", "STATUS_CODE_ERROR", "2") else "ok",
        "start": record.get("start_time") or record.get("startTime"),
        "end": record.get("end_time") or record.get("endTime"),
        "attrs": attrs, "line": line,
    }


# ---------------------------------------------------------------------------------------------- messages
def _message(role: Any, text: str, tool_calls: list[dict[str, Any]], tool_call_id: Any = None) -> dict[str, Any]:
    return {"role": ROLE_MAP.get(str(role), "system"), "text": text, "tool_calls": tool_calls,
            "tool_call_id": tool_call_id}


def _from_parts(item: dict[str, Any]) -> dict[str, Any]:
    """A gen_ai / OpenAI-style message object → our message."""
    texts, calls, call_id = [], [], item.get("tool_call_id")
    if isinstance(item.get("parts"), list):
        for part in item["parts"]:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text":
                texts.append(str(part.get("content", "")))
            elif kind == "tool_call":
                calls.append({"id": part.get("id"), "name": part.get("name"), "arguments": part.get("arguments")})
            elif kind == "tool_call_response":
                call_id = part.get("id")
                response = part.get("response")
                texts.append(response if isinstance(response, str) else orjson.dumps(response).decode())
    content = item.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        texts.extend(str(c.get("text", "")) for c in content if isinstance(c, dict) and c.get("text"))
    for call in item.get("tool_calls") or []:
        if isinstance(call, dict):
            fn = call.get("function") or call
            calls.append({"id": call.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments")})
    return _message(item.get("role"), "\n".join(t for t in texts if t), calls, call_id)


def _list_messages(value: Any) -> list[dict[str, Any]]:
    value = embedded_json(value)
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list):
        return [_from_parts(m) for m in value if isinstance(m, dict) and "role" in m]
    return []


def _indexed_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenInference flattened messages: `{prefix}.{i}.message.role|content|contents.{j}...|tool_calls.{k}...`."""
    indices = sorted({int(k[len(prefix) + 1:].split(".")[0]) for k in attrs
                      if k.startswith(prefix + ".") and k[len(prefix) + 1:].split(".")[0].isdigit()})
    out = []
    for i in indices:
        base = f"{prefix}.{i}.message."
        texts = [str(attrs[base + "content"])] if attrs.get(base + "content") is not None else []
        j = 0
        while f"{base}contents.{j}.message_content.type" in attrs or f"{base}contents.{j}.message_content.text" in attrs:
            if attrs.get(f"{base}contents.{j}.message_content.text") is not None:
                texts.append(str(attrs[f"{base}contents.{j}.message_content.text"]))
            j += 1
        calls, k = [], 0
        while f"{base}tool_calls.{k}.tool_call.function.name" in attrs:
            tc = f"{base}tool_calls.{k}.tool_call."
            calls.append({"id": attrs.get(tc + "id"), "name": attrs.get(tc + "function.name"),
                          "arguments": attrs.get(tc + "function.arguments")})
            k += 1
        out.append(_message(attrs.get(base + "role"), "\n".join(texts), calls, attrs.get(base + "tool_call_id")))
    return out


def _output_text(value: Any) -> list[dict[str, Any]]:
    value = embedded_json(value)
    if isinstance(value, dict) and "text" in value:
        return [_message("assistant", str(value["text"]), [])]
    if isinstance(value, dict) and isinstance(value.get("choices"), list):
        return [_from_parts(c["message"]) for c in value["choices"] if isinstance(c, dict) and "message" in c]
    if isinstance(value, list):
        return _list_messages(value)
    if isinstance(value, str) and value:
        return [_message("assistant", value, [])]
    return []


def llm_messages(attrs: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(input messages, output messages) of an LLM span, whichever convention it uses."""
    inputs = (_indexed_messages(attrs, "llm.input_messages") or _list_messages(attrs.get("gen_ai.input.messages"))
              or _list_messages(attrs.get("gen_ai.prompt")) or _list_messages(attrs.get("input.value"))
              or _list_messages(attrs.get("input")))
    outputs = (_indexed_messages(attrs, "llm.output_messages") or _list_messages(attrs.get("gen_ai.output.messages"))
               or _output_text(attrs.get("gen_ai.completion")) or _output_text(attrs.get("output.value"))
               or _output_text(attrs.get("output")))
    return inputs, outputs


# ---------------------------------------------------------------------------------------------- sessions
def to_native_sessions(records: list[tuple[int, dict[str, Any]]], stem: str, cfg: Config) -> Iterator[
        tuple[int, dict[str, Any]]]:
    spans = [_span(rec, line, stem) for line, rec in records]
    groups: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        key = span["attrs"].get("session.id") or span["trace_id"] or stem
        groups.setdefault(str(key), []).append(span)
    for key, members in groups.items():
        yield members[0]["line"], _session(key, members)


def _session(key: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    llm = [s for s in spans if s["kind"] == "llm"]
    history: list[dict[str, Any]] = []
    source = None
    for span in llm:  # the LLM call that saw the most history carries the conversation
        inputs, outputs = llm_messages(span["attrs"])
        if len(inputs) + len(outputs) >= len(history):
            history, source = inputs + outputs, span
    tool_spans = [s for s in spans if s["kind"] == "tool"]
    if not history and tool_spans:  # a tool execution on its own: the tool's answer is the conversation
        t = tool_spans[0]["attrs"]
        history = [_message("tool", str(embedded_json(t.get("output") or t.get("output.value") or "")), [])]
    if not history:
        raise ConvertError("no conversation: no LLM messages or tool output in these spans")
    turns, call_turn, native_spans = [], {}, []
    for msg in history:
        if msg["role"] == "assistant" and not msg["text"] and not msg["tool_calls"]:
            continue
        index = len(turns)
        turns.append({"role": msg["role"], "text": msg["text"]})
        for call in msg["tool_calls"]:
            call_turn[str(call.get("id"))] = (index, call)
    results = {str(m["tool_call_id"]): m["text"] for m in history if m["role"] == "tool" and m["tool_call_id"]}
    last_assistant = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=len(turns) - 1)
    executed = {str(s["attrs"].get("gen_ai.tool.call.id") or s["attrs"].get("tool_call.id")) for s in tool_spans}
    for span in spans:
        attrs = span["attrs"]
        native: dict[str, Any] = {"span_id": span["span_id"], "parent_id": span["parent_id"], "kind": span["kind"],
                                  "name": span["name"], "status": span["status"], "attributes": {}}
        if span["start"]:
            native["start"] = span["start"]
        if span["end"]:
            native["end"] = span["end"]
        if span["kind"] == "llm":
            native["turn_index"] = last_assistant if span is source else None
            native["attributes"] = {k: attrs[k] for k in attrs if k.endswith(("model_name", ".model", "token_count.prompt",
                                    "token_count.completion", "input_tokens", "output_tokens"))}
        elif span["kind"] == "tool":
            call_id = str(attrs.get("gen_ai.tool.call.id") or attrs.get("tool_call.id"))
            native["turn_index"] = call_turn.get(call_id, (None,))[0]
            native["attributes"] = {"arguments": embedded_json(attrs.get("input") or attrs.get("input.value")
                                                       or attrs.get("tool.parameters")),
                                    "result": embedded_json(attrs.get("output") or attrs.get("output.value"))}
        elif span["kind"] == "retrieval":
            docs, i = [], 0
            while f"retrieval.documents.{i}.document.id" in attrs or f"retrieval.documents.{i}.document.content" in attrs:
                d = f"retrieval.documents.{i}.document."
                docs.append({"id": attrs.get(d + "id"), "content": attrs.get(d + "content"), "score": attrs.get(d + "score")})
                i += 1
            native["attributes"] = {"documents": docs}
        native_spans.append(native)
    for call_id, (index, call) in call_turn.items():  # calls the model made whose execution was not traced
        if call_id in executed:
            continue
        result = results.get(call_id)
        native_spans.append({
            "span_id": f"call-{call_id}", "parent_id": source["span_id"] if source else None, "kind": "tool",
            "name": call.get("name"), "turn_index": index,
            "status": "error" if isinstance(result, str) and result.lower().startswith("error") else "ok",
            "attributes": {"arguments": embedded_json(call.get("arguments")), "result": result},
        })
    known = {s["span_id"] for s in native_spans}
    for s in native_spans:  # parents outside the export (a partial trace) become roots
        if s["parent_id"] not in known:
            s["parent_id"] = None
    for s in native_spans:
        if s.get("turn_index") is None:
            s.pop("turn_index", None)
    return {"schema": SESSION_SCHEMA, "session_id": key, "turns": turns, "spans": native_spans,
            "source": {"format": "openinference"}}
