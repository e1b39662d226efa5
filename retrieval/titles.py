"""Matching titles written by different hands: case, punctuation, accents, "Matrix, The",
alternate titles in parentheses, a missing year, small typos."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import unquote

from rapidfuzz import fuzz, process

YEAR_AT_END = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
PARENTHESES = re.compile(r"\(([^()]*)\)")
TRAILING_ARTICLE = re.compile(r"^(.*),\s*(the|a|an|les|la|le|l'|el|il|die|der|das)$", re.IGNORECASE)
LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+")
NOT_WORD = re.compile(r"[^a-z0-9]+")


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
