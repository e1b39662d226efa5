"""Customer service: help answers from help articles, refusals, and hand-off to a person.

A message is read for two intents, which can come together: a problem ("my parcel hasn't
arrived") and a wish to choose ("...and can you suggest a book?"). A problem is answered from the
best-matching help article in Chroma, quoting its most relevant sentences and citing its title:
extractive on purpose, so the answer says only what the article says. Messages that try to
override the bot's instructions or read someone else's private activity get a polite refusal.
Patterns and wording live in prompts/support.toml.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

import prompts
from bot.sentiment import Sentiment
from bot.sessions import StoredMessage
from retrieval.database import Database
from retrieval.embeddings import Embedder
from retrieval.vectors import VectorStore

# Cosine similarity a help article needs to answer a question. Measured on the demo articles:
# matching questions score 0.40-0.69, recommendation requests and off-topic text 0.20-0.27.
HELP_MIN_SIMILARITY = 0.30
ANSWER_SENTENCES = 2
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# People type sentences in lower case too.
MESSAGE_SENTENCE = re.compile(r"(?<=[.!?;])\s+")

Refusal = Literal["instructions", "private"]
HandoffReason = Literal["asked", "negative", "failures"]


@functools.cache
def _patterns(section: str, key: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in prompts.table("support")[section][key]), re.I)


def refusal(message: str) -> Refusal | None:
    """Whether the message must be refused, and why."""
    if _patterns("guard", "instructions").search(message):
        return "instructions"
    if _patterns("guard", "private").search(message):
        return "private"
    return None


def refusal_text(reason: Refusal) -> str:
    return prompts.table("support")["replies"][f"refusal_{reason}"]


def mentions_problem(message: str) -> bool:
    return bool(_patterns("intent", "problem").search(message))


def asks_to_choose(message: str) -> bool:
    return bool(_patterns("intent", "choose").search(message))


def choice_part(message: str) -> str:
    """The sentences of a message that are about choosing, not about a problem: "My boots
    arrived damaged. Can you suggest a book?" -> "Can you suggest a book?"."""
    sentences = [s for s in MESSAGE_SENTENCE.split(message) if s.strip()]
    return " ".join(s for s in sentences if asks_to_choose(s) or not mentions_problem(s)).strip()


def asks_for_human(message: str) -> bool:
    return bool(_patterns("handoff", "ask_for_human").search(message))


@dataclass(frozen=True)
class HelpAnswer:
    article_id: str
    title: str
    answer: str
    similarity: float

    @property
    def text(self) -> str:
        replies = prompts.table("support")["replies"]
        return f"{replies['help'].format(title=self.title, answer=self.answer)} {replies['help_more'].format(title=self.title)}"


class HelpDesk:
    """Answers problems from one catalog's help articles."""

    def __init__(self, catalog: str, database: Database, vectors: VectorStore, embedder: Embedder):
        self.catalog = catalog
        self.database = database
        self.vectors = vectors
        self.embedder = embedder
        self._sentences: dict[str, tuple[list[str], np.ndarray]] = {}

    def answer(self, question: str) -> HelpAnswer | None:
        if self.vectors.count(self.catalog, "help") == 0:
            return None
        best = self.vectors.query(self.catalog, "help", text=question, limit=1)[0]
        if best.similarity < HELP_MIN_SIMILARITY:
            return None
        sentences, vectors = self._article_sentences(best.id)
        if not sentences:
            return None
        asked = self.embedder.embed([question])[0]
        chosen = sorted(np.argsort(-(vectors @ asked))[:ANSWER_SENTENCES])  # in the article's order
        return HelpAnswer(best.id, str(best.metadata.get("title", best.id)), " ".join(sentences[i] for i in chosen),
                          round(best.similarity, 3))

    def _article_sentences(self, article_id: str) -> tuple[list[str], np.ndarray]:
        if article_id not in self._sentences:
            article = next((a for a in self.database.help_articles(self.catalog) if a.id == article_id), None)
            if article is None:
                # A vector whose row is not in SQLite (yet): ingest writes Chroma first.
                return [], np.zeros((0, self.embedder.dimension), dtype=np.float32)
            sentences = [s.strip() for s in SENTENCE.split(article.body) if s.strip()]
            self._sentences[article_id] = (sentences, self.embedder.embed(sentences))
        return self._sentences[article_id]

    def forget(self) -> None:
        """Drop cached sentences (articles were re-ingested)."""
        self._sentences.clear()


@dataclass(frozen=True)
class Handoff:
    reason: HandoffReason
    explanation: str
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def complains(message: str) -> bool:
    return bool(_patterns("handoff", "complaint").search(message))


def is_negative(message: str, sentiment: Sentiment) -> bool:
    """A negative turn is about the experience: a complaint, or a clearly negative message that
    is not taste ("I hated Psycho" is a dislike, not frustration)."""
    threshold = float(prompts.table("support")["handoff"]["negative_polarity"])
    return complains(message) or (sentiment.polarity <= threshold and "dislike" not in sentiment.items.values())


def handoff_reason(message: str, negative: bool, failed: bool, history: Sequence[StoredMessage]) -> HandoffReason | None:
    """Why this turn hands the conversation to a person, if it does.

    Only turns since the last hand-off count, so a conversation that goes on after one needs
    fresh reasons for the next. `history` holds the stored messages before this turn; each
    reply's data records whether its turn was negative and whether the bot failed to help."""
    if asks_for_human(message):
        return "asked"
    replies = [m for m in history if m.role == "assistant"]
    since = next((i for i in range(len(replies) - 1, -1, -1) if replies[i].data.get("handoff")), -1)
    recent = replies[since + 1 :]
    if negative and recent and recent[-1].data.get("negative"):
        return "negative"
    failures = sum(1 for m in recent if m.data.get("failed")) + int(failed)
    if failures >= int(prompts.table("support")["handoff"]["failures"]):
        return "failures"
    return None


def handoff_text(reason: HandoffReason) -> str:
    support = prompts.table("support")
    return support["replies"]["handoff"].format(reason=support["handoff_reasons"][reason])


def summarize(
    user_id: str,
    turns: int,
    history: Sequence[StoredMessage],
    message: str,
    profile_lines: Sequence[str],
    help_titles: Sequence[str],
    reason: HandoffReason,
) -> str:
    """A plain summary for the person taking over: built from stored facts, not generated.
    `turns` counts the person's messages in the whole conversation, this one included;
    `history` is the recent part a turn reads."""
    recommended = [r["title"] for m in history if m.role == "assistant" for r in m.data.get("recommendations", [])[:3]]
    lines = [
        f"Customer {user_id}, {turns} message{'s' if turns != 1 else ''} in this conversation; "
        f"handed off because {prompts.table('support')['summary_reasons'][reason]}.",
    ]
    if help_titles:
        lines.append("Help topics: " + ", ".join(dict.fromkeys(help_titles)) + ".")
    if profile_lines:
        lines.append("Profile: " + "; ".join(profile_lines) + ".")
    if recommended:
        lines.append("Recommended so far: " + ", ".join(dict.fromkeys(recommended)) + ".")
    lines.append(f"Last message: “{message}”")
    return "\n".join(lines)
