"""Concurrency: turns of one person at once lose no profile update, rankings during a refresh
read one consistent state, an ingest stalls no chat, a client that stops reading a streamed
reply blocks no one else, and a turn reads a bounded window of a long session.

Each test forces the interleaving it is about with events and barriers (not sleeps); a time
bound appears only as a generous upper limit on something that should take a fraction of it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import Kith, Turn
from bot.kith import HISTORY_WINDOW
from bot.profile import Profile
from bot.runtimes.base import Message, SerialRuntime
from bot.runtimes.factory import Runtimes
from bot.sessions import SessionStore, TurnRecord
from retrieval.database import Database
from retrieval.datafiles import Dataset
from retrieval.embeddings import Embedder
from retrieval.ingest import ingest_dataset
from retrieval.ranking import Ranker, RankingWeights, RankRequest, Recommendation
from retrieval.schemas import Item
from retrieval.store import Stores
from tests.conftest import copy_demo

# Demo films the rule reader finds in "I loved <title>", one each.
LOVED = ("Blade Runner", "The Matrix", "Interstellar", "Star Wars", "Back to the Future", "The Princess Bride",
         "Knives Out", "Groundhog Day")


class FakeLLM:
    """Writes the same sentence every time; with `barrier`, each reply waits there first, so
    that every turn has read its profile before any turn saves."""

    description = "fake"

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        self.barrier = barrier

    def stream(self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "",
               stop: Sequence[str] = ()) -> Iterator[str]:
        if self.barrier is not None:
            self.barrier.wait()
        yield " a fine pick."

    def generate(self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "",
                 stop: Sequence[str] = ()) -> str:
        return "".join(self.stream(messages, max_new_tokens, prefix, stop)).strip()

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        return 0.0

    def prepare(self, messages: Sequence[Message]) -> None:
        pass


@pytest.fixture(scope="module")
def data_dir(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_template, tmp_path_factory.mktemp("concurrency") / "data")


@pytest.fixture(scope="module")
def kith(data_dir: Path, model_cache: Path) -> Iterator[Kith]:
    opened = Kith.open(data_dir, "demo", cache_dir=model_cache)
    yield opened
    opened.close()


def with_llm(kith: Kith, llm: FakeLLM, stores: Stores | None = None) -> Kith:
    return Kith(kith.config, stores or kith.stores, Runtimes.of(llm))  # type: ignore[arg-type]


# --- 1. profile updates ------------------------------------------------------------------------


def test_concurrent_turns_of_one_person_lose_no_profile_update(kith: Kith, data_dir: Path) -> None:
    """Eight messages of one session at once, each liking another film, half of them through a
    second connection to the database (as another `kith serve` worker would): every message and
    its reply are stored in order, and every film ends up liked."""
    messages = [f"I loved {title}" for title in LOVED]
    films = []
    for message in messages:
        likes = kith.read_profile([{"role": "user", "text": message}]).likes
        assert len(likes) == 1, message
        films.append(likes[0])
    # The barrier holds every reply until all eight turns have read the profile, the race that
    # lost updates: each turn then saves a profile computed from the same stored one.
    llm = FakeLLM(threading.Barrier(len(messages), timeout=60))
    other_stores = Stores.open(data_dir)
    bots = [with_llm(kith, llm), with_llm(kith, llm, other_stores)]
    user = "two-tabs"
    first = bots[0].reply(user, "recommend something")
    assert first.asked_clarifying  # answered without the LLM, so the barrier counts only the eight

    turns: dict[str, Turn] = {}
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            turns[messages[n]] = bots[n % 2].reply(user, messages[n], session_id=first.session_id)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(messages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    other_stores.close()
    assert not errors and len(turns) == len(messages)

    assert set(films) <= set(kith.profile(user).likes)
    # The turn saved last carries the merged profile: every film.
    assert any(set(films) <= set(turn.profile.likes) for turn in turns.values())
    rows = kith.stores.database.query(
        "SELECT position, role, text FROM messages WHERE session_id = ? ORDER BY position", (first.session_id,)
    )
    assert [row["position"] for row in rows] == list(range(2 + 2 * len(messages)))
    assert [row["role"] for row in rows] == ["user", "assistant"] * (1 + len(messages))
    assert rows[0]["text"] == "recommend something" and rows[1]["text"] == first.text
    pairs = {rows[n]["text"]: rows[n + 1]["text"] for n in range(2, len(rows), 2)}
    assert pairs == {message: turn.text for message, turn in turns.items()}


# --- 2. ranking during a refresh ---------------------------------------------------------------

SPACE_FILMS = [
    Item(id="voyage", title="Star Voyage", category="films", tags=["sci-fi", "space"],
         description="A starship crew explores deep space and meets an alien intelligence."),
    Item(id="voyage-2", title="Star Voyage II", category="films", tags=["sci-fi", "space"],
         description="The starship crew returns to deep space to save an alien world."),
    Item(id="orbit", title="Low Orbit", category="films", tags=["sci-fi", "space"],
         description="Astronauts stranded in orbit fight to get their space station home."),
    Item(id="nebula", title="The Nebula", category="films", tags=["sci-fi", "space"],
         description="A deep space expedition into a nebula finds a derelict alien starship."),
    Item(id="garden", title="Grandmother's Garden", category="films", tags=["drama"],
         description="Three sisters restore their late grandmother's garden over one summer."),
]


def signature(recommendations: list[Recommendation]) -> tuple[tuple[str, tuple[str, ...], float], ...]:
    return tuple((r.item_id, tuple(r.reasons), round(r.score, 5)) for r in recommendations)


def test_rankings_during_a_refresh_read_one_state(stores: Stores, embedder: Embedder,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Rankings run in several threads while another thread refreshes the ranker again and
    again, the catalog losing and regaining a film between refreshes; some rankings are forced
    into the middle of a refresh (after the new statistics are read, before their vectors are).
    None fails, and each ranks as the catalog stood before a refresh or after it."""
    ingest_dataset(Dataset(items=list(SPACE_FILMS)), "space", "tests", stores.database, stores.vectors, embedder)
    ranker = Ranker("space", stores.database, stores.vectors, embedder, RankingWeights())
    request = RankRequest(query="a film set in deep space", likes=["voyage"])

    def remove_voyage() -> None:
        with stores.database.transaction() as connection:
            connection.execute("DELETE FROM items WHERE catalog = 'space' AND id = 'voyage'")

    def restore_voyage() -> None:
        with stores.database.transaction() as connection:
            stores.database.write_dataset(connection, "space", "tests", Dataset(items=[SPACE_FILMS[0]]))

    with_voyage = signature(ranker.rank(request, 3).recommendations)
    remove_voyage()
    ranker.refresh()
    without_voyage = signature(ranker.rank(request, 3).recommendations)
    restore_voyage()
    ranker.refresh()
    assert with_voyage != without_voyage and signature(ranker.rank(request, 3).recommendations) == with_voyage
    # Its picks cite the liked film, which a ranking must then find among the catalog's items.
    assert any("because you liked Star Voyage" in reasons for _, reasons, _ in with_voyage)

    refresher_name = "test-refresher"
    mid_refresh: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []  # (expected, got)
    expected = [with_voyage]  # the state the ranker published last
    read_vectors = stores.vectors.embeddings

    def embeddings_mid_refresh(catalog: str, kind: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        found = read_vectors(catalog, kind, ids)  # type: ignore[arg-type]
        if kind == "items" and threading.current_thread().name == refresher_name:
            # The refresh has read the new statistics and is reading their vectors: rank now.
            with ThreadPoolExecutor(2) as pool:
                for got in pool.map(lambda _: signature(ranker.rank(request, 3).recommendations), range(2)):
                    mid_refresh.append((expected[0], got))
        return found

    monkeypatch.setattr(stores.vectors, "embeddings", embeddings_mid_refresh)
    errors: list[BaseException] = []
    results: list[tuple[Any, ...]] = []
    done = threading.Event()

    def refresh_repeatedly() -> None:
        try:
            for round_ in range(6):
                (remove_voyage if round_ % 2 == 0 else restore_voyage)()
                ranker.refresh()
                expected[0] = without_voyage if round_ % 2 == 0 else with_voyage
        except BaseException as error:
            errors.append(error)
        finally:
            done.set()

    def rank_repeatedly() -> None:
        try:
            while not done.is_set():
                results.append(signature(ranker.rank(request, 3).recommendations))
        except BaseException as error:
            errors.append(error)
            done.set()

    threads = [threading.Thread(target=rank_repeatedly) for _ in range(3)]
    threads.append(threading.Thread(target=refresh_repeatedly, name=refresher_name))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(mid_refresh) == 12 and all(got == wanted for wanted, got in mid_refresh)
    assert results and set(results) <= {with_voyage, without_voyage}


# --- 3. ingest and chat ------------------------------------------------------------------------


class InstantEmbedder:
    """Unit vectors at once: the test is about writing 5,000 items, not about embedding them."""

    dimension = 384

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        vectors = np.random.default_rng(len(texts)).standard_normal((len(texts), self.dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_turn_completes_while_a_large_ingest_writes(kith: Kith, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5,000-item ingest into the same data folder, through the same database connection: a
    turn that starts once the ingest is writing to Chroma finishes while the ingest is still
    there (before its last write to Chroma, it waits for the turn to end, for 20 s at most),
    and the ingest then completes."""
    dataset = Dataset(items=[
        Item(id=f"bulk-{n:04d}", title=f"Bulk film {n}", category="films", tags=["bulk"],
             description=f"Synthetic film number {n}.")
        for n in range(5000)
    ])
    writing, turn_ended = threading.Event(), threading.Event()
    upsert = kith.stores.vectors.upsert

    def upsert_then_wait(catalog: str, kind: str, ids: Sequence[str], *args: Any, **kwargs: Any) -> None:
        writing.set()
        if kind == "items" and ids[-1] == dataset.items[-1].id:
            turn_ended.wait(timeout=20)
        upsert(catalog, kind, ids, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kith.stores.vectors, "upsert", upsert_then_wait)
    failures: list[BaseException] = []

    def ingest() -> None:
        try:
            ingest_dataset(dataset, "bulk", "tests", kith.stores.database, kith.stores.vectors,
                           InstantEmbedder())  # type: ignore[arg-type]
        except BaseException as error:
            failures.append(error)

    bot = with_llm(kith, FakeLLM())
    ingesting = threading.Thread(target=ingest)
    ingesting.start()
    assert writing.wait(timeout=60)
    started = time.perf_counter()
    try:
        turn = bot.reply("while-ingesting", "a thoughtful sci-fi film please")
        took = time.perf_counter() - started
    finally:
        turn_ended.set()
        ingesting.join(timeout=120)
    assert turn.recommendations and took < 5, f"the turn took {took:.1f} s"
    assert not failures and kith.stores.database.count("bulk", "items") == 5000


# --- 4. a stalled streaming client -------------------------------------------------------------


class CountingRuntime:
    """Yields numbered pieces; counts how many it has produced."""

    description = "counting"

    def __init__(self, pieces: int) -> None:
        self.pieces = pieces
        self.produced = 0

    def stream(self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "",
               stop: Sequence[str] = ()) -> Iterator[str]:
        for n in range(self.pieces):
            self.produced += 1
            yield f" {n}"

    def generate(self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "",
                 stop: Sequence[str] = ()) -> str:
        return "".join(self.stream(messages))

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        return 0.0

    def prepare(self, messages: Sequence[Message]) -> None:
        pass


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "kith-llm-stream"]


def test_a_stream_read_no_further_holds_the_llm_only_while_it_generates() -> None:
    serial = SerialRuntime(CountingRuntime(50))  # type: ignore[arg-type]
    stalled = serial.stream([{"role": "user", "content": "hi"}])
    assert next(stalled) == " 0"
    # The reader stops here; the generation still ends, and with it the hold on the LLM.
    assert serial._lock.acquire(timeout=10)
    serial._lock.release()
    assert serial.generate([{"role": "user", "content": "again"}]).startswith(" 0 1")
    assert "".join(stalled) == "".join(f" {n}" for n in range(1, 50))  # the rest, once read again


def test_an_abandoned_stream_releases_the_llm_and_its_thread() -> None:
    runtime = CountingRuntime(10_000_000)  # never ends on its own within the test
    serial = SerialRuntime(runtime)  # type: ignore[arg-type]
    abandoned = serial.stream([{"role": "user", "content": "hi"}])
    assert next(abandoned) == " 0"
    abandoned.close()
    assert serial._lock.acquire(timeout=10)
    serial._lock.release()
    for thread in stream_threads():
        thread.join(timeout=10)
    assert not stream_threads() and runtime.produced < 10_000_000


def test_a_client_that_stops_reading_a_reply_blocks_no_other_turn(kith: Kith) -> None:
    """One person's streamed reply is read as far as the LLM's first piece and then no further
    (a stalled server-sent-events client); another person's turn, with the same LLM, completes."""
    stalled = kith.stream("u01", "I loved Arrival. A thoughtful sci-fi film please")
    head = next(stalled)  # the tone's opener
    # The first sentence, once the LLM wrote it and it passed the faithfulness check: the reply
    # is under way, the rest unread.
    head += next(stalled)
    assert "Try " in head
    finished: list[Turn] = []
    other = threading.Thread(target=lambda: finished.append(kith.reply("u02", "a fun family film for movie night")))
    other.start()
    other.join(timeout=60)
    try:
        assert finished and finished[0].recommendations, "the other turn waited for the stalled reader"
    finally:
        pieces = list(stalled)  # the stalled reader resumes: its reply is whole
        other.join()
    assert isinstance(pieces[-1], Turn) and pieces[-1].text.startswith(head)


# --- 5. long sessions --------------------------------------------------------------------------


def test_a_turn_reads_only_the_latest_messages_of_a_long_session(kith: Kith, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session of 2,000 stored messages: the turn reads the last HISTORY_WINDOW of them (a film
    named only in message 5 no longer counts as seen; one named in the window does), never the
    whole session, and is stored at positions 2000 and 2001."""
    bot = with_llm(kith, FakeLLM())
    user, session_id, now = "long-talker", "long-session", "2026-01-01T00:00:00.000+00:00"
    texts = ["tell me more"] * 2000
    texts[4] = "what about Jaws?"  # message 5
    texts[2000 - HISTORY_WINDOW] = "what about Psycho?"  # the window's first message
    with kith.stores.database.transaction() as connection:
        connection.execute(
            "INSERT INTO sessions (id, catalog, user_id, app, created_at, updated_at) VALUES (?, 'demo', ?, '', ?, ?)",
            (session_id, user, now, now),
        )
        connection.executemany(
            "INSERT INTO messages (session_id, position, role, text, record, created_at) VALUES (?, ?, ?, ?, '{}', ?)",
            [(session_id, n, "user" if n % 2 == 0 else "assistant", text, now) for n, text in enumerate(texts)],
        )
    jaws, psycho = (next(iter(bot.finder.find(f"I loved {title}"))).item_id for title in ("Jaws", "Psycho"))
    asked: list[RankRequest] = []
    rank = bot.ranker.rank

    def recording_rank(request: RankRequest, k: int = 10) -> Any:
        asked.append(request)
        return rank(request, k)

    monkeypatch.setattr(bot.ranker, "rank", recording_rank)
    statements: list[str] = []
    connection = kith.stores.database._connection
    connection.set_trace_callback(statements.append)
    try:
        bot.reply(user, "any thriller film?", session_id=session_id)
    finally:
        connection.set_trace_callback(None)

    assert psycho in asked[0].seen and jaws not in asked[0].seen
    reads = [s for s in statements if "FROM messages" in s]
    assert reads and all("ORDER BY position DESC LIMIT" in s or "MAX(position)" in s for s in reads), reads
    rows = kith.stores.database.query(
        "SELECT position, role FROM messages WHERE session_id = ? AND position >= 1998 ORDER BY position", (session_id,)
    )
    assert [(row["position"], row["role"]) for row in rows] == [
        (1998, "user"), (1999, "assistant"), (2000, "user"), (2001, "assistant"),
    ]


def test_a_profile_change_and_a_turn_at_the_same_moment_both_count(tmp_path: Path) -> None:
    """The agent's profile tool (SessionStore.change_profile) and a turn of the same person in
    another worker (another connection): the turn's save waits for the change's transaction
    and merges into it, so neither update is lost."""
    path = tmp_path / "kith.sqlite"
    tool, worker = SessionStore(Database(path), "demo"), SessionStore(Database(path), "demo")
    base = Profile(likes=["film-001"])
    tool.save_profile("ann", base)
    inside = threading.Event()

    def like_another(stored: Profile) -> Profile:
        inside.set()
        time.sleep(0.5)  # the turn below tries to save meanwhile
        return stored.model_copy(update={"likes": ["film-002", *stored.likes]})

    changing = threading.Thread(target=tool.change_profile, args=("ann", like_another))
    changing.start()
    assert inside.wait(10)
    session, _ = worker.open_session("ann", None)
    saved = worker.save_turn(session, "ann", "nothing scary", "ok", TurnRecord(),
                             base.model_copy(update={"disliked_tags": ["scary"]}), base=base)
    changing.join()
    assert saved.likes == ["film-002", "film-001"] and saved.disliked_tags == ["scary"]
    assert tool.profile("ann") == saved
