"""Polymarket (Gamma API): discovery of events and markets, asset links, and the immediate,
later and recently-closed market context of each tracked asset. ``channels.build`` plugs it in.
"""
