"""Hostile input, generated: importers and the config and gate parsers never crash. Every bad file is
exit 2 with `file:line: reason` on one line, and the database stays byte-identical."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cstui.demo import sample_file

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID = orjson.loads(sample_file("candidate.jsonl").read_text().splitlines()[0])

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c,
                                                                                          max_size=4), max_leaves=20)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Harness:
    """One small database per test; every import attempt must leave it intact unless it succeeds."""

    def __init__(self, tmp: Path, cli):
        self.tmp, self.cli, self.n = tmp, cli, 0
        self.db = tmp / "fuzz.db"
        src = tmp / "seed.jsonl"
        src.write_bytes(orjson.dumps(VALID) + b"\n")
        assert cli("import", src, "--run", "seed", "--db", self.db).code == 0

    def attempt(self, content: bytes, suffix: str = ".jsonl") -> None:
        self.n += 1
        path = self.tmp / f"in-{self.n}{suffix}"
        path.write_bytes(content)
        before = digest(self.db)
        r = self.cli("import", path, "--run", f"r{self.n}", "--db", self.db)  # any exception fails the test
        assert r.code in (0, 2), r
        if r.code == 2:
            assert r.err.startswith(f"cstui: {path}") and r.err.count("\n") == 1, r.err
            assert digest(self.db) == before


@SETTINGS
@given(data=st.binary(max_size=3000))
def test_random_bytes(tmp_path_factory, cli, data):
    Harness(tmp_path_factory.mktemp("b"), cli).attempt(data)


@SETTINGS
@given(values=st.lists(json_values, min_size=1, max_size=3), as_array=st.booleans())
def test_random_json_records(tmp_path_factory, cli, values, as_array):
    h = Harness(tmp_path_factory.mktemp("j"), cli)
    if as_array:
        h.attempt(json.dumps(values, indent=1).encode(), ".json")
    else:
        h.attempt(b"\n".join(orjson.dumps(v) for v in values) + b"\n")


def _mutate(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value == "__delete__":
        if isinstance(target, dict):
            target.pop(path[-1], None)
        elif isinstance(target, list) and len(target) > 1:
            target.pop(path[-1])
    else:
        if isinstance(target, dict) and not isinstance(path[-1], str):
            raise TypeError("a list index into what an earlier edit made an object: JSON keys are strings")
        target[path[-1]] = value
    return doc


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(VALID) if p]


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(PATHS), json_values | st.just("__delete__")), min_size=1, max_size=4))
def test_mutated_native_sessions(tmp_path_factory, cli, edits):
    doc = json.loads(json.dumps(VALID))
    for path, value in edits:
        try:
            doc = _mutate(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    Harness(tmp_path_factory.mktemp("n"), cli).attempt(orjson.dumps(doc) + b"\n")


OI_KEYS = ["openinference.span.kind", "llm.input_messages.0.message.role", "llm.input_messages.0.message.content",
           "llm.output_messages.0.message.content", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt",
           "gen_ai.completion", "gen_ai.operation.name", "input.value", "output.value", "session.id", "tool.name",
           "retrieval.documents.0.document.id", "llm.input_messages.0.message.tool_calls.0.tool_call.function.name"]


@SETTINGS
@given(spans=st.lists(st.dictionaries(st.sampled_from(OI_KEYS), json_values | st.text(), min_size=1, max_size=6),
                      min_size=1, max_size=3),
       wrap=st.booleans())
def test_openinference_like_spans(tmp_path_factory, cli, spans, wrap):
    if wrap:
        spans = [{"context": {"span_id": f"s{i}", "trace_id": "t"}, "span_kind": "LLM", "attributes": s}
                 for i, s in enumerate(spans)]
    Harness(tmp_path_factory.mktemp("o"), cli).attempt(b"\n".join(orjson.dumps(s) for s in spans) + b"\n")


observation = st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8), "type": st.sampled_from(
    ["GENERATION", "TOOL", "SPAN", "AGENT", "EVENT", "weird"])}, optional={
    "input": json_values | st.text(), "output": json_values | st.text(), "parentObservationId": st.text(max_size=8),
    "level": st.sampled_from(["DEFAULT", "ERROR", 3]), "startTime": st.text(max_size=30)})


@SETTINGS
@given(trace=st.dictionaries(st.sampled_from(["id", "sessionId", "timestamp", "scores", "name"]), json_values,
                             max_size=4),
       observations=st.lists(observation, max_size=4))
def test_langfuse_like_exports(tmp_path_factory, cli, trace, observations):
    body = {"trace": trace, "observations": observations}
    Harness(tmp_path_factory.mktemp("l"), cli).attempt(orjson.dumps(body), ".json")


any_value = st.recursive(
    st.builds(lambda v: {"stringValue": v}, st.text(max_size=20)) | st.builds(lambda v: {"intValue": v},
                                                                             st.integers(-2**63, 2**63 - 1) | st.text(max_size=5))
    | st.builds(lambda v: {"boolValue": v}, st.booleans()) | st.builds(lambda v: {"doubleValue": v}, st.floats())
    | st.just({}) | json_values,
    lambda c: st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(c, max_size=3))
    | st.builds(lambda kv: {"kvlistValue": {"values": [{"key": k, "value": v} for k, v in kv.items()]}},
                st.dictionaries(st.text(max_size=6), c, max_size=3)), max_leaves=8)
otlp_span = st.fixed_dictionaries({"spanId": st.sampled_from(["0123456789abcdef", "ASNFZ4mrze8=", "", "zz"]) | st.text(
    max_size=20)}, optional={
    "traceId": st.sampled_from(["0123456789abcdef0123456789abcdef", "ASNFZ4mrze8BI0VniavN7w=="]) | st.text(max_size=8),
    "parentSpanId": st.text(max_size=16), "name": json_values, "startTimeUnixNano": json_values,
    "status": st.fixed_dictionaries({}, optional={"code": json_values}) | json_values,
    "attributes": st.lists(st.fixed_dictionaries({"key": st.sampled_from(OI_KEYS) | st.text(max_size=6),
                                                  "value": any_value}), max_size=4) | json_values})


@SETTINGS
@given(spans=st.lists(otlp_span, max_size=3), resource=json_values)
def test_otlp_like_documents(tmp_path_factory, cli, spans, resource):
    doc = {"resourceSpans": [{"resource": {"attributes": resource}, "scopeSpans": [{"spans": spans}]}]}
    Harness(tmp_path_factory.mktemp("t"), cli).attempt(orjson.dumps(doc) + b"\n")


def test_deep_nesting_huge_lines_nul_and_bad_utf8(tmp_path, cli):
    h = Harness(tmp_path, cli)
    deep = dict(VALID)
    nested: dict = {}
    cursor = nested
    for _ in range(400):
        cursor["x"] = {}
        cursor = cursor["x"]
    deep["account"] = nested
    h.attempt(orjson.dumps(deep, option=orjson.OPT_PASSTHROUGH_DATACLASS) + b"\n" if False else
              json.dumps(deep).encode() + b"\n")
    h.attempt(b"[" * 5000 + b"]" * 5000 + b"\n")
    h.attempt(b"{\"session_id\": \"" + b"A" * 5_000_000 + b"\", \"turns\": []}\n")
    h.attempt(orjson.dumps(VALID) + b"\n\x00\n")
    h.attempt(orjson.dumps(VALID) + b"\n" + b"\xff\xfe{}\n")


toml_scalar = (st.text(max_size=20).map(json.dumps) | st.integers(-5, 5).map(str) | st.floats(-2, 2).map(repr)
               | st.booleans().map(lambda b: str(b).lower()))
toml_value = toml_scalar | st.lists(toml_scalar, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")


@SETTINGS
@given(rules=st.lists(st.dictionaries(st.sampled_from(["name", "title", "metric", "evaluators", "min", "max", "use",
                                                       "on_fail", "per", "tier", "intent", "bogus"]), toml_value,
                                      max_size=6), max_size=3),
       garbage=st.text(max_size=30))
def test_gate_files(tmp_path_factory, cli, rules, garbage):
    tmp = tmp_path_factory.mktemp("g")
    db = tmp / "g.db"
    shutil.copy(Harness(tmp, cli).db, db)
    text = "".join("[[rule]]\n" + "".join(f"{k} = {v}\n" for k, v in rule.items()) for rule in rules) + garbage
    gates = tmp / "gates.toml"
    gates.write_text(text)
    r = cli("gate", "--run", "seed", "--config", gates, "--db", db)
    assert r.code in (0, 1, 2)
    if r.code == 2:
        assert r.err.startswith(f"cstui: {gates}") and r.err.count("\n") == 1, r.err


@SETTINGS
@given(entries=st.dictionaries(st.sampled_from(["reviewer", "min_words", "max_words", "intent_tiers", "judge_model",
                                                "fallback_confidence", "assertion", "policy", "unknown_key"]),
                               toml_value, max_size=4))
def test_config_files(tmp_path_factory, cli, monkeypatch, entries):
    tmp = tmp_path_factory.mktemp("c")
    config = tmp / "cstui.toml"
    config.write_text("".join(f"{k} = {v}\n" for k, v in entries.items()))
    monkeypatch.setenv("CSTUI_CONFIG", str(config))
    r = cli("config", "show")
    assert r.code in (0, 2)
    if r.code == 2:
        assert r.err.startswith(f"cstui: {config}") and r.err.count("\n") == 1, r.err
