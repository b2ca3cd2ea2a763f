"""What a running local ad server knows, behind one lock.

``ServerState`` is shared by two sides on different threads: ``LocalAdServer``
(the caller's thread: scripts answers, reads what happened) and the HTTP
handlers (one thread per connection: record, answer, serve bids). The handlers
see it only through ``http.HandlerState``, so the HTTP side never touches the
public class or its attributes.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

from .answers import (
    AnswerSchedule,
    FillAnswer,
    InitAnswer,
    PreloadAnswer,
    check_text,
)
from .limits import (
    MAX_BIDS,
    MAX_BIDS_BYTES,
    MAX_RECORDED_BYTES,
    MAX_SESSIONS,
    MAX_SESSIONS_BYTES,
    BoundedLog,
    BoundedMap,
    HostCheck,
)
from .records import PreloadRequest, RecordedRequest, ServedBid

__all__ = ["FORMATS", "ServerState", "check_formats", "default_format"]

FORMATS: Final = ("inline", "video", "rewarded", "interstitial")


def default_format(code: str) -> str:
    """The creative format a placement code gets when ``formats`` does not name it."""
    lowered = code.lower()
    if "video" in lowered:
        return "video"
    if "reward" in lowered:
        return "rewarded"
    if "interstitial" in lowered:
        return "interstitial"
    return "inline"


def check_formats(formats: Mapping[str, str] | None) -> dict[str, str]:
    """``formats`` (code -> format) checked: a mapping of placement codes to ``FORMATS``."""
    if formats is None:
        return {}
    if not isinstance(formats, Mapping):
        raise TypeError(
            f"formats must be a mapping of code -> format, got {type(formats).__name__}"
        )
    checked: dict[str, str] = {}
    for code, fmt in formats.items():
        check_text(code, "each placement code in formats")
        if fmt not in FORMATS:
            raise ValueError(f"formats[{code!r}] must be one of {', '.join(FORMATS)}; got {fmt!r}")
        checked[code] = fmt
    return checked


class ServerState:
    """The answer script, the recorded requests, the served bids and the session ids.

    Arguments are already checked by ``LocalAdServer``.
    """

    def __init__(
        self, *, host: str, formats: dict[str, str], revenue: float, max_recorded_requests: int
    ) -> None:
        self._host_check = HostCheck(host)
        self._formats = formats
        self.default_revenue = revenue
        # Both schedules are thread-safe on their own.
        self.preload_answers: AnswerSchedule[PreloadAnswer] = AnswerSchedule(
            FillAnswer(revenue=revenue)
        )
        self.delays: AnswerSchedule[float] = AnswerSchedule(0.0)
        # Set while the server stops: delayed answers wake and drop their connection.
        self.stopping = threading.Event()
        self._init_answer = InitAnswer()
        self._lock = threading.Lock()
        self._request_arrived = threading.Condition(self._lock)
        self._requests: BoundedLog[RecordedRequest] = BoundedLog(
            max_recorded_requests, MAX_RECORDED_BYTES, lambda request: request.size
        )
        self._bids: BoundedMap[str, ServedBid] = BoundedMap(
            MAX_BIDS, MAX_BIDS_BYTES, lambda _, bid: bid.size
        )
        self._sessions: BoundedMap[tuple[str, str, str], str] = BoundedMap(
            MAX_SESSIONS,
            MAX_SESSIONS_BYTES,
            lambda key, value: sum(sys.getsizeof(text) for text in (*key, value)) + 256,
        )

    # -- the scripting side (LocalAdServer) ----------------------------------------------

    def set_init_answer(self, answer: InitAnswer) -> None:
        with self._lock:
            self._init_answer = answer

    def reset_answers(self) -> None:
        self.preload_answers.reset()
        self.delays.reset()
        self.set_init_answer(InitAnswer())

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if _path_matches(r.path, path)]

    def wait_for_request(self, path: str, *, timeout: float, count: int) -> RecordedRequest:
        deadline = time.monotonic() + timeout
        with self._request_arrived:
            while True:
                matching = [r for r in self._requests if _path_matches(r.path, path)]
                if len(matching) >= count:
                    return matching[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({r.path for r in self._requests})
                    raise TimeoutError(
                        f"waited {timeout}s for {count} request(s) to {path!r} but got "
                        f"{len(matching)}; paths seen: {seen}"
                    )
                self._request_arrived.wait(remaining)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def bids(self) -> dict[str, ServedBid]:
        with self._lock:
            return self._bids.as_dict()

    # -- the HTTP side (http.HandlerState, called on handler threads) ---------------------

    def allows_host(self, host: str) -> bool:
        return self._host_check.allows(host)

    def is_stopping(self) -> bool:
        return self.stopping.is_set()

    def wait_stopping(self, seconds: float) -> bool:
        return self.stopping.wait(seconds)

    def record(self, request: RecordedRequest) -> None:
        with self._request_arrived:
            self._requests.append(request)
            self._request_arrived.notify_all()

    def init_answer(self) -> InitAnswer:
        with self._lock:
            return self._init_answer

    def next_preload(self) -> tuple[PreloadAnswer, float]:
        answer = self.preload_answers.next()
        return answer, self.delays.next() + answer.delay

    def session_id(self, request: PreloadRequest) -> str:
        key = (request.publisher_token, request.user_id, request.conversation_id)
        sent = request.session_id
        with self._lock:
            if sent:
                self._sessions[key] = sent
            session_id = self._sessions.get(key)
            if session_id is None:
                session_id = str(uuid.uuid4())
                self._sessions[key] = session_id
            return session_id

    def serve_bids(
        self, answer: FillAnswer, request: PreloadRequest, session_id: str, is_disabled: bool
    ) -> list[dict[str, Any]]:
        codes = list(dict.fromkeys(request.codes if answer.codes is None else answer.codes))
        formats = dict(answer.formats)
        wire: list[dict[str, Any]] = []
        with self._lock:
            for code in codes:
                bid = ServedBid(
                    bid_id=str(uuid.uuid4()),
                    code=code,
                    format=formats.get(code) or self._format_for(code),
                    revenue=answer.revenue,
                    session_id=session_id,
                    publisher_token=request.publisher_token,
                    user_id=request.user_id,
                    conversation_id=request.conversation_id,
                    context=request.context,
                    is_disabled=is_disabled,
                )
                self._bids[bid.bid_id] = bid
                wire.append(
                    {
                        "bidId": bid.bid_id,
                        "code": code,
                        "revenue": answer.revenue,
                        "impressionTrigger": "immediate",
                    }
                )
        return wire

    def bid(self, bid_id: str) -> ServedBid | None:
        with self._lock:
            return self._bids.get(bid_id.lower())

    def _format_for(self, code: str) -> str:
        return self._formats.get(code) or default_format(code)


def _path_matches(path: str, wanted: str) -> bool:
    return path.startswith(wanted) if wanted.endswith("/") else path == wanted
