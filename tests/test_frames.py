"""The columnar snapshots behind metrics never serve stale data."""

from __future__ import annotations

import orjson

from cstui import evaluation
from cstui.store import Store


def test_snapshots_follow_imports_reruns_and_labels(demo_db, cli, tmp_path):
    with Store(demo_db) as store:
        before = store.sessions_frame("candidate")
        assert store.conn.execute("SELECT count(*) FROM frame_cache WHERE run = 'candidate'").fetchone()[0] >= 1
        assert store.sessions_frame("candidate").equals(before)  # served from the snapshot

        doc = orjson.loads(store.session_json_chunks([int(before["sid"][0])], 1).__next__()[0][1])
    doc["session_id"] = "NEW-1"
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes(orjson.dumps(doc) + b"\n")
    assert cli("import", extra, "--run", "candidate", "--append", "--db", demo_db).code == 0
    with Store(demo_db) as store:
        after = store.sessions_frame("candidate")
        assert after.height == before.height + 1 and "NEW-1" in after["session_id"].to_list()
        results = store.results_frame("candidate")
        assert results.filter(results["sid"] == after["sid"].max()).is_empty()  # not evaluated yet
        evaluation.run(store, "candidate", ["pii_leak"], ["NEW-1"])
        results = store.results_frame("candidate")
        assert results.filter(results["sid"] == after["sid"].max()).height == 1

        sid = "S-000099"
        store.add_label("candidate", {"session_id": sid, "tier": 3, "correct": True}, reviewer="r")
        relabelled = store.sessions_frame("candidate").filter(store.sessions_frame("candidate")["session_id"] == sid)
        assert relabelled["tier"][0] == 3 and relabelled["correct"][0] is True
