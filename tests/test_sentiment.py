"""Turn sentiment and per-item sentiment."""

from __future__ import annotations

from bot.handoff import is_negative
from bot.sentiment import analyze
from bot.understanding import Understanding, Unknown
from retrieval.titles import FoundTitle, TitleFinder

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


def test_dislikes_said_in_ways_vader_does_not_hear() -> None:
    for said in ("Not a huge fan of Alien", "Alien really didn't do it for me", "I couldn't stand Alien",
                 "Alien was too slow for me", "Alien was meh", "I never got the fuss about Alien",
                 "Alien wasn't that good", "I haven't seen Alien and probably won't", "Alien could have been better",
                 "Alien fell flat for me", "Alien didn't live up to the hype", "Alien was so-so", "I'll skip Alien"):
        assert feel(said).items == {"alien": "dislike"}, said


def test_words_about_having_seen_it_and_questions_are_no_opinion() -> None:
    assert feel("No, I haven't seen it").answer == "neutral"
    assert feel("No, I haven't seen it").mood == "neutral"  # not turning the suggestion down
    assert feel("Is it scary?").answer == "neutral"
    assert feel("I've seen Alien but not Titanic").items == {"alien": "neutral", "titanic": "neutral"}


def test_a_no_to_have_you_seen_it_is_not_a_dislike() -> None:
    asked = "Have you seen Alien?"
    assert analyze("No. I'll have to watch it", [], asked).answer == "like"
    assert analyze("No.", [], "How about Alien?").answer == "dislike"
    assert analyze("No.", [], "How about Alien?").mood == "rejecting"


def test_what_a_film_holds_is_not_the_persons_feeling() -> None:
    assert feel("Alien scared the crap out of me, such a good one").items == {"alien": "like"}
    assert feel("Titanic is sad but a great story").items == {"titanic": "like"}


def test_a_title_named_as_unwanted_or_as_the_lesser_of_two() -> None:
    assert feel("Something like Alien, but not Titanic").items == {"alien": "like", "titanic": "dislike"}
    assert feel("Alien was pretty good, better than Titanic").items == {"alien": "like", "titanic": "dislike"}
    assert feel("Titanic was not as good as Alien").items == {"titanic": "dislike", "alien": "neutral"}


def test_a_list_shares_its_verb_and_a_clause_after_a_title_is_about_it() -> None:
    assert feel("I hated Alien, Titanic and Happy Death Day").items == {
        "alien": "dislike", "titanic": "dislike", "hdd": "dislike"}
    assert feel("Saw Alien last week. It bored me").items == {"alien": "dislike"}
    assert feel("Alien was violent, but a good one").items == {"alien": "like"}
    # A dislike said in so many words outlasts a pleasantry after it.
    assert feel("I did not like Alien. But you gave me some good ones").items == {"alien": "dislike"}
    # A feeling about a name the catalog does not have is about neither title: "Gravity".
    assert feel("I loved Alien and Titanic but hated Gravity").items == {"alien": "like", "titanic": "like"}
    assert feel("I loved Alien. Hated Gravity though").items == {"alien": "like"}
    # "We've seen Frozen and loved it": the feeling is Frozen's, no suggestion's.
    assert feel("we've seen Frozen and loved it").answer == "neutral"
    assert feel("Saw Alien. I hated the ending").items == {"alien": "dislike"}


def test_the_answer_about_the_suggestions_is_the_words_before_any_title() -> None:
    assert feel("yes, loved it").answer == "like"
    # A request is no feeling about them ("recommend" is a positive word to VADER).
    assert feel("recommend a film").answer == "neutral"
    # Nor is a wish said as what they want to do ("we want to sing along" had liked six albums);
    # wanting to see it still likes it.
    assert feel("nothing sad please, we want to sing along").answer == "neutral"
    # Any "too much" said of themselves is a dislike ("too busy for me" had been none), not one of an aim.
    assert feel("the second was too busy for me").answer == "dislike"
    assert feel("it's too early for me to say").answer == "neutral"
    # A thing of a kind asked for after a word that moves on is a wish ("actually, a funny film
    # then" had liked the six scary films before it); "that's a great film" is no wish.
    assert feel("actually, a funny film then").answer == "neutral"
    assert feel("that's a great film").answer == "like"
    # A change from a habit turns nothing down; "no, something different" does.
    assert feel("I read a lot of thrillers, but I want something different this time").mood == "neutral"
    assert feel("no, something different").mood == "rejecting"
    assert feel("I haven't had a chance to see that yet, but I want to.").answer == "like"
    # Turning a pick down for having seen it is no rejection.
    assert analyze("not that one, I've seen it", [], "Try Alien.").mood != "rejecting"
    assert analyze("no, not that one", [], "Try Alien.").mood == "rejecting"
    assert feel("sounds boring. I loved Alien though").answer == "dislike"


def test_an_i_without_a_stop_starts_a_new_clause() -> None:
    # ReDial's seekers seldom end a sentence: "does not" must not negate what follows it.
    asked = "Have you seen Alien?"
    said = "I have not I really want to but my husband does not I will win that fight"
    assert analyze(said, [], asked).answer == "like"
    # After "the one", "that", "what"... the "I" goes on the sentence.
    assert feel("Alien was the one I loved").items == {"alien": "like"}
    assert feel("Titanic is a movie I hated").items == {"titanic": "dislike"}


def test_a_contrast_back_to_liking_it_outweighs_a_plain_dislike() -> None:
    assert feel("Alien was almost too much, but I liked it").items == {"alien": "like"}
    assert feel("Alien wasn't as good as the first, but I still thought it was hilarious").items == {"alien": "like"}
    assert feel("Some scenes of Alien I didn't like, but overall pretty good").items == {"alien": "like"}
    # A contrast about something else leaves the dislike.
    assert feel("Alien was too slow, but the music was nice").items == {"alien": "dislike"}


def test_a_plan_to_watch_it_outweighs_a_dislike_only_vader_heard() -> None:
    said = "I think I saw it as a kid, but I don't remember it well. I'm going to check it out, thanks!"
    assert analyze(said, [], "How about Alien?").answer == "like"
    assert feel("Alien bored me. I'll watch it with my brother").items == {"alien": "dislike"}


def test_not_in_the_mood_for_it_and_not_looking_for_it_are_dislikes() -> None:
    for said in ("I'm not looking for anything that spacey", "Not really in the mood for that", "not really my mood"):
        assert analyze(said, [], "Try Alien").answer == "dislike", said
    assert feel("I'm looking for something like Alien").items == {"alien": "like"}


def test_being_bored_oneself_is_no_dislike() -> None:
    said = "I'm so bored, any ideas? I have seen it, it is one of my favorites"
    assert analyze(said, [], "Have you seen Alien?").answer == "like"
    assert feel("Alien bored me").items == {"alien": "dislike"}


def test_been_too_long_is_no_complaint() -> None:
    assert feel("Loved Alien. It's been too long since I watched it").items == {"alien": "like"}
    assert feel("Alien was too long").items == {"alien": "dislike"}


def test_laughing_and_waiting_for_it_are_likes_vader_hears_as_negative() -> None:
    for said in ("I never laughed more than I did during Alien", "Saw Alien last week and laughed my ass off",
                 "Can't wait for Alien"):
        assert feel(said).items == {"alien": "like"}, said
    assert feel("I never liked Alien").items == {"alien": "dislike"}


def test_a_title_named_as_the_exception_takes_the_other_feeling() -> None:
    assert feel("Musicals are not my cup of tea other than Titanic").items == {"titanic": "like"}
    assert feel("I like them all except Titanic").items == {"titanic": "dislike"}
    assert feel("Anything except Titanic").items == {"titanic": "dislike"}


def test_a_capitalized_verdict_without_a_stop_starts_a_new_clause() -> None:
    said = "I really liked Alien for example Didn't really care for Titanic"
    assert feel(said).items == {"alien": "like", "titanic": "dislike"}
    # A lower-case word goes on the sentence: only the capital tells.
    assert feel("Titanic is a movie I didn't like").items == {"titanic": "dislike"}


def test_an_interjection_and_a_comma_yet_end_an_opinion() -> None:
    assert feel("Titanic was not as good as Alien oh that is great can't wait for Happy Death Day").items == {
        "titanic": "dislike", "alien": "neutral", "hdd": "like"}
    assert feel("Titanic is silly, yet super entertaining").items == {"titanic": "like"}


def test_films_of_a_kind_are_not_the_suggestions() -> None:
    # "X movies" is a kind: it turns down none of the picks, nor a title already felt about...
    assert analyze("I do not like stephen king movies", [], "Try Alien").answer == "neutral"
    assert feel("I enjoyed Alien. I did not like the war movies that are not in english").items == {"alien": "like"}
    # ...but it colours a title just named without a feeling, and "those movies" are the picks.
    assert feel("I haven't seen Alien. I'm not interested in horror movies").items == {"alien": "dislike"}
    assert analyze("I love those movies", [], "Try Alien").answer == "like"
    assert analyze("I love scary movies, but I'm a bit of a wimp", [], "Try Alien").answer == "neutral"


def test_turning_a_title_down_is_not_turning_down_the_suggestions() -> None:
    assert feel("Alien not really, though the graphics were great").mood == "neutral"
    assert analyze("not really, though the graphics were great", [], "Try Alien").mood == "rejecting"
    assert analyze("Is it in colour? Not that it matters", [], "Try Alien").mood == "neutral"


def test_too_much_for_someone_else_and_think_too_much_are_no_complaints() -> None:
    assert feel("Alien is probably too much for really little kids, but 10 and up would like it").items == {
        "alien": "like"}
    assert feel("Alien was too scary for me").items == {"alien": "dislike"}
    assert feel("Alien is good when you don't think too much of it").items == {"alien": "like"}


def test_a_comparison_without_its_subject_ranks_the_title_just_named_below() -> None:
    assert feel("I have seen Alien. Not as good as Titanic").items == {"alien": "dislike", "titanic": "neutral"}
    # A feeling already said stands: "great but not as good as" still likes it.
    assert feel("Alien is great but not as good as Titanic").items == {"alien": "like", "titanic": "neutral"}


def test_a_title_not_wanted_because_already_seen_is_no_dislike() -> None:
    assert feel("a movie about space, not Alien, seen that one already").items == {"alien": "neutral"}
    assert feel("a movie about space not Alien seen that one already").items == {"alien": "neutral"}
    assert feel("a movie about space, not Alien").items == {"alien": "dislike"}
    assert feel("I hated Alien, seen it already").items == {"alien": "dislike"}


def test_another_item_described_not_named_is_not_the_title_just_named() -> None:
    assert feel("Alien yes, I've seen it loads. The shark one not so much, it dragged").items == {"alien": "like"}
    assert feel("Alien was great but the 2021 film bored me").items == {"alien": "like"}
    assert feel("Saw Alien. The movie bored me").items == {"alien": "dislike"}  # "the movie" is Alien


def test_a_wish_is_no_feeling_about_the_suggestions() -> None:
    # "I'd like to talk to a person" had liked the four tents just suggested.
    assert analyze("I'd like to talk to a person", []).answer == "neutral"
    assert analyze("we would prefer a refund", []).answer == "neutral"
    # Liking them is still liking them.
    assert analyze("I like it", []).answer == "like" and analyze("yes, I'd love to watch it", []).answer == "like"
    # "Funny" in "something funny then" describes what is wished for: the six films before had been liked.
    assert analyze("something funny then", []).answer == "neutral"
    assert analyze("loved it, something similar please", []).answer == "like"
    assert analyze("yes, something like that", []).answer == "like"
    # What it is for describes the wish: "something lighter, it's for holiday reading" had liked
    # all six science books just suggested.
    assert analyze("something lighter, it's for holiday reading", []).answer == "neutral"
    assert analyze("it's a present for my wife", []).answer == "neutral"
    assert analyze("it's for my wife, she'd love it", []).answer == "like"


def test_someone_elses_taste_is_no_feeling_about_the_suggestions() -> None:
    # "What about for my dad, he likes history" had liked the six cooking books just suggested.
    for taste in ("what about for my dad, he likes history", "my sister loves cooking", "she's into jazz"):
        assert analyze(taste, []).answer == "neutral", taste
    # Their feeling about what was suggested still is one.
    for about_them in ("he loved it", "my dad likes the first one", "she'd love that"):
        assert analyze(about_them, []).answer == "like", about_them


def test_a_bad_mood_or_turning_picks_down_is_no_frustration_with_the_service() -> None:
    # "I'm in a bad mood" then "nah, too sad" had handed the conversation to a person.
    assert not is_negative("something to watch tonight, I'm in a bad mood", analyze("something to watch tonight, I'm in a bad mood", []))
    assert not is_negative("nah, too sad", analyze("nah, too sad", []))
    late = "This is awful, my order is late and nobody answers my emails"
    assert is_negative(late, analyze(late, []))
    # A wish whose words are negative asks for them ("something scary" had counted towards a
    # hand-off for frustration).
    scary = "actually make it something scary instead"
    assert is_negative(scary, analyze(scary, [])) and not is_negative(scary, analyze(scary, []),
                                                                      Understanding(tags=["scary"]))
    # A name the catalog lacks is no word of the person's: "Breaking Bad" had been "sorry to hear".
    named = "something like Breaking Bad"
    assert is_negative(named, analyze(named, [])) and not is_negative(
        named, analyze(named, []), Understanding(unknown=[Unknown(name="Breaking Bad", of="likeness")]))
    assert is_negative("this is useless, a scary film then", analyze("", []), Understanding(tags=["scary"]))


def test_putting_the_request_right_turns_no_pick_down() -> None:
    # "No wait, I meant a book, not a film" had disliked and turned down six films.
    corrected = analyze("no wait, I meant a book, not a film", [])
    assert (corrected.answer, corrected.mood) == ("neutral", "neutral")
    # "Not that scary" is a degree of what is wanted, "not that one" turns a pick down.
    assert analyze("not that scary though, I'm a wimp", []).mood != "rejecting"
    assert analyze("not that one", []).mood == "rejecting"


def test_a_wish_for_what_it_is_not_is_no_complaint_and_no_mood() -> None:
    # "Nothing too sad though" had disliked six albums and called the person down.
    wish = analyze("nothing too sad though", [])
    assert (wish.answer, wish.mood) == ("neutral", "neutral")
    complaint = analyze("it was too sad", [])
    assert complaint.answer == "dislike"
    assert analyze("I'm sad today", []).mood == "down"
    # Sad things wished for are no sadness: "I like sad movies" had been answered "Sending you
    # something comforting."
    for message in ("I like sad movies", "any sad books?", "a sad film please"):
        assert analyze(message, []).mood != "down", message


def test_choosing_one_answers_nothing_about_the_other_suggestions() -> None:
    # "ok I'll get the first one" had liked all six picks: its "ok" was an answer about them.
    first = FoundTitle("alien", 12, 25)  # "the first one", as the reader points at it
    chose = analyze("ok I'll get the first one", [first])
    assert chose.answer == "neutral" and chose.items == {"alien": "neutral"}
    assert analyze("ok great, loved the first one", [FoundTitle("alien", 16, 29)]).answer == "like"
