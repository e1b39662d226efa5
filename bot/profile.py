"""The person's profile: what they like and dislike, their constraints and context.

Updated every turn from what they said (rules a person can read, not a model's guess), persisted
per user, shown to them, and correctable ("actually I like horror" undoes "nothing scary").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.sentiment import Sentiment, without_titles
from bot.understanding import ItemOpinion, Understanding
from retrieval.titles import EVERYDAY_WORDS, FoundTitle

MAX_REMEMBERED = 30

# Words people use for the usual categories. A catalog's own category names always count too.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "books": ("book", "books", "novel", "novels", "read", "reading", "paperback", "audiobook"),
    "films": ("film", "films", "movie", "movies", "watch", "cinema", "flick", "flicks"),
    "music": ("music", "album", "albums", "record", "records", "vinyl", "listen", "listening", "song", "songs", "band"),
    "outdoor": ("gear", "outdoor", "outdoors", "tent", "tents", "backpack", "boots", "jacket", "sleeping bag", "stove"),
}
# Everyday words for catalog tags.
TAG_WORDS: dict[str, tuple[str, ...]] = {
    "sci-fi": ("sci-fi", "sci fi", "scifi", "science fiction", "space"),
    "scary": ("scary", "frightening", "creepy", "terrifying", "spooky", "scares", "too scary"),
    "horror": ("horror",),
    "romance": ("romance", "romcom", "rom-com", "love story"),
    "romantic": ("romantic",),
    "comedy": ("comedy", "comedies", "funny", "hilarious", "laugh"),
    "funny": ("funny", "hilarious"),
    # "sad" and "depressing" describe the person's mood far more often than the wanted story.
    "melancholic": ("melancholic", "tearjerker", "bittersweet"),
    "uplifting": ("uplifting", "hopeful", "cheer me up", "cheerful"),
    "feel-good": ("feel-good", "feel good", "feelgood", "lighthearted", "light-hearted"),
    "family": ("family", "kids", "children", "child"),
    "kids": ("kids", "children", "child", "toddler"),
    "thriller": ("thriller", "thrillers", "suspense", "suspenseful"),
    "thought-provoking": ("thought-provoking", "thought provoking", "thoughtful", "cerebral", "makes you think"),
    "mystery": ("mystery", "mysteries", "whodunit", "detective"),
    "documentary": ("documentary", "documentaries"),
    "animation": ("animation", "animated", "cartoon", "cartoons"),
    "children": ("children", "kids", "kid", "family"),
    "day-hiking": ("day hike", "day hiking", "day-hiking", "hiking", "hike"),
    "ultralight": ("ultralight", "lightweight", "light weight"),
    "waterproof": ("waterproof", "rainproof"),
    "budget": ("cheap", "budget", "inexpensive", "affordable"),
}
# Liking the first is taking back an exclusion of the second ("actually I like horror").
TAG_IMPLIES = {"horror": ("scary",), "romance": ("romantic",), "comedy": ("funny",)}
NEGATORS = re.compile(
    r"\b(no|not|nothing|without|hate|hates|dislike|don'?t like|do not like|can'?t stand|cannot stand|avoid|"
    r"skip|none|never|no more|don'?t want|do not want|not into|not a fan of|not too|isn'?t|tired of|sick of)\b[\w\s,'-]{0,25}$",
    re.I,
)
ACCEPTING = re.compile(r"\b(don'?t mind|do not mind|fine with|ok with|okay with|happy with|actually (i )?(like|love|want))\b[\w\s,'-]{0,20}$", re.I)
RESET = re.compile(r"\b(start over|reset (my )?profile|forget everything|clear (my )?profile)\b", re.I)
ANY_PRICE = re.compile(r"\b(any price|money is no object|forget (about )?the budget|no budget|price doesn'?t matter)\b", re.I)
MAX_PRICE = re.compile(r"\b(?:under|below|less than|max(?:imum)?|up to|no more than|cheaper than|within)\s*[$£€]?\s*(\d+(?:\.\d+)?)", re.I)
MIN_PRICE = re.compile(r"\b(?:over|above|more than|at least)\s*[$£€]\s*(\d+(?:\.\d+)?)", re.I)
PRICE_RANGE = re.compile(r"\bbetween\s*[$£€]?\s*(\d+(?:\.\d+)?)\s*(?:and|-|to)\s*[$£€]?\s*(\d+(?:\.\d+)?)", re.I)
BUDGET_OF = re.compile(r"\b(?:budget (?:of|is)|[$£€])\s*(\d+(?:\.\d+)?)\s*(?:budget)?", re.I)
DECADE = re.compile(r"\b(?:the\s+)?(19|20)?([0-9])0'?s\b", re.I)
BEFORE_YEAR = re.compile(r"\b(?:before|older than|pre)[- ]?((?:19|20)\d\d)\b", re.I)
AFTER_YEAR = re.compile(r"\b(?:after|since|newer than|post)[- ]?((?:19|20)\d\d)\b", re.I)
RECENT = re.compile(r"\b(recent|new|newer|latest|modern)\b", re.I)
OLD = re.compile(r"\b(old|older|oldies|vintage)\b", re.I)
SHORT = re.compile(r"\b(short|quick|not too long|too long|brief|light read|shorter)\b", re.I)
LONG = re.compile(r"\b(long|epic|doorstopper|lengthy|longer)\b(?! (flight|trip|journey|drive|weekend|day|week|time|night|ride))", re.I)
OCCASIONS = (
    "birthday", "anniversary", "christmas", "date night", "road trip", "party", "wedding", "holiday",
    "vacation", "camping trip", "rainy day", "weekend", "gift", "present", "flight", "commute",
)
AUDIENCE = re.compile(
    r"\b(?:for|with) (?:my|a|our|the)\s+((?:little |teenage |young |best |older |younger )?"
    r"(?:dad|father|mom|mum|mother|son|daughter|kids?|children|child|wife|husband|partner|girlfriend|boyfriend|"
    r"friend|brother|sister|niece|nephew|grandma|grandpa|grandmother|grandfather|teenager|family|colleague|boss))\b",
    re.I,
)
YOUNG_AUDIENCE = re.compile(r"\b(kids?|children|child|son|daughter|niece|nephew|little)\b", re.I)


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[str] = []
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    min_year: int | None = None
    max_year: int | None = None
    length: Literal["short", "long"] | None = None
    excluded_tags: list[str] = []


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occasion: str | None = None
    audience: str | None = None
    mood: str | None = None


class Profile(BaseModel):
    """What Kith knows about a person's taste. Item lists hold catalog item ids."""

    model_config = ConfigDict(extra="forbid")

    likes: list[str] = []
    dislikes: list[str] = []
    liked_tags: list[str] = []
    disliked_tags: list[str] = []
    # Recommendations the person turned down ("no, not those").
    rejected: list[str] = []
    constraints: Constraints = Field(default_factory=Constraints)
    context: Context = Field(default_factory=Context)

    def is_thin(self) -> bool:
        """Too little to rank well: nothing liked, no taste words, no category or occasion."""
        return not (
            self.likes or self.liked_tags or self.constraints.categories
            or self.context.occasion or self.context.audience
        )


class WordFinder:
    """Finds any of many words in a text in one pass, and tells what each word stands for."""

    def __init__(self, words_by_name: dict[str, tuple[str, ...]]):
        self.names = set(words_by_name)
        self._meaning: dict[str, list[str]] = {}
        for name, words in words_by_name.items():
            for word in words:
                self._meaning.setdefault(word.lower(), []).append(name)
        # One order whatever the order of `words_by_name` (a set's, which varies between
        # processes): the name that is the word itself first ("suspense": suspense, thriller).
        for word, names in self._meaning.items():
            names.sort(key=lambda name: (name.lower() != word, name))
        # Longest first, so "science fiction" wins over "science".
        alternatives = "|".join(re.escape(w) for w in sorted(self._meaning, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.I) if alternatives else None

    def find(self, text: str) -> list[tuple[str, re.Match[str]]]:
        """(name, match) for every word found, in text order."""
        if self._pattern is None:
            return []
        return [(name, m) for m in self._pattern.finditer(text) for name in self._meaning[m.group(0).lower()]]


@dataclass(frozen=True)
class Vocabulary:
    """The catalog's words: its categories and tags, with everyday synonyms."""

    categories: WordFinder
    tags: WordFinder

    @classmethod
    def for_catalog(cls, categories: set[str], tags: set[str]) -> Vocabulary:
        category_words = {
            category: tuple(dict.fromkeys((category, category.rstrip("s"), *CATEGORY_WORDS.get(category, ()))))
            for category in categories
        }
        if "films" in categories:
            category_words["films"] = tuple(dict.fromkeys(category_words["films"] + CATEGORY_WORDS["films"]))
        # "good" or "love" as a catalog's tag would turn every "that was good" into a taste,
        # "movies" (a MovieLens tag) every "any movies?" in a films catalog, and "not seen" every
        # "I have not seen it".
        not_tastes = EVERYDAY_WORDS | {word for words in category_words.values() for word in words}
        tag_words = {
            tag: tuple(dict.fromkeys((tag, tag.replace("-", " "), *_plural(tag), *TAG_WORDS.get(tag, ()))))
            for tag in sorted(tags)
            if not set(tag.lower().split()) <= not_tastes
        }
        return cls(WordFinder(category_words), WordFinder(tag_words))


def _plural(tag: str) -> tuple[str, ...]:
    """"dramas" and "westerns" ask for the tag too."""
    return (tag + "s",) if tag.isalpha() and not tag.endswith("s") else ()


def _remember(values: list[str], new: str) -> list[str]:
    """Most recent first, no duplicates, bounded."""
    return [new, *(v for v in values if v != new)][:MAX_REMEMBERED]


def _forget(values: list[str], old: str) -> list[str]:
    return [v for v in values if v != old]


SEEN = re.compile(r"\b(i'?ve seen|i have seen|i saw|seen (it|that|this|them)|watched (it|that|this|them)|i'?ve watched|already (seen|watched|read))\b", re.I)
NOT_SEEN = re.compile(r"\b(haven'?t seen|have not seen|never seen|not seen|haven'?t watched|never watched|haven'?t read|never heard of)\b", re.I)
# A reply about the assistant's suggestions names them only as "it" or not at all ("Yes, loved
# it"). The rules read it as about them when the assistant named at most this many: more, and
# they cannot tell which one is meant.
SUGGESTIONS_READ = 2


def read_rules(
    text: str,
    sentiment: Sentiment,
    vocabulary: Vocabulary,
    suggested: Sequence[str] = (),
    today: date | None = None,
    titles: Sequence[FoundTitle] = (),
) -> Understanding:
    """The rule reader: what this message says about taste, constraints and context. Pure.

    `titles`: the catalog titles named in the message; their words are names, not wishes
    ("Bowling for Columbine" asks for no bowling, "Christmas Vacation" for no holiday).
    `suggested`: the items the assistant named in its last reply."""
    u = Understanding(reset=bool(RESET.search(text)), rejects_suggestions=sentiment.mood == "rejecting")
    # Each title reads "it", as for the sentiment: "I don't like <a long title> or horror" still
    # negates horror.
    text = without_titles(text, titles)
    seen = False if NOT_SEEN.search(text) else True if SEEN.search(text) else None

    opinions: dict[str, ItemOpinion] = {}
    for item_id, feeling in sentiment.items.items():
        # A title mentioned without a clear feeling counts as liked: on ReDial's labels, seekers
        # liked 96% of the movies they named, and this rule scores best there (see README).
        opinions[item_id] = ItemOpinion(item_id=item_id, feeling="dislike" if feeling == "dislike" else "like", seen=seen)
    if not sentiment.items and 0 < len(suggested) <= SUGGESTIONS_READ:
        # An answer about the suggestions: liked unless it is negative (94% of ReDial's seekers
        # liked what was suggested to them; the same rule as for a named title).
        disliked = sentiment.mood == "rejecting" or sentiment.label == "negative"
        for item_id in suggested:
            opinions[item_id] = ItemOpinion(item_id=item_id, feeling="dislike" if disliked else "like", seen=seen)
    u.opinions = list(opinions.values())

    u.categories = sorted({name for name, _ in vocabulary.categories.find(text)})
    for tag, match in vocabulary.tags.find(text):
        # Only the words of the same clause can negate a tag ("No thanks, I love horror").
        before = re.split(r"[.;!?,]|\bbut\b", text[: match.start()])[-1]
        if NEGATORS.search(before) and not ACCEPTING.search(before):
            u.avoid, u.tags = [*_forget(u.avoid, tag), tag], _forget(u.tags, tag)
        else:
            u.tags = [*_forget(u.tags, tag), tag]
            for lifted in (tag, *TAG_IMPLIES.get(tag, ())):
                u.avoid = _forget(u.avoid, lifted)

    _read_price(u, text)
    _read_era(u, text, today or date.today())
    if SHORT.search(text):
        u.length = "short"
    elif LONG.search(text):
        u.length = "long"

    u.occasion = next((o for o in OCCASIONS if re.search(rf"\b{o}\b", text, re.I)), None)
    audience = AUDIENCE.search(text)
    if audience:
        u.audience = audience.group(1).lower()
        if YOUNG_AUDIENCE.search(audience.group(1)):
            u.tags += [tag for tag in ("family", "kids") if tag in vocabulary.tags.names and tag not in u.tags]
    elif re.search(r"\bfor (me|myself)\b", text, re.I):
        u.audience = "themselves"
    if sentiment.mood in ("down", "excited"):
        u.mood = sentiment.mood
    return u


def apply_understanding(profile: Profile, u: Understanding, suggested: Sequence[str] = ()) -> Profile:
    """The profile after a message understood as `u` (by either reader). Pure: a new Profile.
    `suggested`: the items the assistant named in its last reply (what a rejection turns down)."""
    p = Profile() if u.reset else profile.model_copy(deep=True)
    c = p.constraints
    for taken in u.take_back:
        if taken == "budget":
            c.min_price = c.max_price = None
        elif taken == "era":
            c.min_year = c.max_year = None
        elif taken == "length":
            c.length = None
        elif taken == "category":
            c.categories = []
        else:  # a tag or an item: what was said about it no longer holds
            c.excluded_tags, p.disliked_tags = _forget(c.excluded_tags, taken), _forget(p.disliked_tags, taken)
            p.likes, p.dislikes = _forget(p.likes, taken), _forget(p.dislikes, taken)
    for opinion in u.opinions:
        if opinion.feeling == "dislike":
            p.dislikes, p.likes = _remember(p.dislikes, opinion.item_id), _forget(p.likes, opinion.item_id)
        elif opinion.feeling == "like":
            p.likes, p.dislikes = _remember(p.likes, opinion.item_id), _forget(p.dislikes, opinion.item_id)
    if u.rejects_suggestions:
        for item_id in suggested:
            p.rejected = _remember(p.rejected, item_id)
    if u.categories:
        # A new request names what the person wants now; it replaces the earlier category.
        c.categories = sorted(u.categories)
    for tag in u.tags:
        p.liked_tags = _remember(p.liked_tags, tag)
        # Liking a tag takes back an exclusion of it, and of what it implies ("actually I like horror").
        for lifted in (tag, *TAG_IMPLIES.get(tag, ())):
            c.excluded_tags, p.disliked_tags = _forget(c.excluded_tags, lifted), _forget(p.disliked_tags, lifted)
    for tag in u.avoid:
        c.excluded_tags, p.liked_tags = _remember(c.excluded_tags, tag), _forget(p.liked_tags, tag)
    for name in ("min_price", "max_price", "min_year", "max_year", "length"):
        if getattr(u, name) is not None:
            setattr(c, name, getattr(u, name))
    for name in ("occasion", "audience", "mood"):
        if getattr(u, name) is not None:
            setattr(p.context, name, getattr(u, name))
    return p


def update_profile(
    profile: Profile,
    text: str,
    sentiment: Sentiment,
    vocabulary: Vocabulary,
    last_recommended: list[str] | None = None,
    today: date | None = None,
    titles: Sequence[FoundTitle] = (),
) -> Profile:
    """The profile after this message, read by the rules."""
    suggested = last_recommended or []
    return apply_understanding(profile, read_rules(text, sentiment, vocabulary, suggested, today, titles), suggested)


# The profile's lists that hold a set of values (most recent first); the excluded tags live in
# its constraints.
SET_LISTS = ("likes", "dislikes", "liked_tags", "disliked_tags", "rejected", "excluded_tags")
# Lists where a value's arrival in one means it leaves the other: a turn that likes an item takes
# it out of the dislikes, so the dislikes another turn wrote meanwhile must lose it too.
OPPOSITES = (("likes", "dislikes"), ("liked_tags", "disliked_tags"), ("liked_tags", "excluded_tags"))


def _set_lists(profile: Profile) -> dict[str, list[str]]:
    return {name: getattr(profile.constraints if name == "excluded_tags" else profile, name) for name in SET_LISTS}


def _merge_list(base: list[str], ours: list[str], theirs: list[str]) -> list[str]:
    """theirs - (base - ours) + (ours - base): our additions first (the lists are most recent
    first, and ours is the later write), then theirs without what we removed; bounded as
    `_remember` bounds them."""
    removed = set(base) - set(ours)
    added = [value for value in ours if value not in base]
    return list(dict.fromkeys([*added, *(value for value in theirs if value not in removed)]))[:MAX_REMEMBERED]


def _ours_if_changed(base: BaseModel, ours: BaseModel, theirs: BaseModel, name: str) -> object:
    return getattr(ours, name) if getattr(ours, name) != getattr(base, name) else getattr(theirs, name)


def merge_profiles(base: Profile, ours: Profile, theirs: Profile) -> Profile:
    """A three-way merge: the change one turn made (`base` -> `ours`) applied to the profile
    another turn stored meanwhile (`theirs`), so that neither turn's update is lost. Pure.

    Lists of values (likes, dislikes, tags, rejected picks, excluded tags) are sets: our
    additions and removals apply to theirs. Every other value (categories, prices, years,
    length, context) is ours where this turn changed it, else theirs. Where the two turns
    disagree about one value (we liked what they disliked), this turn, written last, wins."""
    b, o, t = _set_lists(base), _set_lists(ours), _set_lists(theirs)
    lists = {name: _merge_list(b[name], o[name], t[name]) for name in SET_LISTS}
    for one, other in OPPOSITES:
        for kept, dropped in ((one, other), (other, one)):
            added = set(o[kept]) - set(b[kept])
            lists[dropped] = [value for value in lists[dropped] if value not in added]
    excluded = lists.pop("excluded_tags")
    constraints = {name: _ours_if_changed(base.constraints, ours.constraints, theirs.constraints, name)
                   for name in Constraints.model_fields if name != "excluded_tags"}
    context = {name: _ours_if_changed(base.context, ours.context, theirs.context, name) for name in Context.model_fields}
    return Profile.model_validate(
        {**lists, "constraints": {**constraints, "excluded_tags": excluded}, "context": context}
    )


def _read_price(u: Understanding, text: str) -> None:
    if ANY_PRICE.search(text):
        u.take_back.append("budget")
        return
    if match := PRICE_RANGE.search(text):
        u.min_price, u.max_price = sorted((float(match.group(1)), float(match.group(2))))
        return
    if match := MAX_PRICE.search(text) or BUDGET_OF.search(text):
        u.max_price = float(match.group(1))
    if match := MIN_PRICE.search(text):
        u.min_price = float(match.group(1))


def _read_era(u: Understanding, text: str, today: date) -> None:
    if match := DECADE.search(text):
        century = match.group(1) or ("20" if match.group(2) in "012" else "19")
        start = int(f"{century}{match.group(2)}0")
        u.min_year, u.max_year = start, start + 9
        return
    if match := BEFORE_YEAR.search(text):
        u.max_year = int(match.group(1)) - 1
    if match := AFTER_YEAR.search(text):
        u.min_year = int(match.group(1))
    if RECENT.search(text) and not (BEFORE_YEAR.search(text) or AFTER_YEAR.search(text)):
        u.take_back.append("era")
        u.min_year = today.year - 5
    elif OLD.search(text) and not (BEFORE_YEAR.search(text) or AFTER_YEAR.search(text)):
        u.take_back.append("era")
        u.max_year = 1989


def describe(profile: Profile, titles: dict[str, str]) -> list[str]:
    """The profile in plain words, for the person to read (and for the reply prompt)."""
    lines = []
    if profile.likes:
        lines.append("likes: " + ", ".join(titles.get(i, i) for i in profile.likes[:8]))
    if profile.dislikes:
        lines.append("dislikes: " + ", ".join(titles.get(i, i) for i in profile.dislikes[:8]))
    if profile.liked_tags:
        lines.append("into: " + ", ".join(profile.liked_tags[:8]))
    c = profile.constraints
    if c.categories:
        lines.append("looking for: " + ", ".join(c.categories))
    if c.excluded_tags:
        lines.append("avoid: " + ", ".join(c.excluded_tags))
    if c.min_price is not None or c.max_price is not None:
        low = f"{c.min_price:g}" if c.min_price is not None else "0"
        high = f"{c.max_price:g}" if c.max_price is not None else "any"
        lines.append(f"price: {low} to {high}")
    if c.min_year is not None or c.max_year is not None:
        lines.append(f"years: {c.min_year or 'any'} to {c.max_year or 'now'}")
    if c.length:
        lines.append(f"length: {c.length}")
    ctx = profile.context
    for label, value in (("occasion", ctx.occasion), ("for", ctx.audience), ("mood", ctx.mood)):
        if value:
            lines.append(f"{label}: {value}")
    return lines
