from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from retrieval.embeddings import Embedder, shared_embedder  # noqa: E402
from retrieval.store import Stores  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(name: str) -> Path:
    """A real data set from ../shared/data, or skip: a user's fresh checkout has none."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real data {path} is absent")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_two_friends(folder: Path, items: list[dict], dialogue: dict, interactions: list[dict]) -> Path:
    """Kith files for two friends, ann and bob: `items`, one `dialogue` and their `interactions`."""
    folder.mkdir(parents=True)
    write_jsonl(folder / "items.jsonl", items)
    write_jsonl(folder / "users.jsonl", [{"id": "ann", "name": "Ann"}, {"id": "bob", "name": "Bob"}])
    write_jsonl(folder / "friendships.jsonl", [{"user_id": "ann", "friend_id": "bob"}])
    write_jsonl(folder / "dialogues.jsonl", [dialogue])
    write_jsonl(folder / "interactions.jsonl", interactions)
    return folder


ITEMS = [
    {"id": "alien", "title": "Alien (1979)", "category": "films", "tags": ["sci-fi", "horror", "scary"],
     "description": "A cargo crew in deep space answers a distress call and brings a deadly creature aboard.",
     "price": 4.99, "attributes": {"year": 1979}},
    {"id": "paddington", "title": "Paddington 2 (2017)", "category": "films", "tags": ["family", "feel-good"],
     "description": "A polite bear in London hunts for the perfect birthday present and foils a thief.",
     "price": 3.99, "attributes": {"year": 2017}},
    {"id": "tent", "title": "Ridgeline 2 Ultralight Tent", "category": "outdoor", "tags": ["backpacking", "ultralight"],
     "description": "A two-person, three-season backpacking tent that weighs barely a kilogram.", "price": 349.0},
]
USERS = [{"id": "ann", "name": "Ann"}, {"id": "bob", "name": "Bob"}, {"id": "cat", "name": "Cat"}]
FRIENDSHIPS = [{"user_id": "ann", "friend_id": "bob", "strength": 0.8}]
INTERACTIONS = [
    {"user_id": "ann", "item_id": "alien", "kind": "rating", "rating": 5, "text": "Still the scariest film in space.",
     "visibility": "public", "timestamp": "2026-01-02T10:00:00Z"},
    {"user_id": "bob", "item_id": "paddington", "kind": "review", "rating": 4, "text": "Pure joy.",
     "visibility": "friends"},
    {"user_id": "cat", "item_id": "tent", "kind": "purchase", "visibility": "private"},
]


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A small valid data folder in Kith's own formats."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    write_jsonl(folder / "items.jsonl", ITEMS)
    (folder / "users.csv").write_text("id,name\n" + "".join(f"{u['id']},{u['name']}\n" for u in USERS))
    write_jsonl(folder / "friendships.jsonl", FRIENDSHIPS)
    write_jsonl(folder / "interactions.jsonl", INTERACTIONS)
    write_jsonl(folder / "help_articles.jsonl", [
        {"id": "help-returns", "title": "Returns", "body": "Return unused gear within 30 days for a refund.",
         "tags": ["returns"]},
    ])
    return folder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return shared_embedder()


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    opened = Stores.open(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder for this test session; the default LLM is converted into it once."""
    return tmp_path_factory.mktemp("kith-cache")


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the ingested demo catalog, made once per test session: tests copy
    it (`copy_demo`) rather than embedding the demo data again."""
    from bot.kith import ensure_catalog

    folder = tmp_path_factory.mktemp("demo-template") / "data"
    stores = Stores.open(folder)
    ensure_catalog(stores, "demo")
    stores.close()
    return folder


def api_client(data_dir: Path, model_cache: Path, keys: list[str], **service: Any):  # -> TestClient
    """The HTTP API in process over `data_dir`, with these keys and no practical rate limit."""
    from fastapi.testclient import TestClient

    from bot.api import create_app
    from bot.config import load_config

    config = load_config(overrides={
        "data_dir": data_dir, "cache_dir": model_cache,
        "service": {"api_keys": keys, "rate_limit_per_minute": 10_000, **service},
    })
    return TestClient(create_app(config))


def copy_demo(template: Path, destination: Path) -> Path:
    shutil.copytree(template, destination)
    return destination


def wait_until_up(url: str, process: subprocess.Popen, log: Path | None, timeout_s: float) -> None:
    """Poll `url` until it answers 200; fail with the end of the process's log if the process
    ends first or `timeout_s` passes."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"{process.args[0]} did not start (waited for {url}):\n{output}")
        time.sleep(0.3)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("the chroma command (from the chromadb package) is not installed")
    port = free_port()
    server = subprocess.Popen(
        [executable, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path_factory.mktemp("chroma"))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/v2/heartbeat", server, None, 60)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
