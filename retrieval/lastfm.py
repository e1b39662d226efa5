"""Importer for HetRec 2011 Last.fm 2K: artists as items, play counts as interactions, and the
friendship graph. Ids are Last.fm's own (as strings), so evaluation can join on them."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from pathlib import Path

from retrieval.datafiles import DataError, Dataset, Issue, Origin, check_dataset, delimited_rows
from retrieval.schemas import Friendship, Interaction, Item, User

FILES = ("artists.dat", "user_artists.dat", "user_friends.dat")
# Last.fm's ids are whole numbers (users are listed in their order), short enough for a Kith id.
LASTFM_ID = re.compile(r"[0-9]{1,200}")


def _rows(path: Path, issues: list[Issue], columns: tuple[str, ...], ids: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of one tab-separated file whose `ids` columns hold Last.fm ids; the others become issues."""
    for line, row in delimited_rows(path, columns, issues, delimiter="\t", quoting=csv.QUOTE_NONE):
        bad = [name for name in ids if not LASTFM_ID.fullmatch(row[name])]
        issues += [Issue(str(path), line, name, f"not a Last.fm id (a whole number): {row[name]!r}") for name in bad]
        if not bad:
            yield line, row


def load_lastfm(folder: Path) -> Dataset:
    issues = [Issue(str(folder / name), None, None, "file not found") for name in FILES if not (folder / name).is_file()]
    if issues:
        raise DataError(issues)
    dataset = Dataset()
    artists = folder / "artists.dat"
    for line, row in _rows(artists, issues, ("id", "name", "url"), ("id",)):
        attributes = {"url": row["url"]} if row["url"] else {}
        dataset.add(
            Item(id=row["id"], title=row["name"].strip() or f"artist {row['id']}", category="music", attributes=attributes),
            Origin(str(artists), line),
        )

    user_ids: set[str] = set()
    plays = folder / "user_artists.dat"
    for line, row in _rows(plays, issues, ("userID", "artistID", "weight"), ("userID", "artistID")):
        try:
            weight = float(row["weight"])
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight):
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
    for line, row in _rows(friends, issues, ("userID", "friendID"), ("userID", "friendID")):
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
