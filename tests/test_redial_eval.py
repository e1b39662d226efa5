"""ReDial samples: turns, targets, the two protocols and the repeat baseline, on a hand-made dialogue."""

from __future__ import annotations

import json
from pathlib import Path

from bot.redial_eval import _metrics, _repeat_last, ablations, load_turns
from retrieval.ranking import RankingWeights

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
