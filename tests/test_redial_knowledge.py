"""ReDial conversations as knowledge: `kith ingest --format redial --dialogues FILE...` learns from
further files, and `kith eval redial` refuses a file the catalog learnt from, whatever its name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from retrieval.database import Database
from retrieval.datafiles import DataError
from retrieval.redial import learnt_conversations, load_redial, read_conversations
from tests.conftest import write_jsonl

MOVIES = "movieId,movieName,nbMentions\n1,Alien (1979),3\n2,Aliens (1986),2\n3,Heat (1995),2\n4,Up (2009),1\n"


def conversation(number: int, seeker: int, messages: list[tuple[int, str]], liked: dict[str, int]) -> dict:
    return {
        "conversationId": str(number), "initiatorWorkerId": seeker, "respondentWorkerId": 99,
        "movieMentions": {}, "initiatorQuestions": {m: {"liked": v, "suggested": 0, "seen": 1} for m, v in liked.items()},
        "messages": [{"senderWorkerId": sender, "text": text} for sender, text in messages],
    }


TRAIN = [
    conversation(1, 10, [(10, "I love @1"), (99, "then @2 for sure")], {"1": 1, "2": 1}),
    conversation(2, 11, [(11, "@3 was great"), (99, "try @2")], {"3": 1}),
]
OURS = [conversation(501, 12, [(12, "I loved @4, anything like it?"), (99, "@1 maybe")], {"4": 1, "1": 0})]
DEV = [conversation(20001, 13, [(13, "I loved @1, what else?"), (99, "@2 and @3")], {"1": 1})]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "redial"
    folder.mkdir()
    (folder / "movies_with_mentions.csv").write_text(MOVIES)
    write_jsonl(folder / "train.jsonl", TRAIN)
    write_jsonl(folder / "dev.jsonl", DEV)
    write_jsonl(tmp_path / "ours.jsonl", OURS)
    return folder


def ingest(data_dir: Path, folder: Path, *extra: str, catalog: str = "redial"):
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), "ingest", "--format", "redial", str(folder),
                                    "--catalog", catalog, "--no-progress", *extra])


def evaluate(data_dir: Path, data: Path, out: Path, catalog: str = "redial"):
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), "eval", "redial", "--catalog", catalog,
                                    "--data", str(data), "--out", str(out)])


def test_dialogues_option_learns_from_the_files_named_in_place_of_train(folder: Path) -> None:
    ours = folder.parent / "ours.jsonl"
    default = load_redial(folder)
    assert [d.id for d in default.dataset.dialogues] == ["1", "2"] and default.dialogue_files == (folder / "train.jsonl",)
    both = load_redial(folder, dialogues=[folder / "train.jsonl", ours, ours]).dataset  # a file named twice is read once
    assert [d.id for d in both.dialogues] == ["1", "2", "501"]
    # The extra file's seeker and their labels come in as people and public interactions, as train's do.
    assert {u.id for u in both.users} == {"10", "11", "12"}
    assert {(x.id, x.kind, x.visibility) for x in both.interactions if x.user_id == "12"} == {
        ("redial-501-4", "like", "public"), ("redial-501-1", "rating", "public"),
    }
    alone = load_redial(folder, dialogues=[ours]).dataset
    assert [d.id for d in alone.dialogues] == ["501"]


def test_every_dialogue_file_is_validated_and_a_bad_one_writes_nothing(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(OURS[0]) + "\n" + json.dumps({"conversationId": "7", "messages": []}) + "\n")
    with pytest.raises(DataError) as raised:
        load_redial(folder, dialogues=[folder / "train.jsonl", bad, tmp_path / "missing.jsonl"])
    problems = [str(issue) for issue in raised.value.issues]
    assert f"{bad}:2: initiatorWorkerId: required field is missing (is this a ReDial conversation?)" in problems
    assert any(p.startswith(f"{tmp_path / 'missing.jsonl'}: cannot read file") for p in problems)
    # A conversation in two files is one conversation twice: named by both places.
    copy = shutil.copy(folder / "train.jsonl", tmp_path / "copy.jsonl")
    with pytest.raises(DataError) as raised:
        load_redial(folder, dialogues=[folder / "train.jsonl", copy])
    assert f"{copy}:1: id: duplicate id '1' (first at {folder / 'train.jsonl'}:1)" in [str(i) for i in raised.value.issues]

    data_dir = tmp_path / "data"
    result = ingest(data_dir, folder, "--dialogues", str(folder / "train.jsonl"), "--dialogues", str(bad))
    assert result.exit_code == 2, result.output
    assert f"{bad}:2: initiatorWorkerId: required field is missing" in result.stderr
    database = Database(data_dir / "kith.db")
    assert not database.has_catalog("redial")
    database.close()
    other = ingest(data_dir, folder, "--format", "kith", "--dialogues", str(bad))
    assert other.exit_code == 2 and "--dialogues only applies to --format redial" in other.stderr


def test_importing_the_same_files_again_updates_by_id(folder: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    extra = ["--dialogues", str(folder / "train.jsonl"), "--dialogues", str(folder.parent / "ours.jsonl")]
    first = ingest(data_dir, folder, *extra)
    assert first.exit_code == 0, first.output
    assert f"knowledge: the conversations of {folder / 'train.jsonl'}, {folder.parent / 'ours.jsonl'}" in first.output
    assert ingest(data_dir, folder, *extra).exit_code == 0
    database = Database(data_dir / "kith.db")
    assert database.counts("redial") == {
        "items": 4, "users": 3, "friendships": 0, "interactions": 5, "help_articles": 0, "dialogues": 3,
    }
    database.close()


def test_eval_refuses_a_file_the_catalog_learnt_from_even_renamed(folder: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert ingest(data_dir, folder).exit_code == 0
    renamed = tmp_path / "elsewhere" / "held-out.jsonl"
    renamed.parent.mkdir()
    shutil.copy(folder / "train.jsonl", renamed)
    for path in (folder / "train.jsonl", renamed):
        result = evaluate(data_dir, path, tmp_path / "out")
        assert result.exit_code == 2, result.output
        assert (f"{path}: the catalog 'redial' learnt from 2 of the 2 conversations in this file (imported as "
                "knowledge, e.g. conversation 1)") in result.stderr
        assert "evaluate on a held-out file such as dev.jsonl, or import the ReDial folder again without this file" \
            in result.stderr
        assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    # A file that is partly knowledge is refused too, counting only what was learnt.
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [DEV[0], TRAIN[1]])
    result = evaluate(data_dir, mixed, tmp_path / "out")
    assert result.exit_code == 2 and "learnt from 1 of the 2 conversations in this file" in result.stderr


def test_eval_refuses_a_held_out_file_once_it_is_imported_as_knowledge(folder: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert ingest(data_dir, folder, "--dialogues", str(folder / "train.jsonl"), "--dialogues", str(folder / "dev.jsonl"),
                  catalog="everything").exit_code == 0
    result = evaluate(data_dir, folder / "dev.jsonl", tmp_path / "out", catalog="everything")
    assert result.exit_code == 2 and "the catalog 'everything' learnt from 1 of the 1 conversations" in result.stderr


def test_eval_accepts_a_held_out_file_and_fits_the_baselines_on_the_catalogs_dialogues(folder: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert ingest(data_dir, folder, "--dialogues", str(folder / "train.jsonl"),
                  "--dialogues", str(folder.parent / "ours.jsonl")).exit_code == 0
    # Held out, and away from the ReDial folder: the baselines learn from the catalog, not from a train.jsonl beside it.
    held_out = tmp_path / "elsewhere" / "dev.jsonl"
    held_out.parent.mkdir()
    shutil.copy(folder / "dev.jsonl", held_out)
    result = evaluate(data_dir, held_out, tmp_path / "out")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    # Target movies 2 and 3 (1 is named in the dialogue). Popularity over the three conversations
    # the catalog learnt from: 1 and 2 twice (1 is skipped), then 3 and 4 once: [2, 3, 4].
    popularity = report["recommendation"]["repeats_removed"]["popularity (training mentions)"]
    assert (popularity["samples"], popularity["recall@1"], popularity["recall@10"]) == (2, 0.5, 1.0)


def test_learnt_conversations_match_id_and_seeker(folder: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert ingest(data_dir, folder).exit_code == 0
    database = Database(data_dir / "kith.db")
    issues: list = []
    train = [c for _, c in read_conversations(folder / "train.jsonl", issues)]
    assert learnt_conversations(database, "redial", train) == ["1", "2"]
    # The same id from another seeker is another conversation (a deployment's own numbering).
    assert learnt_conversations(database, "redial", [{**train[0], "initiatorWorkerId": 77}]) == []
    assert learnt_conversations(database, "other", train) == []
    database.close()
