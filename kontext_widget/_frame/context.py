"""What an ad's creative is told about the conversation: ``update-iframe`` data.

The host sends it (docs/protocol.md §6) whenever the frame asks; Python
computes it once, when the bid attaches, and syncs it to the front end in the
ad's ``frame_context`` trait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kontext_widget._constants import SDK_NAME
from kontext_widget._types import Message

if TYPE_CHECKING:
    from kontext_widget._ad import Ad

__all__ = ["frame_context"]


def frame_context(ad: Ad, conversation: Sequence[Message]) -> dict[str, Any]:
    """``update-iframe`` data (docs/protocol.md §11): the conversation up to the ad's own message.

    Never the live list: in a notebook every earlier turn stays on screen, and an
    ad that draws late must still describe its own turn. Without a publisher
    theme ``otherParams`` is empty and the browser adds the notebook's theme.
    """
    return {
        "messages": [message.to_wire() for message in conversation],
        "sdk": SDK_NAME,
        "code": ad.code,
        "messageId": ad.message_id,
        "otherParams": {"theme": ad.theme} if ad.theme else {},
    }
