"""`Kith`: the Python API, and the turn pipeline it runs.

One turn (`Kith.stream`): open the session (bot/sessions.py) -> understand the message
(bot/understand.py: an `Understanding`, by the LLM or the rules) -> plan (bot/plan.py) -> help
(bot/helpdesk.py) and recommend (retrieval/ranking.py, then bot/reply.py) -> hand off
(bot/handoff.py) -> save. Each stage is a plain function or small class; this module only wires them.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
import logging
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import prompts
from bot.answers import answer, listed
from bot.config import KithConfig, load_config
from bot.context import ClientContext, situation
from bot.feedback import REMOVING, SIGNALS, VISIBILITIES, Feedback, Signal, apply_feedback, as_interaction
from bot.guard import refusal_text
from bot.handoff import Handoff, complains, handoff_reason, handoff_text, is_negative, summarize
from bot.helpdesk import HelpAnswer, HelpDesk, asks_to_look_up_order, choice_part
from bot.plan import Plan, plan_turn
from bot.profile import (AT_ODDS, GEAR_KINDS, PRICE_LEVELS, Constraints, Context, Profile, Vocabulary, apply_understanding, describe,
                         describe_limits, for_a_child, rating_for, suited_tags)
from bot.reply import ReplyWriter, Written, choose_tone, leaves_it_to_us
from bot.runtimes.base import LLMRuntime
from bot.runtimes.factory import Runtimes
from bot.sentiment import Sentiment
from bot.sessions import SessionStore, StoredHandoff, StoredHelp, StoredMessage, StoredPick, TurnRecord
from bot.understand import LLMReader, Reader, RuleReader, Said, asks_among_those, asks_for_new, describes
from bot.understanding import Understanding, Unknown
from retrieval.embeddings import DEFAULT_CACHE_DIR, shared_embedder
from retrieval.ingest import DEMO_CATALOG, demo_data_dir, ingest_dataset, read_source
from retrieval.graph import graph_folder
from retrieval.ranking import FriendActivity, Order, Ranker, RankRequest, Recommendation
from retrieval.schemas import User, Visibility, check_catalog_name
from retrieval.store import Stores
from retrieval.titles import TitleFinder


# How many of a session's latest messages a turn reads (10 turns of message and reply): what it
# derives from the conversation (items mentioned, earlier picks, the last picks, hand-off
# reasons, help topics) comes from these, so a turn costs the same in a session's 1,000th turn
# as in its 10th. Taste that outlives the window is in the profile, which every turn reads whole.
HISTORY_WINDOW = 20
# How many of the items that fit an empty answer names ("what fits (A, B, C and 4 more) came up already").
NOTHING_NEW_TITLES = 3

logger = logging.getLogger(__name__)


class KithInputError(ValueError):
    """A caller's input is unusable; the message says what and how to fix it."""


class UnknownItem(KithInputError):
    """An item id the catalog does not have."""


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
    # True when an LLM sentence failed the faithfulness check (bot/faithfulness.py) and was
    # written again or replaced by one built from the pick's facts.
    repaired: bool = False
    # The help article that answered a problem in the message, if one did.
    help: HelpAnswer | None = None
    # Set when this turn hands the conversation to a person.
    handoff: Handoff | None = None
    # Why the message was refused ("instructions" or "private"), if it was.
    refused: str | None = None
    # Why the reply was written without the LLM ("llm_unavailable": its endpoint is down), if it was.
    degraded: str | None = None
    # What the message was understood to mean, and by which reader.
    understanding: Understanding | None = None

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
            "understanding": self.understanding.model_dump() if self.understanding else None,
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


def _check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 200:
        raise KithInputError("user_id must be a non-empty string of at most 200 characters")


class Kith:
    """A conversational recommender over one catalog of a data folder."""

    def __init__(self, config: KithConfig, stores: Stores, runtimes: Runtimes | None = None):
        """`runtimes` shares one loaded LLM between Kith objects (the HTTP service opens one per
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
        self.ranker = Ranker(self.catalog, stores.database, stores.vectors, self.embedder, self.config.ranking,
                             graph_folder(config.data_dir, self.catalog))
        self.sessions = SessionStore(stores.database, self.catalog)
        self.helpdesk = HelpDesk(self.catalog, stores.database, stores.vectors, self.embedder)
        self.runtimes = runtimes or Runtimes(self.config.llm, self.config.cache_dir)
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
        stores = Stores.open(settings.data_dir, settings.chroma_url, settings.embedding_batch_size,
                             settings.chroma_timeout_s, settings.cache_dir)
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
        sibling = Kith(settings, self.stores, self.runtimes)
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
        self.writer = ReplyWriter(self.llm, self.finder, sorted(stats.categories), stats.items,
                                  instructed=self.config.llm.adapter is None)
        fields = self.config.understanding.llm_fields
        self.reader = Reader(
            RuleReader(self.vocabulary, self.finder, items=stats.items),
            LLMReader(self.reader_llm, self.vocabulary, self.finder, sorted(stats.categories),
                      instructed=self.config.llm.adapter is None) if fields else None,
            fields,
        )

    def refresh(self) -> None:
        """Pick up data ingested since this catalog was opened."""
        self.ranker.refresh()
        self.helpdesk.forget()
        self._rebuild_vocabulary()

    def llm(self) -> LLMRuntime:
        """The LLM that writes replies."""
        return self.runtimes.reply()

    def reader_llm(self) -> LLMRuntime:
        """The LLM that reads messages (its own llama.cpp context: see Runtimes)."""
        return self.runtimes.reader()

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

    def feedback(self, user_id: str, item_id: str, signal: Signal, session_id: str | None = None,
                 visibility: Visibility = "private", app: str = "") -> Feedback:
        """The person's feedback on a recommendation card: "up" (more like this), "down" (not for
        me) or "owned" (already have it), stored at once as their interaction (`visibility`,
        private by default) and in their profile, and used by their very next ranking (see
        bot/feedback.py). `session_id`: the conversation whose card it was; it must be theirs (and
        `app`'s). Unknown items raise UnknownItem, other bad input KithInputError; either way
        nothing is stored."""
        _check_user_id(user_id)
        if signal not in SIGNALS:
            raise KithInputError(f"signal must be one of {', '.join(SIGNALS)}, not {signal!r}")
        if visibility not in VISIBILITIES:
            raise KithInputError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")
        if not isinstance(item_id, str) or item_id not in self.ranker.stats.items:
            raise UnknownItem(f"no item {item_id!r} in catalog {self.catalog!r}")
        interaction = as_interaction(user_id, item_id, signal, visibility)
        profile = self.sessions.save_feedback(interaction, signal, session_id, app,
                                              lambda stored: apply_feedback(stored, item_id, signal))
        return Feedback(user_id, item_id, signal, visibility, session_id, interaction.key, profile)

    def describe_profile(self, profile: Profile) -> list[str]:
        return describe(profile, {item_id: self.title(item_id) for item_id in (*profile.likes, *profile.dislikes)})

    def read_profile(self, messages: Sequence[dict[str, str]]) -> Profile:
        """The profile a conversation implies (nothing is stored). Messages: {"role", "text"};
        the assistant's messages say what the person's answers are about."""
        return self.read_conversation(messages)[0]

    def read_conversation(self, messages: Sequence[dict[str, str]], reader: Reader | None = None
                          ) -> tuple[Profile, list[Understanding]]:
        """The profile a conversation implies, and each user message's understanding (by
        `reader`, this Kith's own by default)."""
        reader = reader or self.reader
        profile, read = Profile(), []
        assistant, suggested, named, theirs = "", [], [], set()
        for message in messages:
            found = [f.item_id for f in self.finder.find(message["text"])]
            if message["role"] == "user":
                understanding = reader.read(Said(message["text"], assistant, tuple(suggested), tuple(named)))[0]
                profile = apply_understanding(profile, understanding, suggested)
                read.append(understanding)
                felt = {o.item_id for o in understanding.opinions if o.feeling != "neutral" and o.item_id in found}
                assistant, suggested, theirs = "", [], theirs | felt
            else:
                # What the person named with a feeling, the assistant only talks back about ("I'm
                # not a fan of Justice League either"): an answer to its suggestions is not about it.
                suggested = [*suggested, *(item_id for item_id in found if item_id not in theirs)]
                assistant = (assistant + " " + message["text"]).strip()
            named += [item_id for item_id in found if item_id not in named]
        return profile, read

    def rank_request(self, messages: Sequence[dict[str, str]], user_id: str | None = None) -> RankRequest:
        """What a conversation asks of the ranker: the profile it implies, its last two user
        messages as the query, what the last one asks for this turn only (items by name, an
        order, friends' picks) as a reply would take it, and every item it mentioned as already
        seen."""
        profile, read = self.read_conversation(messages)
        mentioned = [found.item_id for m in messages for found in self.finder.find(m["text"])]
        user_texts = [m["text"] for m in messages if m["role"] == "user"]
        return self.request_for(profile, user_texts[-2:], user_id, seen=mentioned,
                                understanding=read[-1] if read and messages[-1]["role"] == "user" else None)

    def rank(self, messages: Sequence[dict[str, str]], user_id: str | None = None, k: int = 50) -> list[Recommendation]:
        """Rank the catalog for a conversation without writing a reply."""
        return self.ranker.rank(self.rank_request(messages, user_id), k).recommendations

    # --- one turn -----------------------------------------------------------------------

    def request_for(self, profile: Profile, texts: Sequence[str], user_id: str | None, seen: Sequence[str] = (),
                    context: ClientContext | None = None, fresh_first: bool = True, those_first: bool = False,
                    understanding: Understanding | None = None) -> RankRequest:
        """What the ranker is asked: the profile's taste and constraints, the query (those of
        `texts`, the person's latest messages, that describe what they want), the person's
        feedback on cards, and the moment (`context`: a soft lift, never a constraint). `fresh_first`:
        what was seen comes after every fresh item (RankRequest.fresh_first); `those_first`: before
        the fresh items that fit as well (RankRequest.those_first);
        `understanding`: the message's, whose asks hold for this turn only (the items asked for
        by name, the first picks; an order: "the cheapest book")."""
        c = profile.constraints
        required = self.vocabulary.requirement(c.required_tags)
        stats = self.ranker.stats
        order = understanding.order if understanding else None
        # A price level said in words ("cheap", "high-end") is the catalog's tag where the
        # categories asked for carry it (budget gear); elsewhere no requirement, and "cheap
        # books" asks for the cheapest first (PRICE_LEVELS).
        asked_categories = set(c.categories or stats.categories)

        def carried(tag: str) -> bool:
            return bool(stats.tag_categories.get(tag, set()) & asked_categories)

        for tag, most in PRICE_LEVELS.items():
            if any(tag in group for group in required) and not carried(tag):
                required = [group for group in required if tag not in group]
                if most and order is None:
                    order = ("price", most)
        # What suits whom it is for (a teenager's young-adult) likewise: no ask, and no lift,
        # where the categories asked for have none of it (no album is young-adult: a present for
        # a 16-year-old who loves Taylor Swift is 1989, not "the closest" to it).
        suited = set(suited_tags(profile.context.audience))
        suits = [tag for tag in suited_tags(profile.context.audience) if carried(tag)]
        required = [group for group in required if not set(group) <= suited or set(group) & set(suits)]
        if c.either_tags or _never_together(required, stats.tag_categories):
            # "Westerns and war films": one of them will do; so "he likes jazz and old westerns",
            # where no category of the catalog carries both.
            required = [sorted({tag for group in required for tag in group})] if required else []
        asked = {tag for group in required for tag in group}
        at_odds = [tag for tag in dict.fromkeys(odd for said in asked for odd in AT_ODDS.get(said, ()))
                   if tag not in asked and tag not in profile.disliked_tags]
        # A low mood said ("I'm exhausted, something to watch") describes what is wanted where
        # nothing else does: gentle picks; "rough week, I need a horror film" is horror.
        moment = situation(context, self.ranker.stats.tags,
                           asked={*profile.liked_tags, *asked},
                           refused={*c.excluded_tags, *profile.disliked_tags},
                           mood=understanding.mood if understanding and not asked else None)
        # Their feedback on cards (bot/feedback.py): "not for me" and "already have it" are gone
        # for good; "more like this" pulls alike items up while the profile does not dislike it.
        feedback = self.sessions.feedback(user_id) if user_id else {}
        # A name the catalog lacks ("do you have Frozen?") is no description: by its words, it
        # would be "a close match" to whatever shares them.
        if unknown := [re.escape(said.name) for said in (understanding.unknown if understanding else [])]:
            texts = [re.sub("|".join(unknown), " ", text, flags=re.I) for text in texts]
        return RankRequest(
            query=" ".join(text for text in texts if describes(text)),
            user_id=user_id,
            likes=profile.likes,
            dislikes=profile.dislikes,
            liked_tags=profile.liked_tags,
            disliked_tags=[*profile.disliked_tags, *at_odds],
            categories=c.categories,
            excluded_tags=c.excluded_tags,
            avoid_words=c.avoid_words,
            required_tags=required,
            suits=suits,
            for_a_child=for_a_child(profile.context.audience),
            tag_categories={tag: categories for said, categories in c.tag_categories.items()
                            for tag in self.vocabulary.tags.kin(said)},
            kinds=[words for kind in c.kinds for words in GEAR_KINDS.get(kind, (kind,))],
            owned_kinds=[words for kind in c.owned_kinds for words in GEAR_KINDS.get(kind, (kind,))],
            cool_weather=c.cool_weather,
            sleeps=c.sleeps,
            capacity=c.capacity,
            weight=c.weight,
            english_only=c.english_only,
            instrumental=c.instrumental,
            max_rating=c.max_rating or rating_for(profile.context.audience),
            together=[GEAR_KINDS.get(kind, (kind,)) for kind in c.kinds] if c.budget_together else [],
            makers=c.makers,
            min_price=c.min_price,
            max_price=c.max_price,
            min_year=c.min_year,
            max_year=c.max_year,
            length=c.length,
            exclude=[*profile.rejected, *(item_id for item_id, signal in feedback.items() if signal in REMOVING)],
            seen=seen,
            fresh_first=fresh_first,
            those_first=those_first,
            more_like=[item_id for item_id, signal in feedback.items()
                       if signal == "up" and item_id not in profile.dislikes],
            less_like=[item_id for item_id, signal in feedback.items() if signal == "down"],
            context_tags=moment.favoured,
            context_avoid=moment.avoided,
            asked_for=understanding.asked_for if understanding else (),
            from_friends=bool(understanding and understanding.from_friends),
            order=_order(order) if order else None,
        )

    def check_context(self, context: ClientContext | dict[str, Any] | None) -> ClientContext | None:
        """The client's context as a turn uses it, or KithInputError naming the field that is wrong."""
        if context is None or isinstance(context, ClientContext):
            return context
        try:
            return ClientContext.model_validate(context)
        except ValidationError as error:
            problems = "; ".join(
                f"context.{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}" if issue["loc"]
                else f"context: {issue['msg']}" for issue in error.errors())
            raise KithInputError(problems) from None

    def check_message(self, user_id: str, message: str) -> str:
        """The message as a turn uses it, or KithInputError saying what is wrong with it."""
        _check_user_id(user_id)
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

    def reply(self, user_id: str, message: str, session_id: str | None = None, app: str = "",
              context: ClientContext | dict[str, Any] | None = None) -> Turn:
        for piece in self.stream(user_id, message, session_id, app, context):
            if isinstance(piece, Turn):
                return piece
        raise RuntimeError("the turn ended without a result")

    def stream(self, user_id: str, message: str, session_id: str | None = None, app: str = "",
               context: ClientContext | dict[str, Any] | None = None) -> Iterator[str | Turn]:
        """Yield the reply as text pieces, then the finished Turn.

        The turn's stages, in order: open the session -> understand the message -> plan -> help
        and recommend -> hand off -> save. A reply has up to four sections: a help answer (or a
        refusal, or a friendly word), answers about items, recommendations, and a hand-off
        notice, separated by a blank line, in the stream as in the text. `app` names the HTTP API tenant whose session this is ("" for local use).
        `context`: the moment the client sends (bot/context.py: time, place, weather, occasion,
        device), which lifts what fits it without overriding what the person asked for."""
        message = self.check_message(user_id, message)
        context = self.check_context(context)
        clock = _Clock()
        opened = self._open(user_id, session_id, app)
        clock.lap("load")
        understanding, sentiment = self.reader.read(Said(
            message, opened.last_reply, tuple(opened.last_recommended),
            tuple(dict.fromkeys([*opened.mentioned, *opened.earlier])), tuple(opened.answered), opened.aside,
            opened.ranked, opened.friends_picks, opened.after_help, tuple(opened.earlier_firsts)))
        plan = plan_turn(message, understanding, opening=not opened.history, titles=self.finder.find(message),
                         after_help=opened.after_help)
        # A refusal changes no taste, nor does giving up on the bot ("forget it, you're useless"
        # says nothing of the picks).
        profile = opened.profile if plan.refusal or plan.apology else apply_understanding(
            opened.profile, understanding, opened.last_recommended)
        # A follow-up to a problem ("can I get a replacement?" after "it arrived with a broken
        # pole") is asked together with the problem it follows (HelpDesk.answer).
        problem = next((m.text for m in reversed(opened.history) if m.role == "user"), "") if (
            opened.history and opened.history[-1].record.help) else ""
        help_answer = self.helpdesk.answer(message, problem) if plan.help else None
        clock.lap("understand")

        reply = _Sections()
        failed = False
        if plan.refusal:
            yield reply.add(refusal_text(plan.refusal))
        elif plan.help:
            failed = help_answer is None
            replies = prompts.table("support")["replies"]
            # A problem said in anger or distress ("my boots leak, this is ridiculous") is met with an apology.
            sorry = replies["sorry"] + " " if is_negative(message, sentiment, understanding) else ""
            # Kith answers from the help centre; it cannot see anyone's orders, and says so (and
            # hands the conversation to someone who can, below), without the article it just gave.
            unseen = asks_to_look_up_order(message)
            last_help = next((m.record.help for m in reversed(opened.history) if m.role == "assistant"), None)
            given = unseen and help_answer is not None and last_help is not None \
                and last_help.article_id == help_answer.article_id
            article = "" if given else help_answer.text if help_answer else replies["help_not_found"]
            yield reply.add((sorry + (replies["no_order_access"] + " " if unseen else "") + article).strip())
        elif plan.smalltalk:
            yield reply.add(prompts.table("support")["replies"]["smalltalk"])
        elif plan.apology:
            failed = True
            handed_off = any(m.record.handoff for m in opened.history if m.role == "assistant")
            yield reply.add(prompts.table("support")["replies"]["apology_handed_off" if handed_off else "apology"])
        if plan.answer:
            given = {pick.item_id: pick.reasons for m in opened.history if m.role == "assistant"
                     for pick in m.record.recommendations}  # the latest turn's reasons for a pick shown twice
            yield reply.add(answer(understanding.questions, self.ranker.stats.items,
                                   lambda item_id: self.ranker.reception(item_id, user_id), given))
        picks = _Picks(tone=choose_tone(sentiment))
        if plan.recommend:
            picks = yield from self._recommend(user_id, message, plan, opened, profile, sentiment, reply, clock,
                                               context, understanding)
            # Turning down every pick is a failure to help, as is finding nothing.
            failed = failed or not picks.recommendations or sentiment.mood == "rejecting"
        clock.lap("reply")

        negative = is_negative(message, sentiment, understanding)
        failed = failed or complains(message)
        handoff = None
        reason = None if plan.refusal else handoff_reason(message, negative, failed, opened.history,
                                                          order_lookup=plan.help and asks_to_look_up_order(message))
        if reason is not None:
            help_titles = [m.record.help.title for m in opened.history if m.record.help]
            help_titles += [help_answer.title] if help_answer else []
            turns = self.sessions.message_count(opened.session_id) // 2 + 1
            summary = summarize(user_id, turns, opened.history, message, self.describe_profile(profile), help_titles,
                                reason)
            handoff = Handoff(reason, handoff_text(reason), summary)
            yield reply.add(handoff.explanation)

        record = TurnRecord(
            recommendations=[StoredPick(item_id=r.item_id, title=r.title, category=r.category, price=r.price,
                                        reasons=r.reasons) for r in picks.recommendations],
            tone=picks.tone, polarity=sentiment.polarity, failed=failed, negative=negative,
            help=StoredHelp(article_id=help_answer.article_id, title=help_answer.title, answer=help_answer.answer)
            if help_answer else None,
            handoff=StoredHandoff(**handoff.to_dict()) if handoff else None,
            refused=plan.refusal, clarified=picks.asked, understanding=understanding, context=context,
        )
        profile = self.sessions.save_turn(opened.session_id, user_id, message, reply.text, record, profile, app,
                                          base=opened.base)
        if self.writer.started:
            # Between turns, the LLM reads the next reply prompt up to the person's next message.
            self.writer.prepare_next()
        clock.lap("save")
        yield Turn(reply.text, picks.recommendations, profile, sentiment, opened.session_id, picks.tone, picks.asked,
                   picks.friends_activity, clock.finish(), picks.repaired, help_answer, handoff, plan.refusal,
                   picks.degraded, understanding)

    def _open(self, user_id: str, session_id: str | None, app: str) -> _Opened:
        session_id, is_new = self.sessions.open_session(user_id, session_id, app)
        history = self.sessions.recent_messages(session_id, HISTORY_WINDOW)
        # The profile as stored when this turn began: saving merges this turn's change into
        # whatever another turn of the same person stored meanwhile (SessionStore.save_turn).
        base = self.sessions.profile(user_id)
        profile = base
        if is_new:
            # Taste persists across sessions; constraints and context belong to one conversation.
            profile = base.model_copy(update={"constraints": Constraints(), "context": Context(), "rejected": []})
        replies = [m for m in history if m.role == "assistant"]
        return _Opened(
            session_id, history, base, profile,
            last_reply=replies[-1].text if replies else "",
            # A turn without picks (an answer, small talk, help) leaves the last picks what the
            # conversation is about: "how much is the first one?", then "and the second?".
            last_recommended=next((m.record.picks() for m in reversed(replies) if m.record.picks()), []),
            mentioned=[f.item_id for m in history for f in self.finder.find(m.text)],
            earlier=[item_id for m in replies for item_id in m.record.picks()],
            answered=[question.item_id for question in replies[-1].record.understanding.questions]
            if replies and replies[-1].record.understanding else [],
            aside=bool(replies) and (replies[-1].record.clarified
                                     or replies[-1].record.help is not None and not replies[-1].record.picks()),
            ranked=next((not m.record.scripted for m in reversed(replies) if m.record.picks()), False),
            friends_picks=next((bool(m.record.understanding and m.record.understanding.from_friends)
                                for m in reversed(replies) if m.record.picks()), False),
            after_help=bool(replies) and replies[-1].record.help is not None,
            earlier_firsts=[m.record.picks()[0] for m in reversed(replies) if m.record.picks()][1:],
        )

    def _recommend(self, user_id: str, message: str, plan: Plan, opened: _Opened, profile: Profile,
                   sentiment: Sentiment, reply: _Sections, clock: _Clock,
                   context: ClientContext | None = None, understanding: Understanding | None = None
                   ) -> Generator[str, None, _Picks]:
        """Rank, then write the picks (or a clarifying question) as the reply's next section."""
        # A problem's words ("my boots arrived damaged") are no query for the catalog.
        about_choice = choice_part(message) if plan.help else message
        user_texts = [m.text for m in opened.history if m.role == "user"][-1:] + [about_choice]
        request = self.request_for(profile, user_texts, user_id, seen=[*opened.mentioned, *opened.earlier],
                                   context=context, understanding=understanding,
                                   fresh_first=asks_for_new(message)
                                   and not profile.constraints.changed(opened.profile.constraints),
                                   those_first=asks_among_those(message))
        history_likes = self.ranker.own_history(user_id)[0]
        if self.config.planner == "agent":
            answered = self._agent_answer(user_id, message, opened, profile, sentiment, history_likes)
            if answered is not None:
                picks, text = answered
                clock.lap("rank")
                yield reply.add(text)
                return picks
        ranking = self.ranker.rank(request, self.config.recommendations)
        picks = _Picks(choose_tone(sentiment), ranking.recommendations, ranking.friends_activity)
        clock.lap("rank")
        if reply.sections:
            yield reply.add(prompts.table("support")["replies"]["then_choose"])
        # A thin profile gets a question once a conversation ("start over" starts one anew): after
        # it, or where the person leaves the choice to Kith ("surprise me"), the picks themselves.
        asked_before = not (understanding and understanding.reset) and any(
            m.record.clarified for m in opened.history if m.role == "assistant")
        picks.asked = not picks.recommendations or (profile.is_thin() and not history_likes and not sentiment.items
                                                    and not request.asked_for and not request.order
                                                    and not asked_before and not leaves_it_to_us(message))
        # Names asked for that the catalog lacks are said first: the picks are no answer to them.
        lead = _unknown_text(understanding.unknown if understanding else [])
        if picks.asked:
            replies = prompts.table("support")["replies"]
            if picks.recommendations:
                sorry = replies["sorry"] if is_negative(message, sentiment, understanding) else None
                asked = self.writer.clarifying_question(profile, picks.recommendations, sorry)
            elif request.from_friends:
                asked = replies["no_friends_picks"]
            else:
                fitting = [item.title for item in self.ranker.fitting(request)]
                asked = self._nothing_new(request, fitting) if fitting else self._nothing_fits(profile, request)
            yield reply.add(lead + asked)
            return picks
        # Items the reply may name besides its picks: the person's own, which reasons cite.
        named = {*profile.likes, *profile.dislikes, *history_likes, *opened.mentioned,
                 *(f.item_id for f in self.finder.find(message))}
        written: list[Written] = []
        pieces = self.writer.stream_recommendation(message, picks.recommendations, picks.tone, written, named)
        yield reply.add(lead + next(pieces))
        yield from pieces
        reply.sections[-1], picks.repaired, picks.degraded = lead + written[0].text, written[0].repaired, written[0].degraded
        return picks

    def _nothing_new(self, request: RankRequest, fitting: Sequence[str]) -> str:
        """That what fits (`fitting`, titles) came up already or is the person's own; under a
        budget, with the closest new item above it ("something for a woman?" after a jacket under
        $100: the women's rain jacket, at 139.00)."""
        replies = prompts.table("support")["replies"]
        said = replies["nothing_new"].format(titles=listed(fitting, NOTHING_NEW_TITLES))
        if request.max_price is None:
            return said
        above = self.ranker.rank(replace(request, max_price=None, fresh_first=True), 1).recommendations
        new = [r for r in above if r.item_id not in request.seen and r.price is not None and r.price > request.max_price]
        return " ".join([said, replies["above_budget"].format(title=new[0].title, price=new[0].price)]) if new else said

    def _nothing_fits(self, profile: Profile, request: RankRequest) -> str:
        """What to loosen, where nothing in the catalog fits; under a budget, with the cheapest
        item that fits all the rest ("any of those under 5 dollars?": the 90s film nearest it)."""
        replies = prompts.table("support")["replies"]
        said = replies["nothing_fits"].format(limits="; ".join(describe_limits(profile.constraints)))
        if request.max_price is None:
            return said
        if request.together:
            # "A tent and a sleeping bag, about 300 total": what one of each costs at the least.
            each = self.ranker.cheapest_of_each(replace(request, max_price=None))
            found = [item for item in each if item is not None]
            return said if len(found) < len(each) else " ".join([said, replies["cheapest_together"].format(
                titles=listed([item.title for item in found]), price=sum(item.price or 0.0 for item in found))])
        priced = [item for item in self.ranker.fitting(replace(request, max_price=None)) if item.price is not None]
        cheapest = min(priced, key=lambda item: (item.price, item.id), default=None)
        return said if cheapest is None else " ".join(
            [said, replies["cheapest_else"].format(title=cheapest.title, price=cheapest.price)])

    def chat_model(self):  # -> langchain_core BaseChatModel
        """The reply LLM as a LangChain chat model, for the agent planner."""
        from bot.runtimes.chat_model import RuntimeChatModel

        return RuntimeChatModel(runtime=self.llm())

    def _agent_answer(self, user_id: str, message: str, opened: _Opened, profile: Profile, sentiment: Sentiment,
                      history_likes: Sequence[str]) -> tuple[_Picks, str] | None:
        """`planner = "agent"`: the LLM plans its own tool calls (LangChain's agent loop over
        bot/tools.py) and writes the answer. None, and the turn goes on as code plans it, when
        the loop hit its step limit, found no items, or answered with what the facts lack
        (the reply's one faithfulness check, bot/faithfulness.py)."""
        # LangChain's agent loads only where it is configured.
        from langchain_core.messages import AIMessage, HumanMessage

        from bot.agent import run_agent
        from bot.tools import kith_tools

        history = [HumanMessage(m.text) if m.role == "user" else AIMessage(m.text) for m in opened.history]
        result = run_agent(self.chat_model(), kith_tools(self, user_id), prompts.table("tools")["agent"]["system"],
                           [*history, HumanMessage(message)])
        found = result.recommendations[: self.config.recommendations]
        own = {*profile.likes, *profile.dislikes, *history_likes, *opened.mentioned}
        if not result.finished or not found or not self.writer.faithful(result.text, found, own):
            logger.info("agent planner: answering as code plans it (finished %s, %d items)", result.finished, len(found))
            return None
        friends = result.last_artifact("friends_activity") or []
        return _Picks(choose_tone(sentiment), found, list(friends)), result.text


def _unknown_text(unknown: Sequence[Unknown]) -> str:
    """What the catalog lacks of the names asked for, as the sentences that open the picks ("" for none)."""
    replies = prompts.table("support")["replies"]
    said = [replies[f"unknown_{of}"].format(names=listed(names, last="or"))
            for of in ("title", "maker", "category", "likeness")
            if (names := [u.name for u in unknown if u.of == of])]
    return "".join(sentence + " " for sentence in said)


def _never_together(required: Sequence[Sequence[str]], carried: dict[str, set[str]]) -> bool:
    """Whether groups of tags that the catalog carries (`carried`: each tag's categories) can never
    all be one item's, since no category carries every one of them (jazz is music, a western a
    book or a film). A group no category carries makes no such case: it is a miss to say."""
    of = [set().union(*(carried.get(tag, set()) for tag in group)) for group in required]
    return len(of) > 1 and all(of) and not set.intersection(*of)


def _order(order: tuple[str, str]) -> Order:
    """A request's order ("the cheapest": price, least) as the ranker takes it, with its word."""
    measure, most = order
    return Order(measure, most == "most", prompts.table("answers")["superlatives"][measure][most == "most"])


@dataclass(frozen=True)
class _Opened:
    """What a turn starts from: its session, the recent messages, and the profile."""

    session_id: str
    history: list[StoredMessage]
    base: Profile  # as stored when the turn began
    profile: Profile  # what the turn starts from (a new session's without the last one's constraints)
    last_reply: str
    last_recommended: list[str]
    mentioned: list[str]  # items the recent messages named
    earlier: list[str]  # items the recent replies recommended
    answered: list[str]  # items the last reply answered questions about
    aside: bool  # the last reply answered no request with picks (Said.aside)
    ranked: bool  # the last picks are Kith's own ranked cards, not a scripted line's (Said.ranked)
    friends_picks: bool  # the last picks are what friends shared liking (Said.friends_picks)
    after_help: bool  # the last reply answered a problem from the help centre (Said.after_help)
    earlier_firsts: list[str]  # the first pick of each reply with picks before the last one (Said.earlier_firsts)


@dataclass
class _Picks:
    """The recommend step's outcome."""

    tone: str
    recommendations: list[Recommendation] = field(default_factory=list)
    friends_activity: list[FriendActivity] = field(default_factory=list)
    asked: bool = False  # a clarifying question instead of picks
    repaired: bool = False
    degraded: str | None = None


class _Sections:
    """The reply's sections, each streamed after a blank line but the first."""

    def __init__(self) -> None:
        self.sections: list[str] = []

    def add(self, text: str) -> str:
        self.sections.append(text)
        return text if len(self.sections) == 1 else "\n\n" + text

    @property
    def text(self) -> str:
        return "\n\n".join(self.sections)


class _Clock:
    """Seconds per stage of a turn."""

    def __init__(self) -> None:
        self.started = self.mark = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self.mark
        self.mark = now

    def finish(self) -> dict[str, float]:
        self.timings["total"] = time.perf_counter() - self.started
        return self.timings
