"""What kind of thing a question asks for, and whether a text holds one.

"How many American soldiers ...?" wants a count, "In which year ...?" a year, "Which
newspaper ...?" a name, "What exception ...?" an exception's name (ValueError). An answer
whose every word is in its passage can still answer another question ("On September 11,
the exercise will start" for "how many soldiers"); the checker's word overlap cannot see
that, so the answer policy asks, for a question with an expected type, that the answer
hold a value of that type which the question does not.

Only the opening of the question decides ("What does f() return when it cannot tell how
many CPUs there are?" asks for no count), so a question with no recognised opening has no
expected type and nothing is checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .text import (
    MONTHS,
    MULTIPLIERS,
    NUMBER_WORDS,
    QUESTION_WORDS,
    STOPWORDS,
    normalize,
    words,
)

Kind = Literal["count", "year", "version", "time", "name", "exception"]

# "And which ...", and a preposition the type's noun governs: "In which city ...", "For how
# much money ...", "At which company ...".
_OPENING = (r"^\s*(?:(?:and|but|so|then|also)\s+)?(?:(?:in|at|on|for|from|to|by|with|of|under|"
            r"into|since|until|during)\s+)?")
# A noun that names a named thing: "which newspaper", "what organisation".
_NAMED_NOUNS = (r"newspaper|paper|magazine|journal|outlet|agency|organi[sz]ation|company|"
                r"country|city|town|region|party|ministry|minister|president|leader|person|"
                r"official|spokes(?:man|woman|person)|politician|analyst|author|court|bloc|"
                r"alliance|union|body|institution|university|team|channel|station|broadcaster")
# An auxiliary verb: what follows the noun a question asks for ("What default timeout does
# pip use?"), and what a clause after "since" holds (_SINCE).
_AUX = (r"(?:is|are|was|were|has|have|had|do|does|did|will|would|can|could|should|may|"
        r"might|must)")
_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("count", re.compile(_OPENING + r"how\s+(?:many|much)\b", re.IGNORECASE)),
    # "What is the population of Armenia?", "What is the maximum length, in characters, of
    # a glob?", "What is the numeric value of ASN1_MAX_NAME_SIZE?": a quantity, which a
    # number states.
    ("count", re.compile(_OPENING + r"what\s+(?:is|was|are|were)\s+the\s+(?:\w+\s+)?"
                         r"(?:population|number|amount|total|size|area|length|height|weight|"
                         r"distance|cost|price|budget|percentage|numeric(?:al)?\s+value)"
                         r"(?:,[^,?]{1,40},)?\s+of\b", re.IGNORECASE)),
    # "What numeric user id did the operator account have?", "Which port number ...?", "What
    # default network timeout ...?"
    ("count", re.compile(_OPENING + r"(?:what|which)\s+(?:numeric(?:al)?\b|(?:(?!version\b)\w+\s+)?"
                         r"(?:number|port|uid|gid|pid)\b(?!\s+of\b)|(?:(?!(?:is|was|are|were|do|"
                         r"does|did|happens?|the|an?|at|on|in|of|to|for|by|with)\b)\w+\s+){0,2}"
                         rf"(?:timeout|delay|interval|duration)s?(?=\s+{_AUX}\b))", re.IGNORECASE)),
    # "By what factor does it slow down?", "What percentage of ...?": a ratio, which a number
    # states ("5x", "about 30%"); "much more slowly" is no factor.
    ("count", re.compile(_OPENING + r"(?:(?<=by\s)what\s+factor|(?:what|which)\s+(?:percentage|"
                         rf"percent|ratio|fraction|proportion)(?=\s+(?:of|{_AUX})\b))",
                         re.IGNORECASE)),
    ("year", re.compile(_OPENING + r"(?:in\s+|since\s+)?(?:which|what)\s+year\b", re.IGNORECASE)),
    ("version", re.compile(_OPENING + r"(?:in\s+|since\s+|from\s+)?(?:which|what)\s+"
                           r"(?:\w+\s+)?version\b", re.IGNORECASE)),
    ("time", re.compile(_OPENING + r"(?:when\b|(?:what|which)\s+(?:date|day)\b)", re.IGNORECASE)),
    # "What is the name of the Chief of the General Staff ...?"
    ("name", re.compile(_OPENING + r"what(?:\s+is|\s+was|['’]s)\s+the\s+(?:\w+\s+)?names?\s+of\b",
                        re.IGNORECASE)),
    ("name", re.compile(_OPENING + rf"(?:(?:who|whom|whose)\b|(?:which|what)\s+(?:{_NAMED_NOUNS})"
                        r"(?:s|es)?\b)", re.IGNORECASE)),
    ("exception", re.compile(_OPENING + r"(?:which|what)\s+(?:\w+\s+)?exceptions?\b",
                             re.IGNORECASE)),
    # "What error does zip() raise?", not "What error did Russia make?" (a mistake).
    ("exception", re.compile(_OPENING + r"(?:which|what)\s+(?:\w+\s+)?errors?\b.*\b(?:rais|"
                             r"throw|get)", re.IGNORECASE)),
)

DESCRIPTION: dict[Kind, str] = {"count": "a number", "year": "a year", "version": "a version",
                                "time": "a time or date", "name": "a name",
                                "exception": "an exception's name"}

_MONTHS = sorted({w for full, short in MONTHS.items() for w in (full, *short)},
                 key=lambda w: (-len(w), w))
_MONTH = r"(?:" + "|".join(_MONTHS) + r")\.?"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# The number words of text.NUMBER_WORDS and MULTIPLIERS, "one", and words that count without
# a number.
_NUMBER_WORD = "(?:" + "|".join(sorted(
    [*NUMBER_WORDS, *MULTIPLIERS, "one", "once", "twice", "dozens?", "half", "none", "no",
     "zero", "several", "a few"], key=lambda w: (-len(w), w))) + ")"
_DIGITS = r"\d[\d,.]*\d|\d"
_YEAR = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b")
_DATE = re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|"
                   rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b", re.IGNORECASE)
_VERSION = re.compile(r"(?<![\w.])\d+\.\d+(?:\.\d+)?(?![\w.]*\d)")
# (A factor counts: "a slow-down of about 5x", "tenfold", "a two-fold rise"; "5×" is a 5.)
_COUNT = re.compile(rf"\b(?:{_DIGITS}|{_NUMBER_WORD})(?:x|-?fold)?\b", re.IGNORECASE)
# A duration spelled out ("three years", "thirty days") is a time as much as "3 years" is.
_UNIT = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centur(?:y|ies))"
# "Since" tells a time ("since 2021", "since v3", "since the war", "since independence"),
# unless a clause follows it, which gives a reason ("since war crimes have been committed
# against our country": a verb within four words).
_SINCE = (rf"since(?=\s+(?:v?\d|{_MONTH}\b|{_WEEKDAY}\b)|"
          rf"(?!(?:\s+[\w’'-]+){{0,3}}?\s+{_AUX}\b))")
_TIME = re.compile(rf"\b(?:{_DIGITS})\b|\b{_NUMBER_WORD}[\s-]+{_UNIT}\b|"
                   rf"\b(?:{_MONTH}|{_WEEKDAY}|{_SINCE}|today|yesterday|tomorrow|ago|"
                   r"before|after|until|during|earlier|later|soon|recently|previously|now|currently|"
                   r"morning|evening|night|week|month|year|decade|century|version)\b",
                   re.IGNORECASE)
# An exception's name is a CamelCase identifier: ValueError, TimeoutExpired, StopIteration.
_EXCEPTION = re.compile(r"(?<![\w.])(?:[A-Za-z_]\w*\.)*([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)\b")
_CAPITALISED = re.compile(r"\b[^\W\d_][\w’'.-]*")  # kept when its first letter is upper case


@dataclass(frozen=True)
class Expected:
    kind: Kind

    @property
    def description(self) -> str:
        return DESCRIPTION[self.kind]


# "When Ian Murdock left Debian, who did he appoint?": a clause that sets the scene, and
# the question proper after its comma, whose opening decides ("When did Peskov, who is
# Putin's spokesman, say this?" is one question, asking when).
_SCENE = re.compile(rf"^\s*(?:when|if|after|before|once|while|since|as)\b(?!\s+{_AUX}\b)"
                    r"[^,?]{1,150},\s*"
                    r"(?=(?:who|whom|whose|what|which|when|where|why|how|in\s+which|"
                    r"in\s+what)\b)", re.IGNORECASE)


def expected(question: str) -> Expected | None:
    """The type the question's opening asks for, if any."""
    question = _SCENE.sub("", question)
    for kind, pattern in _KINDS:
        if pattern.match(question):
            return Expected(kind)
    return None


def values(kind: Kind, text: str, question: str = "") -> list[str]:
    """The values of ``kind`` in ``text`` that ``question`` does not already hold."""
    found: list[str]
    if kind == "count":
        dates = [m.span() for m in _DATE.finditer(text)]
        found = [m.group() for m in _COUNT.finditer(text)
                 if not _YEAR.fullmatch(m.group())
                 and not any(lo <= m.start() < hi for lo, hi in dates)
                 and not _enumerator(text, m)
                 # "the 6.x releases" is a version family, not six of them
                 and not re.match(r"\.[^\W\d]", text[m.end():m.end() + 2])
                 # "one of the speakers" counts nothing
                 and not (m.group().lower() == "one" and text[m.end():].startswith(" of "))]
    elif kind == "year":
        found = _YEAR.findall(text)
    elif kind == "version":
        found = _VERSION.findall(text)
    elif kind == "time":
        found = [m.group() for m in _TIME.finditer(text)]
    elif kind == "exception":
        found = [m.group(1) for m in _EXCEPTION.finditer(text)]
    else:
        asked_words = set(words(question))
        found = [m.group() for m in _CAPITALISED.finditer(text) if m.group()[0].isupper()
                 and (w := (words(m.group()) or [""])[0]) and not _asked(w, asked_words)
                 and w not in STOPWORDS and w not in QUESTION_WORDS
                 and not re.fullmatch(rf"{_MONTH}|{_WEEKDAY}", w)]
        return found
    return [v for v in found if not occurs(v, question)]


def _asked(word: str, asked_words: set[str]) -> bool:
    """Whether the question holds ``word``, up to a demonym's ending ("Armenia" is asked by
    "Armenian": a name the question gives is no answer to it)."""
    return word in asked_words or any(
        len(a) >= 5 and len(word) >= 5 and (a.startswith(word) or word.startswith(a))
        and abs(len(a) - len(word)) <= 3 for a in asked_words)


def _enumerator(text: str, m: re.Match[str]) -> bool:
    """Whether the number ``m`` opens a list item or a section ("2. A member of the
    committee is ...", "4.7. The 6.x Releases"), which counts nothing."""
    line_start = text.rfind("\n", 0, m.start()) + 1
    return (re.fullmatch(r"\d+(?:\.\d+)*", m.group()) is not None
            and not text[line_start:m.start()].strip()
            and re.match(r"[.)]\s", text[m.end():m.end() + 2]) is not None)


_SINCE_A_TIME = re.compile(rf"since(?=\s+(?:v?\d|{_MONTH}\b|{_WEEKDAY}\b|version\b|release\b))|"
                           rf"{_SINCE}", re.IGNORECASE)


def since_a_time(text: str, at: int) -> bool:
    """Whether the "since" at ``text[at:]`` tells a time ("since 2021", "since version 2.0",
    "since the war") rather than a reason ("since war crimes have been committed")."""
    return bool(_SINCE_A_TIME.match(text, at))


def occurs(value: str, text: str) -> bool:
    """Whether ``value`` stands in ``text`` as a whole: "3.1" is not in "3.12", "1" not in
    "10", "ten" not in "tenants" (case, quotes and spacing folded); a number is in a version
    written with its "v" ("15.0.0" in "v15.0.0")."""
    v = normalize(value)
    before = r"(?:(?<=\bv)|(?<![\w.]))" if v[:1].isdigit() else r"(?<![\w.])"
    return bool(re.search(rf"{before}{re.escape(v)}(?![\w.]*\d)(?!\w)", normalize(text)))


def holds(expected_: Expected, text: str, question: str) -> bool:
    """Whether ``text`` holds a value of the expected type that the question does not."""
    return bool(values(expected_.kind, text, question))
