"""`Kith`: the Python API, and the turn pipeline it runs.

One turn: sentiment -> profile update -> retrieval and ranking -> reply -> saved turn.
Each stage is a plain function or small class (bot/sentiment.py, bot/profile.py,
retrieval/ranking.py, bot/reply.py, bot/sessions.py); this module only wires them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.config import KithConfig, load_config
import prompts
from bot import support
from bot.profile import Constraints, Context, Profile, Vocabulary, describe, update_profile
from bot.reply import ReplyWriter, Written, choose_tone
from bot.runtimes.base import LLMRuntime, SerialRuntime
from bot.runtimes.factory import open_runtime
from bot.sentiment import Sentiment, analyze
from bot.sessions import SessionStore
from bot.support import Handoff, HelpAnswer, HelpDesk
from retrieval.embeddings import DEFAULT_CACHE_DIR, shared_embedder
from retrieval.ingest import DEMO_CATALOG, demo_data_dir, ingest_dataset, read_source
from retrieval.ranking import FriendActivity, Ranker, RankRequest, Recommendation
from retrieval.schemas import User, check_catalog_name
from retrieval.store import Stores
from retrieval.titles import TitleFinder


# How many of a session's latest messages a turn reads (10 turns of message and reply): what it
# derives from the conversation (items mentioned, earlier picks, the last picks, hand-off
# reasons, help topics) comes from these, so a turn costs the same in a session's 1,000th turn
# as in its 10th. Taste that outlives the window is in the profile, which every turn reads whole.
HISTORY_WINDOW = 20


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
    # The help article that answered a problem in the message, if one did.
    help: HelpAnswer | None = None
    # Set when this turn hands the conversation to a person.
    handoff: Handoff | None = None
    # Why the message was refused ("instructions" or "private"), if it was.
    refused: str | None = None
    # Why the reply was written without the LLM ("llm_unavailable": its endpoint is down), if it was.
    degraded: str | None = None

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
            "help": asdict(self.help) if self.help else None,
            "handoff": self.handoff.to_dict() if self.handoff else None,
            "refused": self.refused,
            "degraded": self.degraded,
        }


def ensure_catalog(
    stores: Stores, catalog: str, embedding_batch_size: int = 64, cache_dir: Path = DEFAULT_CACHE_DIR
) -> None:
    """Fail with a clear message when the catalog is missing, except `demo`: that one is
    loaded from the bundled demo data on first use."""
    if stores.database.has_catalog(catalog):
        return
    if catalog != DEMO_CATALOG:
        known = ", ".join(stores.database.catalogs()) or "none"
        raise KithInputError(
            f"no catalog {catalog!r} in {stores.database.path.parent} (catalogs: {known}); load it with `kith ingest`"
        )
    dataset, _ = read_source([demo_data_dir()], "kith", stores, catalog)
    ingest_dataset(dataset, catalog, "bundled demo data", stores.database, stores.vectors,
                   shared_embedder(embedding_batch_size, cache_dir))


class Kith:
    """A conversational recommender over one catalog of a data folder."""

    def __init__(self, config: KithConfig, stores: Stores, llm: Callable[[], LLMRuntime] | None = None):
        """`llm` shares one loaded LLM between Kith objects (the HTTP service opens one per
        catalog); by default this object loads its own on first use."""
        # The ranking weights are this catalog's (`ranking_by_catalog`) wherever they are read; the
        # entry is applied once, so a Kith opened on a copy of this config with other weights gets those.
        others = {name: weights for name, weights in config.ranking_by_catalog.items() if name != config.catalog}
        self.config = config.model_copy(update={"ranking": config.ranking_for(config.catalog), "ranking_by_catalog": others})
        self._settings = config  # as given: another catalog's Kith applies its own entry (`sibling`)
        self._siblings: list[Kith] = []
        self.catalog = config.catalog
        self.stores = stores
        self.embedder = shared_embedder(config.embedding_batch_size, config.cache_dir)
        self.ranker = Ranker(self.catalog, stores.database, stores.vectors, self.embedder, self.config.ranking)
        self.sessions = SessionStore(stores.database, self.catalog)
        self.helpdesk = HelpDesk(self.catalog, stores.database, stores.vectors, self.embedder)
        self._llm: LLMRuntime | None = None
        self._llm_lock = threading.Lock()
        self._shared_llm = llm
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
        try:
            ensure_catalog(stores, catalog, settings.embedding_batch_size, settings.cache_dir)
        except KithInputError:
            stores.close()
            raise
        return cls(settings, stores)

    def sibling(self, catalog: str) -> Kith:
        """Another catalog of this data folder, with the same settings (its own entry of
        `ranking_by_catalog` applied), stores and LLM: the web UI's catalog menu. Closing this
        Kith closes it too."""
        settings = self._settings.model_copy(update={"catalog": check_catalog_name(catalog)})
        ensure_catalog(self.stores, catalog, settings.embedding_batch_size, settings.cache_dir)
        sibling = Kith(settings, self.stores, llm=self.llm)
        self._siblings.append(sibling)
        return sibling

    def close(self) -> None:
        for kith in [*self._siblings, self]:
            kith.writer.wait()
        self.stores.close()

    def _rebuild_vocabulary(self) -> None:
        stats = self.ranker.stats
        self.vocabulary = Vocabulary.for_catalog(stats.categories, stats.tags)
        self.finder = TitleFinder((item.id, item.title, stats.popularity.get(item.id, 0.0)) for item in stats.items.values())
        self.writer = ReplyWriter(self.llm, self.finder, sorted(stats.categories))

    def refresh(self) -> None:
        """Pick up data ingested since this catalog was opened."""
        self.ranker.refresh()
        self.helpdesk.forget()
        self._rebuild_vocabulary()

    def llm(self) -> LLMRuntime:
        if self._shared_llm is not None:
            return self._shared_llm()
        with self._llm_lock:
            if self._llm is None:
                self._llm = SerialRuntime(open_runtime(self.config.llm, self.config.cache_dir))
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

    def rank_request(self, messages: Sequence[dict[str, str]], user_id: str | None = None) -> RankRequest:
        """What a conversation asks of the ranker: the profile it implies, its last two user
        messages as the query, and every item it mentioned as already seen."""
        profile = self.read_profile(messages)
        mentioned = [found.item_id for m in messages for found in self.finder.find(m["text"])]
        user_texts = [m["text"] for m in messages if m["role"] == "user"]
        return self._request(profile, " ".join(user_texts[-2:]), user_id, seen=mentioned)

    def rank(self, messages: Sequence[dict[str, str]], user_id: str | None = None, k: int = 50) -> list[Recommendation]:
        """Rank the catalog for a conversation without writing a reply."""
        return self.ranker.rank(self.rank_request(messages, user_id), k).recommendations

    # --- one turn -----------------------------------------------------------------------

    def _understand(self, profile: Profile, message: str, last_recommended: list[str]) -> tuple[Profile, Sentiment]:
        mentions = self.finder.find(message)
        sentiment = analyze(message, mentions)
        return update_profile(profile, message, sentiment, self.vocabulary, last_recommended, titles=mentions), sentiment

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

    def check_message(self, user_id: str, message: str) -> str:
        """The message as a turn uses it, or KithInputError saying what is wrong with it."""
        if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 200:
            raise KithInputError("user_id must be a non-empty string of at most 200 characters")
        if not isinstance(message, str):
            raise KithInputError(f"message must be text, not {type(message).__name__}")
        if len(message) > self.config.max_message_chars:
            raise KithInputError(
                f"message is {len(message)} characters long; the limit is {self.config.max_message_chars}"
            )
        # Control characters (other than newlines and tabs) carry no meaning in a chat message.
        cleaned = "".join(ch for ch in message if ch in "\n\t" or ch.isprintable()).strip()
        if not cleaned:
            raise KithInputError("message is empty: say what you are looking for")
        return cleaned

    def reply(self, user_id: str, message: str, session_id: str | None = None, app: str = "") -> Turn:
        for piece in self.stream(user_id, message, session_id, app):
            if isinstance(piece, Turn):
                return piece
        raise RuntimeError("the turn ended without a result")

    def stream(self, user_id: str, message: str, session_id: str | None = None, app: str = "") -> Iterator[str | Turn]:
        """Yield the reply as text pieces, then the finished Turn.

        A reply has up to three sections: a help answer (or a refusal), recommendations, and a
        hand-off notice. Sections are separated by a blank line, in the stream as in the text.
        `app` names the HTTP API tenant whose session this is ("" for local use)."""
        message = self.check_message(user_id, message)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        session_id, is_new = self.sessions.open_session(user_id, session_id, app)
        history = self.sessions.recent_messages(session_id, HISTORY_WINDOW)
        # The profile as stored when this turn began: saving merges this turn's change into
        # whatever another turn of the same person stored meanwhile (SessionStore.save_turn).
        base = self.sessions.profile(user_id)
        stored_profile = base
        if is_new:
            # Taste persists across sessions; constraints and context belong to one conversation.
            stored_profile = base.model_copy(update={"constraints": Constraints(), "context": Context(), "rejected": []})
        last_recommended = next(
            ([r["item_id"] for r in m.data.get("recommendations", [])] for m in reversed(history) if m.role == "assistant"),
            [],
        )
        mark = time.perf_counter()
        timings["load"] = mark - started

        refused = support.refusal(message)
        handing_to_person = support.asks_for_human(message)
        problem = not refused and support.mentions_problem(message)
        # A problem's words ("my boots arrived damaged") say nothing about taste.
        about_choice = support.choice_part(message) if problem else message
        profile, sentiment = self._understand(stored_profile, about_choice or message, last_recommended)
        if refused or not about_choice:
            profile = stored_profile  # a refusal, or a message only about a problem, changes no taste
        if about_choice != message:
            sentiment = analyze(message, self.finder.find(message))  # the feeling is the whole message's
        help_answer = self.helpdesk.answer(message) if problem else None
        timings["understand"] = time.perf_counter() - mark
        mark = time.perf_counter()

        sections: list[str] = []

        def section(text: str) -> str:
            sections.append(text)
            return text if len(sections) == 1 else "\n\n" + text

        failed = False
        if refused:
            yield section(support.refusal_text(refused))
        elif problem:
            if help_answer is not None:
                yield section(help_answer.text)
            else:
                failed = True
                yield section(prompts.table("support")["replies"]["help_not_found"])
        recommend = not refused and not handing_to_person and (not problem or support.asks_to_choose(message))

        recommendations: list[Recommendation] = []
        friends_activity: list[FriendActivity] = []
        tone = choose_tone(sentiment)
        ask = repaired = False
        degraded: str | None = None
        written: list[Written] = []
        if recommend:
            mentioned = [f.item_id for m in history for f in self.finder.find(m.text)]
            earlier = [r["item_id"] for m in history for r in m.data.get("recommendations", [])]
            user_texts = [m.text for m in history if m.role == "user"][-1:] + [about_choice]
            request = self._request(profile, " ".join(user_texts), user_id, seen=[*mentioned, *earlier])
            history_likes = self.ranker.own_history(user_id)[0]
            ask = profile.is_thin() and not history_likes and not sentiment.items
            ranking = self.ranker.rank(request, self.config.recommendations)
            recommendations, friends_activity = ranking.recommendations, ranking.friends_activity
            timings["rank"] = time.perf_counter() - mark
            mark = time.perf_counter()
            # Turning down every pick is a failure to help, as is finding nothing.
            failed = failed or not recommendations or sentiment.mood == "rejecting"
            if sections:
                yield section(prompts.table("support")["replies"]["then_choose"])
            ask = ask or not recommendations
            if ask:
                text = self.writer.clarifying_question(profile, recommendations) if recommendations else (
                    "I couldn't find anything that fits all of that. Could you loosen one of your "
                    "constraints (" + "; ".join(self.describe_profile(profile)) + ")?"
                )
                yield section(text)
            else:
                # Items the reply may name besides its picks: the person's own, which reasons cite.
                named = {*profile.likes, *profile.dislikes, *history_likes, *mentioned,
                         *(f.item_id for f in self.finder.find(message))}
                # The reply prompt carries what the bot knew before this message (the message
                # follows it), so the LLM could read that part after the previous turn (prepare_next).
                described = self.describe_profile(stored_profile)
                pieces = self.writer.stream_recommendation(message, recommendations, tone, written, named,
                                                           profile=described)
                yield section(next(pieces))
                yield from pieces
                sections[-1], repaired, degraded = written[0].text, written[0].repaired, written[0].degraded
        timings["reply"] = time.perf_counter() - mark
        mark = time.perf_counter()

        negative = support.is_negative(message, sentiment)
        failed = failed or support.complains(message)
        handoff = None
        reason = None if refused else support.handoff_reason(message, negative, failed, history)
        if reason is not None:
            help_titles = [m.data["help"]["title"] for m in history if m.data.get("help")]
            help_titles += [help_answer.title] if help_answer else []
            turns = self.sessions.message_count(session_id) // 2 + 1
            summary = support.summarize(user_id, turns, history, message, self.describe_profile(profile), help_titles,
                                        reason)
            handoff = support.Handoff(reason, support.handoff_text(reason), summary)
            yield section(handoff.explanation)

        text = "\n\n".join(sections)
        data = {
            "recommendations": [asdict(r) for r in recommendations],
            "tone": tone,
            "sentiment": asdict(sentiment),
            "failed": failed,
            "negative": negative,
            "help": asdict(help_answer) if help_answer else None,
            "handoff": handoff.to_dict() if handoff else None,
            "refused": refused,
        }
        profile = self.sessions.save_turn(session_id, user_id, message, text, data, profile, app, base=base)
        turn = Turn(text, recommendations, profile, sentiment, session_id, tone, ask, friends_activity, timings,
                    repaired, help_answer, handoff, refused, degraded)
        if self.writer.started:
            # Between turns, the LLM reads the next reply prompt up to the person's next message.
            self.writer.prepare_next(self.describe_profile(profile))
        timings["save"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        yield turn
