"""Importer for ReDial (conversational movie recommendation), enriched with MovieLens.

Catalog: `movies_with_mentions.csv`, item ids = ReDial movie ids. With a MovieLens folder, each
movie gains MovieLens genres and its most frequent user tags (titles share the `Title (Year)`
form and are matched with `TitleIndex`). MovieLens ratings are not imported as interactions:
measured on valid.jsonl they pull popularity and collaborative filtering towards MovieLens' older
canon and cut Recall@10 from 0.100 to 0.059 (repeats removed, first 150 turns; the importer of
commit 02efed8 still loaded them). They only give each movie its `similar` attribute: the
`SIMILAR_PER_MOVIE` catalog movies most often rated 4 or more by the same MovieLens users (cosine
of the sets of such users), which the ranking's `similar` component reads. Training dialogues
(`train.jsonl`, or the files given as `dialogues`: a deployment's own conversations too) come in as
Kith dialogues with the seeker's per-movie `liked` labels, and as the seeker's public interactions
(liked: like; disliked: a 1/5 rating; unsaid: a view). A dialogue keeps its conversation's id and
seeker, which is how `learnt_conversations` tells the conversations a catalog learnt from, whatever
file they come in. `valid.jsonl` (tuning) and `dev.jsonl` (measurement) are held out and never
imported by default; nor is the catalog's `nbMentions`, which counts mentions in every split, the
held-out ones included.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from scipy import sparse

from retrieval.database import Database
from retrieval.datafiles import DataError, Dataset, Issue, Origin, check_dataset, delimited_rows, jsonl_rows
from retrieval.schemas import Dialogue, DialogueTurn, Interaction, Item, Mention, User
from retrieval.titles import TitleIndex, split_year

MENTION = re.compile(r"@(\d+)")
# The dialogues imported unless others are named: only the training split is knowledge; valid is for
# tuning and dev for the final measurement.
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
    dialogue_files: tuple[Path, ...] = ()  # the conversation files read as knowledge

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
        # The crowd workers' text comes HTML-escaped ("I&quot;m", "&amp;").
        text = html.unescape(MENTION.sub(lambda m: _title(m.group(1), titles, mentioned), message["text"])).strip()
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
    lines: dict[str, int] = {}
    issues: list[Issue] = []
    for line, row in delimited_rows(path, ("movieId", "movieName", "nbMentions"), issues):
        movie_id, title = row["movieId"].strip(), " ".join(row["movieName"].split())
        problems = []
        if not movie_id:
            problems.append(("movieId", "empty"))
        elif movie_id in lines:
            problems.append(("movieId", f"duplicate id {movie_id!r} (first at line {lines[movie_id]})"))
        if not title:
            problems.append(("movieName", "empty"))
        mentions = _whole_number(row["nbMentions"])
        if mentions is None:
            problems.append(("nbMentions", f"not a whole number: {row['nbMentions']!r}"))
        issues += [Issue(str(path), line, name, message) for name, message in problems]
        if not problems:
            movies[movie_id], lines[movie_id] = (title, mentions), line
    if issues:
        raise DataError(issues)
    return movies


def _whole_number(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _movielens(folder: Path, issues: list[Issue]) -> tuple[TitleIndex, dict[str, list[str]], dict[str, list[str]]]:
    genres: dict[str, list[str]] = {}
    titles: list[tuple[str, str]] = []
    movies = folder / "movies.csv"
    for line, row in delimited_rows(movies, ("movieId", "title", "genres"), issues):
        # Matched movies keep their MovieLens id as a number (`movielens_id`).
        if _whole_number(row["movieId"]) is None:
            issues.append(Issue(str(movies), line, "movieId", f"not a whole number: {row['movieId']!r}"))
            continue
        titles.append((row["movieId"], row["title"]))
        genres[row["movieId"]] = [
            g.lower() for g in row["genres"].split("|") if g and g != "(no genres listed)"
        ]
    tag_counts: dict[str, Counter[str]] = defaultdict(Counter)
    tags_file = folder / "tags.csv"
    if tags_file.is_file():
        for _, row in delimited_rows(tags_file, ("movieId", "tag"), issues):
            tag_counts[row["movieId"]][row["tag"].strip().lower()] += 1
    top_tags = {movie: [t for t, _ in counts.most_common(TAGS_PER_MOVIE)] for movie, counts in tag_counts.items()}
    return TitleIndex(titles), genres, top_tags


def movielens_similar(ratings: Path, movielens_ids: dict[str, int], per_movie: int = SIMILAR_PER_MOVIE) -> dict[str, dict[str, float]]:
    """Catalog movie -> {the `per_movie` most similar catalog movies: cosine}, where a movie is the
    set of MovieLens users who rated it `LIKED_RATING` or more. `movielens_ids`: catalog id ->
    MovieLens id (several catalog ids may share one). Raises DataError naming every bad row."""
    catalog_ids = list(movielens_ids)
    columns_of: dict[int, list[int]] = defaultdict(list)
    for column, catalog_id in enumerate(catalog_ids):
        columns_of[movielens_ids[catalog_id]].append(column)
    users: dict[str, int] = {}
    rows, columns = [], []
    issues: list[Issue] = []
    for line, row in delimited_rows(ratings, ("userId", "movieId", "rating"), issues):
        rating, movie = _number(row["rating"]), _whole_number(row["movieId"])
        if rating is None or movie is None:
            bad = ("rating", "not a number") if rating is None else ("movieId", "not a whole number")
            issues.append(Issue(str(ratings), line, bad[0], f"{bad[1]}: {row[bad[0]]!r}"))
            continue
        if rating < LIKED_RATING:
            continue
        for column in columns_of.get(movie, []):
            rows.append(users.setdefault(row["userId"], len(users)))
            columns.append(column)
    if issues:
        raise DataError(issues)
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


def read_conversations(path: Path, issues: list[Issue]) -> list[tuple[int, dict[str, Any]]]:
    """(line, conversation) of each conversation of a ReDial JSONL file that has what Kith reads
    of one; every problem of the others becomes an issue (`file:line: field: message`)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        issues.append(Issue(str(path), None, None, f"cannot read file: {error.strerror}"))
        return []
    found = []
    for number, conversation in jsonl_rows(path, raw, issues):
        problems = conversation_problems(conversation)
        issues += [Issue(str(path), number, where, message) for where, message in problems]
        if not problems:
            found.append((number, conversation))
    return found


def conversation_problems(conversation: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(field, message) of each way `conversation` lacks what a ReDial conversation has."""
    problems: list[tuple[str | None, str]] = []
    for name in ("conversationId", "initiatorWorkerId", "messages"):
        if name not in conversation:
            problems.append((name, "required field is missing (is this a ReDial conversation?)"))
        elif name != "messages" and not _is_id(conversation[name]):
            problems.append((name, f"must be a non-empty string or a whole number (got {conversation[name]!r:.60})"))
    messages = conversation.get("messages", [])
    if not isinstance(messages, list):
        problems.append(("messages", "must be a list of messages"))
    else:
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                problems.append((f"messages.{index}", "must be an object with text and senderWorkerId"))
                continue
            if not isinstance(message.get("text"), str):
                problems.append((f"messages.{index}.text", "required text is missing or not a string"))
            if "senderWorkerId" not in message:
                problems.append((f"messages.{index}.senderWorkerId", "required field is missing"))
    # ReDial writes an empty list where a conversation has no movies or answers.
    for name, kind, valid in (("movieMentions", "a title or null", lambda v: v is None or isinstance(v, str)),
                              ("initiatorQuestions", "an object of answers", lambda v: isinstance(v, dict))):
        value = conversation.get(name)
        if value is None or value == []:
            continue
        if not isinstance(value, dict):
            problems.append((name, "must be an object keyed by movie id"))
            continue
        problems += [(f"{name}.{key}", f"must be {kind}") for key, entry in value.items() if not valid(entry)]
    return problems


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and bool(value.strip()))


def load_redial(folder: Path, movielens: Path | None = None, dialogues: Sequence[Path] | None = None) -> RedialImport:
    """The catalog of `folder`, enriched from `movielens`, and the conversations of `dialogues`
    (ReDial JSONL files anywhere; default: the folder's `DIALOGUE_FILES`, where present) as its
    knowledge. Raises DataError naming every problem of every file."""
    movies = read_catalog(folder)
    if movielens is not None and not (movielens / "movies.csv").is_file():
        raise DataError([Issue(str(movielens), None, None, "MovieLens folder has no movies.csv")])
    issues: list[Issue] = []
    index, genres, top_tags = _movielens(movielens, issues) if movielens else (None, {}, {})

    dataset = Dataset()
    catalog_path = str(folder / "movies_with_mentions.csv")
    matches = {movie_id: index.match(title) for movie_id, (title, _) in movies.items()} if index else {}
    matched_ids = {movie_id: int(found) for movie_id, found in matches.items() if found is not None}
    ratings = movielens / "ratings.csv" if movielens else None
    similar: dict[str, dict[str, float]] = {}
    if ratings is not None and ratings.is_file():
        try:
            similar = movielens_similar(ratings, matched_ids)
        except DataError as error:
            issues += error.issues
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
                *most, last = genres[movielens_id]
                spoken = f"{', '.join(most)} and {last}" if most else last
                parts.append(f"{'An' if spoken[0] in 'aeiou' else 'A'} {spoken} film")
            if top_tags.get(movielens_id):
                parts.append("people describe it as " + ", ".join(top_tags[movielens_id]))
            description = "; ".join(parts) + "." if parts else ""
        item = Item(id=movie_id, title=title, category="films", description=description, tags=tags, attributes=attributes)
        dataset.add(item, Origin(catalog_path, line))

    titles = {movie_id: title for movie_id, (title, _) in movies.items()}
    seekers: set[str] = set()
    if dialogues is None:
        dialogue_files = [folder / name for name in DIALOGUE_FILES if (folder / name).is_file()]
    else:
        # A file named twice is read once: its conversations are not duplicates of themselves.
        dialogue_files = list({path.resolve(): path for path in dialogues}.values())
    for path in dialogue_files:
        for line, conversation in read_conversations(path, issues):
            try:
                dialogue = _dialogue(conversation, titles)
                interactions = _seeker_interactions(conversation, titles)
            except ValidationError as error:
                issues += [
                    Issue(str(path), line, None, f"cannot import: {'.'.join(map(str, problem['loc']))}: {problem['msg']}")
                    for problem in error.errors()
                ]
                continue
            if dialogue is None:
                continue
            seekers.add(str(dialogue.user_id))
            dataset.add(dialogue, Origin(str(path), line))
            for interaction in interactions:
                dataset.add(interaction, Origin(str(path), line))
    for seeker in sorted(seekers):
        dataset.add(User(id=seeker, name=f"ReDial seeker {seeker}"), Origin(str(folder), None))
    issues += check_dataset(dataset, set(), set())
    if issues:
        raise DataError(issues)
    return RedialImport(dataset, matched, len(movies), tuple(dialogue_files))


def _seeker_interactions(conversation: dict[str, Any], titles: dict[str, str]) -> list[Interaction]:
    questions = conversation.get("initiatorQuestions") or {}
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
    liked = {str(k): v.get("liked") for k, v in questions.items()}
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
    dialogue_id, seeker = stored_as(conversation)
    return Dialogue(id=dialogue_id, user_id=seeker, turns=turns)


def stored_as(conversation: dict[str, Any]) -> tuple[str, str]:
    """The id and person of the dialogue a conversation is stored as: its id and its seeker."""
    return str(conversation["conversationId"]).strip(), str(conversation["initiatorWorkerId"]).strip()


def learnt_conversations(database: Database, catalog: str, conversations: Iterable[dict[str, Any]]) -> list[str]:
    """The ids of those `conversations` that `catalog` learnt from: stored among its dialogues by
    this importer (`stored_as`). Decided by the conversations themselves, so a renamed copy of an
    imported file is known too."""
    stored = {
        (row["id"], row["user_id"])
        for row in database.query("SELECT id, user_id FROM dialogues WHERE catalog = ?", (catalog,))
    }
    return [stored_as(conversation)[0] for conversation in conversations if stored_as(conversation) in stored]
