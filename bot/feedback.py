"""Feedback on a recommendation card: "more like this" (up), "not for me" (down), "already have
it" (owned).

One call (`Kith.feedback`) stores it at once, in one transaction (`SessionStore.save_feedback`):
- as the person's interaction, private unless they say otherwise: the record a data file holds,
  which the ranking reads as their history (and, shared, as their friends' activity) and
  `kith finetune` as knowledge within the visibility rules (it reads only shared activity);
- in their profile: up likes the item, down dislikes it; owned leaves their taste alone;
- as the latest signal on the item (the `feedback` table), which every later ranking of theirs
  reads (`Kith.request_for`): down and owned remove the item for good, up pulls items like it up
  and says so on their cards ("more like X, which you liked").
A later signal on the same item replaces the earlier one, in all three places.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from bot.profile import MAX_REMEMBERED, Profile
from retrieval.schemas import Interaction, InteractionKind, Visibility

Signal = Literal["up", "down", "owned"]
SIGNALS: tuple[str, ...] = get_args(Signal)
VISIBILITIES: tuple[str, ...] = get_args(Visibility)

# Each signal as an interaction: "more like this" is a like; "not for me" a 1/5 rating (the
# ranking reads it as a dislike; training never as a choice); "already have it" a purchase (an
# item the person has is consumed: never recommended to them again).
AS_INTERACTION: dict[str, tuple[InteractionKind, float | None]] = {
    "up": ("like", None),
    "down": ("rating", 1.0),
    "owned": ("purchase", None),
}
# Signals that remove the item from the person's rankings for good.
REMOVING: frozenset[str] = frozenset({"down", "owned"})


@dataclass(frozen=True)
class Feedback:
    """What one call stored."""

    user_id: str
    item_id: str
    signal: Signal
    visibility: Visibility
    session_id: str | None
    interaction_id: str
    profile: Profile  # the person's profile after it


def interaction_id(user_id: str, item_id: str) -> str:
    """One interaction per person and item, whatever the signal: the latest replaces it."""
    digest = hashlib.sha1(f"{user_id}\x1f{item_id}".encode()).hexdigest()[:20]
    return f"feedback-{digest}"


def as_interaction(user_id: str, item_id: str, signal: Signal, visibility: Visibility,
                   now: datetime | None = None) -> Interaction:
    kind, rating = AS_INTERACTION[signal]
    return Interaction(id=interaction_id(user_id, item_id), user_id=user_id, item_id=item_id, kind=kind, rating=rating,
                       timestamp=now or datetime.now(UTC), visibility=visibility)


def apply_feedback(profile: Profile, item_id: str, signal: Signal) -> Profile:
    """The profile after the signal. Pure: a new Profile."""
    p = profile.model_copy(deep=True)

    def without(values: list[str]) -> list[str]:
        return [value for value in values if value != item_id]

    if signal == "up":
        p.likes = [item_id, *without(p.likes)][:MAX_REMEMBERED]
        p.dislikes, p.rejected = without(p.dislikes), without(p.rejected)
    elif signal == "down":
        p.dislikes = [item_id, *without(p.dislikes)][:MAX_REMEMBERED]
        p.likes = without(p.likes)
    return p
