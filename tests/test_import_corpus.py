"""The import corpus (issue 33): real exports of the frameworks and formats cstui reads, each with counts made by
reading the source (tests/data/imports/corpus.json; how each was counted is written beside it). An importer change
that loses or invents a turn, a call, an error or a system prompt in any of them fails here."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cstui.store import Store

ROOT = Path(__file__).parent.parent
CORPUS = json.loads((ROOT / "tests/data/imports/corpus.json").read_text())


def test_the_corpus_is_broad():
    assert len(CORPUS) >= 25 and len({e["framework"] for e in CORPUS}) >= 15
    assert {"tau2", "ai-sdk", "langfuse", "openinference", "openai", "maia"} <= {e["format"] for e in CORPUS}
    for entry in CORPUS:
        assert entry["source"] and entry["counted"], entry["path"]


@pytest.mark.parametrize("entry", CORPUS, ids=[Path(e["path"]).name for e in CORPUS])
def test_every_export_imports_faithful_to_its_hand_count(entry, tmp_path, cli):
    db = tmp_path / "c.db"
    r = cli("import", ROOT / entry["path"], "--run", "r", "--db", db, "--strict")
    assert r.code == 0, r.err  # --strict: nothing dropped
    assert f"({entry['format']})" in r.out
    turns: Counter[str] = Counter()
    calls = errors = customer_calls = with_system = 0
    with Store(db) as store:
        ids = store.session_ids("r")
        for sid in ids:
            doc = store.session_doc("r", sid)
            turns.update(t["role"] for t in doc["turns"])
            with_system += any(t["role"] == "system" for t in doc["turns"])
            for span in doc["spans"]:
                calls += span["kind"] == "tool"
                errors += span["kind"] == "tool" and span.get("status") == "error"
                customer_calls += span["kind"] == "customer_tool"
    assert len(ids) == entry["sessions"]
    assert dict(turns) == entry["turns"]
    assert (calls, errors, customer_calls) == (entry["tool_calls"], entry["tool_errors"], entry["customer_tool_calls"])
    assert with_system == entry["sessions_with_system_prompt"]


def test_a_sub_agent_keeps_its_own_conversation_out_of_the_customers(tmp_path, cli):
    src = ROOT / "tests/data/langfuse/pydantic-ai-tools-2025-12-04.trace.json"
    assert cli("import", src, "--run", "r", "--db", tmp_path / "c.db").code == 0
    with Store(tmp_path / "c.db") as store:
        doc = store.session_doc("r", store.session_ids("r")[0])
    said = " ".join(t["text"] for t in doc["turns"])
    assert "joke critic" not in said and "Rate this joke" not in said
    agents = [s for s in doc["spans"] if s["attributes"].get("sub_agent")]
    assert len(agents) == 1 and "joke critic" in agents[0]["attributes"]["system_prompt"]
    assert any(t["role"] == "customer" and "Rate this joke" in t["text"] for t in agents[0]["attributes"]["conversation"])


def test_customer_side_tool_calls_are_not_the_agents(tmp_path, cli):
    src = ROOT / "tests/data/imports/tau2-bench/telecom-gpt-4o-excerpt.json"
    assert cli("import", src, "--run", "r", "--db", tmp_path / "c.db").code == 0
    with Store(tmp_path / "c.db") as store:
        sessions = [store.session("r", sid) for sid in store.session_ids("r")]
    toggles = [s for x in sessions for s in x.spans if s.name == "toggle_airplane_mode"]
    assert toggles and all(s.kind == "customer_tool" for s in toggles)
    assert all(x.turns[s.turn_index].role == "customer" for x in sessions for s in x.spans if s.kind == "customer_tool")
    solved = [x for x in sessions if x.outcome.resolved]
    assert len(solved) == 2 and all(x.reference and x.reference.get("customer_actions") for x in sessions
                                   if x.session_id.startswith("42d46cdf"))
