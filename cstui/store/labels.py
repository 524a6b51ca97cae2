"""Reviewer labels and the hash-chained audit log they, drift notes and regression cases append to."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import orjson

from cstui.store.core import StoreBase, StoreError, _b, current_reviewer, now_iso


def audit_hash(prev_hash: str, at: str, actor: str, action: str, payload: str) -> str:
    return hashlib.sha256("\x1f".join((prev_hash, at, actor, action, payload)).encode()).hexdigest()


class LabelsMixin(StoreBase):
    """Reviewer labels and the hash-chained audit log they, drift notes and regression cases append to."""

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
        """Each (session, evaluator) a reviewer gave a pass/fail verdict on, the newest label counting, with the
        current machine verdict beside it (`has_result` 0 when the evaluator never ran on that session)."""
        out = self._dicts(
            """SELECT l.session_id, l.evaluator, l.verdict, coalesce(l.note, l.reason) AS reason, l.reviewer,
                      l.source, r.id IS NOT NULL AS has_result, r.passed, r.rationale
               FROM labels l JOIN sessions s ON s.run = l.run AND s.session_id = l.session_id
               LEFT JOIN verdicts r ON r.id = (  -- through the run's sets of the evaluator: no scan of verdicts
                   SELECT v.id FROM verdict_sets vs JOIN verdicts v ON v.vset = vs.id AND v.sid = s.id
                   WHERE vs.run = l.run AND vs.evaluator = l.evaluator AND vs.superseded = 0 AND v.current = 1
                   ORDER BY v.id DESC LIMIT 1)
               WHERE l.id IN (SELECT max(id) FROM labels WHERE run = ? AND evaluator IS NOT NULL
                              AND verdict IN ('pass', 'fail') GROUP BY session_id, evaluator)
               ORDER BY l.id""", (run,))
        for rec in out:
            rec["passed"] = None if rec["passed"] is None else bool(rec["passed"])
        return out

    def labels_all(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM labels ORDER BY id")

    def _audit(self, conn: sqlite3.Connection, actor: str, action: str, payload: dict[str, Any], at: str) -> None:
        prev = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = prev[0] if prev else "0" * 64
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
        digest = audit_hash(prev_hash, at, actor, action, body)
        conn.execute(
            "INSERT INTO audit (at, actor, action, payload, prev_hash, hash) VALUES (?,?,?,?,?,?)",
            (at, actor, action, body, prev_hash, digest),
        )

    def verify_audit(self) -> tuple[int, str | None]:
        """Walk the hash chain, then check that labels, drift notes and golden cases match their audit records.

        Returns (records checked, description of the first problem or None). The chain catches edits,
        deletions and reordering of audit records; the cross-check catches edits or deletions of the
        audited rows themselves, and of the chain's tail together with them only if a row survives. Record
        the printed head hash elsewhere to catch a truncated tail too.
        """
        prev_hash = "0" * 64
        n = 0
        labels: dict[int, dict[str, Any]] = {}
        drift_notes: dict[int, str] = {}
        golden: set[int] = set()
        for rid, at, actor, action, payload, stored_prev, digest in self.conn.execute(
            "SELECT id, at, actor, action, payload, prev_hash, hash FROM audit ORDER BY id"
        ):
            n += 1
            if stored_prev != prev_hash:
                return n, f"audit record {rid}: previous-hash link broken (a record before it was removed or reordered)"
            if audit_hash(prev_hash, at, actor, action, payload) != digest:
                return n, f"audit record {rid}: contents do not match its hash (edited)"
            prev_hash = digest
            body = orjson.loads(payload)
            if action == "label":
                labels[int(body["label_id"])] = body
            elif action == "drift_note":
                drift_notes[int(body["event_id"])] = body["note"]
            elif action == "golden_add":
                golden.add(int(body["case"]))
        cols = ("session_id", "evaluator", "verdict", "correct", "tier", "intent", "reason", "note", "reviewer",
                "source")
        for row in self.labels_all():
            logged = labels.pop(int(row["id"]), None)
            if logged is None:
                return n, f"label {row['id']} has no audit record (inserted outside cstui, or its record was deleted)"
            for col in cols:
                stored = row[col]
                expected = logged.get(col)
                if col == "correct" and expected is not None:
                    expected = int(expected)
                if stored != expected or (col == "session_id" and row["run"] != logged.get("run")):
                    return n, f"label {row['id']}: {col} differs from its audit record (edited)"
        if labels:
            return n, f"label {min(labels)} was deleted (its audit record remains)"
        for event_id, note in self.conn.execute("SELECT id, note FROM drift_events WHERE note IS NOT NULL"):
            if drift_notes.get(int(event_id)) != note:
                return n, f"drift event {event_id}: its note differs from the audit record (edited)"
        cases = {int(r) for (r,) in self.conn.execute("SELECT id FROM golden")}
        if cases != golden:
            odd = sorted(cases ^ golden)[0]
            return n, f"regression case {odd} does not match the audit log (added or removed outside cstui)"
        return n, None

    def audit_head(self) -> str:
        return self._one("SELECT hash FROM audit ORDER BY id DESC LIMIT 1") or "0" * 64

    def change_marker(self) -> tuple[str, int]:
        """Changes whenever a label, an audited note or a verdict is written: a screen holding metrics compares it
        to know whether they are stale (both lookups read one end of a B-tree)."""
        return self.audit_head(), self._one("SELECT max(id) FROM verdicts") or 0
