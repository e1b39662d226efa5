"""The conversation: sentiment, profile, the turn pipeline, LLM runtime, sessions, UI, API, CLI.

`from bot import Kith` is the Python API. It is imported on first use, so that light commands
(`kith --help`) do not pay for loading the models' libraries.
"""

from typing import Any

__all__ = ["Kith", "Turn", "KithInputError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bot import kith

        return getattr(kith, name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
