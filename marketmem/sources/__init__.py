"""Data sources: one package per venue, each converting its wire types into bus events."""
