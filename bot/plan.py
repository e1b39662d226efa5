"""The turn's second stage: what to do about a message, decided from its `Understanding`.

A plan is some of: refuse, help (answer a problem from the help articles), answer questions
about items ("how much is it?", from their records), recommend (rank, then write the picks, or a
clarifying question when too little is known), hand off (the person asked for one), or only a
friendly word (small talk alone, after the conversation's opening: an
opening greeting is answered as a request, with a question about what the person is after), or
an apology (the person gives up on the bot in frustration, "forget it, you're useless", or
complains right after a help answer: no picks, and no taste read from it; "never mind" alone
gets the friendly word). A refusal excludes everything else. An
opinion about a suggestion (feedback) is answered with picks that take it into account, unless
the message is about a problem or asks a question about a pick. Hand-offs the conversation earns on its own (it
stays negative, the bot keeps failing) are found after the reply, by bot/handoff.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.guard import Refusal, refusal
from bot.handoff import complains, gives_up
from bot.understanding import Understanding
from retrieval.titles import FoundTitle


@dataclass(frozen=True)
class Plan:
    refusal: Refusal | None = None
    help: bool = False
    recommend: bool = False
    handoff: bool = False
    smalltalk: bool = False  # a friendly word and nothing else
    apology: bool = False  # the person gives up on the bot ("forget it, you're useless"): an apology, no picks
    answer: bool = False  # answer questions about items from their records (bot/answers.py)


def plan_turn(message: str, understanding: Understanding, opening: bool = False,
              titles: Sequence[FoundTitle] = (), after_help: bool = False) -> Plan:
    """`opening`: the message opens the conversation (nothing was said before it); `titles`:
    the catalog titles it names (their words are names, not a probe: bot/guard.py); `after_help`:
    the last reply was a help answer."""
    # The guard's patterns are a floor under any reader: what they refuse stays refused, and an
    # attempt the LLM sees that they miss is refused as one on the instructions.
    refused = refusal(message, titles) or ("instructions" if understanding.wants("subvert") else None)
    if refused:
        return Plan(refusal=refused)
    handoff = understanding.wants("human")
    answer = bool(understanding.questions)
    if (gives_up(message) or after_help and complains(message)) and not (
            understanding.has_wishes() or answer or understanding.wants("help")):
        # Said in frustration ("forget it, you're useless"; "this is ridiculous" right after a
        # help answer, which had been answered with popular picks) it is an apology; else
        # ("never mind") a friendly word.
        return Plan(apology=True, handoff=handoff) if complains(message) else Plan(smalltalk=True, handoff=handoff)
    if set(understanding.intents) == {"smalltalk"} and not answer:
        return Plan(recommend=True) if opening else Plan(smalltalk=True)
    # No intent read at all, nor a question: the person is here to choose. An opinion said on
    # the way to a problem ("thanks! also, my order hasn't arrived") or to a question about a pick
    # ("ok the first one sounds good, is it available in paperback?") asks for no new picks.
    asks = (understanding.wants("recommend")
            or understanding.wants("feedback") and not understanding.wants("help") and not answer
            or not (understanding.intents or answer))
    return Plan(help=understanding.wants("help"), recommend=asks and not handoff, handoff=handoff, answer=answer)
