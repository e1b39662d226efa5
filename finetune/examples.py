"""Training examples for `kith finetune`, built from dialogues and interactions.

Two kinds of example, each a chat prompt and the assistant text to learn:
- dialogue: at every assistant turn that names items, the prompt is the one the bot sends at that
  moment (`bot.reply.recommendation_messages`: the person's last message, the tone its sentiment
  calls for, the top pick's facts), and the target is what the recommender said where every
  sentence of it passes the bot's faithfulness check (bot/faithfulness.py) against those facts;
  otherwise the sentence the bot builds from the facts ("Try <title> — <description sentence or
  tags>"), and no example where the pick has no facts beyond its kind. So an adapter never learns
  to claim what its prompt does not say. The picks are the items the recommender named plus
  distractors from the same data, so the model learns to recommend from the candidates it is given;
- interaction: what a person liked so far (and their friends' shared activity, where the data has
  friendships) followed by the next item they chose, as one exchange (`interaction_messages`). A
  ReDial recommender turn gives one too: the seeker's liked movies and last message, then the
  recommended movie the seeker had not mentioned. Only public and friends-visible interactions
  are read: an adapter serves everyone, and private activity never leaves its owner.

Input: ReDial conversations (`*.jsonl` with `conversationId`, `messages`, `movieMentions`),
Kith's own files (`dialogues*.jsonl`, `items*`, `interactions*`, `users*`, `friendships*`,
validated as `kith ingest` validates them) and catalogs of a data folder (`catalog_dataset`: what
was ingested, and what people told Kith since, such as card feedback, stored as their
interactions; chat sessions and profiles are never read). A catalog's records go through the same
builders as files', so the same visibility rules hold: its private rows, which feedback is unless
the person shares it, reach no example. Every problem of every file is reported at once
(`DataError`, `file:line: field: message`), before any training starts.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import prompts
from bot.answers import CATEGORY_NOUNS
from bot.faithfulness import FaithfulnessCheck, ItemFacts, TurnFacts
from bot.reply import ABOUT_WORDS, LISTED, choose_tone, fact_sentences, lead, recommendation_messages
from bot.runtimes.base import Message
from bot.sentiment import analyze
from retrieval.database import Database
from retrieval.datafiles import DataError, Dataset, Issue, Origin, expand_paths, kind_of_file, read_files
from retrieval.redial import read_conversations, redial_turns
from retrieval.schemas import SHARED_VISIBILITIES, Interaction, Item
from retrieval.titles import TitleFinder

# Interactions that say a person chose an item and was glad of it.
CHOSEN_KINDS = ("like", "purchase", "rating", "review")
GOOD_RATING = 4.0
HISTORY_SHOWN = 5  # most recent liked items in an interaction prompt
FRIEND_ITEMS_SHOWN = 3
# Reply examples generated from a catalog's facts, at most (a large catalog's dialogues still count).
REPLY_EXAMPLES = 600
# What an example teaches: a reply sentence from a pick's facts, the next item a person chose, or
# the Understanding of a message (finetune/understanding.py).
EXAMPLE_KINDS = ("dialogue", "interaction", "understanding")
SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.!?;:])")


@dataclass(frozen=True)
class Example:
    messages: tuple[Message, ...]  # the prompt: system and user messages
    target: str  # the assistant's text: the only tokens trained on
    kind: str  # one of EXAMPLE_KINDS
    origin: str  # "file:line" of the conversation or user it came from
    group: str  # examples of one conversation or user share a group (held-out splits keep groups whole)
    candidates: tuple[str, ...] = ()  # item ids the prompt offers (dialogue examples)


@dataclass
class TrainingData:
    examples: list[Example]
    files: list[Path]
    counts: dict[str, int] = field(default_factory=dict)
    # "catalog NAME in DATABASE" -> SHA-256 of the examples built from it (a catalog changes in place)
    catalogs: dict[str, str] = field(default_factory=dict)
    kinds: tuple[str, ...] = EXAMPLE_KINDS  # the kinds of example kept (`only`)

    def only(self, kinds: Sequence[str]) -> TrainingData:
        """The examples of `kinds` alone: an adapter for one job (`kith finetune --kinds`)."""
        unknown = sorted(set(kinds) - set(EXAMPLE_KINDS))
        if unknown:
            raise ValueError(f"unknown kinds of example {unknown}: choose from {', '.join(EXAMPLE_KINDS)}")
        kept = [e for e in self.examples if e.kind in kinds]
        if not kept:
            raise ValueError(f"no {' or '.join(kinds)} examples in this data ({self.counts})")
        chosen = tuple(k for k in EXAMPLE_KINDS if k in kinds)
        return TrainingData(kept, self.files, {k: self.counts.get(k, 0) for k in chosen}, self.catalogs, chosen)


def interaction_messages(liked: Sequence[str], friends: Sequence[str] = (), request: str | None = None) -> list[Message]:
    """A person's history, their friends' activity and their request, as a prompt whose answer
    is the next item's title (prompts/finetune.toml)."""
    template = prompts.table("finetune")
    parts = [template["liked"].format(titles="; ".join(liked)) if liked else template["nothing_liked"]]
    if friends:
        parts.append(template["friends"].format(titles="; ".join(friends)))
    parts.append(request or template["request"])
    return [{"role": "system", "content": template["system"]}, {"role": "user", "content": " ".join(parts)}]


def interaction_answer(title: str) -> str:
    return prompts.table("finetune")["answer"].format(title=title)


def catalog_dataset(database: Database, catalog: str) -> Dataset:
    """A stored catalog's records as its files would give them: items, users, friendships,
    dialogues and every interaction. Private ones are read so that the builders can leave out what
    only they name, as they do for files."""
    dataset = Dataset()
    origin = Origin(f"catalog {catalog}", None)
    for record in [*database.items(catalog), *database.users(catalog), *database.friendships(catalog),
                   *database.interactions(catalog)]:
        dataset.add(record, origin)
    for dialogue in database.dialogues(catalog):
        dataset.add(dialogue, Origin(f"catalog {catalog}, dialogue {dialogue.id}", None))
    return dataset


def load_examples(paths: Iterable[Path], seed: int = 0, worked_examples: bool = False,
                  database: Database | None = None, catalogs: Sequence[str] = ()) -> TrainingData:
    """Read every file and every named catalog of `database`, report all problems at once
    (DataError), then build the examples.

    Dialogue prompts leave out the bot's worked examples unless `worked_examples` (training does
    not need them; measuring replies as the bot gets them does)."""
    files, issues = expand_paths(paths)
    stored: dict[str, Dataset] = {}  # "catalog NAME in DATABASE" -> its records
    for catalog in dict.fromkeys(catalogs):
        if database is None or not database.has_catalog(catalog):
            where = str(database.path) if database is not None else "<no data folder>"
            known = ", ".join(database.catalogs()) if database is not None else ""
            issues.append(Issue(where, None, "catalog", f"no catalog {catalog!r} here (catalogs: {known or 'none'}); "
                                "ingest it first or give the --data-dir that holds it"))
        else:
            stored[f"catalog {catalog} in {database.path.resolve()}"] = catalog_dataset(database, catalog)
    kith_files = [f for f in files if kind_of_file(f) is not None]
    redial_files = [f for f in files if kind_of_file(f) is None and f.suffix.lower() == ".jsonl"]
    for other in files:
        if other not in kith_files and other not in redial_files:
            issues.append(Issue(str(other), None, None, "not training data: give ReDial conversations (.jsonl) or "
                                "Kith files named dialogues*, items*, interactions*, users*, friendships*"))
    conversations: list[tuple[str, int, dict[str, Any]]] = []
    for path in redial_files:
        conversations += [(str(path), line, conversation) for line, conversation in read_conversations(path, issues)]
    try:
        dataset = read_files(kith_files) if kith_files else None
    except DataError as error:
        issues += error.issues
        dataset = None
    if issues:
        raise DataError(sorted(issues, key=lambda i: (i.path, i.line or 0)))

    # The understanding job's builders take this module's Example: imported here, not above.
    from finetune import understanding

    examples: list[Example] = []
    if conversations:
        titles = _redial_titles(conversations)
        examples += _redial_examples(conversations, titles, seed, worked_examples)
        examples += understanding.from_redial(conversations, titles)
    if dataset is not None:
        examples += _kith_examples(dataset, seed, worked_examples)
    digests = {}
    for source, records in stored.items():
        found = _kith_examples(records, seed, worked_examples)
        digests[source] = _digest(found)
        examples += found
    if not examples:
        raise DataError([Issue(", ".join([*map(str, files), *stored]) or "<no files>", None, None,
                               "no training examples: dialogues need assistant turns that name items, "
                               "interactions need at least two liked items per person")])
    counts = {kind: sum(e.kind == kind for e in examples) for kind in EXAMPLE_KINDS}
    return TrainingData(examples, files, counts, digests)


def _kith_examples(dataset: Dataset, seed: int, worked_examples: bool) -> list[Example]:
    """Every kind of example from records in Kith's own schema (files or a stored catalog)."""
    from finetune import understanding  # takes this module's Example: imported here, not above

    items = {item.id: item for item in dataset.items}
    check = _check(items)
    examples = []
    for dialogue in dataset.dialogues:
        turns = [(t.role, t.text, [m.item_id for m in t.mentions]) for t in dialogue.turns]
        liked = {m.item_id for t in dialogue.turns if t.role == "user" for m in t.mentions if m.sentiment in ("like", None)}
        examples += _dialogue_examples(turns, items, liked, str(dataset.origin(dialogue)), dialogue.id, seed, check,
                                       worked_examples)
    examples += _interaction_examples(dataset.interactions, dataset.friendships, items,
                                      {id(i): dataset.origin(i) for i in dataset.interactions})
    examples += understanding.from_kith_dialogues(dataset, items)
    # An item that only private activity names would reveal that activity if a generated
    # message named it; the rest of the catalog is public.
    shared = {i.item_id for i in dataset.interactions if i.visibility in SHARED_VISIBILITIES}
    private_only = {i.item_id for i in dataset.interactions} - shared
    public_items = [item for item in dataset.items if item.id not in private_only]
    examples += understanding.from_catalog(public_items, seed)
    examples += catalog_reply_examples(public_items, check, seed, worked_examples)
    return examples


def catalog_reply_examples(items: Sequence[Item], check: FaithfulnessCheck, seed: int = 0,
                           worked_examples: bool = False, most: int = REPLY_EXAMPLES) -> list[Example]:
    """Reply examples from a catalog's own facts, no dialogue needed: for items with tags (at most
    `most`, seeded), a request made of their tags (prompts/finetune.toml `reply_requests`), the
    bot's prompt with the item as the top pick beside two others of its category, and as the target
    the first sentence from its facts that passes the faithfulness check (`bot.reply.fact_sentences`:
    the description's sentence most like the request where the prompt shows it whole, else its
    tags: `_prompted_fact_sentences`). So an adapter learns the reply format on any catalog,
    saying only what the facts support."""
    rng = random.Random(f"{seed}:catalog-replies")
    tagged = [item for item in items if item.tags and item.description]
    by_category: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_category[item.category].append(item)
    requests = prompts.table("finetune")["reply_requests"]
    examples = []
    for item in rng.sample(tagged, min(most, len(tagged))):
        tag, other = (rng.sample(item.tags[:4], 2) if len(item.tags) >= 2 else [item.tags[0]] * 2)
        pick = _candidate(item)
        request = rng.choice(requests).format(tag=tag, other=other, kind=CATEGORY_NOUNS.get(item.category, item.category))
        others = [o for o in by_category[item.category] if o.id != item.id]
        picks = [pick, *(_candidate(o) for o in rng.sample(others, min(LISTED - 1, len(others))))]
        facts = TurnFacts((pick,))
        target = next((s for s in _prompted_fact_sentences(pick, request) if check.check(s, facts).supported), None)
        if target is not None:
            examples.append(Example(
                tuple(recommendation_messages(request, picks, choose_tone(analyze(request, [])),
                                              sorted({p.category for p in picks}), examples=worked_examples)),
                target, "dialogue", f"catalog:{item.id}", f"catalog:{item.category}", tuple(p.item_id for p in picks),
            ))
    return examples


def _digest(examples: Sequence[Example]) -> str:
    """SHA-256 of what the examples teach, prompts and targets: the identity of data that has no file."""
    content = json.dumps([[list(e.messages), e.target] for e in examples], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()


# --- ReDial -----------------------------------------------------------------------------------


def _redial_titles(conversations: Sequence[tuple[str, int, dict[str, Any]]]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for _, _, conversation in conversations:
        mentions = conversation.get("movieMentions") or {}
        titles.update({str(k): " ".join(v.split()) for k, v in mentions.items() if v and v.strip()})
    return titles


def _redial_examples(conversations: Sequence[tuple[str, int, dict[str, Any]]], titles: dict[str, str], seed: int,
                     worked_examples: bool) -> list[Example]:
    items = {movie_id: Item(id=movie_id, title=title, category="films") for movie_id, title in titles.items()}
    check = _check(items)
    examples = []
    for path, line, conversation in conversations:
        questions = conversation.get("initiatorQuestions") or {}
        liked = {str(k) for k, v in questions.items() if v.get("liked") == 1}
        turns = [(t.role, t.text, t.movie_ids) for t in redial_turns(conversation, titles)]
        examples += _dialogue_examples(turns, items, liked, f"{path}:{line}", str(conversation["conversationId"]), seed,
                                       check, worked_examples)
    return examples


# --- dialogues (ReDial's and Kith's) -----------------------------------------------------------


def _candidate(item: Item) -> ItemFacts:
    return ItemFacts(item.id, item.title, item.category, item.description, tuple(item.tags), item.price, (),
                     dict(item.attributes))


def _check(items: dict[str, Item]) -> FaithfulnessCheck:
    finder = TitleFinder((item.id, item.title, 0.0) for item in items.values())
    return FaithfulnessCheck(finder, {tag for item in items.values() for tag in item.tags})


def _faithful_target(text: str, pick: ItemFacts, own: set[str], message: str, check: FaithfulnessCheck) -> str | None:
    """What the recommender said where the pick's facts support all of it, else the bot's
    sentence from those facts, else None (the pick has no facts beyond its kind)."""
    facts = TurnFacts((pick,), frozenset(own))
    if all(verdict.supported for _, verdict in check.check_reply(text, facts)):
        return text
    if not pick.description and not pick.tags:
        return None
    return next((s for s in _prompted_fact_sentences(pick, message) if check.check(s, facts).supported), None)


def _prompted_fact_sentences(pick: ItemFacts, request: str) -> list[str]:
    """The bot's sentences from the pick's facts that say only what the prompt shows: of a
    description sentence, the prompt gives at most ABOUT_WORDS words (bot.reply.describe_pick),
    so a longer one is no target (the model would learn to say more than it is told)."""
    return fact_sentences(lead(0, pick.title), pick, request, most_words=ABOUT_WORDS)


def _dialogue_examples(
    turns: Sequence[tuple[str, str, Sequence[str]]],
    items: dict[str, Item],
    liked: set[str],
    origin: str,
    group: str,
    seed: int,
    check: FaithfulnessCheck,
    worked_examples: bool = False,
) -> list[Example]:
    """Examples at each assistant turn that names items and answers a person's message."""
    examples = []
    pool_by_category: dict[str, list[str]] = defaultdict(list)
    for item in items.values():
        pool_by_category[item.category].append(item.id)
    mentioned_in_dialogue = {m for _, _, ids in turns for m in ids}
    earlier: list[str] = []
    for index, (role, text, ids) in enumerate(turns):
        named = [m for m in dict.fromkeys(ids) if m in items]
        previous = turns[index - 1] if index else None
        if role == "assistant" and named and previous is not None and previous[0] == "user" and previous[1]:
            message = previous[1]
            liked_so_far = [items[m].title for m in dict.fromkeys(earlier) if m in liked and m in items]
            if len(named) <= LISTED:
                rng = random.Random(f"{seed}:{group}:{index}")
                category = items[named[0]].category
                pool = [i for i in pool_by_category[category] if i not in mentioned_in_dialogue]
                distractors = rng.sample(pool, min(LISTED - len(named), len(pool)))
                picks = [_candidate(items[i]) for i in [*named, *distractors]]
                tone = choose_tone(analyze(message, []))
                own = {m for r, _, mentioned in turns[:index] if r == "user" for m in mentioned}
                target = _faithful_target(_tidy(text), picks[0], own, message, check)
                if target is not None:
                    examples.append(Example(
                        tuple(recommendation_messages(message, picks, tone, sorted({p.category for p in picks}),
                                                      examples=worked_examples)),
                        target, "dialogue", origin, group, tuple(p.item_id for p in picks),
                    ))
            fresh = [m for m in named if m not in earlier]
            if fresh:
                examples.append(Example(
                    tuple(interaction_messages(liked_so_far[-HISTORY_SHOWN:], request=message)),
                    interaction_answer(items[fresh[0]].title), "interaction", origin, group,
                ))
        earlier += [m for m in ids if m in items]
    return examples


def _tidy(text: str) -> str:
    """One line, no space before punctuation (ReDial writes "@123 ," around its mentions)."""
    return SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(text.split()))


# --- interactions ----------------------------------------------------------------------------


def _chosen(interaction: Interaction) -> bool:
    if interaction.kind not in CHOSEN_KINDS:
        return False
    return interaction.rating is None or interaction.rating >= GOOD_RATING


def _interaction_examples(
    interactions: Sequence[Interaction],
    friendships: Sequence[Any],
    items: dict[str, Item],
    origins: dict[int, Any],
) -> list[Example]:
    """For each person, each liked item after the first: the items liked before it (and what
    friends shared) -> that item. Order: timestamps where given, else file order. Private
    interactions are left out altogether, as history, target and friends' activity alike: the
    adapter serves everyone and may repeat what it was trained on."""
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for interaction in interactions:
        if interaction.visibility in SHARED_VISIBILITIES and _chosen(interaction) and interaction.item_id in items:
            by_user[interaction.user_id].append(interaction)
    friends: dict[str, set[str]] = defaultdict(set)
    for friendship in friendships:
        friends[friendship.user_id].add(friendship.friend_id)
        friends[friendship.friend_id].add(friendship.user_id)
    examples = []
    for user, chosen in sorted(by_user.items()):
        ordered = sorted(enumerate(chosen), key=lambda pair: (pair[1].timestamp is not None, pair[1].timestamp or 0, pair[0]))
        sequence = list(dict.fromkeys(i.item_id for _, i in ordered))
        for position in range(1, len(sequence)):
            history = [items[i].title for i in sequence[max(0, position - HISTORY_SHOWN):position]]
            own = set(sequence[:position])
            from_friends = list(dict.fromkeys(
                i.item_id for friend in sorted(friends[user]) for i in by_user.get(friend, []) if i.item_id not in own
            ))[:FRIEND_ITEMS_SHOWN]
            first = next(i for _, i in ordered if i.item_id == sequence[position])
            origin = origins.get(id(first))
            where = str(origin) if origin else user
            examples.append(Example(
                tuple(interaction_messages(history, [items[i].title for i in from_friends])),
                interaction_answer(items[sequence[position]].title), "interaction", where, f"user:{user}",
            ))
    return examples
