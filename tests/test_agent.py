"""The LLM as the agent: Kith's tools as LangChain tools over a real demo catalog, LangChain's
agent loop over them (driven by a scripted chat model that emits tool calls), and Kith's LLM
runtime as a LangChain chat model that calls those tools through grammar-constrained JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

from bot import Kith
from bot.agent import run_agent
from bot.config import LLMConfig
from bot.runtimes.base import LLMRuntime
from bot.runtimes.factory import open_runtime
from bot.runtimes.chat_model import RuntimeChatModel
from bot.tools import CatalogRetriever, kith_tools, recommendations
from retrieval.datafiles import read_files
from retrieval.embeddings import shared_embedder
from retrieval.ingest import ingest_dataset
from tests.conftest import copy_demo, write_jsonl

USER = "u01"
SECRET = "heron-marmalade-private"
SEARCH = {"query": "a warm film for a cosy night in", "category": "films", "max_price": 5.0,
          "exclude_tags": ["horror"], "k": 5}
UPDATE = {"likes": ["Paddington 2"], "dislikes": ["A Film That Does Not Exist"], "avoid": ["scary"]}
ANSWER = "Try one of these for tonight."


@pytest.fixture(scope="module")
def kith(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[Kith]:
    opened = Kith.open(copy_demo(demo_template, tmp_path_factory.mktemp("agent") / "data"), "demo")
    # Every friend of USER privately reviews a book in words no one else wrote.
    extra = tmp_path_factory.mktemp("private")
    write_jsonl(extra / "interactions-private.jsonl", [
        {"user_id": friend, "item_id": "book-001", "kind": "review", "rating": 5, "text": f"Just for me: {SECRET}",
         "visibility": "private"}
        for friend in opened.stores.database.friends("demo", USER)
    ])
    database = opened.stores.database
    dataset = read_files([extra], database.ids("demo", "users"), database.ids("demo", "items"))
    ingest_dataset(dataset, "demo", "private test rows", database, opened.stores.vectors, shared_embedder())
    opened.refresh()
    yield opened
    opened.close()


def tools_by_name(kith: Kith, user_id: str = USER) -> dict[str, Any]:
    return {tool.name: tool for tool in kith_tools(kith, user_id)}


def call(tool: Any, args: dict[str, Any]) -> ToolMessage:
    return tool.invoke({"name": tool.name, "args": args, "id": "call-test", "type": "tool_call"})


class ScriptedChatModel(GenericFakeChatModel):
    """Answers its script in order, whatever it is asked, and keeps what it was asked."""

    seen: list[list[BaseMessage]] = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def scripted(*answers: AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(answers), seen=[])


def test_agent_loop_runs_the_real_tools_in_order(kith: Kith) -> None:
    user = "agent-user"
    model = scripted(
        AIMessage(content="", tool_calls=[{"name": "search_catalog", "args": SEARCH, "id": "call-1"}]),
        AIMessage(content="", tool_calls=[{"name": "update_profile", "args": UPDATE, "id": "call-2"}]),
        AIMessage(content=ANSWER),
    )
    result = run_agent(model, kith_tools(kith, user), "You recommend from the catalog.",
                       [HumanMessage("Something warm for tonight, under 5, no horror. I loved Paddington 2!")])

    assert result.finished and result.text == ANSWER
    assert [(use.name, use.args) for use in result.tool_uses] == [("search_catalog", SEARCH), ("update_profile", UPDATE)]
    # The search ran on the demo catalog, under the call's constraints.
    found = result.recommendations
    assert found and len(found) <= SEARCH["k"]
    items = kith.ranker.stats.items
    for recommendation in found:
        item = items[recommendation.item_id]
        assert item.category == "films" and item.price is not None and item.price <= 5.0
        assert "horror" not in item.tags
    # The model read each result: the listing after its search, the unknown title after its update.
    second, third = model.seen[1], model.seen[2]
    assert isinstance(second[-1], ToolMessage) and all(r.item_id in second[-1].text for r in found)
    assert isinstance(third[-1], ToolMessage) and "A Film That Does Not Exist" in third[-1].text
    # The profile is in SQLite: known titles and tags saved, the unknown title not.
    with sqlite3.connect(kith.stores.database.path) as connection:
        stored = json.loads(connection.execute(
            "SELECT profile FROM profiles WHERE catalog = 'demo' AND user_id = ?", (user,)).fetchone()[0])
    paddington = kith.finder.find("Paddington 2")[0].item_id
    assert stored["likes"] == [paddington] and stored["dislikes"] == []
    assert stored["constraints"]["excluded_tags"] == ["scary"]
    update = result.tool_uses[1].artifact
    assert update.saved and update.unknown_titles == ["A Film That Does Not Exist"]


def test_agent_stops_at_its_step_limit(kith: Kith) -> None:
    searching = AIMessage(content="", tool_calls=[{"name": "search_catalog", "args": {"query": "a novel"}, "id": "c1"}])
    result = run_agent(scripted(searching, AIMessage(content="never reached")), kith_tools(kith, USER), "",
                       [HumanMessage("a novel please")], max_steps=1)
    assert not result.finished and result.text == ""
    assert [use.name for use in result.tool_uses] == ["search_catalog"] and result.recommendations


def test_a_turn_planned_by_the_agent_answers_from_its_search_or_falls_back_to_code(kith: Kith) -> None:
    """planner = "agent": the turn's picks are what the agent's search found and its text is the
    agent's answer; an answer naming an item the search did not return fails the grounding check
    and the turn is planned by code instead."""
    agent = Kith(kith.config.model_copy(update={"planner": "agent"}), kith.stores, kith.runtimes)
    searching = AIMessage(content="", tool_calls=[{"name": "search_catalog", "args": SEARCH, "id": "call-1"}])
    agent.chat_model = lambda: scripted(searching, AIMessage(content=ANSWER))  # type: ignore[method-assign]
    turn = agent.reply("agent-turn", "Something warm for tonight, under 5, no horror")
    assert turn.text == ANSWER and turn.recommendations
    assert all(kith.ranker.stats.items[r.item_id].price <= 5.0 for r in turn.recommendations)
    alien = kith.finder.find("Alien")[0].item_id  # a horror film: the search excluded it
    assert alien not in {r.item_id for r in turn.recommendations}
    agent.chat_model = lambda: scripted(searching, AIMessage(content="You must see Alien (1979)."))  # type: ignore[method-assign]
    planned = agent.reply("agent-turn", "Something warm for tonight, under 5, no horror", turn.session_id)
    assert "Alien (1979)" not in planned.text
    assert planned.recommendations and planned.text != ANSWER


def test_search_honours_the_stored_profile(kith: Kith) -> None:
    user = "profiled-user"
    tools = tools_by_name(kith, user)
    call(tools["update_profile"], {"avoid": ["sci-fi"], "max_price": 6})
    found = call(tools["search_catalog"], {"query": "a classic science fiction film", "category": "films"}).artifact
    assert found
    for recommendation in found:
        assert "sci-fi" not in recommendation.tags and recommendation.price <= 6


def test_catalog_retriever_is_a_langchain_retriever(kith: Kith) -> None:
    retriever = CatalogRetriever(ranker=kith.ranker, k=3)
    chain = retriever | RunnableLambda(lambda documents: [d.metadata["title"] for d in documents])
    titles = chain.invoke("melancholy folk albums")
    documents = retriever.invoke("melancholy folk albums")
    assert titles == [d.metadata["title"] for d in documents] and len(documents) == 3
    for document, recommendation in zip(documents, recommendations(documents)):
        item = kith.ranker.stats.items[document.id]
        assert document.page_content == f"{item.title}\n{item.description}"
        assert recommendation.item_id == item.id and recommendation.reasons


def shared_only(kith: Kith) -> set[tuple[str, str]]:
    """(user, item) pairs with some public or friends-visible activity."""
    return {(x.user_id, x.item_id) for x in kith.stores.database.interactions("demo") if x.visibility != "private"}


def test_friends_activity_never_returns_private_activity(kith: Kith) -> None:
    shared = shared_only(kith)
    checked = 0
    for user in kith.users():
        friends = kith.stores.database.friends("demo", user.id)
        # Asked in the secret's own words, so that a leaked private review would come first.
        message = call(tools_by_name(kith, user.id)["friends_activity"], {"about": f"a book, {SECRET}"})
        assert SECRET not in message.text
        for activity in message.artifact:
            checked += 1
            assert activity.friend_id in friends and (activity.friend_id, activity.item_id) in shared
            assert SECRET not in activity.text
    assert checked > 100  # exercised, not vacuously true


def test_help_search_answers_or_says_nothing_matches(kith: Kith) -> None:
    search = tools_by_name(kith)["search_help"]
    found = call(search, {"question": "How long does shipping take?"})
    assert found.artifact is not None and found.text.startswith(found.artifact.title + ":")
    missing = call(search, {"question": "What is the airspeed of an unladen swallow?"})
    assert missing.artifact is None and missing.text == "No help article matches that question."


class ScriptedRuntime:
    """An LLMRuntime that answers its script and keeps what it was asked."""

    description = "scripted"

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.asked: list[tuple[list[dict[str, str]], dict[str, Any] | None]] = []

    def generate(self, messages: Any, max_new_tokens: int | None = None, prefix: str = "", stop: Any = ()) -> str:
        self.asked.append((list(messages), None))
        return self.answers.pop(0)

    def generate_json(self, messages: Any, schema: dict[str, Any], max_new_tokens: int | None = None) -> str:
        self.asked.append((list(messages), schema))
        return self.answers.pop(0)


def test_chat_model_turns_json_into_tool_calls_and_shows_results(kith: Kith) -> None:
    tools = kith_tools(kith, USER)
    runtime = ScriptedRuntime(json.dumps({"tool_calls": [{"name": "search_help", "args": {"question": "returns?"}}]}),
                              json.dumps({"answer": "You can return it within 30 days."}))
    model = RuntimeChatModel(runtime=runtime).bind_tools(tools)
    asked: list[BaseMessage] = [SystemMessage("You help."), HumanMessage("Can I return boots?")]
    first = model.invoke(asked)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("search_help", {"question": "returns?"})]
    result = ToolMessage("Returns and refunds: within 30 days.", tool_call_id=first.tool_calls[0]["id"])
    second = model.invoke([*asked, first, result])
    assert second.content == "You can return it within 30 days." and not second.tool_calls

    messages, schema = runtime.asked[1]
    assert messages[0]["role"] == "system" and all(f"- {t.name}:" in messages[0]["content"] for t in tools)
    assert messages[2] == {"role": "assistant", "content": json.dumps(
        {"tool_calls": [{"name": "search_help", "args": {"question": "returns?"}}]})}
    assert messages[3] == {"role": "user", "content": "Tool search_help returned: Returns and refunds: within 30 days."}
    calls, answer = schema["anyOf"]
    named = [call["properties"]["name"]["enum"] for call in calls["properties"]["tool_calls"]["items"]["anyOf"]]
    assert named == [[t.name] for t in tools] and answer["required"] == ["answer"]


def test_chat_model_forced_tool_choice_and_unreadable_answers() -> None:
    def lookup(city: str) -> str:
        """Weather in a city."""
        return "rain"

    runtime = ScriptedRuntime("not json", json.dumps({"tool_calls": [{"name": "other", "args": {}}]}))
    model = RuntimeChatModel(runtime=runtime).bind_tools([lookup], tool_choice="any", parallel_tool_calls=False)
    unreadable, unknown = model.invoke("weather?"), model.invoke("weather?")
    assert not unreadable.tool_calls and unreadable.invalid_tool_calls
    assert not unknown.tool_calls and unknown.invalid_tool_calls[0]["name"] == "other"
    schema = runtime.asked[0][1]
    assert "anyOf" not in schema and schema["required"] == ["tool_calls"]  # a call is forced: no answer
    assert schema["properties"]["tool_calls"]["maxItems"] == 1


class Pick(BaseModel):
    category: Literal["books", "films", "music", "outdoor"]
    title: str


@pytest.fixture(scope="module")
def llm(model_cache: Path) -> LLMRuntime:
    return open_runtime(LLMConfig(), model_cache)  # the default: the 135M GGUF on llama.cpp


def test_default_llm_calls_a_real_tool_with_valid_arguments(kith: Kith, llm: LLMRuntime) -> None:
    tools = {tool.name: tool for tool in kith_tools(kith, USER)}
    model = RuntimeChatModel(runtime=llm, max_new_tokens=120)
    bound = model.bind_tools(list(tools.values()), tool_choice="any", parallel_tool_calls=False)
    answer = bound.invoke([SystemMessage("You are a shop assistant."), HumanMessage("Find me a sci-fi film under 10.")])
    assert answer.tool_calls and not answer.invalid_tool_calls
    for tool_call in answer.tool_calls:
        tools[tool_call["name"]].args_schema.model_validate(tool_call["args"])


def test_default_llm_writes_structured_output(llm: LLMRuntime) -> None:
    pick = RuntimeChatModel(runtime=llm, max_new_tokens=60).with_structured_output(Pick).invoke(
        "Suggest one film for a rainy evening.")
    assert isinstance(pick, Pick) and pick.title
