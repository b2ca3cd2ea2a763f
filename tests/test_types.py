from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import kontext_widget as kw
from kontext_widget._types import format_timestamp


def test_message_defaults_created_at_to_aware_utc_now() -> None:
    before = datetime.now(timezone.utc)
    message = kw.Message("m1", "user", "hi")
    assert message.created_at is not None
    assert message.created_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= message.created_at <= datetime.now(timezone.utc)


def test_message_wire_form_has_millisecond_z_timestamp() -> None:
    moment = datetime(2025, 1, 31, 9, 5, 0, 123456, tzinfo=timezone.utc)
    wire = kw.Message("m1", "assistant", "text", moment).to_wire()
    assert wire == {
        "id": "m1",
        "role": "assistant",
        "content": "text",
        "createdAt": "2025-01-31T09:05:00.123Z",
    }


def test_timestamps_are_converted_to_utc() -> None:
    moment = datetime(2025, 1, 31, 10, 5, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(moment) == "2025-01-31T09:05:00.000Z"


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"id": "", "role": "user", "content": "x"}, ValueError, "Message.id"),
        ({"id": 3, "role": "user", "content": "x"}, TypeError, "Message.id"),
        ({"id": "m", "role": "system", "content": "x"}, ValueError, "Message.role"),
        ({"id": "m", "role": "user", "content": None}, ValueError, "Message.content"),
        ({"id": "m", "role": "user", "content": "x", "created_at": "now"}, TypeError, "created_at"),
    ],
)
def test_message_validation_names_the_field(
    kwargs: dict[str, object], error: type, field: str
) -> None:
    with pytest.raises(error, match=field):
        kw.Message(**kwargs)  # type: ignore[arg-type]


def test_message_coerce_accepts_mappings_with_either_timestamp_spelling() -> None:
    a = kw.Message.coerce(
        {"id": "m", "role": "user", "content": "x", "createdAt": "2025-01-31T09:05:00.123Z"}
    )
    b = kw.Message.coerce(
        {
            "id": "m",
            "role": "user",
            "content": "x",
            "created_at": datetime(2025, 1, 31, 9, 5, 0, 123000, timezone.utc),
        }
    )
    assert a == b
    assert a.created_at_wire == "2025-01-31T09:05:00.123Z"


def test_message_coerce_rejects_unknown_and_missing_keys() -> None:
    with pytest.raises(ValueError, match="unknown keys: colour"):
        kw.Message.coerce({"id": "m", "role": "user", "content": "x", "colour": 1})
    with pytest.raises(ValueError, match="missing the key 'content'"):
        kw.Message.coerce({"id": "m", "role": "user"})
    with pytest.raises(TypeError, match="Message or a mapping"):
        kw.Message.coerce(["m", "user", "x"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO-8601"):
        kw.Message.coerce({"id": "m", "role": "user", "content": "x", "createdAt": "yesterday"})


def test_messages_are_immutable() -> None:
    message = kw.Message("m", "user", "x")
    with pytest.raises(AttributeError):
        message.content = "y"  # type: ignore[misc]


def test_character_wire_form_omits_absent_fields() -> None:
    character = kw.Character("c1", "Ava", "https://x/a.png", tags=["fun"], is_nsfw=False)
    assert character.to_wire() == {
        "id": "c1",
        "name": "Ava",
        "avatarUrl": "https://x/a.png",
        "tags": ["fun"],
        "isNsfw": False,
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"id": "", "name": "n", "avatar_url": "u"}, "Character.id"),
        ({"id": "c", "name": 1, "avatar_url": "u"}, "Character.name"),
        ({"id": "c", "name": "n", "avatar_url": "u", "is_nsfw": "no"}, "Character.is_nsfw"),
        ({"id": "c", "name": "n", "avatar_url": "u", "tags": "a,b"}, "Character.tags"),
        ({"id": "c", "name": "n", "avatar_url": "u", "tags": ["a", 2]}, "Character.tags"),
    ],
)
def test_character_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises((TypeError, ValueError), match=field):
        kw.Character(**kwargs)  # type: ignore[arg-type]


def test_regulatory_wire_form_and_emptiness() -> None:
    assert kw.Regulatory().to_wire() is None
    assert kw.Regulatory(
        gdpr=1, gdpr_consent="CO", gpp_sid=[2, 7], us_privacy="1YNN"
    ).to_wire() == {
        "gdpr": 1,
        "gdprConsent": "CO",
        "gppSid": [2, 7],
        "usPrivacy": "1YNN",
    }


@pytest.mark.parametrize("value", [2, -1, True, "1", 1.0])
def test_regulatory_flags_accept_only_0_1_none(value: object) -> None:
    with pytest.raises(ValueError, match=r"Regulatory.gdpr must be 0, 1 or None"):
        kw.Regulatory(gdpr=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Regulatory.coppa"):
        kw.Regulatory(coppa=value)  # type: ignore[arg-type]


def test_regulatory_gpp_sid_must_be_ints() -> None:
    with pytest.raises(TypeError, match="gpp_sid"):
        kw.Regulatory(gpp_sid=[1, "2"])  # type: ignore[list-item]
