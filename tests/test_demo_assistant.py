"""The demo notebook's assistants: the offline one and the OpenAI-compatible client."""

from __future__ import annotations

import json

import httpx
import pytest

import kontext_widget as kw
from kontext_widget.assistants import FALLBACK, TOPICS, DemoAssistant, OpenAIChat


def _user(content: str) -> kw.Message:
    return kw.Message(id="u1", role="user", content=content)


def test_demo_assistant_answers_the_newest_question_by_topic() -> None:
    assistant = DemoAssistant()
    conversation = (
        _user("Tell me about coffee"),
        kw.Message(id="a1", role="assistant", content="..."),
        kw.Message(id="u2", role="user", content="Which running shoes for a marathon?"),
    )
    streamed = list(assistant(conversation))
    assert len(streamed) > 1  # word by word
    assert "".join(streamed) == TOPICS[0].answer
    assert "".join(assistant(conversation)) == TOPICS[0].answer  # same every time


def test_demo_assistant_falls_back_when_no_topic_matches() -> None:
    assert DemoAssistant().answer("What is the airspeed of a swallow?") == FALLBACK
    assert "".join(DemoAssistant()(())) == FALLBACK


def test_demo_assistant_rejects_a_bad_delay() -> None:
    with pytest.raises(ValueError, match="delay must be a number of seconds >= 0"):
        DemoAssistant(delay=-1)


def _sse(*chunks: str) -> bytes:
    lines = [
        "data: " + json.dumps({"choices": [{"delta": {"content": chunk}}]}) for chunk in chunks
    ]
    lines[1:1] = [": keep-alive", "data: {not json"]
    return ("\n\n".join([*lines, "data: [DONE]", "data: ignored-after-done"]) + "\n\n").encode()


def test_openai_chat_streams_the_deltas() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=_sse("Hel", "lo", "!"))

    client = httpx.Client(transport=httpx.MockTransport(handler))
    chat = OpenAIChat(api_key="sk-test", base_url="http://llm.local/v1/", client=client)
    assert list(chat((_user("hi"),))) == ["Hel", "lo", "!"]
    (request,) = sent
    assert str(request.url) == "http://llm.local/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    body = json.loads(request.content)
    assert body["stream"] is True
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][1:] == [{"role": "user", "content": "hi"}]
    assert body["messages"][0]["role"] == "system"


def test_openai_chat_reports_http_errors() -> None:
    client = httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(401, text="bad key"))
    )
    chat = OpenAIChat(api_key="sk-test", client=client)
    with pytest.raises(RuntimeError, match="answered HTTP 401: bad key"):
        list(chat((_user("hi"),)))


def test_openai_chat_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY is not set"):
        OpenAIChat.from_env()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_MODEL", "local-model")
    assert repr(OpenAIChat.from_env()) == "OpenAIChat(model='local-model')"
    with pytest.raises(ValueError, match="model must be a non-empty str"):
        OpenAIChat(api_key="k", model="")
