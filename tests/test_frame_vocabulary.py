"""The frame vocabulary's Python copy and its exhaustive handling (docs/protocol.md §6).

``js/vocabulary.ts`` is the one source; ``npm run build`` writes
``kontext_widget/_frame/vocabulary.json`` (``npm run check-bundle`` fails when it
is stale). Here: the Python Literal types are that copy, and every name of it is
either acted on or explicitly ignored by ``FrameProtocol`` (mypy checks the
match statements statically; these tests check the behaviour of each case).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import get_args

import pytest

import kontext_widget
from kontext_widget._frame import inbound
from kontext_widget._frame.inbound import (
    CLICKED_FIELDS,
    FRAME_VOCABULARY,
    VIEWED_FIELDS,
    FrameEventName,
    FrameOutcome,
    FrameProtocol,
    FrameToHostType,
)
from kontext_widget._network.wire import Bid

BID = Bid("0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d", "inlineAd", 0.25)
JSON_FILE = Path(kontext_widget.__file__).parent / "_frame" / "vocabulary.json"

# Frame -> host types that change something in Python (events, height, visibility).
ACTED_ON = {
    "init-iframe",
    "ad-done-iframe",
    "resize-iframe",
    "show-iframe",
    "hide-iframe",
    "error-iframe",
    "error-component-iframe",
    "event-iframe",
}
# event-iframe names that become public events.
EVENTS_ACTED_ON = {
    "ad.viewed",
    "ad.clicked",
    "ad.render-started",
    "ad.render-completed",
    "video.started",
    "video.completed",
    "reward.granted",
}
# Data that makes each acted-on message valid.
DATA: dict[str, dict[str, object]] = {
    "resize-iframe": {"height": 120},
    "event-iframe": {"name": "video.started"},
}
PAYLOAD = {
    "content": "Trail shoes",
    "messageId": "m1",
    "format": "inline",
    "url": "https://example.com/",
    "area": "cta",
}


def _empty(outcome: FrameOutcome) -> bool:
    return outcome == FrameOutcome()


def test_the_package_ships_the_generated_copy() -> None:
    on_disk = json.loads(JSON_FILE.read_text(encoding="utf-8"))
    assert "js/vocabulary.ts" in on_disk["//"]
    assert on_disk == FRAME_VOCABULARY


def test_the_literal_types_are_the_vocabulary_name_for_name() -> None:
    assert list(get_args(FrameToHostType)) == FRAME_VOCABULARY["frame_to_host"]
    assert list(get_args(FrameEventName)) == FRAME_VOCABULARY["frame_events"]


def test_the_event_payload_fields_python_reads_are_official() -> None:
    # The copy lists each event's official payload fields (tsc checks it against
    # sdk-common's AdEventMap), so a renamed field fails here, not in production.
    fields = FRAME_VOCABULARY["frame_event_fields"]
    assert set(fields) == set(FRAME_VOCABULARY["frame_events"])
    assert set(VIEWED_FIELDS) <= set(fields["ad.viewed"])
    assert set(CLICKED_FIELDS) <= set(fields["ad.clicked"])


# Read beyond the official data types, on purpose: docs/protocol.md §6.2 (the modal's
# error details, which sdk-common's type leaves out) and every message's envelope.
DATA_EXTENSIONS = {"message", "errorType"}
ENVELOPE = {"code", "component"}


def test_the_data_fields_python_reads_are_official() -> None:
    tree = ast.parse(Path(inbound.__file__).read_text(encoding="utf-8"))
    read = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "data"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert {"height", "name", "payload"} <= read  # the scan sees the reads
    fields = FRAME_VOCABULARY["frame_data_fields"]
    assert set(fields) == set(FRAME_VOCABULARY["frame_to_host"])
    official = set().union(*fields.values())
    assert read - official - ENVELOPE == DATA_EXTENSIONS


def test_the_two_directions_share_no_type() -> None:
    to_host, to_frame = FRAME_VOCABULARY["frame_to_host"], FRAME_VOCABULARY["host_to_frame"]
    assert set(to_host).isdisjoint(to_frame)
    assert len(set(to_host)) == len(to_host) and len(set(to_frame)) == len(to_frame)
    assert set(to_frame) == {"update-iframe", "update-dimensions-iframe", "user-event-iframe"}


@pytest.mark.parametrize("kind", FRAME_VOCABULARY["frame_to_host"])
def test_every_frame_to_host_type_is_acted_on_or_ignored(kind: str) -> None:
    protocol = FrameProtocol("inlineAd", "m1")
    protocol.bid = BID
    outcome = protocol.handle({"type": kind, "data": DATA.get(kind, {})})
    assert outcome.report is None
    assert _empty(outcome) == (kind not in ACTED_ON), outcome


@pytest.mark.parametrize("name", FRAME_VOCABULARY["frame_events"])
def test_every_event_name_is_acted_on_or_ignored(name: str) -> None:
    protocol = FrameProtocol("inlineAd", "m1")
    protocol.bid = BID
    message = {"type": "event-iframe", "data": {"name": name, "payload": PAYLOAD}}
    outcome = protocol.handle(message)
    assert outcome.report is None
    assert [event.name for event in outcome.events] == ([name] if name in EVENTS_ACTED_ON else [])


def test_names_outside_the_vocabulary_are_ignored_without_a_report() -> None:
    protocol = FrameProtocol("inlineAd", "m1")
    protocol.bid = BID
    assert _empty(protocol.handle({"type": "made-up-iframe", "data": {}}))
    assert _empty(protocol.handle({"type": "update-iframe", "data": {}}))  # host -> frame
    assert _empty(protocol.handle({"type": "event-iframe", "data": {"name": "ad.made-up"}}))
