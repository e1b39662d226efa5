"""Throughput and latency of the HTTP API at 1, 4 and 16 concurrent users, on the demo catalog.

Starts a real `kith serve` process (local Chroma, a fresh data folder unless --data-dir), then
for each concurrency level runs that many simultaneous conversations of --turns messages each
and reports requests/s and the p50/p95 latency of one message round trip.

Run from the repository root with the project's environment:
    .venv/bin/python bench/api_concurrency.py [--levels 1 4 16] [--turns 3] [--out reports/api]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from evaluation.reports import table, timing_summary, write_report

KEY = "bench-key"
SCRIPT = ["I loved Arrival, something thoughtful to watch", "no, not those", "a book for a long flight",
          "under $15 please", "some music for a rainy day", "gear for a weekend hike"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    kith = Path(sys.executable).parent / "kith"
    environment = {**os.environ, "KITH_API_KEYS": f"bench:{KEY}", "KITH_SERVICE__RATE_LIMIT_PER_MINUTE": "1000000",
                   "HF_HUB_OFFLINE": "1"}
    with log.open("wb") as handle:
        process = subprocess.Popen([str(kith), "--data-dir", str(data_dir), "serve", "--port", str(port)],
                                   stdout=handle, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"kith serve did not start; see {log}")
        time.sleep(0.5)


def conversation(url: str, user: str, turns: int) -> list[float]:
    latencies = []
    session = None
    with httpx.Client(timeout=600, headers={"Authorization": f"Bearer {KEY}"}) as client:
        for number in range(turns):
            body = {"text": SCRIPT[number % len(SCRIPT)], **({"session_id": session} if session else {})}
            started = time.perf_counter()
            response = client.post(f"{url}/v1/users/{user}/messages", json=body)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            session = response.json()["session_id"]
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--turns", type=int, default=3, help="messages per conversation")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("reports/api"))
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="kith-api-bench-")) / "data"
    args.out.mkdir(parents=True, exist_ok=True)
    process, url = start_server(data_dir, args.out / "server.log")
    try:
        conversation(url, "warmup", 1)  # loads the LLM; not measured
        rows = []
        for level in args.levels:
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=level) as pool:
                runs = list(pool.map(lambda n: conversation(url, f"u{n % 40 + 1:02d}", args.turns), range(level)))
            wall = time.perf_counter() - started
            latencies = [seconds for run in runs for seconds in run]
            summary = timing_summary({"message": latencies})["message"]
            rows.append({"concurrent users": level, "requests": len(latencies), "wall (s)": round(wall, 1),
                         "requests/s": round(len(latencies) / wall, 2), "p50 (s)": round(summary["p50_s"], 2),
                         "p95 (s)": round(summary["p95_s"], 2)})
        health = httpx.get(f"{url}/health").json()
    finally:
        process.terminate()
        process.wait(timeout=60)
    print(table(rows, list(rows[0])))
    print(f"\nmachine: {os.cpu_count()} CPUs; LLM loaded: {health['llm_loaded']}; {args.turns} messages per conversation")
    write_report(args.out, "api-concurrency", {"levels": rows, "turns_per_conversation": args.turns})


if __name__ == "__main__":
    main()
