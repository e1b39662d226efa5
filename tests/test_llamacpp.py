"""The llama.cpp runtime gives the reference (transformers, fp32) answers within a stated
tolerance, attaches a PEFT adapter the way transformers+peft does, and reuses its prefix cache.

Tolerances. Both runtimes run the same Q4_1 weights (transformers de-quantizes them to fp32);
llama.cpp rounds activations to 8 bits inside its 4-bit matrix products, so its log-likelihoods
differ by arithmetic only: at most SCORE_TOLERANCE nats per token, measured ~0.01-0.03. Greedy
replies agree token for token over the first GREEDY_TOKENS tokens on the prompts below.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import prompts
from bot.config import LLMConfig
from bot.llamacpp import OPENMP_SPINS, LlamaCppRuntime
from bot.llm import TransformersRuntime, choose_runtime, open_runtime
from bot.models import ModelNotFound, resolve_model
from bot.reply import ReplyWriter, opening_messages, recommendation_messages
from retrieval.ranking import Recommendation
from retrieval.titles import TitleFinder

SCORE_TOLERANCE = 0.1  # nats per token
GREEDY_TOKENS = 12
ASK = [{"role": "user", "content": "Recommend a film for a rainy evening."}]
CONTINUATIONS = ["Try Paddington 2 — a warm, funny family film.", "Purple seventeen gravel whispers sideways.", "Yes"]


@pytest.fixture(scope="module")
def converted(model_cache: Path) -> Path:
    return resolve_model("default", model_cache)


@pytest.fixture(scope="module")
def reference(converted: Path) -> TransformersRuntime:
    return TransformersRuntime(converted, LLMConfig(precision="fp32", runtime="transformers"))


@pytest.fixture(scope="module")
def fast(model_cache: Path) -> LlamaCppRuntime:
    runtime = open_runtime(LLMConfig(), model_cache)
    assert isinstance(runtime, LlamaCppRuntime)
    return runtime


def test_auto_runtime_is_llama_cpp_for_the_default_4bit_model_on_cpu() -> None:
    assert choose_runtime(LLMConfig()) == "llama_cpp"
    assert choose_runtime(LLMConfig(precision="fp32")) == "transformers"
    assert choose_runtime(LLMConfig(model="/some/hf/folder")) == "transformers"
    with pytest.raises(ModelNotFound, match="runs the default GGUF model only"):
        choose_runtime(LLMConfig(model="/some/hf/folder", runtime="llama_cpp"))


@pytest.mark.skipif(not importlib.metadata.version("torch").endswith("+cpu"), reason="a CUDA torch build is imported to look for a GPU")
def test_llama_cpp_threads_spin_briefly_when_the_bot_loads_it() -> None:
    """Choosing and opening the CPU runtime loads OpenMP with threads that spin briefly, then
    sleep (torch, which would load OpenMP first with threads that spin on, is not imported on a
    CPU-only build)."""
    script = (
        "import sys\n"
        "from bot.config import LLMConfig, load_config\n"
        "from bot.llm import open_runtime\n"
        "runtime = open_runtime(LLMConfig(), load_config().cache_dir)\n"
        "import os\n"
        "print('torch' in sys.modules, os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'),\n"
        "      runtime.prefill_threads >= runtime.threads)\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True)
    assert result.stdout.split() == ["False", "PASSIVE", str(OPENMP_SPINS), "True"]


def test_prompt_tokens_match_the_transformers_chat_template(fast: LlamaCppRuntime, reference: TransformersRuntime) -> None:
    messages = [{"role": "system", "content": "You are Kith."}, *ASK]
    assert fast.prompt_tokens(messages, "Try") == reference._prompt_ids(messages, "Try")[0].tolist()
    assert fast.prompt_tokens(ASK) == reference._prompt_ids(ASK)[0].tolist()


def test_scores_match_the_reference_within_tolerance(fast: LlamaCppRuntime, reference: TransformersRuntime) -> None:
    for continuation in CONTINUATIONS:
        tokens = len(fast.llama.tokenize(continuation.encode(), add_bos=False))
        difference = abs(fast.score(ASK, continuation) - reference.score(ASK, continuation))
        print(f"{continuation!r}: {difference / tokens:.3f} nats/token apart")
        assert difference / tokens <= SCORE_TOLERANCE, (continuation, difference)
    assert fast.score(ASK, CONTINUATIONS[0]) > fast.score(ASK, CONTINUATIONS[1])


def test_greedy_reply_matches_the_reference(fast: LlamaCppRuntime, reference: TransformersRuntime) -> None:
    prompts = [ASK, [{"role": "user", "content": "Name one famous science fiction film."}]]
    for messages in prompts:
        ours = fast.generate(messages, max_new_tokens=GREEDY_TOKENS, prefix="Sure!")
        theirs = reference.generate(messages, max_new_tokens=GREEDY_TOKENS, prefix="Sure!")
        assert ours == theirs


def test_stream_stops_at_a_stop_string_and_keeps_it(fast: LlamaCppRuntime) -> None:
    pieces = list(fast.stream(ASK, max_new_tokens=60, prefix="Try Paddington 2 —", stop=(".", "!", "?")))
    text = "".join(pieces)
    assert len(pieces) >= 2 and text.rstrip()[-1] in ".!?"
    assert sum(text.count(mark) for mark in ".!?") == 1


def test_lora_adapter_changes_output_as_transformers_peft_does(converted: Path, model_cache: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(converted)
    # Random, non-zero A and B on every attention projection (q and k test the head permutation).
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"],
                      init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")

    settings = {"adapter": tmp_path / "adapter"}
    adapted = open_runtime(LLMConfig(**settings), model_cache)
    assert isinstance(adapted, LlamaCppRuntime) and "adapter" in adapted.description
    adapted_reference = open_runtime(LLMConfig(precision="fp32", runtime="transformers", **settings), model_cache)
    plain = open_runtime(LLMConfig(), model_cache)
    continuation = CONTINUATIONS[0]
    tokens = len(plain.llama.tokenize(continuation.encode(), add_bos=False))
    shift = adapted.score(ASK, continuation) - plain.score(ASK, continuation)
    difference = adapted.score(ASK, continuation) - adapted_reference.score(ASK, continuation)
    print(f"adapter shift {shift / tokens:.3f} nats/token; llama.cpp vs peft {difference / tokens:.3f} nats/token")
    assert abs(shift) / tokens > 5 * SCORE_TOLERANCE, "the adapter must visibly change the model"
    assert abs(difference) / tokens <= SCORE_TOLERANCE
    # The converted adapter is cached: a second open does not convert again.
    cached = sorted((model_cache / "adapters").iterdir())
    open_runtime(LLMConfig(**settings), model_cache)
    assert sorted((model_cache / "adapters").iterdir()) == cached


def test_reply_prompts_evaluate_only_their_new_tokens(fast: LlamaCppRuntime) -> None:
    finder = TitleFinder([("alien", "Alien (1979)", 1.0), ("paddington", "Paddington 2 (2017)", 0.5)])
    writer = ReplyWriter(lambda: fast, finder, ["books", "films"])
    picks = [
        Recommendation("paddington", "Paddington 2 (2017)", "films", 1.0, {}, ["your friend Ana rated it 5/5"], 3.99,
                       ["family", "funny"]),
        Recommendation("alien", "Alien (1979)", "films", 0.8, {}, ["popular with the community"], 4.99, ["scary"]),
    ]
    messages = ["a film for a night in", "something funny for the kids", "what else have you got?", "a film please"]
    for message in messages:
        list(writer.stream_recommendation(message, picks, "friendly", []))
    # The system message and the worked examples (most of the prompt) stay in the cache; each
    # turn evaluates its own request and the prefilled opener only, at turn 2 as at turn 20.
    assert fast.counters.last_reused >= 150
    assert fast.counters.last_evaluated < fast.counters.last_reused / 2


def test_prepared_opening_leaves_only_the_turn_to_read(fast: LlamaCppRuntime) -> None:
    """The prompt is read in two steps: after the previous turn up to the person's message
    (`prepare_next`), then the message, the tone, the top pick, the template's turn closing and
    the prefilled opener. The sentence is the same as unprepared."""
    finder = TitleFinder([("paddington", "Paddington 2 (2017)", 0.5)])
    writer = ReplyWriter(lambda: fast, finder, ["books", "films"])
    pick = [Recommendation("paddington", "Paddington 2 (2017)", "films", 1.0, {}, ["your friend Ana rated it 5/5"],
                           3.99, ["family", "funny"])]
    message, profile = "a warm film for a rainy Sunday with my kids", ["likes: Arrival (2016)", "looking for: films"]
    unprepared: list = []
    list(writer.stream_recommendation(message, pick, "friendly", unprepared, profile=profile))
    list(writer.stream_recommendation("something else entirely", pick, "friendly", [], profile=["likes: Heat"]))  # evict

    writer.prepare_next(profile).join()
    before_message = len(fast.opening_tokens(opening_messages(["books", "films"], profile)))
    assert fast.counters.last_reused + fast.counters.last_evaluated == before_message
    # The worked examples stayed in the cache: only the profile line was read.
    assert fast.counters.last_evaluated <= 20

    prepared: list = []
    list(writer.stream_recommendation(message, pick, "friendly", prepared, profile=profile))
    assert prepared[0].text == unprepared[0].text
    # All of the opening but at most its last token (which the message's first may merge with) was reused.
    assert fast.counters.last_reused >= before_message - 1
    full = recommendation_messages(message, pick, "friendly", ["books", "films"], profile=profile)
    # The LLM continues "Try <title> —"; the person sees a tone's opener before it.
    assert prepared[0].text.split(" Try ")[0] in prompts.table("tones")["friendly"]["openers"]
    after_pick = len(fast.prompt_tokens(full, "Try Paddington 2 (2017) —"))
    assert fast.counters.last_evaluated == after_pick - fast.counters.last_reused
    assert fast.counters.last_evaluated <= 70


def test_close_waits_for_the_llms_background_reads() -> None:
    """A read still inside llama.cpp when the interpreter shuts down can crash it (seen as exit
    status 139 from `kith chat`): `ReplyWriter.wait`, which `Kith.close` calls, outlasts them."""
    finished: list[str] = []

    class SlowReader:
        def prepare(self, messages) -> None:  # type: ignore[no-untyped-def]
            time.sleep(0.3)
            finished.append(messages[-1]["content"])

    writer = ReplyWriter(lambda: SlowReader(), TitleFinder([]), ["films"])  # type: ignore[arg-type, return-value]
    writer.prepare_next(["likes: Heat"])
    writer.prepare_next(["likes: Heat", "looking for: films"])
    assert finished == []
    writer.wait()
    # Both reads, in whichever order they ended.
    assert sorted(finished) == ["Profile: likes: Heat.\nCustomer: \"", "Profile: likes: Heat; looking for: films.\nCustomer: \""]
