from __future__ import annotations

import io
import os
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cstui.cli import main
from cstui.demo import build_demo
from cstui.store import Store

DATA = Path(__file__).parent / "data"

# The suite never reads or writes the user's own config, keys or logs: its own folders for this process.
_HOME = Path(tempfile.mkdtemp(prefix="cstui-tests-"))
for _var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
    os.environ[_var] = str(_HOME / _var.lower())


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> CliResult:
    """Run the real CLI entry point in-process, capturing what a user would see."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(path)
    return path


def copy_db(src: Path, dst: Path) -> Path:
    """A copy of a database with everything in its write-ahead log included."""
    with Store(src) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(src, dst)
    return dst


def verdict_counts_around_a_cancelled_run(store: Store, run: str, **options: Any) -> tuple[tuple, tuple]:
    """(rows, batches, current verdicts) of the run before and after an evaluation of every evaluator that is
    cancelled once two chunks have come back."""
    from cstui import evaluation

    counts = "SELECT count(*), count(DISTINCT batch), sum(current) FROM results WHERE run = ?"
    before = store.conn.execute(counts, (run,)).fetchone()
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(evaluation.Cancelled):
        evaluation.run(store, run, evaluation.resolve(None), cancel=cancel, chunk_size=50, **options)
    return before, store.conn.execute(counts, (run,)).fetchone()


@pytest.fixture
def demo_db(demo_db_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo database (tests may write to it)."""
    return copy_db(demo_db_template, tmp_path / "demo.db")


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def isolated_registry():
    """Plug-ins register into the process-wide registry; other tests must not see them."""
    from cstui import plugins
    from cstui.evaluators import registry

    registry.all_evaluators()
    saved, specs = dict(registry._REGISTRY), list(plugins._loaded_specs)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    plugins._loaded_specs[:] = specs
