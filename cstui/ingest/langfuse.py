"""Langfuse trace exports (`{trace, observations}`, one or a list) → native sessions.

Messages are read the way Langfuse's own ChatML view reads them, for every framework its adapters know
(`cstui.ingest.messages`); tests compare with the ChatML Langfuse derived from eleven real framework
exports. The conversation joins what every LLM call and agent step saw, so a history resent by
consecutive generations appears once and a second agent's exchange is not lost. Every observation becomes
a span; recorded tool executions (TOOL observations, `execute_tool` spans, framework spans that returned a
tool message) are linked to the turn that called them, and calls no observation recorded get a synthetic
span. A trace with no readable conversation still imports, with its spans, no turns and a warning. Trace
scores are stored as evaluator results `langfuse:<name>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cstui.ingest.messages import (
    Message,
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
    text_of,
)
from cstui.models import SESSION_SCHEMA

KIND = {"GENERATION": "llm", "TOOL": "tool", "RETRIEVER": "retrieval", "GUARDRAIL": "guardrail", "EMBEDDING": "other",
        "SPAN": "other", "AGENT": "other", "CHAIN": "other", "EVENT": "other", "EVALUATOR": "other"}
_NULLS = ("None", "null", "")


class ConvertError(ValueError):
    pass


def looks_like(record: Any) -> bool:
    if isinstance(record, list):
        return bool(record) and all(looks_like(r) for r in record)
    return isinstance(record, dict) and isinstance(record.get("trace"), dict) and isinstance(
        record.get("observations"), list)


def field(obj: dict[str, Any], key: str) -> Any:
    """A trace or observation field; some exports stringify every value ('None', "['a']")."""
    value = obj.get(key)
    if isinstance(value, str) and value.strip() in _NULLS:
        return None
    return value


def chatml(value: Any) -> list[dict[str, Any]] | None:
    """Messages as Langfuse's ChatML view derives them (as plain dicts); None where that view finds none."""
    messages = normalize(value)
    if messages is None:
        return None
    return [{"role": m.role, "text": m.text, "tool_call_id": m.tool_call_id,
             "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls]}
            for m in messages]


# ---------------------------------------------------------------------------------------------- sessions
def iter_traces(record: Any) -> Iterator[dict[str, Any]]:
    yield from record if isinstance(record, list) else [record]


def to_native_sessions(records: list[tuple[int, Any]], stem: str) -> Iterator[tuple[int, dict[str, Any]]]:
    sessions: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for line, record in records:
        for export in iter_traces(record):
            trace = export["trace"]
            key = field(trace, "sessionId") or field(trace, "id") or f"{stem}-{line}"
            sessions.setdefault(str(key), []).append((line, export))
    for key, exports in sessions.items():
        with accounting() as ledger:
            doc = _session(key, exports)
        yield exports[0][0], accounted(doc, ledger)


def _attributes(obs: dict[str, Any]) -> dict[str, Any]:
    meta = parse_payload(obs.get("metadata"))
    attrs = meta.get("attributes") if isinstance(meta, dict) else None
    return attrs if isinstance(attrs, dict) else {}


_LIFECYCLE = re.compile(r"^(?P<stem>.+)\.(?P<event>start|finish|success|error)(?:-\d+)?$")


def _recorded_tool(obs: dict[str, Any], attrs: dict[str, Any]) -> tuple[str | None, str | None] | None:
    """(tool name, call id) when the observation recorded a tool execution, else None."""
    kind = str(attrs.get("openinference.span.kind") or "").upper()
    if kind and kind != "TOOL" and obs.get("type") != "TOOL":
        return None  # an agent step that mentions a tool is not its execution
    event = _LIFECYCLE.match(str(obs.get("name") or ""))
    if event and event["event"] in ("start", "finish"):
        return None  # BeeAI emits start/finish/success events per run; success (or error) is the execution
    output = parse_payload(obs.get("output"))
    produced = normalize(output) if isinstance(output, dict) and "messages" not in output else None
    langgraph_tool = bool(produced) and len(produced) == 1 and produced[0].role == "tool"
    if not (obs.get("type") == "TOOL" or kind == "TOOL" or attrs.get("gen_ai.tool.name") or attrs.get("tool.name")
            or attrs.get("gen_ai.operation.name") == "execute_tool" or langgraph_tool):
        return None
    name = attrs.get("gen_ai.tool.name") or attrs.get("tool.name") or obs.get("name")
    call_id = attrs.get("gen_ai.tool.call.id") or attrs.get("tool_call.id")
    if call_id is None and isinstance(output, dict):
        call_id = output.get("tool_call_id")
    return (str(name) if name else None), (str(call_id) if call_id else None)


def _history(obs: dict[str, Any]) -> tuple[list[Message], int]:
    """What one observation saw and said: (messages, how many of them are its output)."""
    inputs = normalize(obs.get("input")) or []
    raw_out = parse_payload(obs.get("output"))
    outputs = normalize(raw_out)
    if (outputs is None and inputs and obs.get("type") == "GENERATION" and isinstance(raw_out, str)
            and raw_out.strip() not in _NULLS):
        outputs = [Message("assistant", raw_out)]  # a completion logged as plain text
    outputs = [m for m in outputs or [] if m.role != "customer"] if obs.get("type") == "GENERATION" else outputs or []
    return join_io(inputs, outputs), len(outputs)


def _session(key: str, exports: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    observations: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    first = exports[0][1]["trace"]
    for _, export in exports:
        observations.extend(o for o in export["observations"] if isinstance(o, dict))
        raw_scores = parse_payload(field(export["trace"], "scores"))
        if isinstance(raw_scores, list):
            scores.extend(s for s in raw_scores if isinstance(s, dict))
    observations.sort(key=lambda o: (str(o.get("startTime") or ""), str(o.get("id"))))
    # What an observation said is known when it ends: a root agent span starts first but answers last.
    by_end = sorted(observations, key=lambda o: (str(field(o, "endTime") or field(o, "startTime") or ""),
                                                 str(o.get("startTime") or "")))

    recorded: dict[str, tuple[str | None, str | None]] = {}
    histories: list[list[Message]] = []
    sources: list[tuple[dict[str, Any], int]] = []  # (observation, n output messages) per history
    for obs in by_end:
        tool = _recorded_tool(obs, _attributes(obs))
        if tool is not None:
            recorded[str(obs["id"])] = tool
            continue
        history, n_out = _history(obs)
        if history:
            histories.append(history)
            sources.append((obs, n_out))
    warnings: list[str] = []
    mine, subs = split_agents(histories)
    agents = [sub_agent(n, [histories[i] for i in group],
                        field(sources[group[0]][0], "parentObservationId")) for n, group in enumerate(subs, 1)]
    histories, sources = [histories[i] for i in mine], [sources[i] for i in mine]
    merged, placed = merge_histories(histories)
    if not merged:
        merged = _trace_exchange(exports)
        if merged:
            warnings.append(f"trace {first.get('id')}: no messages in any observation; the trace's input and output"
                            " are the conversation")
        else:
            warnings.append(f"trace {first.get('id')}: no conversation in any observation; imported with its spans"
                            " and no turns")
    conv = build_conversation(merged, span_prefix="call-")
    warnings.extend(conv.warnings)
    produced_turn: dict[str, int] = {}
    for (obs, n_out), where in zip(sources, placed, strict=True):
        turns = [conv.message_turn[i] for i in where[len(where) - n_out:] if conv.message_turn[i] is not None]
        if obs.get("type") == "GENERATION" and turns:
            produced_turn.setdefault(str(obs["id"]), turns[-1])

    spans: list[dict[str, Any]] = []
    links: list[tuple[dict[str, Any], str | None]] = []
    for obs in observations:
        oid = str(obs["id"])
        kind = "tool" if oid in recorded else KIND.get(str(obs.get("type")), "other")
        level = str(obs.get("level") or "DEFAULT").upper()
        span: dict[str, Any] = {"span_id": oid, "parent_id": field(obs, "parentObservationId"), "kind": kind,
                                "name": obs.get("name"), "status": "error" if level == "ERROR" else "ok",
                                "start": field(obs, "startTime"), "end": field(obs, "endTime"), "attributes": {}}
        if obs.get("statusMessage"):
            span["attributes"]["status_message"] = obs["statusMessage"]
        if kind == "llm":
            if oid in produced_turn:
                span["turn_index"] = produced_turn[oid]
            span["attributes"].update({k: obs[k] for k in ("model", "usageDetails", "totalCost") if obs.get(k)})
        elif kind == "tool":
            name, call_id = recorded[oid]
            span["name"] = name or span["name"]
            output = parse_payload(obs.get("output"))
            if isinstance(output, dict) and output.get("type") == "tool" and "content" in output:
                output = output["content"]  # a LangChain ToolMessage: its content is the result
            span["attributes"].update({"arguments": parse_payload(obs.get("input")), "result": output})
            if span["status"] == "ok" and result_failed(output):
                span["status"] = "error"  # failed in substance, though the observation's level said otherwise
            if call_id is not None:
                span["attributes"]["call_id"] = call_id
            links.append((span, call_id))
        spans.append(span)
    link_recorded(links, conv.calls + [c for _, calls in agents for c in calls])
    source = next((o for o in reversed(observations) if str(o["id"]) in produced_turn), None)
    spans.extend(synthetic_spans(conv.calls, str(source["id"]) if source else None))
    for span, calls in agents:
        spans.append(span)
        spans.extend(synthetic_spans(calls, span["span_id"]))
    spans.extend(conv.orphans)
    known = {s["span_id"] for s in spans}
    for s in spans:
        if s["parent_id"] not in known:
            s["parent_id"] = None
        for key_ in ("start", "end", "turn_index", "status"):
            if s.get(key_) is None:
                s.pop(key_, None)
    return {"schema": SESSION_SCHEMA, "session_id": key, "started_at": field(first, "timestamp"),
            "turns": conv.turns, "spans": spans,
            "source": {"format": "langfuse", "trace_ids": [e["trace"].get("id") for _, e in exports]},
            "imported_scores": [{k: s.get(k) for k in ("name", "value", "stringValue", "dataType", "source", "comment",
                                                        "observationId", "timestamp")} for s in scores],
            "_warnings": warnings}


def _trace_exchange(exports: list[tuple[int, dict[str, Any]]]) -> list[Message]:
    """The trace-level input and output as one exchange, when they are plain text."""
    out: list[Message] = []
    for _, export in exports:
        trace = export["trace"]
        question, answer = parse_payload(field(trace, "input")), parse_payload(field(trace, "output"))
        if isinstance(question, str) and question.strip():
            out.append(Message("customer", question))
        if answer is not None and (not isinstance(answer, str) or answer.strip()):
            out.append(Message("assistant", text_of(answer)))
    return out
