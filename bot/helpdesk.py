"""The help desk: a problem ("my parcel hasn't arrived") is answered from the best-matching help
article in Chroma, quoting its lead and its most relevant sentences and citing its title: extractive on
purpose, so the answer says only what the article says.

A message can hold a problem and a wish to choose at once ("...and can you suggest a book?");
`choice_part` keeps the sentences about choosing. Patterns and wording: prompts/support.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

import prompts
from bot.faithfulness import FUNCTION_WORDS
from retrieval.database import Database
from retrieval.embeddings import Embedder
from retrieval.ranking import says
from retrieval.vectors import VectorStore

# Cosine similarity a help article needs to answer a question. Measured on the demo articles:
# matching questions score 0.40-0.69, recommendation requests and off-topic text 0.20-0.27.
HELP_MIN_SIMILARITY = 0.30
# How much the question's own words that an article says count beside its likeness in meaning
# (a hybrid search): "what if the boots don't fit?" is answered by the article that says "Boots a
# bit snug", which the embedding alone ranks below the warranty. Measured with
# bench/help_answers.py (README).
HELP_WORD_WEIGHT = 0.2
# The articles closest in meaning whose words are compared (a help centre is small).
HELP_CANDIDATES = 20
# The sentences of an article closest to the question, beside its lead (`HelpDesk.answer`).
ANSWER_SENTENCES = 2
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# People type sentences in lower case too.
MESSAGE_SENTENCE = re.compile(r"(?<=[.!?;])\s+")

def mentions_problem(message: str) -> bool:
    return bool(prompts.patterns("support", "intent", "problem").search(message)) or mentions_fault(message)


def mentions_fault(message: str) -> bool:
    return bool(prompts.patterns("support", "intent", "fault").search(message))


def asks_remedy(message: str) -> bool:
    return bool(prompts.patterns("support", "intent", "remedy").search(message))


def tells_more(message: str) -> bool:
    return bool(prompts.patterns("support", "intent", "more_of_the_matter").search(message))


def asks_to_choose(message: str) -> bool:
    return bool(prompts.patterns("support", "intent", "choose").search(message))


def asks_to_look_up_order(message: str) -> bool:
    return bool(prompts.patterns("support", "intent", "order_lookup").search(message))


def choice_part(message: str) -> str:
    """The sentences of a message that are about choosing, not about a problem: "My boots
    arrived damaged. Can you suggest a book?" -> "Can you suggest a book?"."""
    sentences = [s for s in MESSAGE_SENTENCE.split(message) if s.strip()]
    return " ".join(s for s in sentences if asks_to_choose(s) or not mentions_problem(s)).strip()


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

    def __init__(self, catalog: str, database: Database, vectors: VectorStore, embedder: Embedder,
                 word_weight: float = HELP_WORD_WEIGHT):
        self.catalog = catalog
        self.database = database
        self.vectors = vectors
        self.embedder = embedder
        self.word_weight = word_weight
        self._sentences: dict[str, tuple[list[str], np.ndarray]] = {}
        self._texts: dict[str, str] | None = None

    def answer(self, question: str, problem: str = "") -> HelpAnswer | None:
        """The closest article's answer to `question`, its most relevant sentences. A follow-up
        to a `problem` ("can I get a replacement?" after "it arrived with a broken pole") is read
        with the problem; one that asks a remedy of its own words ("I want a refund" after "my
        boots leak") both alone and with it, and the article closest to both answers (mean
        similarity); one that names another matter ("do you have gift cards?" after "can you
        gift wrap it?") alone."""
        count = self.vectors.count(self.catalog, "help")
        if count == 0:
            return None
        together = f"{problem} {question}".strip()
        if not problem or not mentions_problem(question):
            readings = [together]
        else:
            readings = [question, together] if asks_remedy(question) else [question]
        if mentions_fault(question):
            # In the articles' words: "snapped" or "won't light" is a faulty item (a follow-up
            # asking a remedy, "I want a refund", is read as it was said).
            faulty = prompts.table("support")["intent"]["fault_reading"]
            readings = [f"{text} ({faulty})" for text in readings]
        similarity: dict[str, float] = {}
        titles: dict[str, str] = {}
        # Each article's likeness to each reading, in meaning and in the words it shares; read two
        # ways, the mean.
        for reading in readings:
            words = _content_words(reading)
            for hit in self.vectors.query(self.catalog, "help", text=reading, limit=min(count, HELP_CANDIDATES)):
                score = hit.similarity + self.word_weight * self._shared(words, hit.id)
                similarity[hit.id] = similarity.get(hit.id, 0.0) + score / len(readings)
                titles[hit.id] = str(hit.metadata.get("title", hit.id))
        best = max(similarity, key=similarity.__getitem__)
        if similarity[best] < HELP_MIN_SIMILARITY:
            return None
        sentences, vectors = self._article_sentences(best)
        if not sentences:
            return None
        # The article's lead states its rule ("Kith ships ... to more than 40 countries", "All
        # outdoor gear ... comes with a 2-year warranty"), which the sentences closest to the
        # question ("do you ship to Canada?": customs duties) may only qualify: it always opens
        # the answer. A question in an article ("Changed your mind?") answers nothing.
        asked = self.embedder.embed(readings).mean(axis=0)
        stated = [i for i, sentence in enumerate(sentences) if not sentence.endswith("?")] or list(range(len(sentences)))
        closest = sorted(stated[1:], key=lambda i: -float(vectors[i] @ asked))[:ANSWER_SENTENCES]
        chosen = sorted({stated[0], *closest})  # in the article's order
        return HelpAnswer(best, titles[best], " ".join(sentences[i] for i in chosen), round(similarity[best], 3))

    def _shared(self, words: list[str], article_id: str) -> float:
        """The share of the question's content words that the article's title, body or tags say."""
        if self._texts is None:
            self._texts = {a.id: " ".join([a.title, a.body, *a.tags]) for a in self.database.help_articles(self.catalog)}
        text = self._texts.get(article_id, "")
        return sum(says(text, word) for word in words) / len(words) if words else 0.0

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
        """Drop cached sentences and texts (articles were re-ingested)."""
        self._sentences.clear()
        self._texts = None


def _content_words(text: str) -> list[str]:
    """The words of a question that say what it is about: not function words, three letters or more."""
    return list(dict.fromkeys(w for w in re.findall(r"[a-z][a-z'’]+", text.lower())
                              if len(w) >= 3 and w not in FUNCTION_WORDS))
