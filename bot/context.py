"""The moment a message is sent (client context): its time, and where available the place,
weather, occasion and device. It shifts the ranking softly, through the catalog's own tags.

A client sends `{"time": ISO-8601 with offset, "place"?, "weather"?, "occasion"?, "device"?}`
with a message (`Kith.reply(..., context={...})`, the HTTP API's `context`, the web UI the
browser's local time). Season (northern hemisphere, by month) and time of day follow from the
time. `CONTEXT_RULES` below is the one table that maps the moment to tags: a rule favours some
tags (they lift an item, and its card says "fits a rainy evening") and may disfavour others
(late at night, `energetic`, unless the person asked for something lively).

What the person asked for always wins (`situation`): context adds no constraint (categories,
excluded tags, budget and years are applied before any score), favours no tag the person
excluded or dislikes, and disfavours no tag they asked for. Only tags the catalog has are used.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Facet = Literal["weather", "season", "time_of_day", "activity", "mood"]
Season = Literal["winter", "spring", "summer", "autumn"]
TimeOfDay = Literal["morning", "afternoon", "evening", "night"]


class ClientContext(BaseModel):
    """What a client knows of the moment; validated at the edge (HTTP API, Python API, UI)."""

    model_config = ConfigDict(extra="forbid")

    time: AwareDatetime = Field(description="The person's local time, ISO-8601 with its UTC offset, "
                                            "e.g. 2025-01-15T19:30:00+01:00.")
    place: str | None = Field(None, max_length=100, description="Where they are, in words (home, car, gym).")
    weather: str | None = Field(None, max_length=100, description="The weather, in words (rain, snow, sunny).")
    occasion: str | None = Field(None, max_length=100, description="What it is for (road trip, date night).")
    device: str | None = Field(None, max_length=100, description="What they use (phone, tv, car); "
                                                                 "a car counts as a road trip.")

    @property
    def season(self) -> Season:
        month = self.time.month
        return "winter" if month in (12, 1, 2) else "spring" if month <= 5 else "summer" if month <= 8 else "autumn"

    @property
    def time_of_day(self) -> TimeOfDay:
        hour = self.time.hour
        return "morning" if 5 <= hour < 12 else "afternoon" if hour < 17 else "evening" if hour < 22 else "night"


@dataclass(frozen=True)
class ContextRule:
    """When `facet` of the moment says one of `words` (whole words, any case), favour `favours`
    and disfavour `avoids` (unless the person asked for one of `unless_asked`); `phrase` says why
    ("fits {phrase}"), `{part}` being the time of day ("a rainy evening")."""

    facet: Facet
    words: tuple[str, ...]
    favours: tuple[str, ...]
    phrase: str
    avoids: tuple[str, ...] = ()
    unless_asked: tuple[str, ...] = ()


# Lively tags: asking for any of them is asking not to wind down.
LIVELY = ("energetic", "party", "workout", "fast-paced")
# The demo catalog's tags (retrieval/demo/items-*.jsonl) are the vocabulary; a catalog without a
# tag simply gets no lift from it. `activity` reads the occasion, place and device alike.
CONTEXT_RULES: tuple[ContextRule, ...] = (
    ContextRule("weather", ("rain", "rainy", "raining", "drizzle", "showers", "storm", "stormy", "thunderstorm", "wet"),
                ("rainy-day", "cozy", "waterproof"), "a rainy {part}"),
    ContextRule("weather", ("snow", "snowy", "snowing", "sleet", "blizzard"), ("winter", "cozy"), "a snowy {part}"),
    ContextRule("weather", ("cold", "freezing", "frost", "frosty", "icy"), ("winter", "cozy"), "a cold {part}"),
    ContextRule("weather", ("sun", "sunny", "clear", "warm", "hot"), ("day-hiking", "camping"), "a sunny {part}",
                avoids=("winter",), unless_asked=("winter",)),
    ContextRule("season", ("winter",), ("winter", "cozy"), "winter"),
    ContextRule("season", ("summer",), ("camping",), "summer", avoids=("winter",), unless_asked=("winter",)),
    ContextRule("time_of_day", ("night",), ("chill", "ambient"), "late at night", avoids=("energetic",),
                unless_asked=LIVELY),
    ContextRule("activity", ("road trip", "road-trip", "drive", "driving", "car"), ("road-trip",), "a road trip"),
    ContextRule("activity", ("date", "date night", "date-night"), ("date-night", "romantic"), "a date night"),
    ContextRule("activity", ("party", "celebration"), ("party",), "a party"),
    ContextRule("activity", ("study", "studying", "focus", "homework", "library"), ("study",), "studying"),
    ContextRule("activity", ("workout", "gym", "run", "running", "training"), ("workout",), "a workout"),
    ContextRule("activity", ("camping", "campsite", "tent"), ("camping",), "a camping trip"),
    ContextRule("activity", ("family", "kids", "children"), ("family", "kids"), "family time"),
    # The person's own mood, as the message says it (Understanding.mood, "I'm exhausted", "rough
    # week"): something gentle, not the darkest of what fits, unless that is what they asked for.
    ContextRule("mood", ("down",), ("feel-good", "uplifting", "cozy", "funny"), "a hard day",
                avoids=("dark", "scary", "tense"), unless_asked=("dark", "scary", "tense", "horror", "thriller")),
)


@dataclass(frozen=True)
class Situation:
    """What the moment asks of the ranking: favoured tags (each with the words that explain it,
    in rule order) and disfavoured ones; soft, never a constraint."""

    favoured: dict[str, str] = field(default_factory=dict)
    avoided: tuple[str, ...] = ()


def _says(value: str | None, words: Sequence[str]) -> bool:
    return bool(value) and any(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", value, re.I) for word in words)


def situation(context: ClientContext | None, catalog_tags: Collection[str], asked: Collection[str] = (),
              refused: Collection[str] = (), mood: str | None = None) -> Situation:
    """The moment as favoured and disfavoured catalog tags. `asked`: the tags the person asked
    for (never disfavoured); `refused`: those they excluded or dislike (never favoured); `mood`:
    the person's, as their message says it ("down")."""
    if context is None and mood is None:
        return Situation()
    values: dict[Facet, list[str | None]] = {
        "weather": [context.weather] if context else [],
        "season": [context.season] if context else [],
        "time_of_day": [context.time_of_day] if context else [],
        "activity": [context.occasion, context.place, context.device] if context else [],
        "mood": [mood],
    }
    favoured: dict[str, str] = {}
    avoided: list[str] = []
    for rule in CONTEXT_RULES:
        if not any(_says(value, rule.words) for value in values[rule.facet]):
            continue
        phrase = rule.phrase.format(part=context.time_of_day if context else "day")
        for tag in rule.favours:
            if tag in catalog_tags and tag not in refused:
                favoured.setdefault(tag, phrase)
        if not set(rule.unless_asked) & set(asked):
            avoided += [tag for tag in rule.avoids if tag in catalog_tags and tag not in asked and tag not in avoided]
    return Situation(favoured, tuple(tag for tag in avoided if tag not in favoured))
