"""Scripted evaluation dialogues (evaluation/scripted.py): loading and validation, every expectation
checked on hand-made turns (no LLM), the report, and the starter suite on the demo catalog."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from bot.runtimes.factory import Runtimes
from bot.cli import app
from bot.kith import Kith, KithInputError, Turn
from bot.profile import Constraints, Context, Profile
from evaluation.scripted import (
    CheckResult,
    DialogueResult,
    EvalContext,
    Expect,
    Privacy,
    ScriptedDialogue,
    ScriptedError,
    ScriptedReport,
    ScriptedTurn,
    TurnResult,
    evaluate_turn,
    load_dialogues,
    run_dialogues,
)
from tests.conftest import copy_demo
from bot.sentiment import Sentiment
from retrieval.ranking import FriendActivity, Recommendation
from retrieval.schemas import Item, Interaction
from retrieval.titles import TitleFinder

DIALOGUES = Path(__file__).resolve().parent / "dialogues"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_problems(problems: list[str], expected: list[str]) -> None:
    """Each expected start begins one of the problems, and there are no others."""
    for start in expected:
        assert any(p.startswith(start) for p in problems), f"no problem starting {start!r} in:\n" + "\n".join(problems)
    assert len(problems) == len(expected), "\n".join(problems)


# --- loading --------------------------------------------------------------------------------


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    bad_key = write(tmp_path, "a.yaml", """
catalog: demo
turns:
  - user: "a film"
    expect: {colour: red, tone: friendly}
  - user: "another"
    expect: {top_k: -3}
""")
    bad_type = write(tmp_path, "b.yaml", """
catalog: demo
turns:
  - user: 42
    expect:
      top_k: "five"
      must_exclude: film-001
      asks_clarifying: "yes"
      must_include: [film-006, film-999]
      categories: [film]
      exclude_tags: [scarry]
""")
    bad_catalog = write(tmp_path, "c.yaml", "catalog: shop\nturns:\n  - user: hi\n")
    not_yaml = write(tmp_path, "d.yaml", "catalog: demo\nturns:\n  - user: \"unclosed\n")
    empty = write(tmp_path, "e.yaml", "name: nothing here\nturns: []\n")
    good = write(tmp_path, "f.yaml", "catalog: demo\nturns:\n  - user: hi\n")

    with pytest.raises(ScriptedError) as raised:
        load_dialogues([bad_key, bad_type, bad_catalog, not_yaml, empty, good])
    problems = raised.value.problems
    expected = [
        f"{bad_key}: turns[0].expect.colour: unknown key (allowed: top_k, must_include,",
        f"{bad_key}: turns[1].expect.top_k: must be a positive integer",
        f"{bad_type}: turns[0].user: must be a string",
        f"{bad_type}: turns[0].expect.top_k: must be a positive integer",
        f"{bad_type}: turns[0].expect.must_exclude: must be a list",
        f"{bad_type}: turns[0].expect.asks_clarifying: must be true or false",
        f"{bad_type}: turns[0].expect.must_include[1]: unknown item 'film-999' in catalog 'demo'",
        f"{bad_type}: turns[0].expect.categories[0]: unknown category 'film' in catalog 'demo' (did you mean 'films'?)",
        f"{bad_type}: turns[0].expect.exclude_tags[0]: unknown tag 'scarry' in catalog 'demo' (did you mean 'scary'?)",
        f"{bad_catalog}: catalog: unknown catalog 'shop' (known: demo",
        f"{not_yaml}: line 4, column 1: not valid YAML",
        f"{empty}: turns: must not be empty",
        f"{empty}: catalog: required",
    ]
    assert_problems(problems, expected)
    assert str(good) not in str(raised.value)
    # The message lists them all too.
    assert all(p in str(raised.value) for p in problems)


def test_a_valid_file_loads_with_its_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "cold-start.yaml", """
catalog: demo
turns:
  - user: "recommend something"
    expect: {asks_clarifying: true, max_price: 15, profile_constraints: {length: short, max_price: null}}
  - user: "a film"
""")
    [dialogue] = load_dialogues([path])
    assert (dialogue.name, dialogue.user, dialogue.catalog, dialogue.file) == ("cold-start", "scripted-cold-start", "demo", path)
    assert dialogue.turns[0].expect.top_k == 5 and dialogue.turns[0].expect.max_price == 15
    assert dialogue.turns[0].expect.profile_constraints.model_fields_set == {"length", "max_price"}
    assert dialogue.turns[1].expect == Expect()


def test_folders_are_read_for_their_yaml_files_and_only_true_is_accepted_for_flags(tmp_path: Path) -> None:
    write(tmp_path, "x.yaml", "catalog: demo\nturns:\n  - user: hi\n    expect: {no_private_activity: false}\n")
    write(tmp_path, "notes.txt", "not a dialogue")
    with pytest.raises(ScriptedError) as raised:
        load_dialogues([tmp_path])
    assert raised.value.problems == [
        f"{tmp_path / 'x.yaml'}: turns[0].expect.no_private_activity: must be true (omit the key to skip the check)"
    ]


# --- each expectation on a hand-made turn ------------------------------------------------------

ITEMS = {
    "film-a": Item(id="film-a", title="Alien (1979)", category="films", tags=["sci-fi", "horror", "scary"],
                   price=7.99, attributes={"year": 1979}),
    "film-b": Item(id="film-b", title="Paddington 2 (2017)", category="films", tags=["family", "funny"],
                   price=3.99, attributes={"year": 2017}),
    "book-c": Item(id="book-c", title="The Hobbit", category="books", tags=["fantasy", "kids"], price=10.99,
                   attributes={"year": 1937}),
    "film-d": Item(id="film-d", title="Titanic (1997)", category="films", tags=["romance"], price=19.0,
                   attributes={"year": 1997}),
    "book-e": Item(id="book-e", title="Pride and Prejudice", category="books", tags=["romance"], price=8.99),
    "film-e": Item(id="film-e", title="Pride & Prejudice (2005)", category="films", tags=["romance"], price=7.99,
                   attributes={"year": 2005}),
}
FINDER = TitleFinder((item.id, item.title, 1.0 if item.id == "film-e" else 0.5) for item in ITEMS.values())


def rec(item_id: str, reasons: list[str] | None = None) -> Recommendation:
    item = ITEMS[item_id]
    return Recommendation(item.id, item.title, item.category, 1.0, {"semantic": 1.0}, reasons or ["a close match"],
                          item.price, list(item.tags))


BOB = FriendActivity("u-bob", "Bob Stone", "film-b", "Paddington 2 (2017)", "rating", 5.0, "Pure joy.", 0.8)


def make_turn(**changes) -> Turn:
    fields = dict(
        text="Here's an idea. Try Paddington 2 (2017) — a delight.\n\nAlso worth a look:\n"
             "1. The Hobbit (books, 10.99) — because you liked Alien (1979)",
        recommendations=[rec("film-b", ["your friend Bob Stone rated it 5/5: \"Pure joy.\""]), rec("book-c"), rec("film-a")],
        profile=Profile(likes=["film-d"], dislikes=["film-a"],
                        constraints=Constraints(categories=["films"], max_price=15, excluded_tags=["scary"]),
                        context=Context(audience="kids", mood="down")),
        sentiment=Sentiment(polarity=0.6, strength=0.6, label="positive", mood="neutral"),
        session_id="s1",
        tone="friendly",
        asked_clarifying=False,
        friends_activity=[BOB],
        timings={"reply": 1.0},
    )
    fields.update(changes)
    return Turn(**fields)


def context(**changes) -> EvalContext:
    fields = dict(
        user_id="me",
        items=ITEMS,
        find_titles=lambda text: [found.item_id for found in FINDER.find(text)],
        history_likes=["film-a"],
        user_names={"u-bob": "Bob Stone", "u-eve": "Eve Hart", "me": "Me"},
        privacy=Privacy(
            pairs={("u-eve", "film-b"), ("u-eve", "book-c")},
            notes=[("u-eve", "Secretly bought The Hobbit for my nephew, who adores dragons and maps."),
                   ("me", "my own private words about everything under the sun")],
            shared_texts=["Pure joy."],
        ),
    )
    fields.update(changes)
    return EvalContext(**fields)


def check(expect: dict, turn: Turn | None = None, ctx: EvalContext | None = None) -> CheckResult:
    """The single check that `expect` (one key, maybe with top_k) produces."""
    results = evaluate_turn(Expect.model_validate(expect), turn or make_turn(), ctx or context())
    assert len(results) == 1, results
    return results[0]


@pytest.mark.parametrize(
    ("expect", "passed", "reason"),
    [
        ({"must_include": ["film-b", "film-a"]}, True, "film-b at rank 1; film-a at rank 3 of top 5 (only 3 given)"),
        ({"must_include": ["film-a"], "top_k": 2}, False, "film-a not in top 2: film-b, book-c"),
        ({"must_include_any": ["film-d", "book-c"]}, True, "book-c at rank 2"),
        ({"must_include_any": ["film-d", "film-e"]}, False, "none of film-d, film-e in top 5"),
        ({"must_exclude": ["film-d"]}, True, "none of film-d in top 5"),
        ({"must_exclude": ["film-d", "film-a"]}, False, "film-a at rank 3 of top 5"),
        ({"must_exclude": ["film-a"], "top_k": 2}, True, "none of film-a in top 2"),
        ({"categories": ["films", "books"]}, True, "all 3 in films, books"),
        ({"categories": ["films"]}, False, "book-c is 'books'"),
        ({"exclude_tags": ["romance"]}, True, "none of 3 tagged romance"),
        ({"exclude_tags": ["scary", "kids"]}, False, "book-c (rank 2) tagged kids; film-a (rank 3) tagged scary"),
        ({"exclude_tags": ["scary"], "top_k": 2}, True, "none of 2 tagged scary"),
        ({"max_price": 11}, True, "prices 3.99 to 10.99 within 11"),
        ({"max_price": 8}, False, "book-c costs 10.99 (limit 8)"),
        ({"min_price": 3}, True, "prices 3.99 to 10.99 within 3"),
        ({"min_price": 5}, False, "film-b costs 3.99 (limit 5)"),
        ({"min_year": 1930}, True, "years 1937 to 2017, limit 1930"),
        ({"min_year": 1950}, False, "book-c is from 1937 (limit 1950)"),
        ({"max_year": 2017}, True, "years 1937 to 2017, limit 2017"),
        ({"max_year": 2000}, False, "film-b is from 2017 (limit 2000)"),
        ({"sentiment": "positive"}, True, "sentiment was 'positive' (polarity +0.60)"),
        ({"sentiment": "negative"}, False, "sentiment was 'positive' (polarity +0.60), expected 'negative'"),
        ({"tone": "friendly"}, True, "tone was 'friendly' (mood 'neutral')"),
        ({"tone": "apologetic"}, False, "tone was 'friendly' (mood 'neutral'), expected 'apologetic'"),
        ({"asks_clarifying": False}, True, "did not ask a clarifying question"),
        ({"asks_clarifying": True}, False, "did not ask a clarifying question, expected asks_clarifying: true"),
        ({"profile_likes": ["film-d"]}, True, "film-d in likes"),
        ({"profile_likes": ["film-d", "film-b"]}, False, "film-b not in likes: film-d"),
        ({"profile_dislikes": ["film-a"]}, True, "film-a in dislikes"),
        ({"profile_dislikes": ["film-d"]}, False, "film-d not in dislikes: film-a"),
        ({"profile_likes": []}, False, "likes: film-d"),  # [] asks for none at all
        ({"profile_constraints": {"excluded_tags": ["scary"], "max_price": 15}}, True, None),
        ({"profile_constraints": {"max_price": None}}, False, "max_price was 15, expected None"),
        ({"profile_constraints": {"categories": ["books"], "length": None}}, False,
         "categories was ['films'], expected ['books']"),
        ({"profile_context": {"audience": "kids", "occasion": None}}, True, None),
        ({"profile_context": {"mood": "excited"}}, False, "mood was 'down', expected 'excited'"),
        ({"reply_contains": ["PADDINGTON", "also worth"]}, True, "reply has 'PADDINGTON', 'also worth'"),
        ({"reply_contains": ["paddington", "Titanic"]}, False, "reply lacks 'Titanic'"),
        ({"reply_excludes": ["Titanic"]}, True, "reply has none of 'Titanic'"),
        ({"reply_excludes": ["titanic", "a DELIGHT"]}, False, "reply contains 'a DELIGHT'"),
        ({"friends_activity": True}, True, "used 1 friend activity (from u-bob)"),
        ({"friends_activity": False}, False, "used 1 friend activity (from u-bob)"),
        ({"friend_reason": True}, True, "film-b (rank 1): your friend Bob Stone rated it 5/5"),
        ({"mentions_only_recommended": True}, True, "the reply names film-b, book-c, film-a"),
    ],
)
def test_each_expectation_passes_or_fails_with_a_concrete_reason(expect: dict, passed: bool, reason: str | None) -> None:
    result = check(expect)
    assert result.check == next(k for k in expect if k != "top_k")
    assert result.passed is passed, result.reason
    if reason is not None:
        assert reason in result.reason


def test_item_checks_fail_on_a_turn_without_recommendations() -> None:
    turn = make_turn(recommendations=[], text="I couldn't find anything that fits.")
    expect = Expect(must_include=["film-a"], must_exclude=["film-a"], must_include_any=["film-a"], categories=["films"],
                    exclude_tags=["scary"], max_price=10, min_year=1900, friend_reason=True, tone="friendly")
    results = {r.check: r for r in evaluate_turn(expect, turn, context())}
    for name in ("must_include", "must_exclude", "must_include_any", "categories", "exclude_tags", "max_price",
                 "min_year", "friend_reason"):
        assert not results[name].passed and results[name].reason == "the turn had no recommendations"
    assert results["tone"].passed


def test_friend_reason_needs_a_reason_backed_by_the_turns_activity() -> None:
    # A reason naming a friend whose activity the turn did not use does not count.
    turn = make_turn(friends_activity=[])
    result = check({"friend_reason": True}, turn)
    assert not result.passed and result.reason == "no pick in top 5 (only 3 given) cites a friend's activity"


def test_mentions_only_recommended_catches_an_unranked_title_and_accepts_same_named_items() -> None:
    outside = make_turn(text="Try Paddington 2 — or Titanic (1997), which everyone loves.",
                        profile=Profile())
    result = check({"mentions_only_recommended": True}, outside)
    assert not result.passed and result.reason == "the reply names film-d, neither recommended nor liked by the person"
    # The person's own likes (profile, or stored history: film-a) may be named.
    own = make_turn(text="Try Paddington 2 (2017), because you liked Alien (1979) and Titanic (1997).")
    assert check({"mentions_only_recommended": True}, own).passed
    # "Pride and Prejudice" finds the more popular film; the recommended book has the same name.
    homonym = make_turn(text="Try Pride and Prejudice (books, 8.99).", recommendations=[rec("book-e")])
    assert check({"mentions_only_recommended": True}, homonym).passed


def test_friends_named_truthfully() -> None:
    honest = make_turn(text="Try Paddington 2 — your friend Bob rated it 5/5, and your friend Bob Stone agrees.")
    assert check({"friends_named_truthfully": True}, honest).passed
    invented = make_turn(text="Try Paddington 2 — your friend Angel rated it 3/5.")
    result = check({"friends_named_truthfully": True}, invented)
    assert not result.passed and result.reason == "the reply names 'Angel' as a friend; the turn's friends: Bob Stone"
    assert check({"friends_named_truthfully": True}, make_turn(text="Try Paddington 2.")).reason == "the reply names no friend"


def test_no_private_activity_passes_on_shared_activity() -> None:
    # Bob's rating is shared; "Pure joy." is a shared text; naming The Hobbit quotes no one.
    result = check({"no_private_activity": True})
    assert result.passed, result.reason
    # The user's own private words may come back to them.
    own = make_turn(text="my own private words about everything under the sun")
    assert check({"no_private_activity": True}, own).passed
    # Naming an item is not quoting a note that names it: titles are cut out of private notes.
    note = Privacy(notes=[("u-eve", "Bought Pride and Prejudice for my mum")])
    titled = make_turn(text="Try Pride and Prejudice for my mum's birthday.", recommendations=[rec("book-e")])
    assert check({"no_private_activity": True}, titled, context(privacy=note)).passed
    untitled = make_turn(text="Something bought for my mum, and loved.")
    note = Privacy(notes=[("u-eve", "Something bought for my mum")])
    assert not check({"no_private_activity": True}, untitled, context(privacy=note)).passed


@pytest.mark.parametrize(
    ("changes", "leak"),
    [
        ({"friends_activity": [FriendActivity("u-eve", "Eve Hart", "film-b", "Paddington 2 (2017)", "purchase", None, "", 1.0)]},
         "friends_activity holds u-eve's private activity on film-b"),
        ({"recommendations": [rec("book-c", ["your friend Eve Hart bought it"])]},
         "book-c's reason cites u-eve's private activity"),
        ({"text": "Try Paddington 2 (2017) — Eve loved it."},
         "the reply names Eve Hart with film-b, known only from their private activity"),
        ({"text": "Try The Hobbit, perfect for my nephew, who adores dragons and maps."},
         "the reply quotes u-eve's private note: 'for my nephew who adores dragons'"),
        ({"recommendations": [rec("film-b", ['your friend Bob Stone said: "my nephew, who adores dragons and maps"'])]},
         "film-b's reason quotes u-eve's private note"),
    ],
)
def test_no_private_activity_catches_each_kind_of_leak(changes: dict, leak: str) -> None:
    result = check({"no_private_activity": True}, make_turn(**changes))
    assert not result.passed
    assert leak in result.reason, result.reason


# --- the report --------------------------------------------------------------------------------


def test_report_summary_json_and_timings() -> None:
    good = DialogueResult("Good one", "d/good.yaml", "demo", "u01", [
        TurnResult(0, "a film", "Try X.", ["film-a"], [CheckResult("tone", True, "tone was 'friendly'")],
                   {"reply": 1.0, "total": 1.5}),
    ])
    bad = DialogueResult("Bad one", "d/bad.yaml", "demo", "u02", [
        TurnResult(0, "no, not those", "Try Y.", ["film-b"], [
            CheckResult("tone", False, "tone was 'friendly', expected 'apologetic'"),
            CheckResult("must_exclude", True, "none of film-a in top 5"),
        ], {"reply": 3.0, "total": 3.5}),
        TurnResult(1, "ok", "Try Z.", [], [CheckResult("turn", False, "not run: turn 1 failed")], {}),
    ])
    report = ScriptedReport([good, bad], seconds=12.0)
    assert not report.passed and (report.passed_count, report.total) == (2, 4)
    summary = report.summary()
    lines = summary.splitlines()
    assert lines[0] == "✓ Good one (d/good.yaml): 1/1"
    assert lines[1] == "✗ Bad one (d/bad.yaml): 1/3"
    assert "- Bad one, turn 1 ('no, not those'): tone: tone was 'friendly', expected 'apologetic'" in lines
    assert "- Bad one, turn 2 ('ok'): turn: not run: turn 1 failed" in lines
    assert lines[-1] == "Total: 1/2 dialogues passed, 2/4 checks passed in 12.0 s"
    timings = report.timings()
    assert timings["reply"] == {"p50_s": 2.0, "p95_s": 3.0, "n": 2}
    data = json.loads(json.dumps(report.to_json()))
    assert data["passed"] is False and data["passed_count"] == 2 and data["total"] == 4
    assert data["dialogues"][1]["turns"][0]["checks"][0] == {
        "check": "tone", "passed": False, "reason": "tone was 'friendly', expected 'apologetic'"}
    assert data["dialogues"][0]["turns"][0]["reply"] == "Try X." and data["timings"]["total"]["n"] == 2
    assert ScriptedReport([good]).passed


class FakeKith:
    """Enough of Kith for the runner: sessions, profiles, errors (no models)."""

    catalog = "demo"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.profiles = {"u01": Profile(likes=["film-d"])}
        self.ranker = SimpleNamespace(stats=SimpleNamespace(items=ITEMS, user_names={}),
                                      own_history=lambda user: ([], [], set()))
        self.finder = FINDER
        self.stores = SimpleNamespace(database=SimpleNamespace(interactions=lambda catalog: [
            Interaction(user_id="u-eve", item_id="film-b", kind="purchase", visibility="private")]))
        self.closed = False

    def profile(self, user: str) -> Profile:
        return self.profiles.get(user, Profile())

    def set_profile(self, user: str, profile: Profile) -> None:
        self.profiles[user] = profile

    def reply(self, user: str, message: str, session_id: str | None = None, context: object = None) -> Turn:
        self.calls.append((user, message, session_id))
        if message == "boom":
            raise KithInputError("message is too long")
        assert self.profiles[user] == Profile() or user != "u01"
        return make_turn(session_id="session-1", profile=Profile(likes=["book-c"]))

    def close(self) -> None:
        self.closed = True


def test_runner_passes_the_session_on_resets_profiles_and_reports_failed_turns(tmp_path: Path, monkeypatch) -> None:
    fake = FakeKith()
    monkeypatch.setattr(Kith, "open", classmethod(lambda cls, data_dir, catalog, **config: fake))
    one = ScriptedDialogue("one", tmp_path / "one.yaml", "demo", "u01", [
        ScriptedTurn(user="first", expect=Expect(profile_likes=["book-c"], tone="friendly")),
        ScriptedTurn(user="second", expect=Expect(must_exclude=["film-a"])),
    ])
    two = ScriptedDialogue("two", tmp_path / "two.yaml", "demo", "scripted-two", [
        ScriptedTurn(user="boom", expect=Expect(tone="friendly")),
        ScriptedTurn(user="never sent", expect=Expect(tone="friendly")),
    ])
    report = run_dialogues([one, two], tmp_path / "data")
    assert fake.calls == [("u01", "first", None), ("u01", "second", "session-1"), ("scripted-two", "boom", None)]
    one, two = report.dialogues
    assert (one.passed_count, one.total) == (2, 3)  # film-a is at rank 3
    assert one.turns[1].checks[0].reason == "film-a at rank 3 of top 5 (only 3 given)"
    assert two.turns[0].checks[0].reason == "the turn raised KithInputError: message is too long"
    assert two.turns[1].checks[0].reason == "not run: turn 1 failed"
    # Each dialogue started from an empty stored profile; the earlier one is back afterwards.
    assert fake.profiles["u01"] == Profile(likes=["film-d"]) and fake.closed


def test_runner_checks_ids_against_the_opened_catalog(tmp_path: Path, monkeypatch) -> None:
    # `load_dialogues` checked the ids against the bundled demo; the data folder's catalog differs.
    fake = FakeKith()
    monkeypatch.setattr(Kith, "open", classmethod(lambda cls, data_dir, catalog, **config: fake))
    path = write(tmp_path, "x.yaml", "catalog: demo\nturns:\n  - user: hi\n    expect: {must_include: [film-001]}\n")
    with pytest.raises(ScriptedError) as raised:
        run_dialogues(load_dialogues([path]), tmp_path / "data")
    assert raised.value.problems[0].startswith(f"{path}: turns[0].expect.must_include[0]: unknown item 'film-001'")
    assert fake.calls == [] and fake.closed


def test_the_command_writes_the_report_and_the_latency_plot_and_exits_1_on_a_failure(tmp_path: Path, monkeypatch) -> None:
    fake = FakeKith()
    monkeypatch.setattr(Kith, "open", classmethod(lambda cls, data_dir, catalog, **config: fake))
    path = write(tmp_path, "x.yaml", "catalog: demo\nuser: u02\nturns:\n  - user: hi\n    expect: {tone: apologetic}\n")
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "eval", "dialogues", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output  # the reply's tone is not apologetic
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["passed"] is False and set(report["timings"]) == {"reply"}  # the stages the turn timed
    assert (tmp_path / "out" / "latency.png").stat().st_size > 0


# --- the starter suite, on the real product ------------------------------------------------------


class QuickLLM:
    """Writes one sentence, instantly: the runner's replies without a model."""

    description = "quick"

    def stream(self, messages, max_new_tokens=None, prefix="", stop=()):  # type: ignore[no-untyped-def]
        yield " a fine pick."

    def generate(self, messages, max_new_tokens=None, prefix="", stop=()):  # type: ignore[no-untyped-def]
        return "a fine pick."

    def score(self, messages, continuation) -> float:  # type: ignore[no-untyped-def]
        return 0.0

    def prepare(self, messages) -> None:  # type: ignore[no-untyped-def]
        pass


def open_quickly(monkeypatch: pytest.MonkeyPatch) -> list[Kith]:
    """From here on, `Kith.open` gives a Kith whose LLM is QuickLLM; the list collects them."""
    opened: list[Kith] = []
    original = Kith.open.__func__  # type: ignore[attr-defined]

    def open_quick(cls, *args, **config):  # type: ignore[no-untyped-def]
        kith = original(cls, *args, **config)
        kith.runtimes = Runtimes.of(QuickLLM())  # type: ignore[arg-type]
        opened.append(kith)
        return kith

    monkeypatch.setattr(Kith, "open", classmethod(open_quick))
    return opened


def test_the_starter_suite_passes_on_the_demo_catalog(tmp_path: Path, demo_template: Path, monkeypatch) -> None:
    """The dialogues with a check that guards what the LLM may write (the titles and friends it
    names, private activity) run on the real LLM; the others, whose checks read what code decides
    and writes (the picks, the profile, the understanding, the reply's rule-written parts), with
    an instant writer. The LLM's sentences are most of a turn's time; the whole suite on the LLM
    is `kith eval dialogues tests/dialogues`."""
    dialogues = load_dialogues(sorted(DIALOGUES.glob("*.yaml")))
    guarded = [d for d in dialogues if d.guards_llm_words]
    assert len(dialogues) >= 25 and 0 < len(guarded) < len(dialogues)
    real = run_dialogues(guarded, copy_demo(demo_template, tmp_path / "real"))
    print(real.summary())
    assert real.passed, real.summary()
    assert real.total >= 40 and {"rank", "reply", "total"} <= set(real.timings())
    json.dumps(real.to_json())

    open_quickly(monkeypatch)
    quick = run_dialogues([d for d in dialogues if not d.guards_llm_words], copy_demo(demo_template, tmp_path / "quick"))
    print(quick.summary())
    assert quick.passed and quick.total >= 400, quick.summary()


# --- understanding expectations, scripted assistant lines, readers side by side -----------------

from evaluation.scripted import (  # noqa: E402
    ReaderComparison,
    UnderstandingExpect,
    evaluate_understanding,
    parse_readers,
    run_readers,
)
from bot.understanding import ItemOpinion, Understanding  # noqa: E402


def test_understanding_keys_and_assistant_lines_are_validated_with_file_and_path(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", """
catalog: demo
turns:
  - assistant: "You might like Arrival (2016)."
    names: [film-005, film-999]
  - user: "loved it"
    expect:
      understanding:
        colour: red
        opinions: {film-005: love, film-998: like}
        seen: {film-997: true}
        categories: [film]
        tags: [scarry]
        avoid: [horror]
        take_back: [budgett]
        intents: [chat]
  - user: "x"
    expect: {understanding: {opinions_only: true}}
  - assistant: "Try Alien."
    expect: {tone: warm}
  - user: "y"
    names: [film-001]
  - expect: {tone: warm}
""")
    with pytest.raises(ScriptedError) as raised:
        load_dialogues([bad])
    problems = raised.value.problems
    at = f"{bad}: turns[1].expect.understanding"
    expected = [
        f"{bad}: turns[0].names[1]: unknown item 'film-999' in catalog 'demo'",
        f"{at}.colour: unknown key (allowed: intents, opinions, opinions_only, seen,",
        f"{at}.opinions.film-005: must be one of 'like', 'dislike' or 'neutral'",
        f"{at}.opinions.film-998: unknown item 'film-998' in catalog 'demo'",
        f"{at}.seen.film-997: unknown item 'film-997'",
        f"{at}.categories[0]: unknown category 'film' in catalog 'demo' (did you mean 'films'?)",
        f"{at}.tags[0]: unknown tag 'scarry' in catalog 'demo' (did you mean 'scary'?)",
        f"{at}.take_back[0]: unknown tag, item or constraint (budget, era, length, category) 'budgett' "
        "in catalog 'demo' (did you mean 'budget'?)",
        f"{at}.intents[0]: must be one of 'recommend', 'help'",
        f"{bad}: turns[2].expect.understanding: opinions_only needs opinions (write `opinions: {{}}` for none at all)",
        f"{bad}: turns[3]: a scripted assistant line has no expect",
        f"{bad}: turns[4]: names belongs to an assistant line",
        f"{bad}: turns[5]: needs user (the message) or assistant (a scripted reply)",
    ]
    assert_problems(problems, expected)


def test_a_dialogue_with_an_assistant_line_and_understanding_loads() -> None:
    [dialogue] = load_dialogues([Path(__file__).resolve().parents[1] / "bench" / "understanding" / "a15-alien-yes-shark-no.yaml"])
    assistant, person = dialogue.turns
    assert assistant.is_assistant and assistant.names == ["film-001", "film-020"] and assistant.expect == Expect()
    wanted = person.expect.understanding
    assert wanted.opinions == {"film-001": "like", "film-020": "dislike"} and wanted.opinions_only
    assert wanted.seen == {"film-001": True, "film-020": True}


def read(**fields) -> Understanding:
    return Understanding(reader={"intents": "rules", "opinions": "llm", "constraints": "rules", "tastes": "rules",
                                 "context": "llm"}, **fields)


UNDERSTOOD = read(
    intents=["feedback", "recommend"],
    opinions=[ItemOpinion(item_id="film-a", feeling="like", seen=True), ItemOpinion(item_id="film-b", feeling="dislike")],
    rejects_suggestions=False, categories=["films"], tags=["funny", "family"], avoid=["scary"], max_price=20.0,
    min_year=1980, max_year=1989, length="short", occasion="my dad's 60th birthday", audience="dad",
    take_back=["budget", "horror"],
)


@pytest.mark.parametrize(
    ("expect", "check", "passed", "reason"),
    [
        ({"intents": ["recommend", "feedback"]}, "understanding.intents", True, "[rules] intents were feedback, recommend"),
        ({"intents": ["feedback"]}, "understanding.intents", False, "intents were feedback, recommend, expected feedback"),
        ({"opinions": {"film-a": "like"}}, "understanding.opinions", True, "[llm] film-a like, film-b dislike"),
        ({"opinions": {"film-a": "like"}, "opinions_only": True}, "understanding.opinions", False, "also film-b dislike"),
        ({"opinions": {"film-b": "neutral"}}, "understanding.opinions", False, "film-b was dislike, expected neutral"),
        ({"opinions": {"book-c": "like"}}, "understanding.opinions", False, "no opinion about book-c (expected like)"),
        ({"opinions": {}, "opinions_only": True}, "understanding.opinions", False, "also film-a like; also film-b dislike"),
        ({"seen": {"film-a": True}}, "understanding.opinions.seen", True, "film-a seen True"),
        ({"seen": {"film-b": False}}, "understanding.opinions.seen", False, "film-b seen was None, expected False"),
        ({"rejects_suggestions": True}, "understanding.opinions.rejects_suggestions", False, "rejects_suggestions was False"),
        ({"categories": ["films"]}, "understanding.constraints.categories", True, "categories were films"),
        ({"categories": []}, "understanding.constraints.categories", False, "expected none"),
        ({"max_price": 20}, "understanding.constraints.max_price", True, "max_price was 20"),
        ({"min_price": None}, "understanding.constraints.min_price", True, "min_price was None"),
        ({"max_price": None}, "understanding.constraints.max_price", False, "max_price was 20, expected None"),
        ({"min_year": 1990}, "understanding.constraints.min_year", False, "min_year was 1980, expected 1990"),
        ({"length": "short"}, "understanding.constraints.length", True, "length was 'short'"),
        ({"tags": ["funny"]}, "understanding.tastes.tags", True, "tags were funny, family"),
        ({"avoid": ["scary", "horror"]}, "understanding.tastes.avoid", False, "missing horror"),
        ({"take_back": ["horror"]}, "understanding.tastes.take_back", True, "take_back were budget, horror"),
        ({"reset": True}, "understanding.tastes.reset", False, "reset was False"),
        ({"occasion": "Birthday"}, "understanding.context.occasion", True, "[llm] occasion was \"my dad's 60th birthday\""),
        ({"audience": ["gran", "nan"]}, "understanding.context.audience", False, "expected 'gran' or 'nan'"),
        ({"mood": None}, "understanding.context.mood", True, "mood was None"),
    ],
)
def test_each_understanding_expectation_is_one_check_named_by_its_group(expect, check, passed, reason) -> None:
    [result] = evaluate_understanding(UnderstandingExpect.model_validate(expect), UNDERSTOOD)
    assert (result.check, result.passed) == (check, passed), result.reason
    assert reason in result.reason


def test_understanding_checks_fail_without_an_understanding_and_ride_on_evaluate_turn() -> None:
    expect = Expect(tone="friendly", understanding=UnderstandingExpect(intents=["recommend"], max_price=None))
    results = evaluate_turn(expect, make_turn(), context())
    assert [(r.check, r.passed, r.reason) for r in results] == [
        ("tone", True, "tone was 'friendly' (mood 'neutral')"),
        ("understanding.intents", False, "the turn has no understanding"),
        ("understanding.constraints.max_price", False, "the turn has no understanding"),
    ]
    understood = make_turn(understanding=read(intents=["recommend"]))
    assert all(r.passed for r in evaluate_turn(expect, understood, context()))


def report_with(*checks: tuple[str, bool]) -> ScriptedReport:
    turn = TurnResult(0, "m", "r", [], [CheckResult(name, passed, "") for name, passed in checks])
    return ScriptedReport([DialogueResult("d", "d.yaml", "demo", "u", [turn])])


def test_per_group_accuracy_counts_understanding_checks_only_and_compares_readers() -> None:
    rules = report_with(("understanding.intents", True), ("understanding.intents", False), ("tone", False),
                        ("understanding.opinions", False), ("understanding.opinions.seen", True),
                        ("understanding.tastes.avoid", True), ("turn", False))
    llm = report_with(("understanding.intents", True), ("understanding.intents", True),
                      ("understanding.opinions", True), ("understanding.opinions.seen", True),
                      ("understanding.tastes.avoid", False))
    assert rules.understanding_accuracy() == {
        "intents": {"passed": 1, "total": 2, "accuracy": 0.5},
        "opinions": {"passed": 1, "total": 2, "accuracy": 0.5},
        "constraints": {"passed": 0, "total": 0, "accuracy": None},
        "tastes": {"passed": 1, "total": 1, "accuracy": 1.0},
        "context": {"passed": 0, "total": 0, "accuracy": None},
    }
    summary = rules.summary().splitlines()
    assert "Understanding per field group (checks passed / total):" in summary
    assert "  intents      1/2 (50%)" in summary and "  constraints  -" in summary
    assert json.loads(json.dumps(rules.to_json()))["understanding"]["tastes"]["passed"] == 1
    comparison = ReaderComparison({"rules": rules, "llm": llm})
    assert comparison.table()["opinions"] == {"rules": {"passed": 1, "total": 2, "accuracy": 0.5},
                                              "llm": {"passed": 2, "total": 2, "accuracy": 1.0}}
    assert comparison.table_text().splitlines() == [
        "group       | rules      | llm",
        "------------+------------+-----------",
        "intents     | 1/2 (50%)  | 2/2 (100%)",
        "opinions    | 1/2 (50%)  | 2/2 (100%)",
        "constraints | -          | -",
        "tastes      | 1/1 (100%) | 0/1 (0%)",
        "context     | -          | -",
        "all         | 3/5 (60%)  | 4/5 (80%)",
    ]
    data = json.loads(json.dumps(comparison.to_json()))
    assert data["understanding_by_reader"]["intents"]["llm"]["passed"] == 2
    assert data["readers"]["rules"]["llm_fields"] == [] and len(data["readers"]["llm"]["llm_fields"]) == 5
    assert parse_readers("rules, llm,rules") == ["rules", "llm"]
    with pytest.raises(ValueError, match="unknown readers gpt; known: rules, llm"):
        parse_readers("rules,gpt")


def test_scripted_assistant_lines_are_stored_and_read_as_suggestions(tmp_path: Path, tiny_data: Path, embedder,
                                                                    monkeypatch) -> None:
    from retrieval.datafiles import read_files
    from retrieval.ingest import ingest_dataset
    from retrieval.store import Stores

    data_dir = tmp_path / "data"
    stores = Stores.open(data_dir)
    ingest_dataset(read_files([tiny_data]), "tiny", "tests", stores.database, stores.vectors, embedder)
    stores.close()
    opened = open_quickly(monkeypatch)
    path = write(tmp_path, "it.yaml", """
catalog: tiny
user: ann
turns:
  - assistant: "You might like Paddington 2 (2017): a bear and a great deal of marmalade."
    names: [paddington]
  - user: "seen it twice, loved it"
    expect:
      understanding:
        opinions: {paddington: like}
        opinions_only: true
        seen: {paddington: true}
        max_price: null
  - user: "a scary film under 5"
    expect:
      understanding: {tags: [scary], max_price: 5}
""")
    dialogues = load_dialogues([path], data_dir)
    comparison = run_readers(dialogues, data_dir, ["rules"])
    report = comparison.reports["rules"]
    assert report.passed, report.summary()
    first, second, third = report.dialogues[0].turns
    assert first.scripted_assistant and first.checks == [] and first.recommendations == ["paddington"]
    assert [c.check for c in second.checks] == ["understanding.opinions", "understanding.opinions.seen",
                                               "understanding.constraints.max_price"]
    assert report.understanding_accuracy()["opinions"] == {"passed": 2, "total": 2, "accuracy": 1.0}
    assert opened[0].config.understanding.llm_fields == []
    read = report.to_json()["dialogues"][0]["turns"][1]["understanding"]
    assert read["opinions"] == [{"item_id": "paddington", "feeling": "like", "seen": True}] and read["reader"]["opinions"] == "rules"
    # The line is in the session as Kith's reply, its names as the reply's recommendations.
    kith = Kith.open(data_dir, "tiny")
    try:
        [session] = kith.sessions.sessions("ann")
        messages = kith.sessions.messages(session["id"])
        assert [m.role for m in messages] == ["assistant", "user", "assistant", "user", "assistant"]
        assert messages[0].text.startswith("You might like Paddington 2")
        assert messages[0].record.scripted and messages[0].record.picks() == ["paddington"]
        assert messages[0].record.recommendations[0].title == "Paddington 2 (2017)"
        assert kith.profile("ann") == Profile()  # the earlier (empty) profile is back
    finally:
        kith.close()
        for other in opened:
            other.close()


def test_the_command_compares_readers_side_by_side(tmp_path: Path, monkeypatch) -> None:
    fake = FakeKith()
    configs: list[dict] = []

    def open_fake(cls, data_dir, catalog, **config):  # type: ignore[no-untyped-def]
        configs.append(config)
        return fake

    monkeypatch.setattr(Kith, "open", classmethod(open_fake))
    path = write(tmp_path, "x.yaml", "catalog: demo\nturns:\n  - user: hi\n    expect: {understanding: {intents: [smalltalk]}}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "eval", "dialogues", str(path),
                                      "--readers", "rules,llm", "--out", str(out)])
    assert result.exit_code == 1, result.output  # FakeKith's turns carry no understanding
    assert [c["understanding"]["llm_fields"] for c in configs] == [[], ["intents", "opinions", "constraints", "tastes", "context"]]
    assert "group       | rules    | llm" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["understanding_by_reader"]["intents"] == {
        "rules": {"passed": 0, "total": 1, "accuracy": 0.0}, "llm": {"passed": 0, "total": 1, "accuracy": 0.0}}
    assert set(report["readers"]) == {"rules", "llm"} and (out / "latency-llm.png").stat().st_size > 0
    bad = CliRunner().invoke(app, ["eval", "dialogues", str(path), "--readers", "regex"])
    assert bad.exit_code == 2 and "unknown readers regex" in bad.output
