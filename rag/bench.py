"""`rag bench`: the project measured against the bare libraries it is built on.

One run measures six things on the same inputs and writes BENCHMARKS.md:

1. answer latency of ``Pipeline.ask`` against bare llama-cpp-python on the identical
   final prompt(s), with the same settings and the same KV-cache start;
2. the context budget: prompt tokens, latency and evaluation scores with whole chunks
   and with the question's sentences only, and with and without the reused KV prefix;
3. indexing throughput of ``rag index`` against bare ``SentenceTransformer.encode`` on
   the same chunks, and re-indexing after one document of many changes;
4. vector search at 10k / 100k / 1M synthetic chunks, exact and auto-chosen index;
5. cold start of ``rag ask`` in a new process, minus the model's own prompt evaluation;
6. ``rag serve`` under concurrent clients on loopback;
7. the same load with the model in process and on an OpenAI-compatible server
   (``rag llm-server``), on the same machine;
8. scale: a cold start over a 1M-chunk corpus (FAISS with BM25 loaded from disk, and
   Qdrant), with texts, not only vectors.

Every timing is the median of several runs, with the spread (min-max) beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import Settings
from .files import atomic_write_text
from .report import markdown_table

if TYPE_CHECKING:
    from .generation import Generator, LlamaCppGenerator, Messages

Say = Callable[[str], None]
PARTS = ("answer", "context", "indexing", "retrieval", "cold", "server", "backends",
         "scale")  # in run order
# Run only when asked for by name, with a folder: `rag bench --part corpus --corpus DIR`.
EXTRA_PARTS = ("corpus",)


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the raw numbers, for the JSON

    def markdown(self) -> str:
        # The first column names the row; the others hold numbers, aligned right.
        align = ["right" if i else None for i in range(len(self.columns))]
        lines = [f"## {self.title}", "", markdown_table(self.columns, self.rows, align)]
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Plan:
    """How much each part measures. ``QUICK`` checks every ratio in under two minutes."""

    quick: bool
    model: str | None  # None: the configured model
    max_tokens: int | None  # None: the configured answer length
    questions: int  # gold questions timed against the bare model
    reps: int  # timed runs per measurement
    eval_limit: int | None  # gold questions scored per context configuration
    index_docs: int  # copies of the article indexed
    sizes: tuple[int, ...]  # synthetic corpus sizes for vector search
    exact_max: int | None  # None: the configured threshold
    search_queries: int
    cold_runs: int
    load_levels: tuple[tuple[int, int, int], ...]  # (clients, requests each, max waiting)
    backend_load: tuple[int, int] = (4, 4)  # (clients, requests each), both backends
    scale_chunks: int = 1_000_000  # chunks of the cold-start corpus (part 8)


FULL = Plan(quick=False, model=None, max_tokens=None, questions=12, reps=3, eval_limit=None,
            index_docs=30,
            sizes=(10_000, 100_000, 1_000_000), exact_max=None, search_queries=300,
            cold_runs=5, load_levels=((4, 4, 8), (12, 2, 4)))
QUICK = Plan(quick=True, model="smollm2-135m", max_tokens=96, questions=2, reps=2,
             eval_limit=3, index_docs=3, sizes=(2_000, 20_000), exact_max=5_000, search_queries=50,
             cold_runs=2, load_levels=((3, 1, 8), (6, 1, 1)), backend_load=(2, 1),
             scale_chunks=5_000)


# --- helpers ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float], unit: str = "", digits: int = 2) -> str:
    """'median (min-max)' of several runs."""
    if not values:
        return "-"
    m, lo, hi = median(values), min(values), max(values)
    if len(values) == 1:
        return f"{m:.{digits}f}{unit}"
    return f"{m:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal")) / 1024 / 1024
        memory = f"{mem:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "?"
    versions = {}
    for pkg in ("llama_cpp_python", "sentence_transformers", "faiss_cpu", "torch", "numpy"):
        try:
            from importlib.metadata import version

            versions[pkg] = version(pkg.replace("_", "-"))
        except Exception:  # a missing package is reported as such
            versions[pkg] = "not installed"
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": memory,
            "python": platform.python_version(), "os": platform.platform(),
            **versions}


def _gold_questions(limit: int) -> list[str]:
    """The first ``limit`` answerable gold questions the model is asked (no pre-check
    abstention), so every one is a fair model-vs-pipeline comparison."""
    from .eval import DEFAULT_GOLD, load_gold

    return [g.question for g in load_gold(DEFAULT_GOLD) if not g.unanswerable][: limit * 2]


class _Recorder:
    """Wraps a generator's ``pieces`` to keep the messages of every model call, and the
    time spent inside the model."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.calls: list[tuple[list[dict[str, str]], int]] = []
        self.model_s = 0.0
        self._pieces = generator.pieces
        generator.pieces = self._record  # type: ignore[method-assign]

    def clear(self) -> None:
        self.calls.clear()
        self.model_s = 0.0

    def _record(self, messages: Messages, max_tokens: int = 256,
                cancel: threading.Event | None = None) -> Iterator[str]:
        self.calls.append(([dict(m) for m in messages], max_tokens))
        pieces = self._pieces(messages, max_tokens, cancel)
        try:
            while True:
                t0 = time.perf_counter()
                try:
                    piece = next(pieces)
                except StopIteration:
                    return
                finally:
                    self.model_s += time.perf_counter() - t0
                yield piece
        finally:
            pieces.close()


class BareModel:
    """llama-cpp-python on its own: the pipeline's own ``Llama`` object (same weights in
    memory, settings and sampling), called directly, with no pipeline code around it."""

    def __init__(self, generator: LlamaCppGenerator) -> None:
        self.llm = generator.llm
        self.temperature = generator.temperature
        self.seed = generator.seed
        self.prefix: list[int] = []

    def keep_prefix(self, prefix: list[int]) -> None:
        """Start every call from the same evaluated prefix as the pipeline's model does
        (llama-cpp-python reuses the longest common prefix of consecutive prompts). The
        pipeline cuts the cache back to the same prefix before each of its calls."""
        self.llm.reset()
        if prefix:
            self.llm.eval(prefix)
        self.prefix = list(prefix)

    def call(self, messages: list[dict[str, str]], max_tokens: int,
             from_scratch: bool = False) -> dict[str, float]:
        if from_scratch:
            self.llm.reset()
        else:
            self.llm.n_tokens = len(self.prefix)
        t0 = time.perf_counter()
        first = None
        completion = 0
        for chunk in self.llm.create_chat_completion(
                messages=messages, stream=True, max_tokens=max_tokens,
                temperature=self.temperature, top_k=1 if self.temperature == 0 else 40,
                seed=self.seed, repeat_penalty=1.0):
            if chunk["choices"][0]["delta"].get("content"):
                completion += 1
                if first is None:
                    first = time.perf_counter()
        end = time.perf_counter()
        return {"total_s": end - t0, "ttft_s": (first or end) - t0,
                "prompt_tokens": int(self.llm.n_tokens) - completion,
                "completion_tokens": completion}

    def prompt_eval_s(self, messages: list[dict[str, str]]) -> float:
        """Seconds to evaluate the whole prompt from an empty cache (and pick one token)."""
        return self.call(messages, 1, from_scratch=True)["ttft_s"]


# --- 1. answer latency --------------------------------------------------------------------


def _answer_runs(settings: Settings, plan: Plan, say: Say) -> dict[str, Any]:
    """Time ``ask`` and the bare model on the same prompts; shared by parts 1, 2 and 5."""
    from .pipeline import Pipeline

    pipe = Pipeline(settings)
    gen = pipe.generator
    recorder = _Recorder(gen)
    bare = BareModel(gen)
    questions: list[str] = []
    for q in _gold_questions(plan.questions):  # keep those that reach the model
        recorder.clear()
        pipe.ask(q)
        if recorder.calls:
            questions.append(q)
        if len(questions) == plan.questions:
            break
    prefix = gen._shared_prefix(recorder.calls[0][0]) if recorder.calls else []
    bare.keep_prefix(prefix)
    runs: list[dict[str, Any]] = []
    for rep in range(plan.reps):
        for q in questions:
            # Alternate which goes first, so neither always runs on a warmer machine.
            bare_first = rep % 2 == 1
            if bare_first and any(r["question"] == q for r in runs):
                prev = next(r for r in runs if r["question"] == q)
                bare_runs = [bare.call(m, n) for m, n in prev["calls"]]
            recorder.clear()
            first: list[float] = []
            t0 = time.perf_counter()
            for event in pipe.stream(q):
                if not first and isinstance(event, str):
                    first.append(time.perf_counter())
                answer = event
            ours = time.perf_counter() - t0
            calls = list(recorder.calls)
            if not bare_first or not any(r["question"] == q for r in runs):
                bare_runs = [bare.call(m, n) for m, n in calls]
            runs.append({
                "question": q, "rep": rep, "ours_s": ours,
                "ours_ttft_s": (first[0] - t0) if first else ours,
                "outside_model_ms": (ours - recorder.model_s) * 1000,
                "bare_s": sum(b["total_s"] for b in bare_runs),
                "bare_ttft_s": bare_runs[0]["ttft_s"],
                "prompt_tokens": sum(b["prompt_tokens"] for b in bare_runs),
                "completion_tokens": sum(b["completion_tokens"] for b in bare_runs),
                "ours_prompt_tokens": answer.usage.get("prompt_tokens", 0),
                "model_calls": len(calls), "messages": calls[0][0], "calls": calls,
            })
        say(f"  answer latency: round {rep + 1}/{plan.reps} done")
    return {"pipeline": pipe, "bare": bare, "runs": runs, "prefix_tokens": len(prefix),
            "questions": questions}


def bench_answers(settings: Settings, plan: Plan, say: Say,
                  shared: dict[str, Any] | None = None) -> Table:
    data = shared or _answer_runs(settings, plan, say)
    runs = data["runs"]
    t = Table("answer", "1. Answer latency: `ask` against bare llama-cpp-python",
              ["question", "ask (s)", "bare model (s)", "ratio", "outside the model (ms)",
               "TTFT ask / bare (s)", "prompt / completion tokens"])
    for q in data["questions"]:
        mine = [r for r in runs if r["question"] == q]
        ratio = [r["ours_s"] / r["bare_s"] for r in mine]
        t.rows.append([q[:60], spread([r["ours_s"] for r in mine]),
                       spread([r["bare_s"] for r in mine]), spread(ratio, "×", 3),
                       spread([r["outside_model_ms"] for r in mine], digits=0),
                       f"{median([r['ours_ttft_s'] for r in mine]):.2f} / "
                       f"{median([r['bare_ttft_s'] for r in mine]):.2f}",
                       f"{mine[0]['prompt_tokens']} / {mine[0]['completion_tokens']}"])
    ours_total = sum(r["ours_s"] for r in runs)
    bare_total = sum(r["bare_s"] for r in runs)
    overall = ours_total / bare_total if bare_total else float("nan")
    per_rep = [sum(r["ours_s"] for r in runs if r["rep"] == k)
               / sum(r["bare_s"] for r in runs if r["rep"] == k) for k in range(plan.reps)]
    t.rows.append(["**all questions**", f"{ours_total / len(runs):.2f} mean",
                   f"{bare_total / len(runs):.2f} mean", f"**{overall:.3f}×**",
                   f"{median([r['outside_model_ms'] for r in runs]):.0f} median",
                   f"{median([r['ours_ttft_s'] for r in runs]):.2f} / "
                   f"{median([r['bare_ttft_s'] for r in runs]):.2f}",
                   f"{median([r['prompt_tokens'] for r in runs]):.0f} / "
                   f"{median([r['completion_tokens'] for r in runs]):.0f} median"])
    t.notes += [
        f"{len(data['questions'])} gold questions × {plan.reps} rounds, model "
        f"{data['pipeline'].generator.name}; each cell is the median (min-max) of the rounds.",
        "The bare call is `Llama.create_chat_completion` on the exact messages `ask` sent "
        "(every call, when `ask` retried), on the pipeline's own `Llama` object (same "
        "weights, threads, context, greedy sampling), starting like the pipeline from the "
        f"evaluated {data['prefix_tokens']}-token chat template prefix.",
        f"Overhead = time of `ask` ÷ time of the bare call(s); target ≤ 1.05. Per round: "
        f"{', '.join(f'{x:.3f}' for x in per_rep)}.",
        "`ask` includes retrieval (query embedding, FAISS, BM25), context selection, prompt "
        "building and the citation checks; TTFT is from the call to the first token. "
        "'Outside the model' is the part of `ask` not spent inside the model call(s), "
        "measured in the same run: the pipeline's own cost, free of the run-to-run noise "
        "of the model itself.",
        "Rounds alternate which runs first (the pipeline, then the bare model; then the "
        "other way round), so neither is always measured on the warmer machine.",
    ]
    t.data = {"overall_ratio": overall, "per_round_ratio": per_rep,
              "outside_model_ms_median": median([r["outside_model_ms"] for r in runs]),
              "runs": [{k: v for k, v in r.items() if k not in ("messages", "calls")}
                       for r in runs]}
    return t


# --- 2. context budget --------------------------------------------------------------------


def bench_context(settings: Settings, plan: Plan, say: Say,
                  shared: dict[str, Any] | None = None) -> Table:
    """Whole chunks vs the question's sentences (scored by the evaluation), and the
    KV-cache prefix reused vs evaluated again for every question."""
    from . import eval as ev

    items = ev.load_gold(ev.DEFAULT_GOLD)
    if plan.eval_limit:
        answerable = [g for g in items if not g.unanswerable][: plan.eval_limit - 1]
        items = answerable + [g for g in items if g.unanswerable][:1]
    configs = [ev.Config("chunks", {"context": "chunks"}),
               ev.Config("sentences", {"context": "sentences"})]
    base = settings.with_overrides(index_dir=Path(tempfile.mkdtemp(prefix="rag-bench-eval-")))

    def factory(config, total):
        done = [0]

        def step(_result) -> None:
            done[0] += 1
            if done[0] % 10 == 0 or done[0] == total:
                say(f"  evaluation, {config.name}: {done[0]}/{total}")
        return step

    try:
        evaluated = ev.evaluate(base, items, configs, factory)
    finally:
        shutil.rmtree(base.index_dir, ignore_errors=True)
    t = Table("context", "2. Context budget: what the model reads, and what it costs",
              ["configuration", "prompt tokens (mean)", "answer p50 / p95 (s)",
               "answer contained", "token F1", "citation recall / precision",
               "abstention recall / false abstention"])
    for r in evaluated:
        a = r["aggregate"]
        t.rows.append([
            f"{'before' if r['name'] == 'chunks' else 'after'}: {r['name']}, KV prefix reused",
            ev.fmt(a.get("prompt_tokens_mean"), "int"),
            f"{ev.fmt(a.get('total_ms_p50'), 'sec')} / {ev.fmt(a.get('total_ms_p95'), 'sec')}",
            ev.fmt(a.get("answer_contains"), "pct"), ev.fmt(a.get("token_f1"), "pct"),
            f"{ev.fmt(a.get('citation_recall'), 'pct')} / "
            f"{ev.fmt(a.get('citation_precision'), 'pct')}",
            f"{ev.fmt(a.get('abstention_recall'), 'pct')} / "
            f"{ev.fmt(a.get('false_abstention_rate'), 'pct')}"])
    # The KV prefix: the same prompts, prefix kept vs everything evaluated every time.
    data = shared or _answer_runs(settings, plan, say)
    bare: BareModel = data["bare"]
    kept, scratch = [], []
    for r in data["runs"][: len(data["questions"]) * min(2, plan.reps)]:
        kept.append(bare.call(r["messages"], 1)["ttft_s"])
        scratch.append(bare.call(r["messages"], 1, from_scratch=True)["ttft_s"])
    bare.keep_prefix(bare.prefix)
    n_prefix = data["prefix_tokens"]
    t.rows.append([f"KV prefix evaluated every time ({settings.context})",
                   f"+{n_prefix} evaluated", f"TTFT {spread(scratch)}", "same prompts", "", "",
                   ""])
    t.rows.append([f"KV prefix reused ({settings.context})", "", f"TTFT {spread(kept)}",
                   "same prompts", "", "", ""])
    t.notes += [
        f"Scores from `rag eval` on {len(items)} gold questions per configuration "
        f"({sum(1 for g in items if g.unanswerable)} unanswerable), same model "
        f"({settings.model if not plan.model else plan.model}), top_k={settings.top_k}, "
        "chunks 400/80.",
        "`sentences` keeps, in each retrieved chunk, the sentences from the first to the last "
        "that share a content word with the question, and drops a passage an earlier one "
        "already holds (`rag/context.py`). It is the default; `--context chunks` restores "
        "whole chunks.",
        f"The chat template's fixed prefix ({n_prefix} tokens: system prompt and role "
        "markers) is evaluated once and kept in the KV cache; the last two rows time the "
        "first token of the same prompts with the prefix kept and with the cache emptied.",
    ]
    t.data = {"configs": [{"name": r["name"], "aggregate": r["aggregate"],
                           "questions": r["questions"]} for r in evaluated],
              "ttft_prefix_kept_s": kept, "ttft_from_scratch_s": scratch,
              "prefix_tokens": n_prefix}
    return t


# --- 3. indexing --------------------------------------------------------------------------


def _distinct_copy(text: str, i: int, name: str) -> str:
    """Copy ``i`` of the article with every sentence marked, so that no chunk of one copy
    repeats a chunk of another (repeated texts are embedded once, which would flatter
    `rag index` against a bare `encode` of every chunk)."""
    from .chunking import sentence_spans

    out, last = [], 0
    for lo, hi in sentence_spans(text):
        out += [text[last:lo], f"({i}) {text[lo:hi]} ({i})"]
        last = hi
    return f"Copy {i} of {name}\n\n" + "".join(out) + text[last:]


def bench_indexing(settings: Settings, plan: Plan, say: Say) -> Table:
    from .chunking import chunk_document
    from .documents import load, scan
    from .embedding import load_embedder
    from .index import update_index

    source = next(p for p in sorted(settings.documents_dir.iterdir()) if p.is_file())
    work = Path(tempfile.mkdtemp(prefix="rag-bench-index-"))
    try:
        docs = work / "documents"
        docs.mkdir()
        text = source.read_text(encoding="utf-8")
        for i in range(plan.index_docs):  # distinct documents: a numbered first line each
            (docs / f"copy-{i:03d}.txt").write_text(_distinct_copy(text, i, source.name))
        s = settings.with_overrides(documents_dir=docs, index_dir=work / "index")
        embedder = load_embedder(s)
        texts = [c.search_text for src in scan(docs)[0]
                 for c in chunk_document(load(src, s.max_document_chars), s.chunk_size,
                                         s.chunk_overlap)]
        say(f"  {len(texts)} chunks from {plan.index_docs} documents")
        embedder.model.encode(texts[:64], batch_size=s.embed_batch_size)  # warm up
        bare_s, ours_s = [], []
        for rep in range(plan.reps):
            t0 = time.perf_counter()
            embedder.model.encode(texts, batch_size=s.embed_batch_size,
                                  normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=False)
            bare_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _, changes = update_index(s, embedder, rebuild=True)
            ours_s.append(time.perf_counter() - t0)
            assert changes.chunks_embedded == len(texts) == len(set(texts))  # no repeats
            say(f"  indexing: round {rep + 1}/{plan.reps}")
        incremental_s, unchanged_s = [], []
        for rep in range(plan.reps):
            target = docs / "copy-000.txt"
            target.write_text(_distinct_copy(text, 0, f"{source.name}, edit {rep}"))
            t0 = time.perf_counter()
            _, changes = update_index(s, embedder)
            incremental_s.append(time.perf_counter() - t0)
            assert changes.updated == ["copy-000.txt"], changes.summary()
            t0 = time.perf_counter()
            _, changes = update_index(s, embedder)
            unchanged_s.append(time.perf_counter() - t0)
            assert not changes.changed
        per_doc = changes.n_chunks // plan.index_docs
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(texts)
    bare_rate = [n / x for x in bare_s]
    ours_rate = [n / x for x in ours_s]
    ratio = [o / b for o, b in zip(ours_rate, bare_rate, strict=True)]
    t = Table("indexing", "3. Indexing throughput: `rag index` against bare "
              "`SentenceTransformer.encode`", ["measurement", "time (s)", "chunks/s", "ratio"])
    t.rows += [
        [f"bare `encode` of {n} chunks", spread(bare_s), spread(bare_rate, digits=0), "1"],
        [f"`rag index --rebuild`, {plan.index_docs} documents", spread(ours_s),
         spread(ours_rate, digits=0), f"**{median(ratio):.3f}×** ({min(ratio):.3f}-"
                                      f"{max(ratio):.3f})"],
        [f"`rag index` after 1 of {plan.index_docs} documents changed (~{per_doc} chunks "
         "embedded)", spread(incremental_s), "", f"{median(incremental_s) / median(ours_s):.3f}"
         " of a rebuild"],
        ["`rag index` with nothing changed", spread(unchanged_s, digits=3), "", ""],
    ]
    t.notes += [
        f"{plan.index_docs} copies of the article (every sentence marked with its copy's "
        "number, so no chunk repeats another), "
        f"{settings.chunk_size}/{settings.chunk_overlap}-character chunks, batch "
        f"{settings.embed_batch_size}, the same loaded MiniLM model for both; "
        f"median (min-max) of {plan.reps} runs. Target: ratio ≥ 0.9.",
        "`rag index --rebuild` includes reading, cleaning and chunking the documents, the "
        "FAISS index and the atomic write of the generation (fsync'd); the bare figure is "
        "`encode` alone.",
    ]
    t.data = {"chunks": n, "bare_s": bare_s, "ours_s": ours_s, "ratio": ratio,
              "incremental_s": incremental_s, "unchanged_s": unchanged_s}
    return t


# --- 4. retrieval at scale ----------------------------------------------------------------


def synthetic_vectors(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    """Unit vectors in topical clusters, as sentence embeddings are (uniform random
    vectors have no neighbours worth finding). About 1,000 vectors per cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(8, n // 1000), d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, d), dtype=np.float32)
    step = 100_000
    for lo in range(0, n, step):
        m = min(step, n - lo)
        noise = rng.standard_normal((m, d)).astype(np.float32) * (1.0 / np.sqrt(d))
        x = centres[rng.integers(0, len(centres), m)] + noise
        out[lo : lo + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def bench_retrieval(settings: Settings, plan: Plan, say: Say) -> Table:
    import faiss

    from . import vectors as vx

    exact_max = plan.exact_max if plan.exact_max is not None else settings.exact_max_chunks
    t = Table("retrieval", "4. Vector search at scale (synthetic 384-dimensional chunks)",
              ["chunks", "index (auto)", "build (s)", "search p50 / p95 (ms)",
               "exact search p50 / p95 (ms)", "recall@10 vs exact", "bytes per chunk"])
    rows = []
    for n in plan.sizes:
        say(f"  {n:,} vectors: generating")
        data = synthetic_vectors(n)
        queries = vx.sample_queries(data, plan.search_queries, seed=1234)
        kind = vx.choose_kind(settings.index_type, n, exact_max)
        say(f"  {n:,} vectors: building {kind}")
        t0 = time.perf_counter()
        index, params = vx.build(data, kind, settings.ann_recall_target)
        build_s = time.perf_counter() - t0
        exact = vx.exact_neighbours(data, queries, 10)
        found, lat = _timed_search(index, queries, 10)
        flat = faiss.IndexFlatIP(data.shape[1]) if kind != "flat" else index
        if kind != "flat":
            flat.add(data)
        _, flat_lat = _timed_search(flat, queries, 10)
        del flat
        size = len(faiss.serialize_index(index))
        recall = vx.recall_at_k(found, exact)
        label = kind + (f" (nlist {params['nlist']}, nprobe {params['nprobe']})"
                        if kind == "ivf" else "")
        t.rows.append([f"{n:,}", label, f"{build_s:.1f}",
                       f"{pct(lat, 50):.2f} / {pct(lat, 95):.2f}",
                       f"{pct(flat_lat, 50):.2f} / {pct(flat_lat, 95):.2f}",
                       f"{recall:.3f}", f"{size / n:,.0f}"])
        rows.append({"n": n, "kind": kind, "params": params, "build_s": build_s,
                     "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
                     "exact_p50_ms": pct(flat_lat, 50), "exact_p95_ms": pct(flat_lat, 95),
                     "recall_at_10": recall, "bytes_per_chunk": size / n})
        del index, data
    t.notes += [
        f"Auto: exact (`IndexFlatIP`) up to {exact_max:,} chunks (`RAG_EXACT_MAX_CHUNKS`), "
        "IVF above (`RAG_INDEX_TYPE` = auto, flat, ivf or hnsw). IVF's nprobe is the "
        f"smallest whose recall@10 on {vx.TUNING_QUERIES} sample queries (other than the ones "
        f"measured here) reaches {settings.ann_recall_target} "
        "(`RAG_ANN_RECALL_TARGET`), chosen when the index is built.",
        f"{plan.search_queries} held-out queries (data points plus noise), one at a time "
        "through FAISS as `rag` calls it; recall@10 against exact search on the same vectors.",
        "Vectors are clustered (about 1,000 per cluster) unit vectors; texts are not "
        "generated, so this is the vector index alone (BM25 over a million texts is not "
        "measured here). Bytes per chunk: the serialised FAISS index ÷ chunks.",
    ]
    t.data = {"sizes": rows}
    return t


def _timed_search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    found = np.zeros((len(queries), k), dtype=np.int64)
    lat = []
    index.search(queries[:1], k)  # warm up
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), k)
        lat.append((time.perf_counter() - t0) * 1000)
        found[i] = ids[0]
    return found, lat


# --- 5. cold start ------------------------------------------------------------------------


def bench_cold_start(settings: Settings, plan: Plan, say: Say,
                     shared: dict[str, Any] | None = None) -> Table:
    """``rag ask`` in a new process: start to first answer token, minus the model's own
    evaluation of that prompt from an empty cache (measured in this process)."""
    data = shared or _answer_runs(settings, plan, say)
    pipe, bare = data["pipeline"], data["bare"]
    pipe.refresh_index()  # built and current: a cold run re-embeds nothing
    question = data["questions"][0]
    messages = next(r["messages"] for r in data["runs"] if r["question"] == question)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **_settings_env(settings)}
    first, total = [], []
    for i in range(plan.cold_runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "ask", question],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        byte = proc.stdout.read(1)
        first.append(time.perf_counter() - t0)
        proc.stdout.read()
        err = proc.stderr.read().decode(errors="replace")
        proc.wait()
        total.append(time.perf_counter() - t0)
        if proc.returncode != 0 or not byte:
            raise RuntimeError(f"`rag ask` failed in the cold-start run: {err.strip()[-300:]}")
        say(f"  cold start: run {i + 1}/{plan.cold_runs}: first token after {first[-1]:.2f} s")
    prompt_eval = [bare.prompt_eval_s(messages) for _ in range(plan.reps)]
    bare.keep_prefix(bare.prefix)
    overhead = [f - median(prompt_eval) for f in first]
    t = Table("cold", "5. Cold start: `rag ask` in a new process, index already built",
              ["measurement", "seconds"])
    t.rows += [
        ["process start → first answer token", spread(first)],
        [f"the model's own prompt evaluation ({data['runs'][0]['prompt_tokens']} tokens, "
         "empty cache)", spread(prompt_eval)],
        ["**cold start (difference)**", f"**{median(overhead):.2f}** "
                                        f"({min(overhead):.2f}-{max(overhead):.2f})"],
        ["process start → exit (whole answer, checks, sources printed)", spread(total)],
    ]
    t.notes += [
        f"`python -m rag.cli ask \"{question}\"`, {plan.cold_runs} runs, files in the page "
        "cache (a second run after boot). The first byte on stdout is the first streamed "
        "answer token. Target: ≤ 2 s.",
        "What a cold run does before the model's prompt evaluation: Python and `rag` imports, "
        "settings, hashing the documents to check the index is current, loading the index "
        "(FAISS, chunks), embedding the question with the NumPy MiniLM encoder (torch is not "
        "imported), BM25, and loading the GGUF (memory-mapped) in a background thread while "
        "the rest runs.",
    ]
    t.data = {"first_token_s": first, "prompt_eval_s": prompt_eval, "overhead_s": overhead,
              "total_s": total}
    return t


def _settings_env(settings: Settings) -> dict[str, str]:
    """RAG_* variables that reproduce ``settings`` in a child process."""
    env = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[f"RAG_{name.upper()}"] = (json.dumps(value) if isinstance(value, list)
                                      else str(value))
    return env


# --- 6. server under load -----------------------------------------------------------------


def bench_server(settings: Settings, plan: Plan, say: Say) -> Table:
    from .eval import DEFAULT_GOLD, load_gold

    questions = [g.question for g in load_gold(DEFAULT_GOLD) if not g.unanswerable]
    t = Table("server", "6. `rag serve` under load (loopback, /chat, JSON)",
              ["clients × requests", "queue limit", "answered", "rejected (429)",
               "other errors", "answers/min", "latency p50 / p95 (s)",
               "/health p95 during load (ms)"])
    results = []
    for clients, per_client, waiting in plan.load_levels:
        say(f"  server: {clients} clients × {per_client} requests, queue {waiting}")
        env = {**os.environ, **_settings_env(settings), "RAG_MAX_WAITING": str(waiting)}
        with _process(["serve"], env, "/ready", "`rag serve`") as url:
            r = _load(url, clients, per_client, questions)
        results.append({"clients": clients, "per_client": per_client, "max_waiting": waiting,
                        **r})
        ok = r["latencies_s"]
        t.rows.append([f"{clients} × {per_client}", str(waiting), str(len(ok)),
                       str(r["rejected"]), str(r["errors"]),
                       f"{len(ok) / r['wall_s'] * 60:.1f}",
                       f"{pct(ok, 50):.2f} / {pct(ok, 95):.2f}" if ok else "-",
                       f"{pct(r['health_ms'], 95):.0f}" if r["health_ms"] else "-"])
    t.notes += [
        "Each client sends its requests one after another (a new question each time, from "
        "the gold set); a 429 counts as rejected and is not retried. One model slot answers "
        "at a time, so answers/min is bounded by the model; extra clients wait in the queue "
        "or, past `RAG_MAX_WAITING`, get 429 with Retry-After at once.",
        f"Model {settings.model}; /health is polled every 0.5 s by a separate client.",
    ]
    t.data = {"levels": results}
    return t


# --- 7. generator backends ------------------------------------------------------------------


def bench_backends(settings: Settings, plan: Plan, say: Say) -> Table:
    """The same load on `rag serve` with the model in process, and with it on
    `rag llm-server` (llama-cpp-python's OpenAI-compatible server) on this machine."""
    from .eval import DEFAULT_GOLD, load_gold

    questions = [g.question for g in load_gold(DEFAULT_GOLD) if not g.unanswerable]
    clients, per_client = plan.backend_load
    t = Table("backends", f"7. Generator backends: {clients} clients, in process and on a "
              "server", ["backend", "answered", "errors", "answers/min",
                         "latency p50 / p95 (s)"])
    results = {}
    base = {**os.environ, **_settings_env(settings), "RAG_MAX_WAITING": str(clients * 2)}
    for backend in ("local", "openai"):
        say(f"  backends: {backend}, {clients} clients × {per_client} requests")
        with contextlib.ExitStack() as stack:
            env = dict(base)
            if backend == "openai":
                llm = stack.enter_context(_process(
                    ["llm-server"], base, "/v1/models", "`rag llm-server`"))
                env.update(RAG_LLM_BACKEND="openai", RAG_LLM_URL=f"{llm}/v1",
                           RAG_LLM_CONCURRENCY=str(clients))
            url = stack.enter_context(_process(["serve"], env, "/ready", "`rag serve`"))
            r = _load(url, clients, per_client, questions)
        results[backend] = r
        ok = r["latencies_s"]
        t.rows.append([{"local": "in process (llama.cpp)",
                        "openai": "server-backed (rag llm-server, OpenAI API)"}[backend],
                       str(len(ok)), str(r["errors"] + r["rejected"]),
                       f"{len(ok) / r['wall_s'] * 60:.1f}",
                       f"{pct(ok, 50):.2f} / {pct(ok, 95):.2f}" if ok else "-"])
    t.notes += [
        f"Model {settings.model} in both rows, {settings.n_threads} threads, one machine "
        "(the API and the LLM server share its cores). Each client sends its questions one "
        "after another (/chat, JSON); nothing is rejected (queue of "
        f"{clients * 2}).",
        "`rag llm-server` runs one answer at a time (one llama.cpp context), as the "
        "in-process model does, so on one machine the server row shows the cost of the "
        "extra hop (HTTP, SSE, a second process), not a gain: the gain comes from a server "
        "with parallel slots (`llama-server --parallel N`, vLLM) on its own machine, and "
        "from API replicas that share it (docs/deploy.md).",
    ]
    t.data = {"clients": clients, "per_client": per_client, "results": results}
    return t


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], ready: str, what: str) -> Iterator[str]:
    """``python -m rag.cli ARGS --port P`` until the block ends; yields its base URL."""
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", *args, "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc, log, ready, what)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log, ready: str = "/ready",
                what: str = "`rag serve`") -> None:
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{what} exited: {log.read().decode(errors='replace')[-500:]}")
        try:
            with urllib.request.urlopen(f"{url}{ready}", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} was not ready after 300 s")


def _post(url: str, body: dict[str, Any], timeout: float = 600) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _load(url: str, clients: int, per_client: int, questions: list[str]) -> dict[str, Any]:
    latencies: list[float] = []
    health: list[float] = []
    counts = {"rejected": 0, "errors": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client(c: int) -> None:
        for i in range(per_client):
            q = questions[(c * per_client + i) % len(questions)]
            t0 = time.perf_counter()
            try:
                status = _post(f"{url}/chat", {"messages": [{"role": "user", "content": q}]})
            except (urllib.error.URLError, OSError):
                status = -1
            with lock:
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                elif status == 429:
                    counts["rejected"] += 1
                else:
                    counts["errors"] += 1

    def poll_health() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=10) as r:
                    r.read()
                health.append((time.perf_counter() - t0) * 1000)
            except (urllib.error.URLError, OSError):
                pass
            stop.wait(0.5)

    poller = threading.Thread(target=poll_health, daemon=True)
    poller.start()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    stop.set()
    poller.join(timeout=5)
    return {"latencies_s": latencies, "wall_s": wall, "health_ms": health, **counts}


# --- 8. scale: cold start over a large corpus ------------------------------------------------


class _SyntheticEmbedder:
    """Stands in for the embedding model when a large corpus is indexed for the cold-start
    measurement: the same name and dimension (so `rag ask` accepts the index), clustered
    unit vectors instead of MiniLM's (embedding a million chunks takes hours on 2 cores).
    Questions are still embedded by the real model; what is measured is loading and
    searching, not relevance."""

    def __init__(self, name: str, dimension: int) -> None:
        self.name, self.dimension = name, dimension
        self.seed = 0

    def embed(self, texts: Sequence[str], batch_size: int = 32,
              progress: Callable[[int], None] | None = None) -> np.ndarray:
        self.seed += 1
        out = synthetic_vectors(len(texts), self.dimension, self.seed)
        if progress:
            progress(len(texts))
        return out


def scale_corpus(folder: Path, n_chunks: int, settings: Settings) -> int:
    """Copies of the article (each sentence marked with its copy's number) until about
    ``n_chunks`` chunks; returns the number of documents written."""
    from .chunking import chunk_document
    from .documents import SourceFile, load

    folder.mkdir(parents=True, exist_ok=True)
    source = next(p for p in sorted(settings.documents_dir.iterdir()) if p.is_file())
    text = source.read_text(encoding="utf-8")
    sample = load(SourceFile("copy.txt", _write(folder / "copy-000000.txt",
                                                _distinct_copy(text, 0, "the article")), ""),
                  settings.max_document_chars)
    per_doc = len(chunk_document(sample, settings.chunk_size, settings.chunk_overlap))
    n_docs = max(1, round(n_chunks / per_doc))
    for i in range(1, n_docs):
        _write(folder / f"copy-{i:06d}.txt", _distinct_copy(text, i, "the article"))
    return n_docs


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def bench_scale(settings: Settings, plan: Plan, say: Say) -> Table:
    """`rag ask` in a new process over a corpus of ``plan.scale_chunks`` chunks, with their
    texts: first answer token minus the model's own prompt evaluation, per store."""
    from .embedding import resolve_embedding_model
    from .generation import LlamaCppGenerator, load_generator
    from .index import update_index
    from .progress import SILENT

    n = plan.scale_chunks
    t = Table("scale", f"8. Scale: cold start over {n:,} chunks (texts included)",
              ["store", "chunks", "index on disk (MB)", "indexing (s)",
               "process start → first token (s)", "model's prompt evaluation (s)",
               "**cold start beyond it (s)**", "peak memory (MB)"])
    work = Path(tempfile.mkdtemp(prefix="rag-scale-"))
    data: dict[str, Any] = {"chunks_target": n, "stores": {}}
    gen = load_generator(settings)
    assert isinstance(gen, LlamaCppGenerator)
    bare = BareModel(gen)
    try:
        docs = work / "documents"
        say(f"  scale: writing a corpus of about {n:,} chunks")
        data["documents"] = scale_corpus(docs, n, settings)
        _, name = resolve_embedding_model(settings.embedding_model, settings.cache_dir)
        dim = 384
        question = "What did Peskov say about Russia and Armenia?"
        stores = [("faiss", n)] + [("qdrant", min(n, QDRANT_LOCAL_MAX))]
        for store, size in stores:
            s = settings.with_overrides(documents_dir=docs, index_dir=work / f"index-{store}",
                                        vector_store=store)
            if size < n:  # the embedded mode holds its points in Python: a smaller corpus
                s = s.with_overrides(documents_dir=work / "documents-small")
                if not s.documents_dir.is_dir():
                    scale_corpus(s.documents_dir, size, settings)
            say(f"  scale: indexing {size:,} chunks into {store}")
            t0 = time.perf_counter()
            index, _ = update_index(s, _SyntheticEmbedder(name, dim), SILENT, require_write=True)
            build_s = time.perf_counter() - t0
            chunks = len(index)
            del index
            if store == "qdrant":
                from .qdrant_store import close_all

                close_all()  # the child process opens the embedded store itself
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **_settings_env(s)}
            first, peak = [], []
            messages = None
            for i in range(plan.cold_runs + 1):
                as_json = i == plan.cold_runs  # one more run, for the prompt it built
                cmd = [sys.executable, "-m", "rag.cli", "ask", question] + (
                    ["--json"] if as_json else [])
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=env)
                with _PeakMemory(proc.pid) as memory:
                    byte = proc.stdout.read(1)
                    took = time.perf_counter() - t0
                    rest = proc.stdout.read()
                    err = proc.stderr.read().decode(errors="replace")
                proc.wait()
                if proc.returncode != 0 or not byte:
                    raise RuntimeError(f"`rag ask` failed on the {store} scale corpus: "
                                       f"{err.strip()[-300:]}")
                peak.append(memory.peak_mb)
                if as_json:
                    messages = _prompt_of(json.loads(byte + rest))
                else:
                    first.append(took)
                    say(f"  scale: {store}, run {i + 1}/{plan.cold_runs}: first token after "
                        f"{took:.2f} s")
            prompt_eval = [bare.prompt_eval_s(messages) for _ in range(plan.reps)]
            beyond = [f - median(prompt_eval) for f in first]
            data["stores"][store] = {"chunks": chunks, "disk_mb": _disk_mb(s.index_dir),
                                     "build_s": build_s, "first_token_s": first,
                                     "prompt_eval_s": prompt_eval, "beyond_s": beyond,
                                     "peak_mb": peak}
            t.rows.append([{"faiss": "FAISS (IVF) + BM25 files",
                            "qdrant": "Qdrant, embedded local mode"}[store],
                           f"{chunks:,}", f"{_disk_mb(s.index_dir):,.0f}", f"{build_s:.0f}",
                           spread(first), spread(prompt_eval),
                           f"**{median(beyond):.2f}** ({min(beyond):.2f}-{max(beyond):.2f})",
                           f"{max(peak):,.0f}"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.notes += [
        f"The corpus: {data['documents']:,} copies of the article, each sentence marked with "
        "its copy's number (so no two chunks are alike); vectors are clustered synthetic "
        "ones under the embedding model's name (embedding a million chunks with MiniLM takes "
        "hours here), the question is embedded by the real model. Indexing time is therefore "
        "everything but embedding: reading, chunking, the FAISS/IVF build and tuning, BM25, "
        "writing.",
        f"`rag ask \"{question}\"` in a new process, {plan.cold_runs} runs, files in the page "
        "cache; the model's prompt evaluation is of the prompt that run built, from an empty "
        "cache, measured in this process. Target: ≤ 3 s beyond it.",
        f"Qdrant's embedded mode keeps its points in Python and is meant for up to tens of "
        f"thousands of points, so its row uses at most {QDRANT_LOCAL_MAX:,} chunks; a million "
        "needs a Qdrant server, which no package installs here (docs/deploy.md).",
    ]
    t.data = data
    return t


QDRANT_LOCAL_MAX = 20_000


class _PeakMemory:
    """A child's peak resident memory (VmHWM), read every 50 ms while it runs. (Its
    ru_maxrss would not do: Linux carries the parent's peak across fork and exec.)"""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._done.is_set():
            try:
                for line in self.status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
            except (OSError, ValueError):
                pass
            self._done.wait(0.05)


def _prompt_of(answer: dict[str, Any]) -> list[dict[str, str]]:
    """The messages `rag ask` gave the model, rebuilt from its JSON answer's passages."""
    from . import prompts
    from .types import Chunk, Passage

    passages = [Passage(Chunk(p["doc_id"], p["chunk_id"], p["start"], p["end"], p["text"]),
                        p["title"], p["score"]) for p in answer["passages"]]
    return prompts.build_messages(answer["standalone_question"], passages)


# --- 7. a real corpus ----------------------------------------------------------------------


def bench_corpus(settings: Settings, plan: Plan, say: Say, corpus: Path) -> Table:
    """`rag index` of a real folder in a fresh process, against bare `encode` of its chunks."""
    import resource

    from .embedding import load_embedder
    from .index import Index

    if not corpus.is_dir():
        raise ValueError(f"--corpus {corpus} is not a folder")
    files = [p for p in corpus.rglob("*") if p.is_file()]
    work = Path(tempfile.mkdtemp(prefix="rag-bench-corpus-"))
    try:
        env = {**os.environ, **_settings_env(settings), "RAG_INDEX_DIR": str(work / "index"),
               "RAG_PROGRESS_INTERVAL_S": "60"}
        say(f"  rag index {corpus} ({len(files)} files) in a new process")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "index", str(corpus)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        output = []
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip())
            if line.startswith(("Reading", "Embedding", "Documents:")):
                say("  " + line.rstrip())
        _, status, usage = os.wait4(proc.pid, 0)
        index_s = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("rag index failed:\n" + "\n".join(output[-20:]))
        peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
        index = Index.load(work / "index")
        texts = [c.search_text for c in index.chunks]
        chars = sum(len(d.text) for d in index.documents.values())
        summary = next((ln for ln in output if ln.startswith("Documents:")), "")
        say(f"  bare encode of the same {len(texts)} chunks")
        embedder = load_embedder(settings)
        embedder.model.encode(texts[:64], batch_size=settings.embed_batch_size)  # warm up
        t0 = time.perf_counter()
        embedder.model.encode(texts, batch_size=settings.embed_batch_size,
                              normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
        bare_s = time.perf_counter() - t0
        bare_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        debris = {w: sum(w in t for t in texts) for w in ("¶", "Table of Contents",
                                                         "Navigation", "Previous topic")}
        counts: dict[str, int] = {}
        for t in texts:
            counts[t] = counts.get(t, 0) + 1
        repeated = sum(n - 1 for n in counts.values() if n > 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(texts)
    t = Table("corpus", f"9. A real corpus: `rag index` of {corpus.name}/ against bare `encode`",
              ["measurement", "value"])
    t.rows += [
        ["files / documents indexed", f"{len(files):,} / {len(index.documents):,}"],
        ["characters of text", f"{chars:,}"],
        ["chunks", f"{n:,} ({repeated:,} repeat another chunk's text)"],
        ["`rag index` (new process: start, read, clean, chunk, embed, FAISS, write)",
         f"{index_s:.0f} s ({n / index_s:.0f} chunks/s)"],
        ["bare `encode` of the same chunks (model loaded)",
         f"{bare_s:.0f} s ({n / bare_s:.0f} chunks/s)"],
        ["ratio (`rag index` rate / bare rate)", f"**{bare_s / index_s:.3f}**"],
        ["peak memory of `rag index`", f"{peak_mb:,.0f} MB"],
        ["chunks holding navigation debris (¶, Table of Contents, Navigation, Previous topic)",
         f"{sum(debris.values())}"],
    ]
    t.notes += [
        f"{summary}",
        f"{settings.chunk_size}/{settings.chunk_overlap}-character chunks, batch "
        f"{settings.embed_batch_size}; one run each (the corpus takes minutes). The bare "
        f"figure's process peaked at {bare_peak_mb:,.0f} MB.",
    ]
    t.data = {"files": len(files), "documents": len(index.documents), "chars": chars,
              "chunks": n, "repeated_chunks": repeated, "index_s": index_s, "bare_s": bare_s,
              "ratio": bare_s / index_s, "peak_mb": peak_mb, "debris": debris,
              "summary": summary}
    return t


# --- the whole run ------------------------------------------------------------------------


def run_all(settings: Settings, plan: Plan, say: Say,
            parts: Sequence[str] = (), corpus: Path | None = None) -> list[Table]:
    """Parts 1, 2 and 5 share one set of timed answers (one model load, one bare model)."""
    wanted = list(parts) or list(PARTS)
    unknown = set(wanted) - set(PARTS) - set(EXTRA_PARTS)
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(sorted(unknown))}: choose from "
                         f"{', '.join(PARTS + EXTRA_PARTS)}")
    if "corpus" in wanted and corpus is None:
        raise ValueError("the corpus part needs --corpus DIR (a folder of documents)")
    settings = settings.with_overrides(model=plan.model, max_tokens=plan.max_tokens)
    tables: list[Table] = []
    shared: dict[str, Any] | None = None

    def timed(name: str, fn: Callable[[], Table]) -> None:
        say(f"[{name}] starting")
        t0 = time.perf_counter()
        tables.append(fn())
        say(f"[{name}] done in {time.perf_counter() - t0:.0f} s")

    if {"answer", "context", "cold"} & set(wanted):
        say("[answer] timing ask and the bare model on the same prompts")
        shared = _answer_runs(settings, plan, say)
    order = {"answer": lambda: bench_answers(settings, plan, say, shared),
             "context": lambda: bench_context(settings, plan, say, shared),
             "indexing": lambda: bench_indexing(settings, plan, say),
             "retrieval": lambda: bench_retrieval(settings, plan, say),
             "cold": lambda: bench_cold_start(settings, plan, say, shared),
             "server": lambda: bench_server(settings, plan, say),
             "backends": lambda: bench_backends(settings, plan, say),
             "scale": lambda: bench_scale(settings, plan, say),
             "corpus": lambda: bench_corpus(settings, plan, say, corpus)}
    for name in PARTS + EXTRA_PARTS:
        if name in wanted:
            timed(name, order[name])
    return tables


def headlines(tables: Sequence[Table]) -> list[str]:
    """One line per part: the number the issue set a target for, and whether it met it."""
    by = {t.key: t.data for t in tables}
    out = []

    def mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    if "answer" in by:
        r = by["answer"]["overall_ratio"]
        ms = by["answer"].get("outside_model_ms_median")
        out.append(f"{mark(r <= 1.05)} Answer latency: `ask` takes {r:.3f}× the bare "
                   "llama-cpp-python call on the same prompt (target ≤ 1.05)"
                   + (f"; the pipeline's own work is {ms:.0f} ms per answer." if ms else "."))
    if "context" in by:
        c = {x["name"]: x["aggregate"] for x in by["context"]["configs"]}
        if {"chunks", "sentences"} <= set(c):
            a, b = c["chunks"], c["sentences"]

            def pc(x: float | None) -> str:
                return "–" if x is None else f"{100 * x:.0f}%"

            out.append(
                f"Context: {a['prompt_tokens_mean']:.0f} → {b['prompt_tokens_mean']:.0f} prompt "
                f"tokens per answer, p50 {a['total_ms_p50'] / 1000:.1f} → "
                f"{b['total_ms_p50'] / 1000:.1f} s; answer contained {pc(a['answer_contains'])} → "
                f"{pc(b['answer_contains'])}, citation precision "
                f"{pc(a['citation_precision'])} → {pc(b['citation_precision'])}.")
    if "indexing" in by:
        r = median(by["indexing"]["ratio"])
        out.append(f"{mark(r >= 0.9)} Indexing: `rag index` runs at {r:.2f}× bare "
                   "`SentenceTransformer.encode` (target ≥ 0.9).")
    if "retrieval" in by:
        big = by["retrieval"]["sizes"][-1]
        ok = big["p95_ms"] < 20 and big["recall_at_10"] >= 0.95
        out.append(f"{mark(ok)} Vector search at {big['n']:,} chunks ({big['kind']}): p95 "
                   f"{big['p95_ms']:.1f} ms, recall@10 {big['recall_at_10']:.3f} (target "
                   "p95 < 20 ms, recall ≥ 0.95).")
    if "cold" in by:
        o = median(by["cold"]["overhead_s"])
        out.append(f"{mark(o <= 2)} Cold start: {o:.2f} s from process start to the first "
                   "token, beyond the model's own prompt evaluation (target ≤ 2 s).")
    if "corpus" in by:
        c = by["corpus"]
        out.append(f"{mark(c['ratio'] >= 0.9)} Real corpus: {c['documents']:,} documents, "
                   f"{c['chunks']:,} chunks indexed in {c['index_s'] / 60:.1f} min, "
                   f"{c['ratio']:.2f}× bare `encode` (target ≥ 0.9), peak "
                   f"{c['peak_mb']:,.0f} MB.")
    if "server" in by:
        lv = by["server"]["levels"][0]
        n = len(lv["latencies_s"])
        out.append(f"Server: {n / lv['wall_s'] * 60:.1f} answers/min with {lv['clients']} "
                   f"concurrent clients, p95 {pct(lv['latencies_s'], 95):.1f} s; "
                   + ", ".join(f"{len(x['latencies_s'])} answered and {x['rejected']} "
                               f"rejected (429) with {x['clients']} clients and a queue of "
                               f"{x['max_waiting']}" for x in by["server"]["levels"][1:])
                   + ".")
    if "backends" in by:
        b = by["backends"]
        rows = []
        for key, label in (("local", "in process"), ("openai", "on `rag llm-server`")):
            r = b["results"].get(key)
            if r and r["latencies_s"]:
                rows.append(f"{label} {len(r['latencies_s']) / r['wall_s'] * 60:.1f} "
                            f"answers/min, p95 {pct(r['latencies_s'], 95):.1f} s")
        out.append(f"Backends, {b['clients']} clients on one machine: " + "; ".join(rows) + ".")
    if "scale" in by:
        for store, x in by["scale"]["stores"].items():
            o = median(x["beyond_s"])
            label = {"faiss": "FAISS", "qdrant": "Qdrant (embedded)"}.get(store, store)
            out.append(f"{mark(o <= 3)} Cold start over {x['chunks']:,} chunks, {label}: "
                       f"{o:.2f} s beyond the model's prompt evaluation (target ≤ 3 s), peak "
                       f"{max(x['peak_mb']):,.0f} MB.")
    return out


def write_report(tables: Sequence[Table], path: Path, command: str, plan: Plan,
                 elapsed_s: float, measured_at: str | None = None,
                 machine_info: dict[str, str] | None = None) -> list[Path]:
    """BENCHMARKS.md (and the raw numbers beside it as JSON), each written atomically."""
    m = machine_info or machine()
    when = measured_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {when} "
        f"in {elapsed_s / 60:.1f} min{' (quick: smaller inputs)' if plan.quick else ''}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, no GPU; {m['os']}; "
        f"Python {m['python']}; llama-cpp-python {m['llama_cpp_python']}, "
        f"sentence-transformers {m['sentence_transformers']}, faiss-cpu {m['faiss_cpu']}, "
        f"torch {m['torch']}, numpy {m['numpy']}.",
        "",
        "Timings are medians of several runs with (min-max) beside them; this machine is "
        "shared and a run's spread says how noisy it was.",
        "",
        "Headlines:",
        "",
        *[f"- {line}" for line in headlines(tables)],
        "",
    ]
    body = "\n".join(t.markdown() for t in tables)
    raw = {"command": command, "machine": m, "quick": plan.quick, "measured_at": when,
           "elapsed_s": elapsed_s,
           "tables": {t.key: {"title": t.title, "columns": t.columns, "rows": t.rows,
                              "notes": t.notes, "data": t.data} for t in tables}}
    written = []
    for target, text in ((path, "\n".join(head) + "\n" + body),
                         (path.with_suffix(".json"), json.dumps(raw, indent=1, default=str))):
        atomic_write_text(target, text)
        written.append(target)
    return written


def merge_report(json_path: Path, path: Path, tables: Sequence[Table],
                 command: str) -> list[Path]:
    """Put the tables of a partial run (`--part`) into an existing report, replacing those
    of the same parts; each says when and how it was measured."""
    raw = json.loads(json_path.read_text(encoding="utf-8"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    by_key = {key: Table(key, t["title"], t["columns"], t["rows"], t["notes"], t["data"])
              for key, t in raw["tables"].items()}
    for t in tables:
        t.notes = [*t.notes, f"Measured by `{command}` on {when}, apart from the rest of "
                             "this page."]
        by_key[t.key] = t
    order = [k for k in PARTS + EXTRA_PARTS if k in by_key]
    plan = QUICK if raw.get("quick") else FULL
    return write_report([by_key[k] for k in order], path, raw["command"], plan,
                        raw.get("elapsed_s", 0.0), raw.get("measured_at"), raw.get("machine"))


def rewrite_report(json_path: Path, path: Path) -> list[Path]:
    """Render BENCHMARKS.md again from the raw numbers of a run, measuring nothing."""
    raw = json.loads(json_path.read_text(encoding="utf-8"))
    tables = [Table(key, t["title"], t["columns"], t["rows"], t["notes"], t["data"])
              for key, t in raw["tables"].items()]
    plan = QUICK if raw.get("quick") else FULL
    return write_report(tables, path, raw["command"], plan, raw.get("elapsed_s", 0.0),
                        raw.get("measured_at"), raw.get("machine"))
