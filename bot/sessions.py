"""Conversations at rest: sessions, their messages, and each user's profile (SQLite).

A turn is saved in one transaction (the user's message, the reply, the new profile), so a
crash mid-turn leaves the conversation as it was before that turn, never half a turn. Turns of
one person may run at once (two tabs, two API workers on one database): each saves the change
it made to the profile it started from, merged into whatever another turn stored meanwhile
(`bot.profile.merge_profiles`), inside the write transaction, so no update is lost.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.context import ClientContext
from bot.profile import Profile, merge_profiles
from bot.understanding import Understanding
from retrieval.database import Database
from retrieval.schemas import Interaction


class StoredPick(BaseModel):
    model_config = ConfigDict(extra="ignore")

    item_id: str
    title: str
    category: str = ""
    price: float | None = None
    reasons: list[str] = []


class StoredHelp(BaseModel):
    model_config = ConfigDict(extra="ignore")

    article_id: str
    title: str
    answer: str = ""


class StoredHandoff(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str
    explanation: str = ""
    summary: str = ""


class TurnRecord(BaseModel):
    """What a reply stored beside its text (the `record` column of messages; a person's message
    stores an empty one). Later turns read it: what was just suggested, whether the bot failed
    or handed off; so do the HTTP API's transcript and the hand-off summary. Rows of older
    versions read as records too: keys this version does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    recommendations: list[StoredPick] = []
    tone: str | None = None
    polarity: float = 0.0
    failed: bool = False  # the bot failed to help (no article, nothing fitting, picks turned down)
    negative: bool = False  # the turn was negative about the experience
    help: StoredHelp | None = None
    handoff: StoredHandoff | None = None
    refused: str | None = None
    # The reply asked what the person is after; its picks are popular ones listed meanwhile.
    clarified: bool = False
    understanding: Understanding | None = None
    scripted: bool = False  # written by a scripted dialogue (evaluation/scripted.py), not by Kith
    context: ClientContext | None = None  # the moment the client sent with the message

    def picks(self) -> list[str]:
        return [pick.item_id for pick in self.recommendations]


@dataclass(frozen=True)
class StoredMessage:
    role: str
    text: str
    record: TurnRecord


def _message(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(row["role"], row["text"], TurnRecord.model_validate_json(row["record"]))


class UnknownSession(LookupError):
    pass


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


PROFILE_QUERY = "SELECT profile FROM profiles WHERE catalog = ? AND user_id = ?"


class SessionStore:
    def __init__(self, database: Database, catalog: str):
        self.database = database
        self.catalog = catalog

    def profile(self, user_id: str) -> Profile:
        rows = self.database.query(PROFILE_QUERY, (self.catalog, user_id))
        return Profile.model_validate_json(rows[0]["profile"]) if rows else Profile()

    def save_profile(self, user_id: str, profile: Profile) -> None:
        with self.database.transaction() as connection:
            self._write_profile(connection, user_id, profile)

    def change_profile(self, user_id: str, change: Callable[[Profile], Profile]) -> tuple[Profile, Profile]:
        """Apply `change` to the stored profile inside one write transaction (BEGIN IMMEDIATE),
        so a turn saving at the same time neither overwrites it nor is overwritten; (before,
        after). The agent's profile tool changes a profile this way (bot/tools.py)."""
        with self.database.transaction() as connection:
            stored = connection.execute(PROFILE_QUERY, (self.catalog, user_id)).fetchone()
            before = Profile.model_validate_json(stored["profile"]) if stored else Profile()
            after = change(before)
            if after != before:
                self._write_profile(connection, user_id, after)
        return before, after

    def save_feedback(self, interaction: Interaction, signal: str, session_id: str | None, app: str,
                      change: Callable[[Profile], Profile]) -> Profile:
        """Store feedback on a card in one transaction: the person (a catalog user, named by
        their id, if they were none yet), the interaction, the latest signal on the item, and
        the profile `change` makes of the stored one (so a turn saving meanwhile merges into it:
        see save_turn). `session_id`, if given, must be this person's and app's session in this
        catalog (else UnknownSession, and nothing is written). Returns the profile stored."""
        user_id = interaction.user_id
        with self.database.transaction() as connection:
            if session_id is not None:
                owner = connection.execute("SELECT catalog, user_id, app FROM sessions WHERE id = ?",
                                           (session_id,)).fetchone()
                if owner is None or tuple(owner) != (self.catalog, user_id, app):
                    raise UnknownSession(f"no session {session_id!r} for user {user_id!r}")
            connection.execute("INSERT OR IGNORE INTO users (catalog, id, name) VALUES (?, ?, ?)",
                               (self.catalog, user_id, user_id))
            self.database.write_interactions(connection, self.catalog, [interaction])
            connection.execute(
                "INSERT INTO feedback (catalog, user_id, item_id, signal, interaction_id, session_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(catalog, user_id, item_id) DO UPDATE SET "
                "signal = excluded.signal, interaction_id = excluded.interaction_id, "
                "session_id = excluded.session_id, created_at = excluded.created_at",
                (self.catalog, user_id, interaction.item_id, signal, interaction.key, session_id, _now()),
            )
            stored = connection.execute(PROFILE_QUERY, (self.catalog, user_id)).fetchone()
            profile = change(Profile.model_validate_json(stored["profile"]) if stored else Profile())
            self._write_profile(connection, user_id, profile)
        return profile

    def feedback(self, user_id: str) -> dict[str, str]:
        """The person's latest signal per item ("up", "down", "owned"), most recent first."""
        rows = self.database.query(
            "SELECT item_id, signal FROM feedback WHERE catalog = ? AND user_id = ? ORDER BY created_at DESC, item_id",
            (self.catalog, user_id),
        )
        return {row["item_id"]: row["signal"] for row in rows}

    def _write_profile(self, connection: sqlite3.Connection, user_id: str, profile: Profile) -> None:
        connection.execute(
            "INSERT INTO profiles (catalog, user_id, profile, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(catalog, user_id) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
            (self.catalog, user_id, profile.model_dump_json(), _now()),
        )

    def open_session(self, user_id: str, session_id: str | None, app: str = "") -> tuple[str, bool]:
        """(session id, whether it is new). A given id must belong to this user, catalog and app.
        A new session is written with its first turn (save_turn), so a failed first turn
        leaves nothing behind."""
        if session_id is not None:
            rows = self.database.query("SELECT catalog, user_id, app FROM sessions WHERE id = ?", (session_id,))
            if rows and (rows[0]["catalog"], rows[0]["user_id"], rows[0]["app"]) == (self.catalog, user_id, app):
                return session_id, False
            if rows:
                # Another user's (or catalog's, or app's) session is not revealed to exist.
                raise UnknownSession(f"no session {session_id!r} for user {user_id!r}")
        return session_id or uuid.uuid4().hex, True

    def messages(self, session_id: str) -> list[StoredMessage]:
        """The whole transcript, oldest first."""
        rows = self.database.query(
            "SELECT role, text, record FROM messages WHERE session_id = ? ORDER BY position", (session_id,)
        )
        return [_message(row) for row in rows]

    def recent_messages(self, session_id: str, limit: int) -> list[StoredMessage]:
        """The session's last `limit` messages, oldest first: read backwards along the primary
        key (session_id, position), so the cost does not grow with the session."""
        rows = self.database.query(
            "SELECT role, text, record FROM messages WHERE session_id = ? ORDER BY position DESC LIMIT ?",
            (session_id, limit),
        )
        return [_message(row) for row in reversed(rows)]

    def message_count(self, session_id: str) -> int:
        """How many messages the session holds, without reading them (positions run 0, 1, ...)."""
        rows = self.database.query(
            "SELECT COALESCE(MAX(position) + 1, 0) AS n FROM messages WHERE session_id = ?", (session_id,)
        )
        return int(rows[0]["n"])

    def save_turn(
        self, session_id: str, user_id: str, message: str, reply: str, record: TurnRecord, profile: Profile,
        app: str = "", *, base: Profile,
    ) -> Profile:
        """Save one turn; return the profile stored. `base` is the stored profile the turn
        started from and `profile` the one it computed: if another turn (thread or process)
        stored a profile since `base` was read, this turn's change is merged into that one
        rather than overwriting it. The re-read happens inside the write transaction (BEGIN
        IMMEDIATE), which no other writer can enter meanwhile."""
        now = _now()
        with self.database.transaction() as connection:
            position = self._next_position(connection, session_id, user_id, app, now)
            connection.executemany(
                "INSERT INTO messages (session_id, position, role, text, record, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (session_id, position, "user", message, "{}", now),
                    (session_id, position + 1, "assistant", reply, record.model_dump_json(exclude_defaults=True), now),
                ],
            )
            connection.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
            stored = connection.execute(PROFILE_QUERY, (self.catalog, user_id)).fetchone()
            theirs = Profile.model_validate_json(stored["profile"]) if stored else Profile()
            if theirs != base:
                profile = merge_profiles(base, profile, theirs)
            self._write_profile(connection, user_id, profile)
        return profile

    def append_message(self, session_id: str, user_id: str, role: str, text: str, record: TurnRecord,
                       app: str = "") -> None:
        """Add one message at the end of a session (created if new), the profile untouched: a
        scripted dialogue's assistant line (evaluation/scripted.py), stored as a turn stores its reply,
        so the next turn reads it (and its record's recommendations) as what was just said."""
        if role not in ("user", "assistant"):
            raise ValueError(f"role must be 'user' or 'assistant', not {role!r}")
        now = _now()
        with self.database.transaction() as connection:
            position = self._next_position(connection, session_id, user_id, app, now)
            connection.execute(
                "INSERT INTO messages (session_id, position, role, text, record, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, position, role, text, record.model_dump_json(exclude_defaults=True), now),
            )
            connection.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))

    def _next_position(self, connection: sqlite3.Connection, session_id: str, user_id: str, app: str, now: str) -> int:
        """Inside a write transaction: the session created if new (it must be this user's, catalog's
        and app's), and the position its next message takes."""
        connection.execute(
            "INSERT OR IGNORE INTO sessions (id, catalog, user_id, app, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, self.catalog, user_id, app, now, now),
        )
        owner = connection.execute("SELECT catalog, user_id, app FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if tuple(owner) != (self.catalog, user_id, app):
            # Two first turns raced for one new id; the other user's turn won it.
            raise UnknownSession(f"no session {session_id!r} for user {user_id!r}")
        # The next free position: MAX reads one end of the primary key (session_id, position);
        # COUNT(*) would read every message of the session.
        (position,) = connection.execute(
            "SELECT COALESCE(MAX(position) + 1, 0) FROM messages WHERE session_id = ?", (session_id,)
        ).fetchone()
        return int(position)

    def sessions(self, user_id: str, app: str = "") -> list[dict[str, Any]]:
        rows = self.database.query(
            "SELECT s.id, s.created_at, s.updated_at, COUNT(m.position) AS messages FROM sessions s "
            "LEFT JOIN messages m ON m.session_id = s.id WHERE s.catalog = ? AND s.user_id = ? AND s.app = ? "
            "GROUP BY s.id ORDER BY s.updated_at DESC",
            (self.catalog, user_id, app),
        )
        return [dict(row) for row in rows]

    def delete_session(self, user_id: str, session_id: str, app: str = "") -> bool:
        with self.database.transaction() as connection:
            owned = connection.execute(
                "SELECT 1 FROM sessions WHERE id = ? AND catalog = ? AND user_id = ? AND app = ?",
                (session_id, self.catalog, user_id, app),
            ).fetchone()
            if not owned:
                return False
            connection.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            connection.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return True


def expire_sessions(database: Database, older_than: datetime) -> int:
    """Delete every session (of any catalog) untouched since `older_than`; returns how many.
    Profiles stay: they are the person's taste, not a conversation."""
    cutoff = older_than.astimezone(UTC).isoformat(timespec="milliseconds")
    with database.transaction() as connection:
        expired = "SELECT id FROM sessions WHERE updated_at < ?"
        connection.execute(f"DELETE FROM messages WHERE session_id IN ({expired})", (cutoff,))
        return connection.execute("DELETE FROM sessions WHERE updated_at < ?", (cutoff,)).rowcount
