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
# A series' hero before "and the" ("Harry Potter and the Philosopher's Stone"), each word capitalized,
# no article first ("The Boy and the Heron" names no boy).
SERIES_HERO = re.compile(r"^(?!(?:The|A|An)\s)((?:[A-Z][\w'’.-]*\s+)+?)(?:and|&)\s+the\s")
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
# sentence; a one-word title counts only when written capitalized and not an everyday word. The
# words that open a verdict in chat count too ("Loved The Big Sick" names no film "Loved").
EVERYDAY_WORDS = frozenset(
    """a about after again all also am an and any are as at away awesome back be because been before being best
    better big but by can come could day did do does done down each even ever every few find first for
    from fun get give go going good got great had has hated have he her here him his home hope how i if in into
    is it its just know last left let life like liked little lol long look love loved made make man many may me
    more most much my need never new next night no not now of off old on once one only or other our out over people
    please put really right said same see seen she should show sigh so some something still such super sure take than
    thanks that the their them then there these they thing think this those time to too try two up us
    use very want was watch watched way we well went were what when where which while who why will with without
    work would year yes yet you your""".split()
)


# Everyday words English capitalizes anyway ("I", the month "May"): capitals never make them a title.
CAPITALIZED_ANYWAY = frozenset({"i", "may"})
# A subject pronoun before one of these verbs starts a sentence, its full stop left out or not
# ("yes I have It was good").
SUBJECT_PRONOUNS = frozenset({"it", "they", "he", "she", "we", "you"})
VERBS_AFTER_A_SUBJECT = frozenset(
    "is was were has had can could will would does did just really also makes made gets got looks seems sounds".split()
)
EMOTICONS = (":)", ":-)", ";)", ";-)", ":(", ":-(", ":D")


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
        # "SPQR" for "SPQR: A History of Ancient Rome", "Borat" for "Borat: Cultural Learnings of
        # ...": a one-word part before a colon, where no whole title goes by that name ("Alien"
        # stays "Alien (1979)", not "Alien: Covenant"). Longer ones are mostly people and series
        # ("Jackie Chan: My Stunts", "Star Wars: ..."), which people name for themselves. A
        # series' hero of two words or more named before "and the" is a name too ("Harry Potter",
        # "Indiana Jones"): the series' most popular title.
        heads: dict[str, list[tuple[float, int | None, str]]] = defaultdict(list)
        for entry_id, title, popularity in entries:
            keys, year = title_variants(title)
            for key in keys:
                ranked[key].append((popularity, year, entry_id))
            name = split_year(title)[0]
            article = _article(name)
            if article:
                self._article_keys[keys[0]] = article
            if ":" in name and (head := normalize(name.split(":")[0])) and " " not in head:
                heads[head].append((popularity, year, entry_id))
            elif (series := SERIES_HERO.match(name)) and " " in (hero := normalize(series.group(1))):
                heads[hero].append((popularity, year, entry_id))
        for head, values in heads.items():
            ranked.setdefault(head, values)
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
        words = _Words.read(text, tokens)
        found: list[FoundTitle] = []
        position = 0
        while position < len(tokens):
            match = self._longest_at(words, position)
            if match is None:
                position += 1
                continue
            found_title, used = match
            found.append(found_title)
            position += used
        return tuple(found)

    def _longest_at(self, words: _Words, position: int) -> tuple[FoundTitle, int] | None:
        # Exact names first, longest first; only then typos, so "2001: A Space Odyssey" is
        # never swallowed by a fuzzy match of a longer, sloppier phrase.
        text, tokens = words.text, words.tokens
        for fuzzy in (False, True):
            for length in range(min(MAX_TITLE_TOKENS, len(tokens) - position), 0, -1):
                span = tokens[position : position + length]
                phrase = text[span[0][1] : span[-1][2]]
                if "\n" in phrase:
                    continue  # a title never spans lines
                key = normalize(phrase)
                year = self._year_after(text, span[-1][2])
                if not key or not self._could_be_title(words, position, length, key, year):
                    continue
                candidates = None
                if not fuzzy:
                    candidates = self._ids.get(key)
                elif self._could_be_typo(key, span[0][0]):
                    bucket = self._fuzzy_keys.get(key.count(" ") + 1, [])
                    best = process.extractOne(key, bucket, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff)
                    if best and not _plural_of_one_another(key, best[0]):
                        candidates = self._ids[best[0]]
                entry = self._pick(candidates, year)
                if entry is not None and candidates is not None:
                    end = span[-1][2]
                    if year is not None:
                        end = text.index(")", end) + 1
                    return FoundTitle(entry, span[0][1], end, tuple(c[2] for c in candidates)), length
        return None

    def _could_be_title(self, words: _Words, position: int, length: int, key: str, year: int | None) -> bool:
        if " " in key:
            return True
        # A one-word name must look like a title: "Heat", "the matrix" for "The Matrix", but
        # not "the heat is on".
        last = position + length - 1
        word = words.tokens[last][0]
        own_article = length >= 2 and self._article_keys.get(key) == words.tokens[position][0].lower()
        if key in EVERYDAY_WORDS:
            # "It", "Up", "Her" are titles only where they cannot be the word: with their film's
            # year ("Up (2009)"), or capitalized inside a sentence whose capitals mean something
            # ("I loved Up", "the Other"). "I loved it", "cheer me up", "the other one", a
            # sentence's first word and "yes I have It was good" (SUBJECT_PRONOUNS) stay words.
            if key in CAPITALIZED_ANYWAY or len(key) < 2 or not (length == 1 or own_article):
                return False
            if year is not None:
                return any(year == candidate_year for _, candidate_year, _ in self._ids.get(key, []))
            return (word[:1].isupper() and not word.isupper() and words.capitals_tell[last]
                    and not words.opening[last] and not (key in SUBJECT_PRONOUNS and words.starts_clause(last)))
        if self._plausible_single_word(word) and not words.in_longer_name(last, own_article):
            return True
        return own_article

    @staticmethod
    def _could_be_typo(key: str, first_word: str) -> bool:
        # A short word one letter off a one-word name is mostly another word or a person's name
        # ("Steven": Seven, "Clint": The Client, "Havent": Haven), not a misspelling.
        shortest = 5 if " " in key else 8
        return len(key) >= shortest and first_word.lower() not in FUZZY_STARTS_EXCLUDED

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


def _starts_sentence(text: str, start: int) -> bool:
    """Whether the word at `start` begins the text, a line or a sentence (after its quotes)."""
    before = text[:start].rstrip(" \t\"'“‘(")
    return not before or before[-1] in ".!?:;\n" or before.endswith(EMOTICONS)


def _plural_of_one_another(key: str, other: str) -> bool:
    """"thrillers" and "the thriller": another word, not a typo."""
    return key == other + "s" or other == key + "s"


@dataclass(frozen=True)
class _Words:
    """A text's words, with what their capitals can say."""

    text: str
    tokens: list[tuple[str, int, int]]
    opening: list[bool]  # the word begins a sentence: capitalized whatever it is
    # Capitals inside the word's sentence mean names: not where most of its words have one
    # ("Have You Seen It", "I LOVED IT").
    capitals_tell: list[bool]

    @classmethod
    def read(cls, text: str, tokens: list[tuple[str, int, int]]) -> _Words:
        opening = [_starts_sentence(text, start) for _, start, _ in tokens]
        sentence, sentences = -1, []
        for starts in opening:
            sentence += starts or sentence < 0
            sentences.append(sentence)
        inside: dict[int, list[bool]] = defaultdict(list)
        for (word, _, _), starts, n in zip(tokens, opening, sentences):
            if word[:1].isalpha() and word != "I" and not starts:
                inside[n].append(word[:1].isupper())
        tell = {n: sum(capitals) * 2 <= len(capitals) for n, capitals in inside.items()}
        return cls(text, tokens, opening, [tell.get(n, True) for n in sentences])

    def _name_inside(self, index: int) -> bool:
        """Whether the word is capitalized inside its sentence, not shouted, and no everyday
        word: a name's word ("Affleck"), not the next sentence's first after a full stop left
        out ("Have"), nor "JAWS SCARED ME"."""
        word = self.tokens[index][0]
        return (word[:1].isupper() and not word.isupper() and not self.opening[index]
                and re.split("['’]", word)[0].lower() not in EVERYDAY_WORDS)  # "I've", "It's" too

    def starts_clause(self, index: int) -> bool:
        """Whether the word is followed by a verb, as a subject is."""
        following = self.tokens[index + 1][0] if index + 1 < len(self.tokens) else ""
        return following in VERBS_AFTER_A_SUBJECT and not self.opening[index + 1]

    def in_longer_name(self, index: int, after_article: bool) -> bool:
        """Whether a capitalized word next to it in its sentence makes it part of a longer name
        ("Ben Affleck", "Morgan Freeman", "Jackie Chan"), not one of a list ("Alien, Titanic"):
        the title's own article aside."""
        after = index + 1 < len(self.tokens) and self._joined(index) and self._name_inside(index + 1)
        before = (index > 0 and not self.opening[index] and not after_article and self._joined(index - 1)
                  and self._name_inside(index - 1))
        return after or before

    def _joined(self, index: int) -> bool:
        """Whether only spaces stand between the word and the next: "Alien, Titanic" is a list."""
        return not self.text[self.tokens[index][2] : self.tokens[index + 1][1]].strip()
