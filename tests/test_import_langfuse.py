"""Langfuse trace exports from eleven agent frameworks: the conversation we import holds what Langfuse's own
ChatML view shows (the `*.chatml.json` beside each real export, derived by Langfuse itself)."""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest
from conftest import DATA

from cstui.ingest import detect_format
from cstui.ingest.langfuse import chatml
from cstui.store import Store

FIXTURES = DATA / "langfuse"
ALL = sorted(p.name.removesuffix(".trace.json") for p in FIXTURES.glob("*.trace.json"))
EXACT = ["openai-agents-2025-09-30", "langgraph-python-2025-08-22"]
ROLE = {"user": "customer", "assistant": "assistant", "model": "assistant", "tool": "tool", "system": "system"}


def _args(raw):
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def simplify_theirs(messages):
    out = []
    for m in messages:
        content = m.get("content", "")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        out.append((ROLE[m["role"]], text or "", [(c["name"], _args(c.get("arguments"))) for c in m.get("tool_calls") or []]))
    return out


def simplify_ours(messages):
    return [(m["role"], m["text"], [(c["name"], _args(c["arguments"])) for c in m["tool_calls"]]) for m in messages]


def observations(name):
    trace = json.loads((FIXTURES / f"{name}.trace.json").read_text())
    expected = json.loads((FIXTURES / f"{name}.chatml.json").read_text())
    return trace, expected, {o["id"]: o for o in trace["observations"]}


@pytest.mark.parametrize("name", EXACT)
def test_messages_match_langfuse_chatml_for_every_observation(name):
    _, expected, by_id = observations(name)
    for oid, exp in expected.items():
        for side in ("input", "output"):
            ours = chatml(by_id[oid][side])
            if exp[side]["success"]:
                assert ours is not None, (oid, side)
                assert simplify_ours(ours) == simplify_theirs(exp[side]["data"]), (oid, side)
            else:
                assert ours is None, (oid, side)  # Langfuse found no messages there either


def _content_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _calls_in_text(text: str) -> list[str]:
    """Koog writes the model's tool calls as JSON text; Langfuse shows that text as the message."""
    try:
        items = json.loads(text)
    except ValueError:
        return []
    if isinstance(items, list) and items and all(isinstance(i, dict) and "function" in i for i in items):
        return [i["function"]["name"] for i in items]
    return []


def langfuse_shows(expected: dict) -> tuple[set[str], set[str]]:
    """Every assistant text and every tool name in Langfuse's ChatML of any observation."""
    texts, tools = set(), set()
    for obs in expected.values():
        for side in ("input", "output"):
            result = obs.get(side)
            if not result or not result["success"]:
                continue
            for m in result["data"]:
                tools.update(c["name"] for c in m.get("tool_calls") or [])
                if m.get("role") not in ("assistant", "model"):
                    continue
                text = _content_text(m.get("content"))
                if calls := _calls_in_text(text):
                    tools.update(calls)
                elif text.strip():
                    texts.add(" ".join(text.split()))
    return texts, tools


def test_every_framework_imports_with_what_langfuse_shows(tmp_path, cli, capsys):
    found = total = 0
    lines = []
    for name in ALL:
        trace, expected, _ = observations(name)
        assert detect_format(trace) == "langfuse", name
        db = tmp_path / f"{name}.db"
        r = cli("import", FIXTURES / f"{name}.trace.json", "--run", "lf", "--db", db)
        assert r.code == 0, (name, r.err)
        with Store(db) as store:
            docs = [store.session_doc("lf", sid) for sid in store.session_ids("lf")]
        said = "\n".join(" ".join(t["text"].split()) for d in docs for t in d["turns"])
        called = {s["name"] for d in docs for s in d["spans"] if s["kind"] == "tool"}
        texts, tools = langfuse_shows(expected)
        hit = sum(t in said for t in texts) + len(tools & called)
        found, total = found + hit, total + len(texts) + len(tools)
        lines.append(f"{name}: {hit}/{len(texts) + len(tools)}")
        assert len(docs[0]["spans"]) >= len(trace["observations"])  # every observation kept
    share = found / total
    with capsys.disabled():
        print(f"\nLangfuse ChatML assistant texts and tool names found in the import: {found}/{total} = {share:.1%} "
              f"({', '.join(lines)})")
    assert share >= 0.95


def test_langgraph_conversation_is_the_latest_generations_and_tools_link_to_their_turn(tmp_path, cli):
    name = "langgraph-python-2025-08-22"
    trace, expected, _ = observations(name)
    db = tmp_path / "lf.db"
    r = cli("import", FIXTURES / f"{name}.trace.json", "--run", "lf", "--db", db)
    assert r.code == 0, r.err
    assert "(langfuse)" in r.out
    last = max((o for o in trace["observations"] if o["type"] == "GENERATION"), key=lambda o: o["startTime"])
    want = simplify_theirs(expected[last["id"]]["input"]["data"] + expected[last["id"]]["output"]["data"])
    with Store(db) as store:
        doc = store.session_doc("lf", store.session_ids("lf")[0])
        scores = {r["evaluator"]: r for r in store.iter_result_rows("lf")}
    assert [(t["role"], t["text"]) for t in doc["turns"]] == [(w[0], w[1]) for w in want]
    tools = [s for s in doc["spans"] if s["kind"] == "tool"]
    assert len(tools) == 1 and tools[0]["turn_index"] == next(
        i for i, t in enumerate(doc["turns"]) if t["role"] == "assistant")  # the turn that called it
    assert len(doc["spans"]) == len(trace["observations"])  # every observation kept, no duplicates
    assert {s["name"] for s in trace["trace"]["scores"]} == {k.split(":", 1)[1] for k in scores}
    assert all(r["rationale"] for r in scores.values())


def test_recorded_tool_executions_win_over_the_replayed_calls(tmp_path, cli):
    """Pydantic AI records three TOOL observations and replays the same three calls in the next
    generation's input: one span per execution, on the turn that made the call; the structured-output
    call nobody executed gets a synthetic span."""
    db = tmp_path / "lf.db"
    r = cli("import", FIXTURES / "pydantic-ai-tools-2025-12-04.trace.json", "--run", "lf", "--db", db)
    assert r.code == 0, r.err
    assert "3 tool calls" not in r.out and "4 tool calls (0 errors)" in r.out and "1 synthetic" in r.out
    with Store(db) as store:
        doc = store.session_doc("lf", store.session_ids("lf")[0])
    tools = [s for s in doc["spans"] if s["kind"] == "tool"]
    recorded = [s for s in tools if not s["attributes"].get("synthetic")]
    assert sorted(s["name"] for s in recorded) == ["get_dad_joke_suggestion", "get_one_liner_suggestion",
                                                   "get_pun_suggestion"]
    caller = doc["turns"][recorded[0]["turn_index"]]
    assert caller["role"] == "assistant" and all(s["turn_index"] == recorded[0]["turn_index"] for s in recorded)
    (synthetic,) = [s for s in tools if s["attributes"].get("synthetic")]
    assert synthetic["name"] == "final_result"


def test_a_trace_without_conversation_imports_its_spans_with_a_warning(tmp_path, cli):
    a = json.loads((FIXTURES / "openai-agents-2025-09-30.trace.json").read_text())
    silent = {"trace": {"id": "no-talk", "sessionId": None, "input": None, "output": None},
              "observations": [{"id": "x", "type": "SPAN", "name": "step", "input": "continue", "output": "end"}]}
    src = tmp_path / "both.json"
    src.write_text(json.dumps([a, silent]))
    db = tmp_path / "lf.db"
    r = cli("import", src, "--run", "two", "--db", db)
    assert r.code == 0, r.err
    assert "no conversation in any observation" in r.out and "1 warning" in r.out
    with Store(db) as store:
        doc = store.session_doc("two", "no-talk")
        stats = store.run("two")["import_stats"]
    assert doc["turns"] == [] and [s["span_id"] for s in doc["spans"]] == ["x"]
    assert stats["sessions"] == 2 and stats["warnings"] == 1


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
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps(a) + b"\n" + b'{"trace": {"id": "t"}, "observations": "not a list"}\n')
    r = cli("import", bad, "--run", "bad", "--db", db)
    assert r.code == 2 and f"{bad}:2:" in r.err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
