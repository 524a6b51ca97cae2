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

    def reviewer_verdicts(self, run: str) -> list[dict[str, Any]]:
        """The label that counts for each (session, evaluator) a reviewer gave a pass/fail verdict on (`newest_first`),
        with the session's row id as `sid`; in label order. What the metrics' masks, the governance record and
        validation read: few rows, one per reviewed verdict."""
        labels = self._dicts(
            """SELECT l.*, s.id AS sid FROM labels l JOIN sessions s ON s.run = l.run AND s.session_id = l.session_id
               WHERE l.run = ? AND l.evaluator IS NOT NULL AND l.verdict IS NOT NULL""", (run,))
        return sorted((group[0] for group in newest_first(labels, itemgetter("sid", "evaluator")).values()),
                      key=itemgetter("id"))

    def labelled_verdicts(self, run: str) -> list[dict[str, Any]]:
        """`reviewer_verdicts` with the current machine verdict beside each (`passed`, `rationale`; `has_result` 0
        when the evaluator never ran on that session): what validation and `golden --from-run` read."""
        out = []
        for lab in self.reviewer_verdicts(run):
            # through the run's sets of the evaluator: no scan of verdicts
            found = self.conn.execute(
                """SELECT v.passed, v.rationale FROM verdict_sets vs JOIN verdicts v ON v.vset = vs.id AND v.sid = ?
                   WHERE vs.run = ? AND vs.evaluator = ? AND vs.superseded = 0 AND v.current = 1
                   ORDER BY v.id DESC LIMIT 1""", (lab["sid"], run, lab["evaluator"])).fetchone()
            out.append({"session_id": lab["session_id"], "evaluator": lab["evaluator"], "verdict": lab["verdict"],
                        "reason": lab["note"] if lab["note"] is not None else lab["reason"],
                        "reviewer": lab["reviewer"], "source": lab["source"], "has_result": int(found is not None),
                        "passed": None if found is None or found[0] is None else bool(found[0]),
                        "rationale": found[1] if found else None})
        return out

    def labels_all(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM labels ORDER BY id")

    def change_marker(self) -> tuple[str, int, int, int]:
        """Changes whenever a label, an audited note, a verdict, a session or a drift event is written: a screen
        holding metrics compares it to know whether they are stale (each lookup reads one end of a B-tree)."""
        return (self.audit_head(), self._one("SELECT max(id) FROM verdicts") or 0,
                self._one("SELECT max(id) FROM sessions") or 0, self._one("SELECT max(id) FROM drift_events") or 0)
