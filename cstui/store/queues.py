"""Review queues: reproducible random samples reviewers label one by one."""

from __future__ import annotations

from typing import Any

from cstui.store.core import StoreBase, StoreError, now_iso


class QueuesMixin(StoreBase):
    """Review queues: reproducible random samples reviewers label one by one."""

    def create_review_queue(self, name: str, run: str, seed: int, stratify: str | None,
                            items: list[tuple[str, str | None]]) -> None:
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM review_queues WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"a review queue named {name!r} already exists")
            conn.execute("INSERT INTO review_queues (name, run, seed, size, stratify, created_at) VALUES (?,?,?,?,?,?)",
                         (name, run, seed, len(items), stratify, now_iso()))
            conn.executemany("INSERT INTO review_items (queue, position, session_id, stratum) VALUES (?,?,?,?)",
                             [(name, i, sid, stratum) for i, (sid, stratum) in enumerate(items)])

    def review_queues(self, run: str | None = None) -> list[dict[str, Any]]:
        return self._dicts(
            "SELECT q.name, q.run, q.seed, q.size, q.stratify, q.created_at,"
            " (SELECT count(DISTINCT i.session_id) FROM review_items i JOIN labels l ON l.run = q.run"
            "   AND l.session_id = i.session_id AND l.source = 'queue' AND l.created_at >= q.created_at"
            "   WHERE i.queue = q.name) AS reviewed"
            " FROM review_queues q" + (" WHERE q.run = ?" if run else "") + " ORDER BY q.created_at, q.name",
            (run,) if run else ())

    def review_items(self, queue: str) -> list[dict[str, Any]]:
        q = self.conn.execute("SELECT run, created_at FROM review_queues WHERE name = ?", (queue,)).fetchone()
        if q is None:
            raise StoreError(f"no review queue named {queue!r}")
        return self._dicts(
            "SELECT i.position, i.session_id, i.stratum, EXISTS (SELECT 1 FROM labels l WHERE l.run = ?"
            " AND l.session_id = i.session_id AND l.source = 'queue' AND l.created_at >= ?) AS reviewed"
            " FROM review_items i WHERE i.queue = ? ORDER BY i.position", (q[0], q[1], queue))
