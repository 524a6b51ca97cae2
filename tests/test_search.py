"""Full-text search over turns and tool results: the CLI, its agreement with the raw file, staying in sync
with --append/--replace, and the failures list's `/`."""

from __future__ import annotations

import json

import orjson

from cstui.demo import sample_file


def raw_sessions_saying(phrase: str) -> set[str]:
    """Read independently of cstui: candidate sessions whose turn texts contain the phrase."""
    out = set()
    for line in sample_file("candidate.jsonl").read_text().splitlines():
        doc = orjson.loads(line)
        if any(phrase in " ".join((t.get("text") or "").lower().split()) for t in doc["turns"]):
            out.add(doc["session_id"])
    return out


def test_search_finds_every_session_that_says_the_phrase(demo_db, cli):
    r = cli("search", "has been processed", "--run", "candidate", "--json", "--limit", "1000", "--db", demo_db)
    assert r.code == 0, r.err
    hits = json.loads(r.out)
    expected = raw_sessions_saying("has been processed")
    assert expected and {h["session_id"] for h in hits} == expected
    assert all("[has been processed]" in h["snippet"].lower() and h["place"].startswith("turn ") for h in hits)
    tool = json.loads(cli("search", "payment processor timeout", "--run", "candidate", "--json", "--db", demo_db).out)
    assert tool and all(h["place"].startswith("span ") for h in tool)
    text = cli("search", "has been processed", "--run", "candidate", "--db", demo_db)
    assert f"{len(hits)} hit(s)" in text.out


def test_the_index_follows_append_and_replace(tmp_path, cli):
    def session(sid: str, text: str) -> bytes:
        return orjson.dumps({"session_id": sid, "turns": [{"role": "customer", "text": "hello"},
                                                          {"role": "assistant", "text": text}]}) + b"\n"

    first, more, again = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    first.write_bytes(session("A", "your parcel left the depot"))
    more.write_bytes(session("B", "the voucher code is ZEBRA"))
    again.write_bytes(session("C", "nothing to see"))
    db = tmp_path / "s.db"

    def found(phrase: str) -> set[str]:
        return {h["session_id"] for h in json.loads(cli("search", phrase, "--run", "r", "--json", "--db", db).out)}

    assert cli("import", first, "--run", "r", "--db", db).code == 0
    assert found("left the depot") == {"A"}
    assert cli("import", more, "--run", "r", "--append", "--db", db).code == 0
    assert found("voucher code") == {"B"} and found("left the depot") == {"A"}
    assert cli("import", again, "--run", "r", "--replace", "--db", db).code == 0
    assert found("left the depot") == set() and found("voucher code") == set() and found("nothing to see") == {"C"}
    assert cli("import", first, "--run", "other", "--db", db).code == 0  # another run's rows stay apart
    assert found("left the depot") == set()


async def test_slash_in_the_failures_list_searches_what_was_said(demo_db):
    from textual.widgets import Input
    from tuikit import settle

    from cstui.app import create_app
    from cstui.triage import FailureFilter
    from cstui.widgets.failure_table import FailureTable

    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.open_failures(FailureFilter())
        await settle(pilot)
        assert app.screen.index_state == "missing"  # a fresh run: nothing indexed until someone searches
        await pilot.press("slash")
        app.screen.query_one("#search", Input).value = "payment processor timeout"
        await pilot.pause()
        assert app.screen.index_state == "building"
        assert "indexing what was said" in str(app.screen.query_one("#status").render())
        for _ in range(3):  # the index (built in a process of its own), then the search it was waiting for
            await settle(pilot)
        assert app.screen.index_state == "ready"
        shown = set(app.screen.query_one(FailureTable).visible_session_ids())
        assert shown and "S-000099" in shown  # its failed refund call said so; no id or intent does
        table = app.screen.query_one(FailureTable)
        table.focus()
        await pilot.press("enter")  # a hit opens on the words searched for, highlighted (issue 36)
        await settle(pilot)
        needle, hits, at = app.screen._find
        assert needle == "payment processor timeout" and hits and at == 0


async def test_typing_filters_at_once_and_searches_what_was_said_when_typing_pauses(demo_db):
    from tuikit import settle

    from cstui.app import create_app
    from cstui.screens.failures import SEARCH_PAUSE
    from cstui.store import Store
    from cstui.triage import FailureFilter
    from cstui.widgets.failure_table import FailureTable

    with Store(demo_db) as store:
        store.index_for_search("candidate")
    app = create_app(demo_db, run="candidate")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.open_failures(FailureFilter())
        await settle(pilot)
        assert app.screen.index_state == "ready"
        table = app.screen.query_one(FailureTable)
        await pilot.press("slash", *"payment processor")
        await pilot.pause()
        assert table.row_count == 0  # no id, intent or evaluator name says it, and the search waits for a pause
        assert not [w for w in app.workers if w.group == "search"]
        await pilot.pause(SEARCH_PAUSE + 0.1)
        await settle(pilot)
        assert "S-000099" in set(table.visible_session_ids())  # its failed refund call said so
        await pilot.press("backspace", *"x")  # "payment processox": the old hits go at once
        await pilot.pause()
        assert table.row_count == 0


def test_indexing_in_a_child_process_reports_its_failure(tmp_path):
    from types import SimpleNamespace

    import pytest

    from cstui.store.opening import file_uri
    from cstui.store.search import index_in_subprocess

    broken = SimpleNamespace(path=tmp_path, opened=SimpleNamespace(uri=file_uri(tmp_path)), read_only_connection=False)
    with pytest.raises(RuntimeError, match="database"):
        index_in_subprocess(broken, "r")  # a directory, not a database


def test_system_prompts_are_searched_only_when_asked_for_and_an_old_index_is_rebuilt(tmp_path, cli):
    """One policy phrase in a system prompt would match every session: left out unless the query starts "system:".
    An index written in the previous format (system turns as "turn N") is rebuilt on the next search."""
    import sqlite3

    src = tmp_path / "s.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"session_id": sid, "turns": [
        {"role": "system", "text": "Refunds within 30 days of purchase."},
        {"role": "customer", "text": said}, {"role": "assistant", "text": "ok"}]}) + b"\n"
        for sid, said in (("A", "can I get refunds within 30 days?"), ("B", "where is my parcel"))))
    db = tmp_path / "s.db"
    assert cli("import", src, "--run", "r", "--db", db).code == 0

    def found(phrase: str) -> list[tuple[str, str]]:
        r = cli("search", phrase, "--run", "r", "--json", "--db", db)
        assert r.code == 0, r.err
        return sorted((h["session_id"], h["place"]) for h in json.loads(r.out))

    assert found("refunds within 30 days") == [("A", "turn 1")]
    assert found("system: refunds within 30 days") == [("A", "system 0"), ("A", "turn 1"), ("B", "system 0")]
    with sqlite3.connect(db) as conn:  # as the previous format left it: the run's own name, system turns as turns
        conn.execute("UPDATE search SET place = 'turn 0' WHERE place = 'system 0'")
        conn.execute("UPDATE search_runs SET run = 'r'")
    assert found("refunds within 30 days") == [("A", "turn 1")]  # rebuilt, not read stale
