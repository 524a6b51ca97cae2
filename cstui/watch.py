"""`cstui watch`: import each new export file dropped into a folder exactly once, then evaluate its sessions.

A file is taken when it has stopped changing (same size and modification time for `settle` seconds: an exporter
still writing it is waited out); it is known by the SHA-256 of its bytes, so a file renamed or copied again is
not imported twice. The journal of imported digests lives beside the database (`<db>.watch.jsonl`), never in the
watched folder, which may be someone else's. An import is one transaction, recorded in the journal after it
commits; a crash in between leaves sessions the run already holds, which the next attempt recognises (every one
of the file's sessions is already in the run) and records without importing them again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cstui.config import Config
from cstui.ingest.records import BadInput
from cstui.store import Store

SKIPPED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


@dataclass
class Imported:
    path: Path
    digest: str
    run: str
    sessions: int
    evaluated: int = 0  # verdicts written for its sessions
    note: str = ""  # "already in the run" when a crash had left them there


@dataclass
class Journal:
    """The digests of every file imported so far, and where they went."""

    path: Path
    digests: set[str] = field(default_factory=set)

    @classmethod
    def beside(cls, db: Path) -> Journal:
        journal = cls(db.with_name(db.name + ".watch.jsonl"))
        if journal.path.exists():
            for line in journal.path.read_text(encoding="utf-8").splitlines():
                try:
                    journal.digests.add(json.loads(line)["digest"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line from a crash: the file is retried, and recognised then
        return journal

    def record(self, entry: Imported) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"digest": entry.digest, "path": str(entry.path), "run": entry.run,
                                  "sessions": entry.sessions, "note": entry.note,
                                  "at": datetime.now(UTC).isoformat(timespec="seconds")}) + "\n")
            out.flush()
        self.digests.add(entry.digest)


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Folder:
    """Which files of a folder are new and finished: seen unchanged for `settle` seconds."""

    def __init__(self, directory: Path, settle: float) -> None:
        self.directory, self.settle = directory, settle
        self.seen: dict[Path, tuple[int, int, float]] = {}  # path → (size, mtime_ns, when first seen so)

    def ready(self, now: float | None = None) -> Iterator[Path]:
        now = time.monotonic() if now is None else now
        for path in sorted(self.directory.iterdir()):
            if path.name.startswith(".") or path.name.endswith(SKIPPED_SUFFIXES) or not path.is_file():
                continue
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
            before = self.seen.get(path)
            if before is None or before[:2] != (size, mtime):
                self.seen[path] = (size, mtime, now)
                if self.settle > 0:
                    continue
            elif now - before[2] < self.settle:
                continue
            if size:
                yield path


def run_name(run: str | None, daily: str | None, today: datetime | None = None) -> str:
    if daily:
        return f"{daily}-{(today or datetime.now(UTC)).strftime('%Y-%m-%d')}"
    assert run
    return run


def take(store: Store, path: Path, run: str, journal: Journal, cfg: Config, *, evaluate: bool = True) -> Imported | None:
    """Import one finished file (unless its digest is in the journal) and evaluate its new sessions."""
    from cstui import evaluation
    from cstui.ingest import import_files

    sha = digest(path)
    if sha in journal.digests:
        return None
    exists = store.has_run(run)
    before = set(store.session_ids(run)) if exists else set()
    try:
        import_files(store, [path], run, mode="append" if exists else "create", cfg=cfg)
    except BadInput as exc:
        if "duplicate session_id" not in str(exc):
            raise
        entry = Imported(path, sha, run, 0, note="already in the run (imported before a crash)")
        journal.record(entry)
        return entry
    new = sorted(set(store.session_ids(run)) - before)
    entry = Imported(path, sha, run, len(new))
    if evaluate and new:
        ids = evaluation.resolve(None)  # every deterministic evaluator (judges: `cstui eval` when wanted)
        summary = evaluation.run(store, run, ids, session_ids=new, cfg=cfg, processes=1)
        entry.evaluated = summary.n_results
    journal.record(entry)
    return entry


def watch(store: Store, db: Path, directory: Path, *, run: str | None, daily: str | None, cfg: Config,
          settle: float = 2.0, interval: float = 1.0, once: bool = False, evaluate: bool = True,
          report: Callable[[Imported], Any] | None = None, stop: Callable[[], bool] | None = None,
          refused: Callable[[Path, str], Any] | None = None) -> int:
    """Poll `directory` until `stop()` (or, with `once`, until nothing new is left); returns files imported. A file
    `cstui import` would refuse is reported once (`refused`) and left alone until it changes."""
    journal = Journal.beside(db)
    folder = Folder(directory, 0.0 if once else settle)
    bad: dict[Path, tuple[int, int]] = {}
    taken = 0
    while True:
        for path in list(folder.ready()):
            stat = path.stat()
            if bad.get(path) == (stat.st_size, stat.st_mtime_ns):
                continue
            try:
                entry = take(store, path, run_name(run, daily), journal, cfg, evaluate=evaluate)
            except BadInput as exc:
                bad[path] = (stat.st_size, stat.st_mtime_ns)
                if refused:
                    refused(path, str(exc))
                continue
            if entry is not None:
                taken += 1
                if report:
                    report(entry)
        if once or (stop and stop()):
            return taken
        time.sleep(interval)
