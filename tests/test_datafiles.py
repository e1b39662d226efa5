"""Validation at the edge: every kind of bad row is reported with file, line and field, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.datafiles import DataError, kind_of_file, read_files
from tests.conftest import write_jsonl


def problems(paths: list[Path], **known) -> list[str]:
    with pytest.raises(DataError) as raised:
        read_files(paths, **known)
    return [str(issue) for issue in raised.value.issues]


def test_valid_folder_reads_every_kind(tiny_data: Path) -> None:
    dataset = read_files([tiny_data])
    assert dataset.counts() == {
        "items": 3, "users": 3, "friendships": 1, "interactions": 3, "help_articles": 1, "dialogues": 0,
    }
    assert dataset.users[0].name == "Ann"  # from CSV
    assert dataset.items[0].attributes == {"year": 1979}


def test_every_bad_item_row_is_reported_with_line_and_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "items.jsonl", [
        {"id": "ok", "title": "Fine", "category": "books"},
        {"id": "p", "title": "Negative price", "category": "books", "price": -1},
        {"id": "t", "category": "books"},
        {"id": "x", "title": "Typo", "category": "books", "titel": "?"},
        {"id": "ok", "title": "Same id again", "category": "books"},
        {"id": "q", "title": "Tags not a list", "category": "books", "tags": "sci-fi"},
    ])
    found = problems([path])
    assert f"{path}:2: price: Input should be greater than or equal to 0 (got -1)" in found
    assert f"{path}:3: title: required field is missing" in found
    assert any(p.startswith(f"{path}:4: titel: unknown field") for p in found)
    assert any(p.startswith(f"{path}:5: id: duplicate id 'ok' (first at {path}:1)") for p in found)
    assert any(p.startswith(f"{path}:6: tags:") for p in found)
    assert len(found) == 5


def test_bad_json_and_bad_utf8_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    path.write_bytes(b'{"id": "a", "name": "A"}\n{"id": "b", "name": \n[1, 2]\n{"id": "c", "name": "\xff"}\n')
    found = problems([path])
    assert any(p.startswith(f"{path}:2: not valid JSON") for p in found)
    assert f"{path}:3: expected a JSON object, got list" in found
    assert any(p.startswith(f"{path}:4: not valid UTF-8") for p in found)


def test_interaction_rules(tmp_path: Path, tiny_data: Path) -> None:
    path = write_jsonl(tmp_path / "interactions.jsonl", [
        {"user_id": "ann", "item_id": "alien", "kind": "rating"},
        {"user_id": "ann", "item_id": "alien", "kind": "review", "text": "  "},
        {"user_id": "ann", "item_id": "alien", "kind": "watch"},
        {"user_id": "ann", "item_id": "alien", "kind": "like", "visibility": "everyone"},
        {"user_id": "ann", "item_id": "alien", "kind": "rating", "rating": 7},
        {"user_id": "zed", "item_id": "nothing", "kind": "like"},
        {"user_id": "ann", "item_id": "alien", "kind": "like", "timestamp": "yesterday"},
    ])
    found = problems([path], known_users={"ann"}, known_items={"alien"})
    assert any(p.startswith(f"{path}:1: kind 'rating' needs a rating") for p in found)
    assert any(p.startswith(f"{path}:2: kind 'review' needs a non-empty text") for p in found)
    assert any(p.startswith(f"{path}:3: kind: Input should be 'view', 'like'") for p in found)
    assert any(p.startswith(f"{path}:4: visibility: Input should be 'public', 'friends' or 'private'") for p in found)
    assert any(p.startswith(f"{path}:5: rating: Input should be less than or equal to 5") for p in found)
    assert f"{path}:6: user_id: unknown user 'zed'" in found
    assert f"{path}:6: item_id: unknown item 'nothing'" in found
    assert any(p.startswith(f"{path}:7: timestamp:") for p in found)


def test_friendship_rules(tmp_path: Path) -> None:
    path = tmp_path / "friendships.csv"
    path.write_text("user_id,friend_id,strength\nann,ann,1\nann,bob,2\nann,ghost,0.5\n")
    found = problems([path], known_users={"ann", "bob"})
    assert any(p.startswith(f"{path}:2: a user cannot be their own friend") for p in found)
    assert any(p.startswith(f"{path}:3: strength: Input should be less than or equal to 1") for p in found)
    assert f"{path}:4: friend_id: unknown user 'ghost'" in found


def test_csv_problems(tmp_path: Path) -> None:
    unknown_column = tmp_path / "items.csv"
    unknown_column.write_text("id,title,category,colour\n1,A,books,red\n")
    bad_cells = tmp_path / "items-more.csv"
    bad_cells.write_text('id,title,category,attributes\n2,B,books,{not json}\n3,C,books,"{}",extra\n')
    dialogues = tmp_path / "dialogues.csv"
    dialogues.write_text("id,turns\nd1,hello\n")
    found = problems([unknown_column, bad_cells, dialogues])
    assert any(p.startswith(f"{unknown_column}:1: colour: unknown column") for p in found)
    assert any(p.startswith(f"{bad_cells}:2: attributes: not a JSON object") for p in found)
    assert any(p.startswith(f"{bad_cells}:3: row has more cells than the header") for p in found)
    assert any(p.startswith(f"{dialogues}: dialogues have nested turns") for p in found)


def test_csv_lists_and_objects(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text('id,title,category,tags,price,attributes\n1,Dune,Books,sci-fi|Epic,9.5,"{""year"": 1965}"\n')
    item = read_files([path]).items[0]
    assert (item.category, item.tags, item.price, item.attributes) == ("books", ["sci-fi", "epic"], 9.5, {"year": 1965})


def test_dialogue_rules(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "dialogues.jsonl", [
        {"id": "d1", "turns": [{"role": "assistant", "text": "Hi!"}]},
        {"id": "d2", "turns": [{"role": "user", "text": "I loved it", "mentions": [{"item_id": "nope", "sentiment": "like"}]}]},
        {"id": "d3", "turns": [{"role": "robot", "text": "beep"}]},
    ])
    found = problems([path])
    assert any(p.startswith(f"{path}:1: turns: a dialogue needs at least one user turn") for p in found)
    assert f"{path}:2: turns.0.mentions.0.item_id: unknown item 'nope'" in found
    assert any(p.startswith(f"{path}:3: turns.0.role:") for p in found)


def test_problems_of_several_files_come_together(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "items.jsonl", [{"id": "a", "title": "", "category": "books"}])
    write_jsonl(tmp_path / "users.jsonl", [{"id": "u"}])
    (tmp_path / "notes.jsonl").write_text("{}\n")
    found = problems([tmp_path, tmp_path / "missing.csv"])
    assert any(p.startswith(f"{tmp_path / 'items.jsonl'}:1: title:") for p in found)
    assert f"{tmp_path / 'users.jsonl'}:1: name: required field is missing" in found
    assert any(p.startswith(f"{tmp_path / 'notes.jsonl'}: cannot tell what this file holds") for p in found)
    assert f"{tmp_path / 'missing.csv'}: no such file or folder" in found


def test_file_kinds_come_from_names() -> None:
    assert kind_of_file(Path("items-books.jsonl")) == "items"
    assert kind_of_file(Path("Help-Articles.csv")) == "help_articles"
    assert kind_of_file(Path("interactions_2024.csv")) == "interactions"
    assert kind_of_file(Path("itemsets.jsonl")) is None
    assert kind_of_file(Path("items.json")) is None


def test_interactions_without_id_get_a_stable_one(tiny_data: Path) -> None:
    first = read_files([tiny_data]).interactions
    second = read_files([tiny_data]).interactions
    assert [x.key for x in first] == [x.key for x in second]
    assert len({x.key for x in first}) == len(first)
