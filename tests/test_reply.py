"""The recommendation reply: written from the picks' facts, streamed one checked sentence at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bot import Kith
from bot.faithfulness import ItemFacts
from bot.reply import WRITTEN_PICKS, ReplyWriter, Written, fact_sentences, lead, recommendation_messages, relevant_sentences
from bot.runtimes.base import Message
from bot.runtimes.factory import Runtimes
from retrieval.ranking import CAME_UP, CLOSEST, CLOSEST_YOU_HAVE_MOST, ORDERED, Recommendation
from retrieval.schemas import Item
from retrieval.titles import TitleFinder
from tests.conftest import copy_demo
from tests.test_concurrency import FakeLLM

DEMO = Path(__file__).resolve().parents[1] / "retrieval" / "demo"
ARRIVAL = "I loved Arrival — a thoughtful sci-fi film please, nothing scary"


class ScriptedLLM(FakeLLM):
    """Writes, after each prefix, the next sentence of its script for the lead the prefix starts
    with ("Try", "Or try"), and keeps every prefix and prompt it was given."""

    description = "scripted"

    def __init__(self, script: dict[str, list[str]]):
        super().__init__()
        self.script = script  # the last sentence of a lead's list repeats
        self.prefixes: list[str] = []
        self.prompts: list[list[Message]] = []

    def stream(self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "",
               stop: Sequence[str] = ()) -> Iterator[str]:
        self.prefixes.append(prefix)
        self.prompts.append(list(messages))
        answers = self.script["Or try" if prefix.startswith("Or try") else "Try"]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        middle = len(answer) // 2
        yield answer[:middle]  # token by token, as a runtime streams
        yield answer[middle:]


@pytest.fixture(scope="module")
def items() -> dict[str, Item]:
    return {item.id: item for path in sorted(DEMO.glob("items-*.jsonl"))
            for item in (Item(**json.loads(line)) for line in path.open())}


def picks(items: dict[str, Item], *ids: str) -> list[Recommendation]:
    return [Recommendation(i, items[i].title, items[i].category, 1.0, {}, ['matches what you asked for: war'],
                           items[i].price, list(items[i].tags)) for i in ids]


def writer(items: dict[str, Item], llm: ScriptedLLM) -> ReplyWriter:
    finder = TitleFinder((item.id, item.title, 0.0) for item in items.values())
    return ReplyWriter(lambda: llm, finder, ["books", "films", "music", "outdoor"], items)


def test_an_unfaithful_sentence_never_reaches_the_stream(items: dict[str, Item], monkeypatch: pytest.MonkeyPatch) -> None:
    """Dunkirk "set in Africa" fails twice (as written, then with its start steered to its first
    tag): the reply says what Dunkirk's facts say instead; with two picks written by the LLM, the
    second's faithful sentence goes out as written; the third pick is named from its facts."""
    monkeypatch.setattr("bot.reply.WRITTEN_PICKS", 2)
    llm = ScriptedLLM({"Try": [" a thought-provoking history of World War II with a focus on Africa.",
                               " film with a focus on Africa."],
                       "Or try": [" a dark, epic war drama that goes upriver into Cambodia."]})
    ranked = picks(items, "film-050", "film-049", "film-076")
    written: list[Written] = []
    pieces = list(writer(items, llm).stream_recommendation(ARRIVAL, ranked, "friendly", written))
    streamed = "".join(pieces)
    assert "Africa" not in streamed and "thought-provoking" not in streamed
    assert streamed == written[0].text and written[0].repaired
    dunkirk = fact_sentences(lead(0, "Dunkirk (2017)"), writer(items, llm).facts(ranked).picks[0], ARRIVAL)[0]
    assert pieces[1] == " " + dunkirk and dunkirk.startswith("Try Dunkirk (2017) — ")
    assert pieces[2] == " Or try Apocalypse Now (1979) — a dark, epic war drama that goes upriver into Cambodia."
    assert pieces[3].startswith(" Also worth a look: Lawrence of Arabia (1962) — ")
    # Asked twice about Dunkirk (the second time steered to its tags), once about Apocalypse Now.
    assert llm.prefixes == ["Try Dunkirk (2017) —", "Try Dunkirk (2017) — a war film", "Or try Apocalypse Now (1979) —"]
    # The second pick's prompt continues the first: the sentence that went out, then its facts.
    assert llm.prompts[2][-2] == {"role": "assistant", "content": dunkirk}
    assert llm.prompts[2][-1]["content"].startswith("Now recommend: Apocalypse Now (1979) (film; about: During the Vietnam War")


def test_a_sentence_that_fails_once_is_written_again(items: dict[str, Item]) -> None:
    llm = ScriptedLLM({"Try": [" a documentary by Steven Spielberg.", " set on a French beach in 1940 ."],
                       "Or try": [" a classic war film."]})
    written: list[Written] = []
    pieces = list(writer(items, llm).stream_recommendation("a war film", picks(items, "film-050", "film-049"), "friendly", written))
    assert pieces[1] == " Try Dunkirk (2017) — a war film set on a French beach in 1940."
    assert written[0].repaired and "".join(pieces) == written[0].text
    # The next pick's sentence is built from its facts (WRITTEN_PICKS = 1): the LLM wrote two.
    assert pieces[2].startswith(" Or try Apocalypse Now (1979) — ") and len(llm.prefixes) == 2


class WordByWordLLM(ScriptedLLM):
    """Streams its sentence a word at a time and counts the words it was asked for."""

    def stream(self, messages: Sequence[Message], max_new_tokens: int | None = None, prefix: str = "",
               stop: Sequence[str] = ()) -> Iterator[str]:
        self.prefixes.append(prefix)
        self.streamed = 0
        for word in self.script["Try"][0].split(" ")[1:]:
            self.streamed += 1
            yield " " + word


def test_a_true_sentence_that_says_next_to_nothing_is_written_again(items: dict[str, Item]) -> None:
    llm = ScriptedLLM({"Try": [" War.", " set on a French beach in 1940."], "Or try": [" a classic war film."]})
    written: list[Written] = []
    pieces = list(writer(items, llm).stream_recommendation("a war film", picks(items, "film-050"), "friendly", written))
    assert pieces[1] == " Try Dunkirk (2017) — a war film set on a French beach in 1940." and written[0].repaired


def test_a_sentence_cut_at_a_names_initial_is_written_again(items: dict[str, Item]) -> None:
    # The stop at a full stop ends "by F. Scott Fitzgerald" at its initial.
    llm = ScriptedLLM({"Try": [" a war film by F.", " set on a French beach in 1940."], "Or try": [" a classic war film."]})
    written: list[Written] = []
    pieces = list(writer(items, llm).stream_recommendation("a war film", picks(items, "film-050"), "friendly", written))
    assert pieces[1] == " Try Dunkirk (2017) — a war film set on a French beach in 1940." and written[0].repaired


@pytest.mark.parametrize("first", [
    " a war film, but I'm not sure if that would fit.",
    # The card's reason echoed, seen in 3 of 220 replies of the scripted dialogues.
    " a war film, but also match what you asked for.",
])
def test_a_sentence_where_the_llm_talks_of_itself_is_written_again(items: dict[str, Item], first: str) -> None:
    # True of nothing, so no check fails it.
    llm = ScriptedLLM({"Try": [first, " set on a French beach in 1940."], "Or try": [" a classic war film."]})
    written: list[Written] = []
    pieces = list(writer(items, llm).stream_recommendation("a war film", picks(items, "film-050"), "friendly", written))
    assert pieces[1] == " Try Dunkirk (2017) — a war film set on a French beach in 1940." and written[0].repaired


def test_the_first_pick_of_a_request_in_order_says_so_in_its_lead() -> None:
    assert lead(0, "The Great Gatsby", [ORDERED.format(word="cheapest", value="8.99"), "popular with the community"]) == (
        "Try The Great Gatsby, the cheapest of what fits, at 8.99 —")


def test_the_faithfulness_bench_counts_each_sentence_not_kept(items: dict[str, Item]) -> None:
    """bench/faithfulness.py reads the writer's log: a format change must not zero its counts."""
    import importlib.util
    import logging

    spec = importlib.util.spec_from_file_location("faithfulness_bench", DEMO.parents[1] / "bench" / "faithfulness.py")
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    counter, log = bench._Rewrites(), logging.getLogger("bot.reply")
    level = log.level
    log.addHandler(counter)
    log.setLevel(logging.INFO)
    try:
        llm = ScriptedLLM({"Try": [" War.", " set in Africa."], "Or try": [" a classic war film."]})
        list(writer(items, llm).stream_recommendation("a war film", picks(items, "film-050"), "friendly", []))
    finally:
        log.removeHandler(counter)
        log.setLevel(level)
    assert counter.counts == {"written again": 1, "replaced": 1}


def test_a_sentence_stops_being_written_at_its_first_invention(items: dict[str, Item]) -> None:
    """"husband" fails whatever follows: the LLM is stopped two words later, not at its sentence's end."""
    invented = " a gripping tale of a woman who has just lost her husband and then goes on and on and on for many more words."
    llm = WordByWordLLM({"Try": [invented]})
    written: list[Written] = []
    pieces = list(writer(items, llm).stream_recommendation("a war film", picks(items, "film-050"), "friendly", written))
    assert llm.streamed < len(invented.split()) - 10
    assert written[0].repaired and "husband" not in "".join(pieces)
    assert len(llm.prefixes) == 2  # written again (stopped early too), then replaced


def test_a_looping_sentence_stops_being_written(items: dict[str, Item]) -> None:
    """Greedy decoding that says "war" a third time is looping (each word is supported, so the
    check alone would let it run to the token limit): it is stopped there and written again."""
    looping = " a war film, a war film, a war film, a war film, a war film, a war film, a war film."
    llm = WordByWordLLM({"Try": [looping]})
    written: list[Written] = []
    list(writer(items, llm).stream_recommendation("a war film", picks(items, "film-050"), "friendly", written))
    assert llm.streamed == 8  # "a war film, a war film, a war": its third "war", 8 words
    assert written[0].repaired and len(llm.prefixes) == 2


def test_the_pick_facts_leave_out_the_reason_its_lead_gives(items: dict[str, Item]) -> None:
    """Every prompt token after the message delays the first word: "because you liked" is in the
    lead the LLM continues, so the facts give one other reason instead of repeating it."""
    ranked = picks(items, "film-050")
    ranked[0].reasons = ["because you liked Arrival (2016)", "your friend Ana Ruiz rated it 5/5",
                         "matches what you asked for: war"]
    facts = [ItemFacts.of(r, items[r.item_id]) for r in ranked]
    turn = recommendation_messages("a war film", facts, "friendly", ["films"])[-1]["content"]
    assert turn.endswith("why: your friend Ana Ruiz rated it 5/5).") and "Arrival" not in turn
    assert lead(0, "Dunkirk (2017)", ranked[0].reasons) == "Try Dunkirk (2017), because you liked Arrival (2016) —"
    # A pick that came up before says so, in its lead: its facts give the like instead.
    ranked[0].reasons = [CAME_UP, "because you liked Arrival (2016)"]
    facts = [ItemFacts.of(r, items[r.item_id]) for r in ranked]
    turn = recommendation_messages("a war film", facts, "friendly", ["films"])[-1]["content"]
    assert turn.endswith("why: because you liked Arrival (2016)).")
    assert lead(0, "Dunkirk (2017)", ranked[0].reasons) == "From earlier, Dunkirk (2017) —"


def test_the_reply_says_once_where_its_picks_stop_fitting_all_of_the_request(items: dict[str, Item]) -> None:
    """The first pick short of the request says so in its lead, at the top or after those that
    fit; the picks after it do not repeat it, and the LLM's facts leave it out; every sentence
    passes the check (the lead's words are the ranking's reason's)."""
    llm = ScriptedLLM({"Try": [" a war film."], "Or try": [" a war film."]})
    after_one = picks(items, "film-050", "film-049", "film-076")
    for pick in after_one[1:]:
        pick.reasons = [CLOSEST, *pick.reasons]
    written: list[Written] = []
    pieces = list(writer(items, llm).stream_recommendation("a war film for my kids", after_one, "friendly", written))
    assert pieces[1].startswith(" Try Dunkirk (2017) — ")
    assert pieces[2].startswith(" Nothing else here fits all of that; the closest is Apocalypse Now (1979) — ")
    assert pieces[3].startswith(" Also worth a look: Lawrence of Arabia (1962) — ")
    at_the_top = picks(items, "film-049")
    at_the_top[0].reasons = [CLOSEST_YOU_HAVE_MOST, *at_the_top[0].reasons]
    pieces = list(writer(items, llm).stream_recommendation("a war film", at_the_top, "friendly", written))
    assert pieces[1].startswith(" You already have most of what fits all of that; the closest is Apocalypse Now (1979) — ")
    assert llm.prefixes[-1] == "You already have most of what fits all of that; the closest is Apocalypse Now (1979) —"
    assert "closest" not in llm.prompts[-1][-1]["content"]
    for text, ranked in ((written[0].text, after_one), (written[1].text, at_the_top)):
        assert all(verdict.supported for _, verdict in writer(items, llm).check.check_reply(
            text, writer(items, llm).facts(ranked)))


def test_a_sentence_from_facts_reads_on_after_the_leads_dash() -> None:
    def first(description: str) -> str:
        return fact_sentences("Try X —", ItemFacts("x", "X", "films", description, (), None), "")[0]

    assert first("With crops failing, a pilot leaves Earth.") == "Try X — with crops failing, a pilot leaves Earth."
    # A name's first word stays as written.
    assert first("The Strokes' debut reignited guitar rock.") == "Try X — The Strokes' debut reignited guitar rock."
    assert first("Brooding and beautiful, it asks what makes us human.").startswith("Try X — Brooding")
    # Built from tags and kind: gear takes no article.
    tent = ItemFacts("t", "Tent", "outdoor", "", ("camping", "budget"), None)
    assert fact_sentences("Try Tent —", tent, "")[0] == "Try Tent — camping, budget outdoor gear."
    assert fact_sentences("Try X —", ItemFacts("x", "X", "films", "", ("war",), None), "")[0] == "Try X — a war film."


def test_an_adapter_gets_the_prompt_it_learnt_without_worked_examples(items: dict[str, Item]) -> None:
    """`kith finetune` trains on prompts without the worked examples: the bot sends an adapter those."""
    prompts_seen = []
    for instructed in (True, False):
        llm = ScriptedLLM({"Try": [" a war film set on a French beach in 1940."]})
        finder = TitleFinder((item.id, item.title, 0.0) for item in items.values())
        list(ReplyWriter(lambda: llm, finder, ["films"], items, instructed=instructed).stream_recommendation(
            "a war film", picks(items, "film-050"), "friendly", []))
        prompts_seen.append(llm.prompts[-1])
    with_examples, without = prompts_seen
    assert len(with_examples) > 2 and [m["role"] for m in without] == ["system", "user"]
    assert without == recommendation_messages("a war film", [ItemFacts.of(picks(items, "film-050")[0], items["film-050"])],
                                              "friendly", ["films"], examples=False)


def test_the_prompt_gives_the_description_sentence_most_like_the_request(items: dict[str, Item]) -> None:
    """Of a long sentence, the clauses most like the request (every prompt token after the
    message delays the first word); the sentences built from facts keep it whole."""
    dunkirk = items["film-050"]
    assert relevant_sentences(dunkirk.description, "civilian boats crossing the sea") == [
        "Nolan weaves three timelines, on land, at sea and in the air, into one relentless countdown, "
        "as civilian sailors cross the Channel in small boats to bring them home."]
    facts = [ItemFacts.of(r, items[r.item_id]) for r in picks(items, "film-050")]
    turn = recommendation_messages("civilian boats crossing the sea", facts, "friendly", ["films"])[-1]
    assert turn["content"].endswith(
        "Recommend: Dunkirk (2017) (film; about: into one relentless countdown, as civilian sailors cross the Channel "
        "in small boats to bring them home; tags: war, historical, tense; price: 9.99; "
        "why: matches what you asked for: war).")
    # Asked for nothing a long sentence holds: its opening words, to a clause's end.
    turn = recommendation_messages("timelines", facts, "friendly", ["films"])[-1]
    assert "about: Nolan weaves three timelines, on land, at sea and in the air, into one relentless countdown;" in turn["content"]
    assert fact_sentences(lead(0, "Dunkirk (2017)"), facts[0], "civilian boats crossing the sea")[0].endswith(
        "Nolan weaves three timelines, on land, at sea and in the air, into one relentless countdown, "
        "as civilian sailors cross the Channel in small boats to bring them home.")


def test_streamed_reply_is_the_saved_turn_and_holds_only_checked_sentences(demo_template: Path, model_cache: Path,
                                                                           tmp_path: Path) -> None:
    """Through Kith.stream, which the web UI, `kith chat` and the SSE API all read."""
    opened = Kith.open(copy_demo(demo_template, tmp_path / "data"), "demo", cache_dir=model_cache)
    llm = ScriptedLLM({"Try": [" a documentary set in Africa."], "Or try": [" a cookbook with easy recipes."]})
    kith = Kith(opened.config, opened.stores, Runtimes.of(llm))  # type: ignore[arg-type]
    try:
        pieces = list(kith.stream("u01", ARRIVAL))
        turn = pieces[-1]
        streamed = "".join(p for p in pieces if isinstance(p, str))
        assert turn.recommendations and streamed == turn.text
        assert kith.sessions.messages(turn.session_id)[-1].text == streamed
        assert "Africa" not in streamed and "cookbook" not in streamed
        assert turn.repaired
        assert len(llm.prefixes) == 2 * WRITTEN_PICKS  # each written pick: written, then written again
        # Every sentence passes the check again, as the evaluation reads the whole reply.
        own = {*turn.profile.likes, *turn.profile.dislikes, *kith.ranker.own_history("u01")[0],
               *(found.item_id for found in kith.finder.find(ARRIVAL))}
        verdicts = kith.writer.check.check_reply(streamed, kith.writer.facts(turn.recommendations[:3], own))
        assert [(s, v.unsupported) for s, v in verdicts if not v.supported] == []
    finally:
        opened.close()
