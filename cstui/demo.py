"""Build the demo database from the committed files in sample_data/."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cstui.store import Store

DEMO_RUNS = ("baseline", "candidate")


def demo_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("cstui")) / "demo.db"


def sample_file(name: str) -> Path:
    return Path(str(resources.files("cstui.sample_data").joinpath(name)))


def build_demo(path: Path) -> list[str]:
    """(Re)build and evaluate the demo runs in `path`; other runs in that database are left alone."""
    from cstui.config import load_config
    from cstui.evaluate import resolve_evaluators, run_evaluators
    from cstui.ingest import import_files

    cfg = load_config()
    lines = []
    with Store(path) as store:
        for run in DEMO_RUNS:
            report = import_files(store, [sample_file(f"{run}.jsonl")], run, kb=sample_file("kb.jsonl"),
                                  mode="replace", cfg=cfg)
            summary = run_evaluators(store, run, resolve_evaluators(None), cfg=cfg)
            failed = sum(c["failed"] for c in summary.counts.values())
            lines.append(f"run {run!r}: {report.n_sessions} sessions, {report.n_spans} spans, "
                         f"{report.n_kb} KB revisions; {len(summary.evaluators)} evaluators, {failed} failures")
    lines.append(f"demo database: {path}")
    return lines
