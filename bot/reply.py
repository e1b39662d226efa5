"""Writing the reply: tone from sentiment, the LLM's sentence about the top pick, the ranked list.

The ranking decides what is recommended; the LLM writes words. Its sentence is checked in code:
a sentence that names a catalog item outside the ranked list (other than items the person
named), claims a friend the facts lack, or does not finish is replaced by the pick's own
reason. Replies therefore only ever recommend ranked items.

When the LLM is an endpoint that is down (bot.runtimes.base.LLMUnavailable), the reply is written
from the ranking alone: the top pick with its own reason, then the list, marked degraded.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import prompts
from bot.profile import Profile
from bot.runtimes.base import LLMRuntime, LLMUnavailable, Message
from bot.sentiment import Sentiment
from retrieval.ranking import Recommendation
from retrieval.titles import TitleFinder

Tone = str  # a key of prompts/tones.toml: warm, enthusiastic, apologetic, friendly
SENTENCE_ENDS = (".", "!", "?", "\n")
MAX_SENTENCE_TOKENS = 40
FRIEND_NAME = re.compile(r"your friend (.+?) (?:rated|liked|bought|checked|tried)")
RATING = re.compile(r"(\d(?:\.\d)?)\s*(?:/\s*5|out of 5|stars?)")
CATEGORY_NOUNS = {"books": "book", "films": "film", "music": "album", "outdoor": "outdoor gear"}
LISTED = 3  # picks written into the reply text; all of them travel as structured data
PERSONAL_REASONS = ("because you liked", "your friend")
# Why a reply was written without the LLM (Written.degraded, Turn.degraded).
LLM_UNAVAILABLE = "llm_unavailable"
logger = logging.getLogger(__name__)


def choose_tone(sentiment: Sentiment) -> Tone:
    return {"down": "warm", "excited": "enthusiastic", "rejecting": "apologetic"}.get(sentiment.mood, "friendly")


def _pick(options: Sequence[str], seed: str) -> str:
    """A stable choice: the same message gets the same opener (replies stay reproducible)."""
    return options[zlib.crc32(seed.encode()) % len(options)]


def _why(recommendation: Recommendation) -> str:
    """The pick's facts for the LLM: its first tags, and the reasons that are facts about the
    person or their friends (without a friend's quoted words). The other reasons (budget,
    popularity, the request's words) stay in the listing only: the LLM reads every token of this
    after the ranking, before its first word."""
    tags = ", ".join(recommendation.tags[:3])
    facts = [r.split(': "', 1)[0] for r in recommendation.reasons if r.startswith(PERSONAL_REASONS)]
    return "; ".join(filter(None, [tags, *facts[:2]]))


def _listing(recommendations: Sequence[Recommendation], first_number: int = 1) -> str:
    lines = []
    for number, r in enumerate(recommendations, start=first_number):
        price = f", {r.price:.2f}" if r.price is not None else ""
        lines.append(f"{number}. {r.title} ({r.category}{price}) — {'; '.join(r.reasons)}")
    return "\n".join(lines)


def _described(recommendation: Recommendation) -> str:
    template = prompts.table("reply")
    kind = CATEGORY_NOUNS.get(recommendation.category, recommendation.category)
    why = _why(recommendation)
    return template["pick"].format(title=recommendation.title, kind=kind, why=why) if why else (
        template["pick_plain"].format(title=recommendation.title, kind=kind)
    )


def recommendation_messages(
    message: str,
    recommendations: Sequence[Recommendation],
    tone: Tone,
    categories: Sequence[str],
    examples: bool = True,
    profile: Sequence[str] = (),
) -> list[Message]:
    """The LLM's prompt for a recommendation reply: the system message, worked examples, then
    this turn (their profile in plain words, the person's message, the tone, the top pick with
    its tags and reasons). `kith finetune` builds its training prompts with this function
    (without the worked examples, which an adapter does not need), so an adapter learns the
    prompt the bot sends."""
    turn = prompts.table("reply")["turn"].format(
        profile=_profile_line(profile), message=message, tone=tone, pick=_described(recommendations[0])
    )
    return _messages(categories, examples, turn)


def opening_messages(categories: Sequence[str], profile: Sequence[str] = ()) -> list[Message]:
    """`recommendation_messages` up to where the person's message goes: what the LLM can read
    after the previous turn (`ReplyWriter.prepare_next`)."""
    turn = prompts.table("reply")["turn"].split("{message}", 1)[0].format(profile=_profile_line(profile))
    return _messages(categories, True, turn)


def _profile_line(profile: Sequence[str]) -> str:
    return prompts.table("reply")["profile"].format(profile="; ".join(profile)) if profile else ""


def _messages(categories: Sequence[str], examples: bool, turn: str) -> list[Message]:
    template = prompts.table("reply")
    messages: list[Message] = [
        {"role": "system", "content": template["system"].format(categories=", ".join(sorted(categories)))}
    ]
    if examples:
        for example in template["examples"]:
            messages.append({"role": "user", "content": example["user"]})
            messages.append({"role": "assistant", "content": example["assistant"]})
    messages.append({"role": "user", "content": turn})
    return messages


@dataclass
class Written:
    text: str
    repaired: bool
    # Set (LLM_UNAVAILABLE) when the reply was written without the LLM.
    degraded: str | None = None


class ReplyWriter:
    def __init__(self, llm: Callable[[], LLMRuntime], finder: TitleFinder, categories: Sequence[str]):
        # The LLM loads on first use: ranking-only callers (evaluation) never pay for it.
        self._llm = llm
        self.finder = finder
        self.categories = sorted(categories)
        # True once a reply has used the LLM: from then on it is loaded, and worth preparing.
        self.started = False
        self._reads: list[threading.Thread] = []
        self._reads_lock = threading.Lock()

    def grounded(self, sentence: str, allowed: set[str], reasons: str) -> bool:
        """The one grounding check of what an LLM writes: it names no item outside `allowed`
        (the ranking and the person's own), says nothing about friends or ratings that the
        picks' `reasons` do not say, and is a sentence (ended, not cut off)."""
        for found in self.finder.find(sentence):
            if not allowed & {found.item_id, *found.same_name}:
                return False
        if "friend" in sentence.lower():
            # Only the friend the facts name, by their full name, may be mentioned.
            names = FRIEND_NAME.findall(reasons)
            if not names or not any(name in sentence for name in names):
                return False
        for rating in RATING.findall(sentence):
            if f"{rating}/5" not in reasons:
                return False
        words = sentence.split()
        return 2 <= len(words) and sentence.rstrip()[-1:] in (".", "!", "?")

    def prepare_next(self, profile: Sequence[str]) -> threading.Thread:
        """After a turn: start the LLM reading the next turn's prompt up to the person's message
        (the worked examples and the profile as it now stands) in the background, so that the
        next reply reads only the message, the tone and the pick before its first word. The
        reply's own LLM call waits for this read (the runtime serializes calls)."""
        messages = opening_messages(self.categories, profile)
        # Loaded here, not in the thread: llama.cpp silences stdout while it loads a model, which
        # would swallow what the caller prints meanwhile (the terminal chat's reply).
        llm = self._llm()

        def read() -> None:
            try:
                llm.prepare(messages)
            except Exception:  # the reply's own LLM call meets and reports the same failure
                logger.debug("reading a prompt's opening failed", exc_info=True)

        thread = threading.Thread(target=read, name="kith-prepare", daemon=True)
        with self._reads_lock:
            self._reads = [t for t in self._reads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def wait(self) -> None:
        """Wait for the LLM's background reads to finish. Before the process ends: a read still
        inside llama.cpp when the interpreter shuts down can crash it."""
        with self._reads_lock:
            reads = list(self._reads)
        for thread in reads:
            thread.join()

    def stream_recommendation(
        self,
        message: str,
        recommendations: Sequence[Recommendation],
        tone: Tone,
        result: list[Written],
        named_by_person: set[str] = frozenset(),  # type: ignore[assignment]
        profile: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply's pieces; append the final (possibly repaired) text to `result`.

        The reply may name ranked items, and items the person named themselves ("because you
        liked X"); any other catalog item in the LLM's sentence gets it repaired."""
        top = recommendations[0]
        opener = _pick(prompts.table("tones")[tone]["openers"], message)
        # The LLM continues "Try <title> —"; the opener is for the person (the prompt's Tone line
        # tells the LLM the tone), so the LLM reads fewer tokens before its first word.
        start = f"Try {top.title} —"
        head = f"{opener} {start}"
        yield head
        messages = recommendation_messages(message, recommendations, tone, self.categories, profile=profile)
        llm = self._llm()
        self.started = True
        sentence = ""
        degraded = None
        try:
            for piece in llm.stream(messages, max_new_tokens=MAX_SENTENCE_TOKENS, prefix=start, stop=SENTENCE_ENDS):
                sentence += piece
                yield piece
        except LLMUnavailable as error:
            # The picks and their reasons are the ranking's, not the LLM's: the reply stays
            # useful. One line per turn, no traceback: an outage is not a bug.
            logger.warning("replying without the LLM: %s", error)
            degraded = LLM_UNAVAILABLE
            sentence = f" {top.reasons[0]}."
            yield sentence
        allowed = {r.item_id for r in recommendations} | named_by_person
        repaired = False
        if degraded is None and not self.grounded(sentence, allowed, " ".join(top.reasons)):
            repaired = True
            sentence = f" {top.reasons[0]}."
        sentence = sentence.strip()
        if sentence and sentence[-1] not in ".!?":
            sentence += "."
        more = recommendations[1:LISTED]
        tail = f"\n\nAlso worth a look:\n{_listing(more, first_number=2)}" if more else ""
        yield tail
        result.append(Written(f"{head} {sentence}{tail}", repaired, degraded))

    def clarifying_question(self, profile: Profile, recommendations: Sequence[Recommendation]) -> str:
        questions = prompts.table("clarify")
        if not profile.constraints.categories:
            names = {"books": "a book", "films": "a film", "music": "some music", "outdoor": "outdoor gear"}
            listed = [names.get(c, c) for c in self.categories]
            spoken = ", ".join(listed[:-1]) + " or " + listed[-1] if len(listed) > 1 else listed[0]
            question = questions["category"].format(categories=spoken)
        else:
            category = profile.constraints.categories[0]
            question = questions["taste"].format(category=CATEGORY_NOUNS.get(category, category))
        if recommendations:
            question += f"\n\n{questions['meanwhile']}\n{_listing(recommendations[:LISTED])}"
        return question
