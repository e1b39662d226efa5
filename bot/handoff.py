"""Hand-off to a person: when the person asks for one, stays negative, or the bot keeps failing
to help; with a plain summary, built from stored facts, for whoever takes over.
Patterns, thresholds and wording live in prompts/support.toml."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import prompts
from bot.sentiment import Sentiment, polarity
from bot.sessions import StoredMessage
from bot.understanding import Understanding

HandoffReason = Literal["asked", "order", "negative", "failures", "unhelped"]


def asks_for_human(message: str) -> bool:
    return bool(prompts.patterns("support", "handoff", "ask_for_human").search(message))


@dataclass(frozen=True)
class Handoff:
    reason: HandoffReason
    explanation: str
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def complains(message: str) -> bool:
    return bool(prompts.patterns("support", "handoff", "complaint").search(message))


def gives_up(message: str) -> bool:
    return bool(prompts.patterns("support", "handoff", "gives_up").search(message))


def is_negative(message: str, sentiment: Sentiment, understanding: Understanding | None = None) -> bool:
    """A negative turn is about the experience: a complaint, or a clearly negative message that
    is not taste ("I hated Psycho" is a dislike, "nah, too sad" turns the picks down, "actually
    make it something scary instead" asks for scary things: not frustration) nor the person's own
    mood ("I'm in a bad mood": a warm reply, no hand-off)."""
    threshold = float(prompts.table("support")["handoff"]["negative_polarity"])
    asks = understanding is not None and bool(understanding.tags or understanding.categories)
    taste = "dislike" in sentiment.items.values() or sentiment.mood == "rejecting" or asks
    said = sentiment.polarity
    if understanding is not None and understanding.unknown:
        # A name the catalog lacks is a name, not the person's word: "Breaking Bad" is no complaint.
        said = polarity(re.sub("|".join(re.escape(u.name) for u in understanding.unknown), "it", message))
    return complains(message) or (said <= threshold and not taste and sentiment.mood != "down")


def handoff_reason(message: str, negative: bool, failed: bool, history: Sequence[StoredMessage],
                   order_lookup: bool = False) -> HandoffReason | None:
    """Why this turn hands the conversation to a person, if it does.

    `order_lookup`: the message asks about one of the person's orders ("order number is 48213"),
    which Kith cannot see and a member of the team can. Only turns since the last hand-off count,
    so a conversation that goes on after one needs fresh reasons for the next. `history` holds the
    stored messages before this turn; each reply's data records whether its turn was negative and
    whether the bot failed to help."""
    if asks_for_human(message):
        return "asked"
    if order_lookup:
        return "order"
    replies = [m for m in history if m.role == "assistant"]
    since = next((i for i in range(len(replies) - 1, -1, -1) if replies[i].record.handoff), -1)
    recent = replies[since + 1 :]
    if negative and recent and recent[-1].record.negative:
        return "negative"
    if recent and recent[-1].record.help is not None and complains(message):
        # A complaint right after a help answer ("this is ridiculous" after the password article
        # twice): the help centre did not help, and a person can.
        return "unhelped"
    failures = sum(1 for m in recent if m.record.failed) + int(failed)
    if failures >= int(prompts.table("support")["handoff"]["failures"]):
        return "failures"
    return None


def handoff_text(reason: HandoffReason) -> str:
    support = prompts.table("support")
    return support["replies"]["handoff"].format(reason=support["handoff_reasons"][reason])


def summarize(
    user_id: str,
    turns: int,
    history: Sequence[StoredMessage],
    message: str,
    profile_lines: Sequence[str],
    help_titles: Sequence[str],
    reason: HandoffReason,
) -> str:
    """A plain summary for the person taking over: built from stored facts, not generated.
    `turns` counts the person's messages in the whole conversation, this one included;
    `history` is the recent part a turn reads."""
    recommended = [pick.title for m in history if m.role == "assistant" for pick in m.record.recommendations[:3]]
    lines = [
        f"Customer {user_id}, {turns} message{'s' if turns != 1 else ''} in this conversation; "
        f"handed off because {prompts.table('support')['summary_reasons'][reason]}.",
    ]
    if help_titles:
        lines.append("Help topics: " + ", ".join(dict.fromkeys(help_titles)) + ".")
    if profile_lines:
        lines.append("Profile: " + "; ".join(profile_lines) + ".")
    if recommended:
        lines.append("Recommended so far: " + ", ".join(dict.fromkeys(recommended)) + ".")
    lines.append(f"Last message: “{message}”")
    return "\n".join(lines)
