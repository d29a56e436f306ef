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
from .text import content_terms, key_terms, term_key, word_keys, words
from .types import Citation, Passage

_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]",
                     re.IGNORECASE)
# Markers standing after a sentence's closing punctuation belong to that sentence.
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[[^\]\n]{1,20}\])+)")

SUPPORT_THRESHOLD = 0.6

_SPEECH = (r"(?:said|says|say|stated|states|told|tells|announced|responded|replied|wrote|writes|"
           r"noted|notes|declared|explained|explains|believes|believe|considers|thinks|added|"
           r"commented|claimed|argued|warned|stressed|cites|calls|called|reminds|reminded|"
           r"asked|urged|insisted|described|suggested|spoke|mentioned)")
_NAME = r"([A-Z][\w’'-]+)"
# "Peskov said", "Peskov also said", "Kochinyan does not believe"; not "Armenian prime
# minister declared" (the name is an adjective there) nor "Azerbaijan is to say".
_BETWEEN = (r"(?:also|again|then|further|later|once|has|had|have|did|does|do|not|never|"
            r"just|already|openly|publicly|recently|previously|repeatedly|reportedly)")
_SPEAKER_BEFORE = re.compile(rf"{_NAME}(?:\s+{_BETWEEN}){{0,2}}\s+{_SPEECH}\b")
# "according to Maria Zakharova", "..., said Peskov."
_FULL_NAME = r"([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*)"
_SPEAKER_AFTER = re.compile(
    rf"\b[Aa]ccording to\s+(?:[a-z]+\s+){{0,3}}{_FULL_NAME}"
    rf"|,[”\"’']?\s*(?:said|says)\s+(?:[a-z]+\s+){{0,3}}{_FULL_NAME}\s*(?:[.,;!?]|$)")


def speakers(sentence: str) -> set[str]:
    """Names a sentence presents as speaking: "Peskov said ...", "according to Zakharova"."""
    names = {m.group(1) for m in _SPEAKER_BEFORE.finditer(sentence)}
    names |= {(m.group(1) or m.group(2)).split()[-1] for m in _SPEAKER_AFTER.finditer(sentence)}
    keys = {term_key(t) for t in key_terms(sentence)}
    return {re.sub(r"['’]s$", "", n) for n in names if term_key(n) in keys}


def shows_speaking(name: str, text: str) -> bool:
    """Whether ``text`` presents ``name`` as the one who speaks (within a short window)."""
    key = term_key(name)
    for lo, hi in sentence_spans(text):
        tokens = re.findall(r"[\w’'-]+|:", text[lo:hi])
        for i, tok in enumerate(tokens):
            if term_key(tok) != key:
                continue
            before, after = tokens[max(0, i - 5) : i], tokens[i + 1 : i + 13]
            if any(re.fullmatch(_SPEECH, w.lower()) for w in before + after) or ":" in after:
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


def marker_numbers(text: str) -> list[int]:
    return [int(n) for m in _MARKER.finditer(text) for n in re.findall(r"\d+", m.group(1))]


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", text)).strip()


def is_bare(text: str) -> bool:
    """True when the answer has no words once citation markers are removed."""
    return len(words(strip_markers(text))) < 2


# "According to [2], X" / "According to sources [1] and [2], X" / "As stated in source 1, X":
# the citation is the marker; the phrase around it says nothing once the marker moves.
_MARKS = r"(?:\[\d+\](?:\s*(?:,|and)\s*)?)+"
_SOURCE_PREAMBLE = re.compile(
    r"(^|(?<=[.!?]\s))(?:According to|As (?:stated|mentioned|noted|said) in|Based on|In)\s+"
    r"(?:(?:the\s+)?(?:sources?|passages?|documents?|text|article)(?:\s+(\d+))?\s*"
    rf"({_MARKS})?|({_MARKS}))\s*,\s*(\w[^.!?\n]*)")


def _drop_preamble(m: re.Match) -> str:
    numbers = re.findall(r"\d+", " ".join(g for g in m.group(2, 3, 4) if g))
    rest = m.group(5)
    marks = "".join(f"[{n}]" for n in numbers)
    return m.group(1) + rest[:1].upper() + rest[1:] + (f" {marks}" if marks else "")


def split_cited(text: str) -> list[CitedSentence]:
    """The answer's sentences, each with the source numbers it cites."""
    text = _SOURCE_PREAMBLE.sub(_drop_preamble, text.strip())
    text = _MARKERS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), text)
    out = []
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


def _terms(text: str) -> set[str]:
    return set(content_terms(text))


def passage_speakers(text: str) -> set[str]:
    """Names a text presents as speaking ("Peskov said", "according to Zakharova")."""
    return {term_key(n) for lo, hi in sentence_spans(text) for n in speakers(text[lo:hi])}


def support(sentence: str, passages_text: str, question: str = "") -> float:
    """How well ``passages_text`` supports ``sentence``, from 0 to 1.

    0 if a number or name of the sentence is missing from the passages, or if the sentence
    has someone speak whom the passages do not show speaking; otherwise the share of the
    sentence's content words found in them. The question counts as given: an answer may
    restate it ("According to Pashinyan, ..." to "What did Pashinyan say ...?") as long as
    the passages do not show someone else speaking.
    """
    evidence = f"{passages_text}\n{question}"
    evidence_words = word_keys(evidence)
    if any(term_key(term) not in evidence_words for term in key_terms(sentence)):
        return 0.0
    # "X said ..." needs a passage where X speaks, not one that merely names X.
    asked = {term_key(n) for n in key_terms(question)} if question else set()
    for name in speakers(sentence):
        if shows_speaking(name, passages_text):
            continue
        others = passage_speakers(passages_text) - {term_key(name)}
        if term_key(name) in asked and not others:
            continue
        return 0.0
    terms = _terms(sentence)
    if not terms:
        return 0.0
    return len(terms & _terms(evidence)) / len(terms)


def is_supported(sentence: str, passages: Sequence[Passage], question: str = "") -> bool:
    text = "\n".join(p.chunk.text for p in passages)
    return support(sentence, text, question) >= SUPPORT_THRESHOLD


@dataclass(frozen=True)
class Checked:
    """Sentences after the citation check, and what the check changed."""

    sentences: tuple[CitedSentence, ...]
    warnings: tuple[str, ...] = ()


def check(sentences: Sequence[CitedSentence], passages: Sequence[Passage],
          question: str = "") -> Checked:
    """Check and repair the citations of an answer's sentences.

    - a sentence said twice is kept once (small models repeat themselves when greedy);
    - markers pointing at no passage are dropped (and reported);
    - a sentence whose cited passages do not support it is re-pointed to the passage
      that does, if one does, and left uncited if none does;
    - an uncited sentence gets the passage that supports it, if one does.
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
        if not cites or support(s.text, cited_text, question) < SUPPORT_THRESHOLD:
            best = _best_passage(s.text, passages, question)
            if best is None:
                cites = ()  # nothing supports it: no citation may vouch for it
            elif best not in cites:
                if cites:
                    warnings.append(f"citation {_fmt(cites)} re-pointed to [{best}]: the cited "
                                    f"passage does not support “{_clip(s.text)}”")
                cites = (best,)  # an uncited sentence gets the passage that supports it
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
    parts = []
    for s in sentences:
        body = s.text
        marks = "".join(f"[{n}]" for n in s.cites)
        if marks:
            m = re.match(r"^(.*?)([.!?…]*[\"'”’)]*)$", body, re.DOTALL)
            assert m is not None
            core, end = m.group(1), m.group(2)
            body = f"{core.rstrip()} {marks}{end or '.'}"
        parts.append(body)
    return " ".join(parts)


def _best_passage(sentence: str, passages: Sequence[Passage], question: str = "") -> int | None:
    scored = [(support(sentence, p.chunk.text, question), -i, i + 1)
              for i, p in enumerate(passages)]
    best = max(scored, default=None)
    if best is None or best[0] < SUPPORT_THRESHOLD:
        return None
    return best[2]


def supporting_span(passage: Passage, claims: Sequence[str]) -> tuple[int, int]:
    """Document offsets of the passage sentences that best match the claims.

    Each claim picks the passage sentence sharing most content words with it; the span
    runs from the first picked sentence to the last.
    """
    chunk = passage.chunk
    spans = sentence_spans(chunk.text)
    if not spans:
        return chunk.start, chunk.end
    picked = []
    for claim in claims or [""]:
        terms = _terms(claim)
        picked.append(max(spans, key=lambda sp: (len(_terms(chunk.text[sp[0]:sp[1]]) & terms),
                                                 -sp[0])))
    return chunk.start + min(lo for lo, _ in picked), chunk.start + max(hi for _, hi in picked)


def closest_sentence(claim: str, passages: Sequence[Passage]) -> tuple[int, str, float] | None:
    """The passage sentence sharing most content words with ``claim``: (n, sentence, share).

    ``share`` is the fraction of the claim's content words the sentence contains.
    """
    terms = _terms(claim)
    if not terms:
        return None
    best: tuple[int, str, float] | None = None
    for n, p in enumerate(passages, start=1):
        text = p.chunk.text
        for lo, hi in sentence_spans(text):
            share = len(terms & _terms(text[lo:hi])) / len(terms)
            if best is None or share > best[2]:
                best = (n, text[lo:hi], share)
    return best


def _citation(n: int, passage: Passage, claims: Sequence[str]) -> Citation:
    lo, hi = supporting_span(passage, claims)
    return Citation(n, passage, lo, hi)


def _fmt(cites: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in cites)


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"

