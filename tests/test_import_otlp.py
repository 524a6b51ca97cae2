"""OTLP/JSON, as an OpenTelemetry pipeline writes it: spans made and encoded by the real OpenTelemetry SDK
(`opentelemetry-exporter-otlp-proto-common`), written once in protobuf's JSON mapping (ids in base64) and
once in OTLP/JSON proper (ids in hex)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from cstui.ingest import detect_format
from cstui.store import Store

HISTORY = [{"role": "user", "parts": [{"type": "text", "content": "Cancel reservation R1 please."}]},
           {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "cancel_reservation",
                                            "arguments": {"reservation_id": "R1"}}]},
           {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                       "response": "Error: reservation R1 is not cancellable"}]}]


def make_spans():
    """An agent turn: invoke_agent → chat (GenAI messages) → execute_tool (fails) → chat (OpenInference)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "airline-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("cstui-test")
    with tracer.start_as_current_span("invoke_agent airline", attributes={
            "gen_ai.operation.name": "invoke_agent", "session.id": "conv-7"}):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 120,
                "gen_ai.input.messages": json.dumps(HISTORY[:1]),
                "gen_ai.output.messages": json.dumps(HISTORY[1:2])}):
            pass
        with tracer.start_as_current_span("execute_tool cancel_reservation", attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "cancel_reservation",
                "gen_ai.tool.call.id": "call_1", "gen_ai.tool.call.arguments": '{"reservation_id": "R1"}',
                "gen_ai.tool.call.result": "Error: reservation R1 is not cancellable",
                "tags": ["airline", "cancel"]}) as tool:
            tool.set_status(Status(StatusCode.ERROR, "not cancellable"))
        with tracer.start_as_current_span("ChatCompletion", attributes={
                "openinference.span.kind": "LLM",
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.content": "Cancel reservation R1 please.",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "I could not cancel R1: it is not cancellable."}):
            pass
    return exporter.get_finished_spans()


def _hex_ids(node):
    """Rewrite protobuf's base64 ids as OTLP/JSON's hex ids."""
    if isinstance(node, dict):
        return {k: (base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") and v else _hex_ids(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


@pytest.mark.parametrize("ids", ["hex", "base64"])
def test_otlp_json_from_the_real_sdk_imports_like_openinference(ids, tmp_path, cli):
    spans = make_spans()
    document = MessageToDict(encode_spans(spans))  # protobuf's JSON mapping: bytes in base64
    if ids == "hex":
        document = _hex_ids(document)
    assert detect_format(document) == "otlp"
    src = tmp_path / "traces.jsonl"
    src.write_text(json.dumps(document) + "\n")
    db = tmp_path / "o.db"
    r = cli("import", src, "--run", "o", "--db", db)
    assert r.code == 0, r.err
    assert "(otlp): 1 session," in r.out and "1 tool call (1 error)" in r.out
    with Store(db) as store:
        doc = store.session_doc("o", "conv-7")
        assert store.run("o")["source_format"] == "otlp"
    by_name = {s["name"]: s for s in doc["spans"]}
    sdk = {s.name: s for s in spans}
    for name, span in sdk.items():  # ids, parents and times exactly as the SDK made them
        ours = next(s for s in doc["spans"] if s["span_id"] == format(span.context.span_id, "016x"))
        assert ours["parent_id"] == (format(span.parent.span_id, "016x") if span.parent else None), name
        assert ours["start"].startswith("20")
    assert [(t["role"], t["text"]) for t in doc["turns"]] == [
        ("customer", "Cancel reservation R1 please."), ("assistant", ""),
        ("assistant", "I could not cancel R1: it is not cancellable.")]
    tool = by_name["cancel_reservation"]
    assert tool["kind"] == "tool" and tool["status"] == "error" and tool["turn_index"] == 1
    assert tool["attributes"]["arguments"] == {"reservation_id": "R1"}
    assert tool["attributes"]["call_id"] == "call_1"
    assert by_name["chat gpt-4o"]["kind"] == "llm" and by_name["chat gpt-4o"]["turn_index"] == 1


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(spanId="not-an-id!"), "neither 16 hex"),
    (lambda d: d["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(attributes=[{"value": {}}]), "key"),
    (lambda d: d["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(startTimeUnixNano="soon"), "nanoseconds"),
])
def test_malformed_otlp_is_rejected_with_file_line_and_db_unchanged(mutate, reason, tmp_path, cli):
    db = tmp_path / "o.db"
    good = MessageToDict(encode_spans(make_spans()))
    src = tmp_path / "ok.jsonl"
    src.write_text(json.dumps(good) + "\n")
    assert cli("import", src, "--run", "ok", "--db", db).code == 0
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    bad = json.loads(json.dumps(good))
    mutate(bad)
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    r = cli("import", path, "--run", "bad", "--db", db)
    assert r.code == 2 and f"{path}:2: otlp:" in r.err and reason in r.err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
