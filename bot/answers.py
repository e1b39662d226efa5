"""Questions about an item ("how much is it?", "who directed the second one?", "is it long?"):
which facts a message asks for, and the answer, from the catalog's own record of each item, so
every fact in it is the item's (prompts/answers.toml holds the patterns and the sentences)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import prompts
from bot.understanding import Fact, ItemQuestion
from retrieval.schemas import Item

# In the order they are answered: what it is about first, then "It is $13.99."
FACTS: tuple[Fact, ...] = ("about", "tags", "price", "length", "year", "creator", "rating", "weight")
# The record's attributes that answer each fact, the first the item has.
ATTRIBUTES: dict[Fact, tuple[str, ...]] = {
    "length": ("runtime_min", "pages", "length_min"), "year": ("year",), "creator": ("creator", "brand"),
    "rating": ("rating",), "weight": ("weight_g",),
}
# A question: a question mark, or a question word first ("how much is the first one").
QUESTION = re.compile(r"\?|^\W*(?:how|what|who|when|which|is|are|was|does|do|tell me)\b", re.I)
# A yes-or-no question about what an item is ("is the first one scary?", "are they funny?"): the
# catalog tags after it are asked about, not wished for.
IS_IT = re.compile(r"^\W*(?:(?:and|so|but|ok|okay)\W+)?(?:is|are|was|were|would|will)\s+"
                   r"(?:it|that|this|they|those|these|the \w+(?: one)?|the (?:first|second|third|last) one)\b", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def asked_facts(message: str) -> list[Fact]:
    """The facts a message asks about an item, in FACTS order; none outside a question."""
    if not QUESTION.search(message):
        return []
    return [fact for fact in FACTS if fact != "tags" and prompts.patterns("answers", "asks", fact).search(message)]


def asked_whether(message: str) -> str:
    """The words a yes-or-no question asks about an item ("is the first one scary?": " scary?"),
    where catalog tags are asked about; "" for any other message."""
    match = IS_IT.match(message)
    return message[match.end():] if match and QUESTION.search(message) else ""


def answer(questions: Sequence[ItemQuestion], items: Mapping[str, Item]) -> str:
    """One sentence per item and fact asked, from the item's record (its title first, then "It":
    "X has 208 pages. It is by C.S. Lewis."); where the record lacks the fact, one that says so."""
    table = prompts.table("answers")
    said = []
    for question in questions:
        item = items[question.item_id]
        for n, fact in enumerate(question.facts):
            if fact == "tags":  # "Yes, Alien (1979) is horror." / "No, Up (2009) is not scary: it is ..."
                carried = [tag for tag in question.tags if tag in item.tags]
                said.append(table["answers"]["tags_yes"].format(title=item.title, value=", ".join(carried)) if carried
                            else table["answers"]["tags_no"].format(title=item.title, asked=" or ".join(question.tags),
                                                                    value=", ".join(item.tags[:3])))
                continue
            key, value = _fact(item, fact)
            said.append(table["answers"]["unknown"].format(fact=table["fact_names"][fact], title=item.title)
                        if value is None else
                        table["answers"][key].format(title=item.title if n == 0 else table["answers"]["it"], value=value))
    return " ".join(said)


def _fact(item: Item, fact: Fact) -> tuple[str, object]:
    """The sentence (prompts/answers.toml `[answers]` key) that tells `fact` of `item`, and its
    value (None where the record lacks it)."""
    if fact == "price":
        return "price", item.price
    if fact == "about":
        return "about", SENTENCE_END.split(item.description.strip(), maxsplit=1)[0] or None
    key = next((name for name in ATTRIBUTES[fact] if item.attributes.get(name) not in (None, "")), "")
    return key, item.attributes.get(key)
