"""The connection: WAL, busy timeout, migrations on open, transactions, and the one row helper."""

from __future__ import annotations

import getpass
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from cstui.store.schema import BACKFILLS, MIGRATIONS, SCHEMA_VERSION, statements

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

    def __init__(self, path: Path | str, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no such database")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            self.conn.execute("PRAGMA busy_timeout = 30000")
            if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:  # a file that is not SQLite, or a damaged one: one line, not a traceback
            self.conn.close()
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                raise DbBusy(f"{self.path}: the database is busy (another process is writing)") from exc
            raise StoreError(f"{self.path}: not a usable cstui database ({exc})") from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; `DbBusy` when another process held the write lock past the busy timeout."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise DbBusy(f"{self.path}: the database is busy (another process is writing)") from exc
            raise
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema v{version} is newer than this cstui (v{SCHEMA_VERSION})")
        if version == SCHEMA_VERSION:
            return
        if version:  # an existing file: rewriting its verdicts can take a minute or two at a million sessions
            print(f"cstui: upgrading {self.path} from schema v{version} to v{SCHEMA_VERSION} (once)", file=sys.stderr,
                  flush=True)
        with self.transaction() as conn:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in statements(MIGRATIONS[target]):
                    conn.execute(statement)
                if target in BACKFILLS:
                    BACKFILLS[target](conn)
                conn.execute(f"PRAGMA user_version = {target}")

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
