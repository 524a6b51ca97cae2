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


def test_lazy_cycles_and_ui_thread_database_calls_are_caught(tmp_path):
    for folder in ("cstui", "screens", "cstui/widgets"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "__init__.py").write_text("")
    # a cycle hidden behind a function-level import, and one import under TYPE_CHECKING (never executed: fine)
    (tmp_path / "cstui" / "stats.py").write_text("def calibration():\n    from cstui.tally import Tally\n")
    (tmp_path / "cstui" / "tally.py").write_text("from cstui.stats import calibration\n")
    (tmp_path / "cstui" / "models.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cstui.report_models import Report\n")
    (tmp_path / "cstui" / "report_models.py").write_text("from cstui.models import x\n")
    # a screen reading on the UI thread, and the same read done right (in a data.load worker)
    (tmp_path / "screens" / "runs.py").write_text(
        "class RunsScreen:\n    def on_mount(self):\n        rows = self.store.runs()\n"
        "    def load(self):\n        data.load(self, 'runs', lambda store: store.runs(), path=self.store.path)\n")
    (tmp_path / "cstui" / "widgets" / "table.py").write_text("def f(self):\n    self.app.store.add_label(1)\n")
    problems = check(tmp_path)
    assert "import cycle: cstui.stats -> cstui.tally -> cstui.stats" in problems, problems
    assert "screens/runs.py:3: calls the database on the UI thread (.store.runs); read and write through " \
           "screens/data.py" in problems
    assert any(p.startswith("cstui/widgets/table.py:2: calls the database on the UI thread (.store.add_label)")
               for p in problems)
    assert not any("models" in p for p in problems)  # a TYPE_CHECKING import is no cycle
    assert len(problems) == 3
