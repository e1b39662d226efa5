"""Questions about an item ("how much is it?", "who directed the second one?", "is it long?"):
which facts a message asks for, and the answer, from the catalog's own record of each item, so
every fact in it is the item's (prompts/answers.toml holds the patterns and the sentences)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Literal

import prompts
from bot.faithfulness import FUNCTION_WORDS
from bot.understanding import Fact, ItemQuestion
from retrieval.ranking import MEASURES, Reception, says
from retrieval.schemas import Item

# In the order they are answered: what it is about first, then "It is $13.99."
# "total" ("how much for both together?") adds up the prices, after them.
FACTS: tuple[Fact, ...] = ("pick", "why", "about", "tags", "reception", "price", "total", "length", "year", "creator",
                           "rating", "weight", "capacity", "season", "instrumental", "language")
# The record's attributes that answer each fact, the first the item has.
ATTRIBUTES: dict[str, tuple[str, ...]] = {**MEASURES, "creator": ("creator", "brand"), "rating": ("rating",),
                                          "season": ("season",), "instrumental": ("instrumental",),
                                          "language": ("language",)}
# A question: a question mark, or a question word first ("how much is the first one").
QUESTION = re.compile(r"\?|^\W*(?:how|what|who|when|which|is|are|was|does|do|tell me)\b", re.I)
# Words a question may open with before it asks ("great, and is it...", "ok so which is...").
OPENING = r"^\W*(?:(?:and|so|but|ok|okay|great|cool|nice|perfect|thanks|hmm|right|also)\W+)*"
# A yes-or-no question about what an item is ("is the first one scary?", "are they funny?"): the
# catalog tags after it are asked about, not wished for.
IS_IT = re.compile(OPENING + r"(?:is|are|was|were|would|will)\s+"
                   r"(?:it|that|this|they|those|these|the \w+(?: one)?|the (?:first|second|third|last) one)\b", re.I)
# A question asked outright about an item, whatever it asks ("does the first one come in other
# sizes?", "what colours does it come in?"): where it asks no fact the record holds, the answer
# says so.
ABOUT_IT = re.compile(OPENING + r"(?:(?:does|do|did|is|are|was|were|can|could|will|would|has|have)"
                      r"\s+(?:(?:any|either|all|both|each) of (?:them|those|these)|"
                      r"it|that|this|they|those|these|the \w+(?: one)?|the (?:first|second|third|last) one)"
                      # "do you have any of these on vinyl?", "do you sell the first one in blue?"
                      r"|do you (?:have|sell|stock|carry|do) (?:(?:any|either|all|both|each) of )?"
                      r"(?:them|those|these|it|that|this|the (?:first|second|third|last) one)"
                      r"|(?:what|which|how)\b[^?.!,]{0,30}?\s(?:does|do|did|is|are|can|could|will|would)"
                      r"\s+(?:it|that|this|they|those|these|the (?:first|second|third|last) one)"
                      # "what's the comfort rating on the first one?"
                      r"|what(?:['’]s| is) the (?:[\w-]+ ){1,2}(?:on|of|for) (?:it|that|this|them|those|these"
                      r"|the (?:first|second|third|last) one))\b", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?])\s")
WORD = re.compile(r"[a-z][\w'’-]*", re.I)
# Words that ask, not what is asked about ("does the first one come in...", "is it available...").
ASKING_WORDS = FUNCTION_WORDS | {"come", "comes", "available", "get", "got", "one", "ones", "first", "second", "third",
                                 "last", "really", "actually", "and", "so", "ok", "great", "sounds", "looks", "know",
                                 "tell", "me", "please", "wonder", "wondering", "thing", "things", "hmm", "also",
                                 # what it is asked whether it is ("good for commuting?": commuting)
                                 "good", "suitable", "ideal", "fine", "decent", "right", "okay", "enough",
                                 # which of them ("are any of those part of a series?": series)
                                 "any", "either", "all", "both", "each", "part"}
CLAUSES = re.compile(r"[,;.!]\s*")
# Where a yes-or-no question may begin: after a stop or comma, or at "but" ("it looks good but is
# it long?").
WHETHER_CLAUSES = re.compile(r"[,;.!?]\s*|\s+(?=but\b)", re.I)
SENTENCE_STOP = re.compile(r"[.!?]")
# A comparison is asked with "which" or "what" ("which is the cheapest?", "what's the lightest one?"),
# or as a short question of its own ("and the cheapest?").
COMPARING = re.compile(OPENING + r"(?:which\b|what\b|the\b(?=[^?]{0,30}\?\W*$))", re.I)
COMPARING_WHICH = re.compile(OPENING + r"which\b", re.I)
THAN = re.compile(r"\s+than\b", re.I)
# What a request may ask for in order ("the cheapest book"), and what the picks may be compared
# by besides: what people here and the friends think ("which of those did they like most?").
ORDERS: tuple[Fact, ...] = ("price", "weight", "length", "year", "capacity")
COMPARED: tuple[Fact, ...] = (*ORDERS, "reception")
Most = Literal["least", "most"]
MOSTS: tuple[Most, ...] = ("least", "most")
# What a reply calls an item of each category ("a war film", "ultralight outdoor gear").
CATEGORY_NOUNS = {"books": "book", "films": "film", "music": "album", "outdoor": "outdoor gear"}
UNCOUNTABLE = frozenset({"outdoor gear"})  # "ultralight outdoor gear", not "an ultralight outdoor gear"


def asked_facts(message: str) -> list[Fact]:
    """The facts a message asks about an item, in FACTS order; none outside a question. A total
    asks for the prices it adds up."""
    if not QUESTION.search(message):
        return []
    asked = {fact for fact in FACTS if fact != "tags" and prompts.patterns("answers", "asks", fact).search(message)}
    return [fact for fact in FACTS if fact in asked or fact == "price" and "total" in asked]


def asked_whether(message: str) -> tuple[int, int] | None:
    """Where the words are that a yes-or-no question asks about an item ("is the first one
    scary?": " scary"), in which catalog tags are asked about: up to the question's end, in any
    clause ("the third looks good but is it very romantic?"); None for any other message."""
    if QUESTION.search(message):
        for start, clause in _whether_clauses(message):
            if match := IS_IT.match(clause):
                begin = start + match.end()
                stop = SENTENCE_STOP.search(message, begin)
                return begin, stop.start() if stop else len(message)
    return None


def _whether_clauses(message: str) -> Iterator[tuple[int, str]]:
    """The message's clauses where a yes-or-no question may begin, each with where it starts."""
    start = 0
    for end in WHETHER_CLAUSES.finditer(message):
        yield start, message[start:end.start()]
        start = end.end()
    yield start, message[start:]


def asks_about_it(message: str) -> bool:
    """Whether the message asks something outright about an item ("does it come in blue?"), in
    any of its clauses ("ok the first one sounds good, is it available in paperback?")."""
    return bool(QUESTION.search(message)) and any(ABOUT_IT.match(clause) for clause in CLAUSES.split(message))


def asked_words(message: str) -> list[str]:
    """What a question asked outright about an item asks about, in its words ("ok great, is it
    breathable?": ["breathable"]); the words of its question clauses (ABOUT_IT) but those that ask."""
    clauses = [clause for clause in CLAUSES.split(message) if ABOUT_IT.match(clause)]
    return list(dict.fromkeys(word.lower() for clause in clauses for word in WORD.findall(clause)
                              if word.lower() not in ASKING_WORDS))


def described(item: Item, words: Sequence[str]) -> str | None:
    """The first sentence of the item's description that says every word asked about, each by
    its stem ("breathable" finds "breathability"); None where none does or nothing was asked."""
    return next((sentence for sentence in SENTENCE_END.split(item.description)
                 if words and all(says(sentence, word) for word in words)), None)


def superlative(message: str, facts: Sequence[Fact] = ORDERS) -> tuple[Fact, Most, re.Match[str]] | None:
    """The first superlative of `facts` the message says ("the lightest": weight, least), with its words."""
    found = [(fact, most, match) for fact in facts for most in MOSTS
             if (match := prompts.patterns("answers", "compare", f"{fact}_{most}").search(message))]
    return min(found, key=lambda f: f[2].start(), default=None)


def asked_compared(message: str) -> tuple[Fact, Most, bool] | None:
    """The fact a comparison asks about, whether the least or the most of it wins, and whether
    it was said as a comparative, between items it may name ("which is the lightest?": weight,
    least, False; "which is cheaper, the harness or the shoes?": price, least, True); None for
    any other message. A comparative than something ("which is cheaper than that?") compares
    nothing shown."""
    if not QUESTION.search(message):
        return None
    # Opening the message, or a later clause with "which": "the other two look good, which one
    # is shorter?" (not "I love sci-fi, the newest you have?", a request in order).
    for n, clause in enumerate(CLAUSES.split(message)):
        if not (COMPARING if n == 0 else COMPARING_WHICH).match(clause):
            continue
        if said := superlative(clause, COMPARED):
            return said[0], said[1], False
        if not COMPARING_WHICH.match(clause):
            continue
        found = [(fact, most, match) for fact in COMPARED for most in MOSTS
                 for match in prompts.patterns("answers", "comparatives", f"{fact}_{most}").finditer(clause)
                 if not THAN.match(clause, match.end())]
        if first := min(found, key=lambda f: f[2].start(), default=None):
            return first[0], first[1], True
    return None


def answer(questions: Sequence[ItemQuestion], items: Mapping[str, Item],
           reception: Callable[[str], Reception] | None = None,
           reasons: Mapping[str, Sequence[str]] | None = None) -> str:
    """One sentence per item and fact asked, from the item's record (its title first, then "It":
    "X has 208 pages. It is by C.S. Lewis."); where the record lacks the fact, one that says so.
    "Is it any good?" is answered from what people here shared (`reception` of an item id);
    "why did you pick it?" with the reasons its card gave (`reasons`: the conversation's picks').
    A question asking for no fact the records hold (no `facts`) gets a sentence that says so.
    A comparison's questions (`most`) are answered together, first: the item with the least or
    the most of the fact, and its fact ("Of these, the lightest is X. It weighs 310 g.")."""
    table = prompts.table("answers")
    compared = [question for question in questions if question.most]
    said = [_compared(compared, items, reception)] if compared else []
    picking = [question for question in questions if "pick" in question.facts]
    if picking:
        said.append(_picked(picking, items))
    # A question no fact of the records answers ("is it breathable?"): the sentence of each
    # item's description that says what was asked; for the rest, one sentence says it is not known.
    detail = [question for question in questions if not question.facts]
    quoted = {question.item_id: sentence for question in detail
              if (sentence := described(items[question.item_id], question.words))}
    said += [table["answers"]["described"].format(title=items[item_id].title, sentence=sentence)
             for item_id, sentence in quoted.items()]
    unknown = [items[question.item_id].title for question in detail if question.item_id not in quoted]
    if unknown:
        said.append(table["answers"]["unknown_detail"].format(titles=listed(unknown)))
    for question in (question for question in questions if not question.most):
        item = items[question.item_id]
        for n, fact in enumerate(question.facts):
            if fact in ("pick", "total"):
                continue  # answered for all of them at once, above and below
            if fact == "reception":
                said += _received(item, reception(item.id) if reception else Reception(), n == 0)
                continue
            if fact == "why":  # the reasons its card gave, as the ranking wrote them
                given = (reasons or {}).get(item.id)
                said.append(table["answers"]["why"].format(title=item.title, reasons="; ".join(given)) if given
                            else table["answers"]["why_not_picked"].format(title=item.title))
                continue
            if fact == "tags":  # "Yes, Alien (1979) is a horror film." / "No, Up (2009) is not a scary film: it is ..."
                carried = [tag for tag in question.tags if tag in item.tags]
                kind = kind_of(item.category)
                said.append(table["answers"]["tags_yes"].format(title=item.title,
                                                                value=with_article(f"{', '.join(carried)} {kind}", kind))
                            if carried else table["answers"]["tags_no"].format(
                                title=item.title, asked=with_article(f"{' or '.join(question.tags)} {kind}", kind),
                                value=with_article(f"{', '.join(item.tags[:3])} {kind}", kind)))
                continue
            key, value = _fact(item, fact)
            said.append(table["answers"]["unknown"].format(fact=table["fact_names"][fact], title=item.title)
                        if value is None else
                        table["answers"][key].format(title=item.title if n == 0 else table["answers"]["it"], value=value))
    totalled = [items[question.item_id] for question in questions if "total" in question.facts]
    if len(totalled) > 1:
        unpriced = [item.title for item in totalled if item.price is None]
        said.append(table["answers"]["total_unknown"].format(titles=listed(unpriced)) if unpriced else
                    table["answers"]["total"].format(value=sum(item.price or 0.0 for item in totalled)))
    return " ".join(said)


def _picked(questions: Sequence[ItemQuestion], items: Mapping[str, Item]) -> str:
    """"Which one would you pick?": the first of them, the questions being in the picks' order;
    asked for someone or something ("which is best for a 5 year old?": the tags that asks for,
    `tags`), the one that carries most of them (the first of those), saying so."""
    table = prompts.table("answers")["answers"]
    carried = {q.item_id: [tag for tag in q.tags if tag in items[q.item_id].tags] for q in questions}
    best = items[max(questions, key=lambda q: len(carried[q.item_id])).item_id]
    if not carried[best.id]:
        return table["picked"].format(title=best.title)
    kind = kind_of(best.category)
    return table["picked_for"].format(title=best.title, value=with_article(f"{', '.join(carried[best.id])} {kind}", kind))


def kind_of(category: str) -> str:
    return CATEGORY_NOUNS.get(category, category)


def with_article(words: str, kind: str) -> str:
    """`words` naming something of `kind`, after the article it takes: "a war film", "an album",
    "backpacking, ultralight outdoor gear"."""
    return words if kind in UNCOUNTABLE else f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"


def listed(names: Sequence[str], most: int | None = None, last: str = "and") -> str:
    """Names as a reply says them: "A", "A and B", "A, B, C and 4 more" (at most `most` named);
    `last` joins the last one ("or" where the sentence denies them all: "no A or B")."""
    shown = list(names[:most]) + ([f"{len(names) - most} more"] if most is not None and len(names) > most else [])
    return ", ".join(shown[:-1]) + f" {last} " + shown[-1] if len(shown) > 1 else shown[0]


def _received(item: Item, reception: Reception, first: bool) -> list[str]:
    """What people here think of the item: how many liked it, their ratings' mean, each friend's
    word ("Piranesi is liked by 12 people here. Your friend Ana Ruiz rated it 5/5.")."""
    table = prompts.table("answers")["answers"]
    title = item.title if first else table["it"]
    said = []
    if reception.liked_by:
        said.append(table["liked_by"].format(title=title, people=_counted(reception.liked_by, "person", "people")))
    if reception.ratings:
        said.append(table["rated"].format(title=table["it"] if said else title, value=reception.rating,
                                          count=_counted(reception.ratings, "rating", "ratings")))
    for friend in reception.friends:
        told = friend.describe()
        said.append(told[:1].upper() + told[1:] + ("" if told.endswith(('."', '!"', '?"')) else "."))
    return said or [table["nobody_yet"].format(title=item.title)]


def _liking(reception: Reception) -> tuple[float, float, int]:
    """How well liked an item is, to compare: the friends' best rating, the public ratings' mean,
    how many liked it."""
    friends = [friend.rating for friend in reception.friends if friend.rating is not None]
    return max(friends, default=0.0), reception.rating or 0.0, reception.liked_by


def _counted(count: int, one: str, several: str) -> str:
    return f"{count} {one if count == 1 else several}"


def _compared(questions: Sequence[ItemQuestion], items: Mapping[str, Item],
              reception: Callable[[str], Reception] | None = None) -> str:
    """The answer to a comparison: of the items whose record has the fact, the one with the least
    or the most of it (the first shown on a tie). What people think is compared by the friends'
    best rating, then the public ratings' mean, then how many liked it, and told as `_received`."""
    table = prompts.table("answers")
    fact, most = questions[0].facts[0], questions[0].most
    if fact == "reception":
        received = {q.item_id: reception(q.item_id) if reception else Reception() for q in questions}
        known = [q.item_id for q in questions if received[q.item_id].liked_by or received[q.item_id].ratings
                 or received[q.item_id].friends]
        if not known:
            return table["answers"]["nobody_yet"].format(title="these")
        best = (min if most == "least" else max)(known, key=lambda item_id: _liking(received[item_id]))
        word = table["superlatives"][fact][0 if most == "least" else 1]
        return " ".join([table["answers"]["compared"].format(word=word, title=items[best].title),
                         *_received(items[best], received[best], first=False)])
    sign = 1 if most == "least" else -1
    valued = [(sign * value, n, items[q.item_id]) for n, q in enumerate(questions)
              if isinstance(value := _fact(items[q.item_id], fact)[1], int | float)]
    if not valued:
        return table["answers"]["compared_unknown"].format(fact=table["fact_names"][fact])
    _, _, item = min(valued, key=lambda v: (v[0], v[1]))  # the least (or most) of it, the first shown on a tie
    key, value = _fact(item, fact)
    word = table["superlatives"][fact][0 if most == "least" else 1]
    return " ".join([table["answers"]["compared"].format(word=word, title=item.title),
                     table["answers"][key].format(title=table["answers"]["it"], value=value)])


def _fact(item: Item, fact: Fact) -> tuple[str, object]:
    """The sentence (prompts/answers.toml `[answers]` key) that tells `fact` of `item`, and its
    value (None where the record lacks it)."""
    if fact == "price":
        return "price", item.price
    if fact == "about":
        return "about", SENTENCE_END.split(item.description.strip(), maxsplit=1)[0] or None
    key = next((name for name in ATTRIBUTES[fact] if item.attributes.get(name) not in (None, "")), "")
    if key == "instrumental" and item.attributes[key] is False:
        return "sung", False  # its own sentence: "X has singing."
    if key == "rating":  # with what it means: "rated PG (parental guidance suggested)"
        rating = item.attributes[key]
        return key, prompts.table("answers")["ratings"].get(rating, rating)
    return key, item.attributes.get(key)
