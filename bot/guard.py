"""The guard: messages that try to override the bot's instructions or read someone else's
private activity get a polite refusal. Patterns and wording live in prompts/support.toml."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import prompts
from bot.sentiment import without_titles
from retrieval.titles import FoundTitle, normalize, split_year

Refusal = Literal["instructions", "private"]


def refusal(message: str, titles: Sequence[FoundTitle] = ()) -> Refusal | None:
    """Whether the message must be refused, and why. `titles`: the catalog titles it names, read
    as "it": "I watched Saving Private Ryan" asks for nobody's private activity."""
    # A one-word name ("Secret", "The Hidden") is the very word the patterns look for, so it
    # stays: a probe for "the hidden ratings" must not pass as a film.
    names = [t for t in titles if len(normalize(split_year(message[t.start:t.end])[0]).split()) >= 2]
    text = without_titles(message, names)
    if prompts.patterns("support", "guard", "instructions").search(text):
        return "instructions"
    if prompts.patterns("support", "guard", "private").search(text):
        return "private"
    return None


def refusal_text(reason: Refusal) -> str:
    return prompts.table("support")["replies"][f"refusal_{reason}"]
