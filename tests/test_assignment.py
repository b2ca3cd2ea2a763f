"""``BidAssignment`` on its own: which message a preload's bids go to (docs/protocol.md §3.3, §3.4).

The session drives it under its lock; end-to-end behaviour is in test_session.py.
These pin the rules where a regression would silently send a bid to the wrong turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from kontext_widget._assignment import BidAssignment, Preload, bid_for
from kontext_widget._constants import MAX_EVENT_HISTORY, MAX_MESSAGES
from kontext_widget._network.wire import Bid
from kontext_widget._types import Message


@dataclass
class FakeAd:
    """What the assignment reads of an ``Ad`` (a real widget needs a kernel comm)."""

    message_id: str
    code: str = "inlineAd"
    theme: str | None = None


def user(i: int) -> Message:
    return Message(id=f"u{i}", role="user", content="hi")


def assistant(i: int) -> Message:
    return Message(id=f"a{i}", role="assistant", content="hello")


def filled(i: int, *codes: str) -> Preload:
    bids = tuple(Bid(bid_id=f"bid-{i}-{code}", code=code) for code in codes or ("inlineAd",))
    return Preload(id=i, track_only=False, bids=bids)


def test_bids_go_to_the_last_message_only_if_it_is_an_assistant_one() -> None:
    assignment = BidAssignment()
    preload = filled(1)
    conversation = [user(1), assistant(1)]
    assert assignment.attach(preload, conversation[:1]) is None
    assert assignment.attach(preload, []) is None
    assert assignment.attach(preload, conversation) == "a1"
    assert preload.assigned_to == "a1"
    assert preload.conversation == tuple(conversation)
    assert "a1" in assignment._by_message
    assert assignment.bid_messages == {"bid-1-inlineAd": "a1"}


def test_a_preload_is_assigned_once_and_a_message_gets_one_preload() -> None:
    assignment = BidAssignment()
    first = filled(1)
    assert assignment.attach(first, [user(1), assistant(1)]) == "a1"
    assert assignment.attach(first, [user(1), assistant(1), assistant(2)]) is None
    second = filled(2)
    assert assignment.attach(second, [user(1), assistant(1)]) is None  # a1 already has bids
    assert second.assigned_to is None


def test_nothing_to_attach_without_bids() -> None:
    assignment = BidAssignment()
    assert assignment.attach(None, [assistant(1)]) is None
    assert assignment.attach(Preload(id=1, track_only=False), [assistant(1)]) is None
    assert assignment._by_message == {}


def test_an_ad_gets_the_bid_of_its_own_code() -> None:
    preload = filled(1, "inlineAd", "videoAd")
    video = bid_for(FakeAd("a1", code="videoAd"), preload)  # type: ignore[arg-type]
    assert video is not None and video.code == "videoAd"
    assert bid_for(FakeAd("a1", code="other"), preload) is None  # type: ignore[arg-type]


def test_an_ad_created_after_the_assignment_gets_its_preload() -> None:
    assignment = BidAssignment()
    preload = filled(1)
    messages = [user(1), assistant(1)]
    assignment.attach(preload, messages)
    assert assignment.add_ad(FakeAd("a1"), messages) is preload  # type: ignore[arg-type]
    assert assignment.add_ad(FakeAd("a2"), messages) is None  # type: ignore[arg-type]


def test_waiting_ads_are_named_when_the_bid_goes_elsewhere() -> None:
    assignment = BidAssignment()
    messages = [user(1)]
    typo = FakeAd("a-typo")
    assignment.add_ad(typo, messages)  # type: ignore[arg-type]
    assignment.add_ad(FakeAd("u1"), messages)  # type: ignore[arg-type] # a known id: not awaited
    messages.append(assistant(1))
    assignment.attach(filled(1), messages)
    warnings = assignment.waiting_ad_warnings("a1")
    assert len(warnings) == 1
    text, data = warnings[0]
    assert "'a-typo'" in text and "'a1'" in text
    assert data == {"messageId": "a-typo", "code": "inlineAd", "bidAssignedTo": "a1"}
    assignment.message_added("a-typo")  # the message came after all (e.g. after a stream)
    assert assignment.waiting_ad_warnings("a1") == []


def test_a_forgotten_ad_stops_waiting_and_clear_returns_every_ad() -> None:
    assignment = BidAssignment()
    waiting = FakeAd("later")
    other = FakeAd("a1", theme="dark")
    assignment.add_ad(waiting, [])  # type: ignore[arg-type]
    assignment.add_ad(other, [])  # type: ignore[arg-type]
    assignment.forget_ad(waiting)  # type: ignore[arg-type]
    assert assignment.waiting_ad_warnings("x") == [
        (
            f"{other!r} waits for message 'a1', but the bid went to assistant message 'x'; "
            "is 'a1' the id of a reply?",
            {"messageId": "a1", "code": "inlineAd", "bidAssignedTo": "x"},
        )
    ]
    assert assignment.ads_of_code("inlineAd") == [other]
    assert assignment.clear() == [other]
    assert assignment.ads_of_code("inlineAd") == []
    assert assignment.waiting_ad_warnings("x") == []


def test_memory_stays_bounded_however_many_turns() -> None:
    assignment = BidAssignment()
    messages: list[Message] = []
    kept = FakeAd("a0")
    for i in range(MAX_EVENT_HISTORY + 50):
        messages = [*messages, user(i), assistant(i)][-MAX_MESSAGES:]
        assignment.attach(filled(i), messages)
        if i == 0:
            assignment.add_ad(kept, messages)  # type: ignore[arg-type]
    assert len(assignment._by_message) <= 2 * MAX_MESSAGES + 1
    assert "a0" in assignment._by_message  # it has a live ad
    assert len(assignment.bid_messages) == MAX_EVENT_HISTORY
    assert f"bid-{MAX_EVENT_HISTORY + 49}-inlineAd" in assignment.bid_messages
    assert "bid-0-inlineAd" not in assignment.bid_messages
