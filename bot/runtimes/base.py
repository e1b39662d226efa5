"""What every LLM runtime is: a small interface (stream, generate, generate_json, score, prepare),
the messages it reads, the errors any runtime may raise, and `SerialRuntime`, which shares one
runtime between threads.

Callers depend on `LLMRuntime` only, so llama.cpp, transformers or an OpenAI-compatible server
(bot.runtimes.llamacpp, .transformers, .remote; opened by bot.runtimes.factory) can run the LLM
without touching them. This module imports no runtime.
"""

from __future__ import annotations

import copy
import json
import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict


class EndpointError(RuntimeError):
    """The LLM endpoint failed or answered something unusable; the message says which and how."""


class LLMUnavailable(EndpointError):
    """The LLM cannot answer now (an endpoint down, unreachable, timing out, failing with 5xx):
    the reply writer answers without it (bot.reply)."""


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class LLMRuntime(Protocol):
    description: str

    def stream(
        self,
        messages: Sequence[Message],
        max_new_tokens: int | None = None,
        prefix: str = "",
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the assistant's reply to `messages` as text pieces, as they are decoded.

        `prefix` is the start of the reply, given rather than generated (the model continues
        it; it is not yielded). Generation ends at the first of the `stop` strings (included).
        """
        ...

    def generate(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> str:
        """The whole reply (after `prefix`) at once."""
        ...

    def generate_json(
        self, messages: Sequence[Message], schema: dict[str, Any], max_new_tokens: int | None = None
    ) -> str:
        """The reply to `messages` as JSON that conforms to the JSON schema `schema` (as
        pydantic's `model_json_schema()` writes it), the decoding constrained by a grammar made
        from it: greedy, without a repetition penalty (JSON repeats its tokens by nature).
        Objects take only the properties they declare (see `closed_schema`). Cut by
        `max_new_tokens`, it is the JSON so far, unfinished: the caller validates it."""
        ...

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        """Log-likelihood (natural log, summed over tokens) of `continuation` as the assistant's reply."""
        ...

    def prepare(self, messages: Sequence[Message]) -> None:
        """Read the prompt of `messages` as far as the end of the last message's text, so that a
        later call whose last message continues that text reads only the rest. A hint: a runtime
        without a prompt cache does nothing."""
        ...


@dataclass(frozen=True)
class _Failed:
    """What a generating thread hands the consumer when the runtime raised."""

    error: BaseException


class SerialRuntime:
    """One generation at a time through a runtime shared by threads (the HTTP service's
    workers): a model's cache and its CPU threads serve one request well, several badly.

    `stream` generates on a thread of its own, under the lock, into a queue that the caller
    reads without it: the lock is held as long as the generation takes (bounded by its token
    limit), not as long as the caller takes to read, so a client that stops reading a streamed
    reply (a stalled server-sent-events connection) holds up no one else."""

    def __init__(self, runtime: LLMRuntime):
        self.runtime = runtime
        self.description = runtime.description
        self._lock = threading.Lock()

    def stream(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> Iterator[str]:
        pieces: queue.SimpleQueue[str | _Failed | None] = queue.SimpleQueue()  # None: the end
        # Set when the caller closes (or drops) this generator: the rest is wanted by no one.
        abandoned = threading.Event()

        def generate() -> None:
            try:
                with self._lock:
                    if abandoned.is_set():  # closed while another generation held the LLM
                        return
                    generated = self.runtime.stream(messages, max_new_tokens, prefix, stop)
                    try:
                        for piece in generated:
                            if abandoned.is_set():
                                break
                            pieces.put(piece)
                    finally:
                        # Ends the runtime's own generator under the lock (its clean-up may
                        # touch the model).
                        if isinstance(generated, Generator):
                            generated.close()
            except BaseException as error:  # re-raised in the caller's thread below
                pieces.put(_Failed(error))
            else:
                pieces.put(None)

        # Not a daemon: the interpreter's exit waits for it (at most the rest of one bounded
        # generation) rather than stopping it inside the model, which can crash the process.
        worker = threading.Thread(target=generate, name="kith-llm-stream")
        worker.start()
        try:
            while (piece := pieces.get()) is not None:
                if isinstance(piece, _Failed):
                    raise piece.error
                yield piece
        finally:
            abandoned.set()

    def generate(
        self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "", stop: Sequence[str] = ()
    ) -> str:
        with self._lock:
            return self.runtime.generate(messages, max_new_tokens, prefix, stop)

    def generate_json(
        self, messages: Sequence[Message], schema: dict[str, Any], max_new_tokens: int | None = None
    ) -> str:
        with self._lock:
            return self.runtime.generate_json(messages, schema, max_new_tokens)

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        with self._lock:
            return self.runtime.score(messages, continuation)

    def prepare(self, messages: Sequence[Message]) -> None:
        # A hint: while another request holds the LLM, its work comes first; the reply then
        # reads the rest of its prompt itself.
        if self._lock.acquire(blocking=False):
            try:
                self.runtime.prepare(messages)
            finally:
                self._lock.release()


def closed_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with `"additionalProperties": false` on every object schema that says nothing
    of other properties. JSON Schema allows any other property by default, and so do the grammars
    compiled from it by the spec (llguidance, servers' json_schema modes); pydantic's models
    ignore other properties, so a model that wrote some would spend its tokens on nothing.
    llama.cpp's own converter already reads a missing `additionalProperties` as false."""
    closed = copy.deepcopy(schema)
    _close(closed)
    return closed


def _close(node: Any) -> None:
    """Close the object schemas in `node` (a schema), in place, following only the keywords
    that hold schemas (a property may be named like a keyword)."""
    if not isinstance(node, dict):
        return
    if "properties" in node:  # a free-form object (a dict field) stays free
        node.setdefault("additionalProperties", False)
    for keyword in ("properties", "$defs", "definitions", "patternProperties"):
        for child in (node.get(keyword) or {}).values():
            _close(child)
    for keyword in ("items", "additionalProperties", "not", "if", "then", "else"):
        _close(node.get(keyword))
    for keyword in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for child in node.get(keyword) or ():
            _close(child)


def schema_key(schema: dict[str, Any]) -> str:
    """One string per schema, for caching what is compiled from it. Keys keep their order: the
    order of `properties` is the order the grammar writes them in."""
    return json.dumps(schema, separators=(",", ":"))
