"""The guard: messages that try to override the bot's instructions or read someone else's
private activity get a polite refusal. Patterns and wording live in prompts/support.toml."""

from __future__ import annotations

from typing import Literal

import prompts

Refusal = Literal["instructions", "private"]


def refusal(message: str) -> Refusal | None:
    """Whether the message must be refused, and why."""
    if prompts.patterns("support", "guard", "instructions").search(message):
        return "instructions"
    if prompts.patterns("support", "guard", "private").search(message):
        return "private"
    return None


def refusal_text(reason: Refusal) -> str:
    return prompts.table("support")["replies"][f"refusal_{reason}"]
