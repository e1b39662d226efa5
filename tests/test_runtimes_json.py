"""JSON under a grammar (`LLMRuntime.generate_json`): on the real default model, llama.cpp and
transformers answer with JSON that the schema's pydantic model accepts, whatever they are asked
and whatever the model would rather write. The endpoint's side is in tests/test_remote_llm.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from bot.config import LLMConfig
from bot.models import resolve_model
from bot.runtimes.base import LLMRuntime, SerialRuntime, closed_schema, schema_key
from bot.runtimes.factory import open_runtime
from bot.runtimes.llamacpp import LlamaCppRuntime
from bot.runtimes.transformers import TransformersRuntime

# Bounded lists and strings keep every answer well inside NEW_TOKENS.
NEW_TOKENS = 150


class Opinion(BaseModel):
    title: str = Field(max_length=24)
    feeling: Literal["like", "dislike", "neutral"]


class Reading(BaseModel):
    intent: Literal["recommend", "feedback", "help"]
    max_price: float | None = None
    opinions: list[Opinion] = Field(max_length=2)
    wants_more: bool


SCHEMA = Reading.model_json_schema()
SYSTEM = "Write what the person's message means as JSON."


def _worked(message: str, answers: list[tuple[str, str]]) -> list[dict[str, str]]:
    turns = [{"role": "system", "content": SYSTEM}]
    for said, answer in answers:
        turns += [{"role": "user", "content": said}, {"role": "assistant", "content": answer}]
    return [*turns, {"role": "user", "content": message}]


EXAMPLES = [
    ("Loved Heat, but Cats was dreadful. Anything else?",
     '{"intent":"feedback","opinions":[{"title":"Heat","feeling":"like"},{"title":"Cats","feeling":"dislike"}],'
     '"wants_more":true}'),
    ("My parcel is late.", '{"intent":"help","opinions":[],"wants_more":false}'),
]
ASKED = [
    _worked("A sci-fi book under 12 dollars, please.", EXAMPLES),
    _worked("Alien was brilliant and I hated Tenet. More like Alien?", EXAMPLES),
    _worked("The tent I bought is broken, what can I do?", EXAMPLES),
]
# Asked for prose, without a word about JSON.
PROSE = [{"role": "user", "content": "Write a short poem about the sea."}]
# Every worked answer says "love", which the schema does not allow: the model would write it next.
LOVING = _worked("I adored Alien.", [
    (said, f'{{"intent":"feedback","opinions":[{{"title":"{title}","feeling":"love"}}],"wants_more":false}}')
    for said, title in [("I adored Heat.", "Heat"), ("Cats? I adored it.", "Cats"), ("I adored Up!", "Up")]
])


@pytest.fixture(scope="module", params=["llama_cpp", "transformers"])
def runtime(request: pytest.FixtureRequest, model_cache: Path) -> LLMRuntime:
    if request.param == "llama_cpp":
        return open_runtime(LLMConfig(), model_cache)
    return TransformersRuntime(resolve_model("default", model_cache), LLMConfig(precision="fp32", runtime="transformers"))


@pytest.mark.parametrize("asked", range(len(ASKED)))
def test_answers_are_json_the_schema_accepts(runtime: LLMRuntime, asked: int) -> None:
    text = runtime.generate_json(ASKED[asked], SCHEMA, NEW_TOKENS)
    Reading.model_validate_json(text)


def test_asked_for_prose_the_model_still_writes_schema_json(runtime: LLMRuntime) -> None:
    assert not runtime.generate(PROSE, 12).lstrip().startswith("{")  # unconstrained: prose
    reading = Reading.model_validate_json(runtime.generate_json(PROSE, SCHEMA, NEW_TOKENS))
    assert len(reading.opinions) <= 2 and all(len(o.title) <= 24 for o in reading.opinions)


def test_a_value_outside_the_enum_never_appears_though_the_model_prefers_it(runtime: LLMRuntime) -> None:
    text = runtime.generate_json(LOVING, SCHEMA, NEW_TOKENS)
    reading = Reading.model_validate_json(text)
    assert reading.opinions and '"love"' not in text
    # Unconstrained, the model would have written "love" there: it leads every allowed value.
    head = text[: text.index('"feeling":"') + len('"feeling":"')]
    scores = {value: runtime.score(LOVING, f'{head}{value}"') for value in ("love", "like", "dislike", "neutral")}
    assert max(scores, key=scores.get) == "love"


def test_llama_cpp_asks_the_grammar_about_the_whole_vocabulary_only_when_it_must(model_cache: Path) -> None:
    """The prefix cache still serves constrained prompts, and where the grammar rejects the
    model's own choice, the shortlist mostly answers (see LlamaCppRuntime._grammar_choice)."""
    runtime = open_runtime(LLMConfig(), model_cache)
    assert isinstance(runtime, LlamaCppRuntime)
    runtime.generate_json(ASKED[0], SCHEMA, NEW_TOKENS)
    runtime.generate_json(ASKED[1], SCHEMA, NEW_TOKENS)
    assert runtime.counters.last_reused > 0.7 * (runtime.counters.last_reused + runtime.counters.last_evaluated)
    Reading.model_validate_json(runtime.generate_json(PROSE, SCHEMA, NEW_TOKENS))
    counters = runtime.counters
    assert counters.last_rejected > 0  # without worked examples, the model's choices are often not JSON
    assert counters.last_vocabulary_checks < counters.last_rejected < counters.last_generated


def test_a_cut_answer_is_the_json_so_far(runtime: LLMRuntime) -> None:
    text = runtime.generate_json(ASKED[1], SCHEMA, 6)
    assert text.startswith('{"') and len(text) < 40


def test_closed_schema_closes_declared_objects_only() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "properties": {"type": "object", "properties": {"x": {"type": "integer"}}},  # a field so named
            "free": {"type": "object", "additionalProperties": {"type": "integer"}},  # a dict field
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "maybe": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]},
        },
        "$defs": {"Item": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }
    closed = closed_schema(schema)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["properties"]["additionalProperties"] is False
    assert "additionalProperties" not in closed["properties"]["properties"]["properties"]  # x is no schema of objects
    assert closed["properties"]["free"]["additionalProperties"] == {"type": "integer"}
    assert closed["$defs"]["Item"]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the caller's schema is left as it was
    # The order of properties is the order the grammar writes them in: cached apart.
    assert schema_key({"b": {}, "a": {}}) != schema_key({"a": {}, "b": {}})


def test_serial_runtime_generates_json_under_its_lock() -> None:
    class Recording:
        description = "recording"

        def __init__(self) -> None:
            self.held: list[bool] = []

        def generate_json(self, messages: Any, schema: dict[str, Any], max_new_tokens: int | None = None) -> str:
            self.held.append(serial._lock.locked())
            return '{"ok":true}'

    inner = Recording()
    serial = SerialRuntime(inner)  # type: ignore[arg-type]
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(serial.generate_json([], {}, 5))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ['{"ok":true}'] * 3 and inner.held == [True] * 3
