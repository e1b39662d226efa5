"""Sentiment of a turn (polarity, strength, mood) and of each item mentioned in it.

VADER (lexicon and rules, shipped inside its wheel) scores text. Item sentiment scores the clause
that holds the mention ("I loved Alien | but Titanic bored me"), with the title itself blanked
out so a title's own words ("Happy Death Day") do not count as the person's feeling.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from retrieval.titles import FoundTitle

Mood = Literal["down", "excited", "rejecting", "neutral"]
ItemFeeling = Literal["like", "dislike", "neutral"]

# VADER's own convention: |compound| below 0.05 is neutral.
NEUTRAL_BAND = 0.05
CLAUSE_BREAK = re.compile(r"[.!?;]+|,\s*(?:but|though|although|yet|whereas|while)\b|\b(?:but|though|although|whereas|however)\b", re.I)
REJECTION = re.compile(
    r"^\s*(no|nope|nah)\b|\bnot (that|those|these|them|it|for me|really)\b|\bnone of (those|these|them)\b|"
    r"\bsomething (else|different)\b|\b(don'?t|do not|didn'?t) (like|want|fancy) (those|these|that|them|any)\b",
    re.I,
)
EXCITEMENT = re.compile(r"!|\b(excited|can'?t wait|thrilled|pumped|stoked|yay|woo+|amazing news|celebrat\w*)\b", re.I)
# Words about the person's own state (not about a film they disliked): "I feel low", "rough week".
DOWN_WORDS = re.compile(
    r"\b(feel(ing)? (down|low|blue|sad|awful|terrible|lonely)|sad|lonely|depressed|stressed|exhausted|"
    r"heartbroken|miserable|upset|down in the dumps|(rough|awful|terrible|hard|bad|long) (day|week|month|year|time))\b",
    re.I,
)


@dataclass(frozen=True)
class Sentiment:
    polarity: float  # -1 (very negative) .. 1 (very positive)
    strength: float  # |polarity|
    label: Literal["positive", "negative", "neutral"]
    mood: Mood
    items: dict[str, ItemFeeling] = field(default_factory=dict)


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def polarity(text: str) -> float:
    return float(_analyzer().polarity_scores(text)["compound"])


def _label(score: float) -> Literal["positive", "negative", "neutral"]:
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def _mood(text: str, score: float) -> Mood:
    if REJECTION.search(text):
        return "rejecting"
    if DOWN_WORDS.search(text) and score < 0.5:
        # "I'm feeling down, cheer me up" is down even though "cheer" lifts the score.
        return "down"
    if score >= 0.3 and EXCITEMENT.search(text):
        return "excited"
    return "neutral"


def _clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    left, right = 0, len(text)
    for match in CLAUSE_BREAK.finditer(text):
        if match.end() <= start:
            left = match.end()
        elif match.start() >= end:
            right = match.start()
            break
    return left, right


def item_feeling(text: str, mention: FoundTitle, others: list[FoundTitle]) -> ItemFeeling:
    left, right = _clause_bounds(text, mention.start, mention.end)
    clause = text[left:right]
    # Blank every title in the clause: only the person's own words carry their feeling.
    for other in sorted([mention, *others], key=lambda m: -m.start):
        if left <= other.start and other.end <= right:
            clause = clause[: other.start - left] + "it" + clause[other.end - left :]
    label = _label(polarity(clause))
    return {"positive": "like", "negative": "dislike", "neutral": "neutral"}[label]  # type: ignore[return-value]


def without_titles(text: str, mentions: Sequence[FoundTitle]) -> str:
    """The text with each named title read as "it": its words are a name, not what is said."""
    for mention in sorted(mentions, key=lambda m: -m.start):
        text = text[: mention.start] + "it" + text[mention.end :]
    return text


def analyze(text: str, mentions: list[FoundTitle]) -> Sentiment:
    plain = without_titles(text, mentions)
    score = polarity(plain)
    items: dict[str, ItemFeeling] = {}
    for mention in mentions:
        others = [m for m in mentions if m is not mention]
        items[mention.item_id] = item_feeling(text, mention, others)
    return Sentiment(polarity=score, strength=abs(score), label=_label(score), mood=_mood(plain, score), items=items)
