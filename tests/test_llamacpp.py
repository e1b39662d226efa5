"""The llama.cpp runtime gives the reference (transformers, fp32) answers up to arithmetic,
attaches a PEFT adapter the way transformers+peft does, and reuses its prefix cache.

What is compared, and why. Both runtimes run the same Q4_1 weights (transformers de-quantizes
them to fp32, exactly), so they differ by arithmetic only: llama.cpp rounds each activation
vector to 8 bits (Q8_1: blocks of 32 values, one step of max|x|/127 a block) before its 4-bit
matrix products, keeps the K/V cache in fp16, and sums in an order, and with kernels, that
depend on the instruction set (AVX2, AVX-512, NEON). Rounding to a step of max|x|/127 adds noise
of about (max|x|/rms|x|) / (127·√12), 0.3-1% of each product's output; carried through 30 layers
to logits spread over a few nats, it moves a token's log-probability by a few hundredths of a
nat, with a heavy tail. So no bound holds for every token on every CPU (the one-token
continuation "Yes" is 0.14 nats apart with llama.cpp built for AVX2, here as on an AVX2 EPYC,
0.04 built for AVX-512) and greedy replies part at near-ties. What the code guarantees on any
x86-64 (measured here on both builds) and arm64 (NEON rounds activations the same way; not
measured here) is:

- the mean |log p| difference per token over a long teacher-forced text (LONG_REPLY, 305
  tokens) is at most MEAN_TOLERANCE = 0.25 nats, about 4x what is measured: 0.058 with
  llama.cpp built for AVX2 (the Makefile's build) and 0.059 built for AVX-512, on this Xeon
  (median 0.04, max 0.3-0.4); with a LoRA adapter, against transformers+peft, 0.067-0.072;
- the argmax next token is the same at >= TOP1_AGREEMENT = 90% of its positions: measured 97.7%
  (AVX2) and 98.7% (AVX-512), every disagreement at a reference margin under 0.3 nats;
- wherever the reference's top token leads its second by more than CLEAR_MARGIN = 2 nats,
  llama.cpp chooses it, without exception: the largest change llama.cpp makes to that gap was
  0.61 nats on either build (mean 0.09-0.12), so 2 nats is 3.3x the worst case seen (72 of the
  305 positions are that clear). The same over the reference's own greedy replies, with each
  runtime's repetition penalty: those replies can part at a near-tie only (seen: margins <= 0.48).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import prompts
from bot.config import LLMConfig
from bot.models import ModelNotFound, resolve_model
from bot.reply import ReplyWriter, lead, opening_messages, recommendation_messages
from bot.runtimes.factory import choose_runtime, open_runtime
from bot.runtimes.llamacpp import OPENMP_SPINS, LlamaCppRuntime
from bot.runtimes.transformers import TransformersRuntime
from retrieval.ranking import Recommendation
from retrieval.titles import TitleFinder

MEAN_TOLERANCE = 0.25  # nats per token, mean over LONG_REPLY; measured 0.058 (AVX2), 0.059 (AVX-512)
TOP1_AGREEMENT = 0.9  # share of LONG_REPLY's positions; measured 0.977 (AVX2), 0.987 (AVX-512)
CLEAR_MARGIN = 2.0  # nats between the reference's top two tokens; largest change to it seen 0.61
ASK = [{"role": "user", "content": "Recommend a film for a rainy evening."}]
CONTINUATIONS = ["Try Paddington 2 — a warm, funny family film.", "Purple seventeen gravel whispers sideways.", "Yes"]
LONG_ASK = [{"role": "user", "content": "I have a quiet weekend ahead. Could you suggest a few films and a book, "
                                        "and tell me why each one is worth my time?"}]
LONG_REPLY = (
    "Of course! A quiet weekend is the perfect excuse to slow down, so here are a few ideas.\n\n"
    "Start with Paddington 2. It is a warm, funny film about a polite bear who takes a job to buy a birthday "
    "present for his aunt, and then finds himself in prison for a crime he did not commit. The jokes work for "
    "children and adults alike, and the whole story is built on kindness, which makes it a lovely way to spend "
    "a Friday evening.\n\n"
    "If you would like something more thoughtful, watch Arrival. A language expert is asked to talk with "
    "visitors who have landed on Earth, and the way the film plays with memory and time stays with you for "
    "days. It is quiet and patient rather than loud, so give it your full attention.\n\n"
    "For Saturday night, The Grand Budapest Hotel is a fast, colourful adventure about a hotel concierge and "
    "his young friend. Every scene is full of small details, and it is just as much fun the second time.\n\n"
    "Finally, for a book, I would pick A Man Called Ove by Fredrik Backman. It tells the story of a grumpy old "
    "man whose life slowly changes when a young family moves in next door. It is sad in places, but mostly it "
    "is funny and full of hope, and the chapters are short enough to read with a cup of tea on a Sunday "
    "afternoon.\n\nI hope you enjoy your weekend, and let me know if you would like more ideas!"
)
GREEDY_PROMPTS = [ASK, [{"role": "user", "content": "Name one famous science fiction film."}]]
GREEDY_NEW_TOKENS = 60

# llama.cpp's logits, the reference's, one row a token of the target; the target's tokens.
Forced = tuple[np.ndarray, np.ndarray, list[int]]


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
        "from bot.runtimes.factory import open_runtime\n"
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


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    rows = logits.astype(np.float64)
    rows -= rows.max(axis=-1, keepdims=True)
    return rows - np.log(np.exp(rows).sum(axis=-1, keepdims=True))


def _teacher_forced(
    runtime: LlamaCppRuntime, model: Any, prompt: list[int], target: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The next-token logits before each token of `target`, after `prompt`: llama.cpp's (read
    through the runtime, a token at a time as it decodes) and the transformers model's (one pass)."""
    import torch

    ours = runtime.forced_logits(prompt, target)
    with torch.inference_mode():
        theirs = model(input_ids=torch.tensor([prompt + target])).logits[0, len(prompt) - 1 : -1].float().numpy()
    assert ours.shape == theirs.shape == (len(target), runtime.vocabulary_size)
    return ours, theirs


def _token_differences(ours: np.ndarray, theirs: np.ndarray, target: list[int]) -> np.ndarray:
    """How far apart the two log-probabilities of each token of `target` are (nats)."""
    rows = np.arange(len(target))
    return np.abs(_log_softmax(ours)[rows, target] - _log_softmax(theirs)[rows, target])


def _margins(logits: np.ndarray) -> np.ndarray:
    """How far each row's top logit is above its second (nats: log-softmax keeps differences)."""
    top_two = np.sort(logits, axis=-1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


@pytest.fixture(scope="module")
def long_text(fast: LlamaCppRuntime, reference: TransformersRuntime) -> Forced:
    """Both runtimes' logits over LONG_REPLY, teacher-forced after LONG_ASK's prompt."""
    target = fast.llama.tokenize(LONG_REPLY.encode(), add_bos=False)
    assert 250 <= len(target) <= 400
    return (*_teacher_forced(fast, reference.model, fast.prompt_tokens(LONG_ASK), target), target)


def test_log_likelihoods_match_the_reference_per_token(fast: LlamaCppRuntime, long_text: Forced) -> None:
    ours, theirs, target = long_text
    differences = _token_differences(ours, theirs, target)
    print(f"{len(target)} tokens: mean {differences.mean():.4f}, median {np.median(differences):.4f}, "
          f"max {differences.max():.4f} nats/token apart")
    assert differences.mean() <= MEAN_TOLERANCE
    assert fast.score(ASK, CONTINUATIONS[0]) > fast.score(ASK, CONTINUATIONS[1])


def test_top_choices_match_the_reference(long_text: Forced) -> None:
    ours, theirs, target = long_text
    same = ours.argmax(axis=-1) == theirs.argmax(axis=-1)
    margins = _margins(theirs)
    clear = margins > CLEAR_MARGIN
    print(f"top-1 agreement {same.mean():.4f} over {len(target)} positions; {clear.sum()} clear "
          f"(margin > {CLEAR_MARGIN}); disagreements at reference margins {np.round(margins[~same], 3).tolist()}")
    assert same.mean() >= TOP1_AGREEMENT
    assert clear.sum() >= len(target) // 6  # not vacuous
    assert same[clear].all(), np.flatnonzero(clear & ~same).tolist()


def test_greedy_reply_keeps_the_references_clear_choices(fast: LlamaCppRuntime, reference: TransformersRuntime) -> None:
    """The reference's greedy reply, read back through llama.cpp: wherever the reference's
    choice (after the repetition penalty) is clear, llama.cpp's decoding step chooses it too.
    `forced_logits` reads as `stream` decodes, so the greedy replies can part at a near-tie only."""
    import torch
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

    penalty = reference.settings.repetition_penalty
    penalize = RepetitionPenaltyLogitsProcessor(penalty)
    for messages in GREEDY_PROMPTS:
        text = "".join(reference.stream(messages, max_new_tokens=GREEDY_NEW_TOKENS, prefix="Sure!"))
        prompt = fast.prompt_tokens(messages, "Sure!")
        target = fast.llama.tokenize(text.encode(), add_bos=False)
        ours, theirs = _teacher_forced(fast, reference.model, prompt, target)
        sequence = torch.tensor([prompt + target])
        choices, margins = [], []
        for position in range(len(target)):
            # Each runtime's own rule: transformers' processor, Kith's decoding step.
            row = torch.from_numpy(theirs[position : position + 1].copy())
            penalized = penalize(sequence[:, : len(prompt) + position], row)
            margins.append(float(_margins(penalized.numpy())[0]))
            seen = np.unique(np.asarray(prompt + target[:position], dtype=np.intp))
            choices.append((int(penalized.argmax()), fast._choose(ours[position].copy(), seen, penalty)))
        parted = [(position, round(margins[position], 3)) for position, (a, b) in enumerate(choices) if a != b]
        clear = sum(margin > CLEAR_MARGIN for margin in margins)
        print(f"{text!r}: {len(target)} tokens, {clear} clear; parted at (position, margin) {parted}")
        assert clear >= len(target) // 6  # not vacuous
        assert all(margin <= CLEAR_MARGIN for _, margin in parted), parted


def test_stream_stops_at_a_stop_string_and_keeps_it(fast: LlamaCppRuntime) -> None:
    pieces = list(fast.stream(ASK, max_new_tokens=60, prefix="Try Paddington 2 —", stop=(".", "!", "?")))
    text = "".join(pieces)
    assert len(pieces) >= 2 and text.rstrip()[-1] in ".!?"
    assert sum(text.count(mark) for mark in ".!?") == 1


def test_lora_adapter_changes_output_as_transformers_peft_does(
    converted: Path, model_cache: Path, tmp_path: Path, long_text: Forced
) -> None:
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
    assert isinstance(adapted_reference, TransformersRuntime)
    plain, _, target = long_text
    ours, theirs = _teacher_forced(adapted, adapted_reference.model, adapted.prompt_tokens(LONG_ASK), target)
    shift = _token_differences(ours, plain, target).mean()
    difference = _token_differences(ours, theirs, target).mean()
    print(f"adapter shift {shift:.4f}, llama.cpp vs peft {difference:.4f} nats/token over {len(target)} tokens")
    # Measured: shift 1.21, difference 0.072 (AVX2) and 0.067 (AVX-512): far beyond arithmetic.
    assert shift > 3 * MEAN_TOLERANCE, "the adapter must visibly change the model"
    assert difference <= MEAN_TOLERANCE
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
    the prefilled opener. The sentence is the same as unprepared. The opening is everyone's, so
    once read it stays read between turns and people; another prompt evicts it."""
    finder = TitleFinder([("paddington", "Paddington 2 (2017)", 0.5)])
    first = FirstSentenceCounters(fast)
    writer = ReplyWriter(lambda: first, finder, ["books", "films"])  # type: ignore[arg-type, return-value]
    pick = [Recommendation("paddington", "Paddington 2 (2017)", "films", 1.0, {}, ["your friend Ana rated it 5/5"],
                           3.99, ["family", "funny"])]
    message = "a warm film for a rainy Sunday with my kids"
    unprepared: list = []
    list(writer.stream_recommendation(message, pick, "friendly", unprepared))
    before_message = len(fast.opening_tokens(opening_messages(["books", "films"])))
    writer.prepare_next().join()
    assert fast.counters.last_reused + fast.counters.last_evaluated == before_message
    # After a reply the opening is still there: nothing but its last token is read again.
    assert fast.counters.last_evaluated <= 1
    fast.generate([{"role": "user", "content": "Is it raining?"}], max_new_tokens=1)  # another prompt evicts it
    writer.prepare_next().join()
    assert fast.counters.last_evaluated >= before_message - 10

    prepared: list = []
    first.calls.clear()
    list(writer.stream_recommendation(message, pick, "friendly", prepared))
    assert prepared[0].text == unprepared[0].text
    # The turn's first LLM call (a sentence that fails the faithfulness check is written again,
    # a later call that reuses this one's prompt).
    reused, evaluated = first.calls[0]
    # All of the opening but at most its last token (which the message's first may merge with) was reused.
    assert reused >= before_message - 1
    full = recommendation_messages(message, pick, "friendly", ["books", "films"])
    # The LLM continues the pick's lead, "Try <title>, since your friend Ana rated it 5/5 —" (a
    # friend's reason comes first); the person sees a tone's opener before it.
    assert prepared[0].text.split(" Try ")[0] in prompts.table("tones")["friendly"]["openers"]
    after_pick = len(fast.prompt_tokens(full, lead(0, "Paddington 2 (2017)", pick[0].reasons)))
    assert evaluated == after_pick - reused
    # The message, the tone, the pick's facts (kind, tags, price, reasons) and its lead: 88 tokens measured.
    assert evaluated <= 100


class FirstSentenceCounters:
    """The runtime, keeping each reply call's (last_reused, last_evaluated) prompt counters."""

    def __init__(self, runtime: LlamaCppRuntime):
        self.runtime = runtime
        self.calls: list[tuple[int, int]] = []

    def stream(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        try:
            yield from self.runtime.stream(*args, **kwargs)
        finally:  # also when the writer stops a sentence early (its first invented word)
            self.calls.append((self.runtime.counters.last_reused, self.runtime.counters.last_evaluated))

    def prepare(self, messages: Any) -> None:
        self.runtime.prepare(messages)


def test_close_waits_for_the_llms_background_reads() -> None:
    """A read still inside llama.cpp when the interpreter shuts down can crash it (seen as exit
    status 139 from `kith chat`): `ReplyWriter.wait`, which `Kith.close` calls, outlasts them."""
    finished: list[str] = []

    class SlowReader:
        def prepare(self, messages) -> None:  # type: ignore[no-untyped-def]
            time.sleep(0.3)
            finished.append(messages[-1]["content"])

    writer = ReplyWriter(lambda: SlowReader(), TitleFinder([]), ["films"])  # type: ignore[arg-type, return-value]
    writer.prepare_next()
    writer.prepare_next()
    assert finished == []
    writer.wait()
    assert finished == ["Customer: \"", "Customer: \""]  # both reads ended
