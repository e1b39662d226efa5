"""The faithfulness check on real sentences about demo catalog items (bot/faithfulness.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.faithfulness import FaithfulnessCheck, ItemFacts, TurnFacts, split_sentences
from retrieval.schemas import Item
from retrieval.titles import TitleFinder

DEMO = Path(__file__).resolve().parents[1] / "retrieval" / "demo"


@pytest.fixture(scope="module")
def catalog() -> dict[str, Item]:
    items = [Item(**json.loads(line)) for path in sorted(DEMO.glob("items-*.jsonl")) for line in path.open()]
    return {item.title: item for item in items}


@pytest.fixture(scope="module")
def check(catalog: dict[str, Item]) -> FaithfulnessCheck:
    finder = TitleFinder((item.id, item.title, 0.0) for item in catalog.values())
    return FaithfulnessCheck(finder, {tag for item in catalog.values() for tag in item.tags})


def facts(catalog: dict[str, Item], *titles: str, reasons: tuple[str, ...] = (), own: tuple[str, ...] = ()) -> TurnFacts:
    picks = tuple(ItemFacts(catalog[t].id, t, catalog[t].category, catalog[t].description, tuple(catalog[t].tags),
                            catalog[t].price, reasons, catalog[t].attributes) for t in titles)
    return TurnFacts(picks, frozenset(catalog[t].id for t in own))


@pytest.mark.parametrize(("sentence", "titles", "claims"), [
    # Issue 17: Dunkirk is set in France, not Africa, and is not tagged thought-provoking.
    ("Try Dunkirk (2017) — a thought-provoking history of World War II with a focus on Africa.",
     ("Dunkirk (2017)", "Apocalypse Now (1979)"), {"Africa", "thought-provoking"}),
    ("Try The Big Sleep — a classic cookbook full of easy recipes.", ("The Big Sleep",), {"cookbook", "recipes"}),
    ("Apocalypse Now (1979) is a harrowing documentary about the Vietnam War.",
     ("Dunkirk (2017)", "Apocalypse Now (1979)"), {"documentary"}),
    ("Try Dunkirk (2017) — Steven Spielberg's take on the beaches.", ("Dunkirk (2017)",), {"Steven", "Spielberg"}),
    ("Try Alien (1979) — nothing scary, just a cosy night in.", ("Alien (1979)",), {"scary", "cosy"}),
    ("Try Dunkirk (2017) — it runs just 1940 minutes and costs 4.99.", ("Dunkirk (2017)",), {"4.99"}),
    # Invented wording without names, numbers or genre words (issue 17's review).
    ("Try Arrival (2016) — a talented young woman who has just lost her husband.", ("Arrival (2016)",),
     {"talented", "young", "woman", "lost", "husband"}),
    # A kind of thing the pick is not: The Big Sleep is a book.
    ("Try The Big Sleep — a great classic movie to watch tonight.", ("The Big Sleep",), {"movie", "watch"}),
    # Every word is in the facts, but Samin Nosrat wrote it: "by someone of hers" is a false claim.
    ("Or, from earlier, Salt, Fat, Acid, Heat — a cooking book by Chef Samin Nosrat’s favorite cook!",
     ("Salt, Fat, Acid, Heat",), {"by Chef Samin Nosrat’s"}),
    # Mark Watney is its hero, whom the description names; Andy Weir wrote it.
    ("Try The Martian — a sci-fi book by Mark Watney who was stranded on Mars after his crew believed him dead.",
     ("The Martian",), {"Mark Watney"}),
])
def test_unfaithful_sentences_fail_naming_their_claims(check, catalog, sentence, titles, claims) -> None:
    verdict = check.check(sentence, facts(catalog, *titles))
    assert not verdict.supported
    assert claims <= set(verdict.unsupported), verdict.unsupported


@pytest.mark.parametrize(("sentence", "titles"), [
    ("Try Dunkirk (2017) — a tense, relentless survival story set on a French beach in 1940.", ("Dunkirk (2017)",)),
    ("Try Apocalypse Now (1979) — a dark, epic war drama that goes upriver into Cambodia.",
     ("Apocalypse Now (1979)",)),
    ("Try The Big Sleep — Chandler's hardboiled noir, a knotty mystery in Los Angeles.", ("The Big Sleep",)),
    ("Try Dunkirk (2017) — not scary, but a great pick by Christopher Nolan for 9.99.", ("Dunkirk (2017)",)),
    ("Try Salt, Fat, Acid, Heat — a cooking book by chef Samin Nosrat.", ("Salt, Fat, Acid, Heat",)),
    ("Try The Martian — a funny sci-fi book by Andy Weir.", ("The Martian",)),
    ("Or try Apocalypse Now (1979) — a classic war film, grim and strange.", ("Dunkirk (2017)", "Apocalypse Now (1979)")),
    ("Fair enough, something else then: try Dunkirk (2017), a war film.", ("Dunkirk (2017)",)),
    ("Or try E.T. the Extra-Terrestrial (1982) — A lonely ten-year-old named Elliott discovers a gentle alien.",
     ("E.T. the Extra-Terrestrial (1982)",)),
])
def test_faithful_sentences_pass(check, catalog, sentence, titles) -> None:
    verdict = check.check(sentence, facts(catalog, *titles))
    assert verdict.supported, verdict.unsupported


def test_names_friends_and_ratings_only_as_the_reasons_give_them(check, catalog) -> None:
    given = facts(catalog, "Dunkirk (2017)", reasons=("your friend Ana Ruiz rated it 5/5",))
    assert check.check("Try Dunkirk (2017) — your friend Ana Ruiz rated it 5/5.", given).supported
    assert check.check("Try Dunkirk (2017) — your friend Ana loved it.", given).supported
    assert check.check("Try Dunkirk (2017) — your friend Ben Ode loved it.", given).unsupported == ("Ben Ode", "Ben", "Ode")
    assert check.check("Try Dunkirk (2017) — your friends loved it.", facts(catalog, "Dunkirk (2017)")).unsupported == (
        "friend",)
    assert "4/5" in check.check("Try Dunkirk (2017) — your friend Ana Ruiz rated it 4/5.", given).unsupported


def test_a_title_is_a_name_not_a_claim(check) -> None:
    """"Just Friends" names a film; it claims no friend (the friend rule read it as one)."""
    film = ItemFacts("jf", "Just Friends (2005)", "films", "", ("comedy", "romance"))
    finder = TitleFinder([("jf", "Just Friends (2005)", 0.0)])
    assert FaithfulnessCheck(finder, ["comedy", "romance"]).check(
        "Try Just Friends (2005) — a comedy, romance film.", TurnFacts((film,))).supported


def test_names_only_the_picks_and_the_persons_own_items(check, catalog) -> None:
    sentence = "Try Dunkirk (2017) — as gripping as Arrival (2016), with a ticking score."
    assert check.check(sentence, facts(catalog, "Dunkirk (2017)")).unsupported == ("Arrival (2016)",)
    assert check.check(sentence, facts(catalog, "Dunkirk (2017)", own=("Arrival (2016)",))).supported
    # An own item's title supports its name, not other claims: "since 2016" is Arrival's year.
    assert check.check("Try Dunkirk (2017) — as tense as Arrival (2016), made in 2016.",
                       facts(catalog, "Dunkirk (2017)", own=("Arrival (2016)",))).unsupported == ("2016",)


def test_a_sentence_without_a_title_is_about_the_previous_pick(check, catalog) -> None:
    given = facts(catalog, "Dunkirk (2017)", "The Big Sleep")
    verdicts = check.check_reply("Or try The Big Sleep — a knotty mystery. It is set in Los Angeles. "
                                 "It is set in France!", given)
    assert [v.supported for _, v in verdicts] == [True, True, False]
    assert all(v.about == (catalog["The Big Sleep"].id,) for _, v in verdicts)


def test_an_unfinished_sentence_fails_and_prices_do_not_split_sentences(check, catalog) -> None:
    assert check.check("Try Dunkirk (2017) — a tense film that", facts(catalog, "Dunkirk (2017)")).unsupported == (
        "(unfinished)",)
    assert split_sentences("Dunkirk (2017) costs 9.99. Watch it!\nAlso: Alien.") == [
        "Dunkirk (2017) costs 9.99.", "Watch it!", "Also: Alien."]
    assert split_sentences("Try E.T. the Extra-Terrestrial (1982) — a gentle alien. Or T.E. Lawrence.") == [
        "Try E.T. the Extra-Terrestrial (1982) — a gentle alien.", "Or T.E. Lawrence."]
    assert split_sentences("Or try Górecki: Symphony No. 3 — slow. No. It is.") == [
        "Or try Górecki: Symphony No. 3 — slow.", "No.", "It is."]
