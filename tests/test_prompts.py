"""The prompt's sources: what each numbered passage is said to be about."""

from dataclasses import replace

from rag import prompts
from rag.types import Chunk, Passage


def _p(text: str, doc: str = "d", heading: str = "", title: str = "Title") -> Passage:
    return Passage(Chunk(doc, f"{doc}#0", 0, len(text), text, heading), title, 0.5)


def test_a_passage_is_labelled_with_its_section_or_else_its_document():
    maxp = _p("If the iterable is empty and default is not provided, a ValueError is raised.",
              "functions.html", "Built-in Functions › max(iterable, *, key=None)",
              "Built-in Functions — Python 3.11.2 documentation")
    other = _p("A sentence of another page.", "other.html", "",
               "Other page — Python 3.11.2 documentation")
    text = prompts.format_sources([maxp, other])
    assert text.splitlines()[0] == "[1] (from: Built-in Functions › max(iterable, *, key=None))"
    assert "[2] (from: Other page — Python 3.11.2 documentation)" in text
    # One document without headings (the article): numbers only.
    assert prompts.format_sources([_p("Peskov said so."), _p("He said more.")]) \
        == "[1]\nPeskov said so.\n\n[2]\nHe said more."
    # A section of one document is still named: it says what the passage is about.
    deep = replace(maxp, chunk=replace(maxp.chunk, heading="A › B › C"))
    assert prompts.format_sources([deep]).startswith("[1] (from: A › … › C)\n")


def test_asking_again_shows_only_the_chosen_passage_under_its_number():
    ps = [_p("One.", "a"), _p("Two.", "b")]
    [_, user] = prompts.build_messages("Q?", ps, only=(2,))
    assert "[2] (from: Title)\nTwo." in user["content"] and "One." not in user["content"]
