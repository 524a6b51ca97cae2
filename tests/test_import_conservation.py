"""Every importer accounts for every message (issue 33): two calls of one tool stay two calls, an unreadable
message is a counted warning that never costs the rest of the history, and `--strict` refuses any loss.

One conversation is written in each format a trace importer reads; the same checks run on each."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cstui.store import Store

CONVERSATION: list[dict[str, Any]] = [
    {"role": "user", "content": "Where are my orders A1 and B2?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": '{"order_id": "A1"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"order_id": "A1", "status": "shipped"}'},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_2", "type": "function", "function": {"name": "get_order", "arguments": '{"order_id": "B2"}'}}]},
    {"role": "tool", "tool_call_id": "call_2", "content": '{"order_id": "B2", "status": "shipped"}'},
    {"role": "assistant", "content": "Both orders have shipped."},
]
ODD = {"role": "wizard", "content": "a message shape no importer reads"}


def openai(messages: list[dict[str, Any]]) -> Any:
    return {"session_id": "s1", "messages": messages}


def tau2(messages: list[dict[str, Any]]) -> Any:
    out = []
    for m in messages:
        calls = [{"id": c["id"], "name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"]),
                  "requestor": "assistant"} for c in m.get("tool_calls") or []]
        out.append({"role": m["role"], "content": m.get("content"), "tool_calls": calls or None,
                    **({"id": m["tool_call_id"], "requestor": "assistant", "error": False} if m["role"] == "tool"
                       else {})})
    return {"timestamp": "2026-01-01", "info": {"environment_info": {"domain_name": "retail"}}, "tasks": [],
            "simulations": [{"id": "s1", "task_id": "1", "trial": 0, "messages": out,
                             "reward_info": {"reward": 1.0}}]}


def langfuse(messages: list[dict[str, Any]]) -> Any:
    return {"trace": {"id": "t1", "sessionId": "s1", "name": "agent"}, "observations": [
        {"id": "g1", "traceId": "t1", "type": "GENERATION", "name": "chat", "startTime": "2026-01-01T00:00:00Z",
         "input": messages[:-1], "output": messages[-1]}]}


def _llm_attributes(messages: list[dict[str, Any]]) -> dict[str, str]:
    return {"openinference.span.kind": "LLM", "session.id": "s1",
            "input.value": json.dumps({"messages": messages[:-1]}), "input.mime_type": "application/json",
            "output.value": json.dumps({"choices": [{"message": messages[-1]}]}),
            "output.mime_type": "application/json"}


def openinference(messages: list[dict[str, Any]]) -> Any:
    return {"name": "ChatCompletion", "context": {"span_id": "a1", "trace_id": "t1"}, "parent_id": None,
            "span_kind": "LLM", "status_code": "OK", "start_time": "2026-01-01T00:00:00Z",
            "end_time": "2026-01-01T00:00:01Z", "attributes": _llm_attributes(messages)}


def otlp(messages: list[dict[str, Any]]) -> Any:
    attributes = [{"key": k, "value": {"stringValue": v}} for k, v in _llm_attributes(messages).items()]
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": [
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "ChatCompletion",
         "kind": 1, "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
         "attributes": attributes, "status": {}}]}]}]}


def ai_sdk(messages: list[dict[str, Any]]) -> Any:
    """The Vercel AI SDK's spans: one provider call per step, each resending the history so far."""
    spans, history = [], []
    for step, m in enumerate(messages):
        if m["role"] != "assistant":
            history.append(m)
            continue
        calls = [{"toolCallId": c["id"], "toolName": c["function"]["name"], "input": c["function"]["arguments"]}
                 for c in m.get("tool_calls") or []]
        attrs = {"ai.operationId": "ai.generateText.doGenerate", "ai.telemetry.metadata.sessionId": "s1",
                 "ai.prompt.messages": json.dumps(history)}
        attrs.update({"ai.response.toolCalls": json.dumps(calls)} if calls else {"ai.response.text": m["content"]})
        spans.append({"name": "ai.generateText.doGenerate", "spanContext": {"traceId": "t1", "spanId": f"s{step}"},
                      "parentSpanId": "root", "startTime": [1700000000, step * 1000], "endTime": [1700000000,
                                                                                               step * 1000 + 500],
                      "status": {"code": 0}, "attributes": attrs})
        history.append(m)
    return spans


FORMATS: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
    "openai": openai, "tau2": tau2, "langfuse": langfuse, "openinference": openinference, "otlp": otlp,
    "ai-sdk": ai_sdk}


def _write(tmp_path: Path, name: str, record: Any) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(record))
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_calls_of_one_tool_with_different_ids_stay_two_spans_and_two_turns(fmt, tmp_path, cli):
    src = _write(tmp_path, fmt, FORMATS[fmt](CONVERSATION))
    db = tmp_path / "c.db"
    r = cli("import", src, "--run", "r", "--db", db)
    assert r.code == 0, r.err
    assert f"({fmt})" in r.out and "0 dropped" in r.out, r.out
    with Store(db) as store:
        session = store.session("r", store.session_ids("r")[0])
    calls = [s for s in session.spans if s.kind == "tool"]
    assert [(s.name, s.attributes.get("call_id")) for s in calls] == [("get_order", "call_1"), ("get_order", "call_2")]
    assert [c.attributes["arguments"] for c in calls] == [{"order_id": "A1"}, {"order_id": "B2"}]
    assert [t.role for t in session.turns if t.role != "system"] == [
        "customer", "assistant", "tool", "assistant", "tool", "assistant"]
    assert calls[0].turn_index != calls[1].turn_index


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unreadable_message_is_reported_and_strict_refuses_it(fmt, tmp_path, cli):
    src = _write(tmp_path, fmt, FORMATS[fmt]([*CONVERSATION[:3], ODD, *CONVERSATION[3:]]))
    r = cli("import", src, "--run", "r", "--db", tmp_path / "c.db")
    assert r.code == 0, r.err
    assert "1 dropped" in r.out and "1 warning" in r.out and "warning: " in r.out, r.out
    with Store(tmp_path / "c.db") as store:
        session = store.session("r", store.session_ids("r")[0])
    assert len([s for s in session.spans if s.kind == "tool"]) == 2  # the rest of the history is all there
    assert session.turns[-1].text == "Both orders have shipped."
    strict = cli("import", src, "--run", "r", "--db", tmp_path / "s.db", "--strict")
    assert strict.code == 2 and "--strict" in strict.err and "nothing was written" in strict.err, strict.err
    assert not (tmp_path / "s.db").exists()


def test_a_result_failed_in_substance_is_an_error_whatever_its_span_said(tmp_path, cli):
    failed = [*CONVERSATION[:2], {**CONVERSATION[2], "content": '{"response_status": "Error", "detail": "timeout"}'},
              *CONVERSATION[3:4], {**CONVERSATION[4], "content": '{"success": false}'}, CONVERSATION[5]]
    src = _write(tmp_path, "openai", openai(failed))
    r = cli("import", src, "--run", "r", "--db", tmp_path / "c.db")
    assert r.code == 0 and "2 tool calls (2 errors)" in r.out, r.out


@pytest.mark.parametrize("attrs, request_", [
    ({"gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are the airline's agent."}])}, None),
    ({}, {"model": "claude", "system": [{"type": "text", "text": "You are the airline's agent."}],
          "messages": CONVERSATION[:1]}),
    ({}, {"model": "gpt-4o", "instructions": "You are the airline's agent.", "input": "Where are my orders?"}),
    ({}, {"prompt": "Where are my orders?", "system": "You are the airline's agent."}),
])
def test_system_prompts_are_read_from_where_exporters_put_them(attrs, request_, tmp_path, cli):
    span = openinference(CONVERSATION)
    span["attributes"].update(attrs)
    if request_ is not None:
        span["attributes"]["input.value"] = json.dumps(request_)
    src = _write(tmp_path, "spans", span)
    assert cli("import", src, "--run", "r", "--db", tmp_path / "c.db").code == 0
    with Store(tmp_path / "c.db") as store:
        session = store.session("r", store.session_ids("r")[0])
    assert session.turns[0].role == "system" and session.turns[0].text == "You are the airline's agent."
    assert session.turns[1].role == "customer"
