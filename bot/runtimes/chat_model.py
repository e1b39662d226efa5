"""`RuntimeChatModel`: any Kith LLM runtime as a LangChain chat model.

LangChain's agent loop and structured output run over Kith's runtimes through it. A runtime
has no native tool calling, so a model with tools bound answers JSON under a grammar built from
the tools' argument schemas (`LLMRuntime.generate_json`): either
`{"tool_calls": [{"name": <a tool>, "args": <that tool's arguments>}]}` or `{"answer": "..."}`,
read back into an `AIMessage` with real `tool_calls`. Structured output is JSON under the
output schema itself. Tool results reach the model as user messages it can read.

Imports no runtime: the runtime is handed in (bot.runtimes.factory opens one).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Annotated, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, SkipValidation

import prompts
from bot.runtimes.base import LLMRuntime, Message

# Tool calls one answer may hold: enough for a search and a profile update together.
MAX_TOOL_CALLS = 4
# A tool choice that forces some tool call (LangChain and OpenAI spellings).
ANY_TOOL = ("any", "required")


class RuntimeChatModel(BaseChatModel):
    """A Kith `LLMRuntime` behind LangChain's chat-model interface, with `bind_tools` and
    `with_structured_output` through the runtime's grammar-constrained JSON."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # SkipValidation: a Protocol has no isinstance check.
    runtime: Annotated[LLMRuntime, SkipValidation]
    # None: the runtime's configured limit.
    max_new_tokens: int | None = None

    @property
    def _llm_type(self) -> str:
        return "kith-runtime"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"runtime": self.runtime.description, "max_new_tokens": self.max_new_tokens}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        *,
        tools: Sequence[dict[str, Any]] = (),
        tool_choice: str | None = None,
        parallel_tool_calls: bool = True,
        json_schema: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """`tools` (OpenAI format), `tool_choice` and `parallel_tool_calls` come from
        `bind_tools`, `json_schema` from `with_structured_output`; other keyword arguments (e.g.
        `strict`) mean nothing here."""
        said = kith_messages(messages)
        if json_schema is not None:
            answer = AIMessage(content=self.runtime.generate_json(said, json_schema, self.max_new_tokens))
        elif tools and tool_choice != "none":
            chosen = [t for t in tools if tool_choice in (None, "auto", *ANY_TOOL) or t["function"]["name"] == tool_choice]
            if not chosen:
                raise ValueError(f"tool_choice {tool_choice!r} names none of the bound tools")
            schema = tool_call_schema(chosen, answer_allowed=tool_choice in (None, "auto"),
                                      max_calls=MAX_TOOL_CALLS if parallel_tool_calls else 1)
            text = self.runtime.generate_json(with_tool_list(said, chosen), schema, self.max_new_tokens)
            answer = read_tool_answer(text, {t["function"]["name"] for t in chosen})
        else:
            answer = AIMessage(content=self.runtime.generate(said, self.max_new_tokens, stop=stop or ()))
        return ChatResult(generations=[ChatGeneration(message=answer)])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """`tool_choice`: None or "auto" (a tool call or an answer), "any"/"required"/True (some
        tool call), a tool's name (a call of that tool), "none" (no tools). With
        `parallel_tool_calls=False` an answer holds one call at most (a small model, left to
        itself, may go on listing calls until its token limit cuts the JSON short)."""
        if tool_choice is True:
            tool_choice = "any"
        elif isinstance(tool_choice, dict):  # OpenAI's {"type": "function", "function": {"name": ...}}
            tool_choice = tool_choice["function"]["name"]
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self, schema: dict[str, Any] | type, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A pydantic class gives its instances; any other schema LangChain reads (a JSON
        schema, a TypedDict, an OpenAI tool) gives dicts. `method` and `strict` are accepted
        and ignored: the grammar always holds the output to the schema."""
        kwargs.pop("method", None)
        kwargs.pop("strict", None)
        if kwargs:
            raise ValueError(f"unsupported arguments: {', '.join(kwargs)}")
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            json_schema = schema.model_json_schema()
            parser = RunnableLambda(lambda message: schema.model_validate_json(message.text))
        else:
            json_schema = convert_to_json_schema(schema)
            parser = RunnableLambda(lambda message: json.loads(message.text))
        llm = self.bind(
            json_schema=json_schema,
            ls_structured_output_format={"kwargs": {"method": "json_schema"}, "schema": schema},
        )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        unparsed = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks([unparsed], exception_key="parsing_error")


def kith_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """LangChain's messages as a runtime reads them. An assistant's tool calls are written as
    the JSON the model itself answers; a tool's result is a user message naming the tool."""
    called: dict[str, str] = {}  # tool call id -> tool name, for results that do not name it
    said: list[Message] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            said.append({"role": "system", "content": str(message.text)})
        elif isinstance(message, AIMessage):
            called.update((call["id"], call["name"]) for call in message.tool_calls if call["id"])
            calls = [{"name": call["name"], "args": call["args"]} for call in message.tool_calls]
            said.append({"role": "assistant", "content": json.dumps({"tool_calls": calls}) if calls else str(message.text)})
        elif isinstance(message, ToolMessage):
            name = message.name or called.get(message.tool_call_id, "tool")
            result = prompts.table("tools")["chat_model"]["tool_result"].format(name=name, content=str(message.text))
            said.append({"role": "user", "content": result})
        else:  # a human message, or any other kind: what a person says
            said.append({"role": "user", "content": str(message.text)})
    return said


def with_tool_list(messages: list[Message], tools: Sequence[dict[str, Any]]) -> list[Message]:
    """`messages` with the tools described at the end of the system message (one is added
    first if there is none): the grammar holds the model to the tools' shapes, this tells it
    what they are for."""
    table = prompts.table("tools")["chat_model"]
    lines = []
    for tool in tools:
        function = tool["function"]
        properties = function.get("parameters", {}).get("properties", {})
        arguments = ", ".join(
            table["argument"].format(name=name, description=spec["description"]) if spec.get("description") else name
            for name, spec in properties.items()
        )
        lines.append(table["tool"].format(name=function["name"], description=function.get("description", ""),
                                          arguments=arguments or table["no_arguments"]))
    described = table["tools"].format(tools="\n".join(lines))
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": messages[0]["content"] + "\n\n" + described}, *messages[1:]]
    return [{"role": "system", "content": described}, *messages]


def tool_call_schema(
    tools: Sequence[dict[str, Any]], answer_allowed: bool = True, max_calls: int = MAX_TOOL_CALLS
) -> dict[str, Any]:
    """The JSON schema of an answer with tools bound: tool calls, each a bound tool's name with
    that tool's arguments, or (where allowed) a reply."""
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"enum": [tool["function"]["name"]]},
                "args": tool["function"].get("parameters") or {"type": "object", "properties": {}},
            },
            "required": ["name", "args"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    with_calls = {
        "type": "object",
        "properties": {
            "tool_calls": {
                "type": "array",
                "items": calls[0] if len(calls) == 1 else {"anyOf": calls},
                "minItems": 1,
                "maxItems": max_calls,
            }
        },
        "required": ["tool_calls"],
        "additionalProperties": False,
    }
    if not answer_allowed:
        return with_calls
    reply = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
             "additionalProperties": False}
    return {"anyOf": [with_calls, reply]}


def read_tool_answer(text: str, tool_names: set[str]) -> AIMessage:
    """The model's JSON as an AIMessage: a reply as its content, tool calls as `tool_calls`
    with fresh ids. What cannot be read (not JSON, an unknown tool) becomes `invalid_tool_calls`,
    LangChain's place for it, so the caller sees it rather than a crash."""
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as error:
        return AIMessage(content="", invalid_tool_calls=[invalid_tool_call(args=text, error=f"not JSON: {error}")])
    if isinstance(answer, dict) and isinstance(answer.get("answer"), str):
        return AIMessage(content=answer["answer"])
    calls = answer.get("tool_calls") if isinstance(answer, dict) else None
    if not isinstance(calls, list):
        return AIMessage(content="", invalid_tool_calls=[invalid_tool_call(args=text, error="neither tool calls nor an answer")])
    valid, invalid = [], []
    for call in calls:
        name = call.get("name") if isinstance(call, dict) else None
        args = call.get("args") if isinstance(call, dict) else None
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        if name in tool_names and isinstance(args, dict):
            valid.append(tool_call(name=name, args=args, id=call_id))
        else:
            invalid.append(invalid_tool_call(name=name if isinstance(name, str) else None, args=json.dumps(args),
                                             id=call_id, error=f"not a call of a bound tool ({', '.join(sorted(tool_names))})"))
    return AIMessage(content="", tool_calls=valid, invalid_tool_calls=invalid)
