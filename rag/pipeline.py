"""stream(question, history) -> tokens, then the Answer: wiring retrieval, context,
generation and the answer policy (rag.grounding). ask() is stream() drained."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from . import context, grounding, prompts
from .config import Settings
from .conversation import Question, resolve, validate_question
from .corpus import Corpus
from .errors import GenerationInterrupted
from .index import Changes, Index, update_index
from .progress import SILENT, Reporter
from .retrieval import Retriever
from .types import Answer, Passage, Turn

__all__ = ["Pipeline", "Question", "validate_question"]

if TYPE_CHECKING:
    from .embedding import Embedder
    from .generation import Generator


class Pipeline:
    """The assistant. Heavy parts (embedder, index, model) load on first use, once."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 generator: Generator | None = None, reporter: Reporter = SILENT) -> None:
        self.settings = settings or Settings()
        self.reporter = reporter
        self._embedder = embedder
        self._generator = generator
        self._corpus: Corpus | None = None
        self._retriever: Retriever | None = None
        self._loading: Future | None = None
        self._corpus_lock = threading.Lock()  # threads asking at once load it once

    # --- components ------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from .embedding import load_embedder

            self._embedder = load_embedder(self.settings)
        return self._embedder

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            if self._loading is None:
                self.start_loading()
            assert self._loading is not None
            self._generator = self._loading.result()  # re-raises a loading error here
        return self._generator

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
    def corpus(self) -> Corpus:
        """The current index generation and its lookups (built or updated on first use)."""
        if self._corpus is None:
            with self._corpus_lock:
                if self._corpus is None:
                    self.refresh_index()
        elif self._corpus.index.stale():  # another replica changed the shared store
            with self._corpus_lock:
                if self._corpus.index.stale():
                    self._corpus = Corpus(self._corpus.index.reload())
        assert self._corpus is not None
        return self._corpus

    @property
    def index(self) -> Index:
        return self.corpus.index

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.embedder, self.settings.retrieval_mode,
                                        self.settings.rrf_k)
        return self._retriever

    def refresh_index(self, rebuild: bool = False, require_write: bool = False,
                      only: set[str] | None = None) -> Changes:
        """Build the index, or bring it up to date with the documents folder (for the
        ``only`` documents, if given); the new generation replaces the old one in one step
        (questions under way keep theirs).

        A read-only index is used as it is, unless ``require_write`` (an explicit update).
        """
        index, changes = update_index(self.settings, self.embedder, self.reporter,
                                      rebuild=rebuild, require_write=require_write, only=only)
        self._corpus = Corpus(index)
        return changes

    def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        """Retrieval only, for a query a user typed (validated like a question)."""
        query = validate_question(query, self.settings.max_question_chars)
        return self.retriever.search(self.corpus, query, top_k or self.settings.top_k)

    # --- answering -------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Turn] = (),
            on_token: Callable[[str], None] | None = None, top_k: int | None = None) -> Answer:
        """Answer ``question`` from the documents, citing passages as [n]: ``stream``
        drained (each of the model's words also goes to ``on_token``, if given)."""
        for event in self.stream(question, history, top_k):
            if isinstance(event, Answer):
                return event
            if on_token:
                on_token(event)
        raise AssertionError("stream() ended without an Answer")

    def stream(self, question: str, history: Sequence[Turn] = (),
               top_k: int | None = None,
               cancel: threading.Event | None = None) -> Iterator[str | Answer]:
        """The model's words as it writes them (str), then the checked Answer, last.

        Closing the iterator stops the model at once; so does setting ``cancel`` (from
        another thread), even while the model still reads the prompt. Answers may run
        at once in several threads when the generator allows it (``concurrency``). The
        words are the model's first try, as it wrote them; the Answer says how the checks
        changed them (``revision``).
        """
        question = validate_question(question, self.settings.max_question_chars)
        cancel = cancel or threading.Event()
        corpus = self.corpus  # loaded (or built) before timing: timings cover answering only
        t0 = time.perf_counter()
        resolved = resolve(question, history, self.settings.history_turns)
        found = self.retriever.search(corpus, resolved.retrieval_query,
                                      top_k or self.settings.top_k)
        passages = context.select(resolved.retrieval_query, found, self.settings.context,
                                  corpus.index.documents, corpus.term_share)
        t1 = time.perf_counter()
        timings = {"retrieve_ms": (t1 - t0) * 1000}

        raw, usage = "", {}
        verdict = grounding.before_generation(question, passages, corpus.words, corpus.speaks)
        if verdict is None:
            gen = self.generator
            t1 = time.perf_counter()  # after loading the model: timings cover answering only
            asked = resolved.prompt_question
            messages = prompts.build_messages(asked, passages, resolved.earlier_question)
            written: list[str] = []
            with contextlib.closing(gen.pieces(messages, self.settings.max_tokens,
                                               cancel)) as pieces:
                for piece in pieces:
                    written.append(piece)
                    yield piece
            raw, usage = "".join(written), dict(gen.last_usage)
            retry = None
            if grounding.needs_retry(raw):
                if cancel.is_set():
                    raise GenerationInterrupted("The answer was stopped")
                retry = gen.complete([*messages, {"role": "assistant", "content": raw},
                                      {"role": "user", "content": prompts.RETRY}],
                                     self.settings.max_tokens, cancel)
                usage = _add_usage(usage, gen.last_usage)
            verdict = grounding.judge(question, asked, passages, raw, retry,
                                      corpus.title_holders)
            n = (grounding.answer_passage(question, passages, raw, verdict)
                 if self.settings.on_refusal != "off" else None)
            if n is not None and self.settings.on_refusal == "quote":
                verdict = grounding.quote_answer(question, passages, n, verdict)
            elif n is not None:
                if cancel.is_set():
                    raise GenerationInterrupted("The answer was stopped")
                narrow = prompts.build_messages(asked, passages, resolved.earlier_question,
                                                only=(n,))
                again = gen.complete(narrow, self.settings.max_tokens, cancel)
                usage = _add_usage(usage, gen.last_usage)
                verdict = grounding.judge_again(question, asked, passages, again, n, verdict,
                                                corpus.title_holders)
        timings["generate_ms"] = (time.perf_counter() - t1) * 1000
        timings["total_ms"] = timings["retrieve_ms"] + timings["generate_ms"]
        yield Answer(question=question, text=verdict.text, citations=verdict.citations,
                     passages=tuple(passages),
                     model=self.settings.model if self._generator is None
                     else self._generator.name,
                     timings=timings, answer_mode=verdict.mode,
                     standalone_question=resolved.standalone, warnings=verdict.warnings,
                     usage=usage, raw_text=raw, revision=verdict.revision)


def _add_usage(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}
