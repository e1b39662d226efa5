"""Ingest writes SQLite rows and Chroma vectors together: idempotent, all-or-nothing, searchable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from retrieval.datafiles import DataError, read_files
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset, read_source
from retrieval.store import Stores
from tests.conftest import copy_demo, write_jsonl


def load(stores: Stores, embedder: Embedder, paths: list[Path], catalog: str = "shop"):
    dataset, _ = read_source(paths, "kith", stores, catalog)
    return ingest_dataset(dataset, catalog, "test", stores.database, stores.vectors, embedder)


def snapshot(stores: Stores, catalog: str = "shop") -> dict[str, int]:
    counts = stores.database.counts(catalog)
    for kind in ("items", "activity", "help"):
        counts[f"chroma_{kind}"] = stores.vectors.count(catalog, kind)
    return counts


def test_ingest_writes_rows_and_vectors(stores: Stores, embedder: Embedder, tiny_data: Path) -> None:
    report = load(stores, embedder, [tiny_data])
    assert report.counts["items"] == 3
    assert snapshot(stores) == {
        "items": 3, "users": 3, "friendships": 1, "interactions": 3, "help_articles": 1, "dialogues": 0,
        "chroma_items": 3, "chroma_activity": 3, "chroma_help": 1,
    }
    assert stores.database.friends("shop", "bob") == {"ann": 0.8}
    assert stores.database.catalogs() == ["shop"]


def test_reingesting_the_same_data_is_idempotent(stores: Stores, embedder: Embedder, tiny_data: Path) -> None:
    load(stores, embedder, [tiny_data])
    before = snapshot(stores)
    load(stores, embedder, [tiny_data])
    assert snapshot(stores) == before


def test_reingest_updates_by_id(stores: Stores, embedder: Embedder, tiny_data: Path, tmp_path: Path) -> None:
    load(stores, embedder, [tiny_data])
    update = write_jsonl(tmp_path / "items.jsonl", [
        {"id": "alien", "title": "Alien (Director's Cut)", "category": "films"},
    ])
    load(stores, embedder, [update])
    assert stores.database.items("shop", ["alien"])[0].title == "Alien (Director's Cut)"
    assert stores.database.count("shop", "items") == 3


def test_invalid_input_writes_nothing(stores: Stores, embedder: Embedder, tiny_data: Path, tmp_path: Path) -> None:
    load(stores, embedder, [tiny_data])
    before = snapshot(stores)
    batch = tmp_path / "batch"
    batch.mkdir()
    write_jsonl(batch / "items.jsonl", [{"id": "new", "title": "New item", "category": "books"}])
    write_jsonl(batch / "interactions.jsonl", [
        {"user_id": "ann", "item_id": "new", "kind": "like", "visibility": "public"},
        {"user_id": "ann", "item_id": "new", "kind": "rating", "rating": 11},
    ])
    with pytest.raises(DataError) as raised:
        load(stores, embedder, [batch])
    assert [issue.line for issue in raised.value.issues] == [2]
    assert snapshot(stores) == before
    assert stores.database.items("shop", ["new"]) == []


def test_failure_while_writing_rolls_back(stores: Stores, embedder: Embedder, tiny_data: Path, monkeypatch) -> None:
    dataset = read_files([tiny_data])

    def broken_upsert(*args, **kwargs):
        raise ConnectionError("Chroma went away")

    monkeypatch.setattr(stores.vectors, "upsert", broken_upsert)
    with pytest.raises(ConnectionError):
        ingest_dataset(dataset, "shop", "test", stores.database, stores.vectors, embedder)
    assert stores.database.catalogs() == []
    assert stores.database.count("shop", "items") == 0


def test_later_files_may_refer_to_stored_records(stores: Stores, embedder: Embedder, tiny_data: Path, tmp_path: Path) -> None:
    load(stores, embedder, [tiny_data])
    more = write_jsonl(tmp_path / "interactions.jsonl", [
        {"user_id": "cat", "item_id": "alien", "kind": "like", "visibility": "public"},
    ])
    load(stores, embedder, [more])
    assert stores.database.count("shop", "interactions") == 4
    hits = stores.vectors.query("shop", "activity", text="alien", limit=10, where={"user_id": "cat"})
    assert {hit.metadata["item_id"] for hit in hits} == {"tent", "alien"}


def test_chroma_round_trip_finds_items_by_meaning(stores: Stores, embedder: Embedder, tiny_data: Path) -> None:
    load(stores, embedder, [tiny_data])
    hits = stores.vectors.query("shop", "items", text="a monster hunting astronauts on a spaceship", limit=3)
    assert hits[0].id == "alien"
    hits = stores.vectors.query("shop", "items", text="lightweight shelter for a hiking trip", limit=3)
    assert hits[0].id == "tent"
    assert hits[0].metadata["category"] == "outdoor" and hits[0].metadata["price"] == 349.0


def test_activity_carries_visibility_for_filtering(stores: Stores, embedder: Embedder, tiny_data: Path) -> None:
    load(stores, embedder, [tiny_data])
    shared = stores.vectors.query(
        "shop", "activity", text="anything", limit=10, where={"visibility": {"$in": ["public", "friends"]}}
    )
    assert {hit.metadata["user_id"] for hit in shared} == {"ann", "bob"}
    review = next(hit for hit in shared if hit.metadata["user_id"] == "ann")
    assert review.document == "rating of Alien (1979), rated 5/5: Still the scariest film in space."


def test_catalogs_are_separate(stores: Stores, embedder: Embedder, tiny_data: Path) -> None:
    load(stores, embedder, [tiny_data], catalog="one")
    load(stores, embedder, [tiny_data], catalog="two")
    assert stores.database.catalogs() == ["one", "two"]
    assert stores.vectors.count("one", "items") == stores.vectors.count("two", "items") == 3


def test_data_survives_reopening(tmp_path: Path, embedder: Embedder, tiny_data: Path) -> None:
    first = Stores.open(tmp_path / "data")
    load(first, embedder, [tiny_data])
    first.close()
    again = Stores.open(tmp_path / "data")
    assert snapshot(again)["chroma_items"] == 3
    assert again.database.schema_version >= 1
    again.close()


def test_a_chroma_folder_left_unreadable_is_rebuilt_from_sqlite_on_open(
    demo_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = copy_demo(demo_template, tmp_path / "data")
    # What a SIGKILL inside Chroma's own index write leaves (bench/soak.py met it: "Error
    # deserializing pickle file: ... EOF"): an index file cut short.
    indexes = sorted((data / "chroma").glob("*/index_metadata.pickle"))
    assert indexes, "the demo's activity collection is large enough to have an index on disk"
    for index in indexes:
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="retrieval.store"):
        stores = Stores.open(data)
    assert "cannot be read" in caplog.text and "InternalError" in caplog.text
    [aside] = data.glob("chroma.unreadable-*")
    assert sorted(p.name for p in aside.iterdir()) == sorted(p.name for p in (demo_template / "chroma").iterdir())
    assert stores.vectors.unreadable() is None
    for kind, table in (("items", "items"), ("activity", "interactions"), ("help", "help_articles")):
        assert stores.vectors.count("demo", kind) == stores.database.count("demo", table) > 0
    [hit] = stores.vectors.query("demo", "items", text="a film about first contact with aliens", limit=1)
    assert stores.database.items("demo", [hit.id])[0].category == "films"
    stores.close()
