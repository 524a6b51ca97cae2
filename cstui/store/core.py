"""The connection: WAL, busy timeout, migrations on open, transactions, and the one row helper."""

from __future__ import annotations

import getpass
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from cstui.store.opening import BusyError, Opened, OpenError, open_database

if TYPE_CHECKING:
    import polars as pl


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_db_path() -> Path:
    if env := os.environ.get("CSTUI_DB"):
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("cstui")) / "cstui.db"


class StoreError(Exception):
    pass


class RunExists(StoreError):
    pass


class UnknownRun(StoreError):
    pass


class DbBusy(StoreError):
    """Another process holds the write lock (a long import or eval); retrying later will work."""


def database_error_line(exc: BaseException, db: object) -> str | None:
    """One line for an SQLite error that is the file's or the machine's doing (full disk, read-only, locked, not a
    database), or None when it is not one of those."""
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc).lower()
    if "full" in text:
        return f"{db}: the disk is full; the change was rolled back and the file is as it was"
    if "readonly" in text or "read-only" in text:
        return f"{db} is read-only: this command writes to it (copy the file somewhere writable)"
    if "locked" in text or "busy" in text:
        return f"{db}: the database is busy (another process is writing); try again when it has finished"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"{db}: not a usable cstui database ({' '.join(str(exc).split())})"
    if "unable to open" in text:
        return f"{db}: cannot open the database file ({' '.join(str(exc).split())})"
    if "disk i/o" in text:
        return f"{db}: a disk I/O error ({' '.join(str(exc).split())})"
    return None


def current_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def _as_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


def _b(v: bool | None) -> int | None:
    return None if v is None else int(v)


class StoreBase:
    """All reads and writes go through the Store; nothing above it writes SQL."""

    def __init__(self, path: Path | str, *, create: bool = True, mode: str = "write",
                 _opened: Opened | None = None):
        """`mode`: "write" (refuse a file cstui cannot write), "read" (never change what the file holds),
        "read-only" (and through a read-only connection) or "review" (write when possible, else read and say
        why). See cstui.store.opening for what is checked."""
        self.path = Path(path)
        self.mode = mode
        self._owner = _opened is None
        try:
            self.opened = _opened or open_database(self.path, mode=mode, create=create)
        except BusyError as exc:
            raise DbBusy(str(exc)) from None
        except OpenError as exc:
            raise StoreError(str(exc)) from None
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise DbBusy(f"{self.path}: the database is busy (another process is writing)") from exc
            raise StoreError(f"{self.path}: not a usable cstui database ({exc})") from exc
        except sqlite3.DatabaseError as exc:  # a damaged file: one line, not a traceback
            raise StoreError(f"{self.path}: not a usable cstui database ({exc})") from exc
        self.conn = self.opened.conn
        self.read_only = self.opened.read_only
        self.notices = self.opened.notices

    def reopen(self) -> Self:
        """Another connection to the same file, opened the same way (a worker's own: connections are not shared
        across threads); a working copy is shared, and deleted when the first store closes."""
        from cstui.store.opening import Opened, connect

        if "mode=ro" in self.opened.uri and self.opened.search_scratch is None:
            self.search_scratch()  # type: ignore[attr-defined]  # shared, so every connection finds one index
        opened = Opened(connect(self.opened.uri), self.opened.uri, self.opened.read_only, self.opened.reason,
                        search_scratch=self.opened.search_scratch)
        return type(self)(self.path, mode=self.mode, _opened=opened)

    def close(self) -> None:
        import shutil

        self.conn.close()
        if self._owner and self.opened.scratch is not None:
            shutil.rmtree(self.opened.scratch, ignore_errors=True)
        if self._owner and self.opened.own_search_scratch and self.opened.search_scratch is not None:
            shutil.rmtree(self.opened.search_scratch.parent, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refuse_if_read_only(self, what: str) -> None:
        if self.read_only:
            raise StoreError(f"{self.path} is read-only ({self.opened.reason or 'opened for reading'}): {what} "
                             "cannot be saved")

    @contextmanager
    def transaction(self, *, derived: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; `DbBusy` when another process held the write lock past the busy timeout.

        cstui's own transactions hold a row in `cstui_writing`, which tells its triggers the write is cstui's (see
        schema v13). `derived`: a write of summaries only (snapshots, the search index), allowed on a file opened
        for reading and never marked."""
        if not derived:
            self.refuse_if_read_only("the change")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise DbBusy(f"{self.path}: the database is busy (another process is writing)") from exc
            raise
        try:
            if not derived:
                self.conn.execute("INSERT INTO cstui_writing (token) VALUES (1)")
            yield self.conn
            if not derived:
                self.conn.execute("DELETE FROM cstui_writing")
        except BaseException:
            self._rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:  # a full disk or an I/O error at commit: leave no transaction open behind it
            self._rollback()
            raise

    def _rollback(self) -> None:
        """Roll back what is open. SQLite has already rolled back after some errors (a full disk): then there is
        nothing to do, and the error that caused it is the one to report, not "no transaction is active"."""
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _dict_rows(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """A cursor whose rows are dicts keyed by column name: the one row helper (iterate it to stream)."""
        cur = self.conn.cursor()
        cur.row_factory = _as_dict
        return cur.execute(sql, params)

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._dict_rows(sql, params).fetchall()

    def _frame(self, sql: str, params: Sequence[Any], schema: dict[str, Any]) -> pl.DataFrame:
        """A query's rows as a polars frame, read 100,000 at a time: a million rows never exist as Python tuples
        at once (fetchall held several hundred bytes a row)."""
        import polars as pl

        parts = list(self._frames(sql, params, schema))
        return pl.concat(parts) if parts else pl.DataFrame(schema=schema)

    def _frames(self, sql: str, params: Sequence[Any], schema: dict[str, Any], rows: int = 100_000
                ) -> Iterator[pl.DataFrame]:
        """The same rows as frames of at most `rows`, for a reader that folds them in as they come."""
        import polars as pl

        cur = self.conn.execute(sql, params)
        for fetched in iter(lambda: cur.fetchmany(rows), []):
            yield pl.DataFrame(fetched, schema=schema, orient="row")

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None
