"""Importing native and OpenAI/τ-bench files through the real CLI into a real SQLite file."""

import hashlib
import json
from pathlib import Path

import orjson
import pytest

from cstui.demo import sample_file
from cstui.store import Store

NATIVE = [
    {"schema": "cstui.session/v1", "session_id": "N-1", "intent": "refund_request", "channel": "chat",
     "custom_field": {"kept": True},
     "turns": [{"role": "customer", "text": "refund please"},
               {"role": "assistant", "text": "Done, refunded.", "confidence": 0.8, "citations": ["KB-1"]}],
     "spans": [{"span_id": "a", "kind": "tool", "name": "issue_refund", "turn_index": 1, "status": "ok",
                "attributes": {"arguments": {"amount": 5}, "side_effect": True}}],
     "outcome": {"correct": True, "resolved": True}},
    {"schema": "cstui.session/v1", "session_id": "N-2", "tier": 3, "intent": "billing_dispute",
     "turns": [{"role": "customer", "text": "this charge is wrong"}, {"role": "assistant", "text": "transferring"}],
     "spans": [{"span_id": "e", "kind": "escalation", "turn_index": 1}]},
]
KB = [{"schema": "cstui.kb/v1", "id": "KB-1", "revision": 1, "status": "deprecated", "title": "old", "body": "60 days"},
      {"schema": "cstui.kb/v1", "id": "KB-1", "revision": 2, "status": "current", "title": "new", "body": "30 days"}]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_native_import_indexes_sessions_and_derives_tier(tmp_path, cli):
    db = tmp_path / "t.db"
    r = cli("import", write_jsonl(tmp_path / "s.jsonl", NATIVE), "--kb", write_jsonl(tmp_path / "kb.jsonl", KB),
            "--run", "r1", "--db", db)
    assert r.code == 0, r.err
    assert "2 sessions" in r.out and "2 KB revisions" in r.out
    with Store(db) as store:
        rows = {r[0]: r[1:] for r in store.conn.execute(
            "SELECT session_id, tier, escalated, confidence, n_spans FROM sessions WHERE run='r1'")}
        assert rows["N-1"] == (2, 0, 0.8, 1)      # tier derived from intent via the default map
        assert rows["N-2"] == (3, 1, None, 1)     # escalation span marks it escalated
        assert store.run("r1")["source_format"] == "native"
        assert [a.revision for a in store.kb_articles("r1")] == [1, 2]
        s = store.session("r1", "N-1")
        assert s.spans[0].attributes["side_effect"] is True


def test_export_gives_back_the_native_documents(tmp_path, cli):
    db, src = tmp_path / "t.db", write_jsonl(tmp_path / "s.jsonl", NATIVE)
    assert cli("import", src, "--run", "r", "--db", db).code == 0
    out = tmp_path / "out.jsonl"
    assert cli("export", "--run", "r", "--what", "sessions", "--format", "jsonl", "--out", out, "--db", db).code == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == NATIVE


def test_demo_sessions_round_trip_through_the_store(demo_db, tmp_path, cli):
    out = tmp_path / "cand.jsonl"
    assert cli("export", "--run", "candidate", "--what", "sessions", "--out", out, "--db", demo_db).code == 0
    original = [orjson.loads(line) for line in sample_file("candidate.jsonl").read_bytes().splitlines()]
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == original


@pytest.mark.parametrize("line, reason", [
    ('{"schema": "cstui.session/v1", "session_id": "X", "turns": [{"role": "customer", "text": "x"}]', "invalid JSON"),
    ('{"schema": "cstui.session/v1", "session_id": "X", "turns": []}', "turns"),
    ('{"schema": "cstui.session/v1", "session_id": "X", "turns": [{"role": "robot"}]}', "turns.0.role"),
    ('{"schema": "cstui.session/v1", "session_id": "N-1", "turns": [{"role": "customer"}]}', "duplicate session_id"),
    ('{"schema": "cstui.session/v1", "session_id": "X", "turns": [{"role": "customer"}], '
     '"spans": [{"span_id": "a", "turn_index": 9}]}', "turn_index 9"),
    ('{"schema": "cstui.session/v1", "session_id": "X", "turns": [{"role": "customer"}], '
     '"spans": [{"span_id": "a", "parent_id": "b"}, {"span_id": "b", "parent_id": "a"}]}', "cycle"),
    ('{"schema": "cstui.session/v1", "session_id": "X", "turns": [{"role": "customer"}], '
     '"spans": [{"span_id": "a", "parent_id": "zzz"}]}', "unknown parent"),
    ('[1, 2]', "expected a JSON object"),
])
def test_a_bad_line_rejects_the_file_and_leaves_the_db_byte_identical(tmp_path, cli, demo_db, line, reason):
    good = "".join(json.dumps(r) + "\n" for r in NATIVE)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good + "\n" + line + "\n")  # blank line 3, bad record on line 4
    before = digest(demo_db)
    r = cli("import", bad, "--run", "newrun", "--db", demo_db)
    assert r.code == 2
    assert f"{bad}:4:" in r.err and reason in r.err, r.err
    assert r.err.count("\n") == 1  # one line, no traceback
    assert digest(demo_db) == before
    with Store(demo_db) as store:
        assert not store.has_run("newrun")


def test_invalid_utf8_is_reported_with_its_line(tmp_path, cli):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(json.dumps(NATIVE[0]).encode() + b"\n" + b'{"session_id": "\xff\xfe"}\n')
    r = cli("import", bad, "--run", "r", "--db", tmp_path / "new.db")
    assert r.code == 2 and f"{bad}:2: invalid UTF-8" in r.err
    assert not (tmp_path / "new.db").exists()  # a failed first import leaves no database behind


def test_existing_run_needs_replace_or_append(tmp_path, cli):
    db, src = tmp_path / "t.db", write_jsonl(tmp_path / "s.jsonl", NATIVE)
    assert cli("import", src, "--run", "r", "--db", db).code == 0
    r = cli("import", src, "--run", "r", "--db", db)
    assert r.code == 2 and "--replace or --append" in r.err
    assert cli("import", src, "--run", "r", "--replace", "--db", db).code == 0
    more = write_jsonl(tmp_path / "more.jsonl", [{**NATIVE[0], "session_id": "N-3"}])
    assert cli("import", more, "--run", "r", "--append", "--db", db).code == 0
    with Store(db) as store:
        assert store.run("r")["n_sessions"] == 3
    r = cli("import", src, "--run", "r", "--append", "--db", db)  # same ids again: duplicates
    assert r.code == 2 and "duplicate session_id 'N-1'" in r.err


def test_duplicates_are_caught_when_the_id_filter_can_only_say_maybe(tmp_path, cli, monkeypatch):
    """The import remembers ids in a fixed-size filter; with 16 bits every id collides, so the batch being
    written and the run's index decide — across batches, and against an earlier import."""
    from cstui.store import runs

    monkeypatch.setattr(runs, "BATCH", 3)
    monkeypatch.setattr(runs.SeenIds, "BITS", 4)
    db = tmp_path / "t.db"
    rows = [{**NATIVE[0], "session_id": f"N-{i}"} for i in range(10)]
    assert cli("import", write_jsonl(tmp_path / "a.jsonl", rows), "--run", "r", "--db", db).code == 0
    late = write_jsonl(tmp_path / "b.jsonl", [{**NATIVE[0], "session_id": "M-1"},
                                              {**NATIVE[0], "session_id": "M-2"}, {**NATIVE[0], "session_id": "M-3"},
                                              {**NATIVE[0], "session_id": "M-4"}, {**NATIVE[0], "session_id": "M-1"}])
    r = cli("import", late, "--run", "s", "--db", db)
    assert r.code == 2 and f"{late}:5: duplicate session_id 'M-1'" in r.err  # M-1 was flushed two batches back
    r = cli("import", write_jsonl(tmp_path / "c.jsonl", [{**NATIVE[0], "session_id": "N-7"}]), "--run", "r",
            "--append", "--db", db)
    assert r.code == 2 and "duplicate session_id 'N-7'" in r.err
    with Store(db) as store:
        assert store.run("r")["n_sessions"] == 10 and store.conn.execute(
            "SELECT count(*) FROM sessions WHERE run = 's'").fetchone()[0] == 0


def test_kb_with_two_current_revisions_is_rejected(tmp_path, cli):
    kb = write_jsonl(tmp_path / "kb.jsonl", [KB[1], {**KB[1], "revision": 3}])
    r = cli("import", write_jsonl(tmp_path / "s.jsonl", NATIVE), "--kb", kb, "--run", "r", "--db", tmp_path / "t.db")
    assert r.code == 2 and f"{kb}:2: second current revision of KB-1" in r.err


# ------------------------------------------------------------------------------------- OpenAI / τ-bench
def tau_results() -> list[dict]:
    """Two trials in the shape of the public τ-bench results files (retail domain)."""
    def call(cid, name, args):
        return {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}

    system = {"role": "system", "content": "# Retail agent policy\nYou can cancel pending orders..."}
    ok_traj = [
        system,
        {"role": "user", "content": "Hi, I want to cancel my order #W2378156, I ordered it by mistake."},
        {"role": "assistant", "content": None, "tool_calls": [call("c1", "get_order_details", {"order_id": "#W2378156"})]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_order_details", "content": '{"status": "pending"}'},
        {"role": "assistant", "content": "Shall I cancel order #W2378156 for the reason 'ordered by mistake'?"},
        {"role": "user", "content": "Yes please."},
        {"role": "assistant", "content": None, "tool_calls": [
            call("c2", "cancel_pending_order", {"order_id": "#W2378156", "reason": "ordered by mistake"})]},
        {"role": "tool", "tool_call_id": "c2", "name": "cancel_pending_order", "content": '{"status": "cancelled"}'},
        {"role": "assistant", "content": "Your order #W2378156 has been cancelled."},
    ]
    loop_traj = [
        system,
        {"role": "user", "content": "Change the address on order #W1 to 1 Main St."},
        *[m for i in range(3) for m in (
            {"role": "assistant", "content": None,
             "tool_calls": [call(f"x{i}", "modify_pending_order_address", {"order_id": "#W1", "address1": "1 Main St"})]},
            {"role": "tool", "tool_call_id": f"x{i}", "name": "modify_pending_order_address",
             "content": "Error: non-pending order cannot be modified"})],
        {"role": "assistant", "content": "I'll transfer you to a human agent.",
         "tool_calls": [call("t1", "transfer_to_human_agents", {"summary": "address change failed"})]},
        {"role": "tool", "tool_call_id": "t1", "name": "transfer_to_human_agents", "content": "Transfer successful"},
    ]
    return [
        {"task_id": 12, "reward": 1.0, "trial": 0, "traj": ok_traj,
         "info": {"task": {"user_id": "yusuf_1", "instruction": "cancel #W2378156",
                           "actions": [{"name": "cancel_pending_order", "kwargs": {"order_id": "#W2378156"}}]}}},
        {"task_id": 40, "reward": 0.0, "trial": 1, "traj": loop_traj, "info": {}},
    ]


def test_tau_bench_results_become_sessions_with_tool_spans(tmp_path, cli):
    src = tmp_path / "tau_results.json"
    src.write_text(json.dumps(tau_results(), indent=2))
    db = tmp_path / "t.db"
    r = cli("import", src, "--run", "taubench", "--db", db)
    assert r.code == 0, r.err
    assert "(openai)" in r.out
    with Store(db) as store:
        ok = store.session("taubench", "task-12-trial-0")
        assert [t.role for t in ok.turns][:3] == ["system", "customer", "assistant"]
        assert ok.outcome.correct is True and ok.outcome.resolved is True
        cancel = next(s for s in ok.spans if s.name == "cancel_pending_order")
        assert cancel.kind == "tool" and cancel.status == "ok" and cancel.turn_index == 6
        assert cancel.attributes["arguments"] == {"order_id": "#W2378156", "reason": "ordered by mistake"}
        assert cancel.attributes["result"] == '{"status": "cancelled"}'
        assert ok.reference["actions"][0]["name"] == "cancel_pending_order"
        assert ok.tier == 2  # inferred: it takes actions

        loop = store.session("taubench", "task-40-trial-1")
        statuses = [(s.name, s.status) for s in loop.spans]
        assert statuses.count(("modify_pending_order_address", "error")) == 3
        assert ("transfer_to_human_agents", "ok") in statuses
        assert loop.outcome.escalated is True and loop.outcome.correct is False
        esc = dict(store.conn.execute("SELECT session_id, escalated FROM sessions WHERE run='taubench'").fetchall())
        assert esc == {"task-12-trial-0": 0, "task-40-trial-1": 1}


def test_openai_messages_jsonl_and_forced_format(tmp_path, cli):
    rows = [{"id": "conv-1", "intent": "order_status", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "where is my parcel"}]},
        {"role": "assistant", "content": "It shipped yesterday."}]}]
    src = write_jsonl(tmp_path / "chats.jsonl", rows)
    db = tmp_path / "t.db"
    assert cli("import", src, "--run", "c", "--format", "openai", "--db", db).code == 0
    with Store(db) as store:
        s = store.session("c", "conv-1")
        assert s.turns[0].text == "where is my parcel" and s.tier == None  # noqa: E711  (tier from intent map)
        assert store.conn.execute("SELECT tier FROM sessions").fetchone()[0] == 1
    r = cli("import", src, "--run", "c2", "--format", "native", "--db", db)
    assert r.code == 2 and f"{src}:1:" in r.err


def test_an_unreadable_message_is_a_counted_warning_naming_the_element_line_and_strict_refuses_it(tmp_path, cli):
    data = tau_results()
    data[1]["traj"][1]["role"] = "wizard"
    src = tmp_path / "tau.json"
    text = json.dumps(data, indent=1)
    src.write_text(text)
    line = text[: text.index('"task_id": 40')].count("\n")  # the element's "{" is on the line before
    r = cli("import", src, "--run", "t", "--db", tmp_path / "t.db")
    assert r.code == 0, r.err
    assert f"warning: {src}:{line}: " in r.out and "dropped message 1: unknown role 'wizard'" in r.out, r.out
    assert "1 dropped" in r.out and "1 warning" in r.out
    strict = cli("import", src, "--run", "t2", "--db", tmp_path / "s.db", "--strict")
    assert strict.code == 2 and "--strict" in strict.err and f"{src}:{line}:" in strict.err, strict.err
    assert not (tmp_path / "s.db").exists()  # nothing written


def test_two_calls_of_one_tool_with_different_ids_stay_two_turns_when_histories_are_merged():
    """Identity by call, not by text (issue 33): a step whose history lost the first call's assistant turn must
    not fold the second call into the first; the same call seen again (same id) is still one turn."""
    from cstui.ingest.messages import Message, ToolCall, merge_histories

    def call(call_id, query):
        return Message("assistant", "", [ToolCall("search", call_id, {"q": query})])

    user = Message("customer", "find flights to Paris and then to Rome")
    step1 = [user, call("c1", "paris")]
    step2 = [user, Message("tool", "3 flights", tool_call_id="c1"), call("c2", "rome")]  # c1's turn not logged
    step3 = [user, call("c1", "paris"), Message("tool", "3 flights", tool_call_id="c1"), call("c2", "rome"),
             Message("tool", "3 flights", tool_call_id="c2"), Message("assistant", "Paris and Rome both have 3.")]
    merged, _ = merge_histories([step1, step2, step3])
    calls = [c.id for m in merged for c in m.tool_calls]
    assert calls == ["c1", "c2"]
    assert [m.tool_call_id for m in merged if m.role == "tool"] == ["c1", "c2"]  # same text, two results
    no_ids = merge_histories([[user, Message("assistant", "", [ToolCall("search", None, {"q": "paris"})])],
                              [user, Message("assistant", "", [ToolCall("search", None, {"q": "rome"})])]])[0]
    assert [c.arguments for m in no_ids for c in m.tool_calls] == [{"q": "paris"}, {"q": "rome"}]


def test_a_tool_result_whose_role_is_the_tools_name_keeps_the_history():
    """LangChain JS writes `{"role": "<tool name>", "tool_call_id": …}`: one unknown role used to make the whole
    history unreadable (issue 33, item 3); it is the result of that call."""
    from cstui.ingest.messages import normalize

    history = [{"role": "user", "content": "weather in Paris?"},
               {"role": "assistant", "content": "", "tool_calls": [
                   {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
               {"role": "get_weather", "tool_call_id": "c1", "content": "sunny"},
               {"role": "assistant", "content": "It is sunny."}]
    got = normalize(history)
    assert [m.role for m in got] == ["customer", "assistant", "tool", "assistant"]
    assert (got[2].name, got[2].tool_call_id, got[2].text) == ("get_weather", "c1", "sunny")


def test_maia_dqe_chats_import_as_they_are_with_the_annotators_labels_beside_them(tmp_path, cli):
    """The real-customer corpus (CC BY-ND: kept verbatim in tests/data/validation/maia) is read by `cstui import`;
    the customer's English is the machine translation, the agent's the original, emotions kept per customer turn."""
    import sys

    from conftest import DATA

    from cstui.store import Store

    src = DATA / "validation" / "maia" / "pt_br_client_02_a.json"
    db = tmp_path / "m.db"
    r = cli("import", src, "--run", "maia", "--db", db)
    assert r.code == 0 and "(maia): 113 sessions, 2,850 turns" in r.out, r.out
    raw = orjson.loads(src.read_bytes())[0]
    with Store(db) as store:
        doc = store.session_doc("maia", raw["id"])
    first = raw["turns"][0]
    assert doc["turns"][0] == {"role": "customer", "text": " ".join(first["text_mt"]),
                               "emotions": ["neutral", "confusion", "neutral", "neutral", "neutral"]}
    assert doc["turns"][1]["role"] == "assistant" and doc["turns"][1]["text"].startswith("Hello #NAME#!")
    assert doc["source"]["task_success"] == raw["dialog"]["Task Sucess"]
    sys.path.insert(0, str(DATA / "validation"))
    from build import maia_part

    parts = [maia_part(d["id"]) for d in orjson.loads(src.read_bytes())]
    assert parts.count("held-out") == 43 and parts.count("dev") == 70
