"""Build the demo database from the committed files in sample_data/."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cstui.store import Store

# (run, file, system): baseline and candidate are offline eval runs of the same assistant (drift between
# them is recorded); assist-prod is 28 days of production draft-assist traffic with online alerts.
DEMO_RUNS = (
    ("baseline", "baseline.jsonl", "support-assistant"),
    ("candidate", "candidate.jsonl", "support-assistant"),
    ("assist-prod", "assist-prod.jsonl", "support-drafts"),
)


def demo_db_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("cstui")) / "demo.db"


def sample_file(name: str) -> Path:
    return Path(str(resources.files("cstui.sample_data").joinpath(name)))


def build_demo(path: Path) -> list[str]:
    """(Re)build and evaluate the demo runs in `path`; other runs in that database are left alone."""
    from cstui import evaluation
    from cstui.config import load_config
    from cstui.drift import detect_drift
    from cstui.ingest import import_files

    cfg = load_config()
    lines = []
    with Store(path) as store:
        for run, name, system in DEMO_RUNS:
            report = import_files(store, [sample_file(name)], run, kb=sample_file("kb.jsonl"),
                                  mode="replace", cfg=cfg, system=system)
            summary = evaluation.run(store, run, evaluation.resolve(None), cfg=cfg)
            failed = summary.failed
            previous, events = detect_drift(store, run)
            drift = f"; {len(events)} drift events vs {previous}" if previous else ""
            lines.append(f"run {run!r}: {report.n_sessions} sessions, {report.n_spans} spans, "
                         f"{report.n_kb} KB revisions; {len(summary.evaluators)} evaluators, {failed} failures{drift}")
    lines.append(f"demo database: {path}")
    return lines
