"""OpenInference / OpenTelemetry GenAI span exports → native sessions.

Reads Phoenix span-dataframe style records (`context.span_id`, `parent_id`, `span_kind`, `attributes`),
OTel-style records (`span_id`, `parent_span_id`, `attributes`), and bare attribute maps (one span per
record), with attributes flattened (`llm.input_messages.0.message.role`) or nested. Conventions:
`openinference.span.kind` + `llm.*` / `retrieval.documents.*` / `input.value`; and `gen_ai.*`
(`gen_ai.input.messages`, `gen_ai.output.messages`, the deprecated `gen_ai.prompt` / `gen_ai.completion`,
`execute_tool` spans). Spans are grouped into sessions by `session.id`, else trace id, else one session
per file (a session id on any span of a trace, often only the root, holds for the whole trace; OTel's
`gen_ai.conversation.id` counts as one). The conversation joins the histories every LLM span saw (each resends the earlier turns) so
each message appears once; TOOL / `execute_tool` spans are the executions of the calls in it (linked to
the turn that made them by call id, else by name and order), and only calls no span recorded get a
synthetic span. Spans without any conversation still import, with no turns and a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cstui.config import Config
from cstui.ingest.messages import (
    ROLES,
    Message,
    ToolCall,
    accounted,
    accounting,
    build_conversation,
    join_io,
    link_recorded,
    merge_histories,
    normalize,
    parse_payload,
    result_failed,
    split_agents,
    sub_agent,
    synthetic_spans,
)
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
    return ("span_kind" in record or "context" in record or "spanContext" in record
            or any(str(k).startswith(("openinference.", "gen_ai.", "llm.", "retrieval.", "session.", "ai."))
                   for k in attrs))


def is_ai_sdk(record: Any) -> bool:
    """A span as the Vercel AI SDK records it (`ai.operationId`, ids in `spanContext`), not OpenInference's."""
    attrs = record.get("attributes") if isinstance(record, dict) and isinstance(record.get("attributes"), dict) else {}
    return isinstance(record, dict) and ("ai.operationId" in attrs or (
        "spanContext" in record and not any(str(k).startswith("openinference.") for k in attrs)))


def _otel_time(value: Any) -> Any:
    """OpenTelemetry JS `[seconds, nanoseconds]` → ISO 8601 (so spans sort by time); anything else unchanged."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        from datetime import UTC, datetime

        stamp = datetime.fromtimestamp(value[0], UTC).replace(microsecond=value[1] // 1000)
        return stamp.isoformat().replace("+00:00", "Z")
    return value


# Vercel AI SDK operation ids → span kinds: the provider calls are the LLM spans; the outer ai.generateText /
# ai.streamText span only repeats the last step.
_AI_SDK_KIND = {"ai.toolCall": "tool", "ai.embed": "other", "ai.embedMany": "other"}


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
    js_ctx = record.get("spanContext") if isinstance(record.get("spanContext"), dict) else {}
    parent_ctx = record.get("parentSpanContext") if isinstance(record.get("parentSpanContext"), dict) else {}
    raw_status = record.get("status")
    status = record.get("status_code") or (
        (raw_status.get("status_code") or raw_status.get("code")) if isinstance(raw_status, dict) else raw_status)
    operation = attrs.get("gen_ai.operation.name")
    kind = attrs.get("openinference.span.kind") or record.get("span_kind") or operation or ""
    native_kind = KIND_MAP.get(str(kind), KIND_MAP.get(str(kind).upper(), "other"))
    ai_operation = attrs.get("ai.operationId")
    if not kind and isinstance(ai_operation, str):
        native_kind = _AI_SDK_KIND.get(ai_operation) or (
            "llm" if ai_operation.endswith((".doGenerate", ".doStream")) else "other")
    tool_name = attrs.get("gen_ai.tool.name") or attrs.get("tool.name") or attrs.get("ai.toolCall.name")
    return {
        "span_id": str(ctx.get("span_id") or js_ctx.get("spanId") or record.get("span_id") or record.get("spanId")
                       or f"{stem}-{line}"),
        "trace_id": ctx.get("trace_id") or js_ctx.get("traceId") or record.get("trace_id") or record.get("traceId"),
        "parent_id": record.get("parent_id") or record.get("parent_span_id") or record.get("parentSpanId")
        or parent_ctx.get("spanId"),
        "name": (tool_name if native_kind == "tool" else None) or record.get("name") or tool_name or operation or kind,
        "kind": native_kind,
        "status": "error" if str(status or "").upper() in ("ERROR", "STATUS_CODE_ERROR", "2") else "ok",
        "start": _otel_time(record.get("start_time") or record.get("startTime")),
        "end": _otel_time(record.get("end_time") or record.get("endTime")),
        "attrs": attrs, "line": line,
        "status_message": record.get("status_message") or (raw_status.get("message") if isinstance(raw_status, dict)
                                                            else None),
    }


# ---------------------------------------------------------------------------------------------- messages
def _indexed_messages(attrs: dict[str, Any], prefix: str, inner: str) -> list[Message]:
    """Flattened messages: OpenInference `llm.input_messages.{i}.message.role|content|contents…|tool_calls…`
    (inner = "message."), and OpenLLMetry's `gen_ai.prompt.{i}.role|content|tool_calls…` (inner = "")."""
    head = prefix + "."
    firsts = (k[len(head):].split(".")[0] for k in attrs if k.startswith(head))
    indices = sorted({int(first) for first in firsts if first.isascii() and first.isdigit()})  # not a superscript
    out = []
    for i in indices:
        base = f"{head}{i}.{inner}"
        if base + "role" not in attrs:
            continue
        texts = [str(attrs[base + "content"])] if attrs.get(base + "content") is not None else []
        j = 0
        while f"{base}contents.{j}.message_content.type" in attrs or f"{base}contents.{j}.message_content.text" in attrs:
            if attrs.get(f"{base}contents.{j}.message_content.text") is not None:
                texts.append(str(attrs[f"{base}contents.{j}.message_content.text"]))
            j += 1
        calls, k = [], 0
        while True:
            tc = f"{base}tool_calls.{k}.{'tool_call.' if inner else ''}"
            name = attrs.get(tc + "function.name", attrs.get(tc + "name"))
            if name is None:
                break
            calls.append(ToolCall(str(name), _str_or_none(attrs.get(tc + "id")),
                                  attrs.get(tc + "function.arguments", attrs.get(tc + "arguments"))))
            k += 1
        role = ROLES.get(str(attrs.get(base + "role")).lower(), "system")
        text = "\n".join(texts)
        if role == "assistant" and text == "None":
            text = ""
        out.append(Message(role, text, calls, _str_or_none(attrs.get(base + "tool_call_id"))))
    return out


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _output_text(value: Any) -> list[Message]:
    value = embedded_json(value)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return [Message("assistant", value["text"])]
    if isinstance(value, str) and value and normalize(value) is None:
        return [Message("assistant", value)]
    return normalize(value) or []


def llm_messages(attrs: dict[str, Any]) -> tuple[list[Message], list[Message]]:
    """(input messages, output messages) of an LLM span, whichever convention it uses."""
    inputs = (_indexed_messages(attrs, "llm.input_messages", "message.")
              or normalize(attrs.get("gen_ai.input.messages")) or normalize(attrs.get("gen_ai.prompt"))
              or _indexed_messages(attrs, "gen_ai.prompt", "")
              or normalize(attrs.get("input.value")) or normalize(attrs.get("input")) or [])
    outputs = (_indexed_messages(attrs, "llm.output_messages", "message.")
               or normalize(attrs.get("gen_ai.output.messages")) or _output_text(attrs.get("gen_ai.completion"))
               or _indexed_messages(attrs, "gen_ai.completion", "")
               or _output_text(attrs.get("output.value")) or _output_text(attrs.get("output")))
    if not inputs and "ai.prompt.messages" in attrs:  # Vercel AI SDK provider call
        inputs = normalize(attrs.get("ai.prompt.messages")) or []
    if not outputs and ("ai.response.text" in attrs or "ai.response.toolCalls" in attrs):
        text = attrs.get("ai.response.text")
        calls = [c for m in normalize(attrs.get("ai.response.toolCalls")) or [] for c in m.tool_calls]
        outputs = [Message("assistant", text if isinstance(text, str) else "", calls)]
    system = system_instructions(attrs.get("gen_ai.system_instructions"))
    if system and not any(m.role == "system" for m in inputs):  # OTel GenAI keeps the system prompt apart
        inputs = [*system, *inputs]
    return inputs, [m for m in outputs if m.role != "customer"]


def system_instructions(value: Any) -> list[Message]:
    """`gen_ai.system_instructions`: a JSON list of parts (`{"type": "text", "content": …}`) or plain text."""
    value = parse_payload(value)
    if isinstance(value, list):
        value = "\n".join(str(p.get("content") or p.get("text") or "") if isinstance(p, dict) else str(p)
                          for p in value)
    return [Message("system", value)] if isinstance(value, str) and value.strip() else []


# ---------------------------------------------------------------------------------------------- sessions
def to_native_sessions(records: list[tuple[int, dict[str, Any]]], stem: str, cfg: Config, *,
                       source_format: str = "openinference") -> Iterator[tuple[int, dict[str, Any]]]:
    spans = [_span(rec, line, stem) for line, rec in records]
    # A session id set on some spans of a trace (often only the root) holds for the whole trace.
    trace_session = {s["trace_id"]: _session_key(s) for s in spans if s["trace_id"] and _session_key(s)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        key = _session_key(span) or trace_session.get(span["trace_id"]) or span["trace_id"] or stem
        groups.setdefault(str(key), []).append(span)
    for key, members in groups.items():
        with accounting() as ledger:
            doc = _session(key, members, source_format)
        yield members[0]["line"], accounted(doc, ledger)


def _session_key(span: dict[str, Any]) -> Any:
    return session_attribute(span["attrs"])


SESSION_ATTRIBUTES = ("session.id", "gen_ai.conversation.id", "ai.telemetry.metadata.sessionId")


def session_attribute(attrs: dict[str, Any]) -> Any:
    """The conversation a span belongs to, when its attributes say (a trace without one is its own session)."""
    return next((attrs[k] for k in SESSION_ATTRIBUTES if attrs.get(k)), None)


def _tool_call_id(attrs: dict[str, Any]) -> str | None:
    return _str_or_none(attrs.get("gen_ai.tool.call.id") or attrs.get("tool_call.id") or attrs.get("tool.call.id")
                        or attrs.get("ai.toolCall.id"))


def _session(key: str, spans: list[dict[str, Any]], source_format: str) -> dict[str, Any]:
    ordered = sorted(spans, key=lambda s: (str(s["start"] or ""), s["line"]))
    histories: list[list[Message]] = []
    owners: list[tuple[dict[str, Any], int]] = []
    for span in ordered:  # every LLM call's history; consecutive calls resend the earlier turns
        if span["kind"] != "llm":
            continue
        inputs, outputs = llm_messages(span["attrs"])
        if inputs or outputs:
            histories.append(join_io(inputs, outputs))
            owners.append((span, len(outputs)))
    mine, subs = split_agents(histories)
    agents = [sub_agent(n, [histories[i] for i in group], owners[group[0]][0]["parent_id"])
              for n, group in enumerate(subs, 1)]
    histories, owners = [histories[i] for i in mine], [owners[i] for i in mine]
    merged, placed = merge_histories(histories)
    conv = build_conversation(merged, span_prefix="call-")
    warnings = list(conv.warnings)
    if not conv.turns:
        warnings.append(f"session {key}: no conversation in its spans (no LLM messages); imported with its spans and"
                        " no turns")
    produced: dict[int, int] = {}
    for (span, n_out), where in zip(owners, placed, strict=True):
        turns = [conv.message_turn[i] for i in where[len(where) - n_out:] if conv.message_turn[i] is not None]
        if turns:
            produced[id(span)] = turns[-1]
    native_spans, links, tool_order = [], [], []
    order_of = {id(s): i for i, s in enumerate(ordered)}
    for span in spans:
        attrs = span["attrs"]
        native: dict[str, Any] = {"span_id": span["span_id"], "parent_id": span["parent_id"], "kind": span["kind"],
                                  "name": span["name"], "status": span["status"], "attributes": {}}
        if span["start"]:
            native["start"] = span["start"]
        if span["end"]:
            native["end"] = span["end"]
        if span["kind"] == "llm":
            native["turn_index"] = produced.get(id(span))
            native["attributes"] = {k: attrs[k] for k in attrs if k.endswith((
                "model_name", ".model", "token_count.prompt", "token_count.completion", "input_tokens", "output_tokens"))}
        elif span["kind"] == "tool":
            call_id = _tool_call_id(attrs)
            native["attributes"] = {"arguments": embedded_json(attrs.get("input") or attrs.get("input.value")
                                                       or attrs.get("tool.parameters")
                                                       or attrs.get("gen_ai.tool.call.arguments")
                                                       or attrs.get("ai.toolCall.args")
                                                       or attrs.get("ai.toolCall.input")),
                                    "result": embedded_json(attrs.get("output") or attrs.get("output.value")
                                                            or attrs.get("gen_ai.tool.call.result")
                                                            or attrs.get("gcp.vertex.agent.tool_response")
                                                            or attrs.get("ai.toolCall.result")
                                                            or attrs.get("ai.toolCall.output"))}
            if span["status"] == "error" and span.get("status_message") and native["attributes"]["result"] is None:
                native["attributes"]["result"] = f"Error: {span['status_message']}"
            if native["status"] == "ok" and result_failed(native["attributes"]["result"]):
                native["status"] = "error"  # failed in substance (docs/formats.md, "Errors")
            if call_id is not None:
                native["attributes"]["call_id"] = call_id
            links.append((native, call_id))
            tool_order.append(order_of[id(span)])
        elif span["kind"] == "retrieval":
            docs, i = [], 0
            while f"retrieval.documents.{i}.document.id" in attrs or f"retrieval.documents.{i}.document.content" in attrs:
                d = f"retrieval.documents.{i}.document."
                docs.append({"id": attrs.get(d + "id"), "content": attrs.get(d + "content"), "score": attrs.get(d + "score")})
                i += 1
            native["attributes"] = {"documents": docs}
        native_spans.append(native)
    link_recorded([link for _, link in sorted(zip(tool_order, links, strict=True))],
                  conv.calls + [c for _, calls in agents for c in calls])
    source = next((s for s in reversed(ordered) if id(s) in produced), None)
    native_spans.extend(synthetic_spans(conv.calls, source["span_id"] if source else None))
    for span, calls in agents:
        native_spans.append(span)
        native_spans.extend(synthetic_spans(calls, span["span_id"]))
    native_spans.extend(conv.orphans)
    known = {s["span_id"] for s in native_spans}
    for s in native_spans:  # parents outside the export (a partial trace) become roots
        if s["parent_id"] not in known:
            s["parent_id"] = None
    for s in native_spans:
        for field in ("turn_index", "status"):
            if s.get(field) is None:
                s.pop(field, None)
    doc = {"schema": SESSION_SCHEMA, "session_id": key, "turns": conv.turns, "spans": native_spans,
           "source": {"format": source_format}, "_warnings": warnings}
    starts = [s["start"] for s in spans if s["start"]]
    if starts:  # the session began with its earliest span (what live drift windows and time filters read)
        doc["started_at"] = min(starts)
    return doc
