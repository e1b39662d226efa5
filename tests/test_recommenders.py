"""The recommenders' one interface (evaluation/recommenders.py): fit on interactions, recommend
for a person or a request; hand-made cases worked out in the comments."""

from __future__ import annotations

from evaluation.recommenders import ItemKNN, KithRecommender, LightGCN, Popularity, TrainingView
from retrieval.datafiles import Dataset, Origin
from retrieval.embeddings import Embedder
from retrieval.graph import GraphSettings
from retrieval.ingest import ingest_dataset
from retrieval.ranking import RankingWeights, RankRequest
from retrieval.schemas import Interaction, Item, User
from retrieval.store import Stores


def liked(user: str, item: str, visibility: str = "public") -> Interaction:
    return Interaction(id=f"{user}-{item}", user_id=user, item_id=item, kind="like", visibility=visibility)


# a: liked by 3 people, b: by 2, c and d: by 1; "secret" only privately.
ROWS = [liked("u1", "a"), liked("u1", "b"), liked("u2", "a"), liked("u2", "b"), liked("u3", "a"), liked("u3", "c"),
        liked("u4", "d"), liked("u4", "secret", "private")]


def test_popularity_ranks_by_people_and_skips_what_the_person_has_or_names() -> None:
    popularity = Popularity().fit(ROWS)
    assert popularity.recommend(RankRequest(query=""), 10) == ["a", "b", "c", "d"]  # ties by id; private unseen
    assert popularity.recommend("u1", 10) == ["c", "d"]
    assert popularity.recommend(RankRequest(query="", user_id="u4", seen=["a"]), 2) == ["b", "c"]


def test_item_knn_sums_cosines_to_the_persons_items() -> None:
    knn = ItemKNN().fit(ROWS)
    # From u3's a and c. b: cos(a, b) = 2 / sqrt(3 * 2) = 0.816, cos(c, b) = 0; d: nobody liked it
    # with a or c, so it is no neighbour.
    assert knn.recommend("u3", 10) == ["b"]
    # A request's likes are the person's items for someone it never saw: from c, a (cos 1/sqrt(3)).
    assert knn.recommend(RankRequest(query="", likes=["c"]), 10) == ["a"]
    assert knn.recommend(RankRequest(query="", likes=["nothing-known"]), 10) == []


def test_lightgcn_recommends_through_the_same_interface() -> None:
    rows = [liked(f"p{n}", f"r{m}") for n in range(4) for m in range(4) if m != n]
    rows += [liked(f"q{n}", f"j{m}") for n in range(4) for m in range(4) if m != n]
    graph = LightGCN(GraphSettings(friends=False, embedding_dim=16, layers=2, epochs=60, batch_size=16, learning_rate=0.05)).fit(rows)
    assert graph.seconds > 0
    top = graph.recommend("p1", 3)
    # The one rock artist p1 lacks comes first; what they have never comes back.
    assert top[0] == "r1" and not {"r0", "r2", "r3"} & set(top)


def _catalog(stores: Stores, embedder: Embedder) -> None:
    dataset, origin = Dataset(), Origin("test", None)
    for item in ("a", "b", "c", "d"):
        dataset.add(Item(id=item, title=f"Item {item}", category="things", description="A thing."), origin)
    for user in ("u1", "u2", "u3", "u4"):
        dataset.add(User(id=user, name=user), origin)
    for row in ROWS[:-1]:
        dataset.add(row, origin)
    ingest_dataset(dataset, "things", "test", stores.database, stores.vectors, embedder)


def test_kith_fitted_on_a_training_part_never_sees_the_rest(stores: Stores, embedder: Embedder) -> None:
    _catalog(stores, embedder)
    everything = stores.database.interactions("things")
    # Hold out u1's like of b: fitted on the rest, Kith may recommend b to u1 again.
    training = [x for x in everything if x.key != "u1-b"]
    view = TrainingView(stores.database, "things", training)
    assert len(view.interactions("things")) == len(everything) - 1 and view.items("things") == stores.database.items("things")
    weights = RankingWeights(semantic=0.0, tags=0.0, collaborative=1.0, social=0.0, popularity=0.0, diversity=0.0)
    kith = KithRecommender("things", stores.database, stores.vectors, embedder, weights).fit(training)
    assert kith.recommend("u1", 2)[0] == "b"  # u2 and u1 both liked a; u2 liked b too
    # Fitted on everything, b is u1's already and never comes back.
    assert "b" not in KithRecommender("things", stores.database, stores.vectors, embedder, weights).fit(everything).recommend("u1", 3)
    # Other weights over the same fitted state; the first keeps its own.
    popular = kith.with_weights(weights.model_copy(update={"collaborative": 0.0, "popularity": 1.0}), "popular")
    assert popular.name == "popular" and popular.ranker is not kith.ranker and kith.ranker.weights is weights
