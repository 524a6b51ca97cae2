"""Langfuse trace exports: the conversation we derive matches the ChatML Langfuse itself derived."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import DATA

from cstui.ingest import detect_format
from cstui.ingest.langfuse import chatml
from cstui.store import Store

FIXTURES = DATA / "langfuse"
NAMES = ["openai-agents-2025-09-30", "langgraph-python-2025-08-22"]


def simplify(messages):
    """Roles, order, text and tool calls: what a conversation is, without per-SDK decoration."""
    out = []
    for m in messages:
        content = m.get("content", m.get("text", ""))
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        calls = [(c.get("name"), c.get("arguments")) for c in m.get("tool_calls") or []]
        out.append((m["role"], text or "", calls))
    return out


def observations(name):
    trace = json.loads((FIXTURES / f"{name}.trace.json").read_text())
    expected = json.loads((FIXTURES / f"{name}.chatml.json").read_text())
    return trace, expected, {o["id"]: o for o in trace["observations"]}


@pytest.mark.parametrize("name", NAMES)
def test_messages_match_langfuse_chatml_for_every_observation(name):
    _, expected, by_id = observations(name)
    for oid, exp in expected.items():
        for side in ("input", "output"):
            ours = chatml(by_id[oid][side])
            if exp[side]["success"]:
                assert ours is not None, (oid, side)
                assert simplify(ours) == simplify(exp[side]["data"]), (oid, side)
            else:
                assert ours is None, (oid, side)  # Langfuse found no messages there either


@pytest.mark.parametrize("name", NAMES)
def test_import_derives_the_conversation_of_the_latest_generation(name, tmp_path, cli):
    trace, expected, by_id = observations(name)
    assert detect_format(trace) == "langfuse"
    db = tmp_path / "lf.db"
    r = cli("import", FIXTURES / f"{name}.trace.json", "--run", "lf", "--db", db)
    assert r.code == 0, r.err
    assert "(langfuse)" in r.out
    last = max((o for o in trace["observations"] if o["type"] == "GENERATION"), key=lambda o: o["startTime"])
    want = simplify(expected[last["id"]]["input"]["data"] + expected[last["id"]]["output"]["data"])
    role = {"user": "customer", "assistant": "assistant", "tool": "tool", "system": "system"}
    with Store(db) as store:
        doc = store.session_doc("lf", store.session_ids("lf")[0])
        scores = {r["evaluator"]: r for r in store.iter_result_rows("lf")}
    assert [(t["role"], t["text"]) for t in doc["turns"]] == [(role[w[0]], w[1]) for w in want]
    tools = [s for s in doc["spans"] if s["kind"] == "tool"]
    assert len(tools) == 1 and tools[0]["turn_index"] == next(
        i for i, t in enumerate(doc["turns"]) if t["role"] == "assistant")  # the turn that called it
    assert len(doc["spans"]) == len(trace["observations"])  # every observation kept, no duplicates
    assert {s["name"] for s in trace["trace"]["scores"]} == {k.split(":", 1)[1] for k in scores}
    assert all(r["rationale"] for r in scores.values())


def test_list_of_exports_groups_by_session_and_bad_input_is_rejected(tmp_path, cli):
    a = json.loads((FIXTURES / "openai-agents-2025-09-30.trace.json").read_text())
    b = json.loads((FIXTURES / "langgraph-python-2025-08-22.trace.json").read_text())
    a["trace"]["sessionId"] = b["trace"]["sessionId"] = None
    both = tmp_path / "both.json"
    both.write_text(json.dumps([a, b]))
    db = tmp_path / "lf.db"
    assert cli("import", both, "--run", "two", "--db", db).code == 0
    with Store(db) as store:
        assert len(store.session_ids("two")) == 2
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    broken = json.loads(json.dumps(a))
    broken["trace"]["id"] = "another-trace"
    broken["observations"] = [{"id": "x", "type": "SPAN", "input": "continue", "output": "end"}]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([a, broken]))
    r = cli("import", bad, "--run", "bad", "--db", db)
    assert r.code == 2 and str(bad) in r.err and "no conversation" in r.err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
