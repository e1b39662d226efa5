"""Client context (bot/context.py): the moment a message is sent shifts the ranking through the
catalog's tags, explains itself, and never overrides what the person asked for. The rules read
alone, then rankings on a copy of the demo catalog (no LLM); tests/dialogues/41-46 run them
end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.context import ClientContext, situation
from bot.kith import Kith, KithInputError
from tests.conftest import copy_demo

DEMO_TAGS = {"rainy-day", "cozy", "waterproof", "winter", "chill", "ambient", "energetic", "road-trip", "camping"}
RAINY_EVENING = {"time": "2025-11-12T20:30:00+01:00", "weather": "light rain"}
SUNNY_AFTERNOON = {"time": "2025-07-12T14:00:00+01:00", "weather": "sunny"}


def moment(**fields: object) -> ClientContext:
    return ClientContext.model_validate({"time": "2025-04-10T12:00:00+00:00", **fields})


def test_season_and_time_of_day_follow_from_the_local_time() -> None:
    assert (moment(time="2025-01-15T07:00:00-05:00").season, moment(time="2025-01-15T07:00:00-05:00").time_of_day) \
        == ("winter", "morning")
    # The local hour counts, not UTC's: 23:30 in Tokyo is night there.
    assert moment(time="2025-08-01T23:30:00+09:00").time_of_day == "night"
    assert moment(time="2025-10-01T18:00:00+00:00").season == "autumn"
    assert moment(time="2025-10-01T18:00:00+00:00").time_of_day == "evening"


def test_the_moment_becomes_catalog_tags_with_their_explanation() -> None:
    rainy = situation(ClientContext.model_validate(RAINY_EVENING), DEMO_TAGS)
    assert rainy.favoured == {"rainy-day": "a rainy evening", "cozy": "a rainy evening", "waterproof": "a rainy evening"}
    night = situation(moment(time="2025-04-10T23:45:00+00:00"), DEMO_TAGS)
    assert set(night.favoured) == {"chill", "ambient"} and night.avoided == ("energetic",)
    trip = situation(moment(occasion="Road trip to the coast"), DEMO_TAGS)
    assert trip.favoured == {"road-trip": "a road trip"}
    # Only the catalog's own tags: a catalog without them gets no lift.
    assert situation(ClientContext.model_validate(RAINY_EVENING), {"horror"}).favoured == {}
    assert situation(None, DEMO_TAGS).favoured == {}


def test_what_the_person_asked_for_beats_the_moment() -> None:
    night = moment(time="2025-04-10T23:45:00+00:00")
    assert situation(night, DEMO_TAGS, asked={"energetic"}).avoided == ()  # asked for: never pushed down
    assert situation(night, DEMO_TAGS, asked={"party"}).avoided == ()  # anything lively: no winding down
    rainy = ClientContext.model_validate(RAINY_EVENING)
    assert "cozy" not in situation(rainy, DEMO_TAGS, refused={"cozy"}).favoured  # refused: never lifted


def test_a_low_mood_said_favours_something_gentle_unless_dark_things_were_asked_for() -> None:
    tags = DEMO_TAGS | {"feel-good", "funny", "dark", "scary"}
    low = situation(None, tags, mood="down")
    assert low.favoured == {"feel-good": "a hard day", "cozy": "a hard day", "funny": "a hard day"}
    assert low.avoided == ("dark", "scary")
    assert situation(None, tags, mood="down", asked={"horror"}).avoided == ()  # "rough week, I need a horror film"
    assert situation(None, tags, mood="excited") == situation(None, tags)


@pytest.mark.parametrize(("given", "named"), [
    ({"time": "2025-11-12T20:30:00"}, "time"),  # no offset
    ({"time": "yesterday"}, "time"),
    ({"weather": "rain"}, "time"),  # time is required
    ({"time": "2025-11-12T20:30:00+01:00", "mood": "happy"}, "mood"),
    ({"time": "2025-11-12T20:30:00+01:00", "weather": "x" * 101}, "weather"),
])
def test_a_bad_context_names_the_field(given: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ClientContext.model_validate(given)
    assert named in str(raised.value)


@pytest.fixture(scope="module")
def kith(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kith]:
    opened = Kith.open(copy_demo(demo_template, tmp_path_factory.mktemp("context") / "data"), "demo")
    yield opened
    opened.close()


def ranked(kith: Kith, text: str, context: dict[str, object] | None, k: int = 5):  # -> list[Recommendation]
    profile = kith.read_profile([{"role": "user", "text": text}])
    return kith.ranker.rank(kith.request_for(profile, text, None, context=kith.check_context(context)), k).recommendations


def test_the_same_message_ranks_differently_in_two_moments(kith: Kith) -> None:
    rainy, sunny = ranked(kith, "put on some music", RAINY_EVENING), ranked(kith, "put on some music", SUNNY_AFTERNOON)
    assert [r.item_id for r in rainy] != [r.item_id for r in sunny]
    assert {"rainy-day", "cozy"} & set(rainy[0].tags)
    assert "fits a rainy evening" in rainy[0].reasons
    assert not any("rainy" in reason for r in sunny for reason in r.reasons)
    # Every reason given is true of its pick.
    assert all(r.components["context"] > 0 for r in rainy if "fits a rainy evening" in r.reasons)
    winter = ranked(kith, "I need a new jacket", {"time": "2025-01-18T10:00:00-05:00"})
    summer = ranked(kith, "I need a new jacket", {"time": "2025-07-18T10:00:00-05:00"})
    assert "winter" in winter[0].tags and "winter" not in summer[0].tags


def test_explicit_requests_still_win(kith: Kith) -> None:
    late_rain = {"time": "2025-11-12T23:30:00+01:00", "weather": "rain"}
    lively = ranked(kith, "an energetic workout playlist", late_rain)
    assert all({"energetic", "workout"} & set(r.tags) for r in lively)
    assert not any("rainy-day" in r.tags for r in lively)
    # Category, excluded tags and budget hold whatever the moment favours.
    for context in (late_rain, SUNNY_AFTERNOON, None):
        tents = ranked(kith, "a tent for camping under $200, nothing ultralight", context, k=6)
        assert tents and all(r.category == "outdoor" and (r.price or 0) <= 200 for r in tents)
        assert not any("ultralight" in r.tags for r in tents)
        books = ranked(kith, "a funny book", context, k=6)
        assert all(r.category == "books" for r in books)


def test_kith_refuses_a_bad_context_saying_which_field(kith: Kith) -> None:
    with pytest.raises(KithInputError, match=r"context\.time"):
        kith.check_context({"time": "2025-11-12T20:30:00"})
    with pytest.raises(KithInputError, match=r"context\.crowd"):
        kith.check_context({"time": "2025-11-12T20:30:00+01:00", "crowd": "big"})
    assert kith.check_context({"time": datetime.fromisoformat("2025-11-12T20:30:00+01:00")}).time_of_day == "evening"
