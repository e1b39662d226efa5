"""Writing the reply: tone from sentiment, one checked sentence per top pick.

The ranking decides what is recommended; the LLM writes words, from facts the code gives it: for
each of the top picks, its description's sentence most like the request (chosen here by word
overlap), tags, price and the ranking's reasons. The reply is a tone's opener, then one sentence
per pick for the top LISTED picks: the LLM finishes the first WRITTEN_PICKS ("Try <title> —"; a
next one continues the conversation, "Or try <title> —"), the others are built from their facts.
All picks also travel as structured data (the cards beside the reply in the UI,
`recommendations` in the API), so the text lists none of them.

Every sentence the LLM writes is checked by bot/faithfulness.py before it is yielded: one that
fails is written once more (its lead steered by the pick's tags), and if that fails too it is
replaced by a sentence built from the pick's facts. The writing of a sentence stops at its first
word that fails whatever follows (`_until_invented`), so a failing one costs little time. So a
streaming client only ever receives sentences that passed, and the stream is the saved text.

When the LLM is an endpoint that is down (bot.runtimes.base.LLMUnavailable), the reply is written
from the ranking alone: each pick's lead with its first reason, marked degraded.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass

import prompts
from bot.answers import kind_of, with_article
from bot.faithfulness import FUNCTION_WORDS, FaithfulnessCheck, ItemFacts, TurnFacts, facts_for, split_sentences, stem
from bot.profile import Profile
from bot.runtimes.base import LLMRuntime, LLMUnavailable, Message
from bot.sentiment import Sentiment
from retrieval.ranking import ASKED_FOR, CAME_UP, CLOSEST, CLOSEST_YOU_HAVE_MOST, FRIEND_REASON, ORDERED, Recommendation
from retrieval.schemas import Item
from retrieval.titles import TitleFinder

Tone = str  # a key of prompts/tones.toml: warm, enthusiastic, apologetic, friendly
SENTENCE_ENDS = (".", "!", "?", "\n")
CUT_AT_INITIAL = re.compile(r"\b[A-Z]\.$")  # "by F." (F. Scott Fitzgerald): no sentence's end
# The LLM speaking of itself or the conversation, not of the pick ("— but I'm not sure if that
# would fit", "— but I think you're right", "— day-hiking outdoor gear, but also match what you
# asked for", the card's reason echoed): true of nothing, it passes the check and says nothing.
SELF_TALK = re.compile(r"\b(?:I|I'm|I'd|I've|I'll|me|my|myself|you're right|match(?:es|ing)? what you)\b")
MAX_SENTENCE_TOKENS = 40
LISTED = 3  # picks the reply's text names; all of them travel as structured data
# Of those, the ones the LLM writes a sentence about (the rest: from their facts). Measured
# (bench/faithfulness.py, 2 busy cores): most of the 135M model's sentences fail the check and
# are written again, so each written pick costs about two LLM calls: one keeps the turn's latency.
WRITTEN_PICKS = 1
PROMPT_TAGS = 3  # tags in a pick's facts for the LLM
ABOUT_WORDS = 18  # words of its description sentence in a pick's facts for the LLM (`describe_pick`)
SAID_WORDS = 3  # words an LLM sentence must say after its lead ("Try X —")
LOOP_WORDS = 3  # a content word said this often in one sentence: the LLM is looping (`_looping`)
FACT_WORDS = 30  # a description sentence longer than this is no reply sentence: tags stand in
WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")
# Function words whose capital stays where they start a sentence (`_after_dash`).
ALWAYS_CAPITALIZED = frozenset({"i", "i'm", "i'd", "i'll", "i've", "kith", "ok", "okay"})
SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.!?;:])")
PERSONAL_REASONS = ("because you liked", "people who liked", "your friend")
CLOSEST_REASONS = frozenset({CLOSEST, CLOSEST_YOU_HAVE_MOST})  # a pick that misses part of the request
ORDERED_REASON = re.compile(re.escape(ORDERED).replace(r"\{word\}", ".+").replace(r"\{value\}", ".+") + "$")
# Why a reply was written without the LLM (Written.degraded, Turn.degraded).
LLM_UNAVAILABLE = "llm_unavailable"
# The log line of an LLM sentence not kept: why, its failing claims, "written again" or "replaced",
# the sentence (bench/faithfulness.py counts them).
REWRITE_LOG = "%s sentence (%s), %s: %s"
logger = logging.getLogger(__name__)


def leaves_it_to_us(message: str) -> bool:
    """Whether the person leaves the choice to Kith ("surprise me", "you choose"): no clarifying
    question, the picks."""
    return bool(prompts.patterns("clarify", "choice", "left_to_us").search(message))


def choose_tone(sentiment: Sentiment) -> Tone:
    return {"down": "warm", "excited": "enthusiastic", "rejecting": "apologetic"}.get(sentiment.mood, "friendly")


def _pick(options: Sequence[str], seed: str) -> str:
    """A stable choice: the same message gets the same opener (replies stay reproducible)."""
    return options[zlib.crc32(seed.encode()) % len(options)]


def relevant_sentences(description: str, request: str, count: int = 1) -> list[str]:
    """The description's `count` sentences most like the request (the most word stems in common,
    function words aside; the earlier sentence on a tie), in the description's order."""
    sentences = split_sentences(description)
    wanted = _stems(request)
    order = sorted(range(len(sentences)), key=lambda i: (-len(wanted & _stems(sentences[i])), i))
    return [sentences[i] for i in sorted(order[:count])]


def _stems(text: str) -> set[str]:
    return {stem(w) for w in WORD.findall(text.lower()) if w not in FUNCTION_WORDS}


def _reasons(pick: ItemFacts) -> list[str]:
    """The ranking's reasons, the person's and their friends' first, without a friend's quoted words."""
    reasons = [r.split(': "', 1)[0] for r in pick.reasons]
    return sorted(reasons, key=lambda r: not r.startswith(PERSONAL_REASONS))


def _kind(pick: ItemFacts) -> str:
    return kind_of(pick.category)


def _listing(recommendations: Sequence[Recommendation], first_number: int = 1) -> str:
    lines = []
    for number, r in enumerate(recommendations, start=first_number):
        price = f", {r.price:.2f}" if r.price is not None else ""
        lines.append(f"{number}. {r.title} ({r.category}{price}) — {'; '.join(r.reasons)}")
    return "\n".join(lines)


def describe_pick(pick: ItemFacts, request: str) -> str:
    """A pick's facts for the LLM (prompts/reply.toml `pick`): its kind, the description's
    sentence most like the request (at most ABOUT_WORDS words of it: `_relevant_clauses`), its
    first tags, price and the first reason its lead (`lead`) does not already give. Every token
    here is read after the person's message, before the reply's first word, so the facts are few
    (measured: bench/turn_latency.py)."""
    template = prompts.table("reply")
    about = [_relevant_clauses(s, request, ABOUT_WORDS) for s in relevant_sentences(pick.description, request)]
    all_reasons = _reasons(pick)
    # That a pick is the closest, the lead says (`lead`), or the lead of a pick before it.
    reasons = [r for r in all_reasons if r != _in_lead(all_reasons) and r not in CLOSEST_REASONS][:1]
    parts = [
        _kind(pick),
        *([template["about"].format(about=about[0].rstrip("."))] if about else []),
        *([template["tags"].format(tags=", ".join(pick.tags[:PROMPT_TAGS]))] if pick.tags else []),
        *([template["price"].format(price=f"{pick.price:.2f}")] if pick.price is not None else []),
        *([template["why"].format(why="; ".join(reasons))] if reasons else []),
    ]
    return template["pick"].format(title=pick.title, facts="; ".join(parts))


def _relevant_clauses(sentence: str, request: str, most: int) -> str:
    """The sentence if it has at most `most` words; else `most` words of it from its clause most
    like the request (the first on a tie), or from an earlier clause where too few follow ("into
    one relentless countdown, as civilian sailors cross the Channel in small boats to bring them
    home" for "civilian boats crossing the sea"), cut back to a clause's end where one ends in
    the second half."""
    if len(sentence.split()) <= most:
        return sentence
    clauses = CLAUSE_BREAK.split(sentence)
    wanted = _stems(request)
    start = max(range(len(clauses)), key=lambda n: (len(wanted & _stems(clauses[n])), -n))
    while start > 0 and len(" ".join(clauses[start - 1 :]).split()) <= most:
        start -= 1
    words = " ".join(clauses[start:]).split()[:most]
    ends = [n for n, word in enumerate(words) if word.endswith((",", ";", ":")) and n + 1 > most // 2]
    return " ".join(words[: ends[-1] + 1] if ends else words).rstrip(",;:.")


def lead(position: int, title: str, reasons: Sequence[str] = (), first_closest: bool = False) -> str:
    """How the sentence about the pick at `position` (0: the top pick) starts. For the first pick
    that misses part of the request (`first_closest`), saying so: "Little here fits all of that;
    the closest is X —" (the cards say it of each such pick; the reply, once). Else saying it came
    up before, where it did ("From earlier, X —"), else with the reason the person's own likes
    give, where the pick has one ("Try X, because you liked Y —")."""
    template = prompts.table("reply")
    if first_closest:
        leads = template["closest_had" if CLOSEST_YOU_HAVE_MOST in reasons else "closest"]
        return leads[min(position, 1)].format(title=title)
    given = _in_lead(reasons)
    leads = template["again"] if given == CAME_UP else template["because"] if given else template["leads"]
    return leads[min(position, len(leads) - 1)].format(title=title, reason=given)


def _in_lead(reasons: Sequence[str]) -> str | None:
    """The reason a pick's lead gives, if any: that it is the least or the most of what was asked
    for in order ("the cheapest of what fits, at 8.99"), else that it came up before, else a
    friend's, where it is the first reason (the friends' picks were asked for, or nothing of the
    person's own explains it), else the person's own like ("because you liked Arrival (2016)")."""
    ordered = next((r for r in reasons if ORDERED_REASON.match(r)), None)
    if ordered is not None:
        return ordered
    if CAME_UP in reasons:
        return CAME_UP
    if reasons and reasons[0].startswith(FRIEND_REASON):  # "since your friend Ana Ruiz rated it 5/5"
        return "since " + reasons[0].split(': "', 1)[0]
    return next((r for r in reasons if r.startswith("because you liked")), None)


def fact_sentences(lead_text: str, pick: ItemFacts, request: str, most_words: int = FACT_WORDS) -> list[str]:
    """Sentences about the pick built from its facts alone, best first: its description's
    sentence most like the request (when it has at most `most_words` words), its tags, its kind.
    `kith finetune`'s targets ask for at most ABOUT_WORDS: the words the prompt shows of it."""
    template = prompts.table("reply")
    about = [s for s in relevant_sentences(pick.description, request) if len(s.split()) <= most_words]
    facts = [_after_dash(a if a[-1:] in ".!?" else a + ".") for a in about]
    if pick.tags:
        facts.append(with_article(f"{', '.join(pick.tags[:3])} {_kind(pick)}", _kind(pick)) + ".")
    facts.append(template["bare"].format(kind=with_article(_kind(pick), _kind(pick))))
    return [template["fact"].format(lead=lead_text, fact=fact) for fact in facts]


def _after_dash(sentence: str) -> str:
    """A description sentence as it reads after a lead's dash: its first word lower-cased where
    it is a function word before a lower-case word ("Try Interstellar (2014) — with crops
    failing"), a name's first word kept ("— The Strokes' debut", "— I Capture the Castle")."""
    first, _, rest = sentence.partition(" ")
    if first.lower() in FUNCTION_WORDS - ALWAYS_CAPITALIZED and rest[:1].islower():
        return f"{first.lower()} {rest}"
    return sentence


def _as_facts(pick: Recommendation | ItemFacts) -> ItemFacts:
    return pick if isinstance(pick, ItemFacts) else ItemFacts.of(pick)


def recommendation_messages(
    message: str,
    recommendations: Sequence[Recommendation | ItemFacts],
    tone: Tone,
    categories: Sequence[str],
    examples: bool = True,
) -> list[Message]:
    """The LLM's prompt for a recommendation reply's first sentence: the system message, worked
    examples, then this turn (the person's message, the tone, the top pick's facts:
    `describe_pick`). The next picks follow with `next_pick_messages`. `kith
    finetune` builds its training prompts with this function (without the worked examples, which
    an adapter does not need), so an adapter learns the prompt the bot sends."""
    turn = prompts.table("reply")["turn"].format(
        message=message, tone=tone, pick=describe_pick(_as_facts(recommendations[0]), message))
    return _messages(categories, examples, turn)


def next_pick_messages(messages: Sequence[Message], accepted: str, pick: ItemFacts, request: str) -> list[Message]:
    """The prompt for the next pick's sentence: the conversation so far with the accepted sentence
    as the assistant's, then the next pick's facts."""
    return [*messages, {"role": "assistant", "content": accepted},
            {"role": "user", "content": prompts.table("reply")["next"].format(pick=describe_pick(pick, request))}]


def opening_messages(categories: Sequence[str], examples: bool = True) -> list[Message]:
    """`recommendation_messages` up to where the person's message goes: what the LLM can read
    after the previous turn (`ReplyWriter.prepare_next`), the same for everyone."""
    return _messages(categories, examples, prompts.table("reply")["turn"].split("{message}", 1)[0])


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


def _looping(text: str) -> bool:
    """Whether greedy decoding is going round in circles ("a classic, thought-provoking, classic,
    classic, classic"): a content word's LOOP_WORDS-th time. Such a text runs to the token limit
    (seen: 40 tokens, 0.5 s) and is no sentence; stopped, it fails the check as unfinished."""
    words = [w for w in WORD.findall(text.lower()) if w not in FUNCTION_WORDS]
    return any(words.count(w) >= LOOP_WORDS for w in set(words))


@dataclass
class Written:
    text: str
    repaired: bool  # an LLM sentence failed the faithfulness check: written again, or replaced
    # Set (LLM_UNAVAILABLE) when the reply was written without the LLM.
    degraded: str | None = None


class ReplyWriter:
    def __init__(self, llm: Callable[[], LLMRuntime], finder: TitleFinder, categories: Sequence[str],
                 items: Mapping[str, Item] | None = None, instructed: bool = True):
        # The LLM loads on first use: ranking-only callers (evaluation) never pay for it.
        self._llm = llm
        # Whether the prompt shows the worked examples: the base model needs them; an adapter
        # learnt the format from prompts without them (finetune/examples.py) and gets those.
        self.instructed = instructed
        self.finder = finder
        self.categories = sorted(categories)
        # The catalog's items by id: the descriptions and attributes the picks' facts hold.
        self.items: Mapping[str, Item] = items or {}
        self.check = FaithfulnessCheck(finder, {tag for item in self.items.values() for tag in item.tags})
        # True once a reply has used the LLM: from then on it is loaded, and worth preparing.
        self.started = False
        self._reads: list[threading.Thread] = []
        self._reads_lock = threading.Lock()

    def facts(self, recommendations: Sequence[Recommendation], own_items: set[str] = frozenset()) -> TurnFacts:  # type: ignore[assignment]
        """The facts a reply about `recommendations` may state (bot/faithfulness.py)."""
        return facts_for(recommendations, self.items, own_items)

    def faithful(self, text: str, recommendations: Sequence[Recommendation], own_items: set[str]) -> bool:
        """Whether every sentence of `text` passes the faithfulness check against the facts of
        `recommendations` and the person's own items (the agent planner's answer)."""
        facts = self.facts(recommendations, own_items)
        return bool(facts.picks) and all(v.supported for _, v in self.check.check_reply(text, facts))

    def prepare_next(self) -> threading.Thread:
        """After a turn: start the LLM reading the next turn's prompt up to the person's message
        (the system message and the worked examples) in the background, so that the next reply
        reads only the message, the tone and the pick before its first word. Other prompts (the
        LLM reader's, another runtime user's) may have evicted it meanwhile; unchanged, it is not
        read again. The reply's own LLM call waits for this read (the runtime serializes calls)."""
        messages = opening_messages(self.categories, self.instructed)
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
    ) -> Iterator[str]:
        """Yield the reply's sentences, each once it passed the faithfulness check; append the
        whole text (the yielded pieces joined) to `result`.

        The reply may name its picks, and items the person named themselves ("because you liked
        X"): `named_by_person`."""
        facts = self.facts(recommendations[:LISTED], named_by_person)
        # The opener is for the person (the prompt's Tone line tells the LLM the tone): code's
        # words, with no claim, it goes out at once. Where the person asked for items by name,
        # it says they are here ("Yes, we have it.").
        asked = sum(ASKED_FOR in pick.reasons for pick in facts.picks)
        pieces = [prompts.table("reply")["asked_opener"][min(asked, 2) - 1] if asked
                  else _pick(prompts.table("tones")[tone]["openers"], message)]
        yield pieces[0]
        messages = recommendation_messages(message, facts.picks, tone, self.categories, self.instructed)
        llm = self._llm()
        self.started = True
        degraded = None
        repaired = False
        first_closest = next((n for n, pick in enumerate(facts.picks) if set(pick.reasons) & CLOSEST_REASONS), None)
        for position, pick in enumerate(facts.picks):
            start = lead(position, pick.title, _reasons(pick), position == first_closest)
            if degraded is None and position < WRITTEN_PICKS:
                if position:
                    messages = next_pick_messages(messages, pieces[-1], pick, message)
                try:
                    sentence, rewritten = self._written(llm, messages, start, pick, facts, message)
                    repaired |= rewritten
                except LLMUnavailable as error:
                    # The picks and their reasons are the ranking's, not the LLM's: the reply stays
                    # useful. One line per turn, no traceback: an outage is not a bug.
                    logger.warning("replying without the LLM: %s", error)
                    degraded = LLM_UNAVAILABLE
            if degraded is not None:
                reasons, plain = _reasons(pick), lead(position, pick.title)
                sentence = f"{plain} {reasons[0]}." if reasons else self._from_facts(plain, pick, facts, message)
            elif position >= WRITTEN_PICKS:
                sentence = self._from_facts(start, pick, facts, message)
            pieces.append(sentence)
            yield " " + sentence
        result.append(Written(" ".join(pieces), repaired, degraded))

    def _written(self, llm: LLMRuntime, messages: Sequence[Message], start: str, pick: ItemFacts, facts: TurnFacts,
                 request: str) -> tuple[str, bool]:
        """The LLM's sentence about `pick`, continuing `start`, and whether it had to be
        rewritten: a sentence that fails the check is written once more with its start steered
        to the pick's first tag ("Try X — a war film"; greedy decoding would repeat itself), then
        replaced by one built from the facts."""
        named = f"{pick.tags[0]} {_kind(pick)}" if pick.tags else _kind(pick)
        steer = f"{start} {with_article(named, _kind(pick))}"
        for attempt, prefix in enumerate((start, steer)):
            text = self._until_invented(llm, messages, prefix, pick, facts)
            sentence = SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(f"{prefix} {text.strip()}".split()))
            verdict = self.check.check(sentence, facts, about=pick.item_id)
            # True but next to nothing ("Try Promises — Jazz.", seen from an adapter) says no
            # more than the card: written again too, as is one the stop at a full stop cut at a
            # name's initial ("a classic book by F.").
            said = sentence[len(start):].replace(pick.title, "")
            cut, self_talk = CUT_AT_INITIAL.search(sentence), SELF_TALK.search(said)
            if verdict.supported and len(said.split()) >= SAID_WORDS and not cut and not self_talk:
                return sentence, attempt > 0
            logger.info(REWRITE_LOG, "unfaithful" if not verdict.supported else "cut at an initial" if cut
                        else "talks of itself" if self_talk else "too short",
                        ", ".join(verdict.unsupported), "replaced" if attempt else "written again", sentence)
        return self._from_facts(start, pick, facts, request), True

    def _until_invented(self, llm: LLMRuntime, messages: Sequence[Message], prefix: str, pick: ItemFacts,
                        facts: TurnFacts) -> str:
        """The LLM's continuation of `prefix`, stopped early once it holds a claim that fails
        whatever follows (`FaithfulnessCheck.failed_already`): a sentence that will be written
        again or replaced costs only the words up to its first invention."""
        text = ""
        pieces = llm.stream(messages, max_new_tokens=MAX_SENTENCE_TOKENS, prefix=prefix, stop=SENTENCE_ENDS)
        try:
            for piece in pieces:
                text += piece
                # Judged when a word has just ended: the check reads whole words only.
                if " " in piece and (
                    _looping(text) or self.check.failed_already(f"{prefix} {text}", facts, pick.item_id)
                ):
                    break
        finally:
            if isinstance(pieces, Generator):
                pieces.close()  # stops the generation (SerialRuntime ends its worker's loop)
        return text

    def _from_facts(self, start: str, pick: ItemFacts, facts: TurnFacts, request: str) -> str:
        """The first sentence built from the pick's facts that passes the check (the last, its
        lead and its kind, claims nothing)."""
        options = fact_sentences(start, pick, request)
        return next((o for o in options if self.check.check(o, facts, about=pick.item_id).supported), options[-1])

    def clarifying_question(self, profile: Profile, recommendations: Sequence[Recommendation],
                            opener: str | None = None) -> str:
        """What the person is after, asked (by the category where none is known, else by taste),
        after `opener` or the question's own; the picks Kith would make meanwhile below it."""
        questions = prompts.table("clarify")
        if not profile.constraints.categories:
            names = {"books": "a book", "films": "a film", "music": "some music", "outdoor": "outdoor gear"}
            listed = [names.get(c, c) for c in self.categories]
            spoken = ", ".join(listed[:-1]) + " or " + listed[-1] if len(listed) > 1 else listed[0]
            question = f"{opener or questions['category_opener']} {questions['category'].format(categories=spoken)}"
        else:
            category = profile.constraints.categories[0]
            question = (f"{opener or questions['taste_opener']} "
                        f"{questions['taste'].format(category=kind_of(category))}")
        if recommendations:
            question += f"\n\n{questions['meanwhile']}\n{_listing(recommendations[:LISTED])}"
        return question
