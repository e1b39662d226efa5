"""Ranking metrics, apart from any ranker: every recommender is measured the same way.

One sample is one ranked list and one relevant item (the standard for ReDial and leave-out
evaluation). A list shorter than k simply has fewer chances to hit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def rank_of(ranked: Sequence[str], target: str) -> int | None:
    """1-based position of `target` in `ranked`, or None when it is absent."""
    try:
        return ranked.index(target) + 1
    except ValueError:
        return None


def recall_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    rank = rank_of(ranked, target)
    return 1.0 if rank is not None and rank <= k else 0.0


def ndcg_at_k(ranked: Sequence[str], target: str, k: int) -> float:
    """With one relevant item the ideal DCG is 1, so NDCG is 1/log2(rank+1) inside the top k."""
    rank = rank_of(ranked, target)
    return 1.0 / math.log2(rank + 1) if rank is not None and rank <= k else 0.0


def reciprocal_rank(ranked: Sequence[str], target: str) -> float:
    rank = rank_of(ranked, target)
    return 1.0 / rank if rank is not None else 0.0


def summarize(samples: Sequence[tuple[Sequence[str], str]], recall_ks: Sequence[int] = (1, 10, 50), ndcg_k: int = 10) -> dict[str, float]:
    """Mean metrics over (ranked list, target) samples."""
    count = len(samples)
    if count == 0:
        return {"samples": 0}
    result: dict[str, float] = {"samples": count}
    for k in recall_ks:
        result[f"recall@{k}"] = sum(recall_at_k(r, t, k) for r, t in samples) / count
    result[f"ndcg@{ndcg_k}"] = sum(ndcg_at_k(r, t, ndcg_k) for r, t in samples) / count
    result["mrr"] = sum(reciprocal_rank(r, t) for r, t in samples) / count
    return result


def classification(pairs: Sequence[tuple[str, str]], labels: Sequence[str]) -> dict[str, float]:
    """Accuracy, macro-F1 and each label's F1 (`f1_<label>`) of (truth, prediction) pairs over
    the given labels."""
    if not pairs:
        return {"samples": 0}
    accuracy = sum(truth == guess for truth, guess in pairs) / len(pairs)
    scores = []
    for label in labels:
        hit = sum(truth == label and guess == label for truth, guess in pairs)
        predicted = sum(guess == label for _, guess in pairs)
        actual = sum(truth == label for truth, _ in pairs)
        precision = hit / predicted if predicted else 0.0
        recall = hit / actual if actual else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {"samples": len(pairs), "accuracy": accuracy, "macro_f1": sum(scores) / len(scores),
            **{f"f1_{label}": score for label, score in zip(labels, scores)}}


def recall_of_set(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant items found in the top k (for a person with several held-out items)."""
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def ndcg_of_set(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """DCG of the top k over the best DCG possible with this many relevant items."""
    gains = sum(1.0 / math.log2(position + 2) for position, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(position + 2) for position in range(min(len(relevant), k)))
    return gains / ideal if ideal else 0.0
