"""The ReDial benchmark: conversational recommendation and item sentiment on real dialogues.

Consecutive messages of one speaker form a turn. At each recommender turn that mentions movies,
the context is the dialogue so far (with `@id` mentions replaced by titles) and each movie the
recommender mentions is a target: one (turn, target) pair is one sample. Two protocols:
`raw`, and `repeats_removed` (targets mentioned earlier in the dialogue are dropped; turns left
without targets are skipped), since repeating what the seeker just said inflates raw scores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from bot.kith import Kith
from bot.sentiment import item_feeling
from bot.understand import Reader
from evaluation.recommenders import ItemKNN, KithRecommender, Popularity, Recommender
from evaluation.reports import plot_curves, plot_latency, table, timing_summary, write_report
from retrieval.database import Database
from retrieval.datafiles import DataError, Issue
from retrieval.metrics import classification, recall_at_k, summarize
from retrieval.ranking import RankingWeights, RankRequest
from retrieval.redial import MENTION, learnt_conversations, read_conversations, redial_turns
from retrieval.schemas import Interaction
from retrieval.titles import FoundTitle

T = TypeVar("T")
RECALL_KS = (1, 10, 50)
# Each component the catalog's weights use (non-zero) is also measured switched off.
ABLATED = ("semantic", "tags", "collaborative", "social", "popularity", "comention", "similar", "similar_requests")
# Published figures on ReDial (repeats removed unless marked raw), for the comparison table.
PUBLISHED = {
    "UniCRS (published)": {"recall@1": 0.024, "recall@10": 0.180, "recall@50": 0.335},
    "GPT-4 zero-shot (published)": {"recall@1": 0.047, "recall@10": 0.196},
    "UniCRS raw (published)": {"recall@1": 0.051, "recall@10": 0.224, "recall@50": 0.428},
}


@dataclass(frozen=True)
class RecommenderTurn:
    conversation: str
    context: list[dict[str, str]]
    targets: list[str]
    earlier: tuple[str, ...]  # movies mentioned before this turn, in order of mention

    def targets_for(self, protocol: str) -> list[str]:
        return self.targets if protocol == "raw" else [t for t in self.targets if t not in self.earlier]


def load_turns(path: Path, titles: dict[str, str]) -> tuple[list[RecommenderTurn], list[dict[str, Any]]]:
    """Recommender turns to rank at, and the raw conversations (for item sentiment). Raises
    DataError naming every problem of the file."""
    turns: list[RecommenderTurn] = []
    conversations = [conversation for _, conversation in _conversations(path)]
    for conversation in conversations:
        context: list[dict[str, str]] = []
        seen: list[str] = []
        for turn in redial_turns(conversation, titles):
            targets = list(dict.fromkeys(m for m in turn.movie_ids if m in titles))
            if turn.role == "assistant" and targets and context:
                turns.append(RecommenderTurn(str(conversation["conversationId"]), list(context), targets, tuple(seen)))
            context.append({"role": turn.role, "text": turn.text})
            seen += turn.movie_ids
    return turns, conversations


def training_mentions(database: Database, catalog: str) -> list[Interaction]:
    """The dialogues the catalog learnt from (train.jsonl's, or whatever `--dialogues` imported) as
    interactions for the baselines to fit on: each is a person who liked every catalog movie it
    mentions (popularity: the movies most conversations mention; item-kNN: the movies mentioned
    together). On train.jsonl these are exactly the pairs of its `movieMentions`."""
    return [
        Interaction(id=f"redial-{dialogue.id}-{movie}", user_id=f"redial-{dialogue.id}", item_id=movie, kind="like",
                    visibility="public")
        for dialogue in database.dialogues(catalog)
        for movie in dict.fromkeys(m.item_id for turn in dialogue.turns for m in turn.mentions)
    ]


def _conversations(path: Path) -> list[tuple[int, dict[str, Any]]]:
    issues: list[Issue] = []
    found = read_conversations(path, issues)
    if issues:
        raise DataError(issues)
    return found


def ablations(weights: RankingWeights) -> list[str]:
    """The components worth switching off one at a time: those the weights use."""
    return [component for component in ABLATED if getattr(weights, component) > 0]


def _ranked_lists(turns: Sequence[T], rank: Callable[[T], list[str]], label: str) -> tuple[list[list[str]], list[float]]:
    """`rank` of each turn (a RecommenderTurn, or what Kith asks the ranker at it), and the seconds
    each took."""
    lists, seconds = [], []
    for turn in tqdm(turns, desc=label, unit="turn", leave=False):
        started = time.perf_counter()
        lists.append(rank(turn))
        seconds.append(time.perf_counter() - started)
    return lists, seconds


def _metrics(turns: Sequence[RecommenderTurn], lists: Sequence[list[str]], protocol: str) -> dict[str, float]:
    samples = [(ranked, target) for turn, ranked in zip(turns, lists, strict=True) for target in turn.targets_for(protocol)]
    return summarize(samples, RECALL_KS, 10)


def _curve(turns: Sequence[RecommenderTurn], lists: Sequence[list[str]], protocol: str, k: int = 50) -> list[float]:
    samples = [(ranked, target) for turn, ranked in zip(turns, lists, strict=True) for target in turn.targets_for(protocol)]
    return [sum(recall_at_k(r, t, n) for r, t in samples) / max(len(samples), 1) for n in range(1, k + 1)]


def item_opinions(kith: Kith, conversations: Sequence[dict[str, Any]], titles: dict[str, str],
                  readers: dict[str, Reader] | None = None) -> dict[str, Any]:
    """For each movie with a seeker `liked` label of 0 or 1 that the seeker named or that was
    suggested to them: does reading the whole dialogue put it in the profile's likes or dislikes?
    An item in neither is a miss for its true class; macro-F1 over like/dislike. Per reader
    (Kith's own by default), against plain VADER on the clause of the seeker's first mention and
    the majority class, in the same run."""
    readers = readers or {"kith": kith.reader}
    truth: dict[str, list[tuple[str, str]]] = {name: [] for name in readers}
    truth_vader = []
    for conversation in tqdm(conversations, desc="opinions", unit="dialogue", leave=False):
        questions = conversation.get("initiatorQuestions") or {}
        if not isinstance(questions, dict):
            continue
        labels = {str(k): v.get("liked") for k, v in questions.items() if v.get("liked") in (0, 1)}
        turns = redial_turns(conversation, titles)
        messages = [{"role": t.role, "text": t.text} for t in turns]
        profiles = {name: kith.read_conversation(messages, reader)[0] for name, reader in readers.items()}
        named = {m for t in turns for m in t.movie_ids}  # by the seeker, or suggested to them
        for movie_id, liked in labels.items():
            if movie_id not in named or movie_id not in titles:
                continue
            label = "like" if liked == 1 else "dislike"
            for name, profile in profiles.items():
                guess = "like" if movie_id in profile.likes else "dislike" if movie_id in profile.dislikes else "none"
                truth[name].append((label, guess))
            truth_vader.append((label, _vader_guess(conversation, movie_id, titles)))
    labels_used = ["like", "dislike"]
    return {
        **{f"{name} (read_profile)": classification(pairs, labels_used) for name, pairs in truth.items()},
        "vader (clause, strict)": classification(truth_vader, labels_used),
        "majority (always like)": classification([(t, "like") for t, _ in truth_vader], labels_used),
    }


def _vader_guess(conversation: dict[str, Any], movie_id: str, titles: dict[str, str]) -> str:
    """Plain VADER on the clause of the seeker's first mention: neutral is no answer."""
    seeker = conversation["initiatorWorkerId"]
    for message in conversation["messages"]:
        if message["senderWorkerId"] != seeker or f"@{movie_id}" not in message["text"]:
            continue
        text, spans, position = "", [], 0
        for match in MENTION.finditer(message["text"]):
            text += message["text"][position : match.start()]
            title = titles.get(match.group(1), "a movie")
            spans.append(FoundTitle(match.group(1), len(text), len(text) + len(title)))
            text += title
            position = match.end()
        text += message["text"][position:]
        mention = next(s for s in spans if s.item_id == movie_id)
        feeling = item_feeling(text, mention, [s for s in spans if s is not mention])
        return {"like": "like", "dislike": "dislike"}.get(feeling, "none")
    return "none"


def refuse_knowledge(data: Path, conversations: Sequence[dict[str, Any]], kith: Kith) -> None:
    """Raise DataError if the catalog learnt from any conversation of `data`: scores on those would
    measure what it remembers, not how it recommends."""
    learnt = learnt_conversations(kith.stores.database, kith.catalog, conversations)
    if learnt:
        raise DataError([Issue(
            str(data), None, None,
            f"the catalog {kith.catalog!r} learnt from {len(learnt)} of the {len(conversations)} conversations in "
            f"this file (imported as knowledge, e.g. conversation {learnt[0]}), so scores on it would measure memory, "
            "not recommendation: evaluate on a held-out file such as dev.jsonl, or import the ReDial folder again "
            "without this file into a new catalog (kith ingest --format redial DIR --dialogues FILE ... --catalog NEW)",
        )])


def evaluate(data: Path, out_dir: Path, kith: Kith, data_dir: Path, limit: int | None = None) -> dict[str, Any]:
    """The benchmark on the conversations of `data`; refuses (DataError) a file the catalog learnt from."""
    titles = {item.id: item.title for item in kith.ranker.stats.items.values()}
    turns, conversations = load_turns(data, titles)
    refuse_knowledge(data, conversations, kith)
    if limit is not None:
        turns = turns[:limit]
    training = training_mentions(kith.stores.database, kith.catalog)

    # Two stages: reading the conversation (profile, query, what was mentioned), then ranking.
    # What a turn asks of the ranker does not depend on the ranking weights, so every ablation
    # ranks the same requests.
    requests: list[RankRequest] = []
    understand: list[float] = []
    for turn in tqdm(turns, desc="reading", unit="turn", leave=False):
        started = time.perf_counter()
        requests.append(kith.rank_request(turn.context))
        understand.append(time.perf_counter() - started)

    # Every recommender answers the same requests through one interface (evaluation.recommenders):
    # Kith fitted on the catalog as ingested, the baselines on the mentions of its dialogues.
    database = kith.stores.database
    weights = kith.ranker.weights
    kith_system = KithRecommender(kith.catalog, database, kith.stores.vectors, kith.embedder, weights,
                                  kith.ranker.graph).fit(database.interactions(kith.catalog))
    measured: list[Recommender] = [
        kith_system,
        *(kith_system.with_weights(weights.model_copy(update={c: 0.0}), f"kith without {c}") for c in ablations(weights)),
        Popularity("popularity (training mentions)").fit(training),
        ItemKNN("item-kNN (training co-mentions)").fit(training),
    ]
    systems: dict[str, tuple[list[list[str]], list[float]]] = {}
    for system in measured:
        systems[system.name] = _ranked_lists(requests, lambda request, s=system: s.recommend(request, 50), system.name)
    systems["repeat last mentioned"] = _ranked_lists(turns, _repeat_last, "repeat")

    results: dict[str, dict[str, dict[str, float]]] = {"raw": {}, "repeats_removed": {}}
    curves: dict[str, list[float]] = {}
    for name, (lists, _) in systems.items():
        for protocol in results:
            if protocol == "repeats_removed" and name == "repeat last mentioned":
                continue  # by construction it only ever repeats
            results[protocol][name] = _metrics(turns, lists, protocol)
        if name == "kith" or not name.startswith("kith"):
            curves[name] = _curve(turns, systems[name][0], "repeats_removed") if name != "repeat last mentioned" else []
    curves = {name: values for name, values in curves.items() if values}

    sentiment = item_opinions(kith, conversations, titles)
    timings = timing_summary({
        "understand (kith)": understand,
        "rank (kith)": systems["kith"][1],
        "total (kith)": [a + b for a, b in zip(understand, systems["kith"][1], strict=True)],
    })
    payload = {
        "data_file": str(data),
        "catalog": kith.catalog,
        "data_dir": str(data_dir),
        "turns": len(turns),
        "configuration": json.loads(kith.config.model_dump_json()),
        "recommendation": results,
        "published": PUBLISHED,
        "item_sentiment": sentiment,
        "timings": timings,
    }
    write_report(out_dir, "redial", payload, [data])
    plot_curves(out_dir / "recall_at_k.png", "ReDial, repeats removed: Recall@k", curves, "k", "Recall@k")
    plot_latency(out_dir / "latency.png", "ReDial: latency per turn, by stage", timings)
    return payload


def _repeat_last(turn: RecommenderTurn) -> list[str]:
    """The movies mentioned so far, most recent first."""
    return list(dict.fromkeys(reversed(turn.earlier)))


def summary_text(payload: dict[str, Any]) -> str:
    lines = [f"ReDial: {payload['turns']} recommender turns from {payload['data_file']}"]
    columns = ["system", "samples", "recall@1", "recall@10", "recall@50", "ndcg@10", "mrr"]
    for protocol, label in (("repeats_removed", "repeats removed"), ("raw", "raw")):
        rows = [{"system": name, **values} for name, values in payload["recommendation"][protocol].items()]
        published = {k: v for k, v in payload["published"].items() if ("raw" in k) == (protocol == "raw")}
        rows += [{"system": name, **values} for name, values in published.items()]
        lines += ["", f"Protocol: {label}", table(rows, columns)]
    rows = [{"system": name, **values} for name, values in payload["item_sentiment"].items()]
    lines += ["", "Item opinions (seeker-named or suggested movies with liked = 0 or 1)", table(rows, ["system", "samples", "accuracy", "macro_f1"])]
    stages = [f"{stage} p50 {t['p50_s'] * 1000:.0f} ms, p95 {t['p95_s'] * 1000:.0f} ms" for stage, t in payload["timings"].items()]
    if stages:
        lines += ["", "Latency per turn: " + "; ".join(stages)]
    return "\n".join(lines)
