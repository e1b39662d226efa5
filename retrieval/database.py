"""SQLite: the structured store (catalogs, items, users, friendships, interactions, help, dialogues).

The schema is a numbered list of SQL files under `retrieval/migrations/`; `PRAGMA user_version`
records how many have been applied. One connection is shared by the threads of a process and
guarded by a lock; several processes may share one database file (WAL mode, busy timeout).

A write that the data folder cannot take (read-only, full, failing) surfaces as
`StorageUnavailable`, after the transaction is rolled back; reads keep working.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from retrieval.datafiles import Dataset
from retrieval.schemas import Dialogue, Friendship, HelpArticle, Interaction, Item, User, check_catalog_name

BUSY_TIMEOUT_MS = 30_000
# SQLite's primary result codes that mean "this storage cannot be written now", not a bug.
SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 8, 10, 13, 14


class StorageUnavailable(RuntimeError):
    """The data folder cannot be written now (read-only, full, I/O errors): the transaction
    was rolled back whole, so nothing of it was stored. Reads still work."""

    def __init__(self, folder: Path, problem: str, cause: sqlite3.Error):
        super().__init__(f"the data folder {folder} {problem}: Kith cannot save changes now (nothing was written)")
        self.folder = folder
        self.problem = problem
        self.cause = cause


def _unwritable(folder: Path, error: sqlite3.Error) -> StorageUnavailable | None:
    """StorageUnavailable saying why `folder` refused a write, or None for other errors."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code == SQLITE_READONLY:
        return StorageUnavailable(folder, "is read-only", error)
    if code == SQLITE_FULL:
        return StorageUnavailable(folder, "is full", error)
    if code not in (SQLITE_IOERR, SQLITE_CANTOPEN):
        return None
    # SQLite says only "disk I/O error": a file system that went read-only under an open
    # database (ext4's errors=remount-ro) fails writes that way. Creating a file asks the
    # folder itself.
    probe = folder / f".kith-write-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        probe.unlink()
    except OSError as refused:
        if refused.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StorageUnavailable(folder, "is read-only", error)
        if refused.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageUnavailable(folder, "is full", error)
        return StorageUnavailable(folder, f"cannot be written ({refused.strerror})", error)
    return StorageUnavailable(folder, f"cannot be written ({error})", error)


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("retrieval") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    expected = list(range(1, len(found) + 1))
    if [number for number, _, _ in found] != expected:
        raise RuntimeError(f"migrations must be numbered 1..{len(found)} without gaps: {[n for n, _, _ in found]}")
    return found


def _statements(script: str) -> Iterator[str]:
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        yield pending


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Database:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute("PRAGMA foreign_keys = ON")
        self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.migrate()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @property
    def schema_version(self) -> int:
        return int(self._connection.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply the migrations this file lacks, each in its own transaction."""
        for number, name, script in _migrations():
            with self.transaction():
                # Re-read inside the write lock: another process may have just applied it.
                if self.schema_version >= number:
                    continue
                for statement in _statements(script):
                    self._connection.execute(statement)
                self._connection.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: commit when the block ends, roll back everything if it raises. A
        write the data folder cannot take raises StorageUnavailable."""
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                try:
                    yield self._connection
                    self._connection.execute("COMMIT")
                except BaseException:
                    # SQLite rolls back by itself after some failures (a full disk, I/O errors,
                    # a failed COMMIT); a second ROLLBACK would fail and hide the cause.
                    if self._connection.in_transaction:
                        self._connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                unwritable = _unwritable(self.path.parent, error)
                if unwritable is None:
                    raise
                raise unwritable from error

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    # --- catalogs -------------------------------------------------------------------------

    def catalogs(self) -> list[str]:
        return [row["name"] for row in self.query("SELECT name FROM catalogs ORDER BY name")]

    def has_catalog(self, catalog: str) -> bool:
        return bool(self.query("SELECT 1 FROM catalogs WHERE name = ?", (catalog,)))

    def ids(self, catalog: str, table: str) -> set[str]:
        if table not in ("items", "users", "help_articles", "dialogues", "interactions"):
            raise ValueError(f"no id column in table {table!r}")
        return {row[0] for row in self.query(f"SELECT id FROM {table} WHERE catalog = ?", (catalog,))}

    def count(self, catalog: str, table: str) -> int:
        if table not in ("items", "users", "friendships", "interactions", "help_articles", "dialogues"):
            raise ValueError(f"unknown table {table!r}")
        return int(self.query(f"SELECT COUNT(*) FROM {table} WHERE catalog = ?", (catalog,))[0][0])

    def counts(self, catalog: str) -> dict[str, int]:
        counts = {
            table: self.count(catalog, table)
            for table in ("items", "users", "friendships", "interactions", "help_articles", "dialogues")
        }
        # Friendships are stored once per direction; people count each pair once.
        counts["friendships"] //= 2
        return counts

    # --- writing --------------------------------------------------------------------------

    def write_dataset(self, connection: sqlite3.Connection, catalog: str, source: str, dataset: Dataset) -> None:
        """Upsert every record by id; call inside `transaction()` so a failure leaves no trace."""
        check_catalog_name(catalog)
        now = _now()
        connection.execute(
            "INSERT INTO catalogs (name, source, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET updated_at = excluded.updated_at",
            (catalog, source, now, now),
        )
        connection.executemany(
            "INSERT INTO items (catalog, id, title, category, description, tags, price, attributes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(catalog, id) DO UPDATE SET "
            "title = excluded.title, category = excluded.category, description = excluded.description, "
            "tags = excluded.tags, price = excluded.price, attributes = excluded.attributes",
            [
                (catalog, i.id, i.title, i.category, i.description, json.dumps(i.tags), i.price,
                 json.dumps(i.attributes, ensure_ascii=False))
                for i in dataset.items
            ],
        )
        connection.executemany(
            "INSERT INTO users (catalog, id, name) VALUES (?, ?, ?) "
            "ON CONFLICT(catalog, id) DO UPDATE SET name = excluded.name",
            [(catalog, u.id, u.name) for u in dataset.users],
        )
        connection.executemany(
            "INSERT INTO friendships (catalog, user_id, friend_id, strength) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(catalog, user_id, friend_id) DO UPDATE SET strength = excluded.strength",
            [
                (catalog, a, b, f.strength)
                for f in dataset.friendships
                for a, b in ((f.user_id, f.friend_id), (f.friend_id, f.user_id))
            ],
        )
        self.write_interactions(connection, catalog, dataset.interactions)
        connection.executemany(
            "INSERT INTO help_articles (catalog, id, title, body, tags) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(catalog, id) DO UPDATE SET title = excluded.title, body = excluded.body, tags = excluded.tags",
            [(catalog, h.id, h.title, h.body, json.dumps(h.tags)) for h in dataset.help_articles],
        )
        connection.executemany(
            "INSERT INTO dialogues (catalog, id, user_id, turns) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(catalog, id) DO UPDATE SET user_id = excluded.user_id, turns = excluded.turns",
            [
                (catalog, d.id, d.user_id, json.dumps([t.model_dump() for t in d.turns], ensure_ascii=False))
                for d in dataset.dialogues
            ],
        )

    def write_interactions(self, connection: sqlite3.Connection, catalog: str, interactions: Sequence[Interaction]) -> None:
        """Upsert interactions by id (their users and items must exist); inside `transaction()`."""
        connection.executemany(
            "INSERT INTO interactions (catalog, id, user_id, item_id, kind, rating, text, timestamp, visibility, weight) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(catalog, id) DO UPDATE SET "
            "user_id = excluded.user_id, item_id = excluded.item_id, kind = excluded.kind, "
            "rating = excluded.rating, text = excluded.text, timestamp = excluded.timestamp, "
            "visibility = excluded.visibility, weight = excluded.weight",
            [
                (catalog, x.key, x.user_id, x.item_id, x.kind, x.rating, x.text,
                 x.timestamp.isoformat() if x.timestamp else None, x.visibility, x.weight)
                for x in interactions
            ],
        )

    def record_ingest(
        self, connection: sqlite3.Connection, catalog: str, source: str, counts: dict[str, int], seconds: float
    ) -> None:
        connection.execute(
            "INSERT INTO ingests (catalog, source, counts, finished_at, seconds) VALUES (?, ?, ?, ?, ?)",
            (catalog, source, json.dumps(counts), _now(), seconds),
        )

    # --- reading --------------------------------------------------------------------------

    def items(self, catalog: str, ids: Sequence[str] | None = None) -> list[Item]:
        if ids is None:
            rows = self.query("SELECT * FROM items WHERE catalog = ? ORDER BY id", (catalog,))
        else:
            rows = []
            # SQLite caps bound parameters; ask in chunks.
            for start in range(0, len(ids), 900):
                chunk = list(ids[start : start + 900])
                marks = ",".join("?" * len(chunk))
                rows += self.query(f"SELECT * FROM items WHERE catalog = ? AND id IN ({marks})", (catalog, *chunk))
            order = {item_id: position for position, item_id in enumerate(ids)}
            rows.sort(key=lambda row: order[row["id"]])
        return [_item(row) for row in rows]

    def most_interacted(self, catalog: str, limit: int) -> list[tuple[str, int]]:
        """(item id, number of interactions), most first."""
        rows = self.query(
            "SELECT item_id, COUNT(*) AS n FROM interactions WHERE catalog = ? "
            "GROUP BY item_id ORDER BY n DESC, item_id LIMIT ?",
            (catalog, limit),
        )
        return [(row["item_id"], int(row["n"])) for row in rows]

    def users(self, catalog: str) -> list[User]:
        rows = self.query("SELECT id, name FROM users WHERE catalog = ? ORDER BY id", (catalog,))
        return [User(id=row["id"], name=row["name"]) for row in rows]

    def friends(self, catalog: str, user_id: str) -> dict[str, float]:
        rows = self.query(
            "SELECT friend_id, strength FROM friendships WHERE catalog = ? AND user_id = ?", (catalog, user_id)
        )
        return {row["friend_id"]: row["strength"] for row in rows}

    def friendships(self, catalog: str) -> list[Friendship]:
        """Every friendship of the catalog, each pair once."""
        rows = self.query(
            "SELECT user_id, friend_id, strength FROM friendships WHERE catalog = ? AND user_id < friend_id "
            "ORDER BY user_id, friend_id",
            (catalog,),
        )
        return [Friendship(user_id=row["user_id"], friend_id=row["friend_id"], strength=row["strength"]) for row in rows]

    def interactions(self, catalog: str, user_id: str | None = None) -> list[Interaction]:
        if user_id is None:
            rows = self.query("SELECT * FROM interactions WHERE catalog = ?", (catalog,))
        else:
            rows = self.query("SELECT * FROM interactions WHERE catalog = ? AND user_id = ?", (catalog, user_id))
        return [_interaction(row) for row in rows]

    def dialogues(self, catalog: str) -> list[Dialogue]:
        rows = self.query("SELECT * FROM dialogues WHERE catalog = ? ORDER BY id", (catalog,))
        return [Dialogue(id=r["id"], user_id=r["user_id"], turns=json.loads(r["turns"])) for r in rows]

    def help_articles(self, catalog: str) -> list[HelpArticle]:
        rows = self.query("SELECT * FROM help_articles WHERE catalog = ? ORDER BY id", (catalog,))
        return [HelpArticle(id=r["id"], title=r["title"], body=r["body"], tags=json.loads(r["tags"])) for r in rows]


def _item(row: sqlite3.Row) -> Item:
    return Item(
        id=row["id"],
        title=row["title"],
        category=row["category"],
        description=row["description"],
        tags=json.loads(row["tags"]),
        price=row["price"],
        attributes=json.loads(row["attributes"]),
    )


def _interaction(row: sqlite3.Row) -> Interaction:
    return Interaction(
        id=row["id"],
        user_id=row["user_id"],
        item_id=row["item_id"],
        kind=row["kind"],
        rating=row["rating"],
        text=row["text"],
        timestamp=row["timestamp"],
        visibility=row["visibility"],
        weight=row["weight"],
    )
