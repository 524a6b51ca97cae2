"""Eval-set lifecycle: evidence export, golden set, sampling, schema and config."""

from __future__ import annotations

import json
from collections import Counter

import orjson
import polars as pl
import pytest

from cstui.store import Store


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_evidence_export_reads_back_equal_to_the_store(demo_db, cli, tmp_path, fmt):
    assert cli("label", "S-000099", "--run", "candidate", "--evaluator", "authorization_fabrication",
               "--verdict", "fail", "--note", "confirmed", "--db", demo_db).code == 0
    out = tmp_path / f"evidence.{fmt}"
    assert cli("export", "--run", "candidate", "--what", "evidence", "--format", fmt, "--out", out,
               "--db", demo_db).code == 0
    readers = {"jsonl": lambda f: pl.read_ndjson(f, infer_schema_length=None),
               "csv": lambda f: pl.read_csv(f, infer_schema_length=None), "parquet": pl.read_parquet}
    df = readers[fmt](out)
    assertions = df.filter(pl.col("record") == "assertion")
    with Store(demo_db) as store:
        stored = store.conn.execute("SELECT count(*) FROM results WHERE run = 'candidate' AND current = 1").fetchone()[0]
        drift = len(store.drift_events("candidate"))
    assert assertions.height == stored and df.filter(pl.col("record") == "drift_event").height == drift
    row = assertions.filter((pl.col("session_id") == "S-000099")
                            & (pl.col("evaluator") == "authorization_fabrication")).row(0, named=True)
    assert row["verdict"] == "fail" and row["human_verdict"] == "fail" and row["human_note"] == "confirmed"
    assert row["human_reviewer"] and row["human_at"] and row["evaluator_version"]
    assert row["system_version"] == "support-assistant 2.4.0-rc1 (prompt v14)"
    assert row["timestamp"]


def test_golden_set_add_export_reimport_and_gate(demo_db, cli, tmp_path):
    assert cli("golden", "add", "S-000099", "--run", "candidate", "--reason", "fabricated refund",
               "--db", demo_db).code == 0
    for sid in ("S-000118", "S-000128"):
        cli("label", sid, "--run", "candidate", "--evaluator", "authorization_fabrication", "--verdict", "fail",
            "--db", demo_db)
    r = cli("golden", "add", "--from-run", "candidate", "--evaluator", "authorization_fabrication", "--confirmed",
            "--db", demo_db)
    assert r.code == 0 and "added 2" in r.out
    listing = json.loads(cli("golden", "list", "--db", demo_db, "--json").out)
    assert [c["session_id"] for c in listing] == ["S-000099", "S-000118", "S-000128"]
    out = tmp_path / "golden.jsonl"
    assert cli("golden", "export", "--out", out, "--db", demo_db).code == 0
    exported = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert exported[0]["golden"]["reason"] == "fabricated refund"
    assert cli("import", out, "--run", "golden-copy", "--db", demo_db).code == 0
    with Store(demo_db) as store:
        for doc in exported:
            again = store.session_doc("golden-copy", doc["session_id"])
            assert again == doc  # re-imports to identical sessions

    gates = tmp_path / "gates.toml"
    gates.write_text('[[rule]]\nname = "regressions"\nmetric = "golden"\nmin = 1.0\non_fail = "block"\n')
    cand = json.loads(cli("gate", "--run", "candidate", "--config", gates, "--db", demo_db, "--json").out)
    base = json.loads(cli("gate", "--run", "baseline", "--config", gates, "--db", demo_db, "--json").out)
    assert cand["passed"] is False and cand["rules"][0]["n"] == 3
    assert set(cand["rules"][0]["failing_sessions"]) == {"S-000099", "S-000118", "S-000128"}
    assert base["passed"] is True and base["rules"][0]["n"] == 3


def test_sampling_is_reproducible_and_hits_target_proportions(demo_db, cli):
    target = "category:routine=0.6,edge=0.2,adversarial=0.1,safety=0.1"
    for name in ("slice-a", "slice-b"):
        r = cli("sample", "--run", "assist-prod", "--size", "40", "--by", "tier", "--seed", "5", "--into", name,
                "--db", demo_db)
        assert r.code == 0, r.err
    r = cli("sample", "--run", "candidate", "--size", "100", "--target", target, "--seed", "5", "--into", "slice-c",
            "--db", demo_db)
    assert r.code == 0, r.err
    with Store(demo_db) as store:
        a, b = store.session_ids("slice-a"), store.session_ids("slice-b")
        assert sorted(a) == sorted(b) and len(a) == 40
        tiers = Counter(store.sessions_frame("slice-a")["tier"].to_list())
        prod = Counter(store.sessions_frame("assist-prod")["tier"].to_list())
        for tier, n in tiers.items():
            assert abs(n - 40 * prod[tier] / sum(prod.values())) <= 1
        mix = Counter(store.sessions_frame("slice-c")["category"].to_list())
    assert mix == {"routine": 60, "edge": 20, "adversarial": 10, "safety": 10}
    rep = json.loads(cli("report", "--run", "slice-c", "--db", demo_db, "--json").out)
    assert rep["composition"]["strata"]["routine"] == {"n": 60, "share": 0.6, "target": 0.6}
    assert rep["composition"]["from"] == "candidate"


def test_schema_and_config_show(cli, tmp_path, monkeypatch):
    schema = json.loads(cli("schema").out)
    assert schema["title"] == "cstui.session/v1" and "turns" in schema["required"]
    assert "session_id" in schema["properties"]
    config = tmp_path / "cstui.toml"
    config.write_text('reviewer = "dana"\nmin_words = 40\n')
    monkeypatch.setenv("CSTUI_CONFIG", str(config))
    shown = json.loads(cli("config", "show", "--json").out)
    assert shown["values"]["reviewer"] == "dana" and shown["source"]["reviewer"] == str(config)
    assert shown["source"]["max_words"] == "default"
    assert "dana" in cli("config", "show").out


@pytest.mark.parametrize("what", ["results", "labels", "sessions"])
def test_parquet_and_csv_exports_read_back_equal_to_jsonl(demo_db, cli, tmp_path, what):
    cli("label", "S-000099", "--run", "candidate", "--evaluator", "pii_leak", "--verdict", "fail", "--db", demo_db)
    frames = {}
    for fmt in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"{what}.{fmt}"
        assert cli("export", "--run", "candidate", "--what", what, "--format", fmt, "--out", out,
                   "--db", demo_db).code == 0
        frames[fmt] = out
    rows = [orjson.loads(line) for line in frames["jsonl"].read_bytes().splitlines()]
    parquet = pl.read_parquet(frames["parquet"])
    csv = pl.read_csv(frames["csv"], infer_schema_length=None)
    assert parquet.height == csv.height == len(rows) > 0
    key = "session_id"
    assert parquet[key].to_list() == csv[key].to_list() == [r[key] for r in rows]
    if what == "results":
        assert parquet["passed"].to_list() == [r["passed"] for r in rows]
        with Store(demo_db) as store:
            stored = [(r["session_id"], r["evaluator"], r["passed"]) for r in store.iter_result_rows("candidate")]
        assert list(zip(parquet["session_id"], parquet["evaluator"], parquet["passed"], strict=True)) == stored
