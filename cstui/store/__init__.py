"""The SQLite store: one file holds runs, sessions, span trees, KB revisions, results and labels.

Design choices that other code relies on:
- WAL mode with a busy timeout, so the TUI keeps reading while another process imports.
- A session's document (the native JSON minus spans) is kept verbatim in `sessions.doc`; spans live
  in their own table (one row each, also verbatim in `doc`) so span trees are an indexed lookup.
- Results and labels are append-only. `results.current` marks the newest verdict per
  (session, evaluator); the newest label per (session, evaluator) is the one metrics use.
- Every import is one transaction: a bad line rolls back and leaves the main file untouched.

A file is data, never instructions: `opening` identifies it, checks its schema against cstui's own and opens it
read-only or through a working copy when it cannot be trusted (see there).

The package, by concern: `opening` (what a file is and how it is opened), `schema` (DDL and migrations), `core`
(the connection, transactions, the row helper), `runs` (runs and the import writer), `sessions`, `frames` (polars
snapshots), `chunks` (a run in bounded chunks), `results` (verdicts and their bit masks), `labels` (reviewer
labels), `audit` (the hash-chained audit log and its checks), `golden`, `queues`, `judge_cache`, `drift`, `staging` (spans a receiver acknowledged).
`Store` is their union over one connection; nothing outside this package writes SQL.
"""

from __future__ import annotations

from cstui.store.audit import AuditMixin, audit_hash
from cstui.store.chunks import ChunksMixin
from cstui.store.core import (
    DbBusy,
    RunExists,
    StoreBase,
    StoreError,
    UnknownRun,
    database_error_line,
    default_db_path,
    now_iso,
)
from cstui.store.drift import DriftMixin
from cstui.store.frames import FramesMixin
from cstui.store.golden import GoldenMixin
from cstui.store.judge_cache import JudgeCacheMixin
from cstui.store.labels import LabelsMixin, current_reviewer
from cstui.store.masks import update_verdict_masks
from cstui.store.queues import QueuesMixin
from cstui.store.results import ResultsMixin, VerdictRow, verdict_row
from cstui.store.runs import RunsMixin, RunWriter, SessionRow
from cstui.store.schema import MIGRATIONS, SCHEMA_VERSION
from cstui.store.search import SearchMixin
from cstui.store.sessions import SessionsMixin
from cstui.store.staging import StagingMixin

__all__ = ["MIGRATIONS", "DbBusy", "SCHEMA_VERSION", "RunExists", "RunWriter", "SessionRow", "Store", "StoreError",
           "UnknownRun", "VerdictRow", "audit_hash", "database_error_line", "current_reviewer", "default_db_path", "now_iso", "verdict_row",
           "update_verdict_masks"]


class Store(RunsMixin, SessionsMixin, FramesMixin, ChunksMixin, ResultsMixin, LabelsMixin, AuditMixin, GoldenMixin,
            QueuesMixin, JudgeCacheMixin, DriftMixin, SearchMixin, StagingMixin, StoreBase):
    """One SQLite file, one connection: every read and write cstui makes. Use it as a context manager."""
