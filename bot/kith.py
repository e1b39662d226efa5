"""`Kith`: the Python API, and the turn pipeline it runs.

One turn: sentiment -> profile update -> retrieval and ranking -> reply -> saved turn.
Each stage is a plain function or small class (bot/sentiment.py, bot/profile.py,
retrieval/ranking.py, bot/reply.py, bot/sessions.py); this module only wires them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.config import KithConfig, load_config
from bot.llm import LLMRuntime, open_runtime
from bot.profile import Constraints, Context, Profile, Vocabulary, describe, update_profile
from bot.reply import ReplyWriter, Written, choose_tone
from bot.sentiment import Sentiment, analyze
from bot.sessions import SessionStore
from retrieval.embeddings import shared_embedder
from retrieval.ingest import DEMO_CATALOG, demo_data_dir, ingest_dataset, read_source
from retrieval.ranking import FriendActivity, Ranker, RankRequest, Recommendation
from retrieval.schemas import User, check_catalog_name
from retrieval.store import Stores
from retrieval.titles import TitleFinder


class KithInputError(ValueError):
    """A caller's input is unusable; the message says what and how to fix it."""


@dataclass
class Turn:
    text: str
    recommendations: list[Recommendation]
    profile: Profile
    sentiment: Sentiment
    session_id: str
    tone: str
    asked_clarifying: bool
    friends_activity: list[FriendActivity]
    # Seconds per stage of this turn.
    timings: dict[str, float] = field(default_factory=dict)
    # True when the LLM's sentence named an item outside the ranking and was rewritten.
    repaired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "session_id": self.session_id,
            "recommendations": [asdict(r) for r in self.recommendations],
            "profile": self.profile.model_dump(),
            "sentiment": asdict(self.sentiment),
            "tone": self.tone,
            "asked_clarifying": self.asked_clarifying,
            "friends_activity": [asdict(a) for a in self.friends_activity],
            "timings": self.timings,
            "repaired": self.repaired,
        }


class Kith:
    """A conversational recommender over one catalog of a data folder."""

    def __init__(self, config: KithConfig, stores: Stores):
        self.config = config
        self.catalog = config.catalog
        self.stores = stores
        self.embedder = shared_embedder(config.embedding_batch_size)
        self.ranker = Ranker(self.catalog, stores.database, stores.vectors, self.embedder, config.ranking)
        self.sessions = SessionStore(stores.database, self.catalog)
        self._llm: LLMRuntime | None = None
        self._llm_lock = threading.Lock()
        self._rebuild_vocabulary()

    @classmethod
    def open(cls, data_dir: str | Path | None = None, catalog: str = DEMO_CATALOG, **config: Any) -> Kith:
        """Open a catalog. Keyword arguments are configuration (see KithConfig): e.g.
        `ranking={"social": 0.0}`, `adapter="path/to/adapter"`, `llm={"precision": "fp32"}`.
        Opening the catalog `demo` where it is missing loads the bundled demo data first."""
        overrides: dict[str, Any] = dict(config)
        if "adapter" in overrides:
            overrides.setdefault("llm", {})["adapter"] = overrides.pop("adapter")
        overrides["data_dir"] = Path(data_dir) if data_dir is not None else None
        overrides["catalog"] = check_catalog_name(catalog)
        settings = load_config(overrides=overrides)
        stores = Stores.open(settings.data_dir, settings.chroma_url, settings.embedding_batch_size)
        if not stores.database.has_catalog(catalog):
            if catalog != DEMO_CATALOG:
                known = ", ".join(stores.database.catalogs()) or "none"
                stores.close()
                raise KithInputError(
                    f"no catalog {catalog!r} in {settings.data_dir} (catalogs: {known}); load it with `kith ingest`"
                )
            dataset, _ = read_source([demo_data_dir()], "kith", stores, catalog)
            ingest_dataset(dataset, catalog, "bundled demo data", stores.database, stores.vectors,
                           shared_embedder(settings.embedding_batch_size))
        return cls(settings, stores)

    def close(self) -> None:
        self.stores.close()

    def _rebuild_vocabulary(self) -> None:
        stats = self.ranker.stats
        self.vocabulary = Vocabulary.for_catalog(stats.categories, stats.tags)
        self.finder = TitleFinder((item.id, item.title, stats.popularity.get(item.id, 0.0)) for item in stats.items.values())
        self.writer = ReplyWriter(self.llm, self.finder, sorted(stats.categories))

    def refresh(self) -> None:
        """Pick up data ingested since this catalog was opened."""
        self.ranker.refresh()
        self._rebuild_vocabulary()

    def llm(self) -> LLMRuntime:
        with self._llm_lock:
            if self._llm is None:
                self._llm = open_runtime(self.config.llm, self.config.cache_dir)
            return self._llm

    # --- reading ------------------------------------------------------------------------

    def users(self) -> list[User]:
        return self.stores.database.users(self.catalog)

    def title(self, item_id: str) -> str:
        item = self.ranker.stats.items.get(item_id)
        return item.title if item else item_id

    def profile(self, user_id: str) -> Profile:
        return self.sessions.profile(user_id)

    def set_profile(self, user_id: str, profile: Profile) -> None:
        """Replace a user's profile (the person corrected it); unknown item ids are refused."""
        unknown = [i for i in (*profile.likes, *profile.dislikes) if i not in self.ranker.stats.items]
        if unknown:
            raise KithInputError(f"profile names items not in catalog {self.catalog!r}: {', '.join(unknown)}")
        self.sessions.save_profile(user_id, profile)

    def describe_profile(self, profile: Profile) -> list[str]:
        return describe(profile, {item_id: self.title(item_id) for item_id in (*profile.likes, *profile.dislikes)})

    def read_profile(self, messages: Sequence[dict[str, str]]) -> Profile:
        """The profile a conversation implies (nothing is stored). Messages: {"role", "text"}."""
        profile = Profile()
        for message in messages:
            if message["role"] == "user":
                profile = self._understand(profile, message["text"], [])[0]
        return profile

    def rank(self, messages: Sequence[dict[str, str]], user_id: str | None = None, k: int = 50) -> list[Recommendation]:
        """Rank the catalog for a conversation without writing a reply."""
        profile = self.read_profile(messages)
        mentioned = [found.item_id for m in messages for found in self.finder.find(m["text"])]
        user_texts = [m["text"] for m in messages if m["role"] == "user"]
        request = self._request(profile, " ".join(user_texts[-2:]), user_id, seen=mentioned)
        return self.ranker.rank(request, k).recommendations

    # --- one turn -----------------------------------------------------------------------

    def _understand(self, profile: Profile, message: str, last_recommended: list[str]) -> tuple[Profile, Sentiment]:
        mentions = self.finder.find(message)
        sentiment = analyze(message, mentions)
        return update_profile(profile, message, sentiment, self.vocabulary, last_recommended), sentiment

    def _request(self, profile: Profile, query: str, user_id: str | None, seen: Sequence[str] = ()) -> RankRequest:
        c = profile.constraints
        return RankRequest(
            query=query,
            user_id=user_id,
            likes=profile.likes,
            dislikes=profile.dislikes,
            liked_tags=profile.liked_tags,
            disliked_tags=profile.disliked_tags,
            categories=c.categories,
            excluded_tags=c.excluded_tags,
            min_price=c.min_price,
            max_price=c.max_price,
            min_year=c.min_year,
            max_year=c.max_year,
            length=c.length,
            exclude=profile.rejected,
            seen=seen,
        )

    def _check_message(self, user_id: str, message: str) -> str:
        if not isinstance(message, str) or not message.strip():
            raise KithInputError("message is empty: say what you are looking for")
        if len(message) > self.config.max_message_chars:
            raise KithInputError(
                f"message is {len(message)} characters long; the limit is {self.config.max_message_chars}"
            )
        if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 200:
            raise KithInputError("user_id must be a non-empty string of at most 200 characters")
        # Control characters (other than newlines and tabs) carry no meaning in a chat message.
        return "".join(ch for ch in message if ch in "\n\t" or ch.isprintable()).strip()

    def reply(self, user_id: str, message: str, session_id: str | None = None) -> Turn:
        for piece in self.stream(user_id, message, session_id):
            if isinstance(piece, Turn):
                return piece
        raise RuntimeError("the turn ended without a result")

    def stream(self, user_id: str, message: str, session_id: str | None = None) -> Iterator[str | Turn]:
        """Yield the reply as text pieces, then the finished Turn."""
        message = self._check_message(user_id, message)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        session_id, is_new = self.sessions.open_session(user_id, session_id)
        history = self.sessions.messages(session_id)
        profile = self.sessions.profile(user_id)
        if is_new:
            # Taste persists across sessions; constraints and context belong to one conversation.
            profile = profile.model_copy(update={"constraints": Constraints(), "context": Context(), "rejected": []})
        last_recommended = next(
            ([r["item_id"] for r in m.data.get("recommendations", [])] for m in reversed(history) if m.role == "assistant"),
            [],
        )
        mark = time.perf_counter()
        timings["load"] = mark - started

        profile, sentiment = self._understand(profile, message, last_recommended)
        timings["understand"] = time.perf_counter() - mark
        mark = time.perf_counter()

        mentioned = [f.item_id for m in history for f in self.finder.find(m.text)]
        earlier = [r["item_id"] for m in history for r in m.data.get("recommendations", [])]
        user_texts = [m.text for m in history if m.role == "user"][-1:] + [message]
        request = self._request(profile, " ".join(user_texts), user_id, seen=[*mentioned, *earlier])
        ranking = self.ranker.rank(request, self.config.recommendations)
        timings["rank"] = time.perf_counter() - mark
        mark = time.perf_counter()

        tone = choose_tone(sentiment)
        history_likes = self.ranker.own_history(user_id)[0]
        has_history = bool(history_likes)
        ask = profile.is_thin() and not has_history and not sentiment.items
        repaired = False
        if ask or not ranking.recommendations:
            text = self.writer.clarifying_question(profile, ranking.recommendations) if ranking.recommendations else (
                "I couldn't find anything that fits all of that. Could you loosen one of your "
                "constraints (" + "; ".join(self.describe_profile(profile)) + ")?"
            )
            ask = True
            yield text
        else:
            written: list[Written] = []
            # Items the reply may name besides its picks: the person's own, which reasons cite.
            named = {*profile.likes, *profile.dislikes, *history_likes, *mentioned,
                     *(f.item_id for f in self.finder.find(message))}
            yield from self.writer.stream_recommendation(message, ranking.recommendations, tone, written, named)
            text, repaired = written[0].text, written[0].repaired
        timings["reply"] = time.perf_counter() - mark
        mark = time.perf_counter()

        turn = Turn(text, ranking.recommendations, profile, sentiment, session_id, tone, ask,
                    ranking.friends_activity, timings, repaired)
        data = {
            "recommendations": [asdict(r) for r in ranking.recommendations],
            "tone": tone,
            "sentiment": asdict(sentiment),
        }
        self.sessions.save_turn(session_id, user_id, message, text, data, profile)
        timings["save"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        yield turn
