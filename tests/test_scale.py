"""Scale: sessions exported as a partitioned Parquet dataset and evaluated from it, and the Ray engine giving
the local engine's verdicts row for row (docs/scale.md). The Ray tests run when Ray is installed
(`pip install 'cstui[ray]'`; `make test` installs it) on a local instance the tests start with two CPUs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import copy_db, verdict_counts_around_a_cancelled_run

from cstui import evaluation
from cstui.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

PLUGIN = '''
from cstui.api import Evidence, Verdict, evaluator

@evaluator(id="mentions_refund", dimension="compliance", version="1")
def mentions_refund(session, ctx):
    for i, turn in enumerate(session.turns):
        if turn.role == "assistant" and "refund" in turn.text.lower():
            return Verdict(passed=False, rationale="talks about refunds", evidence=[Evidence(turn_index=i)])
    return Verdict(passed=True, rationale="no refund talk")
'''


def verdicts(db: Path, run: str) -> list[tuple[Any, ...]]:
    """Every current verdict, as a user would compare them (batch and row order aside)."""
    with Store(db) as store:
        return sorted((r["session_id"], r["evaluator"], r["evaluator_version"], r["passed"], r["score"], r["label"],
                       r["rationale"], str(r["evidence"])) for r in store.iter_result_rows(run))


# ---------------------------------------------------------------------------------------------- the dataset
def test_partitioned_export_holds_every_session_once_and_evaluates_like_the_store(demo_db, cli, tmp_path):
    out = tmp_path / "candidate-sessions"
    r = cli("export", "--run", "candidate", "--what", "sessions", "--format", "parquet", "--partitions", "4",
            "--out", out, "--db", demo_db)
    assert r.code == 0, r.err
    parts = sorted(out.glob("*.parquet"))
    assert len(parts) == 4 and not (tmp_path / "candidate-sessions.part").exists()
    frame = pl.concat([pl.read_parquet(p) for p in parts])
    with Store(demo_db) as store:
        stored = [doc["session_id"] for doc in store.iter_session_docs("candidate")]
    assert frame.columns == ["session_id", "document"] and frame["session_id"].to_list() == stored

    from_store = copy_db(demo_db, tmp_path / "store.db")
    assert cli("eval", "--run", "candidate", "--no-drift", "--db", from_store).code == 0
    assert cli("eval", "--run", "candidate", "--no-drift", "--sessions", out, "--db", demo_db).code == 0
    assert verdicts(demo_db, "candidate") == verdicts(from_store, "candidate")


def test_a_dataset_that_does_not_fit_the_run_stores_nothing(demo_db, cli, tmp_path):
    out = tmp_path / "sessions"
    cli("export", "--run", "candidate", "--what", "sessions", "--format", "parquet", "--partitions", "2", "--out", out,
        "--db", demo_db)
    frame = pl.read_parquet(out / "part-00000.parquet")
    frame.with_columns(pl.lit("S-NOT-IN-RUN").alias("session_id")).write_parquet(out / "part-00000.parquet")
    before = verdicts(demo_db, "candidate")
    r = cli("eval", "--run", "candidate", "--no-drift", "--sessions", out, "--db", demo_db)
    assert r.code == 2 and "S-NOT-IN-RUN" in r.err and "nothing was stored" in r.err and "Traceback" not in r.err
    assert verdicts(demo_db, "candidate") == before
    r = cli("eval", "--run", "candidate", "--sessions", tmp_path / "nowhere", "--db", demo_db)
    assert r.code == 2 and "no Parquet files" in r.err
    r = cli("export", "--run", "candidate", "--what", "results", "--format", "parquet", "--partitions", "2",
            "--out", out, "--db", demo_db)
    assert r.code == 2 and "--what sessions --format parquet" in r.err


# ---------------------------------------------------------------------------------------------- the Ray engine
@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.mark.usefixtures("isolated_registry")
def test_ray_engine_gives_the_local_verdicts_on_the_demo_plugins_included(local_ray, demo_db, cli, tmp_path):
    plugin = tmp_path / "refunds.py"
    plugin.write_text(PLUGIN)
    local = copy_db(demo_db, tmp_path / "local.db")
    assert cli("eval", "--run", "candidate", "--no-drift", "--plugin", plugin, "--db", local).code == 0
    r = cli("eval", "--run", "candidate", "--no-drift", "--plugin", plugin, "--engine", "ray", "--db", demo_db)
    assert r.code == 0, r.err
    assert "mentions_refund" in r.out
    on_ray = verdicts(demo_db, "candidate")
    assert on_ray == verdicts(local, "candidate")
    assert any(v[1] == "mentions_refund" and v[3] == 0 for v in on_ray)  # the plug-in ran on the workers

    out = tmp_path / "sessions"
    cli("export", "--run", "candidate", "--what", "sessions", "--format", "parquet", "--partitions", "3", "--out", out,
        "--db", demo_db)
    from_parquet = copy_db(demo_db, tmp_path / "parquet.db")
    r = cli("eval", "--run", "candidate", "--no-drift", "--plugin", plugin, "--engine", "ray", "--sessions", out,
            "--db", from_parquet)
    assert r.code == 0, r.err
    assert verdicts(from_parquet, "candidate") == on_ray


def test_ray_engine_matches_the_local_engine_on_20k_generated_sessions(local_ray, tmp_path):
    from gen_sessions import generate

    from cstui.ingest import import_files

    src = tmp_path / "sessions.jsonl"
    generate(src, 20_000)
    local = tmp_path / "local.db"
    with Store(local) as store:
        import_files(store, [src], "gen")
    on_ray = copy_db(local, tmp_path / "ray.db")
    with Store(local) as store:
        evaluation.run(store, "gen", evaluation.resolve(None), processes=2)
    with Store(on_ray) as store:
        result = evaluation.run(store, "gen", evaluation.resolve(None), engine="ray")
    assert result.n_sessions == 20_000
    assert verdicts(on_ray, "gen") == verdicts(local, "gen")


def test_cancelling_a_ray_run_half_way_leaves_no_batch(local_ray, demo_db):
    with Store(demo_db) as store:
        before, after = verdict_counts_around_a_cancelled_run(store, "candidate", engine="ray")
    assert after == before  # no row of the batch, and the earlier verdicts still current


def test_ray_options_are_checked_before_anything_runs(demo_db, cli):
    r = cli("eval", "--run", "candidate", "--engine", "ray", "--processes", "2", "--db", demo_db)
    assert r.code == 2 and "--num-cpus" in r.err
    r = cli("eval", "--run", "candidate", "--address", "auto", "--db", demo_db)
    assert r.code == 2 and "--engine ray" in r.err


def test_without_ray_the_engine_says_how_to_get_it(demo_db, cli, monkeypatch):
    from cstui.evaluation import ray_engine

    monkeypatch.setattr(ray_engine, "available", lambda: False)
    before = verdicts(demo_db, "candidate")
    r = cli("eval", "--run", "candidate", "--engine", "ray", "--db", demo_db)
    assert r.code == 2 and "pip install 'cstui[ray]'" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert verdicts(demo_db, "candidate") == before
