"""Evaluator plug-ins through the public API: the documented example works from a file, a module, cstui.toml
and an entry point; it runs in the pool like a built-in, reaches reports and the TUI; a broken plug-in is one
line and exit 2; an evaluator that raises on a session gives an error verdict, never a pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from cstui.store import Store

EXAMPLE = '''
from cstui.api import Evidence, Verdict, evaluator

@evaluator(id="mentions_competitor", dimension="compliance", version="1")
def mentions_competitor(session, ctx):
    for i, turn in enumerate(session.turns):
        if turn.role == "assistant" and "acme" in turn.text.lower():
            return Verdict(passed=False, rationale="named a competitor",
                           evidence=[Evidence(turn_index=i, snippet=turn.text[:80])])
    return Verdict(passed=True, rationale="no competitor named")
'''


pytestmark = pytest.mark.usefixtures("isolated_registry")


@pytest.fixture
def acme_db(tmp_path, cli):
    """Two sessions, one whose assistant names a competitor."""
    sessions = [
        {"session_id": "A-1", "intent": "billing", "turns": [
            {"role": "customer", "text": "Why is my bill higher this month?"},
            {"role": "assistant", "text": "Honestly, Acme Telecom is cheaper; you could switch to them."}]},
        {"session_id": "A-2", "intent": "billing", "turns": [
            {"role": "customer", "text": "Why is my bill higher this month?"},
            {"role": "assistant", "text": "Your promotional discount ended on March 1."}]},
    ]
    src = tmp_path / "acme.jsonl"
    src.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions))
    db = tmp_path / "acme.db"
    assert cli("import", src, "--run", "r", "--db", db).code == 0
    return db


@pytest.fixture
def example(tmp_path) -> Path:
    path = tmp_path / "competitor.py"
    path.write_text(EXAMPLE)
    return path


def verdicts(db, evaluator):
    with Store(db) as store:
        return {r["session_id"]: r for r in store.iter_result_rows("r") if r["evaluator"] == evaluator}


def test_the_documented_example_runs_from_a_file_and_reaches_the_report(acme_db, example, cli):
    r = cli("eval", "--run", "r", "--plugin", example, "--evaluators", "mentions_competitor", "--db", acme_db)
    assert r.code == 0, r.err
    assert "mentions_competitor" in r.out
    got = verdicts(acme_db, "mentions_competitor")
    assert (got["A-1"]["passed"], got["A-2"]["passed"]) == (False, True)
    assert got["A-1"]["evidence"][0]["turn_index"] == 1 and "Acme" in got["A-1"]["evidence"][0]["snippet"]

    report = cli("report", "--run", "r", "--json", "--plugin", example, "--db", acme_db)
    block = json.loads(report.out)["evaluators"]["mentions_competitor"]
    assert (block["n"], block["k"], block["version"]) == (2, 1, "1")
    gate = tmp_path_gate(acme_db.parent)
    g = cli("gate", "--run", "r", "--config", gate, "--plugin", example, "--json", "--db", acme_db)
    assert g.code == 1 and json.loads(g.out)["failed"] == ["no_competitors"]


def tmp_path_gate(where: Path) -> Path:
    gate = where / "gates.toml"
    gate.write_text('[[rule]]\nname = "no_competitors"\nevaluators = ["mentions_competitor"]\nmin = 1.0\n'
                    'on_fail = "block"\n')
    return gate


def test_plugins_run_in_the_process_pool_like_built_ins(acme_db, example):
    from cstui import evaluation, plugins

    plugins.load([str(example)])
    with Store(acme_db) as store:
        result = evaluation.run(store, "r", ["mentions_competitor", "pii_leak"], processes=2, chunk_size=1)
    assert result.counts["mentions_competitor"] == {"passed": 1, "failed": 1, "not_applicable": 0, "errors": 0}


def test_cstui_toml_plugins_are_read_relative_to_the_config_file(acme_db, example, cli, tmp_path, monkeypatch):
    config = tmp_path / "conf" / "cstui.toml"
    config.parent.mkdir()
    (config.parent / "plugins").mkdir()
    (config.parent / "plugins" / "competitor.py").write_text(example.read_text())
    config.write_text('plugins = ["plugins/competitor.py"]\n')
    monkeypatch.setenv("CSTUI_CONFIG", str(config))
    r = cli("eval", "--run", "r", "--evaluators", "mentions_competitor", "--db", acme_db)
    assert r.code == 0, r.err
    assert verdicts(acme_db, "mentions_competitor")["A-1"]["passed"] is False


def test_an_entry_point_package_is_found_without_any_flag(acme_db, tmp_path):
    site = tmp_path / "site"
    (site / "acme_checks").mkdir(parents=True)
    (site / "acme_checks" / "__init__.py").write_text(EXAMPLE)
    dist = site / "acme_checks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[cstui.evaluators]\nacme = acme_checks\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-m", "cstui", "eval", "--run", "r", "--evaluators", "mentions_competitor",
                          "--db", str(acme_db)], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert verdicts(acme_db, "mentions_competitor")["A-1"]["passed"] is False


@pytest.mark.parametrize(("source", "message"), [
    ("def broken(:\n", "SyntaxError"),
    ("import no_such_package_here\n", "ModuleNotFoundError"),
    (EXAMPLE + "\nraise RuntimeError('half-configured')\n", "RuntimeError: half-configured (line 12)"),
    ("from cstui.api import evaluator\n@evaluator(id='pii_leak', dimension='compliance')\ndef f(s, c):\n    return None\n",
     "already taken by a built-in evaluator"),
    ("from cstui.api import evaluator\n@evaluator(id='x', dimension='vibes')\ndef f(s, c):\n    return None\n",
     "dimension must be one of"),
    ("x = 1\n", "defines no evaluator"),
])
def test_a_broken_plugin_is_one_line_naming_it_and_exit_2(acme_db, tmp_path, cli, source, message):
    bad = tmp_path / "bad_plugin.py"
    bad.write_text(source)
    r = cli("eval", "--run", "r", "--plugin", bad, "--db", acme_db)
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and message in lines[0], r.err
    assert verdicts(acme_db, "mentions_competitor") == {}  # nothing ran


def test_an_evaluator_that_raises_on_a_session_gives_an_error_verdict_not_a_pass(acme_db, tmp_path, cli):
    flaky = tmp_path / "flaky.py"
    flaky.write_text(
        "from cstui.api import Verdict, evaluator\n"
        "@evaluator(id='flaky', dimension='factual')\n"
        "def flaky(session, ctx):\n"
        "    if session.session_id == 'A-1':\n"
        "        raise ZeroDivisionError('bad day')\n"
        "    return Verdict(passed=True, rationale='fine')\n")
    r = cli("eval", "--run", "r", "--plugin", flaky, "--evaluators", "flaky", "--db", acme_db)
    assert r.code == 0, r.err
    assert "errors" in r.out.splitlines()[0]  # the counts table grows an errors column
    got = verdicts(acme_db, "flaky")
    assert got["A-1"]["passed"] is None and got["A-1"]["label"] == "error"
    assert "ZeroDivisionError: bad day" in got["A-1"]["rationale"]
    assert got["A-2"]["passed"] is True


async def test_plugin_evaluators_show_in_the_tui_filters_and_rerun_dialog(acme_db, example, cli):
    from textual.widgets import SelectionList
    from tuikit import settle

    from cstui import plugins
    from cstui.app import create_app
    from cstui.triage import FailureFilter
    from cstui.widgets.failure_table import FailureTable

    plugins.load([str(example)])
    assert cli("eval", "--run", "r", "--evaluators", "mentions_competitor", "--db", acme_db).code == 0
    app = create_app(acme_db, run="r")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.open_failures(FailureFilter(evaluators=("mentions_competitor",)))
        await settle(pilot)
        assert app.screen.query_one(FailureTable).visible_session_ids() == ["A-1"]
        await pilot.press("r")
        await pilot.pause()
        options = app.screen.query_one("#evaluators", SelectionList)
        ids = [options.get_option_at_index(i).value for i in range(options.option_count)]
        assert "mentions_competitor" in ids


def test_cstui_evaluators_lists_built_ins_and_plugins_with_their_source(example, cli):
    r = cli("evaluators", "--json", "--plugin", example)
    rows = {row["id"]: row for row in json.loads(r.out)}
    assert rows["pii_leak"]["source"] == "cstui" and rows["policy_fabrication"]["kind"] == "judge"
    assert rows["mentions_competitor"]["source"] == str(example.resolve())
    assert rows["mentions_competitor"]["dimension"] == "compliance"
