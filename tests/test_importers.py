"""Importers for real public data sets (skipped where ../shared/data is absent), and what they
and the ReDial benchmark say of hand-made malformed files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from retrieval.datafiles import DataError, Dataset
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset
from retrieval.lastfm import load_lastfm
from retrieval.redial import load_redial, redial_turns
from retrieval.store import Stores
from tests.conftest import copy_demo, shared_data


@pytest.fixture(scope="module")
def redial_import():
    return load_redial(shared_data("redial"), shared_data("movielens-latest-small"))


def test_redial_catalog_keeps_redial_ids_and_gains_movielens_genres(redial_import) -> None:
    dataset = redial_import.dataset
    assert len(dataset.items) == 6924
    toy_story = next(item for item in dataset.items if item.title == "Toy Story (1995)")
    assert "animation" in toy_story.tags and toy_story.attributes["movielens_id"] == 1
    assert toy_story.attributes["year"] == 1995
    # Its description reads as a sentence: the genres as a list, with the article they take.
    assert toy_story.description.startswith("An adventure, animation, children, comedy and fantasy film; ")
    # MovieLens users who liked Toy Story liked Toy Story 2 most often (the `similar` attribute).
    toy_story_2 = next(item for item in dataset.items if item.title == "Toy Story 2 (1999)")
    assert next(iter(toy_story.attributes["similar"])) == toy_story_2.id
    assert all(0 < value <= 1 for value in toy_story.attributes["similar"].values())
    # Titles are cleaned ("Headhunter  (2009)" has two spaces in the source).
    assert all("  " not in item.title for item in dataset.items)
    assert redial_import.match_rate > 0.55


def test_redial_dialogues_merge_turns_and_carry_liked_labels(redial_import) -> None:
    dataset = redial_import.dataset
    assert len(dataset.dialogues) == 500  # train only; valid and dev stay held out
    for dialogue in dataset.dialogues:
        roles = [turn.role for turn in dialogue.turns]
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    labelled = [m for d in dataset.dialogues for t in d.turns if t.role == "user" for m in t.mentions if m.sentiment]
    assert {m.sentiment for m in labelled} == {"like", "dislike"}


def test_redial_turns_replace_mentions_with_titles() -> None:
    conversation = {
        "initiatorWorkerId": 1,
        "movieMentions": {"5": "Alien (1979)"},
        "messages": [
            {"senderWorkerId": 1, "text": "hi"},
            {"senderWorkerId": 1, "text": "I loved @5 &amp; it&#39;s scary"},
            {"senderWorkerId": 2, "text": "Then try @6"},
        ],
    }
    turns = redial_turns(conversation, {"6": "Aliens (1986)"})
    assert [(t.role, t.text, t.movie_ids) for t in turns] == [
        ("user", "hi I loved Alien (1979) & it's scary", ["5"]),  # the crowd's text was HTML-escaped
        ("assistant", "Then try Aliens (1986)", ["6"]),
    ]


def test_redial_catalog_ingests_and_is_searchable(tmp_path: Path, embedder: Embedder, redial_import) -> None:
    # 1,000 of the 6,924 movies (every one through the same path; embedding all of them takes
    # ~35 s on 2 cores, which the README's ingest figure measures with `kith ingest --format redial`).
    stores = Stores.open(tmp_path / "data")
    items = redial_import.dataset.items
    chosen = [item for item in items if item.title.startswith("Toy Story")] + items[:1000]
    catalog = Dataset()
    for item in {item.id: item for item in chosen}.values():
        catalog.add(item, redial_import.dataset.origin(item))
    report = ingest_dataset(catalog, "redial", "redial", stores.database, stores.vectors, embedder)
    assert report.counts["items"] == stores.vectors.count("redial", "items") == len(catalog.items) >= 1000
    hits = stores.vectors.query("redial", "items", text="Toy Story animation children", limit=5)
    assert any("Toy Story" in hit.metadata["title"] for hit in hits)
    stores.close()


def test_lastfm_graph_and_plays() -> None:
    dataset = load_lastfm(shared_data("lastfm-hetrec2011"))
    assert len(dataset.items) == 17632
    assert len(dataset.users) == 1892
    assert len(dataset.friendships) == 12717
    assert len(dataset.interactions) == 92834
    first = dataset.interactions[0]
    assert (first.user_id, first.item_id, first.kind, first.weight, first.visibility) == ("2", "51", "view", 13883.0, "public")


def test_lastfm_subset_ingests_with_friends(tmp_path: Path, embedder: Embedder) -> None:
    full = load_lastfm(shared_data("lastfm-hetrec2011"))
    users = {u.id for u in full.users[:60]}
    subset = type(full)()
    for interaction in full.interactions:
        if interaction.user_id in users:
            subset.add(interaction, full.origin(interaction))
    items = {x.item_id for x in subset.interactions}
    for item in full.items:
        if item.id in items:
            subset.add(item, full.origin(item))
    for user in full.users[:60]:
        subset.add(user, full.origin(user))
    for friendship in full.friendships:
        if {friendship.user_id, friendship.friend_id} <= users:
            subset.add(friendship, full.origin(friendship))
    stores = Stores.open(tmp_path / "data")
    ingest_dataset(subset, "lastfm", "lastfm subset", stores.database, stores.vectors, embedder)
    assert stores.vectors.count("lastfm", "activity") == len(subset.interactions)
    assert stores.database.count("lastfm", "friendships") == 2 * len(subset.friendships)
    stores.close()


def test_wrong_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="movies_with_mentions.csv not found"):
        load_redial(tmp_path)
    with pytest.raises(DataError, match="artists.dat: file not found"):
        load_lastfm(tmp_path)


def test_redial_knowledge_is_the_training_dialogues(redial_import) -> None:
    dataset = redial_import.dataset
    seekers = dataset.interactions
    assert len(seekers) > 2000 and all(x.visibility == "public" for x in seekers)
    assert {x.kind for x in seekers} == {"like", "rating", "view"}
    assert all(x.id.startswith("redial-") for x in seekers)
    # Held-out splits never leak in: no conversation of valid.jsonl or dev.jsonl is imported.
    held_out = set()
    for name in ("valid.jsonl", "dev.jsonl"):
        for line in (shared_data("redial") / name).read_text().splitlines():
            held_out.add(json.loads(line)["conversationId"])
    imported = {x.id.split("-")[1] for x in seekers} | {d.id for d in dataset.dialogues}
    assert not {str(c) for c in held_out} & imported
    assert all("mentions" not in item.attributes for item in dataset.items)


def test_read_source_reports_the_movielens_match_rate(tmp_path: Path) -> None:
    from retrieval.ingest import read_source

    stores = Stores.open(tmp_path / "data")
    dataset, summary = read_source([shared_data("redial")], "redial", stores, "redial", shared_data("movielens-latest-small"))
    assert len(dataset.items) == 6924
    assert summary.notes[0].startswith("MovieLens match rate: 43") and "(62." in summary.notes[0]
    with pytest.raises(DataError, match="takes exactly one folder"):
        read_source([tmp_path, tmp_path], "lastfm", stores, "lastfm")
    stores.close()


# --- malformed input: every problem named by file and line, never a traceback -------------------

CONVERSATION = {
    "conversationId": "1", "initiatorWorkerId": 10, "respondentWorkerId": 20,
    "movieMentions": {"5": "Alien (1979)"}, "initiatorQuestions": {"5": {"liked": 1, "seen": 1, "suggested": 0}},
    "messages": [{"senderWorkerId": 10, "text": "I loved @5"}, {"senderWorkerId": 20, "text": "Then try @6"}],
}


def redial_folder(tmp_path: Path, *train_lines: str) -> Path:
    folder = tmp_path / "redial"
    folder.mkdir()
    (folder / "movies_with_mentions.csv").write_text("movieId,movieName,nbMentions\n5,Alien (1979),3\n6,Aliens (1986),2\n")
    (folder / "train.jsonl").write_text("".join(line + "\n" for line in train_lines))
    return folder


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (json.dumps(CONVERSATION) + json.dumps({**CONVERSATION, "conversationId": "3"}), ":2: not valid JSON: Extra data"),
        ("conversationId: 2, messages: []", ":2: not valid JSON"),
        (json.dumps({key: value for key, value in CONVERSATION.items() if key != "messages"}),
         ":2: messages: required field is missing"),
    ],
    ids=["two-objects-on-one-line", "not-json", "no-messages"],
)
def test_malformed_redial_conversation_is_named_by_file_and_line(tmp_path: Path, bad_line: str, expected: str) -> None:
    folder = redial_folder(tmp_path, json.dumps(CONVERSATION), bad_line, json.dumps({**CONVERSATION, "conversationId": "4"}))
    with pytest.raises(DataError) as raised:
        load_redial(folder)
    [issue] = raised.value.issues
    assert (issue.path, issue.line) == (str(folder / "train.jsonl"), 2)
    assert f"  {folder / 'train.jsonl'}{expected}" in str(raised.value)


def test_redial_reports_every_bad_row_of_its_csv_files(tmp_path: Path) -> None:
    folder = redial_folder(tmp_path, json.dumps(CONVERSATION))
    (folder / "movies_with_mentions.csv").write_text("movieId,movieName,nbMentions\n5,Alien (1979),3\n6,Aliens (1986)\n7,,x\n")
    with pytest.raises(DataError) as raised:
        load_redial(folder)
    catalog = str(folder / "movies_with_mentions.csv")
    assert [(i.path, i.line, i.field) for i in raised.value.issues] == [
        (catalog, 3, None), (catalog, 4, "movieName"), (catalog, 4, "nbMentions"),
    ]
    (folder / "movies_with_mentions.csv").write_text("movieId,movieName,nbMentions\n5,Alien (1979),3\n")
    movielens = tmp_path / "movielens"
    movielens.mkdir()
    (movielens / "movies.csv").write_text("movieId,title,genres\n1,Alien (1979),Horror|Sci-Fi\nx,Heat (1995),Crime\n")
    (movielens / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.5,0\n2,1,great,0\n3,1\n")
    with pytest.raises(DataError) as raised:
        load_redial(folder, movielens)
    assert [(Path(i.path).name, i.line, i.field) for i in raised.value.issues] == [
        ("movies.csv", 3, "movieId"), ("ratings.csv", 3, "rating"), ("ratings.csv", 4, None),
    ]


def test_malformed_lastfm_rows_are_named_by_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "artists.dat").write_text("id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://x\thttp://y\n")
    (tmp_path / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13883\n3\t51\n4x\t51\t7\n5\t51\tlots\n")
    (tmp_path / "user_friends.dat").write_text("userID\tfriendID\n2\t3\n")
    with pytest.raises(DataError) as raised:
        load_lastfm(tmp_path)
    plays = str(tmp_path / "user_artists.dat")
    assert [(i.path, i.line, i.field) for i in raised.value.issues] == [(plays, 3, None), (plays, 4, "userID"), (plays, 5, "weight")]
    assert f"{plays}:3: row has 2 cells where the header has 3" in str(raised.value)


def test_benchmark_reads_redial_files_as_the_importer_does(tmp_path: Path) -> None:
    from evaluation.redial import load_turns

    folder = redial_folder(tmp_path, json.dumps(CONVERSATION), "{not json")
    with pytest.raises(DataError, match=f"{re.escape(str(folder / 'train.jsonl'))}:2: not valid JSON"):
        load_turns(folder / "train.jsonl", {"5": "Alien (1979)"})


def test_ingest_command_reports_a_malformed_redial_file_and_exits_2(tmp_path: Path) -> None:
    folder = redial_folder(tmp_path, json.dumps(CONVERSATION), json.dumps(CONVERSATION) + json.dumps(CONVERSATION))
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "data"), "ingest", "--format", "redial", str(folder), "--catalog", "redial"]
    )
    assert result.exit_code == 2, result.output
    assert f"{folder / 'train.jsonl'}:2: not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_eval_redial_command_reports_a_malformed_file_and_exits_2(tmp_path: Path, demo_template: Path) -> None:
    data_dir = copy_demo(demo_template, tmp_path / "data")
    folder = redial_folder(tmp_path, json.dumps(CONVERSATION))
    dev = folder / "dev.jsonl"
    dev.write_text(json.dumps(CONVERSATION) + "\n" + "[1, 2]\n")
    result = CliRunner().invoke(
        app, ["--data-dir", str(data_dir), "eval", "redial", "--catalog", "demo", "--data", str(dev), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2, result.output
    assert f"{dev}:2: expected a JSON object, got list" in result.stderr
    assert "Traceback" not in result.output
