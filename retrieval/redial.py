"""Importer for ReDial (conversational movie recommendation), enriched with MovieLens.

Catalog: `movies_with_mentions.csv`, item ids = ReDial movie ids. With a MovieLens folder, each
movie gains MovieLens genres and its most frequent user tags (titles share the `Title (Year)`
form and are matched with `TitleIndex`). MovieLens ratings are not imported as interactions:
measured on valid.jsonl they pull popularity and collaborative filtering towards MovieLens' older
canon and cut Recall@10 from 0.100 to 0.059 (repeats removed, first 150 turns; the importer of
commit 02efed8 still loaded them). They only give each movie its `similar` attribute: the
`SIMILAR_PER_MOVIE` catalog movies most often rated 4 or more by the same MovieLens users (cosine
of the sets of such users), which the ranking's `similar` component reads. Training dialogues
(`train.jsonl`) come in as Kith dialogues with the seeker's per-movie `liked` labels, and as the seeker's public
interactions (liked: like; disliked: a 1/5 rating; unsaid: a view). `valid.jsonl` (tuning) and
`dev.jsonl` (measurement) are held out and never imported; nor is the catalog's `nbMentions`,
which counts mentions in every split, the held-out ones included.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from retrieval.datafiles import DataError, Dataset, Issue, Origin, check_dataset
from retrieval.schemas import Dialogue, DialogueTurn, Interaction, Item, Mention, User
from retrieval.titles import TitleIndex, split_year

MENTION = re.compile(r"@(\d+)")
# Only the training split is knowledge; valid is for tuning and dev for the final measurement.
DIALOGUE_FILES = ("train.jsonl",)
TAGS_PER_MOVIE = 8
SIMILAR_PER_MOVIE = 50
# A MovieLens rating at least this high counts as liking the movie (for `similar`).
LIKED_RATING = 4.0
# ReDial's `liked`: 1 yes, 0 no, 2 did not say.
LIKED_TO_SENTIMENT = {1: "like", 0: "dislike"}


@dataclass(frozen=True)
class RedialImport:
    dataset: Dataset
    movielens_matched: int
    movies: int

    @property
    def match_rate(self) -> float:
        return self.movielens_matched / self.movies if self.movies else 0.0


@dataclass(frozen=True)
class RedialTurn:
    """Consecutive messages of one speaker, joined: the unit recommendation is measured on."""

    role: str  # "user" (the seeker) or "assistant" (the recommender)
    text: str  # @ids replaced by titles
    movie_ids: list[str]


def redial_turns(conversation: dict[str, Any], titles: dict[str, str]) -> list[RedialTurn]:
    seeker = conversation["initiatorWorkerId"]
    mentioned = {str(k): v for k, v in (conversation.get("movieMentions") or {}).items()}
    turns: list[RedialTurn] = []
    for message in conversation["messages"]:
        role = "user" if message["senderWorkerId"] == seeker else "assistant"
        ids = MENTION.findall(message["text"])
        text = MENTION.sub(lambda m: _title(m.group(1), titles, mentioned), message["text"]).strip()
        if turns and turns[-1].role == role:
            last = turns[-1]
            turns[-1] = RedialTurn(role, f"{last.text} {text}".strip(), last.movie_ids + ids)
        else:
            turns.append(RedialTurn(role, text, ids))
    return turns


def _title(movie_id: str, titles: dict[str, str], mentioned: dict[str, str | None]) -> str:
    title = titles.get(movie_id) or mentioned.get(movie_id) or f"movie {movie_id}"
    return " ".join(title.split())


def read_catalog(folder: Path) -> dict[str, tuple[str, int]]:
    """movie id -> (title, mentions), from movies_with_mentions.csv."""
    path = folder / "movies_with_mentions.csv"
    if not path.is_file():
        raise DataError([Issue(str(path), None, None, "ReDial catalog file movies_with_mentions.csv not found")])
    movies: dict[str, tuple[str, int]] = {}
    issues: list[Issue] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            try:
                movies[row["movieId"].strip()] = (" ".join(row["movieName"].split()), int(row["nbMentions"]))
            except (KeyError, ValueError, AttributeError) as error:
                issues.append(Issue(str(path), reader.line_num, None, f"bad row: {error}"))
    if issues:
        raise DataError(issues)
    return movies


def _movielens(folder: Path) -> tuple[TitleIndex, dict[str, list[str]], dict[str, list[str]]]:
    genres: dict[str, list[str]] = {}
    titles: list[tuple[str, str]] = []
    with (folder / "movies.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            titles.append((row["movieId"], row["title"]))
            genres[row["movieId"]] = [
                g.lower() for g in row["genres"].split("|") if g and g != "(no genres listed)"
            ]
    tag_counts: dict[str, Counter[str]] = defaultdict(Counter)
    tags_file = folder / "tags.csv"
    if tags_file.is_file():
        with tags_file.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                tag_counts[row["movieId"]][row["tag"].strip().lower()] += 1
    top_tags = {movie: [t for t, _ in counts.most_common(TAGS_PER_MOVIE)] for movie, counts in tag_counts.items()}
    return TitleIndex(titles), genres, top_tags


def movielens_similar(ratings: Path, movielens_ids: dict[str, int], per_movie: int = SIMILAR_PER_MOVIE) -> dict[str, dict[str, float]]:
    """Catalog movie -> {the `per_movie` most similar catalog movies: cosine}, where a movie is the
    set of MovieLens users who rated it `LIKED_RATING` or more. `movielens_ids`: catalog id ->
    MovieLens id (several catalog ids may share one)."""
    catalog_ids = list(movielens_ids)
    columns_of: dict[int, list[int]] = defaultdict(list)
    for column, catalog_id in enumerate(catalog_ids):
        columns_of[movielens_ids[catalog_id]].append(column)
    users: dict[str, int] = {}
    rows, columns = [], []
    with ratings.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if float(row["rating"]) < LIKED_RATING:
                continue
            for column in columns_of.get(int(row["movieId"]), []):
                rows.append(users.setdefault(row["userId"], len(users)))
                columns.append(column)
    liked = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, columns)), shape=(len(users), len(catalog_ids))
    )
    liked.data[:] = 1.0  # one user's several ratings of a movie count once
    likers = np.asarray(liked.sum(axis=0)).ravel()
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(likers, 1.0)))
    cosine = (scale @ (liked.T @ liked) @ scale).tocsr()
    similar: dict[str, dict[str, float]] = {}
    for column, catalog_id in enumerate(catalog_ids):
        start, end = cosine.indptr[column], cosine.indptr[column + 1]
        others, values = cosine.indices[start:end], cosine.data[start:end]
        keep = others != column
        others, values = others[keep], values[keep]
        # Best first; ties by catalog id so that the import is reproducible.
        order = sorted(range(len(others)), key=lambda n: (-values[n], catalog_ids[others[n]]))[:per_movie]
        if order:
            similar[catalog_id] = {catalog_ids[others[n]]: round(float(values[n]), 4) for n in order}
    return similar


def _conversations(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, json.loads(line)


def load_redial(folder: Path, movielens: Path | None = None) -> RedialImport:
    movies = read_catalog(folder)
    if movielens is not None and not (movielens / "movies.csv").is_file():
        raise DataError([Issue(str(movielens), None, None, "MovieLens folder has no movies.csv")])
    index, genres, top_tags = _movielens(movielens) if movielens else (None, {}, {})

    dataset = Dataset()
    catalog_path = str(folder / "movies_with_mentions.csv")
    matches = {movie_id: index.match(title) for movie_id, (title, _) in movies.items()} if index else {}
    matched_ids = {movie_id: int(found) for movie_id, found in matches.items() if found is not None}
    ratings = movielens / "ratings.csv" if movielens else None
    similar = movielens_similar(ratings, matched_ids) if ratings is not None and ratings.is_file() else {}
    matched = 0
    for line, (movie_id, (title, _)) in enumerate(movies.items(), start=2):
        _, year = split_year(title)
        attributes: dict[str, Any] = {}
        if year is not None:
            attributes["year"] = year
        tags: list[str] = []
        description = ""
        movielens_id = matches.get(movie_id)
        if movielens_id is not None:
            matched += 1
            attributes["movielens_id"] = int(movielens_id)
            if movie_id in similar:
                attributes["similar"] = similar[movie_id]
            tags = list(dict.fromkeys(genres.get(movielens_id, []) + top_tags.get(movielens_id, [])))
            parts = []
            if genres.get(movielens_id):
                parts.append("A " + ", ".join(genres[movielens_id]) + " film")
            if top_tags.get(movielens_id):
                parts.append("people describe it as " + ", ".join(top_tags[movielens_id]))
            description = "; ".join(parts) + "." if parts else ""
        item = Item(id=movie_id, title=title, category="films", description=description, tags=tags, attributes=attributes)
        dataset.add(item, Origin(catalog_path, line))

    titles = {movie_id: title for movie_id, (title, _) in movies.items()}
    seekers: set[str] = set()
    issues: list[Issue] = []
    for name in DIALOGUE_FILES:
        path = folder / name
        if not path.is_file():
            continue
        for line, conversation in _conversations(path):
            try:
                dialogue = _dialogue(conversation, titles)
            except (KeyError, TypeError, ValueError) as error:
                issues.append(Issue(str(path), line, None, f"not a ReDial conversation: {error}"))
                continue
            if dialogue is None:
                continue
            seekers.add(str(dialogue.user_id))
            dataset.add(dialogue, Origin(str(path), line))
            for interaction in _seeker_interactions(conversation, titles):
                dataset.add(interaction, Origin(str(path), line))
    for seeker in sorted(seekers):
        dataset.add(User(id=seeker, name=f"ReDial seeker {seeker}"), Origin(str(folder), None))
    issues += check_dataset(dataset, set(), set())
    if issues:
        raise DataError(issues)
    return RedialImport(dataset, matched, len(movies))


def _seeker_interactions(conversation: dict[str, Any], titles: dict[str, str]) -> list[Interaction]:
    questions = conversation.get("initiatorQuestions") or {}
    if not isinstance(questions, dict):
        return []
    seeker = str(conversation["initiatorWorkerId"])
    found = []
    for movie_id, answers in questions.items():
        movie_id = str(movie_id)
        if movie_id not in titles:
            continue
        liked = answers.get("liked")
        kind, rating = {1: ("like", None), 0: ("rating", 1.0)}.get(liked, ("view", None))
        found.append(
            Interaction(
                id=f"redial-{conversation['conversationId']}-{movie_id}",
                user_id=seeker, item_id=movie_id, kind=kind, rating=rating, visibility="public",
            )
        )
    return found


def _dialogue(conversation: dict[str, Any], titles: dict[str, str]) -> Dialogue | None:
    questions = conversation.get("initiatorQuestions") or {}
    liked = {str(k): v.get("liked") for k, v in questions.items()} if isinstance(questions, dict) else {}
    turns = []
    for turn in redial_turns(conversation, titles):
        if not turn.text:
            continue
        mentions = [
            Mention(
                item_id=movie_id,
                sentiment=LIKED_TO_SENTIMENT.get(liked.get(movie_id, 2)) if turn.role == "user" else None,
            )
            for movie_id in dict.fromkeys(turn.movie_ids)
            if movie_id in titles
        ]
        turns.append(DialogueTurn(role=turn.role, text=turn.text, mentions=mentions))
    if not any(turn.role == "user" for turn in turns):
        return None
    return Dialogue(id=str(conversation["conversationId"]), user_id=str(conversation["initiatorWorkerId"]), turns=turns)
