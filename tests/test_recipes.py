"""README's OpenAI and Anthropic recipes, run verbatim with the real client packages.

Their HTTP goes to a mock transport of the HTTP library each client is built
on (``httpx``, or its successor ``httpx2`` in newer releases) that streams
server-sent events exactly as each API does: OpenAI ``chat.completion.chunk``
objects ending with ``data: [DONE]``, Anthropic ``message_start`` ...
``content_block_delta`` ... ``message_stop`` events. Each test checks the
request the recipe made, the reply that reached the session, and that the
reply was drawn while the stream was still arriving (not read whole first).
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import kontext_widget as kw
from kontext_widget._notebook import chat as _chat

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

README = Path(__file__).resolve().parent.parent / "README.md"
WORDS = ["Try ", "trail ", "runners ", "with ", "a ", "wide ", "toe ", "box."]
REPLY = "".join(WORDS)


def _recipe(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    after = text.split(f"<!-- recipe: {name} -->", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def _http_module(client_class: type) -> ModuleType:
    """The HTTP library (httpx or httpx2) whose Client the SDK's default client extends."""
    base = next(c for c in client_class.__mro__[1:] if c.__name__ in {"Client", "AsyncClient"})
    return importlib.import_module(base.__module__.split(".")[0])


# -- the two APIs' streams ---------------------------------------------------------------------


def _openai_events() -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n".encode()

    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": word}) for word in WORDS),
        chunk({}, "stop"),
        b"data: [DONE]\n\n",
    ]


def _anthropic_events() -> list[bytes]:
    def event(kind: str, body: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n".encode()

    message = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-sonnet-4-5",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    return [
        event("message_start", {"message": message}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        event("ping", {}),
        *(
            event(
                "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word}}
            )
            for word in WORDS
        ),
        event("content_block_stop", {"index": 0}),
        event(
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
        ),
        event("message_stop", {}),
    ]


class FakeAPI:
    """A mock transport handler: records requests, streams the events one by one."""

    def __init__(self, http: ModuleType, events: list[bytes], path: str) -> None:
        self.http = http
        self.events = events
        self.path = path
        self.requests: list[Any] = []
        self.sent = 0

    def _sync_stream(self) -> Iterator[bytes]:
        for event in self.events:
            self.sent += 1
            yield event

    async def _async_stream(self) -> AsyncIterator[bytes]:
        for event in self.events:
            self.sent += 1
            await asyncio.sleep(0)
            yield event

    def handler(self, *, is_async: bool) -> Any:
        def handle(request: Any) -> Any:
            self.requests.append(request)
            assert request.url.path == self.path, request.url
            stream = self._async_stream() if is_async else self._sync_stream()
            headers = {"content-type": "text/event-stream"}
            return self.http.Response(200, headers=headers, content=stream)

        return handle

    def body(self) -> dict[str, Any]:
        (request,) = self.requests
        result: dict[str, Any] = json.loads(request.content)
        return result


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every chunk the turn drew, with how many SSE events the server had sent by then."""
    calls: list[tuple[str, int]] = []
    original = _chat.StreamDrawing.add

    def add(self: _chat.StreamDrawing, chunk: object) -> None:
        calls.append((str(chunk), _current_api.sent if _current_api else -1))
        original(self, chunk)

    monkeypatch.setattr(_chat.StreamDrawing, "add", add)
    return calls


_current_api: FakeAPI | None = None


def _patch_client(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str, api: FakeAPI
) -> None:
    global _current_api
    _current_api = api
    original = getattr(module, name)
    is_async = name.startswith("Async")
    http = api.http
    transport_client = http.AsyncClient if is_async else http.Client

    class Mocked(original):  # type: ignore[misc, valid-type]
        def __init__(self, **options: Any) -> None:
            options.setdefault("api_key", "test-key")
            options["http_client"] = transport_client(
                transport=http.MockTransport(api.handler(is_async=is_async))
            )
            super().__init__(**options)

    monkeypatch.setattr(module, name, Mocked)


def _run_recipe(name: str, session: kw.Session) -> Any:
    namespace: dict[str, Any] = {"session": session}
    code = compile(_recipe(name), f"README recipe {name}", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # a coroutine when the recipe awaits at top level
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    return namespace["turn"]


@pytest.fixture
def session(server: kw.LocalAdServer) -> Iterator[kw.Session]:
    with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url
    ) as created:
        created.add_message({"id": "u0", "role": "user", "content": "Hello"})
        created.add_message({"id": "a0", "role": "assistant", "content": "Hi! How can I help?"})
        yield created


CONVERSATION = [
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "Which running shoes?"},
]


def _check_turn(turn: Any, drawn: list[tuple[str, int]], api: FakeAPI) -> None:
    assert turn.assistant.content == REPLY
    assert turn.ad.bid_id is not None  # the ad request ran alongside
    assert [chunk for chunk, _ in drawn] == WORDS
    # Drawn while streaming: the first word was shown before the server had sent the rest.
    first_sent = drawn[0][1]
    assert 0 < first_sent < len(api.events) - 1, drawn
    assert [sent for _, sent in drawn] == sorted(sent for _, sent in drawn)


# Provider -> its SDK module, client class, SSE answer, endpoint, and what else its
# request body must say besides the streamed conversation.
PROVIDERS: dict[str, tuple[ModuleType, str, Callable[[], list[bytes]], str, dict[str, Any]]] = {
    "openai": (openai, "OpenAI", _openai_events, "/v1/chat/completions", {"model": "gpt-4o-mini"}),
    "anthropic": (anthropic, "Anthropic", _anthropic_events, "/v1/messages", {"max_tokens": 1024}),
}


@pytest.mark.parametrize("name", ["openai", "openai-async", "anthropic", "anthropic-async"])
def test_provider_recipe(
    name: str,
    session: kw.Session,
    drawn: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module, client, events, endpoint, expected = PROVIDERS[name.removesuffix("-async")]
    if name.endswith("async"):
        client = "Async" + client
    http = _http_module(module.DefaultHttpxClient)
    api = FakeAPI(http, events(), endpoint)
    _patch_client(monkeypatch, module, client, api)
    turn = _run_recipe(name, session)
    _check_turn(turn, drawn, api)
    body = api.body()
    assert body["stream"] is True
    assert body["messages"] == CONVERSATION
    for key, value in expected.items():
        assert body[key] == value, key


def test_a_stream_cut_short_raises_and_adds_no_reply(
    session: kw.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OpenAI stream that dies mid-way: the turn fails loudly, no half reply is stored."""
    http = _http_module(openai.DefaultHttpxClient)
    events = _openai_events()[:4]

    def broken() -> Iterator[bytes]:
        yield from events
        raise http.ReadError("connection reset")

    class Cut(FakeAPI):
        def _sync_stream(self) -> Iterator[bytes]:
            return broken()

    _patch_client(monkeypatch, openai, "OpenAI", Cut(http, events, "/v1/chat/completions"))
    with pytest.raises(Exception, match=r"(?i)connection (reset|error)"):
        _run_recipe("openai", session)
    assert [m.id for m in session.messages] == ["u0", "a0", "u1"]
