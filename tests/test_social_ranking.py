"""The social component (friends' shared taste, closeness-weighted) and per-catalog ranking weights,
on hand-made cases whose answers are worked out by hand in the comments."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot import Kith
from bot.config import load_config
from retrieval.ranking import SOCIAL_CLOSENESS_FLOOR, Ranker, RankingWeights, shared_taste, taste_overlap
from retrieval.schemas import Interaction
from tests.conftest import copy_demo


def play(user: str, item: str, plays: float, visibility: str = "public") -> Interaction:
    return Interaction(user_id=user, item_id=item, kind="view", weight=plays, visibility=visibility)


def test_shared_taste_ranks_a_persons_items_on_their_own_scale() -> None:
    taste = shared_taste([play("f", "a", 5000), play("f", "b", 40), play("f", "c", 300), play("f", "d", 2)])
    # Order by plays: a, c, b, d; value 1 - rank / 4.
    assert taste == {"a": 1.0, "c": 0.75, "b": 0.5, "d": 0.25}


def test_shared_taste_shares_ties_and_keeps_dislikes() -> None:
    rows = [
        Interaction(user_id="f", item_id="x", kind="rating", rating=5, visibility="public"),
        Interaction(user_id="f", item_id="y", kind="like", visibility="friends"),
        Interaction(user_id="f", item_id="z", kind="like", visibility="public"),
        Interaction(user_id="f", item_id="w", kind="rating", rating=1, visibility="public"),
        # Several interactions with one item: the most telling (largest |signal|) counts.
        Interaction(user_id="f", item_id="w", kind="view", visibility="public"),
    ]
    taste = shared_taste(rows)
    # Liked: x (signal 1.0) first, then y and z (0.8 each) tied for ranks 1 and 2 of 3 -> 1 - 1.5/3.
    assert taste["x"] == 1.0
    assert taste["y"] == taste["z"] == pytest.approx(0.5)
    # Rated 1/5: signal (1 - 3) / 2 = -1, kept as it is.
    assert taste["w"] == -1.0


def test_shared_taste_never_reads_private_activity() -> None:
    taste = shared_taste([play("f", "open", 10), play("f", "secret", 9000, visibility="private")])
    assert taste == {"open": 1.0}


def test_taste_overlap_is_the_cosine_of_two_sets() -> None:
    assert taste_overlap({"a", "b", "c", "d"}, {"a", "e"}) == pytest.approx(1 / math.sqrt(8))
    assert taste_overlap({"a"}, {"a"}) == 1.0
    assert taste_overlap(set(), {"a"}) == 0.0


class FakeDatabase:
    def __init__(self, friends: dict[str, float]):
        self._friends = friends

    def friends(self, catalog: str, user_id: str) -> dict[str, float]:
        assert user_id == "me"
        return dict(self._friends)


class FakeStats:
    def __init__(self, activity: dict[str, list[Interaction]]):
        self.activity = activity

    def shared_taste(self, user_id: str) -> dict[str, float]:
        return shared_taste(self.activity.get(user_id, []))


def social_ranker(friends: dict[str, float], activity: dict[str, list[Interaction]], social: float = 0.5, **weights: Any) -> Ranker:
    """A Ranker with only what `_social` reads (no stores, no vectors)."""
    ranker = Ranker.__new__(Ranker)
    ranker.catalog = "test"
    ranker.weights = RankingWeights(social=social, **weights)
    ranker.database = FakeDatabase(friends)  # type: ignore[assignment]
    ranker.stats = FakeStats(activity)  # type: ignore[assignment]
    return ranker


def test_social_weights_each_friend_by_strength_and_shared_taste() -> None:
    activity = {
        # close: likes a (100 plays) and c (10): taste a 1, c 0.5; overlap with {a, b}: 1/sqrt(4) = 0.5.
        "close": [play("close", "a", 100), play("close", "c", 10)],
        # far (strength 0.5): likes d (50) and c (5): d 1, c 0.5; hated e (-1); shares nothing with {a, b}.
        "far": [play("far", "d", 50), play("far", "c", 5),
                Interaction(user_id="far", item_id="e", kind="rating", rating=1, visibility="public")],
        # private only: nothing of it may count.
        "quiet": [play("quiet", "q", 999, visibility="private")],
    }
    ranker = social_ranker({"close": 1.0, "far": 0.5, "quiet": 1.0}, activity)
    scores = ranker._social("me", likes=["a", "b"])
    close = 1.0 * (SOCIAL_CLOSENESS_FLOOR + 0.5)
    far = 0.5 * SOCIAL_CLOSENESS_FLOOR
    assert scores["a"] == pytest.approx(close * 1.0)
    assert scores["c"] == pytest.approx(close * 0.5 + far * 0.5)
    assert scores["d"] == pytest.approx(far * 1.0)
    assert scores["e"] == pytest.approx(far * -1.0)
    assert "q" not in scores
    # The close friend's favourite outranks the far friend's, though both are their favourites.
    assert scores["a"] > scores["d"]


def test_social_power_sharpens_and_friends_scale_divides_by_their_total_closeness() -> None:
    activity = {
        "close": [play("close", "a", 100), play("close", "c", 10)],  # taste a 1, c 0.5; overlap 0.5
        "far": [play("far", "d", 50), play("far", "c", 5),  # taste d 1, c 0.5, e -1; no overlap
                Interaction(user_id="far", item_id="e", kind="rating", rating=1, visibility="public")],
    }
    ranker = social_ranker({"close": 1.0, "far": 0.5}, activity, social_power=2.0, social_scale="friends")
    scores = ranker._social("me", likes=["a", "b"])
    close = 1.0 * (SOCIAL_CLOSENESS_FLOOR + 0.5) ** 2
    far = 0.5 * SOCIAL_CLOSENESS_FLOOR**2
    scale = 1 / math.sqrt(close + far)
    assert scores["a"] == pytest.approx(close * scale)
    assert scores["c"] == pytest.approx((close + far) * 0.25 * scale)
    assert scores["e"] == pytest.approx(-far * scale)  # a dislike keeps its sign


def test_social_is_off_without_a_person_or_at_weight_zero() -> None:
    activity = {"close": [play("close", "a", 100)]}
    assert not social_ranker({"close": 1.0}, activity, social=0.0)._social("me", likes=["a"])
    assert not social_ranker({"close": 1.0}, activity)._social(None, likes=["a"])
    # A person with no history yet still hears from friends (the closeness floor).
    assert social_ranker({"close": 1.0}, activity)._social("me")["a"] == pytest.approx(SOCIAL_CLOSENESS_FLOOR)


def test_ranking_for_changes_only_the_weights_a_catalog_names(tmp_path: Path) -> None:
    file = tmp_path / "kith.toml"
    file.write_text("[ranking]\nsocial = 0.7\npopularity = 0.3\n[ranking_by_catalog.shop]\nsemantic = 0.2\nsocial = 0.1\n")
    config = load_config(environ={"KITH_CONFIG": str(file)})
    shop = config.ranking_for("shop")
    assert (shop.semantic, shop.social, shop.popularity) == (0.2, 0.1, 0.3)
    assert shop.collaborative == RankingWeights().collaborative
    assert config.ranking_for("elsewhere") == config.ranking
    # The shipped entries stay unless a file names the same catalog.
    assert "lastfm" in config.ranking_by_catalog


def test_a_weight_set_in_ranking_beats_a_shipped_catalog_entry_but_not_a_configured_one() -> None:
    # `ranking={"social": 0.0}` is how the issue and README say to turn friends off; the shipped
    # `lastfm` entry (social 0.3) used to win over it.
    lastfm = load_config(overrides={"ranking": {"social": 0.0}}, environ={}).ranking_for("lastfm")
    assert (lastfm.social, lastfm.semantic, lastfm.social_power) == (0.0, 0.0, 2.0)  # the rest of the entry stays
    by_variable = load_config(environ={"KITH_RANKING__COMENTION": "0"}).ranking_for("redial")
    assert (by_variable.comention, by_variable.similar) == (0.0, 0.3)
    configured = load_config(overrides={"ranking": {"social": 0.0}, "ranking_by_catalog": {"lastfm": {"social": 0.2}}}, environ={})
    assert configured.ranking_for("lastfm").social == 0.2
    assert load_config(environ={}).ranking_for("lastfm").social == 0.3


def test_kith_ranks_with_its_catalogs_weights_applied_once(demo_template: Path, tmp_path: Path) -> None:
    data_dir = copy_demo(demo_template, tmp_path / "data")
    try:
        opened = Kith.open(data_dir, "demo", ranking={"popularity": 0.5}, ranking_by_catalog={"demo": {"social": 0.2}})
        assert opened.ranker.weights.social == 0.2 and opened.ranker.weights.popularity == 0.5
        assert opened.config.ranking == opened.ranker.weights
        # A Kith opened on a copy of its config with other weights (an ablation) gets exactly those.
        ablated = Kith(opened.config.model_copy(update={"ranking": opened.config.ranking.model_copy(update={"social": 0.0})}),
                       opened.stores)
        assert ablated.ranker.weights.social == 0.0
        opened.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
