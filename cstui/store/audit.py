"""The hash-chained audit log, and checking a file against it.

Every change a person or an evaluation makes is appended as a record whose hash covers the previous record's
hash: labels, drift notes (with who wrote them and when), regression cases (in full: a digest of the session
document too), prunes, and every evaluation (its verdict sets, the row range it wrote and a digest of those rows).
`verify_audit` walks the chain and then checks the audited rows against it.

What a chain alone cannot show, and what covers it:
- a recomputed chain (someone edits a record and rehashes everything after it): records carry an HMAC under a key
  kept outside the file (`CSTUI_AUDIT_KEY`, or the OS keyring via `cstui audit key`), which the editor lacks;
- a truncated tail or a wiped log: `audit head` prints the newest hash; `audit verify --expect-head H` fails when
  H is no longer in the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from cstui.store.core import StoreBase

GENESIS = "0" * 64
KEYRING_SERVICE, KEYRING_NAME = "cstui", "audit-hmac"
# the verdict columns an evaluation's digest covers, in the order they are hashed
DIGESTED = "sid, vset, passed, score, label, rationale, evidence"


def audit_hash(prev_hash: str, at: str, actor: str, action: str, payload: str) -> str:
    return hashlib.sha256("\x1f".join((prev_hash, at, actor, action, payload)).encode()).hexdigest()


@cache
def audit_key() -> bytes | None:
    """The HMAC key of audit records: `CSTUI_AUDIT_KEY`, else the OS keyring (`cstui audit key`), else None."""
    if env := os.environ.get("CSTUI_AUDIT_KEY"):
        return env.encode()
    try:
        import keyring

        stored = keyring.get_password(KEYRING_SERVICE, KEYRING_NAME)
    except Exception:  # noqa: BLE001 - no keyring backend (headless machines): records are unsigned
        return None
    return stored.encode() if stored else None


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"cstui audit key\x1f" + key).hexdigest()[:12]


def record_mac(key: bytes, digest: str) -> str:
    return f"{key_id(key)}:{hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()}"


class RowDigest:
    """sha256 over verdict rows as `DIGESTED` tuples, fed in id order however they are chunked: each chunk's JSON
    array without its brackets, then a comma (`[a,b]` and `[c]` give the bytes of `a,b,c,`)."""

    def __init__(self) -> None:
        self.rows, self.details = hashlib.sha256(), hashlib.sha256()

    def add(self, rows: list[tuple[Any, ...]], details: Iterable[str | None] = ()) -> None:
        if rows:
            self.rows.update(orjson.dumps(rows)[1:-1] + b",")
        kept = [d for d in details if d is not None]
        if kept:
            self.details.update(orjson.dumps(kept)[1:-1] + b",")

    def hexdigests(self) -> tuple[str, str]:
        return self.rows.hexdigest(), self.details.hexdigest()


def digest_rows(conn: sqlite3.Connection, first: int, last: int, sets: list[int]) -> tuple[str, str]:
    """The `RowDigest` of the verdicts of `sets` with ids in [first, last], as they are stored now."""
    digest = RowDigest()
    if not sets or first > last:
        return digest.hexdigests()
    marks = ",".join("?" * len(sets))
    cur = conn.execute(f"SELECT {DIGESTED}, detail FROM verdicts WHERE id BETWEEN ? AND ? AND vset IN ({marks})"
                       " ORDER BY id", (first, last, *sets))
    while chunk := cur.fetchmany(20_000):
        digest.add([digested for *digested, _ in chunk], (detail for *_, detail in chunk))
    return digest.hexdigests()


@dataclass
class _Chain:
    """What the walk of the chain collected for the cross-checks: the newest record per label, drift event and
    regression case, and every evaluation and prune."""

    labels: dict[int, dict[str, Any]] = field(default_factory=dict)
    drift_notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    golden: dict[int, dict[str, Any]] = field(default_factory=dict)
    evaluations: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    prunes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AuditCheck:
    """What `verify_audit` found."""

    records: int = 0
    head: str = GENESIS
    problem: str | None = None
    signed: int = 0  # records with an HMAC that verified
    unsigned: int = 0
    key: str | None = None  # id of the key used, None when none was available
    evaluations: int = 0  # evaluation records whose verdict rows were checked
    unaudited_sets: int = 0  # verdict sets older than the audit of evaluations (not checkable)
    notes: list[str] = field(default_factory=list)


class AuditMixin(StoreBase):
    """The audit log: appending records, and checking the file against it."""

    def _audit(self, conn: sqlite3.Connection, actor: str, action: str, payload: dict[str, Any], at: str) -> None:
        prev = conn.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = prev[0] if prev else GENESIS
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
        digest = audit_hash(prev_hash, at, actor, action, body)
        key = audit_key()
        conn.execute("INSERT INTO audit (at, actor, action, payload, prev_hash, hash, mac) VALUES (?,?,?,?,?,?,?)",
                     (at, actor, action, body, prev_hash, digest, record_mac(key, digest) if key else None))

    def audit_head(self) -> str:
        return self._one("SELECT hash FROM audit ORDER BY id DESC LIMIT 1") or GENESIS

    def verify_audit(self, *, expect_head: str | None = None, key: bytes | None = None,
                     progress: Callable[[int, int], None] | None = None) -> AuditCheck:
        """Walk the chain (links, hashes, HMACs when a key is given or configured), then check labels, drift notes,
        regression cases and verdict rows against it. The first problem found is reported."""
        key = key if key is not None else audit_key()
        check = AuditCheck(key=key_id(key) if key else None)
        check.head = self.audit_head()
        chain = _Chain()
        check.problem = self._walk(check, chain, key, expect_head) or (
            self._check_labels(chain) or self._check_drift_notes(chain) or self._check_golden(chain)
            or self._check_verdicts(check, chain, progress))
        return check

    def _walk(self, check: AuditCheck, chain: _Chain, key: bytes | None, expect_head: str | None) -> str | None:
        prev_hash = GENESIS
        seen_head = expect_head is None or expect_head == GENESIS
        signed_before = False
        for rid, at, actor, action, payload, stored_prev, digest, mac in self.conn.execute(
                "SELECT id, at, actor, action, payload, prev_hash, hash, mac FROM audit ORDER BY id"):
            check.records += 1
            if stored_prev != prev_hash:
                return f"audit record {rid}: previous-hash link broken (a record before it was removed or reordered)"
            if audit_hash(prev_hash, at, actor, action, payload) != digest:
                return f"audit record {rid}: contents do not match its hash (edited)"
            if key is not None and mac is not None:
                if mac.split(":")[0] == key_id(key):
                    if not hmac.compare_digest(mac, record_mac(key, digest)):
                        return f"audit record {rid}: its HMAC does not match (the chain was recomputed after an edit)"
                    check.signed += 1
                    signed_before = True
            elif mac is None:
                check.unsigned += 1
                if key is not None and signed_before:
                    return (f"audit record {rid}: unsigned after signed records (the chain was recomputed without the "
                            "key)")
            prev_hash = digest
            seen_head = seen_head or digest == expect_head
            body = {**orjson.loads(payload), "at": at, "actor": actor}
            if action == "label":
                chain.labels[int(body["label_id"])] = body
            elif action == "drift_note":
                chain.drift_notes[int(body["event_id"])] = body
            elif action == "golden_add":
                chain.golden[int(body["case"])] = body
            elif action == "evaluate":
                chain.evaluations.append((rid, body))
            elif action == "prune":
                chain.prunes.append(body)
        if not seen_head:
            return (f"the expected head {expect_head[:16]}… is not in the audit log: records were removed from its end "
                    "(or the whole log was replaced)")
        return None

    def _check_labels(self, chain: _Chain) -> str | None:
        cols = ("session_id", "evaluator", "verdict", "correct", "tier", "intent", "reason", "note", "reviewer",
                "source")
        logged_all = dict(chain.labels)
        for row in self._dicts("SELECT * FROM labels ORDER BY id"):
            logged = logged_all.pop(int(row["id"]), None)
            if logged is None:
                return f"label {row['id']} has no audit record (inserted outside cstui, or its record was deleted)"
            for col in cols:
                expected = logged.get(col)
                if col == "correct" and expected is not None:
                    expected = int(expected)
                if row[col] != expected or (col == "session_id" and row["run"] != logged.get("run")):
                    return f"label {row['id']}: {col} differs from its audit record (edited)"
            if row["created_at"] != logged["at"]:
                return f"label {row['id']}: created_at differs from its audit record (backdated or edited)"
        if logged_all:
            return f"label {min(logged_all)} was deleted (its audit record remains)"
        return None

    def _check_drift_notes(self, chain: _Chain) -> str | None:
        notes = chain.drift_notes  # the newest note per event
        events = {int(r[0]): r[1:] for r in self.conn.execute("SELECT id, note, noted_by, noted_at FROM drift_events")}
        for event_id, (note, by, at) in events.items():
            logged = notes.get(event_id)
            if logged is None:
                if note is not None or by is not None:
                    return f"drift event {event_id}: its note has no audit record (written outside cstui)"
                continue
            if note != logged.get("note"):
                return f"drift event {event_id}: its note differs from the audit record (edited or removed)"
            if by != logged["actor"] or at != logged["at"]:
                return f"drift event {event_id}: who noted it, or when, differs from the audit record (edited)"
        for event_id in notes:
            if event_id not in events:
                return f"drift event {event_id}: deleted, though its note is in the audit log"
        return None

    def _check_golden(self, chain: _Chain) -> str | None:
        cases = chain.golden
        seen = set()
        for row in self._dicts("SELECT * FROM golden ORDER BY id"):
            case = int(row["id"])
            seen.add(case)
            logged = cases.get(case)
            if logged is None:
                return f"regression case {case} has no audit record (added outside cstui)"
            expected = {"session_id": logged.get("session_id"), "source_run": logged.get("run"),
                        "evaluator": logged.get("evaluator"), "reason": logged.get("reason"),
                        "added_by": logged["actor"], "added_at": logged["at"]}
            for col, value in expected.items():
                if row[col] != value:
                    return f"regression case {case}: {col} differs from its audit record (edited)"
            if "doc_sha256" in logged and hashlib.sha256(row["doc"].encode()).hexdigest() != logged["doc_sha256"]:
                return f"regression case {case}: its session document differs from the audited one (edited)"
        missing = sorted(set(cases) - seen)
        if missing:
            return f"regression case {missing[0]} was removed (its audit record remains)"
        return None

    def _check_verdicts(self, check: AuditCheck, chain: _Chain,
                        progress: Callable[[int, int], None] | None) -> str | None:
        """Each evaluation's rows against its digest (or the digest a later prune recorded after deleting some),
        sets that disappeared other than by a prune, and superseded flags no evaluation set."""
        pruned_sets: set[int] = set()
        resealed: dict[int, list[str]] = {}
        for body in chain.prunes:
            pruned_sets.update(int(s) for s in body.get("deleted_sets", []))
            resealed.update({int(k): v for k, v in body.get("resealed", {}).items()})
        audited: set[int] = set()
        superseded: set[int] = set()
        for done, (rid, body) in enumerate(chain.evaluations):
            sets = [int(s["id"]) for s in body["sets"]]
            audited.update(sets)
            superseded.update(int(s) for s in body.get("superseded", []))
            present = {i for (i,) in self.conn.execute(
                f"SELECT id FROM verdict_sets WHERE id IN ({','.join('?' * len(sets))})", sets)} if sets else set()
            for s in body["sets"]:
                sid = int(s["id"])
                if sid not in present:
                    if sid in pruned_sets:
                        continue
                    return f"verdict set {sid} ({s['evaluator']}) of evaluation {body.get('batch')} was deleted"
                row = self.conn.execute("SELECT run, evaluator, evaluator_version, source, created_at FROM"
                                        " verdict_sets WHERE id = ?", (sid,)).fetchone()
                if list(row) != [body["run"], s["evaluator"], s["version"], s["source"], body["at"]]:
                    return f"verdict set {sid}: its run, evaluator, version, source or time differs from the audit log"
            live = [i for i in sets if i in present]
            if live:
                want = resealed.get(rid, [body["digest"], body["details_digest"]])
                got = list(digest_rows(self.conn, int(body["first_id"]), int(body["last_id"]), live))
                if got != want:
                    return (f"the verdicts of evaluation {body.get('batch')} ({body['run']}) differ from their audited "
                            "digest (a verdict was edited, added or removed)")
            check.evaluations += 1
            if progress:
                progress(done + 1, len(chain.evaluations))
        for sid, flag in self.conn.execute("SELECT id, superseded FROM verdict_sets"):
            if sid not in audited:
                check.unaudited_sets += 1
                continue
            if bool(flag) != (sid in superseded):
                return f"verdict set {sid}: marked {'superseded' if flag else 'current'} outside cstui"
        if check.unaudited_sets:
            check.notes.append(f"{check.unaudited_sets:,} verdict set(s) were written before evaluations were audited "
                               "(cstui before schema v13): not checked")
        return None
