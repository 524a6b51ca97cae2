"""Verdicts: one transaction per evaluation, history kept, per-session bit masks for fast metrics."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

if TYPE_CHECKING:
    import polars as pl

    from cstui.evaluators.base import Verdict

from cstui.store.audit import RowDigest, digest_rows
from cstui.store.core import StoreError, _b, current_reviewer, now_iso
from cstui.store.labels import LabelsMixin
from cstui.store.masks import update_verdict_masks


class VerdictRow(NamedTuple):
    """One verdict on its way from an evaluator (or a judge, or an import) to the store: the one shape it has
    there, built by `verdict_row`. Between processes a chunk travels as plain tuples in this layout
    (`worker.evaluate_pool_chunk`: a NamedTuple pickles ten times slower, seconds at a million sessions), so the
    writer reads rows by unpacking them in this order, which holds for both."""

    sid: int
    evaluator: str
    evaluator_version: str
    passed: int | None  # 1 pass, 0 fail, None not applicable or an error
    score: float | None
    label: str | None
    rationale: str | None
    evidence: str  # JSON list
    detail: str | None  # JSON: a judge's transcript


def _retire(conn: sqlite3.Connection, run: str, rows: list[Any], first: int, last: int) -> None:
    """Mark not current the verdicts `rows` (sid, evaluator, ...) replace, for evaluations that do not cover the
    whole run (those supersede sets instead). When the rows hold every evaluator for every session of the run
    between their first and last sid (a Parquet dataset's chunks, a contiguous choice of sessions), those are retired
    as one range of verdicts_by_set per set (~7x faster than a lookup per verdict); otherwise each (sid, evaluator)
    is looked up. Either way from the chunk's sessions, never a scan of the run's verdicts (that made evaluation
    quadratic)."""
    pairs = {(sid, evaluator) for sid, evaluator, _, _, _, _, _, _, _ in rows}
    evaluators = {e for _, e in pairs}
    n_sids = len({s for s, _ in pairs})
    if len(pairs) == n_sids * len(evaluators) and n_sids == conn.execute(
            "SELECT count(*) FROM sessions WHERE run = ? AND id BETWEEN ? AND ?", (run, first, last)).fetchone()[0]:
        # INDEXED BY: a range of sids in each set, never a walk of a whole set per chunk
        conn.execute(f"UPDATE verdicts INDEXED BY verdicts_by_set SET current = 0 WHERE sid BETWEEN ? AND ?"
                     f" AND current = 1 AND vset IN (SELECT id FROM verdict_sets WHERE run = ? AND superseded = 0"
                     f" AND evaluator IN ({','.join('?' * len(evaluators))}))", (first, last, run, *evaluators))
        return
    conn.execute("DELETE FROM _new")
    conn.executemany("INSERT INTO _new VALUES (?, ?)", pairs)
    # CROSS JOIN keeps the chunk outermost: with the run's sets outermost, each set rescanned the chunk, a cost
    # that grew with every evaluation kept in the history
    conn.execute(
        "UPDATE verdicts SET current = 0 WHERE id IN (SELECT v.id FROM _new n CROSS JOIN verdict_sets s"
        " ON s.run = ? AND s.evaluator = n.evaluator AND s.superseded = 0"
        " CROSS JOIN verdicts v ON v.sid = n.sid AND v.vset = s.id WHERE v.current = 1)", (run,))


_new = tuple.__new__


def verdict_row(sid: int, evaluator: str, version: str, v: Verdict) -> VerdictRow:
    """The stored columns of one evaluator's `Verdict` on session `sid`."""
    # tuple.__new__: a third of VerdictRow(...)'s cost, paid 21 times a session
    return _new(VerdictRow, (sid, evaluator, version, _b(v.passed), None if v.score is None else float(v.score),
                             v.label, v.rationale, evidence_json(v.evidence),
                             None if v.detail is None else orjson.dumps(v.detail).decode()))


def evidence_json(evidence: list[Any]) -> str:
    """Evidence as stored; a plug-in's dicts are read as `Evidence` first (types checked)."""
    if not evidence:
        return "[]"
    try:
        return orjson.dumps([e.model_dump(exclude_none=True) for e in evidence]).decode()
    except AttributeError:
        from cstui.models import Evidence

        return orjson.dumps([Evidence.model_validate(e).model_dump(exclude_none=True) for e in evidence]).decode()


class VerdictWriter:
    """What `results_writer` yields: called with rows, it appends them and retires the verdicts they replace."""

    def __init__(self, conn: sqlite3.Connection, run: str, batch: str | None, source: str) -> None:
        self.conn, self.run, self.batch, self.source, self.stamp = conn, run, batch, source, now_iso()
        # what the audit record of this evaluation will hold: the rows' digest and id range, the sets superseded
        self.digest = RowDigest()
        self.first_id = (conn.execute("SELECT max(id) FROM verdicts").fetchone()[0] or 0) + 1
        self.superseded_sets: list[int] = []
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS _new (sid INTEGER, evaluator TEXT)")
        # A run's first evaluation has nothing to retire: while chunks arrive in rising session order, no row can
        # replace another, and the retiring join (a third of the writing time) is skipped. The same holds for
        # evaluators whose earlier sets `supersede` retired as a whole.
        self.nothing_before = conn.execute(
            "SELECT 1 FROM verdicts WHERE current = 1 AND vset IN (SELECT id FROM verdict_sets WHERE run = ?"
            " AND superseded = 0) LIMIT 1", (run,)).fetchone() is None
        self.rising, self.high = True, 0  # chunks came in rising sid order so far; the highest sid written
        self.superseded: set[str] = set()
        self.vsets: dict[tuple[str, str, str], int] = {}  # (evaluator, version, source) -> verdict_sets.id

    def supersede(self, evaluators: Iterable[str]) -> None:
        """Retire every earlier verdict of these evaluators on the run, set by set: call it before writing an
        evaluation that gives each of them a verdict on every session of the run. Their rows are left as they
        are (a verdict is current when its row says so and its set is not superseded), so a second evaluation
        costs what the first did rather than rewriting the previous one's rows across the file."""
        evaluators = list(dict.fromkeys(evaluators))
        mine = list(self.vsets.values())
        ids = [i for (i,) in self.conn.execute(
            f"SELECT id FROM verdict_sets WHERE run = ? AND superseded = 0"
            f" AND evaluator IN ({','.join('?' * len(evaluators))}) AND id NOT IN ({','.join('?' * len(mine))})",
            (self.run, *evaluators, *mine))]
        self.conn.execute(f"UPDATE verdict_sets SET superseded = 1 WHERE id IN ({','.join('?' * len(ids))})", ids)
        self.superseded_sets += ids
        self.superseded.update(evaluators)

    def _vset(self, evaluator: str, version: str, origin: str) -> int:
        key = (evaluator, version, origin)
        if key not in self.vsets:
            self.vsets[key] = self.conn.execute(
                "INSERT INTO verdict_sets (run, batch, source, evaluator, evaluator_version, created_at)"
                " VALUES (?,?,?,?,?,?)", (self.run, self.batch, origin, evaluator, version, self.stamp)).lastrowid
        return self.vsets[key]

    def __call__(self, rows: Iterable[VerdictRow | tuple[Any, ...]], source_of_rows: str | None = None) -> int:
        """Append verdict rows; `source_of_rows` overrides the writer's source (judge verdicts in a mixed batch)."""
        origin = source_of_rows or self.source
        rows = rows if isinstance(rows, list) else list(rows)  # read twice: the inserts, then the masks
        if not rows:
            return 0
        ids = {key: self._vset(*key, origin) for key in {(e, v) for _, e, v, _, _, _, _, _, _ in rows}}
        sids = [sid for sid, _, _, _, _, _, _, _, _ in rows]
        first, last = min(sids), max(sids)
        nothing_current = self.nothing_before or {evaluator for evaluator, _ in ids} <= self.superseded
        if not (self.rising and first > self.high and nothing_current):
            self.rising = self.rising and first > self.high
            _retire(self.conn, self.run, rows, first, last)
        self.high = max(self.high, last)
        details = [detail for _, _, _, _, _, _, _, _, detail in rows]
        if any(detail is not None for detail in details):  # judges' transcripts
            params = [(sid, ids[evaluator, version], passed, score, label, rationale, evidence)
                      for sid, evaluator, version, passed, score, label, rationale, evidence, _ in rows]
            self.conn.executemany(
                "INSERT INTO verdicts (sid, vset, passed, score, label, rationale, evidence, detail)"
                " VALUES (?,?,?,?,?,?,?,?)", [(*p, d) for p, d in zip(params, details, strict=True)])
            self.digest.add(params, details)
        else:  # deterministic verdicts have none: a parameter fewer to bind is ~8% of the inserts' time
            params = [(sid, ids[evaluator, version], passed, score, label, rationale, evidence)
                      for sid, evaluator, version, passed, score, label, rationale, evidence, _ in rows]
            self.conn.executemany(
                "INSERT INTO verdicts (sid, vset, passed, score, label, rationale, evidence) VALUES (?,?,?,?,?,?,?)",
                params)
            self.digest.add(params)
        update_verdict_masks(self.conn, self.run, ((sid, evaluator, version, passed)
                                                   for sid, evaluator, version, passed, _, _, _, _, _ in rows))
        return len(rows)

    def audit_payload(self) -> dict[str, Any]:
        """The evaluation as its audit record states it (cstui.store.audit checks the file against it)."""
        digest, details = self.digest.hexdigests()
        last = self.conn.execute("SELECT max(id) FROM verdicts").fetchone()[0] or 0
        return {"run": self.run, "batch": self.batch,
                "sets": [{"id": i, "evaluator": ev, "version": version, "source": origin}
                         for (ev, version, origin), i in sorted(self.vsets.items(), key=lambda kv: kv[1])],
                "superseded": sorted(self.superseded_sets), "first_id": self.first_id, "last_id": last,
                "rows": max(0, last - self.first_id + 1), "digest": digest, "details_digest": details}


# The history besides superseded sets' rows (`marks`: one placeholder per run): rows a rerun of chosen sessions
# retired, read through each of the runs' sets; and sets left without a current verdict.
_RETIRED_ROWS = "current = 0 AND vset IN (SELECT id FROM verdict_sets WHERE run IN ({marks}))"
_SETS_WITHOUT_CURRENT = ("run IN ({marks}) AND NOT EXISTS (SELECT 1 FROM verdicts WHERE vset = verdict_sets.id"
                         " AND current = 1)")


@dataclass
class History:
    """Verdicts no longer current: rows of superseded sets, and rows a rerun of chosen sessions retired."""

    verdicts: int
    sets: int  # verdict sets left with no current verdict (deleted with their rows by a prune)


class ResultsMixin(LabelsMixin):
    """Verdicts: one transaction per evaluation, history kept, per-session bit masks for fast metrics."""

    def history(self, run: str | None = None) -> History:
        """What `prune_history` would delete (of one run, or of every run)."""
        runs, marks = self._prunable_runs(run)
        superseded = self._one(f"SELECT count(*) FROM verdicts WHERE current = 1 AND vset IN (SELECT id FROM"
                               f" verdict_sets WHERE superseded = 1 AND run IN ({marks}))", runs)
        retired = self._one(f"SELECT count(*) FROM verdicts WHERE {_RETIRED_ROWS.format(marks=marks)}", runs)
        sets = self._one(f"SELECT count(*) FROM verdict_sets WHERE (superseded = 1 AND run IN ({marks}))"
                         f" OR ({_SETS_WITHOUT_CURRENT.format(marks=marks)})", runs * 2)
        return History(superseded + retired, sets)

    def prune_history(self, run: str | None = None, *, reviewer: str | None = None,
                      progress: Callable[[int, int], None] | None = None) -> History:
        """Delete the verdicts that are no longer current, of one run or of every run, in one audited transaction.

        Every evaluation keeps the verdicts it replaces (about 2 GB per evaluation of a million sessions); nothing
        cstui shows reads them, so reports, gates, the TUI and exports are the same after a prune. The pages freed
        are reused by later writes; VACUUM returns them to the disk. `progress(done, total)` counts steps: each
        superseded set, then the rows a rerun retired."""
        runs, marks = self._prunable_runs(run)
        stamp = now_iso()
        with self.transaction() as conn:
            superseded = [i for (i,) in conn.execute(
                f"SELECT id FROM verdict_sets WHERE superseded = 1 AND run IN ({marks}) ORDER BY id", runs)]
            n = 0
            for done, vset in enumerate(superseded):  # a set at a time, a range of verdicts_by_set each
                n += conn.execute("DELETE FROM verdicts WHERE vset = ? AND current = 1", (vset,)).rowcount
                if progress:
                    progress(done, len(superseded) + 1)
            retired = conn.execute(f"DELETE FROM verdicts WHERE {_RETIRED_ROWS.format(marks=marks)} RETURNING vset",
                                   runs).fetchall()
            touched = {i for (i,) in retired}
            n += len(retired)
            deleted = [i for (i,) in conn.execute(
                f"SELECT id FROM verdict_sets WHERE {_SETS_WITHOUT_CURRENT.format(marks=marks)}", runs)]
            conn.execute(f"DELETE FROM verdict_sets WHERE id IN ({','.join('?' * len(deleted))})", deleted)
            self._audit(conn, reviewer or current_reviewer(), "prune",
                        {"runs": runs, "verdicts": n, "sets": len(deleted), "deleted_sets": deleted,
                         "resealed": self._reseal(conn, touched - set(deleted))}, stamp)
            if progress:
                progress(len(superseded) + 1, len(superseded) + 1)
        return History(n, len(deleted))

    def _reseal(self, conn: sqlite3.Connection, sets: set[int]) -> dict[str, list[str]]:
        """The digests, after a prune deleted some of their rows, of the audited evaluations that wrote `sets`:
        the audit then checks what is left against them."""
        if not sets:
            return {}
        out = {}
        for rid, payload in conn.execute("SELECT id, payload FROM audit WHERE action = 'evaluate'"):
            body = orjson.loads(payload)
            ids = [int(s["id"]) for s in body["sets"]]
            if sets & set(ids):
                live = [i for (i,) in conn.execute(
                    f"SELECT id FROM verdict_sets WHERE id IN ({','.join('?' * len(ids))})", ids)]
                out[str(rid)] = list(digest_rows(conn, int(body["first_id"]), int(body["last_id"]), live))
        return out

    def free_bytes(self) -> int:
        """Space inside the file that no table uses (reused by later writes)."""
        return int(self._one("PRAGMA freelist_count")) * int(self._one("PRAGMA page_size"))

    def vacuum(self) -> bool:
        """Rewrite the file without its free pages, and empty the write-ahead log, so the disk gets them back. False
        when another connection is reading: the rewritten pages then wait in the log until it closes."""
        try:
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA busy_timeout = 2000")  # a reader keeps its snapshot until it ends: no long wait
            busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError as exc:  # another process writing, or no room for the copy
            raise StoreError(f"{self.path}: VACUUM failed ({exc})") from exc
        finally:
            self.conn.execute("PRAGMA busy_timeout = 30000")
        return not busy

    def _prunable_runs(self, run: str | None) -> tuple[list[str], str]:
        if run is not None:
            self.run(run)  # UnknownRun for a name the file does not hold
        runs = [run] if run is not None else [r for (r,) in self.conn.execute("SELECT name FROM runs ORDER BY name")]
        return runs, ",".join("?" * len(runs))

    @contextmanager
    def results_writer(self, run: str, *, batch: str | None = None, source: str = "cstui",
                       actor: str | None = None) -> Iterator[VerdictWriter]:
        """One transaction for a whole evaluation; `write(rows)` appends verdicts and retires the ones they
        replace. Nothing is visible to readers until the evaluation completes, and then with its audit record
        (what it wrote, and a digest of the rows)."""
        with self.transaction() as conn:
            writer = VerdictWriter(conn, run, batch, source)
            yield writer
            self._audit(conn, actor or current_reviewer(), "evaluate", writer.audit_payload(), writer.stamp)
            conn.execute("UPDATE runs SET data_version = data_version + 1 WHERE name = ?", (run,))

    def iter_result_rows(self, run: str) -> Iterator[dict[str, Any]]:
        cur = self._dict_rows(
            """SELECT vs.run, s.session_id, vs.evaluator, vs.evaluator_version, v.passed, v.score, v.label,
                      v.rationale, v.evidence, vs.source, vs.created_at
               FROM verdict_sets vs JOIN verdicts v ON v.vset = vs.id JOIN sessions s ON s.id = v.sid
               WHERE vs.run = ? AND vs.superseded = 0 AND v.current = 1 ORDER BY v.sid, vs.evaluator""",
            (run,),
        )
        for rec in cur:
            rec["passed"] = None if rec["passed"] is None else bool(rec["passed"])
            rec["evidence"] = orjson.loads(rec["evidence"]) if rec["evidence"] else []
            yield rec

    def session_results(self, run: str, session_id: str) -> list[dict[str, Any]]:
        cur = self._dict_rows(
            """SELECT vs.evaluator, vs.evaluator_version, v.passed, v.score, v.label, v.rationale, v.evidence,
                      v.detail, vs.created_at
               FROM sessions s JOIN verdict_sets vs ON vs.run = s.run AND vs.superseded = 0
                    JOIN verdicts v ON v.vset = vs.id AND v.sid = s.id
               WHERE s.run = ? AND s.session_id = ? AND v.current = 1 ORDER BY vs.evaluator""",
            (run, session_id),
        )
        out = []
        for rec in cur:
            rec["evidence"] = orjson.loads(rec["evidence"]) if rec["evidence"] else []
            rec["detail"] = orjson.loads(rec["detail"]) if rec["detail"] else None
            out.append(rec)
        return out

    def verdict_rows(self, run: str, session_ids: Sequence[str] | None = None
                     ) -> Iterator[tuple[str, str | None, str, bool | None, dict[str, Any]]]:
        """(session_id, started_at, evaluator, passed, strata) of the current machine verdicts of these sessions
        (all of the run's when None), strata being the session's tier, intent, channel, category and segment: what
        live drift and window gates count."""
        sql = ("SELECT s.session_id, s.started_at, vs.evaluator, v.passed, s.tier, s.intent, s.channel, s.category,"
               " s.segment FROM sessions s"
               " JOIN verdict_sets vs ON vs.run = s.run AND vs.superseded = 0"
               " JOIN verdicts v ON v.vset = vs.id AND v.sid = s.id WHERE s.run = ? AND v.current = 1")
        chunks = [None] if session_ids is None else [list(session_ids[i:i + 500])
                                                      for i in range(0, len(session_ids), 500)]
        for chunk in chunks:
            where = "" if chunk is None else f" AND s.session_id IN ({','.join('?' * len(chunk))})"
            for sid, started, evaluator, passed, *strata in self.conn.execute(sql + where, (run, *(chunk or ()))):
                yield (sid, started, evaluator, None if passed is None else bool(passed),
                       dict(zip(("tier", "intent", "channel", "category", "segment"), strata, strict=True)))

    def evaluator_scores(self, run: str, evaluator: str) -> Iterator[pl.DataFrame]:
        """sid, score of one evaluator's current verdicts that carry a score (e.g. frustration, 0-1), in frames of
        at most 10,000 rows (a reader places them as they come) and in no particular order."""
        import polars as pl

        return self._frames(
            "SELECT sid, score FROM verdicts WHERE current = 1 AND score IS NOT NULL"
            " AND vset IN (SELECT id FROM verdict_sets WHERE run = ? AND evaluator = ? AND superseded = 0)",
            (run, evaluator), {"sid": pl.Int64, "score": pl.Float64}, rows=10_000)

    def score_moments(self, run: str, evaluator: str, filters: dict[str, list[Any]] | None = None,
                      per: str | None = None) -> dict[Any, tuple[int, float, float]]:
        """Count, sum and sum of squares of an evaluator's current scores in a run, for the sessions matching
        `filters` (session columns → allowed values), grouped by the session column `per` (key None without it):
        what a mean with its interval needs, computed in SQLite without reading the verdicts out."""
        columns = {"tier", "intent", "channel", "segment", "category"}
        where, params = ["vs.run = ?", "vs.evaluator = ?", "vs.superseded = 0", "v.current = 1",
                         "v.score IS NOT NULL"], [run, evaluator]
        for column, values in (filters or {}).items():
            if column not in columns:
                raise ValueError(f"no session column {column!r} to filter scores by")
            where.append(f"s.{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
        if per is not None and per not in columns:
            raise ValueError(f"no session column {per!r} to group scores by")
        key = f"s.{per}" if per else "NULL"
        rows = self.conn.execute(
            f"""SELECT {key}, COUNT(*), SUM(v.score), SUM(v.score * v.score)
                FROM verdict_sets vs JOIN verdicts v ON v.vset = vs.id JOIN sessions s ON s.id = v.sid
                WHERE {' AND '.join(where)} GROUP BY {key}""", params).fetchall()
        return {k: (int(n), float(total or 0.0), float(squares or 0.0)) for k, n, total, squares in rows}

    def evaluator_versions(self, run: str) -> dict[str, str]:
        return dict(self.conn.execute("SELECT evaluator, version FROM evaluator_bits WHERE run = ?", (run,)).fetchall())

    def judge_details(self, run: str, evaluators: Sequence[str]) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
        """(evaluator, judge transcript, label) of the current verdicts of the given judge evaluators."""
        marks = ",".join("?" * len(evaluators))
        for evaluator, detail, label in self.conn.execute(
            f"SELECT s.evaluator, v.detail, v.label FROM verdict_sets s JOIN verdicts v ON v.vset = s.id"
            f" WHERE s.run = ? AND s.evaluator IN ({marks}) AND s.superseded = 0 AND v.current = 1"
            " AND s.source LIKE 'judge:%'",
            (run, *evaluators)):
            yield evaluator, orjson.loads(detail) if detail else None, label

    def iter_evidence_rows(self, run: str) -> Iterator[dict[str, Any]]:
        """The governance record: one row per interaction x assertion (with the human verdict over it), then every
        other human judgement (review-queue criteria, overall correctness, tier or intent fixes), then drift events."""
        from cstui.reviewed import effective, verdict_word

        human = {(lab["session_id"], lab["evaluator"]): lab for lab in self.reviewer_verdicts(run)}
        used: set[int] = set()  # labels shown beside a machine verdict; the rest get rows of their own
        system = self._one("SELECT system FROM runs WHERE name = ?", (run,))
        cur = self.conn.execute(
            """SELECT vs.created_at, s.session_id, json_extract(s.doc, '$.system.version'), vs.evaluator,
                      vs.evaluator_version, v.passed, v.rationale, v.evidence, vs.source
               FROM verdict_sets vs JOIN verdicts v ON v.vset = vs.id JOIN sessions s ON s.id = v.sid
               WHERE vs.run = ? AND vs.superseded = 0 AND v.current = 1 ORDER BY v.sid, vs.evaluator""", (run,))
        for at, session_id, version, evaluator, ev_version, passed, rationale, evidence, source in cur:
            lab = human.get((session_id, evaluator))
            if lab:
                used.add(lab["id"])
            machine = None if passed is None else bool(passed)
            yield {
                "record": "assertion", "timestamp": at, "run": run, "system": system, "system_version": version,
                "session_id": session_id, "evaluator": evaluator, "evaluator_version": ev_version,
                "verdict": verdict_word(effective(machine, lab["verdict"] if lab else None)),
                "machine_verdict": verdict_word(machine), "source": source,
                "rationale": rationale, "evidence": orjson.loads(evidence) if evidence else [],
                "human_verdict": lab["verdict"] if lab else None, "human_reviewer": lab["reviewer"] if lab else None,
                "human_at": lab["created_at"] if lab else None, "human_note": lab["note"] if lab else None,
                "metric": None, "scope": None, "previous": None, "current": None, "delta": None,
            }
        for lab in self.labels(run):
            if lab["id"] in used:
                continue  # every other human judgement: review-queue criteria, overall correctness, tier/intent fixes
            what = ", ".join(f"{k}={lab[k]}" for k in ("verdict", "correct", "tier", "intent", "reason")
                             if lab[k] is not None)
            yield {
                "record": "label", "timestamp": lab["created_at"], "run": run, "system": system,
                "system_version": None, "session_id": lab["session_id"], "evaluator": lab["evaluator"],
                "evaluator_version": None, "verdict": lab["verdict"], "machine_verdict": None,
                "source": f"label ({lab['source'] or 'triage'})", "rationale": what or None, "evidence": [],
                "human_verdict": lab["verdict"], "human_reviewer": lab["reviewer"], "human_at": lab["created_at"],
                "human_note": lab["note"], "metric": None, "scope": None, "previous": None, "current": None,
                "delta": None,
            }
        for e in self.drift_events(run):
            yield {
                "record": "drift_event", "timestamp": e["detected_at"], "run": run, "system": e["system"],
                "system_version": None, "session_id": None, "evaluator": None, "evaluator_version": None,
                "verdict": None, "machine_verdict": None, "source": f"drift vs {e['previous_run']}",
                "rationale": None, "evidence": [], "human_verdict": None, "human_reviewer": e["noted_by"],
                "human_at": e["noted_at"], "human_note": e["note"], "metric": e["metric"], "scope": e["scope"],
                "previous": e["previous"], "current": e["current"], "delta": e["delta"],
            }
