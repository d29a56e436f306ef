"""HTTP request bodies (pydantic at the edge). Responses reuse Answer.to_dict()."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE_CHARS = 100_000  # any one message; the question itself has a tighter setting


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatRequest(BaseModel):
    """POST /chat: the conversation so far; the last message is the question."""

    model_config = ConfigDict(extra="forbid")

    messages: list[Message] = Field(min_length=1, max_length=1000)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=50)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(max_length=MAX_MESSAGE_CHARS)
    top_k: int | None = Field(None, ge=1, le=50)


class OpenAIMessage(BaseModel):
    """OpenAI clients may send content as a string or a list of text parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "assistant", "system", "developer", "tool"]
    content: str | list[dict] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.get("text", "") for p in self.content if isinstance(p, dict))
        return self.content or ""


class OpenAIChatRequest(BaseModel):
    """POST /v1/chat/completions. Sampling fields are accepted and ignored: answers are
    greedy and grounded; ``model`` may name anything, the loaded model answers."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=50)
