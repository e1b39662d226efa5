"""Faults while serving, in process (FastAPI's test client): a Chroma server that is down gets
503 with Retry-After and the service recovers by itself once it is back; an LLM endpoint that
is down still gets a useful reply, written from the ranking and marked degraded; a data folder
that refuses writes gets 503 naming the cause, writes nothing, and reads keep working.
`bench/soak.py` measures the same against a real `kith serve`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.api import create_app
from bot.config import load_config
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset, read_source
from retrieval.store import Stores
from retrieval.vectors import StoreUnavailable
from tests.conftest import copy_demo, free_port, wait_until_up

KEY = "faults-key"
DEGRADED = "llm_unavailable"  # the reply was written without the LLM
AUTH = {"Authorization": f"Bearer {KEY}"}


def make_client(data_dir: Path, model_cache: Path, **config: Any) -> TestClient:
    settings = load_config(overrides={
        "data_dir": data_dir, "cache_dir": model_cache,
        "service": {"api_keys": [f"faults:{KEY}"], "rate_limit_per_minute": 10_000}, **config,
    })
    return TestClient(create_app(settings))


def events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    blocks = [dict(line.split(": ", 1) for line in block.splitlines()) for block in raw.strip().split("\n\n")]
    return [(block["event"], json.loads(block["data"])) for block in blocks]


class Chroma:
    """A real `chroma run` that the test stops and starts again on the same port and path."""

    def __init__(self, path: Path):
        executable = shutil.which("chroma", path=str(Path(sys.executable).parent))
        if executable is None:
            pytest.skip("the chroma command (from the chromadb package) is not installed")
        port = free_port()
        self.command = [executable, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)]
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_up(f"{self.url}/api/v2/heartbeat", self.process, None, 60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    @contextmanager
    def hung(self) -> Iterator[None]:
        """Stopped (SIGSTOP) inside the block: it accepts connections and never answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[Chroma]:
    server = Chroma(tmp_path / "chroma")
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)


def test_chroma_down_or_hung_is_503_with_retry_after_and_recovers(
    chroma: Chroma, tiny_data: Path, embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    stores = Stores.open(tmp_path / "data", chroma.url)
    dataset, _ = read_source([tiny_data], "kith", stores, "tiny")
    ingest_dataset(dataset, "tiny", "test", stores.database, stores.vectors, embedder)
    stores.close()
    # A server that accepts and never answers: opening gives up after the timeout.
    with chroma.hung(), pytest.raises(StoreUnavailable, match="timed out"):
        within(20, lambda: Stores.open(tmp_path / "data", chroma.url, chroma_timeout_s=1.0))
    with make_client(tmp_path / "data", model_cache, chroma_url=chroma.url, chroma_timeout_s=1.0,
                     catalog="tiny") as client:
        # No category named: the ranking asks Chroma's index, so each turn needs the server.
        ask = {"text": "something fun for the weekend please"}
        first = client.post("/v1/users/ann/messages", json=ask, headers=AUTH)
        assert first.status_code == 200, first.text
        session = {**ask, "session_id": first.json()["session_id"]}
        chroma.kill()
        for path in ("/v1/users/ann/messages", "/v1/users/ann/messages/stream"):
            down = client.post(path, json=session, headers=AUTH)
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"] == "5"
            error = down.json()["error"]
            assert error["code"] == "store_unavailable" and chroma.url.removeprefix("http://") in error["message"]
        assert client.get("/v1/users/ann/profile", headers=AUTH).status_code == 200  # SQLite alone
        chroma.start()  # same port and path: the service's cached collections reach it again
        back = client.post("/v1/users/ann/messages", json=session, headers=AUTH)
        assert back.status_code == 200, back.text
        transcript = client.get(f"/v1/users/ann/sessions/{session['session_id']}", headers=AUTH).json()["transcript"]
        assert len(transcript) == 4  # the two refused turns wrote nothing
        with chroma.hung():  # a turn gives up after the timeout instead of waiting for ever
            hung = within(20, lambda: client.post("/v1/users/ann/messages", json=session, headers=AUTH))
        assert hung.status_code == 503, hung.text
        assert "ReadTimeout" in hung.json()["error"]["message"]
        assert client.post("/v1/users/ann/messages", json=session, headers=AUTH).status_code == 200


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """call(), or a failure once it has run `seconds` (the thread is left to finish)."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(call).result(timeout=seconds)
    finally:
        pool.shutdown(wait=False)


def test_llm_endpoint_down_replies_from_the_ranking(demo_template: Path, model_cache: Path, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    with make_client(copy_demo(demo_template, tmp_path / "data"), model_cache, llm={"endpoint": closed}) as client:
        ask = {"text": "I loved Arrival, a thoughtful film please"}
        reply = client.post("/v1/users/u01/messages", json=ask, headers=AUTH)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["degraded"] == DEGRADED
        top, second = body["recommendations"][:2]
        # The picks and why, as the ranking gives them.
        assert f"Try {top['title']} — {top['reasons'][0]}." in body["text"]
        assert second["title"] in body["text"] and second["reasons"][0] in body["text"]
        with client.stream("POST", "/v1/users/u01/messages/stream", json=ask, headers=AUTH) as streamed:
            assert streamed.status_code == 200
            received = events("".join(streamed.iter_text()))
        kind, turn = received[-1]
        assert kind == "turn" and turn["degraded"] == DEGRADED
        assert "".join(data["text"] for kind, data in received if kind == "delta") == turn["text"]


def test_unwritable_data_folder_is_503_and_reads_still_work(
    demo_template: Path, model_cache: Path, tmp_path: Path
) -> None:
    data_dir = copy_demo(demo_template, tmp_path / "data")
    with make_client(data_dir, model_cache) as client:
        first = client.post("/v1/users/u02/messages", json={"text": "a film for family night"}, headers=AUTH)
        assert first.status_code == 200, first.text
        session = {"text": "something funnier", "session_id": first.json()["session_id"]}
        database = client.app.state.service.stores.database
        # A real refusal by SQLite, also as root (who ignores file modes): "attempt to write a
        # readonly database", as from a database file opened read-only.
        database.query("PRAGMA query_only = ON")
        refused = client.post("/v1/users/u02/messages", json=session, headers=AUTH)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
        error = refused.json()["error"]
        assert error["code"] == "storage_unavailable"
        assert f"the data folder {data_dir} is read-only" in error["message"]
        with client.stream("POST", "/v1/users/u02/messages/stream", json=session, headers=AUTH) as streamed:
            # The save comes last, after the reply streamed: the stream ends with the cause.
            kind, data = events("".join(streamed.iter_text()))[-1]
        assert kind == "error" and data["code"] == "storage_unavailable" and data["retry_after"] == 60
        profile = client.get("/v1/users/u02/profile", headers=AUTH)
        assert profile.status_code == 200
        put = client.put("/v1/users/u02/profile", json=profile.json()["profile"], headers=AUTH)
        assert put.status_code == 503 and put.json()["error"]["code"] == "storage_unavailable"
        transcript = client.get(f"/v1/users/u02/sessions/{session['session_id']}", headers=AUTH)
        assert transcript.status_code == 200 and len(transcript.json()["transcript"]) == 2  # nothing half-written
        database.query("PRAGMA query_only = OFF")
        assert client.post("/v1/users/u02/messages", json=session, headers=AUTH).status_code == 200
