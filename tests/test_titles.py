"""Titles written by different hands still find each other."""

from __future__ import annotations

from retrieval.titles import TitleFinder, TitleIndex, normalize, split_year


def test_split_year() -> None:
    assert split_year("Alien (1979)") == ("Alien", 1979)
    assert split_year("Headhunter  (2009) ") == ("Headhunter", 2009)
    assert split_year("How to Train Your Dragon ") == ("How to Train Your Dragon", None)


def test_normalize_handles_articles_case_accents_and_punctuation() -> None:
    assert normalize("Matrix, The") == normalize("the matrix") == "matrix"
    assert normalize("Amélie") == normalize("AMELIE") == "amelie"
    assert normalize("Harry Potter & the Sorcerer's Stone") == "harry potter and the sorcerer s stone"
    assert normalize("Se7en!") == "se7en"


INDEX = TitleIndex([
    ("1", "Matrix, The (1999)"),
    ("2", "Seven (a.k.a. Se7en) (1995)"),
    ("3", "Star Wars: Episode IV - A New Hope (1977)"),
    ("4", "King Kong (1933)"),
    ("5", "King Kong (2005)"),
    ("6", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
])


def test_exact_and_reordered_articles() -> None:
    assert INDEX.match("The Matrix (1999)") == "1"
    assert INDEX.match("the matrix") == "1"


def test_alternate_titles_and_accents() -> None:
    assert INDEX.match("Se7en (1995)") == "2"
    assert INDEX.match("Amelie (2001)") == "6"


def test_year_tells_remakes_apart_and_tolerates_one_year_off() -> None:
    assert INDEX.match("King Kong (2005)") == "5"
    assert INDEX.match("King Kong (1933)") == "4"
    assert INDEX.match("King Kong (2006)") == "5"


def test_small_typos_match_but_different_titles_do_not() -> None:
    assert INDEX.match("Star Wars: Episode IV - A New Hop (1977)") == "3"
    assert INDEX.match("The Matrx (1999)") == "1"
    assert INDEX.match("Titanic (1997)") is None
    assert INDEX.match("Matrix Reloaded (2003)") is None


def test_short_form_before_a_colon_matches_with_its_year() -> None:
    index = TitleIndex([("b", "Borat: Cultural Learnings of America (2006)"), ("w", "Why Him? (2016)")])
    assert index.match("Borat (2006)") == "b"
    assert index.match("Borat (1999)") is None
    assert index.match("Why Him%3F (2016)") == "w"


def test_text_finds_a_one_word_name_before_a_colon_unless_a_whole_title_has_it() -> None:
    finder = TitleFinder([("spqr", "SPQR: A History of Ancient Rome", 1.0), ("alien", "Alien (1979)", 0.5),
                          ("covenant", "Alien: Covenant (2017)", 1.0), ("stunts", "Jackie Chan: My Stunts (1999)", 1.0)])
    assert [f.item_id for f in finder.find("my dad already read SPQR")] == ["spqr"]
    assert [f.item_id for f in finder.find("Alien was scary, Alien: Covenant less so")] == ["alien", "covenant"]
    # A name of two words or more before a colon is mostly a person's or a series'.
    assert finder.find("anything with Jackie Chan") == []


def test_text_finds_a_series_hero_named_before_and_the() -> None:
    finder = TitleFinder([("stone", "Harry Potter and the Philosopher's Stone", 1.0),
                          ("chamber", "Harry Potter and the Chamber of Secrets", 0.5),
                          ("heron", "The Boy and the Heron (2023)", 1.0), ("charlie", "Charlie and the Chocolate Factory", 1.0)])
    # The series' most popular title; its whole name still finds itself.
    assert [f.item_id for f in finder.find("any Harry Potter books?")] == ["stone"]
    assert [f.item_id for f in finder.find("I loved Harry Potter and the Chamber of Secrets")] == ["chamber"]
    # A hero of one word, or one after an article, is no name: "Charlie", "the boy".
    assert finder.find("my nephew Charlie likes the boy next door") == []


def test_a_one_word_title_after_an_article_needs_its_own_article() -> None:
    finder = TitleFinder([("matrix", "The Matrix (1999)", 1.0), ("comedy", "The Comedy (2012)", 0.5)])
    assert [f.item_id for f in finder.find("I loved the matrix")] == ["matrix"]
    # "a comedy" asks for a genre; only "the comedy" could name the film.
    assert finder.find("I would like to watch a comedy") == []
    assert [f.item_id for f in finder.find("the comedy was slow")] == ["comedy"]


def test_names_in_any_script_are_keys_and_are_found_in_text() -> None:
    # Last.fm has Cyrillic, Japanese and Arabic artists; their keys were all "" once.
    # Marks come off in every script, as on "Amélie": й reads as и.
    assert normalize("Мумий Тролль") == "мумии тролль" and normalize("坂本龍一") == "坂本龍一"
    assert normalize("!!!") == ""
    finder = TitleFinder([("kino", "Кино", 1.0), ("troll", "Мумий Тролль", 1.0), ("list", "Schindler's List (1993)", 1.0)])
    assert [f.item_id for f in finder.find("я люблю Кино и Мумий Тролль")] == ["kino", "troll"]
    assert [f.item_id for f in finder.find("I loved Schindler's List")] == ["list"]
    assert finder.find("смотрю кино") == []  # a one-word name still has to be written as one


def test_words_that_open_a_verdict_are_no_one_word_titles() -> None:
    finder = TitleFinder([("loved", "Loved (1997)", 1.0), ("sick", "The Big Sick (2017)", 1.0), ("hope", "Hope (2007)", 1.0)])
    assert [t.item_id for t in finder.find("Loved The Big Sick")] == ["sick"]
    assert [t.item_id for t in finder.find("Hope you got some good suggestions")] == []
    assert [t.item_id for t in finder.find("I watched Hope (2007) last night")] == ["hope"]  # the year makes it the film
