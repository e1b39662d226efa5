"""ReDial samples: turns, targets, the two protocols and the repeat baseline, on a hand-made dialogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.kith import Kith
from evaluation.redial import _metrics, _repeat_last, ablations, evaluate, load_turns
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset
from retrieval.ranking import RankingWeights
from retrieval.redial import load_redial
from retrieval.store import Stores
from tests.conftest import write_jsonl

TITLES = {"1": "Alien (1979)", "2": "Aliens (1986)", "3": "Heat (1995)"}


def test_samples_follow_recommender_turns(tmp_path: Path) -> None:
    conversation = {
        "conversationId": 7, "initiatorWorkerId": 10, "respondentWorkerId": 20,
        "movieMentions": {}, "initiatorQuestions": {},
        "messages": [
            {"senderWorkerId": 10, "text": "hi, I loved @1"},
            {"senderWorkerId": 10, "text": "anything similar?"},
            {"senderWorkerId": 20, "text": "Try @2 or watch @1 again"},
            {"senderWorkerId": 10, "text": "seen it"},
            {"senderWorkerId": 20, "text": "Then @3"},
        ],
    }
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(conversation) + "\n")
    turns, conversations = load_turns(path, TITLES)
    assert len(conversations) == 1 and len(turns) == 2
    first, second = turns
    assert first.context == [{"role": "user", "text": "hi, I loved Alien (1979) anything similar?"}]
    assert first.targets == ["2", "1"]
    assert first.targets_for("raw") == ["2", "1"] and first.targets_for("repeats_removed") == ["2"]
    assert second.earlier == ("1", "2", "1") and second.targets_for("repeats_removed") == ["3"]
    assert _repeat_last(second) == ["1", "2"]
    # Raw: three samples (2, 1, 3); the repeat baseline hits "1" at rank 1 only.
    raw = _metrics(turns, [["1", "2"], ["1", "2"]], "raw")
    assert raw["samples"] == 3 and raw["recall@1"] == 1 / 3 and raw["recall@10"] == 2 / 3
    removed = _metrics(turns, [["2"], ["3"]], "repeats_removed")
    assert removed["samples"] == 2 and removed["recall@1"] == 1.0


def test_ablations_are_the_components_the_weights_use() -> None:
    weights = RankingWeights(collaborative=0.0, social=0.0, comention=0.2)
    assert ablations(weights) == ["semantic", "tags", "popularity", "comention"]


def _conversation(number: int, seeker: int, messages: list[tuple[int, str]], liked: dict[str, int]) -> dict:
    mentioned = {m: TITLES.get(m, "") for _, text in messages for m in re.findall(r"@(\d+)", text)}
    return {
        "conversationId": number, "initiatorWorkerId": seeker, "respondentWorkerId": 99,
        "movieMentions": mentioned,
        "initiatorQuestions": {m: {"liked": v, "suggested": 0, "seen": 1} for m, v in liked.items()},
        "messages": [{"senderWorkerId": sender, "text": text} for sender, text in messages],
    }


def test_evaluate_reports_every_system_ablation_and_stage(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "redial"
    folder.mkdir()
    (folder / "movies_with_mentions.csv").write_text(
        "movieId,movieName,nbMentions\n1,Alien (1979),3\n2,Aliens (1986),2\n3,Heat (1995),2\n4,Up (2009),1\n"
    )
    write_jsonl(folder / "train.jsonl", [
        _conversation(1, 10, [(10, "I love @1"), (99, "then @2 for sure")], {"1": 1, "2": 1}),
        _conversation(2, 11, [(11, "@3 was great"), (99, "try @2")], {"3": 1}),
    ])
    dev = write_jsonl(folder / "dev.jsonl", [
        _conversation(3, 12, [(12, "I loved @1, what else?"), (99, "@2 and @3")], {"1": 1}),
    ])
    stores = Stores.open(tmp_path / "data")
    ingest_dataset(load_redial(folder).dataset, "redial", "test", stores.database, stores.vectors, embedder)
    stores.close()
    kith = Kith.open(tmp_path / "data", catalog="redial")
    shipped = kith.ranker.weights
    payload = evaluate(dev, tmp_path / "out", kith, tmp_path / "data")
    assert kith.ranker.weights is shipped  # the ablations rank with rankers of their own

    removed = payload["recommendation"]["repeats_removed"]
    assert set(removed) == {"kith", "popularity (training mentions)", "item-kNN (training co-mentions)",
                            *(f"kith without {c}" for c in ablations(shipped))}
    # One turn, targets 2 and 3. Popularity by training mentions: 2 (two conversations), then 1
    # and 3 (one each); 1 was mentioned in this dialogue, so it ranks [2, 3]: one hit at 1, one at 2.
    popularity = removed["popularity (training mentions)"]
    assert (popularity["samples"], popularity["recall@1"], popularity["recall@10"]) == (2, 0.5, 1.0)
    # Item-kNN from the seeker's Alien (1): only 2 was ever mentioned with it (cosine 1/sqrt(2));
    # 3 never was, so it is no neighbour and the list is [2].
    knn = removed["item-kNN (training co-mentions)"]
    assert (knn["samples"], knn["recall@1"], knn["recall@50"]) == (2, 0.5, 0.5)
    # An ablation ranks exactly as a Kith opened with that component off.
    off = Kith.open(tmp_path / "data", catalog="redial", ranking={"comention": 0.0})
    assert off.ranker.weights.comention == 0.0 and off.ranker.weights.similar == shipped.similar
    turn = load_turns(dev, {i.id: i.title for i in off.ranker.stats.items.values()})[0][0]
    ranked = [r.item_id for r in off.rank(turn.context, k=50)]
    assert payload["recommendation"]["raw"]["kith without comention"] == _metrics([turn], [ranked], "raw")
    # On this data popularity is the component whose absence shows, so that check can fail.
    no_popularity = Kith.open(tmp_path / "data", catalog="redial", ranking={"popularity": 0.0})
    ranked = [r.item_id for r in no_popularity.rank(turn.context, k=50)]
    assert payload["recommendation"]["raw"]["kith without popularity"] == _metrics([turn], [ranked], "raw")
    assert payload["recommendation"]["raw"]["kith without popularity"] != payload["recommendation"]["raw"]["kith"]
    no_popularity.close()
    assert set(payload["timings"]) == {"understand (kith)", "rank (kith)", "total (kith)"}
    assert (tmp_path / "out" / "report.json").is_file() and (tmp_path / "out" / "latency.png").is_file()
    kith.close()
    off.close()
