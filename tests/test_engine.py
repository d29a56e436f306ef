"""The model slots: one answer at a time in process (as many as a server runs), a bounded
queue, time limits, cancellation of one answer only."""

import asyncio
import time

import pytest

from api.engine import AnswerEngine, AnswerTimeoutError, BusyError, Token
from rag.pipeline import Pipeline
from rag.types import Answer

from .conftest import ScriptedGenerator

ANSWER = "Peskov said that Russia cannot leave Armenia [1]. " * 3


class SlowGenerator(ScriptedGenerator):
    """Yields a word every ``delay`` seconds; records how many it produced."""

    def __init__(self, delay: float) -> None:
        super().__init__([])
        self.delay = delay
        self.produced = 0
        self.active = 0
        self.max_active = 0

    def stream(self, messages, max_tokens=256, cancel=None):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            for word in ANSWER.split(" "):
                time.sleep(self.delay)
                self.produced += 1
                yield word + " "
        finally:
            self.active -= 1


@pytest.fixture
def pipeline(settings, embedder):
    p = Pipeline(settings, embedder=embedder, generator=SlowGenerator(0.01))
    p.index  # noqa: B018
    return p


async def _ask_at_once(engine: AnswerEngine, n: int) -> list[Answer | BusyError]:
    async def one():
        try:
            return await engine.ask("What did Peskov say?")
        except BusyError as e:
            return e

    return await asyncio.gather(*(one() for _ in range(n)))


@pytest.mark.parametrize("slots", [1, 3])  # in process; a server with RAG_LLM_CONCURRENCY=3
def test_slots_answer_at_once_and_the_queue_is_bounded(pipeline, slots):
    """``slots`` answer at once, two wait, the rest get 429 at once."""
    engine = AnswerEngine(pipeline, max_waiting=2, timeout_s=30, slots=slots)
    results = asyncio.run(_ask_at_once(engine, slots + 4))
    answers = [r for r in results if isinstance(r, Answer)]
    busy = [r for r in results if isinstance(r, BusyError)]
    assert len(answers) == slots + 2 and len(busy) == 2
    assert all("cannot leave Armenia" in a.text for a in answers)
    assert pipeline.generator.max_active == slots
    assert engine.busy == 0 and engine.stats["rejected"] == 2
    assert engine.stats["answered"] == slots + 2
    assert busy[0].retry_after > 0


def test_cancelling_one_answer_leaves_the_others_running(pipeline):
    engine = AnswerEngine(pipeline, max_waiting=0, timeout_s=30, slots=3)

    async def main():
        async def whole():
            return await engine.ask("What did Peskov say?")

        others = [asyncio.create_task(whole()) for _ in range(2)]
        stream = engine.stream("What did Peskov say?")
        assert isinstance(await stream.__anext__(), Token)
        await stream.aclose()  # one client hangs up
        return await asyncio.gather(*others)

    answers = asyncio.run(main())
    assert all("cannot leave Armenia" in a.text for a in answers)
    assert engine.stats == {"answered": 2, "rejected": 0, "cancelled": 1, "timed_out": 0}


def test_tokens_stream_then_answer(pipeline):
    engine = AnswerEngine(pipeline)

    async def main():
        return [e async for e in engine.stream("What did Peskov say?")]

    events = asyncio.run(main())
    assert isinstance(events[-1], Answer)
    tokens = [e for e in events if isinstance(e, Token)]
    assert len(tokens) == len(ANSWER.split(" "))


def test_time_limit_stops_generation_and_frees_the_model(settings, embedder):
    gen = SlowGenerator(0.05)
    p = Pipeline(settings, embedder=embedder, generator=gen)
    p.index  # noqa: B018
    engine = AnswerEngine(p, timeout_s=0.3)

    async def main():
        with pytest.raises(AnswerTimeoutError, match="longer than"):
            await engine.ask("What did Peskov say?")
        produced = gen.produced
        assert produced < len(ANSWER.split(" "))  # stopped early
        await asyncio.sleep(0.2)
        assert gen.produced <= produced + 1 and gen.active == 0
        gen.delay = 0.0
        return await engine.ask("What did Peskov say?")  # the slot was released

    assert not asyncio.run(main()).abstained
    assert engine.stats["timed_out"] == 1


def test_closing_the_stream_cancels_generation(settings, embedder):
    gen = SlowGenerator(0.05)
    p = Pipeline(settings, embedder=embedder, generator=gen)
    p.index  # noqa: B018
    engine = AnswerEngine(p)

    async def main():
        stream = engine.stream("What did Peskov say?")
        first = await stream.__anext__()
        assert isinstance(first, Token)
        await stream.aclose()  # what a client disconnect does
        assert gen.active == 0 and engine.busy == 0
        return gen.produced

    produced = asyncio.run(main())
    assert produced < len(ANSWER.split(" "))
    assert engine.stats["cancelled"] == 1


class PromptReader(ScriptedGenerator):
    """Reads a long prompt (no token for ``seconds``) unless its answer is cancelled, as
    llama.cpp does with its abort callback."""

    def __init__(self, seconds: float) -> None:
        super().__init__([])
        self.seconds = seconds
        self.interrupted_after: float | None = None

    def stream(self, messages, max_tokens=256, cancel=None):
        from rag.errors import GenerationInterrupted

        t0 = time.monotonic()
        if cancel.wait(self.seconds):
            self.interrupted_after = time.monotonic() - t0
            raise GenerationInterrupted("stopped")
        yield from ANSWER.split(" ")


def test_the_time_limit_holds_while_the_prompt_is_read(settings, embedder):
    """Before the first token arrives, only the abort callback can stop the model."""
    gen = PromptReader(seconds=20)
    p = Pipeline(settings, embedder=embedder, generator=gen)
    p.index  # noqa: B018
    engine = AnswerEngine(p, max_waiting=2, timeout_s=0.5)
    t0 = time.monotonic()
    with pytest.raises(AnswerTimeoutError, match="RAG_REQUEST_TIMEOUT_S"):
        asyncio.run(engine.ask("What did Peskov say?"))
    assert gen.interrupted_after is not None and gen.interrupted_after < 5
    assert time.monotonic() - t0 < 5  # not the 20 s the prompt would take
    assert engine.stats["timed_out"] == 1
