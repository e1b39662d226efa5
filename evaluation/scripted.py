"""Scripted evaluation dialogues: conversations written in YAML, each turn with expectations.

A dialogue file is replayed turn by turn against a real `Kith` (real ranking, real LLM); every
expectation of every turn becomes a check with a verdict and a reason that says concretely what
was found ("film-020 at rank 3 of top 5", "tone was 'friendly', expected 'apologetic'").

File format (one dialogue per `.yaml` / `.yml` file)::

    name: Sci-fi fan avoids horror        # optional; default: the file name without extension
    catalog: demo                         # required: a catalog of the data folder ("demo" always exists)
    user: u01                             # optional; default a fresh id per dialogue: "scripted-<file stem>"
    keep_profile: false                   # optional; see "Profiles" below
    turns:                                # required, at least one; all turns run in one session
      - user: "I loved Arrival. A thoughtful sci-fi film please, nothing scary"   # the message (a turn is user or assistant)
        context: {time: 2025-11-12T20:30:00+01:00, weather: rain}  # optional: the moment (bot/context.py)
        expect:                           # optional; every key is optional, each one is one check
          top_k: 5                        # k for the item checks below (default 5); not a check itself
          must_include: [film-006]        # every one of these ids is in the top k
          must_include_any: [film-006, film-003]  # at least one of these ids is in the top k
          must_exclude: [film-020]        # none of these ids is in the top k
          categories: [films]             # every top-k item's category is one of these
          exclude_tags: [scary]           # no top-k item carries any of these tags
          min_price: 5                    # every top-k item with a price costs at least this
          max_price: 15                   # every top-k item with a price costs at most this
          min_year: 1980                  # every top-k item with a `year` attribute is from this year or later
          max_year: 1999                  # every top-k item with a `year` attribute is from this year or earlier
          sentiment: positive             # the turn's sentiment label: positive | negative | neutral
          tone: friendly                  # the reply's tone: warm | enthusiastic | apologetic | friendly
          asks_clarifying: true           # the turn asked a clarifying question (true) or did not (false)
          mentions_only_recommended: true # every catalog title named in the reply is one of the turn's
                                          # recommendations or one of the person's own likes (profile
                                          # likes and the likes in their stored activity)
          profile_likes: [film-005]       # these ids are among the profile's likes after the turn ([]: none)
          profile_dislikes: [film-078]    # these ids are among the profile's dislikes after the turn ([]: none)
          profile_constraints:            # these fields of profile.constraints equal these values
            excluded_tags: [scary]        #   (categories, min_price, max_price, min_year, max_year,
            length: short                 #   length: short, long or {unit: min|pages, at_most: N, at_least: N};
                                          #   capacity: {unit: litres, at_most: N, at_least: N};
                                          #   max_rating: G, PG, PG-13, R or NC-17;
                                          #   english_only: true where only English-language items may come;
                                          #   excluded_tags; lists compare as sets; null = unset)
          profile_context:                # these fields of profile.context equal these values
            audience: kids                #   (occasion, audience, mood; null = unset)
          reply_contains: ["Arrival"]     # each string occurs in the reply text (case-insensitive)
          reply_excludes: ["terrifying"]  # no string occurs in the reply text (case-insensitive)
          friends_activity: true          # the turn used friends' activity (true) or none at all (false)
          friend_reason: true             # some top-k pick has a reason citing a friend ("your friend
                                          # <name> ...") that matches the turn's friends_activity
          friends_named_truthfully: true  # every "your friend <Name>" in the reply names a friend
                                          # whose activity the turn used (full or first name)
          no_private_activity: true       # nothing reveals another person's private activity (below)
          top_tags: [rainy-day, cozy]     # the first pick carries at least one of these tags
          reasons_contain: ["fits a rainy evening"]  # each string is in a reason of some top-k pick
          understanding:                  # what the message was read to mean (turn.understanding), below
            intents: [recommend]          # the set of intents equals these
            avoid: [scary]                # these tags are among the things to avoid
      - assistant: "You might like Arrival (2016): quiet, sad, clever."   # a scripted reply (below)
        names: [film-005]                 # the items it suggests (default: none)
      - user: "seen it, loved it"
        expect:
          understanding:
            opinions: {film-005: like}    # each listed item has that feeling (like | dislike | neutral)
            opinions_only: true           # ... and the understanding holds no other opinion
            seen: {film-005: true}        # these opinions' `seen` is this (true | false)

The understanding expectation (`expect.understanding`), each key one check against the turn's
`Understanding` (bot/understanding.py), named after its field group (bot.understanding.FIELDS):
`understanding.intents`, `understanding.opinions[.seen|.rejects_suggestions]`,
`understanding.constraints.<key>`, `understanding.tastes.<key>`, `understanding.context.<key>`::

    intents: [feedback, recommend]  # intents   the set equals these (recommend help feedback smalltalk human subvert)
    opinions: {film-005: dislike}   # opinions  each listed item has that feeling; `{}` with
    opinions_only: true             #           opinions_only: no opinion at all
    seen: {film-005: false}         # opinions  the opinion about each item says seen true / false
    rejects_suggestions: true       # opinions  the message turns the suggestions down (true / false)
    categories: [books]             # constraints  the set of categories equals these ([] = none)
    min_price: 10                   # constraints  equals this; for these five, null = left unset
    max_price: 20
    min_year: 1980
    max_year: 1989
    length: short                   # constraints  short | long | {unit: min, at_most: 120} | null
    tags: [funny]                   # tastes    these are among the wanted tags
    avoid: [scary]                  # tastes    these are among the tags to avoid
    take_back: [budget, scary]      # tastes    among what is taken back: tags, item ids, or budget,
                                    #           era, length, category
    reset: true                     # tastes    the message starts over (true / false)
    occasion: birthday              # context   each a case-insensitive substring of what was read,
    audience: [gran, nan]           #           or a list of such phrases, any one of which matches;
    mood: down                      #           null = nothing read

A scripted assistant line (`assistant:` with optional `names:`, neither `user` nor `expect`) is
stored into the session as if Kith had replied so, its `names` as the reply's recommendations:
the next user turn reads them as just suggested ("I loved it", "not that one"), whatever a
generated reply would have said. It is no check and costs no LLM call.

Meaning of the checks:

- Item checks (`must_*`, `categories`, `exclude_tags`, `min_price`, `max_price`, `min_year`,
  `max_year`, `friend_reason`, `top_tags`, `reasons_contain`) look at the first `top_k` recommendations. A turn with no
  recommendations fails every item check present ("the turn had no recommendations"), so an
  expectation about picks can never pass vacuously.
- `mentions_only_recommended`, `friend_reason`, `friends_named_truthfully` and
  `no_private_activity` only take `true` (omit them to skip).
- `no_private_activity`: a (person, item) pair is private when that person's only activity on
  the item in the catalog is marked `private` (other people than the dialogue's user). The check
  fails when such a pair is among `turn.friends_activity`; when a pick's reason names that person
  ("your friend <name>") for that item; when a line of the reply names both the person and the
  item; or when the reply, a pick's reason or a friend activity's text quotes a private text
  (6 consecutive words of a private interaction's text, titles cut out, that no shared
  interaction's text holds).
- `mentions_only_recommended` finds titles as Kith does (`kith.finder`); a name several items
  share ("Pride and Prejudice", book and film) counts as any of them.

Validation happens before anything runs, and lists every problem of every file at once as
`FILE: PATH: message`, PATH being the place in the document (`turns[2].expect.top_k: must be a
positive integer`): unknown keys, wrong types, a missing catalog or message, unknown catalogs,
and item ids, categories or tags the catalog lacks. `load_dialogues(paths, data_dir)` checks
catalogs against the data folder (the bundled `demo` is always known); `run_dialogues` checks
again against the catalogs it opens.

Profiles: Kith keeps a person's taste (likes, dislikes, liked tags) across sessions, so
dialogues sharing a user would influence each other. Unless `keep_profile: true`, the runner
starts each dialogue from an empty stored profile for its user and puts the earlier stored
profile back afterwards. The turns themselves are saved like any conversation: run scripted
dialogues on a scratch data folder.

A turn that raises (e.g. a message over the length limit) is one failed check, "turn"; the
dialogue's later user turns are not run and each counts as one failed check (later assistant
lines are skipped).

The report: per dialogue its name, file, catalog, user, checks passed and total, and per turn
the message, the reply, the recommended ids, every check as {check, passed, reason}, the
turn's timings and its understanding (the Understanding as a dict); totals; and per stage of a turn (load, understand, rank, reply, save, total)
the p50 and p95 seconds over all turns run; and per field group of the understanding (intents,
opinions, constraints, tastes, context) the understanding checks passed and their total
(`understanding_accuracy()`, "understanding" in the JSON). `summary()` gives one line per
dialogue (`✓ name (file): 9/9` or `✗ ...`), then every failed check with its reason (an
understanding check's reason starts with the reader that wrote the field: `[rules]`, `[llm]`),
the per-group table, the timings, and the totals; `to_json()` gives all of it as a JSON-ready dict.

Readers side by side: `run_readers(dialogues, data_dir, ["rules", "llm"])` runs the same files
once per reader (READERS: `rules` gives the LLM no field group, `understanding.llm_fields = []`;
`llm` gives it all five) and returns a `ReaderComparison`: `table_text()` is group | rules | llm
(passed/total and %), `to_json()` holds it as "understanding_by_reader" with every run's report.

Python API::

    dialogues = load_dialogues(sorted(Path("tests/dialogues").glob("*.yaml")))
    report = run_dialogues(dialogues, data_dir=Path("/tmp/kith"))   # keyword args: Kith configuration
    print(report.summary()); report.passed; report.to_json()

Command line: `kith [--data-dir DIR] eval dialogues PATH... [--out DIR] [--readers rules,llm]`
(files or folders); exits 0 when every check passed, 1 when one failed, 2 when the files are
invalid. The labelled understanding suite is `bench/understanding/`.
"""

from __future__ import annotations

import difflib
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.context import ClientContext
from bot.faithfulness import FRIEND_CLAIM, invented_friends
from bot.understanding import CONSTRAINT_NAMES, FIELDS, Feeling, Intent, SaidLength, Understanding
from evaluation.reports import timing_summary
from retrieval.ranking import FilmRating, MeasureLimit

# --- the file format -------------------------------------------------------------------------

Strict = ConfigDict(extra="forbid", strict=True)


class ProfileConstraintsExpect(BaseModel):
    model_config = Strict

    categories: list[str] | None = None
    min_price: float | None = None
    max_price: float | None = None
    min_year: int | None = None
    max_year: int | None = None
    length: SaidLength | None = None  # short, long or {unit: min, at_most: 120}
    capacity: MeasureLimit | None = None  # {unit: litres, at_least: 48, at_most: 72}
    max_rating: FilmRating | None = None
    english_only: bool | None = None
    excluded_tags: list[str] | None = None


class ProfileContextExpect(BaseModel):
    model_config = Strict

    occasion: str | None = None
    audience: str | None = None
    mood: str | None = None


class UnderstandingExpect(BaseModel):
    """What the turn's message should have been read to mean (`turn.understanding`). Every field
    is optional; each one given is one check (`opinions_only` belongs to the `opinions` check).
    For the numbers, `length` and the context phrases, null means "left unset"."""

    model_config = Strict

    intents: list[Intent] | None = Field(None, min_length=1)
    opinions: dict[str, Feeling] | None = None
    opinions_only: Literal[True] | None = None
    seen: dict[str, bool] | None = Field(None, min_length=1)
    rejects_suggestions: bool | None = None
    categories: list[str] | None = None
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    min_year: int | None = None
    max_year: int | None = None
    length: SaidLength | None = None
    tags: list[str] | None = Field(None, min_length=1)
    avoid: list[str] | None = Field(None, min_length=1)
    take_back: list[str] | None = Field(None, min_length=1)
    reset: bool | None = None
    # A phrase, or a list of phrases any one of which may match ("grand", or [road trip, drive]).
    occasion: str | list[str] | None = Field(None, min_length=1)
    audience: str | list[str] | None = Field(None, min_length=1)
    mood: str | list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _only_with_opinions(self) -> UnderstandingExpect:
        if self.opinions_only and self.opinions is None:
            raise ValueError("opinions_only needs opinions (write `opinions: {}` for none at all)")
        return self


# The understanding keys whose null is a check ("left unset"); the others skip on null.
NULLABLE_UNDERSTANDING = ("min_price", "max_price", "min_year", "max_year", "length", "occasion", "audience", "mood")
# Each understanding key's field group (bot.understanding.FIELDS); `seen` is part of an opinion.
UNDERSTANDING_GROUPS: dict[str, str] = {
    **{name: group for group, names in FIELDS.items() for name in names},
    "seen": "opinions",
}


class Expect(BaseModel):
    """What one turn should do. Every field is optional; each one given is one check."""

    model_config = Strict

    top_k: int = Field(5, gt=0)
    must_include: list[str] | None = None
    must_include_any: list[str] | None = Field(None, min_length=1)
    must_exclude: list[str] | None = None
    categories: list[str] | None = Field(None, min_length=1)
    exclude_tags: list[str] | None = None
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    min_year: int | None = None
    max_year: int | None = None
    sentiment: Literal["positive", "negative", "neutral"] | None = None
    tone: Literal["warm", "enthusiastic", "apologetic", "friendly"] | None = None
    asks_clarifying: bool | None = None
    mentions_only_recommended: Literal[True] | None = None
    profile_likes: list[str] | None = None
    profile_dislikes: list[str] | None = None
    profile_constraints: ProfileConstraintsExpect | None = None
    profile_context: ProfileContextExpect | None = None
    reply_contains: list[str] | None = None
    reply_excludes: list[str] | None = None
    friends_activity: bool | None = None
    friend_reason: Literal[True] | None = None
    friends_named_truthfully: Literal[True] | None = None
    no_private_activity: Literal[True] | None = None
    understanding: UnderstandingExpect | None = None
    top_tags: list[str] | None = Field(None, min_length=1)
    reasons_contain: list[str] | None = Field(None, min_length=1)


class ScriptedTurn(BaseModel):
    """A message of the person (`user`, with `expect`), or a scripted reply (`assistant`, with
    the items it suggests in `names`), stored as if Kith had said it."""

    model_config = Strict

    user: str | None = Field(None, min_length=1)
    expect: Expect = Field(default_factory=Expect)
    context: ClientContext | None = None
    assistant: str | None = Field(None, min_length=1)
    names: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _one_speaker(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if "user" in value and "assistant" in value:
                raise ValueError("a turn is either user (a message) or assistant (a scripted reply), not both")
            if "user" not in value and "assistant" not in value:
                raise ValueError("needs user (the message) or assistant (a scripted reply)")
            if "assistant" in value and "expect" in value:
                raise ValueError("a scripted assistant line has no expect (put it on the next user turn)")
            if "user" in value and "names" in value:
                raise ValueError("names belongs to an assistant line (the items it suggests)")
            if "assistant" in value and "context" in value:
                raise ValueError("context belongs to a user turn (the moment the message is sent)")
        return value

    @property
    def is_assistant(self) -> bool:
        return self.assistant is not None


class DialogueFile(BaseModel):
    model_config = Strict

    name: str | None = Field(None, min_length=1)
    catalog: str = Field(min_length=1)
    user: str | None = Field(None, min_length=1, max_length=200)
    keep_profile: bool = False
    turns: list[ScriptedTurn] = Field(min_length=1)


@dataclass
class ScriptedDialogue:
    """One validated dialogue file."""

    name: str
    file: Path
    catalog: str
    user: str
    turns: list[ScriptedTurn]
    keep_profile: bool = False

    @property
    def guards_llm_words(self) -> bool:
        """Whether a check guards what the LLM itself may write (LLM_CHECKS): only then do its own
        words matter; every other check reads what code decides and writes."""
        return any(turn.expect.model_fields_set & LLM_CHECKS for turn in self.turns)


class ScriptedError(ValueError):
    """Dialogue files are invalid; `problems` lists every one as 'FILE: PATH: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the dialogue files:\n" + "\n".join(problems))


# Checks that guard what the LLM may write in a reply: the titles it names, the friends it names,
# and another person's private activity.
LLM_CHECKS = {"mentions_only_recommended", "friends_named_truthfully", "no_private_activity"}
# Expectation keys that hold item ids, checked against the catalog.
ITEM_KEYS = ("must_include", "must_include_any", "must_exclude", "profile_likes", "profile_dislikes")
# Checks that look at the top-k picks (they fail when a turn has none).
ITEM_CHECKS = ("must_include", "must_include_any", "must_exclude", "categories", "exclude_tags",
               "min_price", "max_price", "min_year", "max_year", "friend_reason", "top_tags", "reasons_contain")


@dataclass
class CatalogFacts:
    """What validation needs to know about a catalog."""

    name: str
    item_ids: set[str]
    categories: set[str]
    tags: set[str]

    @classmethod
    def from_items(cls, name: str, items: Iterable[Any]) -> CatalogFacts:
        items = list(items)
        return cls(name, {i.id for i in items}, {i.category for i in items}, {t for i in items for t in i.tags})


def _path(location: Sequence[Any]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(document)"


def _fields_of(model: type[BaseModel], location: Sequence[Any]) -> list[str]:
    """The keys allowed where an unknown key was found."""
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        inner = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        nested = next((a for a in inner if issubclass(a, BaseModel)), None)
        if nested is None:
            nested = next(
                (b for a in getattr(annotation, "__args__", ()) for b in getattr(a, "__args__", ())
                 if isinstance(b, type) and issubclass(b, BaseModel)),
                None,
            )
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _message(error: dict[str, Any]) -> str:
    kind, location = error["type"], error["loc"]
    name = next((p for p in reversed(location) if isinstance(p, str)), "")
    if kind == "extra_forbidden":
        allowed = _fields_of(DialogueFile, location)
        return "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    if kind == "missing":
        return "required"
    if name == "top_k":
        return "must be a positive integer"
    if kind in ("string_type",):
        return "must be a string (quote it)"
    if kind in ("list_type",):
        return "must be a list, e.g. [a, b]"
    if kind in ("bool_type",):
        return "must be true or false"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of keys to values"
    if kind == "literal_error":
        if error["ctx"]["expected"] == "True":
            return "must be true (omit the key to skip the check)"
        return "must be one of " + error["ctx"]["expected"]
    if kind == "greater_than_equal":
        return f"must be at least {error['ctx']['ge']}"
    if kind == "greater_than":
        return f"must be greater than {error['ctx']['gt']}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {error['ctx']['max_length']} characters"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return error["msg"]


def _item_problems(raw: Any, facts: CatalogFacts) -> list[str]:
    """Unknown item ids, categories and tags in the raw document (as far as it is well formed)."""
    problems: list[str] = []
    turns = raw.get("turns") if isinstance(raw, dict) else None
    if not isinstance(turns, list):
        return problems

    def suggest(value: str, known: set[str]) -> str:
        close = difflib.get_close_matches(value, sorted(known), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def unknown(where: str, value: Any, known: set[str], what: str) -> None:
        if isinstance(value, str) and value not in known:
            problems.append(f"{where}: unknown {what} {value!r} in catalog {facts.name!r}{suggest(value, known)}")

    # What a correction can take back: a tag, an item, or a whole constraint.
    takeable = facts.tags | facts.item_ids | set(CONSTRAINT_NAMES)
    for number, turn in enumerate(turns):
        if not isinstance(turn, dict):
            continue
        names = turn.get("names")
        if isinstance(names, list):
            for position, value in enumerate(names):
                unknown(f"turns[{number}].names[{position}]", value, facts.item_ids, "item")
        expect = turn.get("expect")
        if not isinstance(expect, dict):
            continue
        checks: list[tuple[str, set[str], str]] = [(key, facts.item_ids, "item") for key in ITEM_KEYS]
        checks += [("categories", facts.categories, "category"), ("exclude_tags", facts.tags, "tag"),
                   ("top_tags", facts.tags, "tag")]
        for key, known, what in checks:
            values = expect.get(key)
            if not isinstance(values, list):
                continue
            for position, value in enumerate(values):
                unknown(f"turns[{number}].expect.{key}[{position}]", value, known, what)
        understanding = expect.get("understanding")
        if not isinstance(understanding, dict):
            continue
        at = f"turns[{number}].expect.understanding"
        for key in ("opinions", "seen"):
            values = understanding.get(key)
            if isinstance(values, dict):
                for value in values:
                    unknown(f"{at}.{key}.{value}", value, facts.item_ids, "item")
        for key, known, what in (("categories", facts.categories, "category"), ("tags", facts.tags, "tag"),
                                 ("avoid", facts.tags, "tag"),
                                 ("take_back", takeable, "tag, item or constraint (budget, era, length, category)")):
            values = understanding.get(key)
            if isinstance(values, list):
                for position, value in enumerate(values):
                    unknown(f"{at}.{key}[{position}]", value, known, what)
    return problems


def _catalog_facts(data_dir: Path | None) -> dict[str, CatalogFacts]:
    """Catalogs known without opening Kith: those in the data folder, and the bundled demo."""
    from retrieval.ingest import DEMO_CATALOG, demo_data_dir
    from retrieval.store import DATABASE_FILE

    known: dict[str, CatalogFacts] = {}
    if data_dir is not None and (Path(data_dir) / DATABASE_FILE).is_file():
        from retrieval.database import Database

        database = Database(Path(data_dir) / DATABASE_FILE)
        try:
            for name in database.catalogs():
                known[name] = CatalogFacts.from_items(name, database.items(name))
        finally:
            database.close()
    if DEMO_CATALOG not in known:
        from retrieval.datafiles import read_files

        known[DEMO_CATALOG] = CatalogFacts.from_items(DEMO_CATALOG, read_files([demo_data_dir()]).items)
    return known


def _dialogue_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            files.append(path)
    return files


def _check_catalog(raw: Any, catalog: str, known: dict[str, CatalogFacts], where: str) -> list[str]:
    if catalog not in known:
        names = ", ".join(sorted(known)) or "none"
        return [f"catalog: unknown catalog {catalog!r} (known: {names}{where})"]
    return _item_problems(raw, known[catalog])


def load_dialogues(paths: Sequence[Path], data_dir: Path | None = None) -> list[ScriptedDialogue]:
    """Read and validate dialogue files (folders: their *.yaml / *.yml files, sorted).

    Raises ScriptedError listing every problem of every file. Catalogs and item ids are checked
    against `data_dir`'s catalogs where given, and always against the bundled demo catalog."""
    problems: list[str] = []
    loaded: list[ScriptedDialogue] = []
    known: dict[str, CatalogFacts] | None = None
    files = _dialogue_files(paths)
    if not files:
        raise ScriptedError(["no dialogue files given"])
    for file in files:
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except OSError as error:
            problems.append(f"{file}: cannot read: {error.strerror or error}")
            continue
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            problems.append(f"{file}: {at}not valid YAML: {getattr(error, 'problem', None) or error}")
            continue
        if not isinstance(raw, dict):
            problems.append(f"{file}: (document): must be a mapping with catalog and turns")
            continue
        file_problems: list[str] = []
        model: DialogueFile | None = None
        try:
            model = DialogueFile.model_validate(raw)
        except ValidationError as error:
            file_problems += [f"{_path(e['loc'])}: {_message(e)}" for e in error.errors(include_url=False)]
        catalog = raw.get("catalog")
        if isinstance(catalog, str) and catalog:
            if known is None:
                known = _catalog_facts(data_dir)
            where = "" if data_dir is not None else "; pass data_dir to check a data folder's catalogs"
            file_problems += _check_catalog(raw, catalog, known, where)
        problems += [f"{file}: {p}" for p in file_problems]
        if model is not None and not file_problems:
            loaded.append(
                ScriptedDialogue(
                    name=model.name or file.stem,
                    file=file,
                    catalog=model.catalog,
                    user=model.user or f"scripted-{file.stem}",
                    turns=model.turns,
                    keep_profile=model.keep_profile,
                )
            )
    if problems:
        raise ScriptedError(problems)
    return loaded


# --- evaluating one turn ------------------------------------------------------------------------


@dataclass
class CheckResult:
    check: str
    passed: bool
    reason: str


@dataclass
class Privacy:
    """Private activity in a catalog: (person, item) pairs known only privately, the texts of
    private interactions (person, text), and every shared text."""

    pairs: set[tuple[str, str]] = field(default_factory=set)
    notes: list[tuple[str, str]] = field(default_factory=list)
    shared_texts: list[str] = field(default_factory=list)
    _runs: list[tuple[str, str]] | None = field(default=None, repr=False)

    def secret_runs(self, titles: Iterable[str]) -> list[tuple[str, str]]:
        """(person, run of words) pairs that would quote a private note (computed once)."""
        if self._runs is None:
            shared = [f" {_plain(text)} " for text in self.shared_texts]
            keys = sorted({k for k in titles if " " in k}, key=len, reverse=True)
            self._runs = [(person, piece) for person, note in self.notes for piece in _secret_runs(note, keys, shared)]
        return self._runs


def private_activity(kith: Any) -> Privacy:
    """What is private in the catalog of `kith` (from kith.stores.database.interactions)."""
    private, shared, notes, shared_texts = set(), set(), set(), set()
    for interaction in kith.stores.database.interactions(kith.catalog):
        pair = (interaction.user_id, interaction.item_id)
        text = (interaction.text or "").strip()
        if interaction.visibility == "private":
            private.add(pair)
            if text:
                notes.add((interaction.user_id, text))
        else:
            shared.add(pair)
            if text:
                shared_texts.add(text)
    return Privacy(private - shared, sorted(n for n in notes if n[1] not in shared_texts), sorted(shared_texts))


@dataclass
class EvalContext:
    """The facts checks need besides the Turn (built from a Kith by `EvalContext.from_kith`).

    items: id -> catalog Item (for years); find_titles: the item ids named in a text;
    history_likes: the person's liked items from their stored activity; user_names: id -> name;
    privacy: the catalog's private activity (the checks skip the user's own)."""

    user_id: str
    items: dict[str, Any] = field(default_factory=dict)
    find_titles: Callable[[str], list[str]] = lambda text: []
    history_likes: list[str] = field(default_factory=list)
    user_names: dict[str, str] = field(default_factory=dict)
    privacy: Privacy = field(default_factory=Privacy)
    _keys: dict[str, list[str]] | None = field(default=None, repr=False)

    def title_keys(self) -> dict[str, list[str]]:
        """Item id -> the normalized names its title goes by (computed once)."""
        if self._keys is None:
            from retrieval.titles import title_variants

            self._keys = {item_id: title_variants(item.title)[0] for item_id, item in self.items.items()}
        return self._keys

    @classmethod
    def from_kith(cls, kith: Any, user_id: str, privacy: Privacy | None = None) -> EvalContext:
        privacy = privacy if privacy is not None else private_activity(kith)
        return cls(
            user_id=user_id,
            items=kith.ranker.stats.items,
            find_titles=lambda text: [found.item_id for found in kith.finder.find(text)],
            history_likes=list(kith.ranker.own_history(user_id)[0]),
            user_names=dict(kith.ranker.stats.user_names),
            privacy=privacy,
        )


def _plain(text: str) -> str:
    """Lowercase words without accents or punctuation, as titles are normalized."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _secret_runs(secret: str, titles: Sequence[str], shared: Sequence[str], run: int = 6) -> list[str]:
    """The runs of `run` consecutive words that would quote `secret` (each as " w1 ... wn ").

    Catalog titles of two words or more (`titles`, normalized, longest first) are cut out of
    the secret first: naming an item is not quoting a note (the (person, item) check covers
    that). Runs that a shared text (`shared`, normalized and padded) also holds are left out:
    those may be quoted. A piece of the secret shorter than `run` words counts whole when it
    has at least 4 words."""
    remaining = f" {_plain(secret)} "
    for key in titles:
        remaining = remaining.replace(f" {key} ", " | ")
    runs = []
    for segment in remaining.split("|"):
        words = segment.split()
        if len(words) < 4:
            continue
        size = min(run, len(words))
        for start in range(len(words) - size + 1):
            piece = " " + " ".join(words[start : start + size]) + " "
            if not any(piece in text for text in shared):
                runs.append(piece)
    return list(dict.fromkeys(runs))


def _rank_of(item_id: str, top: list[str]) -> int | None:
    return top.index(item_id) + 1 if item_id in top else None


def _ids(values: Iterable[str]) -> str:
    return ", ".join(values) or "none"


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def evaluate_turn(expect: Expect, turn: Any, context: EvalContext) -> list[CheckResult]:
    """Every expectation of `expect` checked against `turn` (a bot.kith.Turn)."""
    results: list[CheckResult] = []
    k = expect.top_k
    picks = list(turn.recommendations)[:k]
    top = [r.item_id for r in picks]
    shown = f"top {k}" if len(picks) >= k else f"top {k} (only {len(picks)} given)"
    text = turn.text or ""
    lowered = text.lower()

    def add(check: str, passed: bool, reason: str) -> None:
        results.append(CheckResult(check, passed, reason))

    given = expect.model_dump(exclude_none=True)
    for check in ITEM_CHECKS:
        if check in given and not picks:
            add(check, False, "the turn had no recommendations")
    if picks:
        if expect.must_include is not None:
            missing = [i for i in expect.must_include if i not in top]
            add("must_include", not missing,
                f"{_ids(missing)} not in {shown}: {_ids(top)}" if missing
                else "; ".join(f"{i} at rank {_rank_of(i, top)}" for i in expect.must_include) + f" of {shown}")
        if expect.must_include_any is not None:
            found = [i for i in expect.must_include_any if i in top]
            add("must_include_any", bool(found),
                "; ".join(f"{i} at rank {_rank_of(i, top)}" for i in found) + f" of {shown}" if found
                else f"none of {_ids(expect.must_include_any)} in {shown}: {_ids(top)}")
        if expect.must_exclude is not None:
            present = [i for i in expect.must_exclude if i in top]
            add("must_exclude", not present,
                "; ".join(f"{i} at rank {_rank_of(i, top)}" for i in present) + f" of {shown}" if present
                else f"none of {_ids(expect.must_exclude)} in {shown}")
        if expect.categories is not None:
            wrong = [f"{r.item_id} is {r.category!r}" for r in picks if r.category not in expect.categories]
            add("categories", not wrong,
                "; ".join(wrong) if wrong else f"all {len(picks)} in {', '.join(expect.categories)}")
        if expect.exclude_tags is not None:
            banned = set(expect.exclude_tags)
            tagged = [f"{r.item_id} (rank {n}) tagged {', '.join(sorted(banned & set(r.tags)))}"
                      for n, r in enumerate(picks, 1) if banned & set(r.tags)]
            add("exclude_tags", not tagged,
                "; ".join(tagged) if tagged else f"none of {len(picks)} tagged {', '.join(expect.exclude_tags)}")
        if expect.min_price is not None or expect.max_price is not None:
            for check, bound, outside in (
                ("min_price", expect.min_price, lambda p, b: p < b),
                ("max_price", expect.max_price, lambda p, b: p > b),
            ):
                if bound is None:
                    continue
                bad = [f"{r.item_id} costs {r.price:g}" for r in picks if r.price is not None and outside(r.price, bound)]
                prices = [r.price for r in picks if r.price is not None]
                span = f"prices {min(prices):g} to {max(prices):g}" if prices else "no prices"
                add(check, not bad, "; ".join(bad) + f" (limit {bound:g})" if bad else f"{span} within {bound:g}")
        for check, bound in (("min_year", expect.min_year), ("max_year", expect.max_year)):
            if bound is None:
                continue
            years = {r.item_id: getattr(context.items.get(r.item_id), "attributes", {}).get("year") for r in picks}
            years = {i: y for i, y in years.items() if isinstance(y, int)}
            bad = [f"{i} is from {y}" for i, y in years.items() if (y < bound if check == "min_year" else y > bound)]
            span = f"years {min(years.values())} to {max(years.values())}" if years else "no years"
            add(check, not bad, "; ".join(bad) + f" (limit {bound})" if bad else f"{span}, limit {bound}")
        if expect.top_tags is not None:
            carried = sorted(set(expect.top_tags) & set(picks[0].tags))
            add("top_tags", bool(carried),
                f"the first pick {picks[0].item_id} carries {', '.join(carried)}" if carried
                else f"the first pick {picks[0].item_id} carries none of {', '.join(expect.top_tags)} "
                     f"(its tags: {', '.join(picks[0].tags)})")
        if expect.reasons_contain is not None:
            for wanted in expect.reasons_contain:
                giving = [f"{r.item_id} (rank {n})" for n, r in enumerate(picks, 1)
                          if any(wanted.lower() in reason.lower() for reason in r.reasons)]
                add("reasons_contain", bool(giving),
                    f"{wanted!r} in the reasons of {', '.join(giving)}" if giving
                    else f"no pick in {shown} gives the reason {wanted!r}")
        if expect.friend_reason:
            cited = _friend_reasons(picks, turn.friends_activity)
            add("friend_reason", bool(cited),
                "; ".join(cited) if cited else f"no pick in {shown} cites a friend's activity")

    if expect.sentiment is not None:
        label = turn.sentiment.label
        add("sentiment", label == expect.sentiment,
            f"sentiment was {label!r} (polarity {turn.sentiment.polarity:+.2f})"
            + ("" if label == expect.sentiment else f", expected {expect.sentiment!r}"))
    if expect.tone is not None:
        add("tone", turn.tone == expect.tone,
            f"tone was {turn.tone!r} (mood {turn.sentiment.mood!r})"
            + ("" if turn.tone == expect.tone else f", expected {expect.tone!r}"))
    if expect.asks_clarifying is not None:
        asked = bool(turn.asked_clarifying)
        add("asks_clarifying", asked == expect.asks_clarifying,
            ("asked a clarifying question" if asked else "did not ask a clarifying question")
            + ("" if asked == expect.asks_clarifying else f", expected asks_clarifying: {str(expect.asks_clarifying).lower()}"))
    if expect.mentions_only_recommended:
        named = list(dict.fromkeys(context.find_titles(text)))
        allowed = {r.item_id for r in turn.recommendations} | set(turn.profile.likes) | set(context.history_likes)
        # Same-named items ("Pride and Prejudice", the book and the film) are one name in text.
        keys = context.title_keys()
        allowed_names = {key for i in allowed for key in keys.get(i, ())}
        outside = [i for i in named if i not in allowed and not set(keys.get(i, ())) & allowed_names]
        add("mentions_only_recommended", not outside,
            f"the reply names {_ids(outside)}, neither recommended nor liked by the person" if outside
            else f"the reply names {_ids(named)}, all recommended or the person's own likes")
    for check, wanted, have in (
        ("profile_likes", expect.profile_likes, turn.profile.likes),
        ("profile_dislikes", expect.profile_dislikes, turn.profile.dislikes),
    ):
        if wanted == []:  # none at all
            add(check, not have, f"{check.removeprefix('profile_')}: {_ids(have)}")
        elif wanted is not None:
            missing = [i for i in wanted if i not in have]
            add(check, not missing,
                f"{_ids(missing)} not in {check.removeprefix('profile_')}: {_ids(have)}" if missing
                else f"{_ids(wanted)} in {check.removeprefix('profile_')}")
    for check, wanted_model, have_model in (
        ("profile_constraints", expect.profile_constraints, turn.profile.constraints),
        ("profile_context", expect.profile_context, turn.profile.context),
    ):
        if wanted_model is None:
            continue
        wrong, right = [], []
        for key in wanted_model.model_fields_set:
            wanted_value, have_value = getattr(wanted_model, key), getattr(have_model, key)
            same = (sorted(wanted_value) == sorted(have_value)) if isinstance(wanted_value, list) and isinstance(have_value, list) \
                else wanted_value == have_value
            (right if same else wrong).append(
                f"{key} was {_fmt(have_value)}" + ("" if same else f", expected {_fmt(wanted_value)}"))
        add(check, not wrong, "; ".join(wrong or right) or "nothing to compare")
    if expect.reply_contains is not None:
        missing = [s for s in expect.reply_contains if s.lower() not in lowered]
        add("reply_contains", not missing,
            "reply lacks " + ", ".join(repr(s) for s in missing) if missing
            else "reply has " + ", ".join(repr(s) for s in expect.reply_contains))
    if expect.reply_excludes is not None:
        present = [s for s in expect.reply_excludes if s.lower() in lowered]
        add("reply_excludes", not present,
            "reply contains " + ", ".join(repr(s) for s in present) if present
            else "reply has none of " + ", ".join(repr(s) for s in expect.reply_excludes))
    if expect.friends_activity is not None:
        used = list(turn.friends_activity)
        people = sorted({a.friend_id for a in used})
        add("friends_activity", bool(used) == expect.friends_activity,
            f"used {len(used)} friend {'activity' if len(used) == 1 else 'activities'} (from {_ids(people)})"
            if used else "used no friends' activity")
    if expect.friends_named_truthfully:
        claimed = FRIEND_CLAIM.findall(text)
        invented = invented_friends(text, [a.friend_name for a in turn.friends_activity])
        add("friends_named_truthfully", not invented,
            "the reply names " + ", ".join(repr(n) for n in invented) + " as a friend; the turn's friends: "
            + (", ".join(sorted({a.friend_name for a in turn.friends_activity})) or "none") if invented
            else (f"the reply names friends {', '.join(repr(n) for n in claimed)}, all in the turn's activity"
                  if claimed else "the reply names no friend"))
    if expect.no_private_activity:
        leaks = _private_leaks(turn, context)
        add("no_private_activity", not leaks,
            "; ".join(leaks) if leaks
            else f"nothing private in friends' activity ({len(turn.friends_activity)} entries), "
                 f"reasons ({sum(len(r.reasons) for r in turn.recommendations)}) or the reply")
    if expect.understanding is not None:
        results += evaluate_understanding(expect.understanding, getattr(turn, "understanding", None))
    return results


def understanding_check(key: str) -> str:
    """A check's name, carrying its field group: `understanding.opinions`, `understanding.tastes.avoid`."""
    group = UNDERSTANDING_GROUPS[key]
    return f"understanding.{group}" if key == group else f"understanding.{group}.{key}"


def check_group(check: str) -> str | None:
    """The field group of an understanding check's name (None for other checks)."""
    parts = check.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "understanding" and parts[1] in FIELDS else None


def evaluate_understanding(expect: UnderstandingExpect, u: Understanding | None) -> list[CheckResult]:
    """Every key of `expect` checked against the turn's understanding; each reason says which
    reader wrote the field (`[rules]`, `[llm]`)."""
    results: list[CheckResult] = []
    given = [key for key in UnderstandingExpect.model_fields if key != "opinions_only"
             and (getattr(expect, key) is not None or (key in NULLABLE_UNDERSTANDING and key in expect.model_fields_set))]
    for key in given:
        name = understanding_check(key)
        if u is None:
            results.append(CheckResult(name, False, "the turn has no understanding"))
            continue
        by = f"[{u.reader.get(UNDERSTANDING_GROUPS[key], '?')}] "
        wanted = getattr(expect, key)
        have = getattr(u, key, None)
        if key == "intents":
            same = set(wanted) == set(u.intents)
            reason = f"intents were {_ids(u.intents)}" + ("" if same else f", expected {_ids(wanted)}")
            results.append(CheckResult(name, same, by + reason))
        elif key == "opinions":
            feelings = {o.item_id: o.feeling for o in u.opinions}
            wrong = [f"no opinion about {i} (expected {f})" if i not in feelings
                     else f"{i} was {feelings[i]}, expected {f}" for i, f in wanted.items() if feelings.get(i) != f]
            if expect.opinions_only:
                wrong += [f"also {i} {f}" for i, f in feelings.items() if i not in wanted]
            found = ", ".join(f"{i} {f}" for i, f in feelings.items()) or "no opinions"
            results.append(CheckResult(name, not wrong, by + ("; ".join(wrong) + f" (read: {found})" if wrong else found)))
        elif key == "seen":
            seen = {o.item_id: o.seen for o in u.opinions}
            wrong = [f"no opinion about {i}" if i not in seen else f"{i} seen was {_fmt(seen[i])}, expected {_fmt(s)}"
                     for i, s in wanted.items() if i not in seen or seen[i] is not s]
            results.append(CheckResult(name, not wrong, by + ("; ".join(wrong) if wrong else
                                       ", ".join(f"{i} seen {_fmt(s)}" for i, s in wanted.items()))))
        elif key == "categories":
            same = set(wanted) == set(u.categories)
            reason = f"categories were {_ids(u.categories)}" + ("" if same else f", expected {_ids(wanted)}")
            results.append(CheckResult(name, same, by + reason))
        elif key in ("tags", "avoid", "take_back"):
            missing = [v for v in wanted if v not in have]
            reason = f"{key} were {_ids(have)}" + (f", missing {_ids(missing)}" if missing else "")
            results.append(CheckResult(name, not missing, by + reason))
        elif key in ("occasion", "audience", "mood"):
            phrases = [wanted] if isinstance(wanted, str) else wanted
            same = have is None if wanted is None else have is not None and any(
                phrase.lower() in have.lower() for phrase in phrases)
            expected = "null" if wanted is None else " or ".join(repr(p) for p in phrases)
            reason = f"{key} was {_fmt(have)}" + ("" if same else f", expected {expected}")
            results.append(CheckResult(name, same, by + reason))
        else:  # numbers, length, the flags
            same = have is None if wanted is None else have is not None and have == wanted
            reason = f"{key} was {_fmt(have)}" + ("" if same else f", expected {_fmt(wanted)}")
            results.append(CheckResult(name, same, by + reason))
    return results


# "your friend Hamid Karimi rated it" / "your friend Emily rated": capitalized words after it.
FRIEND_REASON = re.compile(r"\byour friend (.+?) (?:rated|liked|bought|checked out|tried|reviewed)\b")


def _friend_reasons(picks: Sequence[Any], activity: Sequence[Any]) -> list[str]:
    cited = []
    for rank, pick in enumerate(picks, 1):
        for reason in pick.reasons:
            match = FRIEND_REASON.search(reason)
            if match and any(a.item_id == pick.item_id and a.friend_name == match.group(1) for a in activity):
                cited.append(f"{pick.item_id} (rank {rank}): {reason[:80]}")
    return cited


def _private_leaks(turn: Any, context: EvalContext) -> list[str]:
    leaks: list[str] = []
    pairs = {pair for pair in context.privacy.pairs if pair[0] != context.user_id}
    for entry in turn.friends_activity:
        if (entry.friend_id, entry.item_id) in pairs:
            leaks.append(f"friends_activity holds {entry.friend_id}'s private activity on {entry.item_id}")
    by_name = {name: person for person, name in context.user_names.items()}
    for pick in turn.recommendations:
        for reason in pick.reasons:
            match = FRIEND_REASON.search(reason)
            person = by_name.get(match.group(1)) if match else None
            if person is not None and (person, pick.item_id) in pairs:
                leaks.append(f"{pick.item_id}'s reason cites {person}'s private activity: {reason[:80]!r}")
    private_people = {person for person, _ in pairs}
    # The person's own items may be named anywhere ("because you liked Gone Girl"); a friend's
    # name together with another item in one clause of a line is what would reveal something.
    own = set(turn.profile.likes) | set(turn.profile.dislikes) | set(context.history_likes)
    clauses = [clause for line in (turn.text or "").splitlines() for clause in line.split(";")]
    for line in clauses:
        named = set(context.find_titles(line)) - own
        if not named:
            continue
        for person in private_people:
            name = context.user_names.get(person, person)
            first = name.split()[0] if name.split() else name
            if re.search(rf"\b{re.escape(first)}\b", line):
                for item_id in named:
                    if (person, item_id) in pairs:
                        leaks.append(f"the reply names {name} with {item_id}, known only from their private activity")
    places = [("the reply", turn.text or "")]
    places += [(f"{a.friend_id}'s activity on {a.item_id}", a.text) for a in turn.friends_activity if a.text]
    places += [(f"{r.item_id}'s reason", reason) for r in turn.recommendations for reason in r.reasons]
    runs = context.privacy.secret_runs(key for keys in context.title_keys().values() for key in keys)
    for place, text in places:
        haystack = f" {_plain(text)} "
        quoted: dict[str, str] = {}
        for person, piece in runs:
            if person != context.user_id and person not in quoted and piece in haystack:
                quoted[person] = piece.strip()
        leaks += [f"{place} quotes {person}'s private note: {piece!r}" for person, piece in quoted.items()]
    return leaks


# --- running ------------------------------------------------------------------------------------


@dataclass
class TurnResult:
    index: int
    user: str
    reply: str
    recommendations: list[str]
    checks: list[CheckResult]
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    # A scripted assistant line: `reply` is its text, `recommendations` its names; no checks.
    scripted_assistant: bool = False
    # What the message was read to mean (Understanding.model_dump()), where the turn ran.
    understanding: dict[str, Any] | None = None


@dataclass
class DialogueResult:
    name: str
    file: str
    catalog: str
    user: str
    turns: list[TurnResult]
    seconds: float = 0.0

    @property
    def checks(self) -> list[CheckResult]:
        return [c for t in self.turns for c in t.checks]

    @property
    def passed_count(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def passed(self) -> bool:
        return self.passed_count == self.total


@dataclass
class ScriptedReport:
    dialogues: list[DialogueResult]
    seconds: float = 0.0

    @property
    def passed_count(self) -> int:
        return sum(d.passed_count for d in self.dialogues)

    @property
    def total(self) -> int:
        return sum(d.total for d in self.dialogues)

    @property
    def passed(self) -> bool:
        return all(d.passed for d in self.dialogues)

    def timings(self) -> dict[str, dict[str, float]]:
        """Per stage of a turn: p50 and p95 seconds over every turn run, and the turn count."""
        stages: dict[str, list[float]] = {}
        for dialogue in self.dialogues:
            for turn in dialogue.turns:
                for stage, seconds in turn.timings.items():
                    stages.setdefault(stage, []).append(seconds)
        return timing_summary(stages)

    def understanding_accuracy(self) -> dict[str, dict[str, Any]]:
        """Per field group (bot.understanding.FIELDS, in that order): the understanding checks
        passed, their total, and the share passed (None without checks)."""
        counts = {group: [0, 0] for group in FIELDS}
        for dialogue in self.dialogues:
            for check in dialogue.checks:
                group = check_group(check.check)
                if group is not None:
                    counts[group][0] += check.passed
                    counts[group][1] += 1
        return {group: {"passed": p, "total": n, "accuracy": round(p / n, 4) if n else None}
                for group, (p, n) in counts.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "passed_count": self.passed_count,
            "total": self.total,
            "understanding": self.understanding_accuracy(),
            "dialogues_passed": sum(d.passed for d in self.dialogues),
            "dialogues": [
                {
                    "name": d.name,
                    "file": d.file,
                    "catalog": d.catalog,
                    "user": d.user,
                    "passed": d.passed,
                    "passed_count": d.passed_count,
                    "total": d.total,
                    "seconds": round(d.seconds, 3),
                    "turns": [
                        {
                            "index": t.index,
                            "user": t.user,
                            "reply": t.reply,
                            "recommendations": t.recommendations,
                            "checks": [asdict(c) for c in t.checks],
                            "timings": {k: round(v, 4) for k, v in t.timings.items()},
                            "error": t.error,
                            **({"scripted_assistant": True} if t.scripted_assistant else {}),
                            **({"understanding": t.understanding} if t.understanding is not None else {}),
                        }
                        for t in d.turns
                    ],
                }
                for d in self.dialogues
            ],
            "timings": {
                stage: {key: (round(v, 4) if isinstance(v, float) else v) for key, v in values.items()}
                for stage, values in self.timings().items()
            },
            "seconds": round(self.seconds, 3),
        }

    def summary(self) -> str:
        lines = []
        for d in self.dialogues:
            mark = "✓" if d.passed else "✗"
            lines.append(f"{mark} {d.name} ({d.file}): {d.passed_count}/{d.total}")
        failed = [(d, t, c) for d in self.dialogues for t in d.turns for c in t.checks if not c.passed]
        if failed:
            lines += ["", "Failed checks:"]
            for d, t, c in failed:
                lines.append(f"- {d.name}, turn {t.index + 1} ({t.user[:60]!r}): {c.check}: {c.reason}")
        accuracy = self.understanding_accuracy()
        if any(v["total"] for v in accuracy.values()):
            lines += ["", "Understanding per field group (checks passed / total):"]
            lines += [f"  {group:<12} {_share(v)}" for group, v in accuracy.items()]
        timings = self.timings()
        if timings:
            lines += ["", "Turn timings (s): " + ", ".join(
                f"{stage} p50 {v['p50_s']:.2f} p95 {v['p95_s']:.2f}" for stage, v in timings.items())]
        passed_dialogues = sum(d.passed for d in self.dialogues)
        lines += ["", f"Total: {passed_dialogues}/{len(self.dialogues)} dialogues passed, "
                      f"{self.passed_count}/{self.total} checks passed in {self.seconds:.1f} s"]
        return "\n".join(lines)


def _run_one(kith: Any, dialogue: ScriptedDialogue, privacy: Privacy) -> DialogueResult:
    from bot.profile import Profile

    started = time.perf_counter()
    result = DialogueResult(dialogue.name, str(dialogue.file), dialogue.catalog, dialogue.user, [])
    earlier = kith.profile(dialogue.user)
    if not dialogue.keep_profile:
        kith.set_profile(dialogue.user, Profile())
    try:
        context = EvalContext.from_kith(kith, dialogue.user, privacy)
        session_id: str | None = None
        failed_at: int | None = None
        for index, scripted in enumerate(dialogue.turns):
            if failed_at is not None:
                if not scripted.is_assistant:
                    result.turns.append(TurnResult(index, scripted.user or "", "", [], [
                        CheckResult("turn", False, f"not run: turn {failed_at + 1} failed")]))
                continue
            if scripted.is_assistant:
                try:
                    session_id = say_as_assistant(kith, dialogue.user, session_id, scripted.assistant or "",
                                                  scripted.names)
                except Exception as error:  # noqa: BLE001 - as a failing turn
                    failed_at = index
                    result.turns.append(TurnResult(index, "", scripted.assistant or "", list(scripted.names), [
                        CheckResult("turn", False, f"storing the assistant line raised {type(error).__name__}: {error}")],
                        error=f"{type(error).__name__}: {error}", scripted_assistant=True))
                    continue
                result.turns.append(TurnResult(index, "", scripted.assistant or "", list(scripted.names), [],
                                               scripted_assistant=True))
                continue
            assert scripted.user is not None
            try:
                turn = kith.reply(dialogue.user, scripted.user, session_id, context=scripted.context)
            except Exception as error:  # noqa: BLE001 - a failing turn is a result, not a crash
                failed_at = index
                result.turns.append(TurnResult(index, scripted.user, "", [], [
                    CheckResult("turn", False, f"the turn raised {type(error).__name__}: {error}")],
                    error=f"{type(error).__name__}: {error}"))
                continue
            session_id = turn.session_id
            result.turns.append(TurnResult(
                index, scripted.user, turn.text, [r.item_id for r in turn.recommendations],
                evaluate_turn(scripted.expect, turn, context), dict(turn.timings),
                understanding=turn.understanding.model_dump() if getattr(turn, "understanding", None) else None))
    finally:
        if not dialogue.keep_profile:
            kith.set_profile(dialogue.user, earlier)
    result.seconds = time.perf_counter() - started
    return result


def say_as_assistant(kith: Any, user_id: str, session_id: str | None, text: str, names: Sequence[str]) -> str:
    """Store `text` in the session as Kith's reply, with `names` as its recommendations (what
    the next turn reads as just suggested); returns the session id (a new one when None)."""
    from bot.sessions import StoredPick, TurnRecord

    if session_id is None:
        session_id, _ = kith.sessions.open_session(user_id, None)
    items = kith.ranker.stats.items
    picks = [StoredPick(item_id=item_id, title=items[item_id].title, category=items[item_id].category,
                        price=items[item_id].price, reasons=["scripted"]) for item_id in names]
    kith.sessions.append_message(session_id, user_id, "assistant", text,
                                 TurnRecord(recommendations=picks, scripted=True))
    return session_id


def _share(counts: dict[str, Any]) -> str:
    """"9/10 (90%)", or "-" without checks."""
    if not counts["total"]:
        return "-"
    return f"{counts['passed']}/{counts['total']} ({100 * counts['passed'] / counts['total']:.0f}%)"


def run_dialogues(dialogues: Sequence[ScriptedDialogue], data_dir: Path | None, **kith_config: Any) -> ScriptedReport:
    """Run every dialogue, each in its own session; one Kith per catalog, opened once.

    Keyword arguments are Kith configuration (`Kith.open(data_dir, catalog, **kith_config)`).
    Before any turn runs, catalogs and ids are checked against the opened catalogs
    (ScriptedError lists every problem)."""
    from bot.kith import Kith, KithInputError

    started = time.perf_counter()
    opened: dict[str, Any] = {}
    problems: list[str] = []
    try:
        for catalog in dict.fromkeys(d.catalog for d in dialogues):
            try:
                opened[catalog] = Kith.open(data_dir, catalog, **kith_config)
            except KithInputError as error:
                problems += [f"{d.file}: catalog: {error}" for d in dialogues if d.catalog == catalog]
        for dialogue in dialogues:
            kith = opened.get(dialogue.catalog)
            if kith is None:
                continue
            facts = CatalogFacts.from_items(dialogue.catalog, kith.ranker.stats.items.values())
            raw = {"turns": [{"expect": t.expect.model_dump(exclude_none=True), "names": t.names} for t in dialogue.turns]}
            problems += [f"{dialogue.file}: {p}" for p in _item_problems(raw, facts)]
        if problems:
            raise ScriptedError(problems)
        privacy = {catalog: private_activity(kith) for catalog, kith in opened.items()}
        results = [_run_one(opened[d.catalog], d, privacy[d.catalog]) for d in dialogues]
    finally:
        for kith in opened.values():
            kith.close()
    return ScriptedReport(results, time.perf_counter() - started)


# --- readers side by side -----------------------------------------------------------------------

# The understanding readers a comparison runs: the groups of fields each gives the LLM.
READERS: dict[str, tuple[str, ...]] = {"rules": (), "llm": tuple(FIELDS)}


def parse_readers(text: str) -> list[str]:
    """"rules,llm" -> ["rules", "llm"]; ValueError naming the known readers otherwise."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in READERS]
    if unknown or not names:
        raise ValueError(f"unknown readers {', '.join(unknown) or '(none given)'}; known: {', '.join(READERS)}")
    return list(dict.fromkeys(names))


@dataclass
class ReaderComparison:
    """The same dialogues run once per reader."""

    reports: dict[str, ScriptedReport]

    @property
    def passed(self) -> bool:
        return all(report.passed for report in self.reports.values())

    def table(self) -> dict[str, dict[str, dict[str, Any]]]:
        """group -> reader -> {passed, total, accuracy}."""
        accuracy = {reader: report.understanding_accuracy() for reader, report in self.reports.items()}
        return {group: {reader: accuracy[reader][group] for reader in self.reports} for group in FIELDS}

    def table_text(self) -> str:
        readers = list(self.reports)
        rows = [["group", *readers]]
        totals = {reader: {"passed": 0, "total": 0} for reader in readers}
        for group, by_reader in self.table().items():
            rows.append([group, *(_share(by_reader[r]) for r in readers)])
            for reader in readers:
                totals[reader]["passed"] += by_reader[reader]["passed"]
                totals[reader]["total"] += by_reader[reader]["total"]
        rows.append(["all", *(_share(totals[r]) for r in readers)])
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "-+-".join("-" * width for width in widths))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "understanding_by_reader": self.table(),
            "readers": {reader: {"llm_fields": list(READERS[reader]), **report.to_json()}
                        for reader, report in self.reports.items()},
        }

    def summary(self) -> str:
        parts = [f"== reader: {reader} (LLM reads: {', '.join(READERS[reader]) or 'nothing'}) ==\n{report.summary()}"
                 for reader, report in self.reports.items()]
        parts.append("Understanding per field group, by reader (checks passed / total):\n" + self.table_text())
        return "\n\n".join(parts)


def run_readers(dialogues: Sequence[ScriptedDialogue], data_dir: Path | None, readers: Sequence[str],
                **kith_config: Any) -> ReaderComparison:
    """Run the dialogues once per reader (READERS: `rules` gives the LLM no field, `llm` all of
    them), the rest of the Kith configuration the same."""
    reports = {}
    for reader in readers:
        understanding = {**dict(kith_config.get("understanding") or {}), "llm_fields": list(READERS[reader])}
        reports[reader] = run_dialogues(dialogues, data_dir, **{**kith_config, "understanding": understanding})
    return ReaderComparison(reports)
