"""Sessions, their spans and the run's KB: documents by id, in chunks for the evaluator pool."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from cstui.models import KBArticle, Session

from cstui.store.core import StoreBase, StoreError


class SessionsMixin(StoreBase):
    """Sessions, their spans and the run's KB: documents by id, in chunks for the evaluator pool."""

    def session_ids(self, run: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT session_id FROM sessions WHERE run = ? ORDER BY id", (run,))]

    def sid_map(self, run: str, session_ids: Sequence[str]) -> dict[str, int]:
        """session id → row id for those of the given sessions the run holds."""
        found: dict[str, int] = {}
        ids = list(session_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update((sid, rid) for rid, sid in self.conn.execute(
                f"SELECT id, session_id FROM sessions WHERE run = ? AND session_id IN ({marks})", (run, *chunk)))
        return found

    def sids_for(self, run: str, session_ids: Sequence[str]) -> list[int]:
        """Row ids of the given sessions of a run, in the order given (unknown ids are skipped)."""
        found = self.sid_map(run, session_ids)
        return [found[s] for s in session_ids if s in found]

    def runs_of_session(self, session_id: str) -> list[str]:
        return sorted(r for (r,) in self.conn.execute("SELECT run FROM sessions WHERE session_id = ?", (session_id,)))

    def run_of_session(self, session_id: str) -> str:
        """The run holding a session id, when exactly one does."""
        runs = self.runs_of_session(session_id)
        if not runs:
            raise StoreError(f"no session {session_id!r} in {self.path}")
        if len(runs) > 1:
            raise StoreError(f"session {session_id!r} is in runs {', '.join(sorted(runs))}; pass --run")
        return runs[0]

    def session_doc(self, run: str, session_id: str) -> dict[str, Any]:
        """The native JSON document of one session, spans included."""
        row = self.conn.execute(
            "SELECT id, doc FROM sessions WHERE run = ? AND session_id = ?", (run, session_id)
        ).fetchone()
        if row is None:
            raise StoreError(f"no session {session_id!r} in run {run!r}")
        data = orjson.loads(row[1])
        data["spans"] = [orjson.loads(d) for (d,) in self.conn.execute(
            "SELECT doc FROM spans WHERE sid = ? ORDER BY id", (row[0],))]
        return data

    def session(self, run: str, session_id: str) -> Session:
        from cstui.models import Session

        return Session.model_validate(self.session_doc(run, session_id))

    def iter_session_docs(self, run: str) -> Iterator[dict[str, Any]]:
        """Native documents in import order, for export; streams spans alongside."""
        span_cur = self.conn.cursor().execute(
            "SELECT s.sid, s.doc FROM spans s JOIN sessions x ON x.id = s.sid WHERE x.run = ? ORDER BY s.sid, s.id",
            (run,),
        )
        pending = span_cur.fetchone()
        for sid, doc in self.conn.cursor().execute("SELECT id, doc FROM sessions WHERE run = ? ORDER BY id", (run,)):
            data = orjson.loads(doc)
            spans = []
            while pending is not None and pending[0] == sid:
                spans.append(orjson.loads(pending[1]))
                pending = span_cur.fetchone()
            data["spans"] = spans
            yield data

    def session_json_chunks(self, sids: Sequence[int], size: int) -> Iterator[list[tuple[int, bytes]]]:
        """Native JSON (spans included) of the given sessions, in chunks, for evaluation workers."""
        for start in range(0, len(sids), size):
            chunk = list(sids[start : start + size])
            marks = ",".join("?" * len(chunk))
            docs = dict(self.conn.execute(f"SELECT id, doc FROM sessions WHERE id IN ({marks})", chunk))
            spans: dict[int, list[bytes]] = {}
            for sid, doc in self.conn.execute(
                f"SELECT sid, doc FROM spans WHERE sid IN ({marks}) ORDER BY sid, id", chunk
            ):
                spans.setdefault(sid, []).append(doc if isinstance(doc, bytes) else doc.encode())
            out = []
            for sid in chunk:
                doc = docs[sid] if isinstance(docs[sid], bytes) else docs[sid].encode()
                body = doc.rstrip()[:-1]  # splice spans into the stored object without re-parsing it
                sep = b"," if body.rstrip()[-1:] != b"{" else b""
                out.append((sid, body + sep + b'"spans":[' + b",".join(spans.get(sid, [])) + b"]}"))
            yield out

    def run_sids(self, run: str) -> array[int]:
        """Internal ids of a run's sessions, in import order; packed (8 bytes each, where a list of a million ints
        takes 36 MB)."""
        return array("q", (sid for (sid,) in self.conn.execute("SELECT id FROM sessions WHERE run = ? ORDER BY id",
                                                                (run,))))

    def kb_docs(self, run: str) -> list[bytes | str]:
        """The run's KB revisions as stored JSON (cheap to send to worker processes)."""
        return [doc for (doc,) in self.conn.execute("SELECT doc FROM kb WHERE run = ?", (run,))]

    def docs_with_imported_scores(self, run: str) -> list[tuple[int, str]]:
        """(sid, document) of sessions whose trace came with scores (e.g. Langfuse evals)."""
        return self.conn.execute("SELECT id, doc FROM sessions WHERE run = ? AND instr(doc, '\"imported_scores\"') > 0",
                                 (run,)).fetchall()

    def kb_articles(self, run: str) -> list[KBArticle]:
        from cstui.models import KBArticle

        return [KBArticle.model_validate(orjson.loads(doc)) for (doc,) in self.conn.execute(
            "SELECT doc FROM kb WHERE run = ? ORDER BY id, revision", (run,))]
