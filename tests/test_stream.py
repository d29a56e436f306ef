"""Pipeline.stream (the one way answers are produced) and the Corpus of an index generation."""

import shutil
import threading
from collections.abc import Iterator

from rag import index as index_module
from rag import retrieval
from rag.pipeline import Pipeline
from rag.types import Answer

from .conftest import ScriptedGenerator

ANSWER = "Peskov said that Russia cannot leave Armenia."
# About one of Peskov's two statements (a bare "What did Peskov say?" gets both).
QUESTION = "What did Peskov say about Russia leaving Armenia?"


class ClosableGenerator(ScriptedGenerator):
    """Says whether its stream was closed before the end."""

    def __init__(self, answers):
        super().__init__(answers)
        self.closed_early = False

    def stream(self, messages, max_tokens: int = 256, cancel=None) -> Iterator[str]:
        finished = False
        try:
            yield from super().stream(messages, max_tokens, cancel)
            finished = True
        finally:
            self.closed_early = not finished


def test_stream_yields_the_model_words_then_one_answer(settings, embedder):
    p = Pipeline(settings, embedder=embedder, generator=ScriptedGenerator([ANSWER, ANSWER]))
    events = list(p.stream(QUESTION))
    *tokens, answer = events
    assert tokens and all(isinstance(t, str) for t in tokens)
    assert isinstance(answer, Answer)
    assert "".join(tokens) == answer.raw_text and answer.raw_text.strip() == ANSWER
    # The model left the marker out; the answer cites, and says that is all it changed.
    assert answer.revision == "cited" and answer.citations
    assert answer.text.startswith("Peskov said that Russia cannot leave Armenia [")
    # ask() is the same stream drained.
    again = p.ask(QUESTION)
    assert (again.text, again.citations, again.revision) == (answer.text, answer.citations,
                                                             "cited")


def test_an_abstention_before_the_model_streams_no_words(settings, embedder):
    gen = ScriptedGenerator([])
    p = Pipeline(settings, embedder=embedder, generator=gen)
    events = list(p.stream("What did Emmanuel Macron say about Armenia?"))
    assert len(events) == 1 and events[0].abstained and events[0].raw_text == ""
    assert gen.calls == []


def test_closing_the_stream_stops_the_model(settings, embedder):
    gen = ClosableGenerator([ANSWER, ANSWER])
    p = Pipeline(settings, embedder=embedder, generator=gen)
    stream = p.stream("What did Peskov say?")
    first = next(stream)
    assert isinstance(first, str)
    stream.close()
    assert gen.closed_early
    # The model is free again: the next question is answered in full.
    assert not p.ask("What did Peskov say?").abstained and not gen.closed_early


def test_one_corpus_per_generation_built_once_and_swapped(settings, embedder, docs_dir,
                                                          monkeypatch):
    """BM25 is built once, when a generation is written, and loaded (once, however many
    threads ask at the same moment) by a process that starts on it: never rebuilt."""
    calls = []
    real = retrieval.LexicalIndex

    class Counting(real):
        @classmethod
        def build(cls, texts):
            calls.append(("build", len(texts)))
            return super().build(texts)

        @classmethod
        def load(cls, folder, n):
            calls.append(("load", n))
            return super().load(folder, n)

    monkeypatch.setattr(index_module, "LexicalIndex", Counting)
    p = Pipeline(settings, embedder=embedder, generator=ScriptedGenerator([]))
    corpus = p.corpus
    n = len(corpus.index)
    assert calls == [("build", n)]
    assert (corpus.index.path / "bm25").is_dir()

    def search_at_once(pipe: Pipeline) -> None:
        barrier = threading.Barrier(8)

        def search() -> None:
            barrier.wait()
            pipe.search("Peskov")

        threads = [threading.Thread(target=search) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    search_at_once(p)
    assert calls == [("build", n)] and p.corpus is corpus
    restarted = Pipeline(settings, embedder=embedder, generator=ScriptedGenerator([]))
    search_at_once(restarted)  # a new process on the same index: loaded once, not rebuilt
    assert calls == [("build", n), ("load", n)]
    assert [x.chunk.chunk_id for x in restarted.search("Peskov")] == \
        [x.chunk.chunk_id for x in p.search("Peskov")]
    retriever = p.retriever
    # A new document is a new generation: a new Corpus (its own BM25, built when written),
    # the same Retriever.
    shutil.copy(next(docs_dir.iterdir()), docs_dir / "copy.txt")
    (docs_dir / "copy.txt").write_text("Zakharova spoke about the Lachin corridor.\n")
    p.refresh_index()
    assert p.corpus is not corpus and "copy.txt" in p.corpus.index.documents
    assert "copy.txt" not in corpus.index.documents  # the old one is untouched
    assert p.search("Lachin corridor Zakharova")
    assert [c for c, _ in calls].count("build") == 2 and p.retriever is retriever
