"""Reviewer labels (each with its audit record: cstui.store.audit)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from operator import itemgetter
from typing import Any

from cstui.store.core import StoreBase, StoreError, _b, current_reviewer, now_iso


def newest_first(labels: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable] = itemgetter("evaluator")
                 ) -> dict[Any, list[dict[str, Any]]]:
    """Reviewers' pass/fail labels grouped by `key` (the evaluator, for one session's labels), newest first: the
    first of each group is the one that counts — "the newest label wins", said here once (labels are appended, so a
    higher id is newer; labels without an id keep the order given, oldest first)."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for _, label in sorted(enumerate(labels), key=lambda p: (p[1].get("id") or 0, p[0]), reverse=True):
        if label.get("evaluator") and label.get("verdict") in ("pass", "fail"):
            out.setdefault(key(label), []).append(label)
    return out


class LabelsMixin(StoreBase):
    """Reviewer labels: append-only, each with its audit record."""

    def add_label(self, run: str, label: Any, *, reviewer: str | None = None) -> int:
        """Append a reviewer's label and its audit record in one transaction."""
        from cstui.models import Label

        lab: Label = label if isinstance(label, Label) else Label.model_validate(
            {**label, "reviewer": reviewer or label.get("reviewer") or current_reviewer()})
        if self._one("SELECT 1 FROM sessions WHERE run = ? AND session_id = ?", (run, lab.session_id)) is None:
            raise StoreError(f"no session {lab.session_id!r} in run {run!r}")
        stamp = now_iso()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO labels (run, session_id, evaluator, verdict, correct, tier, intent, reason, note,"
                " reviewer, source, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (run, lab.session_id, lab.evaluator, lab.verdict, _b(lab.correct), lab.tier, lab.intent,
                 lab.reason, lab.note, lab.reviewer, lab.source, stamp),
            )
            self._audit(conn, lab.reviewer, "label", {"run": run, "label_id": cur.lastrowid,
                                                       **lab.model_dump(exclude_none=True)}, stamp)
            return int(cur.lastrowid or 0)

    def labeled_session_ids(self, run: str) -> set[str]:
        return {r for (r,) in self.conn.execute("SELECT DISTINCT session_id FROM labels WHERE run = ?", (run,))}

    def labels(self, run: str, session_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM labels WHERE run = ?"
        params: list[Any] = [run]
        if session_id is not None:
            sql += " AND session_id = ?"
            params.append(session_id)
        return self._dicts(sql + " ORDER BY id", params)

    def labelled_verdicts(self, run: str) -> list[dict[str, Any]]:
        """Each (session, evaluator) a reviewer gave a pass/fail verdict on, the newest label counting
        (`newest_first`), with the current machine verdict beside it (`has_result` 0 when the evaluator never ran on
        that session)."""
        labels = self._dicts(
            """SELECT l.id, l.session_id, l.evaluator, l.verdict, coalesce(l.note, l.reason) AS reason, l.reviewer,
                      l.source, r.id IS NOT NULL AS has_result, r.passed, r.rationale
               FROM labels l JOIN sessions s ON s.run = l.run AND s.session_id = l.session_id
               LEFT JOIN verdicts r ON r.id = (  -- through the run's sets of the evaluator: no scan of verdicts
                   SELECT v.id FROM verdict_sets vs JOIN verdicts v ON v.vset = vs.id AND v.sid = s.id
                   WHERE vs.run = l.run AND vs.evaluator = l.evaluator AND vs.superseded = 0 AND v.current = 1
                   ORDER BY v.id DESC LIMIT 1)
               WHERE l.run = ? AND l.evaluator IS NOT NULL AND l.verdict IN ('pass', 'fail')""", (run,))
        out = sorted((group[0] for group in newest_first(labels, itemgetter("session_id", "evaluator")).values()),
                     key=itemgetter("id"))
        for rec in out:
            rec["passed"] = None if rec["passed"] is None else bool(rec["passed"])
            del rec["id"]
        return out

    def labels_all(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM labels ORDER BY id")

    def change_marker(self) -> tuple[str, int, int, int]:
        """Changes whenever a label, an audited note, a verdict, a session or a drift event is written: a screen
        holding metrics compares it to know whether they are stale (each lookup reads one end of a B-tree)."""
        return (self.audit_head(), self._one("SELECT max(id) FROM verdicts") or 0,
                self._one("SELECT max(id) FROM sessions") or 0, self._one("SELECT max(id) FROM drift_events") or 0)
