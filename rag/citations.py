"""Citations: parse [n] markers, check that cited passages support the sentences citing them,
repair what can be repaired, and find the supporting part of each cited passage.

Support is judged by a deterministic lexical checker (no NLI model is available offline):
a sentence is supported by a set of passages when every number and name in it appears in
them and enough of its other content words do. The same checker serves the pipeline's
repairs and the evaluation's citation scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .chunking import sentence_spans
from .config import MAX_TOP_K
from .text import (
    MONTHS,
    STOPWORDS,
    abbreviated,
    code_names,
    content_terms,
    key_terms,
    number_values,
    spelled_numbers,
    stem,
    term_key,
    word_keys,
    words,
)
from .types import Citation, Passage

_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]",
                     re.IGNORECASE)
# Markers standing after a sentence's closing punctuation belong to that sentence.
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[[^\]\n]{1,20}\])+)")

SUPPORT_THRESHOLD = 0.6

# Verbs that present someone as speaking ("Peskov said", "…,” he told JAMnews).
SPEECH = (r"(?:said|says|say|stated|states|told|tells|announced|responded|replied|wrote|writes|"
           r"noted|notes|declared|explained|explains|believes|believe|considers|thinks|added|"
           r"commented|claimed|argued|warned|stressed|cites|calls|called|reminds|reminded|"
           r"asked|urged|insisted|described|suggested|spoke|mentioned)")
_NAME = r"([A-Z][\w’'-]+)"
# "Peskov said", "Peskov also said", "Kochinyan does not believe"; not "Armenian prime
# minister declared" (the name is an adjective there) nor "Azerbaijan is to say".
_BETWEEN = (r"(?:also|again|then|further|later|once|has|had|have|did|does|do|not|never|"
            r"just|already|openly|publicly|recently|previously|repeatedly|reportedly)")
# A name after "by", "of"... is not the verb's subject: "The analyst quoted by JAMnews does
# not believe", "The spokesman of Putin said".
_NOT_SUBJECT = "".join(rf"(?<!\b{p} )" for p in ("by", "of", "for", "from", "to", "with"))
_SPEAKER_BEFORE = re.compile(rf"{_NOT_SUBJECT}(?<![\w’'-]){_NAME}(?:\s+{_BETWEEN}){{0,2}}"
                             rf"\s+{SPEECH}\b")
# "Peskov and Zakharova both expressed support ...": each of them is presented as speaking.
_SPEAKERS_TOGETHER = re.compile(
    rf"{_NOT_SUBJECT}(?<![\w’'-])([A-Z][\w’'-]+(?:\s*,\s*[A-Z][\w’'-]+)*\s+and\s+"
    rf"[A-Z][\w’'-]+)\s+(?:both\s+|all\s+)?(?:{_BETWEEN}\s+){{0,2}}(?:{SPEECH}|expressed|voiced)\b")
# "according to Maria Zakharova", "..., said Peskov."
_FULL_NAME = r"([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*)"
_SPEAKER_AFTER = re.compile(
    rf"\b[Aa]ccording to\s+(?:[a-z]+\s+){{0,3}}{_FULL_NAME}"
    rf"|,[”\"’']?\s*(?:said|says)\s+(?:[a-z]+\s+){{0,3}}{_FULL_NAME}\s*(?:[.,;!?]|$)")


def speakers(sentence: str) -> set[str]:
    """Names a sentence presents as speaking: "Peskov said ...", "according to Zakharova"."""
    names = {m.group(1) for m in _SPEAKER_BEFORE.finditer(sentence)}
    names |= {n for m in _SPEAKERS_TOGETHER.finditer(sentence)
              for n in re.split(r"\s*,\s*|\s+and\s+", m.group(1))}
    names |= {(m.group(1) or m.group(2)).split()[-1] for m in _SPEAKER_AFTER.finditer(sentence)}
    keys = {term_key(t) for t in key_terms(sentence)}
    # A name with a digit is a document's or a thing's ("What does GPLv3 say ...?",
    # "RFC8878 says"), not someone's: it is not asked to speak; nor is a month ("according
    # to the November 2020 agreements").
    return {re.sub(r"['’]s$", "", n) for n in names if term_key(n) in keys
            and not any(c.isdigit() for c in n) and n.lower() not in MONTHS}


# A speaker given by what they are, not by name: "The political analyst calls ...",
# "According to the Russian presidential spokesman, ...". Group 1 is the last word: the
# title ("analyst", "spokesman"), or a noun the documents give no one as a title.
_ROLE_SPEAKER = re.compile(
    rf"^\s*(?:(?:[Tt]he|[Aa]n?)\s+(?:[\w’'-]+\s+){{0,4}}?([\w’'-]+)(?:\s+{_BETWEEN}){{0,2}}"
    rf"\s+{SPEECH}\b|[Aa]ccording\s+to\s+(?:the|an?)\s+(?:[\w’'-]+\s+){{0,4}}?([\w’'-]+)\s*,)")
# A name, on one line: "Dmitry Peskov", "Areg Kochinyan" (a no-break space is a space).
_SPACE = r"[^\S\n]+"
_PERSON = rf"((?:[A-Z][\w’'-]+{_SPACE}){{0,2}}[A-Z][\w’'-]+)"


def role_speaker(sentence: str) -> str | None:
    """The title of the speaker a sentence names by what they are, not by name ("analyst"
    in "The political analyst calls worries a false narrative"); None if it names none, or
    names someone ("The same day Zakharova announced": a capitalised word after a lower-case
    one is a name, where "The Armenian Prime Minister" is a title)."""
    m = _ROLE_SPEAKER.match(sentence)
    if not m:
        return None
    title = m.group(1) or m.group(2)
    before = sentence[: (m.start(1) if m.group(1) else m.start(2))].split()
    if title[:1].isupper() and before and before[-1][:1].islower():
        return None
    return title


def title_holders(title: str, text: str) -> set[str]:
    """The keys of the names ``text`` gives ``title`` to: {"areg", "kochinyan"} for
    "analyst" in "Political analyst Areg Kochinyan does not believe ..." and in "Areg
    Kochinyan, the political analyst, ...". A headline's capitalised words ("Kremlin
    Spokesman Says Russia ...") are no name: a speech verb or a small word ends one."""
    t = re.escape(title)
    before = rf"(?<![\w’'-])(?i:{t}){_SPACE}{_PERSON}"
    after = rf"{_PERSON},{_SPACE}(?:the|a|an){_SPACE}(?:[\w’'-]+{_SPACE}){{0,4}}?(?i:{t})\b"
    keys: set[str] = set()
    for m in (*re.finditer(before, text), *re.finditer(after, text)):
        for w in m.group(1).split():
            if w.lower() in STOPWORDS or re.fullmatch(SPEECH, w.lower()):
                break
            keys.add(term_key(w))
    return keys


def _document_named(name: str, sentence: str, about: str) -> bool:
    """Whether ``sentence`` names a document as "the ``name``" and a passage's title or
    heading calls that document so: a word of the capitalised words that open it
    ("According to the Constitution" for "Constitution for the Debian Project (v1.9)", "...
    the GNU General Public License" for "GNU GENERAL PUBLIC LICENSE"). A document speaks
    through its text; a person or country ("According to Russia", "Peskov said") is no
    document, and a name further into a title ("7 facts about Armenia-Russia relations")
    is what the document is about."""
    if not re.search(rf"\b(?i:the)\s+(?:[A-Z][\w’'-]*\s+)*{re.escape(name)}\b", sentence):
        return False
    key = term_key(name)
    for line in about.split("\n"):
        words = re.findall(r"[\w’'-]+|\S", line.strip())
        if words and words[0].lower() in ("the", "a", "an"):
            words = words[1:]
        for word in words:
            if not word[:1].isupper():
                break
            if term_key(word) == key:
                return True
    return False


def shows_speaking(name: str, text: str) -> bool:
    """Whether ``text`` presents ``name`` as the one who speaks (within a short window)."""
    key = term_key(name)
    for lo, hi in sentence_spans(text):
        tokens = re.findall(r"[\w’'-]+|:", text[lo:hi])
        for i, tok in enumerate(tokens):
            if term_key(tok) != key:
                continue
            before, after = tokens[max(0, i - 5) : i], tokens[i + 1 : i + 13]
            if any(re.fullmatch(SPEECH, w.lower()) for w in before + after) or ":" in after:
                return True
    return False


@dataclass(frozen=True)
class CitedSentence:
    text: str  # without markers
    cites: tuple[int, ...]


@dataclass
class Grounded:
    """An answer after citation checks: its text, citations and what was changed."""

    text: str
    sentences: list[CitedSentence]
    citations: list[Citation]
    warnings: list[str] = field(default_factory=list)


def _is_marker(m: re.Match) -> bool:
    """A bracketed list of numbers is a citation only if each could number a passage: "[2]"
    is, the range "[61184, 65519]" or "[0, 255]" is text."""
    return all(1 <= int(n) <= MAX_TOP_K for n in re.findall(r"\d+", m.group(1)))


def marker_numbers(text: str) -> list[int]:
    return [int(n) for m in _MARKER.finditer(text) if _is_marker(m)
            for n in re.findall(r"\d+", m.group(1))]


def strip_markers(text: str) -> str:
    text = _MARKER.sub(lambda m: "" if _is_marker(m) else m.group(0), text)
    # The space a marker leaves before punctuation goes ("said [1]." → "said."); not the
    # space before a word that starts with a dot ("in the .env file").
    return re.sub(r"\s+([.,;:!?]+)(?![\w/])", r"\1", text).strip()


def is_bare(text: str) -> bool:
    """True when the answer has no words once citation markers are removed."""
    return len(words(strip_markers(text))) < 2


# "According to [2], X" / "According to sources [1] and [2], X" / "As stated in source 1, X":
# the citation is the marker; the phrase around it says nothing once the marker moves.
_MARKS = r"(?:\[\d+\](?:\s*(?:,|and)\s*)?)+"
_SOURCE_PREAMBLE = re.compile(
    r"(^|(?<=[.!?]\s))(?:According to|As (?:stated|mentioned|noted|said) in|Based on|In)\s+"
    r"(?:(?:the\s+)?(?:sources?|passages?|documents?|text|article)(?:\s+(\d+))?\s*"
    rf"({_MARKS})?|({_MARKS}))\s*,\s*(\w(?:[^.!?\n]|\.(?=\w))*)")


# "[2] also states that X" / "Source [3] explains that X": the marker as the sentence's
# subject, which says nothing once the marker moves to the end ("X [2]"); X of three words
# or more ("[2] says so." is left as it is).
_SOURCE_SUBJECT = re.compile(
    r"(^|(?<=[.!?]\s))(?:(?i:the\s+)?(?i:sources?|passages?|documents?)\s*)?(\[\d+\])\s+"
    r"(?:also\s+)?(?:states?|says?|explains?|mentions?|notes?|adds?|indicates?|confirms?|"
    r"reports?|writes?|shows?)\s+that\s+((?:[^\s.!?]+\s+){2}(?:[^.!?\n]|\.(?=\w))*)")


def _drop_subject(m: re.Match) -> str:
    rest = m.group(3)
    return f"{m.group(1)}{rest[:1].upper()}{rest[1:]} {m.group(2)}"


def _drop_preamble(m: re.Match) -> str:
    numbers = re.findall(r"\d+", " ".join(g for g in m.group(2, 3, 4) if g))
    rest = m.group(5)
    marks = "".join(f"[{n}]" for n in numbers)
    return m.group(1) + rest[:1].upper() + rest[1:] + (f" {marks}" if marks else "")


# A fenced code block ("```python" ... "```", or one cut off by the token limit) is one
# unit of an answer: not split into sentences, and never given markers inside it.
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})([^\n`]*)\n(.*?)(?:^[ \t]*\1[ \t]*"
                    r"((?:\[[^\]\n]{1,20}\][ \t]*)*)$|\Z)", re.MULTILINE | re.DOTALL)


_LIST_ITEM = re.compile(r"^[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]+(?=\S)", re.MULTILINE)


def is_code(text: str) -> bool:
    """Whether an answer's unit is a fenced code block (see split_cited)."""
    return text.startswith("```")


def code_lines(block: str) -> list[str]:
    """The lines of a fenced code block that say something: not the fences, blank lines,
    comments or "..." placeholders; each with its spacing collapsed."""
    lines = [" ".join(line.split()) for line in block.split("\n")[1:-1]]
    return [line for line in lines if line and not line.startswith("#")
            and line.strip(".… ") and line not in (">>>", "...")]


def split_cited(text: str) -> list[CitedSentence]:
    """The answer's sentences, each with the source numbers it cites. A fenced code block
    is one unit, rewritten as "```lang" + its lines + "```"; markers on its closing fence's
    line, or alone on the next, cite it."""
    text = text.strip()
    out: list[CitedSentence] = []
    at = 0
    for m in _FENCE.finditer(text):
        _split_prose(text[at : m.start()], out)
        body = m.group(3).rstrip()
        if body.strip():
            out.append(CitedSentence(f"```{m.group(2).strip()}\n{body}\n```",
                                     tuple(dict.fromkeys(marker_numbers(m.group(4) or "")))))
        at = m.end()
    _split_prose(text[at:], out)
    # "A. B. [1]": markers at the end of a run of sentences cite the whole run.
    pending: list[int] = []
    for i, s in enumerate(out):
        if not s.cites:
            pending.append(i)
        else:
            for j in pending:
                out[j] = CitedSentence(out[j].text, s.cites)
            pending = []
    return out


def _split_prose(text: str, out: list[CitedSentence]) -> None:
    """Append the sentences of ``text`` (answer prose, no code block) to ``out``. A list
    item's number or bullet ("2. Use ...", "- Use ...") is not a sentence of its own."""
    text = _LIST_ITEM.sub("", text.strip())
    text = _SOURCE_PREAMBLE.sub(_drop_preamble, text)
    text = _SOURCE_SUBJECT.sub(_drop_subject, text)
    text = _MARKERS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), text)
    for lo, hi in sentence_spans(text):
        raw = text[lo:hi]
        body = strip_markers(raw)
        if not words(body):
            # A sentence of markers only: attach them to the previous sentence.
            if out:
                prev = out[-1]
                cites = tuple(dict.fromkeys(prev.cites + tuple(marker_numbers(raw))))
                out[-1] = CitedSentence(prev.text, cites)
            continue
        out.append(CitedSentence(body, tuple(dict.fromkeys(marker_numbers(raw)))))


# --- frame and claim ---------------------------------------------------------------------
# A sentence's frame says who claims something ("According to political analyst Areg
# Kochinyan,", "Peskov said that", "the article states"); its claim is what is claimed.
# The frame's words are found in any passage that merely introduces the speaker, so they
# must not count as support: the claim must be in the passage the sentence cites.

_WHO = r"[^,.;:!?“”\"]{1,80}?"
_LEADING_FRAMES = (
    # "According to political analyst Areg Kochinyan, CLAIM"; "As Peskov put it, CLAIM"
    re.compile(rf"^(?:according to|as)\s+{_WHO}(?:\s+(?:put it|{SPEECH}))?\s*,\s*",
               re.IGNORECASE),
    # "In Peskov's view, CLAIM"; "In the opinion of X, CLAIM"
    re.compile(rf"^in\s+(?:the\s+(?:view|opinion|words)\s+of\s+{_WHO}|{_WHO}['’]s?\s+"
               rf"(?:view|opinion|words))\s*,\s*", re.IGNORECASE),
    # "The article states that CLAIM"; "It is reported that CLAIM"
    re.compile(r"^(?:the\s+)?(?:article|document(?:ation)?|docs|text|passage|source|report|"
               r"author|manual|tutorial|guide|page|section)s?\s+"
               r"(?:also\s+)?(?:says?|states?|reports?|mentions?|notes?|writes?|explains?|"
               r"suggests?|indicates?)\s+(?:that\s+)?", re.IGNORECASE),
    re.compile(r"^it\s+(?:is|was|has been)\s+(?:reported|said|stated|noted|claimed)\s+"
               r"(?:that\s+)?", re.IGNORECASE),
    # "Peskov (also) said (that) CLAIM"; "Kochinyan does not believe that CLAIM"; "X told
    # JAMnews: CLAIM" — the speaker is a name (capitalised) within the first words.
    re.compile(rf"^(?:[\w’'-]+\s+){{0,6}}?[A-Z][\w’'-]+(?:\s+{_BETWEEN}){{0,2}}\s+{SPEECH}"
               rf"(?:(?:(?<=told)|(?<=tells))\s+(?:[A-Z][\w’'-]*\s*)+?(?=that\b|:|,))?"
               rf"\s*(?:that\b|:|,)?\s*"),
)
# "CLAIM, Peskov said." / "CLAIM, according to Zakharova." / "CLAIM,” said Peskov."
_TRAILING_FRAME = re.compile(
    rf"[,;]?\s*[”\"’']?\s*,?\s*(?:according to\s+{_WHO}|(?:[\w’'-]+\s+){{0,5}}?{SPEECH}"
    rf"(?:\s+[\w’'-]+){{0,5}}?)\s*[.!?]*$", re.IGNORECASE)


def frame_and_claim(sentence: str) -> tuple[str, str]:
    """Split a sentence into its frame (attribution, source reference) and its claim.

    The frame is "" when the sentence has none; the claim is the whole sentence then.
    """
    text = sentence.strip()
    frame = ""
    for pattern in _LEADING_FRAMES:
        if (m := pattern.match(text)) and content_terms(text[m.end():]):
            frame, text = text[: m.end()], text[m.end():]
            break
    else:
        m = _TRAILING_FRAME.search(text)
        if m and m.start() > 0 and speakers(text) and content_terms(text[: m.start()]):
            frame, text = text[m.start():], text[: m.start()]
    return frame.strip(), text.strip()


# --- polarity and modality ---------------------------------------------------------------
# A claim must say what its passage says in the same way: "X does not believe A" is not
# support for "X believes A", and "in all probability, A will be ratified" is not support
# for "A was ratified". The claim is compared with the passage sentence that shares most
# of its words.

_NEGATION = frozenset("not no never none nobody nothing neither nor cannot "
                      "deny denies denied reject rejects rejected refuse refuses refused".split())
# "May" after a preposition or before a day or year is the month: "In May the tribunal met",
# "since May 11, 2021"; "Clients MAY send" and "May drop the connection" hedge.
_MONTH_MAY = (r"(?<!\bin )(?<!\bon )(?<!\bof )(?<!\bsince )(?<!\buntil )(?<!\bby )"
              r"(?<!\bearly )(?<!\blate )(?<!\bmid-)(?<!\blast )(?<!\bnext )(?<!\bthis )"
              r"(?<!\bfrom )(?<!\bto )(?<!\bin early )(?<!\bin late )")
_UNCERTAIN = re.compile(
    rf"\b(?:{_MONTH_MAY}may(?!\s+\d)|might|could|would|probably|possibly|perhaps|likely|"
    r"unlikely|probability|presumably|reportedly|allegedly|supposedly|expected to|plans? to|"
    r"planned|planning|intends? to|intended|proposed?|proposal|considering|aims? to|hopes? to)\b",
    re.IGNORECASE)
_FUTURE = re.compile(r"\b(?:will|shall|going to|(?:is|are) to|(?:is|are) due to|"
                     r"(?:is|are) scheduled to|soon)\b", re.IGNORECASE)
_PAST = re.compile(r"\b(?:was|were|did|had|has been|have been|already)\b|"
                   r"(?<!\bbe )(?<!\bbeen )(?<!\bbeing )(?<!\bto )(?<!\bis )(?<!\bare )"
                   r"(?<!\bwill )(?<!\bwould )\b[a-z]+ed\b", re.IGNORECASE)
_ANSWER_WORD = re.compile(r"^\s*(?:yes|no)\b[,.:;!]?\s*", re.IGNORECASE)


def answers_yes_no(sentence: str) -> bool:
    """Whether the sentence opens with "Yes" or "No"."""
    return bool(_ANSWER_WORD.match(sentence))


# Clauses: a claim is compared with the passage clauses that say the same thing, so a
# negation or hedge elsewhere in the sentence ("..., so it cannot go anywhere") does not count.
_CLAUSE = re.compile(r"[,;:()—–]|\s(?:and|but|so|because|while|although|though|whereas|"
                     r"which|who|however)\s", re.IGNORECASE)
# Sentence-level hedges: they qualify every clause of their sentence.
_HEDGE = re.compile(r"\b(?:probability|probably|perhaps|possibly|likely|unlikely|reportedly|"
                    r"allegedly|presumably|apparently|supposedly)\b", re.IGNORECASE)


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(text) if c and c.strip()]


# Words between a negation and what it negates ("is in no way directed", "did not even go").
_FILLER = frozenset("way longer just really even yet ever anymore quite entirely necessarily "
                    "always go going get got".split())


def _is_negation(w: str) -> bool:
    return w in _NEGATION or w.endswith("n't") or w.endswith("n’t")


def _polarity(text: str) -> tuple[set[str], set[str]]:
    """(negated, affirmed): the content terms of ``text`` a negation applies to (the first
    content word after it: "does not believe" negates "believe"), and the others. "Not
    only" and a negated negative ("did not go unnoticed") negate nothing, and a negation
    reaches no further than its clause's punctuation ("If sep is None, a different
    algorithm is applied" negates nothing: "None" ends its clause)."""
    negated: set[str] = set()
    affirmed: set[str] = set()
    for piece in _SCOPE.split(text):
        ws = words(piece)
        taken: set[int] = set()
        for i, w in enumerate(ws):
            if not _is_negation(w) or ws[i + 1:i + 2] == ["only"]:
                continue
            for j in range(i + 1, min(i + 6, len(ws))):
                x = ws[j]
                if x in STOPWORDS or x in _FILLER or _is_negation(x) or len(x) < 2:
                    continue
                if not (x.startswith("un") and len(x) > 4):  # litotes: no negation
                    negated.add(stem(x))
                taken.add(j)
                break
        affirmed |= {stem(x) for j, x in enumerate(ws) if j not in taken
                     and x not in STOPWORDS and not _is_negation(x) and len(x) > 1}
    return negated, affirmed


_SCOPE = re.compile(r"[,;:()—–]")  # where a negation's reach ends


def _same_term(a: str, b: str) -> bool:
    """Two stems of one word ("believ" and "believe", "armenia" and "armenian"): equal, or
    one a 5-letter-plus prefix of the other, longer by at most two letters (not digits: a
    number is no ending, "DebConf22" is not "DebConf", nor "DebConf13")."""
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 2:
        return False
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return long.startswith(short) and not any(c.isdigit() for c in long[len(short):])


# "X does not believe that A is B" says about what "according to X, A is not B" says.
_NEG_RAISING = frozenset(stem(w) for w in "believe think expect suppose agree consider "
                                          "imagine feel seem".split())


def _denied(passage_sentence: str) -> set[str]:
    """What a passage sentence denies in someone's name: the content terms of the clause
    after a negated belief verb ("Kochinyan does not believe that [Armenia is changing
    course] and ...", "I don't think [anyone will ever give us guarantees]"), to the end of
    that clause."""
    out: set[str] = set()
    for m in re.finditer(r"(?:\bnot|\bnever|n['’]t)\s+(?:\w+\s+){0,1}?(\w+)\s+(?:that\s+)?"
                         r"([^.;:!?]+)", passage_sentence, re.IGNORECASE):
        if stem(m.group(1).lower()) in _NEG_RAISING:
            out |= _terms(_clauses(m.group(2))[0])
    return out


def _opposite(claim: str, passage_sentence: str) -> bool:
    """Some word the claim negates the passage sentence only affirms, or the reverse; or the
    claim states plainly what the passage sentence has someone not believe (see _denied)."""
    c_neg, c_aff = _polarity(claim)
    p_neg, p_aff = _polarity(passage_sentence)
    if (c_neg and p_neg) and (c_neg | p_neg) & _NEG_RAISING:
        return False  # both negated, one through "does not believe": the same claim

    def has(terms: set[str], t: str) -> bool:
        return any(_same_term(t, x) for x in terms)

    # "According to Kochinyan, Armenia is changing course" against "Kochinyan does not
    # believe that Armenia is changing course": the claim drops the verb that carried the
    # negation, and keeps what was denied. (With the verb kept, "Kochinyan believes that
    # ...", the word-by-word rule below sees it.)
    denied = _denied(passage_sentence)
    if (denied and not c_neg and not any(has(c_aff, t) for t in _NEG_RAISING)
            and 2 * len(c_aff & denied) >= max(2, len(denied))):
        return True
    for t in c_neg - c_aff:
        if has(p_aff, t) and not has(p_neg, t):
            return True
    return any(has(p_neg, t) and not has(p_aff, t) for t in c_aff - c_neg)


def conflict(sentence: str, passages_text: str) -> str | None:
    """How the passages say something other than ``sentence`` with the same words:
    "polarity" (a word negated in one, affirmed in the other: "does not believe" against
    "believes"), "modality" (the passage is uncertain or future where the sentence's claim
    is a plain fact or a past event), or None.

    Each clause of the claim (two content words or more) is compared with the passage
    sentences sharing most of its words (at least two, and a third of its own); when
    several tie, a conflict needs all of them. A negation in the frame counts ("Kochinyan
    does not believe that A"); a past tense in the frame does not ("Peskov stated that the
    exercise starts on Monday").
    """
    sentence = _ANSWER_WORD.sub("", sentence)  # "No, ..." answers a question; no negation
    claim = frame_and_claim(sentence)[1]
    hedged = bool(_UNCERTAIN.search(claim) or _HEDGE.search(sentence) or _FUTURE.search(claim))
    texts = [passages_text[lo:hi] for lo, hi in sentence_spans(passages_text)]
    # A past event ("Parliament ratified ...") the passages tell as future or uncertain
    # ("In all probability, the Rome Statute will be ratified").
    if not hedged:
        for m in _PAST.finditer(claim):
            if not m.group(0).lower().endswith("ed"):
                continue
            key = stem(m.group(0).lower())
            told = [bool(_FUTURE.search(clause) or _UNCERTAIN.search(clause)
                         or _HEDGE.search(text))
                    for text in texts for clause in _clauses(text)
                    if any(_same_term(key, t) for t in _terms(clause))]
            if told and all(told):  # every mention of it is future or uncertain
                return "modality"
    for part in _clauses(claim):
        terms = _terms(part)
        if len(terms) < 2:
            continue
        scored = [len(terms & _terms(text)) for text in texts]
        shared = max(scored, default=0)
        if shared < 2 or 3 * shared < len(terms):
            continue
        found = set()
        for text, n in zip(texts, scored, strict=True):
            if n != shared:
                continue
            # The clauses that say it: those sharing two of its words (one, for a claim
            # of two); "or -4 when the value would exceed der_len" does not say "returns
            # -1 on indefinite length", and its "would" hedges nothing of it.
            said = " ".join(c for c in _clauses(text)
                            if len(terms & _terms(c)) >= min(2, len(terms) - 1))
            if _opposite(sentence if part in claim[:len(part)] else part, text):
                found.add("polarity")
            elif not hedged and (_UNCERTAIN.search(said) or _HEDGE.search(text)):
                found.add("modality")
            else:
                found.add(None)
        if None not in found:
            return sorted(found)[-1]  # "polarity" before "modality"
    return None


def _terms(text: str) -> set[str]:
    return set(content_terms(text))


def _said_by_another(name: str, sentence: str, passages_text: str) -> bool:
    """Whether the passage sentences that say the claim of "``name`` said <claim>" are each
    someone else's words: "Simonyan said that Russia's rhetoric is on the verge of rudeness",
    cited to a passage where Simonyan speaks of the Lachin corridor and then "Zakharova said
    in this regard that ... on the verge of rudeness". The closest sentences are those
    sharing most of the claim's words (two at least, and a third of them); a sentence
    without a speaker of its own (a quotation, "he told ...") belongs to no one else."""
    terms = _terms(frame_and_claim(sentence)[1])
    texts = [passages_text[lo:hi] for lo, hi in sentence_spans(passages_text)]
    scored = [len(terms & _terms(text)) for text in texts]
    shared = max(scored, default=0)
    if shared < 2 or 3 * shared < len(terms):
        return False
    key = term_key(name)
    closest = [text for text, n in zip(texts, scored, strict=True) if n == shared]
    return all((said := {term_key(n) for n in speakers(text)}) and key not in said
               for text in closest)


# Words someone speaks without being named there (the speaker named in an earlier passage):
# a quotation of some length, curly ("“… cannot leave Armenia,” …", a scare-quoted word is
# none) or straight after a space or colon (not a code string: print("…")); or a pronoun or
# a person's role speaking: "he said", "…, she pointed out", "according to him", "in his
# view", "the spokesman added".
_SPOKEN = (rf"(?:{SPEECH}|added|pointed\s+out|emphasi[sz]ed|continued|concluded|recalled|"
           r"admitted|acknowledged|confirmed|denied|assured|clarified|predicted)")
_ROLE = (r"(?:spokes(?:man|woman|person)|minister|president|official|analyst|expert|author|"
         r"director|chair(?:man|woman|person)?|leader|representative|ambassador|secretary|"
         r"deputy|speaker|commander|lawyer|source|interviewee)")
_UNNAMED_SPEECH = re.compile(
    r"“[^“”\n]{20,}|[^“”\n]{20,}”"
    r"|(?:(?<=\s)|^|(?<=:))\"(?=[^\"\n]*\s[^\"\n]*\s[^\"\n]*\s)[^\"\n]{20,}\""
    rf"|\b(?i:he|she|they)\s+(?:{_BETWEEN}\s+){{0,2}}{_SPOKEN}\b"
    rf"|\b{_SPOKEN}\s+(?i:he|she)\b|\b(?i:according\s+to\s+(?:him|her|them))\b"
    r"|\b(?i:in\s+(?:his|her|their)\s+(?:view|words|opinion))\b"
    rf"|\b(?i:the)\s+(?:[\w’'-]+\s+){{0,2}}?(?i:{_ROLE})\s+(?:{_BETWEEN}\s+){{0,2}}{_SPOKEN}\b",
    re.MULTILINE)


def passage_speakers(text: str) -> set[str]:
    """Names a text presents as speaking ("Peskov said", "according to Zakharova")."""
    return {term_key(n) for lo, hi in sentence_spans(text) for n in speakers(text[lo:hi])}


@dataclass(frozen=True)
class Assessment:
    """How well passages support a sentence (0 to 1), and why not, when they do not."""

    score: float
    reason: str | None = None  # name, speaker, claim, polarity, modality, cause

    @property
    def supported(self) -> bool:
        return self.score >= SUPPORT_THRESHOLD




def assess(sentence: str, passages_text: str, question: str = "",
           about: str = "") -> Assessment:
    """How well ``passages_text`` supports ``sentence``.

    - every number and name of the sentence must be in the passages (or the question, or
      ``about``: the passages' titles and headings, which name what they are about: "in
      Python 3.8" of a passage under "What's New In Python 3.8");
    - "X said ..." needs a passage where X speaks, not one that merely names X, unless the
      question asked about X, the passages show nobody else speaking, and someone speaks
      there unnamed (a quotation, "he said": _UNNAMED_SPEECH) or X is a document its
      title or headings name ("According to the FAQ");
    - the claim (the sentence without its frame: "According to X,", "X said that") must
      be in the passages: the score is the share of the claim's content words found there
      (or in the question, which an answer may restate), so words of the frame, which any
      passage introducing X holds, do not count; and the passages must hold some word of
      the claim that is not a name;
    - the passage sentence closest to the claim must say it the same way: not negated where
      the sentence is not (polarity), not uncertain or future where the claim is a plain
      fact or a past event (modality).
    """
    if is_code(sentence):
        # Code is quoted, not paraphrased: every line of it must be in the passages (an
        # invented line runs or fails on its own, whatever words it shares with them).
        lines = code_lines(sentence)
        quoted = " ".join(passages_text.split())
        return (Assessment(1.0) if lines and all(line in quoted for line in lines)
                else Assessment(0.0, "code"))
    evidence = f"{passages_text}\n{question}"
    # "the ICC" is named by a passage that writes "the International Criminal Court", and back.
    short = abbreviated(sentence, f"{evidence}\n{about}")
    evidence_words = word_keys(f"{evidence}\n{about}") | short
    if not all(named(term_key(term), evidence_words) for term in key_terms(sentence)):
        return Assessment(0.0, "name")
    # A number in words is a fact as much as "3" is: "valid for at least three years" cited
    # to a passage on the written offer that gives no term, whose other words the question
    # supplied.
    if not spelled_numbers(sentence) <= number_values(f"{evidence}\n{about}"):
        return Assessment(0.0, "number")
    if misquoted(sentence, f"{passages_text}\n{about}"):
        return Assessment(0.0, "quote")
    asked = {term_key(n) for n in key_terms(question)} if question else set()
    said_by = speakers(sentence)
    for name in said_by:
        if shows_speaking(name, passages_text):
            if _said_by_another(name, sentence, passages_text):
                return Assessment(0.0, "speaker")
            continue
        if _document_named(name, sentence, about):
            continue
        others = passage_speakers(passages_text) - {term_key(name)}
        # (A passage's "he" is one person: not two named together. And a passage where no
        # one speaks, an FAQ's answer, is nobody's words: "Bart Schaefer said that zsh's
        # Unicode support is limited" for the FAQ's own text on it; but "the FAQ", a
        # document its title or headings name ("unix-faq/shell/zsh"), speaks through its
        # text.)
        if (term_key(name) in asked and not others and len(said_by) == 1
                and (_UNNAMED_SPEECH.search(passages_text)
                     or (re.search(rf"\b(?i:the)\s+{re.escape(name)}\b", sentence)
                         and term_key(name) in word_keys(about)))):
            continue
        return Assessment(0.0, "speaker")
    claim = frame_and_claim(_ANSWER_WORD.sub("", sentence))[1]
    if question and not holds_identifiers(_identifiers(claim) & _identifiers(question),
                                          f"{passages_text}\n{about}"):
        # "The --long option decompresses with a dictionary" cited to the -D option's
        # passage: the question's identifiers vouch for no claim; the passage must name them.
        return Assessment(0.0, "subject")
    # An option or code name the claim brings (not the question's) is a fact of its own,
    # not words: "The configure option that builds CPython without the
    # GIL is --without-gil" holds every word of a passage on configure options and the
    # question, but no passage names --without-gil.
    if not holds_brought(claim, question, f"{passages_text}\n{about}"):
        return Assessment(0.0, "identifier")
    if question and (borrowed := numbers(claim) & numbers(question)) and not borrowed <= (
            numbers(passages_text) | numbers(about)):
        # "Section 18 of the GPL requires ..." for a question on a section 18 that does not
        # exist, cited to the preamble: the question's numbers vouch for no claim either.
        return Assessment(0.0, "subject")
    terms = _terms(claim) or _terms(sentence)
    if not terms:
        return Assessment(0.0, "claim")
    score = len(terms & (_terms(evidence) | short)) / len(terms)
    if score < SUPPORT_THRESHOLD:
        return Assessment(score, "claim")
    # Names and the question's words can make up the share on their own ("According to
    # source [2], Pashinyan stated that Armenia will wake up ..." cited to a list of
    # headlines naming Pashinyan, Armenia and Russia): the passages must hold some word of
    # the claim that is not a name.
    names = {term_key(t) for t in key_terms(claim)}
    substance = {t for t in terms if t not in names}
    if substance and not substance & _terms(passages_text):
        return Assessment(0.0, "claim")
    if why := conflict(sentence, passages_text):
        return Assessment(0.0, why)
    if unlinked_cause(claim, passages_text):
        return Assessment(0.0, "cause")
    return Assessment(score)


# "X because Y" claims that Y explains X. The words of X and of Y may each be in the passages
# and the link in none: "The International Criminal Court issued a warrant against the
# Russian president because it was needed to resolve cases related to genocide" joins the
# warrant to why the court was founded, a paragraph earlier.
CAUSE_WORDS = (r"because(?:\s+of)?|due\s+to|owing\s+to|thanks\s+to|"
               r"as\s+a\s+(?:result|consequence)\s+of|on\s+account\s+of")
_CAUSE = re.compile(rf"\b(?:{CAUSE_WORDS})\b", re.IGNORECASE)


# A blank line ends a paragraph.
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def unlinked_cause(claim: str, passages_text: str) -> bool:
    """Whether ``claim`` gives a reason ("X because Y", "X due to Y") that the passages do
    not give for X (the clause before the reason word): no passage sentence that holds most
    of Y's words (with the sentence before or after it that it continues, see _goes_on:
    "X. This is because Y.") also holds half of X's words that are not names. A reason no
    sentence holds is not given either ("Gnats was removed because it was no longer
    needed", beside "no longer created by default"). False when X or Y is too short to
    tell."""
    m = _CAUSE.search(claim)
    if not m:
        return False
    reason = claim[m.end():]
    why = _terms(reason)
    # X is the clause the reason is given for, back to where it has two words of its own:
    # "which can provide immediate detection of bugs" in "Defining __slots__ ... replaces
    # the instance dictionary, which can provide immediate detection of bugs due to ...".
    what: set[str] = set()
    for clause in reversed(_clauses(claim[:m.start()])):
        what |= _terms(clause) - why - {term_key(t) for t in key_terms(clause)}
        if len(what) >= 2:
            break
    if len(why) < 2 or not what:
        return False
    spans = sentence_spans(passages_text)
    for i, (lo, hi) in enumerate(spans):
        terms = _terms(passages_text[lo:hi])
        if 2 * len(why & terms) <= len(why):
            continue
        around = [passages_text[lo:hi]]
        if i and _goes_on(passages_text, spans[i - 1], (lo, hi)):
            around.append(passages_text[spans[i - 1][0]:spans[i - 1][1]])
        if i + 1 < len(spans) and _goes_on(passages_text, (lo, hi), spans[i + 1]):
            around.append(passages_text[spans[i + 1][0]:spans[i + 1][1]])
        if 2 * len(what & _terms(" ".join(around))) >= len(what):
            return False
    return True


# A sentence that refers back to the one before it: "This is because ...", "Therefore ...".
_GOES_ON = re.compile(r"[\s“\"(]*(?:this|that|these|those|it|because|so|therefore|thus|hence|"
                      r"as\s+a\s+result|for\s+this\s+reason|otherwise)\b", re.IGNORECASE)


def _goes_on(text: str, first: tuple[int, int], then: tuple[int, int]) -> bool:
    """Whether sentence ``then`` continues ``first``: on the same line, or on the next
    line (a wrapped line, or the seam of two passages read together) when it refers back
    ("This is because ..."); never across a blank line, where a paragraph ends."""
    gap = text[first[1]:then[0]]
    if "\n" not in gap:
        return True
    return not _PARAGRAPH_BREAK.search(gap) and bool(_GOES_ON.match(text, then[0]))


# Words an answer puts in quotation marks: “...” or "..." (not an apostrophe's ’).
_QUOTED = re.compile(r"[“\"]([^“”\"]{1,400})[”\"]")


def misquoted(sentence: str, text: str) -> bool:
    """Whether ``sentence`` quotes words that ``text`` does not hold as written: a quotation
    claims its words verbatim ("the likelihood of war is \"high\"", cited to a passage that
    lists the likelihood of war among the topics of an interview). Case, spacing, quote
    marks and an ellipsis between quoted pieces are folded."""
    quoted = _QUOTED.findall(sentence)
    if not quoted:
        return False
    held = f" {' '.join(words(text))} "
    for q in quoted:
        for piece in re.split(r"\.\.\.|…|\[[^\]]*\]", q):
            said = " ".join(words(piece))
            if said and f" {said} " not in held:
                return True
    return False


# Identifiers a writer does not paraphrase: command-line options and code names ("--long",
# "os.cpu_count", "lru_cache", see text.code_names); not compounds of words ("on/off",
# "fixed-size").
_OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
# A file's name ("zpipe.c", "pyproject.toml") is what a document is about, which its passages
# need not repeat: not an identifier here.
_FILE_NAME = re.compile(r"[\w-]+\.(?:c|h|cc|cpp|hpp|py|pyi|js|ts|rs|go|java|rb|sh|txt|md|rst|"
                        r"html?|xml|json|toml|ya?ml|cfg|ini|conf|csv|log|gz|zip|tar|pdf|so)")


# Words written as a system writes them, not as prose does: a user "www-data", a file
# "globs2", an element "magic-replace", a program "asn1Coding", an extension ".pyi" (lower
# case first, with a digit, a hyphen or an inner dot). The question's words count as
# support for an answer that restates it, but not these: "The www-data user has uid 37",
# cited to a passage on the operator user's uid 37, names a user its passage never does.
# (Compounds of words, "fixed-size", "non-free", are caught too: a passage that answers for
# them mostly writes them. Of 2858 stored answers one right one was lost: "the two
# ghost-job programs called Robin Hood and Friar Tuck", cited to a passage that says
# "ghosts"; nineteen wrong ones became abstentions.)
_SYSTEM_WORD = re.compile(r"(?<![\w.\-/])(?:\.[a-z][a-z0-9]*|[a-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)+"
                          r"|[a-z]+\d[A-Za-z0-9]*)(?![\w\-/])")


def _system_words(text: str) -> set[str]:
    """The system-written words of ``text`` (see _SYSTEM_WORD), lower-cased; not a file's
    name, nor an abbreviation ("e.g")."""
    return {m.lower() for m in _SYSTEM_WORD.findall(text)
            if len(m) >= 4 and not _FILE_NAME.fullmatch(m)}


def _identifiers(text: str) -> set[str]:
    names = {n for n in code_names(text) if not _FILE_NAME.fullmatch(n)}
    return names | _system_words(text) | {m.lower() for m in _OPTION.findall(text)}


_V_VERSION = re.compile(r"(?<![\w.])[vV](\d+(?:\.\d+)+)\b")


def numbers(text: str) -> set[str]:
    """The numbers of ``text`` as key terms; one joined to a word stands also on its own
    ("386-based" holds "386"), an ordinal for its number ("5th" holds "5"), and a version
    for its number ("v2.39" holds "2.39")."""
    found = {t for t in key_terms(text) if t[0].isdigit()}
    # A version written with its "v" ("Git v2.39 Release Notes") is the number 2.39.
    found |= {m.group(1) for m in _V_VERSION.finditer(text)}
    parts = {p for t in found if "-" in t for p in t.split("-") if p[:1].isdigit()}
    ordinals = {m.group(1) for t in found | parts
                if (m := re.fullmatch(r"(\d+)(?:st|nd|rd|th)", t))}
    return found | parts | ordinals


def question_options(question: str) -> set[str]:
    """The command-line options a question asks about ("--disable-cats"), lower-cased."""
    return {i for i in _identifiers(question) if i.startswith("-")}


def question_system_words(question: str) -> set[str]:
    """The options and system-written words a question asks about ("--disable-cats",
    "www-data", ".pyi"; see _SYSTEM_WORD), lower-cased: each is documented under its own
    name, so a passage that does not write it does not answer for it."""
    return question_options(question) | {w for w in _system_words(question)
                                          if "_" not in w and not code_names(w)}


def holds_brought(claim: str, question: str, text: str) -> bool:
    """Whether ``text`` (passages with their titles and headings) names the options and code
    names ``claim`` brings that ``question`` does not: an option as written (its value
    aside: "--with-dtrace" for "--with-dtrace=yes"), a code name in full, by a dotted tail,
    or by its last part as a word ("split(sep=None)" on the page of "str.split"). A made-up
    one is not: "--without-gil", "asyncio.timeout_at" where only "timeout" is documented.

    Hyphenated compounds and versions ("well-known", "utf-8", "x86-64", "v2.3") are not
    checked here: they are spelt many ways ("well known", "UTF8", "x86_64", "version 2.3"),
    and the claim's words and numbers are checked as words and numbers."""
    asked = _identifiers(question)
    text = text.lower()
    for option in {m.lower() for m in _OPTION.findall(claim)} - asked:
        if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text):
            return False
    for name in code_names(claim) - asked:
        if _FILE_NAME.fullmatch(name) or name in text or _tail_in(name, text):
            continue
        last = name.rsplit(".", 1)[-1]
        if not re.search(rf"(?<!\w){re.escape(last)}(?!\w)", text):
            return False
    return True


def holds_identifiers(identifiers: set[str], text: str) -> bool:
    """Whether ``text`` (a passage with its title and headings) names every one of
    ``identifiers``, in full or as its own page writes it (_tail_in)."""
    text = text.lower()
    return all(i in text or _tail_in(i, text) for i in identifiers)


def _tail_in(identifier: str, text: str) -> bool:
    """ "pathlib.path.walk" is named by "path.walk", "functools.lru_cache" by "lru_cache"
    (how their own pages and examples write them)."""
    parts = identifier.split(".")
    if len(parts) > 2 and ".".join(parts[-2:]) in text:
        return True
    # The last part alone, if it is distinctive and no other module's ("lru_cache", not
    # "multiprocessing.cpu_count" for "os.cpu_count").
    last = parts[-1]
    return (len(parts) > 1 and "_" in last and re.search(rf"(?<![\w.]){re.escape(last)}\b", text)
            is not None and re.search(rf"\w\.{re.escape(last)}\b", text) is None)


_MONTHS = {stem(full): {stem(a) for a in short} for full, short in MONTHS.items()}


def named(key: str, present: set[str]) -> bool:
    """Whether a name is in ``present``, up to a demonym's ending: "Armenia" is named by
    "Armenians", "Armenian" by "Armenia" (see _same_term); a month by its abbreviation
    ("October" by "Oct")."""
    if _MONTHS.get(key, set()) & present:
        return True
    return key in present or any(_same_term(key, w) for w in present)


def support(sentence: str, passages_text: str, question: str = "", about: str = "") -> float:
    """``assess(...).score``: 0 to 1, supported from SUPPORT_THRESHOLD."""
    return assess(sentence, passages_text, question, about).score


def is_supported(sentence: str, passages: Sequence[Passage], question: str = "") -> bool:
    text = "\n".join(p.chunk.text for p in passages)
    about = "\n".join(p.about for p in passages)
    return support(sentence, text, question, about) >= SUPPORT_THRESHOLD


@dataclass(frozen=True)
class Checked:
    """Sentences after the citation check, and what the check changed."""

    sentences: tuple[CitedSentence, ...]
    warnings: tuple[str, ...] = ()


def check(sentences: Sequence[CitedSentence], passages: Sequence[Passage],
          question: str = "", pairs: bool = True) -> Checked:
    """Check and repair the citations of an answer's sentences.

    - a sentence said twice is kept once (small models repeat themselves when greedy);
    - markers pointing at no passage are dropped (and reported);
    - a sentence whose cited passages do not support it is re-pointed to the passage
      that does, if one does, and left uncited if none does;
    - an uncited sentence gets the passage that supports it, if one does;
    - with ``pairs``, a sentence no passage supports alone may cite two that support it
      together (see _best_passages).
    """
    warnings: list[str] = []
    k = len(passages)
    out: list[CitedSentence] = []
    seen: set[str] = set()
    for s in sentences:
        key = " ".join(words(s.text))
        if key in seen:
            continue
        seen.add(key)
        bad = [n for n in s.cites if not 1 <= n <= k]
        if bad:
            warnings.append(f"dropped citation {', '.join(f'[{n}]' for n in bad)}: "
                            f"only {k} passages were given")
        cites = tuple(n for n in s.cites if 1 <= n <= k)
        cited_text = "\n".join(passages[n - 1].chunk.text for n in cites)
        about = "\n".join(passages[n - 1].about for n in cites)
        verdict = assess(s.text, cited_text, question, about) if cites else None
        if not verdict or not verdict.supported:
            otherwise = verdict and verdict.reason in ("polarity", "modality")
            why = (f"says it otherwise ({verdict.reason}):" if otherwise
                   else "does not support")
            best = _best_passages(s.text, passages, question, pairs)
            if not best:
                if otherwise:
                    warnings.append(f"{_fmt(cites)} {why} “{_clip(s.text)}”")
                cites = ()  # nothing supports it: no citation may vouch for it
            elif not set(best) <= set(cites):
                if cites:
                    warnings.append(f"citation {_fmt(cites)} re-pointed to {_fmt(best)}: the "
                                    f"cited passage {why} “{_clip(s.text)}”")
                cites = best  # an uncited sentence gets the passages that support it
        out.append(CitedSentence(s.text, cites))
    return Checked(tuple(out), tuple(warnings))


def cite(sentences: Sequence[CitedSentence], passages: Sequence[Passage]) -> tuple[Citation, ...]:
    """One Citation per cited passage, in order of first citation, with the span of the
    passage that supports the sentences citing it."""
    used = list(dict.fromkeys(n for s in sentences for n in s.cites))
    return tuple(_citation(n, passages[n - 1], [s.text for s in sentences if n in s.cites])
                 for n in used)


def ground(text: str, passages: Sequence[Passage], question: str = "") -> Grounded:
    """Parse a generated answer, check its citations and cite the passages (see check)."""
    checked = check(split_cited(text), passages, question)
    sentences = list(checked.sentences)
    return Grounded(render(sentences), sentences, list(cite(sentences, passages)),
                    list(checked.warnings))


def render(sentences: Sequence[CitedSentence]) -> str:
    """The answer's text: sentences with their markers before the closing punctuation; a
    code block on lines of its own, its markers on the line after it."""
    out = ""
    for s in sentences:
        body = s.text
        marks = "".join(f"[{n}]" for n in s.cites)
        if is_code(body):
            body = f"{body}\n{marks}" if marks else body
            out = f"{out}\n{body}\n" if out else f"{body}\n"
            continue
        if marks and body.endswith("|"):  # a table row: no full stop after it
            body = f"{body} {marks}"
        elif marks:
            m = re.match(r"^(.*?)([.!?…:]*[\"'”’)]*)$", body, re.DOTALL)
            assert m is not None
            core, end = m.group(1), m.group(2)
            body = f"{core.rstrip()} {marks}{end or '.'}"
        out = f"{out} {body}" if out and not out.endswith("\n") else out + body
    return out.strip()


def _naming(names: set[str], passages: Sequence[Passage]) -> set[int]:
    """The passages (numbered from 1) that hold every one of ``names``."""
    keys = {term_key(n) for n in names}
    return {i for i, p in enumerate(passages, start=1) if keys <= word_keys(p.chunk.text)}


def _best_passages(sentence: str, passages: Sequence[Passage], question: str = "",
                   pairs: bool = True) -> tuple[int, ...]:
    """The passage that supports ``sentence`` best; else the two that support it together
    and neither alone (ALCE's citation recall judges a sentence by the union of what it
    cites): "Dmitry Peskov expressed wariness about the joint exercise 'Eagle partner
    2023'", with his words in one passage and the exercise's name in another. Empty if no
    passage or pair does.

    A sentence some passage contradicts ("According to Kochinyan, A" beside "Kochinyan
    does not believe that A") may cite only a passage that names its speakers (a headline
    asking "Is A?" holds A's words but says nothing of Kochinyan), and never a pair.
    """
    verdicts = [assess(sentence, p.chunk.text, question, p.about) for p in passages]
    contradicted = any(v.reason in ("polarity", "modality") for v in verdicts)
    among = _naming(speakers(sentence), passages) if contradicted else None
    scored = [(v.score, -i, i + 1) for i, v in enumerate(verdicts)
              if among is None or i + 1 in among]
    one = max(scored, default=None)
    if one is not None and one[0] >= SUPPORT_THRESHOLD:
        return (one[2],)
    if not pairs or contradicted:
        return ()
    # Each passage of a pair may report the words of no one the sentence does not name:
    # "Simonyan predicted that it will be ratified, noting that it is in no way directed
    # against Russia" joins his prediction to what the Vice-Speaker said in the next one.
    names = {term_key(t) for t in key_terms(sentence)}
    own = [i for i, p in enumerate(passages) if passage_speakers(p.chunk.text) <= names]
    # Nor may its numbers come from both (a number is a fact of its own passage), nor the
    # two be of different documents (what neither says, stitched from two sources).
    # (Numbers in words too: "one thousand and ten developers ... when Debian 6.0 was
    # released", the count from one release's passage and the release from another's.)
    # Its numbers' passage names the identifiers of their clauses too: "The www-data user is
    # assigned uid 37", uid 37 from the operator user's passage and www-data from another, is
    # neither's fact ("www-data serves the web, and the operator user had uid 37" may be).
    said, valued = numbers(sentence), spelled_numbers(sentence)
    ids = set().union(*(_identifiers(c) for c in _clauses(sentence)
                        if numbers(c) or spelled_numbers(c)))
    terms = word_keys(frame_and_claim(sentence)[1]) - STOPWORDS
    best: tuple[float, tuple[int, ...]] | None = None
    for i in own:
        for j in (j for j in own if j > i):
            pair = (passages[i], passages[j])
            if pair[0].chunk.doc_id != pair[1].chunk.doc_id or ((said or valued) and not any(
                    said <= numbers(p.chunk.text) and valued <= number_values(p.chunk.text)
                    and holds_identifiers(ids, f"{p.chunk.text}\n{p.about}") for p in pair)):
                continue
            # Each must give the sentence a name or two words the other lacks: one common
            # word found elsewhere is a coincidence more often than a source ("-1**2
            # evaluates to -9": a footnote's -3**2 = -9 and another paragraph's "evaluated").
            held = [terms & word_keys(p.chunk.text) for p in pair]
            if any(len(gives) < 2 and not gives & names
                   for gives in (held[0] - held[1], held[1] - held[0])):
                continue
            v = assess(sentence, "\n".join(p.chunk.text for p in pair), question,
                       "\n".join(p.about for p in pair))
            if v.supported and (best is None or v.score > best[0]):
                best = (v.score, (i + 1, j + 1))
    return best[1] if best else ()


def supporting_span(passage: Passage, claims: Sequence[str]) -> tuple[int, int]:
    """Document offsets of the passage sentences that best match the claims.

    Each claim picks the passage sentences it quotes whole (of two words or more), or else
    the one sharing most content words with it; the span runs from the first picked
    sentence to the last.
    """
    chunk = passage.chunk
    spans = sentence_spans(chunk.text)
    if not spans:
        return chunk.start, chunk.end
    picked = []
    for claim in claims or [""]:
        # A quote of several sentences (a heading and the sentence under it) spans them all.
        quoted = [sp for sp in spans if len(words(chunk.text[sp[0]:sp[1]])) > 1
                  and " ".join(chunk.text[sp[0]:sp[1]].split()) in claim]
        if quoted:
            picked += quoted
            continue
        terms = _terms(claim)
        picked.append(max(spans, key=lambda sp: (len(_terms(chunk.text[sp[0]:sp[1]]) & terms),
                                                 -sp[0])))
    return chunk.start + min(lo for lo, _ in picked), chunk.start + max(hi for _, hi in picked)


def _citation(n: int, passage: Passage, claims: Sequence[str]) -> Citation:
    lo, hi = supporting_span(passage, claims)
    return Citation(n, passage, lo, hi)


def _fmt(cites: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in cites)


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"

