"""Evaluation against gold answers: retrieval, answers, citations (after ALCE), abstention
and cost, per question and aggregated, for one configuration or several.

Run it as `rag eval GOLD.jsonl` or `python -m rag eval GOLD.jsonl`. Deterministic: greedy
decoding, and a lexical support checker (rag.citations.support) in place of the NLI model
ALCE uses, since none is available offline.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .citations import SUPPORT_THRESHOLD, assess, split_cited, support
from .errors import RagError
from .files import atomic_write_text, atomic_writer
from .progress import SILENT, Reporter
from .report import markdown_table
from .text import normalize
from .types import about as passage_about

if TYPE_CHECKING:
    from .config import Settings
    from .pipeline import Pipeline

DEFAULT_GOLD = Path(__file__).parent / "gold" / "jamnews-2023-09-07-armenia-russia.jsonl"

TARGETS = {  # the default configuration's targets on the shipped gold set
    "answer_contains": 0.90,
    "citation_recall": 0.90,
    "citation_precision": 0.90,
    "abstention_recall": 1.0,
    "false_abstention_rate": 0.0,
}


# --- gold data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    unanswerable: bool = False


def load_gold(path: Path) -> list[GoldItem]:
    """Read a JSON-lines gold file; a malformed line is an error naming the line."""
    if not path.is_file():
        raise RagError(f"No gold file at {path}")
    items: list[GoldItem] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            item = GoldItem(id=str(d["id"]), question=str(d["question"]),
                            answers=tuple(d.get("answers") or ()),
                            evidence=tuple(d.get("evidence") or ()),
                            unanswerable=bool(d.get("unanswerable", False)))
        except (ValueError, KeyError, TypeError) as e:
            raise RagError(f"{path}:{n}: not a gold item ({e}); each line needs "
                           '{"id", "question", "answers": [...], "evidence": [...]}') from e
        if item.id in seen:
            raise RagError(f"{path}:{n}: duplicate id {item.id!r}")
        if not item.unanswerable and not item.answers:
            raise RagError(f"{path}:{n}: {item.id} has no answers (or mark it unanswerable)")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise RagError(f"{path} holds no gold items")
    return items


# --- matching and answer metrics --------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# Punctuation is deleted, as SQuAD does ("U.S." is "us", "3.11" is "311"), except marks
# that stand between words (brackets, quotes, commas), which become spaces:
# "assertCountEqual(a, b)" holds the word "assertcountequal", not "assertcountequala".
_SEPARATORS = "()[]{}<>,;:!?\"'`/|“”‘’«»…–—"
_PUNCT = str.maketrans({c: " " if c in _SEPARATORS else None
                        for c in string.punctuation + "“”‘’«»…–—"})


def normalize_answer(text: str) -> str:
    """SQuAD-style: case, quotes, whitespace (non-breaking too), punctuation, articles."""
    text = re.sub(r"\[\d+\]", " ", normalize(text))
    text = re.sub(r"(?<=\w)['’](?=\w)", "", text).translate(_PUNCT)  # "russia's": "russias"
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_text(haystack: str, needle: str) -> bool:
    """Containment that ignores case, runs of whitespace and curly vs straight quotes."""
    return normalize(needle) in normalize(haystack)


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(a) for a in answers))


_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def _dotted_tails(text: str) -> list[str]:
    """The tails of the dotted names in ``text``, normalized: "a.b.c" gives "bc" and "c"."""
    out = []
    for m in _DOTTED.finditer(text):
        parts = m.group().split(".")
        out += [normalize_answer(".".join(parts[i:])) for i in range(1, len(parts))]
    return out


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best token-overlap F1 of the prediction against any gold answer."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for a in answers:
        gold = normalize_answer(a).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if not common:
            continue
        precision, recall = common / len(pred), common / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def answer_contains(prediction: str, answers: Sequence[str]) -> float:
    """Whether a gold answer stands in the prediction as whole words; a dotted name's tails
    count as words too ("dataclasses.FrozenInstanceError" holds "FrozenInstanceError",
    which deleting the dot would glue to "dataclasses")."""
    p = f" {normalize_answer(prediction)} {' '.join(_dotted_tails(prediction))} "
    return float(any(f" {normalize_answer(a)} " in p for a in answers if normalize_answer(a)))


# --- retrieval metrics -------------------------------------------------------------------------


def retrieval_scores(evidence: Sequence[str], passages: Sequence[str]) -> dict[str, float]:
    """hit@k (some evidence in some passage), MRR (first passage holding evidence), recall
    (share of evidence quotes found in the passages)."""
    if not evidence:
        return {}
    found = [any(contains_text(p, e) for p in passages) for e in evidence]
    rank = next((i for i, p in enumerate(passages, 1)
                 if any(contains_text(p, e) for e in evidence)), None)
    return {"hit": float(any(found)), "mrr": 1.0 / rank if rank else 0.0,
            "evidence_recall": sum(found) / len(found)}


# --- citation metrics (ALCE, with a lexical support checker) ------------------------------------


def citation_scores(answer: str, passages: Sequence[str], question: str = "",
                    abouts: Sequence[str] = ()) -> dict[str, Any]:
    """Citation recall and precision after ALCE (Gao et al., 2023).

    Recall: the share of answer sentences that their cited passages, together, support.
    Precision: the share of citations that are not irrelevant; a citation is irrelevant when
    it does not support its sentence alone and the others support the sentence without it.
    Markers pointing at no passage count as citations that support nothing.
    Support is rag.citations.assess, the checker the live answers pass: the claim (not its
    frame: "According to X,") must be in the cited passages, said the same way.
    Contradiction: some sentence's cited passages say its claim with the other polarity
    ("does not believe") or modality ("will probably be" for "was").
    ``abouts``: each passage's title and headings (Passage.about), as the checker has them.
    """
    def about(numbers: Sequence[int]) -> str:
        return "\n".join(abouts[n - 1] for n in numbers if 1 <= n <= len(abouts))

    def _supported(sentence: str, numbers: Sequence[int]) -> bool:
        texts = [passages[n - 1] for n in numbers]
        return bool(texts) and support(sentence, "\n".join(texts), question,
                                       about(numbers)) >= SUPPORT_THRESHOLD

    sentences = split_cited(answer)
    supported_sentences = contradicted = 0
    relevant = total = 0
    for s in sentences:
        cited = [passages[n - 1] for n in s.cites if 1 <= n <= len(passages)]
        verdict = (assess(s.text, "\n".join(cited), question, about(s.cites)) if cited
                   else None)
        ok = bool(verdict and verdict.supported)
        contradicted += bool(verdict and verdict.reason in ("polarity", "modality"))
        supported_sentences += ok
        for n in s.cites:
            total += 1
            if not 1 <= n <= len(passages):
                continue
            alone = _supported(s.text, [n])
            others = [m for m in s.cites if m != n and 1 <= m <= len(passages)]
            if alone or (ok and not _supported(s.text, others)):
                relevant += 1
    return {"sentences": len(sentences), "supported_sentences": supported_sentences,
            "contradicted_sentences": contradicted,
            "contradiction": float(contradicted > 0) if sentences else None,
            "citations": total, "relevant_citations": relevant,
            "citation_recall": supported_sentences / len(sentences) if sentences else None,
            "citation_precision": relevant / total if total else None}


# --- running ------------------------------------------------------------------------------------


@dataclass
class QuestionResult:
    id: str
    question: str
    unanswerable: bool
    answer: str
    abstained: bool
    answer_mode: str
    scores: dict[str, Any]
    timings: dict[str, float]
    usage: dict[str, int]
    cited: list[int]
    failure: str | None = None  # why a wrong answer was wrong
    warnings: list[str] = field(default_factory=list)  # what the answer's checks changed
    # What the answer was judged from, so a checker change can be re-scored without the
    # model: the model's own words and the passages it was given.
    raw_answer: str = ""
    standalone_question: str = ""
    passages: list[dict[str, Any]] = field(default_factory=list)


def score_answer(item: GoldItem, answer: dict[str, Any]) -> QuestionResult:
    """Score one answer (the `rag ask --json` object) against its gold item."""
    passages = [p["text"] for p in answer["passages"]]
    scores: dict[str, Any] = {}
    scores.update(retrieval_scores(item.evidence, passages))
    if not item.unanswerable:
        scores["exact_match"] = exact_match(answer["answer"], item.answers)
        scores["token_f1"] = token_f1(answer["answer"], item.answers)
        scores["answer_contains"] = answer_contains(answer["answer"], item.answers)
    if not answer["abstained"]:
        asked = answer.get("standalone_question") or item.question
        abouts = [passage_about(p.get("title", ""), p.get("heading", ""))
                  for p in answer["passages"]]
        scores.update(citation_scores(answer["answer"], passages, asked, abouts))
    result = QuestionResult(
        id=item.id, question=item.question, unanswerable=item.unanswerable,
        answer=answer["answer"], abstained=answer["abstained"],
        answer_mode=answer.get("answer_mode", ""), scores=scores,
        timings=dict(answer["timings"]), usage=dict(answer.get("usage", {})),
        cited=[c["n"] for c in answer["citations"]], warnings=list(answer.get("warnings", [])),
        raw_answer=answer.get("raw_answer", ""),
        standalone_question=answer.get("standalone_question", ""),
        passages=[{k: p[k] for k in ("n", "doc_id", "chunk_id", "title", "heading", "start",
                                     "end", "score", "text") if k in p}
                  for p in answer["passages"]])
    result.failure = diagnose(item, answer, scores)
    return result


def diagnose(item: GoldItem, answer: dict[str, Any], scores: dict[str, Any]) -> str | None:
    """Name what went wrong, in the terms of the pipeline's stages."""
    if item.unanswerable:
        return None if answer["abstained"] else "answered a question the documents cannot answer"
    if answer["abstained"]:
        if not scores.get("hit"):
            return "abstained: retrieval missed the evidence"
        return "abstained although the evidence was retrieved"
    if not scores.get("answer_contains"):
        if not scores.get("hit"):
            return "wrong answer: retrieval missed the evidence"
        return "wrong answer: the model ignored the retrieved evidence"
    cited_texts = [answer["passages"][n - 1]["text"] for n in
                   (c["n"] for c in answer["citations"]) if n <= len(answer["passages"])]
    if item.evidence and not any(contains_text(t, e) for t in cited_texts for e in item.evidence):
        return "right answer, but the citation points elsewhere"
    if (scores.get("citation_recall") or 0) < 1 or (scores.get("citation_precision") or 0) < 1:
        return "right answer, citations not fully supporting"
    return None


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def aggregate(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Means over questions; abstention precision/recall; latency percentiles; tokens."""
    answerable = [r for r in results if not r.unanswerable]
    unanswerable = [r for r in results if r.unanswerable]
    abstained = [r for r in results if r.abstained]
    answered = [r for r in results if not r.abstained]
    agg: dict[str, Any] = {"questions": len(results), "answerable": len(answerable),
                           "unanswerable": len(unanswerable)}
    for key in ("hit", "mrr", "evidence_recall", "exact_match", "token_f1", "answer_contains"):
        agg[key] = _mean([r.scores.get(key) for r in answerable])
    # Citation scores over every non-abstained answer, as ALCE pools sentences per answer.
    agg["citation_recall"] = _mean([r.scores.get("citation_recall") for r in answered])
    agg["citation_precision"] = _mean([r.scores.get("citation_precision") for r in answered])
    agg["contradiction_rate"] = _mean([r.scores.get("contradiction") for r in answered])
    true_abstentions = sum(1 for r in unanswerable if r.abstained)
    agg["abstention_precision"] = true_abstentions / len(abstained) if abstained else None
    agg["abstention_recall"] = (true_abstentions / len(unanswerable)) if unanswerable else None
    agg["false_abstention_rate"] = (sum(1 for r in answerable if r.abstained) / len(answerable)
                                    if answerable else None)
    for key in ("retrieve_ms", "generate_ms", "total_ms"):
        vals = [r.timings[key] for r in results if key in r.timings]
        agg[f"{key}_p50"] = _percentile(vals, 0.5)
        agg[f"{key}_p95"] = _percentile(vals, 0.95)
    for key in ("prompt_tokens", "completion_tokens", "cached_tokens"):
        vals = [r.usage[key] for r in results if key in r.usage]
        agg[f"{key}_mean"] = statistics.fmean(vals) if vals else None
    # What the model had to read per answer: the prompt less its cached prefix.
    read = [r.usage["prompt_tokens"] - r.usage.get("cached_tokens", 0) for r in results
            if "prompt_tokens" in r.usage]
    agg["read_tokens_mean"] = statistics.fmean(read) if read else None
    agg["failures"] = Counter(r.failure for r in results if r.failure)
    agg["failures"] = dict(agg["failures"])
    return agg


def run(pipeline: Pipeline, items: Sequence[GoldItem],
        progress: Callable[[QuestionResult], None] | None = None) -> list[QuestionResult]:
    """Ask every gold question (each on its own, no history) and score the answers."""
    results = []
    for item in items:
        answer = pipeline.ask(item.question).to_dict()
        result = score_answer(item, answer)
        results.append(result)
        if progress:
            progress(result)
    return results


# --- configurations --------------------------------------------------------------------------


@dataclass
class Config:
    name: str
    overrides: dict[str, Any] = field(default_factory=dict)


def parse_config(spec: str) -> Config:
    """'top_k=2' or 'bm25:retrieval_mode=bm25' or 'small:model=smollm2-135m,top_k=3'."""
    name, _, body = spec.partition(":") if ":" in spec.split("=", 1)[0] else ("", "", spec)
    overrides: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise RagError(f"--compare {spec!r}: expected KEY=VALUE[,KEY=VALUE], like top_k=2")
        overrides[key.strip().replace("-", "_")] = value.strip()
    return Config(name or body, overrides)


def evaluate(settings, items: Sequence[GoldItem], configs: Sequence[Config],
             progress_factory=None, reporter: Reporter = SILENT) -> list[dict[str, Any]]:
    """Run each configuration; one index folder per chunking/embedding, shared models."""
    from .embedding import load_embedder
    from .generation import load_generator
    from .pipeline import Pipeline

    runs = []
    embedders: dict[str, Any] = {}
    generators: dict[tuple, Any] = {}
    for config in configs:
        try:
            s = settings.with_overrides(**config.overrides)
        except ValueError as e:
            raise RagError(f"Configuration {config.name!r}: {e}") from e
        # One index folder per corpus, embedding model and chunking.
        key = f"{Path(s.documents_dir).name}-{s.embedding_model}-{s.chunk_size}-{s.chunk_overlap}"
        s = s.with_overrides(index_dir=settings.index_dir / "eval" / _slug(key))
        if s.embedding_model not in embedders:
            embedders[s.embedding_model] = load_embedder(s)
        gkey = (s.model, s.n_ctx, s.n_threads, s.temperature)
        if gkey not in generators:
            generators[gkey] = load_generator(s, reporter)
        pipeline = Pipeline(s, embedder=embedders[s.embedding_model], generator=generators[gkey],
                            reporter=reporter)
        pipeline.index  # noqa: B018 - build before timing the questions
        progress = progress_factory(config, len(items)) if progress_factory else None
        results = run(pipeline, items, progress)
        runs.append({"name": config.name, "overrides": config.overrides,
                     "settings": _settings_summary(s), "model": pipeline.generator.name,
                     "aggregate": aggregate(results),
                     "questions": [asdict(r) for r in results]})
    return runs


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:80]


def _settings_summary(s: Settings) -> dict[str, Any]:
    keys = ("model", "embedding_model", "retrieval_mode", "context", "top_k", "chunk_size",
            "chunk_overlap", "n_ctx", "n_threads", "max_tokens", "temperature")
    out = {k: getattr(s, k) for k in keys}
    out["documents"] = str(s.documents_dir)
    # Where a fetched corpus came from (scripts/fetch-pydocs.sh writes it beside the folder).
    source = Path(s.documents_dir).with_name(Path(s.documents_dir).name + ".source")
    if source.is_file():
        out["documents_source"] = source.read_text(encoding="utf-8").strip()
    return out


# --- reports ---------------------------------------------------------------------------------

TABLE_COLUMNS = [  # (key, header, kind)
    ("hit", "hit@k", "pct"), ("mrr", "MRR", "num"), ("evidence_recall", "ev.recall", "pct"),
    ("answer_contains", "contains", "pct"), ("exact_match", "EM", "pct"),
    ("token_f1", "F1", "pct"), ("citation_recall", "cit.recall", "pct"),
    ("citation_precision", "cit.prec", "pct"), ("contradiction_rate", "contra.", "pct"),
    ("abstention_recall", "abst.recall", "pct"),
    ("abstention_precision", "abst.prec", "pct"),
    ("false_abstention_rate", "false abst.", "pct"),
    ("total_ms_p50", "p50 s", "sec"), ("total_ms_p95", "p95 s", "sec"),
    ("prompt_tokens_mean", "prompt tok", "int"), ("read_tokens_mean", "read tok", "int"),
]


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:.0f}%"
    if kind == "sec":
        return f"{value / 1000:.1f}"
    if kind == "int":
        return f"{value:.0f}"
    return f"{value:.2f}"


def runs_table(runs: Sequence[dict[str, Any]]) -> str:
    """The configurations' aggregate scores, one row each, as a markdown table."""
    headers = ["configuration", *(h for _, h, _ in TABLE_COLUMNS)]
    rows = [[r["name"], *(fmt(r["aggregate"].get(k), kind) for k, _, kind in TABLE_COLUMNS)]
            for r in runs]
    return markdown_table(headers, rows)


def target_check(agg: dict[str, Any]) -> list[tuple[str, float, float | None, bool]]:
    out = []
    for key, target in TARGETS.items():
        value = agg.get(key)
        ok = value is not None and (value <= target if key == "false_abstention_rate"
                                    else value >= target)
        out.append((key, target, value, ok))
    return out


def write_reports(runs: Sequence[dict[str, Any]], out: Path, gold: Path,
                  command: str) -> list[Path]:
    """DIR/report.json, DIR/report.md and DIR/metrics.png, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    report = {"gold": str(gold), "command": command, "targets": TARGETS, "runs": list(runs)}
    paths = [out / "report.json", out / "report.md", out / "metrics.png"]
    atomic_write_text(paths[0], json.dumps(report, ensure_ascii=False, indent=2, default=str))
    atomic_write_text(paths[1], _markdown_report(runs, gold, command))
    _chart(runs, paths[2])
    return paths


def _markdown_report(runs: Sequence[dict[str, Any]], gold: Path, command: str) -> str:
    lines = ["# Evaluation report", "", f"Gold set: `{gold.name}` "
             f"({runs[0]['aggregate']['questions']} questions). Command: `{command}`", "",
             runs_table(runs), ""]
    base = runs[0]
    targets = [[key, fmt(target, "pct"), fmt(value, "pct"), "yes" if ok else "no"]
               for key, target, value, ok in target_check(base["aggregate"])]
    lines += [f"## Targets ({base['name']})", "",
              markdown_table(["metric", "target", "value", "met"], targets)]
    for r in runs:
        failed = [q for q in r["questions"] if q["failure"]]
        lines += ["", f"## Questions that failed ({r['name']}): {len(failed)}", ""]
        if failed:
            rows = [[f"{q['id']}", f"{q['question']}", f"{q['failure']}",
                     q["answer"].replace("|", "\\|").replace("\n", " ")[:160]] for q in failed]
            lines.append(markdown_table(["id", "question", "why", "answer"], rows))
    for r in runs:
        changes = [[q["id"], w.replace("|", "\\|").replace("\n", " ")]
                   for q in r["questions"] for w in q.get("warnings", [])
                   if any(k in w for k in ("re-pointed", "removed", "withheld", "supported",
                                           "answered with a sentence", "says it otherwise"))]
        lines += ["", f"## What the citation checks changed ({r['name']}): {len(changes)}", ""]
        if changes:
            lines.append(markdown_table(["id", "change"], changes))
    lines += ["", "Settings per configuration:", ""]
    for r in runs:
        lines.append(f"- **{r['name']}**: " + ", ".join(f"{k}={v}"
                                                        for k, v in r["settings"].items()))
    return "\n".join(lines) + "\n"


def _chart(runs: Sequence[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("hit", "evidence hit@k"), ("answer_contains", "answer contained"),
            ("token_f1", "token F1"), ("citation_recall", "citation recall"),
            ("citation_precision", "citation precision"),
            ("abstention_recall", "abstention recall"),
            ("false_abstention_rate", "false abstention")]
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(keys)) + 2.5, 4.5), dpi=110)
    width = 0.8 / len(runs)
    for i, r in enumerate(runs):
        vals = [100 * (r["aggregate"].get(k) or 0) for k, _ in keys]
        xs = [j + i * width for j in range(len(keys))]
        bars = ax.bar(xs, vals, width, label=r["name"])
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    for j, (k, _) in enumerate(keys):
        if k in TARGETS:
            t = 100 * TARGETS[k]
            ax.hlines(t, j - 0.1, j + 0.8, colors="black", linestyles="dashed", linewidth=0.8)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))], [n for _, n in keys],
                  rotation=20, ha="right")
    ax.set_ylim(0, 110)
    ax.set_ylabel("% of questions (dashed: target)")
    ax.set_title("rag eval: main metrics")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    with atomic_writer(path) as f:
        fig.savefig(f, format="png")
    plt.close(fig)
