"""A run read in bounded chunks: session columns and verdict bit masks, human overrides applied.

Reports and gates aggregate these chunks into small tallies (cstui/tally.py), so their memory does not grow
with the number of sessions (docs/scale.md). The whole-run frames of `frames.py` stay for the views that
list sessions.
"""

from __future__ import annotations

import io
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from contextlib import suppress
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

from cstui.store.frames import (
    SESSION_COLUMNS,
    apply_session_overrides,
    session_overrides,
    snapshot_mac,
    snapshot_ok,
)
from cstui.store.labels import LabelsMixin

if TYPE_CHECKING:
    import polars as pl

CHUNK_ROWS = 100_000
# Session columns a reviewer's label overrides: read whenever a chunk is, as the overrides need them.
OVERRIDDEN = ("session_id", "tier", "intent", "correct")


class VerdictBit(NamedTuple):
    """Where an evaluator's verdicts sit in a run's masks: bit `bit` of mask word `word`."""

    word: int
    bit: int
    version: str | None

    @property
    def mask(self) -> int:
        return 1 << self.bit


class ChunksMixin(LabelsMixin):
    """A run read in bounded chunks (see the module docstring)."""

    def verdict_bits(self, run: str) -> dict[str, VerdictBit]:
        return {ev: VerdictBit(word, bit, version) for ev, word, bit, version in self.conn.execute(
            "SELECT evaluator, word, bit, version FROM evaluator_bits WHERE run = ? ORDER BY word, bit", (run,))}

    def run_chunks(self, run: str, rows: int | None = None, *, columns: Sequence[str] | None = None
                   ) -> Iterator[pl.DataFrame]:
        """Frames of at most `rows` sessions in id order. Columns: SESSION_COLUMNS (the newest human tier,
        intent and correctness applied; only `columns` of them, with sid, when given) and, per mask word w,
        `p{w}` (an evaluator has a verdict), `a{w}` (it applies) and `f{w}` (it failed) with reviewers' verdicts
        applied, `h{w}` (a reviewer decided), plus `ma{w}`/`mf{w}`, the machine's own. Read in one
        transaction, so every chunk sees the same data."""
        import polars as pl

        rows = rows or CHUNK_ROWS
        words = sorted({b.word for b in self.verdict_bits(run).values()})
        schema = _session_query()[1]
        for w in words:
            schema.update({f"p{w}": pl.Int64, f"ma{w}": pl.Int64, f"mf{w}": pl.Int64})
        own = not self.conn.in_transaction
        if own:
            self.conn.execute("BEGIN")
        try:
            sessions_over, verdicts_over = self._overrides(run, words)
            wanted = None if columns is None else [c for c in schema if c not in SESSION_COLUMNS or c == "sid"
                                                   or c in columns or c in OVERRIDDEN]
            for raw in self._raw_chunks(run, words, rows, wanted):
                chunk = _apply_overrides(raw, sessions_over, verdicts_over, words)
                del raw
                yield chunk
                del chunk  # not held while the next one is read (each reader drops its own too)
        finally:
            if own:
                self.conn.execute("COMMIT")

    def _raw_chunks(self, run: str, words: list[int], rows: int, columns: list[str] | None
                    ) -> Iterator[pl.DataFrame]:
        """Chunks as stored (only `columns`, when given), from their columnar snapshots when those match the run's
        data_version (a 1M-session report then reads ten Arrow blobs instead of a million rows), else built from
        the session parts (`_session_parts`) and the masks, snapshotting as it goes."""
        # another column list or mask word: other snapshots
        kind = f"chunks:{rows}:{zlib.crc32(f'{_session_query()[0]} masks {words}'.encode()):08x}"

        def from_parts() -> Iterator[pl.DataFrame]:
            for part in self._session_parts(run, rows):
                chunk = self._with_masks(run, part, words)
                del part
                yield chunk
                del chunk  # each reader holds one chunk at a time (docs/scale.md)

        return self._snapshotted(run, kind, "data_version", from_parts(), columns)

    def _session_parts(self, run: str, rows: int) -> Iterator[pl.DataFrame]:
        """The session columns of each chunk, snapshotted for the run's sessions_version: an evaluation changes
        only the masks, so the first report after it reads these and the masks, not a million session rows
        (which, on a file out of the page cache, are spread over everything the import wrote)."""
        import polars as pl

        sql, schema = _session_query()

        def from_rows() -> Iterator[pl.DataFrame]:
            last = 0
            while True:
                # a tenth at a time: a chunk's rows as Python tuples took ~60 MB, and left the heap fragmented
                parts = list(self._frames(sql, (run, last, rows), schema, rows=max(rows // 10, 1)))
                if not parts:
                    return
                part = pl.concat(parts, rechunk=True)
                del parts
                last = part["sid"][-1]
                yield part
                del part

        return self._snapshotted(run, session_parts_kind(rows), "sessions_version", from_rows())

    def _snapshotted(self, run: str, kind: str, version_column: str, build: Iterator[pl.DataFrame],
                     columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """Frames (only `columns`, when given) from the snapshots `kind:0`, `kind:1`, … when they match the run's
        `version_column`, else from `build`, snapshotting each; the count row written last marks a complete set.
        A snapshot whose MAC fails (written elsewhere, edited, damaged) is not read: the frames from it on are built
        from the rows, whose chunks have the same boundaries."""
        import polars as pl

        version = self._one(f"SELECT {version_column} FROM runs WHERE name = ?", (run,))
        count = self.conn.execute("SELECT data, mac FROM frame_cache WHERE run = ? AND kind = ? AND data_version = ?",
                                  (run, kind, version)).fetchone()
        if count is not None and snapshot_ok(run, kind, version, *count) and count[0].isdigit():
            for i in range(int(count[0])):
                row = self.conn.execute("SELECT data, mac FROM frame_cache WHERE run = ? AND kind = ?"
                                        " AND data_version = ?", (run, f"{kind}:{i}", version)).fetchone()
                frame = None
                if row is not None and snapshot_ok(run, f"{kind}:{i}", version, *row):
                    with suppress(Exception):  # a damaged snapshot is rebuilt, like a foreign one
                        frame = pl.read_ipc(io.BytesIO(row[0]), columns=columns)
                del row
                if frame is None:  # the parts before it were sound: build from here on (same chunk boundaries)
                    for built in islice(build, i, None):
                        yield built if columns is None else built.select(columns)
                        del built
                    return
                yield frame
                del frame
            build.close()
            return
        snapshot, i = version is not None, 0
        for frame in build:
            if snapshot:
                buf = io.BytesIO()
                frame.write_ipc(buf, compression="lz4")
                snapshot = self._store_snapshot(run, f"{kind}:{i}", version, buf.getvalue())
                del buf
            i += 1
            yield frame if columns is None else frame.select(columns)
            del frame
        if snapshot:
            self._store_snapshot(run, kind, version, str(i).encode())

    def _with_masks(self, run: str, part: pl.DataFrame, words: list[int]) -> pl.DataFrame:
        """A part's sessions with their mask words (0 where a session has no verdict), read by a range of the
        masks' own key."""
        import polars as pl

        names = [f"{k}{w}" for w in words for k in ("p", "ma", "mf")]
        if not words or part.is_empty():
            return part.with_columns(pl.lit(0, dtype=pl.Int64).alias(n) for n in names)
        masks = pl.concat(self._frames(
            "SELECT sid, word, present, applies, failed FROM verdict_masks WHERE sid BETWEEN ? AND ? AND run = ?",
            (part["sid"][0], part["sid"][-1], run),
            {"sid": pl.Int64, "word": pl.Int64, "p": pl.Int64, "ma": pl.Int64, "mf": pl.Int64},
            rows=max(part.height // 10, 1)))
        for w in words:
            word = masks.filter(pl.col("word") == w).select("sid", *[pl.col(k).alias(f"{k}{w}")
                                                                      for k in ("p", "ma", "mf")])
            if word["sid"].equals(part["sid"]):  # every session has a verdict (the usual case): no join
                part = part.hstack(word.drop("sid").get_columns())
            else:
                part = part.join(word, on="sid", how="left", maintain_order="left")
        # one piece per column: a chunk in pieces (the masks come in tenths) took ~20 MB more in every reader
        return part.with_columns(pl.col(n).fill_null(0) for n in names).rechunk()

    def _overrides(self, run: str, words: list[int]) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
        """Reviewers' newest tier / intent / correctness per session, and their verdicts as masks per (sid, word):
        `h{w}` the bits a reviewer decided, `hf{w}` those decided as failing. Few rows: one per labelled session."""
        import polars as pl

        session_frame = session_overrides(self.conn, run)
        bits = self.verdict_bits(run)
        decided: dict[int, dict[int, list[int]]] = {}
        for lab in self.reviewer_verdicts(run):
            sid, evaluator, verdict = lab["sid"], lab["evaluator"], lab["verdict"]
            if evaluator not in bits:
                continue
            word, mask = bits[evaluator].word, bits[evaluator].mask
            entry = decided.setdefault(sid, {w: [0, 0] for w in words})[word]
            entry[0] |= mask
            if verdict != "pass":
                entry[1] |= mask
        verdict_schema: dict[str, pl.DataType | type[pl.DataType]] = {"sid": pl.Int64}
        for w in words:
            verdict_schema.update({f"h{w}": pl.Int64, f"hf{w}": pl.Int64})
        verdict_frame = pl.DataFrame(
            [(sid, *[m for w in words for m in per_word[w]]) for sid, per_word in decided.items()],
            schema=verdict_schema, orient="row")
        return session_frame, None if verdict_frame.is_empty() else verdict_frame


def session_parts_kind(rows: int) -> str:
    """The frame_cache kind of a run's session parts of `rows` sessions (their snapshots are `kind:0`, `kind:1`, …
    and `kind` holds their count)."""
    return f"sessions:{rows}:{zlib.crc32(_session_query()[0].encode()):08x}"


class SessionPartWriter:
    """Each chunk's session columns snapshotted while an import writes a new run's sessions (in id order), for
    the sessions_version the import ends at: the same frames `_session_parts` builds from rows, without reading
    them back."""

    def __init__(self, conn: sqlite3.Connection, run: str, version: int):
        self.conn, self.run, self.version = conn, run, version
        self.kind, self.rows = session_parts_kind(CHUNK_ROWS), CHUNK_ROWS
        self.schema = _session_query()[1]
        self.pending: list[pl.DataFrame] = []
        self.count = self.written = 0

    def add(self, sessions: list[tuple[Any, ...]]) -> None:
        """Sessions as the import inserts them: (sid, run, session_id, tier, …, escalation_turn, doc)."""
        import polars as pl

        self.pending.append(pl.DataFrame([(t[0], *t[2:16]) for t in sessions], schema=self.schema, orient="row"))
        self.count += len(sessions)
        while self.count >= self.rows:
            self._write(self.rows)

    def close(self) -> None:
        """Write the last part and the count that marks the set complete (inside the import's transaction)."""
        if self.count:
            self._write(self.count)
        self._put(self.kind, str(self.written).encode())

    def _write(self, n: int) -> None:

        import polars as pl

        frame = pl.concat(self.pending, rechunk=True)
        part, rest = frame.slice(0, n), frame.slice(n)
        del frame
        self.pending, self.count = ([rest] if rest.height else []), rest.height
        buf = io.BytesIO()
        part.write_ipc(buf, compression="lz4")
        self._put(f"{self.kind}:{self.written}", buf.getvalue())
        self.written += 1

    def _put(self, kind: str, data: bytes) -> None:
        self.conn.execute("INSERT OR REPLACE INTO frame_cache (run, kind, data_version, data, mac) VALUES (?,?,?,?,?)",
                          (self.run, kind, self.version, data, snapshot_mac(self.run, kind, self.version, data)))


def _session_query() -> tuple[str, dict[str, Any]]:
    """The query of a chunk's session columns (run, last sid, rows) and their polars types."""
    import polars as pl

    selected = ", ".join("id" if c == "sid" else c for c in SESSION_COLUMNS)
    return (f"SELECT {selected} FROM sessions WHERE run = ? AND id > ? ORDER BY id LIMIT ?",
            {c: getattr(pl, t) for c, t in SESSION_COLUMNS.items()})


def _apply_overrides(chunk: pl.DataFrame, sessions: pl.DataFrame | None, verdicts: pl.DataFrame | None,
                     words: list[int]) -> pl.DataFrame:
    """Current values: a reviewer's label wins over the import (sessions) and over the machine (verdicts, only
    where the evaluator has a verdict, as in `results_frame`)."""
    import polars as pl

    if sessions is not None:
        chunk = apply_session_overrides(chunk, sessions)
    if verdicts is None:
        return chunk.with_columns(*[pl.col(f"ma{w}").alias(f"a{w}") for w in words],
                                  *[pl.col(f"mf{w}").alias(f"f{w}") for w in words],
                                  *[pl.lit(0, dtype=pl.Int64).alias(f"h{w}") for w in words])
    chunk = chunk.join(verdicts, on="sid", how="left")
    out = []
    for w in words:
        decided = pl.col(f"h{w}").fill_null(0) & pl.col(f"p{w}")
        out += [(pl.col(f"ma{w}") | decided).alias(f"a{w}"),
                ((pl.col(f"mf{w}") & ~decided) | (pl.col(f"hf{w}").fill_null(0) & decided)).alias(f"f{w}"),
                decided.alias(f"h{w}")]
    return chunk.with_columns(out).drop([f"hf{w}" for w in words])
