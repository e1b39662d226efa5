"""The tools a turn uses, as LangChain tools with typed arguments: catalog search, friends'
activity, help-article search, profile update.

`kith_tools(kith, user_id)` builds them over one catalog for one person. Each answers short
plain text (what a model reads) and keeps its structured result as the tool message's
artifact (recommendations, friends' activity, the help answer, the saved profile). The person
is fixed when the tools are built, never an argument: whatever a model is told, it reads and
changes that person's data only. The catalog search is `CatalogRetriever`, Kith's ranker as a
LangChain retriever, usable by any LangChain chain.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field, create_model

import prompts
from bot.profile import Profile, apply_understanding
from bot.helpdesk import HelpAnswer, HelpDesk
from bot.understanding import ItemOpinion, Understanding
from retrieval.ranking import FriendActivity, Ranker, RankRequest, Recommendation

if TYPE_CHECKING:
    from bot.kith import Kith

TEXT = prompts.table("tools")
MAX_RESULTS = 10
# Friends' activity a model reads at once (the ranker looks up 40 for its scores).
MAX_ACTIVITY = 10
# A tag or a title as a model writes it; bounded so that a grammar built from these schemas
# bounds it too.
Tag = Annotated[str, Field(max_length=40)]
Title = Annotated[str, Field(max_length=120)]


class CatalogRetriever(BaseRetriever):
    """Kith's ranker as a LangChain retriever: the `k` items ranked best for a query, under
    `request`'s person, taste and constraints (its query is replaced by the one asked).

    Each Document: page_content is the item's title and description; metadata is its
    `Recommendation` as a dict (item_id, title, category, score, components, reasons, price, tags)."""

    ranker: Ranker
    request: RankRequest = Field(default_factory=lambda: RankRequest(query=""))
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        items = self.ranker.stats.items
        ranking = self.ranker.rank(replace(self.request, query=query), self.k)
        return [
            Document(page_content=f"{r.title}\n{items[r.item_id].description}", metadata=asdict(r), id=r.item_id)
            for r in ranking.recommendations
        ]


def recommendations(documents: Sequence[Document]) -> list[Recommendation]:
    """The recommendations behind a `CatalogRetriever`'s documents."""
    return [Recommendation(**document.metadata) for document in documents]


class SearchCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=200, description=TEXT["search_catalog"]["query"])
    # The catalog's categories replace `str` here (kith_tools), so a model sees which exist.
    category: str | None = Field(None, description=TEXT["search_catalog"]["category"])
    max_price: float | None = Field(None, ge=0, description=TEXT["search_catalog"]["max_price"])
    exclude_tags: list[Tag] = Field(default_factory=list, max_length=8, description=TEXT["search_catalog"]["exclude_tags"])
    # Choices rather than bounds: a grammar built from the schema then holds a model to them
    # (llama.cpp's JSON-schema grammars ignore an integer's minimum and maximum).
    k: Literal[1, 2, 3, 4, 5, 6, 7, 8, 9, 10] = Field(5, description=TEXT["search_catalog"]["k"])


class FriendsActivity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str = Field("", max_length=200, description=TEXT["friends_activity"]["about"])


class SearchHelp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=500, description=TEXT["search_help"]["question"])


class UpdateProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    likes: list[Title] = Field(default_factory=list, max_length=8, description=TEXT["update_profile"]["likes"])
    dislikes: list[Title] = Field(default_factory=list, max_length=8, description=TEXT["update_profile"]["dislikes"])
    tags: list[Tag] = Field(default_factory=list, max_length=8, description=TEXT["update_profile"]["tags"])
    avoid: list[Tag] = Field(default_factory=list, max_length=8, description=TEXT["update_profile"]["avoid"])
    max_price: float | None = Field(None, ge=0, description=TEXT["update_profile"]["max_price"])


@dataclass(frozen=True)
class ProfileUpdate:
    """What `update_profile` did: the profile as saved (unchanged if nothing was new), and what
    it could not save."""

    profile: Profile
    saved: bool
    unknown_titles: list[str]
    unknown_tags: list[str]


def kith_tools(kith: Kith, user_id: str) -> list[BaseTool]:
    """search_catalog, friends_activity, search_help and update_profile over `kith`'s catalog,
    acting for `user_id`."""
    return [
        search_catalog_tool(kith, user_id),
        friends_activity_tool(kith.ranker, user_id),
        search_help_tool(kith.helpdesk),
        update_profile_tool(kith, user_id),
    ]


def search_catalog_tool(kith: Kith, user_id: str) -> BaseTool:
    """Ranks for the person's stored profile (taste, dislikes, constraints, rejected picks)
    with the call's arguments on top: its category and budget replace the profile's, its tags
    to exclude add to them."""
    categories = tuple(sorted(kith.ranker.stats.categories))
    schema = SearchCatalog
    if categories:
        schema = create_model(
            "SearchCatalog", __base__=SearchCatalog,
            category=(Literal[categories] | None, Field(None, description=TEXT["search_catalog"]["category"])),  # type: ignore[valid-type]
        )

    def search_catalog(
        query: str, category: str | None = None, max_price: float | None = None, exclude_tags: Sequence[str] = (),
        k: int = 5,
    ) -> tuple[str, list[Recommendation]]:
        request = kith.request_for(kith.sessions.profile(user_id), [query], user_id)
        request = replace(
            request,
            categories=[category] if category else request.categories,
            max_price=max_price if max_price is not None else request.max_price,
            excluded_tags=list(dict.fromkeys([*request.excluded_tags, *exclude_tags])),
        )
        found = recommendations(CatalogRetriever(ranker=kith.ranker, request=request, k=k).invoke(query))
        return "\n".join(map(_listing, found)) or TEXT["search_catalog"]["nothing"], found

    return StructuredTool.from_function(
        search_catalog, name="search_catalog", description=TEXT["search_catalog"]["description"],
        args_schema=schema, response_format="content_and_artifact",
    )


def _listing(r: Recommendation) -> str:
    facts = ", ".join([r.category, *([f"{r.price:g}"] if r.price is not None else [])])
    return f"{r.item_id}: {r.title} ({facts})" + (f" - {'; '.join(r.reasons)}" if r.reasons else "")


def friends_activity_tool(ranker: Ranker, user_id: str) -> BaseTool:
    """The ranker's friends' activity for the person: their friends' public and friends-visible
    activity only, nearest to `about` (else to the person's taste) first."""

    def friends_activity(about: str = "") -> tuple[str, list[FriendActivity]]:
        activity = ranker.rank(RankRequest(query=about, user_id=user_id), k=1).friends_activity[:MAX_ACTIVITY]
        lines = [f"{a.item_id}: {a.item_title} - {a.describe()}" for a in activity]
        return "\n".join(lines) or TEXT["friends_activity"]["nothing"], activity

    return StructuredTool.from_function(
        friends_activity, name="friends_activity", description=TEXT["friends_activity"]["description"],
        args_schema=FriendsActivity, response_format="content_and_artifact",
    )


def search_help_tool(helpdesk: HelpDesk) -> BaseTool:
    def search_help(question: str) -> tuple[str, HelpAnswer | None]:
        answer = helpdesk.answer(question)
        return (f"{answer.title}: {answer.answer}" if answer else TEXT["search_help"]["nothing"]), answer

    return StructuredTool.from_function(
        search_help, name="search_help", description=TEXT["search_help"]["description"],
        args_schema=SearchHelp, response_format="content_and_artifact",
    )


def update_profile_tool(kith: Kith, user_id: str) -> BaseTool:
    """Titles are resolved to catalog items and tags checked against the catalog's; what is
    not in the catalog is reported back to the model, never saved."""

    def update_profile(
        likes: Sequence[str] = (), dislikes: Sequence[str] = (), tags: Sequence[str] = (), avoid: Sequence[str] = (),
        max_price: float | None = None,
    ) -> tuple[str, ProfileUpdate]:
        items = {title: _item(kith, title) for title in (*likes, *dislikes)}
        opinions = [
            ItemOpinion(item_id=item_id, feeling=feeling)
            for titles, feeling in ((likes, "like"), (dislikes, "dislike"))
            for item_id in (items[t] for t in titles) if item_id is not None
        ]
        unknown_titles = [title for title, item_id in items.items() if item_id is None]
        known_tags = kith.ranker.stats.tags
        unknown_tags = [t for t in (*tags, *avoid) if t not in known_tags]
        understanding = Understanding(
            opinions=opinions, tags=[t for t in tags if t in known_tags], avoid=[t for t in avoid if t in known_tags],
            max_price=max_price,
        )
        before, after = kith.sessions.change_profile(user_id, lambda stored: apply_understanding(stored, understanding))
        table = TEXT["update_profile"]
        said = [table["saved"].format(changes="; ".join(kith.describe_profile(after))) if after != before
                else table["unchanged"]]
        if unknown_titles:
            said.append(table["unknown_titles"].format(titles=", ".join(unknown_titles)))
        if unknown_tags:
            said.append(table["unknown_tags"].format(tags=", ".join(unknown_tags)))
        return " ".join(said), ProfileUpdate(after, after != before, unknown_titles, unknown_tags)

    return StructuredTool.from_function(
        update_profile, name="update_profile", description=TEXT["update_profile"]["description"],
        args_schema=UpdateProfile, response_format="content_and_artifact",
    )


def _item(kith: Kith, title: str) -> str | None:
    """The catalog item a title names, found by the catalog's title finder where it covers
    the whole text. A one-word title written in lowercase ("alien") is tried capitalized too:
    the finder reads lowercase single words in free text as everyday words, but this text is
    meant as a title."""
    for text in dict.fromkeys([title, string.capwords(title)]):
        for found in kith.finder.find(text):
            if not re.search(r"\w", text[: found.start] + text[found.end :]):
                return found.item_id
    return None
