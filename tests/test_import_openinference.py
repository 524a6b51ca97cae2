"""OpenInference / OTel GenAI span exports: real fixtures (tests/data/openinference) and built exports."""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest
from conftest import DATA

from cstui.ingest import detect_format
from cstui.store import Store

FIXTURES = DATA / "openinference"
CONVERSATION = [
    ("customer", "Weather in Paris?"),
    ("assistant", "Absolutely! Let me check the weather for you."),
    ("tool", "rainy, 57°F"),
    ("assistant", "The weather in Paris is currently rainy with a temperature of 57°F."),
]
LLM_FIXTURES = ["openinference_client_span_tool_calls", "openinference_client_span_input_output_only",
                "otel_genai_client_span_tool_calls", "otel_genai_deprecated_client_span_tool_calls"]


@pytest.mark.parametrize("name", LLM_FIXTURES)
def test_every_convention_yields_the_same_conversation(name, tmp_path, cli):
    path = FIXTURES / f"{name}.json"
    assert detect_format(json.loads(path.read_text())) == "openinference"
    db = tmp_path / "oi.db"
    r = cli("import", path, "--run", "oi", "--db", db)
    assert r.code == 0, r.err
    assert "(openinference)" in r.out
    with Store(db) as store:
        (sid,) = store.session_ids("oi")
        doc = store.session_doc("oi", sid)
    assert [(t["role"], t["text"]) for t in doc["turns"]] == CONVERSATION
    tool = next(s for s in doc["spans"] if s["kind"] == "tool")
    assert tool["name"] == "get_weather" and tool["turn_index"] == 1
    assert tool["attributes"]["arguments"] == {"location": "Paris"} and tool["attributes"]["result"] == "rainy, 57°F"
    llm = next(s for s in doc["spans"] if s["kind"] == "llm")
    assert llm["turn_index"] == 3


def test_tool_execution_span(tmp_path, cli):
    db = tmp_path / "oi.db"
    assert cli("import", FIXTURES / "otel_genai_tool_execution_span.json", "--run", "t", "--db", db).code == 0
    with Store(db) as store:
        doc = store.session_doc("t", store.session_ids("t")[0])
    (span,) = doc["spans"]
    assert span["kind"] == "tool" and span["name"] == "get_weather"
    assert span["attributes"]["arguments"] == {"city": "New York"}
    assert span["attributes"]["result"]["status"] == "success"


def phoenix_span(span_id, parent, kind, session, **attrs):
    return {"name": kind.lower(), "context": {"span_id": span_id, "trace_id": f"t-{session}"}, "parent_id": parent,
            "span_kind": kind, "status_code": attrs.pop("status", "OK"), "start_time": "2026-11-20T10:00:00Z",
            "end_time": "2026-11-20T10:00:01Z", "attributes": {"session.id": session, **attrs}}


def test_phoenix_export_with_sessions_retrieval_nested_attributes_and_errors(tmp_path, cli):
    spans = [
        phoenix_span("a", None, "AGENT", "s1"),
        phoenix_span("r", "a", "RETRIEVER", "s1", **{"retrieval": {"documents": [
            {"document": {"id": "KB-2201", "content": "Refunds within 30 days.", "score": 0.8}}]}}),
        phoenix_span("l", "a", "LLM", "s1", **{"llm.input_messages.0.message.role": "user",
                                               "llm.input_messages.0.message.content": "Can I get a refund?",
                                               "llm.output_messages.0.message.role": "assistant",
                                               "llm.output_messages.0.message.content": "Yes, within 30 days."}),
        phoenix_span("x", "l", "TOOL", "s2", status="ERROR", **{"tool.name": "issue_refund",
                                                                 "input.value": "{\"order\": \"A-1\"}",
                                                                 "output.value": "Error: declined"}),
        phoenix_span("m", None, "LLM", "s2", **{"gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "Refund A-1 please"}]}]),
            "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "I could not issue it."}]}])}),
    ]
    src = tmp_path / "phoenix.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(s) for s in spans) + b"\n")
    db = tmp_path / "p.db"
    assert cli("import", src, "--run", "p", "--db", db).code == 0
    with Store(db) as store:
        assert sorted(store.session_ids("p")) == ["s1", "s2"]
        s1, s2 = store.session_doc("p", "s1"), store.session_doc("p", "s2")
    assert [(t["role"], t["text"]) for t in s1["turns"]] == [("customer", "Can I get a refund?"),
                                                            ("assistant", "Yes, within 30 days.")]
    retrieval = next(s for s in s1["spans"] if s["kind"] == "retrieval")
    assert retrieval["attributes"]["documents"][0]["id"] == "KB-2201" and retrieval["parent_id"] == "a"
    tool = next(s for s in s2["spans"] if s["kind"] == "tool")
    assert tool["status"] == "error" and tool["parent_id"] is None  # its parent was in another session
    assert cli("eval", "--run", "p", "--db", db).code == 0


def test_malformed_span_file_is_rejected_with_file_line_and_db_unchanged(tmp_path, cli):
    db = tmp_path / "oi.db"
    assert cli("import", FIXTURES / "openinference_client_span_tool_calls.json", "--run", "ok", "--db", db).code == 0
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(phoenix_span("a", None, "LLM", "s", **{"llm.input_messages.0.message.role": "user",
                                                                    "llm.input_messages.0.message.content": "hi"}))
                   + "\n" + json.dumps({"hello": "world"}) + "\n")
    r = cli("import", bad, "--run", "bad", "--db", db)
    assert r.code == 2 and f"{bad}:2:" in r.err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_spans_without_a_conversation_import_with_no_turns_and_a_warning(tmp_path, cli):
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps(phoenix_span("a", None, "AGENT", "s")) + "\n")
    db = tmp_path / "e.db"
    r = cli("import", empty, "--run", "e", "--db", db)
    assert r.code == 0, r.err
    assert f"warning: {empty}:1: s: session s: no conversation" in r.out
    with Store(db) as store:
        doc = store.session_doc("e", "s")
    assert doc["turns"] == [] and [s["span_id"] for s in doc["spans"]] == ["a"]
    assert cli("eval", "--run", "e", "--db", db).code == 0  # evaluators cope with a session of spans only


# An agent turn as Phoenix records it: an AGENT span with LLM and TOOL children; each LLM span replays the
# whole history in llm.input_messages; TOOL spans carry no call id (matched to the calls by name and order).
AGENT_CALLS = [("get_user_details", '{"user_id": "u1"}', "{\"name\": \"Ada\"}"),
               ("get_reservation_details", '{"id": "R1"}', "{\"id\": \"R1\"}"),
               ("get_reservation_details", '{"id": "R2"}', "{\"id\": \"R2\"}"),
               ("search_direct_flight", '{"from": "JFK"}', "[]"),
               ("update_reservation_flights", '{"id": "R1"}', "Error: not enough seats on flight HAT139"),
               ("search_direct_flight", '{"from": "EWR"}', "[{\"flight\": \"HAT2\"}]"),
               ("update_reservation_flights", '{"id": "R1", "flight": "HAT2"}', "{\"id\": \"R1\"}"),
               ("get_reservation_details", '{"id": "R1"}', "{\"id\": \"R1\", \"flight\": \"HAT2\"}")]


def _flat_messages(prefix, messages):
    attrs = {}
    for i, m in enumerate(messages):
        base = f"{prefix}.{i}.message."
        attrs[base + "role"] = m["role"]
        if m.get("content") is not None:
            attrs[base + "content"] = m["content"]
        for k, tc in enumerate(m.get("tool_calls") or []):
            attrs[f"{base}tool_calls.{k}.tool_call.id"] = tc["id"]
            attrs[f"{base}tool_calls.{k}.tool_call.function.name"] = tc["name"]
            attrs[f"{base}tool_calls.{k}.tool_call.function.arguments"] = tc["arguments"]
        if m.get("tool_call_id"):
            attrs[base + "tool_call_id"] = m["tool_call_id"]
    return attrs


def agent_turn_spans() -> list[dict]:
    history = [{"role": "system", "content": "You are an airline agent."},
               {"role": "user", "content": "Move R1 to an earlier flight."}]
    spans = [phoenix_span("agent", None, "AGENT", "s")]
    for n, (name, args, result) in enumerate(AGENT_CALLS):
        call = {"role": "assistant", "content": None,
                "tool_calls": [{"id": f"call_{n}", "name": name, "arguments": args}]}
        spans.append(phoenix_span(f"llm{n}", "agent", "LLM", "s", **_flat_messages("llm.input_messages", history),
                                  **_flat_messages("llm.output_messages", [call])))
        error = result.startswith("Error")
        spans.append(phoenix_span(f"tool{n}", "agent", "TOOL", "s", status="ERROR" if error else "OK",
                                  **{"tool.name": name, "input.value": args, "output.value": result}))
        history += [call, {"role": "tool", "content": result, "tool_call_id": f"call_{n}"}]
    final = {"role": "assistant", "content": "R1 now flies on HAT2."}
    spans.append(phoenix_span("llm-final", "agent", "LLM", "s", **_flat_messages("llm.input_messages", history),
                              **_flat_messages("llm.output_messages", [final])))
    for i, s in enumerate(spans):
        s["start_time"] = f"2026-11-20T10:00:{i:02d}Z"
    return spans


def test_agent_turn_with_a_replayed_history_gives_one_span_per_execution(tmp_path, cli):
    spans = agent_turn_spans()
    assert len(spans) == 18 and sum(s["span_kind"] == "TOOL" for s in spans) == 8
    src = tmp_path / "agent.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(s) for s in spans) + b"\n")
    db = tmp_path / "a.db"
    r = cli("import", src, "--run", "a", "--db", db)
    assert r.code == 0, r.err
    assert "8 tool calls (1 error)" in r.out and "0 orphan and 0 synthetic" in r.out
    with Store(db) as store:
        doc = store.session_doc("a", "s")
    assert len(doc["spans"]) == 18
    tools = [s for s in doc["spans"] if s["kind"] == "tool"]
    assert [s["span_id"] for s in tools] == [f"tool{n}" for n in range(8)]
    assert [s["status"] for s in tools].count("error") == 1
    for n, span in enumerate(tools):  # each execution sits on the assistant turn that asked for it
        caller = doc["turns"][span["turn_index"]]
        assert caller["role"] == "assistant" and doc["turns"][span["turn_index"] + 1]["text"] == AGENT_CALLS[n][2]
    assert doc["turns"][-1]["text"] == "R1 now flies on HAT2."
    assert [t["role"] for t in doc["turns"]].count("assistant") == 9


def test_calls_whose_execution_is_outside_the_export_get_marked_synthetic_spans(tmp_path, cli):
    spans = [s for s in agent_turn_spans() if s["context"]["span_id"] not in ("tool0", "tool1")]
    src = tmp_path / "partial.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(s) for s in spans) + b"\n")
    db = tmp_path / "p.db"
    r = cli("import", src, "--run", "p", "--db", db)
    assert r.code == 0, r.err
    assert "8 tool calls (1 error)" in r.out and "2 synthetic" in r.out
    with Store(db) as store:
        doc = store.session_doc("p", "s")
    synthetic = [s for s in doc["spans"] if s["attributes"].get("synthetic")]
    assert [(s["name"], s["attributes"]["call_id"]) for s in synthetic] == [
        ("get_user_details", "call_0"), ("get_reservation_details", "call_1")]
    recorded = [s for s in doc["spans"] if s["kind"] == "tool" and not s["attributes"].get("synthetic")]
    assert recorded[0]["span_id"] == "tool2" and recorded[0]["attributes"]["call_id"] == "call_2"
