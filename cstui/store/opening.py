"""Opening a database file that may be someone else's: what it is, whether its schema is cstui's, how to open it.

A compliance reviewer opens files handed over by others, so a file is data and never instructions:
- a file that is not a cstui database (not SQLite, or SQLite with other tables) is refused and never written to;
- `PRAGMA trusted_schema = OFF` on every connection;
- the schema is compared with the one cstui's migrations build (`reference_schema`): a trigger, view, table or
  index cstui did not create, or one of its own changed, makes the file read-only for this open (reading) or is
  refused (writing), with the objects named; `cstui doctor` lists and removes them;
- a file on a read-only mount or folder opens with `mode=ro` (`immutable=1` when the folder cannot hold SQLite's
  shared-memory file);
- an older schema is upgraded in place only by a command that writes, after a backup copy; a reading command
  reads an upgraded working copy and leaves the file as it was;
- summaries (verdict masks, snapshots, the search index) are rebuilt from the rows when cstui's triggers counted a
  write made outside cstui, or when they cannot be trusted (a changed schema): in place when cstui may write, else in
  the working copy.

`open_database` makes the decision and returns an `Opened`: the connection, whether the reviewer may write, the
one-line notices to show, and the working copy to delete afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from cstui.store.schema import APPLICATION_ID, BACKFILLS, MIGRATIONS, SCHEMA_VERSION, statements

__all__ = ["SCHEMA_VERSION", "Checkup", "OpenError", "Opened", "doctor", "object_text", "open_database"]

SQLITE_MAGIC = b"SQLite format 3\x00"
# Tables every cstui file has had since schema v1: how a file written before application_id is recognised.
CORE_TABLES = frozenset({"runs", "sessions", "spans", "labels", "audit"})


class OpenError(Exception):
    """The file cannot be opened as asked; the message is one line naming it."""


class BusyError(OpenError):
    """Another process holds the write lock."""


@dataclass
class Opened:
    conn: sqlite3.Connection
    uri: str  # how to open the same file again (a worker's own connection)
    read_only: bool  # the reviewer cannot write (the file, a folder, foreign objects, or a working copy)
    reason: str | None = None  # why read-only, for "X is read-only: ..."
    notices: list[str] = field(default_factory=list)
    scratch: Path | None = None  # a working copy's folder, deleted when the store closes
    search_scratch: Path | None = None  # a read-only connection's search index (cstui.store.search)
    own_search_scratch: bool = False  # made by this store: deleted when it closes


SchemaObject = tuple[str, str, str]  # (type, name, table)


def object_text(obj: SchemaObject) -> str:
    """"trigger evil on labels", "view results" (names as the file spells them: made inert where printed)."""
    kind, name, table = obj
    return f"{kind} {name}" + (f" on {table}" if kind in ("trigger", "index") else "")


@dataclass
class SchemaDiff:
    foreign: list[SchemaObject] = field(default_factory=list)  # objects cstui did not create
    changed: list[SchemaObject] = field(default_factory=list)  # cstui's own, defined otherwise
    missing: list[SchemaObject] = field(default_factory=list)  # cstui's own, not there

    def __bool__(self) -> bool:
        return bool(self.foreign or self.changed or self.missing)

    def describe(self, limit: int = 4) -> str:
        items = [*map(object_text, self.foreign), *(f"{object_text(c)} (changed)" for c in self.changed),
                 *(f"{object_text(m)} (missing)" for m in self.missing)]
        more = f", and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more


def connect(uri: str) -> sqlite3.Connection:
    """A connection with the settings every cstui connection has: no schema code trusted, a busy timeout."""
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def file_uri(path: Path, *, read_only: bool = False, immutable: bool = False, create: bool = False) -> str:
    uri = "file:" + urllib.parse.quote(str(path.absolute()))
    if immutable:
        return uri + "?mode=ro&immutable=1"
    return uri + ("?mode=ro" if read_only else "?mode=rwc" if create else "?mode=rw")


def open_database(path: Path, *, mode: str = "write", create: bool = True) -> Opened:
    """Open `path` for `mode`: "write" (a command that writes: refuses what it cannot write), "read" (never changes
    what the file holds: upgrades and repairs go to a working copy when needed), "read-only" (the same through a
    read-only connection: `--read-only`) or "review" (the TUI: writes when it can, else reads and says why)."""
    reading = mode in ("read", "read-only")
    if path.is_dir():
        raise OpenError(f"{path} is a directory, not a database file")
    if not path.exists() or _size(path) == 0:  # (a zero-byte file is an empty SQLite database to SQLite)
        if not path.exists() and (reading or not create):
            raise OpenError(f"{path}: no such database")
        if path.exists() and reading:
            raise OpenError(f"{path}: an empty file, not a cstui database")
        return _create(path)
    # The file is identified through SQLite itself, never by opening it ourselves: closing any other descriptor of
    # the file would drop the POSIX locks this process's connections hold on it (and corrupt it under a writer).
    writable = _writable(path) and mode != "read-only"
    conn, uri, immutable = _open_existing(path, writable)
    try:
        return _decide(path, conn, uri, mode, writable, immutable)
    except BaseException:
        conn.close()
        raise


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise OpenError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _open_existing(path: Path, writable: bool) -> tuple[sqlite3.Connection, str, bool]:
    if writable:
        uri = file_uri(path)
        return connect(uri), uri, False
    # A WAL file needs its shared-memory file beside it; a folder that cannot hold one is read as immutable.
    shm = Path(f"{path}-shm")
    immutable = not os.access(path.parent, os.W_OK) and not shm.exists()
    uri = file_uri(path, read_only=True, immutable=immutable)
    try:
        conn = connect(uri)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn, uri, immutable
    except sqlite3.DatabaseError:
        uri = file_uri(path, immutable=True)
        return connect(uri), uri, True


def _create(path: Path) -> Opened:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OpenError(f"{path.parent}: cannot create the folder ({exc.strerror or exc})") from None
    uri = file_uri(path, create=True)
    try:
        conn = connect(uri)
    except sqlite3.DatabaseError as exc:
        raise OpenError(f"{path}: cannot create the database ({exc})") from None
    try:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn, 0)
    except BaseException:
        conn.close()
        raise
    return Opened(conn, uri, read_only=False)


def _identify(path: Path, conn: sqlite3.Connection) -> int | None:
    """The file's schema version once it is known to be a cstui database; None for an empty SQLite database.
    Raises OpenError for anything else (not SQLite, another program's tables, a newer cstui's schema)."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise BusyError(f"{path}: the database is busy (another process is writing)") from None
        raise OpenError(f"{path}: not a usable cstui database ({exc})") from None
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise OpenError(f"{path}: not a SQLite file, so not a cstui database (left as it is)") from None
        raise OpenError(f"{path}: not a usable cstui database ({exc})") from None
    tables = {name for kind, name in objects if kind == "table"}
    if not objects and version == 0 and app_id == 0:
        return None
    if not (app_id == APPLICATION_ID or (app_id == 0 and version >= 1 and tables >= CORE_TABLES)):
        shown = ", ".join(sorted(tables)[:5]) or "none"
        raise OpenError(f"{path}: not a cstui database (its tables: {shown}); cstui leaves it as it is")
    if version > SCHEMA_VERSION:
        raise OpenError(f"{path}: schema v{version} is newer than this cstui (v{SCHEMA_VERSION}); upgrade cstui")
    return version


def _decide(path: Path, conn: sqlite3.Connection, uri: str, mode: str, writable: bool, immutable: bool) -> Opened:
    version = _identify(path, conn)
    if version is None:  # an empty SQLite database: made a cstui one only by a command that writes
        if mode != "write" or not writable:
            raise OpenError(f"{path}: an empty SQLite database, not a cstui database")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA journal_mode = WAL")
        migrate(conn, 0)
        return Opened(conn, uri, read_only=False)
    diff = schema_diff(conn, version)
    outside = _outside_writes(conn, version)
    notices: list[str] = []
    if immutable and Path(f"{path}-wal").exists() and _size(Path(f"{path}-wal")) > 0:
        notices.append(f"{path}-wal holds changes a read-only folder does not let SQLite read; they are not shown")

    can_write = writable and not diff
    if mode == "write" and not can_write:
        if diff:
            raise OpenError(f"{path} holds schema objects cstui did not create ({diff.describe()}); refusing to write "
                            f"to it (`cstui doctor --db {path}` lists them and can remove them)")
        raise OpenError(f"{path} is read-only (the file or its folder cannot be written); this command writes to it")
    if can_write and mode in ("write", "review"):
        if version < SCHEMA_VERSION:
            backup = backup_copy(conn, path, version)
            notices.append(f"upgraded {path} from schema v{version} to v{SCHEMA_VERSION}; the original is kept as "
                           f"{backup}")
            _set_wal(conn)
            migrate(conn, version, announce=path)
            outside = _outside_writes(conn, SCHEMA_VERSION)
        else:
            _set_wal(conn)
        if outside:
            rebuild_summaries(conn)
            notices.append(f"{path} was changed outside cstui ({outside:,} rows); its summaries were rebuilt from the "
                           "rows")
        return Opened(conn, uri, read_only=False, notices=notices)

    # Reading only from here on. Summaries are derived data: a file cstui could write has them rebuilt in place
    # (as a report keeps its snapshots), rather than copied on every command.
    if outside and can_write and version == SCHEMA_VERSION:
        rebuild_summaries(conn)
        notices.append(f"{path} was changed outside cstui ({outside:,} rows); its summaries were rebuilt from the rows")
        outside = 0
    if diff:
        reason = f"it holds schema objects cstui did not create ({diff.describe()}); `cstui doctor` lists them"
    elif not writable:
        reason = "the file or its folder cannot be written"
    else:
        reason = "opened for reading"
    if not diff and not outside and version == SCHEMA_VERSION:
        if mode == "review" and not writable:
            notices.append(f"{path} is read-only ({reason}): browsing works, nothing will be saved")
        return Opened(conn, uri, read_only=not writable, reason=reason, notices=notices)
    why = (f"schema v{version}, older than this cstui's v{SCHEMA_VERSION}" if version < SCHEMA_VERSION else
           "its schema differs from cstui's" if diff else f"it was changed outside cstui ({outside:,} rows)")
    copy = "an upgraded working copy" if version < SCHEMA_VERSION else "a working copy with its summaries rebuilt"
    if diff:
        copy = "a working copy without them"
        why = f"it holds schema objects cstui did not create or changed ({diff.describe()})"
    notices.append(f"{path}: {why}; reading {copy} (the file is left as it is"
                   + ("; `cstui doctor` lists them)" if diff else ")"))
    return _working_copy(path, conn, version, diff, reason, notices)


def _set_wal(conn: sqlite3.Connection) -> None:
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")


def _outside_writes(conn: sqlite3.Connection, version: int) -> int:
    if version < 13:
        return 0
    try:
        row = conn.execute("SELECT value FROM cstui_meta WHERE key = 'outside_writes'").fetchone()
    except sqlite3.DatabaseError:
        return 1
    return int(row[0]) if row and isinstance(row[0], int) else 1


def _working_copy(path: Path, conn: sqlite3.Connection, version: int, diff: SchemaDiff, reason: str,
                  notices: list[str]) -> Opened:
    """Copy the file (SQLite's backup: the write-ahead log included) into a private folder, remove what cstui did
    not create, upgrade it, rebuild its summaries; the store reads that copy."""
    folder = Path(tempfile.mkdtemp(prefix="cstui-copy-"))
    copy = folder / path.name
    try:
        target = sqlite3.connect(copy)
        try:
            conn.backup(target)
        finally:
            target.close()
        conn.close()
        uri = file_uri(copy)
        work = connect(uri)
        remove_foreign(work, version, diff)
        if version < SCHEMA_VERSION:
            migrate(work, version)
        rebuild_summaries(work)
        return Opened(work, uri, read_only=True, reason=reason, notices=notices, scratch=folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def backup_copy(conn: sqlite3.Connection, path: Path, version: int, why: str = "upgrading") -> Path:
    """A copy of the file as it is, beside it (`name.v9-backup.db`), before an upgrade (or a repair) changes it."""
    stem, suffix = path.stem, path.suffix or ".db"
    backup = path.with_name(f"{stem}.v{version}-backup{suffix}")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{stem}.v{version}-backup-{n}{suffix}")
    print(f"cstui: copying {path} to {backup} before {why} it", file=sys.stderr, flush=True)
    target = sqlite3.connect(backup)
    try:
        conn.backup(target)
    finally:
        target.close()
    return backup


def migrate(conn: sqlite3.Connection, version: int, *, announce: Path | None = None) -> None:
    """Apply every migration after `version`, in one transaction."""
    if version >= SCHEMA_VERSION:
        return
    if announce is not None:  # rewriting verdicts can take a minute or two at a million sessions
        print(f"cstui: upgrading {announce} from schema v{version} to v{SCHEMA_VERSION} (once)", file=sys.stderr,
              flush=True)
    with _transaction(conn):
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in statements(MIGRATIONS[target]):
                conn.execute(statement)
            if target in BACKFILLS:
                BACKFILLS[target](conn)
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


@contextmanager
def _transaction(conn: sqlite3.Connection, *, marked: bool = False) -> Iterator[None]:
    """One write transaction on a connection opened here (before a Store exists); `marked`: as cstui's own, so its
    guard triggers do not count it as an outside write (schema v13)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if marked:
            conn.execute("INSERT INTO cstui_writing (token) VALUES (1)")
        yield
        if marked:
            conn.execute("DELETE FROM cstui_writing")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# ---------------------------------------------------------------------------------------------- the schema check
def _norm(sql: str | None) -> str:
    text = re.sub(r"\s+", " ", sql or "").strip().rstrip(";")
    return re.sub(r"(?i)\bIF NOT EXISTS\b ", "", text).lower()


@cache
def _migrated(version: int) -> sqlite3.Connection:
    """An empty in-memory database with cstui's migrations up to `version` applied: the reference schema."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    for target in range(1, version + 1):
        for statement in statements(MIGRATIONS[target]):
            conn.execute(statement)
    return conn


@cache
def reference_schema(version: int) -> dict[tuple[str, str], tuple[str, str]]:
    """(type, name) -> (table, normalised definition) of every object cstui's migrations create up to `version`;
    a table's definition is its column list."""
    return _objects(_migrated(version))


def _objects(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, str]]:
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"):
        if name.startswith("sqlite_"):
            continue  # SQLite's own: sqlite_sequence, sqlite_stat1, automatic indexes
        if kind == "table" and not (sql or "").lower().startswith("create virtual"):
            quoted = '"' + name.replace('"', '""') + '"'
            cols = conn.execute(f"PRAGMA table_xinfo({quoted})").fetchall()
            out[(kind, name)] = (table, ",".join(f"{c[1]}:{c[2]}:{c[6]}".lower() for c in cols))
        else:
            out[(kind, name)] = (table, _norm(sql))
    return out


def schema_diff(conn: sqlite3.Connection, version: int) -> SchemaDiff:
    """What the file's schema has that cstui's does not, has changed, or lacks."""
    expected = reference_schema(version)
    try:
        actual = _objects(conn)
    except sqlite3.DatabaseError as exc:
        raise OpenError(f"not a usable cstui database ({exc})") from None
    diff = SchemaDiff()
    for (kind, name), (table, sql) in sorted(actual.items()):
        if (kind, name) not in expected:
            diff.foreign.append((kind, name, table))
        elif expected[(kind, name)] != (table, sql):
            diff.changed.append((kind, name, table))
    diff.missing = [(kind, name, expected[(kind, name)][0]) for (kind, name) in sorted(expected)
                    if (kind, name) not in actual]
    return diff


def remove_foreign(conn: sqlite3.Connection, version: int, diff: SchemaDiff | None = None) -> list[str]:
    """Drop the triggers and views cstui did not create or that were changed (triggers first: nothing can act), then
    foreign indexes and tables; recreate cstui's own that are missing or changed. Returns what was done."""
    diff = diff if diff is not None else schema_diff(conn, version)
    done: list[str] = []
    order = {"trigger": 0, "view": 1, "index": 2, "table": 3}
    redefined = [obj for obj in diff.changed if obj[0] in ("trigger", "view", "index")]

    def drop(kind: str, name: str) -> None:
        conn.execute(f"DROP {kind.upper()} IF EXISTS \"{name.replace(chr(34), chr(34) * 2)}\"")

    with _transaction(conn):
        for kind, name, _ in sorted(diff.foreign, key=lambda obj: order.get(obj[0], 9)):
            drop(kind, name)
            done.append(f"dropped {kind} {name}")
        for kind, name, _ in redefined:
            drop(kind, name)
            done.append(f"dropped changed {kind} {name}")
        wanted = {(kind, name) for kind, name, _ in [*diff.missing, *redefined]}
        for kind, name, sql in _migrated(version).execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('index', 'view', 'trigger')"):
            if (kind, name) in wanted:
                conn.execute(sql)
                done.append(f"recreated {kind} {name}")
    return done


# ---------------------------------------------------------------------------------------------- summaries
def rebuild_summaries(conn: sqlite3.Connection) -> None:
    """Derive every summary again from the rows: verdict masks, session counts, snapshots and the search index
    (dropped, rebuilt when next read); then clear the count of outside writes. One transaction."""
    from cstui.store.masks import update_verdict_masks

    with _transaction(conn, marked=True):
        conn.execute("DELETE FROM verdict_masks")
        conn.execute("DELETE FROM evaluator_bits")
        for (run,) in conn.execute("SELECT name FROM runs ORDER BY name").fetchall():
            cur = conn.execute(
                "SELECT v.sid, s.evaluator, s.evaluator_version, v.passed FROM verdict_sets s"
                " JOIN verdicts v ON v.vset = s.id WHERE s.run = ? AND s.superseded = 0 AND v.current = 1"
                " ORDER BY v.sid, v.id", (run,))
            while chunk := cur.fetchmany(20_000):
                update_verdict_masks(conn, run, chunk)
            conn.execute("UPDATE runs SET n_sessions = (SELECT count(*) FROM sessions WHERE run = ?),"
                         " data_version = data_version + 1, sessions_version = sessions_version + 1 WHERE name = ?",
                         (run, run))
        conn.execute("DELETE FROM frame_cache")
        conn.execute("DELETE FROM search_runs")
        conn.execute("UPDATE cstui_meta SET value = 0 WHERE key = 'outside_writes'")


# ---------------------------------------------------------------------------------------------- doctor
@dataclass
class Checkup:
    """What `cstui doctor` found in a file, and what `--repair` did."""

    version: int
    diff: SchemaDiff
    outside_writes: int
    summaries_match: bool | None  # verdict masks equal what the current verdicts give (None: not checked)
    done: list[str] = field(default_factory=list)


def doctor(path: Path, *, repair: bool = False) -> Checkup:
    """Inspect a cstui file without trusting it (a read-only connection: nothing in it can act); with `repair`,
    keep a copy of it, remove what cstui did not create, restore cstui's own objects, upgrade it and rebuild its
    summaries."""
    if path.is_dir():
        raise OpenError(f"{path} is a directory, not a database file")
    if not path.exists():
        raise OpenError(f"{path}: no such database")
    if repair and not _writable(path):
        raise OpenError(f"{path} is read-only (the file or its folder cannot be written): --repair needs to write")
    conn, _, _ = _open_existing(path, repair)
    try:
        version = _identify(path, conn)
        if version is None:
            raise OpenError(f"{path}: an empty SQLite database, not a cstui database")
        diff = schema_diff(conn, version)
        outside = _outside_writes(conn, version)
        check = Checkup(version, diff, outside, None if diff or version < SCHEMA_VERSION else _summaries_match(conn))
        if repair and (diff or outside or version < SCHEMA_VERSION or check.summaries_match is False):
            backup = backup_copy(conn, path, version, "repairing")
            check.done.append(f"kept a copy as {backup}")
            check.done += remove_foreign(conn, version, diff)
            if version < SCHEMA_VERSION:
                migrate(conn, version, announce=path)
                check.done.append(f"upgraded from schema v{version} to v{SCHEMA_VERSION}")
            _set_wal(conn)
            rebuild_summaries(conn)
            check.done.append("rebuilt the summaries (verdict masks, snapshots, search index) from the rows")
        return check
    finally:
        conn.close()


def _summaries_match(conn: sqlite3.Connection) -> bool:
    """Do the verdict masks say what the current verdicts say? Worked out again in memory and compared."""
    stored = {(sid, word): (run, p, a, f) for sid, word, run, p, a, f in conn.execute(
        "SELECT sid, word, run, present, applies, failed FROM verdict_masks")}
    place = {(run, ev): (word, 1 << bit) for run, ev, word, bit in conn.execute(
        "SELECT run, evaluator, word, bit FROM evaluator_bits")}
    expected: dict[tuple[int, int], list] = {}
    for run, sid, evaluator, passed in conn.execute(
            "SELECT s.run, v.sid, s.evaluator, v.passed FROM verdict_sets s JOIN verdicts v ON v.vset = s.id"
            " WHERE s.superseded = 0 AND v.current = 1"):
        if (run, evaluator) not in place:
            return False
        word, mask = place[(run, evaluator)]
        entry = expected.setdefault((sid, word), [run, 0, 0, 0])
        entry[1] |= mask
        if passed is not None:
            entry[2] |= mask
            if not passed:
                entry[3] |= mask
    return {k: tuple(v) for k, v in expected.items()} == {k: v for k, v in stored.items() if v[1]}
