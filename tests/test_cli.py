"""The command line as a user meets it: help, exit codes, JSON contracts, and import cost."""

import json
import subprocess
import sys

import pytest

PROBE = """
import sys
from cstui.cli import main
try:
    code = main({args!r})
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("textual", "litellm", "polars", "pydantic") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def loaded_modules(*args: str) -> set[str]:
    r = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], capture_output=True, text=True)
    line = [x for x in r.stderr.splitlines() if x.startswith("HEAVY=")][-1]
    return set(filter(None, line[6:].split(",")))


def test_help_imports_nothing_heavy():
    assert loaded_modules("--help") == set()


@pytest.mark.parametrize("args", [["runs", "--json"], ["report", "--run", "candidate", "--json"],
                                  ["import", "--help"], ["audit", "verify"]])
def test_headless_commands_never_import_textual(demo_db, args):
    assert "textual" not in loaded_modules(*args, "--db", str(demo_db))


def test_help_explains_every_command(cli):
    with pytest.raises(SystemExit) as exc:
        cli("--help")
    assert exc.value.code == 0


def test_runs_json_lists_the_demo_runs(demo_db, cli):
    r = cli("runs", "--json", "--db", demo_db)
    runs = json.loads(r.out)
    assert [x["name"] for x in runs] == ["baseline", "candidate", "assist-prod"]
    assert all(x["n_sessions"] >= 300 and x["created_at"] for x in runs)
    assert {"name", "n_sessions", "created_at"} <= set(runs[0])
    assert runs[0]["sessions"] == runs[0]["n_sessions"] and runs[0]["tool_calls"] > 0  # what the import brought


def test_report_json_has_the_contract_keys_and_all_tiers(demo_db, cli):
    for run in ("baseline", "candidate"):
        r = cli("report", "--run", run, "--json", "--db", demo_db)
        assert r.code == 0
        doc = json.loads(r.out)
        assert doc["run"] == run and doc["n_sessions"] >= 300
        assert set(doc["overall"]["resolution_rate"]) >= {"value", "ci_low", "ci_high"}
        for tier in ("tier_1", "tier_2", "tier_3"):
            block = doc["tiers"][tier]
            assert block["n"] > 50
            rr = block["resolution_rate"]
            assert rr["ci_low"] <= rr["value"] <= rr["ci_high"]
        assert 0 < doc["escalation"]["rate"] < 1
        assert doc["escalation"]["time_to_escalation_turns"]["p50"] is not None
        assert set(doc["calibration"]["overall"]) >= {"ece", "brier", "n", "bins"}


def test_report_text_is_readable(demo_db, cli):
    r = cli("report", "--run", "candidate", "--by", "channel", "--db", demo_db)
    assert r.code == 0
    assert "tier_3" in r.out and "By channel" in r.out and "email" in r.out


def test_unknown_run_and_missing_db_exit_2_with_one_line(tmp_path, demo_db, cli):
    r = cli("report", "--run", "nope", "--db", demo_db)
    assert r.code == 2 and "no run named 'nope'" in r.err and "baseline" in r.err
    r = cli("runs", "--db", tmp_path / "missing.db")
    assert r.code == 2 and "no such database" in r.err
    assert not (tmp_path / "missing.db").exists()


def test_bad_usage_exits_2(cli):
    with pytest.raises(SystemExit) as exc:
        cli("report")
    assert exc.value.code == 2


def test_tui_without_a_database_says_how_to_get_one(tmp_path, cli):
    r = cli("--db", tmp_path / "none.db")
    assert r.code == 2 and "cstui demo" in r.err


@pytest.mark.parametrize("preset", [None, "narenas:4"])
def test_polars_allocator_is_set_before_polars_loads_unless_the_user_set_it(demo_db, preset):
    """One jemalloc arena keeps a big report's peak memory down (docs/scale.md); it only works if set before
    polars is imported, and a user's own setting wins."""
    probe = ("import os, sys\nfrom cstui.cli import main\nassert 'polars' not in sys.modules\n"
             f"main(['report', '--run', 'candidate', '--json', '--db', {str(demo_db)!r}])\n"
             "assert 'polars' in sys.modules\nprint('CONF=' + os.environ.get('_RJEM_MALLOC_CONF', ''), file=sys.stderr)")
    env = {k: v for k, v in __import__("os").environ.items() if k != "_RJEM_MALLOC_CONF"}
    if preset:
        env["_RJEM_MALLOC_CONF"] = preset
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    conf = [line for line in r.stderr.splitlines() if line.startswith("CONF=")][-1][5:]
    assert conf.split(",")[-1] == (preset or "narenas:1")  # polars puts its own defaults first
