"""The person's profile: what they like and dislike, their constraints and context.

Updated every turn from what they said (rules a person can read, not a model's guess), persisted
per user, shown to them, and correctable ("actually I like horror" undoes "nothing scary").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.sentiment import ANOTHER_NAMED, DISLIKING, Sentiment, habit_changed, without_titles
from bot.understanding import Feeling, ItemOpinion, SaidLength, Understanding
from retrieval.ranking import FILM_RATINGS, LIMITED, FilmRating, MeasureLimit, of_kind
from retrieval.schemas import Item
from retrieval.titles import EVERYDAY_WORDS, FoundTitle

MAX_REMEMBERED = 30

# The demo catalog's kinds of gear: each a word for the outdoor category, and a kind the request
# keeps to (`Constraints.kinds`), with the words the shop's titles use for it ("a backpack": the
# titles say "Pack" or "Daypack").
GEAR_KINDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("tent", "tents"), ("tent", "shelter")),
    **dict.fromkeys(("backpack", "backpacks", "rucksack", "rucksacks"), ("pack", "daypack")),
    **dict.fromkeys(("daypack", "daypacks"), ("daypack",)),
    "boots": ("boot",),
    "hiking shoes": ("shoe", "hiker"),
    **dict.fromkeys(("shoes", "shoe"), ("shoe",)),
    **dict.fromkeys(("jacket", "jackets"), ("jacket", "parka", "hoodie")),
    **dict.fromkeys(("rain jacket", "rain jackets"), ("rain jacket",)),
    **dict.fromkeys(("rain suit", "rain suits"), ("rain suit",)),
    **dict.fromkeys(("sleeping bag", "sleeping bags"), ("sleeping bag", "summer bag", "quilt")),
    **dict.fromkeys(("stove", "stoves"), ("stove", "cook system")),
    **dict.fromkeys(("cookware", "cooking gear", "camp kitchen"), ("stove", "cook system", "cook set", "pot")),
    **dict.fromkeys(("headlamp", "headlamps", "head torch", "head torches"), ("headlamp",)),
    **dict.fromkeys(("lantern", "lanterns"), ("lantern",)),
    "trekking poles": ("trekking poles",),
    **dict.fromkeys(("hammock", "hammocks"), ("hammock",)),
    **dict.fromkeys(("sleeping pad", "sleeping pads", "sleeping mat", "sleeping mats"), ("sleeping pad", "air pad", "camp mat")),
    "climbing shoes": ("climbing shoe",),
    **dict.fromkeys(("harness", "harnesses"), ("harness",)),
    **dict.fromkeys(("helmet", "helmets"), ("helmet",)),
    **dict.fromkeys(("paddle", "paddles"), ("paddle",)),
    **dict.fromkeys(("dry bag", "dry bags"), ("dry bag",)),
    **dict.fromkeys(("pannier", "panniers"), ("pannier",)),
    **dict.fromkeys(("camp chair", "camp chairs"), ("camp chair",)),
    **dict.fromkeys(("compass", "compasses"), ("compass",)),
    "snowshoes": ("snowshoe",),
    "microspikes": ("microspike",),
    **dict.fromkeys(("water filter", "water filters"), ("filter", "purifier", "purifier pen")),
    **dict.fromkeys(("trousers", "rain pants", "rain trousers", "overtrousers"), ("pants",)),
}
# Outdoor things people ask a gear shop for that are no kind of the demo catalog's: they name the
# outdoor category, and where no title of the catalog says them, the reply says so
# (`bot.understand.RuleReader._unknown`; "and some gloves?" had kept asking for jackets).
# Words with an everyday sense of their own ("knock your socks off", "a book with maps") are
# said as gear only.
OTHER_GEAR = ("gloves", "mittens", "hiking socks", "walking socks", "wool socks", "sun hat", "woolly hat", "beanie",
              "sunglasses", "water bottle", "water bottles", "binoculars", "gaiters", "crampons", "ice axe",
              "pocket knife", "multi-tool", "sunscreen", "insect repellent", "skis", "snowboard", "wetsuit",
              "fishing rod", "walking stick", "chalk bag", "chalk bags", "climbing chalk", "crash pad", "crash pads", "quickdraws",
              "carabiners")
OTHER_GEAR_WORD = re.compile(r"\b(?:" + "|".join(OTHER_GEAR) + r")\b", re.I)
# A kind said by what it is for ("something to sleep on" is a sleeping pad): each phrase, and
# the kind it names (its words for the outdoor category too).
KIND_PHRASES: dict[str, str] = {
    **dict.fromkeys(("something to sleep on", "anything to sleep on", "something to lie on"), "sleeping pad"),
    **dict.fromkeys(("something to sleep in", "anything to sleep in"), "sleeping bag"),
    **dict.fromkeys(("something to cook on", "something to cook with", "anything to cook on"), "stove"),
    **dict.fromkeys(("cooking outdoors", "cook outdoors", "camp cooking", "cooking on the trail", "cooking at camp",
                     "cook at camp"), "cookware"),
    **dict.fromkeys(("something to sit on", "something to sit in"), "camp chair"),
    # Going bouldering needs no rope, harness or belay device: of the shop's climbing gear, its
    # shoes (not "a huge boulder"; "a gift for my brother, into bouldering" may be any climbing gear).
    **dict.fromkeys(("to boulder", "boulder indoors", "start bouldering", "go bouldering", "going bouldering"),
                    "climbing shoes"),
}
GEAR_KIND = re.compile(r"\b(?:" + "|".join(sorted([*GEAR_KINDS, *KIND_PHRASES], key=len, reverse=True)) + r")\b", re.I)
# Words people use for the usual categories. A catalog's own category names always count too.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "books": ("book", "books", "novel", "novels", "read", "reading", "paperback", "paperbacks", "audiobook", "audiobooks",
              "cookbook", "cookbooks", "memoir", "memoirs", "storybook", "bedtime story", "page-turner"),
    "films": ("film", "films", "movie", "movies", "watch", "watching", "cinema", "flick", "flicks", "biopic"),
    "music": ("music", "album", "albums", "record", "records", "vinyl", "listen", "listening", "song", "songs", "band",
              "tunes", "playlist", "instrumental", "instrumentals"),
    "outdoor": ("gear", "outdoor", "outdoors", *GEAR_KINDS, *KIND_PHRASES, *OTHER_GEAR),
}
# Everyday words for catalog tags: each tag's common English synonyms, genre names and idioms
# ("a weepie", "nothing that gives me nightmares": negated like any tag word). Two tags that one
# word names are near-synonyms: a request for either is met by either (`Vocabulary.requirement`).
# Hyphenated and spaced spellings of a word both count (`_spellings`).
# Words that name no tag of a catalog but stand for tags it has: "action" is the demo films'
# adventures and fast-paced ones ("he likes action and I like romance"); a catalog with an
# `action` tag of its own (ReDial's) reads the word as that alone.
STAND_INS: dict[str, tuple[str, ...]] = {"action": ("adventure", "fast-paced"), "heavier": ("metal", "energetic"),
                                         "true crime": ("crime", "non-fiction")}
TAG_WORDS: dict[str, tuple[str, ...]] = {
    "sci-fi": ("sci-fi", "sci fi", "scifi", "science fiction", "space", "outer space", "space opera", "aliens",
               "robots", "futuristic", "dystopian", "dystopia", "time travel", "spaceships"),
    "scary": ("scary", "scarier", "scariest", "frightening", "creepy", "terrifying", "spooky", "scares",
              "nightmares", "nightmare", "keep me up at night", "keeps me up at night", "lights on",
              "sleep with the lights on", "sleeping with the lights on", "hiding behind the sofa", "spine-chilling",
              "jump scares", "fright", "frights", "horrifying", "eerie"),
    "horror": ("horror", "horrors", "gore", "gory", "slasher", "blood and guts", "zombies", "zombie", "ghost story",
               "ghost stories", "haunted house"),
    "romance": ("romance", "romances", "romcom", "romcoms", "rom-com", "rom-coms", "love story", "love stories",
                "romantic", "lovey-dovey", "sappy", "soppy", "slushy", "mushy"),
    "romantic": ("romantic", "lovey-dovey", "sappy", "soppy", "slushy", "mushy"),
    "comedy": ("comedy", "comedies", "funny", "hilarious", "laugh", "laughs", "laughing", "humour", "humor",
               "humorous", "comedic", "witty", "giggle", "giggles"),
    "funny": ("funny", "hilarious", "laugh", "laughs", "laughing", "humour", "humor", "humorous",
              "comedic", "witty", "giggle", "giggles"),
    # "sad" and "depressing" describe the person's mood far more often than the wanted story:
    # they name a tag only where they describe the thing wanted (MOOD_TAG_WORDS).
    "melancholic": ("melancholic", "melancholy", "tearjerker", "tearjerkers", "bittersweet", "weepie", "weepies",
                    "weepy", "cry", "a good cry", "heartbreaking", "poignant"),
    "uplifting": ("uplifting", "hopeful", "cheer me up", "cheerful", "inspiring", "inspirational", "life-affirming",
                  "pick-me-up", "heartwarming", "heart-warming"),
    "feel-good": ("feel-good", "feel good", "feelgood", "lighthearted", "light-hearted", "heartwarming",
                  "heart-warming", "wholesome", "cheer me up"),
    "family": ("family", "kids", "children", "child", "family-friendly", "whole family", "all ages"),
    "kids": ("kids", "kid", "children", "child", "toddler", "toddlers", "kiddies",
             "children's", "childish"),
    "thriller": ("thriller", "thrillers", "suspense", "suspenseful"),
    "tense": ("tense", "gripping", "nail-biting", "nail-biter", "edge of my seat", "edge of your seat",
              "edge-of-your-seat", "white-knuckle"),
    "thought-provoking": ("thought-provoking", "thought provoking", "thoughtful", "cerebral", "makes you think",
                          "make me think", "makes me think", "mind-bending", "philosophical", "profound",
                          "intellectual"),
    "mystery": ("mystery", "mysteries", "whodunit", "whodunits", "whodunnit", "whodunnits", "detective",
                "detectives", "murder mystery", "sleuth", "twisty", "twists", "plot twist", "plot twists",
                "keeps you guessing", "keep me guessing"),
    "crime": ("crime", "gangster", "gangsters", "mafia", "mob", "heist", "heists"),
    "western": ("western", "westerns", "cowboy", "cowboys", "wild west", "old west"),
    "war": ("war", "wartime", "world war", "ww2", "wwii", "ww1", "wwi", "soldiers", "military", "battlefield"),
    "historical": ("historical", "history", "period drama", "period piece", "historical fiction", "costume drama",
                   "set in the past"),
    "fantasy": ("fantasy", "wizard", "wizards", "dragon", "dragons", "magic", "magical", "fairy tale",
                "fairy tales", "fairytale", "sword and sorcery", "elves"),
    "documentary": ("documentary", "documentaries", "docs", "docuseries"),
    "biography": ("biography", "biographies", "memoir", "memoirs", "autobiography", "life story", "biopic",
                  "biopics"),
    "animation": ("animation", "animated", "cartoon", "cartoons", "pixar", "anime"),
    "musical": ("musical", "musicals", "sing-along", "singalong", "song and dance"),
    "children": ("children", "kids", "kid", "family"),
    "cozy": ("cozy", "cosy", "comforting", "snug", "hygge", "curl up with", "quiet night in"),
    "dark": ("dark", "bleak", "grim", "gloomy", "gritty", "disturbing", "harrowing", "violent", "violence", "brutal"),
    "slow-burn": ("slow-burn", "slow burn", "slow-paced", "slow burner", "takes its time"),
    "fast-paced": ("fast-paced", "action-packed", "pacey", "high-octane"),
    "quirky": ("quirky", "offbeat", "whimsical", "eccentric", "twee", "oddball"),
    "literary": ("literary", "literary fiction", "literature", "beautifully written"),
    "non-fiction": ("non-fiction", "nonfiction", "true story", "true stories", "real events"),
    "science": ("science", "popular science", "pop science", "physics", "biology", "astronomy", "the universe"),
    "self-help": ("self-help", "self help", "self-improvement", "personal development", "personal growth",
                  "motivational", "get my life together", "productivity"),
    "cooking": ("cooking", "cook", "cooks", "cookbook", "cookbooks", "recipes", "chef", "chefs", "baking", "foodie"),
    "travel": ("travel", "travelling", "traveling", "travelogue", "travel writing", "far-off places",
               "faraway places", "far away places", "journeys abroad"),
    "young-adult": ("young-adult", "young adult", "teen", "teens", "teenager", "teenagers", "teenage"),
    "adventure": ("adventure", "adventures", "adventurous", "quest", "swashbuckling", "exciting"),
    "chill": ("chill", "chilled", "chillout", "chill-out", "relaxing", "relaxed", "mellow", "laid-back", "calm",
              "calming", "soothing", "unwind", "easy listening", "fall asleep", "falling asleep", "to sleep to",
              # Music for a dinner party plays under the talk: no dance party's.
              "dinner party", "dinner parties", "background music", "over dinner", "dinner music"),
    "energetic": ("energetic", "upbeat", "high-energy", "high energy", "pump me up", "lively", "loud", "keep me going"),
    "party": ("party", "parties", "dancing", "dance", "danceable", "party tunes"),
    "workout": ("workout", "workouts", "gym", "working out", "work out", "exercise", "exercising",
                "cardio", "lifting", "spin class",
                # what is heard on a run, not what is worn for one ("running gear" is no workout music)
                "while i run", "while running", "to run to", "on my runs", "running playlist", "running music",
                "playlist for running", "music for running", "songs for running", "for my runs", "jogging"),
    "study": ("study", "studying", "revision", "revising", "homework", "focus", "concentrate", "concentration"),
    "hip-hop": ("hip-hop", "hip hop", "hiphop", "rap", "rapper", "rappers"),
    "classical": ("classical", "orchestral", "orchestra", "symphony", "symphonies", "concerto", "baroque",
                  "chamber music", "piano music"),
    "electronic": ("electronic", "electronica", "edm", "techno", "synth", "synths", "house music"),
    "singer-songwriter": ("singer-songwriter", "singer songwriter", "acoustic"),
    "ambient": ("ambient", "atmospheric", "soundscapes"),
    "metal": ("metal", "heavy metal", "metalhead"),
    "latin": ("latin", "salsa", "bossa nova", "latino", "reggaeton"),
    "road-trip": ("road-trip", "road trip", "road trips", "long drive", "car journey", "driving"),
    "rainy-day": ("rainy-day", "rainy day", "rainy days", "rainy afternoon", "rainy sunday"),
    "date-night": ("date-night", "date night", "date nights"),
    "day-hiking": ("day hike", "day hiking", "day-hiking", "hiking", "hike", "hikes", "walking", "trail walks"),
    "backpacking": ("backpacking", "thru-hike", "thru-hiking", "multi-day", "trekking", "wild camping"),
    "camping": ("camping", "camp", "campsite", "campground", "camping trip"),
    "climbing": ("climbing", "climb", "climber", "bouldering", "rock climbing"),
    "paddling": ("paddling", "kayak", "kayaking", "canoe", "canoeing", "paddleboarding"),
    "cycling": ("cycling", "bike", "bikes", "bikepacking", "bicycle", "cyclist", "bike touring"),
    "winter": ("winter", "snow", "snowy", "cold weather", "freezing", "alpine", "subzero", "keep me warm", "cold nights",
               "cold night", "chilly nights", "warm sleeping bag", "warmer sleeping bag", "warmest sleeping bag",
               "in the cold", "for the cold", "warm enough"),
    "ultralight": ("ultralight", "lightweight", "light weight", "ultra-light", "featherweight", "packs small",
                   "packs down small", "pack small", "packable", "light to carry", "light enough to carry"),
    "waterproof": ("waterproof", "rainproof", "watertight", "keeps the rain out", "rain gear", "wet weather",
                   "wet and windy", "wet conditions", "be wet", "keep me dry", "keeps me dry", "stay dry",
                   "wind and rain", "rain and wind", "handle rain", "handle the rain", "heavy rain", "downpours"),
    "budget": ("cheap", "budget", "inexpensive", "affordable", "cheapest", "low-cost", "bargain", "money's tight",
               "money is tight", "on a shoestring"),
    "premium": ("premium", "top-end", "top end", "high-end", "top of the range", "best quality", "money is no object"),
    "beginner": ("beginner", "beginners", "novice", "first-timer", "first time", "complete beginner", "starter",
                 "i'm new to", "i am new to", "we're new to", "new to hiking", "new to camping", "starting out",
                 "getting started"),
}
# Tags that say a price level, where the categories asked for carry none (Kith.request_for):
# "cheap books" asks for the cheapest first; "money is no object, the best books" for no dearest
# first (a book's price says nothing of its quality), nor for what no book carries.
PRICE_LEVELS: dict[str, Literal["least", "most"] | None] = {"budget": "least", "premium": None}
# Words that name a tag only where they describe the thing wanted ("a sad film", "nothing sad",
# "something happy"): alone they say how the person feels far more often ("I'm sad today").
MOOD_TAG_WORDS: dict[str, tuple[str, ...]] = {
    "melancholic": ("sad", "depressing", "upsetting"),
    "feel-good": ("happy",),
    "uplifting": ("happy",),
}
# Where a mood word describes the thing wanted: right after one of these words, or right before
# a word for a thing (a category's word, or one of THING_WORDS).
DESCRIBING = re.compile(r"\b(?:something|anything|nothing|a|an|too|more|less|and|or)\s+$", re.I)
THING_WORDS = ("one", "ones", "story", "stories", "stuff", "tunes", "ending", "endings")
# Liking the first is taking back an exclusion of the second ("actually I like horror").
TAG_IMPLIES = {"horror": ("scary",), "romance": ("romantic",), "comedy": ("funny",)}
# A mood asked for and the moods at odds with it: where too few items fit the request, the closest
# are not its opposite ("a cosy film" had offered The Shining). A soft push down, never a removal.
AT_ODDS = {"cozy": ("scary", "dark", "tense"), "feel-good": ("dark", "scary", "melancholic"),
           "uplifting": ("dark", "melancholic"), "chill": ("energetic",), "energetic": ("chill",),
           "scary": ("cozy", "feel-good")}
# A negator reaches a tag word up to five words on within its clause ("nothing that gives the
# little ones nightmares"), unless "something" or "some" begins a wish in between ("no horror and
# something funny").
NEGATORS = re.compile(
    r"\b(no|not|nothing|nobody|without|hate|hates|dislike|don['’]?t like|do not like|can['’]?t stand|cannot stand|"
    r"avoid|skip|none|never|no more|don['’]?t want|do not want|don['’]?t do|not into|not a fan of|not too|"
    r"(?:don['’]?t|do not) (?:really |much |particularly )like|"
    r"isn['’]?t|doesn['’]?t|won['’]?t|(?:can['’]?t|cannot) (?:be|have|make|give|get|keep)|anything but|rather not|"
    r"less|tired of|sick of|had enough of|overdosed on|steer clear of|spare me|instead of|rather than)\b"
    r"(?:\s+(?!(?:something|some)\b)[\w'’-]+){0,5}\s*$",
    re.I,
)
# Kinds listed as alternatives ("westerns and war films", "thrillers or comedies"): the words
# between them join a list, and the list ends in a plural word for things, or each is plural.
LIST_JOINER = re.compile(r"\s*(?:,|and|or|&|,\s*and|,\s*or)\s*", re.I)
PLURAL_THINGS = re.compile(r"\s+(?:films|movies|books|novels|albums|records|songs|shows|stories)\b", re.I)
# A theme unwanted that no tag names ("not about nature please", "nothing involving vampires"):
# no item whose title or description says it is ranked (`Constraints.avoid_words`).
UNWANTED_THEME = re.compile(r"\b(?:not|nothing|no|none|without|anything but)\s+(?:(?:too\s+)?(?:about|involving|featuring)"
                            r"|with)\s+(?:a |an |the |any )?([a-z][a-z'’-]{3,})\b", re.I)
# Words there that name no theme: pronouns, how a film is shown ("nothing with subtitles":
# `IN_ENGLISH`), and singing ("nothing with lyrics": `INSTRUMENTAL`).
NO_THEME = frozenset({"anything", "something", "everything", "nothing", "anyone", "someone", "those", "these",
                      "subtitles", "subtitle", "singing", "vocals", "lyrics", "words", "singers", "singer"})
# Warm weather said of what is wanted ("a sleeping bag for summer camping"): winter gear is no
# answer to it (as the client's summer is not: bot/context.py).
SUMMER = re.compile(r"\b(?:summer|summertime|warm nights?|warm weather|hot weather|heat ?wave)\b", re.I)
# Cool nights said of when it is for, or of whom ("camping in October", "in the spring", "I feel
# the cold a lot"): summer-only gear is no answer (`Constraints.cool_weather`). Colder than that is
# the winter tag's ("freezing", "cold nights": TAG_WORDS).
COOL_WEATHER = re.compile(
    r"\b(?:autumn|autumnal|spring camping|fall camping|shoulder season"
    r"|(?:in|during|for|this|next|late|early|mid)[- ](?:the )?(?:fall|spring|march|april|may|september|october|november"
    r"|december|january|february)"
    r"|(?<!n['’]t )(?<!not )(?<!never )(?:(?:feels?|feeling|get|gets) (?:the )?cold|(?:sleeps?|run|runs) cold)"
    r"|cold sleeper"
    # Gear asked to be warm: what warms is for cold nights ("the warmest sleeping bag", "a warm
    # jacket", "warm enough for March"), not "heart-warming" nor "a warm story".
    r"|warmest|warm enough|keeps? (?:me |you |us )?warm"
    r"|warm (?:sleeping bag|bag|quilt|jacket|coat|layer|fleece|tent|mat|gloves|hat|socks|gear))\b", re.I)
# A category said as what something is about ("a documentary about music", "a film about books"):
# a theme, not the category asked for ("what about a book then?" asks for one).
AS_THEME = re.compile(r"(?<!\bwhat )(?<!\bhow )\babout\s+(?:the\s+|a\s+|an\s+)?$", re.I)
# A category said as not wanted, right before it ("I meant a book, not a film", "no films"; not
# "I don't want to watch anything scary", which still wants a film).
NOT_THIS_KIND = re.compile(r"\b(?:not|no)\s+(?:an?\s+|any\s+)?$", re.I)
# Where a request's clause ends: "a thriller book for me | and a romantic film for my wife".
REQUEST_CLAUSE = re.compile(r"[,;.!?]|\b(?:and|plus|also)\b", re.I)
# More of it in what was asked for, right before it ("something more relaxed then" after jazz:
# relaxed jazz): it refines the request held.
REFINING = re.compile(r"\b(?:something|anything|one|ones|a (?:bit|little|touch)|bit|slightly|somewhat)\s+more\s+$", re.I)
# Music to play under the talk ("for a dinner party", "background music") is chill music; said
# after a request it refines it, as an occasion does ("some jazz" / "it's for a dinner party": chill jazz).
UNDER_THE_TALK = re.compile(r"\b(?:dinner|background)\b", re.I)
# A pick said to be something, opening its clause ("the second one is great", "it's pretty old";
# not "a mystery novel that isn't too grim", whose "that" is the thing wanted).
PICK_IS = (r"(?:^|[,;:.!?]\s*|\b(?:but|and|though|so)\s+)"
           r"(?:it|that|this|that one|this one|they|those|these|the (?:first|second|third|last|other)(?: one)?)"
           r"(?:['’]s|['’]re|\s+(?:is|are|was|were|isn['’]?t|aren['’]?t|wasn['’]?t))\b")
# A tag negated after it, in the same sentence, says what the pick is not, no wish ("the second
# one is great but not really party music").
PICK_DESCRIBED = re.compile(PICK_IS + r"[^.;!?]*$", re.I)
# A verb of liking right before what it is felt about ("I don't really like romance").
FEELING_FOR = re.compile(r"\b(?:like|love|enjoy|hate|dislike|stand|fancy|into)\s+(?:(?:a|an|the|any|much|all)\s+)?(?:[a-z]+\s+)?$",
                         re.I)  # "I like old westerns", "I like true crime"
# Words that point at the suggestions ("loved it", "not those", "the first one").
POINTING = re.compile(r"\b(?:it|that|this|those|these|them|they|ones?|the (?:first|second|third|last|other)|both)\b", re.I)
# Too much of it, right before it: "nah, too sad", "a bit too dark".
TOO_MUCH = re.compile(r"\b(?:too|overly)\s+$", re.I)
# Where a clause ends, for negation: punctuation, or "but" (not "anything but": a negator).
CLAUSE_END = re.compile(r"[.;!?,]|(?<!\banything )\bbut\b", re.I)
ACCEPTING = re.compile(r"\b(don'?t mind|do not mind|fine with|ok with|okay with|happy with|actually (i )?(like|love|want))\b[\w\s,'-]{0,20}$", re.I)
RESET = re.compile(r"\b(start over|reset (my )?profile|forget everything|clear (my )?profile)\b", re.I)
ANY_PRICE = re.compile(r"\b(any price|money is no object|forget (about )?the budget|no budget|price doesn'?t matter)\b", re.I)
# A number followed by a unit is no price ("under 2 hours": a length, LENGTH_BOUNDS; "a budget
# 2-person tent", "up to 20 litres", "under 10 years old").
NOT_A_SUM = (r"(?![\d.]|\s*-?\s*(?:hours?|hrs?|h|minutes?|mins?|pages?|person|people|man|litres?|liters?|l|season|"
             r"kg|kilos?|g|grams?|km|miles?|days?|nights?|weeks?|years?|yo)\b)")
# "Kids under 10" is an age, no price.
NOT_AN_AGE = r"(?<!kids )(?<!children )(?<!kid )(?<!ages )(?<!aged )"
MAX_PRICE = re.compile(rf"\b{NOT_AN_AGE}(?:under|below|less than|max(?:imum)?|up to|no more than|cheaper than|within)"
                       rf"\s*[$£€]?\s*(\d+(?:\.\d+)?){NOT_A_SUM}", re.I)
MIN_PRICE = re.compile(
    r"\b(?:(?:over|above|more than|at least)\s*[$£€]\s*(\d+(?:\.\d+)?)|(?:pay|spend) at least\s*[$£€]?\s*(\d+(?:\.\d+)?)"
    r"|(?:over|above|more than|at least)\s*(\d+(?:\.\d+)?)\s*(?:dollars?|bucks|pounds?|quid|euros?)\b"
    r"|[$£€]?\s*(\d+(?:\.\d+)?)\s*(?:dollars?|bucks|pounds?|quid|euros?)?\s+(?:or more|and up|or over)\b)", re.I)
# A sum said with its currency's word ("40 pounds", "twenty quid"): a budget, unless said as a
# minimum (MIN_PRICE's words before it, or "or more" after).
AMOUNT = re.compile(r"(?<!\bover )(?<!\babove )(?<!\bleast )(?<!more than )\b(\d+(?:\.\d+)?)\s*(?:dollars?|bucks|pounds?|quid|euros?)\b"
                    # "20 dollars less" (on another site) is a difference, no budget.
                    r"(?!\s+(?:or more|and up|or over|less|more|cheaper|lower|higher|off)\b)", re.I)
# A maximum said as what they won't spend ("won't spend more than 50", "can't cost more than 60").
NOT_MORE_THAN = re.compile(r"\b(?:won['’]?t|will not|can['’]?t|cannot|not|don['’]?t want to) (?:spend|pay|cost|be) (?:more|over) "
                           rf"(?:than )?[$£€]?\s*(\d+(?:\.\d+)?){NOT_A_SUM}", re.I)
NUMBER_WORDS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen".split())} | {word: 10 * n for n, word in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
# A small number, in digits or words (an age, a count of people).
SAID_NUMBER = r"(\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"
SPOKEN_NUMBER = re.compile(
    r"\b(?:(a|one|two|three|four|five) hundred(?: and)?\s*)?(" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
    + r")?(?:[- ](one|two|three|four|five|six|seven|eight|nine))?\b", re.I)
SLANG_SUMS = (("a tenner", "10 pounds"), ("a fiver", "5 pounds"), ("a grand", "1000 pounds"))
# A length said in numbers ("under 2 hours", "less than 90 minutes", "no more than 300 pages", "an
# hour and a half or less", "at least 400 pages"): at most, or at least (_read_length).
def _length_amount(units: str) -> str:
    """An amount said of one of `units` (a pattern's alternatives), with the groups _read_length reads."""
    return (r"(?P<amount>\d+(?:\.\d+)?|an?|half an?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
            + rf")\s*(?P<half>and a half\s*)?(?P<unit>{units})\b(?P<half_after>\s+and a half\b)?")


TIME_AMOUNT = _length_amount(r"hours?|hrs?|h|minutes?|mins?")
LENGTH_AMOUNT = _length_amount(r"hours?|hrs?|h|minutes?|mins?|pages?")
LENGTH_BOUNDS: dict[str, tuple[re.Pattern[str], ...]] = {
    "at_most": (re.compile(r"\b(?:under|below|less than|(?:no|not|nothing) (?:more|longer) than|at most|max(?:imum)?(?: of)?|"
                           r"up to|within|shorter than)\s+" + LENGTH_AMOUNT, re.I),
                re.compile(r"\b" + LENGTH_AMOUNT + r"\s+(?:or (?:less|under|shorter)|max(?:imum)?|tops)\b", re.I),
                # The time they have: "we only have about 90 minutes", "I've got an hour and a half".
                re.compile(r"\b(?:have|got)\s+(?:only\s+|just\s+)?(?:about\s+|around\s+|roughly\s+|maybe\s+)?"
                           + TIME_AMOUNT, re.I)),
    "at_least": (re.compile(r"\b(?:over|above|(?<!no )(?<!not )(?<!nothing )(?:more|longer) than|at least)\s+"
                            + LENGTH_AMOUNT, re.I),
                 re.compile(r"\b" + LENGTH_AMOUNT + r"\s+(?:or (?:more|longer|over)|plus)\b", re.I)),
}
# A measure of gear said in numbers (_read_gear_measure): at most ("under 30 litres", "under 1kg",
# "30L or less"), at least ("at least 50 litres", "50+ litres"), between two ("40-50 litres"), or,
# for a pack's litres only, about one ("a 60 litre pack", "around 60L": within MEASURE_AROUND of it;
# "my pack weighs 12 kg" is no wish). Each amount's pattern captures its number and its unit's
# word, which `scale` turns into the measure's unit ("2 kilos": 2000 g).
@dataclass(frozen=True)
class GearMeasure:
    unit: Literal["litres", "g"]
    amount: str
    scale: Mapping[str, float]
    about: bool  # a bare amount is a wish for about that much

    def patterns(self) -> dict[str, tuple[re.Pattern[str], ...]]:
        amount = self.amount
        return {
            "at_most": (re.compile(r"\b(?:under|below|less than|(?:no|not|nothing) (?:over|above|more than|bigger than|"
                                   r"larger than|heavier than)|smaller than|lighter than|at most|max(?:imum)?(?: of)?|"
                                   r"up to|within)\s+" + amount, re.I),
                        re.compile(r"\b" + amount + r"\s+(?:or (?:less|under|smaller|lighter)|max(?:imum)?|tops)\b", re.I)),
            "at_least": (re.compile(r"(?<!\bno )(?<!\bnot )(?<!\bnothing )\b(?:over|above|more than|bigger than|larger than|"
                                    r"heavier than|at least|min(?:imum)?(?: of)?)\s+" + amount, re.I),
                         re.compile(r"\b" + amount + r"(?:\s*\+|\s+(?:or (?:more|over|bigger|larger|heavier)|plus)\b)",
                                    re.I)),
            "between": (re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:-|–|to|and)\s*" + amount, re.I),),
            "about": (re.compile(r"\b" + amount, re.I),) if self.about else (),
        }


GEAR_MEASURES = {
    "capacity": GearMeasure("litres", r"(\d{1,3}(?:\.\d+)?)\s*-?\s*(litres?|liters?|ltrs?|l)\b", {}, about=True),
    "weight": GearMeasure("g", r"(\d+(?:\.\d+)?|an?)\s*-?\s*(kgs?|kilos?|kilograms?|g|grams?|lbs?)\b",
                          {"kg": 1000, "kgs": 1000, "kilo": 1000, "kilos": 1000, "kilogram": 1000, "kilograms": 1000,
                           "lb": 453.6, "lbs": 453.6}, about=False),
}
MEASURE_PATTERNS = {name: measure.patterns() for name, measure in GEAR_MEASURES.items()}
MEASURE_AROUND = 0.2
PRICE_RANGE = re.compile(r"\bbetween\s*[$£€]?\s*(\d+(?:\.\d+)?)\s*(?:and|-|to)\s*[$£€]?\s*(\d+(?:\.\d+)?)", re.I)
# A sum said roughly without a currency ("around 150") is a budget where the message is about a
# present ("a wedding present for friends who love camping, around 150"); elsewhere it may be
# anything ("around 20" what?).
PRESENT = re.compile(r"\b(?:gifts?|presents?|wedding|birthday|christmas|secret santa|anniversary|stocking (?:filler|stuffer)s?)\b",
                     re.I)
ROUGH_SUM = re.compile(rf"(?<!['’]s )(?<!\bis )(?<!aged )(?<!['’]re )\b(?:about|around|roughly)\s+(\d{{1,3}}(?:\.\d+)?)"
                       rf"{NOT_A_SUM}", re.I)  # not "he's around 10", an age
# A budget said as a sum: "a budget of 40", "my budget's about $20", "budget: 30", "around $30",
# "40 to spend" (a bare "$50" may be a minimum or what they once paid).
BUDGET_OF = re.compile(r"\b(?:(?:budget|limit)(?:['’]s|\s+is|\s+of|\s*:)?(?:\s+(?:about|around|roughly))?\s*[$£€]?|"
                       rf"(?:about|around|roughly)\s*[$£€])\s*(\d+(?:\.\d+)?){NOT_A_SUM}"
                       r"|\b(\d+(?:\.\d+)?)\s*(?:dollars?|bucks|pounds?|quid|euros?)?\s+to spend\b", re.I)
# A budget for all that is asked together ("about 300 total", "$300 in total", "under 300 for
# both"): with several kinds of gear, one of each must fit it (RankRequest.together).
TOGETHER = (r"(?:in total|total|altogether|all in|all-in|in all|combined|"
            r"for (?:both|the two|the three|the lot|everything|all of (?:it|them|that)|all three|the pair))")
TOGETHER_SAID = re.compile(rf"\b{TOGETHER}\b", re.I)
# A sum said as a total is a budget, with or without its currency ("about 300 total").
SUM_TOGETHER = re.compile(rf"[$£€]?\s*\b(\d+(?:\.\d+)?)\s*(?:dollars?|bucks|pounds?|quid|euros?)?\s+{TOGETHER}\b", re.I)
# A weight said against the suggestions' ("something lighter", "too heavy to carry").
LIGHTER = re.compile(r"\b(?:lighter|less heavy|too heavy|weighs less|weigh less)\b", re.I)
# A length said against an item's length just told ("anything shorter?" after "Beach Read has 361
# pages.": under 361 pages; "a longer one"), not "a longer drive".
SHORTER = re.compile(r"\b(?:shorter|less long|not (?:as|so) long|too long)\b", re.I)
LONGER = re.compile(r"\b(?:longer|too short)\b(?! (?:flight|trip|road trip|journey|drive|car|train|haul|walk|hike|weekend|"
                    r"day|week|time|night|ride)\b)", re.I)
# A size said against the suggestions' ("anything bigger?", "too small", "a smaller one").
BIGGER = re.compile(r"\b(?:bigger|larger|roomier|more spacious|more room|too small|not big enough)\b", re.I)
SMALLER = re.compile(r"\b(?:smaller|more compact|less bulky|too big|too bulky)\b", re.I)
# A price said against the suggestions' ("something cheaper", "too pricey", "a nicer, pricier one").
# "Too much" of money, not of a thing ("not too much rock").
CHEAPER = re.compile(r"\b(?:cheaper|less expensive|more affordable|too (?:pricey|expensive|dear)|"
                     r"too much(?: money)?(?!\s+(?!for\b)\w)|"
                     r"over my budget|out of my (?:price range|budget)|can['’]?t afford)\b", re.I)
PRICIER = re.compile(r"\b(?:pricier|more expensive|higher[- ]end|fancier|more premium)\b", re.I)
SAID_AGAINST = (CHEAPER, PRICIER, LIGHTER, BIGGER, SMALLER, SHORTER, LONGER)
# "Something like it", "he's already read that", "not that one": about the one the last reply
# named first, not each of its picks.
THAT_ONE = re.compile(r"\b(?:(?:something|anything|more|others?|ones?)\s+(?:like|similar to)\s+(?:it|that|this)|"
                      r"already (?:read|seen|watched|finished|heard|got|have|has|owns?) (?:it|that|this)|"
                      r"(?:read|seen|watched|finished|heard|got|have|has|owns?) (?:it|that|this)(?: one)? already|"
                      r"(?:has|have|['’]s|['’]ve) (?:read|seen|watched|finished|heard) (?:it|that|this)|"
                      r"not (?:that|this) one)\b", re.I)
# Hiking for more than a day ("hiking in the Alps for a week", "a 3-day hike") is backpacking,
# unless said to be day hikes.
MULTI_DAY = re.compile(r"\b(?:for (?:a|one|two|three|four|five|a couple of|a few|several|\d+) (?:weeks?|days|nights)|"
                       r"overnight|multi-?day|\d+[- ]days?|(?:two|three|four|five)[- ]days?|week-?long|hut[- ]to[- ]hut)\b", re.I)
DAY_HIKE = re.compile(r"\bday\b", re.I)
# A word that is a sum ("budget: 30", "my budget's about fifty", "a budget of $40", "budget 400"), where a word
# followed by a price ("something sci-fi under $20") is a taste and a price.
SUM_AFTER = re.compile(r"(?:['’]s|\s*:|\s+(?:is|of|at))(?:\s+(?:around|about|roughly|under|below|max(?:imum)?|up to|"
                       r"no more than|less than))?\s*[$£€]?\s*\d|\s*[$£€]\s*\d|\s+\d{2,}"
                       + NOT_A_SUM, re.I)
# After the word "budget" itself, a sum said with how near ("total budget around 600"; not "a
# budget 2 person tent", nor "kids under 10" or "sci-fi under $20" after another word).
SUM_AFTER_BUDGET = re.compile(r"\s+(?:around|about|roughly|under|below|max(?:imum)?|up to|no more than|less than)"
                              r"\s*[$£€]?\s*\d+" + NOT_A_SUM, re.I)
# A time said as a year ("1995") or a decade ("the 90s", "the 1980s", "80's"): `_span` reads both.
WHEN = r"(?:(?:19|20)\d\d(?!'?s\b)|(?:the\s+)?(?:19|20)?[0-9]0'?s\b)"
DECADE = re.compile(r"\b(?:the\s+)?(19|20)?([0-9])0'?s\b", re.I)
# A decade of someone's life, right before it: an age, no era ("my parents are in their 70s").
IN_THEIR = re.compile(r"\bin\s+(?:his|her|their|my|our|your)\s+(?:early\s+|mid[- ]?|late\s+)?$", re.I)
# "between 1980 and 1999", "from the 70s to the 90s", "1985-1995": from the first to the last.
YEAR_RANGE = re.compile(rf"\b(?:(?:between|from)\s+)?({WHEN})\s*(?:and|to|until|till|through|-|–)\s*({WHEN})", re.I)
BEFORE_YEAR = re.compile(rf"\b(?:before|older than|pre)[- ]?({WHEN})", re.I)
# "after the 80s" is from 1990, "since the 90s" from 1990.
AFTER_YEAR = re.compile(rf"\b(after|since|newer than|post)[- ]?({WHEN})", re.I)
# "Recent", but not "a new album" (one new to them) nor "a new jacket" (not the one they have).
RECENT = re.compile(r"\b(?:recent|modern|latest|new (?:releases?|out|ones?|this year)|brand[- ]new|what['’]?s new)\b",
                    re.I)
# Not "a six year old", "a 6-month-old", "my older brother", "my old man".
NOT_A_PERSON = r"(?!\s+(?:man|lady|boy|girl|mate|pal|friends?|brothers?|sisters?|sons?|daughters?|cousins?)\b)"
OLD = re.compile(rf"(?<!year )(?<!years )(?<!year-)(?<!month )(?<!months )(?<!month-)(?<!my )\b(old|older|oldies|vintage)\b"
                 rf"{NOT_A_PERSON}", re.I)
# Old said of a pick ("it's pretty old", "that one's too old"): a description, not a wish for old
# things; "too old" wishes for newer than it.
OLD_SAID_OF_IT = re.compile(PICK_IS + r"\s+(?:(?:pretty|quite|a bit|a little|rather|very|really|so|kind of|kinda|a tad)\s+)?"
                            r"(too\s+)?old\b", re.I)
# Newer or older than what the last reply named ("something more recent" after a 2011 film).
NEWER = re.compile(r"\b(?:more recent|newer|more modern)\b", re.I)
OLDER = re.compile(rf"(?<!my )\bolder\b{NOT_A_PERSON}", re.I)
# How many people gear is to sleep: "for four people", "a 2-person tent", "sleeps 3", "a family of five".
PEOPLE = re.compile(rf"\b(?:for|sleeps?|fits?|room for)\s+{SAID_NUMBER}\s+(?:people|persons|adults|of us)\b"
                    rf"|\b{SAID_NUMBER}[- ](?:person|man|people)\b|\bfamily of {SAID_NUMBER}\b"
                    # "your cheapest tent that sleeps 4", not "he sleeps 8 hours"
                    rf"|\bsleeps?\s+(?:up to\s+|at least\s+)?{SAID_NUMBER}\b(?!\s*(?:hours?|hrs?|h|nights?|days?|weeks?|times?|am|pm)\b)",
                    re.I)
# The words before a feature that say it is not wanted ("no subtitles", "she can't stand vocals"),
# for IN_ENGLISH, INSTRUMENTAL and a film's age rating (RATING_NOT, CONTENT_RATINGS).
NOT_WANTED = (r"(?:no|without|hates?|dislikes?|(?:don['’]?t|doesn['’]?t|do not|does not) (?:really )?(?:like|want|do)|"
              r"(?:can['’]?t|cannot) (?:stand|do)|not (?:a fan of|into|keen on|big on)|nothing with|avoid)")
# In English only: subtitles not wanted ("they don't like subtitles", "nothing with subtitles"),
# nothing foreign ("no foreign films"), or English asked for ("an English-language film").
IN_ENGLISH = re.compile(
    rf"\b{NOT_WANTED}\s+(?:any\s+|the\s+)?subtitle[sd]?\b"
    r"|\b(?:nothing|no|not) (?:foreign|in a foreign language)\b|\b(?:in|an?) english(?:[- ]language)?\b(?! subtitles)", re.I)
# A thing not wanted, the whole message ("no horror please", "no more subtitles"); what it names
# is read as a tag or a wish elsewhere.
NO_THING = re.compile(r"^\W*(?:no|nope|nah)\s+(?:more\s+)?(?!(?:too|so|very|that|this|it)\b)([\w'’-]+(?:\s+[\w'’-]+)?)(?:\s+(?:please|thanks))?\W*$", re.I)
# Music without singing: instrumental, wordless, or singing not wanted ("something without any
# singing", "no vocals please", "she hates lyrics").
INSTRUMENTAL = re.compile(rf"\b(?:instrumentals?|wordless)\b"
                          rf"|\b{NOT_WANTED}\s+(?:any\s+|the\s+)?(?:singing|vocals?|lyrics|words|singers?)\b", re.I)
# A film's age rating said: "rated R", "R-rated", "PG-13", "R is fine"; a bare "PG" followed by a
# capital is a name ("PG Wodehouse"), and with a number after it something else.
RATING_SAID = re.compile(r"\brated[- ](NC-?17|PG-?13|PG|G|R)\b|\b(NC-?17|PG-?13|PG|G|R)[- ]?rated\b"
                         r"|\b(NC-?17|PG-?13|PG(?-i:(?!\s+[A-Z])))\b(?![-.]?\w|\s*\d)"
                         r"|\b((?-i:G|R))(?=\s+(?:is|['’]s|would be)\s+(?:fine|ok|okay|alright|good)\b)", re.I)
# Before a rating: it is not wanted ("nothing R-rated", "I don't want anything PG-13"), so the one
# below it is the strongest; or it is the strongest ("nothing above PG-13").
RATING_NOT = re.compile(rf"\b(?:{NOT_WANTED}|nothing|not|none)(?:\s+(?:anything|any|that['’]?s|that is|which is|too|an?))*\s+$",
                        re.I)
RATING_ABOVE = re.compile(r"\b(?:above|over|higher than|stronger than|beyond|past)\s+$", re.I)
# What a film's age rating says it may hold, said as not wanted, a few words on ("nothing with
# sex scenes or swearing"): the strongest rating without it (MPAA: only PG keeps to mild
# language; PG-13 holds no explicit sex).
NOT_IN_A_FILM = rf"\b(?:{NOT_WANTED}|nothing|not)\b(?:\s+[\w'’]+){{0,5}}?\s+"
CONTENT_RATINGS: tuple[tuple[re.Pattern[str], FilmRating], ...] = (
    (re.compile(NOT_IN_A_FILM + r"(?:swearing|cursing|swear ?words|bad language|strong language|foul language|profanity)\b",
                re.I), "PG"),
    (re.compile(NOT_IN_A_FILM + r"(?:sex|sex scenes|sexual content|nudity|nude scenes|explicit)\b", re.I), "PG-13"),
)
# A degree said not to be wanted ("not too gory", "nothing that scary"): of a tag the message asks
# for in other words, it asks for that tag still ("a horror film but not too gory").
NOT_TOO = re.compile(r"\b(?:not|nothing|isn['’]t|aren['’]t)\s+(?:too|overly|that|very|super|so|excessively)\s+$", re.I)
NOT_LONG = re.compile(r"\b(?:not|nothing|isn['’]t) (?:too|very|overly|that|super) long\b", re.I)
SHORT = re.compile(r"\b(short|quick|too long|less long|not (?:as|so) long|brief|light read|shorter|one sitting|"
                   r"(?:finish|read) (?:it )?in (?:a|one) (?:weekend|day|sitting|evening|afternoon)"
                   # a book for someone who reads little: a short one
                   r"|reluctant readers?|not (?:a|much of a) (?:big |keen |great )?reader)\b", re.I)
# "How long" asks a time ("how long will that take?"), no length.
LONG = re.compile(r"(?<!\bhow )\b(long|epic|doorstopper|lengthy|longer)\b(?! (flight|trip|road trip|journey|drive|car|train|haul|walk|hike|weekend|day|week|time|night|ride))", re.I)
# What the person is choosing for, as said (patterns, in order; the words found are the occasion).
# A person's ordinal is their birthday ("my dad's 60th").
OCCASIONS = (
    "birthday", r"(?<=['’]s )\d+(?:st|nd|rd|th)", "anniversary", "christmas", "date night", "road trip", "dinner party", "party",
    "wedding", "holiday", "vacation", "camping trip", "camping", "sleepover", "rainy day", "weekend", "gift",
    "present", "stocking (?:filler|stuffer)s?", "flight", "commute", "(?:long |\w+-hour )?drive", "journey",
)
# Tags that name the occasion something is for ("for a dinner party", "on a rainy day"), or the
# age (TEEN_TAGS), not the thing itself. Beside a tag for the thing ("jazz for a dinner party")
# they only lift what suits the occasion: required, party music that is no jazz would count as
# half of the request, as much as jazz that is no party music, when too few items carry both.
# What the thing does ("music to study to", "workout music") is asked for as the thing: not an
# occasion here.
OCCASION_TAGS = frozenset({"party", "road-trip", "rainy-day", "date-night", "young-adult"})
PERSON = (r"(?:little |teenage |young |best |older |younger )?"
          r"(?:dad|father|mom|mum|mother|sons?|daughters?|kids?|children|child|wife|husband|partner|girlfriend|"
          r"boyfriend|friends?|brothers?|sisters?|nieces?|nephews?|grandmas?|grandpas?|grandmothers?|grandfathers?|grandparents?|"
          r"nan|nana|granny|"
          r"teenagers?|family|colleagues?|boss|parents|bab(?:y|ies)|newborns?|little ones?|toddlers?|grandkids|"
          r"grandchild(?:ren)?|grandsons?|granddaughters?)")
# Who it is for: "for my dad", "with the kids", "me and my partner", "taking the kids camping",
# "my dad's 60th", "my nieces' sleepover", "I meant my daughter".
AUDIENCE = re.compile(
    rf"\b(?:(?:for|with) (?:my|a|our|the)|me and my|(?:taking|take|bringing|bring) (?:my|the|our)|"
    rf"meant (?:my|our|the))\s+(?:(?:two|three|four|five|\d)\s+)?({PERSON})\b"
    # "a halloween party with teenagers", "something for teens"
    rf"|\b(?:for|with) (?:some |a (?:group|bunch) of |a few )?(teenagers|teens)\b"
    rf"|\bmy\s+({PERSON})(?:['’]s?)\s+(?:\d+(?:st|nd|rd|th)|birthday|party|sleepover|anniversary|wedding|"
    rf"graduation|retirement|visit)\b",
    re.I,
)
TEEN = re.compile(r"\bteen(?:age|ager)?s?\b", re.I)
# Someone else hating what was just named, right after it: "I like horror, she hates it".
CONTESTED = re.compile(rf"\W*(?:(?:and|but)\s+)?(?:he|she|they|my \w+)\s+(?:really\s+)?(?:{DISLIKING}|(?:is|are)n['’]?t into)"
                       r"\s+(?:it|that|them)\b", re.I)
# Words that make "kids" or "children" people past childhood: "my teenage kids", "our grown-up children".
GROWN_UP = re.compile(r"\b(?:teen(?:age)?|grown(?:[- ]up)?|adult)\s+$", re.I)
YOUNG_AUDIENCE = re.compile(r"\b(kids?|children|child|son|daughter|niece|nephew|little|bab(?:y|ies)|newborns?|toddlers?|"
                            r"grandkids|grandchild(?:ren)?|grandsons?|granddaughters?)\b", re.I)
# An age said of the person it is for ("my daughter is 14", "my 9-year-old", "he's twelve"): a
# child's (YOUNG_AGE or less) asks for the young audience's tags, a teenager's for TEEN_TAGS, an
# adult's for neither, whatever the word for the person ("my son is 30").
AGE = re.compile(rf"\b{SAID_NUMBER}[- ]months?[- ]old\b"
                 rf"|\b(?:is|he['’]?s|she['’]?s|aged)\s+{SAID_NUMBER}\s+months?\b"
                 rf"|\b(?<!budget )(?<!limit )(?<!price )(?:is|turns|turning|who['’]?s|he['’]?s|she['’]?s|they['’]?re|aged)"
                 rf"\s+(?:about\s+|around\s+|roughly\s+)?{SAID_NUMBER}\b"
                 r"(?![\d.%$£€]|\s*(?:dollars|pounds|euros|bucks|quid|minutes|mins|hours|pages|percent))"
                 rf"|\b{SAID_NUMBER}[- ]?(?:years?[- ]old|yo)\b"
                 # "my two nephews, 9 and 12"
                 rf"|\b{PERSON},\s+{SAID_NUMBER}\s+(?:and|&)\s+\d{{1,2}}\b", re.I)
YOUNG_AGE = 12
EARLY_TEEN_AGE = 14
ADULT_AGE = 18
# From this age a film rated R is for them (MPAA: under 17 only with a parent).
R_RATED_AGE = 17
# What a teenager's age asks for, where the catalog has it: a lift beside the request's own tags
# (as an occasion's tag: OCCASION_TAGS), the request where it names nothing else.
TEEN_TAGS = ("young-adult",)
# What a young audience requires, while it is the audience: "the animated one" after "something for
# my kids" is an animated film for kids.
YOUNG_TAGS = ("family", "kids")
# What gear is for (the outdoor catalog's `use`): the trip holds for the next kind of thing asked
# for ("what about a backpack?" after "what do I need for a day hike?" wants a day pack); the
# ranker drops it for a kind none of whose items is for it (`_asks`: no day-hiking sleeping bag).
USE_TAGS = ("day-hiking", "backpacking", "camping", "winter", "climbing", "paddling", "cycling", "travel")


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[str] = []
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    min_year: int | None = None
    max_year: int | None = None
    length: SaidLength | None = None
    excluded_tags: list[str] = []
    # The tags this conversation's latest request asked for: what is ranked carries them,
    # whatever the person's history (`Vocabulary.requirement` groups their near-synonyms).
    required_tags: list[str] = []
    # The kinds of thing the latest request named ("a tent", GEAR_KINDS): what is ranked is of one
    # of them, where the catalog has any.
    kinds: list[str] = []
    # The makers the latest request named ("books by Andy Weir"): what is ranked is by one of them.
    makers: list[str] = []
    # The request's tags are alternatives ("westerns and war films"): an item needs one of them.
    either_tags: bool = False
    # Themes unwanted that no tag names ("not about nature"): no item whose words say one is ranked.
    avoid_words: list[str] = []
    # The categories each required tag was asked of, where a request asked things of different
    # categories with tags of their own ("a thriller book and a romantic film"): a tag binds only
    # items of its categories. Empty: each binds every category asked.
    tag_categories: dict[str, list[str]] = {}
    # The kinds of thing the person has ("we have a tent already"): nothing ranked is of them,
    # until a request names the kind again.
    owned_kinds: list[str] = []
    # The things asked for are for cool nights (spring, autumn, someone who feels the cold): no
    # summer-only gear is ranked, until a request names another category.
    cool_weather: bool = False
    # How many people it is to sleep ("a tent for four people"): nothing that sleeps fewer is
    # ranked, until a request names another category.
    sleeps: int | None = None
    # How much it is to hold, in litres ("a backpack, around 60 litres"): nothing outside it is
    # ranked, until a request names another kind of thing.
    capacity: MeasureLimit | None = None
    # How much it may weigh, in grams ("a sleeping bag under 1kg"): nothing outside it is ranked,
    # until a request names another kind of thing.
    weight: MeasureLimit | None = None
    # In English only ("they don't like subtitles"): nothing in another language is ranked, until
    # a request names another category.
    english_only: bool = False
    # Without singing ("no vocals please"): no album with vocals is ranked, until a request names
    # another category.
    instrumental: bool = False
    # The budget (max_price) is for one of each kind asked for, together ("a tent and a sleeping
    # bag, about 300 total").
    budget_together: bool = False
    # The strongest age rating said ("nothing R-rated"): no film rated above it is ranked, until a
    # request names another category. Whom it is for sets one too (`rating_for`), unless said.
    max_rating: FilmRating | None = None

    def changed(self, before: Constraints) -> bool:
        """Whether these ask for something other than `before` did: another category, kind,
        maker, requirement or exclusion ("we need a tent first" after "a family camping trip",
        "anything less grim?" after crime novels), or a price, years, a length, a size or a weight set anew
        ("under $5")."""
        return any(getattr(self, name) != getattr(before, name)
                   for name in ("categories", "kinds", "makers", "required_tags", "excluded_tags")) or any(
            getattr(self, name) is not None and getattr(self, name) != getattr(before, name)
            for name in ("min_price", "max_price", "min_year", "max_year", "length", "capacity", "weight"))


class Context(BaseModel):
    model_config = ConfigDict(extra="forbid")

    occasion: str | None = None
    audience: str | None = None
    mood: str | None = None


class Profile(BaseModel):
    """What Kith knows about a person's taste. Item lists hold catalog item ids."""

    model_config = ConfigDict(extra="forbid")

    likes: list[str] = []
    dislikes: list[str] = []
    liked_tags: list[str] = []
    disliked_tags: list[str] = []
    # Recommendations the person turned down ("no, not those").
    rejected: list[str] = []
    constraints: Constraints = Field(default_factory=Constraints)
    context: Context = Field(default_factory=Context)

    def is_thin(self) -> bool:
        """Too little to rank well: nothing liked, no taste words, no category or occasion."""
        return not (
            self.likes or self.liked_tags or self.constraints.categories
            or self.context.occasion or self.context.audience
        )


class WordFinder:
    """Finds any of many words in a text in one pass, and tells what each word stands for."""

    def __init__(self, words_by_name: dict[str, tuple[str, ...]], loose: Collection[str] = ()):
        """`loose`: words that name several names without making them near-synonyms (STAND_INS:
        "action" names adventure and fast-paced, which stay two tags a request asks for)."""
        self.names = set(words_by_name)
        self._meaning: dict[str, list[str]] = {}
        for name, words in words_by_name.items():
            for word in words:
                self._meaning.setdefault(word.lower(), []).append(name)
        # One order whatever the order of `words_by_name` (a set's, which varies between
        # processes): the name that is the word itself first ("suspense": suspense, thriller).
        for word, names in self._meaning.items():
            names.sort(key=lambda name: (name.lower() != word, name))
        # Per name, the names some word names with it ("funny": comedy, funny): its near-synonyms.
        self._kin: dict[str, set[str]] = {name: {name} for name in self.names}
        for word, names in self._meaning.items():
            for name in names:
                self._kin[name].update(names if word not in loose else ())
        # Longest first, so "science fiction" wins over "science".
        alternatives = "|".join(re.escape(w) for w in sorted(self._meaning, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.I) if alternatives else None

    def find(self, text: str) -> list[tuple[str, re.Match[str]]]:
        """(name, match) for every word found, in text order."""
        if self._pattern is None:
            return []
        return [(name, m) for m in self._pattern.finditer(text) for name in self._meaning[m.group(0).lower()]]

    def kin(self, name: str) -> set[str]:
        """`name` and the names that one of its words also names."""
        return self._kin.get(name, {name})


@dataclass(frozen=True)
class Vocabulary:
    """The catalog's words: its categories and tags, with everyday synonyms."""

    categories: WordFinder
    tags: WordFinder
    # Tag words that count only where they describe the thing wanted (MOOD_TAG_WORDS).
    moods: WordFinder = WordFinder({})

    @classmethod
    def for_catalog(cls, categories: set[str], tags: set[str]) -> Vocabulary:
        category_words = {
            category: tuple(dict.fromkeys((category, category.rstrip("s"), *CATEGORY_WORDS.get(category, ()))))
            for category in categories
        }
        if "films" in categories:
            category_words["films"] = tuple(dict.fromkeys(category_words["films"] + CATEGORY_WORDS["films"]))
        # "good" or "love" as a catalog's tag would turn every "that was good" into a taste,
        # "movies" (a MovieLens tag) every "any movies?" in a films catalog, and "not seen" every
        # "I have not seen it".
        not_tastes = EVERYDAY_WORDS | {word for words in category_words.values() for word in words}
        stand_ins = {tag: [word for word, stood_for in STAND_INS.items() if tag in stood_for and word not in tags]
                     for tag in tags}
        tag_words = {
            tag: tuple(dict.fromkeys(spelling for word in (tag, *_plural(tag), *TAG_WORDS.get(tag, ()), *stand_ins[tag])
                                     for spelling in _spellings(word)))
            for tag in sorted(tags)
            if not set(tag.lower().split()) <= not_tastes
        }
        moods = {tag: words for tag, words in MOOD_TAG_WORDS.items() if tag in tag_words}
        loose = {spelling for word in STAND_INS for spelling in _spellings(word)}  # "true-crime" too
        return cls(WordFinder(category_words), WordFinder(tag_words, loose=loose), WordFinder(moods))

    def requirement(self, tags: Sequence[str]) -> list[list[str]]:
        """The tags a request asks for, as groups of near-synonyms of which any one will do:
        the tags one everyday word names together ("funny": comedy, funny; "kids": family, kids)."""
        groups: list[list[str]] = []
        for tag in tags:
            group = sorted(self.tags.kin(tag))
            if group not in groups:
                groups.append(group)
        return groups

    def find_tags(self, text: str, describing: bool = False) -> list[tuple[str, re.Match[str]]]:
        """(tag, match) for every tag word of `text`, in text order: the mood words only where
        they describe the thing wanted ("a sad film", "nothing sad"; not "I'm sad"), or
        everywhere where the text is `describing` an item (what "is it sad?" asks about)."""
        found = self.tags.find(text)
        taken = [(m.start(), m.end()) for _, m in found]
        for tag, match in self.moods.find(text):
            inside = any(start <= match.start() and match.end() <= end for start, end in taken)
            if not inside and (describing or _describes_thing(text, match, self.categories)):
                found.append((tag, match))
        return sorted(found, key=lambda pair: pair[1].start())


def _describes_thing(text: str, match: re.Match[str], categories: WordFinder) -> bool:
    """Whether the word `match` found describes the thing wanted: right after "something",
    "nothing", "a", "too"... (DESCRIBING), or right before a word for a thing."""
    if DESCRIBING.search(text[: match.start()]):
        return True
    following = re.match(r"\s+([\w'’-]+)", text[match.end():])
    if following is None:
        return False
    word = following.group(1).lower()
    return word in THING_WORDS or any(m.start() == 0 for _, m in categories.find(word))


def _spellings(word: str) -> tuple[str, ...]:
    """A word as written with hyphens and with spaces ("science-fiction", "feel good")."""
    return tuple(dict.fromkeys((word, word.replace("-", " "), word.replace(" ", "-"))))


def _plural(tag: str) -> tuple[str, ...]:
    """"dramas" and "westerns" ask for the tag too."""
    return (tag + "s",) if tag.isalpha() and not tag.endswith("s") else ()


def _remember(values: list[str], new: str) -> list[str]:
    """Most recent first, no duplicates, bounded."""
    return [new, *(v for v in values if v != new)][:MAX_REMEMBERED]


def _forget(values: list[str], old: str) -> list[str]:
    return [v for v in values if v != old]


# Whether the person has seen (read, heard, used) what they talk about: said so, or told in the
# past tense of an experience ("read it on holiday", "gave up halfway", "hated it").
SEEN = re.compile(
    r"\b(?:i'?ve seen|i have seen|i saw|(?:seen|saw|watched|played|bought) (?:it|that|this|them|one)|i'?ve watched|"
    r"(?<!will )(?<!'ll )(?<!to )read (?:it|that|this)\b(?! (?:yet|next))|"
    r"already (?:seen|watched|read|finished|have|has|got|owns?)|finished (?:it|that|this)|"
    r"i'?ve (?:got|had) (?:it|that|this|one)|had (?:it|that|this)(?: \w+)? for|gave up|got halfway|walked out|"
    r"(?:loved|hated|enjoyed|liked|adored|disliked) (?:it|that|this)|(?:it|that|this) was)\b", re.I)
NOT_SEEN = re.compile(
    r"\b(?:haven'?t (?:seen|watched|read)|have not (?:seen|watched|read)|never (?:seen|watched|read|heard of)|"
    r"not (?:seen|yet)|don'?t know (?:it|that one|this one)|(?:it|that|this) sounds)\b", re.I)
# Asked whether others have ("has anyone here read the first one?"): no word on the person's own.
SEEN_BY_OTHERS = re.compile(r"\b(?:has|have|did)\s+(?:anyone|anybody|any of (?:my|your) friends|my friends|people|others)\b",
                            re.I)

# Having something already ("he already has a harness"): what follows is no wish.
ALREADY_HAD = r"\balready (?:has|have|got|owns?)\b"
# Having one, said of the person or theirs ("we have a tent already", "she's got boots"), up to
# the word for the thing.
# The word before a thing one has, if any ("a tent", "his shoes").
HAD_ARTICLE = r"(?:a |an |the |some |two |our |my |his |her |their )?"
OWNED = (rf"(?:{ALREADY_HAD}|\b(?:i|we|he|she|they)(?:['’]ve| have| has|['’]s got| own| owns| got)(?: got)?\b)"
         rf"\s+{HAD_ARTICLE}")
# ... right before a word for a thing, or before a list of them: "he already has shoes and a
# harness", "we've got a tent, a stove and mats".
OWNED_BEFORE = re.compile(OWNED + rf"(?:(?:[\w'’-]+\s+){{0,2}}[\w'’-]+(?:,\s*(?:and\s+)?|\s+and\s+){HAD_ARTICLE})*$", re.I)
# Words for several items: "are they long?" asks about the picks, "loved them" likes them all.
PLURAL = re.compile(r"\b(?:they|them|those|these|all|each|both)\b", re.I)
# How many suggestions a message without a feeling about them ("haven't seen it", "is it
# scary?") can be about: ReDial's recommenders name one or two at a time; after more (Kith's six
# picks) such a message is about something else ("I loved The Hobbit").
SUGGESTIONS_READ = 2


def read_rules(
    text: str,
    sentiment: Sentiment,
    vocabulary: Vocabulary,
    suggested: Sequence[str] = (),
    today: date | None = None,
    titles: Sequence[FoundTitle] = (),
    items: Mapping[str, Item] | None = None,
    last_named: Sequence[str] = (),
    implied: Sequence[str] = (),
    answered: Sequence[str] = (),
    ranked: bool = False,
) -> Understanding:
    """The rule reader: what this message says about taste, constraints and context. Pure.

    `titles`: the catalog titles named in the message; their words are names, not wishes
    ("Bowling for Columbine" asks for no bowling, "Christmas Vacation" for no holiday).
    `suggested`: the items the assistant named in its last reply; `items`: the catalog's records,
    where the suggestions' categories and prices are read; `last_named`: the items the last
    reply's text named, in order (the item an answer was about, or the picks it wrote about);
    `implied`: the categories the message asks for in other words than theirs (a maker's, "some
    Radiohead"), the request's where its words name none; `answered`: the items the last reply
    answered questions about."""
    u = Understanding(reset=bool(RESET.search(text)), rejects_suggestions=sentiment.mood == "rejecting")
    that_one = bool(THAT_ONE.search(text))  # said of "it" itself, not of a title (which reads "it" below)
    # Each title reads "it", as for the sentiment: "I don't like <a long title> or horror" still
    # negates horror.
    text = without_titles(text, titles)
    seen = False if NOT_SEEN.search(text) else True if SEEN.search(text) and not SEEN_BY_OTHERS.search(text) else None

    # What they have already is not what they ask for: "he already has a harness" asks for no
    # harness, nor for gear at all.
    u.categories = sorted({name for name, match in vocabulary.categories.find(text)
                           if not OWNED_BEFORE.search(text[:match.start()])
                           and not NOT_THIS_KIND.search(text[:match.start()])
                           and not AS_THEME.search(text[:match.start()])}) or sorted(implied)
    said_kinds = [(KIND_PHRASES.get(match.group().lower(), match.group().lower()), match) for match in GEAR_KIND.finditer(text)]
    u.kinds = list(dict.fromkeys(kind for kind, match in said_kinds
                                 if not _negated(text, match.start())  # "a hammock, not a tent"
                                 and not OWNED_BEFORE.search(text[:match.start()])))
    u.owned_kinds = list(dict.fromkeys(kind for kind, match in said_kinds if OWNED_BEFORE.search(text[:match.start()])))
    _read_price(u, text)
    opinions = {item_id: ItemOpinion(item_id=item_id, feeling=feeling, seen=seen)
                for item_id, feeling in sentiment.items.items()}
    # The message answers about the suggestions it does not name: its words before any title, or
    # turning them all down. An answer with a feeling is about all of them ("loved it", "no, not
    # those"); one without ("haven't seen it") about one or two (SUGGESTIONS_READ). A like said
    # on the way to another kind of thing is about none ("ok great, and a tent for camping"
    # after six books, "and a stove?" after sleeping bags), as is a message without a feeling
    # ("now some music for the drive" after a tent). "Start over" says nothing of them.
    answer: Feeling = "dislike" if u.rejects_suggestions else sentiment.answer
    if u.rejects_suggestions and that_one:
        # "Not that one" turns down the one the last reply named first, not all of its picks.
        u.rejects_suggestions = False
    thing = NO_THING.match(text)
    if thing and (vocabulary.find_tags(thing.group(1)) or IN_ENGLISH.search(text)):
        # "No horror please", "no subtitles": a thing not wanted, said as the whole message, turns
        # down the picks of it (its exclusion removes them), not the rest ("no horror" after The
        # Matrix, Jaws and Jurassic Park is no word against The Matrix).
        u.rejects_suggestions, answer = False, "neutral"
    # A feeling about a kind of thing, right after its verb ("I don't really like romance"), or
    # about an age rating ("R is fine actually"), is not one about the suggestions, unless the
    # message points at them ("loved it, I like sci-fi").
    found_tags = vocabulary.find_tags(text)
    liked_kinds = [match for _, match in found_tags if FEELING_FOR.search(text[:match.start()])]
    rating_said = bool(RATING_SAID.search(text))
    if answer != "neutral" and not u.rejects_suggestions and (liked_kinds or rating_said) and not POINTING.search(text):
        answer = "neutral"
    shown = [items[item_id] for item_id in suggested if items and item_id in items]
    kind_words = [word for kind in u.kinds for word in GEAR_KINDS.get(kind, (kind,))]
    moves_on = answer != "dislike" and bool(shown) and (
        bool(u.categories) and not any(item.category in u.categories for item in shown)
        or bool(kind_words) and not any(of_kind(item, kind_words) for item in shown)
        or bool(OTHER_GEAR_WORD.search(text)))  # "do you sell chalk bags?": gear no kind of theirs
    # After a reply that answered questions about items ("how long is the second one?"), an answer
    # that speaks of no several ("perfect, I'll take it") is about them, whatever picks followed;
    # after a reply about one of its suggestions, about that one.
    one_named = len(last_named) == 1 and last_named[0] in suggested
    about = (suggested if PLURAL.search(text) else list(answered) if answered
             else list(last_named) if one_named else last_named[:1] if that_one else suggested)
    # Without a feeling, a message that names something the catalog does not have ("we've seen
    # Frozen") is about that.
    pointed = bool(PLURAL.search(text) or answered or one_named or that_one)
    # A wish said against them without a feeling ("something cheaper", "anything bigger?"), or
    # of the price or rating they may have ("what if I spend 500 in total?", "R is fine"), is no
    # opinion of them: the next reasons must not say "because you liked" it.
    against = (any(pattern.search(text) for pattern in SAID_AGAINST) or rating_said
               or u.max_price is not None or u.min_price is not None)
    if not u.reset and not moves_on and (answer != "neutral" or len(about) <= SUGGESTIONS_READ and not against
                                         and (pointed or not ranked) and not ANOTHER_NAMED.search(text)):
        for item_id in about:
            opinions.setdefault(item_id, ItemOpinion(item_id=item_id, feeling=answer, seen=seen))
    u.opinions = list(opinions.values())

    refining = set()
    habit = habit_changed(text)
    for tag, match in found_tags:
        after = _spoken_numbers(text[match.end():])
        if SUM_AFTER.match(after) or match.group().lower() == "budget" and SUM_AFTER_BUDGET.match(after):
            continue  # "my budget is under 5 dollars" names a price (_read_price), not budget gear
        if tag in YOUNG_TAGS and GROWN_UP.search(text[:match.start()]):
            continue  # "my teenage kids" are who it is for (an audience), not children's things
        if tag == "day-hiking" and MULTI_DAY.search(text) and not DAY_HIKE.search(match.group()):
            tag = "backpacking"  # "hiking in the Alps for a week" is no day hike
        # What they have a lot of, wishing for a change ("I read a lot of thrillers, but I want
        # something different this time"), is avoided now.
        of_habit = habit is not None and habit.end() <= match.start() and not CLAUSE_END.search(
            text, habit.end(), match.start())
        if _negated(text, match.start()) and PICK_DESCRIBED.search(text[:match.start()]):
            continue  # "the second one is great but not really party music" says what a pick is not
        if _negated(text, match.start()) and tag in u.tags and NOT_TOO.search(text[:match.start()]):
            continue  # "a horror film but not too gory" asks for horror, of a degree
        # A kind one of them likes and the other hates ("I like horror, she hates it") is what
        # the two cannot both watch: avoided.
        contested = CONTESTED.match(text, match.end())
        if _negated(text, match.start()) or of_habit or contested:
            u.avoid, u.tags = [*_forget(u.avoid, tag), tag], _forget(u.tags, tag)
        else:
            u.tags = [*_forget(u.tags, tag), tag]
            for lifted in (tag, *TAG_IMPLIES.get(tag, ())):
                u.avoid = _forget(u.avoid, lifted)
            if REFINING.search(text[:match.start()]) or UNDER_THE_TALK.search(match.group()):
                refining.add(tag)
    u.refines = bool(u.tags) and set(u.tags) <= refining
    u.avoid_words = [word for match in UNWANTED_THEME.finditer(text)
                     if (word := match.group(1).lower()) not in EVERYDAY_WORDS and word not in NO_THEME
                     and not vocabulary.find_tags(word)
                     and not vocabulary.categories.find(word) and not GEAR_KIND.search(word)]
    if (summer := SUMMER.search(text)) and not _negated(text, summer.start()) and "winter" in vocabulary.tags.names \
            and "winter" not in u.tags:
        u.avoid = _remember(u.avoid, "winter")
    if people := PEOPLE.search(text):
        said = next(group for group in people.groups() if group).lower()
        u.sleeps = int(said) if said.isdigit() else NUMBER_WORDS.get(said)
    u.capacity, u.weight = _read_gear_measure(text, "capacity"), _read_gear_measure(text, "weight")
    u.cool_weather = bool((cool := COOL_WEATHER.search(text)) and not _negated(text, cool.start()))
    u.english_only = bool(IN_ENGLISH.search(text))
    u.instrumental = bool((sung := INSTRUMENTAL.search(text)) and not _negated(text, sung.start()))
    u.max_rating = _read_rating(text)
    u.either_tags = _listed_as_alternatives(text, [match for tag, match in found_tags if tag in u.tags])
    u.tag_categories = _asked_apart(text, vocabulary, u.tags)

    # What "cheaper" and "more modern" are said against: the items the message names ("I loved
    # the second one, anything more modern?"), else those the last reply named.
    named = [items[item_id] for item_id in dict.fromkeys([*(t.item_id for t in titles), *last_named])
             if items and item_id in items]
    priced = next((item.price for item in [*named, *shown] if item.price is not None), None)
    if u.max_price is None and u.min_price is None and priced is not None:
        # "too pricey, something cheaper": cheaper than the first item with a price the message
        # or the last reply named (the one an answer was about, or the top pick), else the top
        # suggestion.
        if CHEAPER.search(text):
            u.max_price = round(priced - 0.01, 2)
        elif PRICIER.search(text):
            u.min_price = round(priced + 0.01, 2)
    # "Something lighter" said of gear (what it is said against has a weight): the lightest first
    # ("lighter than 2 kilos" is a weight of its own).
    if LIGHTER.search(text) and u.weight is None and any(isinstance(item.attributes.get("weight_g"), int | float)
                                                         for item in [*named, *shown][:1]):
        u.order = ("weight", "least")
    _read_size_against(u, text, [*named, *shown][:1])
    dated = next((year for item in [*named, *shown] if isinstance(year := item.attributes.get("year"), int)), None)
    _read_era(u, text, today or date.today(), dated)
    u.length = _read_length(text)
    if u.length is None and NOT_LONG.search(text):
        u.length = "not-long"
    elif u.length is None and items and (against := _length_against(text, [items[i] for i in answered if i in items][:1])):
        u.length = against
    elif u.length is None and SHORT.search(text):
        u.length = "short"
    elif u.length is None and LONG.search(text):
        u.length = "long"

    occasion = next((found for o in OCCASIONS if (found := re.search(rf"\b{o}\b", text, re.I))), None)
    u.occasion = occasion.group().lower() if occasion else None
    audience = AUDIENCE.search(text)
    if audience:
        u.audience = next(group for group in audience.groups() if group).lower()
    elif re.search(r"\bfor (me|myself)\b", text, re.I):
        u.audience = "themselves"
    years = None
    if age := AGE.search(text):
        said = next(group for group in age.groups() if group).lower()
        # A baby's age in months ("a 6-month-old", "she's 2 months") is under a year.
        years = 0 if "month" in age.group().lower() else int(said) if said.isdigit() else NUMBER_WORDS[said]
        # "my daughter is 14", "kids aged 6", "my 8 year old nephew", "my kids will watch too,
        # they're 7 and 10"
        person = (re.search(rf"\b({PERSON})[\s,]+$", text[:age.start()], re.I)
                  or re.match(rf"[\s-]+({PERSON})\b", text[age.end():], re.I)
                  or re.search(rf"\bmy ({PERSON})\b(?!.*\bmy {PERSON}\b)", text[:age.start()], re.I))
        u.audience = f"{u.audience or (person.group(1).lower() if person else 'someone')} aged {years}"
    if for_a_child(u.audience):
        u.tags += [tag for tag in YOUNG_TAGS if tag in vocabulary.tags.names and tag not in u.tags]
    elif u.audience and _teen(u.audience):
        u.tags += [tag for tag in TEEN_TAGS if tag in vocabulary.tags.names and tag not in u.tags]
    if sentiment.mood in ("down", "excited"):
        u.mood = sentiment.mood
    return u


def apply_understanding(profile: Profile, u: Understanding, suggested: Sequence[str] = ()) -> Profile:
    """The profile after a message understood as `u` (by either reader). Pure: a new Profile.
    `suggested`: the items the assistant named in its last reply (what a rejection turns down)."""
    p = Profile() if u.reset else profile.model_copy(deep=True)
    c = p.constraints
    for taken in u.take_back:
        if taken == "budget":
            c.min_price = c.max_price = None
        elif taken == "era":
            c.min_year = c.max_year = None
        elif taken == "length":
            c.length = None
        elif taken == "category":
            c.categories, c.kinds, c.makers = [], [], []
        else:  # a tag or an item: what was said about it no longer holds
            c.excluded_tags, p.disliked_tags = _forget(c.excluded_tags, taken), _forget(p.disliked_tags, taken)
            c.required_tags = _forget(c.required_tags, taken)
            p.likes, p.dislikes = _forget(p.likes, taken), _forget(p.dislikes, taken)
    for opinion in u.opinions:
        if opinion.feeling == "dislike":
            p.dislikes, p.likes = _remember(p.dislikes, opinion.item_id), _forget(p.likes, opinion.item_id)
        elif opinion.feeling == "like" or opinion.item_id not in p.dislikes:
            # An item named or suggested without a clear feeling counts as liked, unless an
            # earlier message disliked it: on ReDial's labels seekers liked 95% of the movies
            # they named or were suggested (see README).
            p.likes, p.dislikes = _remember(p.likes, opinion.item_id), _forget(p.dislikes, opinion.item_id)
    if u.rejects_suggestions:
        for item_id in suggested:
            p.rejected = _remember(p.rejected, item_id)
    if u.categories:
        # A new request names what the person wants now; it replaces the earlier category, and
        # the kinds it named with it ("a book for the trip" after "a tent"). A budget was for the
        # earlier kind of thing: "under $10" said of books is no limit for a tent; a length for
        # the earlier category ("shorter" books are no measure of a film). Said while no category
        # was asked for, they were said of anything, so they hold for the first one named: a
        # present "under 15" is still under 15 once "she's into crime novels".
        if c.categories and (sorted(u.categories), list(u.kinds)) != (c.categories, c.kinds):
            c.min_price = c.max_price = c.capacity = c.weight = None
        if c.categories and sorted(u.categories) != c.categories:
            c.length = None
            c.cool_weather, c.sleeps, c.english_only, c.instrumental, c.max_rating = False, None, False, False, None
            if c.tag_categories and not u.tags:
                # Tags asked of different categories ("a thriller book for me and a romantic film
                # for my wife"), then one category for all ("something for both of us to watch"):
                # one of them will do.
                c.either_tags, c.tag_categories = True, {}
        c.categories, c.kinds = sorted(u.categories), list(u.kinds)
        if u.kinds and not u.tags:
            # A kind is a request of its own but for the trip it is for: "and a sleeping bag"
            # after "a budget tent" asks for no budget sleeping bag.
            c.required_tags = [tag for tag in c.required_tags if tag in USE_TAGS] + _young_kept(c.required_tags, p, u)
    c.cool_weather = c.cool_weather or u.cool_weather
    c.sleeps = u.sleeps or c.sleeps
    c.capacity = u.capacity or c.capacity
    c.weight = u.weight or c.weight
    c.english_only = c.english_only or u.english_only
    c.instrumental = c.instrumental or u.instrumental
    c.max_rating = u.max_rating or c.max_rating
    for kind in u.owned_kinds:
        c.owned_kinds, c.kinds = _remember(c.owned_kinds, kind), _forget(c.kinds, kind)
    for kind in u.kinds:
        c.owned_kinds = _forget(c.owned_kinds, kind)
    if u.makers:
        c.makers = list(u.makers)
    elif u.categories or u.kinds or u.tags or any(unknown.of == "maker" for unknown in u.unknown):
        # A new request is by anyone ("a horror film" after "anything by Spielberg", or by a maker
        # the catalog lacks); "something cheaper" or "shorter" still is by them.
        c.makers = []
    if u.tags:
        # A request's tags name what the person wants now; they replace the earlier request's.
        # An occasion's tags are required only where it is all the request names ("songs for a
        # road trip"); beside other tags they stay liked tags, a soft lift (OCCASION_TAGS). Said
        # after a request of the same category ("jazz please" / "it's for a dinner party"), an
        # occasion alone refines it: the request's tags stay required. What a young audience
        # requires (YOUNG_TAGS) stays required while no other audience is named.
        # A young audience alone refines the request too: "he's 11" after "climbing gear" asks
        # for climbing gear for a child; so does more of something ("something more relaxed
        # then" after jazz: relaxed jazz, `refines`).
        asked = [tag for tag in u.tags if tag not in OCCASION_TAGS]
        young = [tag for tag in asked if tag in YOUNG_TAGS] if for_a_child(u.audience) else []
        asks_before = [t for t in c.required_tags if t not in OCCASION_TAGS and t not in YOUNG_TAGS]
        if young and young == asked and not u.categories and asks_before:
            c.required_tags = list(dict.fromkeys([*c.required_tags, *young]))
        elif u.refines and not u.categories:
            # The occasion asked for stays asked for ("music for a road trip" / "something more
            # upbeat": upbeat road-trip music).
            held = [t for t in c.required_tags if t not in YOUNG_TAGS]
            c.required_tags = list(dict.fromkeys([*held, *asked, *_young_kept(c.required_tags, p, u)]))
            c.either_tags, c.tag_categories = False, {}
        elif asked or u.categories or not any(t not in OCCASION_TAGS for t in c.required_tags):
            c.required_tags = list(dict.fromkeys([*(asked or u.tags), *_young_kept(c.required_tags, p, u)]))
            c.either_tags, c.tag_categories = u.either_tags, dict(u.tag_categories)
    for tag in u.tags:
        p.liked_tags = _remember(p.liked_tags, tag)
        # Liking a tag takes back an exclusion of it, and of what it implies ("actually I like horror").
        for lifted in (tag, *TAG_IMPLIES.get(tag, ())):
            c.excluded_tags, p.disliked_tags = _forget(c.excluded_tags, lifted), _forget(p.disliked_tags, lifted)
    for tag in u.avoid:
        c.excluded_tags, p.liked_tags = _remember(c.excluded_tags, tag), _forget(p.liked_tags, tag)
        c.required_tags = _forget(c.required_tags, tag)
    for word in u.avoid_words:
        c.avoid_words = _remember(c.avoid_words, word)
    for name in ("min_price", "max_price", "min_year", "max_year", "length"):
        if getattr(u, name) is not None:
            setattr(c, name, getattr(u, name))
    if u.max_price is not None:  # a budget said anew says whether it is for all of it
        c.budget_together = u.budget_together
    c.budget_together = c.budget_together and c.max_price is not None
    for low, high in (("min_price", "max_price"), ("min_year", "max_year")):
        # A new bound at or beyond the other one held ("after 2000 then" after "nothing newer
        # than 2000") is a new wish: the bound held goes, rather than leave a range of one year
        # or of none.
        said = [name for name in (low, high) if getattr(u, name) is not None]
        if len(said) == 1 and None not in (getattr(c, low), getattr(c, high)) and getattr(c, low) >= getattr(c, high):
            setattr(c, high if said == [low] else low, None)
    for name in ("occasion", "audience", "mood"):
        if getattr(u, name) is not None:
            setattr(p.context, name, getattr(u, name))
    return p


def update_profile(
    profile: Profile,
    text: str,
    sentiment: Sentiment,
    vocabulary: Vocabulary,
    last_recommended: list[str] | None = None,
    today: date | None = None,
    titles: Sequence[FoundTitle] = (),
) -> Profile:
    """The profile after this message, read by the rules."""
    suggested = last_recommended or []
    return apply_understanding(profile, read_rules(text, sentiment, vocabulary, suggested, today, titles), suggested)


# The profile's lists that hold a set of values (most recent first); the excluded tags live in
# its constraints.
SET_LISTS = ("likes", "dislikes", "liked_tags", "disliked_tags", "rejected", "excluded_tags")
# Lists where a value's arrival in one means it leaves the other: a turn that likes an item takes
# it out of the dislikes, so the dislikes another turn wrote meanwhile must lose it too.
OPPOSITES = (("likes", "dislikes"), ("liked_tags", "disliked_tags"), ("liked_tags", "excluded_tags"))


def _set_lists(profile: Profile) -> dict[str, list[str]]:
    return {name: getattr(profile.constraints if name == "excluded_tags" else profile, name) for name in SET_LISTS}


def _merge_list(base: list[str], ours: list[str], theirs: list[str]) -> list[str]:
    """theirs - (base - ours) + (ours - base): our additions first (the lists are most recent
    first, and ours is the later write), then theirs without what we removed; bounded as
    `_remember` bounds them."""
    removed = set(base) - set(ours)
    added = [value for value in ours if value not in base]
    return list(dict.fromkeys([*added, *(value for value in theirs if value not in removed)]))[:MAX_REMEMBERED]


def _ours_if_changed(base: BaseModel, ours: BaseModel, theirs: BaseModel, name: str) -> object:
    return getattr(ours, name) if getattr(ours, name) != getattr(base, name) else getattr(theirs, name)


def merge_profiles(base: Profile, ours: Profile, theirs: Profile) -> Profile:
    """A three-way merge: the change one turn made (`base` -> `ours`) applied to the profile
    another turn stored meanwhile (`theirs`), so that neither turn's update is lost. Pure.

    Lists of values (likes, dislikes, tags, rejected picks, excluded tags) are sets: our
    additions and removals apply to theirs. Every other value (categories, prices, years,
    length, context) is ours where this turn changed it, else theirs. Where the two turns
    disagree about one value (we liked what they disliked), this turn, written last, wins."""
    b, o, t = _set_lists(base), _set_lists(ours), _set_lists(theirs)
    lists = {name: _merge_list(b[name], o[name], t[name]) for name in SET_LISTS}
    for one, other in OPPOSITES:
        for kept, dropped in ((one, other), (other, one)):
            added = set(o[kept]) - set(b[kept])
            lists[dropped] = [value for value in lists[dropped] if value not in added]
    excluded = lists.pop("excluded_tags")
    constraints = {name: _ours_if_changed(base.constraints, ours.constraints, theirs.constraints, name)
                   for name in Constraints.model_fields if name != "excluded_tags"}
    context = {name: _ours_if_changed(base.context, ours.context, theirs.context, name) for name in Context.model_fields}
    return Profile.model_validate(
        {**lists, "constraints": {**constraints, "excluded_tags": excluded}, "context": context}
    )


def _spoken_numbers(text: str) -> str:
    """The text with its numbers in words as digits ("twenty quid": "20 quid"; "a tenner": "10 pounds")."""
    for said, sum_ in SLANG_SUMS:
        text = re.sub(rf"\b{said}\b", sum_, text, flags=re.I)

    def digits(match: re.Match[str]) -> str:
        hundreds, tens, units = match.groups()
        if not (tens or hundreds) or (hundreds and hundreds.lower() == "a" and not match.group(0).strip()):
            return match.group(0)
        value = (100 * (1 if hundreds.lower() in ("a", "one") else NUMBER_WORDS[hundreds.lower()]) if hundreds else 0)
        value += NUMBER_WORDS[tens.lower()] if tens else 0
        value += NUMBER_WORDS[units.lower()] if units and tens and NUMBER_WORDS[tens.lower()] >= 20 else 0
        return str(value) if (tens is None or units is None or NUMBER_WORDS[tens.lower()] >= 20) else match.group(0)

    return SPOKEN_NUMBER.sub(digits, text)


def _young_kept(required: Sequence[str], profile: Profile, u: Understanding) -> list[str]:
    """What a young audience requires of the earlier request (YOUNG_TAGS), kept while `u` names
    no other audience."""
    stays_young = u.audience is None and for_a_child(profile.context.audience)
    return [tag for tag in required if tag in YOUNG_TAGS] if stays_young else []


def for_a_child(audience: str | None) -> bool:
    return audience is not None and _young(audience)


def suited_tags(audience: str | None) -> tuple[str, ...]:
    """The tags of which a pick for the audience carries one (`RankRequest.suits`): a child's
    (YOUNG_TAGS); a teenager's (TEEN_TAGS), or to EARLY_TEEN_AGE one for the whole family too (The
    Hobbit for a 13-year-old; a picture book for the family is no book for a 15-year-old); none
    for an adult."""
    if not audience:
        return ()
    if for_a_child(audience):
        return YOUNG_TAGS
    if (age := _age(audience)) is not None and age <= EARLY_TEEN_AGE:
        return (*TEEN_TAGS, "family")
    return TEEN_TAGS if _teen(audience) else ()


def rating_for(audience: str | None) -> FilmRating | None:
    """The strongest film age rating that suits whom it is for (MPAA): a child's (to YOUNG_AGE)
    PG, a teenager's PG-13, R from R_RATED_AGE; none for an adult."""
    if not audience:
        return None
    if for_a_child(audience):
        return "PG"
    if (age := _age(audience)) is not None:
        return "PG-13" if age < R_RATED_AGE else "R" if age < ADULT_AGE else None
    return "PG-13" if _teen(audience) else None


def _young(audience: str) -> bool:
    """Whether the audience is a child: by its age where said ("daughter aged 14": no), else by
    its word ("my kids"; not "my teenage son")."""
    if (age := _age(audience)) is not None:
        return age <= YOUNG_AGE
    return bool(YOUNG_AUDIENCE.search(audience)) and not TEEN.search(audience)


def _teen(audience: str) -> bool:
    """Whether an audience that is no child is a teenager: by its age where said, else by its
    word ("my teenage son")."""
    return age < ADULT_AGE if (age := _age(audience)) is not None else bool(TEEN.search(audience))


def _age(audience: str) -> int | None:
    """The age the audience was said to be ("nephew aged 13"), if any."""
    return int(match.group(1)) if (match := re.search(r"\baged (\d+)$", audience)) else None


def _listed_as_alternatives(text: str, matches: Sequence[re.Match[str]]) -> bool:
    """Whether the tag words (`matches`, in text order) list kinds of thing as alternatives
    ("westerns and war films": a western or a war film), not one thing that is all of them ("a
    funny and romantic film")."""
    spans = sorted({match.span() for match in matches})
    if len(spans) < 2 or any(not LIST_JOINER.fullmatch(text[end:start])
                             for (_, end), (start, _) in zip(spans, spans[1:])):
        return False
    return bool(PLURAL_THINGS.match(text, spans[-1][1])) or all(text[end - 1].lower() == "s" for _, end in spans)


def _asked_apart(text: str, vocabulary: Vocabulary, tags: Sequence[str]) -> dict[str, list[str]]:
    """The categories each tag was asked of, where clauses ask for things of different
    categories with tags of their own ("a thriller book for me and a romantic film for my wife":
    thriller of books, romance of films); else nothing."""
    asked = [({name for name, _ in vocabulary.categories.find(clause)}, {tag for tag, _ in vocabulary.find_tags(clause)})
             for clause in REQUEST_CLAUSE.split(text)]
    asked = [(categories, said & set(tags)) for categories, said in asked if categories and said & set(tags)]
    if len({frozenset(categories) for categories, _ in asked}) < 2:
        return {}
    of: dict[str, set[str]] = {}
    for categories, said in asked:
        for tag in said:
            of.setdefault(tag, set()).update(categories)
    return {tag: sorted(categories) for tag, categories in of.items()}


def _negated(text: str, start: int) -> bool:
    """Whether the words before `start`, in its clause, negate what is said there: only the same
    clause can ("No thanks, I love horror"), and not where it accepts it ("I don't mind scary")."""
    before = CLAUSE_END.split(text[:start])[-1]
    return bool(NEGATORS.search(before) or TOO_MUCH.search(before)) and not ACCEPTING.search(before)


def _read_price(u: Understanding, text: str) -> None:
    text = _spoken_numbers(text)
    if ANY_PRICE.search(text):
        u.take_back.append("budget")
        return
    # "Between 1980 and 1999" are years (_read_era).
    if (match := PRICE_RANGE.search(text)) and not YEAR_RANGE.fullmatch(match.group()):
        u.min_price, u.max_price = sorted((float(match.group(1)), float(match.group(2))))
        return
    if match := (MAX_PRICE.search(text) or BUDGET_OF.search(text) or NOT_MORE_THAN.search(text) or AMOUNT.search(text)
                 or SUM_TOGETHER.search(text) or PRESENT.search(text) and ROUGH_SUM.search(text)):
        u.max_price = float(next(group for group in match.groups() if group))
        u.budget_together = bool(TOGETHER_SAID.search(text))
    if match := MIN_PRICE.search(text):
        u.min_price = float(next(group for group in match.groups() if group))


def _length_against(text: str, against: Sequence[Item]) -> MeasureLimit | None:
    """"Anything shorter?" right after an answer told an item's length ("Beach Read has 361
    pages."): shorter than it ("a longer one": longer). Said of picks, it asks for short things
    ("something like it but shorter" after a 155-minute film: 100 minutes at most)."""
    said = SHORTER.search(text) or LONGER.search(text)
    for unit in ("pages", "min") if said and against else ():
        value = next((value for name in LIMITED[unit] if isinstance(value := against[0].attributes.get(name), int | float)),
                     None)
        if value is not None:
            return MeasureLimit(unit=unit, **({"at_most": max(int(value) - 1, 1)} if said.re is SHORTER
                                              else {"at_least": int(value) + 1}))
    return None


def _read_rating(text: str) -> FilmRating | None:
    """The strongest age rating a film may have, as said: "PG-13 at most", "R is fine" (then
    anything), "nothing above PG"; "nothing R-rated" is the rating below it, "no swearing" the
    strongest without it (CONTENT_RATINGS). Of several, what is not wanted rules ("no PG-13 or R"
    is PG), else the strongest said ("G or PG" is PG)."""
    allowed, below = [], []
    for match in RATING_SAID.finditer(text):
        said = next(group for group in match.groups() if group).upper().replace("PG13", "PG-13").replace("NC17", "NC-17")
        rank, before = FILM_RATINGS.index(said), text[:match.start()]
        if RATING_NOT.search(before) and not RATING_ABOVE.search(before):
            below.append(max(rank - 1, 0))
        else:
            allowed.append(rank)
    below += [FILM_RATINGS.index(rating) for pattern, rating in CONTENT_RATINGS if pattern.search(text)]
    return FILM_RATINGS[min(below)] if below else FILM_RATINGS[max(allowed)] if allowed else None


def _read_size_against(u: Understanding, text: str, against: Sequence[Item]) -> None:
    """"Anything bigger?" said of a pack holds more than it, the next size up first; "a smaller
    one" holds less, the next size down first. Of a tent, a bigger one sleeps more; a smaller
    one is the smallest first."""
    said = BIGGER.search(text) or SMALLER.search(text)
    if not said or not against or _negated(text, said.start()):
        return
    bigger, litres, sleeps = said.re is BIGGER, against[0].attributes.get("litres"), against[0].attributes.get("sleeps")
    if isinstance(litres, int) and u.capacity is None:
        u.capacity = MeasureLimit(unit="litres", **({"at_least": litres + 1} if bigger else {"at_most": max(litres - 1, 1)}))
        u.order = u.order or ("capacity", "least" if bigger else "most")
    elif isinstance(sleeps, int) and bigger and u.sleeps is None:
        u.sleeps = sleeps + 1
    elif isinstance(sleeps, int):
        u.order = u.order or ("capacity", "least")


def _read_gear_measure(text: str, name: str) -> MeasureLimit | None:
    """A measure of gear (GEAR_MEASURES: "capacity", "weight") said in numbers, in its unit."""
    measure, patterns, text = GEAR_MEASURES[name], MEASURE_PATTERNS[name], _spoken_numbers(text)

    def value(number: str, word: str) -> int:
        return round((1.0 if number.lower() in ("a", "an") else float(number)) * measure.scale.get(word.lower(), 1))

    found = {bound: next((match for pattern in patterns[bound] if (match := pattern.search(text))), None)
             for bound in patterns}
    bounds = {bound: value(*match.groups()[-2:]) for bound in ("at_most", "at_least") if (match := found[bound])}
    if not bounds and (between := found["between"]):
        low, high = sorted((value(between.group(1), between.group(3)), value(*between.groups()[-2:])))
        bounds = {"at_least": low, "at_most": high}
    elif not bounds and (said := found["about"]):
        size = value(*said.groups()[-2:])
        bounds = {"at_least": round(size * (1 - MEASURE_AROUND)), "at_most": round(size * (1 + MEASURE_AROUND))}
    return MeasureLimit(unit=measure.unit, **bounds) if bounds and all(bounds.values()) else None


def _read_length(text: str) -> MeasureLimit | None:
    """A length said in numbers, in minutes or pages ("under 2 hours": at most 120 min)."""
    text = _spoken_numbers(text)
    bounds: dict[str, int] = {}
    unit = None
    for bound, patterns in LENGTH_BOUNDS.items():
        match = next((found for pattern in patterns if (found := pattern.search(text))), None)
        if not match:
            continue
        said = {name: value for name, value in match.groupdict().items() if value}
        amount = said["amount"].lower()
        value = (0.5 if amount.startswith("half") else 1.0 if amount in ("a", "an")
                 else float(NUMBER_WORDS.get(amount, amount)))
        value += 0.5 if "half" in said or "half_after" in said else 0.0
        said_unit = "pages" if said["unit"].lower().startswith("page") else "min"
        if said["unit"].lower().startswith("h"):  # hours, hrs, h
            value *= 60
        if unit not in (None, said_unit):
            continue  # "under 2 hours and over 300 pages" asks of two kinds of thing: the first counts
        unit, bounds[bound] = said_unit, round(value)
    return MeasureLimit(unit=unit, **bounds) if unit and all(bounds.values()) else None


def _span(said: str) -> tuple[int, int]:
    """The first and last year of a year ("1995") or a decade ("the 90s": 1990 to 1999)."""
    if match := DECADE.search(said):
        century = match.group(1) or ("20" if match.group(2) in "012" else "19")
        start = int(f"{century}{match.group(2)}0")
        return start, start + 9
    return int(said), int(said)


def _read_era(u: Understanding, text: str, today: date, dated: int | None = None) -> None:
    """The years the message asks for. `dated`: the year of the first item with one that the last
    reply named, which "more recent" and "older" are said against (as "cheaper" is against its
    price); without it they are the last five years and before 1990."""
    if (match := YEAR_RANGE.search(text)) and not _negated(text, match.start()):
        u.min_year, u.max_year = _span(match.group(1))[0], _span(match.group(2))[1]
        return
    before, after = BEFORE_YEAR.search(text), AFTER_YEAR.search(text)
    # Negated, each bounds the other side: "nothing newer than 2000" is from 2000 or before.
    if before:
        first = _span(before.group(1))[0]
        if _negated(text, before.start()):
            u.min_year = first
        else:
            u.max_year = first - 1
    if after:
        first, last = _span(after.group(2))
        if _negated(text, after.start()):
            u.max_year = last
        else:
            u.min_year = first if first == last or after.group(1).lower() == "since" else last + 1
    if before or after:
        return
    # Decades said as wanted ("the 80s or 90s"): from the first to the last; one said as unwanted
    # ("nothing from the 80s") bounds nothing (a profile holds one span of years).
    wanted = [_span(match.group()) for match in DECADE.finditer(text)
              if not _negated(text, match.start()) and not IN_THEIR.search(text[:match.start()])]
    if wanted:
        u.min_year, u.max_year = min(first for first, _ in wanted), max(last for _, last in wanted)
        return
    if said_of_it := OLD_SAID_OF_IT.search(text):
        # "It's pretty old" describes the pick, no wish for old things; "that one's too old" wishes
        # for newer than it.
        if said_of_it.group(1) and dated is not None:
            u.take_back.append("era")
            u.min_year = dated + 1
        return
    newer = NEWER.search(text)
    if dated is not None and (newer or OLDER.search(text)):
        u.take_back.append("era")
        if newer:
            u.min_year = dated + 1
        else:
            u.max_year = dated - 1
    elif RECENT.search(text):
        u.take_back.append("era")
        u.min_year = today.year - 5
    elif OLD.search(text):
        u.take_back.append("era")
        u.max_year = 1989


def describe_limits(c: Constraints) -> list[str]:
    """The constraints no item may break, in plain words: what an empty answer asks to loosen
    (the tags asked for only rank: where too few items carry them, the closest follow)."""
    lines = []
    if c.categories:
        lines.append("looking for: " + ", ".join([*c.categories, *c.kinds]))
    if c.makers:
        lines.append("by: " + ", ".join(c.makers))
    if c.excluded_tags:
        lines.append("avoid: " + ", ".join(c.excluded_tags))
    if c.owned_kinds:
        lines.append("have already: " + ", ".join(c.owned_kinds))
    if c.avoid_words:
        lines.append("not about: " + ", ".join(c.avoid_words))
    if c.cool_weather:
        lines.append("for: cool nights")
    if c.sleeps:
        lines.append(f"sleeps: {c.sleeps}")
    if c.capacity:
        lines.append(f"holds: {c.capacity}")
    if c.weight:
        lines.append(f"weighs: {c.weight}")
    if c.english_only:
        lines.append("in: English")
    if c.instrumental:
        lines.append("sung: no")
    if c.max_rating:
        lines.append(f"rated: {c.max_rating} at most")
    if c.min_price is not None or c.max_price is not None:
        low = f"{c.min_price:g}" if c.min_price is not None else "0"
        high = f"{c.max_price:g}" if c.max_price is not None else "any"
        lines.append(f"price: {low} to {high}" + (" for all of it together" if c.budget_together else ""))
    if c.min_year is not None or c.max_year is not None:
        lines.append(f"years: {c.min_year or 'any'} to {c.max_year or 'now'}")
    if c.length:
        lines.append(f"length: {c.length}")
    return lines


def describe(profile: Profile, titles: dict[str, str]) -> list[str]:
    """The profile in plain words, for the person to read (and for the reply prompt)."""
    lines = []
    if profile.likes:
        lines.append("likes: " + ", ".join(titles.get(i, i) for i in profile.likes[:8]))
    if profile.dislikes:
        lines.append("dislikes: " + ", ".join(titles.get(i, i) for i in profile.dislikes[:8]))
    if profile.liked_tags:
        lines.append("into: " + ", ".join(profile.liked_tags[:8]))
    lines += describe_limits(profile.constraints)
    ctx = profile.context
    for label, value in (("occasion", ctx.occasion), ("for", ctx.audience), ("mood", ctx.mood)):
        if value:
            lines.append(f"{label}: {value}")
    return lines
