from __future__ import annotations

import io
import shutil
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from cstui.cli import main
from cstui.demo import build_demo
from cstui.store import Store

DATA = Path(__file__).parent / "data"


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
