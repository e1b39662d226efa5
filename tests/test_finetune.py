"""`kith finetune` end to end on the real base model: a few steps on a handful of examples give a
loadable adapter that changes the model's output; an interrupted run continues from its
checkpoint, not from step 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import finetune.train as training
from bot.config import LLMConfig
from bot.models import resolve_model
from bot.runtimes.transformers import TransformersRuntime
from finetune.examples import TrainingData, load_examples
from finetune.train import CHECKPOINT, METADATA, TrainSettings, train
from tests.test_finetune_examples import kith_folder

SETTINGS = TrainSettings(
    max_steps=4, batch_size=2, learning_rate=3e-3, warmup_steps=1, max_length=128, lora_rank=8,
    lora_layers=4, lora_dropout=0.0, eval_every=100, eval_examples=2, checkpoint_every=2,
)


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory: pytest.TempPathFactory, model_cache: Path):
    """Train 4 steps, killed during step 4 (after the checkpoint at step 2); then run again."""
    folder = tmp_path_factory.mktemp("finetune")
    loaded = load_examples([kith_folder(folder)])
    # A handful of reply and interaction examples, so that 4 steps train on most of them.
    data = TrainingData([e for e in loaded.examples if e.kind != "understanding"], loaded.files, loaded.counts)
    out = folder / "adapter"
    losses: list[float] = []
    real_loss = training.reply_loss

    def dying_loss(*args, **kwargs):  # type: ignore[no-untyped-def]
        if len(losses) == 3:
            raise Interrupted
        loss = real_loss(*args, **kwargs)
        losses.append(float(loss.detach()))
        return loss

    patch = pytest.MonkeyPatch()
    patch.setattr(training, "reply_loss", dying_loss)
    with pytest.raises(Interrupted):
        train(data, out, SETTINGS, model_cache, progress_bar=False, report=lambda _: None)
    patch.undo()
    assert json.loads((out / CHECKPOINT / "state.json").read_text())["progress"]["step"] == 2
    metadata = train(data, out, SETTINGS, model_cache, progress_bar=False, report=lambda _: None)
    return out, metadata, losses, data


def test_interrupted_training_continues_from_its_checkpoint(resumed_run) -> None:
    out, metadata, losses, _ = resumed_run
    history = metadata["history"]
    assert history["resumed_from"] == [2]
    assert metadata["metrics"]["steps"] == 4 and len(history["loss"]) == 4
    assert history["loss"][:2] == [round(x, 4) for x in losses[:2]]
    # Step 3 again, from the restored adapter and optimizer, on the same batch: the same loss.
    assert history["loss"][2] == pytest.approx(losses[2], abs=2e-3)
    assert history["evaluations"] and history["evaluations"][-1]["step"] == 4


def test_adapter_folder_is_peft_with_metadata(resumed_run, tmp_path: Path) -> None:
    out, metadata, _, data = resumed_run
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    written = json.loads((out / METADATA).read_text())
    assert written["base_model"]["model"] == "default" and written["base_model"]["precision"] == "nf4"
    assert set(written["data"]) == {str(p.resolve()) for p in data.files}
    assert all(len(digest) == 64 for digest in written["data"].values())
    assert written["parameters"]["lora_rank"] == 8 and written["metrics"]["tokens_per_second"] > 0


def test_adapter_loads_in_the_bots_runtime_and_changes_its_output(resumed_run, model_cache: Path) -> None:
    out, _, _, data = resumed_run
    trained_on, _ = training.held_out_split(data.examples, SETTINGS.eval_examples, SETTINGS.seed)
    example = data.examples[trained_on[0]]
    runtime = TransformersRuntime(resolve_model("default", model_cache), LLMConfig(precision="nf4", adapter=out))
    tuned = runtime.score(list(example.messages), example.target)
    with runtime.model.disable_adapter():
        base = runtime.score(list(example.messages), example.target)
    # A few steps on these examples make their replies clearly more likely.
    assert tuned > base + 1.0


def test_held_out_evaluation_leaves_the_4bit_model_trainable(resumed_run, model_cache: Path) -> None:
    """bitsandbytes repacks 4-bit weights for its CPU inference kernel in eval mode, which its
    training kernel cannot read; evaluating must not change the training loss of a batch."""
    import torch
    from peft import get_peft_model

    _, _, _, data = resumed_run
    model, tokenizer = training.load_base(resolve_model("default", model_cache), "nf4", "cpu")
    model = get_peft_model(model, training._lora(SETTINGS, model.config.num_hidden_layers))
    model.train()
    items, _ = training.tokenize(data.examples[:4], tokenizer, SETTINGS.max_length)
    batch = training.collate(items, tokenizer.eos_token_id, "cpu")
    with torch.no_grad():
        before = float(training.reply_loss(model, *batch))
    held_out = training.evaluate_loss(model, items, tokenizer.eos_token_id, "cpu")
    with torch.no_grad():
        after = float(training.reply_loss(model, *batch))
    assert abs(after - before) < 0.05 and abs(held_out - before) < 0.5
