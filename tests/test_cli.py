"""The `kith` command line: ingest and items, as a person would type them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import _given, app
from bot.config import CATALOG_RANKING, load_config
from retrieval.database import Database
from retrieval.embeddings import shared_embedder
from retrieval.graph import graph_folder
from retrieval.ranking import Ranker, RankingWeights
from retrieval.store import Stores
from tests.conftest import copy_demo, write_jsonl

runner = CliRunner()


def kith(data_dir: Path, *args: str):
    return runner.invoke(app, ["--data-dir", str(data_dir), *args], catch_exceptions=False)


def test_ingest_then_search(tmp_path: Path, tiny_data: Path) -> None:
    result = kith(tmp_path / "data", "ingest", str(tiny_data), "--catalog", "shop", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "catalog 'shop': 3 items, 3 users, 1 friendships, 3 interactions, 1 help articles" in result.stdout
    result = kith(tmp_path / "data", "items", "--catalog", "shop", "--query", "ultralight backpacking shelter", "--limit", "1")
    assert result.exit_code == 0
    assert "Ridgeline 2 Ultralight Tent" in result.stdout


def test_bad_input_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    write_jsonl(folder / "items.jsonl", [{"id": "a", "category": "books"}, {"id": "b", "title": "B", "category": "books", "price": "cheap"}])
    write_jsonl(folder / "users.jsonl", [{"id": "u", "name": ""}])
    result = kith(tmp_path / "data", "ingest", str(folder), "--catalog", "shop", "--no-progress")
    assert result.exit_code == 2
    assert "3 problem(s) in the input; nothing was written." in result.stderr
    assert f"{folder / 'items.jsonl'}:1: title: required field is missing" in result.stderr
    assert f"{folder / 'items.jsonl'}:2: price:" in result.stderr
    assert f"{folder / 'users.jsonl'}:1: name:" in result.stderr
    database = Database(tmp_path / "data" / "kith.db")
    assert database.catalogs() == [] and database.count("shop", "items") == 0


def test_usage_errors_say_what_to_do(tmp_path: Path, tiny_data: Path) -> None:
    assert "--catalog NAME is required" in kith(tmp_path, "ingest", str(tiny_data)).stderr
    assert "catalog name 'Bad Name!' is not allowed" in kith(tmp_path, "ingest", str(tiny_data), "--catalog", "Bad Name!").stderr
    assert "give files or folders to ingest, or --demo" in kith(tmp_path, "ingest").stderr
    assert "--movielens only applies to --format redial" in kith(
        tmp_path, "ingest", str(tiny_data), "--catalog", "x1", "--movielens", str(tmp_path)
    ).stderr
    missing = kith(tmp_path, "items", "--catalog", "nothing")
    assert missing.exit_code == 2 and "no catalog 'nothing'" in missing.stderr
    bad_config = runner.invoke(app, ["items"], env={"KITH_LLM__PRECISION": "int3"})
    assert bad_config.exit_code == 2 and "llm.precision" in bad_config.stderr


def test_chat_in_the_terminal(tmp_path: Path, demo_template: Path) -> None:
    result = runner.invoke(
        app,
        ["--data-dir", str(copy_demo(demo_template, tmp_path / "data")), "chat", "--user", "u09"],
        input="a cozy mystery book please\n\n",
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    # The reply names its picks, each in a sentence led by its title and a dash ("Try X —").
    assert re.search(r"kith> .+ — ", result.stdout)
    assert "[profile]" in result.stdout and "looking for: books" in result.stdout
    assert "continue with --session" in result.stdout


def test_the_cli_opens_kith_with_only_the_settings_given(tmp_path: Path) -> None:
    # Handing Kith.open every setting, defaults included, made each ranking weight "set", and a
    # set weight beats a catalog's shipped weights: `kith eval redial` ranked with the defaults.
    config = load_config(None, {"data_dir": tmp_path, "cache_dir": None}, environ={"KITH_RANKING__SOCIAL": "0"})
    given = _given(config)
    assert given["ranking"] == {"social": 0.0} and "llm" not in given
    opened = load_config(overrides={**given, "catalog": "lastfm"}, environ={})
    assert opened.ranking_for("lastfm") == CATALOG_RANKING["lastfm"].model_copy(update={"social": 0.0})


def test_train_graph_saves_a_self_describing_model_the_ranker_reads(tmp_path: Path, tiny_data: Path) -> None:
    assert kith(tmp_path / "data", "ingest", str(tiny_data), "--catalog", "shop", "--no-progress").exit_code == 0
    result = kith(tmp_path / "data", "train-graph", "--catalog", "shop", "--epochs", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    # Only Ann's public rating is learnt from: Bob's friends-only review and Cat's private purchase are not.
    assert "2 people, 1 items, 1 liked pairs, 1 friendships as edges" in result.stdout
    info = json.loads((graph_folder(tmp_path / "data", "shop") / "graph.json").read_text())
    assert info["data"]["catalog"] == "shop" and info["parameters"]["epochs"] == 2 and info["parameters"]["friends"]
    stores = Stores.open(tmp_path / "data")
    ranker = Ranker("shop", stores.database, stores.vectors, shared_embedder(), RankingWeights(graph=1.0),
                    graph_folder(tmp_path / "data", "shop"))
    assert ranker.graph is not None and ranker.graph.user_ids == ["ann", "bob"]
    stores.close()
    missing = kith(tmp_path / "data", "train-graph", "--catalog", "nowhere")
    assert missing.exit_code == 2 and "no catalog 'nowhere'" in missing.stderr
