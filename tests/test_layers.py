"""The layering check (`python -m cstui.tools.layers`) passes on the code and catches each kind of violation."""

from __future__ import annotations

import subprocess
import sys

from cstui.tools.layers import ROOT, check


def test_the_code_keeps_its_layers():
    assert check() == []
    r = subprocess.run([sys.executable, "-m", "cstui.tools.layers"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "0 problem(s)" in r.stderr


def test_sql_textual_and_cycles_are_caught(tmp_path):
    (tmp_path / "cstui" / "store").mkdir(parents=True)
    (tmp_path / "evaluators").mkdir()
    (tmp_path / "cstui" / "__init__.py").write_text("")
    (tmp_path / "cstui" / "store" / "__init__.py").write_text("import sqlite3\nsqlite3.connect(':memory:').execute('x')\n")
    (tmp_path / "cstui" / "report.py").write_text("def f(store):\n    return store.conn.execute('SELECT 1')\n")
    (tmp_path / "cstui" / "a.py").write_text("from cstui import b\n")
    (tmp_path / "cstui" / "b.py").write_text("import cstui.a\n\ndef lazy():\n    import cstui.report\n")
    (tmp_path / "evaluators" / "tone.py").write_text("from textual.widgets import Static\n")
    problems = check(tmp_path)
    assert any(p.startswith("cstui/report.py:2: runs SQL") for p in problems), problems
    assert any(p.startswith("evaluators/tone.py:1: imports textual.widgets") for p in problems), problems
    assert "import cycle: cstui.a -> cstui.b -> cstui.a" in problems
    assert not any(p.startswith("cstui/store") for p in problems)  # SQL is at home in the store
    assert len(problems) == 3
