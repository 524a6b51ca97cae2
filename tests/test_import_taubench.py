"""Real τ-bench trajectories (tests/data/taubench, MIT): reused tool-call ids, errors, transfers, rewards.

Every expectation is computed here from the raw file, independently of the importer."""

from __future__ import annotations

import json

from conftest import DATA

from cstui.store import Store

SOURCE = DATA / "taubench" / "airline-reused-call-ids.json"


def expected_calls(traj: list[dict]) -> list[dict]:
    """One entry per `tool_calls` item, in order, with the tool message that answers it: the first later
    tool message with its id that no later call with the same id took first (the most recent open call)."""
    calls, open_by_id = [], {}
    for m_index, msg in enumerate(traj):
        for tc in msg.get("tool_calls") or []:
            call = {"name": tc["function"]["name"], "id": tc["id"], "message": m_index, "answer": None}
            calls.append(call)
            open_by_id.setdefault(tc["id"], []).append(call)
        if msg["role"] == "tool":
            waiting = open_by_id.get(msg["tool_call_id"])
            assert waiting, "the corpus has no orphan results"
            waiting.pop()["answer"] = msg["content"]
    return calls


def test_every_trajectory_imports_with_one_span_per_call_and_errors_on_the_call_they_answer(tmp_path, cli):
    raw = json.loads(SOURCE.read_text())
    assert all(len({tc["id"] for m in r["traj"] for tc in m.get("tool_calls") or []})
               < sum(len(m.get("tool_calls") or []) for m in r["traj"]) for r in raw)  # every one reuses an id
    db = tmp_path / "tau.db"
    r = cli("import", SOURCE, "--run", "tau", "--db", db)
    assert r.code == 0, r.err
    n_calls = sum(len(m.get("tool_calls") or []) for t in raw for m in t["traj"])
    n_errors = sum(m["role"] == "tool" and m["content"].startswith("Error") for t in raw for m in t["traj"])
    assert n_errors > 0
    assert f"{len(raw)} sessions" in r.out and f"{n_calls} tool calls ({n_errors} errors)" in r.out
    with Store(db) as store:
        for record in raw:
            sid = f"task-{record['task_id']}-trial-{record['trial']}"
            doc = store.session_doc("tau", sid)
            spans = [s for s in doc["spans"] if s["kind"] == "tool"]
            want = expected_calls(record["traj"])
            assert len(spans) == len(want)
            assert len({s["span_id"] for s in doc["spans"]}) == len(doc["spans"])  # unique per session
            for span, call in zip(spans, want, strict=True):
                assert span["name"] == call["name"] and span["attributes"]["call_id"] == call["id"]
                assert span["turn_index"] == call["message"]  # one turn per message
                assert span["attributes"]["result"] == call["answer"]
                assert span["status"] == ("error" if call["answer"].startswith("Error") else "ok")
            resolved = store.conn.execute("SELECT resolved, correct FROM sessions WHERE run='tau' AND session_id=?",
                                          (sid,)).fetchone()
            assert resolved == (int(record["reward"] == 1), int(record["reward"] == 1))
            transferred = any(c["name"] == "transfer_to_human_agents" for c in want)
            assert store.conn.execute("SELECT escalated FROM sessions WHERE run='tau' AND session_id=?",
                                      (sid,)).fetchone()[0] == int(transferred)
        stats = store.run("tau")["import_stats"]
    assert (stats["tool_calls"], stats["tool_errors"], stats["orphan_spans"]) == (n_calls, n_errors, 0)


def test_a_result_that_answers_no_call_is_kept_as_an_orphan_with_a_warning(tmp_path, cli):
    traj = [{"role": "user", "content": "cancel it"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "cancel_reservation", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "name": "cancel_reservation", "content": "ok"},
            {"role": "tool", "tool_call_id": "c1", "name": "cancel_reservation", "content": "Error: twice"},
            {"role": "assistant", "content": "Done."}]
    src = tmp_path / "orphan.json"
    src.write_text(json.dumps([{"task_id": 1, "trial": 0, "reward": 0.0, "traj": traj}]))
    db = tmp_path / "o.db"
    r = cli("import", src, "--run", "o", "--db", db)
    assert r.code == 0, r.err
    assert "1 orphan" in r.out and f"{src}:1: task-1-trial-0: message 3" in r.out
    with Store(db) as store:
        doc = store.session_doc("o", "task-1-trial-0")
    call, orphan = [s for s in doc["spans"] if s["kind"] == "tool"]
    assert call["status"] == "ok" and call["attributes"]["result"] == "ok"
    assert orphan["attributes"]["orphan"] is True and orphan["status"] == "error" and orphan["turn_index"] == 3
