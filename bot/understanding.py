"""What one message means: the typed record a turn is planned from.

Two readers write it (bot/understand.py): the LLM, as JSON under a grammar (`Draft`, in the
person's words: titles as said, tags and prices as said), which code then checks against the
catalog; and the rules of bot/profile.py, the fallback and the baseline. Either way the turn
gets an `Understanding` in catalog terms: item ids, catalog categories and tags, numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from retrieval.ranking import FilmRating, MeasureLimit

# recommend: wants suggestions; help: has a problem (an order, an account); feedback: an opinion
# about something suggested; smalltalk: greetings, thanks; human: asks for a person; subvert:
# tries to override the bot's instructions or read someone else's private activity.
Intent = Literal["recommend", "help", "feedback", "smalltalk", "human", "subvert"]
INTENTS: tuple[Intent, ...] = ("recommend", "help", "feedback", "smalltalk", "human", "subvert")
Feeling = Literal["like", "dislike", "neutral"]
# "not-long": "not too long", anything but long (a book club's novel of 280 pages is not short).
Length = Literal["short", "not-long", "long"]
# A length as the rules read it: short, not long or long, or said in numbers ("under 2 hours"); the LLM's
# Draft writes `Length` only.
SaidLength = Length | MeasureLimit
# What a question can ask about an item (bot/answers.py).
Fact = Literal["price", "length", "year", "creator", "rating", "weight", "capacity", "season", "instrumental", "language",
               "about", "tags",
               "reception", "pick", "total", "why"]
# What a correction can take back besides a tag or a title: a whole constraint.
CONSTRAINT_NAMES = ("budget", "era", "length", "category")


class DraftOpinion(BaseModel):
    """An opinion as the LLM writes it: `title` is the item as named, or the title "it" stands for."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=120)
    feeling: Feeling
    seen: bool | None = None


class Draft(BaseModel):
    """The LLM's reading of one message, in the person's words; every field may be left out.

    The field order is the order the LLM writes them in (its grammar follows the schema)."""

    model_config = ConfigDict(extra="forbid")

    intents: list[Intent] = Field(default_factory=list, max_length=4)
    opinions: list[DraftOpinion] = Field(default_factory=list, max_length=8)
    categories: list[str] = Field(default_factory=list, max_length=4)
    tags: list[str] = Field(default_factory=list, max_length=8)
    avoid: list[str] = Field(default_factory=list, max_length=8)
    min_price: float | None = None
    max_price: float | None = None
    min_year: int | None = None
    max_year: int | None = None
    length: Length | None = None
    occasion: str | None = Field(None, max_length=40)
    audience: str | None = Field(None, max_length=40)
    mood: str | None = Field(None, max_length=20)
    take_back: list[str] = Field(default_factory=list, max_length=6)


def draft_schema() -> dict[str, object]:
    """The JSON schema the LLM's output is constrained to."""
    return Draft.model_json_schema()


class ItemOpinion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str
    feeling: Feeling
    seen: bool | None = None


class ItemQuestion(BaseModel):
    """A question about one item: which of its facts the person asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: str
    facts: list[Fact]
    # For "tags": the catalog tags asked about, with their near-synonyms ("is it scary?": horror, scary).
    tags: list[str] = []
    # For a question no fact of the record answers (no `facts`: "is it breathable?", "does it
    # have a hood?"): the words it asks about, looked for in the item's description.
    words: list[str] = []
    # Part of a comparison ("which is the lightest?"): the items of the questions that share it are
    # compared on their one fact, and the one with the least or the most of it is the answer.
    most: Literal["least", "most"] | None = None


class Unknown(BaseModel):
    """What a message asks for that the catalog lacks, as said: a title ("do you have Frozen?"),
    a maker whose things are asked for ("anything by Queen?"), a kind of thing it has none of
    ("any good podcasts?", "and some gloves?": `category`), or a name whose likes are asked for
    ("something like Breaking Bad": `likeness`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=120)
    of: Literal["title", "maker", "category", "likeness"] = "title"


class Understanding(BaseModel):
    """One message, understood, in catalog terms. Empty fields say nothing new.

    `take_back` holds what an earlier message said and this one withdraws: tags, item ids, or
    the names of whole constraints (CONSTRAINT_NAMES). `reader` records who wrote each field
    ("llm" or "rules"), so a stored turn shows where its reading came from."""

    model_config = ConfigDict(extra="forbid")

    intents: list[Intent] = []
    opinions: list[ItemOpinion] = []
    rejects_suggestions: bool = False
    reset: bool = False
    categories: list[str] = []
    tags: list[str] = []
    avoid: list[str] = []
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    min_year: int | None = None
    max_year: int | None = None
    length: SaidLength | None = None
    occasion: str | None = None
    audience: str | None = None
    mood: str | None = None
    take_back: list[str] = []
    # The kinds of thing asked for ("a tent": bot.profile.GEAR_KINDS), and questions about items
    # ("how much is it?", answered from the catalog's records): read by the rules whichever
    # reader is chosen (the LLM's Draft has no such fields).
    kinds: list[str] = []
    questions: list[ItemQuestion] = []
    # The tags were asked as more of them in what was asked for before ("something more relaxed
    # then" after jazz): they refine that request, not replace it. Read by the rules.
    refines: bool = False
    # The tags were listed as alternatives ("westerns and war films"): an item needs one of them,
    # not all. Read by the rules.
    either_tags: bool = False
    # The categories each tag was asked of, where clauses ask things of different categories with
    # tags of their own ("a thriller book for me and a romantic film for my wife"). Read by the rules.
    tag_categories: dict[str, list[str]] = {}
    # Themes unwanted that no catalog tag names ("not about nature please"), as said: no item whose
    # title or description says one is ranked. Read by the rules.
    avoid_words: list[str] = []
    # The kinds of thing the message says the person has ("we have a tent already"): asked for
    # no more, read by the rules.
    owned_kinds: list[str] = []
    # The things asked for are for cool nights ("camping in October", "I feel the cold"): no
    # summer-only gear (RankRequest.cool_weather), read by the rules.
    cool_weather: bool = False
    # How many people the things asked for are to sleep ("a tent for four people", "a 2-person
    # tent", "for a family of five"): nothing that sleeps fewer (RankRequest.sleeps), read by the rules.
    sleeps: int | None = Field(None, ge=1, le=20)
    # How much the things asked for are to hold ("a backpack, around 60 litres", "under 30 litres"):
    # nothing outside it (RankRequest.capacity), read by the rules.
    capacity: MeasureLimit | None = None
    # How much the things asked for may weigh ("a sleeping bag under 1kg"): nothing outside it
    # (RankRequest.weight), read by the rules.
    weight: MeasureLimit | None = None
    # In English only ("they don't like subtitles", "nothing foreign"): nothing whose `language`
    # attribute is another (RankRequest.english_only), read by the rules.
    english_only: bool = False
    # Music without singing ("something without any singing", "instrumental stuff to study to"):
    # nothing whose `instrumental` attribute is false (RankRequest.instrumental), read by the rules.
    instrumental: bool = False
    # The budget is for one of each kind of thing asked for, together ("a tent and a sleeping bag,
    # about 300 total"): RankRequest.together, read by the rules.
    budget_together: bool = False
    # The strongest age rating a film may have ("nothing R-rated": PG-13; "PG or under"): nothing
    # rated above it (RankRequest.max_rating), read by the rules.
    max_rating: FilmRating | None = None
    # The makers asked for, as the catalog names them ("books by Andy Weir", "more by the same
    # director": retrieval.ranking.maker_of), read by the rules.
    makers: list[str] = []
    # The items asked for by name ("do you have Dune?"), shown first (RankRequest.asked_for),
    # read by the rules.
    asked_for: list[str] = []
    # What the message asks for that the catalog lacks ("do you have Frozen?", "anything by
    # Queen?", "any good podcasts?"): the reply says so before its picks, read by the rules.
    unknown: list[Unknown] = []
    # A request for the least or the most of a fact ("the cheapest book", "your lightest tents"):
    # the picks come in that order (RankRequest.order), read by the rules. A comparison of the
    # picks ("which is the lightest?") is a question instead.
    order: tuple[Fact, Literal["least", "most"]] | None = None
    # A request for what the person's friends shared ("what are my friends into?", "anything my
    # friends loved?"): the picks are of it (RankRequest.from_friends), read by the rules.
    from_friends: bool = False
    reader: dict[str, Literal["llm", "rules"]] = {}

    def wants(self, intent: Intent) -> bool:
        return intent in self.intents

    def has_wishes(self, about_an_item: bool = False) -> bool:
        """Whether the message asks for something of its own: a category, a taste, a budget...
        `about_an_item`: it asks about an item, where an occasion or an audience is the context
        of the question ("does it come gift wrapped?", "would it suit my dad?"), no wish."""
        return bool(self.categories or self.tags or self.avoid or self.max_price or self.min_price or self.min_year
                    or self.max_year or self.length or self.max_rating or self.makers or self.from_friends
                    or not about_an_item and (self.occasion or self.audience))


# The fields a reader is chosen for (UnderstandingConfig.llm_fields): each is measured apart.
FIELDS: dict[str, tuple[str, ...]] = {
    "intents": ("intents",),
    "opinions": ("opinions", "rejects_suggestions"),
    "constraints": ("categories", "min_price", "max_price", "min_year", "max_year", "length"),
    "tastes": ("tags", "avoid", "take_back", "reset"),
    "context": ("occasion", "audience", "mood"),
}
