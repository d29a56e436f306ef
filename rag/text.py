"""Word-level text helpers shared by lexical retrieval, abstention and citation support."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
say said says tell told according also one two may might must shall us many much
""".split())

# Words that start a question or a sentence and say nothing about its subject.
QUESTION_WORDS = frozenset("""
what who whom whose when where why how which is are was were did does do can could should
would will has have had tell give list name describe explain yes however meanwhile
therefore thus also additionally furthermore moreover overall source sources document
documents article answer text passage""".split())

_WORD = re.compile(r"[\w][\w'’\-]*", re.UNICODE)


# The months, each with the abbreviations a text may write it as ("Oct", "Sept").
MONTHS: dict[str, tuple[str, ...]] = {m: (m[:3], "sept") if m == "september" else (m[:3],)
                                      for m in ("january february march april may june july "
                                                "august september october november december"
                                                ).split()}


# Numbers a text may spell out ("valid for at least three years"). Not "one", which is
# more often a pronoun ("the one that", "one of them") than a count.
_UNITS = ("two three four five six seven eight nine ten eleven twelve thirteen fourteen "
          "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS: dict[str, int] = {
    **{w: n for n, w in enumerate(_UNITS, start=2)},
    **{w: 10 * n for n, w in enumerate(_TENS, start=2)},
}
_ONES = {w: n for w, n in NUMBER_WORDS.items() if n < 10} | {"one": 1}


MULTIPLIERS = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


def spelled_numbers(text: str) -> set[int]:
    """The numbers ``text`` spells out in words: "three" is 3, "twenty-five" 25, "two
    hundred" 200. A multiplier alone ("hundreds of", "1.5 million") is left out: it counts
    nothing on its own."""
    out = set()
    tokens = words(text)
    for k, w in enumerate(tokens):
        head, _, tail = w.partition("-")
        if head not in NUMBER_WORDS:  # a multiplier alone counts nothing
            continue
        if tail and not (NUMBER_WORDS[head] in range(20, 100, 10) and tail in _ONES):
            continue
        value = NUMBER_WORDS[head] + (_ONES[tail] if tail else 0)
        after = tokens[k + 1] if k + 1 < len(tokens) else ""
        out.add(value * MULTIPLIERS.get(after, 1))
    return out


def number_values(text: str) -> set[int]:
    """Every whole number ``text`` writes, in digits ("3", "1,000") or in words."""
    digits = {int(d.replace(",", "")) for d in re.findall(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d])"
                                                            r"|(?<![\d.,])\d+(?![\d])", text)}
    return digits | spelled_numbers(text)


def normalize(text: str) -> str:
    """Fold case, curly quotes, dashes and runs of (non-breaking) whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'",
                                         "–": "-", "—": "-", "\u00a0": " "}))
    return re.sub(r"\s+", " ", text).strip().lower()


def words(text: str) -> list[str]:
    """Lower-cased word tokens with possessives removed ("Russia’s" -> "russia")."""
    out = []
    for w in _WORD.findall(normalize(text)):
        w = w.strip("'-")
        if w.endswith("'s"):
            w = w[:-2]
        if w:
            out.append(w)
    return out


def stem(word: str) -> str:
    """A light English suffix stripper: enough to match "ratified"/"ratification", and
    "raise"/"raises"/"raised" or "class"/"classes" (a final "e" goes, "ss" keeps its "s")."""
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"  # "ratified", "ratifies" -> "ratify"
    if word.endswith(("ification", "ifications")):
        return word[: word.rindex("ification")] + "ify"  # "ratification" -> "ratify"
    for suffix in ("ations", "ation", "ings", "ing", "ed", "es", "s", "ly"):
        if (word.endswith(suffix) and len(word) - len(suffix) >= 4
                and not (suffix == "s" and word.endswith("ss"))):
            return word[: -len(suffix)]
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def content_terms(text: str) -> list[str]:
    """Stemmed words minus stopwords: the tokens lexical retrieval and support checks use."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1 or w.isdigit()]


# "What did Pashinyan tell La Repubblica ..., and how did Peskov answer?": a question may ask
# several things, one part each.
_NEXT_PART = re.compile(r"(?:,\s*|;\s*|,?\s+)and\s+(?=(?:what|how|who|when|why|where|which)\b)"
                        r"|;\s*(?=(?:what|how|who|when|why|where|which)\b)", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks several things ("What did X say, and how did Y
    answer?"), or the question alone."""
    return [p for p in _NEXT_PART.split(question) if p.strip()]


def key_terms(text: str, skip_first: bool = False) -> list[str]:
    """Names and numbers in a text, as written: the words an answer must be about.

    A capitalised word that is not a stopword or question word, or a number. These are the
    terms whose absence from every retrieved passage signals the documents cannot answer.
    With ``skip_first``, the first word is not counted: a question's first word is
    capitalised anyway ("Summarise ...", "Explain ...").
    """
    terms: list[str] = []
    for i, m in enumerate(re.finditer(r"\d{1,3}(?:,\d{3})+(?!\w|,\d)|[\w][\w'’\-.]*[\w]|\w",
                                      text)):
        if skip_first and i == 0 and not m.group(0)[0].isdigit():
            continue
        raw = re.sub(r"['’]s$", "", m.group(0))
        w = words(raw)
        if not w:
            continue
        if raw[0].isdigit() or (raw[0].isupper() and w[0] not in STOPWORDS
                                and w[0] not in QUESTION_WORDS):
            terms.append(raw)
    return list(dict.fromkeys(terms))


def word_keys(text: str) -> set[str]:
    """The stemmed words of a text, and the parts of its hyphenated words
    ("Armenian-American" also gives "armenian" and "american")."""
    keys = set()
    for w in words(text):
        keys.add(stem(w))
        if "-" in w:
            keys.update(stem(part) for part in w.split("-") if part)
    for m in _WHOLE_NUMBER.finditer(text):
        keys.update(_number_keys(m.group(1) or m.group(2)))
    return keys


_CODE_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|(?<![\w.])\w*_\w+")


def code_names(text: str) -> set[str]:
    """The code names of a text, lower-cased: dotted names ("pathlib.Path.walk") with each
    of their dotted tails ("path.walk"), and names with an underscore ("cpu_count", also
    as the last part of "os.cpu_count")."""
    names = set()
    for m in _CODE_NAME.finditer(text):
        parts = m.group().lower().split(".")
        if len(parts) > 1 and all(len(p) <= 2 for p in parts):
            continue  # "e.g", "U.S": abbreviations
        names.update(".".join(parts[i:]) for i in range(max(1, len(parts) - 1)))
        if "_" in parts[-1].strip("_"):
            names.add(parts[-1])  # "cpu_count" of "os.cpu_count": distinctive alone
    return names


# A number written with dots or thousands commas is one number: "3.6.0" is not "3.5.0" (both
# begin with 3), and "1,024" is 1024, not a 1 and a 024. A version written with its "v" is
# the number ("v15.0.0", "v15"). A comma or dot after it that no digit follows ends it:
# "Debian 1.0, which was released as 1.1." holds 1.0 and 1.1.
_WHOLE_NUMBER = re.compile(r"(?<![\w.,])(?:[vV]?(\d+(?:\.\d+)+|\d{1,3}(?:,\d{3})+)|[vV](\d+))"
                           r"(?!\w|[.,]\d)")


def _number_keys(number: str) -> list[str]:
    """The keys of one whole number: a version's leading parts stand for it too ("3.8.1"
    is a 3.8 release), a thousands number loses its commas."""
    if "," in number:
        return [number.replace(",", "")]
    parts = number.split(".")
    shortest = min(2, len(parts))  # "3.8.1", "3.8"; never the bare "3" of a version
    return [".".join(parts[:i]) for i in range(len(parts), shortest - 1, -1)]


def term_key(term: str) -> str:
    """The form in which a key term is compared with the words of a passage."""
    if m := _WHOLE_NUMBER.fullmatch(term.strip()):
        return _number_keys(m.group(1) or m.group(2))[0]
    w = words(term)
    return stem(w[0]) if w else ""


def open_quote(text: str) -> bool:
    """Whether ``text`` ends inside a quotation (more opening than closing marks)."""
    return text.count("“") > text.count("”") or text.count('"') % 2 == 1


# A name of capitalised words on one line, with "of", "for", "and", "the" or "on" between
# them: "International Criminal Court", "Collective Security Treaty Organization", "Ministry
# of Foreign Affairs".
_NAME_RUN = re.compile(r"[A-Z][\w’'-]*(?:[ \t]+(?:(?:of|for|and|the|on)[ \t]+)*[A-Z][\w’'-]*)+")
_CONNECTORS = frozenset({"of", "for", "and", "the", "on"})
# An acronym: two to six capitals standing alone ("ICC", "CSTO", "PEPs", "NATO’s").
_ACRONYM = re.compile(r"(?<![\w.-])([A-Z]{2,6})(?:s|[’']s)?(?![\w.-]|[’']\w)")
# A word in capitals beside it: a line set in capitals ("THE SOFTWARE IS PROVIDED "AS IS"").
_CAPS_BEFORE = re.compile(r"[A-Z]{2,}[\s\"“”'(),]*$")
_CAPS_AFTER = re.compile(r"[\s\"“”'(),]*[A-Z]{2,}")
# An acronym defined where it is first used: "the global interpreter lock (GIL)".
_DEFINED = re.compile(r"((?:[\w’'-]+[ \t]+){2,10})\(([A-Z]{2,6})s?\)")


def _acronyms(text: str) -> set[str]:
    """The acronyms ``text`` writes, lower-cased: not a stopword ("IS", "AND"), nor a word
    of a line in capitals."""
    out = set()
    for m in _ACRONYM.finditer(text):
        acronym = m.group(1).lower()
        if (acronym in STOPWORDS or _CAPS_BEFORE.search(text, max(0, m.start() - 12), m.start())
                or _CAPS_AFTER.match(text, m.end())):
            continue
        out.add(acronym)
    return out


def _initialisms(text: str) -> dict[str, set[str]]:
    """The acronyms ``text``'s names may be written as, each with the keys of the words it
    stands for: the initials of three to six capitalised words of a name ("icc" for "The
    International Criminal Court"; a person's two names make no acronym, so "PR" is no
    "Peter Rossi"), and an acronym the text defines, in any case ("gil" for "the global
    interpreter lock (GIL)", "eu" for "the European Union (EU)")."""
    out: dict[str, set[str]] = {}
    for m in _DEFINED.finditer(text):
        acronym = m.group(2).lower()
        before = [w for w in m.group(1).split() if w.lower() not in _CONNECTORS]
        long_form = before[-len(acronym):]
        if "".join(w[0] for w in long_form).lower() == acronym:
            out.setdefault(acronym, set()).update(stem(w) for w in words(" ".join(long_form)))
    for m in _NAME_RUN.finditer(text):
        caps = [w for w in m.group().split() if w.lower() not in _CONNECTORS]
        while caps and words(caps[0])[:1] and words(caps[0])[0] in STOPWORDS | QUESTION_WORDS:
            caps = caps[1:]  # "The", "On", "What": a sentence's first word, not the name's
        for i in range(len(caps)):
            for j in range(i + 3, min(len(caps), i + 6) + 1):
                initials = "".join(w[0] for w in caps[i:j]).lower()
                out.setdefault(initials, set()).update(stem(w) for w in words(" ".join(caps[i:j])))
    return out


def abbreviated(text: str, other: str) -> set[str]:
    """The keys that ``other`` holds for ``text``'s names by abbreviation: the words of a
    name that ``other`` writes as an acronym ("international", "criminal" and "court" when
    ``other`` writes "ICC"), and an acronym that ``other`` spells out ("icc" when it writes
    "International Criminal Court"). Only a word in capitals is an acronym, so "us" is no
    "United States"; see _acronyms and _initialisms for what else is not."""
    keys: set[str] = set()
    if written := _acronyms(other):
        keys.update(k for initials, stems in _initialisms(text).items() if initials in written
                    for k in stems)
    if mine := _acronyms(text):
        theirs = _initialisms(other)
        keys.update(a for a in mine if a in theirs)
    return keys
