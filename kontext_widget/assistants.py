"""Ready-made chat assistants for notebooks: a built-in offline one and an OpenAI-compatible client.

Both are what ``Session.chat_turn`` accepts as ``reply``: a callable taking the
conversation's messages and returning the reply as a stream of text chunks.

``DemoAssistant`` answers from a small fixed set of topics, so the demo runs
with no network and no model download and gives the same answers on every
run (which is what lets the notebook be checked by nbval). ``OpenAIChat`` talks
to any ``/chat/completions`` endpoint with streaming (OpenAI, vLLM, llama.cpp,
Ollama...) over httpx, so the package needs no ``openai`` dependency.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from ._types import Message

__all__ = ["DemoAssistant", "OpenAIChat", "Topic"]


@dataclass(frozen=True)
class Topic:
    """One thing the demo assistant knows about: the words that select it and its answer."""

    keywords: frozenset[str]
    answer: str


TOPICS: Final = (
    Topic(
        frozenset({"run", "running", "marathon", "shoes", "jog", "jogging", "trainers"}),
        "For a first marathon, pick neutral running shoes with good cushioning, "
        "buy them half a size up, and run in them for a few weeks before race day. "
        "Build up your long run by about ten percent a week.",
    ),
    Topic(
        frozenset({"trip", "travel", "lisbon", "flight", "hotel", "weekend", "visit"}),
        "Three days in Lisbon is enough for Alfama, Belém and a day trip to Sintra. "
        "Stay near Baixa to walk everywhere, and book the Sintra palaces ahead in summer.",
    ),
    Topic(
        frozenset({"coffee", "espresso", "grinder", "beans", "brew", "latte"}),
        "Freshly ground beans matter more than the machine: a burr grinder and a "
        "simple pour-over already make great coffee. Use about 60 g of coffee per litre.",
    ),
    Topic(
        frozenset({"python", "learn", "course", "programming", "code", "notebook"}),
        "Start with small scripts that automate something you do every week, then move "
        "to notebooks for data work. Reading other people's code teaches as much as courses.",
    ),
    Topic(
        frozenset({"laptop", "computer", "gpu", "ram", "macbook", "buy"}),
        "For data science, 32 GB of RAM matters more than the CPU, a fast SSD keeps "
        "notebooks snappy, and a GPU only pays off if you train models locally.",
    ),
)

FALLBACK: Final = (
    "I am the offline demo assistant, so I only know about running, travel, coffee, "
    "learning Python and laptops. Ask me about one of those!"
)

_WORD: Final = re.compile(r"[a-z]+")


class DemoAssistant:
    """A deterministic retrieval-style assistant: the topic sharing most words with the question.

    ``delay`` seconds between streamed words make the stream visible in a
    notebook; 0 (the default) streams as fast as it can.
    """

    def __init__(self, topics: Sequence[Topic] = TOPICS, *, delay: float = 0.0) -> None:
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError(f"delay must be a number of seconds >= 0, got {delay!r}")
        self._topics = tuple(topics)
        self._delay = float(delay)

    def answer(self, question: str) -> str:
        """The whole answer to ``question``."""
        words = set(_WORD.findall(question.lower()))
        best = max(self._topics, key=lambda topic: len(topic.keywords & words), default=None)
        if best is None or not best.keywords & words:
            return FALLBACK
        return best.answer

    def __call__(self, messages: Sequence[Message]) -> Iterator[str]:
        """Stream the answer to the newest user message, word by word."""
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        for index, word in enumerate(self.answer(question).split(" ")):
            if index and self._delay:
                time.sleep(self._delay)
            yield word if index == 0 else " " + word


class OpenAIChat:
    """A streaming client for an OpenAI-compatible ``/chat/completions`` endpoint.

    ``OpenAIChat.from_env()`` reads ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``
    (default ``https://api.openai.com/v1``) and ``OPENAI_MODEL`` (default
    ``gpt-4o-mini``). ``client`` lets tests answer without a network.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.openai.com/v1",
        model: str = "gpt-4o-mini",
        system_prompt: str = "You are a helpful assistant. Answer briefly.",
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        for name, value in (("api_key", api_key), ("base_url", base_url), ("model", model)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty str, got {value!r}")
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._model = model
        self._system_prompt = system_prompt
        self._timeout = timeout
        self._client = client

    @classmethod
    def from_env(cls) -> OpenAIChat:
        api_key = os.environ.get("OPENAI_API_KEY", "")
        if not api_key:
            raise ValueError("OPENAI_API_KEY is not set")
        return cls(
            api_key=api_key,
            base_url=os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
            model=os.environ.get("OPENAI_MODEL") or "gpt-4o-mini",
        )

    def __repr__(self) -> str:
        return f"OpenAIChat(model={self._model!r})"

    def __call__(self, messages: Sequence[Message]) -> Iterator[str]:
        """Stream the model's reply to the conversation, chunk by chunk."""
        body = {
            "model": self._model,
            "stream": True,
            "messages": [{"role": "system", "content": self._system_prompt}]
            + [{"role": m.role, "content": m.content} for m in messages],
        }
        client = self._client or httpx.Client(timeout=self._timeout)
        try:
            with client.stream("POST", self._url, json=body, headers=self._headers) as response:
                if response.status_code != 200:
                    response.read()
                    raise RuntimeError(
                        f"{self._url} answered HTTP {response.status_code}: {response.text[:300]}"
                    )
                for line in response.iter_lines():
                    text = _delta_text(line)
                    if text is None:
                        break
                    if text:
                        yield text
        finally:
            if self._client is None:
                client.close()


def _delta_text(line: str) -> str | None:
    """The text of one server-sent-events line: ``""`` for none, ``None`` at ``[DONE]``."""
    if not line.startswith("data:"):
        return ""
    data = line[len("data:") :].strip()
    if data == "[DONE]":
        return None
    try:
        chunk: Any = json.loads(data)
        content = chunk["choices"][0]["delta"].get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""
