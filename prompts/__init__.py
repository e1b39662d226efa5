"""Every prompt and reply template, as files. Code fills them; no prompt text lives in Python."""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources
from typing import Any


@functools.cache
def text(name: str) -> str:
    """A prompt file (`prompts/NAME.txt`), stripped of its trailing newline."""
    return (resources.files("prompts") / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


@functools.cache
def table(name: str) -> dict[str, Any]:
    """A TOML prompt file (`prompts/NAME.toml`)."""
    return tomllib.loads((resources.files("prompts") / f"{name}.toml").read_text(encoding="utf-8"))


@functools.cache
def patterns(name: str, section: str, key: str) -> re.Pattern[str]:
    """The regular expressions listed under `[section] key` of `prompts/NAME.toml`, as one
    case-insensitive pattern that matches where any of them does."""
    return re.compile("|".join(f"(?:{p})" for p in table(name)[section][key]), re.I)
