"""Which assistant message a preload's bids go to, and the ads waiting for them.

docs/protocol.md §3.3: the bids of the active ``/preload`` attach to the
newest message once it is an assistant one, at most once per preload and per
message. §3.4: an ad gets the bid of its code from its message's preload, and
never another. ``BidAssignment`` holds that bookkeeping and the session's ads;
the session decides when to call it (under its lock) and delivers the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kontext_widget._constants import MAX_EVENT_HISTORY, MAX_MESSAGES
from kontext_widget._network.wire import Bid
from kontext_widget._types import Message

if TYPE_CHECKING:
    from kontext_widget._ad import Ad

__all__ = ["BidAssignment", "Preload", "bid_for"]

# An ad is one (message id, placement code, theme).
AdKey = tuple[str, str, "str | None"]


@dataclass
class Preload:
    """One ``/preload`` made active by its debounce; owns its bids once it succeeds."""

    id: int
    track_only: bool
    bids: tuple[Bid, ...] = ()
    assigned_to: str | None = None
    # The conversation up to and including ``assigned_to`` (newest MAX_MESSAGES),
    # taken when the bids attach: what every ad of that message describes (section 11).
    conversation: tuple[Message, ...] = ()


def bid_for(ad: Ad, preload: Preload) -> Bid | None:
    """The preload's bid for the ad's placement code, if it has one."""
    return next((bid for bid in preload.bids if bid.code == ad.code), None)


class BidAssignment:
    """Assigned preloads by message id, and the session's ads; the caller holds the session lock."""

    def __init__(self) -> None:
        self._by_message: dict[str, Preload] = {}
        self._ads: dict[AdKey, Ad] = {}
        # Which message each assigned bid went to, so that the ad.filled emitted
        # before its message existed gets one in records and the event log.
        self._bid_messages: dict[str, str] = {}
        # Message ids of ads created before any message had that id (warned about
        # when a bid goes elsewhere); an id leaves once its message arrives.
        self._awaited_ids: set[str] = set()

    @property
    def bid_messages(self) -> Mapping[str, str]:
        """Bid id -> the message it went to (the newest ``MAX_EVENT_HISTORY`` bids)."""
        return self._bid_messages

    def message_added(self, message_id: str) -> None:
        self._awaited_ids.discard(message_id)

    def attach(self, preload: Preload | None, messages: Sequence[Message]) -> str | None:
        """Section 3.3: attach ``preload`` to the last message if it is an assistant one.

        Returns the message id it went to, or ``None`` if nothing was assigned.
        """
        if preload is None or not preload.bids or preload.assigned_to is not None:
            return None
        if not messages or messages[-1].role != "assistant":
            return None
        message_id = messages[-1].id
        if message_id in self._by_message:
            return None
        preload.assigned_to = message_id
        # The assigned message is the last one, so this is "up to and including it".
        preload.conversation = tuple(messages)
        self._by_message[message_id] = preload
        for bid in preload.bids:
            self._bid_messages[bid.bid_id] = message_id
        if len(self._bid_messages) > MAX_EVENT_HISTORY:
            # Oldest first (insertion order): their events have left the history too.
            for stale in list(self._bid_messages)[: len(self._bid_messages) - MAX_EVENT_HISTORY]:
                del self._bid_messages[stale]
        if len(self._by_message) > 2 * MAX_MESSAGES:
            self._prune(messages)
        return message_id

    def _prune(self, messages: Sequence[Message]) -> None:
        """Forget assignments of messages that left the window and have no ad (bounded memory)."""
        keep = {message.id for message in messages} | {key[0] for key in self._ads}
        for message_id in [mid for mid in self._by_message if mid not in keep]:
            del self._by_message[message_id]

    def waiting_ad_warnings(self, assigned_to: str) -> list[tuple[str, dict[str, Any]]]:
        """A bid went to ``assigned_to`` while ads wait for ids no message has yet.

        Such an id is accepted (the message may come later, e.g. after a stream),
        but a typo would otherwise leave an ad that silently never fills: one
        (warning text, debug data) per waiting ad.
        """
        warnings = []
        for (message_id, code, _theme), ad in self._ads.items():
            if message_id not in self._awaited_ids:
                continue
            text = (
                f"{ad!r} waits for message {message_id!r}, but the bid went to assistant "
                f"message {assigned_to!r}; is {message_id!r} the id of a reply?"
            )
            warnings.append(
                (text, {"messageId": message_id, "code": code, "bidAssignedTo": assigned_to})
            )
        return warnings

    # -- the ads -------------------------------------------------------------------
    def ad(self, message_id: str, code: str, theme: str | None) -> Ad | None:
        return self._ads.get((message_id, code, theme))

    def ads_of_message(self, message_id: str, code: str | None = None) -> list[Ad]:
        """The ads under ``message_id`` (of ``code`` only, if given), any theme."""
        return [
            ad
            for key, ad in self._ads.items()
            if key[0] == message_id and (code is None or key[1] == code)
        ]

    def ads_of_code(self, code: str) -> list[Ad]:
        return [ad for key, ad in self._ads.items() if key[1] == code]

    def add_ad(self, ad: Ad, messages: Sequence[Message]) -> Preload | None:
        """Register a new ad; returns the preload already assigned to its message, if any."""
        message_id = ad.message_id
        self._ads[(message_id, ad.code, ad.theme)] = ad
        if message_id not in self._by_message and all(m.id != message_id for m in messages):
            self._awaited_ids.add(message_id)
        return self._by_message.get(message_id)

    def forget_ad(self, ad: Ad) -> None:
        key = (ad.message_id, ad.code, ad.theme)
        if self._ads.get(key) is ad:
            del self._ads[key]
            if all(other[0] != ad.message_id for other in self._ads):
                self._awaited_ids.discard(ad.message_id)

    def clear(self) -> list[Ad]:
        """Forget every assignment and ad (the session is destroyed); returns the ads."""
        self._by_message.clear()
        ads = list(self._ads.values())
        self._ads.clear()
        self._awaited_ids.clear()
        return ads
