"""Importer for HetRec 2011 Last.fm 2K: artists as items, play counts as interactions, and the
friendship graph. Ids are Last.fm's own (as strings), so evaluation can join on them."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from retrieval.datafiles import DataError, Dataset, Issue, Origin, check_dataset
from retrieval.schemas import Friendship, Interaction, Item, User

FILES = ("artists.dat", "user_artists.dat", "user_friends.dat")


def _rows(path: Path, issues: list[Issue], columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            issues.append(Issue(str(path), 1, ", ".join(missing), "missing column(s) in the header"))
            return
        for row in reader:
            yield reader.line_num, row


def load_lastfm(folder: Path) -> Dataset:
    issues = [Issue(str(folder / name), None, None, "file not found") for name in FILES if not (folder / name).is_file()]
    if issues:
        raise DataError(issues)
    dataset = Dataset()
    artists = folder / "artists.dat"
    for line, row in _rows(artists, issues, ("id", "name", "url")):
        attributes = {"url": row["url"]} if row.get("url") else {}
        dataset.add(
            Item(id=row["id"], title=row["name"] or f"artist {row['id']}", category="music", attributes=attributes),
            Origin(str(artists), line),
        )

    user_ids: set[str] = set()
    plays = folder / "user_artists.dat"
    for line, row in _rows(plays, issues, ("userID", "artistID", "weight")):
        try:
            weight = float(row["weight"])
        except ValueError:
            issues.append(Issue(str(plays), line, "weight", f"not a number: {row['weight']!r}"))
            continue
        user_ids.add(row["userID"])
        dataset.add(
            # Listening histories on Last.fm are public profile data.
            Interaction(
                id=f"{row['userID']}-{row['artistID']}",
                user_id=row["userID"],
                item_id=row["artistID"],
                kind="view",
                weight=max(weight, 1.0),
                visibility="public",
            ),
            Origin(str(plays), line),
        )

    friends = folder / "user_friends.dat"
    pairs: set[frozenset[str]] = set()
    for line, row in _rows(friends, issues, ("userID", "friendID")):
        pair = frozenset((row["userID"], row["friendID"]))
        user_ids |= pair
        if pair in pairs or len(pair) == 1:
            continue  # each friendship is listed in both directions
        pairs.add(pair)
        dataset.add(Friendship(user_id=row["userID"], friend_id=row["friendID"]), Origin(str(friends), line))

    for user_id in sorted(user_ids, key=int):
        dataset.add(User(id=user_id, name=f"Last.fm user {user_id}"), Origin(str(folder), None))
    issues += check_dataset(dataset, set(), set())
    if issues:
        raise DataError(issues)
    return dataset
