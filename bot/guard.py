"""The guard: messages that try to override the bot's instructions or read someone else's
private activity get a polite refusal. Patterns and wording live in prompts/support.toml."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import prompts
from retrieval.titles import FoundTitle, normalize, split_year

Refusal = Literal["instructions", "private"]


def refusal(message: str, titles: Sequence[FoundTitle] = ()) -> Refusal | None:
    """Whether the message must be refused, and why. `titles`: the catalog titles it names,
    whose words are a name: "I watched Saving Private Ryan" asks for nobody's private activity."""
    text = _without_names(message, titles)
    if prompts.patterns("support", "guard", "instructions").search(text):
        return "instructions"
    if prompts.patterns("support", "guard", "private").search(text):
        return "private"
    return None


def refusal_text(reason: Refusal) -> str:
    return prompts.table("support")["replies"][f"refusal_{reason}"]


def _without_names(message: str, titles: Sequence[FoundTitle]) -> str:
    """The message with each title of two or more words read as "it". A one-word name
    ("Secret", "The Hidden") is the very word the patterns look for, so it stays: a probe for
    "the hidden ratings" must not pass as a film."""
    text, position = "", 0
    for title in sorted(titles, key=lambda found: found.start):
        name = split_year(message[title.start:title.end])[0]
        if title.start < position or len(normalize(name).split()) < 2:
            continue
        text += message[position:title.start] + "it"
        position = title.end
    return text + message[position:]
