"""Reading Kith's own JSONL and CSV files into validated records, reporting every problem at once.

A file's kind comes from its name: `items.jsonl`, `items-books.csv`, `users.csv`,
`friendships.jsonl`, `interactions-2024.jsonl`, `help_articles.jsonl`, `dialogues.jsonl`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from retrieval.schemas import (
    RECORD_KINDS,
    Dialogue,
    Friendship,
    HelpArticle,
    Interaction,
    Item,
    Record,
    User,
)

FILE_NAME = re.compile(r"^(items|users|friendships|interactions|help[-_]articles|dialogues)([-_.].*)?$")
SUFFIXES = (".jsonl", ".csv")
# Fields that hold lists or objects: how they are spelled inside one CSV cell.
CSV_LIST_SEPARATOR = "|"
CSV_JSON_FIELDS = {"attributes"}
CSV_LIST_FIELDS = {"tags"}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Issue:
    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class DataError(ValueError):
    """Input data is invalid. Carries every problem found, each naming file, line and field."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__(self.summary())

    def summary(self, limit_per_file: int | None = None) -> str:
        lines = [f"{len(self.issues)} problem(s) in the input; nothing was written."]
        shown: dict[str, int] = {}
        for issue in self.issues:
            shown[issue.path] = shown.get(issue.path, 0) + 1
            if limit_per_file is None or shown[issue.path] <= limit_per_file:
                lines.append(f"  {issue}")
        if limit_per_file is not None:
            for path, count in shown.items():
                if count > limit_per_file:
                    lines.append(f"  ... and {count - limit_per_file} more in {path}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Origin:
    path: str
    line: int | None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass
class Dataset:
    """Records of every kind, each with where it came from (for error messages)."""

    items: list[Item] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    friendships: list[Friendship] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    help_articles: list[HelpArticle] = field(default_factory=list)
    dialogues: list[Dialogue] = field(default_factory=list)
    origins: dict[int, Origin] = field(default_factory=dict, repr=False)

    def add(self, record: Record, origin: Origin) -> None:
        self.records_of(_kind_of_record(record)).append(record)  # type: ignore[arg-type]
        self.origins[id(record)] = origin

    def records_of(self, kind: str) -> list[Record]:
        return getattr(self, kind)

    def origin(self, record: Record) -> Origin:
        return self.origins.get(id(record), Origin("<input>", None))

    def counts(self) -> dict[str, int]:
        return {kind: len(self.records_of(kind)) for kind in RECORD_KINDS}

    def is_empty(self) -> bool:
        return not any(self.counts().values())


def _kind_of_record(record: Record) -> str:
    for kind, model in RECORD_KINDS.items():
        if isinstance(record, model):
            return kind
    raise TypeError(f"not a Kith record: {type(record).__name__}")


def kind_of_file(path: Path) -> str | None:
    match = FILE_NAME.match(path.stem.lower())
    if match is None or path.suffix.lower() not in SUFFIXES:
        return None
    return match.group(1).replace("-", "_")


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[Issue]]:
    """Files named directly, or the data files inside named folders (sorted, not recursive)."""
    files: list[Path] = []
    issues: list[Issue] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                issues.append(Issue(str(path), None, None, "folder holds no .jsonl or .csv files"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            issues.append(Issue(str(path), None, None, "no such file or folder"))
    return files, issues


def read_files(
    paths: Iterable[Path],
    known_users: set[str] = frozenset(),  # type: ignore[assignment]
    known_items: set[str] = frozenset(),  # type: ignore[assignment]
) -> Dataset:
    """Read and validate every file; raise DataError listing all problems, or return the data.

    `known_users` and `known_items` are ids already stored in the target catalog, which
    interactions and friendships may refer to.
    """
    files, issues = expand_paths(paths)
    dataset = Dataset()
    for path in files:
        kind = kind_of_file(path)
        if kind is None:
            issues.append(
                Issue(
                    str(path),
                    None,
                    None,
                    "cannot tell what this file holds from its name: name it items*, users*, "
                    "friendships*, interactions*, help_articles* or dialogues*, ending .jsonl or .csv",
                )
            )
            continue
        issues.extend(_read_file(path, kind, dataset))
    issues.extend(check_dataset(dataset, known_users, known_items))
    if issues:
        raise DataError(issues)
    return dataset


def _read_file(path: Path, kind: str, dataset: Dataset) -> list[Issue]:
    model = RECORD_KINDS[kind]
    issues: list[Issue] = []
    try:
        raw = path.read_bytes()
    except OSError as error:
        return [Issue(str(path), None, None, f"cannot read file: {error.strerror}")]
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path, raw, model, issues)
    else:
        rows = jsonl_rows(path, raw, issues)
    issues.extend(_add_rows(rows, model, str(path), dataset))
    return issues


def _add_rows(rows: Iterable[tuple[int, Any]], model: type[Record], source: str, dataset: Dataset) -> list[Issue]:
    issues: list[Issue] = []
    for line, row in rows:
        try:
            record = model.model_validate(row)
        except ValidationError as error:
            for problem in error.errors():
                location = ".".join(str(part) for part in problem["loc"]) or None
                issues.append(Issue(source, line, location, _plain_message(problem)))
            continue
        dataset.add(record, Origin(source, line))
    return issues


def read_records(
    kind: str,
    rows: Sequence[Any],
    source: str,
    known_users: set[str] = frozenset(),  # type: ignore[assignment]
    known_items: set[str] = frozenset(),  # type: ignore[assignment]
) -> Dataset:
    """Validate records of one kind given as data (an HTTP request's JSON) rather than a file.
    Problems name `source` and the record's number (from 1) where a file would name its line."""
    dataset = Dataset()
    issues = _add_rows(enumerate(rows, start=1), RECORD_KINDS[kind], source, dataset)
    issues.extend(check_dataset(dataset, known_users, known_items))
    if issues:
        raise DataError(issues)
    return dataset


def _plain_message(problem: dict[str, Any]) -> str:
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        return "unknown field (check its spelling against the README's schema)"
    if problem["type"] == "missing":
        return "required field is missing"
    if "input" in problem and problem["type"] not in ("missing",) and not isinstance(problem["input"], dict):
        return f"{message} (got {problem['input']!r:.60})"
    return message


def jsonl_rows(path: Path, raw: bytes, issues: list[Issue]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each JSON Lines row; unreadable rows become issues."""
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as error:
            issues.append(Issue(str(path), number, None, f"not valid UTF-8 (byte {error.start})"))
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            issues.append(Issue(str(path), number, None, f"not valid JSON: {error.msg} at column {error.colno}"))
            continue
        if not isinstance(value, dict):
            issues.append(Issue(str(path), number, None, f"expected a JSON object, got {type(value).__name__}"))
            continue
        yield number, value


def _csv_rows(
    path: Path, raw: bytes, model: type[Record], issues: list[Issue]
) -> Iterator[tuple[int, dict[str, Any]]]:
    if model is Dialogue:
        issues.append(Issue(str(path), None, None, "dialogues have nested turns: write them as JSONL, not CSV"))
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        issues.append(Issue(str(path), line, None, f"not valid UTF-8 (byte {error.start})"))
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in model.model_fields]
    for name in unknown:
        issues.append(Issue(str(path), 1, name, "unknown column (check its spelling against the README's schema)"))
    if unknown:
        return
    for row in reader:
        line = reader.line_num
        if None in row:
            issues.append(Issue(str(path), line, None, f"row has more cells than the header's {len(header)}"))
            continue
        values: dict[str, Any] = {}
        for name, cell in row.items():
            if cell is None or cell == "":
                continue
            if name in CSV_LIST_FIELDS:
                values[name] = [part for part in cell.split(CSV_LIST_SEPARATOR) if part.strip()]
            elif name in CSV_JSON_FIELDS:
                try:
                    values[name] = json.loads(cell)
                except json.JSONDecodeError as error:
                    issues.append(Issue(str(path), line, name, f"not a JSON object: {error.msg}"))
                    values = {}
                    break
            else:
                values[name] = cell
        else:
            yield line, values


def check_dataset(dataset: Dataset, known_users: set[str], known_items: set[str]) -> list[Issue]:
    """Problems that span records: duplicate ids, and references to users or items that exist nowhere."""
    issues: list[Issue] = []

    def issue(record: Record, field_name: str, message: str) -> None:
        origin = dataset.origin(record)
        issues.append(Issue(origin.path, origin.line, field_name, message))

    for kind in ("items", "users", "help_articles", "dialogues", "interactions"):
        seen: dict[str, Record] = {}
        for record in dataset.records_of(kind):
            key = record.key if isinstance(record, Interaction) else record.id  # type: ignore[attr-defined]
            if key in seen:
                first = dataset.origin(seen[key])
                issue(record, "id", f"duplicate id {key!r} (first at {first.path}:{first.line})")
            else:
                seen[key] = record

    users = known_users | {user.id for user in dataset.users}
    items = known_items | {item.id for item in dataset.items}
    for friendship in dataset.friendships:
        for name in ("user_id", "friend_id"):
            if getattr(friendship, name) not in users:
                issue(friendship, name, f"unknown user {getattr(friendship, name)!r}")
    for interaction in dataset.interactions:
        if interaction.user_id not in users:
            issue(interaction, "user_id", f"unknown user {interaction.user_id!r}")
        if interaction.item_id not in items:
            issue(interaction, "item_id", f"unknown item {interaction.item_id!r}")
    for dialogue in dataset.dialogues:
        if dialogue.user_id is not None and dialogue.user_id not in users:
            issue(dialogue, "user_id", f"unknown user {dialogue.user_id!r}")
        for turn_number, turn in enumerate(dialogue.turns):
            for mention_number, mention in enumerate(turn.mentions):
                if mention.item_id not in items:
                    issue(
                        dialogue,
                        f"turns.{turn_number}.mentions.{mention_number}.item_id",
                        f"unknown item {mention.item_id!r}",
                    )
    issues.sort(key=lambda i: (i.path, i.line or 0))
    return issues


def delimited_rows(
    path: Path, columns: Sequence[str], issues: list[Issue], delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of each row of a CSV (or, with `delimiter`, tab-separated) file whose header
    names `columns`, and perhaps others. What cannot be read becomes an issue: the file, a missing
    column, bytes that are not UTF-8, a row with more or fewer cells than the header."""
    try:
        handle = path.open("rb")
    except OSError as error:
        issues.append(Issue(str(path), None, None, f"cannot read file: {error.strerror}"))
        return
    with handle:
        reader = csv.reader(_text_lines(path, handle, issues), delimiter=delimiter, quoting=quoting)
        header: list[str] | None = None
        try:
            for cells in reader:
                if header is None:
                    header = cells
                    missing = [name for name in columns if name not in header]
                    if missing:
                        issues.append(Issue(str(path), 1, ", ".join(missing), "missing column(s) in the header"))
                        return
                elif len(cells) == len(header):
                    yield reader.line_num, dict(zip(header, cells, strict=True))
                elif cells:  # a blank line is no row
                    issues.append(Issue(str(path), reader.line_num, None,
                                        f"row has {len(cells)} cells where the header has {len(header)}"))
        except csv.Error as error:
            # The reader cannot find where the row ends (an unclosed quote): the rest is unreadable.
            issues.append(Issue(str(path), reader.line_num, None, f"not valid CSV: {error}"))
            return
        if header is None:
            issues.append(Issue(str(path), None, None, "empty file: expected a header naming " + ", ".join(columns)))


def _text_lines(path: Path, handle: BinaryIO, issues: list[Issue]) -> Iterator[str]:
    # Decoded line by line so that a bad byte names its line; the line is still passed on (with
    # replacement characters) so that the reader's line numbers stay true.
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            issues.append(Issue(str(path), number, None, f"not valid UTF-8 (byte {error.start})"))
            text = raw.decode("utf-8", errors="replace")
        yield text.removeprefix("\ufeff") if number == 1 else text
