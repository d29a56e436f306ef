"""One index generation as the questions see it: the loaded index and what is derived from
it (the corpus vocabulary, who speaks where); the searches are the index's own.

A Corpus is made once per generation and never changes; a new generation (documents
added or removed) is a new Corpus, swapped in by the pipeline with one assignment. A
question takes the current Corpus once and uses it throughout, so it never mixes two
generations. Who speaks is looked up on first use per name and remembered; API worker
threads may ask at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from .citations import shows_speaking, title_holders
from .index import Index
from .text import term_key, word_keys


class Corpus:
    """The index of one generation, with its speaker lookups (remembered, thread-safe)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._lock = threading.Lock()
        self._speaks: dict[str, bool] = {}
        self._holders: dict[str, frozenset[str]] = {}

    def term_share(self, term: str) -> float:
        """The share of chunks holding a content term (from the index's store)."""
        return self.index.term_share(term)

    @property
    def words(self) -> Collection[str]:
        """Every word of the documents (stemmed), and their code names ("os.cpu_count"):
        the index's vocabulary, which is kept per document and read, not recounted."""
        return self.index.vocabulary

    def speaks(self, name: str) -> bool:
        """Whether some chunk of the documents shows ``name`` speaking. The chunks looked
        at are the ones that hold the name (its best BM25 matches, at most SPEAKER_SCAN),
        not the whole corpus."""
        key = term_key(name)
        if key not in self._speaks:
            texts = (self.index.chunks[row].text
                     for row, _ in self.index.search_terms(name, SPEAKER_SCAN))
            found = any(key in word_keys(t) and shows_speaking(name, t) for t in texts)
            with self._lock:
                self._speaks[key] = found
        return self._speaks[key]

    def title_holders(self, title: str) -> frozenset[str]:
        """The keys of the names the documents give ``title`` to ({"areg", "kochinyan"} for
        "analyst": "Political analyst Areg Kochinyan"), looked up as ``speaks`` is."""
        key = title.lower()
        if key not in self._holders:
            found = frozenset().union(*(title_holders(title, self.index.chunks[row].text)
                                        for row, _ in self.index.search_terms(title,
                                                                              SPEAKER_SCAN)))
            with self._lock:
                self._holders[key] = found
        return self._holders[key]


SPEAKER_SCAN = 1000
