"""Local venues: servers on 127.0.0.1 that speak the real source protocols.

Driven by the project's deterministic simulator (``marketmem.venues.simulator``) in the exact
shapes of the recorded payloads; tests and the demo both use them.
"""
