"""Replay native sessions as OpenTelemetry traces to an OTLP/HTTP endpoint, with the OpenTelemetry SDK's own
exporter: how tests and `bench/bench_serve.py` feed `cstui serve`, and a way to try a receiver by hand.

    python -m cstui.tools.otlp_send sample_data/candidate.jsonl --endpoint http://127.0.0.1:4318

Each session becomes one trace: a root `invoke_agent` span carrying `session.id`, an OpenInference LLM span per
assistant turn (the conversation so far in, the reply out), TOOL spans with their arguments and results, and
RETRIEVER spans with their documents — what an instrumented support assistant emits. Needs the dev extras
(`opentelemetry-sdk`, `opentelemetry-exporter-otlp-proto-http`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any


def _ns(text: str | None, default: int) -> int:
    if not text:
        return default
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)


def _llm_attributes(history: list[dict[str, str]], reply: str | None) -> dict[str, str]:
    """An OpenInference LLM span's attributes: the conversation so far in, the reply (if any) out."""
    attrs = {"openinference.span.kind": "LLM"}
    for k, m in enumerate(history):
        attrs[f"llm.input_messages.{k}.message.role"] = m["role"]
        attrs[f"llm.input_messages.{k}.message.content"] = m["content"]
    if reply is not None:
        attrs["llm.output_messages.0.message.role"] = "assistant"
        attrs["llm.output_messages.0.message.content"] = reply
    return attrs


def emit(tracer: Any, doc: dict[str, Any], shift_ns: int = 0) -> int:
    """Emit one native session as a trace; returns the number of spans. `shift_ns` moves every timestamp."""
    from opentelemetry.trace import Status, StatusCode

    turns = doc.get("turns") or []
    start = _ns(doc.get("started_at") or (turns[0].get("at") if turns else None), 1_700_000_000 * 10**9) + shift_ns
    times = [_ns(t.get("at"), 0) + shift_ns if t.get("at") else start + i * 10**9 for i, t in enumerate(turns)]
    end = max([start, *times]) + 10**9
    n = 1
    root = tracer.start_span("invoke_agent support", start_time=start, attributes={
        "session.id": str(doc["session_id"]), "openinference.span.kind": "AGENT"})
    from opentelemetry import trace

    ctx = trace.set_span_in_context(root)
    history: list[dict[str, str]] = []
    spans_by_turn: dict[int, list[dict[str, Any]]] = {}
    for span in doc.get("spans") or []:
        spans_by_turn.setdefault(span.get("turn_index", -1), []).append(span)
    for i, turn in enumerate(turns):
        role = {"customer": "user", "assistant": "assistant", "agent": "assistant"}.get(turn.get("role"), "user")
        if role == "assistant":
            at = times[i]
            for span in spans_by_turn.get(i, []):
                if span.get("kind") == "tool":
                    attrs = span.get("attributes") or {}
                    tool = tracer.start_span(f"tool {span.get('name')}", context=ctx, start_time=at - 5 * 10**8,
                                             attributes={"openinference.span.kind": "TOOL",
                                                         "tool.name": str(span.get("name")),
                                                         "input.value": json.dumps(attrs.get("arguments")),
                                                         "output.value": json.dumps(attrs.get("result"))})
                    if span.get("status") == "error":
                        tool.set_status(Status(StatusCode.ERROR, str(attrs.get("result"))))
                    tool.end(end_time=at - 4 * 10**8)
                    n += 1
                elif span.get("kind") == "retrieval":
                    docs = (span.get("attributes") or {}).get("documents") or []
                    attrs = {"openinference.span.kind": "RETRIEVER"}
                    for k, d in enumerate(docs):
                        for field in ("id", "content", "score"):
                            if d.get(field) is not None:
                                attrs[f"retrieval.documents.{k}.document.{field}"] = d[field]
                    tracer.start_span("kb_search", context=ctx, start_time=at - 7 * 10**8,
                                      attributes=attrs).end(end_time=at - 6 * 10**8)
                    n += 1
            tracer.start_span("ChatCompletion", context=ctx, start_time=at - 3 * 10**8,
                              attributes=_llm_attributes(history, turn.get("text") or "")).end(end_time=at)
            n += 1
        history.append({"role": role, "content": turn.get("text") or ""})
    if turns and turns[-1].get("role") == "customer":  # a last customer word no reply followed: one more call
        tracer.start_span("ChatCompletion", context=ctx, start_time=end - 10**8,
                          attributes=_llm_attributes(history, None)).end(end_time=end)
        n += 1
    root.end(end_time=end)
    return n


def send(docs: Iterable[dict[str, Any]], endpoint: str, *, token: str | None = None, shift_ns: int = 0,
         service: str = "support-assistant") -> int:
    """Send the sessions through a BatchSpanProcessor and the OTLP/HTTP protobuf exporter; returns spans sent."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    headers = {"Authorization": f"Bearer {token}"} if token else None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", headers=headers),
        max_queue_size=65_536, max_export_batch_size=512, schedule_delay_millis=200))
    tracer = provider.get_tracer("cstui.tools.otlp_send")
    n = sum(emit(tracer, doc, shift_ns) for doc in docs)
    provider.force_flush()
    provider.shutdown()
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cstui.tools.otlp_send", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="native session files (.jsonl)")
    p.add_argument("--endpoint", default="http://127.0.0.1:4318", help="receiver base URL (default %(default)s)")
    p.add_argument("--token", help="bearer token the receiver asks for")
    args = p.parse_args(argv)
    docs = [json.loads(line) for path in args.files for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    n = send(docs, args.endpoint, token=args.token)
    print(f"sent {len(docs):,} sessions as {n:,} spans to {args.endpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
