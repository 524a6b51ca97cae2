"""Columnar snapshots (polars) of sessions, drafts and verdicts that metrics and the TUI read."""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


from cstui.store.core import StoreBase


@cache
def local_key() -> bytes:
    """The key of this machine's snapshot MACs: a file in the user's data dir (created once, 0600), else a key for
    this process only. It never goes into a database, so a snapshot someone else wrote (or edited) fails its MAC
    and is rebuilt from the rows."""
    from platformdirs import user_data_dir

    path = Path(user_data_dir("cstui")) / "snapshot.key"
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    key = os.urandom(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
    except FileExistsError:
        with suppress(OSError):
            data = path.read_bytes()
            if len(data) >= 32:
                return data
    except OSError:
        pass
    return key


def snapshot_mac(run: str, kind: str, version: int, data: bytes) -> bytes:
    """What a snapshot row's `mac` must be: an HMAC of the run, kind, version and blob under `local_key`."""
    mac = hmac.new(local_key(), f"{run}\x1f{kind}\x1f{version}\x1f".encode(), hashlib.sha256)
    mac.update(data)
    return mac.digest()


def snapshot_ok(run: str, kind: str, version: int, data: bytes | None, mac: bytes | None) -> bool:
    return data is not None and mac is not None and hmac.compare_digest(snapshot_mac(run, kind, version, data), mac)

# The indexed session columns frames and chunks read, with their polars types (sid is sessions.id).
SESSION_COLUMNS = {"sid": "Int64", "session_id": "Utf8", "tier": "Int64", "intent": "Utf8", "channel": "Utf8",
                   "segment": "Utf8", "category": "Utf8", "started_at": "Utf8", "n_turns": "Int64",
                   "n_spans": "Int64", "confidence": "Float64", "correct": "Boolean", "resolved": "Boolean",
                   "escalated": "Boolean", "escalation_turn": "Int64"}


def session_overrides(conn: sqlite3.Connection, run: str) -> pl.DataFrame | None:
    """Reviewers' newest tier, intent and correctness per labelled session (h_tier, h_intent, h_correct); None when
    nobody relabelled a session of the run."""
    import polars as pl

    rows = conn.execute(
        """SELECT session_id,
                  (SELECT correct FROM labels l WHERE l.run = x.run AND l.session_id = x.session_id
                    AND l.evaluator IS NULL AND l.correct IS NOT NULL ORDER BY id DESC LIMIT 1),
                  (SELECT tier FROM labels l WHERE l.run = x.run AND l.session_id = x.session_id
                    AND l.tier IS NOT NULL ORDER BY id DESC LIMIT 1),
                  (SELECT intent FROM labels l WHERE l.run = x.run AND l.session_id = x.session_id
                    AND l.intent IS NOT NULL ORDER BY id DESC LIMIT 1)
           FROM (SELECT DISTINCT run, session_id FROM labels WHERE run = ?) x""", (run,)).fetchall()
    if not rows:
        return None
    return pl.DataFrame(rows, schema={"session_id": pl.Utf8, "h_correct": pl.Int64, "h_tier": pl.Int64,
                                      "h_intent": pl.Utf8}, orient="row")


def apply_session_overrides(frame: pl.DataFrame, human: pl.DataFrame) -> pl.DataFrame:
    """A reviewer's tier, intent and correctness win over the imported ones."""
    import polars as pl

    return (frame.join(human, on="session_id", how="left")
            .with_columns(correct=pl.coalesce(pl.col("h_correct").cast(pl.Boolean), pl.col("correct")),
                          tier=pl.coalesce(pl.col("h_tier"), pl.col("tier")),
                          intent=pl.coalesce(pl.col("h_intent"), pl.col("intent")))
            .drop("h_correct", "h_tier", "h_intent"))


class FramesMixin(StoreBase):
    """Columnar snapshots (polars) of sessions, drafts and verdicts that metrics and the TUI read."""

    def _cached_frame(self, run: str, kind: str, build: Callable[[], pl.DataFrame], *,
                      version_column: str = "data_version") -> pl.DataFrame:
        """A run's frame from its columnar snapshot when that matches the run's data_version (or
        `version_column="sessions_version"` for frames of sessions and drafts alone, which an evaluation does
        not change), else built from rows (and snapshotted). Version and rows are read in one transaction, so a
        snapshot never outlives the data it was built from."""
        import io

        import polars as pl

        own = not self.conn.in_transaction
        if own:
            self.conn.execute("BEGIN")
        try:
            version = self._one(f"SELECT {version_column} FROM runs WHERE name = ?", (run,))
            row = self.conn.execute("SELECT data_version, data, mac FROM frame_cache WHERE run = ? AND kind = ?",
                                    (run, kind)).fetchone()
            if row is not None and row[0] == version and snapshot_ok(run, kind, version, row[1], row[2]):
                try:
                    return pl.read_ipc(io.BytesIO(row[1]))
                except Exception:  # noqa: BLE001 - a damaged snapshot is rebuilt, like a foreign one
                    pass
            frame = build()
        finally:
            if own:
                self.conn.execute("COMMIT")
        if version is not None and own:
            buf = io.BytesIO()
            frame.write_ipc(buf, compression="lz4")
            self._store_snapshot(run, kind, version, buf.getvalue(), version_column=version_column)
        return frame

    def _store_snapshot(self, run: str, kind: str, version: int, data: bytes, *,
                        version_column: str | None = None) -> bool:
        """Keep one snapshot with its MAC, without waiting for another writer (it is only an optimisation); False
        when busy or read-only. With `version_column`, only while the run is still at `version`."""
        self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            mac = snapshot_mac(run, kind, version, data)
            if version_column is None:
                self.conn.execute("INSERT OR REPLACE INTO frame_cache (run, kind, data_version, data, mac)"
                                  " VALUES (?,?,?,?,?)", (run, kind, version, data, mac))
            else:
                self.conn.execute(
                    "INSERT OR REPLACE INTO frame_cache (run, kind, data_version, data, mac) SELECT ?, ?, ?, ?, ?"
                    f" WHERE (SELECT {version_column} FROM runs WHERE name = ?) = ?",
                    (run, kind, version, data, mac, run, version))
            return True
        except sqlite3.OperationalError:  # busy, or a read-only file
            return False
        finally:
            self.conn.execute("PRAGMA busy_timeout = 30000")

    def sessions_frame(self, run: str) -> pl.DataFrame:
        """Indexed session columns, with the newest human overrides of tier / intent / correctness applied."""
        import polars as pl

        def build() -> pl.DataFrame:
            columns = ", ".join("id AS sid" if c == "sid" else c for c in SESSION_COLUMNS)
            rows = self.conn.execute(f"SELECT {columns} FROM sessions WHERE run = ? ORDER BY id", (run,)).fetchall()
            schema = {c: getattr(pl, t) for c, t in SESSION_COLUMNS.items()}
            return pl.DataFrame(rows, schema=schema, orient="row")

        frame = self._cached_frame(run, "sessions", build, version_column="sessions_version")
        human = session_overrides(self.conn, run)
        return frame if human is None else apply_session_overrides(frame, human)

    def drafts_frame(self, run: str) -> pl.DataFrame:
        """One row per draft-assist session, in session order: day, the agent's decision, latency, cost, edit
        distance, handle time, hallucination report, escalation. Held whole by the report (per-day p95 latencies
        need every latency), so in small types: about 50 bytes a draft (70 as plain columns)."""
        import polars as pl

        def build() -> pl.DataFrame:
            # by rowid range: the drafts in file order, where the (run, day) index visited them in day order and
            # sorted them (at 1M sessions 0.7 s when the file is cached, and random reads when it is not)
            lo, hi = self.conn.execute("SELECT min(id), max(id) FROM sessions WHERE run = ?", (run,)).fetchone()
            return self._frame(
                """SELECT day, decision, latency_ms, cost_usd, edit_distance, handle_time_s, hallucination_report,
                          escalated FROM drafts WHERE sid BETWEEN ? AND ? AND +run = ? ORDER BY sid""", (lo, hi, run),
                {"day": pl.Utf8, "decision": pl.Categorical, "latency_ms": pl.Float64, "cost_usd": pl.Float64,
                 "edit_distance": pl.Float64, "handle_time_s": pl.Float64, "hallucination_report": pl.Int32,
                 "escalated": pl.Int8})

        # one chunk: see cstui.online
        return self._cached_frame(run, "drafts:2", build, version_column="sessions_version").rechunk()

    def results_frame(self, run: str) -> pl.DataFrame:
        """The machine's current verdict per (session, evaluator): sid, evaluator, evaluator_version, passed (None:
        not applicable). Reviewers' labels are not applied here: the run's chunks apply them to the masks
        (`cstui.store.chunks`), one session's record applies them to its verdicts (`cstui.reviewed`)."""
        return self._cached_frame(run, "results:2", lambda: self._machine_results_frame(run))  # :2 `passed`, not `machine_passed`

    def _machine_results_frame(self, run: str) -> pl.DataFrame:
        """Current machine verdicts expanded from the per-session masks (see `update_verdict_masks`)."""
        import polars as pl

        bits = self.conn.execute("SELECT evaluator, word, bit, version FROM evaluator_bits WHERE run = ?"
                                 " ORDER BY word, bit", (run,)).fetchall()
        evaluators = pl.Categorical()
        masks = pl.DataFrame(
            self.conn.execute("SELECT sid, word, present, applies, failed FROM verdict_masks WHERE run = ?",
                              (run,)).fetchall(),
            schema={"sid": pl.Int64, "word": pl.Int64, "present": pl.Int64, "applies": pl.Int64, "failed": pl.Int64},
            orient="row",
        )
        parts = []
        for evaluator, word, bit, version in bits:
            m = masks.filter(pl.col("word") == word)
            present = (pl.col("present") // (1 << bit)) % 2 == 1
            applies = (pl.col("applies") // (1 << bit)) % 2 == 1
            failed = (pl.col("failed") // (1 << bit)) % 2 == 1
            parts.append(m.filter(present).select(
                "sid", evaluator=pl.lit(evaluator, dtype=evaluators), evaluator_version=pl.lit(version, dtype=pl.Utf8),
                passed=pl.when(applies).then(~failed).otherwise(None)))
        schema = {"sid": pl.Int64, "evaluator": evaluators, "evaluator_version": pl.Utf8, "passed": pl.Boolean}
        return pl.concat(parts) if parts else pl.DataFrame(schema=schema)
