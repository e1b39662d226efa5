"""Sentiment of a turn (polarity, strength, mood) and the person's opinion of each item in it.

VADER (lexicon and rules, shipped inside its wheel) scores text. An item's opinion is read from
the clause that holds the mention ("I loved Alien | but Titanic bored me"), with every title
blanked out so a title's own words ("Happy Death Day") do not count as the person's feeling:
first the ways people say they did not like something that VADER misses ("not a fan", "too slow
for me", "meh"), then VADER, deaf to what a film holds ("it scared me", "a war film"). Words
about having seen it ("no, I haven't seen it"; any "no" to "have you seen it?"), about being
bored oneself ("I'm bored, any ideas?") and questions ("is it scary?") are no opinion. A clause
ends at a stop, a contrast, an interjection ("oh") or a sentence started without a stop ("I have
not I want to", "liked Crank for example Didn't care for Valerian"). The clauses that name no
title are about the title just named ("Saw Alien. It bored me"), or before any, answer about what
the assistant just suggested; a clause about films of a kind ("I don't like Stephen King movies")
is about neither, except to colour a title just named without a feeling.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.answers import asked_whether
from retrieval.titles import FoundTitle

Mood = Literal["down", "excited", "rejecting", "neutral"]
ItemFeeling = Literal["like", "dislike", "neutral"]

# VADER's own convention: |compound| below 0.05 is neutral.
NEUTRAL_BAND = 0.05
# The clause of plain VADER's reading of a mention (`item_feeling`, the baseline).
CLAUSE_BREAK = re.compile(r"[.!?;]+|,\s*(?:but|though|although|yet|whereas|while)\b|\b(?:but|though|although|whereas|however)\b", re.I)
REJECTION = re.compile(
    # "Not that one", not "not that scary" (a degree: less of it, said of what is wanted).
    # "No films please, I want to read" turns down a category, not the picks.
    r"^\s*(no|nope|nah)\b(?!\s+(?:more\s+)?(?:[\w-]+\s+)?(?:films?|movies?|flicks?|books?|novels?|albums?|records?|songs?|shows?|music|gear)\b)"
    r"|\bnot (that(?! it\b)(?!\s+(?!(?:one|ones|film|movie|book|album|record|kind|sort|type|stuff|"
    r"thing|genre)\b)[a-z]+\b)|those|these|them|it|for me|really)\b|\bnone of (those|these|them)\b|"
    r"\bsomething (else|different)\b|\b(don'?t|do not|didn'?t) (like|want|fancy) (those|these|that|them|any)\b",
    re.I,
)
# Putting the request right ("no wait, I meant a book, not a film"): the picks answered what was
# misunderstood, and say nothing of the person's taste ("if you know what I mean" puts nothing right).
CORRECTING = re.compile(r"\b(?:i|we) meant\b|^\W*(?:(?:no|wait|sorry|oops)\W+)*(?:i|we) mean\b", re.I)
# What someone reads, watches or hears a lot of ("I read a lot of thrillers", "I usually watch
# horror"), right before it: with a wish for a change after it ("but I want something different
# this time": `habit_changed`), the change is from that, not from the suggestions.
HABIT = re.compile(r"\b(?:i|we|he|she|they)(?:['’]ve| have)?\s+(?:(?:usually|normally|mostly|always|mainly|tend to)\s+"
                   r"(?:read|watch|listen to|buy|go for)|(?:read|watch|watched|listen to|listened to|seen)\s+"
                   r"(?:a lot of|lots of|loads of|so many|plenty of|nothing but|too many))\s+", re.I)
A_CHANGE = re.compile(r"\bsomething (?:else|different|new)\b|\bfor a change\b|\bnot the usual\b", re.I)
EXCITEMENT = re.compile(r"!|\b(excited|can'?t wait|thrilled|pumped|stoked|yay|woo+|amazing news|celebrat\w*)\b", re.I)
# What happened in the person's life ("I'm going through a breakup", "my girlfriend just broke up
# with me"): a low mood, and no verdict on the picks, however negative its words.
HARD_TIMES = re.compile(r"\b(?:(?:going through|just had|after|getting over) (?:a |my )?(?:break-?up|divorce|split)"
                        r"|(?:we|i|she|he|they) (?:just )?broke up|broke up with me|got dumped|grieving)\b", re.I)
# Words about the person's own state (not about a film they disliked): "I feel low", "rough week".
DOWN_WORDS = re.compile(
    # "sad" said of the person ("I'm so sad"); of the thing wished for it is no mood: "nothing too
    # sad", "I like sad movies", "any sad books?"
    r"\b(feel(ing)? (down|low|blue|sad|awful|terrible|lonely)|(?:i['’]?m|i am|been|felt|so|really) sad|"
    r"lonely|depressed|stressed|exhausted|"
    r"heartbroken|miserable|upset|down in the dumps|(rough|awful|terrible|hard|bad|long) (day|week|month|year|time)|"
    r"take my mind off|"
    r"(?:a )?(?:bad|foul|grumpy|rotten) mood|grumpy)\b",
    re.I,
)


# Where an opinion ends: a sentence, a comma or semicolon ("Jaws was fun, Psycho less so"), or a
# contrast ("loved Alien | but Titanic bored me"). Titles are blanked before this splits.
# A sentence begun without a stop: "I" after a word that does not lead into it ("I have not I
# really want to"; ReDial's seekers seldom end a sentence, and their messages run together).
# After "that", "and", "what", "the one"... the "I" goes on the sentence ("the one I loved").
NEW_SENTENCE = (r"(?<=\w)" + "".join(rf"(?<!\b{word})" for word in (
    "that", "and", "or", "but", "so", "because", "cause", "if", "when", "what", "as", "than", "which", "who",
    "where", "how", "why", "since", "until", "before", "after", "whether", "whenever", "while", "one", "ones",
    "thing", "things", "movie", "movies", "film", "films", "something", "anything", "everything")) +
    r"\s+(?=i(?:\s|['’](?:m|ve|ll|d)\b))")
# A sentence begun with a capital but no stop: a negation or a verdict after a lower-case word
# ("I really liked Crank for example Didn't care for Valerian"). Case-sensitive: only the capital tells.
CAPITAL_OPENER = (r"(?-i:(?<=[a-z])\s+(?=(?:Didn['’]?t|Don['’]?t|Doesn['’]?t|Wasn['’]?t|Isn['’]?t|Not|Never|"
                  r"Loved|Liked|Hated|Enjoyed|Also)\b))")
# An interjection opens a new thought too ("not as good as Man of Steel oh that is great").
INTERJECTION = r"(?<=\w)\s+(?=(?:oh|ah|wow)\b)"
OPINION_BREAK = re.compile(r",\s*yet\b|[.!?;,:]+|\s[-–—]+\s|\b(?:but|though|although|however|whereas)\b|" + NEW_SENTENCE
                           + "|" + CAPITAL_OPENER + "|" + INTERJECTION, re.I)
# A clause that begins so, follows such a break or ends with "though" takes back what came
# before it ("violent, but a good one"; "it's old. Still, I loved it"; "I didn't like it though").
CONTRAST = re.compile(r"^\W*(?:but|though|although|however|whereas|still|yet)\b", re.I)
TRAILING_CONTRAST = re.compile(r"^\s*though\s*(?:[.!?,;]|$)", re.I)


def _either(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.I)


NOT = r"(?:\bnot|n['’]?t|\bnever)"  # "not", "wasn't", "never"
NEGATED = r"(?:do(?:n['’]?t|esn['’]?t| not|es not)|dont|doesnt|did(?:n['’]?t| not)|didnt|never|would(?:n['’]?t| not)|won['’]?t)"
HAVE_NOT = r"(?:have(?:n['’]?t| not)|havent|havn['’]?t|has(?:n['’]?t| not)|did(?:n['’]?t| not)|didnt|never)"
# Words about having seen it, about knowing it, or not yet: no opinion of it ("I haven't seen
# it", "never heard of it", "I've seen Alien but not Aliens").
NOT_AN_OPINION = _either(
    rf"\b(?:{HAVE_NOT}|not)\s+(?:yet\s+|even\s+|actually\s+|ever\s+)?(?:seen|see|watched|watch|read|heard (?:of|about)|"
    r"gotten around to|got around to|had (?:a )?chance)\b",
    r"\bnot (?:yet|sure|certain)\b",
    r"\b(?:do(?:n['’]?t| not)|dont) know (?:it|that one|this one|them|those|of it)\b",
    r"\b(?:seen|watched|saw|read)\b[^.!?]*?\bbut not\b",
)
# A "no" that answers "have you seen it?", said with what they have or haven't seen, "not yet",
# a question about it or a plan to watch it ("No, I haven't", "no, is it good?", "no, but I will").
NO_NOT_SEEN = re.compile(
    rf"\b(?:no+|nope|nah)\b(?=\W*(?:i\s+|we\s+|he\s+|she\s+)?(?:{HAVE_NOT}|not (?:yet|seen)|is it|was it|what|"
    r"i['’]?ll|i will|i should|i['’]?ve|i have|i plan|but)\b|[^.!]*\?)", re.I)
# After the assistant asked whether they have seen it, any "no" (or "I haven't", "not that one
# either") says they have not ("No. I forgot about it, I'll watch it"); "no thanks" still declines.
ASKED_IF_SEEN = re.compile(
    r"\b(?:have|did|has|ever)\s+(?:you|he|she|they|u)\s+(?:\w+\s+)?(?:seen|watched|see|watch|heard|tried|read|caught)\b"
    r"|\b(?:you|u)\b[^.!?]{0,40}\b(?:seen|watched|heard of|heard about)\b", re.I)
ANSWERED_NOT_SEEN = _either(
    r"\b(?:no+|nope|nah|neither)\b(?!\W*thank)",
    rf"\b(?:i|we|he|she)\s+{HAVE_NOT}(?=\s*(?:[.!?,;]|$|(?:yet|either|i|it|that|this|but|and|he|she|they|we|you)\b))",
    r"\bnot (?:that|this) one either\b",
)
# Words VADER hears as the person's own feeling that are not: what a film holds ("it scared the
# crap out of me", "a sad but great story", "a war film", "Tom Hanks killed that role"), "ill"
# for "I'll", and asking nicely ("something a bit different please" likes none of the picks).
NOT_FELT = re.compile(
    r"\b(?:ill|please|pls|plz|scar(?:y|ier|iest|ed|es?|ing)|creep(?:y|ed)|violen(?:t|ce)|sad(?:der|dest)?|dark(?:er)?|intense|kill\w*|crazy|"
    r"bad ?ass|terrif\w*|blood\w*|gor[ey]|wars?|death|dead|d(?:ie[sd]?|ying)|murder\w*|crim(?:e|es|inal\w*)|evil|"
    r"cr(?:y|ied|ying)|tears|shocking|insane|sick|wicked|horror\w*|ghost\w*|brutal|fight\w*|tragic|tragedy|"
    r"heartbreaking|freaky|fear|revenge|weapon\w*|bomb\w*|battle\w*|cancer|attack\w*|shoot\w*|guns?|steal\w*|"
    r"prison|victim\w*|destroy\w*|crash\w*|monsters?|demon\w*|zombies?|aliens?|disasters?|hell|damn|crap|twisted|"
    r"nightmares?|haunt\w*|thrill\w*|suspense\w*|tension|villains?|chaos|spooky|eerie|gruesome|suicide|arrest\w*|"
    # A wish is no feeling about what was suggested: "I'd like to talk to a person", "we want to
    # sing along" (but "I haven't seen it, but I want to" likes it).
    r"(?:i|we)(?:['’]d| would) (?:like|love|prefer)|(?:i|we) (?:really |just )?(?:want|wanna|need) (?:to )?(?!to\b)(?=\w)|"
    # Choosing is no feeling: "I'm torn between Dune and Foundation".
    r"torn between|(?:can['’]?t|cannot) (?:decide|choose))\b",
    re.I)
# A complaint negated is none ("not boring", "he won't be disappointed", "not too long"), nor a
# wish for what it is not ("nothing too sad though", "I don't want anything too long").
NOT_BEFORE = r"(?<!not )(?<!n't )(?<!n’t )(?<!never )(?<!not be )(?<!n't be )(?<!n’t be )(?<!nothing )(?<!anything )"
# How people say they did not like something, where VADER hears nothing or the wrong thing.
DISLIKE = _either(
    # not liking it, in so many words
    rf"{NOT} (?:really |much |that |very )?(?:a |the |of a |much of a )?(?:[\w'’-]+ ){{0,2}}fan\b",
    rf"{NOT} (?:really |very |that )?big on\b",
    rf"\b{NEGATED}\s+(?:really |much |particularly |actually |totally |quite |ever |even |exactly |too |that )?"
    r"(?:like|liked|enjoy|enjoyed|care (?:for|much for|about)|love|loved|dig|get (?:into|it)|got (?:into|it)|"
    r"(?:get|got|see|understand) (?:the|all the|what the) (?:fuss|hype|appeal|point)|do (?:it|much|anything) for me|"
    r"work for me|appeal to me|want to (?:see|watch)|wanna (?:see|watch))\b",
    r"\b(?:can['’]?t|cannot|couldn['’]?t|could not)\s+(?:really\s+)?(?:stand|stomach|bear|get into|sit through|finish|get past|do)\b",
    r"\b(?:hate[sd]?|hating|dislike[sd]?|detest(?:ed)?|loathe[sd]?)\b",
    # not into it, not good: lukewarm verdicts
    rf"{NOT} (?:really |much |that |very |too |so |all that |overly |super |terribly |exactly |particularly |as )?"
    r"(?:into|interested|keen|impressed|my (?:thing|type|kind|style|taste|cup of tea|genre|favou?rite|mood)|for me|"
    r"in the mood for|looking for|"
    r"good|great|funny|interesting|worth|memorable|impressive|the best|scary)\b",
    r"\bnot (?:so|as) (?:much|good|great|funny)\b|\bless so\b|\bnot so much\b",
    # complaints
    NOT_BEFORE + r"\b(?:boring|bored|bores|dull|tedious|overrated|over-rated|overhyped|dis+ap+oint\w*|let ?down|meh|"
    r"mediocre|stupid|dumb|awful|terrible|horrible|worst|lame|corny|annoying|predictable|forgettable|unwatchable|"
    r"cringe\w*|nonsense|garbage|trash|rubbish|sucked|sucks|a slog|dragged|dragging|shudder|ugh|yuck|eww?)\b",
    r"\bwaste of (?:time|money)\b|\bgave me the creeps\b|\b(?:gave up|walked out|fell asleep|turned it off|stopped watching)\b",
    r"\bcould(?:['’]?ve| have) been (?:better|shorter)\b|\bfell flat\b|\b(?:did(?:n['’]?t| not)|didnt) live up\b|\bso-so\b|"
    r"\b(?:i['’]?ll|i will|i['’]?d|let['’]?s) skip\b",
    # "too long" of a film, not of the time since ("it's been too long")
    NOT_BEFORE + r"(?<!been )(?<!think )\btoo (?:\w+ly |much )?(?:scary|silly|slow|long|old|violent|intense|real|chaotic|dark|sad|"
    r"weird|gory|bloody|childish|kiddy|cheesy|corny|predictable|boring|serious|depressing|graphic|grown[ -]up|mature|much|"
    r"gruesome|creepy|strange|confusing|loud|sappy|mushy|sentimental|disturbing|twee|spacey|old-fashioned|dated)\b"
    r"(?!\s+for\s+(?!me\b|us\b|myself\b|my (?:taste|liking)\b))",  # "too scary for the kids" fits an audience, not a taste
    r"\b\w+ for my (?:taste|liking)\b",
    # any too much, said of themselves ("the second was too busy for me"), not of an aim ("too early for me to say")
    NOT_BEFORE + r"\btoo (?:\w+ly )?[\w-]+ for (?:me|us)\b(?!\s+to\b)",
    # reluctance, and hedges
    r"\b(?:probably|prob|definitely|likely) (?:won['’]?t|will not|not)\b|\bno (?:interest|desire)\b",
    r"\b(?:do(?:n['’]?t| not)|dont) (?:want|wanna|need) to (?:watch|see)\b|\b(?:i['’]?ll|i will) pass\b|\bpass on\b",
    r"\bno,? thanks\b|\bnot for me\b|\b(?:bad|awful|terrible|poor|horrible|mixed|mediocre) reviews\b",
    r"\b(?:not (?:too |so |really |very )?sure|do(?:n['’]?t| not) know|dont know|unsure) (?:about|on) "
    r"(?:it|that|this|those|them|the other)\b(?! one)",
)
# How people say they want it or like it, where VADER hears nothing: a plan to watch it, "my kind
# of thing", using it every day.
LIKE = _either(
    r"\b(?:i['’]?ll|i will|i['’]?m going to|i am going to|gonna|i should|i['’]?d like to|i would like to|i want to|"
    r"i wanna|i need to|i must|(?:will )?have to|gotta)\s+(?:\w+\s+)?(?:give (?:it|that|them|those) a (?:go|try|shot|look)|"
    r"try (?:it|that|them|those)|check (?:it|that|them|those|that one) out|watch (?:it|that|them|those)|"
    r"see (?:it|that|them|those)|look (?:it|that|them|those) up|look into (?:it|that|them|those)|read (?:it|that))\b",
    r"\b(?:give|giving) (?:it|that|them|those) a (?:go|try|shot)\b",
    r"\b(?:my|right up my) (?:kind of (?:thing|film|movie|book|music)|type|cup of tea|street|alley)\b",
    r"\buse (?:it|that|them) (?:all the time|every \w+(?: \w+)?|daily|constantly)\b",
    r"\bexactly what i (?:was after|wanted|need(?:ed)?)\b|\b(?:been|was) (?:meaning|wanting|dying) to (?:see|watch|read)\b",
    # what it did to them, said as never so much before ("I've never laughed so hard"), and
    # waiting for it ("can't wait for the sequel")
    r"\bnever (?:\w+ed|been|had) (?:so hard|so much|as hard|as much|harder|more)\b",
    r"\blaugh(?:ed|ing)? my (?:ass|butt|head|socks|pants) off\b|\b(?:can['’]?t|cant|cannot) wait\b",
)
# Being bored oneself asks for something to watch; it says nothing of a film ("I'm so bored,
# any ideas?"), unlike "it bored me".
BORED_MYSELF = re.compile(r"\b(?:i['’]?m|im|i am|we['’]?re|we are)\s+(?:\w+\s+)?bored\b", re.I)
# The titles listed before this one in the same construction ("as good as Alien or Aliens"): each
# title is blanked as "it".
LISTED = r"(?:\s*\bit\s*(?:,|&|\band\b|\bor\b|\bnor\b))*\s*$"
# A title named as what they do not want, or as the lesser of two ("no Airplane! or the likes",
# "anything except Titanic", "not in stuff like Cocktail", "better than Men in Black II").
NEGATED_TITLE = re.compile(
    r"(?:\b(?:not|no|except|anything but|instead of|rather than|nothing like|unlike)(?:\s+[\w'’-]+){0,2}"
    r"|\bnot(?:\s+[\w'’-]+){0,5}\s+like|\b(?:better|more|funnier|scarier) than)" + LISTED,
    re.I)
# Why a title is not wanted, when it is not a dislike ("a film about drugs, not Trainspotting,
# seen that one already").
ALREADY_SEEN = re.compile(r"\b(?:seen|watched|read) (?:it|that|this|them|those|that one|this one) already\b|"
                          r"\balready (?:seen|watched|read)\b", re.I)
# Having seen it, said as the reason for turning a pick down ("not that one, I've seen it"): no
# dislike (ALREADY_SEEN, or seen said of it by the person or the one it is for).
SEEN_IT = re.compile(r"(?:\b(?:i['’]?ve|i have|we['’]?ve|we have|he['’]?s|she['’]?s|they['’]?ve|he has|she has)\s+"
                     # or said without a subject, first ("seen that one, something else?")
                     r"|^\W*(?:(?:oh|ah|hmm|yeah|yes|nah|no)\W+)?)(?:already )?"
                     r"(?:seen|read|watched) (?:all (?:of )?)?(?:it|that|this|them|those|these|both)\b", re.I)
# A title named as the exception to the clause's feeling: disliked where the clause likes ("I
# like them all except Titanic"), liked where it dislikes ("not my cup of tea, other than Alien").
EXCEPTED = re.compile(r"\b(?:except(?: for)?|other than|apart from|aside from)" + LISTED, re.I)
# A title that is the better of two ("not as good as Alien", "worse than Alien", "it doesn't get
# better than Alien").
PRAISED_BY_COMPARISON = re.compile(
    r"(?:\bas \w+ as(?: i (?:liked|loved|enjoyed|did))?|\b(?:worse|less \w+) than|"
    r"(?:n['’]?t|\bnot|\bnothing|\bnever) (?:gets? |got )?(?:any )?better than)" + LISTED, re.I)
# A comparison without its subject, at a clause's start, ranks what was just talked about below
# the title it names ("Not as good as Alien", "worse than Aliens"): a dislike, where no feeling
# was said before.
LESSER_THAN_NAMED = re.compile(r"^\W*(?:(?:but|and)\s+)?(?:not (?:as|so) (?:\w+ )?\w+ as|worse than|less \w+ than)\s*$", re.I)
# A contrast that comes back to liking it outweighs even a dislike said in so many words ("it
# wasn't as good as the first, but I still thought it was hilarious"; "almost too much, but I
# liked it").
STILL_LIKED = re.compile(r"\b(?:still|overall|all in all|on the whole)\b|\bi (?:\w+ )?(?:liked|loved|enjoyed)\b", re.I)
# Laughing after words of no feeling is no verdict ("she's vegetarian if that matters lol" likes
# none of the picks); after a feeling, on its own, it softens it ("I love scary movies, but I'm a
# bit of a wimp, lol").
LAUGHTER = re.compile(r"\b(?:lol|lmao|haha\w*|hehe\w*)\b", re.I)
# Films of a kind ("I do not like stephen king movies", "the war movies that are not in
# English"), unless the words point at the ones just named ("I love those movies", "both films").
KIND = re.compile(r"\b(?:movies|films|flicks|books|novels|albums|records|songs|shows|music)\b", re.I)
# A clause that says what the thing wanted is for ("something lighter, it's for holiday reading",
# "it's a present for my wife"): its words describe the wish, not the suggestions.
PURPOSE = re.compile(r"\W*(?:it['’]?s|it is|it['’]?ll be|it will be|they['’]?re|they are)\s+(?:(?:a|an)\s+)?"
                     r"(?:for|present|gift|birthday present|christmas present)\b", re.I)
# A clause that opens with a wish for something new ("something funny then", "ok, anything
# lighter?", "ok so what about something I'd like", "recommend a film"): its words
# describe what is wanted, not the suggestions
# ("something like that" points at them; "it sounds like something I'd like" and "I'm not
# looking for anything that spacey" are about them).
WISHED = re.compile(r"^\W*(?:(?:ok|okay|so|and|then|hmm|well|now|right)\W+)*(?:[\w'’]+\W+){0,2}?(?:(?:something|anything)\b"
                    r"(?!\s+(?:like|similar to)\s+(?:that|this|it|those|these|them)\b)"
                    r"|(?:recommend|suggest)(?:\s+me)?\s+(?:a|an|some|another|more|one|any)\b)"
                    # "actually, a funny film then": a thing of a kind, after no more than a word
                    # that moves on (not "that's a great film")
                    r"|^\W*(?:(?:ok|okay|actually|then|maybe|perhaps|and|or|now|so|hmm|well|no|how about|what about)\W+){0,2}"
                    r"(?:a|an|some)\s+(?:[\w'’-]+\s+){0,2}(?:films?|movies?|books?|novels?|albums?|records?|playlists?)\b",
                    re.I)
# Someone else's taste ("he likes history", "my sister loves cooking", "she's into jazz", "my
# boyfriend hates soppy stuff", "he doesn't really like reading"), or what kind of reader or fan
# they are ("he's a reluctant reader though", "she's not a big reader"): what they like or not,
# not the suggestions ("he loved it", "my dad likes the first one" are about them).
# Someone disliking something, in the verbs of THEIR_TASTE and of bot.profile.CONTESTED ("she
# hates it", "he can't stand horror", "my dad doesn't really like reading").
DISLIKING = (r"(?:hates?|dislikes?|(?:can['’]?t|cannot|can not) stand"
             r"|(?:doesn['’]?t|does not|don['’]?t|do not) (?:really |much )?like)")
THEIR_TASTE = re.compile(r"^\W*(?:(?:and|but|so|well)\W+)?(?:he|she|they|my (?:\w+ )?\w+)(?:['’]s| is| are)?\s+"
                         # "my son is 14 and hates reading"
                         r"(?:(?:\d+|[\w-]+ years? old|a teenager|a teen)\s+and\s+)?"
                         rf"(?:(?:really |also |just |mostly )?(?:likes?|loves?|enjoys?|adores?|into|big on|{DISLIKING}"
                         r"|not into)\s+(?!(?:it|that|this|them|those|these|the|both|all|one|your)\b)\w"
                         r"|(?:not )?(?:(?:a|an|much of a)\s+)(?:[\w'’-]+\s+){0,2}(?:readers?|fans?|watchers?|listeners?|bookworms?)\b"
                         r"(?!\s+of\s+(?:it|that|this|them|those|these|the|both|all|one|your)\b))",
                         re.I)
POINTED = re.compile(r"\b(?:those|these|them|both|all|the two|the three|your|such|the other|the last two)\s+(?:[\w'’-]+\s+)?$",
                     re.I)
# The nouns that stand for an item described, not named ("the shark one", "the 2021 film"); the
# rule reader resolves such a description where it can (bot.understand.DESCRIBED).
ITEM_NOUN = "(?:one|film|movie|book|novel|album|record)"
# A clause whose subject is another item, described but not named ("the shark one", "the 2021
# film", "the new one"): it is not about the title just named.
ANOTHER_ONE = re.compile(r"^\W*(?:(?:and|but|though|however)\W+)?the (?!other\b)(?:[\w'’-]+ ){1,3}"
                         rf"(?:ones|version|{ITEM_NOUN})\b", re.I)
# A feeling about something named that the title finder does not know ("I loved Arrival but
# hated Gravity", Gravity not in the catalog; "we've seen Frozen and loved it"): about neither
# the titles just named nor the suggestions. Capitalized, as a name is written ("but hated the
# ending" is about the title).
ANOTHER_NAMED = re.compile(r"\b(?i:hated|loved|liked|disliked|enjoyed|adored|loathed|despised|(?:couldn['’]?t|can['’]?t) stand|"
                           r"seen|watched|read|listened to)"
                           r"\s+(?i:the\s+)?(?!I\b|It\b|A\b|That\b|This\b|Them\b)[A-Z][\w'’-]+")
# The suggestions a message has not named ("Loved the first. Not sure about the others").
THE_OTHERS = re.compile(r"\bthe (?:others|rest)\b|\bthe other (?:ones?|two|three|four|five)\b", re.I)
# Words that only join a list of titles: such a clause shares the verb before it ("I hated X, Y and Z").
LIST_JOINERS = re.compile(r"^(?:\W|\b(?:and|or|nor|&|also|plus|it|the|too|as well|either|both)\b)*$", re.I)


@dataclass(frozen=True)
class Sentiment:
    polarity: float  # -1 (very negative) .. 1 (very positive)
    strength: float  # |polarity|
    label: Literal["positive", "negative", "neutral"]
    mood: Mood
    # The person's opinion of each item named (`read_opinions`), and their answer about what the
    # assistant just suggested: the words before any title ("yes, loved it").
    items: dict[str, ItemFeeling] = field(default_factory=dict)
    answer: ItemFeeling = "neutral"


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def polarity(text: str) -> float:
    return float(_analyzer().polarity_scores(text)["compound"])


def _label(score: float) -> Literal["positive", "negative", "neutral"]:
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def habit_changed(text: str) -> re.Match[str] | None:
    """The habit a message wishes a change from ("I read a lot of thrillers, but I want something
    different": "I read a lot of "), if it does."""
    habit = HABIT.search(text)
    return habit if habit and A_CHANGE.search(text, habit.end()) else None


def _mood(text: str, score: float, asked: str, answering: str) -> Mood:
    """`answering`: the words before any title, the part that can turn the suggestions down
    ("no, not those"; "Avatar? not really" is about Avatar)."""
    # "No, I haven't seen it" rejects nothing; nor does "something else, he's already read that",
    # nor "not that one, I've seen it", nor a change from a habit ("I read a lot of thrillers,
    # but I want something different"), nor a request put right ("no wait, I meant a book").
    if REJECTION.search(_unseen_masked(answering, asked)) and not (ALREADY_SEEN.search(text) or SEEN_IT.search(text)
                                                                   or habit_changed(text) or CORRECTING.search(text)):
        return "rejecting"
    if HARD_TIMES.search(text) or DOWN_WORDS.search(text) and score < 0.5 and asked_whether(text) is None:
        # "I'm feeling down, cheer me up" is down even though "cheer" lifts the score; "is the
        # first one sad?" asks about a film.
        return "down"
    if score >= 0.3 and EXCITEMENT.search(text):
        return "excited"
    return "neutral"


def _clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    left, right = 0, len(text)
    for match in CLAUSE_BREAK.finditer(text):
        if match.end() <= start:
            left = match.end()
        elif match.start() >= end:
            right = match.start()
            break
    return left, right


def item_feeling(text: str, mention: FoundTitle, others: list[FoundTitle]) -> ItemFeeling:
    """Plain VADER on the clause of a mention: the baseline `opinions` is measured against."""
    left, right = _clause_bounds(text, mention.start, mention.end)
    clause = text[left:right]
    # Blank every title in the clause: only the person's own words carry their feeling.
    for other in sorted([mention, *others], key=lambda m: -m.start):
        if left <= other.start and other.end <= right:
            clause = clause[: other.start - left] + "it" + clause[other.end - left :]
    label = _label(polarity(clause))
    return {"positive": "like", "negative": "dislike", "neutral": "neutral"}[label]  # type: ignore[return-value]


def without_titles(text: str, mentions: Sequence[FoundTitle]) -> str:
    """The text with each named title read as "it": its words are a name, not what is said."""
    return _blanked(text, mentions)[0]


def _blanked(text: str, mentions: Sequence[FoundTitle]) -> tuple[str, list[tuple[FoundTitle, int]]]:
    """The text with each title read as "it", and where each "it" starts."""
    blanked, blanks, position = "", [], 0
    for mention in sorted(mentions, key=lambda m: m.start):
        if mention.start < position:  # overlapping finds: the first one holds the words
            continue
        blanked += text[position:mention.start]
        blanks.append((mention, len(blanked)))
        blanked += "it"
        position = mention.end
    return blanked + text[position:], blanks


# A question asked outright, not a verdict said with a question mark ("didn't like it?").
ASKING = re.compile(r"^\W*(?:(?:and|but|so|ok|okay)\W+)?(?:is|are|was|does|do|did|will|would|could|can|how|what|which)\b", re.I)


def _clause_feeling(clause: str, question: bool = False) -> ItemFeeling:
    """The feeling of one clause, its titles blanked and its words about having seen it masked:
    the ways of not liking or of wanting something that VADER misses, else VADER; a question
    ("is it scary?") is none."""
    if question and ASKING.match(clause):
        return "neutral"  # "is it too long?" asks, it does not complain
    if DISLIKE.search(clause):
        return "dislike"
    if question:
        return "neutral"
    if LIKE.search(clause):
        return "like"
    felt = NOT_FELT.sub("", clause)
    unamused = LAUGHTER.sub("", felt)
    if unamused != felt and re.search(r"[a-z]", unamused, re.I) and _label(polarity(unamused)) == "neutral":
        return "neutral"
    heard = _label(polarity(felt))
    return {"positive": "like", "negative": "dislike", "neutral": "neutral"}[heard]  # type: ignore[return-value]


@dataclass
class _Clause:
    text: str
    mentions: list[tuple[FoundTitle, int]]  # each with where its blank starts in `text`
    feeling: ItemFeeling
    contrast: bool
    # Said in so many words (DISLIKE), not VADER's guess: it outweighs a feeling VADER heard.
    plain: bool
    # A plan to watch it (LIKE): it outweighs a dislike only VADER heard ("I don't remember it
    # well. I'm going to check it out").
    wanted: bool


def _unseen_masked(text: str, asked: str) -> str:
    """The text with its words about having seen it (or not) blanked out, as long as they were.
    `asked`: the assistant's last message, which may have asked whether they had seen it."""
    blank = lambda match: " " * len(match.group())  # noqa: E731
    text = NOT_AN_OPINION.sub(blank, NO_NOT_SEEN.sub(blank, text))
    return ANSWERED_NOT_SEEN.sub(blank, text) if ASKED_IF_SEEN.search(asked) else text


def _clauses(text: str, mentions: Sequence[FoundTitle], asked: str) -> list[_Clause]:
    """The text split where an opinion ends, each title blanked as "it" (so a break inside a
    title, "Airplane!", is no break) and the words about having seen it masked (NOT_AN_OPINION:
    "No, I haven't" holds no "no")."""
    blanked, blanks = _blanked(text, mentions)
    blanked = BORED_MYSELF.sub(lambda match: " " * len(match.group()), _unseen_masked(blanked, asked))
    clauses: list[_Clause] = []
    start, contrast = 0, False  # contrast: the break before this clause was "but", "though"...
    breaks = [(m.start(), m.end(), m.group()) for m in OPINION_BREAK.finditer(blanked)]
    for end, next_start, said in [*breaks, (len(blanked), len(blanked), "")]:
        words = blanked[start:end]
        inside = [(mention, at - start) for mention, at in blanks if start <= at < end]
        ends_with_though = bool(TRAILING_CONTRAST.match(blanked[end:]))
        if words.strip() or inside:
            contrast = contrast or bool(CONTRAST.match(words)) or ends_with_though
            clauses.append(_Clause(words, inside, _clause_feeling(words, question="?" in said), contrast,
                                   plain=bool(DISLIKE.search(words)), wanted=bool(LIKE.search(words))))
            contrast = False
        contrast = contrast or bool(CONTRAST.match(said)) and not ends_with_though
        start = next_start
    return clauses


def _outweighs(clause: _Clause, held: ItemFeeling, held_plainly: bool) -> bool:
    """Whether a clause naming no title changes the feeling held about what it is about: where
    none was held, after a contrast, or said in so many words, or a plan to watch it after a
    dislike VADER heard. A feeling said in so many words changes only so ("I did not like Alien.
    But you gave me good ones" still dislikes Alien), or by a contrast that comes back to liking
    it (STILL_LIKED: "not as good as the first, but I still liked it")."""
    if held_plainly and not clause.plain and not (clause.contrast and clause.feeling == "like"
                                                  and STILL_LIKED.search(clause.text)):
        return False
    return (held == "neutral" or clause.contrast or (clause.plain and held == "like")
            or (clause.wanted and held == "dislike"))


def _about_a_kind(clause: str) -> bool:
    return bool(WISHED.search(clause) or THEIR_TASTE.search(clause) or PURPOSE.match(clause)) or any(not POINTED.search(clause[: match.start()])
                                              for match in KIND.finditer(clause))


# The key of the answer about the suggestions, beside the items named.
ANSWER = ""
# Words that choose the item named right after them ("I'll take the first one", "let's go with Up").
CHOOSING = re.compile(r"\b(?:i['’]?ll|i will|we['’]?ll|we will|let['’]?s|i['’]?m going to|gonna) (?:get|take|buy|order|"
                      r"grab|go with|go for|read|watch|try)\s+$", re.I)
# ... or settled after it, at the message's end ("haha ok. the first one then", "the second one please").
SETTLED = r"(?:then|please|it is)"
CHOSEN_ALONE = re.compile(rf",?\s+{SETTLED}\W*$", re.I)


def read_opinions(text: str, mentions: Sequence[FoundTitle], asked: str = ""
                  ) -> tuple[dict[str, ItemFeeling], ItemFeeling]:
    """The person's opinion of each item named in `text`, and their answer about what the
    assistant just suggested: the feeling of the clauses before any title.

    A title takes the feeling of its clause, unless the clause names it as unwanted or as the
    lesser of two (NEGATED_TITLE), as the better one (PRAISED_BY_COMPARISON) or as the exception
    to its feeling (EXCEPTED). A title listed
    after another ("I hated Alien, Aliens and Prometheus") shares its feeling. A clause naming
    no title is about the last titles named ("Saw Alien. It bored me"), or before any, about
    the suggestions; it adds a feeling where there was none, and replaces one after a contrast
    ("violent, but a good one") or with a dislike said in so many words ("Sounds fun. Not a fan
    of Jim Carrey")."""
    feelings: dict[str, ItemFeeling] = {ANSWER: "neutral"}
    plainly: set[str] = set()  # the keys whose feeling was said in so many words
    about = [ANSWER]  # what a clause naming no title is about: the suggestions, or the titles last named
    previous: ItemFeeling | None = None  # the shared feeling of the clause just before, if it named titles
    of_a_kind = False  # the clause just before was about films of a kind
    unwanted: set[str] = set()  # titles disliked only for being named as unwanted ("not Alien")
    for clause in _clauses(text, mentions, asked):
        if not clause.mentions:
            previous = None
            # Films of a kind are not the suggestions, and colour only a title just named without
            # a feeling ("I haven't seen It. I'm not into horror movies"; "I enjoyed Saving Private
            # Ryan. I did not like the war movies that are not in English"). "I love scary movies,
            # but I'm a wimp": the contrast is about the kind too.
            of_a_kind = _about_a_kind(clause.text) or (of_a_kind and clause.contrast)
            if THE_OTHERS.search(clause.text):
                about = [ANSWER]
            elif ANOTHER_ONE.match(clause.text) or ANOTHER_NAMED.search(clause.text):
                about = []  # "Alien yes. The shark one not so much": a film this reader cannot name
            if ALREADY_SEEN.search(clause.text):
                for key in unwanted.intersection(about):
                    feelings[key] = "neutral"
                    plainly.discard(key)
            for key in about:
                if of_a_kind and (key == ANSWER or feelings[key] != "neutral"):
                    continue
                if clause.feeling != "neutral" and _outweighs(clause, feelings[key], key in plainly):
                    feelings[key] = clause.feeling
                    plainly = plainly | {key} if clause.plain else plainly - {key}
            continue
        of_a_kind = False
        if LESSER_THAN_NAMED.match(clause.text[: clause.mentions[0][1]]):
            for key in about:  # "I have seen Cabin in the Woods. Not as good as Last House on the Left"
                if feelings[key] == "neutral":  # "it is great but not as good as Alien" still likes it
                    feelings[key] = "dislike"
                    plainly.add(key)
        shared = clause.feeling
        if shared == "neutral" and previous is not None and LIST_JOINERS.match(clause.text):
            shared = previous
        for mention, at in clause.mentions:
            before = clause.text[:at]
            negated = bool(NEGATED_TITLE.search(before)) and not ALREADY_SEEN.search(clause.text[at:])
            excepted = shared != "neutral" and bool(EXCEPTED.search(before))
            feeling: ItemFeeling = ("neutral" if PRAISED_BY_COMPARISON.search(before)
                                    else ("like" if shared == "dislike" else "dislike") if excepted
                                    else "dislike" if negated else shared)
            if feelings.get(mention.item_id, "neutral") == "neutral":
                feelings[mention.item_id] = feeling
                if feeling == "dislike" and (negated or excepted or clause.plain):
                    plainly.add(mention.item_id)
                if negated and not excepted and not clause.plain:
                    unwanted.add(mention.item_id)
        about = list(dict.fromkeys(mention.item_id for mention, _ in clause.mentions))
        previous = shared
    answer = feelings.pop(ANSWER)
    return feelings, answer


def analyze(text: str, mentions: list[FoundTitle], asked: str = "") -> Sentiment:
    """The turn's sentiment and the opinions in it. `asked`: the assistant's last message (a "no"
    to "have you seen it?" says they have not, not that they dislike it). A choice of one ("ok,
    I'll take the first one") answers nothing about the other suggestions."""
    plain = without_titles(text, mentions)
    score = polarity(plain)
    items, answer = read_opinions(text, mentions, asked)
    if any(CHOOSING.search(text[: mention.start]) or CHOSEN_ALONE.match(text, mention.end) for mention in mentions) \
            or CORRECTING.search(text) or HARD_TIMES.search(text):
        # A choice made, the request put right, or what happened to them says nothing of the picks.
        answer = "neutral"
    answering = text[: min((mention.start for mention in mentions), default=len(text))]
    return Sentiment(polarity=score, strength=abs(score), label=_label(score), mood=_mood(plain, score, asked, answering),
                     items=items, answer=answer)
