"""Metrics on hand-made cases with known answers."""

from __future__ import annotations

import math

import pytest

from retrieval.metrics import classification, ndcg_at_k, rank_of, recall_at_k, reciprocal_rank, summarize


def test_rank_recall_ndcg_mrr() -> None:
    ranked = ["a", "b", "c", "d"]
    assert rank_of(ranked, "c") == 3 and rank_of(ranked, "z") is None
    assert recall_at_k(ranked, "a", 1) == 1.0 and recall_at_k(ranked, "b", 1) == 0.0
    assert recall_at_k(ranked, "d", 10) == 1.0 and recall_at_k(ranked, "z", 10) == 0.0
    assert ndcg_at_k(ranked, "a", 10) == 1.0
    assert ndcg_at_k(ranked, "c", 10) == pytest.approx(1 / math.log2(4)) == pytest.approx(0.5)
    assert ndcg_at_k(ranked, "c", 2) == 0.0
    assert reciprocal_rank(ranked, "b") == 0.5 and reciprocal_rank(ranked, "z") == 0.0


def test_summary_averages_over_samples() -> None:
    samples = [(["a", "b"], "a"), (["a", "b"], "b"), (["a", "b"], "z"), (["x"] * 9 + ["t"], "t")]
    result = summarize(samples, recall_ks=(1, 10), ndcg_k=10)
    assert result["samples"] == 4
    assert result["recall@1"] == 0.25
    assert result["recall@10"] == 0.75
    assert result["mrr"] == pytest.approx((1 + 0.5 + 0 + 0.1) / 4)
    assert result["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3) + 0 + 1 / math.log2(11)) / 4)
    assert summarize([]) == {"samples": 0}


def test_classification_accuracy_and_macro_f1() -> None:
    pairs = [("like", "like"), ("like", "like"), ("like", "dislike"), ("dislike", "dislike")]
    result = classification(pairs, ["like", "dislike"])
    assert result["accuracy"] == 0.75
    like_f1 = 2 * 1.0 * (2 / 3) / (1.0 + 2 / 3)
    dislike_f1 = 2 * 0.5 * 1.0 / 1.5
    assert result["macro_f1"] == pytest.approx((like_f1 + dislike_f1) / 2)
    assert result["f1_like"] == pytest.approx(like_f1) and result["f1_dislike"] == pytest.approx(dislike_f1)
    always_like = classification([("like", "like"), ("dislike", "like")], ["like", "dislike"])
    assert always_like["accuracy"] == 0.5 and always_like["macro_f1"] == pytest.approx((2 / 3) / 2)


def test_set_metrics_for_several_held_out_items() -> None:
    from retrieval.metrics import ndcg_of_set, recall_of_set

    ranked = ["a", "x", "b", "y"]
    assert recall_of_set(ranked, {"a", "b", "c", "d"}, 3) == 0.5
    assert recall_of_set(ranked, set(), 3) == 0.0
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_of_set(ranked, {"a", "b"}, 10) == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert ndcg_of_set(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert ndcg_of_set(["x"], {"a"}, 10) == 0.0
