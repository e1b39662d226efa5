"""Feedback on cards through the Python API (`Kith.feedback`): stored at once, used by the very
next ranking, private by default. On a copy of the demo catalog; no LLM (rankings only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.kith import Kith, KithInputError, UnknownItem
from bot.sessions import TurnRecord, UnknownSession
from retrieval.ranking import CLOSEST, CLOSEST_YOU_HAVE_MOST
from tests.conftest import copy_demo

QUERY = "a thoughtful sci-fi film"


@pytest.fixture
def data_dir(demo_template: Path, tmp_path: Path) -> Path:
    return copy_demo(demo_template, tmp_path / "data")


@pytest.fixture
def kith(data_dir: Path) -> Iterator[Kith]:
    opened = Kith.open(data_dir, "demo")
    yield opened
    opened.close()


def ranked(kith: Kith, user: str, query: str = QUERY, k: int = 10):  # -> list[Recommendation]
    return kith.rank([{"role": "user", "text": query}], user, k)


def likeness(kith: Kith, item_id: str, others: list[str]) -> dict[str, float]:
    vectors = kith.ranker.item_vectors([item_id, *others])
    return {other: float(np.dot(vectors[item_id], vectors[other])) for other in others}


def test_not_for_me_never_comes_back_and_pushes_its_neighbours_down(kith: Kith, data_dir: Path) -> None:
    before = ranked(kith, "fb-1", k=50)
    gone = before[0].item_id
    closeness = likeness(kith, gone, [r.item_id for r in before[1:]])
    neighbour = max(closeness, key=closeness.__getitem__)
    assert closeness[neighbour] > 0.4  # a near neighbour (the demo's 90th percentile is ~0.38)

    given = kith.feedback("fb-1", gone, "down")
    assert gone in given.profile.dislikes and kith.profile("fb-1").dislikes == [gone]
    after = {r.item_id: r for r in ranked(kith, "fb-1", k=50)}
    assert gone not in after
    old = next(r for r in before if r.item_id == neighbour)
    assert after[neighbour].components["penalty"] < old.components["penalty"] <= 0
    assert after[neighbour].score < old.score
    # For good: in other words, in a new session, and after a restart.
    assert gone not in [r.item_id for r in ranked(kith, "fb-1", "films like the one you just showed me", 50)]
    kith.close()
    reopened = Kith.open(data_dir, "demo")
    try:
        assert gone not in [r.item_id for r in ranked(reopened, "fb-1", k=50)]
    finally:
        reopened.close()


def test_more_like_this_pulls_alike_items_up_and_the_card_says_so(kith: Kith) -> None:
    before = ranked(kith, "fb-2", k=10)
    liked = before[2]
    # A pick short of the request stays below every one that fits it, however alike: the kin is
    # one that fits.
    fitting = [r.item_id for r in before if r.item_id != liked.item_id and not {CLOSEST, CLOSEST_YOU_HAVE_MOST} & set(r.reasons)]
    closeness = likeness(kith, liked.item_id, fitting)
    kin = max(closeness, key=closeness.__getitem__)  # the shown item most like the liked one
    kith.feedback("fb-2", liked.item_id, "up")
    after = ranked(kith, "fb-2", k=10)
    assert liked.item_id not in [r.item_id for r in after]  # liked: no news to them
    assert liked.item_id in kith.profile("fb-2").likes

    def position(recommendations) -> int:  # type: ignore[no-untyped-def]
        return [r.item_id for r in recommendations].index(kin)

    assert position(after) < position(before) and position(after) == 0
    pulled = after[0]
    assert pulled.components["more_like"] > 0.5
    assert f"more like {liked.title}, which you liked" in pulled.reasons
    # Only what is alike says so.
    for r in after:
        said = f"more like {liked.title}, which you liked" in r.reasons
        assert said == (likeness(kith, liked.item_id, [r.item_id])[r.item_id] >= 0.4), r
    assert not any("more like" in reason for r in before for reason in r.reasons)


def test_already_have_it_removes_the_item_and_the_latest_signal_replaces_the_last(kith: Kith) -> None:
    item = ranked(kith, "fb-3")[0].item_id
    kith.feedback("fb-3", item, "down")
    kith.feedback("fb-3", item, "owned")
    assert item not in [r.item_id for r in ranked(kith, "fb-3", k=50)]
    assert kith.sessions.feedback("fb-3") == {item: "owned"}
    # One interaction per person and item: the latest signal replaced the earlier one.
    rows = kith.stores.database.interactions("demo", "fb-3")
    assert [(x.item_id, x.kind, x.visibility) for x in rows] == [(item, "purchase", "private")]
    kith.feedback("fb-3", item, "up")
    profile = kith.profile("fb-3")
    assert item in profile.likes and item not in profile.dislikes


def test_feedback_is_private_unless_shared(kith: Kith) -> None:
    # u07 and u01 are friends in the demo data; fb items are among what u01's ranking could show.
    kith.feedback("u07", "film-003", "up")
    kith.feedback("u07", "film-006", "up", visibility="friends")
    kith.refresh()
    seen_by_friend = {a.item_id for a in kith.ranker.rank(kith.request_for(kith.profile("u01"), QUERY, "u01"), 10)
                      .friends_activity if a.friend_id == "u07"}
    assert "film-006" in seen_by_friend and "film-003" not in seen_by_friend
    stored = {x.item_id: x.visibility for x in kith.stores.database.interactions("demo", "u07")
              if x.key.startswith("feedback-")}
    assert stored == {"film-003": "private", "film-006": "friends"}


def test_bad_feedback_says_what_is_wrong_and_stores_nothing(kith: Kith) -> None:
    item = ranked(kith, "fb-4")[0].item_id
    kith.sessions.append_message("session-of-fb-4", "fb-4", "user", QUERY, TurnRecord())
    kith.sessions.append_message("session-of-fb-5", "fb-5", "user", QUERY, TurnRecord())
    with pytest.raises(UnknownItem, match="no item 'nope'"):
        kith.feedback("fb-4", "nope", "down")
    with pytest.raises(KithInputError, match="signal must be one of up, down, owned"):
        kith.feedback("fb-4", item, "meh")  # type: ignore[arg-type]
    with pytest.raises(KithInputError, match="visibility must be one of"):
        kith.feedback("fb-4", item, "up", visibility="everyone")  # type: ignore[arg-type]
    with pytest.raises(KithInputError, match="user_id"):
        kith.feedback("", item, "up")
    with pytest.raises(UnknownSession):
        kith.feedback("fb-4", item, "up", session_id="session-of-fb-5")
    with pytest.raises(UnknownSession):
        kith.feedback("fb-4", item, "up", session_id="never-started")
    assert kith.sessions.feedback("fb-4") == {}
    assert kith.stores.database.interactions("demo", "fb-4") == []
    assert item not in kith.profile("fb-4").likes
    kith.feedback("fb-4", item, "up", session_id="session-of-fb-4")
    assert kith.sessions.feedback("fb-4") == {item: "up"}
