"""Every recommender behind one small interface, as benfred/implicit does: `fit` on interactions,
then `recommend` for a person (their id) or a request (a `RankRequest`), best first.

The benchmarks measure each one the same way, on the same split, in the same run: popularity,
item-kNN and LightGCN stand on their own (none is fed Kith's candidates), and Kith is its
production `Ranker` over the training part. Every one learns from the same positives as Kith's
collaborative filtering: public interactions with a positive signal (`retrieval.graph.liked_pairs`).
A recommender never returns what the person already has (in the data it was fitted on) nor what
the request names (liked, disliked, excluded or already mentioned).
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import sparse

from retrieval.database import Database
from retrieval.embeddings import Embedder
from retrieval.graph import GraphModel, GraphSettings, liked_pairs, train_graph
from retrieval.ranking import Ranker, RankingWeights, RankRequest
from retrieval.schemas import Interaction
from retrieval.vectors import VectorStore


class Recommender(Protocol):
    name: str

    def fit(self, interactions: Sequence[Interaction]) -> Recommender: ...

    def recommend(self, who: str | RankRequest, k: int) -> list[str]: ...


def as_request(who: str | RankRequest) -> RankRequest:
    """A person's id asks for what suits them, with nothing said."""
    return who if isinstance(who, RankRequest) else RankRequest(query="", user_id=who)


def _named(request: RankRequest) -> set[str]:
    """What the request names, which is no news to the person."""
    return {*request.exclude, *request.likes, *request.dislikes, *request.seen}


def _history(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    history: dict[str, list[str]] = defaultdict(list)
    for user_id, item_id in pairs:
        history[user_id].append(item_id)
    return history


class Popularity:
    """The items most people liked."""

    def __init__(self, name: str = "popularity"):
        self.name = name
        self.ranked: list[str] = []
        self.history: dict[str, list[str]] = {}

    def fit(self, interactions: Sequence[Interaction]) -> Popularity:
        pairs = liked_pairs(interactions)
        counts = Counter(item_id for _, item_id in pairs)
        # Ties by item id, so that a run is repeatable.
        self.ranked = sorted(counts, key=lambda item_id: (-counts[item_id], item_id))
        self.history = _history(pairs)
        return self

    def recommend(self, who: str | RankRequest, k: int) -> list[str]:
        request = as_request(who)
        skip = _named(request) | set(self.history.get(request.user_id or "", ()))
        found = []
        for item_id in self.ranked:
            if item_id not in skip:
                found.append(item_id)
                if len(found) == k:
                    break
        return found


class ItemKNN:
    """Item-to-item collaborative filtering: each item's cosine similarity (over who liked it)
    to the person's items, summed. The person's items: what the request says they liked
    (else what it mentions) and what they liked in the fitted data."""

    def __init__(self, name: str = "item-kNN"):
        self.name = name
        self.item_ids: list[str] = []
        self.item_index: dict[str, int] = {}
        self.history: dict[str, list[str]] = {}

    def fit(self, interactions: Sequence[Interaction]) -> ItemKNN:
        pairs = liked_pairs(interactions)
        self.history = _history(pairs)
        self.item_ids = sorted({item_id for _, item_id in pairs})
        self.item_index = {item_id: n for n, item_id in enumerate(self.item_ids)}
        users = {user_id: n for n, user_id in enumerate(self.history)}
        rows = [users[u] for u, _ in pairs]
        columns = [self.item_index[i] for _, i in pairs]
        likes = sparse.csr_matrix((np.ones(len(pairs)), (rows, columns)), shape=(len(users), len(self.item_ids)))
        self.by_item = likes.T.tocsr()  # items x people
        self.likes = likes  # people x items
        self.norms = np.sqrt(np.asarray(likes.sum(axis=0)).ravel())  # sqrt(people who liked each item)
        return self

    def recommend(self, who: str | RankRequest, k: int) -> list[str]:
        request = as_request(who)
        own = self.history.get(request.user_id or "", [])
        basket = list(dict.fromkeys([*(request.likes or request.seen), *own]))
        rows = [self.item_index[i] for i in basket if i in self.item_index]
        if not rows:
            return []
        together = np.asarray((self.by_item[rows] @ self.likes).todense())  # (basket, items): people who liked both
        scores = (together / (self.norms[rows][:, None] * self.norms[None, :])).sum(axis=0)
        skip = _named(request) | set(own)
        return _top(self.item_ids, scores, skip, k, above=0.0)  # an item nobody liked with theirs is no neighbour


class LightGCN:
    """PyTorch Geometric's LightGCN on the people–items graph (`retrieval.graph`); given
    `friendships` and settings with `friends` on, the friendships are edges of the graph too.
    `seconds`: how long the last fit trained."""

    def __init__(self, settings: GraphSettings, friendships: Sequence[tuple[str, str]] = (), name: str = "LightGCN",
                 data: dict[str, Any] | None = None, progress: bool = False):
        self.name = name
        self.settings = settings
        self.friendships = friendships
        self.data = data or {}
        self.progress = progress
        self.model: GraphModel | None = None
        self.seconds = 0.0

    def fit(self, interactions: Sequence[Interaction]) -> LightGCN:
        self.model = train_graph(interactions, self.friendships, self.settings, self.data, self.progress)
        self.seconds = float(self.model.info["training_seconds"])
        return self

    def recommend(self, who: str | RankRequest, k: int) -> list[str]:
        if self.model is None:
            raise RuntimeError("fit LightGCN before asking it to recommend")
        request = as_request(who)
        scores = self.model.scores(request.user_id, request.likes)
        if scores is None:
            return []
        skip = _named(request) | set(self.model.learned_likes(request.user_id or ""))
        return _top(self.model.item_ids, scores, skip, k)


class TrainingView:
    """A database as if one catalog's interactions were only `interactions` (an evaluation's
    training part): every other read goes to the database itself."""

    def __init__(self, database: Database, catalog: str, interactions: Sequence[Interaction]):
        self._database = database
        self._catalog = catalog
        self._interactions = list(interactions)

    def interactions(self, catalog: str, user_id: str | None = None) -> list[Interaction]:
        if catalog != self._catalog:
            return self._database.interactions(catalog, user_id)
        return [x for x in self._interactions if user_id is None or x.user_id == user_id]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


class KithRecommender:
    """Kith's production `Ranker`, built over the catalog with only the fitted interactions
    (its statistics, friends' activity and collaborative filtering see nothing else), ranking
    with `weights` and, where given, the graph model `graph` (trained on the same interactions)."""

    def __init__(self, catalog: str, database: Database, vectors: VectorStore, embedder: Embedder,
                 weights: RankingWeights, graph: GraphModel | None = None, name: str = "kith"):
        self.name = name
        self.catalog = catalog
        self.database = database
        self.vectors = vectors
        self.embedder = embedder
        self.weights = weights
        self.graph = graph
        self.ranker: Ranker | None = None

    def fit(self, interactions: Sequence[Interaction]) -> KithRecommender:
        view = TrainingView(self.database, self.catalog, interactions)
        with tempfile.TemporaryDirectory(prefix="kith-graph-") as folder:
            # The ranker reads its graph model as the product does: from a saved artifact.
            graph_dir = self.graph.save(Path(folder)) if self.graph is not None else None
            self.ranker = Ranker(self.catalog, view, self.vectors, self.embedder, self.weights, graph_dir)  # type: ignore[arg-type]
        return self

    def with_weights(self, weights: RankingWeights, name: str) -> KithRecommender:
        """The same fitted ranker's state with other weights (ablations): nothing is re-read."""
        if self.ranker is None:
            raise RuntimeError("fit Kith before deriving other weights from it")
        other = KithRecommender(self.catalog, self.database, self.vectors, self.embedder, weights, self.graph, name)
        other.ranker = self.ranker.with_weights(weights)
        return other

    def recommend(self, who: str | RankRequest, k: int) -> list[str]:
        if self.ranker is None:
            raise RuntimeError("fit Kith before asking it to recommend")
        return [r.item_id for r in self.ranker.rank(as_request(who), k).recommendations]


def _top(item_ids: Sequence[str], scores: np.ndarray, skip: set[str], k: int, above: float = -np.inf) -> list[str]:
    """The k best-scored items outside `skip` scoring more than `above`, best first (ties by
    position, repeatably)."""
    order = np.argsort(-scores, kind="stable")
    found = []
    for n in order:
        if scores[n] <= above:
            break
        if item_ids[n] not in skip:
            found.append(item_ids[n])
            if len(found) == k:
                break
    return found
