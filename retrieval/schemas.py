"""The records Kith stores, written down once and validated at the edge (files, API, importers)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Visibility = Literal["public", "friends", "private"]
InteractionKind = Literal["view", "like", "purchase", "rating", "review"]
ItemSentiment = Literal["like", "dislike", "neutral"]

# Visibilities that may reach someone other than the owner: in their friends' rankings,
# explanations and replies. "private" never leaves its owner.
SHARED_VISIBILITIES: tuple[Visibility, ...] = ("public", "friends")

NAME = r"[a-z0-9][a-z0-9_-]{0,48}[a-z0-9]"
CATALOG_NAME = re.compile(rf"^{NAME}$")
# A catalog as stored: a tenant's own catalogs are stored under "TENANT.NAME", so two tenants'
# catalogs (and the users, profiles and sessions inside them) can never meet, and one tenant cannot
# even learn that another's catalog exists. The default tenant's catalogs keep their plain names,
# which is what every data folder made before tenants holds.
STORED_CATALOG_NAME = re.compile(rf"^(?:{NAME}\.)?{NAME}$")
DEFAULT_TENANT = "default"


def check_tenant_catalog_name(name: str) -> str:
    """A catalog name as a tenant gives it (the HTTP API's paths and bodies): never qualified."""
    if not CATALOG_NAME.match(name):
        raise ValueError(
            f"catalog name {name!r} is not allowed: use 2-50 lowercase letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return name


def check_catalog_name(name: str) -> str:
    """A catalog name as stored: a plain name (the default tenant's) or "TENANT.NAME". Local
    callers (the CLI, the Python API, the web UI) reach every tenant's catalogs by these names."""
    if not STORED_CATALOG_NAME.match(name):
        raise ValueError(
            f"catalog name {name!r} is not allowed: use 2-50 lowercase letters, digits, '-' or '_', "
            "starting and ending with a letter or digit (a tenant's catalog: TENANT.NAME)"
        )
    return name


def stored_catalog(tenant: str, name: str) -> str:
    """Where tenant `tenant` keeps its catalog `name`."""
    check_tenant_catalog_name(name)
    return name if tenant == DEFAULT_TENANT else f"{check_tenant_catalog_name(tenant)}.{name}"


def tenant_catalogs(stored: list[str], tenant: str) -> list[str]:
    """The names tenant `tenant` knows its catalogs by, among every stored catalog."""
    if tenant == DEFAULT_TENANT:
        return [name for name in stored if "." not in name]
    prefix = f"{tenant}."
    return [name[len(prefix):] for name in stored if name.startswith(prefix)]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(Record):
    id: Id
    title: Text
    category: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]
    description: str = ""
    tags: list[Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]] = []
    price: float | None = Field(None, ge=0)
    attributes: dict[str, Any] = {}

    def embedding_text(self) -> str:
        """What the embedding model reads for this item: the words a person would search with."""
        parts = [self.title, self.category]
        if self.tags:
            parts.append(", ".join(self.tags))
        if self.description:
            parts.append(self.description)
        return ". ".join(parts)


class User(Record):
    id: Id
    name: Text


class Friendship(Record):
    """A mutual friendship; stored once per pair and read in both directions."""

    user_id: Id
    friend_id: Id
    strength: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _not_self(self) -> Friendship:
        if self.user_id == self.friend_id:
            raise ValueError("a user cannot be their own friend (user_id equals friend_id)")
        return self


class Interaction(Record):
    # Optional in files: derived from (user, item, kind, timestamp) so re-ingesting the same
    # row updates it instead of duplicating it.
    id: Id | None = None
    user_id: Id
    item_id: Id
    kind: InteractionKind
    rating: float | None = Field(None, ge=0, le=5)
    text: str = ""
    timestamp: datetime | None = None
    # Private unless the data says otherwise: nothing is shared that was not meant to be.
    visibility: Visibility = "private"
    # Play or view count where a data set has one (Last.fm); 1 otherwise.
    weight: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _kind_needs_fields(self) -> Interaction:
        if self.kind == "rating" and self.rating is None:
            raise ValueError("kind 'rating' needs a rating (0 to 5)")
        if self.kind == "review" and not self.text.strip():
            raise ValueError("kind 'review' needs a non-empty text")
        return self

    @property
    def key(self) -> str:
        if self.id is not None:
            return self.id
        stamp = self.timestamp.isoformat() if self.timestamp else ""
        raw = "\x1f".join((self.user_id, self.item_id, self.kind, stamp))
        return "ix-" + hashlib.sha1(raw.encode()).hexdigest()[:20]


class HelpArticle(Record):
    id: Id
    title: Text
    body: Text
    tags: list[Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]] = []


class Mention(Record):
    item_id: Id
    sentiment: ItemSentiment | None = None


class DialogueTurn(Record):
    role: Literal["user", "assistant"]
    text: Text
    mentions: list[Mention] = []


@dataclass(frozen=True)
class Request:
    """What a person asked just before the agent suggested items in a stored dialogue."""

    key: str  # "<dialogue id>#<turn number>"
    text: str  # the person's last two turns before the suggestion
    items: tuple[str, ...]  # the items the agent named there first


class Dialogue(Record):
    id: Id
    user_id: Id | None = None
    turns: list[DialogueTurn] = Field(min_length=1)

    def requests(self) -> list[Request]:
        """Each assistant turn that names items not named earlier in the dialogue, after the
        person has said something: the person's request and the agent's new suggestions."""
        requests, said, named = [], [], set()
        for number, turn in enumerate(self.turns):
            new = tuple(dict.fromkeys(m.item_id for m in turn.mentions if m.item_id not in named))
            if turn.role == "assistant" and new and said:
                requests.append(Request(f"{self.id}#{number}", " ".join(said[-2:]), new))
            if turn.role == "user":
                said.append(turn.text)
            named.update(m.item_id for m in turn.mentions)
        return requests

    @field_validator("turns")
    @classmethod
    def _has_user_turn(cls, turns: list[DialogueTurn]) -> list[DialogueTurn]:
        if not any(turn.role == "user" for turn in turns):
            raise ValueError("a dialogue needs at least one user turn")
        return turns


RECORD_KINDS: dict[str, type[Record]] = {
    "items": Item,
    "users": User,
    "friendships": Friendship,
    "interactions": Interaction,
    "help_articles": HelpArticle,
    "dialogues": Dialogue,
}
