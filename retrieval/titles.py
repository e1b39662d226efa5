"""Matching titles written by different hands: case, punctuation, accents, "Matrix, The",
alternate titles in parentheses, a missing year, small typos."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from rapidfuzz import fuzz, process

YEAR_AT_END = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
PARENTHESES = re.compile(r"\(([^()]*)\)")
TRAILING_ARTICLE = re.compile(r"^(.*),\s*(the|a|an|les|la|le|l'|el|il|die|der|das)$", re.IGNORECASE)
LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+")
# Letters and digits of every script are kept: "Кино" is a name, not nothing.
NOT_WORD = re.compile(r"[\W_]+")


def split_year(title: str) -> tuple[str, int | None]:
    """'Alien (1979)' -> ('Alien', 1979); 'Alien' -> ('Alien', None)."""
    match = YEAR_AT_END.search(title)
    if match is None:
        return title.strip(), None
    return title[: match.start()].strip(), int(match.group(1))


def normalize(name: str) -> str:
    """A key equal for spellings a person would call the same title."""
    # Some sources URL-encode punctuation ("Why Him%3F").
    text = unicodedata.normalize("NFKD", unquote(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().strip()
    text = text.replace("&", " and ")
    article = TRAILING_ARTICLE.match(text)
    if article:
        text = f"{article.group(2)} {article.group(1)}"
    text = NOT_WORD.sub(" ", text).strip()
    return LEADING_ARTICLE.sub("", text)


def title_variants(title: str) -> tuple[list[str], int | None]:
    """Normalized names a title goes by ('Seven (a.k.a. Se7en) (1995)' -> ['seven', 'se7en'])."""
    name, year = split_year(title)
    alternates = [part.removeprefix("a.k.a. ").strip() for part in PARENTHESES.findall(name)]
    main = PARENTHESES.sub(" ", name)
    keys = [normalize(main)] + [normalize(a) for a in alternates if a]
    return [k for k in dict.fromkeys(keys) if k], year


class TitleIndex:
    """Find the id of a title among many; exact key and year first, then looser, then fuzzy."""

    def __init__(self, entries: Iterable[tuple[str, str]], fuzzy_cutoff: float = 90.0):
        self.fuzzy_cutoff = fuzzy_cutoff
        self._by_key_year: dict[tuple[str, int | None], list[str]] = defaultdict(list)
        self._by_key: dict[str, list[str]] = defaultdict(list)
        self._year_of: dict[str, int | None] = {}
        for entry_id, title in entries:
            keys, year = title_variants(title)
            self._year_of[entry_id] = year
            for key in keys:
                self._by_key_year[(key, year)].append(entry_id)
                self._by_key[key].append(entry_id)
            # "Borat (2006)" is how people write "Borat: Cultural Learnings of ... (2006)"; the
            # part before a colon counts only together with the year, where it is unambiguous.
            head = split_year(title)[0].split(":")[0]
            if year is not None and ":" in title and normalize(head) not in keys:
                self._by_key_year.setdefault((normalize(head), year), []).append(entry_id)
        self._keys = list(self._by_key)

    def match(self, title: str) -> str | None:
        keys, year = title_variants(title)
        for key in keys:
            if year is not None:
                for candidate_year in (year, year - 1, year + 1):
                    found = self._by_key_year.get((key, candidate_year))
                    if found:
                        return found[0]
            found = self._by_key.get(key)
            if found and (year is None or len(found) == 1 and self._year_of[found[0]] is None):
                return found[0]
        for key in keys:
            if len(key) < 4:
                continue  # fuzzy matching very short names mostly finds other short names
            for candidate, _score, _ in process.extract(
                key, self._keys, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff, limit=5
            ):
                for entry_id in self._by_key[candidate]:
                    entry_year = self._year_of[entry_id]
                    if year is None or entry_year is None or abs(entry_year - year) <= 1:
                        return entry_id
        return None


# Words of every script ("Кино", "Mumford"), with an apostrophe's ending ("Schindler's").
TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
MAX_TITLE_TOKENS = 10
# Titles that are also everyday words ("It", "Up", "Her", "Home") would be found in every other
# sentence; a one-word title counts only when written capitalized and not an everyday word.
EVERYDAY_WORDS = frozenset(
    """a about after again all also am an and any are as at away back be because been before being best
    better big but by can come could day did do does done down each even ever every few find first for
    from get give go going good got great had has have he her here him his home how i if in into is it
    its just know last left let life like little long look love made make man many may me more most much
    my need never new next night no not now of off old on once one only or other our out over people
    please put really right said same see seen she should show so some something still such sure take than
    thanks that the their them then there these they thing think this those time to too try two up us
    use very want was watch watched way we well went were what when where which while who why will with without
    work would year yes yet you your""".split()
)


# A phrase starting with one of these is a sentence, not a misspelt title ("Try Alien" is not
# "Tron Alien").
FUZZY_STARTS_EXCLUDED = EVERYDAY_WORDS - {"the", "a", "an"}


@dataclass(frozen=True)
class FoundTitle:
    item_id: str
    start: int  # character span in the searched text
    end: int
    # Every item going by this name (a book and its film): the name alone cannot tell them apart.
    same_name: tuple[str, ...] = ()


def _article(name: str) -> str | None:
    """The article a title starts with, or ends with after a comma ("Matrix, The"): "the"."""
    lowered = name.strip().lower()
    match = LEADING_ARTICLE.match(lowered)
    if match:
        return match.group(1)
    match = TRAILING_ARTICLE.match(lowered)
    return match.group(2) if match else None


class TitleFinder:
    """Find catalog titles inside free text ("I loved alien but the matrx bored me")."""

    def __init__(self, entries: Iterable[tuple[str, str, float]], fuzzy_cutoff: float = 88.0):
        """`entries`: (item id, title, popularity); among same-named items the more popular wins."""
        self.fuzzy_cutoff = fuzzy_cutoff
        ranked: dict[str, list[tuple[float, int | None, str]]] = defaultdict(list)
        # One-word names whose title starts with an article ("The Matrix"), by that article:
        # "the matrix" in lowercase is then still clearly the title, but "a comedy" is not
        # "The Comedy".
        self._article_keys: dict[str, str] = {}
        for entry_id, title, popularity in entries:
            keys, year = title_variants(title)
            for key in keys:
                ranked[key].append((popularity, year, entry_id))
            article = _article(split_year(title)[0])
            if article:
                self._article_keys[keys[0]] = article
        self._ids = {key: sorted(values, key=lambda v: -v[0]) for key, values in ranked.items()}
        # Fuzzy matching only for names long enough that a typo cannot turn them into another
        # word, and only against names of as many words as the phrase.
        self._fuzzy_keys: dict[int, list[str]] = defaultdict(list)
        for key in self._ids:
            if len(key) >= 5:
                self._fuzzy_keys[key.count(" ") + 1].append(key)
        # Every turn reads the conversation so far for titles: each text is searched once.
        # Searching a reply with its list of picks took ~8 ms (measured), and by turn 20 a turn
        # would search 19 of them.
        self._found = functools.lru_cache(maxsize=4096)(self._search)

    def find(self, text: str) -> list[FoundTitle]:
        return list(self._found(text))

    def _search(self, text: str) -> tuple[FoundTitle, ...]:
        # "(1979)" after a title is read as its year, never as part of a name.
        tokens = [
            (m.group(0), m.start(), m.end())
            for m in TOKEN.finditer(text)
            if not (m.group(0).isdigit() and len(m.group(0)) == 4 and text[max(m.start() - 1, 0)] == "(")
        ]
        found: list[FoundTitle] = []
        position = 0
        while position < len(tokens):
            match = self._longest_at(text, tokens, position)
            if match is None:
                position += 1
                continue
            found_title, used = match
            found.append(found_title)
            position += used
        return tuple(found)

    def _longest_at(self, text: str, tokens: list[tuple[str, int, int]], position: int) -> tuple[FoundTitle, int] | None:
        # Exact names first, longest first; only then typos, so "2001: A Space Odyssey" is
        # never swallowed by a fuzzy match of a longer, sloppier phrase.
        for fuzzy in (False, True):
            for length in range(min(MAX_TITLE_TOKENS, len(tokens) - position), 0, -1):
                words = tokens[position : position + length]
                phrase = text[words[0][1] : words[-1][2]]
                if "\n" in phrase:
                    continue  # a title never spans lines
                key = normalize(phrase)
                if not key or not self._could_be_title(key, words, length):
                    continue
                year = self._year_after(text, words[-1][2])
                candidates = None
                if not fuzzy:
                    candidates = self._ids.get(key)
                elif len(key) >= 5 and words[0][0].lower() not in FUZZY_STARTS_EXCLUDED:
                    bucket = self._fuzzy_keys.get(key.count(" ") + 1, [])
                    best = process.extractOne(key, bucket, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff)
                    candidates = self._ids[best[0]] if best else None
                entry = self._pick(candidates, year)
                if entry is not None and candidates is not None:
                    end = words[-1][2]
                    if year is not None:
                        end = text.index(")", end) + 1
                    return FoundTitle(entry, words[0][1], end, tuple(c[2] for c in candidates)), length
        return None

    def _could_be_title(self, key: str, words: list[tuple[str, int, int]], length: int) -> bool:
        if " " in key or self._plausible_single_word(words[-1][0]):
            return True
        # A one-word name must look like a title: "Heat", "the matrix" for "The Matrix", but
        # not "the heat is on".
        return length >= 2 and self._article_keys.get(key) == words[0][0].lower()

    @staticmethod
    def _plausible_single_word(word: str) -> bool:
        return word[:1].isupper() and word.lower() not in EVERYDAY_WORDS and len(word) >= 3

    @staticmethod
    def _year_after(text: str, end: int) -> int | None:
        match = re.match(r"\s*\((\d{4})\)", text[end:])
        return int(match.group(1)) if match else None

    @staticmethod
    def _pick(candidates: list[tuple[float, int | None, str]] | None, year: int | None) -> str | None:
        if not candidates:
            return None
        if year is not None:
            for _, candidate_year, entry_id in candidates:
                if candidate_year == year:
                    return entry_id
        return candidates[0][2]
