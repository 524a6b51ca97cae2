"""The golden / regression set: append-only cases that outlive their source run."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from cstui.store.core import StoreBase, current_reviewer, now_iso


class GoldenMixin(StoreBase):
    """The golden / regression set: append-only cases that outlive their source run."""

    def add_golden(self, run: str, session_id: str, reason: str, *, evaluator: str | None = None,
                   reviewer: str | None = None) -> int:
        """Append a regression case (append-only: cases are never edited or removed), audited."""
        doc = orjson.dumps(self.session_doc(run, session_id)).decode()
        reviewer = reviewer or current_reviewer()
        stamp = now_iso()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO golden (session_id, source_run, evaluator, reason, added_by, added_at, doc)"
                " VALUES (?,?,?,?,?,?,?)", (session_id, run, evaluator, reason, reviewer, stamp, doc))
            self._audit(conn, reviewer, "golden_add", {"case": cur.lastrowid, "run": run, "session_id": session_id,
                                                       "evaluator": evaluator, "reason": reason,
                                                       "doc_sha256": hashlib.sha256(doc.encode()).hexdigest()}, stamp)
            return int(cur.lastrowid or 0)

    def golden_cases(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT id, session_id, source_run, evaluator, reason, added_by, added_at, doc"
                                " FROM golden ORDER BY id")

    def golden_session_ids(self) -> set[str]:
        return {r for (r,) in self.conn.execute("SELECT DISTINCT session_id FROM golden")}
