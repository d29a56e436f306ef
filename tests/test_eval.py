"""Metric functions with exact values, the shipped gold set checked against the article,
and a small gold file run end to end through `rag eval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import eval as ev
from rag.errors import RagError

from .conftest import ARTICLE, ROOT


def test_normalize_answer_ignores_case_quotes_spaces_articles():
    assert ev.normalize_answer("The  “Eagle\u00a0Partner”  exercise!") == "eagle partner exercise"
    assert ev.normalize_answer("Russia’s [1] guarantees") == "russias guarantees"


def test_exact_match_and_f1_exact_values():
    assert ev.exact_match("The Lachin corridor.", ["Lachin corridor"]) == 1.0
    assert ev.exact_match("Lachin", ["Lachin corridor"]) == 0.0
    # pred: {lachin, corridor, road} gold: {lachin, corridor} -> P=2/3, R=1, F1=0.8
    assert ev.token_f1("Lachin corridor road", ["Lachin corridor"]) == pytest.approx(0.8)
    assert ev.token_f1("nothing shared", ["Lachin corridor"]) == 0.0
    assert ev.token_f1("x", ["y", "x"]) == 1.0  # best over gold answers


def test_answer_contains_on_word_boundaries():
    assert ev.answer_contains("It lasts 10 days [2].", ["10 days"]) == 1.0
    assert ev.answer_contains("It lasts 110 days.", ["10 days"]) == 0.0
    assert ev.answer_contains("Moscow’s “clarifications” were requested", ["requested"]) == 1.0


def test_retrieval_scores_exact_values():
    passages = ["alpha beta", "gamma “delta”  epsilon", "zeta"]
    s = ev.retrieval_scores(['"delta" epsilon', "zeta", "missing"], passages)
    assert s == {"hit": 1.0, "mrr": 0.5, "evidence_recall": pytest.approx(2 / 3)}
    assert ev.retrieval_scores(["nowhere"], passages) == {"hit": 0.0, "mrr": 0.0,
                                                          "evidence_recall": 0.0}
    assert ev.retrieval_scores([], passages) == {}


P1 = "Russian presidential spokesman Dmitry Peskov said Russia cannot leave Armenia."
P2 = "The joint exercise Eagle Partner 2023 will start on September 11 and last 10 days."
P3 = "Zakharova said the rhetoric is on the verge of rudeness."


def test_citation_scores_exact_values():
    # Two sentences: the first supported by [1], the second cites [1][2], supported by [2]
    # alone; so [1] on the second sentence is irrelevant. Recall 2/2, precision 2/3.
    answer = ("Peskov said Russia cannot leave Armenia [1]. "
              "The exercise will start on September 11 [1][2].")
    s = ev.citation_scores(answer, [P1, P2, P3])
    assert (s["sentences"], s["supported_sentences"], s["citations"],
            s["relevant_citations"]) == (2, 2, 3, 2)
    assert s["citation_recall"] == 1.0 and s["citation_precision"] == pytest.approx(2 / 3)
    # A wrong citation and a marker to nowhere: nothing supported.
    s = ev.citation_scores("Peskov said Russia cannot leave Armenia [3][9].", [P1, P2, P3])
    assert s["citation_recall"] == 0.0 and s["citation_precision"] == 0.0
    # No citation at all: the sentence is unsupported, precision undefined.
    s = ev.citation_scores("Peskov said Russia cannot leave Armenia.", [P1])
    assert s["citation_recall"] == 0.0 and s["citation_precision"] is None


def test_citation_needed_jointly_counts_as_relevant():
    a = "Alpha Corp"
    b = "bought Beta Inc"
    s = ev.citation_scores("Alpha Corp bought Beta Inc [1][2].", [a, b])
    # Neither passage supports the sentence alone; together they do, and each is needed.
    assert s["citation_recall"] == 1.0 and s["citation_precision"] == 1.0


def test_citation_scores_read_names_from_the_passages_titles_and_headings():
    text = "There is new syntax := that assigns values to variables in an expression."
    answer = "New syntax in Python 3.8 assigns values to variables in an expression [1]."
    assert ev.citation_scores(answer, [text])["citation_recall"] == 0.0
    s = ev.citation_scores(answer, [text], abouts=["What’s New In Python 3.8"])
    assert s["citation_recall"] == 1.0 and s["citation_precision"] == 1.0


def _answer(text, abstained=False, cites=(), passages=(P1, P2)):
    return {"answer": text, "abstained": abstained, "answer_mode": "generated",
            "citations": [{"n": n} for n in cites],
            "passages": [{"text": p} for p in passages],
            "timings": {"retrieve_ms": 10.0, "generate_ms": 1000.0, "total_ms": 1010.0},
            "usage": {"prompt_tokens": 300, "completion_tokens": 20}}


def test_score_answer_and_aggregate_exact_values():
    ok = ev.GoldItem("a", "What did Peskov say?", ("cannot leave Armenia",), (P1,))
    wrong_cite = ev.GoldItem("b", "When does it start?", ("September 11",), (P2,))
    missing = ev.GoldItem("c", "Who?", ("Lavrov",), ("not in any passage",))
    unans = ev.GoldItem("u", "What did Macron say?", (), (), unanswerable=True)
    results = [
        ev.score_answer(ok, _answer("Peskov said Russia cannot leave Armenia [1].", cites=[1])),
        ev.score_answer(wrong_cite, _answer("It starts on September 11 [1].", cites=[1])),
        ev.score_answer(missing, _answer("The documents do not say.", abstained=True)),
        ev.score_answer(unans, _answer("The documents do not say.", abstained=True)),
    ]
    assert [r.failure for r in results] == [
        None, "right answer, but the citation points elsewhere",
        "abstained: retrieval missed the evidence", None]
    agg = ev.aggregate(results)
    assert agg["answer_contains"] == pytest.approx(2 / 3)
    assert agg["hit"] == pytest.approx(2 / 3) and agg["mrr"] == pytest.approx((1 + 0.5) / 3)
    assert agg["abstention_recall"] == 1.0 and agg["abstention_precision"] == 0.5
    assert agg["false_abstention_rate"] == pytest.approx(1 / 3)
    assert agg["citation_recall"] == 0.5  # 1 of the 2 answered questions fully supported
    assert agg["total_ms_p50"] == 1010.0 and agg["prompt_tokens_mean"] == 300
    checks = {k: ok for k, _, _, ok in ev.target_check(agg)}
    assert checks == {"answer_contains": False, "citation_recall": False,
                      "citation_precision": False, "abstention_recall": True,
                      "false_abstention_rate": False}


def test_percentiles():
    assert ev._percentile([1, 2, 3, 4], 0.5) == 2.5
    assert ev._percentile([10.0], 0.95) == 10.0
    assert ev._percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)


def test_parse_config():
    c = ev.parse_config("bm25:retrieval_mode=bm25,top_k=2")
    assert (c.name, c.overrides) == ("bm25", {"retrieval_mode": "bm25", "top_k": "2"})
    assert ev.parse_config("top_k=3").name == "top_k=3"
    with pytest.raises(RagError, match="KEY=VALUE"):
        ev.parse_config("nonsense")


def test_gold_file_errors(tmp_path: Path):
    bad = tmp_path / "g.jsonl"
    bad.write_text('{"id": "1", "question": "q", "answers": ["a"]}\n{"id": "1"}\n')
    with pytest.raises(RagError, match=r"g.jsonl:2"):
        ev.load_gold(bad)
    bad.write_text('{"id": "1", "question": "q", "answers": []}\n')
    with pytest.raises(RagError, match="no answers"):
        ev.load_gold(bad)


def test_shipped_gold_set_is_checked_against_the_article():
    items = ev.load_gold(ev.DEFAULT_GOLD)
    article = ARTICLE.read_text()
    assert len(items) >= 40
    unanswerable = [i for i in items if i.unanswerable]
    assert len(unanswerable) >= 6
    for item in items:
        for quote in item.evidence:  # verbatim, up to case, spaces and quote style
            assert ev.contains_text(article, quote), (item.id, quote)
        if not item.unanswerable:
            assert item.evidence, item.id
            # Some gold answer is in the article, so a grounded answer can contain it.
            assert any(ev.normalize_answer(a) in ev.normalize_answer(article)
                       for a in item.answers), item.id
    speakers = {"Peskov", "Zakharova", "Pashinyan", "Simonyan", "Kochinyan", "Khurshudyan",
                "Arshakyan", "Hakobyan", "Biyagov", "Gabrielyanov"}
    asked = " ".join(i.question for i in items)
    assert {s for s in speakers if s in asked} == speakers
    # The questions touch the whole article: evidence from its start to its end.
    positions = [ev.normalize_answer(article).find(ev.normalize_answer(e))
                 for i in items for e in i.evidence]
    assert min(positions) < 0.1 * len(article) and max(positions) > 0.9 * len(
        ev.normalize_answer(article))


@pytest.mark.integration
def test_rag_eval_end_to_end(tmp_path: Path):
    gold = tmp_path / "small.jsonl"
    lines = [json.loads(x) for x in ev.DEFAULT_GOLD.read_text().splitlines()]
    small = [x for x in lines if x["id"] in {"q02", "q12", "q27", "u01"}]
    gold.write_text("\n".join(json.dumps(x) for x in small) + "\n")
    out = tmp_path / "report"
    docs = tmp_path / "documents"
    docs.mkdir()
    (docs / ARTICLE.name).write_text(ARTICLE.read_text())
    env = {**os.environ, "RAG_DOCUMENTS_DIR": str(docs), "RAG_INDEX_DIR": str(tmp_path / "i"),
           "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "rag", "eval", str(gold), "--out", str(out),
                        "--compare", "bm25:retrieval_mode=bm25"], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "contains" in r.stdout and "bm25" in r.stdout and "default" in r.stdout
    report = json.loads((out / "report.json").read_text())
    assert [run["name"] for run in report["runs"]] == ["default", "bm25"]
    default = report["runs"][0]
    assert default["aggregate"]["questions"] == 4
    assert default["aggregate"]["abstention_recall"] == 1.0
    assert default["aggregate"]["hit"] == 1.0
    assert {q["id"] for q in default["questions"]} == {"q02", "q12", "q27", "u01"}
    assert (out / "report.md").read_text().startswith("# Evaluation report")
    png = (out / "metrics.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_contained_answers_in_code_are_whole_words():
    # A dotted name holds its tails; brackets and quotes separate words.
    assert ev.answer_contains("exception dataclasses.FrozenInstanceError Raised when",
                              ["FrozenInstanceError"]) == 1.0
    assert ev.answer_contains("assertCountEqual(a, b) compares counts", ["assertCountEqual"]) \
        == 1.0
    assert ev.answer_contains("use the `action='store_true'` argument", ["store_true"]) == 1.0
    # A version is not a part of a longer one, a number not a part of "start=1".
    assert ev.answer_contains("It was added in Python 3.11.2.", ["3.11"]) == 0.0
    assert ev.answer_contains("math.prod(iterable, *, start=1)", ["1"]) == 0.0
    assert ev.answer_contains("use asyncio.timeout_at()", ["asyncio.timeout"]) == 0.0
    assert ev.normalize_answer("Russia’s [1] guarantees") == "russias guarantees"
