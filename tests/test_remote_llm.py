"""The LLM as an OpenAI-compatible endpoint: a real server (llama-cpp-python's, on loopback,
serving the default GGUF) generates what the local llama.cpp runtime generates, and Kith
answers through it end to end."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import Kith
from bot.config import LLMConfig
from bot.models import MARKER, default_gguf
from bot.runtimes.base import EndpointError
from bot.runtimes.factory import choose_runtime, open_runtime
from bot.runtimes.llamacpp import OPENMP_SPINS
from bot.runtimes.remote import OpenAICompatibleRuntime
from tests.conftest import copy_demo, free_port, wait_until_up
from tests.test_runtimes_json import ASKED, NEW_TOKENS, PROSE, SCHEMA, Reading

ASK = [{"role": "system", "content": "You recommend films in one sentence."},
       {"role": "user", "content": "Something for a rainy evening?"}]
SAME_WORDS = 8  # greedy words that must agree between the endpoint and the local runtime


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("sse_starlette") is None or importlib.util.find_spec("starlette_context") is None:
        pytest.skip("llama-cpp-python's server extras are not installed")
    port = free_port()
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    # The server's OpenMP threads wait as the local runtime's do (bot.runtimes.llamacpp): left to
    # spin, on 2 cores shared with other work, its first minutes ran at ~3 s a token, not ~30 ms.
    environment = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": str(OPENMP_SPINS)}
    with log.open("wb") as handle:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "2"],
            stdout=handle, stderr=subprocess.STDOUT, env=environment,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_up(f"{url}/models", server, log, 60)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_endpoint_is_chosen_when_configured() -> None:
    assert choose_runtime(LLMConfig(endpoint="http://127.0.0.1:1/v1")) == "openai"
    assert choose_runtime(LLMConfig()) != "openai"


def test_endpoint_generates_what_the_local_runtime_does(endpoint: str, model_cache: Path) -> None:
    settings = LLMConfig(endpoint=endpoint, repetition_penalty=1.0)
    remote = open_runtime(settings, model_cache)
    assert isinstance(remote, OpenAICompatibleRuntime) and endpoint in remote.description
    local = open_runtime(LLMConfig(runtime="llama_cpp", repetition_penalty=1.0), model_cache)
    prefix = "Try Paddington 2 —"
    remote_text = remote.generate(ASK, max_new_tokens=30, prefix=prefix)
    local_text = local.generate(ASK, max_new_tokens=30, prefix=prefix)
    assert remote_text.split()[:SAME_WORDS] == local_text.split()[:SAME_WORDS]
    # Stop strings end the reply and are kept, as with the local runtimes.
    sentence = remote.generate(ASK, max_new_tokens=40, prefix=prefix, stop=(".", "!", "?"))
    assert sentence[-1] in ".!?" and sentence.count(".") + sentence.count("!") + sentence.count("?") == 1


def test_endpoint_answers_json_the_schema_accepts(endpoint: str, model_cache: Path) -> None:
    """The server constrains the answer (llama-cpp-python's reads the request's GBNF `grammar`):
    asked for prose, it still answers schema JSON, and greedily what the local runtime writes."""
    remote = open_runtime(LLMConfig(endpoint=endpoint), model_cache)
    local = open_runtime(LLMConfig(runtime="llama_cpp"), model_cache)
    for messages in (ASKED[0], PROSE):
        text = remote.generate_json(messages, SCHEMA, NEW_TOKENS)
        Reading.model_validate_json(text)
        assert text[:40] == local.generate_json(messages, SCHEMA, NEW_TOKENS)[:40]


def test_kith_answers_through_the_endpoint(endpoint: str, demo_template: Path, model_cache: Path, tmp_path: Path) -> None:
    kith = Kith.open(copy_demo(demo_template, tmp_path / "data"), "demo", cache_dir=model_cache, llm={"endpoint": endpoint})
    try:
        turn = kith.reply("u01", "I loved Arrival, a thoughtful film please")
        assert turn.recommendations and turn.text.startswith(turn.text.split(" Try ")[0])
        assert turn.recommendations[0].title in turn.text
        assert "OpenAI-compatible" in kith.llm().description
    finally:
        kith.close()


def test_endpoint_converts_the_default_models_tokenizer_only(tmp_path: Path) -> None:
    """It renders prompts and nothing more: the GGUF's weights are never de-quantized here."""
    remote = open_runtime(LLMConfig(endpoint=f"http://127.0.0.1:{free_port()}/v1"), tmp_path)
    (converted,) = (tmp_path / "models").iterdir()
    assert converted.name.endswith("-tokenizer") and (converted / MARKER).is_file()
    assert (converted / "tokenizer.json").is_file() and not list(converted.glob("*.safetensors"))
    assert remote.tokenizer.apply_chat_template(ASK, add_generation_prompt=True, tokenize=False).endswith(
        "Something for a rainy evening?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_unreachable_endpoint_is_a_clear_error(model_cache: Path) -> None:
    remote = open_runtime(LLMConfig(endpoint=f"http://127.0.0.1:{free_port()}/v1"), model_cache)
    with pytest.raises(EndpointError, match="failed"):
        remote.generate(ASK, max_new_tokens=5)
