"""Spans a running receiver (`cstui serve`) has acknowledged but not yet turned into sessions.

The receiver answers 200 only after its spans are committed here; a session's rows are deleted in the same
transaction that imports it (`RunWriter.drop_staged`), so after a kill every acknowledged span is either staged or
part of an imported session, never both and never neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cstui.store.core import StoreBase

# trace_id, session_key, is_root, received, record, resource (see schema v14)
StagedRow = tuple[str, str | None, int, float, bytes, bytes | None]


class StagingMixin(StoreBase):
    def stage_spans(self, rows: Iterable[StagedRow]) -> None:
        """Commit received spans (one transaction: a batch is durable whole or not at all)."""
        with self.transaction() as conn:
            conn.executemany("INSERT INTO otlp_staging (trace_id, session_key, is_root, received, record, resource)"
                             " VALUES (?, ?, ?, ?, ?, ?)", rows)

    def staged_traces(self) -> list[tuple[str, str | None, bool, float, int]]:
        """(trace_id, session_key, root seen, last received, spans) of every staged trace."""
        return [(t, k, bool(r), float(at), n) for t, k, r, at, n in self.conn.execute(
            "SELECT trace_id, max(session_key), max(is_root), max(received), count(*) FROM otlp_staging"
            " GROUP BY trace_id")]

    def staged_records(self, trace_ids: list[str]) -> list[tuple[int, bytes, bytes | None]]:
        """(row id, record, resource) of the staged spans of these traces, in the order they were received."""
        out: list[tuple[int, Any, Any]] = []
        for i in range(0, len(trace_ids), 500):
            chunk = trace_ids[i:i + 500]
            out.extend(self.conn.execute(
                f"SELECT id, record, resource FROM otlp_staging WHERE trace_id IN ({','.join('?' * len(chunk))})",
                chunk))
        return sorted(out)

    def n_staged(self) -> int:
        return self._one("SELECT count(*) FROM otlp_staging") or 0
