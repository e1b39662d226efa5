"""Soak and faults: a real `kith serve` on loopback under mixed load, then faults while it serves.

1. Load: --requests (2,000) from --clients (16) concurrent clients, mixing messages, streamed
   messages (SSE), profile reads and bad inputs (malformed JSON, empty text, another user's
   session, over-long text, wrong key). Counts 5xx (target 0) and statuses other than the
   expected one, latency p50/p95 per kind, and the server's resident memory (VmRSS from
   /proc/PID/status): "start" is read after a warm-up, not measured (each scripted message and
   each kind once: the first turns load the LLM, the catalog, the help desk's model), "end"
   after the last request, and every 2 s between; growth target under 10%.
2. Faults while serving, each against a real server:
   a. the Chroma server (`chroma run`, started here) is SIGKILLed mid-conversation, then started
      again on the same port and path: 503 with Retry-After meanwhile, never a 500, and the
      service recovers by itself;
   b. the LLM endpoint (llama-cpp-python's server, started here) is SIGKILLed, then started
      again: replies come from the ranking, status 200, flagged `degraded`;
   c. the data folder's file system turns read-only under the running server: an ext4 image on a
      loop device mounted with errors=remount-ro, forced read-only through ext4's
      trigger_fs_error (the kernel's own reaction to a failing disk). chmod cannot do this: a
      process keeps writing through the files it has open, whatever their modes, and Linux
      refuses to remount read-only a file system with files open for writing. Needs root;
   d. SIGKILL during `kith ingest` of a synthetic catalog (bench/catalog_scale.py) into an
      embedded Chroma: mid-embedding, at four points of the Chroma upserts and during the SQLite
      transaction; then the same command again: it must finish, and SQLite and Chroma must
      agree on the item count.

Everything listens on 127.0.0.1 only; every loop is bounded in count and time, and the bench
stops every process it started. Prints a table (figure, value, target); --out DIR also writes
DIR/soak.json. Takes 15-20 minutes on 2 idle cores (much longer on busy ones: each turn waits
for the one LLM); --quick runs a short check (about 10 minutes).

Run from the repository root with the project's environment:
    .venv/bin/python bench/soak.py [--requests 2000 --clients 16] [--quick] [--out reports/soak]
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.models import default_gguf
from evaluation.reports import table, timing_summary
from catalog_scale import synthetic_dataset

KEY = "soak-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
BIN = Path(sys.executable).parent
REQUEST_TIMEOUT_S = 180.0  # one request, under 16 clients sharing one LLM
START_TIMEOUT_S = 600.0  # a first `kith serve` ingests the demo catalog
SCRIPT = ["I loved Arrival, something thoughtful to watch", "no, not those", "a book for a long flight",
          "under $15 please", "some music for a rainy day", "gear for a weekend hike",
          "something fun for the weekend", "my parcel hasn't arrived yet, and any cozy mystery books?"]
# Share of each request kind in the load. A turn costs the one LLM ~0.5 s on idle cores, so
# turns are a third of the requests: 2,000 requests take ~10 minutes there.
MIX = {"message": 0.20, "stream": 0.15, "profile": 0.30, "malformed_json": 0.07, "empty_text": 0.07,
       "unknown_session": 0.07, "too_long": 0.07, "wrong_key": 0.07}
EXPECTED = {"message": 200, "stream": 200, "profile": 200, "malformed_json": 400, "empty_text": 422,
            "unknown_session": 404, "too_long": 422, "wrong_key": 401}
# No category named: the ranking asks Chroma's index, so the turn needs the Chroma server.
OPEN_REQUEST = "something fun for the weekend please"


# --- processes --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> float:
    """Seconds until `url` answers 200; exits with the log's end if the process dies or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit(f"{process.args} did not come up at {url}:\n{log.read_text(errors='replace')[-3000:]}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Service:
    """A process the bench starts (kith serve, chroma run, llama_cpp.server) and always stops.
    `url` is where its API answers; `health` answers 200 once it is up."""

    def __init__(self, command: list[str], url: str, health: str, log: Path, env: dict[str, str] | None = None):
        self.command, self.url, self.health, self.log = command, url, health, log
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Start it (again: same command, port and paths); seconds until it answered."""
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(self.command, stdout=handle, stderr=subprocess.STDOUT, env=self.env)
        try:
            return wait_up(self.health, self.process, self.log, timeout_s)
        except SystemExit:
            self.kill()
            raise

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running(*services: Service) -> Iterator[None]:
    try:
        yield
    finally:
        for service in reversed(services):
            service.stop()


def chroma_server(path: Path, log: Path) -> Service:
    port = free_port()
    return Service([str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                   f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api/v2/heartbeat", log)


def kith_server(data_dir: Path, log: Path, chroma_url: str, cache_dir: Path | None,
                env: dict[str, str] | None = None) -> Service:
    port = free_port()
    cache = ["--cache-dir", str(cache_dir)] if cache_dir else []
    command = [str(BIN / "kith"), "--data-dir", str(data_dir), *cache, "--chroma-url", chroma_url,
               "serve", "--host", "127.0.0.1", "--port", str(port)]
    environment = {"KITH_API_KEYS": f"soak:{KEY}", "KITH_SERVICE__RATE_LIMIT_PER_MINUTE": "1000000",
                   "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    return Service(command, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/health", log, environment)


def llm_server(log: Path) -> Service:
    """llama-cpp-python's OpenAI-compatible server on the default GGUF (as tests/test_remote_llm.py)."""
    port = free_port()
    return Service([sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--host", "127.0.0.1",
                    "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"],
                   f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/v1/models", log)


def tracebacks(log: Path, since: int) -> int:
    """Tracebacks the log gained after byte `since`."""
    with log.open("rb") as handle:
        handle.seek(since)
        return handle.read().count(b"Traceback (most recent call last)")


# --- requests ---------------------------------------------------------------------------------

@dataclass
class Result:
    kind: str
    status: int  # 0: no response (connection failed or timed out)
    seconds: float
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # Streams: the events' names in order, and seconds to the first delta.
    events: list[str] = field(default_factory=list)
    first_piece_s: float | None = None


def send(client: httpx.Client, url: str, kind: str, user: str, text: str, session: str | None,
         foreign: str) -> Result:
    """One request of `kind`; bad kinds are built to be refused. `foreign`: another user's
    session (a session id never seen starts a session of that id, as the API allows)."""
    started = time.perf_counter()
    body: dict[str, Any] = {"text": text, **({"session_id": session} if session else {})}
    messages = f"{url}/v1/users/{user}/messages"
    try:
        if kind == "stream":
            return _stream(client, f"{messages}/stream", body, started)
        if kind == "profile":
            response = client.get(f"{url}/v1/users/{user}/profile")
        elif kind == "malformed_json":
            response = client.post(messages, content=b'{"text": "hello', headers={"Content-Type": "application/json"})
        elif kind == "empty_text":
            response = client.post(messages, json={"text": "  \n "})
        elif kind == "unknown_session":
            response = client.post(messages, json={"text": "hello again", "session_id": foreign})
        elif kind == "too_long":
            response = client.post(messages, json={"text": "tell me more " * 200})
        elif kind == "wrong_key":
            response = client.post(messages, json=body, headers={"Authorization": "Bearer not-the-key"})
        else:
            response = client.post(messages, json=body)
    except httpx.HTTPError:
        return Result(kind, 0, time.perf_counter() - started)
    try:
        parsed = response.json()
    except ValueError:
        parsed = {}
    return Result(kind, response.status_code, time.perf_counter() - started, parsed, dict(response.headers))


def _stream(client: httpx.Client, url: str, body: dict[str, Any], started: float) -> Result:
    events: list[str] = []
    data: dict[str, Any] = {}
    first = None
    with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            response.read()
            try:
                refused = response.json()
            except ValueError:
                refused = {}
            return Result("stream", response.status_code, time.perf_counter() - started, refused,
                          dict(response.headers))
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
                events.append(name)
                if name == "delta" and first is None:
                    first = time.perf_counter() - started
            elif line.startswith("data: ") and name in ("turn", "error"):
                data = json.loads(line[len("data: "):])
    return Result("stream", 200, time.perf_counter() - started, data, dict(response.headers), events, first)


class Conversation:
    """One person talking to the server: continues a session, starts a new one every `length` turns."""

    def __init__(self, url: str, user: str, length: int = 6, texts: Sequence[str] = SCRIPT, foreign: str = ""):
        self.url, self.user, self.length, self.texts, self.foreign = url, user, length, texts, foreign
        self.client = httpx.Client(timeout=REQUEST_TIMEOUT_S, headers=AUTH)
        self.session: str | None = None
        self.turns = 0

    def request(self, kind: str, text: str | None = None) -> Result:
        spoken = text or self.texts[self.turns % len(self.texts)]
        result = send(self.client, self.url, kind, self.user, spoken, self.session, self.foreign)
        if kind in ("message", "stream") and result.status == 200 and "session_id" in result.body:
            self.turns += 1
            self.session = None if self.turns % self.length == 0 else result.body["session_id"]
        return result

    def transcript(self, session: str) -> list[dict[str, Any]]:
        response = self.client.get(f"{self.url}/v1/users/{self.user}/sessions/{session}")
        response.raise_for_status()
        return list(response.json()["transcript"])

    def close(self) -> None:
        self.client.close()


# --- 1. load ----------------------------------------------------------------------------------

def quarters(samples: Sequence[tuple[int, float]], total: int, end: float) -> list[float]:
    """MB when 0, 1/4, 1/2 and 3/4 of the requests were done, and at the end."""
    marks = [next((mb for done, mb in samples if done >= q * total // 4), end) for q in range(4)]
    return [round(mb, 1) for mb in [*marks, end]]


def load(server: Service, requests: int, clients: int, deadline_s: float) -> dict[str, Any]:
    url = server.url
    # The warm-up, not measured: every scripted message once, then every kind once. The first
    # turns load the LLM and the catalog; the first help question loads a second copy of the
    # embedding model (90-125 MB measured: Chroma's embedding function asks retrieval.embeddings'
    # shared_embedder with other arguments than Kith does, so it gets an instance of its own).
    warm = Conversation(url, "u40", length=len(SCRIPT))
    warm_kinds = ["message"] * len(SCRIPT) + list(MIX)
    foreign = ""
    for kind in warm_kinds:
        answered = warm.request(kind)
        foreign = foreign or answered.body.get("session_id", "")
    warm.close()
    rss_start = rss_mb(server.pid)
    rng = random.Random(0)
    schedule = rng.choices(list(MIX), weights=list(MIX.values()), k=requests)
    lock = threading.Lock()
    results: list[Result] = []
    # (requests done, MB) every 2 s: whether the memory levels off or keeps growing.
    rss_samples: list[tuple[int, float]] = [(0, rss_start)]
    done = threading.Event()
    ends = time.monotonic() + deadline_s

    def next_kind() -> str | None:
        with lock:
            return schedule.pop() if schedule and time.monotonic() < ends else None

    def client_loop(number: int) -> None:
        person = Conversation(url, f"u{number % 39 + 1:02d}", foreign=foreign)
        try:
            while (kind := next_kind()) is not None:
                result = person.request(kind)
                with lock:
                    results.append(result)
        finally:
            person.close()

    def sample_memory() -> None:
        while not done.wait(2.0):
            rss_samples.append((len(results), rss_mb(server.pid)))

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    started = time.perf_counter()
    workers = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    done.set()
    rss_end = rss_mb(server.pid)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for result in results:
        by_kind[result.kind].append(result.seconds)
    first_pieces = [r.first_piece_s for r in results if r.first_piece_s is not None]
    if first_pieces:
        by_kind["stream (first piece)"] = first_pieces
    unexpected = Counter(f"{r.kind}: {r.status}" for r in results if r.status != EXPECTED[r.kind])
    broken_streams = sum(1 for r in results if r.kind == "stream" and r.status == 200 and r.events[-1:] != ["turn"])
    return {
        "requests": len(results),
        "clients": clients,
        "wall_s": round(wall, 1),
        "requests_per_s": round(len(results) / wall, 2),
        "kinds": dict(Counter(r.kind for r in results)),
        "status_5xx": sum(1 for r in results if r.status >= 500),
        "no_response": sum(1 for r in results if r.status == 0),
        "unexpected_statuses": dict(unexpected),
        "streams_without_turn_event": broken_streams,
        "latency": {kind: {k: round(v, 3) if k != "n" else v for k, v in summary.items()}
                    for kind, summary in timing_summary(by_kind).items()},
        "rss_mb": {"start_after_warmup": round(rss_start, 1), "end": round(rss_end, 1),
                   "peak": round(max(mb for _, mb in rss_samples), 1),
                   "growth_pct": round(100 * (rss_end - rss_start) / rss_start, 1),
                   "quarters": quarters(rss_samples, len(results), rss_end),
                   "samples": [[done_, round(mb, 1)] for done_, mb in rss_samples]},
        "warmup_requests": len(warm_kinds),
    }


# --- 2. faults --------------------------------------------------------------------------------

def tally(results: Sequence[Result]) -> str:
    """Statuses and how often, e.g. "503x5", in order of first appearance."""
    return ", ".join(f"{status}x{n}" for status, n in Counter(r.status for r in results).items())


def tries_of(tallied: str) -> int:
    """How many requests a tally counts."""
    return sum(int(part.split("x")[1]) for part in tallied.split(", ") if part)


def server_errors(results: Sequence[Result]) -> int:
    """5xx other than the 503 a store that is down should get."""
    return sum(1 for r in results if r.status >= 500 and r.status != 503)


def poll(check: Callable[[], bool], timeout_s: float, every_s: float = 0.5) -> float | None:
    """Seconds until `check()` holds, or None if it never did within `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(every_s)
    return None


def chroma_killed(server: Service, chroma: Service, tries: int) -> dict[str, Any]:
    person = Conversation(server.url, "u31", length=1000, texts=[OPEN_REQUEST])
    before = [person.request("message") for _ in range(2)]
    session = person.session
    in_flight: list[Result] = []  # the third turn is on its way when Chroma dies
    third = threading.Thread(target=lambda: in_flight.append(person.request("message")))
    third.start()
    time.sleep(0.05)
    chroma.kill()
    third.join(timeout=REQUEST_TIMEOUT_S)
    # Other people's requests, each in a session of its own: a category named in the main
    # session would let its later turns search the vectors in memory, without Chroma.
    other = Conversation(server.url, "u34", length=1)
    down = {
        "message": [person.request("message") for _ in range(tries)],
        "streamed": [person.request("stream") for _ in range(tries)],
        "help question": [other.request("message", "where is my parcel? it has not arrived") for _ in range(tries)],
        "message naming a category": [other.request("message", "a book for a long flight") for _ in range(tries)],
        "profile read": [person.request("profile") for _ in range(tries)],
    }
    refused = [r for results in down.values() for r in results if r.status == 503]
    restarted = time.monotonic()
    chroma.start(120)
    chroma_up = time.monotonic() - restarted
    recovered: list[Result] = []

    def back() -> bool:
        recovered.append(person.request("message"))
        return recovered[-1].status == 200

    after = poll(back, 60)
    transcript = person.transcript(session) if session else []
    answered = sum(1 for r in [*before, *in_flight, *down["message"], *down["streamed"], *recovered]
                   if r.status == 200 and r.body.get("session_id") == session)
    person.close()
    other.close()
    return {
        "before": tally(before),
        "in_flight_when_killed": tally(in_flight),
        "while_down": {name: tally(results) for name, results in down.items()},
        "refused_503": len(refused),
        "refused_503_with_retry_after": sum(1 for r in refused if r.headers.get("retry-after")),
        "refused_codes": dict(Counter(r.body.get("error", {}).get("code") for r in refused)),
        "server_errors": server_errors([*in_flight, *refused, *[r for rs in down.values() for r in rs], *recovered]),
        "chroma_restart_s": round(chroma_up, 1),
        "recovered_after_s": None if after is None else round(after, 2),
        "recovery_tries": len(recovered),
        "transcript_messages": len(transcript),
        "turns_answered_in_session": answered,
        "example_503": next((r.body["error"]["message"] for r in refused), None),
    }


def llm_down(server: Service, llm: Service, tries: int) -> dict[str, Any]:
    person = Conversation(server.url, "u32", length=1000, texts=["I loved Arrival, something thoughtful to watch"])
    before = person.request("message")
    mark = server.log.stat().st_size
    llm.kill()
    replies = [person.request("message") for _ in range(tries)]
    streams = [person.request("stream") for _ in range(tries)]
    reads = [person.request("profile") for _ in range(tries)]
    answered = [r for r in [*replies, *streams] if r.status == 200]
    degraded = [r for r in answered if r.body.get("degraded") == "llm_unavailable"]

    def names_pick(result: Result) -> bool:
        picks = result.body.get("recommendations") or []
        return bool(picks) and f"{picks[0]['title']} — {picks[0]['reasons'][0]}" in result.body.get("text", "")

    restarted = time.monotonic()
    llm.start(120)
    llm_up = time.monotonic() - restarted
    recovered: list[Result] = []

    def back() -> bool:
        recovered.append(person.request("message"))
        return recovered[-1].status == 200 and recovered[-1].body.get("degraded") is None

    after = poll(back, 60)
    person.close()
    return {
        "before": f"{before.status}, degraded={before.body.get('degraded')}",
        "recovery_tries": len(recovered),
        "messages": tally(replies),
        "streams": tally(streams),
        "profile_reads": tally(reads),
        "requests": len(replies) + len(streams),
        "answered_200": len(answered),
        "degraded": len(degraded),
        "naming_top_pick_and_reason": sum(1 for r in degraded if names_pick(r)),
        "status_5xx": sum(1 for r in [*replies, *streams, *reads, *recovered] if r.status >= 500),
        "server_tracebacks_while_down": tracebacks(server.log, mark),
        "llm_restart_s": round(llm_up, 1),
        "recovered_after_s": None if after is None else round(after, 2),
        "example_degraded_reply": next((r.body["text"] for r in degraded), None),
    }


def read_only_unavailable() -> str | None:
    """Why this machine cannot turn a file system read-only under a running process, if it cannot."""
    if os.geteuid() != 0:
        return "needs root: mounts an ext4 image on a loop device"
    missing = [tool for tool in ("mkfs.ext4", "mount", "umount", "findmnt") if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    if not Path("/sys/fs/ext4").is_dir():
        return "no ext4 in this kernel (/sys/fs/ext4)"
    return None


def data_folder_read_only(source: Path, root: Path, chroma_url: str, cache_dir: Path | None,
                          tries: int) -> dict[str, Any]:
    why_not = read_only_unavailable()
    if why_not:
        return {"skipped": why_not}
    image, mount = root / "data.ext4", root / "ro-mount"
    mount.mkdir()
    with image.open("wb") as handle:
        handle.truncate(512 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, timeout=120)
    mounted = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)],
                             capture_output=True, text=True, timeout=60)
    if mounted.returncode != 0:
        return {"skipped": f"mount failed: {mounted.stderr.strip()}"}
    try:
        device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mount)], capture_output=True, text=True,
                                check=True, timeout=30).stdout.strip()
        shutil.copytree(source, mount / "data")
        server = kith_server(mount / "data", root / "kith-read-only.log", chroma_url, cache_dir)
        server.start()
        with running(server):
            person = Conversation(server.url, "u33", length=1000, texts=["a film for family night"])
            before = [person.request("message"), person.request("message")]
            session = person.session
            # What ext4 does when its disk fails: with errors=remount-ro it turns read-only at
            # once, also for the files the server holds open.
            Path(f"/sys/fs/ext4/{Path(device).name}/trigger_fs_error").write_text("1")
            try:
                os.close(os.open(mount / "data" / "probe", os.O_CREAT | os.O_WRONLY))
                confirmed = "still writable"
            except OSError as refused:
                confirmed = errno.errorcode.get(refused.errno or 0, str(refused))
            messages = [person.request("message") for _ in range(tries)]
            streams = [person.request("stream") for _ in range(tries)]
            reads = [person.request("profile") for _ in range(tries)]
            put = person.client.put(f"{server.url}/v1/users/u33/profile", json=reads[0].body.get("profile", {}))
            sessions = person.client.get(f"{server.url}/v1/users/u33/sessions")
            transcript = person.transcript(session) if session else []
            person.close()
    finally:
        subprocess.run(["umount", str(mount)], check=False, timeout=60)
    return {
        "method": f"ext4 image on {device} mounted errors=remount-ro, then its trigger_fs_error",
        "creating_a_file_after": confirmed,
        "before": tally(before),
        "messages": tally(messages),
        "message_codes": dict(Counter(r.body.get("error", {}).get("code") for r in messages)),
        "messages_with_retry_after": sum(1 for r in messages if r.headers.get("retry-after")),
        "streams": tally(streams),
        "stream_endings": dict(Counter(f"{(r.events or ['none'])[-1]} {r.body.get('code', '')}".strip()
                                       for r in streams)),
        "profile_reads": tally(reads),
        "profile_reads_200": sum(1 for r in reads if r.status == 200),
        "profile_put": put.status_code,
        "sessions_read": sessions.status_code,
        "saved_turns_before": sum(1 for r in before if r.status == 200),
        "transcript_messages": len(transcript),
        "server_errors": server_errors([*messages, *streams, *reads, Result("profile put", put.status_code, 0.0)]),
        "example_503": next((r.body["error"]["message"] for r in messages if r.status == 503), None),
    }


COUNT_SCRIPT = ("import json, sys; from pathlib import Path; from retrieval.store import Stores; "
                "s = Stores.open(Path(sys.argv[1])); c = sys.argv[2]; "
                "print(json.dumps({'sqlite': s.database.count(c, 'items'), 'chroma': s.vectors.count(c, 'items')}))")


def last_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[-1][:240]


def stored_items(data_dir: Path, catalog: str) -> str:
    """"SQLITE/CHROMA": the items each holds, read by a process of its own (embedded Chroma
    allows one), or what stopped the read."""
    done = subprocess.run([sys.executable, "-c", COUNT_SCRIPT, str(data_dir), catalog], capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        return f"unreadable: {last_line(done.stderr)}"
    counts = json.loads(last_line(done.stdout))
    return f"{counts['sqlite']}/{counts['chroma']}"


def file_bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # not written yet, or removed meanwhile
        return 0


def folder_bytes(folder: Path) -> int:
    return sum(file_bytes(p) for p in folder.rglob("*")) if folder.is_dir() else 0


def ingest_killed(root: Path, items: int, cache_dir: Path | None, points: Sequence[str]) -> dict[str, Any]:
    """`kith ingest` of a synthetic catalog into a fresh data folder (embedded Chroma), SIGKILLed
    at each point, then run again; the item counts of both stores after each. Points:
    "embedding" (half-way through an uninterrupted run's time), "chroma N%" (once the Chroma
    folder holds N% of its final bytes), "sqlite" (the first bytes of SQLite's transaction)."""
    source = root / "synthetic"
    source.mkdir()
    dataset = synthetic_dataset(items)
    for name, records in (("items", dataset.items), ("users", dataset.users), ("friendships", dataset.friendships),
                          ("interactions", dataset.interactions)):
        (source / f"{name}.jsonl").write_text(
            "".join(json.dumps(r.model_dump(mode="json", exclude_none=True)) + "\n" for r in records))
    cache = ["--cache-dir", str(cache_dir)] if cache_dir else []
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    def command(data_dir: Path) -> list[str]:
        return [str(BIN / "kith"), "--data-dir", str(data_dir), *cache, "ingest", str(source), "--catalog", "synth"]

    whole_dir = root / "ingest-whole"
    started = time.monotonic()
    whole = subprocess.run(command(whole_dir), capture_output=True, text=True, env=environment, timeout=1800)
    whole_s = time.monotonic() - started
    if whole.returncode != 0:
        raise SystemExit(f"kith ingest failed:\n{whole.stderr[-2000:]}")
    chroma_final = folder_bytes(whole_dir / "chroma")
    runs = []
    for point in points:
        data_dir = root / f"ingest-{point.replace(' ', '-').rstrip('%')}"
        wal = data_dir / "kith.db-wal"
        process = subprocess.Popen(command(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=environment)
        started = time.monotonic()
        wal_mark: list[int] = []

        def due() -> bool:
            if point == "embedding":
                return time.monotonic() - started >= 0.5 * whole_s
            if point.startswith("chroma "):
                return folder_bytes(data_dir / "chroma") >= float(point[7:-1]) / 100 * chroma_final
            # "sqlite": SQLite's one write after Chroma's upserts began is the rows' transaction;
            # the kill comes with the first bytes it adds to the log.
            if not wal_mark:
                if folder_bytes(data_dir / "chroma") >= 0.5 * chroma_final:
                    wal_mark.append(file_bytes(wal))
                return False
            return file_bytes(wal) > wal_mark[0]

        fired = poll(lambda: process.poll() is not None or due(), 3 * whole_s + 60, every_s=0.002)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        at_kill = stored_items(data_dir, "synth")
        again = subprocess.run(command(data_dir), capture_output=True, text=True, env=environment, timeout=1800)
        after = stored_items(data_dir, "synth")
        landed = ("before any write" if at_kill == "0/0" else
                  "Chroma left unreadable" if at_kill.startswith("unreadable") else
                  "after Chroma's upserts began, before SQLite's commit" if at_kill.startswith("0/") else
                  "after SQLite's commit")
        runs.append({
            "kill": point,
            "killed_at_s": round(fired, 2) if killed and fired is not None else None,
            "landed": landed,
            "items_after_kill": at_kill,
            "rerun_exit": again.returncode,
            "rerun_error": last_line(again.stderr) if again.returncode else None,
            "items_after_rerun": after,
        })
    return {"items": items, "uninterrupted_s": round(whole_s, 1), "uninterrupted": whole.stdout.strip(),
            "chroma_bytes": chroma_final, "runs": runs}


# --- the report -------------------------------------------------------------------------------

def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The table: each figure, its target, and whether it is met."""
    rows: list[dict[str, Any]] = []

    def row(figure: str, value: Any, target: str = "", met: bool | None = None) -> None:
        rows.append({"figure": figure, "value": value, "target": target,
                     "met": None if met is None else ("yes" if met else "NO")})

    if "load" in result:
        load_ = result["load"]
        row(f"load: requests from {load_['clients']} clients (wall, rate)",
            f"{load_['requests']} ({load_['wall_s']} s, {load_['requests_per_s']}/s)")
        row("load: 5xx responses", load_["status_5xx"], "0", load_["status_5xx"] == 0)
        row("load: no response (connection failed or timed out)", load_["no_response"], "0", load_["no_response"] == 0)
        row("load: statuses other than expected", load_["unexpected_statuses"] or 0, "none",
            not load_["unexpected_statuses"])
        row("load: streams not ending in a turn event", load_["streams_without_turn_event"], "0",
            load_["streams_without_turn_event"] == 0)
        for kind, summary in load_["latency"].items():
            row(f"load: {kind} latency p50 / p95 s (n)", f"{summary['p50_s']} / {summary['p95_s']} ({summary['n']})")
        rss = load_["rss_mb"]
        row(f"load: server RSS MB, start (after {load_['warmup_requests']} warm-up requests) -> end (peak)",
            f"{rss['start_after_warmup']} -> {rss['end']} ({rss['peak']})")
        row("load: server RSS MB at 0 / 1/4 / 1/2 / 3/4 / all of the requests", " / ".join(map(str, rss["quarters"])))
        row("load: RSS growth, start to end", f"{rss['growth_pct']}%", "< 10%", rss["growth_pct"] < 10)
    if "chroma_killed" in result:
        a = result["chroma_killed"]
        row("a. Chroma killed: turn in flight / while down",
            f"{a['in_flight_when_killed']} / " + "; ".join(f"{k} {v}" for k, v in a["while_down"].items()))
        row("a. Chroma killed: 503s with Retry-After (codes)",
            f"{a['refused_503_with_retry_after']}/{a['refused_503']} {a['refused_codes']}", "all",
            a["refused_503"] > 0 and a["refused_503_with_retry_after"] == a["refused_503"])
        row("a. Chroma killed: other 5xx", a["server_errors"], "0", a["server_errors"] == 0)
        row("a. Chroma back (same port, path): first 200 after s (tries)",
            f"{a['recovered_after_s']} ({a['recovery_tries']})", "recovers without restarting kith serve",
            a["recovered_after_s"] is not None)
        row("a. Chroma killed: transcript messages / turns answered",
            f"{a['transcript_messages']} / {a['turns_answered_in_session']}", "2 per turn",
            a["transcript_messages"] == 2 * a["turns_answered_in_session"])
    if "llm_down" in result:
        b = result["llm_down"]
        row("b. LLM endpoint killed: messages / streams / profile reads",
            f"{b['messages']} / {b['streams']} / {b['profile_reads']}", "200", b["answered_200"] == b["requests"])
        row("b. LLM endpoint killed: replies flagged degraded", f"{b['degraded']}/{b['requests']}", "all",
            b["degraded"] == b["requests"])
        row("b. LLM endpoint killed: reply names the top pick and its reason",
            f"{b['naming_top_pick_and_reason']}/{b['degraded']}", "all",
            b["degraded"] > 0 and b["naming_top_pick_and_reason"] == b["degraded"])
        row("b. LLM endpoint killed: 5xx / server tracebacks",
            f"{b['status_5xx']} / {b['server_tracebacks_while_down']}", "0 / 0",
            b["status_5xx"] == 0 and b["server_tracebacks_while_down"] == 0)
        row("b. LLM endpoint back (same port): undegraded reply after s (tries)",
            f"{b['recovered_after_s']} ({b['recovery_tries']})", "recovers", b["recovered_after_s"] is not None)
    if "data_folder_read_only" in result:
        c = result["data_folder_read_only"]
        if "skipped" in c:
            row("c. data folder read-only", f"skipped: {c['skipped']}")
        else:
            row("c. read-only data folder: creating a file there", c["creating_a_file_after"], "EROFS",
                c["creating_a_file_after"] == "EROFS")
            row("c. read-only data folder: messages (codes), with Retry-After",
                f"{c['messages']} {c['message_codes']}, {c['messages_with_retry_after']}",
                "503 storage_unavailable", set(c["message_codes"]) == {"storage_unavailable"})
            row("c. read-only data folder: streams (how they end)", f"{c['streams']} {c['stream_endings']}",
                "error event storage_unavailable", set(c["stream_endings"]) == {"error storage_unavailable"})
            row("c. read-only data folder: profile reads / sessions read / profile PUT",
                f"{c['profile_reads']} / {c['sessions_read']} / {c['profile_put']}", "200 / 200 / 503",
                c["profile_reads_200"] == tries_of(c["profile_reads"]) and c["sessions_read"] == 200
                and c["profile_put"] == 503)
            row("c. read-only data folder: other 5xx", c["server_errors"], "0", c["server_errors"] == 0)
            row("c. read-only data folder: transcript messages / turns saved before",
                f"{c['transcript_messages']} / {c['saved_turns_before']}", "2 per turn",
                c["transcript_messages"] == 2 * c["saved_turns_before"])
    if "ingest_killed" in result:
        d = result["ingest_killed"]
        row(f"d. ingest of {d['items']} items, uninterrupted (s)", d["uninterrupted_s"])
        for run in d["runs"]:
            when = f"killed at {run['killed_at_s']} s" if run["killed_at_s"] is not None else "finished before the kill"
            row(f"d. SIGKILL ({run['kill']}, {when}, {run['landed']}): items SQLite/Chroma after kill -> "
                "after rerun (rerun exit)",
                f"{run['items_after_kill']} -> {run['items_after_rerun']} ({run['rerun_exit']})",
                f"{d['items']}/{d['items']} (0)",
                run["rerun_exit"] == 0 and run["items_after_rerun"] == f"{d['items']}/{d['items']}")
    return rows


def tidy(root: Path) -> None:
    """Remove the data folders and images, keep the logs."""
    for path in root.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.suffix != ".log":
            path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="a short check: 120 requests, 8 clients, smaller faults")
    parser.add_argument("--deadline-s", type=float, default=3600.0, help="start no load request after this [3600]")
    parser.add_argument("--ingest-items", type=int, default=3000)
    parser.add_argument("--only", nargs="+", choices=["load", "a", "b", "c", "d"], default=["load", "a", "b", "c", "d"])
    parser.add_argument("--cache-dir", type=Path, default=None, help="Kith's model cache [default: Kith's own]")
    parser.add_argument("--out", type=Path, default=None, help="also write DIR/soak.json")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.clients, args.ingest_items = min(args.requests, 120), min(args.clients, 8), 800
    tries = 2 if args.quick else 5
    points = (["embedding", "chroma 40%"] if args.quick else
              ["embedding", "chroma 20%", "chroma 40%", "chroma 60%", "chroma 80%", "sqlite"])
    root = Path(tempfile.mkdtemp(prefix="kith-soak-"))
    print(f"working in {root}", file=sys.stderr)
    started = time.perf_counter()
    # Other work on the machine moves every latency here; the report says how busy it was.
    result: dict[str, Any] = {"load_average_1min": {"start": os.getloadavg()[0]}}
    chroma = chroma_server(root / "chroma", root / "chroma.log")
    data = root / "data"
    try:
        chroma.start(120)
        server = kith_server(data, root / "kith.log", chroma.url, args.cache_dir)
        server.start()
        with running(server):
            if "load" in args.only:
                print(f"load: {args.requests} requests from {args.clients} clients ...", file=sys.stderr)
                result["load"] = load(server, args.requests, args.clients, args.deadline_s)
            if "a" in args.only:
                print("a. Chroma killed mid-conversation ...", file=sys.stderr)
                result["chroma_killed"] = chroma_killed(server, chroma, tries)
        if "b" in args.only:
            print("b. LLM endpoint killed ...", file=sys.stderr)
            llm = llm_server(root / "llm.log")
            llm.start(120)
            shutil.copytree(data, root / "data-llm")
            remote = kith_server(root / "data-llm", root / "kith-llm.log", chroma.url, args.cache_dir,
                                 {"KITH_LLM__ENDPOINT": llm.url})
            with running(llm, remote):
                remote.start()
                result["llm_down"] = llm_down(remote, llm, tries)
        if "c" in args.only:
            print("c. the data folder turns read-only ...", file=sys.stderr)
            result["data_folder_read_only"] = data_folder_read_only(data, root, chroma.url, args.cache_dir, tries)
    finally:
        chroma.stop()
    if "d" in args.only:
        print(f"d. SIGKILL during ingest of {args.ingest_items} items ...", file=sys.stderr)
        result["ingest_killed"] = ingest_killed(root, args.ingest_items, args.cache_dir, points)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_1min"]["end"] = os.getloadavg()[0]
    rows = figures(result)
    print(table(rows, ["figure", "value", "target", "met"]))
    busy = result["load_average_1min"]
    print(f"\n{os.cpu_count()} CPUs, load average {busy['start']:.1f} at the start and {busy['end']:.1f} at the end; "
          f"{result['seconds']} s in all; logs in {root}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report = {"kind": "soak", "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                  "parameters": {k: str(v) for k, v in vars(args).items()}, "figures": rows, **result}
        (args.out / "soak.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    tidy(root)


if __name__ == "__main__":
    main()
