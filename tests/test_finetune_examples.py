"""Training examples for `kith finetune`: built from hand-made dialogues and interactions, and
bad files refused with every problem at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.faithfulness import FaithfulnessCheck, ItemFacts, TurnFacts
from finetune.examples import load_examples
from retrieval.datafiles import DataError
from retrieval.schemas import Item
from retrieval.titles import TitleFinder
from tests.conftest import shared_data, write_jsonl, write_two_friends

DEMO = Path(__file__).resolve().parents[1] / "retrieval" / "demo"

FILMS = [
    {"id": "alien", "title": "Alien (1979)", "category": "films", "tags": ["sci-fi", "horror"]},
    {"id": "arrival", "title": "Arrival (2016)", "category": "films", "tags": ["sci-fi", "thoughtful"]},
    {"id": "paddington", "title": "Paddington 2 (2017)", "category": "films", "tags": ["family"]},
    {"id": "heat", "title": "Heat (1995)", "category": "films", "tags": ["crime"]},
    {"id": "up", "title": "Up (2009)", "category": "films", "tags": ["family", "animated"]},
]
DIALOGUE = {
    "id": "d1", "user_id": "ann",
    "turns": [
        {"role": "user", "text": "I loved Arrival. Something like it?", "mentions": [{"item_id": "arrival", "sentiment": "like"}]},
        {"role": "assistant", "text": "Try Alien (1979): tense, and just as smart.", "mentions": [{"item_id": "alien"}]},
        {"role": "user", "text": "Too scary for me, sadly."},
        {"role": "assistant", "text": "Then Paddington 2 (2017), pure warmth.", "mentions": [{"item_id": "paddington"}]},
        {"role": "user", "text": "Thanks!"},
        {"role": "assistant", "text": "Enjoy!"},
    ],
}


def kith_folder(tmp_path: Path) -> Path:
    folder = write_two_friends(tmp_path / "kith-data", FILMS, DIALOGUE, [
        {"user_id": "ann", "item_id": "arrival", "kind": "like", "timestamp": "2026-01-01T10:00:00Z", "visibility": "public"},
        {"user_id": "ann", "item_id": "heat", "kind": "rating", "rating": 2, "timestamp": "2026-01-02T10:00:00Z",
         "visibility": "public"},
        {"user_id": "ann", "item_id": "up", "kind": "rating", "rating": 5, "timestamp": "2026-01-03T10:00:00Z",
         "visibility": "friends"},
        {"user_id": "bob", "item_id": "heat", "kind": "like", "visibility": "public"},
        {"user_id": "bob", "item_id": "alien", "kind": "like", "visibility": "private"},
    ])
    return folder


def test_dialogue_example_is_the_bots_prompt_with_the_recommenders_faithful_turn_as_target(tmp_path: Path) -> None:
    data = load_examples([kith_folder(tmp_path)])
    dialogue = [e for e in data.examples if e.kind == "dialogue"]
    # Alien's facts do not say "tense": the target is the bot's sentence from its facts instead.
    # Nothing in "pure warmth" is a claim the facts lack: the recommender's words stay.
    assert [e.target for e in dialogue] == ["Try Alien (1979) — a sci-fi, horror film.", "Then Paddington 2 (2017), pure warmth."]
    first = dialogue[0]
    system, turn = first.messages
    assert system["role"] == "system" and "films" in system["content"]
    # What the bot knew before the message, in its profile's words: nothing yet (the message
    # itself names Arrival).
    assert turn["content"].startswith('Customer: "I loved Arrival. Something like it?"\nTone: ')
    assert "Recommend: Alien (1979) (film; tags: sci-fi, horror)." in turn["content"]
    # The named item leads; distractors fill the picks and never repeat what the dialogue mentions.
    assert first.candidates[0] == "alien" and len(first.candidates) == 3
    assert not set(first.candidates[1:]) & {"alien", "arrival", "paddington"}
    # The prompt is about the top pick alone: the other picks are not in it.
    assert turn["content"].endswith("Recommend: Alien (1979) (film; tags: sci-fi, horror).")
    # The same turn as an interaction: the seeker's liked items so far, their message, the pick.
    after = [e for e in data.examples if e.kind == "interaction" and e.group == "d1"]
    assert after[0].messages[1]["content"] == "I liked: Arrival (2016). I loved Arrival. Something like it?"
    assert after[0].target == "Alien (1979)"
    assert after[1].messages[1]["content"] == "I liked: Arrival (2016). Too scary for me, sadly."


def test_interaction_examples_follow_time_and_show_only_shared_friend_activity(tmp_path: Path) -> None:
    data = load_examples([kith_folder(tmp_path)])
    ann = [e for e in data.examples if e.group == "user:ann"]
    # Heat was rated 2/5: not a choice she was glad of, so neither history nor target.
    assert [e.target for e in ann] == ["Up (2009)"]
    prompt = ann[0].messages[1]["content"]
    assert prompt.startswith("I liked: Arrival (2016). My friends liked: Heat (1995).")
    assert "Alien" not in prompt  # Bob's like of Alien is private
    # Nor is it training data: without it, Bob's one like (Heat) makes no example.
    assert not [e for e in data.examples if e.group == "user:bob"]


def test_training_reads_public_and_friends_visible_activity_never_private(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_jsonl(folder / "items.jsonl", [
        *FILMS,
        {"id": "secret", "title": "Zqx Private Marker Film", "category": "films"},
        {"id": "shared", "title": "Zqx Friends Marker Film", "category": "films"},
    ])
    write_jsonl(folder / "users.jsonl", [{"id": "ann", "name": "Ann"}, {"id": "bob", "name": "Bob"}])
    write_jsonl(folder / "friendships.jsonl", [{"user_id": "ann", "friend_id": "bob"}])
    day = "2026-01-0{}T10:00:00Z".format
    write_jsonl(folder / "interactions.jsonl", [
        {"user_id": "ann", "item_id": "arrival", "kind": "like", "timestamp": day(1), "visibility": "public"},
        # No visibility given: private, the default.
        {"user_id": "ann", "item_id": "secret", "kind": "review", "rating": 5, "text": "Loved it", "timestamp": day(2)},
        {"user_id": "ann", "item_id": "up", "kind": "like", "timestamp": day(3), "visibility": "public"},
        {"user_id": "ann", "item_id": "heat", "kind": "purchase", "timestamp": day(4), "visibility": "friends"},
        {"user_id": "bob", "item_id": "secret", "kind": "like", "timestamp": day(1), "visibility": "private"},
        {"user_id": "bob", "item_id": "shared", "kind": "like", "timestamp": day(2), "visibility": "friends"},
        {"user_id": "bob", "item_id": "paddington", "kind": "like", "timestamp": day(3), "visibility": "public"},
    ])
    examples = load_examples([folder]).examples
    texts = [" ".join(m["content"] for m in e.messages) + " " + e.target for e in examples]
    assert not [text for text in texts if "Zqx Private Marker Film" in text]
    # Public and friends-visible activity is training data: as history, target and friends' likes.
    friends = "My friends liked: Zqx Friends Marker Film; Paddington 2 (2017). What should I try next?"
    assert [(e.messages[1]["content"], e.target) for e in examples if e.group == "user:ann"] == [
        (f"I liked: Arrival (2016). {friends}", "Up (2009)"),
        (f"I liked: Arrival (2016); Up (2009). {friends}", "Heat (1995)"),
    ]
    bob = [e for e in examples if e.group == "user:bob"]
    assert [(e.messages[1]["content"].split(". ")[0], e.target) for e in bob] == [
        ("I liked: Zqx Friends Marker Film", "Paddington 2 (2017)"),
    ]


def test_bad_files_report_every_problem_at_once(tmp_path: Path) -> None:
    folder = kith_folder(tmp_path)
    write_jsonl(folder / "dialogues.jsonl", [{"id": "d2", "turns": [{"role": "bot", "text": "hi"}]}])
    redial = tmp_path / "conversations.jsonl"
    redial.write_text(
        json.dumps({"conversationId": 1, "initiatorWorkerId": 3, "messages": [{"text": "hi"}]}) + "\n"
        + "{not json\n"
        + json.dumps({"messages": "nope"}) + "\n"
    )
    with pytest.raises(DataError) as raised:
        load_examples([folder, redial, tmp_path / "missing.jsonl"])
    lines = str(raised.value).splitlines()
    assert lines[0] == "7 problem(s) in the input; nothing was written."
    assert f"  {folder / 'dialogues.jsonl'}:1: turns.0.role: Input should be 'user' or 'assistant' (got 'bot')" in lines
    assert f"  {redial}:1: messages.0.senderWorkerId: required field is missing" in lines
    assert any(line.startswith(f"  {redial}:2: not valid JSON") for line in lines)
    assert f"  {redial}:3: conversationId: required field is missing (is this a ReDial conversation?)" in lines
    assert f"  {redial}:3: messages: must be a list of messages" in lines
    assert f"  {tmp_path / 'missing.jsonl'}: no such file or folder" in lines


def test_finetune_command_refuses_bad_data_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "dialogues.jsonl"
    write_jsonl(bad, [{"id": "d", "turns": []}])
    result = CliRunner().invoke(app, ["finetune", "--data", str(bad), "--out", str(tmp_path / "adapter")])
    assert result.exit_code == 2
    assert f"{bad}:1: turns: List should have at least 1 item" in result.stderr
    assert not (tmp_path / "adapter").exists()


def test_a_catalog_alone_teaches_the_reply_format_saying_only_what_its_facts_support() -> None:
    data = load_examples([DEMO])
    generated = [e for e in data.examples if e.origin.startswith("catalog:")]
    assert 50 <= len(generated) <= 600 and {e.kind for e in generated} == {"dialogue"}
    items = {item.id: item for path in sorted(DEMO.glob("items-*.jsonl"))
             for item in (Item(**json.loads(line)) for line in path.open())}
    check = FaithfulnessCheck(TitleFinder((i.id, i.title, 0.0) for i in items.values()), {t for i in items.values() for t in i.tags})
    for example in generated:
        top = items[example.candidates[0]]
        # The bot's own prompt, with the item as the top pick, and a request made of its tags.
        assert f"Recommend: {top.title} (" in example.messages[-1]["content"]
        assert any(tag in example.messages[-1]["content"].split("Tone:")[0] for tag in top.tags)
        assert example.target.startswith(f"Try {top.title} — ")
        facts = TurnFacts((ItemFacts(top.id, top.title, top.category, top.description, tuple(top.tags), top.price),))
        assert check.check(example.target, facts).supported, example.target
        # ...and only what the prompt shows: a description sentence the prompt gives whole.
        said = example.target.split(" — ", 1)[1].rstrip(".")  # its first letter lower-cased after the dash
        assert said.lower() in example.messages[-1]["content"].lower() or said.endswith(("book", "film", "album", "gear")), said


def test_one_kind_of_example_trains_an_adapter_for_one_job(tmp_path: Path) -> None:
    data = load_examples([kith_folder(tmp_path)])
    replies = data.only(["dialogue"])
    assert replies.examples and {e.kind for e in replies.examples} == {"dialogue"}
    assert replies.counts == {"dialogue": data.counts["dialogue"]} and replies.kinds == ("dialogue",)
    with pytest.raises(ValueError, match="unknown kinds of example \\['replies'\\]"):
        data.only(["replies"])
    result = CliRunner().invoke(app, ["finetune", "--data", str(tmp_path / "kith-data"), "--kinds", "chat",
                                      "--out", str(tmp_path / "adapter")])
    assert result.exit_code == 2 and "--kinds: unknown kinds of example ['chat']" in result.stderr
    assert not (tmp_path / "adapter").exists()


def test_redial_conversations_give_both_kinds_of_example() -> None:
    data = load_examples([shared_data("redial") / "valid.jsonl"])
    # Dialogue examples only where the recommender's words claim nothing the facts (in ReDial's
    # conversations, titles alone) lack: 28 of valid's recommender turns ("Have you seen X?"), 60
    # before every content word counted as a claim (the check's rule 8).
    assert data.counts["dialogue"] > 20 and data.counts["interaction"] > 200
    example = next(e for e in data.examples if e.kind == "dialogue")
    assert "@" not in example.target and " ," not in example.target
    assert "\nRecommend: " in example.messages[-1]["content"] and 1 <= len(example.candidates) <= 3


def test_understanding_examples_put_an_opinion_about_a_suggestion_on_the_reply_to_it(tmp_path: Path) -> None:
    """ReDial's seeker labels say whether they liked a movie suggested to them; the example is
    the seeker's first message after the suggestion, which names it only as "it"."""
    conversation = {
        "conversationId": "7", "initiatorWorkerId": 1, "respondentWorkerId": 2,
        "movieMentions": {"111": "Heat (1995)", "222": "Up (2009)"},
        "initiatorQuestions": {"111": {"suggested": 1, "seen": 0, "liked": 0},
                               "222": {"suggested": 0, "seen": 1, "liked": 1}},
        "messages": [
            {"senderWorkerId": 1, "text": "hi, I loved @222 , any ideas?", "messageId": 1},
            {"senderWorkerId": 2, "text": "You could try @111", "messageId": 2},
            {"senderWorkerId": 1, "text": "not for me, I can't stand crime", "messageId": 3},
        ],
    }
    path = write_jsonl(tmp_path / "conversations.jsonl", [conversation])
    examples = [e for e in load_examples([path]).examples if e.kind == "understanding"]
    targets = [json.loads(e.target) for e in examples]
    assert targets[0]["opinions"] == [{"title": "Up (2009)", "feeling": "like", "seen": True}]
    assert "Assistant: You could try Heat (1995)" in examples[1].messages[-1]["content"]
    assert targets[1]["opinions"] == [{"title": "Heat (1995)", "feeling": "dislike", "seen": False}]
    assert "feedback" in targets[1]["intents"]
