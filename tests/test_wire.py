"""docs/protocol.md §2.2's classification table and /init decoding, row by row."""

from __future__ import annotations

import json
import uuid

import pytest

from kontext_widget._network.init import InitSettings, decode_init
from kontext_widget._network.preload import (
    PreloadError,
    PreloadFilled,
    PreloadNoFill,
    classify_preload,
)
from kontext_widget._network.reports import debug_body, error_body
from kontext_widget._network.wire import Bid, DecodeError

SID = "5b0f6a2e-9c1d-4e7f-8a3b-1c2d3e4f5a6b"
BID = "0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d"
CODES = ("inlineAd",)


def classify(body: object, status: int = 200, codes: tuple[str, ...] = CODES) -> object:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return classify_preload(status, content, codes)


def test_1_http_204_is_unfilled() -> None:
    assert classify_preload(204, b"", CODES) == PreloadNoFill("unfilled_bid")


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
def test_2_other_non_2xx_is_request_failed_without_reading_the_body(status: int) -> None:
    outcome = classify_preload(status, b'{"errCode":"x","permanent":true}', CODES)
    assert outcome == PreloadError(f"HTTP {status}", "request_failed")


def test_3_permanent_error_disables() -> None:
    assert classify({"errCode": "geo_disabled", "permanent": True}) == PreloadError(
        "Session is disabled", "geo_disabled", permanent=True
    )
    assert classify({"permanent": True}) == PreloadError(
        "Session is disabled", "session_disabled", permanent=True
    )


def test_4_error_or_missing_session_id() -> None:
    assert classify({"errCode": "geo_disabled", "error": "…"}) == PreloadError(
        "Ad generation skipped", "geo_disabled"
    )
    assert classify({"bids": []}) == PreloadError("Ad generation skipped", "unknown")
    assert classify({"sessionId": SID, "errCode": "x", "permanent": "yes"}) == PreloadError(
        "Ad generation skipped", "x"
    )


def test_5_skip_with_code_and_default() -> None:
    assert classify({"sessionId": SID, "skip": True, "skipCode": "ads_disabled", "bids": []}) == (
        PreloadNoFill("ads_disabled", SID)
    )
    assert classify({"sessionId": SID, "skip": True}) == PreloadNoFill("no_fill", SID)


def test_6_missing_or_empty_bids() -> None:
    assert classify({"sessionId": SID}) == PreloadNoFill("no_fill", SID)
    assert classify({"sessionId": SID, "bids": [], "skipCode": "quota"}) == PreloadNoFill(
        "quota", SID
    )


def test_7_no_bid_for_an_enabled_code() -> None:
    body = {"sessionId": SID, "bids": [{"bidId": BID, "code": "sidebar"}]}
    assert classify(body) == PreloadNoFill("unfilled_bid", SID)


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"",
        b"[1, 2]",
        b'{"sessionId": "not-a-uuid", "bids": []}',
        b'{"sessionId": 12, "bids": []}',
        json.dumps({"sessionId": SID, "bids": [{"bidId": "nope", "code": "inlineAd"}]}).encode(),
        json.dumps({"sessionId": SID, "bids": [{"bidId": BID}]}).encode(),
        json.dumps({"sessionId": SID, "bids": {"bidId": BID}}).encode(),
        json.dumps({"sessionId": SID, "bids": ["x"]}).encode(),
        b'{"sessionId": "' + SID.encode() + b'", "bids": [',
    ],
)
def test_8_malformed_answers_are_request_failures_reported_to_error(content: bytes) -> None:
    outcome = classify_preload(200, content, CODES)
    assert isinstance(outcome, PreloadError)
    assert outcome.err_code == "request_failed"
    assert outcome.report is True
    assert not outcome.permanent


def test_9_success_keeps_matching_bids_and_normalises_ids() -> None:
    other = str(uuid.uuid4())
    body = {
        "sessionId": SID.upper(),
        "bids": [
            {
                "bidId": BID.upper(),
                "code": "inlineAd",
                "revenue": 0.0123,
                "impressionTrigger": "weird",
            },
            {"bidId": other, "code": "sidebar", "revenue": 1},
        ],
        "unknownField": {"ignored": True},
    }
    outcome = classify(body, codes=("inlineAd",))
    assert outcome == PreloadFilled(SID, (Bid(BID, "inlineAd", 0.0123),))


@pytest.mark.parametrize("revenue", ["1.0", True, None, float("nan")])
def test_wrong_typed_revenue_counts_as_absent(revenue: object) -> None:
    content = json.dumps(
        {"sessionId": SID, "bids": [{"bidId": BID, "code": "inlineAd", "revenue": revenue}]}
    ).encode()
    outcome = classify_preload(200, content, CODES)
    assert outcome == PreloadFilled(SID, (Bid(BID, "inlineAd", None),))


def test_init_defaults_and_fields() -> None:
    assert decode_init(204, b"") is None
    assert decode_init(500, b'{"enabled": false}') is None
    assert decode_init(200, b"   ") is None
    assert decode_init(200, b"{}") == InitSettings()
    assert decode_init(
        200,
        b'{"enabled": false, "preloadTimeout": 2500, "reportErrors": false, "reportDebug": true}',
    ) == InitSettings(
        enabled=False, preload_timeout_ms=2500, report_errors=False, report_debug=True
    )


@pytest.mark.parametrize("timeout", [0, -5, None, "100", True])
def test_init_ignores_non_positive_or_wrong_typed_timeout(timeout: object) -> None:
    settings = decode_init(200, json.dumps({"preloadTimeout": timeout}).encode())
    assert settings is not None
    assert settings.preload_timeout_ms is None


def test_init_wrong_types_fall_back_to_defaults() -> None:
    settings = decode_init(200, b'{"enabled": "no", "reportErrors": 0, "reportDebug": "yes"}')
    assert settings == InitSettings()


@pytest.mark.parametrize("content", [b"garbage", b"[]", b'"text"'])
def test_init_garbage_raises_decode_error(content: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_init(200, content)


def test_error_and_debug_bodies() -> None:
    identity = {
        "publisherToken": "p",
        "conversationId": "c",
        "userId": "u",
        "installId": "i",
        "bidId": None,
    }
    body = error_body("Error preloading ads: x", "Preload.fetch", identity)
    assert body["error"] == "Error preloading ads: x"
    assert body["stack"] == "Preload.fetch"
    assert body["additionalData"]["publisherToken"] == "p"
    assert "bidId" not in body["additionalData"]
    assert body["additionalData"]["sdk"]["name"] == "sdk-js"
    debug = debug_body("Session: preload-start", {"messageCount": 3}, identity)
    assert debug["data"] == '{"messageCount":3}'
    assert "data" not in debug_body("Session: destroyed", None, identity)
