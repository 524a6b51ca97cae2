"""Drift events between consecutive runs of a system, and the notes saying what was done."""

from __future__ import annotations

from typing import Any

from cstui.store.core import StoreBase, StoreError, current_reviewer, now_iso


class DriftMixin(StoreBase):
    """Drift events between consecutive runs of a system, and the notes saying what was done."""

    def record_drift(self, run: str, previous_run: str, events: list[dict[str, Any]]) -> None:
        """Replace this comparison's unannotated events; annotated ones are reviewers' work and stay."""
        system = self._one("SELECT system FROM runs WHERE name = ?", (run,))
        stamp = now_iso()
        with self.transaction() as conn:
            conn.execute("DELETE FROM drift_events WHERE run = ? AND previous_run = ? AND note IS NULL",
                         (run, previous_run))
            kept = {(m, s) for m, s in conn.execute(
                "SELECT metric, scope FROM drift_events WHERE run = ? AND previous_run = ?", (run, previous_run))}
            conn.executemany(
                "INSERT INTO drift_events (system, run, previous_run, metric, scope, previous, current, delta,"
                " n_previous, n_current, p_value, detected_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(system, run, previous_run, e["metric"], e["scope"], e["previous"], e["current"], e["delta"],
                  e["n_previous"], e["n_current"], e["p_value"], stamp)
                 for e in events if (e["metric"], e["scope"]) not in kept],
            )

    def drift_events(self, run: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM drift_events" + (" WHERE run = ?" if run else "") + " ORDER BY id"
        return self._dicts(sql, (run,) if run else ())

    def note_drift(self, event_id: int, note: str, *, reviewer: str | None = None) -> None:
        """Record what was done about a drift event (audited, like labels)."""
        reviewer = reviewer or current_reviewer()
        stamp = now_iso()
        with self.transaction() as conn:
            row = conn.execute("SELECT run, metric, scope FROM drift_events WHERE id = ?", (event_id,)).fetchone()
            if row is None:
                raise StoreError(f"no drift event {event_id}")
            conn.execute("UPDATE drift_events SET note = ?, noted_by = ?, noted_at = ? WHERE id = ?",
                         (note, reviewer, stamp, event_id))
            self._audit(conn, reviewer, "drift_note", {"event_id": event_id, "run": row[0], "metric": row[1],
                                                        "scope": row[2], "note": note}, stamp)
