"""ask(question, history) -> Answer: wiring retrieval, generation, citations and abstention."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from . import abstention, citations, context, prompts
from .config import Settings
from .conversation import resolve
from .errors import GenerationInterrupted, InvalidQuestionError
from .index import Changes, Index, update_index
from .progress import SILENT, Reporter
from .retrieval import Retriever
from .text import key_terms, term_key, word_keys
from .types import Answer, Citation, Passage, Turn

# How much of the model's claim (and the question) a source sentence must share to be
# quoted in its place when the model's own words are unsupported.
EXTRACTIVE_MIN_SHARE = 0.5


# Control characters (C0, DEL, C1) other than tab and newline: typed by nobody, they
# count as spaces, so a question of NULs is an empty question.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def validate_text(text: str, what: str = "The question") -> str:
    """``text`` with control characters as spaces; an error if it is not valid Unicode.

    Lone surrogates come from bytes that are not UTF-8 (a terminal in another encoding;
    Python keeps them as U+DC80..U+DCFF) or from a JSON "\\ud800" escape. The tokenizers
    cannot take them, so they are refused here, once, for every front end.
    """
    if m := _SURROGATE.search(text):
        ch = m.group(0)
        raw = f"byte 0x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF \
            else f"U+{ord(ch):04X}"
        raise InvalidQuestionError(
            f"{what} holds text that is not valid UTF-8 ({raw} at character {m.start() + 1}): "
            "check the encoding of your terminal or client")
    return _CONTROL.sub(" ", text)


def validate_question(question: str, max_chars: int) -> str:
    """The question stripped, or an InvalidQuestionError saying what is wrong."""
    if not isinstance(question, str):
        raise InvalidQuestionError("The question must be text")
    question = validate_text(question).strip()
    if not question:
        raise InvalidQuestionError("The question is empty: type a question about your documents")
    if len(question) > max_chars:
        raise InvalidQuestionError(
            f"The question is {len(question):,} characters long; the limit is {max_chars:,} "
            "(RAG_MAX_QUESTION_CHARS): ask a shorter question"
        )
    return question


class Pipeline:
    """The assistant. Heavy parts (embedder, index, model) load on first use, once."""

    def __init__(self, settings: Settings | None = None, *, embedder=None, generator=None,  # noqa: ANN001
                 reporter: Reporter = SILENT) -> None:
        self.settings = settings or Settings()
        self.reporter = reporter
        self._embedder = embedder
        self._generator = generator
        self._index: Index | None = None
        self._loading: Future | None = None
        self._interrupted = threading.Event()

    # --- components ------------------------------------------------------------------------

    @property
    def embedder(self):  # noqa: ANN201 - Embedder
        if self._embedder is None:
            from .embedding import load_embedder

            self._embedder = load_embedder(self.settings)
        return self._embedder

    @property
    def generator(self):  # noqa: ANN201 - Generator
        if self._generator is None:
            if self._loading is None:
                self.start_loading()
            assert self._loading is not None
            self._generator = self._loading.result()  # re-raises a loading error here
        return self._generator

    def interrupt(self) -> None:
        """Stop the answer being generated now, if any (its ask() raises)."""
        self._interrupted.set()
        if self._generator is not None:
            self._generator.interrupt()

    def start_loading(self) -> None:
        """Start loading the model in a background thread, if it is not loaded.

        llama.cpp loads in C with the GIL released, so the model loads while the index is
        read and the question embedded; a new process answers that much sooner.
        """
        if self._generator is None and self._loading is None:
            from .generation import load_generator

            pool = ThreadPoolExecutor(1, thread_name_prefix="load-model")
            self._loading = pool.submit(load_generator, self.settings, self.reporter)
            pool.shutdown(wait=False)

    @property
    def index(self) -> Index:
        if self._index is None:
            self.refresh_index()
        assert self._index is not None
        return self._index

    def refresh_index(self, rebuild: bool = False, require_write: bool = False) -> Changes:
        """Build the index, or bring it up to date with the documents folder.

        A read-only index is used as it is, unless ``require_write`` (an explicit update).
        """
        self._index, changes = update_index(self.settings, self.embedder, self.reporter,
                                            rebuild=rebuild, require_write=require_write)
        return changes

    def _corpus_words(self) -> set[str]:
        """Every word of the indexed documents (stemmed), computed once per index."""
        index = self.index
        if "words" not in index._cache:
            index._cache["words"] = set().union(*(word_keys(d.text)
                                                  for d in index.documents.values()))
        return index._cache["words"]

    def _speaks_anywhere(self, name: str) -> bool:
        """Whether some chunk of the documents shows ``name`` speaking."""
        key = term_key(name)
        cache = self.index._cache.setdefault("speaks", {})
        if key not in cache:
            cache[key] = any(citations.shows_speaking(name, c.text) for c in self.index.chunks
                             if key in word_keys(c.text))
        return cache[key]

    def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        """Retrieval only, for a query a user typed (validated like a question)."""
        return self._retrieve(validate_question(query, self.settings.max_question_chars), top_k)

    def _retrieve(self, query: str, top_k: int | None) -> list[Passage]:
        retriever = Retriever(self.index, self.embedder, self.settings.retrieval_mode,
                              self.settings.rrf_k)
        return retriever.search(query, top_k or self.settings.top_k)

    # --- answering -------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Turn] = (),
            on_token: Callable[[str], None] | None = None, top_k: int | None = None) -> Answer:
        """Answer ``question`` from the documents, citing passages as [n]."""
        question = validate_question(question, self.settings.max_question_chars)
        self._interrupted.clear()
        self.index  # noqa: B018 - load (or build) before timing: timings cover answering only
        t0 = time.perf_counter()
        resolved = resolve(question, history, self.settings.history_turns)
        passages = context.select(resolved.retrieval_query,
                                  self._retrieve(resolved.retrieval_query, top_k),
                                  self.settings.context)
        t1 = time.perf_counter()
        timings = {"retrieve_ms": (t1 - t0) * 1000}

        def result(text: str, *, abstained: bool, cites: Sequence[Citation] = (),
                   mode: str, warnings: Sequence[str] = (), usage: dict | None = None) -> Answer:
            timings["generate_ms"] = (time.perf_counter() - t1) * 1000
            timings["total_ms"] = timings["retrieve_ms"] + timings["generate_ms"]
            return Answer(question=question, answer=text, abstained=abstained,
                          citations=tuple(cites), passages=tuple(passages),
                          model=self.settings.model if self._generator is None
                          else self.generator.name,
                          timings=timings, answer_mode=mode,
                          standalone_question=resolved.standalone,
                          warnings=tuple(warnings), usage=usage or {})

        evidence = abstention.check_evidence(question, passages, self._corpus_words(),
                                             self._speaks_anywhere)
        if evidence.abstain:
            text = f"{prompts.ABSTAIN_TEXT} ({evidence.reason[:1].upper()}{evidence.reason[1:]}.)"
            return result(text, abstained=True, mode="abstained")

        gen = self.generator
        t1 = time.perf_counter()  # after loading the model: timings cover answering only
        asked = resolved.prompt_question
        messages = prompts.build_messages(asked, passages, resolved.earlier_question)
        raw = gen.complete(messages, self.settings.max_tokens, on_token)
        usage = dict(gen.last_usage)
        warnings: list[str] = []
        mode = "generated"
        if citations.is_bare(raw):
            warnings.append(f"the model answered with no words ({raw.strip()!r}); asked again")
            if self._interrupted.is_set():
                raise GenerationInterrupted("The answer was stopped")
            retry = [*messages, {"role": "assistant", "content": raw},
                     {"role": "user", "content": prompts.RETRY}]
            raw2 = gen.complete(retry, self.settings.max_tokens)
            usage = _add_usage(usage, gen.last_usage)
            if not citations.is_bare(raw2):
                raw, mode = raw2, "retried"
            else:
                cited = [n for n in citations.marker_numbers(raw2 or raw)
                         if 1 <= n <= len(passages)]
                return self._quote_source(
                    question, "", passages, cited[:1] or range(1, len(passages) + 1),
                    "the model gave no words twice", "The model gave no answer.",
                    warnings, result, usage)

        claims = [s for s in citations.split_cited(raw)
                  if not abstention.model_abstained(s.text)]
        if not claims:
            return result(prompts.ABSTAIN_TEXT, abstained=True, mode="abstained", usage=usage)
        grounded = citations.ground(raw, passages, asked)
        warnings.extend(grounded.warnings)
        kept = [s for s in grounded.sentences if s.cites or abstention.model_abstained(s.text)]
        dropped = [s for s in grounded.sentences if s not in kept]
        for s in dropped:
            warnings.append(f"removed a sentence no passage supports: “{s.text[:80]}”")
        if not any(s.cites for s in kept):
            # The model answered, but in words no passage supports (often a detail added
            # from its own memory).
            return self._quote_source(
                question, " ".join(s.text for s in claims), passages,
                range(1, len(passages) + 1), "no sentence of the model's answer is supported",
                "The model's answer was not supported by the retrieved passages, so it is "
                "withheld.", warnings, result, usage)
        if dropped:
            grounded = citations.ground(citations.render(kept), passages, asked)
        if abstention.lacks_expected_number(question, grounded.text):
            warnings.append("the question asks how many or how much; the answer has no number")
            return result(f"{prompts.ABSTAIN_TEXT} (No passage gives that number.)",
                          abstained=True, mode="abstained", warnings=warnings, usage=usage)
        return result(grounded.text, abstained=False, cites=grounded.citations, mode=mode,
                      warnings=warnings, usage=usage)

    def _quote_source(self, question, claim, passages, numbers, why, withheld,  # noqa: ANN001
                      warnings, result, usage) -> Answer:
        """Answer with the sentence of passages ``numbers`` closest to the model's claim and
        the question, if it is close and about the question; otherwise abstain."""
        numbers = list(numbers)
        closest = citations.closest_sentence(f"{claim} {question}",
                                             [passages[n - 1] for n in numbers])
        if closest:
            i, sentence, share = closest
            n = numbers[i - 1]
            if (share >= EXTRACTIVE_MIN_SHARE and _speakers_speak(question, passages[n - 1])
                    and _mentions_key_terms(question, sentence)):
                warnings.append(f"{why}; answered with a sentence of passage [{n}]")
                grounded = citations.ground(f"{sentence} [{n}]", passages)
                return result(grounded.text, abstained=False, cites=grounded.citations,
                              mode="extractive", warnings=warnings, usage=usage)
        warnings.append(why)
        return result(f"{prompts.ABSTAIN_TEXT} ({withheld})", abstained=True, mode="abstained",
                      warnings=warnings, usage=usage)


def _mentions_key_terms(question: str, sentence: str) -> bool:
    """A quoted sentence must be about the question: all its numbers, half its names."""
    have = word_keys(sentence)
    terms = key_terms(question, skip_first=True)
    numbers = [t for t in terms if t[0].isdigit()]
    names = [t for t in terms if not t[0].isdigit()]
    return (all(term_key(t) in have for t in numbers)
            and 2 * sum(term_key(t) in have for t in names) >= len(names))


def _speakers_speak(question: str, passage: Passage) -> bool:
    """For "What did X say?": a passage quoted as the answer must show X speaking."""
    return all(citations.shows_speaking(name, passage.chunk.text)
               for name in citations.speakers(question))


def _add_usage(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}
