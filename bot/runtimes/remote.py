"""An LLM served elsewhere: any OpenAI-compatible `/v1/completions` endpoint (vLLM, llama.cpp's
server, text-generation-inference), for scaling out beyond one process's CPU.

The prompt is rendered here with the model's own chat template (from the tokenizer files of
`llm.model`, a local folder or the default model), then sent as a plain completion. That keeps
Kith's prefilled reply start (`prefix`) exact on every server, which chat endpoints do not
allow. Stop strings are applied here, not by the server, because Kith keeps the stop string
(a sentence's final period) and OpenAI-style servers drop it.

An endpoint that is down (refused or dropped connections, timeouts, 5xx answers) raises
`LLMUnavailable`, which the reply writer answers without the LLM (bot.reply); other failures
(a 4xx: wrong model name or key) are configuration errors and raise `EndpointError`.

`generate_json` asks the server to constrain its answer, in the two forms servers read on
`/v1/completions`: `response_format` (`{"type": "json_schema", ...}`: vLLM, OpenAI-style servers)
and `grammar`, the schema as GBNF (llama-cpp-python's server, which reads no `response_format` on
completions, only on chat completions; llama.cpp's own llama-server, which reads it too). Not
llama-server's `json_schema` field: it refuses a request with both that and `grammar`. Servers
ignore the fields they do not know.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bot.config import LLMConfig
from bot.runtimes.base import EndpointError, LLMUnavailable, Message, closed_schema, schema_key

TIMEOUT_S = 120.0
# A host that is down answers no connection attempt at all; waiting the whole TIMEOUT_S for
# it would hold every turn that long.
CONNECT_TIMEOUT_S = 5.0


class OpenAICompatibleRuntime:
    def __init__(self, settings: LLMConfig, tokenizer_dir: Path):
        from transformers import AutoTokenizer

        if not settings.endpoint:
            raise EndpointError("llm.endpoint is not set: give the server's base URL, e.g. http://127.0.0.1:8001/v1")
        self.settings = settings
        self.base_url = settings.endpoint.rstrip("/")
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        key = os.environ.get(settings.endpoint_key_env, "")
        self._client = httpx.Client(timeout=httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                                    headers={"Authorization": f"Bearer {key}"} if key else {})
        self.description = f"{settings.endpoint_model} at {self.base_url} (OpenAI-compatible)"

    def _prompt(self, messages: Sequence[Message]) -> str:
        return self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)

    def _request(self, prompt: str, max_tokens: int, stream: bool, **extra: object) -> dict[str, object]:
        body: dict[str, object] = {
            "model": self.settings.endpoint_model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": self.settings.temperature,
            "stream": stream,
        }
        # vLLM names it repetition_penalty, llama.cpp's server repeat_penalty; each ignores the other.
        body["repetition_penalty"] = body["repeat_penalty"] = self.settings.repetition_penalty
        body.update(extra)
        return body

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """A transport failure as LLMUnavailable, any other HTTP failure as EndpointError."""
        try:
            yield
        except httpx.TransportError as error:
            raise LLMUnavailable(f"LLM endpoint {self.base_url} failed: {type(error).__name__}: {error}") from error
        except httpx.HTTPError as error:
            raise EndpointError(f"LLM endpoint {self.base_url} failed: {error}") from error

    def _post(self, body: dict[str, object]) -> dict[str, Any]:
        with self._failures():
            response = self._client.post(f"{self.base_url}/completions", json=body)
        _check(response)
        return response.json()

    def stream(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> Iterator[str]:
        body = self._request(self._prompt(messages) + prefix, max_new_tokens or self.settings.max_new_tokens, True)
        produced = ""
        with self._failures(), self._client.stream("POST", f"{self.base_url}/completions", json=body) as response:
            _check(response)
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[len("data:"):].strip()
                if data == "[DONE]":
                    break
                piece = json.loads(data)["choices"][0].get("text", "")
                cut = _first_stop(produced + piece, stop)
                if cut is not None:
                    yield (produced + piece)[len(produced):cut]
                    return  # leaving the block closes the stream: the server stops generating
                produced += piece
                if piece:
                    yield piece

    def generate(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> str:
        return "".join(self.stream(messages, max_new_tokens, prefix, stop)).strip()

    def generate_json(
        self, messages: Sequence[Message], schema: dict[str, Any], max_new_tokens: int | None = None
    ) -> str:
        closed = closed_schema(schema)
        body = self._request(
            self._prompt(messages), max_new_tokens or self.settings.max_new_tokens, False,
            temperature=0.0, repetition_penalty=1.0, repeat_penalty=1.0,
            response_format={"type": "json_schema",
                             "json_schema": {"name": _schema_name(schema), "schema": closed}},
            grammar=_gbnf(schema_key(closed)),
        )
        return str(self._post(body)["choices"][0].get("text", "")).strip()

    def prepare(self, messages: Sequence[Message]) -> None:
        """Nothing: the server manages its own prompt cache."""

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        """Summed log-likelihood of `continuation`, from the server's echoed prompt log-probs
        (OpenAI semantics: token i's log-prob is conditioned on the tokens before it)."""
        prompt = self._prompt(messages)
        body = self._request(prompt + continuation, 1, False, echo=True, logprobs=1)
        logprobs = self._post(body)["choices"][0].get("logprobs") or {}
        offsets, values = logprobs.get("text_offset"), logprobs.get("token_logprobs")
        if not offsets or not values:
            raise EndpointError(f"LLM endpoint {self.base_url} returned no prompt log-probs: it must support echo with logprobs")
        # The echoed text is prompt + continuation + one generated token; keep the continuation's.
        end = len(prompt) + len(continuation)
        return float(sum(v for o, v in zip(offsets, values, strict=False) if len(prompt) <= o < end and v is not None))


def _schema_name(schema: dict[str, Any]) -> str:
    """The schema's title as OpenAI's response_format names a schema (letters, digits, _ and -)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "reply"))[:64]


@functools.lru_cache(maxsize=16)
def _gbnf(schema: str) -> str:
    """The JSON schema (as `schema_key` writes it) as GBNF, by llama-cpp-python's converter,
    which is pure Python (though importing it loads the llama.cpp library)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return json_schema_to_gbnf(schema)


def _first_stop(text: str, stop: Sequence[str]) -> int | None:
    """End of the first stop string in `text` (the stop string is kept), if any."""
    ends = [text.index(s) + len(s) for s in stop if s in text]
    return min(ends) if ends else None


def _check(response: httpx.Response) -> None:
    if response.status_code != 200:
        detail = response.read().decode("utf-8", "replace")[:300]
        failure = LLMUnavailable if response.status_code >= 500 else EndpointError
        raise failure(f"LLM endpoint answered {response.status_code}: {detail}")
