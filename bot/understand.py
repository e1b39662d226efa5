"""The turn's first stage: one message, with what came before it, becomes an `Understanding`.

Two readers:
- `LLMReader`: the LLM writes a `Draft` as JSON under a grammar (always well-formed), then
  `check_draft` keeps only what holds up against the catalog: titles resolve to item ids through
  the catalog's `TitleFinder` and must be items the conversation named; tags and categories map
  onto the catalog's vocabulary; prices and years must be sane numbers. What fails is dropped and
  logged, never trusted.
- the rules (`bot.profile.read_rules`, and the guard's, help desk's and hand-off's patterns for intents): the fallback
  when the LLM is off or its output is unusable, and the baseline it is measured against.

`Reader` takes each group of fields (bot.understanding.FIELDS) from the reader configured for it
(`UnderstandingConfig.llm_fields`): each group ships with whichever reader measured better.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from pydantic import ValidationError

import prompts
from bot.answers import FACTS, asked_compared, asked_facts, asked_whether, asked_words, asks_about_it, superlative
from bot.faithfulness import FUNCTION_WORDS
from bot.guard import refusal
from bot.handoff import asks_for_human
from bot.helpdesk import asks_remedy, asks_to_choose, choice_part, mentions_problem, tells_more
from bot.profile import (ALREADY_HAD, GEAR_KIND, GEAR_KINDS, OTHER_GEAR_WORD, OWNED, PLURAL, Vocabulary, for_a_child, read_rules,
                         suited_tags)
from bot.runtimes.base import LLMRuntime, LLMUnavailable, Message
from bot.sentiment import ITEM_NOUN, SEEN_IT, SETTLED, WISHED, Sentiment, analyze, without_titles
from bot.understanding import (
    CONSTRAINT_NAMES,
    FIELDS,
    Draft,
    Intent,
    ItemOpinion,
    ItemQuestion,
    Understanding,
    Unknown,
    draft_schema,
)
from retrieval.ranking import ORDERED, maker_of, of_kind, says, tag_categories
from retrieval.schemas import Item
from retrieval.titles import EVERYDAY_WORDS, FoundTitle, TitleFinder, split_year

log = logging.getLogger(__name__)

# The LLM's answer is short (a dozen fields at most); a cut-off answer fails to parse and falls back.
DRAFT_MAX_TOKENS = 96
# How much of the assistant's last reply the LLM reads: enough for the items it named.
ASSISTANT_CHARS = 300
# "the first", "the second one", "the latter": a suggestion by its place in the assistant's last
# reply, which names them in order ("the first time", "the last Hangover" are not); one beside
# another ("the first or the second?").
_PLACE = r"(first|second|third|fourth|fifth|last|former|latter)"
ORDINAL = re.compile(rf"\bthe {_PLACE}(?: one\b|(?=\s*(?:[.,;:!?]|$))|(?=\s+(?:is|was|sounds|looks)\b)"
                     rf"|(?=\s+(?:or|and) the {_PLACE}\b))", re.I)
ORDINAL_PLACES = {"first": 0, "former": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1, "latter": -1}
# "The first two", "the last three", "the top 2", "both of the first ones": several suggestions
# by their places.
FIRST_FEW = re.compile(r"\b(?:the (?P<end>first|top|last) (?P<few>two|three|2|3)|both (?:of )?the (?P<ends>first|top|last)"
                       r"(?: ones| two)?)\b", re.I)
FEW = {"two": 2, "three": 3, "2": 2, "3": 3}
# "the shark one", "the Spielberg film", "the 2021 one", "the one with the shark": an item
# described by its own words.
DESCRIBED = re.compile(rf"\bthe (?:((?:[\w'’-]+ ){{1,3}}?)({ITEM_NOUN})\b|"
                       rf"({ITEM_NOUN}) (?:with|about) (?:the |a |an )?([\w'’-]+))", re.I)
# Words that tell no item from another by what it is ("the other one", "the new film").
VAGUE = {"other", "new", "newer", "old", "older", "same", "next", "last", "first", "second", "third", "whole",
         "only", "good", "great", "bad", "best", "worst", "better", "original", "latest", "recent", "very",
         "really", "most", "more"}
# Words no description is made of: "the movie was one of the best" describes nothing.
NOT_DESCRIBING = {"a", "an", "the", "this", "that", "these", "those", "it", "one", "i", "you", "your", "my",
                  "is", "was", "are", "were", "be", "been", "has", "had", "have", "do", "did", "does", "of",
                  "in", "on", "at", "to", "for", "with", "and", "or", "but", "as", "so", "not", "no"}
WORD = re.compile(r"[\w'’-]+")
# Where a clause ends, for the categories a clause asks for on its own.
CLAUSE = re.compile(r"[,;.!?:]|\b(?:and|but|while|plus)\b", re.I)
# The maker of an item the message points at: "by the same author", "more by her", "anything else
# from that brand" (`RuleReader._makers`).
SAME_MAKER = re.compile(
    r"\b(?:what else (?:did|has|have|does|do) (?:he|she|they|that (?:author|writer|director|artist|band|singer|brand))|"
    r"(?:by|from) the same (?:author|writer|director|artist|band|singer|brand|maker|people)|"
    r"(?:more|anything|something|else|others?|stuff) (?:else )?(?:by|from) (?:him|her|them|that (?:author|writer|"
    r"director|artist|band|singer|brand))|same (?:author|writer|director|artist|band|singer|brand|maker))\b", re.I)
# Asking for an item by its name, right before the name ("do you have Dune?", "any Harry Potter
# books?", "I'm looking for The Hobbit", "what about Piranesi?"): the item itself is the answer.
# "Any" and "got" ask only at a clause's start ("I haven't seen any Star Wars" asks for none).
ASKING_FOR = re.compile(
    r"(?:(?:^|[.!?,;]\s*|\b(?:and|so|ok|okay|hi|hey|hello|also|then)\s+)(?:got\s+)?any|"
    r"\bdo (?:you|u) (?:have|sell|stock|carry)(?: any)?|\bhave (?:you|u) got(?: any)?|\b(?:is|are) there(?: any)?|"
    r"\b(?:i['’]?m|i am|we['’]?re|we are) (?:looking|searching) for|\b(?:i|we) (?:want|need)|"
    r"\b(?:i|we)['’]?d like|\b(?:can|could|may) (?:i|we) (?:get|buy|have|order)|\b(?:what|how) about|"
    r"\bshow me|\bfind me)\s+(?:the |a |an |some |a copy of )?$", re.I)
# A name asked for, written as names are (capitalized): whose things ("anything by Queen?",
# "something by Ed Sheeran") or a title as the whole of what a shop is asked for ("do you have
# Frozen?"; not "do you have Kindle versions?"). Where the catalog has no such title or maker,
# the reply says so (`RuleReader._unknown`).
NAME = r"((?:[Tt]he\s+)?)([A-Z][\w'’.&-]*(?:\s+(?:(?:of|the|and|&|de|van|von|la)\s+)*[A-Z][\w'’.&-]*)*)"
ASKED_BY = re.compile(r"(?i:\b(?:anything|something|stuff|more|music|songs?|albums?|records?|books?|novels?|films?|"
                      rf"movies?)\s+(?:else\s+)?by)\s+{NAME}")
ASKED_NAME = re.compile(r"(?i:\bdo (?:you|u) (?:have|sell|stock|carry)|\bhave (?:you|u) got)(?i:\s+any)?\s+"
                        rf"{NAME}(?=\s*(?:[?.!,;]|$)|\s+(?i:please|pls|in stock|at all)\b)")
BOTH = re.compile(r"\bboth\b", re.I)
# A name whose likes are asked for ("something like Breaking Bad", "anything similar to The Wire?").
ASKED_LIKE = re.compile(r"(?i:\b(?:something|anything|stuff|more|others?|ones?|films?|movies?|books?|shows?)\s+"
                        r"(?:(?:a bit|a little|kind of|sort of)\s+)?(?:like|similar to))\s+"
                        rf"{NAME}(?=\s*(?:[?.!,;]|$)|\s+(?i:please|pls|but|for|or)\b)")
# Kinds of thing people ask a media and outdoor shop for that a catalog may have no category of
# ("any good podcasts?"): the reply says it has none (`RuleReader._unknown`).
OTHER_KINDS = re.compile(r"\b(?:podcasts?|video ?games?|computer games?|board ?games?|tv (?:shows?|series)|"
                         r"box ?sets?|magazines?|comics?|toys?)\b", re.I)
# A clause that asks for the thing named after it: "any good podcasts?", "and some gloves?".
ASKS_FOR_NEXT = re.compile(r"^\W*(?:and|what about|how about)\b", re.I)
ASKS_FOR_KIND = re.compile(r"\b(?:any|some|an?|recommend|suggest|looking for|do (?:you|u) (?:have|sell|stock)|got|need|want|"
                           r"good|great|best|new)\b", re.I)
# Category words that say what one does with an item, or how it sounds, not what it is: said in a
# question about an item ("has anyone read it?", "is it instrumental?"), they ask for nothing of
# its category.
CONSUMING = frozenset({"read", "reading", "watch", "watching", "listen", "listening", "instrumental", "instrumentals"})
# Capitalized words that open no name ("Do you have Anything...").
NOT_NAMES = frozenset({"anything", "something", "stuff", "ideas", "suggestions", "recommendations", "everything"})
# A name alone ("Dune", "dune?", "The Hobbit please") asks for it, as a shop's search box would,
# unless it answers the assistant's question ("What did you last enjoy?" "Dune").
NAME_ALONE = re.compile(r"[\s.!?,]*(?:please|pls|thanks)?[\s.!?]*", re.I)
# What the person's friends shared, asked for: "what are my friends into lately?", "anything my
# friends loved that I haven't seen?", "my friends' favourites" (not "my friend's birthday", "a
# film to watch with my friends", "something for my friends").
FRIENDS_PICKS = re.compile(r"\b(?:what(?:['’]s| is| are| do| did| have)?|any(?:thing)?|some(?:thing)?|stuff|things|which)\b"
                           r"[^.?!]{0,25}\b(?<!for )(?<!with )(?<!to )(?<!and )my friends\b(?!['’]s? (?:birthday|party|wedding))"
                           r"|\bmy friends['’] (?:favou?rites?|picks?|likes?|recommendations?)\b"
                           r"|\b(?:popular|trending) (?:with|among) my friends\b", re.I)
# Some of the picks just shown, asked for again with more to it ("any of those under 10?").
OF_THOSE = re.compile(r"\b(?:any|which|one|some|either|none|anything) of (?:those|these|them|the above|their picks)\b", re.I)
# "No, I meant the film, not the book": the item named before, of another category.
MEANT = re.compile(r"\b(?:i|we) meant (?:the |a |an )?(\w+(?:\s\w+)?)", re.I)
# A maker named as what someone likes ("I love Radiohead", "a big fan of Le Guin", "something like
# Radiohead"), right before the name: a taste, not a request ("I'd like some Radiohead" asks).
# Having had them all ("she's read all the Agatha Christie ones", "I've seen every Nolan film") is
# a taste too: their things are hers already, not what she asks for.
LIKED_MAKER = re.compile(r"(?:\b(?:i|we|he|she|they|[a-z]+ and i)\s+(?:really\s+|absolutely\s+|just\s+|also\s+)?"
                         r"(?:love|loved|like|liked|adore|adored|enjoy|enjoyed|dig)|\bfan of|\binto|"
                         r"\b(?:something|anything|stuff|music|books?|films?) like|"
                         # "I've been listening to a lot of Radiohead lately", "I've been reading a lot of King"
                         r"\b(?:listening to|listened to|reading|read|watching|watched)\s+(?:a lot of|lots of|loads of|plenty of)|"
                         r"\b(?:read|seen|watched|heard|has|have|got|owns?)\s+(?:all|every|everything|each)\b"
                         r"(?:\s+(?:of\s+)?(?:the|his|her|their))?(?:\s+(?:\w+\s+)?by)?)\s+$", re.I)
# What joins a list of makers liked together ("Radiohead and Bon Iver", "Radiohead, Bon Iver").
LIST_GOES_ON = re.compile(r"\s*(?:,|\band\b|&|\bor\b)\s*(?:(?:also|maybe)\s+)?", re.I)
# How many items a question naming none is about: the picks a reply writes about.
WRITTEN_ABOUT = 3
SMALLTALK = ("hi", "hello", "hey", "thanks", "thank you", "bye", "goodbye", "good morning", "good evening")
# A thank-you, a goodbye or a choice made, and nothing more ("thanks!", "great, thanks a lot",
# "cheers, that's all for now", "perfect, I'll take it"): the person is closing, not asking for
# more, whatever it says of the last picks ("ok let's go with that, thanks!").
THANKS = r"(?:many )?thanks?(?: you)?(?: (?:so|very) much| a lot| again| a bunch)?|thx|ty|cheers|much appreciated"
THE_ONE = (r"the (?:first|second|third|last|other|cheaper|cheapest|lighter|lightest|shorter|longer|newer|older|"
           r"bigger|smaller) one")
# A choice made: "I'll take the first one", or the one alone, settled ("haha ok. the first one
# then", read with the pick named as "it"; "ok the cheaper one please").
CHOSEN = (r"(?:(?:i|we)['’]?ll|(?:i|we) will|let['’]?s) (?:take|buy|get|order|grab|go (?:with|for)|read|watch|try) "
          rf"(?:it|that|this|that one|this one|{THE_ONE})(?: too| as well| then)?"
          rf"|(?:it|{THE_ONE}),? {SETTLED}|that['’]?s the one|sold")
PLEASANTRY_ONLY = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|great|cool|perfect|awesome|lovely|nice|brilliant|excellent|super|right|alright|fine|"
    r"lol|haha\w*)\W+){0,2}"
    rf"(?:{THANKS}|{CHOSEN}|bye|goodbye|see you)"
    rf"(?:\W+(?:that['’]?s (?:all|it)(?: for (?:now|today|tonight))?|{THANKS}|bye|goodbye|see you))*\W*$", re.I)
# The reason a ranked reply gives its first pick for a request in order ("the cheapest of what fits").
ORDERED_SAID = re.compile(re.escape(ORDERED.split(",")[0]).replace(re.escape("{word}"), r"[\w -]+?"))
# Questions that are small talk, not a request ("hey, how's it going?").
SMALLTALK_QUESTION = re.compile(r"\b(?:how(?:['’]?s| is) it going|how are (?:you|things)(?: doing)?|"
                                r"how(?:['’]?s| is| was) your (?:day|week|weekend)|what['’]?s up)\b\s*\?", re.I)
# Words that greet, ask for suggestions or leave the choice to Kith, and describe nothing wanted
# ("hi", "what do you recommend?", "surprise me", "anything good?"): no query for the catalog,
# where the nearest neighbours of "hi" had been "Won't You Be My Neighbor?".
ASKING_ONLY = frozenset(
    "hi hello hey hiya morning afternoon evening good great nice cool fine sure well please pls thanks thank "
    "recommend recommendation recommendations suggest suggestion suggestions show tell give want need looking look "
    "find get got like love something anything stuff thing things else new surprise choose pick decide mind "
    "whatever idea ideas not no don't dont do doesn't matter".split())


@dataclass(frozen=True)
class Said:
    """One message to understand, with what the reader may look at."""

    message: str
    # The assistant's last reply ("" at the start) and the items it named.
    assistant: str = ""
    suggested: tuple[str, ...] = ()
    # Items the conversation named before this message: an opinion may be about one of them.
    named_before: tuple[str, ...] = ()
    # Items the assistant's last reply answered questions about ("how long is the second one?").
    answered: tuple[str, ...] = ()
    # The last reply answered no request with the picks: it asked what the person is after (the
    # picks it listed meanwhile), or answered a problem (the picks are an earlier turn's). A
    # feeling said without naming them ("ok thanks", "ok fine") is not about them.
    aside: bool = False
    # The suggestions are the cards of Kith's own ranked reply, not items a recommender named in
    # words (ReDial's, a scripted line): a message without a feeling is about them only where it
    # points at them ("I have wide feet" after two boots likes neither).
    ranked: bool = False
    # The suggestions are what the person's friends shared liking (they asked for them): "any of
    # those under 10?" asks among them again.
    friends_picks: bool = False
    # The last reply answered a problem from the help centre: a question that asks for nothing of
    # its own ("how long will that take?") follows the problem up.
    after_help: bool = False
    # The first pick of each reply with picks before the last one, the latest first: "both" after
    # "a backpack" and "and a sleeping bag?" is the first pack and the first bag.
    earlier_firsts: tuple[str, ...] = ()


def mentions_in(message: str, suggested: Sequence[str], finder: TitleFinder) -> list[FoundTitle]:
    """The catalog titles a message names, and the suggestions it points at by their place ("Read
    the first, it was great"; only among two or more, where a place tells them apart)."""
    found = list(finder.find(message))
    if len(suggested) < 2:
        return found
    for match in ORDINAL.finditer(message):
        place = ORDINAL_PLACES[match.group(1).lower()]
        if place < len(suggested) and not _inside(match, found):
            found.append(FoundTitle(suggested[place], match.start(), match.end()))
    for match in FIRST_FEW.finditer(message):
        few = FEW[(match.group("few") or "two").lower()]
        places = suggested[-few:] if (match.group("end") or match.group("ends")).lower() == "last" else suggested[:few]
        if not _inside(match, found):
            found += [FoundTitle(item_id, match.start(), match.end()) for item_id in places]
    return sorted(found, key=lambda title: title.start)


def described_in(message: str, found: Sequence[FoundTitle], said: Said, items: Mapping[str, Item],
                 vocabulary: Vocabulary) -> list[FoundTitle]:
    """The items the message describes without naming them ("the shark one", "the 2021 film",
    "the one with the shark"): each describing word must be the item's (`_describes`), and
    exactly one item of the nearest group that has any must fit them all. The groups, nearest first: the items going
    by a name the message says ("Dune the book was amazing, the 2021 film bored me"), the
    assistant's last suggestions, the items named earlier in the conversation."""
    groups = [[other for title in found for other in title.same_name if other != title.item_id],
              list(said.suggested), list(said.named_before)]
    described = []
    for match in DESCRIBED.finditer(message):
        words = [word for word in (match.group(1) or match.group(4)).lower().split() if word not in VAGUE]
        if not words or NOT_DESCRIBING.intersection(words) or _inside(match, found):
            continue
        categories = {name for name, _ in vocabulary.categories.find(match.group(2) or match.group(3))}
        for group in groups:
            fitting = {item_id for item_id in group if item_id in items
                       and (not categories or items[item_id].category in categories)
                       and all(_describes(word, items[item_id], vocabulary) for word in words)}
            if fitting:
                if len(fitting) == 1:
                    described.append(FoundTitle(fitting.pop(), match.start(), match.end()))
                break
    return described


def _describes(word: str, item: Item, vocabulary: Vocabulary) -> bool:
    """Whether `word` describes `item`: its year or decade ("2021", "80s"), a word of its title,
    description or maker, or a tag of its (by any word the catalog's vocabulary knows for it:
    "scary" for horror)."""
    year = item.attributes.get("year") or split_year(item.title)[1]
    if isinstance(year, int) and word in {str(year), f"{year // 10 % 10}0s", f"{year // 10 * 10}s"}:
        return True
    tags = {tag for name, _ in vocabulary.tags.find(word) for tag in vocabulary.tags.kin(name)}
    if tags & set(item.tags):
        return True
    stem = word.removesuffix("'s").removesuffix("’s").rstrip("s")
    text = " ".join([item.title, item.description, str(item.attributes.get("creator", ""))]).lower()
    return any(other.rstrip("s") == stem for other in WORD.findall(text))


def _inside(match: re.Match[str], titles: Sequence[FoundTitle]) -> bool:
    return any(title.start < match.end() and match.start() < title.end for title in titles)


# Words that ask for things not shown yet ("another tent", "show me more", "something else",
# "anything different?"): what was shown comes after every fresh item (RankRequest.fresh_first).
NEW_ONES = re.compile(r"\b(?:another|more|else|other|others|different|alternatives?|instead|new ones?|next)\b", re.I)


def asks_among_those(message: str) -> bool:
    """Whether the message asks among the picks just shown ("any of those under 10?")."""
    return bool(OF_THOSE.search(message))


def asks_for_new(message: str) -> bool:
    """Whether the message asks for things not shown yet: in so many words (NEW_ONES), by saying
    the picks were seen ("seen all of those tbh": SEEN_IT), or a wish of its own ("something
    lighter now": WISHED), not only a word about what was shown ("I've read Gone Girl, loved it")."""
    return bool(NEW_ONES.search(message) or SEEN_IT.search(message) or WISHED.search(message))


# What someone has already, to the end of its clause ("I already have boots"), or the thing they
# have ("we have a tent already"): nothing wanted.
HAD = re.compile(ALREADY_HAD + rf"[^,.;!?]*|{OWNED}" + GEAR_KIND.pattern + r"(?:\s+already)?", re.I)


def describes(message: str) -> bool:
    """Whether the message says anything of what the person wants: a word beyond the function
    words and ASKING_ONLY, outside what they have already."""
    words = (w.replace("’", "'").removesuffix("'s") for w in WORD.findall(HAD.sub(" ", message).lower()))
    return any(w not in FUNCTION_WORDS and w not in ASKING_ONLY for w in words)


def opens_with_smalltalk(message: str) -> bool:
    """Whether the message begins with a greeting, a thank-you or a goodbye."""
    words = message.lower().strip(" !.?,").split()
    return bool(words) and (" ".join(words[:2]) in SMALLTALK or words[0].strip("!,.") in SMALLTALK)


def rule_intents(said: Said, u: Understanding, named: Collection[str], wish_met: bool = False) -> list[Intent]:
    """Intents by the patterns of prompts/support.toml: a refusal, a problem, a wish for a person;
    an opinion about what was just suggested is feedback; small talk by its first words; a
    thank-you or goodbye and nothing more is small talk only (the person is closing: their
    thanks still counts as liking the picks, which on ReDial measures better than not); the
    rest asks for suggestions. `named`: the items the message names; `wish_met`: its only wish
    is why it asks about them, and they meet it (RuleReader._wish_met)."""
    message = said.message
    if refusal(message):
        return ["subvert"]
    intents: list[Intent] = []
    closing = bool(PLEASANTRY_ONLY.match(message))
    # A question, a remedy or more about the matter right after a help answer, asking for nothing
    # of its own ("how long will that take?", "I want my money back", "it was 20 dollars less"),
    # follows the problem up, as a problem of its own does.
    follows_up = (said.after_help and not closing and not u.questions and not u.has_wishes(about_an_item=True)
                  and ("?" in SMALLTALK_QUESTION.sub("", message) or asks_remedy(message) or tells_more(message))
                  and not asks_to_choose(message))
    problem = mentions_problem(message) or follows_up
    if problem:
        intents.append("help")
    if asks_for_human(message):
        intents.append("human")
    smalltalk = closing or opens_with_smalltalk(message)
    # Anything beyond the opinion or the pleasantry (a category, a taste, a budget) asks for more;
    # a choice made asks for nothing ("I'll watch it" names no wish for films).
    wishes = not closing and not wish_met and u.has_wishes(about_an_item=bool(u.questions))
    # A question about an item asks for its answer, not for more picks.
    asks_more = wishes or "?" in SMALLTALK_QUESTION.sub("", message) and not u.questions
    # An opinion about a suggestion is feedback. The reading of a message that names none of them
    # ("yes, loved it") is, unless the message brings wishes of its own: "actually I do like
    # horror, go for it" is about horror.
    # A question about a suggestion ("how much is the first one?") is no opinion of it.
    feedback = not closing and (u.rejects_suggestions or any(o.item_id in said.suggested
                                                             and (o.item_id in named or not wishes)
                                                             and not (u.questions and o.feeling == "neutral")
                                                             for o in u.opinions))
    if "human" not in intents and (asks_to_choose(message)
                                   or not problem and (asks_more or not (feedback or smalltalk or u.questions))):
        intents.append("recommend")
    if feedback:
        intents.append("feedback")
    if smalltalk:
        intents.append("smalltalk")
    return intents


class Makers:
    """The catalog's makers (retrieval.ranking.maker_of) named in text: a name of several words in
    any case ("andy weir"), a one-word name as written ("Radiohead"; "pop culture" names no band
    Culture), or a last name alone where it is capitalized, no everyday word and no other maker's
    ("Spielberg", "Miyazaki"), and not after another first name ("Norah Jones")."""

    def __init__(self, items: Iterable[Item]):
        self._categories: dict[str, set[str]] = {}
        self.items: dict[str, list[str]] = {}  # each maker's things
        for item in items:
            if maker := maker_of(item):
                self._categories.setdefault(maker, set()).add(item.category)
                self.items.setdefault(maker, []).append(item.id)
        names = sorted(self._categories)
        last = {name: name.split()[-1] for name in names if " " in name}
        taken = Counter(last.values())
        self._names = {name.lower(): name for name in last}
        self._words = {name: name for name in names if name not in last}
        self._last_names = {word for name, word in last.items()
                            if taken[word] == 1 and len(word) >= 4 and word.lower() not in EVERYDAY_WORDS}
        self._words.update({word: name for name, word in last.items() if word in self._last_names})
        self._any_case = _alternatives(self._names, re.I)
        self._as_written = _alternatives(self._words, 0)

    def find(self, text: str) -> list[tuple[str, re.Match[str]]]:
        """The makers named, each with where (in order, each once)."""
        found = [(self._names[m.group().lower()], m) for m in self._any_case.finditer(text)] if self._names else []
        # A last name after a first name that is not the maker's is someone else's ("Norah Jones"
        # is no Terry Jones).
        found += [(self._words[m.group()], m) for m in self._as_written.finditer(text)
                  if not (m.group() in self._last_names and _first_name_before(text, m.start()))] if self._words else []
        first: dict[str, re.Match[str]] = {}
        for name, match in sorted(found, key=lambda pair: pair[1].start()):
            first.setdefault(name, match)
        return list(first.items())

    def categories(self, makers: Iterable[str]) -> list[str]:
        """The categories of the makers' things."""
        return sorted({category for maker in makers for category in self._categories.get(maker, ())})


def _first_name_before(text: str, at: int) -> bool:
    """Whether a name's first word stands right before `at`: a capitalized word that is no
    everyday word ("Norah Jones"; not "Loved Spielberg's films")."""
    before = re.search(r"\b([A-Z][\w'’-]*)\s+$", text[:at])
    return bool(before) and before.group(1).lower() not in EVERYDAY_WORDS


def _alternatives(keys: Collection[str], flags: int) -> re.Pattern[str]:
    """One pattern matching any of `keys` as whole words, the longest first."""
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) + r")(?!\w)",
                      flags)


class RuleReader:
    def __init__(self, vocabulary: Vocabulary, finder: TitleFinder, today: Callable[[], date] = date.today,
                 items: Mapping[str, Item] | None = None):
        self.vocabulary = vocabulary
        self.finder = finder
        self.today = today
        self.items = items or {}
        self.makers = Makers(self.items.values())
        # Each tag's categories: the only one that carries a tag is what a clause asking for that
        # tag alone asks for (`_categories_of_clauses`).
        self.tag_categories = tag_categories(self.items.values())

    def mentions(self, message: str, said: Said) -> list[FoundTitle]:
        """The items a message names, points at by place among the suggestions, or describes."""
        found = mentions_in(message, said.suggested, self.finder)
        described = described_in(message, found, said, self.items, self.vocabulary)
        return sorted([*found, *described], key=lambda title: title.start)

    def read(self, said: Said, sentiment: Sentiment, mentions: Sequence[FoundTitle]) -> Understanding:
        message = said.message
        # The words of a title are a name: "Saving Private Ryan" asks for nobody's private
        # activity, "The Dark Knight Returns" returns nothing.
        plain = replace(said, message=without_titles(message, mentions))
        # A problem's words ("my boots arrived damaged") say nothing about taste.
        about_choice = choice_part(message) if mentions_problem(plain.message) else message
        if about_choice != message:
            mentions = self.mentions(about_choice, said)
            sentiment = analyze(about_choice, list(mentions), said.assistant)
        meant = self._meant(said)
        if meant:
            return meant
        # What the last reply named, in order: the item an answer was about, or the picks it wrote about.
        if said.ranked:
            # Of Kith's own reply, the picks and what an answer was about, not the titles its
            # reasons name ("Try X, because you liked Y": "how big is it?" asks about X). Its
            # titles are quoted whole, so they are found as written: "Try 1989 —" names the
            # album, which the finder, reading people's words, takes for a year.
            last_named = self._quoted(said.assistant, [*said.suggested, *said.answered])
            if ORDERED_SAID.search(said.assistant):
                # The first of a request in order is its answer ("Try X, the cheapest of what
                # fits"): "is it waterproof?" asks about X, not the picks after it.
                last_named = last_named[:1]
        else:
            last_named = list(dict.fromkeys(found.item_id for found in self.finder.find(said.assistant)))
        makers, liked_makers = ([], []) if mentions_problem(plain.message) else self._makers(plain, mentions, last_named)
        asked = self._asked_for(about_choice, said, mentions)
        # A superlative ("the cheapest", "the latest") asks for an order, or compares the picks:
        # it wishes for no budget gear, no recent years, no short ones. Its words are blanked (the
        # titles' places stay where they are).
        said_superlative = superlative(about_choice)
        wishes = about_choice
        if said_superlative:
            start, end = said_superlative[2].span()
            wishes = about_choice[:start] + " " * (end - start) + about_choice[end:]
        u = read_rules(wishes, sentiment, self.vocabulary, () if said.aside else said.suggested, self.today(), mentions,
                       self.items, last_named,
                       sorted({*self.makers.categories([*makers, *liked_makers]),
                               *(self.items[item_id].category for item_id in asked),
                               # "My dad loved The Martian, what else would he like?": books (of a
                               # pick, "Alien yes, the shark one no" is feedback, no request)
                               *(self.items[mention.item_id].category for mention in mentions
                                 if sentiment.items.get(mention.item_id) == "like" and mention.item_id in self.items
                                 and mention.item_id not in said.suggested)}),
                       # What the answer named of what was asked ("of these, the cheapest is X": X).
                       [item_id for item_id in last_named if item_id in said.answered], ranked=said.ranked)
        if about_choice != message and not u.categories:
            # "How do I send back boots that don't fit? Which ones would suit wide feet?": the
            # problem names the kind of thing the choice is about.
            u.categories = sorted({name for name, _ in self.vocabulary.categories.find(plain.message)})
        u.categories = sorted({*u.categories, *self._categories_of_clauses(wishes, u)})
        if refusal(plain.message) or not about_choice:
            u = Understanding()  # a refusal, or a message only about a problem, says nothing about taste
        elif not mentions_problem(plain.message):
            u.makers = makers
            # A maker liked is their things liked, as titles named with a feeling are.
            u.opinions += [ItemOpinion(item_id=item_id, feeling="like") for maker in liked_makers
                           for item_id in self.makers.items[maker] if item_id not in {o.item_id for o in u.opinions}]
            self._read_questions(u, plain, mentions, last_named)
            if not u.questions:
                # Asked for, an item still counts as liked where no feeling is said (as any item
                # named: apply_understanding); measured on ReDial valid, not liking it lost one.
                u.asked_for = asked
                u.order = said_superlative[:2] if said_superlative else u.order  # else "lighter" (read_rules)
                u.from_friends = bool(FRIENDS_PICKS.search(plain.message)) or (
                    said.friends_picks and asks_among_those(plain.message) and not (u.categories or u.kinds))
                u.unknown = self._unknown(plain.message)
        if asks_for_human(plain.message):
            # "Ok, talk to a human then" gives up on the picks: its "ok" likes none of them.
            u.opinions = [o for o in u.opinions if o.item_id in {mention.item_id for mention in mentions}]
        u.intents = rule_intents(plain, u, {mention.item_id for mention in mentions}, self._wish_met(u))
        return u

    def _wish_met(self, u: Understanding) -> bool:
        """Whether the message's only wish is to avoid what it asks whether the items are, and
        none of them is: "is it on the sad side? I'm not in the mood to cry" of a film that is not
        sad asks for no new picks (the wish is still remembered). "Is it very romantic? my
        boyfriend hates soppy stuff" of a romance does."""
        asked = {tag for question in u.questions for tag in question.tags}
        return (bool(u.avoid) and set(u.avoid) <= asked
                and not u.model_copy(update={"avoid": []}).has_wishes(about_an_item=True)
                and not any(set(self.items[q.item_id].tags) & set(u.avoid) for q in u.questions if q.item_id in self.items))

    def _categories_of_clauses(self, message: str, u: Understanding) -> set[str]:
        """Beside the categories a message names, those its clauses ask for by a tag alone that
        only they carry: "history books for my dad, and my mum is into jazz" asks for books and
        music (no book is jazz), "a book about jazz" for books alone."""
        if not u.categories:
            return set()  # what no category is named for is answered from the categories carrying it
        asked = set()
        for clause in CLAUSE.split(message):
            if self.vocabulary.categories.find(clause):
                continue
            for tag, _ in self.vocabulary.find_tags(clause):
                carrying = self.tag_categories.get(tag, set())
                if tag in u.tags and len(carrying) == 1 and not carrying & set(u.categories):
                    asked |= carrying
        return asked

    def _makers(self, said: Said, mentions: Sequence[FoundTitle], last_named: Sequence[str]
                ) -> tuple[list[str], list[str]]:
        """The makers asked for, and those liked. Asked for: named ("anything by Miyazaki?"), or the
        maker of an item ("more by the same author as the first one": the item named, else the one
        the last reply named first, else the top suggestion); their things' categories are the
        request's where it names none ("some Radiohead" asks for music: read_rules's `implied`).
        Liked: named after a word of liking ("I love Radiohead and Bon Iver", "something like
        Radiohead"), a taste, not a request."""
        makers, liked = [], []
        end = None  # where the last liked maker's name ends: a list goes on liking
        for maker, match in self.makers.find(said.message):
            before = said.message[:match.start()]
            if LIKED_MAKER.search(before) or (end is not None and LIST_GOES_ON.fullmatch(said.message[end:match.start()])):
                liked.append(maker)
                end = match.end()
            else:
                makers.append(maker)
                end = None
        if not makers and not liked and SAME_MAKER.search(said.message):
            pointed = [mention.item_id for mention in mentions] or list(last_named) or list(said.suggested)
            makers = [maker for item_id in pointed[:1] if item_id in self.items
                      and (maker := maker_of(self.items[item_id]))]
        return makers, liked

    def _unknown(self, message: str) -> list[Unknown]:
        """What the message asks for that the catalog lacks: names (ASKED_BY, ASKED_NAME) that are
        no maker of its, no word of its categories, tags or kinds of gear, and, asked for as a
        maker, none its descriptions credit ("Pixar's love story"); and kinds of thing it has no
        category of (OTHER_KINDS) or no title of (OTHER_GEAR). `message` has its titles blanked."""
        unknown: list[Unknown] = []
        for pattern, of in ((ASKED_BY, "maker"), (ASKED_NAME, "title"), (ASKED_LIKE, "likeness")):
            for match in pattern.finditer(message):
                # "The Wire" as said; its first word after the article tells a name from a word.
                article, name = match.group(1), match.group(2)
                first = name.split()[0].lower()
                if (first in EVERYDAY_WORDS or first in NOT_NAMES or self.makers.find(name)
                        or self.vocabulary.categories.find(name) or self.vocabulary.find_tags(name)
                        or GEAR_KIND.search(name) or of == "maker" and self._credited(name)):
                    continue
                unknown.append(Unknown(name=article + name, of=of))
        # Kinds of thing a shop might sell that this catalog has no category of, asked for in a
        # clause naming none it has ("any good podcasts?"; not "my son loves video games").
        for clause in CLAUSE.split(message):
            unknown += [Unknown(name=match.group().lower(), of="category") for match in OTHER_KINDS.finditer(clause)
                        if ASKS_FOR_KIND.search(clause[:match.start()]) and not self.vocabulary.categories.find(clause)]
            # Gear no title of the catalog says ("and some gloves?").
            unknown += [Unknown(name=match.group().lower(), of="category") for match in OTHER_GEAR_WORD.finditer(clause)
                        if (ASKS_FOR_KIND.search(clause[:match.start()]) or ASKS_FOR_NEXT.match(clause))
                        and not any(says(item.title, match.group()) for item in self.items.values())]
        return unknown

    def _credited(self, name: str) -> bool:
        """Whether a description credits `name` with the item ("Pixar's love story", "by Queen")."""
        credit = re.compile(rf"(?:\b{re.escape(name)}['’]s?|\bby {re.escape(name)})\b")
        return any(credit.search(item.description) for item in self.items.values())

    def _meant(self, said: Said) -> Understanding | None:
        """"No, I meant the film, not the book": the item of the category meant that goes by the
        name of one named before (the latest), asked for instead of it, which is taken back; none
        of the picks is turned down."""
        match = MEANT.search(said.message)
        meant = {name for name, _ in self.vocabulary.categories.find(match.group(1))} if match else set()
        for item_id in reversed(said.named_before) if meant else ():
            if item_id not in self.items or self.items[item_id].category in meant:
                continue
            others = [other for found in self.finder.find(self.items[item_id].title) for other in found.same_name
                      if other in self.items and self.items[other].category in meant]
            if others:
                # What was said of the one named before holds for the one meant (a name said
                # without a feeling counts as liked: apply_understanding).
                return Understanding(intents=["recommend"], asked_for=others[:1], take_back=[item_id],
                                     categories=sorted(meant),
                                     opinions=[ItemOpinion(item_id=others[0], feeling="neutral")])
        return None

    def _asked_for(self, message: str, said: Said, mentions: Sequence[FoundTitle]) -> list[str]:
        """The items the message asks for by name ("do you have Dune?": `ASKING_FOR` before the
        name, or the name alone: NAME_ALONE), of the categories it names, if any: of the items
        going by that name, the one the name was read as, and one of each other category ("Dune"
        is a book and a film)."""
        categories = {name for name, _ in self.vocabulary.categories.find(message)}
        asked: list[str] = []
        for mention in mentions:
            alone = not message[:mention.start].strip(" \t\"'“”") and NAME_ALONE.fullmatch(message[mention.end:])
            if not mention.same_name or not (ASKING_FOR.search(message[:mention.start])
                                             or alone and not said.assistant.rstrip().endswith("?")):
                continue  # an item pointed at by its place or described is no name asked for
            by_category: dict[str, str] = {}
            for item_id in (mention.item_id, *mention.same_name):
                if item_id in self.items and (not categories or self.items[item_id].category in categories):
                    by_category.setdefault(self.items[item_id].category, item_id)
            asked += [item_id for item_id in by_category.values() if item_id not in asked]
        return asked

    def _read_questions(self, u: Understanding, said: Said, mentions: Sequence[FoundTitle],
                        last_named: Sequence[str]) -> None:
        """Questions about items ("how much is it?", "is the first one scary?", "which is the
        lightest?": a comparison of the picks) into `u`; what a question asks about ("is it
        scary?", "is it too long?") is no wish for horror or length.
        A question is about the items it names, else "it" is what the last reply named: an
        answer's item ("and who wrote it?"), or the picks it wrote about; "they" are the picks."""
        compared = asked_compared(said.message)
        between = self._first_shown_of_each(u, said, last_named) if compared and compared[2] else []
        if compared and said.suggested and (not (u.categories or u.kinds) or len(between) > 1):
            # "Which is the cheapest?" compares the picks, "which is cheaper, the harness or the
            # shoes?" the ones it names (where it names a kind or category of each, else a
            # superlative with one is a request: "what's the cheapest book?"); it wishes for no
            # budget gear, no recent years ("the latest"), no short ones, no harness.
            fact, most, _ = compared
            u.questions = [ItemQuestion(item_id=item_id, facts=[fact], most=most)
                           for item_id in (between or said.suggested) if item_id in self.items]
            u.tags, u.avoid, u.opinions, u.take_back, u.kinds, u.categories = [], [], [], [], [], []
            u.min_price = u.max_price = u.min_year = u.max_year = u.length = u.capacity = u.sleeps = None
            return
        start, end = asked_whether(said.message) or (0, 0)
        tags = sorted(self._kin(said.message[start:end], describing=True))
        facts = [fact for fact in FACTS if fact in asked_facts(said.message) or fact == "tags" and tags]
        if not facts and not asks_about_it(said.message):
            return  # no question, or one that asks for picks ("are there any cheaper ones?")
        if "rating" in facts and u.audience:
            # "Is the third one ok for my 6 year old?": whom it is for is why it asks, no wish; a
            # child's tags are asked about too ("Yes, ... is a family film. It is rated PG ...").
            for_whom = [tag for tag in u.tags if tag in suited_tags(u.audience)]
            u.tags = [tag for tag in u.tags if tag not in for_whom]
            if for_a_child(u.audience) and for_whom:
                tags = sorted({*tags, *for_whom})
                facts = [fact for fact in FACTS if fact in facts or fact == "tags"]
        by_kind = [] if mentions else self._shown_of_kind(u, said, last_named)
        if by_kind:
            # "Is the tent waterproof?" asks about the tent shown, and wishes for no tent.
            u.kinds, u.categories = [], []
        # "They", "both" after an answer about several ("which is cheaper, the harness or the
        # shoes?" / "how much for both together?") are those it answered about.
        plural = bool(PLURAL.search(said.message))
        asked = (list(dict.fromkeys(mention.item_id for mention in mentions)) or by_kind
                 or (list(said.answered) if plural and len(said.answered) > 1 else [])
                 or self._one_of_each(said)
                 or ([] if plural else list(last_named[:WRITTEN_ABOUT]))
                 or said.suggested[:WRITTEN_ABOUT])
        if not facts:
            # "Is it available as an audiobook?": a word for its own category wishes for nothing,
            # nor does an occasion or audience ("does it come gift wrapped?", "would it suit my dad?").
            own = {self.items[i].category for i in asked if i in self.items}
            wishes = u.model_copy(update={"categories": [c for c in u.categories if c not in own]})
            if wishes.has_wishes(about_an_item=True):
                return  # it asks for picks ("does it come cheaper, or a film like it?")
            u.categories = wishes.categories
        if "pick" in facts and not set(asked) <= set(said.suggested):
            # "Dune or Foundation, which would you pick?" of items never ranked: what people here
            # think of each, not "it came first", which no ranking said.
            facts = [fact for fact in facts if fact != "pick"] + ["reception"] * ("reception" not in facts)
        if "pick" in facts:  # "which one would you pick?": they are asked in the order they were ranked
            asked = sorted(asked, key=lambda i: said.suggested.index(i))
            # "Which is best for a 5 year old?": what it is for is what to pick by, no wish.
            tags = tags or list(u.tags)
        u.questions = [ItemQuestion(item_id=item_id, facts=facts, tags=tags,
                                    words=[] if facts else asked_words(said.message))
                       for item_id in asked if item_id in self.items]
        if "pick" in facts:
            # "Which is better, the first or the second?" chooses between them: its "better" is
            # no feeling about the other picks.
            u.opinions = [o for o in u.opinions if o.item_id in asked or o.item_id not in said.suggested]
        if u.questions:
            # Reading, watching or listening said of what it asks about ("has anyone here read the
            # first one?", "is it worth watching?") asks for nothing of its category.
            own = {self.items[question.item_id].category for question in u.questions}
            named = {name for name, match in self.vocabulary.categories.find(said.message)
                     if match.group().lower() not in CONSUMING}
            u.categories = [category for category in u.categories if category not in own or category in named]
            # What the question asks about is no wish, unless the message says it elsewhere ("is
            # it romantic? my boyfriend hates soppy stuff" avoids romance).
            elsewhere = self._kin(said.message[:start] + said.message[end:])
            u.tags = [t for t in u.tags if t not in tags or t in elsewhere]
            u.avoid = [t for t in u.avoid if t not in tags or t in elsewhere]
            if "length" in facts:
                u.length = None
            if "capacity" in facts:
                u.sleeps = u.capacity = None  # "does the first one sleep four?" asks
            if "language" in facts:
                u.english_only = False  # "is the first one in English?" asks; it wishes for nothing
            if "instrumental" in facts:
                u.instrumental = False  # so does "is it instrumental?"
            if "rating" in facts:
                u.max_rating = None  # and "is the second one rated R?"

    def _kin(self, text: str, describing: bool = False) -> set[str]:
        """The catalog tags the text names, with their near-synonyms."""
        return {kin for tag, _ in self.vocabulary.find_tags(text, describing=describing)
                for kin in self.vocabulary.tags.kin(tag)}

    def _first_shown_of_each(self, u: Understanding, said: Said, last_named: Sequence[str]) -> list[str]:
        """The first item shown of each kind, else each category, a message names ("the harness
        or the shoes": the shoe the last reply named first, the harness an earlier one named)."""
        shown = [item_id for item_id in dict.fromkeys([*last_named, *said.suggested, *reversed(said.named_before)])
                 if item_id in self.items]
        firsts = ([next((i for i in shown if of_kind(self.items[i], GEAR_KINDS.get(kind, (kind,)))), None)
                   for kind in u.kinds] if u.kinds else
                  [next((i for i in shown if self.items[i].category == category), None) for category in u.categories])
        return list(dict.fromkeys(item_id for item_id in firsts if item_id))

    def _one_of_each(self, said: Said) -> list[str]:
        """"Both" of two kinds of thing: the first pick of each of the two the last picks hold ("a
        thriller book for me and a romantic film for my wife"), else of the last request and the
        one before it ("a backpack", then "and a sleeping bag?"), the latest first; none where
        those were of one kind (a refinement's: "something cheaper")."""
        shown = [item_id for item_id in said.suggested if item_id in self.items]
        if not (BOTH.search(said.message) and shown):
            return []
        firsts: dict[tuple[str, str | None], str] = {}
        for item_id in shown:
            firsts.setdefault(self._kind(item_id), item_id)
        if len(firsts) >= 2:
            return list(firsts.values())[:2]
        before = next((item_id for item_id in said.earlier_firsts[:1] if item_id in self.items), None)
        return [shown[0], before] if before and self._kind(before) != self._kind(shown[0]) else []

    def _kind(self, item_id: str) -> tuple[str, str | None]:
        """An item's category, and for gear its kind ("sleeping bag")."""
        item = self.items[item_id]
        return item.category, next((kind for kind, words in GEAR_KINDS.items() if of_kind(item, words)), None)

    def _quoted(self, text: str, item_ids: Sequence[str]) -> list[str]:
        """Of `item_ids`, those whose title `text` quotes, in the order it first does."""
        at = {}
        for item_id in dict.fromkeys(item_ids):
            if item_id in self.items and (quoted := re.search(
                    rf"(?<![\w$.]){re.escape(self.items[item_id].title)}(?!\w|\.\d)", text)):
                at[item_id] = quoted.start()
        return sorted(at, key=at.__getitem__)

    def _shown_of_kind(self, u: Understanding, said: Said, last_named: Sequence[str]) -> list[str]:
        """The items shown that a question names by their kind or category ("is the tent
        waterproof?", "how long is the film?"): the first of them the last reply named, or all
        where the word is plural ("are the tents waterproof?") or the question is of several
        ("do you have any of these on vinyl?")."""
        if not (u.kinds or u.categories):
            return []
        words = [word for kind in u.kinds for word in GEAR_KINDS.get(kind, (kind,))]
        shown = [item_id for item_id in dict.fromkeys([*last_named, *said.suggested]) if item_id in self.items
                 and (not u.categories or self.items[item_id].category in u.categories)
                 and of_kind(self.items[item_id], words)]
        said_words = [*u.kinds, *(match.group().lower() for _, match in self.vocabulary.categories.find(said.message))]
        several = any(word.endswith("s") for word in said_words) or PLURAL.search(said.message)
        return shown if several else shown[:1]


class LLMReader:
    def __init__(self, llm: Callable[[], LLMRuntime], vocabulary: Vocabulary, finder: TitleFinder,
                 categories: Sequence[str], instructed: bool = True, today: Callable[[], date] = date.today):
        self.llm = llm
        self.instructed = instructed
        self.vocabulary = vocabulary
        self.finder = finder
        self.categories = sorted(categories)
        self.today = today
        self._schema = draft_schema()

    def draft(self, said: Said) -> Draft | None:
        """The LLM's draft, or None where its answer does not parse (logged)."""
        text = self.llm().generate_json(understanding_messages(said, self.instructed), self._schema, DRAFT_MAX_TOKENS)
        try:
            return Draft.model_validate_json(text)
        except ValidationError as error:
            log.warning("understanding: the LLM's answer is not a valid draft (%s): %r", error.errors()[0]["msg"], text)
            return None

    def read(self, said: Said) -> Understanding | None:
        draft = self.draft(said)
        return None if draft is None else check_draft(draft, said, self.finder, self.vocabulary, self.categories,
                                                      self.today())


def understanding_messages(said: Said, instructed: bool = True) -> list[Message]:
    """The LLM's prompt for one message, then the message with the assistant's last reply.

    `instructed`: the task spelled out with worked examples, for a model not trained on it; an
    adapter trained by `kith finetune` learned the task from its answers and gets one line
    (a prompt of ~60 tokens instead of ~700)."""
    table = prompts.table("understand")
    if not instructed:
        return [{"role": "system", "content": table["trained_system"]},
                {"role": "user", "content": _shown(table, said.assistant[:ASSISTANT_CHARS], said.message)}]
    shots: list[Message] = []
    for example in table["examples"]:
        shots += [{"role": "user", "content": _shown(table, example["assistant"], example["message"])},
                  {"role": "assistant", "content": example["answer"]}]
    return [{"role": "system", "content": table["system"]}, *shots,
            {"role": "user", "content": _shown(table, said.assistant[:ASSISTANT_CHARS], said.message)}]


def check_draft(draft: Draft, said: Said, finder: TitleFinder, vocabulary: Vocabulary, categories: Sequence[str],
                today: date) -> Understanding:
    """The draft in catalog terms, keeping only what holds up; each thing dropped is logged."""
    dropped: list[str] = []
    # An opinion may be about an item named in this message, just suggested, or named before.
    in_message = [f.item_id for f in finder.find(said.message)]
    known = {*in_message, *said.suggested, *said.named_before}
    opinions: dict[str, ItemOpinion] = {}
    for opinion in draft.opinions:
        item_id = _resolve_title(opinion.title, finder, known)
        if item_id is None:
            dropped.append(f"opinion about {opinion.title!r} (no item the conversation named)")
            continue
        opinions[item_id] = ItemOpinion(item_id=item_id, feeling=opinion.feeling, seen=opinion.seen)

    def tags(words: Sequence[str], what: str) -> list[str]:
        found: list[str] = []
        for word in words:
            # A word the LLM wrote as a tag describes the thing wanted: a mood word ("sad") counts.
            names = [name for name, _ in vocabulary.tags.find(word) or vocabulary.moods.find(word)]
            if not names and word.lower() in vocabulary.tags.names:
                names = [word.lower()]
            if not names:
                dropped.append(f"{what} {word!r} (not a tag of this catalog)")
            found += [name for name in names if name not in found]
        return found

    chosen_categories = []
    for word in draft.categories:
        names = [name for name, _ in vocabulary.categories.find(word)] or ([word] if word in categories else [])
        if not names:
            dropped.append(f"category {word!r}")
        chosen_categories += [name for name in names if name not in chosen_categories]

    take_back: list[str] = []
    for word in draft.take_back:
        if word.lower() in CONSTRAINT_NAMES:
            take_back.append(word.lower())
        elif (item_id := _resolve_title(word, finder, known)) is not None:
            take_back.append(item_id)
        else:
            take_back += tags([word], "take_back")

    min_price, max_price = _number(draft.min_price, 0, 1e6), _number(draft.max_price, 0, 1e6)
    if min_price is not None and max_price is not None and min_price > max_price:
        dropped.append(f"price range {min_price}-{max_price}")
        min_price = max_price = None
    min_year, max_year = (_year(y, today) for y in (draft.min_year, draft.max_year))
    if min_year is not None and max_year is not None and min_year > max_year:
        dropped.append(f"years {min_year}-{max_year}")
        min_year = max_year = None
    u = Understanding(
        intents=list(dict.fromkeys(draft.intents)),
        opinions=list(opinions.values()),
        # Turning the suggestions down: feedback that dislikes some of them and likes none.
        rejects_suggestions="feedback" in draft.intents and {"dislike"} == {
            o.feeling for o in opinions.values() if o.item_id in said.suggested},
        categories=chosen_categories,
        tags=tags(draft.tags, "tag"),
        avoid=tags(draft.avoid, "avoid"),
        min_price=min_price, max_price=max_price, min_year=min_year, max_year=max_year,
        length=draft.length,
        occasion=_phrase(draft.occasion), audience=_phrase(draft.audience), mood=_phrase(draft.mood),
        take_back=take_back,
    )
    if dropped:
        log.info("understanding: dropped from the LLM's reading of %r: %s", said.message[:80], "; ".join(dropped))
    return u


def _resolve_title(title: str, finder: TitleFinder, known: set[str]) -> str | None:
    found = finder.find(title)
    for hit in sorted(found, key=lambda f: f.start - f.end):  # the longest match first
        for item_id in (hit.item_id, *hit.same_name):
            if item_id in known:
                return item_id
    return None


def _number(value: float | None, low: float, high: float) -> float | None:
    return float(value) if value is not None and low <= value <= high else None


def _year(value: int | None, today: date) -> int | None:
    return value if value is not None and 1800 <= value <= today.year + 1 else None


def _phrase(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def _shown(table: dict[str, object], assistant: str, message: str) -> str:
    shown = table["input"]
    assert isinstance(shown, dict)
    return (shown["with_assistant"] if assistant else shown["alone"]).format(assistant=assistant, message=message)


class Reader:
    """Each group of fields from its configured reader; the rules wherever the LLM fails."""

    def __init__(self, rules: RuleReader, llm: LLMReader | None, llm_fields: Sequence[str]):
        unknown = set(llm_fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown understanding fields {sorted(unknown)}; known: {sorted(FIELDS)}")
        self.rules = rules
        self.llm = llm
        self.llm_fields = tuple(llm_fields) if llm is not None else ()

    def read(self, said: Said) -> tuple[Understanding, Sentiment]:
        mentions = self.rules.mentions(said.message, said)
        sentiment = analyze(said.message, mentions, said.assistant)
        ruled = self.rules.read(said, sentiment, mentions)
        ruled.reader = {group: "rules" for group in FIELDS}
        read = None
        if self.llm_fields and self.llm is not None:
            try:
                read = self.llm.read(said)
            except LLMUnavailable:
                pass
        merged = ruled
        if read is not None:
            merged = ruled.model_copy(deep=True)
            for group in self.llm_fields:
                for name in FIELDS[group]:
                    setattr(merged, name, getattr(read, name))
                merged.reader[group] = "llm"
        return merged, _turning_down(sentiment, merged.rejects_suggestions)


def _turning_down(sentiment: Sentiment, rejects: bool) -> Sentiment:
    """The sentiment, turning the picks down where the understanding says the message does: the
    reply's tone and whether the turn failed to help follow it ("no horror please" turns down
    no picks, though its words open as a refusal's do)."""
    if rejects == (sentiment.mood == "rejecting"):
        return sentiment
    return replace(sentiment, mood="rejecting" if rejects else "neutral")
