"""`kith finetune --catalog NAME`: a data folder's catalog as training data, what people told Kith
since it was ingested (card feedback) included, within the visibility rules: public and
friends-visible rows become examples, private ones never."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.kith import Kith
from finetune.examples import TrainingData, load_examples
from finetune.train import _data_record as data_record
from retrieval.database import Database
from retrieval.datafiles import DataError, read_files
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset
from retrieval.store import Stores
from tests.conftest import write_jsonl, write_two_friends

FILMS = [
    {"id": "alien", "title": "Alien (1979)", "category": "films", "tags": ["sci-fi", "horror"]},
    {"id": "arrival", "title": "Arrival (2016)", "category": "films", "tags": ["sci-fi", "thoughtful"]},
    {"id": "paddington", "title": "Paddington 2 (2017)", "category": "films", "tags": ["family"]},
    {"id": "heat", "title": "Heat (1995)", "category": "films", "tags": ["crime"]},
    {"id": "up", "title": "Up (2009)", "category": "films", "tags": ["family", "animated"]},
    {"id": "moon", "title": "Moon (2009)", "category": "films", "tags": ["sci-fi"]},
    # Named only by private activity: a private review, and private feedback on a card.
    {"id": "reviewed", "title": "Zqx Private Review Marker", "category": "films", "tags": ["drama"]},
    {"id": "fed-back", "title": "Zqx Private Feedback Marker", "category": "films", "tags": ["drama"]},
]
DIALOGUE = {
    "id": "d1", "user_id": "ann",
    "turns": [
        {"role": "user", "text": "I loved Arrival. Something like it?", "mentions": [{"item_id": "arrival", "sentiment": "like"}]},
        {"role": "assistant", "text": "Then Paddington 2 (2017), pure warmth.", "mentions": [{"item_id": "paddington"}]},
    ],
}
MARKER = re.compile("Zqx|zqx-secret-words")


@pytest.fixture
def data_dir(tmp_path: Path, embedder: Embedder) -> Iterator[Path]:
    files = write_two_friends(tmp_path / "files", FILMS, DIALOGUE, [
        {"user_id": "ann", "item_id": "arrival", "kind": "like", "timestamp": "2026-01-01T10:00:00Z", "visibility": "public"},
        {"user_id": "ann", "item_id": "up", "kind": "like", "timestamp": "2026-01-03T10:00:00Z", "visibility": "friends"},
        {"user_id": "bob", "item_id": "heat", "kind": "like", "timestamp": "2026-01-01T10:00:00Z", "visibility": "public"},
        {"user_id": "bob", "item_id": "reviewed", "kind": "review", "rating": 5, "text": "zqx-secret-words",
         "timestamp": "2026-01-02T10:00:00Z"},  # no visibility given: private
    ])
    folder = tmp_path / "data"
    stores = Stores.open(folder)
    ingest_dataset(read_files([files]), "films", "test", stores.database, stores.vectors, embedder)
    stores.close()
    # What people told Kith after the ingest: feedback on cards, private unless shared.
    kith = Kith.open(folder, "films")
    kith.feedback("ann", "fed-back", "up")
    kith.feedback("bob", "moon", "up", visibility="friends")
    kith.close()
    yield folder


def catalog_examples(data_dir: Path, paths: list[Path] | None = None) -> TrainingData:
    database = Database(data_dir / "kith.db")
    try:
        return load_examples(paths or [], database=database, catalogs=["films"])
    finally:
        database.close()


def texts(data: TrainingData) -> list[str]:
    return [" ".join(m["content"] for m in e.messages) + " " + e.target for e in data.examples]


def test_a_catalog_gives_every_kind_of_example_from_its_shared_rows_and_feedback(data_dir: Path) -> None:
    data = catalog_examples(data_dir)
    assert all(data.counts[kind] > 0 for kind in ("dialogue", "interaction", "understanding"))
    # Bob's friends-visible feedback is knowledge: his choice after Heat, and a like his friend Ann sees.
    assert [(e.messages[1]["content"], e.target) for e in data.examples if e.group == "user:bob"] == [
        ("I liked: Heat (1995). My friends liked: Arrival (2016); Up (2009). What should I try next?", "Moon (2009)"),
    ]
    assert [(e.messages[1]["content"], e.target) for e in data.examples if e.group == "user:ann"] == [
        ("I liked: Arrival (2016). My friends liked: Heat (1995); Moon (2009). What should I try next?", "Up (2009)"),
    ]
    dialogue = next(e for e in data.examples if e.kind == "dialogue")
    assert dialogue.origin == "catalog films, dialogue d1" and dialogue.candidates[0] == "paddington"
    # The adapter records what produced it: a catalog by where it is and a digest of what it taught.
    [(source, digest)] = data.catalogs.items()
    assert source == f"catalog films in {(data_dir / 'kith.db').resolve()}" and re.fullmatch(r"[0-9a-f]{64}", digest)
    assert data_record(data) == data.catalogs


def test_private_rows_and_private_feedback_reach_no_example(data_dir: Path) -> None:
    data = catalog_examples(data_dir)
    # Not as history, target or friends' like, nor as an item a generated request names.
    assert data.examples and not [text for text in texts(data) if MARKER.search(text)]
    # Shared later, the same feedback is knowledge from the next run on.
    kith = Kith.open(data_dir, "films")
    kith.feedback("ann", "fed-back", "up", visibility="public")
    kith.close()
    shared = catalog_examples(data_dir)
    assert "Zqx Private Feedback Marker" in [e.target for e in shared.examples if e.group == "user:ann"]
    assert not [text for text in texts(shared) if "Zqx Private Review Marker" in text or "zqx-secret-words" in text]
    assert shared.catalogs != data.catalogs  # the adapter's record says the data changed


def test_a_catalog_beside_files_and_unknown_catalogs(data_dir: Path, tmp_path: Path) -> None:
    extra = write_jsonl(tmp_path / "conversations.jsonl", [{
        "conversationId": "7", "initiatorWorkerId": 1, "movieMentions": {"111": "Heat (1995)"},
        "messages": [{"senderWorkerId": 1, "text": "any crime films?"}, {"senderWorkerId": 2, "text": "Try @111"}],
    }])
    both = catalog_examples(data_dir, [extra])
    assert {e.origin.split(":")[0] for e in both.examples} >= {str(extra), "catalog films"}
    assert both.files == [extra] and len(both.catalogs) == 1
    database = Database(data_dir / "kith.db")
    with pytest.raises(DataError, match=re.escape("catalog: no catalog 'nope' here (catalogs: films)")):
        load_examples([], database=database, catalogs=["nope"])
    database.close()


def test_finetune_command_reads_a_catalog_of_the_data_folder(data_dir: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import finetune.train

    given: list[TrainingData] = []

    def record(data: TrainingData, out: Path, *args, **kwargs) -> dict:  # the examples, not the training
        given.append(data)
        return {"device": "cpu", "metrics": {"steps": 1, "tokens": 10, "training_seconds": 1.0, "tokens_per_second": 10.0,
                                             "train_loss_last_10": 1.0, "held_out": None}}

    monkeypatch.setattr(finetune.train, "train", record)
    out = str(tmp_path / "adapter")
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), "finetune", "--catalog", "films", "--out", out])
    assert result.exit_code == 0, result.output
    [data] = given
    assert data.counts == catalog_examples(data_dir).counts and not [text for text in texts(data) if MARKER.search(text)]

    refused = CliRunner().invoke(app, ["--data-dir", str(data_dir), "finetune", "--catalog", "nope", "--out", out])
    assert refused.exit_code == 2 and "no catalog 'nope' here (catalogs: films)" in refused.stderr
    empty = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "none"), "finetune", "--catalog", "films", "--out", out])
    assert empty.exit_code == 2 and "holds no Kith data" in empty.stderr
    assert not (tmp_path / "none").exists()
    nothing = CliRunner().invoke(app, ["finetune", "--out", out])
    assert nothing.exit_code == 2 and "--data PATH" in nothing.stderr
