"""Hyperliquid's WebSocket protocol, as a ``marketmem.wslink.Link`` speaks it.

One ``{"method":"subscribe","subscription":{...}}`` frame per subscription and the ping
``{"method":"ping"}`` (answered by a ``pong`` frame). Acks are matched by meaning (type, coin,
interval, dex: ``Subscription.key``, never the string): a ``subscriptionResponse`` echoing the
subscription, or the error ``Already subscribed: {...}`` (subscribed already on this socket: as
good as an ack). An error frame about the venue's limits (``Cannot subscribe to more ...``,
``Cannot send more ...``) ends the link (``VenueError``); any other error frame is logged.
Every error frame's text is kept in ``error_frames``.
"""

from __future__ import annotations

import logging

import msgspec

from marketmem.sources.hyperliquid import wire

log = logging.getLogger(__name__)

SubscriptionKey = tuple[str, str | None, str | None, str | None]

_PING = wire.PING_FRAME.decode()


class VenueError(Exception):
    """An ``error`` frame that makes the connection useless (limits)."""

    expected = True


class HyperliquidProtocol:
    """The ``wslink.Venue`` of Hyperliquid: its subscribe and ping frames, its server frames."""

    bad_frame_errors: tuple[type[Exception], ...] = (wire.FrameError, msgspec.ValidationError)
    control_frames: frozenset[type] = frozenset((wire.SubscriptionResponseFrame, wire.ErrorFrame))
    decode = staticmethod(wire.decode_frame)

    def __init__(self, error_frames: list[str] | None = None) -> None:
        self.error_frames = error_frames if error_frames is not None else []

    def subscribe_message(self, sub: wire.Subscription) -> str:
        return wire.encode_subscribe(sub).decode()

    def subscription_key(self, sub: wire.Subscription) -> SubscriptionKey:
        return sub.key()

    def ping_message(self) -> str:
        return _PING

    def ack_of(self, frame: wire.Frame) -> SubscriptionKey | None:
        if isinstance(frame, wire.SubscriptionResponseFrame):
            if frame.data.method == "subscribe":
                return frame.data.subscription.key()
            return None
        if isinstance(frame, wire.ErrorFrame):
            return self._on_error(frame.data)
        return None

    def _on_error(self, text: str) -> SubscriptionKey | None:
        self.error_frames.append(text)
        if text.startswith("Already subscribed: "):
            try:
                sub = msgspec.json.decode(text.split(": ", 1)[1], type=wire.Subscription)
            except msgspec.MsgspecError:
                log.warning("hyperliquid ws error: %s", text)
                return None
            return sub.key()
        log.error("hyperliquid ws error frame: %s", text)
        if text.startswith(("Cannot subscribe to more", "Cannot send more")):
            raise VenueError(f"venue refused: {text}")
        return None
