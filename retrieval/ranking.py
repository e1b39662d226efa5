"""Hybrid ranking with named components, penalties, hard constraints, diversity and reasons.

score = semantic + tags + collaborative + social + popularity + comention + similar
        + similar_requests + graph + more_like + context (each weighted)
        - penalties (similar to a dislike or to a "not for me", disliked tags, already mentioned)
Hard constraints (category, price, years, length, excluded tags) and items the person disliked,
rejected or already has are removed, not just pushed down. Diversity by maximal marginal
relevance. Every component is kept so the person can be told why.

Two components read what a catalog may bring besides interactions: `comention`, how often the
catalog's stored dialogues talk about an item together with the items of this conversation, and
`similar`, the catalog's own item-to-item similarity (an item's `similar` attribute, {item id:
similarity 0..1}, e.g. from MovieLens ratings in the ReDial importer) to what the person liked.
A third reads the stored dialogues' words: `similar_requests`, what the catalog's agents suggested
when people asked much the same thing (the stored requests most alike this one).

Privacy: other people's activity counts only where the viewer may see it: public activity for
everyone, friends-visible activity for friends. Private activity never leaves its owner.
"""

from __future__ import annotations

import copy
import functools
import heapq
import logging
import math
import re
import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from scipy import sparse
from pydantic import BaseModel, ConfigDict, Field

from retrieval.database import Database
from retrieval.embeddings import Embedder
from retrieval.graph import GraphModel, load_graph
from retrieval.schemas import SHARED_VISIBILITIES, Interaction, Item, Request
from retrieval.titles import normalize, split_year
from retrieval.vectors import VectorStore

log = logging.getLogger(__name__)

# The `season` attribute of gear for warm nights only (the outdoor catalog's: summer, 3-season,
# 4-season, all-year), no answer for cool ones.
SUMMER_ONLY = "summer"
# A film's age rating (its `rating` attribute), mildest first: a request's `max_rating` ranks
# nothing rated above it.
FilmRating = Literal["G", "PG", "PG-13", "R", "NC-17"]
FILM_RATINGS: tuple[FilmRating, ...] = get_args(FilmRating)
SHORT_LIMITS = {"runtime_min": 100, "pages": 250, "length_min": 40}
LONG_LIMITS = {"runtime_min": 140, "pages": 450, "length_min": 60}
# The attributes a measure said in numbers limits, by its unit ("under 2 hours": a film's runtime
# or an album's length; "under 300 pages": a book's; "around 60 litres": a pack's).
LIMITED: dict[str, tuple[str, ...]] = {"min": ("runtime_min", "length_min"), "pages": ("pages",), "litres": ("litres",),
                                       "g": ("weight_g",)}
# The record's attributes that measure an item for an order ("the lightest tent", "your biggest
# pack") or an answer ("how long is it?"), the first one the item has; the price is the item's own
# field. A tent's capacity is how many it sleeps, a pack's how much it holds.
MEASURES: dict[str, tuple[str, ...]] = {"length": ("runtime_min", "pages", "length_min"), "year": ("year",),
                                        "weight": ("weight_g",), "capacity": ("sleeps", "litres")}
# How a measure reads beside its number, by attribute ("640 g", "223 pages", "75 litres").
UNITS = {"runtime_min": "min", "pages": "pages", "length_min": "min", "weight_g": "g", "litres": "litres",
         "sleeps": "people"}
# How much a friend counts whose liked items share nothing with the person's (see Ranker._social).
SOCIAL_CLOSENESS_FLOOR = 0.02
# How many of the stored requests most alike this one `similar_requests` reads: 30 beat 10 and 100
# on bench/redial_cv.py's folds, in a one-off script that added the same score to Kith's ranked
# list rather than as a component (folds Recall@10 0.155 against 0.146 and 0.151).
REQUEST_NEIGHBOURS = 30
# How many query texts' vectors a ranker keeps (most recently used): a turn's query often repeats
# an earlier one, and evaluations rank the same requests under several weightings.
QUERY_CACHE_SIZE = 1024
# A pick whose graph score is at least this share of the best candidate's says why: people whose
# taste the person shares (and their friends, where the graph holds friendships) loved it.
GRAPH_REASON = 0.8
# Feedback on cards reaches items by likeness: from about that of two unrelated items (0.3, the
# demo catalog's median item-to-item cosine in a category is 0.28-0.35) to that of close kin
# (0.6: its nearest neighbours are 0.44-0.62), as 0..1. A "more like X" reason needs 0.4 (the
# demo's 90th percentile).
FEEDBACK_LIKENESS = (0.3, 0.6)
MORE_LIKE_REASON = 0.4
# The reasons on a pick that does not carry every tag the request asked for (see `_fitting`):
# where the person already has most of what does, and where the catalog has little that does.
CLOSEST_YOU_HAVE_MOST = "the closest to what you asked: you already have most of what fits all of it"
CLOSEST = "the closest to what you asked: little here fits all of it"
# How a reason citing a friend's shared activity starts (FriendActivity.describe).
FRIEND_REASON = "your friend "
# A title's words, as a kind asked for is matched against them (`of_kind`).
KIND_WORD = re.compile(r"[a-z]+")
# What may follow a kind's words in a title that names the kind (`of_kind`): a size or a count
# ("14L", "60 m", "for 4"), or a word for several of it ("set", "pair", "system"; singular, as
# `_singular_words` gives them).
TITLE_TAIL = re.compile(r"[\d.]+\w*|m|mm|l|set|pair|system|for")
# Words before a kind's words in a title that make the item another thing, one made to be fixed
# to something: a bike's "Seat Pack" is no backpack.
FIXED_TO = frozenset({"seat", "saddle", "handlebar", "frame", "hip", "waist"})
# The reason on a pick this conversation already showed or named: the reply says so, not "try" it
# as if new.
CAME_UP = "came up earlier in this conversation"
# How many friends an answer to "is it any good?" tells of (Ranker.reception).
FRIENDS_TOLD = 3
# The reason on an item the person asked for by name ("do you have Dune?"); a pick like it says
# "like Dune, which you asked for".
ASKED_FOR = "you asked for it"
# A pick's reason where no other applies, by what its semantic component measured closeness to.
CLOSE_TO = {"request": "a close match to what you described", "taste": "in keeping with what you liked"}
# The reason on the first pick of a request in order ("the cheapest book"): "the cheapest of what
# fits, at 8.99" ({word}: Order.word; {value}: its measure).
ORDERED = "the {word} of what fits, at {value}"


class RankingWeights(BaseModel):
    """Weights of the ranking's components; 0 turns a component off."""

    model_config = ConfigDict(extra="forbid")

    semantic: float = Field(1.0, ge=0)
    tags: float = Field(0.3, ge=0)
    collaborative: float = Field(0.4, ge=0)
    social: float = Field(0.5, ge=0)
    popularity: float = Field(0.2, ge=0)
    # Off unless a catalog turns them on (`ranking_by_catalog`): not every catalog's dialogues
    # or `similar` attributes are worth following.
    comention: float = Field(0.0, ge=0)
    similar: float = Field(0.0, ge=0)
    similar_requests: float = Field(0.0, ge=0)
    # The graph model's score (retrieval/graph.py, `kith train-graph`); nothing where the catalog
    # has no trained model.
    graph: float = Field(0.0, ge=0)
    dislike_similarity: float = Field(0.6, ge=0)
    disliked_tags: float = Field(0.3, ge=0)
    repeat: float = Field(1.0, ge=0)
    # Feedback on cards: likeness to what the person asked for more of ("more like this"), and
    # a penalty for likeness to what they said was not for them.
    more_like: float = Field(0.5, ge=0)
    less_like: float = Field(0.3, ge=0)
    # The moment (client context: time, weather, occasion): its favoured tags lift an item, its
    # disfavoured ones push it down; soft, below an asked-for tag's weight (`tags`).
    context: float = Field(0.2, ge=0)
    # Whether the tags a request asks for (`RankRequest.required_tags`, and `suits`) are hard
    # (`_fitting`: what carries them is picked first, then the closest) or only score (the `tags`
    # component; `suits` then counts for nothing beyond the tags asked). Soft
    # for a catalog whose tags are too sparse to say an item lacks one (ReDial's MovieLens tags).
    required_tags: Literal["hard", "soft"] = "hard"
    # 0: rank by score alone; higher trades score for variety among the top items.
    diversity: float = Field(0.25, ge=0, le=1)
    candidates: int = Field(200, ge=10, le=5000)
    # How many of the most popular items are always candidates, whatever the request.
    popular_candidates: int = Field(50, ge=0, le=5000)
    # How many of the friends' activities (most relevant first) the social component reads.
    friends_activity: int = Field(40, ge=1, le=5000)
    # How sharply the social component favours the closest friends and each friend's favourites:
    # closeness and a friend's taste are raised to this power (1: as they are).
    social_power: float = Field(1.0, ge=1, le=4)
    # "top": the social component is scaled per request to its best candidate (1); "friends": by
    # the square root of the friends' total closeness, so that many close friends who agree count
    # more than one distant friend (whose favourite would otherwise score 1 too).
    social_scale: Literal["top", "friends"] = "top"


@dataclass(frozen=True)
class Order:
    """A request for the least or the most of a measure ("the cheapest book", "your lightest
    tents"): the picks that fit come in its order instead of by score."""

    measure: str  # "price", or a key of MEASURES
    most: bool  # the most of it first ("the newest"), else the least ("the cheapest")
    word: str  # the superlative the first pick's reason says ("cheapest")


class MeasureLimit(BaseModel):
    """A length, a size or a weight said in numbers: "under 2 hours" is at most 120 minutes, "at
    least 400 pages" at least 400 pages, "around 60 litres" 48 to 72 litres, "under 1kg" at most
    1000 g. An item whose record has no such measure is not held to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["min", "pages", "litres", "g"]
    at_most: int | None = Field(None, gt=0)
    at_least: int | None = Field(None, gt=0)

    def fits(self, item: Item) -> bool:
        values = [value for name in LIMITED[self.unit] if isinstance(value := item.attributes.get(name), int | float)]
        return all((self.at_most is None or value <= self.at_most) and (self.at_least is None or value >= self.at_least)
                   for value in values)

    def __str__(self) -> str:
        """As the profile shows it: "at most 120 min", "at least 48 and at most 72 litres"."""
        bounds = [f"{word} {value}" for word, value in (("at least", self.at_least), ("at most", self.at_most))
                  if value is not None]
        return f"{' and '.join(bounds)} {self.unit}"


@dataclass
class RankRequest:
    """What the ranker needs to know about the person and the moment."""

    query: str
    user_id: str | None = None
    likes: Sequence[str] = ()
    dislikes: Sequence[str] = ()
    liked_tags: Sequence[str] = ()
    disliked_tags: Sequence[str] = ()
    categories: Sequence[str] = ()
    excluded_tags: Sequence[str] = ()
    # Themes unwanted that no tag names ("not about nature"): no item whose title or description
    # has a word that starts like one ("natural") is ranked.
    avoid_words: Sequence[str] = ()
    min_price: float | None = None
    max_price: float | None = None
    min_year: int | None = None
    max_year: int | None = None
    # "short", "not-long" or "long" (SHORT_LIMITS, LONG_LIMITS), or a length said in numbers.
    length: str | MeasureLimit | None = None
    # Removed outright (rejected, or already owned).
    exclude: Sequence[str] = ()
    # Pushed down (already mentioned in this conversation).
    seen: Sequence[str] = ()
    # New ones are wanted ("another tent", "show me more"): what was seen comes after every fresh
    # item, even one that misses all of the request. Otherwise (the message changed the request,
    # or asked for nothing new: "I've read Gone Girl, loved it") what was seen and fits comes
    # before fresh items that fit less (`_fitting`).
    fresh_first: bool = True
    # The message asks among what was shown ("any of those under 10?"): what was seen and fits
    # comes before fresh items that fit as well.
    those_first: bool = False
    # Items the person asked for more like (a card's "more like this"), most recent first: liked,
    # and what is like them is pulled up (the `more_like` component) and says so.
    more_like: Sequence[str] = ()
    # Items the person said were not for them (a card's "not for me"), most recent first:
    # removed, and what is like them is pushed down (`less_like`, a penalty).
    less_like: Sequence[str] = ()
    # The moment's favoured tags, each with the words that explain it ("a rainy evening"), and
    # its disfavoured tags (bot/context.py); soft: never a constraint.
    context_tags: Mapping[str, str] = field(default_factory=dict)
    context_avoid: Sequence[str] = ()
    # What the request itself asks for, beating the person's history: an item must carry a tag
    # of each group (any one of a group will do: near-synonyms such as comedy and funny).
    required_tags: Sequence[Sequence[str]] = ()
    # The tags that suit whom the request is for, any one of which will do (a child: kids, family;
    # a teenager: young-adult, and family to 14): an item carrying none comes after every item
    # that does, however much more of the request it fits (`_fitting`): the next fantasy book
    # for a 13-year-old is a young-adult one, not Outlander.
    suits: Sequence[str] = ()
    # Whether it is for a child: otherwise what is made for children (CHILD_SIZED: "Kids' Hiking
    # Boot") comes after everything else, as what does not suit (a kids' boot had come first for
    # "I need new hiking boots").
    for_a_child: bool = False
    # The categories a required tag was asked of ("a thriller book and a romantic film": thriller
    # of books, romance of films): a group with such tags binds only items of those (`_asks`).
    tag_categories: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # The words a title says for the kinds of thing asked for ("tent"; "pack", "daypack" for a
    # backpack): an item's title must say one, as an item must be of a category asked for. Of
    # another kind nothing is close: a mug that suits camping is no answer to "a tent".
    kinds: Sequence[str] = ()
    # The words a title says for the kinds of thing the person has already ("we have a tent
    # already"): no item of them is ranked.
    owned_kinds: Sequence[str] = ()
    # For cool nights: nothing whose `season` attribute is SUMMER_ONLY.
    cool_weather: bool = False
    # How many people it is to sleep: nothing whose `sleeps` attribute is fewer.
    sleeps: int | None = None
    # How much it is to hold, in litres ("around 60 litres"): nothing whose `litres` attribute is
    # outside it.
    capacity: MeasureLimit | None = None
    # How much it may weigh, in grams ("under 1kg"): nothing whose `weight_g` attribute is outside it.
    weight: MeasureLimit | None = None
    # In English only: nothing whose `language` attribute is another (a film with subtitles).
    english_only: bool = False
    # Without singing: nothing whose `instrumental` attribute is false (an album with vocals).
    instrumental: bool = False
    # The strongest age rating allowed (FILM_RATINGS: "PG" for a child): nothing whose `rating`
    # attribute is above it.
    max_rating: FilmRating | None = None
    # The kinds max_price buys one of each of, together ("a tent and a sleeping bag, about 300
    # total"), each as the words its titles say (`kinds`): an item of one leaves room for the
    # cheapest of each other (`_priced_together`, which sets `kind_max_prices`).
    together: Sequence[Sequence[str]] = ()
    kind_max_prices: Sequence[tuple[Sequence[str], float]] = ()
    # The makers asked for ("books by Andy Weir", "more by the same director"): an item's maker
    # (`maker_of`) must be one of them.
    makers: Sequence[str] = ()
    # Items the person asked for by name ("do you have Dune?"): the first picks, in order, whatever
    # else the request says; the other picks are taken as alike them, as they would be like a like.
    asked_for: Sequence[str] = ()
    # A request in order ("the cheapest book"): the items within its hard constraints with the
    # least (or most) of the measure, from the whole catalog, are candidates, and those that fit
    # come in that order, the score deciding ties and what lacks the measure last.
    order: Order | None = None
    # A request for what the person's friends shared ("what are my friends into?"): the
    # candidates are the items their friends shared liking (public or friends-visible), each
    # pick saying whose.
    from_friends: bool = False


@dataclass(frozen=True)
class FriendActivity:
    friend_id: str
    friend_name: str
    item_id: str
    item_title: str
    kind: str
    rating: float | None
    text: str
    strength: float

    def describe(self) -> str:
        if self.kind in ("rating", "review") and self.rating is not None:
            said = f'{FRIEND_REASON}{self.friend_name} rated it {self.rating:g}/5'
        else:
            done = {"like": "liked it", "purchase": "bought it", "view": "checked it out"}.get(self.kind, "tried it")
            said = f"{FRIEND_REASON}{self.friend_name} {done}"
        if self.text:
            quote = self.text if len(self.text) <= 90 else self.text[:87].rsplit(" ", 1)[0] + "…"
            said += f': "{quote}"'
        return said


@dataclass(frozen=True)
class Reception:
    """What people here shared about an item: how many publicly liked it, their public ratings'
    mean and count, and what the asker's friends shared of it (public or friends-visible)."""

    liked_by: int = 0
    rating: float | None = None
    ratings: int = 0
    friends: Sequence[FriendActivity] = ()


@dataclass
class Recommendation:
    item_id: str
    title: str
    category: str
    score: float
    components: dict[str, float]
    reasons: list[str]
    price: float | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Ranking:
    recommendations: list[Recommendation]
    friends_activity: list[FriendActivity]


def _signal_from(kind: str, rating: float | None, weight: float = 1.0) -> float:
    """How much an interaction says the person liked the item: -1 .. 1."""
    if rating is not None:
        return (rating - 3.0) / 2.0
    if kind == "view":
        # A view says little; ten thousand plays of an artist say a lot.
        return 0.3 + 0.5 * min(1.0, math.log10(max(weight, 1.0)) / 4)
    return {"like": 0.8, "purchase": 0.6, "review": 0.5}.get(kind, 0.3)


def interaction_signal(interaction: Interaction) -> float:
    """How much a stored interaction says its person liked the item: -1 .. 1."""
    return _signal_from(interaction.kind, interaction.rating, interaction.weight)


def shared_taste(interactions: Sequence[Interaction]) -> dict[str, float]:
    """What one person's shared activity says of each item, on that person's own scale: -1 .. 1.

    Their liked items are ranked by how strongly they liked them (signal, then weight: plays), and
    each gets 1 - rank / count, ties sharing their mean rank: their favourite counts 1 whether they
    play everything a thousand times or rate everything 4/5, their least-liked little. Items they
    disliked keep their (negative) signal. One item's several interactions: the most telling one
    (largest |signal|). Only public and friends-visible activity is read."""
    strongest: dict[str, tuple[float, float]] = {}
    for interaction in interactions:
        if interaction.visibility not in SHARED_VISIBILITIES:
            continue
        signal = interaction_signal(interaction)
        known = strongest.get(interaction.item_id)
        if known is None or (abs(signal), interaction.weight) > (abs(known[0]), known[1]):
            strongest[interaction.item_id] = (signal, interaction.weight)
    taste = {item_id: signal for item_id, (signal, _) in strongest.items() if signal <= 0}
    liked = sorted((key for key in strongest.items() if key[1][0] > 0), key=lambda pair: pair[1], reverse=True)
    position = 0
    while position < len(liked):
        end = position
        while end + 1 < len(liked) and liked[end + 1][1] == liked[position][1]:
            end += 1
        value = 1.0 - (position + end) / 2 / len(liked)
        for item_id, _ in liked[position : end + 1]:
            taste[item_id] = value
        position = end + 1
    return taste


def taste_overlap(mine: set[str], theirs: set[str]) -> float:
    """Cosine of two sets of liked items: 0 (nothing in common) .. 1 (the same items)."""
    if not mine or not theirs:
        return 0.0
    return len(mine & theirs) / math.sqrt(len(mine) * len(theirs))


class CatalogStats:
    """Per-catalog statistics from interactions, computed once and refreshed on demand."""

    def __init__(self, database: Database, catalog: str):
        self.items: dict[str, Item] = {item.id: item for item in database.items(catalog)}
        users = {user.id: user.name for user in database.users(catalog)}
        self.user_names = users
        self.interactions_by_user: dict[str, list[Interaction]] = defaultdict(list)
        # Collaborative filtering and popularity read public activity only: they serve everyone.
        self.item_ids = list(self.items)
        self.item_index = {item_id: n for n, item_id in enumerate(self.item_ids)}
        user_index: dict[str, int] = {}
        rows, columns = [], []
        # What people publicly said of each item ("is it any good?": Ranker.reception): who liked
        # it (a like, or a rating of 4/5 or more), and the ratings.
        self.public_likers: dict[str, set[str]] = defaultdict(set)
        self.public_ratings: dict[str, list[float]] = defaultdict(list)
        for interaction in database.interactions(catalog):
            self.interactions_by_user[interaction.user_id].append(interaction)
            if interaction.visibility == "public":
                if interaction.kind == "like" or (interaction.rating or 0) >= 4:
                    self.public_likers[interaction.item_id].add(interaction.user_id)
                if interaction.rating is not None:
                    self.public_ratings[interaction.item_id].append(interaction.rating)
            if interaction.visibility == "public" and interaction_signal(interaction) > 0 and interaction.item_id in self.item_index:
                rows.append(user_index.setdefault(interaction.user_id, len(user_index)))
                columns.append(self.item_index[interaction.item_id])
        likes = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(user_index), len(self.item_ids))
        )
        likes.data[:] = 1.0  # several likes of one item by one person count once
        self.likes_by_user = likes  # people x items, 1 where a person publicly liked an item
        self.likes_by_item = likes.T.tocsr()
        self.likers = np.asarray(likes.sum(axis=0)).ravel()  # people who liked each item
        top = float(self.likers.max()) if self.likers.size else 0.0
        self.popularity = {
            item_id: math.log1p(self.likers[n]) / math.log1p(top)
            for n, item_id in enumerate(self.item_ids)
            if self.likers[n] > 0
        } if top else {}
        # Every request considers the `popular_candidates` most popular items (at most 5000): sorted
        # once here, not per request.
        self.most_popular = sorted(self.popularity, key=lambda item_id: -self.popularity[item_id])[:5000]
        dialogues = database.dialogues(catalog)
        self.comentions = _comentions(
            [list(dict.fromkeys(m.item_id for turn in d.turns for m in turn.mentions)) for d in dialogues], self.item_index
        )
        self.requests = [request for dialogue in dialogues for request in dialogue.requests()]
        self.similar = _similar(self.items, self.item_index)
        self.listings = _listings(self.items)
        self.categories = {item.category for item in self.items.values()}
        self.tags = {tag for item in self.items.values() for tag in item.tags}
        # The categories whose items carry each tag ("budget": outdoor gear, and no book).
        self.tag_categories = tag_categories(self.items.values())
        # The items that carry each tag, the most popular first (`popular_first`): a request that
        # requires a tag considers them besides the items nearest its words (a documentary about
        # sushi is far from "documentaries about nature"). Sorted once here, not per request.
        tagged: dict[str, list[str]] = defaultdict(list)
        for item in self.items.values():
            for tag in item.tags:
                tagged[tag].append(item.id)
        self.tagged = {tag: sorted(ids, key=self.popular_first) for tag, ids in tagged.items()}
        self._shared_taste: dict[str, dict[str, float]] = {}

    def popular_first(self, item_id: str) -> tuple[float, str]:
        """The sort key of the most popular first, by id on a tie."""
        return -self.popularity.get(item_id, 0.0), item_id

    def shared_taste(self, user_id: str) -> dict[str, float]:
        """`shared_taste` of a person's public and friends-visible activity, computed once."""
        taste = self._shared_taste.get(user_id)
        if taste is None:
            taste = self._shared_taste[user_id] = shared_taste(self.interactions_by_user.get(user_id, []))
        return taste


@dataclass(frozen=True)
class _ReadState:
    """Everything a ranking reads of the catalog: its statistics and the vectors held in memory.

    `Ranker.refresh` builds a new one whole and publishes it with one assignment; a ranking reads
    the reference once and uses that state throughout, so a ranking that runs during a refresh
    sees the catalog before it or after it, never statistics of one and vectors of the other.
    Nothing in it changes once built (CatalogStats memoizes friends' tastes: it adds entries,
    each computed from the same statistics, and never changes one)."""

    stats: CatalogStats
    # Every review's vector, by interaction key.
    review_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    # Per category: its items' ids and their vectors as the rows of one matrix.
    category_vectors: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)
    # Rows of the category matrices (views, no copies), by item id.
    item_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    # The stored requests that have vectors, and those vectors as the rows of one matrix.
    requests: list[Request] = field(default_factory=list)
    request_vectors: np.ndarray | None = None
    # The catalog's trained graph model, if any (read from the Ranker's `graph_dir`).
    graph: GraphModel | None = None

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self.item_vectors[i] for i in ids if i in self.item_vectors}


class Ranker:
    def __init__(
        self,
        catalog: str,
        database: Database,
        vectors: VectorStore,
        embedder: Embedder,
        weights: RankingWeights,
        graph_dir: Path | None = None,
    ):
        """`graph_dir`: the folder of the catalog's graph model (`retrieval.graph`), read at
        every refresh; none there, no graph component."""
        self.catalog = catalog
        self.database = database
        self.vectors = vectors
        self.embedder = embedder
        self.weights = weights
        self.graph_dir = graph_dir
        # One refresh at a time; rankings take no lock (they read a published _ReadState).
        self._lock = threading.Lock()

        def embed_query(text: str) -> np.ndarray:
            return embedder.embed([text])[0]

        # lru_cache keeps its table consistent when threads share it (at worst two threads both
        # embed a text that neither found).
        self._embed_query = functools.lru_cache(maxsize=QUERY_CACHE_SIZE)(embed_query)
        self._state = self._load(CatalogStats(database, catalog))

    @property
    def stats(self) -> CatalogStats:
        """The catalog's statistics, as of the last refresh."""
        return self._state.stats

    @stats.setter
    def stats(self, stats: CatalogStats) -> None:
        """Other statistics with the same vectors: for tests of one component on a Ranker made
        without stores (whose state holds no vectors then)."""
        state = self.__dict__.get("_state")
        self._state = _ReadState(stats) if state is None else replace(state, stats=stats)

    @property
    def graph(self) -> GraphModel | None:
        """The catalog's graph model, as of the last refresh (None: no graph component)."""
        return self._state.graph

    def with_weights(self, weights: RankingWeights) -> Ranker:
        """Another ranker with other weights over this one's state as it is now (statistics,
        vectors, graph model and query cache shared, nothing copied); this one is unchanged, so
        both may rank at once. A refresh of either one reaches that one only."""
        other = copy.copy(self)
        other.weights = weights
        return other

    def refresh(self) -> None:
        """Re-read the catalog after new data was ingested. Rankings meanwhile read the
        previous state; the new one replaces it whole once built."""
        with self._lock:
            self._state = self._load(CatalogStats(self.database, self.catalog))

    def _load(self, stats: CatalogStats) -> _ReadState:
        """The read state for `stats`: every item's vector, read from Chroma once and held per
        category in one matrix; every review's; every stored request's. Scoring reads a few
        hundred candidates' vectors per request, which cost ~7 ms per 200 when fetched from
        Chroma each time (100,000-item catalog) and nothing from memory; the category matrices
        serve searches within categories (_search_items).
        Memory: 1.5 kB per item and per review (150 MB for 100,000 items)."""
        reviews = [x.key for rows in stats.interactions_by_user.values() for x in rows if x.text]
        review_vectors = self.vectors.embeddings(self.catalog, "activity", reviews)
        stored = self.vectors.embeddings(self.catalog, "items", list(stats.items))
        by_category: dict[str, list[str]] = defaultdict(list)
        for item_id in stored:
            by_category[stats.items[item_id].category].append(item_id)
        category_vectors = {
            category: (ids, np.stack([stored[i] for i in ids])) for category, ids in by_category.items()
        }
        item_vectors = {
            item_id: matrix[row] for ids, matrix in category_vectors.values() for row, item_id in enumerate(ids)
        }
        request_vectors = self.vectors.embeddings(self.catalog, "requests", [r.key for r in stats.requests])
        requests = [r for r in stats.requests if r.key in request_vectors]
        missing = len(stats.requests) - len(requests)
        if missing and self.weights.similar_requests:
            log.warning(
                "catalog %r: %d of %d dialogue requests have no vectors (ingested before Kith stored them); "
                "similar_requests reads only the others until those dialogues are ingested again",
                self.catalog, missing, len(stats.requests),
            )
        return _ReadState(
            stats, review_vectors, category_vectors, item_vectors, requests,
            np.stack([request_vectors[r.key] for r in requests]) if requests else None,
            load_graph(self.graph_dir),
        )

    def item_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self._state.vectors_of(ids)

    def own_history(self, user_id: str | None) -> tuple[list[str], list[str], set[str]]:
        """(liked, disliked, consumed) item ids from the person's own stored activity."""
        return _own_history(self._state.stats, user_id)

    def _friends_activity(self, state: _ReadState, user_id: str | None, query_vector: np.ndarray,
                          every: bool = False) -> list[FriendActivity]:
        """Friends' public and friends-visible activity, most relevant to the request first: the
        `friends_activity` nearest, or `every` one.

        The friends' activity is read from memory (the catalog's interactions) and ordered by
        its vectors' likeness to the request, exactly; a Chroma search filtered by friend and
        visibility did the same approximately and took ~50 ms on a 100,000-item catalog."""
        if user_id is None or self.weights.social == 0:
            return []
        friends = self.database.friends(self.catalog, user_id)
        if not friends:
            return []
        stats = state.stats
        shared: dict[str, Interaction] = {}
        for friend in sorted(friends):
            for interaction in stats.interactions_by_user.get(friend, []):
                # Only public and friends-visible activity may reach another person.
                if interaction.visibility in SHARED_VISIBILITIES and interaction.item_id in stats.items:
                    shared.setdefault(interaction.key, interaction)
        vectors = _activity_vectors(state, list(shared.values()))
        keys = [key for key in shared if key in vectors]
        if not keys:
            return []
        likeness = np.stack([vectors[key] for key in keys]) @ query_vector
        nearest = np.argsort(-likeness, kind="stable")[: None if every else self.weights.friends_activity]
        activity = []
        for row in nearest:
            interaction = shared[keys[row]]
            item = stats.items[interaction.item_id]
            activity.append(
                FriendActivity(
                    friend_id=interaction.user_id,
                    friend_name=stats.user_names.get(interaction.user_id, interaction.user_id),
                    item_id=item.id,
                    item_title=item.title,
                    kind=interaction.kind,
                    rating=interaction.rating,
                    text=interaction.text,
                    strength=friends[interaction.user_id],
                )
            )
        return activity

    def _search_items(self, state: _ReadState, vector: np.ndarray, categories: Sequence[str]) -> list[str]:
        """The catalog's items nearest to `vector` (of `categories`, if given), best first.

        Unfiltered, Chroma's index answers (~2 ms on a 100,000-item catalog); it may hold
        vectors whose rows are not (yet) in the statistics (an ingest writes Chroma before
        SQLite; data ingested since the last refresh), which are skipped. Within categories, an
        exact search over those categories' vectors in memory (~3 ms for 25,000 items) beats
        Chroma, whose category-filtered search took ~150 ms there."""
        limit = min(self.weights.candidates, len(state.stats.items) or 1)
        if not categories:
            hits = self.vectors.query(self.catalog, "items", embedding=vector, limit=limit, ids_only=True)
            return [hit.id for hit in hits if hit.id in state.stats.items]
        found: list[tuple[float, str]] = []
        for category in dict.fromkeys(categories):
            ids, matrix = state.category_vectors.get(category, ([], None))
            if matrix is None:
                continue
            likeness = matrix @ vector
            nearest = np.argpartition(-likeness, limit - 1)[:limit] if len(ids) > limit else range(len(ids))
            found += [(float(likeness[n]), ids[n]) for n in nearest]
        return [item_id for _, item_id in sorted(found, key=lambda pair: -pair[0])[:limit]]

    def reception(self, item_id: str, user_id: str | None = None) -> Reception:
        """What people here shared about an item, for `user_id` (whose friends' shared activity
        on it is included, closest friend first, at most FRIENDS_TOLD)."""
        stats = self.stats
        ratings = stats.public_ratings.get(item_id, [])
        friends = self.database.friends(self.catalog, user_id) if user_id else {}
        told: list[FriendActivity] = []
        for friend, strength in sorted(friends.items(), key=lambda pair: (-pair[1], pair[0])):
            shared = [x for x in stats.interactions_by_user.get(friend, [])
                      if x.item_id == item_id and x.visibility in SHARED_VISIBILITIES]
            if shared:
                telling = max(shared, key=lambda x: abs(interaction_signal(x)))
                told.append(FriendActivity(friend, stats.user_names.get(friend, friend), item_id,
                                           stats.items[item_id].title if item_id in stats.items else item_id,
                                           telling.kind, telling.rating, telling.text, strength))
        return Reception(len(stats.public_likers.get(item_id, ())), sum(ratings) / len(ratings) if ratings else None,
                         len(ratings), told[:FRIENDS_TOLD])

    def fitting(self, request: RankRequest) -> list[Item]:
        """The catalog items within the request's hard constraints (category, kind, maker,
        excluded tags, price, years, length), whoever asks, the most popular first: where a ranking
        is empty but these are not, it is the person's own doing (they have, liked, disliked or
        turned down all that fits), not the catalog's. Ties: by id."""
        stats = self.stats
        request = _priced_together(stats.items.values(), request)
        fitting = [item for item in stats.items.values() if _satisfies(item, request)]
        return sorted(fitting, key=lambda item: (-stats.popularity.get(item.id, 0.0), item.id))

    def cheapest_of_each(self, request: RankRequest) -> list[Item | None]:
        """The cheapest item of each kind the request's budget buys together (`together`) within
        its other constraints, that suits whom it is for; None for a kind with none."""
        return _cheapest_of_each(self.stats.items.values(), request)

    def rank(self, request: RankRequest, k: int = 10) -> Ranking:
        w = self.weights
        state = self._state  # read once: a refresh meanwhile publishes a new state, not a mix
        stats = state.stats
        request = _priced_together(stats.items.values(), request)
        history_likes, history_dislikes, owned = _own_history(stats, request.user_id)
        asked = [item_id for item_id in dict.fromkeys(request.asked_for) if item_id in stats.items]
        likes = list(dict.fromkeys([*request.more_like, *asked, *request.likes, *history_likes]))
        dislikes = set(request.dislikes) | set(history_dislikes)
        excluded = set(request.exclude) | owned | dislikes | set(request.likes) | set(request.more_like) | set(request.less_like)
        # Another listing of what they liked, own or said no to is no news either.
        excluded |= {other for item_id in excluded for other in stats.listings.get(item_id, ())}

        query_text = " ".join(filter(None, [request.query, " ".join(request.liked_tags), " ".join(request.categories)]))
        like_vectors = state.vectors_of(likes[:20])
        # Taste: what they said they liked in this conversation, else their stored history.
        said = [like_vectors[i] for i in [*asked, *request.likes] if i in like_vectors]
        taste_vectors = said or list(like_vectors.values())
        centroid = _unit(np.mean(taste_vectors, axis=0)) if taste_vectors else None
        if query_text:
            query_vector = self._embed_query(query_text)
        else:
            # Nothing asked: the person's taste is the request (or, knowing nothing, anything).
            query_vector = centroid if centroid is not None else self._embed_query("something good")
        # What the semantic component measures closeness to, which a pick's last reason may cite.
        closeness_to = "request" if query_text else "taste" if centroid is not None else None

        candidate_ids: dict[str, None] = {}
        for vector in filter(lambda v: v is not None, (query_vector, centroid)):
            for item_id in self._search_items(state, vector, request.categories):
                candidate_ids[item_id] = None
        # Friends' activity is looked up by the request and, where known, the person's taste.
        taste = _unit(query_vector + centroid) if centroid is not None else query_vector
        activity = self._friends_activity(state, request.user_id, taste, every=request.from_friends)
        collaborative = self._collaborative(stats, likes)
        social_all = self._social(request.user_id, likes, stats)
        graph_scores = self._graph(state, request.user_id, request.likes)
        for item_id in [
            *(a.item_id for a in activity),
            *sorted(collaborative, key=collaborative.get, reverse=True)[: w.candidates],  # type: ignore[arg-type]
            *sorted(social_all, key=social_all.get, reverse=True)[: w.candidates],  # type: ignore[arg-type]
            *_best(graph_scores, w.candidates),
        ]:
            candidate_ids[item_id] = None
        talked = list(dict.fromkeys([*likes, *request.seen]))
        comention = _neighbours(stats.comentions, stats, talked) if w.comention else {}
        top = max(comention.values(), default=0.0) or 1.0
        comention = {item_id: value / top for item_id, value in comention.items()}
        # Item similarity follows what they liked, else whatever the conversation is about.
        similar = _neighbours(stats.similar, stats, likes or talked, mean=True) if w.similar else {}
        requested = self._similar_requests(state, query_vector) if w.similar_requests and query_text else {}
        for item_id in [
            *(i for _, i in sorted(((-v, i) for i, v in comention.items()))[: w.candidates]),
            *(i for _, i in sorted(((-v, i) for i, v in similar.items()))[: w.candidates]),
            *(i for _, i in sorted(((-v, i) for i, v in requested.items()))[: w.candidates]),
            *stats.most_popular[: w.popular_candidates],
            *_carrying(stats, request.required_tags, w.candidates),
            # In order, the cheapest may be anything that fits: those first by the measure.
            *(_first_in_order(stats.items.values(), request, request.order, w.candidates) if request.order else ()),
        ]:
            candidate_ids[item_id] = None

        if request.from_friends:  # what friends shared liking, and nothing else
            candidate_ids = dict.fromkeys(a.item_id for a in activity if _signal_of_activity(a) > 0)
        candidates = [stats.items[i] for i in candidate_ids if i in stats.items and i not in excluded and i not in asked]
        if w.required_tags == "soft":  # what suits whom it is for is said by tags too
            request = replace(request, required_tags=(), suits=())
        seen = set(request.seen)
        seen |= {other for item_id in request.seen for other in stats.listings.get(item_id, ())}
        # In order, what came up before is in its place: the cheapest is the cheapest.
        asks = _asks(request, stats.tag_categories, stats.items.values())
        tiers = [[stats.items[i] for i in asked],
                 *_fitting(candidates, request, max(k - len(asked), 0), asks, () if request.order else seen)]
        tier_of = {item.id: n for n, tier in enumerate(tiers) for item in tier}
        candidates = [item for tier in tiers for item in tier]
        vectors = state.vectors_of([item.id for item in candidates])
        candidates = [item for item in candidates if item.id in vectors]
        if not candidates:
            return Ranking([], activity)
        matrix = np.stack([vectors[item.id] for item in candidates])

        # Knowing nothing, likeness to "something good" is noise: what people liked decides.
        semantic = matrix @ query_vector if closeness_to else np.zeros(len(candidates))
        if centroid is not None and query_text:
            # What they ask for now weighs more than the average of everything they ever liked.
            semantic = 0.7 * semantic + 0.3 * (matrix @ centroid)
        wanted_tags = set(list(request.liked_tags)[:3])
        # Near-synonyms the request requires as one group (family, kids) count once: a kids'
        # daypack is no closer to "climbing gear for a child" than a climbing helmet.
        wanted = [set(group) & wanted_tags for group in request.required_tags if set(group) & wanted_tags]
        wanted += [{tag} for tag in wanted_tags if not any(tag in group for group in wanted)]
        social_raw = {item.id: social_all[item.id] for item in candidates if item.id in social_all}
        if query_text:
            # Friends' enthusiasm counts in proportion to how well the item fits the request: a
            # friend's favourite war film is no answer to "a thoughtful sci-fi film".
            relevance = {item.id: max(0.0, float(semantic[row])) for row, item in enumerate(candidates)}
            for item_id in social_raw:
                social_raw[item_id] *= relevance.get(item_id, 0.0)
        social_top = (max((abs(v) for v in social_raw.values()), default=0.0) or 1.0) if w.social_scale == "top" else 1.0
        collab_top = max(collaborative.values(), default=0.0) or 1.0
        graph_raw = {item.id: graph_scores[item.id] for item in candidates if item.id in graph_scores}
        graph_top = max(graph_raw.values(), default=0.0)
        graph_top = graph_top if graph_top > 0 else 1.0
        disliked_vectors = list(state.vectors_of(sorted(dislikes)).values())
        # Per candidate: its likeness to the closest thing the person disliked.
        closest_dislike = (matrix @ np.stack(disliked_vectors).T).max(axis=1) if disliked_vectors else None
        # Per candidate: how like it is to the closest item of their "more like this" and of
        # their "not for me" (0..1, see _feedback_likeness).
        more_like = _feedback_likeness(matrix, state.vectors_of(request.more_like[:20]))
        less_like = _feedback_likeness(matrix, state.vectors_of(request.less_like[:20]))

        scored: list[Recommendation] = []
        for row, item in enumerate(candidates):
            components = {
                "semantic": float(semantic[row]),
                "tags": sum(bool(group & set(item.tags)) for group in wanted) / len(wanted) if wanted else 0.0,
                "collaborative": collaborative.get(item.id, 0.0) / collab_top,
                "social": social_raw.get(item.id, 0.0) / social_top,
                "popularity": stats.popularity.get(item.id, 0.0),
                "comention": comention.get(item.id, 0.0),
                "similar": similar.get(item.id, 0.0),
                "similar_requests": requested.get(item.id, 0.0),
                "graph": max(0.0, graph_raw.get(item.id, 0.0)) / graph_top,
                "more_like": float(more_like[row]),
                "context": _context_fit(item, request),
            }
            penalty = 0.0
            if closest_dislike is not None:
                closeness = float(closest_dislike[row])
                penalty += w.dislike_similarity * max(0.0, (closeness - 0.5) / 0.5)
            penalty += w.disliked_tags * len(set(item.tags) & set(request.disliked_tags))
            penalty += w.less_like * float(less_like[row])
            if item.id in seen:
                penalty += w.repeat
            components["penalty"] = -penalty
            score = (
                w.semantic * components["semantic"]
                + w.tags * components["tags"]
                + w.collaborative * components["collaborative"]
                + w.social * components["social"]
                + w.popularity * components["popularity"]
                + w.comention * components["comention"]
                + w.similar * components["similar"]
                + w.similar_requests * components["similar_requests"]
                + w.graph * components["graph"]
                + w.more_like * components["more_like"]
                + w.context * components["context"]
                - penalty
            )
            scored.append(Recommendation(item.id, item.title, item.category, score, components, [], item.price, list(item.tags)))

        # What they asked for by name comes first, in the order asked.
        chosen = [r for r in scored if tier_of[r.item_id] == 0][:k]
        for n in range(1, len(tiers)):  # every item that fits the request better comes first
            tier = [r for r in scored if tier_of[r.item_id] == n]
            chosen += (_in_order(tier, stats.items, request.order, k - len(chosen)) if request.order
                       else _diversify(tier, {r.item_id: vectors[r.item_id] for r in tier}, k - len(chosen), w.diversity))
        if request.required_tags:
            # A pick short of the request says why: they already have most of what fits, or the catalog lacks it.
            fitting_had = sum(1 for i in owned if i in stats.items and _satisfies(stats.items[i], request)
                              and not _misses(stats.items[i], asks))
            closest = CLOSEST_YOU_HAVE_MOST if fitting_had > len(tiers[1]) else CLOSEST
        for recommendation in chosen:
            if recommendation.item_id in asked:
                recommendation.reasons = [ASKED_FOR]
                continue
            recommendation.reasons = self._reasons(stats, recommendation, request, likes, like_vectors, vectors, activity,
                                                   collaborative, closeness_to, _graph_reason(state.graph) if w.graph else None)
            if _misses(stats.items[recommendation.item_id], asks):
                recommendation.reasons.insert(0, closest)
            if recommendation.item_id in seen:
                recommendation.reasons.insert(0, CAME_UP)
        first = next((r for r in chosen if tier_of[r.item_id] == 1), None)
        if request.order and first is not None:  # the first pick that fits all of the request
            measured = measure_of(stats.items[first.item_id], request.order.measure)
            if measured is not None:
                first.reasons.insert(0, ORDERED.format(word=request.order.word, value=measured[1]))
        return Ranking(chosen, activity)

    def _social(self, user_id: str | None, likes: Sequence[str] = (), stats: CatalogStats | None = None) -> dict[str, float]:
        """Per item: what the person's friends think of it, a user-based prediction from friends.

        Each friend's shared activity is read on that friend's own scale (`shared_taste`: their
        favourite 1, their least-liked near 0, a dislike below 0), and each friend is weighted by
        closeness: the friendship's strength times how much the friend's liked items overlap the
        person's (`taste_overlap` with `likes`, their own), plus a small floor so that a friend
        with nothing in common, or a person with no history yet, still counts a little.

        `social_power` sharpens both: closeness and taste are raised to it (a dislike keeps its
        sign). With `social_scale` "friends" the sum is divided by the square root of the friends'
        total closeness (else `rank` scales it to the best candidate). `stats`: the statistics of
        the ranking's state (default: the current ones)."""
        scores: dict[str, float] = defaultdict(float)
        if user_id is None or self.weights.social == 0:
            return scores
        stats = self.stats if stats is None else stats
        power = self.weights.social_power
        mine = set(likes)
        total = 0.0
        for friend, strength in sorted(self.database.friends(self.catalog, user_id).items()):
            taste = stats.shared_taste(friend)
            if not taste:
                continue
            theirs = {item_id for item_id, value in taste.items() if value > 0}
            closeness = strength * (SOCIAL_CLOSENESS_FLOOR + taste_overlap(mine, theirs)) ** power
            total += closeness
            for item_id, value in taste.items():
                scores[item_id] += closeness * math.copysign(abs(value) ** power, value)
        if self.weights.social_scale == "friends" and total > 0:
            scale = 1.0 / math.sqrt(total)
            for item_id in scores:
                scores[item_id] *= scale
        return scores

    def _graph(self, state: _ReadState, user_id: str | None, said: Sequence[str]) -> dict[str, float]:
        """Per item: the graph model's score for the person (LightGCN: their vector's dot product
        with the item's), their vector being the learned one, plus the mean of what they said
        they liked in this conversation (all there is for someone the model never saw)."""
        if self.weights.graph == 0 or state.graph is None:
            return {}
        scores = state.graph.scores(user_id, said)
        if scores is None:
            return {}
        return dict(zip(state.graph.item_ids, scores.tolist(), strict=True))

    def _similar_requests(self, state: _ReadState, query_vector: np.ndarray) -> dict[str, float]:
        """Per item: how alike this request is to the stored requests (the `REQUEST_NEIGHBOURS`
        most alike) that the catalog's agents answered by suggesting it, summed, scaled to the
        best item (1)."""
        if state.request_vectors is None:
            return {}
        likeness = state.request_vectors @ query_vector
        scores: dict[str, float] = defaultdict(float)
        for row in np.argsort(-likeness, kind="stable")[:REQUEST_NEIGHBOURS]:
            if likeness[row] <= 0:
                break
            for item_id in state.requests[row].items:
                if item_id in state.stats.items:
                    scores[item_id] += float(likeness[row])
        top = max(scores.values(), default=0.0) or 1.0
        return {item_id: value / top for item_id, value in scores.items()}

    def _collaborative(self, stats: CatalogStats, likes: Sequence[str]) -> dict[str, float]:
        """Item-to-item: people who liked what you liked also liked... (cosine on public likes)."""
        rows = _liked_rows(stats, likes)
        if not rows or self.weights.collaborative == 0:
            return {}
        # (liked items x people) @ (people x items): how many people liked both.
        together = (stats.likes_by_item[rows] @ stats.likes_by_user).tocoo()
        norms = np.sqrt(stats.likers[np.asarray(rows)][together.row] * stats.likers[together.col])
        scores = np.zeros(len(stats.item_ids), dtype=np.float64)
        np.add.at(scores, together.col, together.data / norms)
        for row in rows:
            scores[row] = 0.0  # an item is not its own neighbour
        scores /= len(likes[:20])
        return {stats.item_ids[n]: float(scores[n]) for n in np.flatnonzero(scores)}

    def _reasons(
        self,
        stats: CatalogStats,
        recommendation: Recommendation,
        request: RankRequest,
        likes: Sequence[str],
        like_vectors: dict[str, np.ndarray],
        vectors: dict[str, np.ndarray],
        activity: list[FriendActivity],
        collaborative: dict[str, float],
        closeness_to: Literal["request", "taste"] | None,
        graph_reason: str | None = None,
    ) -> list[str]:
        reasons: list[str] = []
        vector = vectors[recommendation.item_id]
        if like_vectors:
            asked = [(i, float(like_vectors[i] @ vector)) for i in request.more_like if i in like_vectors]
            closest_asked = max(asked, key=lambda p: p[1], default=None)
            if closest_asked is not None and closest_asked[1] >= MORE_LIKE_REASON:
                reasons.append(f"more like {stats.items[closest_asked[0]].title}, which you liked")
            else:
                nearest, closeness = max(((i, float(v @ vector)) for i, v in like_vectors.items()), key=lambda p: p[1])
                if closeness >= 0.45:
                    reasons.append(f"like {stats.items[nearest].title}, which you asked for" if nearest in request.asked_for
                                   else f"because you liked {stats.items[nearest].title}")
                elif (recommendation.components["collaborative"] > 0.3
                      and (co_liked := _co_liked(stats, likes, recommendation.item_id)) is not None):
                    # Not alike, but liked by the same people: say so, naming the like it owes most to.
                    reasons.append(f"people who liked {stats.items[co_liked].title} liked it too")
        friend = max(
            (a for a in activity if a.item_id == recommendation.item_id and _signal_of_activity(a) > 0),
            key=lambda a: (a.rating or 0, a.strength),
            default=None,
        )
        if friend is not None:  # first where the friends' picks were asked for
            reasons.insert(0 if request.from_friends else len(reasons), friend.describe())
        if graph_reason is not None and recommendation.components.get("graph", 0.0) >= GRAPH_REASON:
            reasons.append(graph_reason)
        matched = [t for t in request.liked_tags if t in recommendation.tags]
        if matched:
            reasons.append("matches what you asked for: " + ", ".join(matched[:3]))
        fits = [phrase for tag, phrase in request.context_tags.items() if tag in recommendation.tags]
        if fits and recommendation.components["context"] > 0:
            reasons.append(f"fits {fits[0]}")
        if request.max_price is not None and recommendation.price is not None:
            reasons.append(f"within your budget at {recommendation.price:.2f}")
        if recommendation.components["popularity"] >= 0.6 and len(reasons) < 2:
            reasons.append("popular with the community")
        if reasons:
            return reasons
        if closeness_to:
            return [CLOSE_TO[closeness_to]]
        return ["liked by people here" if recommendation.components["popularity"] > 0 else "a pick to start with"]


def _liked_rows(stats: CatalogStats, likes: Sequence[str]) -> list[int]:
    """The rows of the person's (first 20) likes that someone publicly liked: collaborative
    filtering's sources."""
    return [stats.item_index[i] for i in likes[:20] if i in stats.item_index and stats.likers[stats.item_index[i]] > 0]


def _co_liked(stats: CatalogStats, likes: Sequence[str], item_id: str) -> str | None:
    """Of the person's likes, the one whose likers most also liked `item_id` (the cosine of
    `Ranker._collaborative`): what its score owes most to."""
    rows = _liked_rows(stats, likes)
    column = stats.item_index.get(item_id)
    if not rows or column is None or stats.likers[column] == 0:
        return None
    together = np.asarray((stats.likes_by_item[rows] @ stats.likes_by_user[:, column]).todense()).ravel()
    cosine = together / np.sqrt(stats.likers[np.asarray(rows)] * stats.likers[column])
    best = int(np.argmax(cosine))
    return stats.item_ids[rows[best]] if cosine[best] > 0 else None


def _own_history(stats: CatalogStats, user_id: str | None) -> tuple[list[str], list[str], set[str]]:
    if user_id is None:
        return [], [], set()
    liked, disliked, consumed = [], [], set()
    for interaction in stats.interactions_by_user.get(user_id, []):
        signal = interaction_signal(interaction)
        if signal >= 0.25:
            liked.append(interaction.item_id)
        elif signal < 0:
            disliked.append(interaction.item_id)
        # Anything they already watched, read, bought or rated is not news to them.
        consumed.add(interaction.item_id)
    return liked, disliked, consumed


def _activity_vectors(state: _ReadState, interactions: Sequence[Interaction]) -> dict[str, np.ndarray]:
    """Vectors of activity records by key, from memory. Bare activity (a play, a like) was
    stored with its item's vector (retrieval.ingest); a review has its own words' vector."""
    found = {x.key: state.review_vectors[x.key] for x in interactions if x.key in state.review_vectors}
    found.update({x.key: state.item_vectors[x.item_id] for x in interactions
                  if x.key not in found and not x.text and x.item_id in state.item_vectors})
    return found


def _comentions(dialogues: Sequence[Sequence[str]], item_index: dict[str, int]) -> sparse.csr_matrix:
    """Items x items: dialogues mentioning both, over the geometric mean of dialogues mentioning
    each (cosine of the items' dialogue sets); 0 on the diagonal."""
    rows, columns = [], []
    for number, mentioned in enumerate(dialogues):
        for item_id in dict.fromkeys(mentioned):
            if item_id in item_index:
                rows.append(number)
                columns.append(item_index[item_id])
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, columns)), shape=(len(dialogues), len(item_index))
    )
    together = (incidence.T @ incidence).tocsr()
    together = (together - sparse.diags(together.diagonal())).tocsr()  # an item is not its own neighbour
    together.eliminate_zeros()
    counts = np.asarray(incidence.sum(axis=0)).ravel()
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(counts, 1.0)))
    return (scale @ together @ scale).tocsr()


def _similar(items: dict[str, Item], item_index: dict[str, int]) -> sparse.csr_matrix:
    """Items x items from the items' `similar` attributes ({item id: similarity}); ids outside
    the catalog and values that are not numbers are skipped."""
    rows, columns, values = [], [], []
    for item_id, item in items.items():
        neighbours = item.attributes.get("similar")
        if not isinstance(neighbours, dict):
            continue
        for other, value in neighbours.items():
            if other in item_index and other != item_id and isinstance(value, int | float) and not isinstance(value, bool):
                rows.append(item_index[item_id])
                columns.append(item_index[other])
                values.append(float(value))
    size = len(item_index)
    return sparse.csr_matrix((np.asarray(values, dtype=np.float64), (rows, columns)), shape=(size, size))


def _listings(items: dict[str, Item]) -> dict[str, tuple[str, ...]]:
    """Per item listed more than once: its other listings, the items of its category with the
    same title and the same year or none (ReDial lists "The Matrix" and "The Matrix (1999)")."""
    by_name: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for item in items.values():
        name = normalize(split_year(item.title)[0])
        if name:  # a name of punctuation alone ("!!!") says nothing of which work it is
            by_name[(item.category, name)].append(item)
    listings: dict[str, tuple[str, ...]] = {}
    for group in by_name.values():
        for item in group if len(group) > 1 else ():
            year = item.attributes.get("year")
            others = tuple(
                other.id for other in group
                if other.id != item.id and (year is None or other.attributes.get("year") in (None, year))
            )
            if others:
                listings[item.id] = others
    return listings


def _neighbours(matrix: sparse.csr_matrix, stats: CatalogStats, sources: Sequence[str], mean: bool = False) -> dict[str, float]:
    """Per item: the sum (or mean) of its similarity in `matrix` to the first 20 `sources`;
    the sources themselves are left out."""
    rows = [stats.item_index[i] for i in dict.fromkeys(sources[:20]) if i in stats.item_index]
    if not rows or matrix.nnz == 0:
        return {}
    scores = np.asarray(matrix[rows].sum(axis=0)).ravel()
    if mean:
        scores = scores / len(rows)
    scores[rows] = 0.0
    return {stats.item_ids[n]: float(scores[n]) for n in np.flatnonzero(scores > 0)}


def _context_fit(item: Item, request: RankRequest) -> float:
    """How well an item fits the moment: the share of its favoured tags it carries (two are a
    full fit), less 1 if it carries a disfavoured one: -1 .. 1."""
    tags = set(item.tags)
    favoured = len(tags & set(request.context_tags)) / min(2, len(request.context_tags)) if request.context_tags else 0.0
    return min(1.0, favoured) - (1.0 if tags & set(request.context_avoid) else 0.0)


def _feedback_likeness(matrix: np.ndarray, vectors: dict[str, np.ndarray]) -> np.ndarray:
    """Per row of `matrix`: its likeness to the closest of `vectors` beyond that of two
    unrelated items (FEEDBACK_LIKENESS), 0..1; zeros where `vectors` is empty."""
    if not vectors:
        return np.zeros(len(matrix))
    low, high = FEEDBACK_LIKENESS
    closest = (matrix @ np.stack(list(vectors.values())).T).max(axis=1)
    return np.clip((closest - low) / (high - low), 0.0, 1.0)


def _best(scores: dict[str, float], limit: int) -> list[str]:
    """The `limit` items of highest score, best first."""
    if len(scores) <= limit:
        return sorted(scores, key=scores.__getitem__, reverse=True)
    ids = list(scores)
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(ids))
    top = np.argpartition(-values, limit - 1)[:limit]
    return [ids[n] for n in top[np.argsort(-values[top], kind="stable")]]


def _graph_reason(graph: GraphModel | None) -> str | None:
    """What a high graph score tells the person, by what the model learned from."""
    if graph is None:
        return None
    return "people whose taste you share, and your friends, loved it" if graph.friends else "people whose taste you share loved it"


def _signal_of_activity(activity: FriendActivity) -> float:
    return _signal_from(activity.kind, activity.rating)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def tag_categories(items: Iterable[Item]) -> dict[str, set[str]]:
    """The categories whose items carry each tag ("budget": outdoor gear, and no book)."""
    carried: dict[str, set[str]] = {}
    for item in items:
        for tag in item.tags:
            carried.setdefault(tag, set()).add(item.category)
    return carried


def _carries(item: Item, groups: Sequence[Sequence[str]]) -> bool:
    """Whether the item carries a tag of every group."""
    return all(set(group) & set(item.tags) for group in groups if group)


# A title that says the item is made for children, in a child's size ("Kids' Daypack").
CHILD_SIZED = re.compile(r"\bkids['’]", re.I)
# A group of `RankRequest.required_tags` and the categories whose items it binds (empty: all).
Ask = tuple[Sequence[str], set[str]]


def _asks(request: RankRequest, carried: Mapping[str, set[str]], items: Iterable[Item]) -> list[Ask]:
    """The request's own asks: each group of `required_tags`, binding every item, except where the
    request names several categories: there a group binds only the items of those of them that
    carry it (`carried`: each tag's categories), unless none does, and of those it was asked of
    (`tag_categories`). "History books for dad and jazz for mum" asks for no jazz book where no
    book is jazz, "a thriller book and a romantic film" for no romantic book. Where the request names kinds
    or makers, a group none of their `items` carries asks nothing: the day hike a backpack was for
    is no ask of a sleeping bag, the documentaries asked for before none of Brian Eno's albums."""
    several = set(request.categories) if len(request.categories) > 1 else set()
    # A scan of the catalog's titles, only where a request names both kinds or makers and tags.
    named = [item for item in items if (not request.categories or item.category in request.categories)
             and of_kind(item, request.kinds) and (not request.makers or maker_of(item) in request.makers)
             ] if (request.kinds or request.makers) and request.required_tags else []
    asks = []
    for group in request.required_tags:
        if not group or named and not any(_carries(item, [group]) for item in named):
            continue
        binds = set().union(*(carried.get(tag, set()) for tag in group)) & several
        # "A thriller book and a romantic film": thriller binds the books alone.
        asked_of = set().union(*(request.tag_categories.get(tag, ()) for tag in group))
        asks.append((group, binds & asked_of or binds))
    return asks


def _misses(item: Item, asks: Sequence[Ask]) -> int:
    """How many of the request's asks (`_asks`) the item misses: the groups binding it that it
    carries no tag of."""
    return sum(not _carries(item, [group]) for group, binds in asks if not binds or item.category in binds)


def _fitting(candidates: Sequence[Item], request: RankRequest, k: int, asks: Sequence[Ask],
             seen: Collection[str] = ()) -> list[list[Item]]:
    """The items a ranking picks from, in tiers picked in order. First those within the
    request's hard constraints (`_satisfies`) that carry a tag of every group of its
    `required_tags`, whatever the person's history prefers; where fewer than `k` do, the
    closest: those that miss one group, whichever (the score decides between a sci-fi film that
    is not thoughtful and a thoughtful one that is not sci-fi: both are half of what was asked),
    then those that miss two, and so on until `k` items fit, each a tier. What this conversation
    already showed (`seen`) follows the fresh items that miss as much: "under $5" after "a film
    for my kids" answers with the kids' films under $5 shown before, not a fresh sushi
    documentary; "we need a tent first" after a family camping trip with the family tent shown
    then; "I've read Gone Girl, loved it" with the thrillers shown, not a fresh comedy. Where new
    ones are asked for (`request.fresh_first`: "another"), it comes last: across tiers its repeat
    penalty cannot keep a shown item that fits below fresh ones that fit less. Where the message
    asks among what was shown (`request.those_first`: "any of those under 10?"), it comes before
    the fresh items that miss as much. An item that does not suit whom the request is for
    (`request.suits`, `for_a_child`) misses more than all of the asks; for a child, a story
    (STORIES) that does not suit does not come at all while anything suits.
    Tier 0 may be empty."""
    within = [item for item in candidates if _satisfies(item, request)]
    if not asks and not any(_unsuited(item, request) for item in within) and not request.those_first:
        return [within]
    if request.for_a_child and any(not _unsuited(item, request) for item in within):
        # For a child, fewer picks rather than grown-ups' stories: The Remains of the Day had
        # filled the six picks for a 9-year-old after the children's books that fit ran out.
        within = [item for item in within if item.category not in STORIES or not _unsuited(item, request)]
    misses = {item.id: _misses(item, asks) for item in within}
    unsuited = len(asks) + 1
    missed = {item.id: misses[item.id] + unsuited * _unsuited(item, request) for item in within}
    if not request.categories and asks:
        # Where the request names no category, the closest are of the categories that carry all
        # of what it asks, else some of it: "something for bouldering" is answered with gear,
        # not a book and an album that carry none of it, and "he's 11" after it with gear, not
        # a children's film.
        carrying = set.intersection(*({item.category for item in within if _carries(item, [group])} for group, _ in asks))
        carrying = carrying or {item.category for item in within if misses[item.id] < len(asks)}
        within = [item for item in within if not carrying or item.category in carrying]
    fresh = [item for item in within if item.id not in seen]
    shown = [item for item in within if item.id in seen]
    tiers: list[list[Item]] = []
    for missing in range(unsuited + len(asks) + 1):
        if request.those_first:
            tiers.append([item for item in shown if missed[item.id] == missing])
        tiers.append([item for item in fresh if missed[item.id] == missing])
        if not request.fresh_first and not request.those_first:
            tiers.append([item for item in shown if missed[item.id] == missing])
        if sum(map(len, tiers)) >= k:
            break
    return [*tiers, shown] if request.fresh_first and not request.those_first else tiers


# The categories whose items tell stories: one for grown-ups is no pick for a child at all, where
# grown-ups' gear or music may still do (the family's tent, road-trip albums for the car).
STORIES = frozenset({"books", "films"})


def _unsuited(item: Item, request: RankRequest) -> bool:
    """Whether the item does not suit whom the request is for: it carries none of the tags that
    do (`suits`), or it is made for children and the request is not for a child. For a teenager
    a film's age rating says it instead (a PG-13 horror film suits a 14-year-old); for a child
    tags do, as a rating is too coarse for a 5-year-old (Jaws is PG)."""
    rated = (not request.for_a_child and request.max_rating is not None
             and item.attributes.get("rating") in FILM_RATINGS and _rated_within(item, request.max_rating))
    return (bool(request.suits) and not set(request.suits) & set(item.tags) and not rated
            or not request.for_a_child and bool(CHILD_SIZED.search(item.title)))


def of_kind(item: Item, kinds: Sequence[str]) -> bool:
    """Whether the item's title names one of `kinds` as what the item is ("sleeping bags": "...
    Down Sleeping Bag"): only a size, a count or "set", "pair", "system" may follow the kind's
    words ("Roll-Top Dry Bag Set"), not another thing ("Trekking Pole Shelter" is no pole), nor
    may a word of FIXED_TO come before them ("Seat Pack")."""
    if not kinds:
        return True
    title = _singular_words(item.title)
    for kind in kinds:
        words = _singular_words(kind)
        at = title.find(words)
        while at >= 0:
            before = title[:at].split()
            if all(TITLE_TAIL.fullmatch(word) for word in title[at + len(words):].split()) \
                    and not (before and before[-1] in FIXED_TO):
                return True
            at = title.find(words, at + 1)
    return False


def _singular_words(text: str) -> str:
    """" tent ", " sleeping bag ": the text's words without a plural's s, spaced for a search."""
    return " " + " ".join(word.rstrip("s") for word in KIND_WORD.findall(text.lower())) + " "


def maker_of(item: Item) -> str | None:
    """Who made the item, as the catalog names them: its creator (author, director, artist) or
    its brand."""
    maker = item.attributes.get("creator") or item.attributes.get("brand")
    return maker if isinstance(maker, str) and maker else None


def _cheapest_of_each(items: Iterable[Item], request: RankRequest) -> list[Item | None]:
    """The cheapest item of each kind the budget buys together (`together`) that is within the
    request and suits whom it is for; None for a kind with none."""
    suiting = [item for item in items if item.price is not None and _satisfies(item, request) and not _unsuited(item, request)]
    return [min((item for item in suiting if of_kind(item, words)), key=lambda item: (item.price, item.id), default=None)
            for words in request.together]


def _priced_together(items: Iterable[Item], request: RankRequest) -> RankRequest:
    """Where max_price buys one of each kind together (`together`), the most an item of each kind
    may cost: the budget less the cheapest of each other kind that is within the request and
    suits whom it is for (a kids' sleeping bag leaves an adult no room). Where a kind has nothing
    within it that suits, nothing fits: one of each is what was asked for."""
    if len(request.together) < 2 or request.max_price is None:
        return request
    cheapest = [item.price if item is not None and item.price is not None else math.inf
                for item in _cheapest_of_each(items, request)]
    if math.inf in cheapest:
        cheapest = [math.inf] * len(cheapest)
    return replace(request, kind_max_prices=tuple(
        (words, request.max_price - sum(price for other, price in enumerate(cheapest) if other != n))
        for n, words in enumerate(request.together)))


def _rated_within(item: Item, ceiling: FilmRating) -> bool:
    """Whether the item's age rating is `ceiling` or milder (FILM_RATINGS); an item without one
    (a book, gear) or with one outside the scale is within any."""
    rating = item.attributes.get("rating")
    return rating not in FILM_RATINGS or FILM_RATINGS.index(rating) <= FILM_RATINGS.index(ceiling)


def _satisfies(item: Item, request: RankRequest) -> bool:
    if request.categories and item.category not in request.categories:
        return False
    if not of_kind(item, request.kinds) or request.owned_kinds and of_kind(item, request.owned_kinds):
        return False
    if request.makers and maker_of(item) not in request.makers:
        return False
    if request.cool_weather and item.attributes.get("season") == SUMMER_ONLY:
        return False
    if request.sleeps and isinstance(sleeps := item.attributes.get("sleeps"), int) and sleeps < request.sleeps:
        return False
    if request.capacity and not request.capacity.fits(item) or request.weight and not request.weight.fits(item):
        return False
    if request.english_only and item.attributes.get("language", "English") != "English":
        return False
    if request.instrumental and item.attributes.get("instrumental") is False:
        return False
    if request.max_rating and not _rated_within(item, request.max_rating):
        return False
    if set(item.tags) & set(request.excluded_tags) or request.avoid_words and _says_any(item, request.avoid_words):
        return False
    if item.price is not None:
        ceiling = next((price for words, price in request.kind_max_prices if of_kind(item, words)), request.max_price)
        if ceiling is not None and item.price > ceiling:
            return False
        if request.min_price is not None and item.price < request.min_price:
            return False
    year = item.attributes.get("year")
    if isinstance(year, int):
        if request.min_year is not None and year < request.min_year:
            return False
        if request.max_year is not None and year > request.max_year:
            return False
    if isinstance(request.length, MeasureLimit):
        return request.length.fits(item)
    if request.length is not None:
        limits = SHORT_LIMITS if request.length == "short" else LONG_LIMITS
        for attribute, limit in limits.items():
            value = item.attributes.get(attribute)
            if isinstance(value, int | float) and not (value <= limit if request.length == "short"
                                                       else value < limit if request.length == "not-long"
                                                       else value >= limit):
                return False
    return True


def says(text: str, word: str) -> bool:
    """Whether `text` has a word that starts like `word`, by its stem: all but its last three
    letters, at least four ("nature" finds "natural", "breathable" "breathability")."""
    return re.search(rf"\b{re.escape(word[:max(4, len(word) - 3)])}", text, re.I) is not None


def _says_any(item: Item, words: Sequence[str]) -> bool:
    """Whether the item's title or description says one of `words` (`says`)."""
    return any(says(f"{item.title} {item.description}", word) for word in words)


def measure_of(item: Item, measure: str) -> tuple[float, str] | None:
    """The item's measure (`Order.measure`) and how it reads ("8.99", "640 g", "2021"), or None
    where its record lacks it."""
    if measure == "price":
        return None if item.price is None else (item.price, f"{item.price:.2f}")
    name = next((name for name in MEASURES[measure] if isinstance(item.attributes.get(name), int | float)), None)
    if name is None:
        return None
    value = item.attributes[name]
    return float(value), f"{value:g} {UNITS[name]}" if name in UNITS else f"{value:g}"


def _carrying(stats: CatalogStats, groups: Sequence[Sequence[str]], k: int) -> list[str]:
    """Up to `k` items that carry a tag of every group (`RankRequest.required_tags`), the most
    popular first: the first group's items in that order (`CatalogStats.tagged`), merged, until
    `k` carry the other groups too (a scan of a common tag's items took 18-43 ms on 100,000)."""
    if not groups:
        return []
    first, *others = [set(group) for group in groups]
    found: list[str] = []
    for item_id in heapq.merge(*(stats.tagged.get(tag, ()) for tag in first), key=stats.popular_first):
        tags = stats.items[item_id].tags
        if (not found or found[-1] != item_id) and all(group.intersection(tags) for group in others):
            found.append(item_id)
            if len(found) == k:
                break
    return found


def _first_in_order(items: Iterable[Item], request: RankRequest, order: Order, k: int) -> list[str]:
    """The `k` items within the request's hard constraints with the least (or most) of the
    order's measure: a scan of the catalog, without scoring it."""
    measured = [(value[0], item.id) for item in items
                if _satisfies(item, request) and (value := measure_of(item, order.measure)) is not None]
    return [item_id for _, item_id in sorted(measured, key=lambda m: -m[0] if order.most else m[0])[:k]]


def _in_order(scored: list[Recommendation], items: Mapping[str, Item], order: Order, k: int) -> list[Recommendation]:
    """The `k` least (or most) of the order's measure, the better score first on a tie, those
    whose record lacks it last."""
    def key(r: Recommendation) -> tuple[bool, float, float]:
        measured = measure_of(items[r.item_id], order.measure)
        value = 0.0 if measured is None else measured[0]
        return measured is None, -value if order.most else value, -r.score

    return sorted(scored, key=key)[:k]


def _diversify(scored: list[Recommendation], vectors: dict[str, np.ndarray], k: int, diversity: float) -> list[Recommendation]:
    """Maximal marginal relevance: each pick trades score against likeness to earlier picks."""
    pool = sorted(scored, key=lambda r: -r.score)[: max(k * 5, 50)]
    if diversity == 0 or not pool:
        return pool[:k]
    scores = np.array([r.score for r in pool])
    matrix = np.stack([vectors[r.item_id] for r in pool])
    likeness = np.full(len(pool), -np.inf)  # highest similarity to any pick so far
    available = np.ones(len(pool), dtype=bool)
    chosen: list[Recommendation] = []
    while len(chosen) < min(k, len(pool)):
        marginal = scores if not chosen else (1 - diversity) * scores - diversity * likeness
        best = int(np.argmax(np.where(available, marginal, -np.inf)))
        chosen.append(pool[best])
        available[best] = False
        likeness = np.maximum(likeness, matrix @ matrix[best])
    return chosen
