"""Plain inputs of the snapshot-based features: an L2 book and predicted fundings.

Feature functions take these (and ``events.AssetCtxSnapshot``) rather than anything of the
venue's: they are the typed payloads the Hyperliquid context poller publishes on the bus
(``events.OrderBook`` in ``L2Book``, ``events.PredictedFunding`` in ``PredictedFundings``),
under the names the feature functions use, so they stay pure and testable with hand-made
values.
"""

from __future__ import annotations

from marketmem.events import OrderBook as Book
from marketmem.events import PredictedFunding

__all__ = ["Book", "PredictedFunding"]
