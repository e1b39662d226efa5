"""The agent loop: a capable chat model plans its own tool calls over Kith's tools (LangChain's
agent, `langchain.agents.create_agent`), for a model behind an OpenAI-compatible endpoint.

The default small model does not plan here: it fills the `Understanding` and code plans from it
(bot/understand.py, bot/kith.py). `run_agent` returns what the loop did as data, for a turn to
answer from: the final text, every tool call in order with its arguments, result and artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelCallLimitMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import BaseTool

from retrieval.ranking import Recommendation

# Model calls one run may make: a few rounds of tools, then the answer.
MAX_STEPS = 6


@dataclass(frozen=True)
class ToolUse:
    name: str
    args: dict[str, Any]
    # What the model read back, and the tool's structured result (bot.tools: its artifact).
    result: str
    artifact: Any


@dataclass(frozen=True)
class AgentResult:
    # The model's final answer; "" when the step limit ended the run first (`finished` False).
    text: str
    tool_uses: list[ToolUse]
    finished: bool
    # The whole exchange, the given messages first.
    messages: list[BaseMessage]

    def last_artifact(self, tool: str) -> Any:
        """The structured result of the last call of `tool`; None if it was not called."""
        return next((use.artifact for use in reversed(self.tool_uses) if use.name == tool), None)

    @property
    def recommendations(self) -> list[Recommendation]:
        """The items of the last catalog search: what the final answer was written from."""
        return self.last_artifact("search_catalog") or []


def run_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    system_prompt: str,
    messages: Sequence[BaseMessage],
    max_steps: int = MAX_STEPS,
) -> AgentResult:
    """Let `model` answer the conversation `messages`, calling `tools` as it plans, in at most
    `max_steps` model calls."""
    agent = create_agent(
        model, list(tools), system_prompt=system_prompt or None,
        middleware=[ModelCallLimitMiddleware(run_limit=max_steps, exit_behavior="end")],
    )
    # Each round is three graph steps (the limit check, the model, the tools); the graph's own
    # recursion limit must not end the run before the call limit does.
    state = agent.invoke({"messages": list(messages)}, {"recursion_limit": 3 * max_steps + 5})
    exchange: list[BaseMessage] = state["messages"]
    new = exchange[len(messages):]
    results = {m.tool_call_id: m for m in new if isinstance(m, ToolMessage)}
    uses = []
    for message in new:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                result = results.get(call["id"] or "")
                uses.append(ToolUse(call["name"], call["args"], str(result.text) if result else "",
                                    result.artifact if result else None))
    # At the limit the middleware ends the run with an AI message of its own after the last
    # model call's tool results: one AI message more than the model wrote.
    answers = [m for m in new if isinstance(m, AIMessage)]
    finished = len(answers) <= max_steps and bool(answers) and not answers[-1].tool_calls
    return AgentResult(str(answers[-1].text) if finished else "", uses, finished, exchange)
