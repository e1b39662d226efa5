"""The faithfulness check: is every claim of a reply's sentence supported by the facts the code gave?

One implementation, used by the bot (bot/reply.py checks each sentence before it streams), by the
evaluation (bench/faithfulness.py, the scripted dialogues' name and friend checks) and by
fine-tuning (evaluation/finetune_effect.py's grounding, finetune/examples.py's choice of targets).

The facts of an item (`ItemFacts`) are what the catalog and the ranking say of it: title,
category, description, tags, price, attributes (creator, year, brand...) and the ranking's reasons
(which carry friends' names, their ratings, and the person's own items: "because you liked X").
A sentence is about the picks it names; one that names none is about the pick the sentence before
it was about (the caller passes it), else the top pick.

The rule. A sentence is supported when each of its claim-bearing parts is:
1. item names: every catalog title it names (`TitleFinder`) is one of the picks, an item the
   person named, liked or disliked themselves (`TurnFacts.own_items`), or named in the facts;
2. friends: a sentence that says "friend" is about an item whose reasons name a friend, and every
   "your friend <Name>" in it is one of those friends, by full or first name (`invented_friends`);
3. ratings: every "4/5", "4 out of 5", "4 stars" is a rating those facts give;
4. numbers and years ("1940", "two", "9.99"): each appears in the facts (digits or the word);
5. proper nouns: every capitalised word but the sentence's first (a name, a place, "II") appears
   in the facts: "Africa" is not in Dunkirk's facts;
6. genre and theme words: a word of the catalog's vocabulary (every tag of the catalog) or of
   `GENRES` below must appear in the facts as the same stem ("historical" ~ "history") or as a
   synonym from `SYNONYMS` ("funny" ~ "comedy"); negated ("not scary", "nothing dark", "without
   horror"), it is supported when the facts lack it;
7. the sentence ends (".", "!", "?") and has at least two words: a cut-off sentence claims
   whatever its missing end would have said;
8. every other word is a claim too, unless it is a function word, generic praise ("warm",
   "great", "a good pick": `PRAISE`), one of the words any recommendation uses (`REPLY_WORDS`:
   "tonight", "fans") or a word of the bot's tone openers (prompts/tones.toml): it must appear in
   the facts as the same stem. A word of a kind (`KIND_WORDS`: "film", "novel", "album") must fit
   the item's category: "a family movie" about a book fails. "A talented young
   woman who has just lost her husband" fails for "talented", "young", "woman", "lost" and
   "husband" unless the pick's description says so.
The person's message is no support: a pick is not "thought-provoking" because the person asked
for thought-provoking.

9. makers: "by <Name>'s ..." says that someone of the named person made the pick, not the named
   ("a cooking book by Chef Samin Nosrat's favorite cook" of Nosrat's own book): supported only
   where the facts say those words;
10. "by <Name>" says the named made it: the name's last word is in the pick's attributes (its
   creator, its brand), or the facts say those very words ("inspired by Moby-Dick"). "The Martian
   — a sci-fi book by Mark Watney" (its hero, whom the description names) fails: Andy Weir wrote it.

Known limits: a sentence's first word is not checked as a proper noun (it is capitalised anyway;
the bot's sentences start with code-written leads, "Try <title> —"); true words can still be put
together into a false claim ("a film about a robot who abandoned Earth"), which only the
negation rule catches; synonyms are a short hand-written list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import prompts
from retrieval.titles import TitleFinder

FRIEND_NAME = re.compile(r"your friend (.+?) (?:rated|liked|bought|checked|tried|reviewed|viewed|gave)")
# A friend a text names: "your friend Ana Ruiz", "your friend Ana".
FRIEND_CLAIM = re.compile(r"\byour friends? ((?:[A-Z][\w'’-]*)(?: (?:[A-Z][\w'’-]*))*)")
# "By <Name>'s": the pick made by someone of the named (rule 9).
BY_SOMEONE_OF = re.compile(r"\bby\s+(?:[A-Z][\w.-]*\s+)*[A-Z][\w.-]*['’]s\b")
# "By <Name>": the named made the pick (rule 10).
BY_NAME = re.compile(r"\bby\s+((?:[A-Z][\w.’'-]*\s+)*[A-Z][\w’'-]*)\b(?!['’]s\b)")
RATING = re.compile(r"(\d(?:\.\d)?)\s*(?:/\s*5|out of 5|stars?)")
SENTENCE_BREAK = re.compile(r"(?<=[.!?][\"'’”)\]])\s+|(?<=[.!?])\s+|\n+")
LIST_NUMBER = re.compile(r"^\s*\d+\.\s+")
ABBREVIATION_END = re.compile(r"(?:\b[A-Z]\.|\b(?:Dr|Mr|Mrs|Ms|St|Jr|Sr|vs)\.)$")
WORD = re.compile(r"[A-Za-z0-9À-ÿ$][A-Za-z0-9À-ÿ'’.,-]*[A-Za-z0-9À-ÿ]|[A-Za-z0-9À-ÿ]")
NEGATIONS = {"not", "no", "nothing", "without", "never", "neither", "nor", "isn't", "isn’t", "aren't", "less"}
NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "hundred": "100", "thousand": "1000",
}
# Genre and theme words a reply may claim, beyond the catalog's own tags (which join them).
GENRES = {
    "action", "adventure", "animated", "animation", "anime", "anthology", "apocalyptic", "biography", "biopic",
    "blues", "cartoon", "children", "classical", "comedy", "coming-of-age", "cookbook", "cooking", "country",
    "crime", "detective", "disaster", "documentary", "drama", "dystopia", "dystopian", "electronic", "essay",
    "essays", "fairy", "fantasy", "folk", "funk", "ghost", "gospel", "heist", "hip-hop", "historical", "history",
    "horror", "jazz", "kids", "magic", "martial", "memoir", "metal", "musical", "mystery", "mythology", "noir",
    "non-fiction", "nonfiction", "opera", "parody", "poems", "poetry", "politics", "political", "pop", "punk",
    "rap", "recipes", "reggae", "religion", "religious", "rock", "romance", "romantic", "romcom", "samurai",
    "satire", "sci-fi", "science", "self-help", "soul", "soundtrack", "space", "sports", "spy", "superhero",
    "survival", "techno", "teen", "thriller", "true-crime", "vampire", "vampires", "war", "western", "zombie",
    "zombies", "dark", "scary", "funny", "tense", "cozy", "epic", "classic", "feel-good", "uplifting",
    "melancholic", "thought-provoking", "slow-burn", "fast-paced", "quirky", "literary", "family", "travel",
    "friendship", "loyalty", "betrayal", "revenge", "grief", "faith", "ecology", "identity", "memory",
    "jungle", "desert", "ocean", "island", "robot", "robots", "aliens", "wizard", "wizards", "dragons",
    "pirates", "ultralight", "waterproof", "winter", "backpacking", "camping", "climbing", "cycling",
}
# Words of one group support each other ("a funny film" is supported by the tag "comedy").
SYNONYMS = [
    {"sci-fi", "science-fiction", "scifi", "sf"},
    {"funny", "comedy", "comedic", "humor", "humour", "hilarious", "witty", "wit", "romcom"},
    {"scary", "horror", "terrifying", "frightening", "creepy", "spooky", "chilling", "dread"},
    {"thought-provoking", "thoughtful", "cerebral", "philosophical", "reflective", "big questions"},
    {"cozy", "cosy", "comforting", "gentle"},
    {"romance", "romantic", "romcom", "love-story"},
    {"historical", "history", "period"},
    {"kids", "children", "child", "family"},
    {"young-adult", "teen", "ya"},
    {"tense", "suspense", "suspenseful", "thriller", "thrilling"},
    {"feel-good", "uplifting", "heartwarming", "joyful", "cheerful"},
    {"melancholic", "melancholy", "sad", "bittersweet"},
    {"war", "wartime", "battle", "soldiers"},
    {"documentary", "non-fiction", "nonfiction", "true-story"},
    {"fast-paced", "fast", "pacy", "action-packed", "relentless"},
    {"slow-burn", "slow", "patient"},
    {"dark", "bleak", "grim", "noir"},
    {"mystery", "detective", "whodunit", "mysterious"},
    {"crime", "criminal", "heist", "gangster"},
    {"animation", "animated", "cartoon", "anime"},
    {"chill", "relaxing", "calm", "mellow", "laid-back"},
    {"energetic", "upbeat", "lively"},
    {"epic", "sprawling", "grand"},
    {"cooking", "cookbook", "recipes", "food"},
    {"biography", "biopic", "memoir"},
    {"hip-hop", "rap"},
    {"space", "spaceship", "spacecraft", "astronaut", "interstellar", "galactic"},
]
# Words that praise rather than claim, even where a catalog uses them as tags ("warm").
PRAISE = {
    "great", "good", "perfect", "lovely", "wonderful", "beautiful", "brilliant", "fantastic", "amazing",
    "excellent", "fun", "enjoyable", "warm", "nice", "favourite", "favorite", "pick", "choice", "gem", "treat",
    "worth", "special", "engaging", "compelling", "powerful", "moving", "memorable", "unforgettable", "fresh",
    "smart", "clever", "rich", "solid", "best", "popular", "fit", "match", "like", "enjoy", "love", "loved",
    "gripping", "delightful", "charming", "stunning", "warmth", "fine",
}
# Words any recommendation uses, which say nothing of the item: what it is, what one does with it,
# for whom and when. A word here can never be caught as an invented claim, so it stays short.
REPLY_WORDS = set(
    "item items story stories tale title titles pick picks choice option options recommend recommended suggest "
    "suggestion try tried enjoy enjoyed fans fan anyone someone everyone people night nights tonight evening "
    "evenings weekend weekends day days afternoon morning time mood something anything thing things way kind sort "
    "bit lot little full right well really quite truly simply pure definitely absolutely sure fits fit suits suit "
    "makes make made gives give offers offer brings bring keeps keep feels feel takes take asked ask wanted want "
    "looking look need needs sounds sound seems seem think know find found go goes going get gets got see seen "
    "liked likes sorry thanks idea start starting mind taste tastes enough else instead different change plan "
    "let's".split()
)
# Words that say what kind of thing an item is, by the demo's categories: a claim about the item's
# category ("a family movie" about a book fails), where the item's category is one of these.
KIND_WORDS = {
    "films": set("film films movie movies watch watching viewer viewers".split()),
    "books": set("book books novel novels read reads reading reader readers".split()),
    "music": set("album albums record records music song songs track tracks listen listening listener listeners".split()),
    "outdoor": set("gear kit".split()),
}
# Words that are no claim wherever they stand, capitalised or not.
FUNCTION_WORDS = set(
    "a an the and or but if so as at by for from in into of on onto to with within about after before over under "
    "it its it's this that these those there here he she they them his her their you your you'll you're we our "
    "i i'm i'd i'll i've me my is are was were be been being has have had do does did will would can could may "
    "might should just also too very more most much many some any all both each every another other such than "
    "then once only even still yet what which who whom whose when where why how try if kith ok okay yes".split()
)
# Common first words of a clause: capitalised there, not names.
OPENERS = FUNCTION_WORDS | {"perfect", "great", "ideal", "whether", "just", "because", "since", "while", "set",
                            "think", "imagine", "picture", "expect", "plus", "not", "no", "nothing", "one"}
# A word after one of these starts a clause as a sentence's first word does ("— A quiet film").
CLAUSE_STARTS = ("—", "–", ":", '"', "“", "(", " - ")
# Phrases read as one word (their spaces taken as hyphens): "science fiction" is "science-fiction".
PHRASES = re.compile(r"\b(science) (fiction)\b|\b(love) (story)\b|\b(true) (story|crime)\b|\b(coming) (of) (age)\b|"
                     r"\b(non) (fiction)\b|\b(young) (adult)\b|\b(feel) (good)\b", re.I)
SUFFIXES = ("ically", "ical", "ness", "ment", "ies", "ied", "ing", "ous", "ful", "est", "ic", "al", "ed", "es",
            "er", "ly", "s", "y", "e")


def stem(word: str) -> str:
    """A crude stem: lower case, no possessive, one common suffix off ("historical", "history" ->
    "histor"). Enough to match a claim to the facts' words; not a linguistic analysis."""
    word = word.lower().strip("'’.,-").removesuffix("'s").removesuffix("’s")
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class ItemFacts:
    """What the code knows of one pick, and so what a sentence about it may say."""

    item_id: str
    title: str
    category: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    price: float | None = None
    reasons: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, recommendation: Any, item: Any = None) -> ItemFacts:
        """From a ranking's Recommendation and, where known, the catalog's Item (its description
        and attributes)."""
        return cls(
            recommendation.item_id, recommendation.title, recommendation.category,
            getattr(item, "description", "") or "", tuple(getattr(item, "tags", None) or recommendation.tags),
            recommendation.price, tuple(recommendation.reasons), dict(getattr(item, "attributes", None) or {}),
        )

    def text(self) -> str:
        """Every fact as text: what the check searches for a claim's support."""
        attributes = [json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in self.attributes.items()
                      if k not in ("similar",)]
        price = [f"{self.price:.2f}", f"{self.price:g}", str(round(self.price))] if self.price is not None else []
        return " ".join([self.title, self.category, self.description, *self.tags, *price, *self.reasons, *attributes])


@dataclass(frozen=True)
class TurnFacts:
    """The facts of one reply: its picks, top first, and the items the person named themselves."""

    picks: tuple[ItemFacts, ...]
    own_items: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Verdict:
    supported: bool
    unsupported: tuple[str, ...]  # the claims that lack support, as written ("Africa", "documentary")
    about: tuple[str, ...]  # the item ids the sentence was checked against


def split_sentences(text: str) -> list[str]:
    """A reply's sentences, without empty ones. A line is at least one sentence (a heading, a
    listed pick); a decimal point ("9.99"), an initial ("E.T. the Extra-Terrestrial", "T.E.
    Lawrence") or an abbreviation ("Dr.", "Symphony No. 3") does not end a sentence."""
    sentences: list[str] = []
    for piece in SENTENCE_BREAK.split(text):
        numbered = sentences and sentences[-1].endswith(("No.", "Vol.", "Op.")) and piece[:1].isdigit()
        if sentences and (ABBREVIATION_END.search(sentences[-1]) or numbered) and piece.strip():
            sentences[-1] = f"{sentences[-1]} {piece.strip()}"
        elif piece.strip():
            sentences.append(piece.strip())
    return sentences


class FaithfulnessCheck:
    """The check of one catalog: its titles (`finder`) and vocabulary (its tags and `GENRES`)."""

    def __init__(self, finder: TitleFinder, vocabulary: Iterable[str] = ()):
        self.finder = finder
        # Words that are claims: the catalog's tags, GENRES and every synonym of a group.
        self.vocabulary = ({w.lower() for w in vocabulary} | GENRES | {w for g in SYNONYMS for w in g}) - PRAISE
        # Rule 8's exceptions: function words, praise, the words of any recommendation, and the
        # words of the bot's own tone openers (prompts/tones.toml: "Sorry those missed the mark").
        openers = [o for tone in prompts.table("tones").values() for o in tone["openers"]]
        self.no_claim = FUNCTION_WORDS | PRAISE | REPLY_WORDS | OPENERS | {
            w.lower().strip("'’.,-") for o in openers for w in WORD.findall(o)}
        # A kind word -> the categories it does not fit (KIND_WORDS).
        self.kind_words = {w: set(KIND_WORDS) - {c} for c, words in KIND_WORDS.items() for w in words}
        # Stem -> the stems of its synonyms (itself included).
        self._groups: dict[str, set[str]] = {}
        for group in SYNONYMS:
            stems = {stem(w) for w in group}
            for s in stems:
                self._groups.setdefault(s, set()).update(stems)

    def check(self, sentence: str, facts: TurnFacts, about: str | None = None, ended: bool = False) -> Verdict:
        """Whether every claim of `sentence` is supported (the module's rule). `about`: the pick
        the sentence is about when it names none (the previous sentence's); else the top pick.
        `ended`: the sentence is known to be whole without a final stop (a line of a reply)."""
        picks = {p.item_id: p for p in facts.picks}
        unsupported: list[str] = []
        covered: list[tuple[int, int]] = []
        named: list[str] = []
        outside: list[str] = []  # titles neither picked nor the person's
        for found in self.finder.find(sentence):
            ids = {found.item_id, *found.same_name}
            pick = next((i for i in picks if i in ids), None)
            if pick is not None:
                named.append(pick)
            elif not ids & facts.own_items:
                outside.append(sentence[found.start:found.end])
            covered.append((found.start, found.end))
        # A pick's title as written is its name, also where the finder passes over it (a one-word
        # title such as "It (2017)").
        for pick in facts.picks:
            at = sentence.find(pick.title)
            if pick.item_id not in named and at >= 0:
                named.append(pick.item_id)
                covered.append((at, at + len(pick.title)))
        chosen = named or ([about] if about in picks else [facts.picks[0].item_id] if facts.picks else [])
        subjects = [picks[i] for i in dict.fromkeys(chosen)]
        reasons = " ".join(r for p in subjects for r in p.reasons)
        # Titles said are names, not claims: "Just Friends (2005)" says nothing of friends.
        untitled = "".join(" " if any(a <= i < b for a, b in covered) else c for i, c in enumerate(sentence))
        if "friend" in untitled.lower():
            names = FRIEND_NAME.findall(reasons)
            invented = invented_friends(untitled, names)
            if not names or invented:
                unsupported += invented or ["friend"]
        for rating in RATING.findall(untitled):
            if f"{rating}/5" not in reasons:
                unsupported.append(f"{rating}/5")
        known = " ".join(p.text() for p in subjects)
        unsupported += [said for said in BY_SOMEONE_OF.findall(untitled) if said.lower() not in known.lower()]
        makers = " ".join(str(value) for p in subjects for value in p.attributes.values()).lower()
        unsupported += [name for name in BY_NAME.findall(untitled)
                        if name.split()[-1].lower() not in makers and f"by {name}".lower() not in known.lower()]
        # The person's own items support their names only (covered above), nothing else: their
        # "(2016)" is no support for "since 2016".
        sentence = PHRASES.sub(lambda m: m.group(0).replace(" ", "-"), sentence)  # same length: spans hold
        # Another item's title is supported where the pick's own facts name it ("Conrad's Heart of Darkness").
        unsupported += [title for title in outside if title.lower() not in known.lower()]
        unsupported += self._unsupported_words(sentence, covered, known, {p.category for p in subjects})
        if not ended and (len(sentence.split()) < 2 or sentence.rstrip().rstrip("\"'’”)]")[-1:] not in (".", "!", "?")):
            unsupported.append("(unfinished)")
        return Verdict(not unsupported, tuple(unsupported), tuple(s.item_id for s in subjects))

    def failed_already(self, unfinished: str, facts: TurnFacts, about: str | None = None) -> tuple[str, ...]:
        """The claims of a sentence still being written that fail whatever follows, so that its
        writing can stop there: lower-case words of the text's finished words, but the last two
        (the last may still be growing, and the one before may start a phrase, "science
        fiction", or a title). A capitalised word may start a name or title the rest completes."""
        words = unfinished.split(" ")[:-1]  # the last may be unfinished
        settled = " ".join(words[:-2])
        if not settled:
            return ()
        verdict = self.check(settled, facts, about, ended=True)
        return tuple(c for c in verdict.unsupported if c[:1].islower())

    def check_reply(self, text: str, facts: TurnFacts) -> list[tuple[str, Verdict]]:
        """Each sentence of a reply with its verdict; a sentence that names no pick is about the
        pick the one before it was about."""
        about = None
        verdicts = []
        lines = [line for line in text.splitlines() if line.strip()]
        for number, line in enumerate(lines):
            # A listed pick's number ("2. Dune ...") is the list's, no claim.
            listed = LIST_NUMBER.match(line) is not None
            sentences = split_sentences(LIST_NUMBER.sub("", line))
            for position, sentence in enumerate(sentences):
                whole_line = position == len(sentences) - 1 and (listed or number < len(lines) - 1)
                verdict = self.check(sentence, facts, about, ended=whole_line)
                about = verdict.about[-1] if verdict.about else about
                verdicts.append((sentence, verdict))
        return verdicts

    def _unsupported_words(self, sentence: str, covered: Sequence[tuple[int, int]], known: str,
                           categories: set[str]) -> list[str]:
        known_words = {w.lower().strip("'’.,-") for w in WORD.findall(known)}
        known_words |= {part for w in known_words if "-" in w for part in w.split("-")}  # "ten-year-old"
        known_words |= {w.lower().removesuffix("'s").removesuffix("’s") for w in known_words}
        known_stems = {stem(w) for w in known_words}
        known_numbers = {n for w in known_words for n in _numbers(w)}
        known_lower = known.lower()
        unsupported = []
        previous: list[str] = []
        end = 0
        for match in WORD.finditer(sentence):
            token, start = match.group(0), match.start()
            # The sentence's first word is capitalised anyway; so is a clause's ("Try X — A quiet
            # film"), where a common opener is no name.
            opening = not previous or (any(mark in sentence[end:start] for mark in CLAUSE_STARTS)
                                       and token.lower() in OPENERS)
            end = match.end()
            if any(a <= start < b for a, b in covered):
                previous.append(token.lower())
                continue
            negated = any(w in NEGATIONS or w.endswith(("n't", "n’t")) for w in previous[-2:])
            for part in self._parts(token):
                lowered = part.lower().strip("'’.,-")
                if not lowered or lowered in FUNCTION_WORDS:
                    continue
                numbers = _numbers(lowered)
                if numbers:
                    if not numbers & known_numbers and lowered not in known_words:
                        unsupported.append(part)
                elif self._is_vocabulary(lowered):
                    if self._supported(lowered, known_stems, known_lower) == negated:
                        unsupported.append(part)
                elif part[:1].isupper() and not opening and lowered not in PRAISE:
                    if lowered not in known_words and stem(lowered) not in known_stems:
                        unsupported.append(part.removesuffix("'s").removesuffix("’s"))
                elif lowered in self.kind_words:
                    # Wrong for every item it is about ("movie" for a book); the facts may still say it.
                    if categories and categories <= self.kind_words[lowered] and lowered not in known_words:
                        unsupported.append(part)
                elif not (opening or self._no_claim(lowered) or lowered in known_words or stem(lowered) in known_stems):
                    unsupported.append(part)
            previous.append(token.lower())
        return unsupported

    def _no_claim(self, word: str) -> bool:
        """A word that claims nothing of an item (rule 8's exceptions), or one another rule judges
        ("friend": rule 2)."""
        plain = word.removesuffix("'s").removesuffix("’s")
        return plain in ("friend", "friends") or word in self.no_claim or plain in self.no_claim

    def _parts(self, token: str) -> list[str]:
        """A hyphenated token is one word where the vocabulary has it ("sci-fi"), else its parts."""
        token = token.strip(".,")
        if "-" not in token or self._is_vocabulary(token.lower()):
            return [token]
        return [p for p in token.split("-") if p]

    def _is_vocabulary(self, word: str) -> bool:
        """A claim word: in the vocabulary as written or as a plain plural ("thrillers", "comedies")."""
        forms = {word, word.removesuffix("s"), word.removesuffix("es")}
        if word.endswith("ies"):
            forms.add(word.removesuffix("ies") + "y")
        return word not in PRAISE and bool(forms & self.vocabulary)

    def _supported(self, word: str, known_stems: set[str], known_lower: str) -> bool:
        stems = {stem(word)} | self._groups.get(stem(word), set())
        # Multi-word synonyms ("big questions") are searched as phrases.
        return bool(stems & known_stems) or any(" " in s and s in known_lower for s in stems)


def invented_friends(text: str, friends: Iterable[str]) -> list[str]:
    """The names `text` gives as "your friend <Name>" that are none of `friends` (by full or first
    name): the friend rule of the check, also the scripted dialogues' `friends_named_truthfully`."""
    known = {part for name in friends for part in (name, name.split()[0])}
    return [claimed for claimed in FRIEND_CLAIM.findall(text) if claimed not in known]


def _numbers(word: str) -> set[str]:
    """The numbers a word states: "1940" -> {"1940"}, "$9.99" -> {"9.99"}, "two" -> {"2"}, "5/5" -> {"5"}."""
    if word in NUMBER_WORDS:
        return {NUMBER_WORDS[word]}
    found = set(re.findall(r"\d+(?:\.\d+)?", word.replace(",", "")))
    return found | {n.rstrip("0").rstrip(".") for n in found if "." in n}


def facts_for(recommendations: Sequence[Any], items: Mapping[str, Any], own_items: Iterable[str] = ()) -> TurnFacts:
    """The facts of a turn: its picks with their catalog entries, and the person's own items."""
    return TurnFacts(tuple(ItemFacts.of(r, items.get(r.item_id)) for r in recommendations), frozenset(own_items))
