"""Turn sentiment and per-item sentiment."""

from __future__ import annotations

from bot.sentiment import analyze
from retrieval.titles import TitleFinder

FINDER = TitleFinder([
    ("alien", "Alien (1979)", 5.0), ("titanic", "Titanic (1997)", 3.0), ("hdd", "Happy Death Day (2017)", 1.0),
])


def feel(text: str):
    return analyze(text, FINDER.find(text))


def test_each_item_gets_the_feeling_of_its_own_clause() -> None:
    assert feel("I loved Alien but Titanic bored me").items == {"alien": "like", "titanic": "dislike"}
    assert feel("Titanic was dull, though Alien was brilliant").items == {"titanic": "dislike", "alien": "like"}


def test_a_titles_own_words_do_not_count() -> None:
    assert feel("Happy Death Day was awful").items == {"hdd": "dislike"}
    assert feel("I watched Happy Death Day").items == {"hdd": "neutral"}


def test_turn_polarity_and_strength() -> None:
    loved = feel("This is wonderful, I love it")
    assert loved.label == "positive" and loved.polarity > 0.5 and loved.strength == abs(loved.polarity)
    assert feel("That was terrible and boring").label == "negative"
    assert feel("Show me tents").label == "neutral"


def test_moods_choose_the_tone() -> None:
    assert feel("I had an awful day and I feel sad").mood == "down"
    assert feel("We're going camping this weekend, so excited!").mood == "excited"
    assert feel("no, not those").mood == "rejecting"
    assert feel("none of these, something else please").mood == "rejecting"
    assert feel("a book about birds").mood == "neutral"
    assert feel("I loved Alien").mood == "neutral"  # liking a film is not excitement
