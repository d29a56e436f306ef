"""The `rag` command: index, ask, search, chat."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_args

import click
from rich.markup import escape

from .config import ContextMode, RetrievalMode, Settings
from .errors import RagError
from .progress import LineProgress, Reporter, Task
from .types import Answer, Passage, Turn

if TYPE_CHECKING:
    from rich.console import Console

    from .pipeline import Pipeline

# Library chatter (transformers, tokenizers, hub) is not for the user of a CLI.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class RichReporter(Reporter):
    """Progress and notes on stderr, so stdout carries only answers (and JSON).

    On a terminal, bars (one live display shared by concurrent tasks, such as the model
    assembling while documents are embedded); in a pipe or a log, plain progress lines
    every ``every`` seconds.
    """

    def __init__(self, quiet: bool = False, every: float = 10.0) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self.quiet = quiet
        self.every = every
        self._lock = threading.Lock()
        self._bars = None
        self._open = 0

    def task(self, description: str, total: int, unit: str = "") -> Task:
        if self.quiet:
            return Task()
        if not self.console.is_terminal:
            return LineProgress(self._print, description, total, unit, self.every)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with self._lock:
            if self._bars is None:
                self._bars = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeRemainingColumn(),
                                      console=self.console, transient=False)
                self._bars.start()
            self._open += 1
            bars = self._bars
            task_id = bars.add_task(f"{description}{f' ({unit})' if unit else ''}", total=total)
        return _BarTask(self, bars, task_id)

    def _closed(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0 and self._bars is not None:
                self._bars.stop()
                self._bars = None

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]{escape(message)}[/dim]", soft_wrap=True)


class _BarTask(Task):
    def __init__(self, owner: RichReporter, bars: Any, task_id: Any) -> None:
        self.owner, self.bars, self.task_id, self.done = owner, bars, task_id, False

    def advance(self, n: int = 1) -> None:
        self.bars.advance(self.task_id, n)

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.owner._closed()


def _settings_options(fn: Callable) -> Callable:
    """Flags shared by the commands; each overrides its RAG_* variable and the default."""
    fields = Settings.model_fields
    options = [
        ("--documents", "documents_dir", click.Path(file_okay=False)),
        ("--index-dir", "index_dir", click.Path(file_okay=False)),
        ("--model", "model", str),
        ("--embedding-model", "embedding_model", str),
        ("--top-k", "top_k", int),
        ("--retrieval", "retrieval_mode", click.Choice(get_args(RetrievalMode))),
        ("--context", "context", click.Choice(get_args(ContextMode))),
        ("--chunk-size", "chunk_size", int),
        ("--chunk-overlap", "chunk_overlap", int),
        ("--threads", "n_threads", int),
        ("--ctx", "n_ctx", int),
        ("--max-tokens", "max_tokens", int),
    ]
    for flag, name, kind in reversed(options):
        help_text = f"{fields[name].description} [env RAG_{name.upper()}]"
        fn = click.option(flag, name, type=kind, default=None, help=help_text)(fn)
    return fn


def _make_settings(overrides: dict[str, Any]) -> Settings:
    from pydantic import ValidationError

    try:
        return Settings().with_overrides(**overrides)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise RagError(f"Invalid setting {field}: {err['msg']} (check the flag or RAG_"
                       f"{field.upper()})") from e


def _pipeline(overrides: dict[str, Any], quiet: bool = False) -> Pipeline:
    from .pipeline import Pipeline

    settings = _make_settings(overrides)
    return Pipeline(settings, reporter=RichReporter(quiet, settings.progress_interval_s))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rag-local", prog_name="rag")
def cli() -> None:
    """Answer questions from your documents, citing the passages. Runs locally, offline."""


@cli.command("index")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("--rebuild", is_flag=True, help="Re-embed every document, not only changed ones.")
@_settings_options
def index_cmd(path: str | None, rebuild: bool, **overrides: Any) -> None:
    """Build or update the index of PATH (default: documents/).

    Only new and changed documents are embedded; deleted ones are dropped.
    """
    if path:
        overrides["documents_dir"] = path
    p = _pipeline(overrides)
    changes = p.refresh_index(rebuild=rebuild, require_write=True)
    click.echo(changes.summary())
    for name, items in (("added", changes.added), ("updated", changes.updated),
                        ("removed", changes.removed)):
        for doc_id in items:
            click.echo(f"  {name}: {doc_id}")
    click.echo(f"Index: {p.index.location}")


@cli.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print the passages as JSON.")
@_settings_options
def search_cmd(query: str, as_json: bool, **overrides: Any) -> None:
    """Show the passages retrieval finds for QUERY, with scores (no LLM)."""
    p = _pipeline(overrides, quiet=as_json)
    passages = p.search(query)
    if as_json:
        click.echo(json.dumps([x.to_dict(i) for i, x in enumerate(passages, 1)],
                              ensure_ascii=False, indent=2))
        return
    from rich.console import Console

    out = Console(highlight=False)
    for i, x in enumerate(passages, 1):
        dense = "-" if x.dense_score is None else f"{x.dense_score:.3f}"
        lexical = "-" if x.lexical_score is None else f"{x.lexical_score:.2f}"
        out.print(f"[bold][{i}][/bold] {x.title} [dim]{x.chunk.chunk_id} chars "
                  f"{x.chunk.start}-{x.chunk.end} | score {x.score:.4f} (dense {dense}, "
                  f"bm25 {lexical})[/dim]", soft_wrap=True)
        out.print(f"    {x.chunk.text}\n", markup=False, soft_wrap=True)


@cli.command("ask")
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (no streaming).")
@_settings_options
def ask_cmd(question: str, as_json: bool, **overrides: Any) -> None:
    """Answer QUESTION with cited passages.

    The answer streams as it is generated; the cited sources follow, with the
    supporting part marked.
    """
    from .conversation import validate_question

    p = _pipeline(overrides, quiet=as_json)
    question = validate_question(question, p.settings.max_question_chars)  # before any loading
    p.start_loading()
    if as_json:
        answer = p.ask(question)
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    _answer_and_show(p, question, [])


def _answer_and_show(p: Pipeline, question: str, history: list[Turn]) -> Answer:
    from rich.console import Console

    out = Console(highlight=False)
    answer = None
    for event in p.stream(question, history):
        if isinstance(event, Answer):
            answer = event
        else:
            out.print(event, end="", markup=False, soft_wrap=True)
    assert answer is not None
    if answer.raw_text:
        out.print()
    # What the user read streamed is the model's first try: say what the checks changed.
    if not answer.raw_text:
        out.print(answer.text, markup=False, soft_wrap=True)
    elif answer.revision == "cited":  # the model left the markers out: say where they go
        out.print(f"[dim]→ cited: {''.join(f'[{c.n}]' for c in answer.citations)}[/dim]")
    elif answer.revision == "rewritten":
        label = "abstained" if answer.abstained else f"checked answer ({answer.answer_mode})"
        out.print(f"[dim]→ {label}:[/dim]")
        out.print(answer.text, markup=False, soft_wrap=True)
    for w in answer.warnings:
        out.print(f"[yellow]note:[/yellow] {w}", highlight=False, soft_wrap=True)
    if answer.citations:
        out.print("\n[bold]Sources[/bold]")
        for c in answer.citations:
            _print_passage(out, c.n, c.passage, (c.support_start, c.support_end))
    elif answer.abstained and answer.passages:
        # Not a dead end: what was read, so the reader can judge for themselves (the model
        # refuses beside evidence put in other words more often than it answers wrongly).
        out.print("\n[bold]Closest passages[/bold] [dim](read, not cited)[/dim]")
        for n, x in enumerate(answer.passages, start=1):
            _print_passage(out, n, x, None)
    t = answer.timings
    out.print(f"[dim]{answer.model} · retrieval {t['retrieve_ms']:.0f} ms · answer "
              f"{t['generate_ms'] / 1000:.1f} s[/dim]")
    return answer


def _print_passage(out: Console, n: int, x: Passage,
                   support: tuple[int, int] | None) -> None:
    from rich.text import Text

    c = x.chunk
    head = Text(f"[{n}] ", style="bold")
    head.append(x.title)
    head.append(f"  ({c.doc_id}, chars {c.start}-{c.end})", style="dim")
    out.print(head, soft_wrap=True)
    def indented(s: str) -> str:
        return re.sub(r"\n+", "\n    ", s)

    body = Text("    ")
    if support and c.start <= support[0] < support[1] <= c.end:
        lo, hi = support[0] - c.start, support[1] - c.start
        body.append(indented(c.text[:lo]))
        if out.is_terminal:
            body.append(indented(c.text[lo:hi]), style="bold yellow")
        else:
            body.append("»" + indented(c.text[lo:hi]) + "«")
        body.append(indented(c.text[hi:]))
    else:
        body.append(indented(c.text))
    out.print(body, soft_wrap=True)


@cli.command("chat")
@_settings_options
def chat_cmd(**overrides: Any) -> None:
    """Chat in the terminal, with follow-up questions.

    /sources shows the last answer's passages, /clear starts over, Ctrl-D leaves.
    """
    from rich.console import Console

    out = Console(highlight=False)
    p = _pipeline(overrides)
    p.start_loading()
    p.index  # noqa: B018 - build or update before the first question
    out.print("[dim]Ask about your documents. /sources shows the last answer's passages, "
              "/clear starts over, Ctrl-D leaves.[/dim]")
    history: list[Turn] = []
    last: Answer | None = None
    while True:
        try:
            line = input("\n› ")
        except EOFError:
            out.print()
            return
        except KeyboardInterrupt:
            out.print()
            return
        q = line.strip()
        if not q:
            continue
        if q == "/sources":
            if last is None:
                out.print("[dim]No answer yet.[/dim]")
            else:
                for i, x in enumerate(last.passages, 1):
                    cited = next((c for c in last.citations if c.n == i), None)
                    support = (cited.support_start, cited.support_end) if cited else None
                    _print_passage(out, i, x, support)
            continue
        if q == "/clear":
            history, last = [], None
            out.print("[dim]Conversation cleared.[/dim]")
            continue
        try:
            last = _answer_and_show(p, q, history)
        except RagError as e:
            out.print(f"[red]{e}[/red]")
            continue
        history += [Turn("user", q), Turn("assistant", last.text)]


@cli.command("eval")
@click.argument("gold", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default="eval-report", show_default=True,
              type=click.Path(file_okay=False), help="Where report.json/.md and metrics.png go.")
@click.option("--compare", "compare", multiple=True, metavar="[NAME:]KEY=VALUE[,KEY=VALUE]",
              help="Also run a configuration with these settings (repeatable), e.g. "
                   "--compare retrieval_mode=bm25 --compare small:model=smollm2-135m.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Run the current settings as the first configuration.")
@click.option("--limit", type=int, default=None, help="Only the first N gold questions.")
@_settings_options
def eval_cmd(gold: str | None, out_dir: str, compare: tuple[str, ...], baseline: bool,
             limit: int | None, **overrides: Any) -> None:
    """Score answers against gold answers (default: the shipped gold set).

    Retrieval (hit@k, MRR, evidence recall), answers (exact match, token F1, contained),
    citations (ALCE recall and precision), abstention and latency. Writes report.json,
    report.md and metrics.png to --out and prints a table.
    """
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    from . import eval as ev

    gold_path = Path(gold) if gold else ev.DEFAULT_GOLD
    items = ev.load_gold(gold_path)[:limit] if limit else ev.load_gold(gold_path)
    configs = ([ev.Config("default")] if baseline else []) + [ev.parse_config(c)
                                                            for c in compare]
    if not configs:
        raise RagError("Nothing to run: drop --no-baseline or add --compare KEY=VALUE")
    settings = _make_settings(overrides)
    reporter = RichReporter(every=settings.progress_interval_s)
    if reporter.console.is_terminal:
        progress = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), "{task.fields[last]}",
                            console=reporter.console)

        def factory(config: ev.Config, total: int) -> Callable[[ev.QuestionResult], None]:
            task = progress.add_task(config.name, total=total, last="")

            def step(result: ev.QuestionResult) -> None:
                mark = "ok" if not result.failure else "✗ " + result.id
                progress.update(task, advance=1, last=mark)

            return step

        with progress:
            runs = ev.evaluate(settings, items, configs, factory)
    else:  # a pipe or a log: plain progress lines, and the model's and index's too

        def factory(config: ev.Config, total: int) -> Callable[[ev.QuestionResult], None]:
            task = reporter.task(f"Evaluating {config.name}", total, "questions")
            done = []

            def step(result: ev.QuestionResult) -> None:
                done.append(result)
                task.advance()
                if len(done) == total:
                    task.finish()

            return step

        runs = ev.evaluate(settings, items, configs, factory, reporter)
    command = "rag eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else "rag eval"
    paths = ev.write_reports(runs, Path(out_dir), gold_path, command)

    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=200)  # a pipe or file: don't squeeze the table
    table = Table(title=f"{gold_path.name}: {len(items)} questions")
    table.add_column("configuration")
    for _, header, _ in ev.TABLE_COLUMNS:
        table.add_column(header, justify="right")
    for r in runs:
        table.add_row(r["name"], *(ev.fmt(r["aggregate"].get(k), kind)
                                   for k, _, kind in ev.TABLE_COLUMNS))
    out.print(table)
    for key, target, value, ok in ev.target_check(runs[0]["aggregate"]):
        out.print(f"{'✓' if ok else '✗'} {key}: {ev.fmt(value, 'pct')} "
                  f"(target {ev.fmt(target, 'pct')})")
    failures = runs[0]["aggregate"]["failures"]
    for why, count in sorted(failures.items(), key=lambda kv: -kv[1]):
        out.print(f"  {count} × {why}")
    out.print(f"Reports: {', '.join(str(p) for p in paths)}")


@cli.command("bench")
@click.option("--quick", is_flag=True,
              help="Smaller inputs and the small model: every table in under two minutes.")
@click.option("--out", "out_path", default="BENCHMARKS.md", show_default=True,
              type=click.Path(dir_okay=False), help="Markdown report (raw numbers go beside "
              "it as .json).")
@click.option("--part", "parts", multiple=True,
              type=click.Choice(["answer", "context", "indexing", "retrieval", "cold", "server",
                                 "backends", "scale", "corpus"]),
              # the names of rag.bench.PARTS + EXTRA_PARTS (not imported: `rag` starts fast)
              help="Run only these parts (repeatable), adding their tables to an existing "
                   "report; default: the eight standard parts.")
@click.option("--corpus", "corpus", type=click.Path(file_okay=False, exists=True),
              default=None, help="A folder of documents for the corpus part: it is indexed "
                                 "in a new process and compared with bare encode.")
@click.option("--render", "render", is_flag=True,
              help="Measure nothing: write --out again from the .json beside it.")
@_settings_options
def bench_cmd(quick: bool, out_path: str, parts: tuple[str, ...], corpus: str | None,
              render: bool, **overrides: Any) -> None:
    """Measure the project against the bare libraries it is built on.

    Answer latency vs bare llama-cpp-python, the context budget with evaluation scores,
    indexing vs bare sentence-transformers, vector search at 10k-1M chunks, cold start,
    and the server under load. Writes BENCHMARKS.md (and .json) and prints the tables.
    """
    import time
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from . import bench

    if render:
        source = Path(out_path).with_suffix(".json")
        if not source.is_file():
            raise RagError(f"No {source} to render from: run `rag bench` first")
        for p in bench.rewrite_report(source, Path(out_path)):
            click.echo(f"Wrote {p}")
        return
    plan = bench.QUICK if quick else bench.FULL
    if overrides.get("model"):  # an explicit --model wins over the quick plan's small one
        from dataclasses import replace

        plan = replace(plan, model=overrides["model"])
    settings = _make_settings(overrides)
    err = Console(stderr=True, highlight=False)
    t0 = time.perf_counter()
    tables = bench.run_all(settings, plan, lambda m: err.print(f"[dim]{escape(m)}[/dim]"),
                           parts, Path(corpus) if corpus else None)
    command = "rag " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "rag bench"
    existing = Path(out_path).with_suffix(".json")
    if parts and existing.is_file():
        paths = bench.merge_report(existing, Path(out_path), tables, command)
    else:
        paths = bench.write_report(tables, Path(out_path), command, plan,
                                   time.perf_counter() - t0)
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=200)
    for t in tables:
        table = Table(title=t.title, title_justify="left")
        for c in t.columns:
            table.add_column(c)
        for row in t.rows:
            table.add_row(*(cell.replace("**", "") for cell in row))
        out.print(table)
    out.print(f"Report: {', '.join(str(p) for p in paths)}")


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on [env RAG_HOST; 127.0.0.1].")
@click.option("--port", default=None, type=int, help="Port [env RAG_PORT; 8000].")
@click.option("--workers", default=None, type=int,
              help="API processes [env RAG_WORKERS; 1]; above 1 only with an LLM server "
                   "(RAG_LLM_BACKEND=openai) and a Qdrant server (RAG_QDRANT_URL).")
@_settings_options
def serve_cmd(**overrides: Any) -> None:
    """Serve the HTTP API and the web chat page.

    POST /chat, POST /v1/chat/completions (OpenAI-compatible), POST /search,
    GET/POST/DELETE /documents, GET /health, GET /ready; the page is at /.
    """
    import uvicorn

    settings = _make_settings(overrides)
    why = replicas_refused(settings)
    if why:
        raise RagError(why)
    click.echo(f"Serving on http://{settings.host}:{settings.port}/ (loading the model and "
               "index; GET /ready says when they are loaded)"
               + (f" with {settings.workers} workers" if settings.workers > 1 else ""), err=True)
    if settings.workers > 1:
        # Each worker process builds its app from the environment: carry the flags there.
        for name, value in overrides.items():
            if value is not None:
                os.environ[f"RAG_{name.upper()}"] = str(value)
        uvicorn.run("api.app:create_app", factory=True, workers=settings.workers,
                    host=settings.host, port=settings.port, log_level="warning",
                    timeout_graceful_shutdown=5)
        return
    from api.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level="warning", timeout_graceful_shutdown=5)


def replicas_refused(settings: Settings) -> str | None:
    """Why ``settings.workers`` API processes cannot share the work, or None if they can."""
    if settings.workers <= 1:
        return None
    lacking = []
    if settings.llm_backend != "openai":
        lacking.append("each worker would load its own copy of the model "
                       "(set RAG_LLM_BACKEND=openai and RAG_LLM_URL to share an LLM server)")
    if settings.vector_store != "qdrant" or not settings.qdrant_url:
        lacking.append("each worker would hold its own index, and a document added through "
                       "one would not be seen by the others (set RAG_VECTOR_STORE=qdrant and "
                       "RAG_QDRANT_URL to share a Qdrant server; the embedded mode opens in "
                       "one process only)")
    return (f"--workers {settings.workers} needs shared servers: " + "; and ".join(lacking)
            + ". With the in-process defaults, run one worker (see docs/deploy.md)")


@cli.command("llm-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--api-key", default=None, help="Bearer key clients must send (RAG_LLM_API_KEY "
              "on their side).")
@click.option("--model", "model", default=None, help="LLM preset or GGUF path [env RAG_MODEL].")
@click.option("--threads", "n_threads", default=None, type=int, help="CPU threads.")
@click.option("--ctx", "n_ctx", default=None, type=int, help="Context size in tokens.")
def llm_server_cmd(host: str, port: int, api_key: str | None, **overrides: Any) -> None:
    """Serve a model preset over the OpenAI API (llama-cpp-python's server).

    Other replicas of `rag serve` then use it with RAG_LLM_BACKEND=openai and
    RAG_LLM_URL=http://HOST:PORT/v1. One answer at a time; see docs/deploy.md for servers
    with parallel slots.
    """
    import uvicorn

    from .llm_server import create_app

    settings = _make_settings(overrides)
    app, name = create_app(settings, host, port, api_key,
                           RichReporter(False, settings.progress_interval_s))
    click.echo(f"Serving {name} on http://{host}:{port}/v1 (OpenAI API; set RAG_LLM_URL to "
               "that)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes become one line on stderr and a non-zero exit."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    warnings.filterwarnings("ignore")
    debug = os.environ.get("RAG_DEBUG") == "1"
    if debug:  # our own log and llama.cpp's (the rag.llama logger), with their origin
        logging.getLogger("rag").setLevel(logging.DEBUG)
    try:
        cli.main(args=argv, prog_name="rag", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except RagError as e:
        if debug:
            raise
        click.echo(f"Error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as e:  # a bug, not a user mistake: still one line, with a way to see more
        if debug:
            raise
        click.echo(f"Internal error: {type(e).__name__}: {e} (run with RAG_DEBUG=1 for the "
                   "traceback, and please report it)", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
