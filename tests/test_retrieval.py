import pytest

from rag.corpus import Corpus
from rag.index import update_index
from rag.retrieval import Retriever, coverage_ranking, rrf


@pytest.fixture
def settings(store_settings):
    """Every retrieval test runs on each vector store (FAISS and Qdrant)."""
    return store_settings


def test_rrf_exact_values():
    fused = rrf([[1, 2, 3], [3, 1]], k=60)
    assert [i for i, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2][1] == pytest.approx(1 / 62)


def test_rrf_ties_break_by_id():
    assert [i for i, _ in rrf([[5], [4]])] == [4, 5]


@pytest.fixture
def index(settings, embedder):
    return update_index(settings, embedder)[0]


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_modes_return_scored_passages(index, embedder, mode):
    passages = Retriever(embedder, mode).search(Corpus(index), "What did Peskov say?", 4)
    if mode == "bm25":  # only chunks that share a word with the query
        assert len(passages) == 2 and all("Peskov" in p.chunk.text for p in passages)
    else:
        assert len(passages) == 4
    # In rank order; in hybrid mode each retriever's first pick leads, then the fused order.
    lead = 2 if mode == "hybrid" else 0
    rest = [p.score for p in passages[lead:]]
    assert rest == sorted(rest, reverse=True)
    assert all(p.title.startswith("7 facts") for p in passages)
    if mode != "dense":
        assert "Peskov" in passages[0].chunk.text
        assert passages[0].lexical_score and passages[0].lexical_score > 0


def test_lexical_finds_numbers_and_names(index, embedder):
    top = Retriever(embedder, "bm25").search(Corpus(index), "140 square kilometers", 1)[0]
    assert "140 square kilometers" in top.chunk.text
    top = Retriever(embedder, "hybrid").search(Corpus(index), "Khurshudyan", 1)[0]
    assert "Khurshudyan" in top.chunk.text


def test_top_k_larger_than_index(index, embedder):
    passages = Retriever(embedder, "hybrid").search(Corpus(index), "Armenia", 1000)
    assert len(passages) <= len(index)
    assert len({p.chunk.chunk_id for p in passages}) == len(passages)


def test_repeated_text_is_embedded_once_and_retrieved_once(settings, embedder, docs_dir):
    notice = ("Availability: not Emscripten, not WASI. This module does not work or is not "
              "available on WebAssembly platforms wasm32-emscripten and wasm32-wasi. See "
              "WebAssembly platforms for more information. The notice is long enough to fill "
              "a chunk, as boilerplate on a documentation site often is.")
    for name in ("socket.txt", "select.txt", "mmap.txt"):
        (docs_dir / name).write_text(f"The {name[:-4]} module.\n\n{notice}\n\n{notice}")
    index, changes = update_index(settings, embedder)
    by_text: dict[str, set[str]] = {}
    for c in index.chunks:
        by_text.setdefault(c.text, set()).add(c.doc_id)
    shared = [t for t, docs in by_text.items() if len(docs) == 3]
    assert shared  # the same chunk text in all three documents, each with its own span
    for text in shared:
        assert embedder.embedded.count(text) == 1  # embedded once
    assert changes.chunks_embedded == len(by_text) < len(index.chunks)
    passages = Retriever(embedder, "hybrid").search(Corpus(index), "Does it work on WebAssembly?",
                                                    4)
    texts = [" ".join(p.chunk.text.split()) for p in passages]
    assert len(texts) == len(set(texts)) == 4  # a repeated text once, then other passages


def test_hybrid_keeps_each_retrievers_first_pick(index, embedder):
    corpus = Corpus(index)
    q = "What did Peskov say?"
    dense = Retriever(embedder, "dense").search(corpus, q, 1)[0].chunk.chunk_id
    lexical = Retriever(embedder, "bm25").search(corpus, q, 1)[0].chunk.chunk_id
    top = [p.chunk.chunk_id for p in Retriever(embedder, "hybrid").search(corpus, q, 2)]
    assert set(top) == {dense, lexical} or (dense == lexical and top[0] == dense)


def test_the_corpus_knows_whom_it_gives_a_title(index):
    corpus = Corpus(index)
    assert {"dmitry", "peskov"} <= corpus.title_holders("spokesman")
    assert {"areg", "kochinyan"} <= corpus.title_holders("analyst")
    assert corpus.title_holders("documents") == frozenset()


# --- the coverage vote (fast: a stand-in index whose two searches return set rankings) ------

class _Chunk:
    def __init__(self, text: str) -> None:
        self.text = self.search_text = text
        self.chunk_id = self.doc_id = text


class _Index:
    """Rows 0..n-1; the dense and lexical searches return the rankings given."""

    def __init__(self, texts, dense, lexical):
        self.chunks = [_Chunk(t) for t in texts]
        self._dense, self._lexical = dense, lexical

    def __len__(self):
        return len(self.chunks)

    def search_vectors(self, query, k):
        return [(row, 1.0 - i / 100) for i, row in enumerate(self._dense[:k])]

    def search_terms(self, query, k):
        return [(row, 10.0 - i) for i, row in enumerate(self._lexical[:k])]

    def title(self, doc_id):
        return ""


class _Corpus:
    def __init__(self, index):
        self.index = index

    def term_share(self, term):
        # Stemmed terms: "default" is in every other chunk, "digit" the rarest.
        return {"limit": 0.2, "digit": 0.01, "convert": 0.05, "string": 0.1, "int": 0.3,
                "default": 0.5}.get(term, 0.0)


class _QueryEmbedder:
    def embed_query(self, query):
        return [0.0]


QUERY = "Is there a limit on the digits int() will convert from a string by default?"
TEXTS = ["A limit of recursion.",                                    # 0
         "The limit, the limit, the limit again.",                   # 1
         "Strings convert.",                                         # 2
         "Defaults are set in a file.",                              # 3
         "A string converts to int with a default limit of 4300 digits.",  # 4: all of it
         "Digits of pi."]                                            # 5
DENSE = [0, 3, 4, 2, 5, 1]
LEXICAL = [1, 5, 3, 4, 0, 2]


def _coverage_corpus():
    return _Corpus(_Index(TEXTS, DENSE, LEXICAL))


def test_coverage_ranks_by_the_rare_terms_held():
    corpus = _coverage_corpus()
    candidates = rrf([DENSE, LEXICAL])
    ranking = coverage_ranking(corpus, QUERY, candidates)
    assert ranking[0] == 4  # holds every term
    assert ranking.index(5) < ranking.index(1)  # "digits" (rare) outweighs "limit"
    assert ranking.index(1) < ranking.index(3)  # "limit" outweighs "default" (in half)
    # Equal coverage keeps the candidates' order (0 and 1 both hold "limit" alone), in
    # either order.
    for given in (candidates, candidates[::-1]):
        order = [row for row, _ in given]
        ranking = coverage_ranking(corpus, QUERY, given)
        assert (ranking.index(0) < ranking.index(1)) == (order.index(0) < order.index(1))
    assert coverage_ranking(corpus, "Who wrote Hamlet?", candidates) == []


def test_hybrid_lifts_the_chunk_holding_the_whole_query(monkeypatch):
    retriever = Retriever(_QueryEmbedder(), "hybrid")  # type: ignore[arg-type]
    top = [p.chunk.text for p in retriever.search(_coverage_corpus(), QUERY, 3)]
    assert TEXTS[4] in top
    assert top[:2] == [TEXTS[0], TEXTS[1]]  # each retriever's first pick still leads
    # Without the vote, the chunk the two searches rank third and fourth is not retrieved.
    monkeypatch.setattr("rag.retrieval.coverage_ranking", lambda *a: [])
    top = [p.chunk.text for p in retriever.search(_coverage_corpus(), QUERY, 3)]
    assert TEXTS[4] not in top


def test_the_vote_chooses_passages_but_keeps_the_retrievers_order():
    retriever = Retriever(_QueryEmbedder(), "hybrid")  # type: ignore[arg-type]
    top = [TEXTS.index(p.chunk.text) for p in retriever.search(_coverage_corpus(), QUERY, 4)]
    assert 4 in top
    fused = [row for row, _ in rrf([DENSE, LEXICAL])]
    order = [0, 1] + [row for row in fused if row not in (0, 1)]  # the firsts, then fused
    assert top == [row for row in order if row in top]


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_single_retriever_modes_take_no_vote(monkeypatch, mode):
    def vote(*args):
        raise AssertionError("coverage_ranking called")

    monkeypatch.setattr("rag.retrieval.coverage_ranking", vote)
    top = Retriever(_QueryEmbedder(), mode).search(_coverage_corpus(), QUERY, 3)  # type: ignore[arg-type]
    first = DENSE if mode == "dense" else LEXICAL
    assert [TEXTS.index(p.chunk.text) for p in top] == first[:3]
